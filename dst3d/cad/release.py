"""Import the 3D-DST model release (``ccvl/3D-DST-models``) into a dst3d CAD library.

The release is a CSV read by column position: synset, model id, distance, azimuth offset (deg),
elevation offset (deg), strength (1 good, 2 only approximates the class), sampling strategy (1-5).
Ids resolve to ShapeNet ``<shapenet synset>/<id>/models/model_normalized.obj``, Objaverse ``<uid>.glb``
(a local folder, or the ``objaverse`` package's cache), OmniObject3D ``omniobject3d_<name>`` ->
``raw/raw_scans/<category>/<name>/Scan/Scan.obj``; ``toys4k_`` ids are Blender files (unsupported).

The official alignment, converted (``release_rotation``)
-------------------------------------------------------
The official renderer (Blender) imports OBJ and glTF with its default axis conversion, which turns a
Y-up file Z-up: ``b = B f`` with ``B = Rx(+90 deg)``, i.e. (x, y, z) -> (x, -z, y). It normalizes the
bounding box (longest side 1, centred) and puts the camera at ``d (sin p cos a, sin p sin a, cos p)``,
``a = a_s + azimuth_offset``, ``p = p_s - elevation_offset``, looking at the origin with roll 0 (Blender
TRACK_TO, -Z forward, +Y up), and stores ``azimuth = a``, ``elevation = pi/2 - p`` (offsets included).
Its front view is sampled azimuth ``a_s = -90 deg`` (strategies 2 and 4 centre their range
[-195, 15] there) at sampled polar ``p_s = 90 deg``.

With ``G = Rx(elevation_offset) Rz(-azimuth_offset)`` the canonical model is ``G B f`` (renormalized).
Then (all verified in tests/test_cad_release.py by projecting vertices with an independent
transcription of the official camera):

* The official camera direction in the canonical frame is ``G dir(a, p)``; with no elevation offset
  that is ``dir(a_s, p_s)``, and PASCAL3D+ (dst3d) writes the same direction as azimuth ``a_s + 90 deg``,
  elevation ``90 deg - p_s`` (``cos e sin(a_s + 90) = sin p cos a_s``, ``-cos e cos(a_s + 90) = sin p sin a_s``):
  the 90 degree azimuth difference. The front view (a_s = -90, p_s = 90) is dst3d's (0, 0, 0).
* :func:`official_to_viewpoint` turns any official record (its label and the model's offsets) into the
  dst3d viewpoint that renders the same image: exact for every offset, theta included.
* An elevation offset is not a rotation of the object in the official renderer: it moves each camera
  along its own meridian, so the official view at sampled (a_s, p_s) equals a rigid view only on the
  front meridian (a_s = -90). ``G`` is the rotation exact there (the official "front" view and the
  top/bottom it tilts toward); elsewhere the official labels of such a model mean a different view of it
  than they do for an offset-free model. Rows with a non-zero elevation offset are rare; they are
  tagged ``needs_review: [elevation_offset]`` (and ``el_offset=...`` in their source) so they can be
  reviewed (``dst3d cad review``). Strength and sampling strategy become the model's typed tags too
  (``strength: good|approximate``, ``sampling_strategy``; :func:`release_tags`).
* For offsets that are not multiples of 90 degrees the library's own normalization (bounding box in the
  canonical frame) differs from the official one (bounding box before the rotation): the official
  look-at point sits at ``release_centre`` (canonical units) and official distances scale by
  ``release_distance_scale``; both are stored in the model's ``normalization`` record.

Pose defaults from the release (``release_pose_defaults``)
---------------------------------------------------------
Official sampled azimuth ``a_s`` -> dst3d azimuth ``a_s + 90``: strategies 2/4 ([-195, 15]) become
``azimuth_range`` [-105, 105]. Polar ``p_s`` -> elevation ``90 - p_s``: truncnorm(90, 30) on [0, 180]
-> truncnorm(0, 30) on [-90, 90]; truncnorm(60, 20) on [0, 195] -> truncnorm(30, 20) on [-105, 90],
cut at -90 (the official range past the pole holds < 1e-8 of the mass); uniform polar -> uniform
elevation on [-90, 90]. Roll is 0 in the release: ``theta_range`` [0, 0]. Distance: the official
truncnorm(d, 0.5) on [d - 0.5, d + 1.5] has mean d + 0.141 and std 0.392; dst3d draws distance
uniformly, so the range is the uniform with that mean and std ([d - 0.539, d + 0.821]), scaled by
``FOV_SCALE`` so the object fills the frame as much at dst3d's default 30 degree field of view as at
the official camera's 49.1 degrees (35 mm lens, 32 mm sensor). A class takes the most common strategy
and the median distance of its release rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

HUB_DATASET = "ccvl/3D-DST-models"
COLUMNS = ("synset", "model id", "distance", "azimuth offset", "elevation offset", "strength", "sampling strategy")
OFFICIAL_FOV_DEG = math.degrees(2 * math.atan(16.0 / 35.0))  # 35 mm lens, 32 mm sensor
DST3D_FOV_DEG = 30.0  # dst3d's default job field of view (pipeline.job.JobConfig.fov_deg)
FOV_SCALE = math.tan(math.radians(OFFICIAL_FOV_DEG) / 2) / math.tan(math.radians(DST3D_FOV_DEG) / 2)
BLENDER_IMPORT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # Rx(+90): Y-up file -> Z-up
SHAPENET_LICENSE = "ShapeNet terms of use (non-commercial research and education)"
OMNI_LICENSE = "OmniObject3D terms of use (see its website)"
OBJAVERSE_LICENSES = {
    "by": "CC-BY-4.0", "by-sa": "CC-BY-SA-4.0", "by-nd": "CC-BY-ND-4.0", "by-nc": "CC-BY-NC-4.0",
    "by-nc-sa": "CC-BY-NC-SA-4.0", "by-nc-nd": "CC-BY-NC-ND-4.0", "cc0": "CC0-1.0",
}
_SYNSET = re.compile(r"^n\d{8}$")


def rot_x(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _clean(m: np.ndarray) -> np.ndarray:
    """Exact zeros and ones where a rotation by multiples of 90 degrees has them."""
    r = np.asarray(m, float).copy()
    near = np.abs(r - np.round(r)) < 1e-12
    r[near] = np.round(r[near])
    return r


def alignment(azimuth_offset: float, elevation_offset: float) -> np.ndarray:
    """G: official (Blender) frame -> dst3d canonical frame."""
    return _clean(rot_x(elevation_offset) @ rot_z(-azimuth_offset))


def release_rotation(azimuth_offset: float, elevation_offset: float) -> np.ndarray:
    """Rotation of a release mesh file's coordinates into dst3d's canonical frame (``G B``)."""
    return _clean(alignment(azimuth_offset, elevation_offset) @ BLENDER_IMPORT)


def official_camera_world(azimuth: float, polar: float) -> np.ndarray:
    """World-to-camera rotation (OpenCV axes) of the official camera in the Blender frame (radians)."""
    centre = np.array([math.sin(polar) * math.cos(azimuth), math.sin(polar) * math.sin(azimuth), math.cos(polar)])
    forward = -centre / np.linalg.norm(centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right = right / np.linalg.norm(right) if np.linalg.norm(right) > 1e-12 else np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def official_to_viewpoint(azimuth: float, elevation: float, distance: float, azimuth_offset: float, elevation_offset: float,
                          release_centre=(0.0, 0.0, 0.0), release_distance_scale: float = 1.0):
    """The dst3d viewpoint (and look-at point) of an official record.

    ``azimuth``/``elevation`` (radians) are the official label (``theta`` and ``pi/2 - phi`` of its
    annotation, offsets included), ``distance`` the official camera distance; offsets in degrees as in
    the CSV. Returns (Viewpoint, look_at): the dst3d camera of that viewpoint, moved so it looks at
    ``look_at`` (zero unless the offsets are not multiples of 90 degrees), renders the official image.
    """
    from ..pose.viewpoint import rotation_to_viewpoint

    R_world = official_camera_world(azimuth, math.pi / 2 - elevation)
    R = R_world @ alignment(azimuth_offset, elevation_offset).T
    vp = rotation_to_viewpoint(R, distance * release_distance_scale)
    return vp, np.asarray(release_centre, float)


def release_pose_defaults(strategy: int, distance: float) -> dict:
    """PoseSampling overrides for a release strategy and distance (see the module doc)."""
    if strategy not in (1, 2, 3, 4, 5):
        raise UserError(f"unknown sampling strategy {strategy}: the release uses 1-5")
    out: dict = {"mode": "uniform", "theta_range": {"min": 0.0, "max": 0.0}, "elevation_range": {"min": -90.0, "max": 90.0}}
    if strategy in (2, 4):
        out["azimuth_range"] = {"min": -195.0 + 90.0, "max": 15.0 + 90.0}
    if strategy in (1, 2):
        out.update(elevation="truncnorm", elevation_mean=0.0, elevation_std=30.0)
    elif strategy in (3, 4):
        out.update(elevation="truncnorm", elevation_mean=30.0, elevation_std=20.0)
    else:
        out.update(elevation="uniform")
    mean, std = _truncnorm_moments(distance, 0.5, distance - 0.5, distance + 1.5)
    half = std * math.sqrt(3.0)
    lo, hi = (mean - half) * FOV_SCALE, (mean + half) * FOV_SCALE
    out["distance_range"] = {"min": round(max(lo, 0.05), 4), "max": round(max(hi, 0.1), 4)}
    return out


def _truncnorm_moments(mu: float, sigma: float, lo: float, hi: float) -> tuple[float, float]:
    from scipy.special import ndtr

    a, b = (lo - mu) / sigma, (hi - mu) / sigma
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    z = float(ndtr(b) - ndtr(a))
    mean = mu + sigma * (pdf(a) - pdf(b)) / z
    var = sigma ** 2 * (1 + (a * pdf(a) - b * pdf(b)) / z - ((pdf(a) - pdf(b)) / z) ** 2)
    return mean, math.sqrt(var)


# --- the CSV -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseRow:
    line: int
    synset: str
    model_id: str
    distance: float
    azimuth_offset: float
    elevation_offset: float
    strength: int
    strategy: int

    @property
    def kind(self) -> str:
        if self.model_id.startswith("omniobject3d_"):
            return "omniobject3d"
        if self.model_id.startswith("toys4k_"):
            return "toys4k"
        return "shapenet-or-objaverse"


def read_release_csv(path: Path) -> list[ReleaseRow]:
    """Rows of a release CSV by column position; a header row is skipped; a bad row is one line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the release CSV {path}: {getattr(exc, 'strerror', None) or exc}") from None
    rows = []
    for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            raise UserError(f"{path}: line {number} has {len(cells)} columns, expected {len(COLUMNS)} "
                            f"({', '.join(COLUMNS)}); is this the 3D-DST model CSV?")
        cells = [c.strip() for c in cells]
        try:
            values = (float(cells[2]), float(cells[3]), float(cells[4]), float(cells[5]), float(cells[6]))
        except ValueError:
            if number == 1 and not rows:
                continue  # the header
            raise UserError(f"{path}: line {number}: distance, offsets, strength and strategy must be numbers, got {cells[2:]}") from None
        d, az, el, strength, strategy = values
        if not _SYNSET.match(cells[0]):
            raise UserError(f"{path}: line {number}: synset '{cells[0]}' is not an ImageNet WordNet id like n02690373")
        if not cells[1] or "/" in cells[1] or cells[1].startswith("."):
            raise UserError(f"{path}: line {number}: bad model id '{cells[1]}'")
        if not all(math.isfinite(v) for v in values) or d <= 0:
            raise UserError(f"{path}: line {number}: distance must be positive and offsets finite, got {cells[2:5]}")
        if strength not in (1, 2) or strategy not in (1, 2, 3, 4, 5):
            raise UserError(f"{path}: line {number}: strength must be 1 or 2 and strategy 1-5, got {cells[5]} and {cells[6]}")
        rows.append(ReleaseRow(number, cells[0], cells[1], d, az, el, int(strength), int(strategy)))
    if not rows:
        raise UserError(f"{path} holds no model rows")
    return rows


