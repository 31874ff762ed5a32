"""Import a BOP scene (real photographs with GT poses) as a dst3d dataset: one record per GT instance.

Input (https://github.com/thodan/bop_toolkit/blob/master/docs/bop_datasets_format.md)::

    SCENE_DIR/scene_gt.json       {im_id: [{cam_R_m2c (row-major), cam_t_m2c (mm), obj_id}, ...]}
    SCENE_DIR/scene_camera.json   {im_id: {cam_K, ...}}   or camera.json (fx, fy, cx, cy, width, height)
                                  in SCENE_DIR, its parent or the dataset root
    SCENE_DIR/rgb/000003.png      the images (.png or .jpg)
    MODELS_DIR/obj_000001.ply     the models (mm), to check the library's copies align with them

Conversions, each at one place below:

* **K**: BOP puts pixel centres at integers, dst3d pixel edges: ``K = from_pixel_centres(cam_K)``
  (cx, cy + 0.5).
* **R**: BOP GT rotations are orthonormal only to ~1e-2 (LM-O); they are projected to the
  nearest rotation (SVD) first, and refused when further than ``MAX_ROTATION_DEFECT`` from one.
* **model frame and units**: ``dst3d cad import`` maps a source vertex ``x`` to
  ``R_can (x - c) * s`` (``R_can`` from the model's ``front``/``up``, ``c`` and ``s`` its
  ``normalization``: the bounding-box centre in mm and 1 / longest side in mm). So the BOP pose
  ``x_cam_mm = R_bop x + t_bop`` is, in the library model's frame and units,
  ``R = R_bop R_can^T``, ``t = s (R_bop c + t_bop)``. Models without a normalization use
  ``1 unit = 1000 size_m mm`` (what the BOP export writes) and no shift.
* **labels**: ``R``, ``t`` are the egocentric pose (object -> this camera: re-rendering the
  record draws the object where the photo shows it, and the BOP export round-trips them).
  ``azimuth``, ``elevation``, ``theta``, ``distance`` are the **allocentric** viewpoint: the
  camera turned (about its centre) so that the ray through the object's origin becomes the
  optical axis, ``R_allo = R_ray R``, ``distance = |t|``. That is the pose a crop around the
  object shows and what a crop-based estimator should predict; ``viewpoint_to_rotation`` of
  the angles is ``R_allo``. For generated data (the camera looks at the origin) both are the same.
  ``render.label`` in each record says so.
* **visibility**: every annotated object of the frame is rendered at its GT pose (dst3d's
  renderer, depth in mm); an object's pixel is visible where it is the nearest of them.
  ``visible_fraction`` = visible pixels / its full silhouette (beyond the image border too, as
  BOP's ``visib_fract``), ``bbox`` = the box of the visible mask ([x0, y0, x1, y1], pixel
  edges; the silhouette's box, clipped to the image, when nothing of it is visible). Only
  annotated objects occlude: unannotated clutter in the photo does not count.

The frame filter (``frames``) is applied to the image ids before any image is read, and
the output is written all-or-nothing (a staged folder renamed at the end).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..cad.importer import canonical_rotation, parse_axis
from ..cad.library import CadLibrary, CadModel
from ..control.visual_prompt import ControlConfig, make_controls
from ..errors import UserError
from ..pose.viewpoint import from_pixel_centres, rotation_to_viewpoint
from ..progress import Progress
from ..render.annotations import bbox_from_mask, full_silhouette
from ..render.scene import ZFAR, ZNEAR, SceneCache
from ..store.record import Record
from ..store.schema import SCHEMA_VERSION, encode_png
from ..store.shards import write_shard

MAX_ROTATION_DEFECT = 0.05  # ||R R^T - I||_max beyond which a GT rotation is refused, not projected
ALIGN_TOLERANCE = 2e-3  # object units (longest side 1): library mesh box vs the BOP model's, mapped
SHARD_SIZE = 64
DEPTH_TIE_MM = 1e-3  # two objects' surfaces closer than this count as the same depth (both visible)
JOB_FILE = "dst3d_job.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


# --- arguments ------------------------------------------------------------------------------
def parse_frames(text: str | None) -> list[tuple[int, int]] | None:
    """'0-611' / '3,8,17' / '0-100,200-300' -> inclusive id ranges; None/'' = every frame."""
    if text is None or not str(text).strip():
        return None
    ranges = []
    for item in str(text).split(","):
        match = _RANGE.match(item)
        if not match:
            raise UserError(f"bad --frames '{text}': use image ids and inclusive ranges, e.g. 0-611 or 3,8,17 or 0-100,200-300")
        lo = int(match[1])
        hi = int(match[2]) if match[2] is not None else lo
        if hi < lo:
            raise UserError(f"bad --frames range '{item.strip()}': the end is before the start")
        ranges.append((lo, hi))
    return ranges


def in_frames(im_id: int, frames: list[tuple[int, int]] | None) -> bool:
    return frames is None or any(lo <= im_id <= hi for lo, hi in frames)


def parse_objects(text: str | None) -> dict[int, str | None] | None:
    """'1,5,6' (obj ids, CAD model found in the library) or '1=lmo_ape,5=lmo_can' -> {obj_id: cad_id or None}."""
    if text is None or not str(text).strip():
        return None
    out: dict[int, str | None] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        key, _, cad = item.partition("=")
        if not key.strip().isdigit() or (_ and not cad.strip()):
            raise UserError(f"bad --objects item '{item}': use BOP obj ids, optionally with their CAD model, e.g. 1,5 or 1=lmo_ape,5=lmo_can")
        out[int(key)] = cad.strip() or None
    if not out:
        raise UserError("--objects is empty; give BOP obj ids, e.g. 1,5,6")
    return out


# --- reading the scene ----------------------------------------------------------------------
def _read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{what} {path} not found; is this a BOP scene folder (scene_gt.json, rgb/)?") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{what} {path} cannot be read as JSON ({type(exc).__name__}); restore the file") from None


def _cameras(scene: Path, frame_ids: list[int]) -> tuple[dict[int, np.ndarray], tuple[int, int] | None]:
    """BOP cam_K per image (pixel-centre convention) and the image size camera.json gives (if any)."""
    size = None
    shared = None
    for folder in (scene, scene.parent, scene.parent.parent):
        if (folder / "camera.json").is_file():
            cam = _read_json(folder / "camera.json", "camera file")
            try:
                shared = np.array([[cam["fx"], 0.0, cam["cx"]], [0.0, cam["fy"], cam["cy"]], [0.0, 0.0, 1.0]], np.float64)
                if "width" in cam and "height" in cam:
                    size = (int(cam["width"]), int(cam["height"]))
            except (KeyError, TypeError, ValueError):
                raise UserError(f"camera file {folder / 'camera.json'} lacks fx, fy, cx, cy; it is not a BOP camera.json") from None
            break
    per_image: dict[int, np.ndarray] = {}
    if (scene / "scene_camera.json").is_file():
        data = _read_json(scene / "scene_camera.json", "camera file")
        for key, value in data.items():
            try:
                per_image[int(key)] = np.asarray(value["cam_K"], np.float64).reshape(3, 3)
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{scene / 'scene_camera.json'}: image {key} has no 3x3 cam_K") from None
    out = {}
    for im_id in frame_ids:
        K = per_image.get(im_id, shared)
        if K is None:
            raise UserError(f"no camera for image {im_id}: {scene} has neither scene_camera.json with it nor a camera.json")
        if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise UserError(f"image {im_id}: cam_K {K.reshape(-1).tolist()} is not a camera (focal lengths must be positive and finite)")
        out[im_id] = K
    return out, size


def _image_path(scene: Path, im_id: int) -> Path:
    for sub in ("rgb", "gray"):
        for suffix in IMAGE_SUFFIXES:
            path = scene / sub / f"{im_id:06d}{suffix}"
            if path.is_file():
                return path
    raise UserError(f"image {im_id} of {scene} not found (expected rgb/{im_id:06d}.png or .jpg)")


def nearest_rotation(R, what: str) -> np.ndarray:
    """The rotation nearest to ``R`` (Frobenius, via SVD); refused when R is far from one."""
    R = np.asarray(R, np.float64).reshape(3, 3)
    if not np.isfinite(R).all():
        raise UserError(f"{what}: cam_R_m2c has non-finite entries")
    defect = float(np.abs(R @ R.T - np.eye(3)).max())
    if defect > MAX_ROTATION_DEFECT or np.linalg.det(R) <= 0:
        raise UserError(f"{what}: cam_R_m2c is not a rotation (|R R^T - I| = {defect:.3g}, det {np.linalg.det(R):.3g}); fix the ground truth")
    U, _, Vt = np.linalg.svd(R)
    return U @ np.diag([1.0, 1.0, float(np.linalg.det(U @ Vt))]) @ Vt


def allocentric_rotation(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``R_ray R``: the pose seen by the camera turned so that the ray through the object's
    origin (``t``) is its optical axis (the smallest such turn, about ``t x z``)."""
    ray = np.asarray(t, np.float64) / np.linalg.norm(t)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(ray, z)
    s, c = float(np.linalg.norm(axis)), float(ray @ z)
    if s < 1e-12:
        return np.asarray(R, np.float64) if c > 0 else np.diag([1.0, -1.0, -1.0]) @ R
    k = axis / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    turn = np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)
    return turn @ np.asarray(R, np.float64)


