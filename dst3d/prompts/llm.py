"""LLM-enriched prompts: a chat model writes K prompts per class, cached under ``prompts/llm/``.

The instruction keeps the object class in every prompt and leaves pose and viewpoint to
the control image. Generation is batched: every ``generate`` call samples several
sequences for each of several classes (left-padded chat prompts, ``num_return_sequences``),
each sequence asked for ``per_sequence`` prompts, until every class has ``n``.

Outputs are cleaned (:func:`clean_outputs`): chat preambles and sign-offs ("Here are 20
prompts:", "I hope these help!"), markdown (bullets, numbering, headings, bold/italic,
``**Title:**`` lead-ins) and quotes are removed; the last line of a sequence cut off by
``max_new_tokens`` is dropped; prompts are cut at a clause boundary to the generation
pipeline's own tokenizer limit (77 CLIP tokens, counted by that tokenizer); the class
name is required, pose words are rejected, duplicates and near-duplicates dropped.

Each class's cache records what decides it (:func:`cache_key`: model id and resolved
revision, instruction, request, sampling settings, token limit) and the model's own
``generation_config``; ``prompts build --no-overwrite`` reuses a cache only when its key
matches (:func:`cache_matches`). Generation picks a cached prompt per sample with the
sample's prompt RNG; a class without a cache (or with no usable prompt) falls back to the
templates.

torch and transformers are imported only inside :class:`LLMWriter` and
:func:`load_prompt_tokenizer`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import unicodedata
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..imagenet import data_dir, imagenet_class
from .templates import load_grammar

CACHE_VERSION = 2

# The controlnet backend's default base model: its CLIP tokenizer sets the prompt length.
DEFAULT_TOKENIZER = "stable-diffusion-v1-5/stable-diffusion-v1-5"

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
# Line leaders: markdown bullets / quotes / headings, numbering "1." "1)" "(1)" "#1", "Prompt 3:".
_LEADER = re.compile(r"^\s*(?:#{1,6}\s+|[-*•·>+]+\s+|\(?#?\d{1,3}[.):]\s*|\(\d{1,3}\)\s*|#\d{1,3}\s+|prompt\s*#?\d*\s*[:.-]\s*)", re.IGNORECASE)
# A short bold/plain title before the prompt: "**Urban dusk:** A red car ..." / "Urban dusk: A red car ...".
_TITLE = re.compile(r"^(?:\*\*|__)?([^:*_]{1,48}?)(?:\*\*|__)?\s*[:–—-]\s*(?:\*\*|__)?\s+(?=\S)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_CHATTER = re.compile(
    r"^(?:here(?:'s| is| are)|sure\b|certainly\b|of course\b|okay\b|ok\b|absolutely\b|below are|these are|the following|"
    r"i hope|hope (?:this|these)|let me know|feel free|note\b|i've|i have|enjoy\b|happy (?:creating|generating))",
    re.IGNORECASE,
)


def default_cache_dir() -> Path:
    """$DST3D_PROMPT_CACHE or ``prompts/llm`` beside the shipped prompt data."""
    return Path(os.environ.get("DST3D_PROMPT_CACHE") or data_dir() / "llm")


def cache_path(folder: str | Path | None, synset: str) -> Path:
    return Path(folder or default_cache_dir()) / f"{synset}.json"


@dataclass
class Cleaned:
    kept: list[str] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)
    cut: int = 0  # prompts shortened to the token limit

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


def _strip_markup(line: str) -> str:
    s = line.strip()
    for _ in range(3):  # "1. - **...**" : leaders may nest
        t = _LEADER.sub("", s)
        if t == s:
            break
        s = t
    title = _TITLE.match(s)
    if title and len(title.group(1).split()) <= 6 and len(s[title.end():].split()) >= 4:
        s = s[title.end():]
    s = _EMPHASIS.sub("", s)
    return s.strip().strip("\"'“”‘’").strip()


def _words(s: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", s.lower()))


def _near_duplicate(words: set[str], kept: list[set[str]], threshold: float) -> bool:
    return any(len(words & k) / max(1, len(words | k)) >= threshold for k in kept)


def clean_outputs(
    texts: list[str],
    names: list[str],
    limit: int,
    seen: Cleaned | None = None,
    max_words: int = 60,
    truncated: list[bool] | None = None,
    fit: Callable[[str], str | None] | None = None,
    near: float = 0.8,
) -> Cleaned:
    """Prompts from raw chat outputs, one per line; junk, off-class and pose lines rejected.

    ``truncated[i]``: text ``i`` was cut off by the token budget, so its last line is
    incomplete and dropped. ``fit``: shortens a prompt to the pipeline's token limit (None if
    it cannot). ``near``: word-set Jaccard similarity from which a prompt counts as a
    near-duplicate of a kept one.
    """
    out = seen or Cleaned()
    have = {re.sub(r"\W+", " ", p.lower()).strip() for p in out.kept}
    kept_words = [_words(p) for p in out.kept]
    patterns = [re.compile(r"(?<![\w-])" + re.escape(n) + r"(?:s|es)?(?![\w-])", re.IGNORECASE) for n in names]
    for t, text in enumerate(texts):
        lines = [line for line in text.splitlines() if line.strip()]
        if truncated and truncated[t] and lines:
            lines.pop()
            out.reject("truncated")
        for line in lines:
            if any(unicodedata.category(ch)[0] == "C" for ch in line) or "\ufffd" in line:
                out.reject("unprintable")
                continue
            s = _strip_markup(line)
            if not s:
                continue
            if _CHATTER.match(s) or s.endswith(":"):
                out.reject("chat text")
                continue
            if fit is not None:
                shorter = fit(s)
                if shorter is None:
                    out.reject("too long")
                    continue
                if shorter != s:
                    out.cut += 1
                s = shorter
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
            bag = _words(s)
            if _near_duplicate(bag, kept_words, near):
                out.reject("near duplicate")
                continue
            if len(out.kept) >= limit:
                out.reject("surplus")
                continue
            have.add(key)
            kept_words.append(bag)
            out.kept.append(s.rstrip(".,;"))
    return out


def token_fitter(tokenizer, max_tokens: int | None = None) -> Callable[[str], str | None]:
    """``fit(prompt)``: the prompt, or its longest clause-boundary prefix (then word boundary)
    whose token count, special tokens included, is within the tokenizer's limit."""
    limit = int(max_tokens or tokenizer.model_max_length)

    def count(s: str) -> int:
        return len(tokenizer(s, truncation=False)["input_ids"])

    def fit(prompt: str) -> str | None:
        if count(prompt) <= limit:
            return prompt
        clauses = re.split(r"(?<=[,;])\s+", prompt)
        for n in range(len(clauses) - 1, 0, -1):
            candidate = " ".join(clauses[:n]).rstrip(",; ")
            if count(candidate) <= limit:
                return candidate
        words = prompt.split()
        for n in range(len(words) - 1, 3, -1):
            candidate = " ".join(words[:n]).rstrip(",; ")
            if count(candidate) <= limit:
                return candidate
        return None

    return fit


