"""The 1000 ImageNet-1k classes (WordNet ids, names, glosses) shipped in ``prompts/``.

``prompts/imagenet_classes.json`` holds them in class-index order; no run-time dependency
on timm or nltk. :func:`resolve_classes` turns what a user types (synset ids, ImageNet
names, the CAD library's class names) into synset ids.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import UserError
from ..shipped import shipped

PROMPTS_DIR = shipped("prompts")
CLASSES_FILE = "imagenet_classes.json"


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


def _cad_classes() -> dict[str, str]:
    """Synset -> name of the CAD library's classes; empty when no library is there."""
    try:
        from ..cad.library import CadLibrary

        return {s: c.name for s, c in CadLibrary().manifest.classes.items()}
    except Exception:
        return {}


def resolve_classes(items: list[str]) -> list[tuple[str, str]]:
    """(synset, class name) for each item: ``all`` (the 1000 ImageNet classes), ``cad``
    (the CAD library's classes), a synset id, a CAD class name (car, aeroplane, ...) or an
    ImageNet class name (any of its lemmas, case-insensitive)."""
    out: dict[str, str] = {}
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if item.lower() == "all":
            out.update({c.wnid: c.name for c in imagenet_classes()})
        elif item.lower() == "cad":
            cad = _cad_classes()
            if not cad:
                raise UserError("no CAD library found for --classes cad; run `dst3d cad build` or list classes explicitly")
            out.update(cad)
        else:
            synset, name = _resolve_one(item)
            out[synset] = name
    if not out:
        raise UserError("no classes given; e.g. --classes car,n02690373 (or all, or cad)")
    return list(out.items())


def _resolve_one(item: str) -> tuple[str, str]:
    known = imagenet_class(item)
    if known:
        return known.wnid, known.name
    try:
        from ..cad.library import CadLibrary

        library = CadLibrary()
        synset = library.resolve_class(item)
        return synset, library.manifest.classes[synset].name
    except UserError:
        pass
    if item.startswith("n") and item[1:].isdigit() and len(item) == 9:
        return item, item  # a synset outside ImageNet-1k: generic descriptors, its id as name
    found = find_imagenet_class(item)
    if found:
        return found.wnid, found.name
    names = [n for c in imagenet_classes() for n in c.names]
    close = difflib.get_close_matches(item, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; use a WordNet id such as n02814533"
    raise UserError(f"unknown class '{item}'{hint}")


def find_imagenet_class(item: str) -> ImageNetClass | None:
    """The ImageNet-1k class ``item`` names: a WordNet id, any of its names, or an alias."""
    known = imagenet_class(item)
    if known:
        return known
    lowered = item.lower().replace("_", " ")
    for cls in imagenet_classes():
        if lowered in (n.lower() for n in cls.names):
            return cls
    from .templates import load_grammar

    alias = load_grammar().aliases.get(lowered.replace(" ", ""))
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
