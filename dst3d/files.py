"""Atomic file writes: a file either has its old content or its new one, never half of it.

Every writer of dst3d goes through here, so a kill, a full disk or a crash mid-write never
leaves a truncated JSON, card, shard or image behind (the temporary sibling is removed).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden temporary sibling of ``path`` to write to; renamed onto ``path`` on
    success, removed on failure. For writers that want a file name (parquet, matplotlib, cv2)."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | os.PathLike, data, indent: int | None = 1) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=indent) + "\n")


def probe_writable(folder: str | os.PathLike, hint: str) -> None:
    """A one-line UserError (ending in ``hint``) unless ``folder`` accepts a new file: checked
    before any work, so a read-only place fails at once, not after the compute."""
    from .errors import UserError

    probe = Path(folder) / f".dst3d-write-test-{os.getpid()}-{time.time_ns()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {folder} ({exc.strerror or exc}); {hint}") from None


def read_json_object(path: str | os.PathLike, what: str, example: str) -> dict:
    """The JSON object in a user's file (keypoints, rotations, ...), or one line saying what
    is wrong with it and what it should look like (``example``)."""
    from .errors import UserError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {what} file {path}: {exc}; give a JSON object like {example}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {path} must hold a JSON object like {example}")
    return data

