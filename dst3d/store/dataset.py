"""Reading a dataset folder: ``open_dataset(root, split)`` owns every check of its shards.

Readers (inspection, the card, KCF, pose training, exports, publishing) open a dataset
here and nowhere else, so "is this a dataset, does it hold the split, is every shard there
and intact" is asked and answered in one place, with one message. Each shard has a record
(rows, bytes, sha256; see :mod:`.shards`): the quick check compares size and the parquet
footer's row count with it, the full check (status, resume, publish) also the sha256.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from .record import Record
from .shards import DATA_DIR, JOB_FILE, file_sha256, read_job_file, record_path, shard_files

OK = "ok"
ABSENT = "absent"  # never written (or removed with its record): not done
UNRECORDED = "unrecorded"  # no record: an interrupted write (not done), or a foreign file
_NAME = re.compile(r"(?P<split>[A-Za-z0-9_]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet")


def shard_state(path: Path, full: bool = False) -> str:
    """``ok``, ``absent``, ``unrecorded``, or a problem ("missing ...", "damaged ...")."""
    path = Path(path)
    record_file = record_path(path)
    exists = path.is_file()
    try:
        record = json.loads(record_file.read_text()) if record_file.is_file() else None
        if record is not None and not isinstance(record, dict):
            raise ValueError
    except (OSError, ValueError):
        return "damaged (its integrity record is unreadable)" if exists else ABSENT
    if not exists:
        return "missing (it was finished, then deleted)" if record is not None else ABSENT
    if record is None:
        return UNRECORDED
    size = path.stat().st_size
    if size != record.get("bytes"):
        return f"damaged ({size} bytes, {record.get('bytes')} when written: truncated or overwritten)"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception:  # noqa: BLE001 - pyarrow raises several types for a bad footer
        return "damaged (its parquet footer is unreadable)"
    if rows != record.get("rows"):
        return f"damaged ({rows} rows, {record.get('rows')} when written)"
    if full and file_sha256(path) != record.get("sha256"):
        return "damaged (its sha256 differs from the one recorded when it was written)"
    return OK


def expected_shards(root: Path, split: str = "train") -> int | None:
    """Shards the run's job file says the train split has (None without a job file)."""
    if split != "train":
        return None
    recorded = read_job_file(root)
    try:
        samples, size = int(recorded["samples"]), int(recorded["job"]["shard_size"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(1, -(-samples // size)) if samples > 0 and size > 0 else None


@dataclass
class ShardCheck:
    """The outcome of checking one split: its shard files in order and what is wrong."""

    files: list[Path]
    problems: dict[str, str]  # "data/train-00001-of-00003.parquet" -> what is wrong

    def message(self, root: Path, split: str) -> str:
        items = list(self.problems.items())
        shown = "; ".join(f"{name} is {what}" for name, what in items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")
        if split == "train" and (Path(root) / JOB_FILE).is_file():
            hint = "run the same `dst3d generate` command again to remake it (`dst3d status` shows the run)"
        elif split == "filtered":
            hint = "run `dst3d filter` again to rewrite the split"
        else:
            hint = "restore the shard files"
        return f"{root}: {len(items)} shard{'s' if len(items) != 1 else ''} of split '{split}' cannot be used: {shown}; {hint}"


def check_shards(root: str | Path, split: str = "train", full: bool = False) -> ShardCheck:
    """Every shard of ``split`` present (names ``<split>-XXXXX-of-NNNNN`` all of one run,
    the count the job file says), each matching its record (quick or ``full``)."""
    root = Path(root)
    files = shard_files(root, split)
    problems: dict[str, str] = {}
    totals = set()
    for path in files:
        match = _NAME.fullmatch(path.name)
        if match is None or match["split"] != split:
            problems[f"{DATA_DIR}/{path.name}"] = "misnamed (expected <split>-XXXXX-of-NNNNN.parquet)"
        else:
            totals.add(int(match["n"]))
    for record in sorted((root / DATA_DIR).glob(f".{split}-*-of-*.parquet.json")):
        match = _NAME.fullmatch(record.name[1:-5])
        if match:
            totals.add(int(match["n"]))
    expected = expected_shards(root, split)
    if expected is not None:
        totals.add(expected)
    if len(totals) > 1:
        problems[f"{DATA_DIR}/{split}-*"] = f"a mix of runs (shard counts {', '.join(str(t) for t in sorted(totals))}; the job file says {expected})" if expected else f"a mix of runs (shard counts {', '.join(str(t) for t in sorted(totals))})"
        return ShardCheck(files, problems)
    n = totals.pop() if totals else 0
    from .shards import shard_name

    recorded_split = any((root / DATA_DIR).glob(f".{split}-*-of-*.parquet.json"))
    for i in range(n):
        name = shard_name(i, n, split)
        state = shard_state(root / name, full)
        if state == ABSENT:
            problems[name] = "missing"
        elif state == UNRECORDED:
            if recorded_split:
                problems[name] = "unverified (no integrity record: its write was interrupted)"
            else:  # a split written without any records (older dst3d, other tools): structure only
                try:
                    pq.ParquetFile(root / name).metadata
                except Exception:  # noqa: BLE001
                    problems[name] = "damaged (its parquet footer is unreadable)"
        elif state != OK:
            problems[name] = state
    return ShardCheck(files, problems)


def _read_error(path: Path, exc: BaseException) -> UserError:
    return UserError(f"shard {path} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'damaged'}); "
                     "`dst3d status` checks every shard, the same `dst3d generate` command remakes damaged ones")


class Dataset:
    """The shards of one split of a dataset folder, in index order (all present, checked)."""

    def __init__(self, root: Path, split: str, files: list[Path], verified: bool = False):
        self.root, self.split, self.files = Path(root), split, files
        self.verified = verified  # every shard matched its record's sha256

    def _footer(self, path: Path) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001
            raise _read_error(path, exc) from None

    def __len__(self) -> int:
        return sum(self._footer(f).metadata.num_rows for f in self.files)

    @property
    def job(self) -> dict:
        """The run's job record ({"job", "samples", "fingerprint", ...}); {} if absent."""
        return read_job_file(self.root)

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """All rows as one Arrow table (images stay encoded)."""
        tables = []
        for f in self.files:
            try:
                tables.append(pq.read_table(f, columns=columns))
            except (OSError, pa.ArrowException) as exc:
                raise _read_error(f, exc) from None
        return pa.concat_tables(tables)

    def iter_rows(self, columns: list[str] | None = None, batch_size: int = 64) -> Iterator[dict]:
        """Rows a batch at a time: memory stays flat for any dataset size."""
        for path in self.files:
            try:
                for batch in self._footer(path).iter_batches(batch_size=batch_size, columns=columns):
                    yield from batch.to_pylist()
            except (OSError, pa.ArrowException) as exc:
                raise _read_error(path, exc) from None

    def records(self, columns: list[str] | None = None) -> Iterator[Record]:
        for row in self.iter_rows(columns):
            yield Record.from_row(row)

    def sample_rows(self, n: int) -> list[dict]:
        """``n`` rows evenly spread over the dataset, reading only the row groups they sit in."""
        counts = [self._footer(f).metadata.num_rows for f in self.files]
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
            pf = self._footer(path)
            offsets = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
            for group in sorted({int(np.searchsorted(offsets, i, side="right") - 1) for i in local}):
                try:
                    part = pf.read_row_group(group)
                except (OSError, pa.ArrowException) as exc:
                    raise _read_error(path, exc) from None
                take = [i - offsets[group] for i in local if offsets[group] <= i < offsets[group + 1]]
                rows.extend(part.take(pa.array(take)).to_pylist())
        return rows


def open_dataset(root: str | Path, split: str = "train", verify: str = "quick") -> Dataset:
    """The dataset in ``root`` (a folder made by ``dst3d generate``); one-line errors for a
    missing folder, a split without shards, and a missing, damaged or unverified shard.

    ``verify``: ``quick`` (size and footer row count against each shard's record) or
    ``full`` (also the sha256 of every byte: status, resume and publish use it).
    """
    if verify not in ("quick", "full"):
        raise ValueError(f"verify must be 'quick' or 'full', not {verify!r}")
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    check = check_shards(root, split, full=verify == "full")
    if not check.files and not check.problems:
        hint = "run `dst3d generate` first" if split == "train" else "choose a split the dataset has"
        raise UserError(f"{root} holds no dataset shards ({DATA_DIR}/{split}-*.parquet); {hint}")
    if check.problems:
        raise UserError(check.message(root, split))
    recorded = all(record_path(f).is_file() for f in check.files)
    return Dataset(root, split, check.files, verified=verify == "full" and recorded)


def read_table(root: str | Path, columns: list[str] | None = None, split: str = "train") -> pa.Table:
    """``open_dataset(root, split).table(columns)``."""
    return open_dataset(root, split).table(columns)
