"""The aligned CAD library: a manifest of canonical, normalized meshes per ImageNet synset.

Every mesh file in the library is already in the canonical frame (+Z up, front toward -Y,
centred, longest bounding-box side 1). The manifest records where it came from and how
the source was turned into that frame, so an import can be audited and redone.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
import trimesh
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ..errors import UserError
from ..files import write_text_atomic
from ..imagenet import find_imagenet_class, imagenet_classes, is_synset_id
from ..shipped import shipped

DEFAULT_LIBRARY = shipped("cad_aligned")
MANIFEST = "manifest.json"
MANIFEST_VERSION = 2  # 2: typed model tags (version 1 kept them in source/normalization strings; migrated on load)


class Symmetry(BaseModel):
    """How a pose is ambiguous for this model; used when scoring pose errors.

    ``none``; ``mirror`` (reflection across the plane normal to ``axis``: a mirror image,
    not a pose ambiguity, recorded for augmentation); ``rotational`` about ``axis`` with
    ``order`` n (n-fold; 0 means continuous, e.g. a bottle about z).
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal["none", "mirror", "rotational"] = "none"
    axis: Literal["x", "y", "z"] = "z"
    order: int = 0


ReviewReason = Literal["orientation_estimated", "elevation_offset"]
REVIEW_TEXT = {"orientation_estimated": "orientation estimated automatically",
               "elevation_offset": "3D-DST elevation offset (labels exact only on the front meridian)"}


class ModelTags(BaseModel):
    """Typed facts about a model that tools act on (filters, review), instead of key=value text
    buried in ``source``: ``source`` stays human-readable provenance, these are for code.

    ``strength``: how well the model matches its class: 3D-DST's release strength 1 (``good``) or
    2 (``approximate``: it only approximates the class), or an Objaverse object of a broader LVIS
    category (``approximate``); None when nobody said. ``sampling_strategy``: the release's pose
    sampling strategy (1-5). ``needs_review``: why ``dst3d cad review`` should be looked at for it
    (cleared by ``dst3d cad orient`` for an estimated orientation).
    """

    model_config = ConfigDict(extra="forbid")
    strength: Literal["good", "approximate"] | None = None
    sampling_strategy: int | None = Field(None, ge=1, le=5)
    needs_review: list[ReviewReason] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _only_set(self, handler) -> dict:
        """Unset tags are left out, so a parametric model's manifest entry carries none."""
        return {k: v for k, v in handler(self).items() if v not in (None, [])}

    def text(self) -> str:
        """One short line for tables and review notes, '' when there are no tags."""
        parts = [self.strength or "", f"strategy {self.sampling_strategy}" if self.sampling_strategy else ""]
        parts += [f"review: {reason.replace('_', ' ')}" for reason in self.needs_review]
        return ", ".join(p for p in parts if p)


def tags_from_v1(model: dict) -> dict:
    """The tags a version-1 manifest implied through its strings and numbers (the migration).

    Release imports wrote ``strength=N``, ``strategy=N`` and ``el_offset=X`` into ``source`` and
    ``release_strength``/``release_strategy`` into ``normalization``; Objaverse fetches wrote
    ``orientation=estimated`` (and ``orientation_estimated`` = 1) and ``approximate=lvis-broader``.
    An ``oriented ...`` note in ``source`` means the orientation was fixed by hand since.
    """
    source, norm = str(model.get("source") or ""), model.get("normalization") or {}
    text = dict(re.findall(r"(\w+)=([^;\s]+)", source))
    tags: dict = {}
    strength = norm.get("release_strength", text.get("strength"))
    if strength is not None:
        tags["strength"] = "approximate" if float(strength) == 2 else "good"
    if "approximate" in text:
        tags["strength"] = "approximate"
    strategy = norm.get("release_strategy", text.get("strategy"))
    if strategy is not None and 1 <= float(strategy) <= 5:
        tags["sampling_strategy"] = int(float(strategy))
    review = []
    estimated = float(norm.get("orientation_estimated", 0)) == 1.0 or text.get("orientation") == "estimated"
    if estimated and "oriented " not in source:
        review.append("orientation_estimated")
    offset = norm.get("release_elevation_offset", text.get("el_offset"))
    try:
        if offset is not None and float(offset) != 0.0:
            review.append("elevation_offset")
    except ValueError:
        pass
    if review:
        tags["needs_review"] = review
    return tags


class CadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    mesh: str = Field(description="path relative to the library root")
    source: str
    license: str
    front: str = Field("-y", description="axis of the source mesh that was the object's front")
    up: str = Field("+z", description="axis of the source mesh that was up")
    normalization: dict[str, list[float] | float] = Field(
        default_factory=dict, description="centre (source units) and scale applied to the source mesh"
    )
    size_m: float = Field(1.0, description="real-world longest side in metres, for metric exports")
    keypoints: dict[str, list[float]] = Field(default_factory=dict)
    symmetry: Symmetry = Symmetry()
    faces: int = 0
    tags: ModelTags = Field(default_factory=ModelTags, description="typed tags: strength, sampling strategy, review flags")

    @model_serializer(mode="wrap")
    def _without_empty_tags(self, handler) -> dict:
        """No ``tags`` key when there are none (parametric models): the manifest stays as lean as before."""
        data = handler(self)
        if not data.get("tags"):
            data.pop("tags", None)
        return data


class CadClass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    pascal3d: str | None = None
    pose_defaults: dict = Field(default_factory=dict, description="PoseSampling overrides for this class")
    models: list[CadModel] = Field(default_factory=list)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = MANIFEST_VERSION
    classes: dict[str, CadClass] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data):
        """Older manifests load: version 1 gets its tags derived (:func:`tags_from_v1`) and is
        written back as the current version on the next save; a newer one is refused."""
        if not isinstance(data, dict):
            return data
        version = data.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"manifest version must be a whole number >= 1, got {version!r}")
        if version > MANIFEST_VERSION:
            raise ValueError(f"manifest version {version} is newer than this dst3d reads ({MANIFEST_VERSION}); upgrade dst3d")
        if version >= MANIFEST_VERSION:
            return data
        data = dict(data, version=MANIFEST_VERSION, classes=dict(data.get("classes") or {}))
        for synset, cls_data in data["classes"].items():
            if isinstance(cls_data, dict) and isinstance(cls_data.get("models"), list):
                models = [dict(m, tags=m.get("tags", tags_from_v1(m))) if isinstance(m, dict) else m for m in cls_data["models"]]
                data["classes"][synset] = dict(cls_data, models=models)
        return data


class CadLibrary:
    """Read/write access to a library folder (``cad_aligned/`` unless told otherwise)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root or os.environ.get("DST3D_CAD_LIBRARY") or DEFAULT_LIBRARY).resolve()
        path = self.root / MANIFEST
        if not path.is_file():
            raise UserError(f"no CAD manifest at {path}; run `dst3d cad build` or pass --cad-library DIR")
        try:
            self.manifest = Manifest.model_validate_json(path.read_text())
        except ValueError as exc:
            raise UserError(f"CAD manifest {path} is invalid: {_first_error(exc)}") from None
        self._parts: dict[str, list[trimesh.Trimesh]] = {}

    # --- lookup -------------------------------------------------------------
    def find_class(self, name_or_synset: str) -> str | None:
        """Synset of a class of this library named by its synset, name (or one of its
        comma-separated names) or PASCAL3D+ category; None if the library has none."""
        key = name_or_synset.strip()
        if key in self.manifest.classes:
            return key
        lowered = key.lower().replace("_", " ")
        for synset, cls in self.manifest.classes.items():
            names = {cls.name.lower(), (cls.pascal3d or "").lower()}
            names |= {part.strip().lower() for part in cls.name.split(",")}
            if lowered in names:
                return synset
        return None

    def resolve_class(self, name_or_synset: str) -> str:
        """Synset id of a class with CAD models here (see :func:`resolve_class`)."""
        return resolve_class(name_or_synset, self)[0]

    def class_names(self) -> list[str]:
        return sorted({n.strip().lower() for c in self.manifest.classes.values() for n in [*c.name.split(","), c.pascal3d or ""] if n.strip()})

    def cls(self, synset: str) -> CadClass:
        return self.manifest.classes[self.resolve_class(synset)]

    def model(self, cad_id: str) -> tuple[str, CadModel]:
        for synset, cls in self.manifest.classes.items():
            for model in cls.models:
                if model.id == cad_id:
                    return synset, model
        raise UserError(f"unknown CAD model '{cad_id}'; `dst3d cad list` shows the library")

    def mesh_path(self, model: CadModel) -> Path:
        return self.root / model.mesh

    def load_parts(self, model: CadModel) -> list[trimesh.Trimesh]:
        """The model's parts in canonical frame (one colour per part in the render backend).

        Loaded once per library object; a missing, corrupt or empty file is a UserError.
        """
        if model.id not in self._parts:
            path = self.mesh_path(model)
            if not path.is_file():
                raise UserError(f"mesh file {path} of CAD model '{model.id}' is missing; restore it or run `dst3d cad build`")
            try:
                parts = load_parts(path)
            except Exception as exc:  # noqa: BLE001 - trimesh raises many types on bad files
                raise UserError(f"mesh file {path} of CAD model '{model.id}' cannot be read ({type(exc).__name__}); re-import it") from None
            if not parts:
                raise UserError(f"mesh file {path} of CAD model '{model.id}' has no faces; re-import it from a valid mesh")
            self._parts[model.id] = parts
        return self._parts[model.id]

    def keypoints(self, model: CadModel) -> tuple[list[str], np.ndarray]:
        names = sorted(model.keypoints)
        return names, np.array([model.keypoints[n] for n in names], dtype=np.float64).reshape(-1, 3)

    # --- writing ------------------------------------------------------------
    def commit(self, manifest: Manifest) -> None:
        """Make ``manifest`` this library's and write it atomically; on a write error the old
        one stays (in memory and on disk) and a one-line UserError says why."""
        old, self.manifest = self.manifest, manifest
        try:
            self.save()
        except OSError as exc:
            self.manifest = old
            raise UserError(f"cannot write into the CAD library {self.root}: {exc.strerror or exc}") from None

    def save(self) -> None:
        """Atomic manifest write: a crash never leaves a truncated manifest."""
        write_text_atomic(self.root / MANIFEST, json.dumps(self.manifest.model_dump(mode="json"), indent=1) + "\n")


def _first_error(exc: ValueError) -> str:
    """Where and what the first validation error is ('classes.n1.models.0.tags.strength: Input should be ...');
    pydantic's own first line only says how many errors there are."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def resolve_class(item: str, library: CadLibrary | None = None, need_model: bool = True) -> tuple[str, str]:
    """(synset, class name) for what a user typed: a synset id, a CAD class name (car,
    aeroplane, ...), an ImageNet name (any lemma, case-insensitive) or an alias.

    The one class resolver of dst3d (jobs, prompts, ``cad import`` and the CLI use it), so
    the same class spelled two ways is the same class everywhere. With ``need_model`` the
    class must have CAD models in ``library``; the error then says how to add one, or what a
    typo meant. Without it any ImageNet class or WordNet id is accepted (prompts).
    """
    key = item.strip()
    synset = library.find_class(key) if library is not None else None
    imagenet = find_imagenet_class(key) if synset is None else None
    if synset is not None:
        known = find_imagenet_class(synset) if key == synset else None
        name = known.name if known else library.manifest.classes[synset].name
    elif imagenet is not None:
        synset, name = imagenet.wnid, imagenet.name
    elif is_synset_id(key):
        synset, name = key, key  # a synset outside ImageNet-1k: its id as name
    else:
        raise UserError(_unknown_message(key, library, need_model))
    if need_model and (library is None or synset not in library.manifest.classes):
        raise UserError(_no_model_message(synset, name, library))
    return synset, name


