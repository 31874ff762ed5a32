"""`dst3d cad import` refuses degenerate meshes with one line, exit 2, and leaves the library as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from dst3d.cad.library import DEFAULT_LIBRARY, CadLibrary
from dst3d.cli import main


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under root, with its bytes' hash: equal snapshots = nothing was written."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir", p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


@pytest.fixture()
def library(tmp_path) -> Path:
    root = tmp_path / "lib"
    shutil.copytree(DEFAULT_LIBRARY, root)
    return root


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """The real entry point in-process: exit code and everything printed (stdout + stderr)."""
    monkeypatch.setattr(sys, "argv", ["dst3d", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return exited.value.code or 0, out.out + out.err


def obj(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def exported(tmp: Path, name: str, vertices, faces) -> Path:
    path = tmp / name
    trimesh.Trimesh(np.asarray(vertices, float), np.asarray(faces), process=False).export(path)
    return path


QUAD = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 3, 2]]
# name: (make(tmp) -> mesh file, words the one line must hold)
DEGENERATE = {
    "empty file": (lambda t: obj(t, "empty.obj", ""), "no triangle faces"),
    "point cloud (PLY, no faces)": (lambda t: obj(t, "cloud.ply", "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                                                   "property float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n"), "no triangle faces"),
    "lines only": (lambda t: obj(t, "wire.obj", "v 0 0 0\nv 1 0 0\nv 0 1 1\nl 1 2 3\n"), "no triangle faces"),
    "one collinear triangle": (lambda t: obj(t, "line.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n"), "its only face has zero area"),
    "only zero-area faces (STL)": (lambda t: exported(t, "sliver.stl", [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 0, 1], [0, 0, 2]],
                                                      [[0, 1, 2], [0, 3, 4], [1, 1, 3]]), "zero area"),
    "flat quad (OBJ)": (lambda t: obj(t, "quad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\n"), "is flat"),
    "flat quad (GLB)": (lambda t: exported(t, "quad.glb", *QUAD), "along its z axis"),
    "flat tilted plane": (lambda t: obj(t, "tilted.obj", "v 0 0 0\nv 1 1 1\nv 0 1 1\nv 1 0 0\nf 1 2 3\nf 1 4 2\n"), "across the plane"),
    "NaN vertex": (lambda t: obj(t, "nan.obj", "v nan 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n"), "NaN or infinite"),
    "infinite vertex (PLY)": (lambda t: exported(t, "inf.ply", [[np.inf, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2], [0, 1, 3]]),
                              "NaN or infinite"),
    "all vertices coincide": (lambda t: obj(t, "dot.obj", "v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n"), "zero size"),
    "coordinates overflow": (lambda t: obj(t, "huge.obj", "v 0 0 0\nv 1e300 0 0\nv 0 1e300 0\nv 0 0 -1e300\nf 1 2 3\nf 1 2 4\n"), "too large"),
}


@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_mesh_is_refused_in_one_line(case, library, tmp_path, capsys, monkeypatch):
    make, words = DEGENERATE[case]
    mesh = make(tmp_path)
    before = snapshot(library)
    code, output = run_cli(["cad", "import", str(mesh), "--synset", "car", "--front", "-y", "--up", "+z", "--cad-library", str(library)],
                           capsys, monkeypatch)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], output
    assert "Traceback" not in output
    assert snapshot(library) == before  # no mesh file, no folder, manifest untouched


def test_refusal_through_the_installed_command(library, tmp_path):
    """The same through a real process: stderr holds the one line, stdout nothing."""
    mesh = obj(tmp_path, "quad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\n")
    before = snapshot(library)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "dst3d", "cad", "import", str(mesh), "--synset", "n09999999", "--name", "sheet",
                           "--front", "-y", "--up", "+z", "--cad-library", str(library)], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: quad.obj is flat"), done.stderr
    assert snapshot(library) == before  # not even the new class


def test_thin_or_partly_degenerate_meshes_are_still_accepted(library, tmp_path, capsys, monkeypatch):
    """A sheet 1/1000 of its size thick is a real object; a few degenerate faces among good ones are harmless."""
    thin = tmp_path / "card.obj"
    trimesh.creation.box([1.0, 0.6, 0.001]).export(thin)
    box = trimesh.creation.box([1.0, 1.0, 1.0])
    stray = trimesh.Trimesh(np.vstack([box.vertices, [[5.0, 5.0, 5.0]]]), np.vstack([box.faces, [[0, 1, 1]]]), process=False)
    partly = tmp_path / "partly.ply"
    stray.export(partly)  # a zero-area face and an unreferenced far vertex (PLY keeps it)
    for path in (thin, partly):
        code, output = run_cli(["cad", "import", str(path), "--synset", "car", "--front", "-y", "--up", "+z", "--cad-library", str(library)],
                               capsys, monkeypatch)
        assert code == 0, output
    lib = CadLibrary(library)
    for model_id, extent in (("card", [1.0, 0.6, 0.001]), ("partly", [1.0, 1.0, 1.0])):  # normalized by the surface, not the stray vertex
        verts = np.vstack([p.vertices for p in lib.load_parts(lib.model(model_id)[1])])
        np.testing.assert_allclose(np.ptp(verts, 0), extent, atol=1e-6)
        np.testing.assert_allclose((verts.min(0) + verts.max(0)) / 2, 0.0, atol=1e-6)
