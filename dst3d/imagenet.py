"""The 1000 ImageNet-1k classes (WordNet ids, names, glosses) shipped in ``prompts/``.

``prompts/imagenet_classes.json`` holds them in class-index order, and the ``aliases`` of
``prompts/descriptors.json`` map PASCAL3D+ names (aeroplane, tvmonitor, ...) to synsets;
no run-time dependency on timm or nltk. Core data: every stage may import this module,
and it imports no stage. The resolver that also knows the CAD library is
:func:`dst3d.cad.library.resolve_class`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import UserError
from .shipped import shipped

PROMPTS_DIR = shipped("prompts")
CLASSES_FILE = "imagenet_classes.json"
DESCRIPTORS_FILE = "descriptors.json"


def data_dir() -> Path:
    """The prompts data folder: $DST3D_PROMPTS_DATA or the shipped ``prompts/``."""
    return Path(os.environ.get("DST3D_PROMPTS_DATA") or PROMPTS_DIR)


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    wnid: str
    names: tuple[str, ...]
    definition: str
    group: str

    @property
    def name(self) -> str:
        return self.names[0]


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[ImageNetClass, ...]:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"ImageNet class list {path} is missing; reinstall dst3d or set DST3D_PROMPTS_DATA to a folder holding {CLASSES_FILE}") from None
    except ValueError as exc:
        raise UserError(f"ImageNet class list {path} is not valid JSON ({exc}); reinstall dst3d or fix DST3D_PROMPTS_DATA") from None
    return tuple(
        ImageNetClass(int(r["index"]), r["wnid"], tuple(r["names"]), r.get("definition", ""), r.get("group", "object")) for r in data["classes"]
    )


def imagenet_classes() -> tuple[ImageNetClass, ...]:
    return _load(str(data_dir() / CLASSES_FILE))


@lru_cache(maxsize=4)
def _by_wnid(path: str) -> dict[str, ImageNetClass]:
    return {c.wnid: c for c in _load(path)}


def imagenet_class(wnid: str) -> ImageNetClass | None:
    return _by_wnid(str(data_dir() / CLASSES_FILE)).get(wnid)


@lru_cache(maxsize=4)
def _aliases(path: str, mtime: int) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {k.lower().replace(" ", ""): v for k, v in data.get("aliases", {}).items()}


def aliases() -> dict[str, str]:
    """Alias (lower case, no spaces) -> synset, from the prompt descriptors' ``aliases``."""
    path = data_dir() / DESCRIPTORS_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _aliases(str(path), mtime)


def is_synset_id(item: str) -> bool:
    """A WordNet noun offset as ImageNet writes it: ``n`` and 8 digits."""
    return len(item) == 9 and item.startswith("n") and item[1:].isdigit()


def find_imagenet_class(item: str) -> ImageNetClass | None:
    """The ImageNet-1k class ``item`` names: a WordNet id, any of its names, or an alias."""
    known = imagenet_class(item)
    if known:
        return known
    lowered = item.lower().replace("_", " ")
    for cls in imagenet_classes():
        if lowered in (n.lower() for n in cls.names):
            return cls
    alias = aliases().get(lowered.replace(" ", ""))
    return imagenet_class(alias) if alias else None


def rebuild_from_timm(info_dir: Path, out: Path, groups: dict[str, str] | None = None) -> None:
    """Maintainer helper: regenerate ``imagenet_classes.json`` from timm's ``data/_info``
    files (imagenet_synsets.txt, imagenet_synset_to_lemma.txt, ..._to_definition.txt),
    keeping the hand-assigned ``group`` of each class from ``groups`` (wnid -> group)."""
    info_dir = Path(info_dir)
    synsets = [line.strip() for line in (info_dir / "imagenet_synsets.txt").read_text().splitlines() if line.strip()]
    lemmas = dict(line.split("\t", 1) for line in (info_dir / "imagenet_synset_to_lemma.txt").read_text().splitlines() if "\t" in line)
    glosses = dict(line.split("\t", 1) for line in (info_dir / "imagenet_synset_to_definition.txt").read_text().splitlines() if "\t" in line)
    groups = groups or {}
    rows = [
        {"index": i, "wnid": w, "names": [n.strip() for n in lemmas[w].split(",") if n.strip()], "definition": glosses.get(w, ""), "group": groups.get(w, "object")}
        for i, w in enumerate(synsets)
    ]
    source = "ImageNet-1k (ILSVRC-2012) class order, WordNet 3.0 ids, lemmas and glosses; copied from timm 1.0 data/_info (Apache-2.0); group: coarse category for prompt templates"
    body = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in rows)
    Path(out).write_text('{\n "source": %s,\n "classes": [\n%s\n ]\n}\n' % (json.dumps(source), body))
