"""A run's state on disk: the job file, the writer lock, finished shards, run statistics.

Nothing else is kept: a shard file exists exactly when its samples are done (shards are
renamed into place atomically), so a killed run resumes by redoing the missing shards.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..files import write_json_atomic
from ..store.shards import DATA_DIR, JOB_FILE, shard_name
from .job import JobConfig

LOCK_FILE = ".dst3d.lock"
STATS_FILE = "dst3d_stats.json"


def check_output(out: Path, job: JobConfig) -> bool:
    """Before any work: True to resume a run of the same job, False for a fresh folder.

    Refuses a folder holding other files or a different job, and an unwritable place.
    """
    job_file = out / JOB_FILE
    if job_file.is_file():
        try:
            recorded = json.loads(job_file.read_text())
        except (OSError, ValueError):
            raise UserError(f"{job_file} is unreadable; remove {out} or choose a new --out") from None
        if recorded.get("fingerprint") != job.fingerprint():
            raise UserError(f"{out} holds a different job (settings differ); use the same command to resume, or a new --out")
        return True
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"output {out} already exists and is not empty; choose a new --out or remove it")
    parent = out if out.exists() else out.parent
    if not parent.exists():
        raise UserError(f"parent folder {parent} of --out does not exist; create it first")
    probe = parent / f".dst3d-write-test-{os.getpid()}-{time.time_ns()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {parent} ({exc.strerror}); choose a writable --out") from None
    return False


def start_output(out: Path, job: JobConfig, samples: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if not (out / JOB_FILE).exists():
        write_json_atomic(out / JOB_FILE, {"job": job.model_dump(mode="json"), "samples": samples, "fingerprint": job.fingerprint(), "dst3d": __version__})


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


def remove_partial_files(out: Path) -> int:
    """Temporary shard files left by a killed writer (only ever called under the lock)."""
    stale = list((out / DATA_DIR).glob(".*.tmp*")) if (out / DATA_DIR).exists() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def pending_shards(out: Path, shards: list[range]) -> list[int]:
    n = len(shards)
    return [i for i in range(n) if not (out / shard_name(i, n)).exists()]


@dataclass
class RunStatus:
    out: Path
    samples: int
    samples_done: int
    shards: int
    shards_done: int
    running_pid: int | None
    stats: dict | None


def run_status(out: Path) -> RunStatus:
    job_file = out / JOB_FILE
    if not job_file.is_file():
        raise UserError(f"{out} is not a dst3d run folder (no {JOB_FILE})")
    recorded = json.loads(job_file.read_text())
    job = JobConfig.model_validate(recorded["job"])
    total = int(recorded["samples"])
    shards = [range(s, min(s + job.shard_size, total)) for s in range(0, total, job.shard_size)]
    missing = set(pending_shards(out, shards))
    done = sum(len(r) for i, r in enumerate(shards) if i not in missing)
    stats_file = out / STATS_FILE
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else None
    return RunStatus(out, total, done, len(shards), len(shards) - len(missing), lock_holder(out), stats)
