"""`dst3d import-bop`: a BOP scene (photos + GT poses) as a dst3d dataset, one record per GT instance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer


def import_bop_command(
    scene: Path = typer.Argument(..., help="BOP scene folder (scene_gt.json, rgb/, scene_camera.json or a camera.json here or above)"),
    out: Path = typer.Option(..., "--out", help="new dataset folder (must not exist or be empty)"),
    models: Optional[Path] = typer.Option(None, "--models", help="the BOP models folder (obj_000001.ply, ...): each library model is checked to align with its BOP model (default: no check)", show_default=False),
    frames: Optional[str] = typer.Option(None, "--frames", help="image ids to import, inclusive ranges, e.g. 0-611 or 3,8,17 (default: all); other frames are never read", show_default=False),
    objects: Optional[str] = typer.Option(None, "--objects", help="BOP obj ids to make records of, optionally mapped to CAD models: 1,5 or 1=lmo_ape,5=lmo_can (default: every object; models found by id or source obj_0000NN); all annotated objects in the library occlude", show_default=False),
    cad_library: Optional[Path] = typer.Option(None, "--cad-library", help="CAD library holding the scene's models, imported with `dst3d cad import` (default: $DST3D_CAD_LIBRARY, else the shipped one)", show_default=False),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar (default: when stderr is a terminal)", show_default=False),
) -> None:
    """Import a BOP scene: K from BOP's pixel-centre convention, R projected to a rotation, t in the CAD model's units,
    allocentric azimuth/elevation/theta beside the egocentric R, t, visibility by a z-test among the annotated objects."""
    from .bop import import_bop

    summary = import_bop(scene, out, cad_library, models, frames, objects, progress=progress if progress is not None else sys.stderr.isatty())
    objs = ", ".join(f"{k}={v}" for k, v in sorted(summary.objects.items()))
    typer.echo(f"{summary.records} records from {summary.frames} frames ({summary.skipped_frames} outside --frames, not read) in {summary.out}; objects {objs}")


def register(app: typer.Typer) -> None:
    app.command("import-bop")(import_bop_command)
