"""Engines run a job's pending shards: in this process, in worker processes, or on Ray.

Every engine calls the same :func:`make_shard`, and a shard's rows depend only on
(job, shard indices), so which engine ran a shard never changes its content.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

from ..store.shards import write_shard
from .generator import Generator
from .job import JobConfig

ShardResult = dict  # {"shard": int, "samples": int, "timings": {stage: seconds}}


def make_shard(generator: Generator, out: Path, number: int, n_shards: int, indices: range, on_sample=None) -> ShardResult:
    rows = generator.rows(indices, on_sample=on_sample)
    t0 = time.perf_counter()
    write_shard(out, number, n_shards, rows)
    generator.timings.add("write", t0)
    timings = dict(generator.timings.seconds)
    generator.timings.seconds.clear()
    return {"shard": number, "samples": len(rows), "timings": timings}


def run_inline(job: JobConfig, out: Path, shards: list[range], pending: list[int], advance: Callable[[int], None], generator: Generator) -> Iterator[ShardResult]:
    for number in pending:
        yield make_shard(generator, out, number, len(shards), shards[number], on_sample=advance)


# --- worker processes ---------------------------------------------------------------

_worker_generator = None


def _init_worker(job_json: str) -> None:
    global _worker_generator
    _worker_generator = Generator(JobConfig.model_validate_json(job_json))


def _worker_shard(args: tuple) -> ShardResult:
    out, number, n_shards, start, stop = args
    return make_shard(_worker_generator, Path(out), number, n_shards, range(start, stop))


def run_processes(job: JobConfig, out: Path, shards: list[range], pending: list[int], workers: int, advance) -> Iterator[ShardResult]:
    """One Generator (GL context, backend model) per process, shards handed out in order.

    'spawn' so no GL context or CUDA state is inherited from the parent.
    """
    tasks = [(str(out), n, len(shards), shards[n].start, shards[n].stop) for n in pending]
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(job.model_dump_json(),), maxtasksperchild=None) as pool:
        for result in pool.imap_unordered(_worker_shard, tasks):
            advance(result["samples"])
            yield result


def merge_timings(results: list[ShardResult]) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for result in results:
        for stage, seconds in result["timings"].items():
            total[stage] += seconds
    return dict(total)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
