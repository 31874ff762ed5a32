"""Run a job: plan -> render -> controls -> appearance -> shards -> dataset card.

The rows are made by :mod:`.generator`; the engines (:mod:`.engines`, :mod:`.ray_engine`)
decide where; :mod:`.state` keeps the run resumable."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..appearance.base import preflight
from ..errors import UserError
from ..files import write_json_atomic
from ..progress import Progress
from ..store.card import write_card
from ..viz.inspect import card_pictures
from . import engines, state
from .generator import Generator
from .job import JobConfig, Plan
from .ray_engine import run_ray


@dataclass
class RunSummary:
    out: Path
    samples: int
    per_class: dict[str, int]
    elapsed: float
    timings: dict[str, float]


def run_job(job: JobConfig, out: Path, progress: bool = True, engine: str = "local", workers: int = 1, address: str | None = None) -> RunSummary:
    """Generate (or resume) the job into OUT. Validates everything before touching disk.

    ``engine``: ``local`` (this process when workers == 1, else worker processes) or
    ``ray`` (a Ray cluster at ``address``, or a local one). Re-running the same command
    after an interruption (even SIGKILL) finishes the job: finished shards are kept.
    """
    out = Path(out)
    resuming = state.check_output(out, job)
    plan = Plan(job)
    preflight(job.backend, job.backend_options, job.control.kinds)
    inline = engine == "local" and workers <= 1
    generator = Generator(job, plan) if inline else None
    if generator is not None:
        generator.backend  # load now: a missing model fails before anything is written
    start = time.perf_counter()
    created = not out.exists()
    try:
        state.start_output(out, job, len(plan))
        with state.RunLock(out):
            state.remove_partial_files(out)
            shards = plan.shards()
            pending = state.pending_shards(out, shards)
            done = len(plan) - sum(len(shards[i]) for i in pending)
            with Progress(progress) as bars:
                advance = bars.task("generating", len(plan), done, unit="img")
                if inline:
                    results = list(engines.run_inline(job, out, shards, pending, advance, generator))
                elif engine == "local":
                    results = list(engines.run_processes(job, out, shards, pending, workers, advance))
                elif engine == "ray":
                    results = list(run_ray(job, out, shards, pending, workers, address, advance))
                else:
                    raise UserError(f"unknown engine '{engine}'; choose local or ray")
            timings = engines.merge_timings(results)
            elapsed = time.perf_counter() - start
            write_json_atomic(out / state.STATS_FILE, {"elapsed_s": elapsed, "samples_this_run": sum(r["samples"] for r in results), "resumed": resuming, "engine": engine, "workers": workers, "timings_s": timings})
            write_card(out, pictures=card_pictures(out))
    except BaseException:
        if created and not any((out / "data").glob("*.parquet")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if generator is not None:
            generator.close()
    per_class = {s: job.per_class for s in plan.synsets}
    return RunSummary(out, len(plan), per_class, elapsed, timings)
