"""Text prompts per sample: deterministic in (job seed, sample index)."""

from .build import PromptConfig, build_prompt

__all__ = ["PromptConfig", "build_prompt"]
