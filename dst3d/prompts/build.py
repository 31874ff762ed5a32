"""Prompt selection per sample: deterministic in (job seed, sample index).

``source``:
- ``auto`` (default): the class's LLM cache (``prompts/llm/<synset>.json``, made by
  ``dst3d prompts build``) when it holds prompts, the template grammar otherwise;
- ``templates``: always the grammar;
- ``llm``: the cache, and an error for a class without one.

Either way the choice comes from the sample's ``prompt`` RNG stream, so the same job gives
the same prompts on any machine with the same prompt files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError
from ..seeds import sample_rng
from .llm import cache_path, load_cache
from .templates import load_grammar, template_prompt

NEGATIVE = (
    "lowres, blurry, out of focus, deformed, distorted, disfigured, bad anatomy, extra parts, duplicate, cropped, "
    "watermark, text, logo, signature, cartoon, drawing, painting, illustration, 3d render, cgi"
)


class PromptConfig(BaseModel):
    """How each sample's text prompt is made (``prompts`` in a job config)."""

    model_config = ConfigDict(extra="forbid")
    negative: str = Field(NEGATIVE, description="negative prompt for every sample")
    source: Literal["auto", "templates", "llm"] = "auto"
    llm_cache: str | None = Field(None, description="folder of <synset>.json LLM prompt caches [default: $DST3D_PROMPT_CACHE or prompts/llm]")
    llm_model: str | None = Field(None, description="use only caches written by this model id")
    descriptors: str | None = Field(None, description="a descriptors.json replacing the shipped template grammar")


def cached_prompts(config: PromptConfig, synset: str) -> list[str]:
    """The usable cached LLM prompts of a class (empty: use the templates)."""
    if config.source == "templates":
        return []
    record = load_cache(config.llm_cache, synset)
    if record is None:
        return []
    if config.llm_model is not None and record.get("model") != config.llm_model:
        return []
    return [p for p in record.get("prompts", []) if isinstance(p, str) and p.strip()]


def build_prompt(config: PromptConfig, synset: str, class_name: str, job_seed: int, index: int) -> tuple[str, str]:
    """(prompt, negative prompt) of sample ``index``."""
    rng = sample_rng(job_seed, index, "prompt")
    prompts = cached_prompts(config, synset)
    if prompts:
        return prompts[int(rng.integers(len(prompts)))], config.negative
    if config.source == "llm":
        path = cache_path(config.llm_cache, synset)
        which = f" from model {config.llm_model}" if config.llm_model else ""
        raise UserError(f"prompts.source is llm but {path} holds no prompts{which}; run `dst3d prompts build --classes {synset} --llm MODEL` or set prompts.source: auto")
    return template_prompt(load_grammar(config.descriptors), synset, class_name, rng), config.negative
