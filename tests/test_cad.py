"""CAD library: the parametric build, the importer and the `cad` commands."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
import typer
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from dst3d.cad.commands import register
from dst3d.cad.importer import import_mesh
from dst3d.cad.library import DEFAULT_LIBRARY, CadLibrary, load_parts
from dst3d.cad.parametric import CLASSES, INSTANCES, SOURCE, build_library
from dst3d.errors import UserError
from dst3d.pose.sampling import PoseSampling
from dst3d.pose.viewpoint import Viewpoint, project

PASCAL = {
    "n02690373": "aeroplane", "n03792782": "bicycle", "n04273569": "boat", "n04557648": "bottle",
    "n04146614": "bus", "n02814533": "car", "n03376595": "chair", "n03201208": "diningtable",
    "n03785016": "motorbike", "n04344873": "sofa", "n03272562": "train", "n03782006": "tvmonitor",
}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root with a hash of its bytes: equal snapshots = nothing was written."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cad") / "lib"
    build_library(root)
    return root


@pytest.fixture()
def lib_dir(built, tmp_path) -> Path:
    """A private copy of the built library that a test may change."""
    root = tmp_path / "lib"
    shutil.copytree(built, root)
    return root


# --- parametric build -------------------------------------------------------------------


def test_build_is_complete(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert {s: c["pascal3d"] for s, c in manifest["classes"].items() if c["pascal3d"]} == PASCAL
    assert list(manifest["classes"]) == [spec.synset for spec in CLASSES] and len(CLASSES) >= 40
    for cls in manifest["classes"].values():
        assert len(cls["models"]) == INSTANCES == 5
        assert all(m["source"] == SOURCE and m["license"] == "CC0-1.0" for m in cls["models"])
    assert sum(p.stat().st_size for p in built.rglob("*.glb")) < 6_500_000  # a few MB for 250 models


def test_the_shipped_library_is_this_build(built):
    assert snapshot(built) == snapshot(Path(DEFAULT_LIBRARY))


def test_rebuilding_an_unchanged_library_writes_nothing(built, tmp_path):
    root = tmp_path / "lib"
    shutil.copytree(built, root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}
    result = build_library(root)
    assert result.written == [] and result.removed == [] and len(result.unchanged) == len(files) == 5 * len(CLASSES) + 1
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files} == before  # not even rewritten in place
    assert sorted(p for p in root.rglob("*") if p.is_file()) == files  # no temp files left
    (root / "meshes/n02814533/car_01.glb").write_bytes(b"damaged")
    again = build_library(root)
    assert again.written == ["meshes/n02814533/car_01.glb"] and snapshot(root) == snapshot(built)


def test_build_bytes_do_not_depend_on_the_cpu(built, tmp_path):
    """numpy's AVX-512 pow/exp/arctan2 and OpenBLAS's kernels round differently from the
    baseline ones: built with both turned off, every file is still the same (14 of 36 differed before)."""
    out = tmp_path / "baseline"
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": "AVX512_ICL AVX512_SKX X86_V4 X86_V3", "OPENBLAS_CORETYPE": "Prescott"}
    code = "import sys; from dst3d.cad.parametric import build_library; build_library(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True, capture_output=True)
    assert snapshot(out) == snapshot(built)


def test_no_float_noise_in_meshes_or_manifest(built):
    lib = CadLibrary(built)
    for cls in lib.manifest.classes.values():
        for model in cls.models:
            verts = np.vstack([p.vertices for p in lib.load_parts(model)])
            assert not ((verts != 0) & (np.abs(verts) < 1e-6)).any(), model.id
            assert not np.signbit(verts[verts == 0]).any(), model.id
    assert "-0.0," not in (built / "manifest.json").read_text() and "-0.0\n" not in (built / "manifest.json").read_text()


def test_every_model_is_normalized_with_parts_and_keypoints(built):
    lib = CadLibrary(built)
    for synset, cls in lib.manifest.classes.items():
        assert cls.pose_defaults and PoseSampling().merged(cls.pose_defaults)  # valid overrides
        for model in cls.models:
            parts = lib.load_parts(model)
            assert len(parts) >= 2 and all(p.metadata["name"] for p in parts), model.id
            verts = np.vstack([p.vertices for p in parts])
            lo, hi = verts.min(0), verts.max(0)
            np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-5, err_msg=model.id)
            assert abs((hi - lo).max() - 1.0) < 1e-5, model.id
            assert sum(len(p.faces) for p in parts) == model.faces
            names, kps = lib.keypoints(model)
            assert len(names) >= 4 and (np.abs(kps) <= 0.5 + 1e-3).all(), model.id
            assert model.size_m > 0 and model.mesh == f"meshes/{synset}/{model.id}.glb"


def test_instances_differ_within_a_class(built):
    lib = CadLibrary(built)
    for cls in lib.manifest.classes.values():
        extents = {tuple(np.round(np.ptp(np.vstack([p.vertices for p in lib.load_parts(m)]), 0), 3)) for m in cls.models}
        assert len(extents) == len(cls.models), cls.name


def test_car_is_in_the_canonical_frame(built):
    lib = CadLibrary(built)
    for model in lib.manifest.classes["n02814533"].models:
        kp = model.keypoints
        extent = np.ptp(np.vstack([p.vertices for p in lib.load_parts(model)]), 0)
        assert extent[1] == pytest.approx(1.0) and extent[0] < 0.5 and extent[2] < 0.5  # long along Y, Z up
        for side in ("left", "right"):
            assert kp[f"{side}_front_light"][1] < -0.45 and kp[f"{side}_back_trunk"][1] > 0.45  # front is -Y
            assert kp[f"{side}_front_wheel"][1] < 0 < kp[f"{side}_back_wheel"][1]
            assert kp[f"{side}_front_wheel"][2] < kp[f"{side}_upper_windshield"][2]  # wheels low, roof high
        assert kp["left_front_wheel"][0] > 0 > kp["right_front_wheel"][0]  # the object's left is +X
        # azimuth 0 looks at the front: the headlights are nearer the camera than the boot
        vp = Viewpoint(0.0, 0.2, 0.0, 3.0)
        _, depth = project(np.array([kp["left_front_light"], kp["left_back_trunk"]]), vp.rotation(), vp.translation(), np.eye(3))
        assert depth[0] < depth[1]


def test_symmetry_tags(built):
    lib = CadLibrary(built)
    assert {m.symmetry.type for m in lib.manifest.classes["n04557648"].models} == {"rotational"}
    bottles = lib.manifest.classes["n04557648"].models
    assert all(m.symmetry.axis == "z" and m.symmetry.order == (2 if m.id == "bottle_03" else 0) for m in bottles)  # 03: a carry loop
    assert all(m.symmetry.type == "rotational" and m.symmetry.order in (2, 4) for m in lib.manifest.classes["n03201208"].models)
    assert all(m.symmetry.type == "mirror" and m.symmetry.axis == "x" for m in lib.manifest.classes["n02690373"].models)
    assert lib.manifest.classes["n03782006"].pose_defaults["mode"] == "front_half"


# --- importer ---------------------------------------------------------------------------


def asymmetric_mesh() -> trimesh.Trimesh:
    """A 4 x 2 x 1 slab (x, y, z) with a spike on its +x end and a bump on its +z face."""
    slab = trimesh.creation.box([4.0, 2.0, 1.0])
    spike = trimesh.creation.box([1.0, 0.2, 0.2], transform=trimesh.transformations.translation_matrix([2.5, 0.5, 0.0]))
    bump = trimesh.creation.box([0.5, 0.5, 0.4], transform=trimesh.transformations.translation_matrix([-1.0, 0.0, 0.7]))
    mesh = trimesh.util.concatenate([slab, spike, bump])
    mesh.apply_translation([10.0, -3.0, 7.0])  # off-centre source units
    return mesh


def expected_canonical(points: np.ndarray, mesh: trimesh.Trimesh) -> np.ndarray:
    """front=+x, up=+y: canonical (X, Y, Z) = (-z, -x, y), centred on the bbox and scaled to 1."""
    centre = mesh.bounds.mean(0)
    p = (np.asarray(points) - centre) / np.ptp(mesh.bounds, 0).max()
    return np.stack([-p[:, 2], -p[:, 0], p[:, 1]], 1)


@pytest.mark.parametrize("ext", ["obj", "ply", "stl", "off", "glb", "gltf"])
def test_import_rotates_to_canonical(lib_dir, tmp_path, ext):
    mesh = asymmetric_mesh()
    path = tmp_path / f"thing.{ext}"
    mesh.export(path)
    lib = CadLibrary(lib_dir)
    tip = np.array([3.0 + 10.0, 0.5 - 3.0, 7.0])  # the spike's end (source front)
    model = import_mesh(lib, path, "car", front="+x", up="+y", model_id=f"imp_{ext}", license="CC0-1.0", keypoints={"tip": tip.tolist()})
    assert (model.front, model.up, model.faces) == ("+x", "+y", len(mesh.faces))
    reread = CadLibrary(lib_dir)  # the manifest on disk has it
    synset, stored = reread.model(f"imp_{ext}")
    assert synset == "n02814533" and stored.keypoints == model.keypoints
    verts = np.vstack([p.vertices for p in load_parts(lib_dir / stored.mesh)])
    want = expected_canonical(mesh.vertices, mesh)
    assert cKDTree(want).query(verts)[0].max() < 1e-5 and cKDTree(verts).query(want)[0].max() < 1e-5
    np.testing.assert_allclose(model.keypoints["tip"], expected_canonical(tip[None], mesh)[0], atol=1e-6)
    np.testing.assert_allclose(model.keypoints["tip"], [0.04, -0.5, 0.1], atol=1e-6)  # the front end is at -Y
    bump = verts[verts[:, 0] < -0.1]  # the +z bump lands on -X, behind the middle: a rotation, not a mirror
    assert len(bump) and (bump[:, 1] > 0.24).all() and (bump[:, 1] < 0.36).all()
    np.testing.assert_allclose(stored.normalization["centre"], mesh.bounds.mean(0), atol=1e-6)


def test_import_axis_shorthand_and_new_class(lib_dir, tmp_path):
    path = tmp_path / "wine.obj"
    asymmetric_mesh().export(path)
    lib = CadLibrary(lib_dir)
    model = import_mesh(lib, path, "n04591713", front="X", up="y", name="wine bottle", size_m=0.3)
    assert (model.id, model.front, model.up, model.size_m) == ("wine", "+x", "+y", 0.3)
    assert CadLibrary(lib_dir).manifest.classes["n04591713"].name == "wine bottle"
    again = import_mesh(CadLibrary(lib_dir), path, "wine bottle", front="-z", up="+y")  # by class name; id made unique
    assert again.id == "wine_2"


def _write(tmp_path: Path, name: str, data: bytes | None = None) -> Path:
    path = tmp_path / name
    if data is None:
        asymmetric_mesh().export(path)
    else:
        path.write_bytes(data)
    return path


BAD = {
    "missing file": (lambda t: t / "nope.obj", {}, "not found"),
    "unsupported extension": (lambda t: _write(t, "m.fbx", b"Kaydara FBX Binary"), {}, "unsupported mesh format"),
    "corrupt file": (lambda t: _write(t, "m.glb", b"\x00garbage" * 40), {}, "cannot read m.glb"),
    "no faces": (lambda t: _write(t, "m.ply", b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n"), {}, "no triangle faces"),
    "non-finite vertices": (lambda t: _write(t, "m.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"), {}, "NaN or infinite"),
    "bad axis name": (lambda t: _write(t, "m.obj"), {"front": "forward"}, "bad --front axis 'forward'"),
    "parallel axes": (lambda t: _write(t, "m.obj"), {"front": "+z", "up": "-z"}, "must be perpendicular"),
    "unknown synset": (lambda t: _write(t, "m.obj"), {"synset": "n09999999"}, "--name"),
    "duplicate id": (lambda t: _write(t, "m.obj"), {"model_id": "car_00"}, "already in the library"),
    "bad keypoint": (lambda t: _write(t, "m.obj"), {"keypoints": {"nose": [1, 2]}}, "keypoint 'nose'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_import_says_why_and_writes_nothing(lib_dir, tmp_path, case):
    make, overrides, phrase = BAD[case]
    path = make(tmp_path)
    before = snapshot(lib_dir)
    lib = CadLibrary(lib_dir)
    kwargs = {"synset": "car", "front": "-y", "up": "+z", **overrides}
    with pytest.raises(UserError) as err:
        import_mesh(lib, path, **kwargs)
    message = str(err.value)
    assert phrase in message and "\n" not in message
    assert snapshot(lib_dir) == before
    assert len(lib.manifest.classes["n02814533"].models) == INSTANCES  # the in-memory manifest is untouched too


def test_rebuild_keeps_imported_models_and_drops_stale_meshes(lib_dir, tmp_path):
    path = _write(tmp_path, "keep.stl")
    import_mesh(CadLibrary(lib_dir), path, "car", front="-y", up="+z")
    import_mesh(CadLibrary(lib_dir), path, "n04591713", front="-y", up="+z", model_id="wine_00", name="wine bottle")
    result = build_library(lib_dir, instances=1)
    manifest = result.manifest
    assert sorted(result.removed) == sorted(f"meshes/{spec.synset}/{spec.prefix}_{i:02d}.glb" for spec in CLASSES for i in range(1, INSTANCES))
    assert [m.id for m in manifest.classes["n02814533"].models] == ["car_00", "keep"]
    assert [m.id for m in manifest.classes["n04591713"].models] == ["wine_00"]
    assert (lib_dir / "meshes/n02814533/keep.glb").is_file() and (lib_dir / "meshes/n04591713/wine_00.glb").is_file()
    assert not (lib_dir / "meshes/n02814533/car_01.glb").exists()
    assert CadLibrary(lib_dir).manifest == manifest


def test_rebuild_refuses_an_imported_id_that_a_generated_model_needs(lib_dir, tmp_path):
    import_mesh(CadLibrary(lib_dir), _write(tmp_path, "x.obj"), "car", front="-y", up="+z", model_id="car_05")
    before = snapshot(lib_dir)
    with pytest.raises(UserError, match="car_05"):
        build_library(lib_dir, instances=6)
    assert snapshot(lib_dir) == before


# --- commands ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_list_import_and_errors(app, lib_dir, tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["cad", "list", "--cad-library", str(lib_dir)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "n02814533" in listed.output and "car_00" in listed.output and "rotational:z:0" in listed.output
    mesh = _write(tmp_path, "cli.obj")
    (tmp_path / "kp.json").write_text(json.dumps({"tip": [13.0, -2.5, 7.0]}))
    done = runner.invoke(app, ["cad", "import", str(mesh), "--synset", "car", "--front", "+x", "--up", "+y", "--id", "cli_car",
                               "--license", "CC-BY-4.0", "--symmetry", "mirror:x", "--keypoints", str(tmp_path / "kp.json"),
                               "--cad-library", str(lib_dir)])
    assert done.exit_code == 0, done.output
    _, model = CadLibrary(lib_dir).model("cli_car")
    assert (model.license, model.symmetry.type) == ("CC-BY-4.0", "mirror")
    np.testing.assert_allclose(model.keypoints["tip"], [0.04, -0.5, 0.1], atol=1e-6)
    failed = runner.invoke(app, ["cad", "import", str(mesh), "--synset", "car", "--front", "+x", "--up", "+x", "--cad-library", str(lib_dir)])
    assert isinstance(failed.exception, UserError) and "perpendicular" in str(failed.exception)


def test_cli_build(app, tmp_path):
    out = tmp_path / "fresh"
    result = CliRunner().invoke(app, ["cad", "build", "--out", str(out), "--instances", "1"])
    assert result.exit_code == 0, result.output
    assert len(CadLibrary(out).manifest.classes) == len(CLASSES)


def test_cli_show_writes_a_contact_sheet(app, built, tmp_path):
    import cv2

    png = tmp_path / "sheet.png"
    result = CliRunner().invoke(app, ["cad", "show", "car_00", "--out", str(png), "--size", "64", "--cad-library", str(built)])
    if isinstance(result.exception, UserError) and "OpenGL" in str(result.exception):
        pytest.skip(str(result.exception))
    assert result.exit_code == 0, result.output
    assert str(png) in result.output
    image = cv2.imread(str(png))
    assert image.shape == (20 + 2 * 64, 8 * 64, 3)
    assert (image[20:] < 250).any()  # something was drawn
