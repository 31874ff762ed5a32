"""Prompt selection. Minimal template version; the prompts issue extends it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..pose.sampling import sample_rng

NEGATIVE = "lowres, blurry, deformed, distorted, cropped, watermark, text, cartoon, drawing"
SETTINGS = ["on a city street", "in a studio", "in a park", "indoors", "at the beach", "in a field"]


class PromptConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    negative: str = NEGATIVE


def build_prompt(config: PromptConfig, synset: str, class_name: str, job_seed: int, index: int) -> tuple[str, str]:
    rng = sample_rng(job_seed, index, "prompt")
    setting = SETTINGS[int(rng.integers(len(SETTINGS)))]
    return f"a photo of a {class_name} {setting}", config.negative
