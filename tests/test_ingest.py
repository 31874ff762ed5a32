"""`dst3d import-bop`: BOP scenes in, dst3d records out; conventions round-trip with the BOP export.

Every scene here is built by the test itself (a dst3d dataset exported with the BOP exporter,
or two boxes with a known occlusion): no real data is read.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
import typer
from typer.testing import CliRunner

from dst3d.cad.importer import import_mesh
from dst3d.cad.library import CadLibrary
from dst3d.errors import UserError
from dst3d.ingest import allocentric_rotation, import_bop, nearest_rotation, parse_frames
from dst3d.ingest.commands import register
from dst3d.pose.viewpoint import rotation_to_viewpoint, viewpoint_to_rotation
from dst3d.store.dataset import open_dataset


def empty_library(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text('{"version": 1, "classes": {}}')
    return root


def library_from_bop_models(bop: Path, root: Path) -> CadLibrary:
    """The exported PLY models (mm) imported as a user would, each under its own class."""
    lib = CadLibrary(empty_library(root))
    info = json.loads((bop / "dst3d_export.json").read_text())["objects"]
    for obj_id, meta in sorted(info.items(), key=lambda kv: int(kv[0])):
        import_mesh(lib, bop / "models" / f"obj_{int(obj_id):06d}.ply", f"n9900{int(obj_id):04d}", "-y", "+z",
                    model_id=f"obj_{int(obj_id):06d}", size_m=meta["size_m"], name=f"object {obj_id}")
    return lib


@pytest.fixture(scope="module")
def exported(small_dataset, tmp_path_factory):
    import dst3d

    root = tmp_path_factory.mktemp("ingest")
    bop = dst3d.export(small_dataset, root / "bop", format="bop")
    lib = library_from_bop_models(bop, root / "lib")
    return bop, lib, root


def test_round_trip_with_the_bop_export(small_dataset, exported):
    bop, lib, root = exported
    meta = json.loads((bop / "dst3d_export.json").read_text())
    originals = {r.id: r for r in open_dataset(small_dataset).records()}
    checked = 0
    for scene, images in meta["images"].items():
        out = root / f"back-{scene}"
        summary = import_bop(bop / "train" / scene, out, lib.root, models=bop / "models")
        assert summary.records == len(images)
        for record in open_dataset(out).records():
            im_id = record.render["bop"]["im_id"]
            original = originals[images[str(im_id)]["id"]]
            assert meta["objects"][str(record.render["bop"]["obj_id"])]["cad_id"] == original.cad_id
            assert record.cad_id == f"obj_{record.render['bop']['obj_id']:06d}"
            np.testing.assert_allclose(record.K, original.K, atol=1e-9)  # BOP pixel centres -> dst3d pixel edges
            np.testing.assert_allclose(record.R, original.R, atol=1e-6)
            np.testing.assert_allclose(record.t, original.t, atol=1e-5)
            assert record.bbox == pytest.approx(original.bbox, abs=1.0)
            assert record.visible_fraction == pytest.approx(original.visible_fraction, abs=2e-3)
            # the camera looks at the origin in generated data: the allocentric label is the egocentric one
            np.testing.assert_allclose(viewpoint_to_rotation(record.azimuth, record.elevation, record.theta), original.R, atol=1e-6)
            assert record.distance == pytest.approx(original.distance, rel=1e-6)
            checked += 1
    assert checked == len(originals)


def test_allocentric_label_is_the_centred_view():
    rng = np.random.default_rng(0)
    for _ in range(20):
        R = trimesh.transformations.random_rotation_matrix(rng.random(3))[:3, :3]
        t = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.3), 1.0]) * rng.uniform(2, 6)
        allo = allocentric_rotation(R, t)
        # the turn takes t onto the optical axis and is a rotation: the object centre projects to the principal point
        turn = allo @ R.T
        np.testing.assert_allclose(turn @ t, [0, 0, np.linalg.norm(t)], atol=1e-9)
        np.testing.assert_allclose(turn @ turn.T, np.eye(3), atol=1e-12)
        vp = rotation_to_viewpoint(allo, np.linalg.norm(t))
        np.testing.assert_allclose(vp.rotation(), allo, atol=1e-9)


def test_nearest_rotation_projects_noisy_gt_and_refuses_non_rotations():
    R = trimesh.transformations.random_rotation_matrix(np.array([0.1, 0.2, 0.3]))[:3, :3]
    noisy = R + np.random.default_rng(1).normal(0, 3e-3, (3, 3))
    P = nearest_rotation(noisy, "x")
    np.testing.assert_allclose(P @ P.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(P) == pytest.approx(1.0)
    assert np.abs(P - R).max() < 1e-2
    with pytest.raises(UserError, match="not a rotation"):
        nearest_rotation(np.diag([1.0, 1.0, -1.0]), "x")


# --- two boxes, one hiding exactly the left half of the other -------------------------------------
F, W, H = 500.0, 320, 140
CX, CY = 160.0, 70.0  # dst3d coordinates: pixel edges; the split line u = CX falls between pixels


def write_box_scene(root: Path, frames=(0,), rear_obj=1, front_obj=2) -> tuple[Path, Path]:
    """A BOP scene: a 100 mm cube 1 m ahead on the optical axis (obj 1), and in front of it
    (obj 2, a 100 mm cube centred at x = -50 mm, z = 500 mm) whose right face lies in the plane
    x = 0, so it projects onto the line u = cx and hides exactly the left half of obj 1."""
    models = root / "models"
    models.mkdir(parents=True)
    for obj_id in (rear_obj, front_obj):
        trimesh.creation.box((100.0, 100.0, 100.0)).export(models / f"obj_{obj_id:06d}.ply")
    scene = root / "scene"
    (scene / "rgb").mkdir(parents=True)
    gt, cams = {}, {}
    for im_id in frames:
        cv2.imwrite(str(scene / "rgb" / f"{im_id:06d}.png"), np.full((H, W, 3), 90, np.uint8))
        eye = np.eye(3).reshape(-1).tolist()
        gt[str(im_id)] = [{"cam_R_m2c": eye, "cam_t_m2c": [0.0, 0.0, 1000.0], "obj_id": rear_obj},
                          {"cam_R_m2c": eye, "cam_t_m2c": [-50.0, 0.0, 500.0], "obj_id": front_obj}]
        cams[str(im_id)] = {"cam_K": [F, 0, CX - 0.5, 0, F, CY - 0.5, 0, 0, 1], "depth_scale": 1.0}
    (scene / "scene_gt.json").write_text(json.dumps(gt))
    (scene / "scene_camera.json").write_text(json.dumps(cams))
    return scene, models


@pytest.fixture()
def boxes(tmp_path):
    scene, models = write_box_scene(tmp_path / "bop", frames=(0, 5, 9))
    lib = CadLibrary(empty_library(tmp_path / "lib"))
    for obj_id in (1, 2):
        import_mesh(lib, models / f"obj_{obj_id:06d}.ply", f"n9800000{obj_id}", "-y", "+z", model_id=f"obj_{obj_id:06d}",
                    size_m=0.1, name=f"box {obj_id}")
    return scene, models, lib, tmp_path


def test_known_occlusion(boxes):
    scene, models, lib, tmp = boxes
    import_bop(scene, tmp / "out", lib.root, models=models, frames="0-4")
    records = {r.render["bop"]["obj_id"]: r for r in open_dataset(tmp / "out").records()}
    rear, front = records[1], records[2]
    assert {r.render["bop"]["im_id"] for r in records.values()} == {0}
    assert front.visible_fraction == pytest.approx(1.0)
    assert rear.visible_fraction == pytest.approx(0.5, abs=0.01)
    half = F * 50.0 / 950.0  # the rear cube's near face, 950 mm away, seen half
    assert rear.bbox == pytest.approx([CX, CY - half, CX + half, CY + half], abs=1.0)
    assert rear.render["bop"]["px_count_visib"] * 2 == pytest.approx(rear.render["bop"]["px_count_all"], abs=40)
    # units: 1 unit = the cube's 100 mm side; the allocentric label of the off-axis front cube differs from its R
    np.testing.assert_allclose(rear.t, [0, 0, 10.0], atol=1e-9)
    np.testing.assert_allclose(front.t, [-0.5, 0, 5.0], atol=1e-9)
    allo = viewpoint_to_rotation(front.azimuth, front.elevation, front.theta)
    assert np.degrees(np.arccos((np.trace(allo.T @ front.R) - 1) / 2)) == pytest.approx(np.degrees(np.arctan(0.1)), abs=1e-6)


def test_frame_filter_is_enforced_and_other_frames_never_read(boxes):
    scene, models, lib, tmp = boxes
    (scene / "rgb" / "000009.png").write_bytes(b"not an image")  # would fail if it were read
    summary = import_bop(scene, tmp / "out", lib.root, frames="0-5")
    assert summary.frames == 2 and summary.skipped_frames == 1
    assert {r.render["bop"]["im_id"] for r in open_dataset(tmp / "out").records()} == {0, 5}


def test_parse_frames():
    assert parse_frames("0-611") == [(0, 611)]
    assert parse_frames("3,8, 10-12") == [(3, 3), (8, 8), (10, 12)]
    assert parse_frames(None) is None


# --- bad input: one line each, nothing written --------------------------------------------------------
def _cli(args: list[str]):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a group, so the command is addressed by its name
    return CliRunner().invoke(app, ["import-bop", *args])


def _bad_cases(scene: Path, models: Path, lib: Path, tmp: Path) -> dict:
    misaligned = tmp / "misaligned"
    misaligned.mkdir()
    for obj_id in (1, 2):
        trimesh.creation.box((100.0, 100.0, 140.0)).export(misaligned / f"obj_{obj_id:06d}.ply")
    gt = json.loads((scene / "scene_gt.json").read_text())
    bad_r = tmp / "bad_r"
    (bad_r / "rgb").mkdir(parents=True)
    (bad_r / "scene_camera.json").write_text((scene / "scene_camera.json").read_text())
    cv2.imwrite(str(bad_r / "rgb" / "000000.png"), np.zeros((H, W, 3), np.uint8))
    gt_bad = {"0": [dict(gt["0"][0], cam_R_m2c=[2, 0, 0, 0, 1, 0, 0, 0, 1])]}
    (bad_r / "scene_gt.json").write_text(json.dumps(gt_bad))
    no_cam = tmp / "no_cam"
    (no_cam / "rgb").mkdir(parents=True)
    (no_cam / "scene_gt.json").write_text(json.dumps({"0": gt["0"]}))
    return {
        "no scene folder": ([str(tmp / "nope")], "does not exist"),
        "not a BOP scene": ([str(tmp)], "scene_gt.json"),
        "bad frames": ([str(scene), "--frames", "a-b"], "bad --frames"),
        "no frame in range": ([str(scene), "--frames", "100-200"], "no frame"),
        "unknown object": ([str(scene), "--objects", "7"], "not in the chosen frames"),
        "object not in library": ([str(scene), "--objects", "1=nope"], "unknown CAD model"),
        "misaligned model": ([str(scene), "--models", str(misaligned)], "does not align"),
        "not a rotation": ([str(bad_r)], "not a rotation"),
        "no camera": ([str(no_cam)], "no camera"),
    }


def test_bad_input_one_line(boxes):
    scene, models, lib, tmp = boxes
    for name, (args, words) in _bad_cases(scene, models, lib.root, tmp).items():
        out = tmp / f"out-{name.replace(' ', '_')}"
        result = _cli([*args, "--out", str(out), "--cad-library", str(lib.root)])
        assert isinstance(result.exception, UserError), (name, result.output, result.exception)
        message = str(result.exception)
        assert "\n" not in message and words in message, (name, message)
        assert not out.exists(), name
    assert not list(tmp.glob(".out-*"))  # no staging folder left behind


def test_refuses_a_non_empty_out(boxes):
    scene, models, lib, tmp = boxes
    (tmp / "full").mkdir()
    (tmp / "full" / "x").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        import_bop(scene, tmp / "full", lib.root)
