"""A folder of loose mesh files as models the renderer can draw (distractors).

Distractors need not be library models with a class, an alignment and keypoints: any
mesh will do (a folder of scans, the objects of a benchmark). Each file is a model named
``mesh:<file name>``, centred on its bounding box and scaled to longest side 1 like the
library's models, so distractor sizes mean the same for both sources.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from ..cad.library import load_parts
from ..errors import UserError

MESH_SUFFIXES = {".obj", ".ply", ".glb", ".gltf", ".stl", ".off"}
PREFIX = "mesh:"


def mesh_files(folder: Path) -> list[Path]:
    """The mesh files directly in ``folder``, sorted (plans draw them by index)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in MESH_SUFFIXES and p.is_file())


class MeshFolder:
    """Normalized meshes of a folder, loaded once each; ids are ``mesh:<file name>``."""

    def __init__(self, folder: str | Path):
        self.root = Path(folder).expanduser()
        if not mesh_files(self.root):
            raise UserError(f"distractor meshes: '{folder}' is not a folder with mesh files ({', '.join(sorted(MESH_SUFFIXES))})")
        self._parts: dict[str, list[trimesh.Trimesh]] = {}

    def ids(self) -> list[str]:
        return [PREFIX + p.name for p in mesh_files(self.root)]

    def path(self, mesh_id: str) -> Path:
        path = self.root / mesh_id.removeprefix(PREFIX)
        if not mesh_id.startswith(PREFIX) or path.parent != self.root or not path.is_file():
            raise UserError(f"distractor mesh '{mesh_id}' is not in {self.root}; pass the folder the dataset was made with")
        return path

    def load_parts(self, mesh_id: str) -> list[trimesh.Trimesh]:
        """The mesh's parts, centred on their bounding box and scaled to longest side 1."""
        if mesh_id not in self._parts:
            path = self.path(mesh_id)
            try:
                parts = load_parts(path)
            except Exception as exc:  # noqa: BLE001 - trimesh raises many types on bad files
                raise UserError(f"distractor mesh {path} cannot be read ({type(exc).__name__}); fix or remove it") from None
            if not parts:
                raise UserError(f"distractor mesh {path} has no faces; fix or remove it")
            vertices = np.vstack([p.vertices for p in parts])
            lo, hi = vertices.min(0), vertices.max(0)
            scale = 1.0 / max(float((hi - lo).max()), 1e-12)
            for part in parts:
                part.apply_translation(-(lo + hi) / 2)
                part.apply_scale(scale)
            self._parts[mesh_id] = parts
        return self._parts[mesh_id]
