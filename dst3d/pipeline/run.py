"""Run a job: plan -> render -> controls -> appearance -> shards -> dataset card.

The rows are made by :mod:`.generator`; the engines (:mod:`.engines`, :mod:`.ray_engine`)
decide where; :mod:`.state` keeps the run resumable."""

from __future__ import annotations

import errno
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..appearance.base import preflight
from ..errors import UserError
from ..files import write_json_atomic
from ..progress import Progress
from ..store.card import write_card
from ..store.run_state import STATS_FILE, RunLock, damaged, shard_states
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
    remade: dict[str, str] = field(default_factory=dict)  # finished shards found damaged or deleted, remade: name -> what was wrong


# Errors of the place being written (not of dst3d): one line, finished shards kept.
_DISK_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only",
                errno.EACCES: "permission denied", errno.EPERM: "permission denied", errno.EIO: "an I/O error occurred"}


def disk_error(exc: OSError, out: Path) -> UserError | None:
    """A one-line UserError for a failed write into OUT (None for other errors)."""
    if exc.errno not in _DISK_ERRORS:
        return None
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    return UserError(f"cannot write to {out}: {_DISK_ERRORS[exc.errno]}{where}; free space or fix the folder, then run the same command again (finished shards are kept)")


def run_job(job: JobConfig, out: Path, progress: bool = True, engine: str = "local", workers: int = 1, address: str | None = None) -> RunSummary:
    """Generate (or resume) the job into OUT. Validates everything before touching disk.

    ``engine``: ``local`` (this process when workers == 1, else worker processes) or
    ``ray`` (a Ray cluster at ``address``, or a local one). Re-running the same command
    after an interruption (even SIGKILL) finishes the job: finished shards are kept.
    """
    out = Path(out)
    plan = Plan(job)
    resuming = state.check_output(out, job, plan)
    preflight(job.backend, job.backend_options, job.control.kinds)
    inline = engine == "local" and workers <= 1
    generator = Generator(job, plan) if inline else None
    if generator is not None:
        generator.backend  # load now: a missing model fails before anything is written
    start = time.perf_counter()
    created = not out.exists()
    remade: dict[str, str] = {}
    try:
        state.start_output(out, job, len(plan), plan)
        with RunLock(out):
            state.remove_partial_files(out)
            shards = plan.shards()
            states = shard_states(out, len(shards), full=True) if resuming else {i: "absent" for i in range(len(shards))}
            remade = damaged(states, len(shards))
            pending = state.pending_shards(out, shards, states)
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
            write_json_atomic(out / STATS_FILE, {"elapsed_s": elapsed, "samples_this_run": sum(r["samples"] for r in results), "resumed": resuming, "engine": engine, "workers": workers, "timings_s": timings})
            write_card(out, pictures=card_pictures(out))
    except BaseException as exc:
        if created and not any((out / "data").glob("*.parquet")):
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, OSError) and disk_error(exc, out) is not None:
            raise disk_error(exc, out) from None
        raise
    finally:
        if generator is not None:
            generator.close()
    per_class = {s: job.per_class for s in plan.synsets}
    return RunSummary(out, len(plan), per_class, elapsed, timings, remade)