def download_release_csv() -> Path:
    """The release CSV from the Hub (needs network and the dataset's accepted terms)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UserError(f"cannot fetch the 3D-DST model list from the Hub dataset {HUB_DATASET}: HF_HUB_OFFLINE is set; "
                        "download its CSV (after accepting the dataset's terms) and pass its path")
    try:
        from huggingface_hub import hf_hub_download, list_repo_files

        names = [n for n in list_repo_files(HUB_DATASET, repo_type="dataset") if n.endswith(".csv")]
        if not names:
            raise UserError(f"the Hub dataset {HUB_DATASET} holds no CSV file")
        return Path(hf_hub_download(HUB_DATASET, sorted(names)[0], repo_type="dataset"))
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - network, auth and gating errors of many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"cannot fetch the 3D-DST model list from the Hub dataset {HUB_DATASET} ({first}); "
                        "log in and accept its terms, or pass the CSV's path") from None


# --- resolving ids to files -------------------------------------------------------------------------
@dataclass
class Sources:
    shapenet: Path | None = None
    omniobject3d: Path | None = None
    objaverse_dir: Path | None = None
    objaverse_package: bool = False
    _shapenet_index: dict[str, Path] | None = field(default=None, repr=False)

    def check(self) -> None:
        for flag, path in (("--shapenet", self.shapenet), ("--omniobject3d", self.omniobject3d), ("--objaverse-dir", self.objaverse_dir)):
            if path is not None and not Path(path).is_dir():
                raise UserError(f"{flag} {path} is not a folder")
        if self.omniobject3d is not None and not (Path(self.omniobject3d) / "raw" / "raw_scans").is_dir():
            raise UserError(f"--omniobject3d {self.omniobject3d} has no raw/raw_scans/ folder (the OmniObject3D layout)")
        if self.objaverse_package:
            objaverse_module()

    def shapenet_model(self, model_id: str) -> Path | None:
        if self.shapenet is None:
            return None
        if self._shapenet_index is None:
            self._shapenet_index = {}
            for cat in sorted(Path(self.shapenet).iterdir()):
                if cat.is_dir():
                    for model in cat.iterdir():
                        self._shapenet_index.setdefault(model.name, model)
        folder = self._shapenet_index.get(model_id)
        if folder is None:
            return None
        for candidate in (folder / "models" / "model_normalized.obj", folder / "model_normalized.obj", folder / "model.obj"):
            if candidate.is_file():
                return candidate
        return folder / "models" / "model_normalized.obj"  # reported as missing

    def omni_model(self, model_id: str) -> Path | None:
        if self.omniobject3d is None:
            return None
        name = model_id[len("omniobject3d_"):]
        scans = Path(self.omniobject3d) / "raw" / "raw_scans"
        category = name.rsplit("_", 1)[0]
        path = scans / category / name / "Scan" / "Scan.obj"
        if path.is_file():
            return path
        for cat in scans.iterdir() if scans.is_dir() else []:
            if (cat / name).is_dir():
                return cat / name / "Scan" / "Scan.obj"
        return None

    def objaverse_local(self, uid: str) -> Path | None:
        if self.objaverse_dir is None:
            return None
        root = Path(self.objaverse_dir)
        for candidate in (root / f"{uid}.glb", *root.glob(f"glbs/*/{uid}.glb")):
            if candidate.is_file():
                return candidate
        return None


def objaverse_module():
    try:
        import objaverse
    except ImportError:
        raise UserError("the objaverse package is not installed: pip install objaverse, or pass --objaverse-dir DIR with <uid>.glb files") from None
    return objaverse


def objaverse_license(annotation: dict | None) -> str:
    if not annotation:
        return "unknown (Objaverse; no annotation)"
    raw = str(annotation.get("license") or "").strip().lower()
    return OBJAVERSE_LICENSES.get(raw, raw or "unknown (Objaverse)")


# --- importing one model (runs in a worker process) ------------------------------------------------
@dataclass
class Job:
    synset: str
    class_name: str
    model_id: str
    path: str
    rotation: list  # 3x3, file coordinates -> canonical (before normalization)
    source: str
    license: str
    extra: dict  # numbers for the normalization record
    tags: dict = field(default_factory=dict)  # the model's ModelTags (strength, strategy, review flags)


@dataclass
class Staged:
    job: Job
    model: dict | None = None
    glb: str | None = None
    error: str | None = None


def _world_vertices(scene) -> np.ndarray:
    import trimesh

    chunks = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geom = scene.geometry[name]
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            v = np.asarray(geom.vertices, float)[np.unique(np.asarray(geom.faces))]
            chunks.append(v @ transform[:3, :3].T + transform[:3, 3])
    return np.vstack(chunks) if chunks else np.zeros((0, 3))


def stage_one(job: Job, staging_root: str) -> Staged:
    """Rotate the source mesh, then canonicalize it with dst3d.cad.importer into a private staging
    library; the main process moves the result into the real library. Never raises."""
    import trimesh

    from .importer import import_mesh
    from .library import CadLibrary

    out = Staged(job)
    work = Path(tempfile.mkdtemp(prefix="stage-", dir=staging_root))
    try:
        path = Path(job.path)
        if not path.is_file():
            out.error = f"mesh file {path} is missing"
            return out
        try:
            scene = trimesh.load(path, force="scene", process=False)
        except Exception as exc:  # noqa: BLE001 - loaders raise many types on corrupt input
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            out.error = f"cannot read {path.name}: {detail}"
            return out
        verts = _world_vertices(scene)
        if not len(verts) or not np.isfinite(verts).all():
            out.error = f"{path.name} has no usable triangle faces"
            return out
        R = np.asarray(job.rotation, float)
        extra = dict(job.extra)
        if "official" in extra:  # the official normalization: bbox in the Blender frame
            blender = verts @ np.asarray(extra.pop("official"), float).T
            lo, hi = blender.min(0), blender.max(0)
            extra["official_centre"], extra["official_scale"] = (lo + hi) / 2, 1.0 / float((hi - lo).max())
        transform = np.eye(4)
        transform[:3, :3] = R
        scene.apply_transform(transform)
        rotated = work / "rotated.glb"
        rotated.write_bytes(scene.export(file_type="glb"))
        (work / "lib").mkdir()
        (work / "lib" / "manifest.json").write_text('{"classes": {}}\n')
        lib = CadLibrary(work / "lib")
        model = import_mesh(lib, rotated, job.synset, front="-y", up="+z", model_id=job.model_id, source=job.source,
                            license=job.license, name=job.class_name, size_m=1.0)
        centre_rot = np.asarray(model.normalization["centre"], float)  # bbox centre of the rotated mesh
        scale = float(model.normalization["scale"])
        record = {"centre": [round(float(v), 9) for v in R.T @ centre_rot], "scale": scale,
                  "rotation": [round(float(v), 12) for v in R.reshape(-1)]}
        if "official_centre" in extra:
            G = np.asarray(job.extra["G"], float)
            c1, s1 = extra.pop("official_centre"), extra.pop("official_scale")
            record["release_centre"] = [round(float(v), 9) for v in (G @ c1 - centre_rot) * scale]
            record["release_distance_scale"] = round(scale / s1, 12)
            extra.pop("G", None)
        record.update({k: v for k, v in extra.items() if isinstance(v, (int, float))})
        front = _axis_name(R.T @ np.array([0.0, -1.0, 0.0]))
        up = _axis_name(R.T @ np.array([0.0, 0.0, 1.0]))
        data = model.model_dump(mode="json")
        data.update(normalization=record, front=front, up=up, tags=dict(job.tags))
        out.model = data
        out.glb = str(lib.mesh_path(model))
        return out
    except UserError as exc:
        out.error = str(exc)
        return out
    except Exception as exc:  # noqa: BLE001 - one bad model must not stop the import
        out.error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"
        return out


def _axis_name(v: np.ndarray) -> str:
    v = np.asarray(v, float)
    k = int(np.argmax(np.abs(v)))
    if abs(abs(v[k]) - 1.0) < 1e-9:
        return ("+" if v[k] > 0 else "-") + "xyz"[k]
    return "(" + ",".join(f"{c:.4f}" for c in v) + ")"


# --- registering staged models ------------------------------------------------------------------------
def register_staged(library, staged: Staged, pose_defaults: dict | None = None) -> None:
    """Move a staged mesh into the library (atomic rename) and add its record (atomic manifest write)."""
    from .library import CadClass, CadModel

    model = CadModel.model_validate(staged.model)
    target = library.root / model.mesh
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.glb")
    shutil.copyfile(staged.glb, tmp)
    os.replace(tmp, target)
    manifest = library.manifest.model_copy(deep=True)
    cls = manifest.classes.get(staged.job.synset)
    if cls is None:
        cls = manifest.classes[staged.job.synset] = CadClass(name=staged.job.class_name, pose_defaults=pose_defaults or {})
    cls.models = [m for m in cls.models if m.id != model.id] + [model]
    library.commit(manifest)


def run_jobs(library, jobs: list[Job], workers: int, progress: bool, what: str, pose_defaults: dict[str, dict] | None = None) -> tuple[list[str], list[str]]:
    """Stage jobs (a process pool when workers > 1), register each as it finishes: (imported ids, failures)."""
    from ..progress import Progress

    done, failed = [], []
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=library.root))
    try:
        with Progress(progress) as bars:
            advance = bars.task(what, len(jobs), unit="model")

            def finish(staged: Staged) -> None:
                if staged.error:
                    failed.append(f"{staged.job.model_id} ({staged.job.synset}): {staged.error}")
                else:
                    register_staged(library, staged, (pose_defaults or {}).get(staged.job.synset))
                    done.append(staged.job.model_id)
                shutil.rmtree(Path(staged.glb).parents[3] if staged.glb else staging / "none", ignore_errors=True)
                advance(1, staged.job.model_id)

            if workers <= 1 or len(jobs) <= 1:
                for job in jobs:
                    finish(stage_one(job, str(staging)))
            else:
                with ProcessPoolExecutor(workers) as pool:
                    futures = [pool.submit(stage_one, job, str(staging)) for job in jobs]
                    for future in as_completed(futures):
                        finish(future.result())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return done, failed


# --- the release import ---------------------------------------------------------------------------------
def model_id_for(row: ReleaseRow, kind: str, shared: bool) -> str:
    raw = row.model_id
    if kind == "omniobject3d":
        base = raw
    else:
        base = f"{kind}_{raw}"
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_.-")
    return f"{base}_{row.synset}" if shared else base


def release_source(kind: str, row: ReleaseRow, where: str) -> str:
    return (f"3D-DST release ({HUB_DATASET}) {kind}:{row.model_id} ({where}); strength={row.strength}"
            f"{' (approximate)' if row.strength == 2 else ''}; strategy={row.strategy}; distance={row.distance:g}; "
            f"az_offset={row.azimuth_offset:g}; el_offset={row.elevation_offset:g}")


def release_tags(row: ReleaseRow) -> dict:
    """The ModelTags of a release row: strength 1 -> good, 2 -> approximate; its sampling strategy;
    a review flag for a non-zero elevation offset (exact only on the front meridian, module doc).
    ``--exclude-approximate`` filters on these tags, so the filter and the stored tag cannot disagree."""
    tags: dict = {"strength": "approximate" if row.strength == 2 else "good", "sampling_strategy": row.strategy}
    if row.elevation_offset != 0:
        tags["needs_review"] = ["elevation_offset"]
    return tags


def import_release(library, csv_path: Path | None, sources: Sources, classes: list[str] | None = None,
                   max_per_class: int | None = None, exclude_approximate: bool = False, workers: int = 1,
                   progress: bool = False) -> dict:
    """Import the release into ``library``; returns a summary (imported, skipped, failed, unsupported)."""
    from ..imagenet import imagenet_class
    from .library import resolve_classes

    sources.check()
    if not any((sources.shapenet, sources.omniobject3d, sources.objaverse_dir, sources.objaverse_package)):
        raise UserError("no model source: pass --shapenet DIR, --omniobject3d DIR, --objaverse-dir DIR or --objaverse")
    if max_per_class is not None and max_per_class < 1:
        raise UserError("--max-per-class must be at least 1")
    rows = read_release_csv(csv_path if csv_path is not None else download_release_csv())
    synsets_of_id: dict[str, set[str]] = {}
    for row in rows:
        synsets_of_id.setdefault(row.model_id, set()).add(row.synset)
    if classes:
        wanted = {s for s, _ in resolve_classes(classes, library, need_model=False)}
        rows = [r for r in rows if r.synset in wanted]
        missing = wanted - {r.synset for r in rows}
        if not rows:
            raise UserError(f"the release CSV has no rows for {', '.join(sorted(missing))}")
    if exclude_approximate:
        rows = [r for r in rows if release_tags(r)["strength"] != "approximate"]
    if max_per_class is not None:
        seen: Counter = Counter()
        kept = []
        for r in rows:
            if seen[r.synset] < max_per_class:
                kept.append(r)
                seen[r.synset] += 1
        rows = kept

    existing = {m.id for c in library.manifest.classes.values() for m in c.models}
    summary: dict = {"imported": [], "skipped": [], "failed": [], "unsupported": []}
    jobs, objaverse_rows = [], []
    for row in rows:
        kind = row.kind
        if kind == "toys4k":
            summary["unsupported"].append(f"{row.model_id} ({row.synset}): Toys4k models are Blender .blend files; export them to GLB and use `dst3d cad import`")
            continue
        path, where, license_ = None, "", ""
        if kind == "omniobject3d":
            path = sources.omni_model(row.model_id)
            where, license_ = "raw/raw_scans/.../Scan/Scan.obj", OMNI_LICENSE
            if sources.omniobject3d is None:
                summary["failed"].append(f"{row.model_id} ({row.synset}): an OmniObject3D model; pass --omniobject3d DIR")
                continue
        else:
            path = sources.shapenet_model(row.model_id)
            if path is not None:
                kind, where, license_ = "shapenet", f"{path.parents[1].name if path.parent.name == 'models' else path.parent.parent.name}/{row.model_id}", SHAPENET_LICENSE
            else:
                kind = "objaverse"
                path = sources.objaverse_local(row.model_id)
                where = f"{row.model_id}.glb"
                if path is None and not sources.objaverse_package:
                    hint = "--shapenet DIR" if sources.shapenet is None else ""
                    hint = " or ".join(h for h in (hint, "--objaverse-dir DIR" if sources.objaverse_dir is None else "", "--objaverse") if h)
                    summary["failed"].append(f"{row.model_id} ({row.synset}): unknown model id, not found in the given sources (try {hint})")
                    continue
        model_id = model_id_for(row, kind, len(synsets_of_id[row.model_id]) > 1)
        if model_id in existing:
            summary["skipped"].append(model_id)
            continue
        if kind == "objaverse" and path is None:
            objaverse_rows.append((row, model_id))
            continue
        if path is None:
            summary["failed"].append(f"{row.model_id} ({row.synset}): not found under --{kind} {getattr(sources, kind)}")
            continue
        jobs.append((row, kind, model_id, path, where, license_))

    annotations: dict = {}
    if sources.objaverse_package:
        objaverse = objaverse_module()
        uids = [r.model_id for r, _ in objaverse_rows] + [r.model_id for r, k, *_ in jobs if k == "objaverse"]
        try:
            annotations = objaverse.load_annotations(uids) if uids else {}
            paths = objaverse.load_objects([r.model_id for r, _ in objaverse_rows]) if objaverse_rows else {}
        except Exception as exc:  # noqa: BLE001 - download errors of many types
            raise UserError(f"the objaverse package could not load objects ({(str(exc).splitlines() or [type(exc).__name__])[0][:160]}); "
                            "check the network, or pass --objaverse-dir DIR with <uid>.glb files") from None
        for row, model_id in objaverse_rows:
            path = paths.get(row.model_id)
            if path is None:
                summary["failed"].append(f"{row.model_id} ({row.synset}): unknown Objaverse uid (not in the objaverse package's object list)")
                continue
            jobs.append((row, "objaverse", model_id, Path(path), f"{row.model_id}.glb", ""))

    work = []
    for row, kind, model_id, path, where, license_ in jobs:
        if kind == "objaverse":
            license_ = objaverse_license(annotations.get(row.model_id)) if sources.objaverse_package else "unknown (Objaverse; pass --objaverse for its licence annotations)"
        known = imagenet_class(row.synset)
        cls = library.manifest.classes.get(row.synset)
        name = cls.name if cls else (known.name if known else row.synset)
        G = alignment(row.azimuth_offset, row.elevation_offset)
        work.append(Job(row.synset, name, model_id, str(path), release_rotation(row.azimuth_offset, row.elevation_offset).tolist(),
                        release_source(kind, row, where), license_,
                        {"official": BLENDER_IMPORT.tolist(), "G": G.tolist(), "release_distance": row.distance,
                         "release_azimuth_offset": row.azimuth_offset, "release_elevation_offset": row.elevation_offset},
                        release_tags(row)))

    # pose defaults of classes the release creates (or whose models all come from it)
    defaults: dict[str, dict] = {}
    for synset in {j.synset for j in work}:
        cls = library.manifest.classes.get(synset)
        if cls is not None and any(not m.source.startswith("3D-DST release") for m in cls.models):
            continue
        srows = [r for r in rows if r.synset == synset]
        strategy = Counter(r.strategy for r in srows).most_common()
        best = min(s for s, n in strategy if n == strategy[0][1])
        defaults[synset] = release_pose_defaults(best, float(np.median([r.distance for r in srows])))
    done, failed = run_jobs(library, work, workers, progress, "import-release", defaults)
    for synset, pd in defaults.items():  # classes that existed before: refresh their defaults too
        cls = library.manifest.classes.get(synset)
        if cls is not None and cls.pose_defaults != pd:
            manifest = library.manifest.model_copy(deep=True)
            manifest.classes[synset].pose_defaults = pd
            library.manifest = manifest
            library.save()
    summary["imported"] = done
    summary["failed"] += failed
    return summary


def write_summary_json(summary: dict) -> str:
    return json.dumps({k: len(v) for k, v in summary.items()})
