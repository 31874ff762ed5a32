"""The parametric library build: class specs, instance parameters, normalization, GLB bytes, the manifest.

Why here and not in the families: this is the only module that knows the library layout
(``meshes/<synset>/<id>.glb`` plus ``manifest.json``), so families stay pure geometry and the
build imports them, never the other way. The same code always gives the same bytes, so the
shipped library can be rebuilt and diffed.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import trimesh

from ...errors import UserError
from ...files import write_bytes_atomic
from ..library import MANIFEST, CadClass, CadLibrary, CadModel, Manifest
from .aircraft_boats import BOAT_PRESETS, PLANE_PRESETS, build_aeroplane, build_boat
from .appliances import (CLOCK_PRESETS, FRIDGE_PRESETS, LAMP_PRESETS, LAPTOP_PRESETS, MICROWAVE_PRESETS, SPEAKER_PRESETS, TOASTER_PRESETS,
                         WASHER_PRESETS, build_clock, build_lamp, build_laptop, build_microwave, build_refrigerator, build_speaker, build_toaster,
                         build_washer)
from .cabinets import (BENCH_PRESETS, BOOKCASE_PRESETS, CHEST_PRESETS, DESK_PRESETS, FILE_PRESETS, WARDROBE_PRESETS, build_bench, build_bookcase,
                       build_chest, build_desk, build_file, build_wardrobe)
from .containers import (ASHCAN_PRESETS, BARREL_PRESETS, BOWL_PRESETS, BUCKET_PRESETS, MUG_PRESETS, TEAPOT_PRESETS, VASE_PRESETS, build_ashcan,
                         build_barrel, build_bowl, build_bucket, build_mug, build_teapot, build_vase)
from .furniture import CHAIR_PRESETS, SOFA_PRESETS, TABLE_PRESETS, build_chair, build_sofa, build_table
from .household import BOTTLE_PRESETS, TV_PRESETS, build_bottle, build_tvmonitor
from .instruments import (CELLO_PRESETS, DRUM_PRESETS, EGUITAR_PRESETS, GRAND_PRESETS, GUITAR_PRESETS, UPRIGHT_PRESETS, VIOLIN_PRESETS, build_drum,
                          build_eguitar, build_grandpiano, build_guitar, build_upright, build_violin)
from .primitives import Model
from .tools import (BROOM_PRESETS, HAMMER_PRESETS, HATCHET_PRESETS, PADLOCK_PRESETS, PAN_PRESETS, SCREWDRIVER_PRESETS, SHOVEL_PRESETS, build_broom,
                    build_hammer, build_hatchet, build_padlock, build_pan, build_screwdriver, build_shovel)
from .two_wheelers import BIKE_PRESETS, MOTO_PRESETS, build_bicycle, build_motorbike
from .vehicles import BUS_PRESETS, CAR_PRESETS, TRAIN_PRESETS, build_bus, build_car, build_train
from .work_vehicles import FORKLIFT_PRESETS, PICKUP_PRESETS, TRACTOR_PRESETS, build_forklift, build_pickup, build_tractor

SOURCE = "dst3d parametric generator v1"
LICENSE = "CC0-1.0"
# A normalized coordinate below this is float noise, written as an exact 0. Why: coordinates that
# are 0 by construction come out as +-1e-17 whose digits depend on the CPU (numpy's AVX-512 pow,
# exp, log, arctan2 and OpenBLAS's kernels round differently), so without this the same build
# gives different mesh bytes (and mesh hashes) on different machines. Real geometry is >= 1e-4.
NOISE = 1e-9
# Models per class in the shipped library: each class's five presets, five distinct designs (the PASCAL3D+
# twelve got their fourth and fifth designs later, appended, so their first three models never changed).
# Instances beyond a class's presets (`cad build --instances 7`) are jittered copies (instance_params).
INSTANCES = 5


# --------------------------------------------------------------------------------------
# classes and the library build
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSpec:
    """One library class: its ImageNet synset, names, builder and presets.

    ``prefix`` names the model ids (``<prefix>_NN``); ``pose_defaults`` seed the manifest's
    per-class PoseSampling overrides (kept if the manifest already has them).
    """

    synset: str
    name: str  # ImageNet lemma (first name)
    pascal3d: str | None
    prefix: str
    build: Callable[[dict], Model]
    presets: list[dict]
    pose_defaults: dict


_GROUND = {"elevation_range": {"min": -5.0, "max": 45.0}, "elevation_mean": 12.0, "elevation_std": 12.0}
_INDOOR = {"elevation_range": {"min": 0.0, "max": 60.0}, "elevation_mean": 22.0, "elevation_std": 15.0}
_TABLETOP = {"elevation_range": {"min": 0.0, "max": 70.0}, "elevation_mean": 28.0, "elevation_std": 15.0}
_TOOL = {"elevation_range": {"min": -20.0, "max": 60.0}, "elevation_mean": 15.0, "elevation_std": 18.0}
_FRONT = {"mode": "front_half", "elevation_range": {"min": -10.0, "max": 45.0}, "elevation_mean": 10.0, "elevation_std": 12.0}

CLASSES: list[ClassSpec] = [
    ClassSpec("n02690373", "airliner", "aeroplane", "aeroplane", build_aeroplane, PLANE_PRESETS,
              {"elevation_range": {"min": -30.0, "max": 60.0}, "elevation_mean": 10.0, "elevation_std": 20.0}),
    ClassSpec("n03792782", "mountain bike", "bicycle", "bicycle", build_bicycle, BIKE_PRESETS, _GROUND),
    ClassSpec("n04273569", "speedboat", "boat", "boat", build_boat, BOAT_PRESETS,
              {"elevation_range": {"min": -5.0, "max": 50.0}, "elevation_mean": 15.0, "elevation_std": 12.0}),
    ClassSpec("n04557648", "water bottle", "bottle", "bottle", build_bottle, BOTTLE_PRESETS,
              {"elevation_range": {"min": -10.0, "max": 60.0}, "elevation_mean": 15.0, "elevation_std": 15.0}),
    ClassSpec("n04146614", "school bus", "bus", "bus", build_bus, BUS_PRESETS, _GROUND),
    ClassSpec("n02814533", "beach wagon", "car", "car", build_car, CAR_PRESETS, _GROUND),
    ClassSpec("n03376595", "folding chair", "chair", "chair", build_chair, CHAIR_PRESETS, _INDOOR),
    ClassSpec("n03201208", "dining table", "diningtable", "diningtable", build_table, TABLE_PRESETS, _INDOOR),
    ClassSpec("n03785016", "moped", "motorbike", "motorbike", build_motorbike, MOTO_PRESETS, _GROUND),
    ClassSpec("n04344873", "studio couch", "sofa", "sofa", build_sofa, SOFA_PRESETS, _INDOOR),
    ClassSpec("n03272562", "electric locomotive", "train", "train", build_train, TRAIN_PRESETS,
              {"elevation_range": {"min": -5.0, "max": 40.0}, "elevation_mean": 10.0, "elevation_std": 10.0}),
    ClassSpec("n03782006", "monitor", "tvmonitor", "tvmonitor", build_tvmonitor, TV_PRESETS,
              {"mode": "front_half", "elevation_range": {"min": -10.0, "max": 40.0}, "elevation_mean": 8.0, "elevation_std": 10.0}),
    # ImageNet classes beyond PASCAL3D+ (appended: the models above keep their ids and bytes)
    ClassSpec("n03063599", "coffee mug", None, "mug", build_mug, MUG_PRESETS, _TABLETOP),
    ClassSpec("n04398044", "teapot", None, "teapot", build_teapot, TEAPOT_PRESETS, _TABLETOP),
    ClassSpec("n04263257", "soup bowl", None, "bowl", build_bowl, BOWL_PRESETS, _TABLETOP),
    ClassSpec("n04522168", "vase", None, "vase", build_vase, VASE_PRESETS, _TABLETOP),
    ClassSpec("n02909870", "bucket", None, "bucket", build_bucket, BUCKET_PRESETS, _INDOOR),
    ClassSpec("n02795169", "barrel", None, "barrel", build_barrel, BARREL_PRESETS, _GROUND),
    ClassSpec("n02747177", "ashcan", None, "ashcan", build_ashcan, ASHCAN_PRESETS, _INDOOR),
    ClassSpec("n03761084", "microwave", None, "microwave", build_microwave, MICROWAVE_PRESETS, _FRONT),
    ClassSpec("n04070727", "refrigerator", None, "refrigerator", build_refrigerator, FRIDGE_PRESETS, _FRONT),
    ClassSpec("n04554684", "washer", None, "washer", build_washer, WASHER_PRESETS, _FRONT),
    ClassSpec("n04442312", "toaster", None, "toaster", build_toaster, TOASTER_PRESETS, _TABLETOP),
    ClassSpec("n04380533", "table lamp", None, "lamp", build_lamp, LAMP_PRESETS, _INDOOR),
    ClassSpec("n04548280", "wall clock", None, "clock", build_clock, CLOCK_PRESETS, _FRONT),
    ClassSpec("n03691459", "loudspeaker", None, "speaker", build_speaker, SPEAKER_PRESETS, _FRONT),
    ClassSpec("n03642806", "laptop", None, "laptop", build_laptop, LAPTOP_PRESETS, _TABLETOP),
    ClassSpec("n02870880", "bookcase", None, "bookcase", build_bookcase, BOOKCASE_PRESETS, _FRONT),
    ClassSpec("n04550184", "wardrobe", None, "wardrobe", build_wardrobe, WARDROBE_PRESETS, _FRONT),
    ClassSpec("n03016953", "chiffonier", None, "chiffonier", build_chest, CHEST_PRESETS, _FRONT),
    ClassSpec("n03337140", "file", None, "filecabinet", build_file, FILE_PRESETS, _FRONT),
    ClassSpec("n03179701", "desk", None, "desk", build_desk, DESK_PRESETS, _INDOOR),
    ClassSpec("n03891251", "park bench", None, "bench", build_bench, BENCH_PRESETS, _GROUND),
    ClassSpec("n03481172", "hammer", None, "hammer", build_hammer, HAMMER_PRESETS, _TOOL),
    ClassSpec("n04154565", "screwdriver", None, "screwdriver", build_screwdriver, SCREWDRIVER_PRESETS, _TOOL),
    ClassSpec("n03498962", "hatchet", None, "hatchet", build_hatchet, HATCHET_PRESETS, _TOOL),
    ClassSpec("n04208210", "shovel", None, "shovel", build_shovel, SHOVEL_PRESETS, _TOOL),
    ClassSpec("n02906734", "broom", None, "broom", build_broom, BROOM_PRESETS, _TOOL),
    ClassSpec("n03400231", "frying pan", None, "pan", build_pan, PAN_PRESETS, _TABLETOP),
    ClassSpec("n03874599", "padlock", None, "padlock", build_padlock, PADLOCK_PRESETS, _TOOL),
    ClassSpec("n02676566", "acoustic guitar", None, "guitar", build_guitar, GUITAR_PRESETS, _FRONT),
    ClassSpec("n03272010", "electric guitar", None, "eguitar", build_eguitar, EGUITAR_PRESETS, _FRONT),
    ClassSpec("n04536866", "violin", None, "violin", build_violin, VIOLIN_PRESETS, _FRONT),
    ClassSpec("n02992211", "cello", None, "cello", build_violin, CELLO_PRESETS, _FRONT),
    ClassSpec("n03249569", "drum", None, "drum", build_drum, DRUM_PRESETS, _INDOOR),
    ClassSpec("n03452741", "grand piano", None, "grandpiano", build_grandpiano, GRAND_PRESETS, _INDOOR),
    ClassSpec("n04515003", "upright", None, "upright", build_upright, UPRIGHT_PRESETS, _FRONT),
    ClassSpec("n03930630", "pickup", None, "pickup", build_pickup, PICKUP_PRESETS, _GROUND),
    ClassSpec("n04465501", "tractor", None, "tractor", build_tractor, TRACTOR_PRESETS, _GROUND),
    ClassSpec("n03384352", "forklift", None, "forklift", build_forklift, FORKLIFT_PRESETS, _GROUND),
]


def instance_params(spec: ClassSpec, index: int) -> dict:
    """Preset ``index``; beyond the presets, a preset with its sizes jittered by up to 8%.

    The jitter is seeded by (class, index), so instance k is the same whatever ``instances`` is.
    """
    base = dict(spec.presets[index % len(spec.presets)])
    if index < len(spec.presets):
        return base
    rng = np.random.default_rng([zlib.crc32(spec.prefix.encode()), index])
    for key in sorted(base):
        value = base[key]
        if isinstance(value, float):
            base[key] = float(value * rng.uniform(0.92, 1.08))
    return base


def finish(model: Model) -> tuple[dict[str, trimesh.Trimesh], dict[str, list[float]], dict, float]:
    """Merge each part's pieces, centre on the bbox, scale the longest side to 1, snap keypoints."""
    parts = {name: trimesh.util.concatenate(pieces) for name, pieces in model.parts.items() if pieces}
    verts = np.vstack([p.vertices for p in parts.values()])
    lo, hi = verts.min(0), verts.max(0)
    centre, size = (lo + hi) / 2, float((hi - lo).max())
    scale = 1.0 / size
    out = {}
    for name, mesh in parts.items():
        v = ((mesh.vertices - centre) * scale).astype(np.float32)
        v[np.abs(v) < NOISE] = 0.0  # also turns -0.0 into 0.0
        out[name] = trimesh.Trimesh(v, mesh.faces, process=False)
    kps = {k: _rounded(snap_to_surface((np.asarray(v) - centre) * scale, out.values()), 6) for k, v in sorted(model.keypoints.items())}
    norm = {"centre": _rounded(centre, 6), "scale": round(scale, 9)}
    return out, kps, norm, size


