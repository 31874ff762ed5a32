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


# --------------------------------------------------------------------------------------
# paths and outlines (used by the families added after the 12 PASCAL3D+ ones)
# --------------------------------------------------------------------------------------


def bent_tube(points: Sequence[Vec] | np.ndarray, radius: float | Sequence[float], n: int = 8, p: float = 2.0,
              radius_b: float | Sequence[float] | None = None) -> trimesh.Trimesh:
    """A tube swept along a polyline (handles, bails, shackles, spouts): one ring per point,
    each perpendicular to the path, so bends stay round where a chain of cylinders would gap.
    ``radius`` (and ``radius_b``, the second half-axis) may vary per point, for tapers."""
    pts = np.asarray(points, float)
    ra = np.broadcast_to(np.asarray(radius, float), len(pts))
    rb = ra if radius_b is None else np.broadcast_to(np.asarray(radius_b, float), len(pts))
    tangents = np.gradient(pts, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    rings = []
    normal = np.cross(tangents[0], Z if abs(float(tangents[0] @ Z)) < 0.9 else X)
    for point, t, r_a, r_b in zip(pts, tangents, ra, rb):
        normal = normal - (normal @ t) * t  # carried along the path (parallel transport): no twist at bends
        normal /= np.linalg.norm(normal)
        rings.append(ring(point, normal, np.cross(t, normal), r_a, r_b, p=p, n=n))
    return loft(rings)


def arc_points(centre: Vec, radius: float, a0: float, a1: float, u: Vec = X, v: Vec = Z, n: int = 12, radius_v: float | None = None) -> np.ndarray:
    """``n`` points on an arc (or an ellipse's) from angle a0 to a1 (degrees) in the plane spanned by u, v."""
    a = np.deg2rad(np.linspace(a0, a1, n))
    rv = radius if radius_v is None else radius_v
    return np.asarray(centre, float) + np.outer(np.cos(a) * radius, u) + np.outer(np.sin(a) * rv, v)


def polar_outline(radii: Sequence[float], n: int = 48, scale: Vec = (1.0, 1.0)) -> np.ndarray:
    """A closed 2-D outline r(angle), the given radii spread evenly over 360 degrees from +u
    and interpolated periodically: star-shaped by construction, so loft()'s fan caps close it."""
    r = np.asarray(radii, float)
    angles = np.linspace(0.0, 2 * np.pi, len(r), endpoint=False)
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    rt = np.interp(t, np.concatenate([angles, [2 * np.pi]]), np.concatenate([r, r[:1]]))
    return np.stack([rt * np.cos(t) * scale[0], rt * np.sin(t) * scale[1]], 1)


def plate_xz(points_xz: Sequence[Sequence[float]] | np.ndarray, y0: float, y1: float, offset: Vec = (0.0, 0.0)) -> trimesh.Trimesh:
    """A star-shaped polygon in the (x, z) plane (front view), extruded from y0 to y1."""
    pts = np.asarray(points_xz, float) + np.asarray(offset, float)
    return loft([np.column_stack([pts[:, 0], np.full(len(pts), y0), pts[:, 1]]), np.column_stack([pts[:, 0], np.full(len(pts), y1), pts[:, 1]])])


def plate_xy(points_xy: Sequence[Sequence[float]] | np.ndarray, z0: float, z1: float, offset: Vec = (0.0, 0.0)) -> trimesh.Trimesh:
    """A star-shaped polygon in the (x, y) plane (plan view), extruded from z0 to z1."""
    pts = np.asarray(points_xy, float) + np.asarray(offset, float)
    return loft([np.column_stack([pts, np.full(len(pts), z0)]), np.column_stack([pts, np.full(len(pts), z1)])])


def flat_ring(z: float, radius: float, tube_r: float, sections: int = 32) -> trimesh.Trimesh:
    """A ring of round section lying flat (axis +Z) at height z, centred on ``radius``: rims, hoops, beads."""
    angles = np.linspace(np.pi, 3 * np.pi, 9)  # counter-clockwise in (r, z), like every profile here: faces point out
    return revolve_z([(radius + tube_r * np.cos(a), z + tube_r * np.sin(a)) for a in angles], sections=sections)


def facing_front(mesh: trimesh.Trimesh, centre: Vec) -> trimesh.Trimesh:
    """Turn a mesh built about +Z (a revolved dial, cone, dome) to face -Y, then place it at ``centre``."""
    return mesh.apply_transform(rigid(centre, rot_x(np.pi / 2)))


def front_ring(centre: Vec, radius: float, tube_r: float, sections: int = 32) -> trimesh.Trimesh:
    """A round-section ring in the x-z plane (a porthole, a clock bezel, a speaker surround), axis along Y."""
    angles = np.linspace(np.pi, 3 * np.pi, 9)
    return facing_front(revolve_z([(radius + tube_r * np.cos(a), tube_r * np.sin(a)) for a in angles], sections=sections), centre)


def cone(radius: float, depth: float) -> trimesh.Trimesh:
    """A speaker cone (dish) about +Z, its mouth at z = depth."""
    return revolve_z([(0, 0), (radius * 0.25, 0.0), (radius * 0.3, depth * 0.3), (radius, depth), (radius * 0.25, depth * 0.6), (0, depth * 0.55)], sections=28)
