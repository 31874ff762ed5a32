"""What both exporters share: streaming rows, an all-or-nothing output folder, images."""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq

from ..errors import UserError
from ..store.shards import DATA_DIR, shard_files

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def dataset_shards(root: Path, split: str = "train") -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist")
    files = shard_files(root, split)
    if not files:
        hint = "run `dst3d generate` first" if split == "train" else "choose a split the dataset has"
        raise UserError(f"{root} holds no dataset shards ({DATA_DIR}/{split}-*.parquet); {hint}")
    return files


def iter_rows(root: Path, columns: list[str] | None = None, split: str = "train", batch_size: int = 64) -> Iterator[dict]:
    """Rows in index order, a row group at a time: memory stays flat for any dataset size."""
    for path in dataset_shards(root, split):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
            yield from batch.to_pylist()


def check_out(out: Path) -> None:
    """Refuse an existing non-empty --out and a missing parent before any work."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"output {out} already exists and is not empty; choose a new --out or remove it")
    if not out.parent.is_dir():
        raise UserError(f"parent folder {out.parent} of --out does not exist; create it first")


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """A hidden sibling folder that becomes ``out`` only when the export succeeded."""
    out = Path(out)
    check_out(out)
    tmp = out.parent / f".{out.name}.dst3d-export-{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
    except OSError as exc:
        raise UserError(f"cannot write to {out.parent} ({exc.strerror}); choose a writable --out") from None
    try:
        yield tmp
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_image(cell: dict, path: Path) -> None:
    """Write an Image cell as PNG; PNG bytes are copied as they are (lossless, no re-encode)."""
    data = cell.get("bytes") if isinstance(cell, dict) else None
    if data is None and isinstance(cell, dict) and cell.get("path"):
        data = Path(cell["path"]).read_bytes()
    if data is None:
        raise UserError(f"an image cell holds no data; cannot export {path.name}")
    if not data.startswith(PNG_MAGIC):
        import cv2
        import numpy as np

        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        ok, buf = cv2.imencode(".png", image)
        if image is None or not ok:
            raise UserError(f"cannot decode the image for {path.name}")
        data = buf.tobytes()
    path.write_bytes(data)


def write_json(path: Path, data, compact: bool = False) -> None:
    """JSON with one top-level entry per line (as bop_toolkit writes it), or one line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compact or not isinstance(data, dict):
        text = json.dumps(data, separators=(",", ":"))
    else:
        text = "{\n" + ",\n".join(f" {json.dumps(str(k))}: {json.dumps(v)}" for k, v in data.items()) + "\n}"
    path.write_text(text + "\n")


def job_info(root: Path) -> dict:
    from ..store.shards import read_job_file

    return read_job_file(root)