# --- the library's copies of the BOP models --------------------------------------------------
@dataclass
class ObjectFrame:
    """How a BOP model's frame and mm map onto its library model."""

    obj_id: int
    cad_id: str
    synset: str
    class_name: str
    R_can: np.ndarray  # source (BOP model) axes -> canonical
    centre_mm: np.ndarray  # c: the source point that became the origin
    scale: float  # s: object units per mm

    def pose(self, R_bop: np.ndarray, t_bop_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R = R_bop @ self.R_can.T
        t = self.scale * (R_bop @ self.centre_mm + np.asarray(t_bop_mm, np.float64))
        return R, t


def _model_frame(obj_id: int, synset: str, class_name: str, model: CadModel) -> ObjectFrame:
    _, front = parse_axis(model.front, "front")
    _, up = parse_axis(model.up, "up")
    norm = model.normalization or {}
    centre = np.asarray(norm.get("centre", [0.0, 0.0, 0.0]), np.float64).reshape(3)
    scale = float(norm["scale"]) if "scale" in norm else 1.0 / (1000.0 * model.size_m)
    return ObjectFrame(obj_id, model.id, synset, class_name, canonical_rotation(front, up), centre, scale)


def _find_model(library: CadLibrary, obj_id: int, cad_id: str | None) -> tuple[str, CadModel]:
    if cad_id:
        return library.model(cad_id)
    stem = f"obj_{obj_id:06d}"
    hits = [(s, m) for s, c in library.manifest.classes.items() for m in c.models
            if m.id == stem or Path(str(m.source)).stem == stem]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UserError(f"no CAD model for BOP object {obj_id} in {library.root} (looked for id or source '{stem}'); "
                        f"import models/{stem}.ply with `dst3d cad import` or map it with --objects {obj_id}=CAD_ID")
    raise UserError(f"BOP object {obj_id} matches several CAD models ({', '.join(m.id for _, m in hits)}); map it with --objects {obj_id}=CAD_ID")


def check_alignment(library: CadLibrary, frame: ObjectFrame, models_dir: Path) -> None:
    """The library mesh must be the BOP model through the frame's transform (bounding boxes agree)."""
    import trimesh

    path = Path(models_dir) / f"obj_{frame.obj_id:06d}.ply"
    if not path.is_file():
        raise UserError(f"BOP model {path} not found; pass the scene's models folder with --models")
    try:
        source = trimesh.load(path, force="mesh", process=False)
        vertices = np.asarray(source.vertices, np.float64)
    except Exception as exc:  # noqa: BLE001 - loaders raise many types
        raise UserError(f"BOP model {path} cannot be read ({type(exc).__name__}); restore it") from None
    mapped = (vertices - frame.centre_mm) @ frame.R_can.T * frame.scale
    _, model = library.model(frame.cad_id)
    mesh = np.vstack([np.asarray(p.vertices) for p in library.load_parts(model)])
    gap = float(np.abs(np.concatenate([mapped.min(0) - mesh.min(0), mapped.max(0) - mesh.max(0)])).max())
    if not np.isfinite(gap) or gap > ALIGN_TOLERANCE:
        raise UserError(f"CAD model '{frame.cad_id}' does not align with BOP model {path.name} (bounding boxes differ by {gap:.3g} units); "
                        f"re-import it with `dst3d cad import {path.name} --front -y --up +z` (the front/up and normalization in the manifest must describe that file)")


# --- the import ---------------------------------------------------------------------------------
@dataclass
class ImportSummary:
    out: Path
    records: int
    frames: int
    objects: dict[int, str]
    skipped_frames: int  # frames of the scene outside the frame filter (never read)


def import_bop(scene: Path, out: Path, cad_library: str | os.PathLike | None = None, models: Path | None = None,
               frames: list[tuple[int, int]] | str | None = None, objects: dict[int, str | None] | str | None = None,
               progress: bool = False) -> ImportSummary:
    """Write the GT instances of a BOP scene's (allowed) frames as a dst3d dataset in ``out``."""
    scene, out = Path(scene), Path(out)
    if isinstance(frames, str):
        frames = parse_frames(frames)
    if isinstance(objects, str):
        objects = parse_objects(objects)
    # --- everything checked before anything is written ---------------------------------------
    if not scene.is_dir():
        raise UserError(f"BOP scene folder {scene} does not exist")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"output {out} already exists and is not empty; choose a new --out or remove it")
    if not out.parent.is_dir():
        raise UserError(f"parent folder {out.parent} of --out does not exist; create it first")
    if models is not None and not Path(models).is_dir():
        raise UserError(f"models folder {models} does not exist; pass the BOP models folder (obj_000001.ply, ...)")
    gt = _read_json(scene / "scene_gt.json", "ground truth")
    if not isinstance(gt, dict):
        raise UserError(f"{scene / 'scene_gt.json'} is not a BOP scene_gt (an object of image ids)")
    try:
        all_ids = sorted(int(k) for k in gt)
    except ValueError:
        raise UserError(f"{scene / 'scene_gt.json'} has a key that is not an image id") from None
    frame_ids = [i for i in all_ids if in_frames(i, frames)]  # the filter: nothing outside it is read below
    if not frame_ids:
        raise UserError(f"no frame of {scene} is in --frames {_frames_text(frames)} (its ids run {all_ids[0] if all_ids else '-'}..{all_ids[-1] if all_ids else '-'})")
    instances: dict[int, list[dict]] = {}
    for im_id in frame_ids:
        entries = gt[str(im_id)] if str(im_id) in gt else gt[next(k for k in gt if int(k) == im_id)]
        if not isinstance(entries, list):
            raise UserError(f"scene_gt.json image {im_id}: expected a list of instances")
        for k, e in enumerate(entries):
            if not isinstance(e, dict) or not {"cam_R_m2c", "cam_t_m2c", "obj_id"} <= set(e):
                raise UserError(f"scene_gt.json image {im_id} instance {k} lacks cam_R_m2c, cam_t_m2c or obj_id")
        instances[im_id] = entries
    cameras, size = _cameras(scene, frame_ids)
    library = CadLibrary(cad_library)
    present = sorted({int(e["obj_id"]) for es in instances.values() for e in es})
    mapping = dict(objects or {})
    wanted = set(mapping) if objects else set(present)
    absent = sorted(wanted - set(present))
    if absent:
        raise UserError(f"--objects names obj id{'s' if len(absent) > 1 else ''} {', '.join(map(str, absent))}, not in the chosen frames (they have {', '.join(map(str, present))})")
    frames_of: dict[int, ObjectFrame] = {}
    for obj_id in present:
        try:
            synset, model = _find_model(library, obj_id, mapping.get(obj_id))
        except UserError:
            if obj_id in wanted:
                raise
            continue  # an object not asked for and not in the library: it cannot occlude (said in the summary)
        frames_of[obj_id] = _model_frame(obj_id, synset, library.manifest.classes[synset].name, model)
    if models is not None:
        for frame in frames_of.values():
            check_alignment(library, frame, Path(models))
    # poses, validated up front (one bad rotation fails before any output exists)
    poses: dict[int, list[tuple[int, np.ndarray, np.ndarray] | None]] = {}
    for im_id, entries in instances.items():
        row = []
        for k, e in enumerate(entries):
            obj_id = int(e["obj_id"])
            R_bop = nearest_rotation(e["cam_R_m2c"], f"image {im_id} instance {k} (obj {obj_id})")
            t_bop = np.asarray(e["cam_t_m2c"], np.float64).reshape(-1)
            if t_bop.shape != (3,) or not np.isfinite(t_bop).all() or t_bop[2] <= 0:
                raise UserError(f"image {im_id} instance {k} (obj {obj_id}): cam_t_m2c {e['cam_t_m2c']} is not a point in front of the camera (mm)")
            if obj_id not in frames_of:
                row.append(None)
                continue
            R, t = frames_of[obj_id].pose(R_bop, t_bop)
            row.append((obj_id, R, t))
        poses[im_id] = row
    n_records = sum(1 for row in poses.values() for p in row if p is not None and p[0] in wanted)
    if n_records == 0:
        raise UserError("no instance of the chosen objects in the chosen frames")
    images = {im_id: _image_path(scene, im_id) for im_id in frame_ids}  # only allowed frames' files are looked at
    n_shards = max(1, -(-n_records // SHARD_SIZE))

    # --- write, staged -------------------------------------------------------------------------
    tmp = out.parent / f".{out.name}.dst3d-import-{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    control = ControlConfig()
    caches: dict[tuple[int, int], SceneCache] = {}
    try:
        rows, shard, index = [], 0, 0
        with Progress(progress, transient=True) as bars:
            advance = bars.task("importing BOP frames", len(frame_ids), unit="frame")
            for im_id in frame_ids:
                png = images[im_id].read_bytes()
                image_cell, (w, h) = _image_cell(png, images[im_id])
                if size is not None and (w, h) != size and not (scene / "scene_camera.json").is_file():
                    raise UserError(f"image {images[im_id].name} is {w}x{h}, camera.json says {size[0]}x{size[1]}")
                K = from_pixel_centres(cameras[im_id])
                scenes = caches.setdefault((w, h), SceneCache(library, w, h, capacity=16))
                for record in _frame_records(scenes, library, frames_of, scene, im_id, poses[im_id], K, w, h, image_cell, control, wanted):
                    record.index = index
                    rows.append(record.to_row())
                    index += 1
                    if len(rows) == SHARD_SIZE:
                        write_shard(tmp, shard, n_shards, rows)
                        rows, shard = [], shard + 1
                advance()
        if rows:
            write_shard(tmp, shard, n_shards, rows)
        _write_json(tmp / JOB_FILE, {
            "job": {"cad_library": str(library.root), "shard_size": SHARD_SIZE},
            "samples": n_records,
            "source": {"format": "bop", "importer": "dst3d import-bop", "dst3d": __version__, "scene": scene.name,
                       "frames": _frames_text(frames), "frame_ids": frame_ids, "objects": {str(k): v.cad_id for k, v in frames_of.items()}},
        })
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        for cache in caches.values():
            cache.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return ImportSummary(out, n_records, len(frame_ids), {k: v.cad_id for k, v in frames_of.items()}, len(all_ids) - len(frame_ids))


def _frames_text(frames) -> str:
    if frames is None:
        return "all"
    return ",".join(f"{lo}-{hi}" if hi != lo else str(lo) for lo, hi in frames)


def _write_json(path: Path, data) -> None:
    from ..files import write_json_atomic

    write_json_atomic(path, data)


def _image_cell(data: bytes, path: Path) -> tuple[dict, tuple[int, int]]:
    """The image as a PNG Image cell (PNG bytes kept as they are) and its (width, height)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"image {path} cannot be decoded; restore it")
    h, w = image.shape[:2]
    if data.startswith(b"\x89PNG\r\n\x1a\n") and cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape == image.shape:
        return {"bytes": data, "path": None}, (w, h)
    return encode_png(image[..., ::-1]), (w, h)


def _frame_records(scenes: SceneCache, library: CadLibrary, frames_of: dict[int, ObjectFrame], scene: Path, im_id: int,
                   poses: list, K: np.ndarray, w: int, h: int, image_cell: dict, control: ControlConfig, wanted: set[int]):
    """The records of one frame: every mappable instance rendered, z-tested against the others."""
    renders = []
    for pose in poses:
        if pose is None:
            renders.append(None)
            continue
        obj_id, R, t = pose
        frame = frames_of[obj_id]
        renderer, _, vertices = scenes.get(frame.cad_id)
        result = renderer.render(R, t, K)
        depth_mm = np.where(result.mask, result.depth.astype(np.float64) / frame.scale, np.inf)
        renders.append((result, vertices, depth_mm, renderer))
    stack = [r[2] for r in renders if r is not None]
    nearest = np.min(np.stack(stack), axis=0) if stack else None
    for k, (pose, rendered) in enumerate(zip(poses, renders)):
        if pose is None or pose[0] not in wanted:
            continue
        obj_id, R, t = pose
        frame = frames_of[obj_id]
        result, vertices, depth_mm, renderer = rendered
        visible = result.mask & (depth_mm <= nearest + DEPTH_TIE_MM)
        silhouette = full_silhouette(result, lambda K_tile, R=R, t=t, renderer=renderer: renderer.render(R, t, K_tile), vertices)
        fraction = float(visible.sum()) / silhouette.pixels if silhouette.pixels else 0.0
        if visible.any():
            bbox = bbox_from_mask(visible)
        elif silhouette.bbox is not None:
            x0, y0, x1, y1 = silhouette.bbox
            bbox = [float(np.clip(x0, 0, w)), float(np.clip(y0, 0, h)), float(np.clip(x1, 0, w)), float(np.clip(y1, 0, h))]
        else:
            bbox = [0.0, 0.0, 0.0, 0.0]
        vp = rotation_to_viewpoint(allocentric_rotation(R, t), float(np.linalg.norm(t)))
        controls = make_controls(result, control)
        names, points = library.keypoints(library.model(frame.cad_id)[1])
        from ..render.annotations import project_keypoints

        yield Record(
            id=f"bop-{scene.name}-{im_id:06d}-{k:03d}",
            index=0,
            image=image_cell,
            control=encode_png(controls[control.kinds[0]]),
            control_type=control.kinds[0],
            synset=frame.synset,
            class_name=frame.class_name,
            cad_id=frame.cad_id,
            **vp.as_dict(),
            R=R, t=t, K=K, width=w, height=h,
            bbox=bbox,
            visible_fraction=fraction,
            keypoints=project_keypoints(result, names, points),
            prompt="", negative_prompt="", seed=0,
            backend="bop",
            generation={"backend": "bop", "source": "real photograph", "scene": scene.name},
            render={
                "schema": SCHEMA_VERSION, "dst3d": __version__, "znear": ZNEAR, "zfar": ZFAR,
                "control": control.model_dump(), "mesh_sha256": scenes.mesh_digest(frame.cad_id),
                "label": "R, t: egocentric (object -> this camera); azimuth, elevation, theta, distance: allocentric "
                         "(the camera turned so the ray through the object's origin is the optical axis)",
                "bop": {"scene": scene.name, "im_id": im_id, "gt_index": k, "obj_id": obj_id,
                        "px_count_all": int(silhouette.pixels), "px_count_visib": int(visible.sum()),
                        "px_count_in_image": int(result.mask.sum()),
                        "bbox_obj": list(silhouette.bbox) if silhouette.bbox is not None else None},
            },
        )
