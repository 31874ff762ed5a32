"""Exports of a dataset folder to other layouts (`dst3d export`): BOP, COCO and multi-view groups."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UserError

FORMATS = ("bop", "coco", "multiview")


def export(root: Path, fmt: str, out: Path, cad_library: Path | None = None, split: str = "train",
           depth: bool = True, progress: bool = False) -> Path:
    """Write split ``split`` of the dataset in ``root`` to ``out`` in format ``fmt``; nothing is
    written on error. The export's own split folder/file is always named ``train``.
    ``depth`` (BOP only): re-render depth and mask images; ``progress``: a bar on stderr."""
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    if not re.fullmatch(r"\w+", split or ""):
        raise UserError(f"invalid split name '{split}'; e.g. train or filtered")
    if fmt == "bop":
        from .bop import export_bop

        return export_bop(root, out, cad_library, split, depth=depth, progress=progress)
    if fmt == "multiview":
        from .multiview import export_multiview

        return export_multiview(root, out, split, progress=progress)
    from .coco import export_coco

    return export_coco(root, out, split, progress=progress)


__all__ = ["FORMATS", "export"]
