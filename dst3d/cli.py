"""The `dst3d` command line. Each stage contributes its commands through `register(app)`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer

from . import __version__
from .config import default_help, given
from .errors import UserError
from .pipeline.job import JobConfig

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

# Stage modules that add commands; each has `register(app: typer.Typer) -> None`.
COMMAND_MODULES = [
    "dst3d.cad.commands",  # cad build/list/import/show
    "dst3d.prompts.commands",  # prompts build
    "dst3d.posenet.commands",  # train-pose, eval-pose
    "dst3d.kcf.commands",  # filter
    "dst3d.score.commands",  # score
    "dst3d.hub.commands",  # publish
    "dst3d.exporters.commands",  # export
    "dst3d.ingest.commands",  # import-bop
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dst3d {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version and exit")) -> None:
    """Pose-labelled image datasets by 3D Diffusion Style Transfer."""


def _split_classes(values: list[str] | None) -> list[str] | None:
    """``--classes a,b --classes c`` -> [a, b, c] (every value kept, each comma-split)."""
    if not values:
        return None
    return [c.strip() for value in values for c in value.split(",") if c.strip()]


def _progress(flag: bool | None) -> bool:
    """Progress bars only into a terminal unless asked for (the same rule in every command)."""
    return sys.stderr.isatty() if flag is None else flag


PROGRESS_HELP = "progress bars on stderr (default: when stderr is a terminal)"


@app.command()
def generate(
    classes: Optional[list[str]] = typer.Option(None, help="synsets or class names, comma-separated or repeated, e.g. car,n02690373 (required unless --config names them)", show_default=False),
    per_class: Optional[int] = typer.Option(None, help=default_help(JobConfig, "per_class", "images per class"), show_default=False),
    out: Path = typer.Option(..., help="output folder (a new Hugging Face dataset repo)"),
    backend: Optional[str] = typer.Option(None, help=default_help(JobConfig, "backend", "appearance backend: render (offline) or controlnet"), show_default=False),
    config: Optional[Path] = typer.Option(None, help="job YAML/JSON; command-line values override it (default: none)", show_default=False),
    seed: Optional[int] = typer.Option(None, help=default_help(JobConfig, "seed", "job seed, a non-negative integer"), show_default=False),
    size: Optional[int] = typer.Option(None, help=default_help(JobConfig, "width", "image width and height in pixels"), show_default=False),
    cad_library: Optional[Path] = typer.Option(None, help="CAD library folder (default: the shipped cad_aligned/)", show_default=False),
    base_model: Optional[str] = typer.Option(None, help="controlnet backend: base model hub id or local folder (default: the backend's)", show_default=False),
    controlnet: Optional[str] = typer.Option(None, help="controlnet backend: ControlNet hub id or local folder (default: the backend's)", show_default=False),
    steps: Optional[int] = typer.Option(None, help="controlnet backend: denoising steps (default: the backend's)", show_default=False),
    engine: str = typer.Option("local", help="local (this machine) or ray (a Ray cluster) (default: local)", show_default=False),
    workers: int = typer.Option(1, min=1, help="worker processes (local) or appearance actors (ray) (default: 1)", show_default=False),
    address: Optional[str] = typer.Option(None, help="Ray cluster address, e.g. ray://head:10001 (default: start a local one)", show_default=False),
    views_per_object: Optional[int] = typer.Option(None, help="multi-view groups: views of one object instance, sharing its model, prompt and appearance (per-class counts images: a multiple of it) (default: 1, no groups; zero123pp: 6)", show_default=False),
    view_layout: Optional[str] = typer.Option(None, help="multi-view layout: orbit (even azimuths at 15 deg elevation), zero123pp (6 views, FOV 30) or random (default: orbit)", show_default=False),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help=PROGRESS_HELP, show_default=False),
) -> None:
    """Render, condition and generate a pose-labelled dataset into OUT.

    Run the same command again to resume an interrupted run: finished shards are kept, damaged or deleted ones are remade.
    """
    from rich.console import Console
    from rich.table import Table

    from . import api

    overrides = given(
        classes=_split_classes(classes),
        per_class=per_class, backend=backend, seed=seed, width=size, height=size,
        cad_library=str(cad_library) if cad_library else None,
        views=given(per_object=views_per_object, layout=view_layout) or None,
    )
    job = api.load_job(config, overrides, backend_options=given(base_model=base_model, controlnet=controlnet, steps=steps))
    if view_layout is not None and not job.views.active():
        raise UserError(f"--view-layout {view_layout} needs --views-per-object N (N of at least 2 views per object)")
    summary = api.generate(job, out, progress=_progress(progress), engine=engine, workers=workers, address=address)
    console = Console()
    if summary.remade:
        names = "; ".join(f"{name} was {what}" for name, what in summary.remade.items())
        typer.echo(f"remade {len(summary.remade)} damaged or deleted shard{'s' if len(summary.remade) != 1 else ''}: {names}")
    if not summary.timings:
        console.print(f"{summary.out}: all {summary.samples} samples were already done")
        return
    console.print(f"{summary.samples} samples in {summary.out} ({summary.elapsed:.1f} s this run); `dst3d inspect {summary.out}` to look")
    table = Table(title="time per stage")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in summary.timings.items():
        table.add_row(stage, f"{seconds:.2f}")
    console.print(table)


@app.command()
def inspect(
    data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
    out: Optional[Path] = typer.Option(None, help="folder for the PNGs (default: DATA/inspect)", show_default=False),
    n: int = typer.Option(16, help="samples on the contact sheet, at least 1 (default: 16)", show_default=False),
) -> None:
    """Write a contact sheet (image, control, pose axes) and a pose-distribution plot."""
    from . import api

    for path in api.inspect(data, out, n):
        typer.echo(str(path))


@app.command()
def status(data: Path = typer.Argument(..., help="a run folder of `dst3d generate`")) -> None:
    """Show a run's progress: shards and samples done, whether a writer is active, damaged shards.

    Every finished shard is checked against the sha256 recorded when it was written; missing or damaged ones are named.
    """
    from .store.run_state import run_status

    st = run_status(data)
    typer.echo(f"{st.out}: {st.samples_done}/{st.samples} samples, {st.shards_done}/{st.shards} shards, {st.state}")
    if st.problems:
        typer.echo("damaged: " + "; ".join(f"{name} is {what}" for name, what in st.problems.items()))
    if st.stats:
        timings = ", ".join(f"{k} {v:.1f}s" for k, v in st.stats.get("timings_s", {}).items() if isinstance(v, (int, float)))
        elapsed = st.stats.get("elapsed_s", 0)
        typer.echo(f"last run: {elapsed if isinstance(elapsed, (int, float)) else 0:.1f}s, engine {st.stats.get('engine')}, {timings}")


def _register_stage_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_stage_commands()


def main() -> None:
    """Entry point: user mistakes print one line on stderr and exit 2, no traceback.

    Usage errors (unknown option, missing argument) are click's own, also exit 2.
    """
    import errno

    try:
        app()
    except UserError as exc:
        typer.echo("error: " + " ".join(str(exc).split("\n")), err=True)
        sys.exit(2)
    except OSError as exc:  # a full disk or a read-only place met by any command: one line, not a traceback
        reasons = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only",
                   errno.EACCES: "permission denied", errno.EPERM: "permission denied"}
        if exc.errno not in reasons:
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        typer.echo(f"error: cannot write{where}: {reasons[exc.errno]}; nothing half-written was kept, free space or choose a writable place and run the command again", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as exc:  # typer turns Ctrl-C into a silent exit 130: say what happened
        if exc.code == 130 and _from_ctrl_c(exc):
            _interrupted()
        raise


def _from_ctrl_c(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _interrupted() -> None:
    typer.echo("interrupted; finished work is kept (run the same command again to resume a generate)", err=True)
    sys.exit(130)
