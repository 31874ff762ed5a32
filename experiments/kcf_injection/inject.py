"""Deliberate label errors, the way diffusion fails, to measure a filter on known truth.

A chosen fraction of each class gets its *image* re-made at another pose while its label
(and control image) stay: the image is rendered at ``azimuth + pi`` (seen from behind,
labelled as front) or at a random pose from the class's pose distribution, then passed
through the same appearance backend with the sample's own seed (same colours, light and
background). The ground truth goes to ``kcf_injection.json`` in the output dataset.

Corruptions that the object's symmetry makes invisible (a bottle turned about its axis,
a table by 180 degrees) are no label errors at all: they are re-drawn so that the
symmetric distance between the image's pose and the label is at least ``min_deg``.

An experiment tool, not part of the package: it plans poses like a job (``Plan``), which
the filter itself never does. Tests load it by file path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dst3d.appearance.base import AppearanceRequest, backend_from_settings
from dst3d.cad.library import CadLibrary
from dst3d.control.visual_prompt import make_controls
from dst3d.errors import UserError
from dst3d.files import write_json_atomic
from dst3d.pipeline.job import JobConfig, Plan
from dst3d.pose.viewpoint import Viewpoint, wrap_angle
from dst3d.posenet.metrics import SymmetrySpec, rotation_error
from dst3d.render.scene import Rerenderer
from dst3d.store.dataset import open_dataset
from dst3d.store.schema import encode_png
from dst3d.store.shards import DATA_DIR, write_table_shard

TRUTH_FILE = "kcf_injection.json"
COLUMNS = ["id", "synset", "cad_id", "azimuth", "elevation", "theta", "distance", "width", "height", "backend", "generation",
           "render", "seed", "prompt", "negative_prompt", "R", "K", "t"]


def _backend(record, cache: dict):
    """The record's appearance backend, rebuilt from its ``generation`` settings (one per setting)."""
    key = json.dumps(record.generation, sort_keys=True)
    if key not in cache:
        cache[key] = backend_from_settings({"backend": record.backend, **record.generation})
    return cache[key]


def inject_errors(src: Path, dst: Path, fraction: float = 0.1, seed: int = 0, modes=("flip", "random"),
                  min_deg: float = 45.0, cad_library: str | None = None) -> dict:
    """Copy dataset SRC to DST with ``fraction`` of every class's images re-rendered at a
    wrong pose (label unchanged). Returns (and writes) the ground truth."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise UserError(f"{dst} already exists; choose a new output folder")
    dataset = open_dataset(src)
    records = list(dataset.records(COLUMNS))
    rng = np.random.default_rng(seed)
    library = CadLibrary(cad_library)
    symmetry = {m.id: SymmetrySpec.of(m.symmetry) for c in library.manifest.classes.values() for m in c.models}
    job = dataset.job.get("job")
    plan = Plan(JobConfig.model_validate({**job, "cad_library": cad_library}) if job
                else JobConfig(classes=sorted({r.synset for r in records}), cad_library=cad_library), library)

    chosen: dict[int, dict] = {}
    synsets = np.array([r.synset for r in records])
    for c in sorted(set(synsets.tolist())):
        idx = np.flatnonzero(synsets == c)
        k = max(1, int(round(len(idx) * fraction)))
        for i in rng.permutation(idx)[:k]:
            chosen[int(i)] = {"mode": modes[len(chosen) % len(modes)]}
    sampler = {s: plan.pose_sampling(s) for s in set(synsets.tolist())}
    for i, info in chosen.items():
        r = records[i]
        sym = symmetry.get(r.cad_id, SymmetrySpec())
        mode = info["mode"]
        for attempt in range(200):
            if mode == "flip" and attempt == 0:
                vp = Viewpoint(wrap_angle(r.azimuth + np.pi), r.elevation, r.theta, r.distance)
            else:
                mode = "random" if mode == "flip" else mode
                draw = sampler[r.synset].sample(rng)
                vp = Viewpoint(draw.azimuth, draw.elevation, draw.theta, r.distance)
            dist = np.rad2deg(rotation_error(vp.rotation(), r.R, sym))
            if dist >= min_deg:
                break
        info.update(mode=mode, requested=chosen[i]["mode"], azimuth=vp.azimuth, elevation=vp.elevation, theta=vp.theta, distance_deg=float(dist))

    # re-render the chosen images: the same position t (the camera still looks at the origin)
    backends: dict[str, object] = {}
    new_images: dict[str, dict] = {}
    with Rerenderer(library) as rerender:
        for i, info in sorted(chosen.items()):
            r = records[i]
            posed = rerender.view(r, R=Viewpoint(info["azimuth"], info["elevation"], info["theta"], r.distance).rotation())
            controls = make_controls(posed.render, r.control_config)
            request = AppearanceRequest(controls, posed.render, r.prompt, r.negative_prompt, int(r.seed))
            new_images[r.id] = encode_png(_backend(r, backends).generate([request])[0])

    # write the copy: same files, the chosen image cells replaced
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name != DATA_DIR and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, dst / item.name)
    for f in dataset.files:
        table = pq.read_table(f)
        images = [new_images.get(i, cell) for i, cell in zip(table["id"].to_pylist(), table["image"].to_pylist())]
        column = pa.array(images, type=table.schema.field("image").type)
        table = table.set_column(table.schema.get_field_index("image"), "image", column)
        write_table_shard(dst / DATA_DIR / f.name, table)
    truth = {
        "source": str(src.resolve()),
        "fraction": fraction,
        "seed": seed,
        "min_deg": min_deg,
        "corrupted": [{"id": records[i].id, "synset": records[i].synset, "cad_id": records[i].cad_id, **info} for i, info in sorted(chosen.items())],
    }
    write_json_atomic(dst / TRUTH_FILE, truth)
    return truth
