"""Writing a run's state: the job file, partial files, which shards to (re)make. Reading it
(lock, status) is :mod:`dst3d.store.run_state`.

Nothing else is kept: a shard is done when its file and its integrity record (rows, bytes,
sha256; written right after the shard's atomic rename) agree, so a killed run resumes by
redoing the shards that are missing, unrecorded or damaged.
"""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..files import probe_writable, write_json_atomic
from ..store.run_state import OK, read_job_record, shard_states
from ..store.shards import DATA_DIR, JOB_FILE
from .job import JobConfig, Plan, identity_differences



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
    probe_writable(parent, "choose a writable --out")
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


def remove_partial_files(out: Path) -> int:
    """Temporary shard files left by a killed writer (only ever called under the lock)."""
    stale = list((out / DATA_DIR).glob(".*.tmp*")) if (out / DATA_DIR).exists() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def pending_shards(out: Path, shards: list[range], states: dict[int, str] | None = None) -> list[int]:
    """Shards to (re)make: missing, without a record, or not matching it (full sha256)."""
    states = states if states is not None else shard_states(out, len(shards))
    return [i for i, state in states.items() if state != OK]


