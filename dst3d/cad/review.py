"""Repair a library: `cad orient` (rotate a model), `cad init` (an empty library). The review
sheet (`cad review`) that shows what to repair is drawn by :mod:`dst3d.viz.cad_review`.

``orient`` rotates a stored mesh about the canonical axes, renormalizes it
(bounding-box centre at the origin, longest side 1), rotates its keypoints and symmetry axis, writes the
mesh under a new file name, then re-registers it in one atomic manifest write (the old file is removed
only after that), so a crash leaves either the old model or the new one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..files import write_bytes_atomic, write_text_atomic

_ROT = re.compile(r"^\s*([xyz])\s*:\s*([-+]?\d+(?:\.\d+)?)\s*$", re.I)


def parse_rotation(text: str) -> tuple[str, float]:
    m = _ROT.match(str(text))
    if not m:
        raise UserError(f"bad --rotate '{text}': use AXIS:DEGREES, e.g. z:90 or x:-90")
    return m.group(1).lower(), float(m.group(2))


def rotation_matrix(steps: list[tuple[str, float]]) -> np.ndarray:
    """Product of the rotations, applied in the order given (the first one first)."""
    from .release import _clean, rot_x, rot_y, rot_z

    R = np.eye(3)
    for axis, deg in steps:
        R = {"x": rot_x, "y": rot_y, "z": rot_z}[axis](deg) @ R
    return _clean(R)


def orient(library, model_id: str, steps: list[tuple[str, float]]):
    """Rotate a stored model by ``steps`` about the canonical axes and re-register it atomically."""
    import trimesh

    from .library import Symmetry

    if not steps:
        raise UserError("give at least one --rotate AXIS:DEGREES")
    synset, model = library.model(model_id)
    Q = rotation_matrix(steps)
    path = library.mesh_path(model)
    if not path.is_file():
        raise UserError(f"mesh file {path} of CAD model '{model_id}' is missing; restore it or re-import the model")
    scene = trimesh.load(path, force="scene", process=False)
    transform = np.eye(4)
    transform[:3, :3] = Q
    scene.apply_transform(transform)
    from .release import _world_vertices

    verts = _world_vertices(scene)
    if not len(verts):
        raise UserError(f"mesh file {path} of CAD model '{model_id}' has no faces; re-import it")
    lo, hi = verts.min(0), verts.max(0)
    c2, L2 = (lo + hi) / 2, float((hi - lo).max())
    norm = np.eye(4)
    norm[:3, :3] /= L2
    norm[:3, 3] = -c2 / L2
    scene.apply_transform(norm)
    # the record: canonical = scale * rotation @ (source - centre)
    rec = dict(model.normalization)
    R_old = np.asarray(rec.get("rotation") or _axes_rotation(model.front, model.up), float).reshape(3, 3)
    s_old = float(rec.get("scale", 1.0))
    c_old = np.asarray(rec.get("centre", [0.0, 0.0, 0.0]), float)
    R_new = Q @ R_old
    rec.update(rotation=[round(float(v), 12) for v in R_new.reshape(-1)], scale=s_old / L2,
               centre=[round(float(v), 9) for v in c_old + R_new.T @ c2 / s_old])
    if "release_centre" in rec:
        rec["release_centre"] = [round(float(v), 9) for v in (Q @ np.asarray(rec["release_centre"], float) - c2) / L2]
    if "release_distance_scale" in rec:
        rec["release_distance_scale"] = float(rec["release_distance_scale"]) / L2
    history = f"{'; ' if model.source else ''}oriented " + " ".join(f"{a}:{d:g}" for a, d in steps)
    keypoints = {k: [round(float(c), 6) for c in (Q @ np.asarray(v, float) - c2) / L2] for k, v in model.keypoints.items()}
    sym = model.symmetry
    if sym.type != "none":
        axis_vec = Q @ np.eye(3)["xyz".index(sym.axis)]
        k = int(np.argmax(np.abs(axis_vec)))
        sym = Symmetry(type=sym.type, axis="xyz"[k], order=sym.order) if abs(abs(axis_vec[k]) - 1) < 1e-9 else Symmetry(type="none")
    from .release import _axis_name

    version = 1 + max([int(m.group(1)) for m in [re.search(r"\.o(\d+)\.glb$", model.mesh)] if m] or [0])
    new_mesh = re.sub(r"(\.o\d+)?\.glb$", f".o{version}.glb", model.mesh)
    updated = model.model_copy(update={
        "mesh": new_mesh, "normalization": rec, "keypoints": keypoints, "symmetry": sym, "source": model.source + history,
        "tags": model.tags.model_copy(update={"needs_review": [r for r in model.tags.needs_review if r != "orientation_estimated"]}),
        "front": _axis_name(R_new.T @ np.array([0.0, -1.0, 0.0])), "up": _axis_name(R_new.T @ np.array([0.0, 0.0, 1.0])),
    })
    target = library.root / new_mesh
    write_bytes_atomic(target, scene.export(file_type="glb"))
    manifest = library.manifest.model_copy(deep=True)
    cls = manifest.classes[synset]
    cls.models = [updated if m.id == model_id else m for m in cls.models]
    try:
        library.commit(manifest)
    except UserError:
        target.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)
    library._parts.pop(model_id, None)
    return updated


def _axes_rotation(front: str, up: str) -> np.ndarray:
    from .importer import canonical_rotation, parse_axis

    try:
        return canonical_rotation(parse_axis(front, "front")[1], parse_axis(up, "up")[1])
    except UserError:
        return np.eye(3)


def init_library(root: Path) -> Path:
    """An empty library folder (manifest only)."""
    from .library import Manifest

    root = Path(root)
    if (root / "manifest.json").exists():
        raise UserError(f"{root} already holds a CAD library (manifest.json); pass another folder")
    if root.exists() and not root.is_dir():
        raise UserError(f"{root} is a file, not a folder")
    if root.is_dir() and any(root.iterdir()):
        raise UserError(f"{root} is not empty; `cad init` makes a new library in an empty or new folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        write_text_atomic(root / "manifest.json", json.dumps(Manifest().model_dump(mode="json"), indent=1) + "\n")
    except OSError as exc:
        raise UserError(f"cannot create {root}: {exc.strerror or exc}") from None
    return root