def resolve_classes(items: list[str], library: CadLibrary | None = None, need_model: bool = True) -> list[tuple[str, str]]:
    """:func:`resolve_class` of each item, duplicates (the same class spelled twice) dropped;
    ``all`` means the 1000 ImageNet classes and ``cad`` the library's classes."""
    out: dict[str, str] = {}
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        if item.lower() == "all" and need_model:
            raise UserError("'all' means the 1000 ImageNet classes, most without CAD models; use 'cad' for every class of the CAD library")
        if item.lower() == "all":
            out.update({c.wnid: c.name for c in imagenet_classes()})
        elif item.lower() == "cad":
            if library is None or not library.manifest.classes:
                raise UserError("no CAD library classes for 'cad'; run `dst3d cad build` or list classes explicitly")
            out.update({s: c.name for s, c in library.manifest.classes.items()})
        else:
            synset, name = resolve_class(item, library, need_model)
            out.setdefault(synset, name)
    if not out:
        raise UserError("no classes given; e.g. --classes car,n02690373 (or all, or cad)")
    return list(out.items())


def _known(library: CadLibrary | None) -> str:
    if library is None:
        return ""
    return ", ".join(f"{c.pascal3d or c.name} ({s})" for s, c in sorted(library.manifest.classes.items()))


def _unknown_message(key: str, library: CadLibrary | None, need_model: bool) -> str:
    import difflib

    names = library.class_names() if library is not None else []
    if not need_model or not names:
        names = names + [n for c in imagenet_classes() for n in c.names]
    close = difflib.get_close_matches(key.lower() if need_model else key, names, n=3 if not need_model else 1)
    if need_model:
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown class '{key}'; {hint}classes with CAD models: {_known(library)}"
    hint = f"; did you mean {', '.join(close)}?" if close else "; use a WordNet id such as n02814533"
    return f"unknown class '{key}'{hint}"


def _no_model_message(synset: str, name: str, library: CadLibrary | None) -> str:
    where = f" in {library.root}" if library is not None else ""
    return (f"no CAD model for '{name}' ({synset}){where}; add one with `dst3d cad import MESH --synset {synset} "
            f"--front AXIS --up AXIS`, or choose a class with models: {_known(library)}")


def load_parts(path: Path) -> list[trimesh.Trimesh]:
    scene = trimesh.load(path, force="scene", process=False)
    parts = []
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            part = geom.copy()
            part.apply_transform(transform)
            part.metadata["name"] = geom_name
            parts.append(part)
    return parts
