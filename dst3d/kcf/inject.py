"""Deliberate label errors, the way diffusion fails, to measure a filter on known truth.

A chosen fraction of each class gets its *image* re-made at another pose while its label
(and control image) stay: the image is rendered at ``azimuth + pi`` (seen from behind,
labelled as front) or at a random pose from the class's pose distribution, then passed
through the same appearance backend with the sample's own seed (same colours, light and
background). The ground truth goes to ``kcf_injection.json`` in the output dataset.

Corruptions that the object's symmetry makes invisible (a bottle turned about its axis,
a table by 180 degrees) are no label errors at all: they are re-drawn so that the
symmetric distance between the image's pose and the label is at least ``min_deg``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from ..posenet.metrics import SymmetrySpec, rotation_error
from ..store.shards import DATA_DIR, read_job_file, shard_files

TRUTH_FILE = "kcf_injection.json"


def inject_errors(src: Path, dst: Path, fraction: float = 0.1, seed: int = 0, modes=("flip", "random"),
                  min_deg: float = 45.0, cad_library: str | None = None) -> dict:
    """Copy dataset SRC to DST with ``fraction`` of every class's images re-rendered at a
    wrong pose (label unchanged). Returns (and writes) the ground truth."""
    from ..appearance.base import AppearanceRequest, load_backend
    from ..cad.library import CadLibrary
    from ..control.visual_prompt import ControlConfig
    from ..pipeline.job import JobConfig, Plan
    from ..pipeline.run import SceneCache, render_view
    from ..pose.viewpoint import Viewpoint, viewpoint_to_rotation, wrap_angle
    from ..store.schema import encode_png

    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise UserError(f"{dst} already exists; choose a new output folder")
    files = shard_files(src)
    if not files:
        raise UserError(f"{src} holds no dataset shards")
    tables = [pq.read_table(f) for f in files]
    meta = pa.concat_tables([t.select(["id", "synset", "cad_id", "azimuth", "elevation", "theta", "distance", "width", "height", "backend", "generation", "render", "seed", "prompt", "negative_prompt", "K", "t"]) for t in tables]).to_pylist()
    rng = np.random.default_rng(seed)
    library = CadLibrary(cad_library)
    symmetry = {m.id: SymmetrySpec.of(m.symmetry) for c in library.manifest.classes.values() for m in c.models}
    job = read_job_file(src).get("job")
    plan = Plan(JobConfig.model_validate({**job, "cad_library": cad_library}) if job else JobConfig(classes=sorted({r["synset"] for r in meta}), cad_library=cad_library), library)

    chosen: dict[int, dict] = {}
    synsets = np.array([r["synset"] for r in meta])
    for c in sorted(set(synsets.tolist())):
        idx = np.flatnonzero(synsets == c)
        k = max(1, int(round(len(idx) * fraction)))
        for i in rng.permutation(idx)[:k]:
            chosen[int(i)] = {"mode": modes[len(chosen) % len(modes)]}
    sampler = {s: plan.pose_sampling(s) for s in set(synsets.tolist())}
    for i, info in chosen.items():
        r = meta[i]
        label_R = viewpoint_to_rotation(r["azimuth"], r["elevation"], r["theta"])
        sym = symmetry.get(r["cad_id"], SymmetrySpec())
        mode = info["mode"]
        for attempt in range(200):
            if mode == "flip" and attempt == 0:
                vp = Viewpoint(wrap_angle(r["azimuth"] + np.pi), r["elevation"], r["theta"], r["distance"])
            else:
                mode = "random" if mode == "flip" else mode
                draw = sampler[r["synset"]].sample(rng)
                vp = Viewpoint(draw.azimuth, draw.elevation, draw.theta, r["distance"])
            dist = np.rad2deg(rotation_error(vp.rotation(), label_R, sym))
            if dist >= min_deg:
                break
        info.update(mode=mode, requested=chosen[i]["mode"], azimuth=vp.azimuth, elevation=vp.elevation, theta=vp.theta, distance_deg=float(dist))

    # re-render the chosen images
    by_size: dict[tuple[int, int], SceneCache] = {}
    backends: dict[str, object] = {}
    new_images: dict[int, dict] = {}
    n_models = sum(len(c.models) for c in library.manifest.classes.values())
    try:
        for i, info in sorted(chosen.items()):
            r = meta[i]
            size = (int(r["width"]), int(r["height"]))
            scenes = by_size.setdefault(size, SceneCache(library, *size, capacity=n_models + 1))
            render_info = json.loads(r["render"])
            control = ControlConfig.model_validate(render_info.get("control", {}))
            R = viewpoint_to_rotation(info["azimuth"], info["elevation"], info["theta"])
            t = np.asarray(r["t"], np.float64)  # the camera still looks at the origin: same t
            view = render_view(scenes, r["cad_id"], R, t, np.asarray(r["K"]), control)
            if r["generation"] not in backends:
                settings = json.loads(r["generation"])
                backends[r["generation"]] = load_backend(r["backend"], {k: v for k, v in settings.items() if k != "backend"})
            request = AppearanceRequest(view.controls, view.render, r["prompt"], r["negative_prompt"], int(r["seed"]))
            new_images[i] = encode_png(backends[r["generation"]].generate([request])[0])
    finally:
        for scenes in by_size.values():
            try:
                scenes.close()
            except Exception:  # noqa: BLE001 - pyrender's EGL teardown terminates the shared display
                pass

    # write the copy: same files, the chosen image cells replaced
    dst.mkdir(parents=True)
    for item in src.iterdir():
        if item.name != DATA_DIR and not item.name.startswith("."):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, dst / item.name)
    (dst / DATA_DIR).mkdir()
    offset = 0
    for f, table in zip(files, tables):
        images = table["image"].to_pylist()
        for j in range(len(images)):
            if offset + j in new_images:
                images[j] = new_images[offset + j]
        column = pa.array(images, type=table.schema.field("image").type)
        table = table.set_column(table.schema.get_field_index("image"), "image", column)
        pq.write_table(table, dst / DATA_DIR / f.name, row_group_size=64)
        offset += len(images)
    truth = {
        "source": str(src.resolve()),
        "fraction": fraction,
        "seed": seed,
        "min_deg": min_deg,
        "corrupted": [{"id": meta[i]["id"], "synset": meta[i]["synset"], "cad_id": meta[i]["cad_id"], **info} for i, info in sorted(chosen.items())],
    }
    (dst / TRUTH_FILE).write_text(json.dumps(truth, indent=1) + "\n")
    return truth

