"""Geometry primitives of the parametric generator: transforms, boxes, tubes, lofts, the model container.

Why: every object family is built from the same few shapes, in metres, in the canonical
frame (+Z up, front toward -Y, object's left = +X). Kept free of any family so a new family
only imports this module, and deterministic (no randomness, no state), so the same call
always gives the same vertices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np
import trimesh
from trimesh import creation

from ..library import Symmetry

RING = 24  # points per loft cross-section: smooth enough, small files
Vec = Union[Sequence[float], np.ndarray]  # a point or direction in metres, canonical frame


# --------------------------------------------------------------------------------------
# geometry helpers (all in metres, canonical frame)
# --------------------------------------------------------------------------------------


def rigid(offset: Vec = (0.0, 0.0, 0.0), rot: np.ndarray | None = None) -> np.ndarray:
    """4x4 placement (rotation then offset): what trimesh.creation takes as ``transform``."""
    mat = np.eye(4)
    if rot is not None:
        mat[:3, :3] = rot
    mat[:3, 3] = offset
    return mat


def rot_x(angle: float) -> np.ndarray:
    """Rotation about +X by ``angle`` radians (right-handed): tilts panes and backs forward or back."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], float)


def rot_y(angle: float) -> np.ndarray:
    """Rotation about +Y by ``angle`` radians: rolls a part sideways (tyres, side windows)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], float)


def rot_z(angle: float) -> np.ndarray:
    """Rotation about +Z (up) by ``angle`` radians: turns a part in plan view."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], float)


def box(size: Vec, centre: Vec, rot: np.ndarray | None = None) -> trimesh.Trimesh:
    """A box of ``size`` (x, y, z extents) centred at ``centre``, optionally rotated about its centre."""
    return creation.box(extents=size, transform=rigid(centre, rot))


