"""Rendering overlapped with appearance + encoding (Generator.rows) vs the sequential loop.

    .venv/bin/python experiments/bench_overlap.py [--size 512] [--per-class 48] [--repeats 3]

Both make the same rows (checked); prints images/s of each, alternating runs.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

from dst3d.pipeline.generator import Generator  # noqa: E402
from dst3d.pipeline.job import JobConfig  # noqa: E402


def sequential_rows(generator: Generator, indices: range) -> list[dict]:
    """The loop before the overlap: render, then generate and encode, batch after batch."""
    rows = []
    for start in range(indices.start, indices.stop, generator.job.batch_size):
        specs = generator.specs(range(start, min(start + generator.job.batch_size, indices.stop)))
        rows.extend(generator.finish(specs, generator.render(specs)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--per-class", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    job = JobConfig(classes=["car", "chair"], per_class=args.per_class, width=args.size, height=args.size)
    generator = Generator(job)
    indices = range(len(generator.plan))
    reference = sequential_rows(generator, indices)  # warm-up: scenes, backend, caches
    times = {"sequential": [], "overlapped": []}
    for _ in range(args.repeats):
        for name, run in (("sequential", lambda: sequential_rows(generator, indices)), ("overlapped", lambda: generator.rows(indices))):
            t0 = time.perf_counter()
            rows = run()
            times[name].append(time.perf_counter() - t0)
            assert rows == reference, f"{name} rows differ"
    generator.close()
    for name, seconds in times.items():
        best = min(seconds)
        print(f"{name:>10}: {len(indices) / best:6.1f} images/s (best of {args.repeats}: {best:.2f} s for {len(indices)} images at {args.size} px)")


if __name__ == "__main__":
    main()
