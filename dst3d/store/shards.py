"""Hub-ready parquet shards under ``data/``, each written atomically.

A shard is a fixed, contiguous range of sample indices, so its name is known before it
is written and "shard file exists" means "those samples are done": resuming a run or
spreading it over machines needs nothing more.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..files import atomic_path
from .schema import FEATURES

DATA_DIR = "data"
JOB_FILE = "dst3d_job.json"  # the job that made the folder (written by the pipeline)


def read_job_file(root: Path) -> dict:
    """The run folder's job record ({"job", "samples", "fingerprint", ...}); {} if absent."""
    try:
        return json.loads((Path(root) / JOB_FILE).read_text())
    except (OSError, ValueError):
        return {}


def shard_name(shard: int, n_shards: int, split: str = "train") -> str:
    return f"{DATA_DIR}/{split}-{shard:05d}-of-{n_shards:05d}.parquet"


def write_shard(root: Path, shard: int, n_shards: int, rows: list[dict], split: str = "train") -> Path:
    """Write rows to their shard via a temporary file and an atomic rename."""
    path = Path(root) / shard_name(shard, n_shards, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=FEATURES.arrow_schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=64)
    return path


def shard_files(root: Path, split: str = "train") -> list[Path]:
    return sorted((Path(root) / DATA_DIR).glob(f"{split}-*-of-*.parquet"))
