"""Reading a dataset folder: ``open_dataset(root, split)`` owns every check of its shards.

Readers (inspection, the card, KCF, pose training, exports, publishing) open a dataset
here and nowhere else, so "is this a dataset, does it hold the split" is asked and
answered in one place, with one message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from .record import Record
from .shards import DATA_DIR, read_job_file, shard_files


class Dataset:
    """The finished shards of one split of a dataset folder, in index order."""

    def __init__(self, root: Path, split: str, files: list[Path]):
        self.root, self.split, self.files = Path(root), split, files

    def __len__(self) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    @property
    def job(self) -> dict:
        """The run's job record ({"job", "samples", "fingerprint", ...}); {} if absent."""
        return read_job_file(self.root)

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """All rows as one Arrow table (images stay encoded)."""
        return pa.concat_tables(pq.read_table(f, columns=columns) for f in self.files)

    def iter_rows(self, columns: list[str] | None = None, batch_size: int = 64) -> Iterator[dict]:
        """Rows a batch at a time: memory stays flat for any dataset size."""
        for path in self.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
                yield from batch.to_pylist()

    def records(self, columns: list[str] | None = None) -> Iterator[Record]:
        for row in self.iter_rows(columns):
            yield Record.from_row(row)

    def sample_rows(self, n: int) -> list[dict]:
        """``n`` rows evenly spread over the dataset, reading only the row groups they sit in."""
        counts = [pq.ParquetFile(f).metadata.num_rows for f in self.files]
        total = sum(counts)
        if total == 0 or n <= 0:
            return []
        picks = sorted(set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist()))
        rows, start = [], 0
        for path, count in zip(self.files, counts):
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


def open_dataset(root: str | Path, split: str = "train") -> Dataset:
    """The dataset in ``root`` (a folder made by ``dst3d generate``); one-line errors for a
    missing folder or a split without shards."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    files = shard_files(root, split)
    if not files:
        hint = "run `dst3d generate` first" if split == "train" else "choose a split the dataset has"
        raise UserError(f"{root} holds no dataset shards ({DATA_DIR}/{split}-*.parquet); {hint}")
    return Dataset(root, split, files)


def read_table(root: str | Path, columns: list[str] | None = None, split: str = "train") -> pa.Table:
    """``open_dataset(root, split).table(columns)``."""
    return open_dataset(root, split).table(columns)
