"""Wrong labels on real photographs: a copy of an imported dataset with a fraction of its
labels replaced by wrong poses, the photos kept.

Each chosen record (``fraction`` of every class, alternately) gets

* ``flip``: its viewpoint turned by pi in azimuth, or
* ``random``: azimuth uniform, elevation and theta of another record of its class,

redrawn until the new pose is at least ``min_deg`` from the true one modulo the CAD model's
symmetry (a closer one is no label error by the Acc@pi/6 criterion). The new pose is an
allocentric viewpoint (what a crop shows, as the importer's angles); its egocentric ``R`` comes
through the record's own label frame (``dst3d.kcf.hypotheses``) at the record's ``t``, so the
object stays where it is in the photo. Its control and keypoints are re-rendered for the new
label through the one render path; bbox and visible fraction (the photo's object) are kept.
The ground truth goes to ``kcf_injection.json``.

An experiment tool, not part of the package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dst3d.cad.library import CadLibrary
from dst3d.control.visual_prompt import make_controls
from dst3d.errors import UserError
from dst3d.files import write_json_atomic
from dst3d.kcf.hypotheses import hypothesis_rotation, render_hypothesis
from dst3d.pose.viewpoint import viewpoint_to_rotation, wrap_angle
from dst3d.posenet.metrics import SymmetrySpec, rotation_error
from dst3d.render.scene import Rerenderer
from dst3d.store.dataset import open_dataset
from dst3d.store.record import Record
from dst3d.store.schema import encode_png
from dst3d.store.shards import DATA_DIR, write_table_shard

TRUTH_FILE = "kcf_injection.json"


def choose(synsets: np.ndarray, fraction: float, rng: np.random.Generator, modes=("flip", "random")) -> dict[int, str]:
    """Row index -> requested corruption, ``fraction`` of every class (at least one)."""
    chosen: dict[int, str] = {}
    for c in sorted(set(synsets.tolist())):
        idx = np.flatnonzero(synsets == c)
        k = max(1, int(round(len(idx) * fraction)))
        for i in sorted(rng.permutation(idx)[:k].tolist()):
            chosen[int(i)] = modes[len(chosen) % len(modes)]
    return chosen


def wrong_angles(record: Record, mode: str, same_class: list[Record], sym: SymmetrySpec, rng: np.random.Generator,
                 min_deg: float) -> tuple[np.ndarray, str, float]:
    """(azimuth, elevation, theta) at least ``min_deg`` from the label modulo symmetry, the mode
    actually used (a flip the symmetry makes invisible falls back to random) and the distance."""
    truth = viewpoint_to_rotation(record.azimuth, record.elevation, record.theta)
    for attempt in range(500):
        if mode == "flip" and attempt == 0:
            angles = np.array([wrap_angle(record.azimuth + np.pi), record.elevation, record.theta])
        else:
            mode = "random"
            other = same_class[int(rng.integers(len(same_class)))]
            angles = np.array([rng.uniform(-np.pi, np.pi), other.elevation, other.theta])
        dist = float(np.rad2deg(rotation_error(viewpoint_to_rotation(*angles), truth, sym)))
        if dist >= min_deg:
            return angles, mode, dist
    raise UserError(f"no pose {min_deg} deg from record {record.id}'s label found")


def inject_real(src: Path, dst: Path, library: Path, fraction: float = 0.1, seed: int = 0, min_deg: float = 30.0) -> dict:
    """Copy dataset SRC to DST with ``fraction`` of every class's labels wrong; returns the truth."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise UserError(f"{dst} already exists; choose a new output folder")
    dataset = open_dataset(src)
    records = list(dataset.records())
    lib = CadLibrary(library)
    symmetry = {m.id: SymmetrySpec.of(m.symmetry) for c in lib.manifest.classes.values() for m in c.models}
    rng = np.random.default_rng(seed)
    synsets = np.array([r.synset for r in records])
    chosen = choose(synsets, fraction, rng)
    by_class = {c: [r for r in records if r.synset == c] for c in set(synsets.tolist())}
    replaced: dict[str, dict] = {}
    truth = []
    with Rerenderer(lib) as rerender:
        for i, requested in chosen.items():
            r = records[i]
            angles, mode, dist = wrong_angles(r, requested, by_class[r.synset], symmetry.get(r.cad_id, SymmetrySpec()), rng, min_deg)
            posed = render_hypothesis(rerender, r, angles)
            controls = make_controls(posed.render, r.control_config)
            new = Record(**{**r.__dict__, "extra": {}})
            new.azimuth, new.elevation, new.theta = (float(a) for a in angles)
            new.R = hypothesis_rotation(r, angles)
            new.control = encode_png(controls[r.control_type])
            new.keypoints = posed.annotations["keypoints"]
            replaced[r.id] = new.to_row()
            truth.append({"id": r.id, "synset": r.synset, "cad_id": r.cad_id, "mode": mode, "requested": requested,
                          "azimuth": float(angles[0]), "elevation": float(angles[1]), "theta": float(angles[2]), "distance_deg": dist})
    _write_copy(src, dst, dataset.files, replaced)
    out = {"source": str(src.resolve()), "fraction": fraction, "seed": seed, "min_deg": min_deg, "corrupted": truth}
    write_json_atomic(dst / TRUTH_FILE, out)
    return out


def _write_copy(src: Path, dst: Path, files: list[Path], replaced: dict[str, dict]) -> None:
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name != DATA_DIR and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, dst / item.name)
    for f in files:
        table = pq.read_table(f)
        rows = [replaced.get(row["id"], row) for row in table.to_pylist()]
        write_table_shard(dst / DATA_DIR / f.name, pa.Table.from_pylist(rows, schema=table.schema))
