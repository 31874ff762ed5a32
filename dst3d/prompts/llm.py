"""LLM-enriched prompts: a chat model writes K prompts per class, cached under ``prompts/llm/``.

The instruction keeps the object class in every prompt and leaves pose and viewpoint to
the control image. Outputs are cleaned (one prompt per line, numbering and quotes
stripped, class name required, pose words rejected, duplicates dropped); what was kept and
rejected is recorded in the cache file with the model id, its resolved revision, the
instruction and the sampling settings. Generation picks a cached prompt per sample with
the sample's prompt RNG; a class without a cache (or with no usable prompt) falls back to
the templates.

torch and transformers are imported only inside :class:`LLMWriter`.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import UserError
from ..imagenet import data_dir, imagenet_class
from .templates import load_grammar

CACHE_VERSION = 1

INSTRUCTION = (
    "You write prompts for a text-to-image model that paints realistic photographs of one object class. "
    "The object is always a {name} ({definition}). Every prompt must contain the words \"{name}\" and describe "
    "the {name}'s appearance (colour, material, condition, details), the setting and background, the lighting, "
    "the weather or time of day, and the photographic style. Never describe the camera angle, viewpoint, "
    "orientation, pose or position of the {name} (no 'side view', 'from above', 'facing left', 'close-up'): "
    "a separate control image fixes the pose. Write exactly one prompt per line, at most 40 words each, "
    "with no numbering, no quotes and no other text."
)
REQUEST = "Write {k} different prompts for photos of a {name}."

POSE_WORDS = re.compile(
    r"\b(?:(?:side|front|rear|back|top|bottom|three[- ]quarters?|profile|aerial|overhead|bird'?s[- ]eye|frontal)[- ]view"
    r"|from (?:the )?(?:above|below|behind|side|front|back|rear|left|right|a low angle|a high angle)"
    r"|(?:low|high|wide|dutch)[- ]angle|facing (?:left|right|the camera|the viewer|away|forward|us)"
    r"|in profile|upside[- ]down|close[- ]?up|top[- ]down|seen from|viewed from|angled|tilted|rotated)\b",
    re.IGNORECASE,
)
_LEADER = re.compile(r"^\s*(?:[-*•·>]+|\(?\d{1,3}[.):]|prompt\s*\d*\s*[:.-])\s*", re.IGNORECASE)


def default_cache_dir() -> Path:
    """$DST3D_PROMPT_CACHE or ``prompts/llm`` beside the shipped prompt data."""
    return Path(os.environ.get("DST3D_PROMPT_CACHE") or data_dir() / "llm")


def cache_path(folder: str | Path | None, synset: str) -> Path:
    return Path(folder or default_cache_dir()) / f"{synset}.json"


@dataclass
class Cleaned:
    kept: list[str] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, why: str) -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1


def class_names(synset: str, class_name: str) -> list[str]:
    """Names that count as 'the class is in the prompt'."""
    names = {class_name.lower()}
    known = imagenet_class(synset)
    if known:
        names |= {n.lower() for n in known.names}
    grammar = load_grammar()
    names |= {n.lower() for n in grammar.descriptor(synset, class_name).names}
    return sorted(n for n in names if n)


def clean_outputs(texts: list[str], names: list[str], limit: int, seen: Cleaned | None = None, max_words: int = 60) -> Cleaned:
    """Prompts from raw model outputs: one per line; junk, off-class and pose lines rejected."""
    out = seen or Cleaned()
    have = {p.lower() for p in out.kept}
    patterns = [re.compile(r"(?<![\w-])" + re.escape(n) + r"(?:s|es)?(?![\w-])", re.IGNORECASE) for n in names]
    for text in texts:
        for line in text.splitlines():
            s = _LEADER.sub("", line).strip().strip("\"'`“”‘’").strip()
            if not s:
                continue
            if any(unicodedata.category(ch)[0] == "C" for ch in s) or "\ufffd" in s:
                out.reject("unprintable")
                continue
            words = s.split()
            if len(words) < 4 or len(words) > max_words or sum(ch.isalpha() for ch in s) < 0.6 * len(s.replace(" ", "")):
                out.reject("not a prompt")
                continue
            if not any(p.search(s) for p in patterns):
                out.reject("class missing")
                continue
            if POSE_WORDS.search(s):
                out.reject("pose words")
                continue
            key = re.sub(r"\W+", " ", s.lower()).strip()
            if key in have:
                out.reject("duplicate")
                continue
            if len(out.kept) >= limit:
                out.reject("surplus")
                continue
            have.add(key)
            out.kept.append(s.rstrip("."))
    return out


@lru_cache(maxsize=4096)
def _read_cache(path: str, mtime: int) -> dict | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("prompts"), list) else None


def load_cache(folder: str | Path | None, synset: str) -> dict | None:
    """The cache record for a class, or None (absent or unreadable)."""
    path = cache_path(folder, synset)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read_cache(str(path), mtime)


def write_cache(folder: str | Path | None, synset: str, record: dict) -> Path:
    path = cache_path(folder, synset)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


@dataclass
class LLMSettings:
    model: str
    revision: str | None = None
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 768
    rounds: int = 4
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"


class LLMWriter:
    """A transformers chat model that writes prompts for one class at a time."""

    def __init__(self, settings: LLMSettings):
        from ..appearance.controlnet import hub_offline, load_or_explain, locate_model

        self.settings = s = settings
        # Locate first: a missing model fails before torch and transformers are imported.
        self.source = src = locate_model(s.model, revision=s.revision, probe_file="config.json", what="LLM", option="--llm",
                                         local_files_only=hub_offline())
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = s.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = {"auto": "auto" if device != "cpu" else torch.float32, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[s.dtype]
        self.device = device
        self.tokenizer = load_or_explain(
            lambda: AutoTokenizer.from_pretrained(src.path, revision=src.revision, local_files_only=src.local_files_only), src, "LLM tokenizer", "--llm"
        )
        if not getattr(self.tokenizer, "chat_template", None):
            raise UserError(f"LLM '{s.model}' has no chat template; use an instruction-tuned chat model (e.g. a *-Instruct model)")
        self.model = load_or_explain(
            lambda: AutoModelForCausalLM.from_pretrained(src.path, revision=src.revision, local_files_only=src.local_files_only, dtype=dtype),
            src, "LLM", "--llm",
        )
        self.model.to(device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def messages(self, name: str, definition: str, k: int) -> list[dict]:
        return [
            {"role": "system", "content": INSTRUCTION.format(name=name, definition=definition or "an everyday object")},
            {"role": "user", "content": REQUEST.format(k=k, name=name)},
        ]

    def _inputs(self, messages: list[dict]):
        from jinja2 import TemplateError

        try:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        except TemplateError:
            # Templates without a system role: put the instruction into the user turn.
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return self.tokenizer.apply_chat_template(merged, add_generation_prompt=True, return_tensors="pt", return_dict=True)

    def write(self, synset: str, class_name: str, n: int) -> dict:
        """Up to ``n`` cleaned prompts for one class (several rounds if needed), as a cache record."""
        import torch

        s = self.settings
        known = imagenet_class(synset)
        grammar = load_grammar()
        name = grammar.descriptor(synset, class_name).names[0]
        messages = self.messages(name, known.definition if known else "", n)
        inputs = {k: v.to(self.device) for k, v in self._inputs(messages).items()}
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(self.model.config, "n_positions", None)
        max_new = s.max_new_tokens
        if limit:
            max_new = max(1, min(max_new, int(limit) - inputs["input_ids"].shape[1]))
            if inputs["input_ids"].shape[1] >= int(limit):
                raise UserError(f"LLM '{s.model}' has a context of {limit} tokens, too short for the instruction ({inputs['input_ids'].shape[1]} tokens)")
        cleaned = Cleaned()
        names = class_names(synset, class_name)
        rounds = 0
        raw_lines = 0
        started = time.perf_counter()
        while len(cleaned.kept) < n and rounds < s.rounds:
            torch.manual_seed((s.seed * 1_000_003 + zlib.crc32(synset.encode()) + rounds) % 2**63)
            with torch.inference_mode():
                output = self.model.generate(
                    **inputs, do_sample=True, temperature=s.temperature, top_p=s.top_p, max_new_tokens=max_new,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            text = self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            raw_lines += len([line for line in text.splitlines() if line.strip()])
            clean_outputs([text], names, n, cleaned)
            rounds += 1
        return {
            "version": CACHE_VERSION,
            "synset": synset,
            "class_name": class_name,
            "prompt_name": name,
            "model": s.model,
            "revision": self.source.resolved,
            "instruction": INSTRUCTION,
            "request": REQUEST,
            "messages": messages,
            "generation": {"temperature": s.temperature, "top_p": s.top_p, "max_new_tokens": max_new, "rounds": rounds, "seed": s.seed, "device": self.device},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - started, 2),
            "requested": n,
            "raw_lines": raw_lines,
            "kept": len(cleaned.kept),
            "rejected": cleaned.rejected,
            "fallback": "templates" if not cleaned.kept else None,
            "prompts": cleaned.kept,
        }
