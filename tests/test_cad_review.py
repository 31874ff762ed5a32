"""`dst3d cad review`, `cad orient` and `cad init`."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from dst3d.cad.library import DEFAULT_LIBRARY, CadLibrary
from dst3d.cli import main


def run_cli(args, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["dst3d", *map(str, args)])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return exited.value.code or 0, out.out, out.err


@pytest.fixture()
def library(tmp_path) -> Path:
    root = tmp_path / "lib"
    shutil.copytree(DEFAULT_LIBRARY, root)
    return root


def vertices(lib_dir: Path, model_id: str) -> np.ndarray:
    lib = CadLibrary(lib_dir)
    parts = sorted(lib.load_parts(lib.model(model_id)[1]), key=lambda p: p.metadata["name"])
    return np.vstack([p.vertices for p in parts])


def test_orient_there_and_back_restores_the_mesh(library, capsys, monkeypatch):
    before = vertices(library, "car_00")
    kp_before = CadLibrary(library).model("car_00")[1].keypoints
    code, out, err = run_cli(["cad", "orient", "car_00", "--rotate", "z:90", "--cad-library", library], capsys, monkeypatch)
    assert code == 0, err
    turned = CadLibrary(library).model("car_00")[1]
    mid = vertices(library, "car_00")
    assert np.abs(mid - before @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]]).T).max() < 1e-6
    assert turned.front == "-x" and "oriented z:90" in turned.source and turned.mesh.endswith(".o1.glb")
    assert not (library / "meshes" / "n02958343" / "car_00.glb").exists()  # the old file goes after the manifest moved on
    code, out, err = run_cli(["cad", "orient", "car_00", "--rotate", "z:-90", "--cad-library", library], capsys, monkeypatch)
    assert code == 0, err
    assert np.abs(vertices(library, "car_00") - before).max() < 1e-6
    back = CadLibrary(library).model("car_00")[1]
    assert back.front == "-y" and back.up == "+z"
    for name, value in kp_before.items():
        assert np.allclose(back.keypoints[name], value, atol=2e-6)
    assert np.allclose(np.asarray(back.normalization["rotation"]).reshape(3, 3), np.eye(3))


def test_orient_bad_rotation_one_line(library, capsys, monkeypatch):
    code, out, err = run_cli(["cad", "orient", "car_00", "--rotate", "w:90", "--cad-library", library], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "AXIS:DEGREES" in err


def test_review_sheet_one_row_per_model(library, tmp_path, capsys, monkeypatch):
    out = tmp_path / "review.png"
    code, stdout, err = run_cli(["cad", "review", "car", "--out", out, "--size", "64", "--cad-library", library], capsys, monkeypatch)
    assert code == 0, err
    image = cv2.imread(str(out))
    models = len(CadLibrary(library).cls("car").models)
    from dst3d.viz.cad_review import HEADER

    assert image.shape[0] == HEADER + 64 * models  # a header, then one row per model
    assert image.shape[1] == 150 + 64 * 6


def test_init_then_import(tmp_path, capsys, monkeypatch):
    lib = tmp_path / "new"
    code, out, err = run_cli(["cad", "init", lib], capsys, monkeypatch)
    assert code == 0, err
    code, out, err = run_cli(["cad", "init", lib], capsys, monkeypatch)
    assert code == 2 and "already" in err
    mesh = tmp_path / "box.obj"
    trimesh.creation.box((2.0, 1.0, 0.5)).export(mesh)
    code, out, err = run_cli(["cad", "import", mesh, "--synset", "n02958343", "--name", "sports car", "--front", "-y", "--up", "+z",
                              "--cad-library", lib], capsys, monkeypatch)
    assert code == 0, err
    assert [m.id for m in CadLibrary(lib).cls("n02958343").models] == ["box"]
