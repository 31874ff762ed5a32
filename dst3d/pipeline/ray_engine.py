"""The Ray engine: rendering as CPU tasks, appearance on long-lived actors, shards by the driver.

Rendering (scenes, controls, annotations) runs as stateless CPU tasks, one batch each, so
any CPU in the cluster helps. The appearance backend lives in actors (one model load per
actor; with ``controlnet`` each actor takes a GPU) that turn a rendered batch into rows.
The driver gathers a shard's batches and writes the shard atomically, exactly as the
local engine does, so the output is byte-identical whichever engine ran.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Iterator

from ..errors import UserError
from ..store.shards import write_shard
from .generator import Generator
from .job import JobConfig

_render_generators: dict = {}  # per Ray worker process: job fingerprint -> Generator


def _generator(job_json: str) -> Generator:
    job = JobConfig.model_validate_json(job_json)
    key = job.fingerprint()
    if key not in _render_generators:
        _render_generators.clear()
        _render_generators[key] = Generator(job)
    return _render_generators[key]


def _render_batch(job_json: str, start: int, stop: int):
    generator = _generator(job_json)
    specs = generator.specs(range(start, stop))
    return specs, generator.render(specs), dict(generator.timings.seconds)


class _AppearanceActor:
    def __init__(self, job_json: str):
        self.generator = Generator(JobConfig.model_validate_json(job_json))
        self.generator.backend  # one model load per actor, up front

    def finish(self, rendered, shard: int, start: int):
        specs, views, render_timings = rendered
        self.generator.timings.seconds.clear()
        rows = self.generator.finish(specs, views)
        timings = dict(self.generator.timings.seconds)
        for stage, seconds in render_timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        return shard, start, rows, timings


def _uses_gpu(job: JobConfig) -> bool:
    return job.backend == "controlnet" and str(job.backend_options.get("device", "auto")) != "cpu"


def run_ray(job: JobConfig, out: Path, shards: list[range], pending: list[int], workers: int, address: str | None, advance) -> Iterator[dict]:
    try:
        import ray
    except ImportError:
        raise UserError("the ray engine needs Ray: pip install 'dst3d[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield from _run(ray, job, out, shards, pending, workers, advance)
    finally:
        if started_here:
            ray.shutdown()


def _run(ray, job, out, shards, pending, workers, advance):
    job_json = job.model_dump_json()
    gpus = 1 if _uses_gpu(job) else 0
    if gpus and ray.cluster_resources().get("GPU", 0) < 1:
        raise UserError("the controlnet backend on Ray needs GPU nodes; none are in the cluster (or set backend_options.device: cpu)")
    render_task = ray.remote(num_cpus=1)(_render_batch)
    actor_cls = ray.remote(num_cpus=0 if gpus else 1, num_gpus=gpus)(_AppearanceActor)
    if not gpus:  # CPU actors hold their CPU: always leave one for the render tasks
        workers = min(workers, max(1, int(ray.cluster_resources().get("CPU", 2)) - 1))
    actors = [actor_cls.remote(job_json) for _ in range(max(1, workers))]
    batches = deque(
        (n, start, min(start + job.batch_size, shards[n].stop))
        for n in pending
        for start in range(shards[n].start, shards[n].stop, job.batch_size)
    )
    remaining = {n: len(range(shards[n].start, shards[n].stop, job.batch_size)) for n in pending}
    collected: dict[int, list] = {n: [] for n in pending}
    timings: dict[int, dict] = {n: {} for n in pending}
    in_flight: dict = {}
    idle = deque(actors * 2)  # two batches per actor: the next one renders while this one runs
    while batches or in_flight:
        while batches and idle:
            shard, start, stop = batches.popleft()
            actor = idle.popleft()
            rendered = render_task.remote(job_json, start, stop)
            in_flight[actor.finish.remote(rendered, shard, start)] = actor
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        idle.append(in_flight.pop(ready[0]))
        shard, start, rows, batch_timings = ray.get(ready[0])
        collected[shard].append((start, rows))
        for stage, seconds in batch_timings.items():
            timings[shard][stage] = timings[shard].get(stage, 0.0) + seconds
        advance(len(rows))
        remaining[shard] -= 1
        if remaining[shard] == 0:
            rows = [row for _, part in sorted(collected.pop(shard), key=lambda item: item[0]) for row in part]
            write_shard(out, shard, len(shards), rows)
            yield {"shard": shard, "samples": len(rows), "timings": timings.pop(shard)}
