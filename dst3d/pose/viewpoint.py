"""PASCAL3D+ viewpoints and their object-to-camera rotation/translation.

Conventions (what every record in a dst3d dataset means):

* Object frame: canonical CAD frame, +Z up, the object's front faces -Y, units of the
  normalized model (longest bounding-box side = 1).
* Viewpoint (PASCAL3D+/ObjectNet3D): azimuth ``a``, elevation ``e``, in-plane rotation
  ``theta`` (radians) and distance ``d``. The camera centre is
  ``C = d * (cos e sin a, -cos e cos a, sin e)``, so azimuth 0 sees the object's front.
* Camera: OpenCV axes (x right, y down, z forward). ``X_cam = R @ X_obj + t``,
  pixels ``u = K @ X_cam / z``. The camera looks at the object's origin, which therefore
  projects to the principal point.

``R`` is built as ``Rz(-theta) @ diag(1,-1,-1) @ Rx(e - pi/2) @ Rz(-a)``: the middle
factors are ObjectNet3D's ``project_3d.m`` (camera looking down -Z), the ``diag`` turns
its camera into OpenCV axes, and ``Rz(-theta)`` is its final 2D rotation with the image
y-flip folded in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TWO_PI = 2.0 * np.pi
_GL_TO_CV = np.diag([1.0, -1.0, -1.0])


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def wrap_angle(angle: float) -> float:
    """Map to [0, 2pi), the range PASCAL3D+ tools store azimuth and theta in."""
    return float(np.mod(angle, TWO_PI))


@dataclass(frozen=True)
class Viewpoint:
    """A PASCAL3D+ viewpoint in radians; distance in normalized object units."""

    azimuth: float
    elevation: float
    theta: float
    distance: float

    def rotation(self) -> np.ndarray:
        return viewpoint_to_rotation(self.azimuth, self.elevation, self.theta)

    def translation(self) -> np.ndarray:
        return np.array([0.0, 0.0, float(self.distance)])

    def camera_centre(self) -> np.ndarray:
        a, e, d = self.azimuth, self.elevation, self.distance
        return d * np.array([np.cos(e) * np.sin(a), -np.cos(e) * np.cos(a), np.sin(e)])

    def as_dict(self) -> dict[str, float]:
        return {
            "azimuth": float(self.azimuth),
            "elevation": float(self.elevation),
            "theta": float(self.theta),
            "distance": float(self.distance),
        }


def viewpoint_to_rotation(azimuth: float, elevation: float, theta: float) -> np.ndarray:
    """Object-to-camera rotation (OpenCV camera) for a PASCAL3D+ viewpoint."""
    return rot_z(-theta) @ _GL_TO_CV @ rot_x(elevation - np.pi / 2) @ rot_z(-azimuth)


def viewpoint_to_rt(vp: Viewpoint) -> tuple[np.ndarray, np.ndarray]:
    return vp.rotation(), vp.translation()


def rotation_to_viewpoint(R: np.ndarray, distance: float = 1.0) -> Viewpoint:
    """Inverse of :func:`viewpoint_to_rotation`; angles wrapped like PASCAL3D+.

    The viewing direction (third row of R, in object coordinates) gives azimuth and
    elevation; what remains of R is the in-plane rotation. At the poles (|e| = pi/2)
    azimuth is undefined and theta absorbs it.
    """
    R = np.asarray(R, dtype=np.float64)
    toward_camera = -R[2]  # unit vector from the object's origin to the camera
    elevation = float(np.arcsin(np.clip(toward_camera[2], -1.0, 1.0)))
    horizontal = np.hypot(toward_camera[0], toward_camera[1])
    azimuth = float(np.arctan2(toward_camera[0], -toward_camera[1])) if horizontal > 1e-9 else 0.0
    in_plane = R @ viewpoint_to_rotation(azimuth, elevation, 0.0).T  # = Rz(-theta)
    theta = float(-np.arctan2(in_plane[1, 0], in_plane[0, 0]))
    return Viewpoint(wrap_angle(azimuth), elevation, wrap_angle(theta), float(distance))


def rt_to_viewpoint(R: np.ndarray, t: np.ndarray) -> Viewpoint:
    """Viewpoint of an arbitrary object-to-camera pose (BOP style input).

    Angles come from R alone, distance is |t|; for a camera that does not look at the
    object's origin the offset shows up as a shifted principal point, as in PASCAL3D+.
    """
    return rotation_to_viewpoint(R, float(np.linalg.norm(t)))


def intrinsics(width: int, height: int, focal: float) -> np.ndarray:
    """Pinhole K with square pixels and the principal point at the image centre."""
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


def focal_from_fov(width: int, fov_deg: float) -> float:
    return width / 2.0 / np.tan(np.deg2rad(fov_deg) / 2.0)


def project(points: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) and camera depth (N,) of object-frame points (N, 3)."""
    cam = np.asarray(points, dtype=np.float64) @ np.asarray(R).T + np.asarray(t).reshape(1, 3)
    z = cam[:, 2]
    uvw = cam @ np.asarray(K).T
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = uvw[:, :2] / uvw[:, 2:3]
    return uv, z


