"""Hub-ready parquet shards under ``data/``, each written atomically with its record.

A shard is a fixed, contiguous range of sample indices, so its name is known before it
is written. Next to each shard, a hidden record ``data/.<shard name>.json`` holds its row
count, size and sha256. The shard is renamed into place first and its record second (both
atomically), so "done" means "shard and matching record": a crash between the two leaves
a shard without a record, which counts as not done and is remade; a record without its
shard means the shard was deleted after it was finished. Readers check shards against
their records in :func:`dst3d.store.dataset.open_dataset` (one place).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..files import atomic_path, write_json_atomic
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


def record_path(shard: Path) -> Path:
    """The hidden integrity record of a shard file (never matched by ``<split>-*`` globs)."""
    shard = Path(shard)
    return shard.with_name(f".{shard.name}.json")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_table_shard(path: Path, table: pa.Table) -> Path:
    """Write ``table`` to the shard file ``path`` (a temporary file renamed into place), then
    its record (rows, bytes, sha256 of the bytes as written). Every shard writer uses this."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=64)
        record = {"shard": path.name, "rows": table.num_rows, "bytes": tmp.stat().st_size, "sha256": file_sha256(tmp)}
    write_json_atomic(record_path(path), record)
    return path


def write_shard(root: Path, shard: int, n_shards: int, rows: list[dict], split: str = "train") -> Path:
    """Write rows to their shard, then the shard's record (see the module doc)."""
    rows = [public_row(r) for r in rows]
    table = pa.Table.from_pylist(rows, schema=FEATURES.arrow_schema)
    return write_table_shard(Path(root) / shard_name(shard, n_shards, split), table)


def shard_files(root: Path, split: str = "train") -> list[Path]:
    return sorted((Path(root) / DATA_DIR).glob(f"{split}-*-of-*.parquet"))


# --- no local paths in what is stored -----------------------------------------------------------
def public_path(value: str) -> str:
    """A local file or folder named by its name and a hash of its listing (names and sizes),
    ``photos@sha256:0123456789abcdef``: what the path meant, without the machine's layout."""
    path = Path(value).expanduser()
    if path.is_dir():
        entries = sorted((p.relative_to(path).as_posix(), p.stat().st_size) for p in path.rglob("*") if p.is_file())
    else:
        entries = [(path.name, path.stat().st_size)]
    digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]
    return f"{path.resolve().name}@sha256:{digest}"


def is_local_path(value) -> bool:
    """An absolute path, or a relative one naming an existing file or folder (e.g. a local
    model folder or a backgrounds folder); hub ids and plain words are not."""
    if not isinstance(value, str) or not value or "\n" in value or len(value) > 4096:
        return False
    if os.path.isabs(value) or value.startswith("~"):
        return True
    return ("/" in value or os.sep in value or value.startswith(".")) and os.path.exists(value)


def public_settings(settings):
    """``settings`` (nested dicts/lists) with every local path replaced by :func:`public_path`."""
    if isinstance(settings, dict):
        return {k: public_settings(v) for k, v in settings.items()}
    if isinstance(settings, list):
        return [public_settings(v) for v in settings]
    if isinstance(settings, str) and settings.startswith("local:") and is_local_path(settings[6:]):
        return "local:" + public_settings(settings[6:])  # a local model folder's recorded "revision"
    if is_local_path(settings):
        try:
            return public_path(settings)
        except OSError:
            return Path(settings).name
    return settings


_PUBLIC_GENERATION: dict[str, str] = {}


def public_row(row: dict) -> dict:
    """The row with local paths in its ``generation`` JSON replaced (unchanged otherwise:
    the same bytes when there are none)."""
    text = row.get("generation")
    if not isinstance(text, str) or ("/" not in text and "\\" not in text and "~" not in text):
        return row
    if text not in _PUBLIC_GENERATION:
        try:
            parsed = json.loads(text)
        except ValueError:
            _PUBLIC_GENERATION[text] = text
        else:
            public = public_settings(parsed)
            _PUBLIC_GENERATION[text] = text if public == parsed else json.dumps(public, sort_keys=True)
    return {**row, "generation": _PUBLIC_GENERATION[text]}