def load_prompt_tokenizer(model: str, revision: str | None = None):
    """(tokenizer, ModelSource) of a generation pipeline: a base model (Hub id or folder with
    ``tokenizer/``) or a bare tokenizer folder. Its ``model_max_length`` is the prompt limit."""
    from ..hub_models import hub_offline, load_or_explain, locate_model

    offline = hub_offline()
    folder = Path(model).expanduser()
    subfolder = "tokenizer"
    if folder.is_dir() and not (folder / "tokenizer").is_dir():
        subfolder = None
    probe = f"{subfolder}/tokenizer_config.json" if subfolder else "tokenizer_config.json"
    src = locate_model(model, revision=revision, probe_file=probe, what="prompt tokenizer", option="--tokenizer", local_files_only=offline)
    from transformers import AutoTokenizer

    kwargs = {"subfolder": subfolder} if subfolder else {}
    tokenizer = load_or_explain(
        lambda: AutoTokenizer.from_pretrained(src.path, revision=src.revision, local_files_only=src.local_files_only, **kwargs),
        src, "prompt tokenizer", "--tokenizer",
    )
    if int(tokenizer.model_max_length) > 100_000:
        raise UserError(f"tokenizer of '{model}' sets no model_max_length; pass the generation pipeline's base model via --tokenizer")
    return tokenizer, src


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
    """How ``dst3d prompts build`` samples. ``sequences`` per class per round, each asked
    for ``per_sequence`` prompts; ``batch_size`` sequences per ``generate`` call (classes
    are batched together); ``tokenizer``: the generation pipeline whose token limit the
    prompts must fit (``None``: no token limit, words only)."""

    model: str
    revision: str | None = None
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 768
    rounds: int = 4
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    sequences: int = 4
    per_sequence: int = 10
    batch_size: int = 16
    tokenizer: str | None = DEFAULT_TOKENIZER
    tokenizer_revision: str | None = None

    def sampling(self) -> dict:
        """The settings that change what is sampled (part of the cache key)."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens, "seed": self.seed,
                "sequences": self.sequences, "per_sequence": self.per_sequence}


def cache_key(settings: LLMSettings, revision: str, max_tokens: int | None, tokenizer: str | None = None) -> dict:
    """Everything that decides a class's cached prompts (besides the class)."""
    return {"version": CACHE_VERSION, "model": settings.model, "revision": revision, "instruction": INSTRUCTION, "request": REQUEST,
            "sampling": settings.sampling(), "tokenizer": tokenizer, "max_tokens": max_tokens}


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def cache_matches(record: dict | None, key: dict, n: int) -> bool:
    """The cache was written with exactly ``key`` and asked for at least ``n`` prompts."""
    return bool(record) and record.get("key") == key and int(record.get("requested", 0)) >= n and bool(record.get("prompts"))


