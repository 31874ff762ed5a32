"""`dst3d cad ...`: build, list, import and look at the aligned CAD library; import the 3D-DST release,
fetch Objaverse objects, review a class, orient a model, init an empty library.

Heavy imports (trimesh, the renderer, cv2) stay inside the commands so `dst3d --help`
stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

LIBRARY_HELP = "CAD library folder (default: $DST3D_CAD_LIBRARY, else the shipped cad_aligned/)"


def _library_root(cad_library: Optional[Path]) -> Path:
    import os

    from .library import DEFAULT_LIBRARY

    return Path(cad_library or os.environ.get("DST3D_CAD_LIBRARY") or DEFAULT_LIBRARY)


def register(app: typer.Typer) -> None:
    cad = typer.Typer(help="The aligned CAD library: build, list, import, show.", no_args_is_help=True)
    app.add_typer(cad, name="cad")

    @cad.command("build")
    def build(
        out: Optional[Path] = typer.Option(None, help="library folder to write (default: --cad-library)"),
        instances: Optional[int] = typer.Option(None, help="parametric models per class (default: 5, as shipped)"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """(Re)generate the parametric models; imported models are kept, unchanged files are not rewritten."""
        from .parametric import build_library

        root = out or _library_root(cad_library)
        result = build_library(root) if instances is None else build_library(root, instances)
        count = sum(len(c.models) for c in result.manifest.classes.values())
        typer.echo(f"{count} models in {len(result.manifest.classes)} classes: {Path(root).resolve()} ({result.summary()})")

    @cad.command("list")
    def list_(cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP)) -> None:
        """One row per class: its models, face counts, symmetries and licences."""
        from rich.console import Console
        from rich.table import Table

        from .library import CadLibrary

        lib = CadLibrary(cad_library)
        table = Table(title=f"CAD library {lib.root}")
        for column in ("synset", "class", "pascal3d", "models", "faces", "symmetry", "licence", "tags"):
            table.add_column(column, overflow="fold")
        for synset, cls in sorted(lib.manifest.classes.items()):
            faces = [m.faces for m in cls.models]
            syms = sorted({_symmetry_text(m.symmetry) for m in cls.models})
            table.add_row(
                synset, cls.name, cls.pascal3d or "-", ", ".join(m.id for m in cls.models) or "-",
                f"{min(faces)}-{max(faces)}" if faces else "-", ", ".join(syms), ", ".join(sorted({m.license for m in cls.models})),
                _tags_summary(cls.models),
            )
        Console().print(table)

    @cad.command("import")
    def import_(
        mesh: Path = typer.Argument(..., help="OBJ, GLB/GLTF, PLY, OFF or STL file"),
        synset: str = typer.Option(..., help="ImageNet synset (or class name) to add the model to"),
        front: str = typer.Option(..., help="axis of the mesh the object's front faces: +x -x +y -y +z -z"),
        up: str = typer.Option(..., help="axis of the mesh that points up: +x -x +y -y +z -z"),
        id: Optional[str] = typer.Option(None, "--id", help="model id (default: from the file name)"),
        license: str = typer.Option("unknown", help="licence of the mesh, e.g. CC-BY-4.0"),
        source: Optional[str] = typer.Option(None, help="where the mesh came from, e.g. a URL (default: the file name)"),
        name: Optional[str] = typer.Option(None, help="class name, required to create a class for a new synset"),
        symmetry: Optional[str] = typer.Option(None, help="none | mirror:x | rotational:z:N (N=0: continuous)"),
        size_m: Optional[float] = typer.Option(None, help="real longest side in metres (default: the median of the class)"),
        keypoints: Optional[Path] = typer.Option(None, help='JSON file {"name": [x, y, z], ...} in the mesh\'s own coordinates'),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """Rotate a mesh into the canonical frame (+Z up, front -Y), normalize it and add it to the library."""
        from .importer import import_mesh, parse_symmetry, read_keypoints
        from .library import CadLibrary

        lib = CadLibrary(cad_library)
        model = import_mesh(lib, mesh, synset, front, up, model_id=id, source=source, license=license,
                            keypoints=read_keypoints(keypoints) if keypoints else None,
                            symmetry=parse_symmetry(symmetry) if symmetry else None, size_m=size_m, name=name)
        typer.echo(f"imported {model.id} ({model.faces} faces): {lib.mesh_path(model)}")

    @cad.command("show")
    def show(
        model_id: str = typer.Argument(..., metavar="ID", help="model id, e.g. car_00"),
        out: Optional[Path] = typer.Option(None, help="PNG to write (default: ID.png)"),
        size: int = typer.Option(192, help="tile size in pixels"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """Turntable contact sheet: 8 azimuths x 2 elevations, clay render with keypoints."""
        from .library import CadLibrary

        lib = CadLibrary(cad_library)
        path = Path(out or f"{model_id}.png")
        contact_sheet(lib, model_id, path, size)
        typer.echo(str(path))

    _register_release(cad)


def _split(values: Optional[list[str]]) -> Optional[list[str]]:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _tags_summary(models) -> str:
    """A class's tags counted over its models ('good 3, approximate 2, strategy 1: 5, review 1'), '-' when none."""
    from collections import Counter

    counts: Counter = Counter()
    for m in models:
        if m.tags.strength:
            counts[m.tags.strength] += 1
        if m.tags.sampling_strategy:
            counts[f"strategy {m.tags.sampling_strategy}"] += 1
        if m.tags.needs_review:
            counts["review"] += 1
    return ", ".join(f"{k} {n}" if not k.startswith("strategy") else f"{k}: {n}" for k, n in sorted(counts.items())) or "-"


