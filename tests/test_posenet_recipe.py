"""The transfer recipe: augmentation effects, symmetry-folded targets, scoring in the label frame."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from dst3d.pose.viewpoint import rot_z, viewpoint_to_rotation
from dst3d.posenet.augment import Augment, augment_crops, symmetric_targets
from dst3d.posenet.bins import PoseBins
from dst3d.posenet.data import Records
from dst3d.posenet.metrics import SymmetrySpec
from dst3d.posenet.train import score


def _checkerboard(n: int = 4, size: int = 64) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    board = (((x // 4) + (y // 4)) % 2 * 255).astype(np.uint8)
    return np.repeat(np.repeat(board[None, ..., None], 3, -1), n, 0)


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def test_no_effect_leaves_crops_untouched_and_effects_follow_the_seed():
    crops = _checkerboard()
    assert augment_crops(crops, np.random.default_rng(0), Augment()) is crops
    aug = Augment(occlusion=0.5, low_res=0.5, blur=0.5)
    a = augment_crops(crops, np.random.default_rng(7), aug)
    b = augment_crops(crops, np.random.default_rng(7), aug)
    c = augment_crops(crops, np.random.default_rng(8), aug)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(crops, _checkerboard())  # the input is not modified in place


@pytest.mark.parametrize("effect", ["blur", "low_res"])
def test_blur_and_low_resolution_remove_fine_detail(effect):
    crops = _checkerboard(8)
    out = augment_crops(crops, np.random.default_rng(1), Augment(**{effect: 1.0}))
    before = _sharpness(crops[0])
    # every crop loses most of its 4-px checker detail (noise alone would add detail, not remove it)
    assert all(_sharpness(img) < 0.6 * before for img in out)


def test_occlusion_erases_rectangles_of_the_documented_size():
    crops = np.full((32, 64, 64, 3), 128, np.uint8)
    out = augment_crops(crops, np.random.default_rng(2), Augment(occlusion=1.0))
    size = 64 * 64
    fractions = []
    for img in out:
        changed = np.abs(img.astype(int) - 128).max(-1) > 30  # the sensor noise stays within a few grey levels
        fractions.append(changed.sum() / size)
    fractions = np.array(fractions)
    # 1-2 rectangles of 5-25% each (a flat fill may be close to grey 128, so allow some below 5%)
    assert fractions.max() <= 0.5 + 1e-9
    assert np.median(fractions) > 0.04
    assert (fractions > 0).mean() > 0.8


def test_symmetric_targets_fold_azimuth_to_an_equivalent_pose():
    rng = np.random.default_rng(3)
    angles = np.stack([rng.uniform(0, 2 * np.pi, 50), rng.uniform(-1.2, 1.2, 50), rng.uniform(-1, 1, 50)], 1)
    syms = [SymmetrySpec("rotational", "z", 2)] * 20 + [SymmetrySpec("rotational", "z", 4)] * 10 + [SymmetrySpec()] * 10 + [SymmetrySpec("mirror", "x", 0)] * 10
    folded = symmetric_targets(angles, syms)
    for a, f, s in zip(angles, folded, syms):
        R, Rf = viewpoint_to_rotation(*a), viewpoint_to_rotation(*f)
        if s.type == "rotational":
            assert 0.0 <= f[0] < 2 * np.pi / s.order + 1e-12
            # the folded label is the same image: R_f = R Rz(2 pi k / n) for some k (object symmetry)
            assert min(np.abs(Rf - R @ rot_z(2 * np.pi * k / s.order)).max() for k in range(s.order)) < 1e-9
        else:
            assert np.array_equal(a, f)
    cont = symmetric_targets(angles[:3], [SymmetrySpec("rotational", "z", 0)] * 3)
    assert np.all(cont[:, 0] == 0.0) and np.array_equal(cont[:, 1:], angles[:3, 1:])


def test_scores_are_against_the_label_frame_not_the_egocentric_rotation():
    """An object off the optical axis: the crop shows the allocentric (label) viewpoint, the
    egocentric R differs from it by the ray's rotation. A prediction of the label's exact bins
    must score zero error."""
    bins = PoseBins(36, 18, 36)
    idx = np.array([[3, 12, 1], [20, 6, 35]])
    angles = bins.decode(idx)
    # egocentric: the label rotated by the ray to an object at x = 0.4 t_z (a 22 deg offset)
    ray = np.array([0.4, 0.0, 1.0]) / np.linalg.norm([0.4, 0.0, 1.0])
    axis = np.cross([0.0, 0.0, 1.0], ray)
    angle = np.arccos(ray[2])
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]]) / np.linalg.norm(axis)
    ray_R = np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K
    R_ego = np.stack([ray_R @ viewpoint_to_rotation(*a) for a in angles])
    records = Records(root=None, split="train", ids=np.array(["a", "b"]), synsets=np.array(["n1", "n1"]), class_names={"n1": "x"},
                      cad_ids=np.array(["m", "m"]), angles=angles, R=R_ego, bbox=np.zeros((2, 4)), symmetries=[SymmetrySpec()] * 2)
    outputs = {name: torch.full((2, n), -10.0) for name, n in zip(("azimuth", "elevation", "theta"), (36, 18, 36))}
    for i, name in enumerate(("azimuth", "elevation", "theta")):
        outputs[name][torch.arange(2), torch.from_numpy(idx[:, i])] = 10.0
    scored = score(outputs, records, bins)
    assert np.max(scored["errors"]) < 1e-6
    assert np.allclose(scored["errors_egocentric"], angle, atol=1e-6)  # the ray's rotation, 21.8 deg
