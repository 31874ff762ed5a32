"""Pose estimator: bins, metrics (with symmetry), model, training/evaluation CLI round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dst3d.pose.viewpoint import rotation_to_viewpoint, viewpoint_to_rotation
from dst3d.posenet.bins import AngleBins, PoseBins
from dst3d.posenet.metrics import SymmetrySpec, axis_rotation, pose_metrics, rotation_error, rotation_errors, summarize
from dst3d.posenet.model import rotations_from_angles


def test_bins_round_trip_zero_error_at_centres():
    bins = PoseBins(azimuth=41, elevation=41, theta=41)  # 3D-DST's count: its decoder was off-centre
    rng = np.random.default_rng(0)
    idx = np.stack([rng.integers(0, 41, 500) for _ in range(3)], 1)
    angles = bins.decode(idx)
    assert (bins.encode(*angles.T) == idx).all()
    R = rotations_from_angles(angles)
    errors = rotation_errors(R, np.stack([viewpoint_to_rotation(*a) for a in angles]))
    assert np.max(errors) < 1e-6
    # a perfect classifier (true bin of arbitrary angles) is within half a bin of every angle
    truth = np.stack([rng.uniform(0, 2 * np.pi, 500), rng.uniform(-np.pi / 2, np.pi / 2, 500), rng.uniform(0, 2 * np.pi, 500)], 1)
    decoded = bins.decode(bins.encode(*truth.T))
    for i, name in enumerate(("azimuth", "elevation", "theta")):
        diff = np.abs(np.angle(np.exp(1j * (decoded[:, i] - truth[:, i]))))
        assert diff.max() <= bins.angle(name).width / 2 + 1e-9


def test_periodic_bins_wrap_and_centre_on_zero():
    az = AngleBins("azimuth", 24)
    w = az.width
    assert az.encode(0.0) == 0 and az.decode(0) == 0.0
    assert az.encode(-0.4 * w) == 0 and az.encode(2 * np.pi - 0.4 * w) == 0
    assert az.encode(0.6 * w) == 1 and az.encode(2 * np.pi - 0.6 * w) == 23
    el = AngleBins("elevation", 12)
    assert el.encode(-np.pi / 2) == 0 and el.encode(np.pi / 2) == 11 and el.encode(5.0) == 11
    assert np.isclose(el.decode(0), -np.pi / 2 + el.width / 2)


def test_parse_bins():
    assert PoseBins.parse("36") == PoseBins(36, 36, 36)
    assert PoseBins.parse("24,12,24") == PoseBins(24, 12, 24)
    from dst3d.errors import UserError

    with pytest.raises(UserError):
        PoseBins.parse("24,x")
    with pytest.raises(UserError):
        PoseBins.parse("24,12")


def test_batched_rotations_match_viewpoint_to_rotation():
    rng = np.random.default_rng(1)
    angles = np.stack([rng.uniform(0, 6.3, 50), rng.uniform(-1.5, 1.5, 50), rng.uniform(0, 6.3, 50)], 1)
    expected = np.stack([viewpoint_to_rotation(*a) for a in angles])
    assert np.allclose(rotations_from_angles(angles), expected)


def test_geodesic_error_on_known_rotations():
    R = viewpoint_to_rotation(0.3, 0.2, 0.1)
    for angle in (0.0, 0.1, np.pi / 6, 1.0, np.pi / 2, 3.0, np.pi):
        for axis in ([1, 0, 0], [0, 1, 0], [0.3, -0.5, 0.8]):
            assert np.isclose(rotation_error(R @ axis_rotation(axis, angle), R), angle, atol=1e-6)
    # azimuth + pi is a half turn about the object's up axis: 180 degrees
    assert np.isclose(rotation_error(viewpoint_to_rotation(0.3 + np.pi, 0.2, 0.1), R), np.pi, atol=1e-6)


def test_symmetric_scoring():
    R = viewpoint_to_rotation(1.0, 0.4, 0.05)
    z = [0, 0, 1]
    bottle = SymmetrySpec("rotational", "z", 0)
    table2 = SymmetrySpec("rotational", "z", 2)
    table4 = {"type": "rotational", "axis": "z", "order": 4}
    mirror = SymmetrySpec("mirror", "x", 0)
    turn = lambda a: R @ axis_rotation(z, a)  # noqa: E731 - object turned about its own z axis
    # continuous symmetry: any turn about the axis is no error
    for a in (0.3, 1.7, np.pi):
        assert rotation_error(turn(a), R, bottle) < 1e-6
    # ... but tilting the axis is, by exactly the tilt
    tilt = R @ axis_rotation([1, 0, 0], 0.25) @ axis_rotation(z, 1.1)
    assert np.isclose(rotation_error(tilt, R, bottle), 0.25, atol=1e-6)
    # the closed form equals a brute-force minimum over the symmetry circle
    rng = np.random.default_rng(2)
    for _ in range(5):
        Rp = viewpoint_to_rotation(*rng.uniform(0, 2, 3))
        brute = min(rotation_error(Rp, R @ axis_rotation(z, phi)) for phi in np.linspace(0, 2 * np.pi, 7201))
        assert np.isclose(rotation_error(Rp, R, bottle), brute, atol=1e-3)
    # n-fold symmetry: multiples of 2pi/n are free, the rest is the distance to the nearest
    assert rotation_error(turn(np.pi), R, table2) < 1e-6
    assert np.isclose(rotation_error(turn(np.pi / 2), R, table2), np.pi / 2, atol=1e-6)
    assert rotation_error(turn(np.pi / 2), R, table4) < 1e-6
    assert np.isclose(rotation_error(turn(0.6 * np.pi), R, table4), 0.1 * np.pi, atol=1e-6)
    # mirror symmetry is no rotation ambiguity: scored like none
    assert np.isclose(rotation_error(turn(np.pi), R, mirror), np.pi, atol=1e-6)
    assert np.isclose(rotation_error(turn(np.pi), R, None), np.pi, atol=1e-6)
    # mixed batch: each sample modulo its own tag
    errs = rotation_errors([turn(np.pi)] * 3, [R] * 3, [bottle, mirror, table2])
    assert np.allclose(errs, [0, np.pi, 0], atol=1e-6)


def test_summary_metrics():
    deg = np.deg2rad([5, 9, 11, 29, 31, 90, 180])
    s = summarize(deg)
    assert s["n"] == 7
    assert np.isclose(s["acc_pi_6"], 4 / 7) and np.isclose(s["acc_pi_18"], 2 / 7)
    assert np.isclose(s["median_deg"], 29)
    m = pose_metrics(deg, ["a", "a", "a", "b", "b", "b", "b"])
    assert m["per_class"]["a"]["acc_pi_18"] == pytest.approx(2 / 3) and m["per_class"]["b"]["median_deg"] == pytest.approx(60.5)
    assert m["overall"] == s


def test_rotation_to_viewpoint_agrees_with_decoded_bins():
    bins = PoseBins(24, 12, 24)
    angles = bins.decode(np.array([[3, 7, 1]]))[0]
    vp = rotation_to_viewpoint(rotations_from_angles(angles[None])[0])
    assert np.allclose([vp.azimuth, vp.elevation, vp.theta], angles, atol=1e-9)


def test_model_shapes_and_rot6d():
    import torch

    from dst3d.posenet.model import ModelConfig, PoseNet, pose_loss, rot6d_to_matrix

    cfg = ModelConfig(backbone="tiny", bins={"azimuth": 12, "elevation": 6, "theta": 8}, classes=["a", "b"], rotation_head=True, size=64, hidden=32, reduce=16, grid=2)
    net = PoseNet(cfg).eval()
    out = net(torch.zeros(3, 64, 64, 3, dtype=torch.uint8), torch.tensor([0, 1, 1]))
    assert out["azimuth"].shape == (3, 12) and out["elevation"].shape == (3, 6) and out["theta"].shape == (3, 8) and out["rot6d"].shape == (3, 6)
    R = rot6d_to_matrix(torch.randn(5, 6))
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(5, 3, 3), atol=1e-5)
    assert torch.allclose(torch.det(R), torch.ones(5), atol=1e-5)
    loss = pose_loss(out, torch.zeros(3, 3, dtype=torch.long), torch.eye(3).expand(3, 3, 3))
    assert loss.shape == (3,)


def test_offline_imagenet_weights_load():
    from dst3d.posenet.model import build_backbone

    try:
        backbone, source = build_backbone("mobilenet_v2", "imagenet", layer=14)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no offline MobileNetV2 weights ({exc})")
    assert source.endswith(".pth") or source.endswith(".safetensors") or source.startswith("http")
    import torch

    with torch.no_grad():
        assert backbone.eval()(torch.zeros(1, 3, 64, 64)).shape[1] == 96


def test_weights_errors_are_one_line(tmp_path):
    from dst3d.errors import UserError
    from dst3d.posenet.model import build_backbone

    with pytest.raises(UserError, match="does not exist"):
        build_backbone("mobilenet_v2", str(tmp_path / "missing.pth"))
    with pytest.raises(UserError, match="unknown backbone"):
        build_backbone("vgg99", "none")
    bad = tmp_path / "bad.safetensors"
    from safetensors.torch import save_file
    import torch

    save_file({"x": torch.zeros(1)}, str(bad))
    with pytest.raises(UserError, match="do not fit"):
        build_backbone("mobilenet_v2", str(bad))


def test_train_and_eval_cli(cli, small_dataset, tmp_path):
    run = tmp_path / "run"
    result = cli("train-pose", str(small_dataset), "--out", str(run), "--backbone", "tiny", "--weights", "none", "--epochs", "2",
                 "--size", "64", "--batch-size", "8", "--bins", "12,6,12", "--rotation-head", "--val-fraction", "0.2", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert {"model.safetensors", "config.json", "metrics.json"} <= {p.name for p in run.iterdir()}
    assert not list(run.glob("*.pt")) and not list(run.glob("*.pth"))
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["bins"] == {"azimuth": 12, "elevation": 6, "theta": 12} and len(config["model"]["classes"]) == 3
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["loss_history"]) == 2 and metrics["samples"]["val"] == 3
    assert set(metrics["val"]["per_class"]) == set(config["model"]["classes"]) and "rotation_head" in metrics["val"]

    out = tmp_path / "eval.json"
    result = cli("eval-pose", str(run), str(small_dataset), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "Acc@pi/6" in result.stdout and "overall" in result.stdout
    evaluation = json.loads(out.read_text())
    assert evaluation["overall"]["n"] == 18 and len(evaluation["samples"]) == 18
    assert 0.0 <= evaluation["overall"]["acc_pi_6"] <= 1.0

    again = cli("train-pose", str(small_dataset), "--out", str(run), "--backbone", "tiny", "--weights", "none", "--no-progress")
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_train_cli_user_errors(cli, small_dataset, tmp_path):
    result = cli("train-pose", str(tmp_path / "nothing"), "--out", str(tmp_path / "r"), "--no-progress")
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = cli("train-pose", str(small_dataset), "--out", str(tmp_path / "r"), "--bins", "1", "--no-progress")
    assert result.returncode == 2 and "'bins'" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = cli("eval-pose", str(tmp_path), str(small_dataset), "--no-progress")
    assert result.returncode == 2 and "not a training run" in result.stderr
