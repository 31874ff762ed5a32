"""What both exporters share: an all-or-nothing output folder, safe file names, images,
JSON, and the one conversion between dst3d's pixel convention and BOP/COCO/OpenCV's."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import UserError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# --- names --------------------------------------------------------------------------------
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def safe_stem(value, what: str) -> str:
    """``value`` if it is a plain file name stem (letters, digits, ``_ . -``, not starting with
    a dot, at most 128 characters, no path separator); a one-line refusal otherwise. Names a
    dataset cell supplies go through here before they become part of an output path."""
    if not isinstance(value, str) or not SAFE_NAME.fullmatch(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 60 else repr(value[:57] + "...")
        raise UserError(f"{what} {shown} is not a safe file name (letters, digits, '_', '.', '-'; no path); "
                        "the dataset is damaged or not made by dst3d, regenerate it")
    return value


# --- output folder ------------------------------------------------------------------------
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


def inside(folder: Path, path: Path) -> Path:
    """``path``, checked to lie inside ``folder`` (a last guard behind the name checks)."""
    resolved, base = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    if base != resolved and base not in resolved.parents:
        raise UserError(f"refusing to write {path} outside the export folder")
    return path


# --- images and JSON -------------------------------------------------------------------------
def image_bytes(cell, what: str) -> bytes:
    """The PNG bytes of an Image cell. Only bytes stored in the dataset are used: a cell that
    names a file instead (``{"bytes": None, "path": ...}``) is refused, never read."""
    data = cell.get("bytes") if isinstance(cell, dict) else None
    if data is None:
        named = isinstance(cell, dict) and cell.get("path")
        raise UserError(f"{what} holds no image bytes{' (it names a file instead)' if named else ''}; "
                        "dst3d exports only images stored in the dataset, never files a dataset names")
    if not isinstance(data, (bytes, bytearray)):
        raise UserError(f"{what} holds no image bytes; the dataset is damaged, regenerate it")
    if data.startswith(PNG_MAGIC):
        return bytes(data)
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    ok, buf = cv2.imencode(".png", image) if image is not None else (False, None)
    if not ok:
        raise UserError(f"{what} cannot be decoded as an image; the dataset is damaged, regenerate it")
    return buf.tobytes()


def write_image(cell, path: Path, what: str) -> None:
    """Write an Image cell as PNG; PNG bytes are copied as they are (lossless, no re-encode)."""
    Path(path).write_bytes(image_bytes(cell, what))


def write_json(path: Path, data, compact: bool = False) -> None:
    """JSON with one top-level entry per line (as bop_toolkit writes it), or one line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if compact or not isinstance(data, dict):
        text = json.dumps(data, separators=(",", ":"))
    else:
        text = "{\n" + ",\n".join(f" {json.dumps(str(k))}: {json.dumps(v)}" for k, v in data.items()) + "\n}"
    path.write_text(text + "\n")
