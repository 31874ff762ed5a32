"""`dst3d export`: write a dataset folder as BOP, COCO or multi-view groups."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def export_command(
    data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
    format: str = typer.Option(..., "--format", help="bop, coco or multiview"),
    out: Path = typer.Option(..., "--out", help="new output folder (must not exist or be empty)"),
    cad_library: Optional[Path] = typer.Option(None, "--cad-library", help="CAD library the data was made with, for BOP models (default: the one in dst3d_job.json)"),
    split: str = typer.Option("train", "--split", help="dataset split to export, e.g. filtered after `dst3d filter`"),
    depth: bool = typer.Option(True, "--depth/--no-depth", help="BOP: re-render depth/, mask/ and mask_visib/ images and the px_count_* fields (--no-depth: poses, boxes and images only, much faster)"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)", show_default=False),
) -> None:
    """Export to BOP (scenes, poses in mm, depth and masks, models in mm), COCO (boxes, keypoints, pose per annotation) or multiview (a folder per view group: images, transforms.json, caption.txt)."""
    from . import export

    path = export(data, format, out, cad_library, split, depth=depth, progress=progress if progress is not None else sys.stderr.isatty())
    typer.echo(f"wrote {format.strip().lower()} export to {path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
