"""Pose transfer to unseen CAD instances: train on generated data, test on held-out shapes.

    .venv/bin/python experiments/pose_transfer/run.py --per-class 200

One render-backend dataset over all library classes is split by CAD instance: the last
instance of every class (e.g. ``car_02``) goes to the test set, never to training. A pose
estimator is trained with `dst3d train-pose` on the rest and evaluated with
`dst3d eval-pose` on the held-out instances. Writes experiments/pose_transfer/results.json.
"""

from __future__ import annotations

import torch.utils._triton as _triton  # before OpenGL: triton imported after a GL context segfaults here

_triton.has_triton_package()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ALL_CLASSES = "aeroplane,bicycle,boat,bottle,bus,car,chair,diningtable,motorbike,sofa,train,tvmonitor"


def split_by_cad(src: Path, train: Path, test: Path, held_out: set[str]) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dst3d.store.shards import shard_files

    counts = {}
    for dst, keep_held in ((train, False), (test, True)):
        (dst / "data").mkdir(parents=True)
        shutil.copy(src / "dst3d_job.json", dst / "dst3d_job.json")
        files = shard_files(src)
        n = 0
        for i, f in enumerate(files):
            table = pq.read_table(f)
            mask = pc.is_in(table["cad_id"], pa.array(sorted(held_out)))
            part = table.filter(mask if keep_held else pc.invert(mask))
            pq.write_table(part, dst / "data" / f"train-{i:05d}-of-{len(files):05d}.parquet", row_group_size=64)
            n += part.num_rows
        counts[dst.name] = n
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", default=ALL_CLASSES)
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dst3d_pose_transfer"))
    ap.add_argument("--train-args", default="--freeze-backbone --feature-layer 14 --epochs 40 --bins 24,12,24",
                    help="extra `dst3d train-pose` options")
    args = ap.parse_args()

    from dst3d.cad.library import CadLibrary
    from dst3d.pipeline.job import JobConfig, Plan
    from dst3d.pipeline.run import run_job

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    job = JobConfig(classes=args.classes.split(","), per_class=args.per_class, width=args.size, height=args.size, seed=args.seed)
    plan = Plan(job)
    library = CadLibrary()
    held_out = {library.manifest.classes[s].models[-1].id for s in plan.synsets}
    seconds = {}
    t0 = time.perf_counter()
    run_job(job, args.workdir / "all", progress=False)
    seconds["generate"] = time.perf_counter() - t0
    counts = split_by_cad(args.workdir / "all", args.workdir / "train", args.workdir / "test", held_out)

    env = dict(os.environ)
    run = args.workdir / "run"
    train_cmd = [sys.executable, "-m", "dst3d", "train-pose", str(args.workdir / "train"), "--out", str(run), "--no-progress", *args.train_args.split()]
    t0 = time.perf_counter()
    subprocess.run(train_cmd, check=True, env=env)
    seconds["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = args.workdir / "eval_test.json"
    subprocess.run([sys.executable, "-m", "dst3d", "eval-pose", str(run), str(args.workdir / "test"), "--out", str(out), "--no-progress"], check=True, env=env)
    seconds["eval"] = time.perf_counter() - t0
    evaluation = json.loads(out.read_text())
    train_metrics = json.loads((run / "metrics.json").read_text())
    results = {
        "command": ".venv/bin/python experiments/pose_transfer/run.py " + " ".join(sys.argv[1:]),
        "train_command": "dst3d train-pose TRAIN --out RUN " + args.train_args,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg_at_end": os.getloadavg()},
        "dataset": {"classes": len(plan.synsets), "per_class": args.per_class, "size": args.size, **counts, "held_out_instances": sorted(held_out)},
        "test_unseen_instances": {"overall": evaluation["overall"], "per_class": {evaluation["class_names"][k].split(",")[0]: v for k, v in evaluation["per_class"].items()}},
        "train_seen_instances": train_metrics["train"]["overall"],
        "seconds": {**{k: round(v, 1) for k, v in seconds.items()}, "train_stages": train_metrics["timings"]},
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["test_unseen_instances"]["overall"], indent=1), results["seconds"])


if __name__ == "__main__":
    main()
