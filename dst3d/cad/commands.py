"""`dst3d cad ...`: build, list, import and look at the aligned CAD library.

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
        for column in ("synset", "class", "pascal3d", "models", "faces", "symmetry", "licence"):
            table.add_column(column, overflow="fold")
        for synset, cls in sorted(lib.manifest.classes.items()):
            faces = [m.faces for m in cls.models]
            syms = sorted({_symmetry_text(m.symmetry) for m in cls.models})
            table.add_row(
                synset, cls.name, cls.pascal3d or "-", ", ".join(m.id for m in cls.models) or "-",
                f"{min(faces)}-{max(faces)}" if faces else "-", ", ".join(syms), ", ".join(sorted({m.license for m in cls.models})),
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
