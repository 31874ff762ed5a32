"""The aligned CAD library: a manifest of canonical, normalized meshes per ImageNet synset.

Every mesh file in the library is already in the canonical frame (+Z up, front toward -Y,
centred, longest bounding-box side 1). The manifest records where it came from and how
the source was turned into that frame, so an import can be audited and redone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

import numpy as np
import trimesh
from pydantic import BaseModel, ConfigDict, Field

from ..errors import UserError
from ..shipped import shipped

DEFAULT_LIBRARY = shipped("cad_aligned")
MANIFEST = "manifest.json"


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


class CadClass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    pascal3d: str | None = None
    pose_defaults: dict = Field(default_factory=dict, description="PoseSampling overrides for this class")
    models: list[CadModel] = Field(default_factory=list)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    classes: dict[str, CadClass] = Field(default_factory=dict)


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
            raise UserError(f"CAD manifest {path} is invalid: {str(exc).splitlines()[0]}") from None
        self._parts: dict[str, list[trimesh.Trimesh]] = {}

    # --- lookup -------------------------------------------------------------
    def resolve_class(self, name_or_synset: str) -> str:
        """Synset id for a synset id, a class name or a PASCAL3D+ category name."""
        key = name_or_synset.strip()
        if key in self.manifest.classes:
            return key
        lowered = key.lower().replace("_", " ")
        for synset, cls in self.manifest.classes.items():
            names = {cls.name.lower(), (cls.pascal3d or "").lower()}
            names |= {part.strip().lower() for part in cls.name.split(",")}
            if lowered in names:
                return synset
        raise UserError(self._no_model_message(key))

    def _no_model_message(self, key: str) -> str:
        """Say whether ``key`` is an ImageNet class without a model (and how to add one) or a
        typo (and what was meant)."""
        import difflib

        from ..prompts.classes import find_imagenet_class

        known = ", ".join(f"{c.pascal3d or c.name} ({s})" for s, c in sorted(self.manifest.classes.items()))
        imagenet = find_imagenet_class(key)
        if imagenet is None:
            names = sorted({n.strip().lower() for c in self.manifest.classes.values() for n in [*c.name.split(","), c.pascal3d or ""] if n.strip()})
            close = difflib.get_close_matches(key.lower(), names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            return f"unknown class '{key}'; {hint}classes with CAD models: {known}"
        synset, name = imagenet.wnid, imagenet.name
        return (f"no CAD model for '{name}' ({synset}) in {self.root}; add one with `dst3d cad import MESH --synset {synset} "
                f"--front AXIS --up AXIS`, or choose a class with models: {known}")

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
    def save(self) -> None:
        """Atomic manifest write: a crash never leaves a truncated manifest."""
        path = self.root / MANIFEST
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest.model_dump(mode="json"), indent=1) + "\n")
        os.replace(tmp, path)


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
