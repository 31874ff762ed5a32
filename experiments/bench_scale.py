"""Scale-out and memory: throughput with 1 and 2 workers, peak RSS at growing run length.

    python experiments/bench_scale.py --size 128 --throughput-samples 600 --rss-samples 1000 10000

Each measurement is a fresh `dst3d generate` process (render backend, 12 classes) so peak
RSS (ru_maxrss of the run and its worker processes) belongs to that run alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLASSES = "aeroplane,bicycle,boat,bottle,bus,car,chair,diningtable,motorbike,sofa,train,tvmonitor"


def run(samples: int, size: int, workers: int) -> dict:
    per_class = max(1, samples // 12)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds"
        code = (
            "import resource, sys, json\n"
            "from dst3d.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
            "print(json.dumps({'rss_mib': own / 1024, 'worker_rss_mib': kids / 1024}), file=sys.stderr)\n"
        )
        args = ["generate", "--classes", CLASSES, "--per-class", str(per_class), "--size", str(size),
                "--out", str(out), "--workers", str(workers), "--no-progress"]
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYOPENGL_PLATFORM": "egl"}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - start
        memory = json.loads(proc.stderr.strip().splitlines()[-1])
        n = per_class * 12
        return {"samples": n, "size": size, "workers": workers, "seconds": round(elapsed, 1),
                "img_per_s": round(n / elapsed, 1), **{k: round(v, 1) for k, v in memory.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--throughput-samples", type=int, default=600)
    parser.add_argument("--rss-samples", type=int, nargs="*", default=[1000, 10000])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; whole-process timings include start-up (~3 s)")
    for workers in (1, 2):
        print(json.dumps(run(args.throughput_samples, args.size, workers)))
    rss = [run(n, args.size, 1) for n in args.rss_samples]
    for r in rss:
        print(json.dumps(r))
    if len(rss) >= 2:
        growth = rss[-1]["rss_mib"] / rss[0]["rss_mib"] - 1
        print(f"peak RSS growth {rss[0]['samples']} -> {rss[-1]['samples']} samples: {growth * 100:+.1f}%")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