def geodesic_error(R_pred: np.ndarray, R_gt: np.ndarray) -> float:
    """Rotation angle of R_pred^T R_gt, i.e. ||logm(R_pred^T R_gt)||_F / sqrt(2)."""
    rel = np.asarray(R_pred).T @ np.asarray(R_gt)
    cos = (np.trace(rel) - 1.0) / 2.0
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


# --- pixel conventions ------------------------------------------------------------------------
# dst3d's image coordinates put pixel edges at integers: pixel (col, row) covers
# [col, col + 1) x [row, row + 1) and is centred at (col + 0.5, row + 0.5); its K is meant so.
# OpenCV, BOP and COCO keypoints put pixel centres at integers: pixel (col, row) is centred at
# (col, row). The same point is 0.5 px less in the second convention, on both axes. Every
# boundary (exports, importers of BOP/OpenCV data) converts through these two functions.
PIXEL_CENTRE_OFFSET = 0.5  # dst3d coordinate - pixel-centre (OpenCV/BOP/COCO keypoint) coordinate


def _shift(offset: float) -> np.ndarray:
    return np.array([[1.0, 0.0, offset], [0.0, 1.0, offset], [0.0, 0.0, 1.0]])


def to_pixel_centres(K: np.ndarray | None = None, xy=None):
    """dst3d (pixel edges at integers) -> pixel-centre coordinates (OpenCV, BOP ``cam_K``,
    COCO keypoints): ``K`` -> cx, cy minus 0.5 (fx, fy, skew unchanged), a point
    ``(x, y)`` -> ``(x - 0.5, y - 0.5)``. Give one of the two."""
    return _convert(K, xy, -PIXEL_CENTRE_OFFSET)


def from_pixel_centres(K: np.ndarray | None = None, xy=None):
    """The inverse of :func:`to_pixel_centres`: a BOP/OpenCV K or point into dst3d's convention."""
    return _convert(K, xy, PIXEL_CENTRE_OFFSET)


def _convert(K, xy, offset: float):
    if (K is None) == (xy is None):
        raise TypeError("give K or xy")
    if K is not None:
        return _shift(offset) @ np.asarray(K, np.float64).reshape(3, 3)
    x, y = (float(v) for v in xy)
    return x + offset, y + offset



# --- camera-to-world matrices (multi-view exports) ----------------------------------------------
# World = the object's canonical frame. dst3d's camera is OpenCV's (x right, y down, z forward);
# NeRF/Blender/nerfstudio transforms.json cameras are OpenGL's (x right, y up, looking down -z):
# the same camera with its y and z axes negated, i.e. c2w_gl = c2w_cv @ diag(1, -1, -1, 1).
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


def camera_to_world(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The 4x4 camera-to-world matrix (OpenCV camera axes) of an object-to-camera pose
    ``x_cam = R @ x_obj + t``: ``[[R^T, -R^T t], [0, 0, 0, 1]]``; its last column is the camera centre."""
    R = np.asarray(R, np.float64).reshape(3, 3)
    t = np.asarray(t, np.float64).reshape(3)
    c2w = np.eye(4)
    c2w[:3, :3] = R.T
    c2w[:3, 3] = -R.T @ t
    return c2w


def world_to_camera(c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``R``, ``t`` (object -> OpenCV camera) of an OpenCV camera-to-world matrix (the inverse of
    :func:`camera_to_world`)."""
    c2w = np.asarray(c2w, np.float64).reshape(4, 4)
    R = c2w[:3, :3].T
    return R, -R @ c2w[:3, 3]