def review_notes(models) -> list[str]:
    """One line per model with tags worth a look on a review sheet: approximate or flagged for review."""
    return [f"note: {m.id}: {m.tags.text()}" for m in models if m.tags.needs_review or m.tags.strength == "approximate"]


def _report(summary: dict, what: str) -> None:
    """Counts on stdout; one line per failed or unsupported model on stderr; exit 2 if any failed."""
    for key in ("failed", "unsupported", "no_match"):
        for line in summary.get(key, []):
            typer.echo(f"{'error' if key == 'failed' else 'note'}: {line}", err=True)
    counts = ", ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in summary.items())
    typer.echo(f"{what}: {counts}")
    if summary.get("failed"):
        raise typer.Exit(2)


def _register_release(cad: typer.Typer) -> None:
    import sys

    @cad.command("import-release")
    def import_release_(
        csv: Optional[Path] = typer.Argument(None, help="the 3D-DST model CSV (default: fetch it from the Hub dataset ccvl/3D-DST-models)"),
        shapenet: Optional[Path] = typer.Option(None, help="ShapeNetCore folder (<synset>/<id>/models/model_normalized.obj)"),
        omniobject3d: Optional[Path] = typer.Option(None, help="OmniObject3D folder (raw/raw_scans/<category>/<name>/Scan/Scan.obj)"),
        objaverse_dir: Optional[Path] = typer.Option(None, help="folder of Objaverse <uid>.glb files"),
        objaverse: bool = typer.Option(False, "--objaverse", help="Objaverse objects and licences through the objaverse package (downloads)"),
        classes: Optional[list[str]] = typer.Option(None, help="only these classes (synsets or names, comma-separated or repeated)"),
        max_per_class: Optional[int] = typer.Option(None, help="at most N models per class (default: all)"),
        exclude_approximate: bool = typer.Option(False, "--exclude-approximate", help="skip strength-2 models (they only approximate the class)"),
        workers: int = typer.Option(1, min=1, help="worker processes"),
        progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar on stderr (default: when stderr is a terminal)"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """Import the 3D-DST aligned models (ShapeNet, Objaverse, OmniObject3D) in dst3d's canonical frame.

        Run it again to resume: models already in the library are skipped. A model that fails is reported and skipped.
        """
        from .library import CadLibrary
        from .release import Sources, import_release

        if objaverse and objaverse_dir is not None:
            from ..errors import UserError

            raise UserError("pass --objaverse-dir DIR or --objaverse, not both")
        lib = CadLibrary(cad_library)
        summary = import_release(lib, csv, Sources(shapenet, omniobject3d, objaverse_dir, objaverse), _split(classes), max_per_class,
                                 exclude_approximate, workers, sys.stderr.isatty() if progress is None else progress)
        _report(summary, f"import-release into {lib.root}")

    fetch = typer.Typer(help="Fetch models from outside collections.", no_args_is_help=True)
    cad.add_typer(fetch, name="fetch")

    @fetch.command("objaverse")
    def fetch_objaverse_(
        classes: list[str] = typer.Option(..., help="ImageNet classes (synsets or names, comma-separated or repeated)"),
        per_class: int = typer.Option(..., help="objects per class"),
        licenses: Optional[list[str]] = typer.Option(None, help="keep only these Objaverse licences, e.g. by,by-sa,cc0 (default: any)"),
        rotations: Optional[Path] = typer.Option(None, help="JSON {uid: 3x3 rotation to the canonical frame} (default: estimate upright and front)"),
        broader: bool = typer.Option(False, "--broader", help="also LVIS categories broader than the class (tagged approximate)"),
        workers: int = typer.Option(1, min=1, help="worker processes"),
        progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="progress bar on stderr (default: when stderr is a terminal)"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """Objaverse objects of the LVIS categories that map to the classes (through WordNet), oriented and imported."""
        from .library import CadLibrary
        from .objaverse import fetch_objaverse

        lib = CadLibrary(cad_library)
        summary = fetch_objaverse(lib, _split(classes), per_class, _split(licenses), rotations, broader, workers,
                                  sys.stderr.isatty() if progress is None else progress)
        _report(summary, f"fetch objaverse into {lib.root}")

    @cad.command("review")
    def review_(
        name: str = typer.Argument(..., metavar="CLASS", help="class name or synset"),
        out: Optional[Path] = typer.Option(None, help="PNG to write (default: review_<synset>.png)"),
        size: int = typer.Option(128, min=32, help="tile size in pixels"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """One sheet: every model of the class (one row each) at the same canonical views, so a misaligned one stands out.

        Then one line per model whose tags ask for a look (approximate, orientation estimated, elevation offset).
        """
        from .library import CadLibrary
        from ..viz.cad_review import review_sheet

        lib = CadLibrary(cad_library)
        path = review_sheet(lib, name, out or Path(f"review_{lib.resolve_class(name)}.png"), size)
        typer.echo(str(path))
        for line in review_notes(lib.cls(name).models):  # the models this sheet is for: approximate or flagged
            typer.echo(line)

    @cad.command("orient")
    def orient_(
        model_id: str = typer.Argument(..., metavar="ID", help="model id"),
        rotate: list[str] = typer.Option(..., help="AXIS:DEGREES about the canonical axes, applied in order, e.g. --rotate z:90 --rotate x:-90"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
    ) -> None:
        """Rotate a stored model (and its keypoints), renormalize it and re-register it atomically."""
        from .library import CadLibrary
        from .review import orient, parse_rotation

        lib = CadLibrary(cad_library)
        model = orient(lib, model_id, [parse_rotation(r) for r in rotate])
        typer.echo(f"{model.id}: front {model.front}, up {model.up} of the source; {lib.mesh_path(model)}")

    @cad.command("init")
    def init_(directory: Path = typer.Argument(..., metavar="DIR", help="new (or empty) folder")) -> None:
        """An empty CAD library (use it with --cad-library DIR)."""
        from .review import init_library

        typer.echo(f"empty CAD library: {init_library(directory).resolve()}")


def _symmetry_text(sym) -> str:
    if sym.type == "none":
        return "none"
    if sym.type == "mirror":
        return f"mirror:{sym.axis}"
    return f"rotational:{sym.axis}:{sym.order}"


def contact_sheet(lib, model_id: str, path: Path, size: int = 192, azimuths: int = 8, elevations: tuple[float, ...] = (10.0, 40.0)) -> Path:
    """Render the model around a turntable; keypoints filled when visible, hollow when hidden."""
    import cv2
    import numpy as np

    from ..pose.viewpoint import Viewpoint, intrinsics, project
    from ..render.renderer import Renderer

    _, model = lib.model(model_id)
    names, points = lib.keypoints(model)
    parts = lib.load_parts(model)
    radius = max(float(np.linalg.norm(p.vertices, axis=1).max()) for p in parts)
    distance = 3.0
    K = intrinsics(size, size, size / 2 * (distance - radius) / radius * 0.92)  # the bounding sphere fits
    rows = []
    with Renderer(parts, size, size) as renderer:
        for elev in elevations:
            tiles = []
            for k in range(azimuths):
                az = 360.0 * k / azimuths
                vp = Viewpoint(np.deg2rad(az), np.deg2rad(elev), 0.0, distance)
                R, t = vp.rotation(), vp.translation()
                result = renderer.render(R, t, K)
                tile = cv2.cvtColor(result.clay(), cv2.COLOR_GRAY2BGR)
                if len(points):
                    uv, z = project(points, R, t, K)
                    for (u, v), depth in zip(uv, z):
                        x, y = int(round(u)), int(round(v))
                        if not (0 <= x < size and 0 <= y < size):
                            continue
                        seen = result.depth[y, x] == 0 or depth <= result.depth[y, x] + 0.02
                        cv2.circle(tile, (x, y), 3, (0, 0, 230), -1 if seen else 1, cv2.LINE_AA)
                cv2.putText(tile, f"az {az:.0f} el {elev:.0f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
                tiles.append(tile)
            rows.append(np.hstack(tiles))
    sheet = np.vstack(rows)
    banner = np.full((20, sheet.shape[1], 3), 255, np.uint8)
    cv2.putText(banner, f"{model_id}: {model.faces} faces, {len(names)} keypoints, front = az 0", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack([banner, sheet])):
        from ..errors import UserError

        raise UserError(f"cannot write {path}; check the folder exists and is writable")
    return path
