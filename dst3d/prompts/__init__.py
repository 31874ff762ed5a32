"""Text prompts per sample: deterministic in (job seed, sample index).

- :mod:`.classes`: the 1000 ImageNet-1k classes (WordNet ids, names, glosses) in ``prompts/``.
- :mod:`.templates`: the template grammar over per-class descriptors (``prompts/descriptors.json``).
- :mod:`.llm`: LLM-written prompts, cached per class under ``prompts/llm/``.
- :mod:`.build`: :class:`PromptConfig` and :func:`build_prompt`, which the job planner calls.
"""

from .build import NEGATIVE, PromptConfig, build_prompt

__all__ = ["NEGATIVE", "PromptConfig", "build_prompt"]
