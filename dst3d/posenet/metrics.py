"""Rotation error, modulo an object's symmetry, and the field's summary metrics.

Error is the geodesic angle ``||logm(R_pred^T R_gt)||_F / sqrt(2)``. For an object that is
rotationally symmetric in its own frame (``X_obj -> S X_obj`` maps it onto itself), every
``R_gt @ S`` shows the same image, so the error is the minimum over the symmetry group:

* ``rotational`` about unit axis ``u`` with order ``n >= 2``: ``S_k = Rot_u(2 pi k / n)``.
* ``rotational`` with order 0 (continuous, e.g. a bottle about z): the rotations
  ``M Rot_u(phi)`` (``M = R_pred^T R_gt``) are exactly the rotations that take ``u`` to
  ``M u``; a rotation by angle ``alpha`` moves no unit vector by more than ``alpha``, and
  the rotation about ``u x Mu`` by ``angle(u, Mu)`` attains it. So the minimum is the angle
  between the symmetry axis seen by the two poses: ``arccos((R_pred u) . (R_gt u))``.
* ``mirror`` is a reflection, not a pose ambiguity (a mirror image is no rotation): scored
  like ``none``. Order 1 is no symmetry either.

Acc@pi/6, Acc@pi/18 and the median error (degrees) are reported per class and overall.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

AXES = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}


@dataclass(frozen=True)
class SymmetrySpec:
    """A CAD model's symmetry tag, as in the CAD manifest."""

    type: str = "none"  # none | mirror | rotational
    axis: str = "z"
    order: int = 0

    @classmethod
    def of(cls, tag) -> "SymmetrySpec":
        if tag is None:
            return cls()
        if isinstance(tag, SymmetrySpec):
            return tag
        if isinstance(tag, dict):
            return cls(tag.get("type", "none"), tag.get("axis", "z"), int(tag.get("order", 0)))
        return cls(tag.type, tag.axis, int(tag.order))

    @property
    def is_rotational(self) -> bool:
        return self.type == "rotational" and self.order != 1

    def as_dict(self) -> dict:
        return {"type": self.type, "axis": self.axis, "order": self.order}


def axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: rotation by ``angle`` about unit ``axis``."""
    u = np.asarray(axis, dtype=np.float64)
    u = u / np.linalg.norm(u)
    k = np.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def _angle(rel: np.ndarray) -> np.ndarray:
    """Rotation angle of (..., 3, 3) matrices."""
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def rotation_errors(R_pred, R_gt, symmetries=None) -> np.ndarray:
    """Geodesic errors (radians) of (N, 3, 3) predictions, each modulo its symmetry tag.

    ``symmetries``: None, one tag for all, or a sequence of N tags (SymmetrySpec, the
    manifest's Symmetry model, or a dict).
    """
    R_pred = np.asarray(R_pred, dtype=np.float64).reshape(-1, 3, 3)
    R_gt = np.asarray(R_gt, dtype=np.float64).reshape(-1, 3, 3)
    n = len(R_pred)
    if symmetries is None or not isinstance(symmetries, (list, tuple, np.ndarray)):
        symmetries = [symmetries] * n
    specs = [SymmetrySpec.of(s) for s in symmetries]
    errors = _angle(np.transpose(R_pred, (0, 2, 1)) @ R_gt)
    groups: dict[SymmetrySpec, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        if spec.is_rotational:
            groups[spec].append(i)
    for spec, rows in groups.items():
        rows = np.asarray(rows)
        u = AXES[spec.axis]
        if spec.order == 0:
            cos = np.einsum("ni,ni->n", R_pred[rows] @ u, R_gt[rows] @ u)
            errors[rows] = np.arccos(np.clip(cos, -1.0, 1.0))
        else:
            rel = np.transpose(R_pred[rows], (0, 2, 1)) @ R_gt[rows]
            candidates = [_angle(rel @ axis_rotation(u, 2.0 * np.pi * k / spec.order)) for k in range(abs(spec.order))]
            errors[rows] = np.min(np.stack(candidates), axis=0)
    return errors


def rotation_error(R_pred, R_gt, symmetry=None) -> float:
    """One geodesic error in radians, modulo ``symmetry``."""
    return float(rotation_errors(R_pred, R_gt, [symmetry])[0])


def summarize(errors_rad) -> dict:
    """Acc@pi/6, Acc@pi/18 (fractions), median and mean error (degrees), count."""
    e = np.asarray(errors_rad, dtype=np.float64)
    if e.size == 0:
        return {"n": 0, "acc_pi_6": float("nan"), "acc_pi_18": float("nan"), "median_deg": float("nan"), "mean_deg": float("nan")}
    return {
        "n": int(e.size),
        "acc_pi_6": float(np.mean(e < np.pi / 6)),
        "acc_pi_18": float(np.mean(e < np.pi / 18)),
        "median_deg": float(np.rad2deg(np.median(e))),
        "mean_deg": float(np.rad2deg(np.mean(e))),
    }


def pose_metrics(errors_rad, classes) -> dict:
    """``{"overall": summary, "per_class": {class: summary}}``; classes aligned with errors."""
    e = np.asarray(errors_rad, dtype=np.float64)
    classes = np.asarray(classes)
    per_class = {str(c): summarize(e[classes == c]) for c in sorted(set(classes.tolist()))}
    return {"overall": summarize(e), "per_class": per_class}
