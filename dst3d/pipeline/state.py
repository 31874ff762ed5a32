"""A run's state on disk: the job file, the writer lock, finished shards, run statistics.

Nothing else is kept: a shard is done when its file and its integrity record (rows, bytes,
sha256; written right after the shard's atomic rename) agree, so a killed run resumes by
redoing the shards that are missing, unrecorded or damaged.
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
from ..store.dataset import ABSENT, OK, UNRECORDED, shard_state
from ..store.shards import DATA_DIR, JOB_FILE, shard_name
from .job import JobConfig, Plan, identity_differences

LOCK_FILE = ".dst3d.lock"
STATS_FILE = "dst3d_stats.json"


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


def check_output(out: Path, job: JobConfig, plan: Plan | None = None) -> bool:
    """Before any work: True to resume a run of the same job, False for a fresh folder.

    Refuses a folder holding other files or a different job (naming the settings or CAD
    models that differ), and an unwritable place.
    """
    job_file = out / JOB_FILE
    if job_file.is_file():
        recorded = read_job_record(out)
        plan = plan or Plan(job)
        if recorded.get("fingerprint") != plan.fingerprint():
            if "identity" in recorded:
                differences = identity_differences(recorded["identity"], plan.identity())
                what = "; ".join(differences) if differences else "settings differ"
            else:
                what = "settings differ (recorded by an older dst3d)"
            raise UserError(f"{out} holds a different job: {what}; use the same command and CAD library to resume, or a new --out")
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


def start_output(out: Path, job: JobConfig, samples: int, plan: Plan | None = None) -> None:
    """Create OUT and its job file: the settings (local paths of backend options replaced by
    name + listing hash; the CAD library's location kept, for readers here), the sample
    count, and the job's identity and fingerprint (see :meth:`Plan.identity`)."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / JOB_FILE).exists():
        plan = plan or Plan(job)
        settings = {**job.public(), "cad_library": job.cad_library}
        write_json_atomic(out / JOB_FILE, {"job": settings, "samples": samples, "fingerprint": plan.fingerprint(),
                                           "identity": plan.identity(), "dst3d": __version__})


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


def shard_states(out: Path, n_shards: int, full: bool = True) -> dict[int, str]:
    """State of every train shard of a run: ``ok``, ``absent``, ``unrecorded`` or a problem."""
    return {i: shard_state(out / shard_name(i, n_shards), full) for i in range(n_shards)}


def pending_shards(out: Path, shards: list[range], states: dict[int, str] | None = None) -> list[int]:
    """Shards to (re)make: missing, without a record, or not matching it (full sha256)."""
    states = states if states is not None else shard_states(out, len(shards))
    return [i for i, state in states.items() if state != OK]


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
    try:
        job = JobConfig.model_validate(recorded["job"])
    except ValueError:
        raise UserError(f"{job_file} holds invalid job settings; remove {out} or choose a new --out") from None
    total = int(recorded["samples"])
    shards = [range(s, min(s + job.shard_size, total)) for s in range(0, total, job.shard_size)]
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
