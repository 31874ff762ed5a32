"""Hub-ready parquet shards under ``data/``, each written atomically.

A shard is a fixed, contiguous range of sample indices, so its name is known before it
is written and "shard file exists" means "those samples are done": resuming a run or
spreading it over machines needs nothing more.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, row_group_size=64)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def shard_files(root: Path, split: str = "train") -> list[Path]:
    return sorted((Path(root) / DATA_DIR).glob(f"{split}-*-of-*.parquet"))


def read_table(root: Path, columns: list[str] | None = None, split: str = "train") -> pa.Table:
    """All finished shards as one Arrow table (images stay encoded)."""
    files = shard_files(root, split)
    if not files:
        from ..errors import UserError

        raise UserError(f"{root} holds no dataset shards ({DATA_DIR}/{split}-*.parquet); run `dst3d generate` first")
    return pa.concat_tables(pq.read_table(f, columns=columns) for f in files)


def sample_rows(root: Path, n: int) -> list[dict]:
    """Rows evenly spread over the dataset, reading only the row groups they sit in."""
    files = shard_files(root)
    counts = [pq.ParquetFile(f).metadata.num_rows for f in files]
    total = sum(counts)
    picks = sorted(set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist()))
    rows, start = [], 0
    for path, count in zip(files, counts):
        local = [p - start for p in picks if start <= p < start + count]
        start += count
        if not local:
            continue
        pf = pq.ParquetFile(path)
        offsets = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
        for group in sorted({int(np.searchsorted(offsets, i, side="right") - 1) for i in local}):
            part = pf.read_row_group(group)
            take = [i - offsets[group] for i in local if offsets[group] <= i < offsets[group + 1]]
            rows.extend(part.take(pa.array(take)).to_pylist())
    return rows
