"""Pose hypotheses of a record, rendered through the one label frame its control came from.

A record's viewpoint angles are the pose a crop shows: for generated data the camera looks at
the object's origin and they equal ``R``; for imported photographs (``dst3d import-bop``) they
are the *allocentric* pose, ``R_allo = R_ray R``, where ``R_ray`` turns the camera so the ray
through the object's origin (``t``) becomes its optical axis. The stored control is the render
of the egocentric ``R`` at ``t`` through ``K``. A hypothesis given as angles (the held-out
estimator's prediction, the label turned by pi) is therefore mapped back through the same
turn, ``R = R_ray^T R_allo(angles)``, before it is rendered at the record's ``t`` and ``K``:
the label's own angles then re-render exactly its stored control, for an off-centre object
too (rendering ``R_allo`` at ``t`` instead, as the filter once did, moves 2-4% of the pixels).

Every render goes through :class:`dst3d.render.scene.Rerenderer` (``render_pose``), with the
record's image size, or a square crop of it (``crop_camera``), so datasets with mixed sizes work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ingest.bop import allocentric_rotation
from ..pose.viewpoint import viewpoint_to_rotation
from ..render.scene import RenderedPose, Rerenderer


def ray_turn(t) -> np.ndarray:
    """``R_ray``: the camera turn that puts the ray through ``t`` on the optical axis
    (identity when the object is on the axis, as in generated data)."""
    return allocentric_rotation(np.eye(3), np.asarray(t, np.float64))


def egocentric(R_allo: np.ndarray, t) -> np.ndarray:
    """The egocentric rotation (object -> this camera) of an allocentric hypothesis at ``t``."""
    return ray_turn(t).T @ np.asarray(R_allo, np.float64)


def hypothesis_rotation(record, angles=None) -> np.ndarray:
    """Egocentric R of the record's label (``angles`` None) or of a hypothesis (azimuth,
    elevation, theta), in the record's label frame."""
    if angles is None:
        return np.asarray(record.R, np.float64)
    return egocentric(viewpoint_to_rotation(*np.asarray(angles, np.float64)[:3]), record.t)


def flipped_angles(record) -> np.ndarray:
    """The label turned by pi in azimuth (diffusion's classic failure: seen from behind)."""
    vp = record.viewpoint
    return np.array([vp.azimuth + np.pi, vp.elevation, vp.theta])


@dataclass
class CropView:
    """What Rerenderer.view reads, for a record seen through another camera (a crop)."""

    cad_id: str
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    width: int
    height: int
    render: dict = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def crop_affine(bbox, size: int, margin: float) -> np.ndarray:
    """(3, 3) map from image to crop pixels, dst3d's pixel-edge convention (a square of side
    ``max(w, h) * (1 + margin)`` around the bbox centre, scaled to ``size``)."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (x1 > x0 and y1 > y0):
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    side = max(x1 - x0, y1 - y0) * (1.0 + margin)
    s = size / side
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return np.array([[s, 0.0, size / 2.0 - s * cx], [0.0, s, size / 2.0 - s * cy], [0.0, 0.0, 1.0]])


def crop_image(image: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """The image through ``crop_affine`` (OpenCV samples at pixel centres: shifted by 0.5)."""
    import cv2

    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    M = (np.linalg.inv(shift) @ affine @ shift)[:2]
    if affine[0, 0] < 0.5:  # strong downscale: area-average first (warpAffine aliases)
        h, w = image.shape[:2]
        f = affine[0, 0] * 1.5
        small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        scale = np.diag([w / small.shape[1], h / small.shape[0], 1.0])
        M = (np.linalg.inv(shift) @ affine @ scale @ shift)[:2]
        image = small
    return cv2.warpAffine(np.ascontiguousarray(image), M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def render_hypothesis(rerender: Rerenderer, record, angles=None, affine: np.ndarray | None = None,
                      size: int | None = None) -> RenderedPose:
    """Render the label (``angles`` None) or a hypothesis of ``record`` in its label frame:
    through the record's own camera and image size, or through ``affine`` into a
    ``size`` x ``size`` crop."""
    R = hypothesis_rotation(record, angles)
    if affine is None:
        return rerender.view(record, R=R)
    view = CropView(record.cad_id, R, np.asarray(record.t, np.float64), affine @ np.asarray(record.K, np.float64),
                    int(size), int(size), record.render or {})
    return rerender.view(view)


__all__ = ["ray_turn", "egocentric", "hypothesis_rotation", "flipped_angles", "crop_affine", "crop_image",
           "render_hypothesis", "CropView"]