class LLMWriter:
    """A transformers chat model that writes prompts for many classes at a time."""

    def __init__(self, settings: LLMSettings):
        from ..hub_models import dtype_kwarg, hub_offline, load_or_explain, locate_model

        self.settings = s = settings
        # Locate first: a missing model fails before torch and transformers are imported.
        self.source = src = locate_model(s.model, revision=s.revision, probe_file="config.json", what="LLM", option="--llm",
                                         local_files_only=hub_offline())
        self.prompt_tokenizer, self.tokenizer_source = (None, None)
        if s.tokenizer:
            self.prompt_tokenizer, self.tokenizer_source = load_prompt_tokenizer(s.tokenizer, s.tokenizer_revision)
        self.max_tokens = int(self.prompt_tokenizer.model_max_length) if self.prompt_tokenizer is not None else None
        self.fit = token_fitter(self.prompt_tokenizer) if self.prompt_tokenizer is not None else None
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
        kwarg = dtype_kwarg("transformers")
        self.model = load_or_explain(
            lambda: AutoModelForCausalLM.from_pretrained(src.path, revision=src.revision, local_files_only=src.local_files_only, **{kwarg: dtype}),
            src, "LLM", "--llm",
        )
        self.model.to(device).eval()
        self.tokenizer.padding_side = "left"  # batched generation continues every row at its end
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.key = cache_key(s, src.resolved, self.max_tokens, self.tokenizer_source.id if self.tokenizer_source else None)
        self.calls = 0  # generate() calls made (batching is visible in the records too)

    def messages(self, name: str, definition: str, k: int) -> list[dict]:
        return [
            {"role": "system", "content": INSTRUCTION.format(name=name, definition=definition or "an everyday object")},
            {"role": "user", "content": REQUEST.format(k=k, name=name)},
        ]

    def _chat_text(self, messages: list[dict]) -> str:
        from jinja2 import TemplateError

        try:
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except TemplateError:
            # Templates without a system role: put the instruction into the user turn.
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return self.tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)

    def generation_config(self) -> dict:
        """The model's own generation defaults (what applies unless the call sets it)."""
        config = getattr(self.model, "generation_config", None)
        if config is None:
            return {}
        return json.loads(json.dumps({k: v for k, v in config.to_dict().items() if v is not None and not k.startswith("_")}, default=str))

    def write(self, synset: str, class_name: str, n: int) -> dict:
        """Up to ``n`` cleaned prompts for one class, as a cache record."""
        return self.write_many([(synset, class_name)], n)[synset]

    def write_many(self, targets: list[tuple[str, str]], n: int, on_class=None) -> dict[str, dict]:
        """Cache records for many classes: each ``generate`` call samples ``sequences``
        continuations for each of up to ``batch_size // sequences`` classes."""
        import torch

        s = self.settings
        per_sequence = max(1, min(n, s.per_sequence))
        grammar = load_grammar()
        state = {}
        for synset, class_name in targets:
            known = imagenet_class(synset)
            name = grammar.descriptor(synset, class_name).names[0]
            messages = self.messages(name, known.definition if known else "", per_sequence)
            state[synset] = {"class_name": class_name, "name": name, "messages": messages, "text": self._chat_text(messages),
                             "cleaned": Cleaned(), "names": class_names(synset, class_name), "rounds": 0, "raw_lines": 0,
                             "sequences": 0, "seconds": 0.0}
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(self.model.config, "n_positions", None)
        eos = self.model.generation_config.eos_token_id if self.model.generation_config.eos_token_id is not None else self.tokenizer.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        classes_per_call = max(1, s.batch_size // max(1, s.sequences))
        done: set[str] = set()
        for round_ in range(s.rounds):
            todo = [syn for syn, _ in targets if syn not in done and len(state[syn]["cleaned"].kept) < n]
            if not todo:
                break
            for start in range(0, len(todo), classes_per_call):
                group = todo[start : start + classes_per_call]
                t0 = time.perf_counter()
                inputs = self.tokenizer([state[g]["text"] for g in group], return_tensors="pt", padding=True, add_special_tokens=False)
                inputs = {k: v.to(self.device) for k, v in inputs.items()}
                width = inputs["input_ids"].shape[1]
                max_new = s.max_new_tokens
                if limit:
                    if width >= int(limit):
                        raise UserError(f"LLM '{s.model}' has a context of {limit} tokens, too short for the instruction ({width} tokens)")
                    max_new = max(1, min(max_new, int(limit) - width))
                torch.manual_seed((s.seed * 1_000_003 + zlib.crc32(",".join(group).encode()) + round_) % 2**63)
                with torch.inference_mode():
                    output = self.model.generate(
                        **inputs, do_sample=True, temperature=s.temperature, top_p=s.top_p, max_new_tokens=max_new,
                        num_return_sequences=s.sequences, pad_token_id=self.tokenizer.pad_token_id,
                    )
                self.calls += 1
                new = output[:, width:]
                seconds = (time.perf_counter() - t0) / len(group)
                for g_index, synset in enumerate(group):
                    st = state[synset]
                    rows = new[g_index * s.sequences : (g_index + 1) * s.sequences]
                    texts = [self.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
                    cut = [not any(int(t) in eos_ids for t in row.tolist()) for row in rows]
                    st["raw_lines"] += sum(len([line for line in text.splitlines() if line.strip()]) for text in texts)
                    clean_outputs(texts, st["names"], n, st["cleaned"], truncated=cut, fit=self.fit)
                    st["rounds"] += 1
                    st["sequences"] += len(rows)
                    st["seconds"] += seconds
                    st["max_new"] = max_new
                    if len(st["cleaned"].kept) >= n:
                        done.add(synset)
        records = {}
        for synset, _ in targets:
            records[synset] = self._record(synset, state[synset], n)
            if on_class:
                on_class(synset, records[synset])
        return records

    def _record(self, synset: str, st: dict, n: int) -> dict:
        s = self.settings
        cleaned: Cleaned = st["cleaned"]
        return {
            "version": CACHE_VERSION,
            "key": self.key,
            "key_sha": key_digest(self.key),
            "synset": synset,
            "class_name": st["class_name"],
            "prompt_name": st["name"],
            "model": s.model,
            "revision": self.source.resolved,
            "instruction": INSTRUCTION,
            "request": REQUEST,
            "messages": st["messages"],
            "generation": {**s.sampling(), "max_new_tokens_used": st.get("max_new", s.max_new_tokens), "rounds": st["rounds"],
                           "sequences_sampled": st["sequences"], "batch_size": s.batch_size, "device": self.device,
                           "dtype": str(getattr(self.model, "dtype", "")).removeprefix("torch.")},
            "generation_config": self.generation_config(),
            "tokenizer": {"id": self.tokenizer_source.id, "revision": self.tokenizer_source.resolved, "max_tokens": self.max_tokens}
            if self.tokenizer_source else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(st["seconds"], 2),
            "requested": n,
            "raw_lines": st["raw_lines"],
            "kept": len(cleaned.kept),
            "cut_to_token_limit": cleaned.cut,
            "rejected": cleaned.rejected,
            "fallback": "templates" if not cleaned.kept else None,
            "prompts": cleaned.kept,
        }


def needed_sequences(n: int, per_sequence: int, keep_rate: float = 0.6) -> int:
    """Sequences to sample for ``n`` prompts when a sequence yields ``per_sequence`` lines of
    which about ``keep_rate`` survive cleaning."""
    return max(1, math.ceil(n / max(1.0, per_sequence * keep_rate)))


__all__ = [
    "CACHE_VERSION", "DEFAULT_TOKENIZER", "INSTRUCTION", "POSE_WORDS", "REQUEST", "Cleaned", "LLMSettings", "LLMWriter",
    "cache_key", "cache_matches", "cache_path", "class_names", "clean_outputs", "default_cache_dir", "key_digest", "load_cache",
    "load_prompt_tokenizer", "needed_sequences", "token_fitter", "write_cache",
]