def span(lo: Vec, hi: Vec) -> trimesh.Trimesh:
    """Axis-aligned box between two corners."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return creation.box(extents=hi - lo, transform=rigid((lo + hi) / 2))


def tube(p0: Vec, p1: Vec, radius: float, sections: int = 10) -> trimesh.Trimesh:
    """A cylinder from ``p0`` to ``p1`` (frame tubes, legs, struts); few sections keep files small."""
    return creation.cylinder(radius=radius, segment=[p0, p1], sections=sections)


def disc(centre: Vec, radius: float, width: float, axis: str = "x", sections: int = 24) -> trimesh.Trimesh:
    """A short cylinder (wheel hub, headlight, lid) with its axis along x, y or z."""
    direction = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    c, d = np.asarray(centre, float), np.asarray(direction, float) * width / 2
    return creation.cylinder(radius=radius, segment=[c - d, c + d], sections=sections)


def tyre(centre: Vec, radius: float, width: float) -> trimesh.Trimesh:
    """A torus tyre of outer radius ``radius``, its axle along x: curved, so it shades as a wheel."""
    minor = width / 2
    return creation.torus(radius - minor, minor, major_sections=28, minor_sections=8, transform=rigid(centre, rot_y(np.pi / 2)))


def ellipsoid(centre: Vec, radii: Vec, subdivisions: int = 2) -> trimesh.Trimesh:
    """A scaled icosphere (casters, lamps, canopies): round shading from few faces."""
    mesh = creation.icosphere(subdivisions=subdivisions)
    mesh.apply_transform(rigid(centre, np.diag(np.asarray(radii, float))))
    return mesh


def revolve_z(profile: Sequence[Sequence[float]] | np.ndarray, sections: int = 32, angle: float | None = None, start: float = 0.0,
              centre: Vec = (0, 0, 0)) -> trimesh.Trimesh:
    """Body of revolution about +Z from an (r, z) profile; ``start`` rotates a partial sweep."""
    kwargs = {"angle": angle} if angle is not None else {}
    mesh = creation.revolve(np.asarray(profile, float), sections=sections, **kwargs)
    mesh.apply_transform(rigid(centre, rot_z(start)))
    return mesh


def _superellipse(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of |u|^p + |v|^p = 1 (p=2 a circle, large p a rounded box), offset half a step."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False) + np.pi / n
    c, s = np.cos(t), np.sin(t)
    return np.sign(c) * np.abs(c) ** (2 / p), np.sign(s) * np.abs(s) ** (2 / p)


def ring_xz(y: float, hw: float, z0: float, z1: float, p: float = 4.0, bot: float = 1.0, top: float = 1.0, x0: float = 0.0, n: int = RING) -> np.ndarray:
    """Cross-section across the Y axis: half width ``hw``, from z0 to z1, tapered at bottom/top."""
    u, v = _superellipse(n, p)
    frac = (v + 1) / 2
    w = hw * (bot + (top - bot) * frac)
    return np.stack([x0 + u * w, np.full(n, float(y)), z0 + frac * (z1 - z0)], 1)


def ring(centre: Vec, a: Vec, b: Vec, ra: float, rb: float, p: float = 2.0, n: int = RING) -> np.ndarray:
    """Superellipse in the plane spanned by unit vectors a, b around ``centre``."""
    u, v = _superellipse(n, p)
    return np.asarray(centre, float) + np.outer(u * ra, a) + np.outer(v * rb, b)


X, Y, Z = np.eye(3)  # unit axes, for ring() planes


def loft(rings: list[np.ndarray]) -> trimesh.Trimesh:
    """Closed skin through cross-sections of equal point count, capped with fans.

    A ring collapsed to a point makes a tip (nose, bow). Winding is consistent by
    construction and flipped outward when the volume comes out negative.
    """
    rings = [np.asarray(r, float) for r in rings]
    m, n = len(rings), len(rings[0])
    verts = np.vstack(rings + [rings[0].mean(0, keepdims=True), rings[-1].mean(0, keepdims=True)])
    j = np.arange(n)
    k = (j + 1) % n
    faces = []
    for i in range(m - 1):
        a, b = i * n, (i + 1) * n
        faces += [np.stack([a + j, b + j, b + k], 1), np.stack([a + j, b + k, a + k], 1)]
    last = (m - 1) * n
    faces.append(np.stack([np.full(n, m * n), j, k], 1))
    faces.append(np.stack([np.full(n, m * n + 1), last + k, last + j], 1))
    mesh = trimesh.Trimesh(verts, np.vstack(faces), process=False)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def plate_yz(points_yz: Sequence[Sequence[float]] | np.ndarray, x0: float, x1: float) -> trimesh.Trimesh:
    """A convex polygon in the (y, z) plane (side view), extruded across x."""
    pts = np.asarray(points_yz, float)
    return loft([np.column_stack([np.full(len(pts), x0), pts]), np.column_stack([np.full(len(pts), x1), pts])])


def arc(centre: Vec, radius: float, a0: float, a1: float, half_width: float, half_thick: float, n: int = 12) -> trimesh.Trimesh:
    """A curved strip in the (y, z) plane (fender, wheel arch); angles in degrees, 90 = up, 180 = front (-y)."""
    c = np.asarray(centre, float)
    rings = []
    for a in np.deg2rad(np.linspace(a0, a1, n)):
        radial = np.array([0.0, np.cos(a), np.sin(a)])
        rings.append(ring(c + radius * radial, X, radial, half_width, half_thick, p=6, n=8))
    return loft(rings)


def side_pane(x_side: float, y: float, z: float, length: float, height: float, tilt: float = 0.12) -> trimesh.Trimesh:
    """A window on a side wall (x = x_side), leaning in at the top so it shades apart from the wall."""
    sign = 1.0 if x_side > 0 else -1.0
    return box((0.03, length, height), (x_side + sign * 0.01, y, z), rot_y(-sign * tilt))


def front_pane(y: float, z: float, width: float, height: float, lean: float) -> trimesh.Trimesh:
    """A windscreen facing -y, leaning back by ``lean`` radians."""
    return box((width, 0.03, height), (0.0, y, z), rot_x(-lean))


# --------------------------------------------------------------------------------------
# model container
# --------------------------------------------------------------------------------------


@dataclass
class Model:
    """A model under construction: named parts (each a list of pieces) and keypoints (metres)."""

    parts: dict[str, list[trimesh.Trimesh]] = field(default_factory=dict)
    keypoints: dict[str, list[float]] = field(default_factory=dict)
    symmetry: Symmetry = field(default_factory=lambda: Symmetry(type="mirror", axis="x"))

    def add(self, part: str, *meshes: trimesh.Trimesh | list[trimesh.Trimesh]) -> None:
        """Append pieces to a named part; the build merges each part into one GLB node (one render colour)."""
        for mesh in meshes:
            self.parts.setdefault(part, []).extend(mesh if isinstance(mesh, list) else [mesh])

    def kp(self, name: str, point: Vec) -> None:
        """A keypoint in metres; the build normalizes it and snaps it onto the surface."""
        self.keypoints[name] = [float(v) for v in point]

    def kp_pair(self, name: str, point: Vec) -> None:
        """``left_<name>`` at +x and ``right_<name>`` at -x (the object's own left and right)."""
        x, y, z = (float(v) for v in point)
        self.kp(f"left_{name}", (abs(x), y, z))
        self.kp(f"right_{name}", (-abs(x), y, z))