def _rounded(values, digits: int) -> list[float]:
    """Rounded floats with -0.0 written as 0.0 (noise around 0 must not flip a sign in the manifest)."""
    return [round(float(c), digits) + 0.0 for c in values]


def snap_to_surface(point: np.ndarray, parts) -> np.ndarray:
    """Nearest point on the model's triangles: keypoints lie on the surface, so depth tests see them."""
    tris = np.vstack([np.asarray(p.triangles, float) for p in parts])
    cand = trimesh.triangles.closest_point(tris, np.repeat(np.asarray(point, float)[None], len(tris), 0))
    return cand[int(np.argmin(np.linalg.norm(cand - point, axis=1)))]


def glb_bytes(parts: dict[str, trimesh.Trimesh]) -> bytes:
    """One named geometry and node per part; trimesh's GLB writer is byte-stable."""
    scene = trimesh.Scene()
    for name, mesh in parts.items():
        scene.add_geometry(mesh, geom_name=name, node_name=name)
    return scene.export(file_type="glb")


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file + rename (dst3d.files): a killed build never leaves a truncated mesh or manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly these bytes; True if written.

    Why: an unchanged file keeps its inode and mtime, so a rebuild of an unchanged library
    touches nothing (mesh hashes recorded in datasets stay valid, rsync/git see no change).
    """
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass  # unreadable: rewrite it
    write_atomic(path, data)
    return True


@dataclass
class BuildResult:
    """What a build did: the manifest it left, and which files (relative paths) it wrote, kept or removed."""

    manifest: Manifest
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.written)} files written, {len(self.unchanged)} unchanged, {len(self.removed)} removed"


def build_model(spec: ClassSpec, index: int) -> tuple[dict[str, trimesh.Trimesh], CadModel]:
    """Build one instance; returns normalized parts and its manifest entry (mesh path relative)."""
    model = spec.build(instance_params(spec, index))
    parts, kps, norm, size = finish(model)
    model_id = f"{spec.prefix}_{index:02d}"
    entry = CadModel(
        id=model_id, mesh=f"meshes/{spec.synset}/{model_id}.glb", source=SOURCE, license=LICENSE, front="-y", up="+z",
        normalization=norm, size_m=round(size, 4), keypoints=kps, symmetry=model.symmetry,
        faces=int(sum(len(p.faces) for p in parts.values())),
    )
    return parts, entry


def build_library(root: Path, instances: int = INSTANCES) -> BuildResult:
    """Write ``instances`` models per class under ``root`` and (re)write its manifest.

    Models from other sources (imports) already in the manifest are kept, and so are
    classes that only imports created; stale generated meshes (from a build with more
    instances) are removed. A class's ``pose_defaults`` already in the manifest are kept
    too, so hand edits survive a rebuild. The bytes depend only on the code and
    ``instances`` (not on the CPU), and a file that already holds them is not rewritten:
    rebuilding an unchanged library writes nothing.
    """
    try:
        return _build(Path(root), instances)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise UserError(f"cannot write the CAD library {root}{where}: {exc.strerror or exc}; check permissions and free space") from None


def _build(root: Path, instances: int) -> BuildResult:
    if instances < 1:
        raise UserError(f"--instances must be at least 1, got {instances}")
    old = CadLibrary(root).manifest if (root / MANIFEST).is_file() else Manifest()
    generated = {f"{spec.prefix}_{i:02d}" for spec in CLASSES for i in range(instances)}
    for cls in old.classes.values():
        for mdl in cls.models:
            if mdl.source != SOURCE and mdl.id in generated:
                raise UserError(f"imported model '{mdl.id}' has the id of a generated model; re-import it under another --id, or build fewer --instances")
    manifest = Manifest()
    result = BuildResult(manifest)

    def put(relative: str, data: bytes) -> None:
        (result.written if write_if_changed(root / relative, data) else result.unchanged).append(relative)

    for spec in CLASSES:
        previous = old.classes[spec.synset].models if spec.synset in old.classes else []
        models = []
        for index in range(instances):
            parts, entry = build_model(spec, index)
            put(entry.mesh, glb_bytes(parts))
            models.append(entry)
        fresh = {e.mesh for e in models}
        for stale in previous:
            if stale.source == SOURCE and stale.mesh not in fresh and (root / stale.mesh).exists():
                (root / stale.mesh).unlink()
                result.removed.append(stale.mesh)
        kept = [mdl for mdl in previous if mdl.source != SOURCE]
        pose = old.classes[spec.synset].pose_defaults if spec.synset in old.classes else {}
        manifest.classes[spec.synset] = CadClass(name=spec.name, pascal3d=spec.pascal3d, pose_defaults=pose or dict(spec.pose_defaults), models=models + kept)
    for synset, cls in old.classes.items():  # classes created by imports
        manifest.classes.setdefault(synset, cls)
    put(MANIFEST, (json.dumps(manifest.model_dump(mode="json"), indent=1) + "\n").encode())
    return result
