"""A run folder's state as readers see it: the writer lock, the job record, which shards are
done and intact. The pipeline writes runs (:mod:`dst3d.pipeline.state`); status and publish
read them from here, without the pipeline.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .dataset import ABSENT, OK, UNRECORDED, shard_state
from .shards import JOB_FILE, shard_name

LOCK_FILE = ".dst3d.lock"
STATS_FILE = "dst3d_stats.json"
DEFAULT_SHARD_SIZE = 256  # JobConfig.shard_size's default, for job records that omit it


def read_job_record(out: Path) -> dict:
    """OUT's job file as a dict with "job" and "samples"; one line if it is unreadable."""
    job_file = Path(out) / JOB_FILE
    try:
        recorded = json.loads(job_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{job_file} is unreadable or damaged; remove {out} or choose a new --out") from None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("job"), dict) or not isinstance(recorded.get("samples"), int) or recorded["samples"] < 1:
        raise UserError(f"{job_file} is not a dst3d job record (no job settings or sample count); remove {out} or choose a new --out")
    return recorded


class RunLock:
    """An exclusive flock on OUT/.dst3d.lock for the run's lifetime.

    The kernel drops it when the process dies (SIGKILL included), so a stale lock never
    blocks a resume, while a second live writer is refused.
    """

    def __init__(self, out: Path):
        self.path = out / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(f"another dst3d run (pid {holder}) is writing to {self.path.parent}; wait for it or stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_holder(out: Path) -> int | None:
    """PID of the live run writing to OUT, or None."""
    path = out / LOCK_FILE
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)


def shard_states(out: Path, n_shards: int, full: bool = True) -> dict[int, str]:
    """State of every train shard of a run: ``ok``, ``absent``, ``unrecorded`` or a problem."""
    return {i: shard_state(out / shard_name(i, n_shards), full) for i in range(n_shards)}


def damaged(states: dict[int, str], n_shards: int) -> dict[str, str]:
    """The finished shards that are no longer intact: shard name -> what is wrong."""
    return {shard_name(i, n_shards): state for i, state in states.items() if state not in (OK, ABSENT, UNRECORDED)}


@dataclass
class RunStatus:
    out: Path
    samples: int
    samples_done: int
    shards: int
    shards_done: int
    running_pid: int | None
    stats: dict | None
    problems: dict[str, str] | None = None  # finished shards now missing or damaged: name -> what

    @property
    def state(self) -> str:
        if self.running_pid:
            return f"running (pid {self.running_pid})"
        if self.problems:
            return "damaged: run the same generate command to remake the shards named below"
        if self.samples_done == self.samples:
            return "complete"
        return "stopped: run the same generate command to resume"


def run_status(out: Path, full: bool = True) -> RunStatus:
    """Progress of the run in OUT; every shard checked against its record (``full``: sha256)."""
    out = Path(out)
    job_file = out / JOB_FILE
    if not out.is_dir():
        raise UserError(f"run folder {out} does not exist")
    if not job_file.is_file():
        raise UserError(f"{out} is not a dst3d run folder (no {JOB_FILE})")
    recorded = read_job_record(out)
    shard_size = recorded["job"].get("shard_size", DEFAULT_SHARD_SIZE)
    if not isinstance(shard_size, int) or shard_size < 1:
        raise UserError(f"{job_file} holds invalid job settings (shard_size {shard_size!r}); remove {out} or choose a new --out")
    total = int(recorded["samples"])
    shards = [range(s, min(s + shard_size, total)) for s in range(0, total, shard_size)]
    running = lock_holder(out)
    states = shard_states(out, len(shards), full)
    problems = damaged(states, len(shards))
    done = sum(len(shards[i]) for i, state in states.items() if state == OK)
    stats = None
    try:
        stats = json.loads((out / STATS_FILE).read_text()) if (out / STATS_FILE).is_file() else None
    except (OSError, ValueError):
        stats = None
    if not isinstance(stats, dict):
        stats = None
    return RunStatus(out, total, done, len(shards), sum(s == OK for s in states.values()), running, stats, problems)
