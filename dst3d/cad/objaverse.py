"""`dst3d cad fetch objaverse`: Objaverse objects of LVIS categories, mapped to ImageNet classes.

Classes: Objaverse's LVIS annotations (``objaverse.load_lvis_annotations()``: LVIS category name -> uids)
name LVIS categories; ``prompts/lvis_imagenet.json`` (computed by ``scripts/lvis_imagenet_map.py``
from LVIS's WordNet synsets and WordNet 3.0) relates each to ImageNet synsets: ``exact``, ``narrower``
(the LVIS category is a kind of the ImageNet class) or ``broader`` (used only with ``broader=True``:
an LVIS "airplane" need not be an airliner; such models are tagged ``lvis_relation=broader``).

Licences come from ``objaverse.load_annotations`` and can be filtered (``by``, ``by-sa``, ``cc0``, ...).

Orientation: a rotations file (JSON ``{uid: [[r00, r01, r02], [r10, ...], [...]]}``, the rotation that
takes the GLB's own coordinates to dst3d's canonical frame, +Z up, front -Y) when given; else an
ESTIMATE: glTF's convention (+Y up, front +Z), then the up axis replaced by the axis-aligned direction
whose lowest plane carries the largest downward-facing area (the flat face the object stands on) when
that area clearly beats glTF's. The front stays glTF's +Z (turned with the up change). Estimated
models carry the tag ``needs_review: [orientation_estimated]`` (and ``orientation=estimated`` in their
source): review them (``dst3d cad review`` lists them) and fix them with ``dst3d cad orient``, which
clears the flag. Objects of a broader LVIS category are tagged ``strength: approximate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..files import read_json_object
from ..shipped import shipped
from .release import Job, objaverse_license, objaverse_module, run_jobs

MAPPING = "lvis_imagenet.json"
GLTF_TO_CANONICAL = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # +Y up -> +Z, +Z front -> -Y


def load_mapping(path: Path | None = None) -> list[dict]:
    path = Path(path) if path else shipped("prompts") / MAPPING
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the LVIS -> ImageNet mapping {path}: {exc}; run scripts/lvis_imagenet_map.py") from None
    return [dict(zip(data["columns"], row)) for row in data["entries"]]


def lvis_categories_for(synset: str, mapping: list[dict], broader: bool) -> list[dict]:
    return [e for e in mapping if e["imagenet"] == synset and (broader or e["relation"] != "broader")]


def read_rotations(path: Path) -> dict[str, np.ndarray]:
    data = read_json_object(path, "rotations", "{uid: 3x3 rotation}")
    out = {}
    for uid, value in data.items():
        try:
            R = np.asarray(value, float).reshape(3, 3)
        except (TypeError, ValueError):
            raise UserError(f"rotations file {path}: '{uid}' is not a 3x3 matrix") from None
        if not (np.allclose(R @ R.T, np.eye(3), atol=1e-4) and np.linalg.det(R) > 0):
            raise UserError(f"rotations file {path}: '{uid}' is not a rotation (orthonormal, det +1)")
        out[uid] = R
    return out


def estimate_rotation(path: Path) -> np.ndarray:
    """Upright-and-front ESTIMATE for a GLB (see the module doc); file coordinates -> canonical."""
    import trimesh

    scene = trimesh.load(path, force="scene", process=False)
    mesh = scene.to_geometry() if hasattr(scene, "to_geometry") else scene.dump(concatenate=True)
    verts, faces = np.asarray(mesh.vertices, float), np.asarray(mesh.faces)
    if not len(faces):
        return GLTF_TO_CANONICAL
    tri = verts[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1) / 2
    normal = cross / np.maximum(2 * area[:, None], 1e-30)
    extent = float(np.ptp(verts, axis=0).max()) or 1.0
    support = {}
    for axis in range(3):
        for sign in (1.0, -1.0):
            up = np.zeros(3)
            up[axis] = sign
            height = verts @ up
            low = height.min()
            near = (tri @ up).max(1) <= low + 0.01 * extent
            support[(axis, sign)] = float(area[near & (normal @ up < -0.9)].sum())
    best = max(support, key=support.get)
    if support[best] <= 1.5 * support[(1, 1.0)]:
        return GLTF_TO_CANONICAL
    up = np.zeros(3)
    up[best[0]] = best[1]
    # the rotation taking +Y to `up` the short way, applied before glTF's convention
    from .importer import canonical_rotation

    front = np.array([0.0, 0.0, 1.0]) if best[0] != 2 else np.array([0.0, -best[1], 0.0])
    return canonical_rotation(front, up)


def objaverse_tags(relation: str, orientation: str) -> dict:
    """ModelTags of a fetched object: a broader LVIS category only approximates the class; an
    estimated orientation is flagged for `dst3d cad review` (`dst3d cad orient` clears it)."""
    tags: dict = {"strength": "approximate" if relation == "broader" else "good"}
    if orientation == "estimated":
        tags["needs_review"] = ["orientation_estimated"]
    return tags


def fetch_objaverse(library, classes: list[str], per_class: int, licenses: list[str] | None = None,
                    rotations: Path | None = None, broader: bool = False, workers: int = 1, progress: bool = False,
                    mapping_path: Path | None = None) -> dict:
    """Import up to ``per_class`` Objaverse objects for each class; returns a summary."""
    from ..imagenet import imagenet_class
    from .library import resolve_classes

    if per_class < 1:
        raise UserError("--per-class must be at least 1")
    objaverse = objaverse_module()
    mapping = load_mapping(mapping_path)
    wanted = resolve_classes(classes, library, need_model=False)
    rot = read_rotations(rotations) if rotations else {}
    allowed = {x.strip().lower() for x in licenses or [] if x.strip()}
    try:
        lvis = objaverse.load_lvis_annotations()
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot load Objaverse's LVIS annotations ({(str(exc).splitlines() or [type(exc).__name__])[0][:160]}); check the network") from None
    existing = {m.id for c in library.manifest.classes.values() for m in c.models}
    summary: dict = {"imported": [], "skipped": [], "failed": [], "no_match": []}
    picks: list[tuple[str, str, str, dict]] = []
    for synset, name in wanted:
        cats = lvis_categories_for(synset, mapping, broader)
        if not cats:
            summary["no_match"].append(f"{name} ({synset}): no LVIS category maps to it" + ("" if broader else " (try --broader)"))
            continue
        candidates = sorted({(uid, c["lvis"], c["relation"]) for c in cats for uid in lvis.get(c["lvis"], [])})
        if not candidates:
            summary["no_match"].append(f"{name} ({synset}): LVIS {', '.join(c['lvis'] for c in cats)} has no Objaverse objects")
            continue
        notes = objaverse.load_annotations([u for u, _, _ in candidates])
        count = 0
        for uid, cat, rel in candidates:
            if count >= per_class:
                break
            raw = str((notes.get(uid) or {}).get("license") or "").lower()
            if allowed and raw not in allowed:
                continue
            count += 1
            mid = f"objaverse_{uid}"
            if mid in existing:
                summary["skipped"].append(mid)
                continue
            picks.append((synset, name, uid, {"lvis": cat, "relation": rel, "license": objaverse_license(notes.get(uid))}))
    paths = objaverse.load_objects([uid for _, _, uid, _ in picks]) if picks else {}
    jobs = []
    for synset, name, uid, info in picks:
        path = paths.get(uid)
        if path is None:
            summary["failed"].append(f"objaverse_{uid} ({synset}): the objaverse package returned no file")
            continue
        if uid in rot:
            R, how = rot[uid], "file"
        else:
            try:
                R, how = estimate_rotation(Path(path)), "estimated"
            except Exception as exc:  # noqa: BLE001
                summary["failed"].append(f"objaverse_{uid} ({synset}): cannot read {Path(path).name} ({type(exc).__name__})")
                continue
        cls = library.manifest.classes.get(synset)
        known = imagenet_class(synset)
        source = (f"Objaverse {uid} (LVIS {info['lvis']}); lvis_relation={info['relation']}; orientation={how}"
                  + ("; approximate=lvis-broader" if info["relation"] == "broader" else ""))
        jobs.append(Job(synset, cls.name if cls else (known.name if known else name), f"objaverse_{uid}", str(path),
                        np.asarray(R).tolist(), source, info["license"], {}, objaverse_tags(info["relation"], how)))
    done, failed = run_jobs(library, jobs, workers, progress, "fetch objaverse")
    summary["imported"], summary["failed"] = done, summary["failed"] + failed
    return summary
