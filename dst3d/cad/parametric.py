"""Parametric CAD models for the 12 PASCAL3D+ rigid categories, built offline from primitives.

Why: no mesh download is possible here, and a pose dataset only needs recognizable,
correctly posed silhouettes with named parts and keypoints. Every model is built in
metres in the canonical frame (+Z up, front toward -Y, object's left = +X), then centred
and scaled so its longest bounding-box side is 1. The same code always gives the same
bytes, so the shipped library can be rebuilt and diffed.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import trimesh
from trimesh import creation

from ..errors import UserError
from .library import MANIFEST, CadClass, CadLibrary, CadModel, Manifest, Symmetry

SOURCE = "dst3d parametric generator v1"
LICENSE = "CC0-1.0"
RING = 24  # points per loft cross-section: smooth enough, small files

# --------------------------------------------------------------------------------------
# geometry helpers (all in metres, canonical frame)
# --------------------------------------------------------------------------------------


def _T(offset=(0.0, 0.0, 0.0), rot: np.ndarray | None = None) -> np.ndarray:
    mat = np.eye(4)
    if rot is not None:
        mat[:3, :3] = rot
    mat[:3, 3] = offset
    return mat


def _rx(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], float)


def _ry(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], float)


def _rz(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], float)


def box(size, centre, rot: np.ndarray | None = None) -> trimesh.Trimesh:
    return creation.box(extents=size, transform=_T(centre, rot))


def span(lo, hi) -> trimesh.Trimesh:
    """Axis-aligned box between two corners."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return creation.box(extents=hi - lo, transform=_T((lo + hi) / 2))


def tube(p0, p1, radius: float, sections: int = 10) -> trimesh.Trimesh:
    return creation.cylinder(radius=radius, segment=[p0, p1], sections=sections)


def disc(centre, radius: float, width: float, axis: str = "x", sections: int = 24) -> trimesh.Trimesh:
    """A short cylinder (wheel hub, headlight, lid) with its axis along x, y or z."""
    direction = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    c, d = np.asarray(centre, float), np.asarray(direction, float) * width / 2
    return creation.cylinder(radius=radius, segment=[c - d, c + d], sections=sections)


def tyre(centre, radius: float, width: float) -> trimesh.Trimesh:
    """A torus tyre of outer radius ``radius``, its axle along x: curved, so it shades as a wheel."""
    minor = width / 2
    return creation.torus(radius - minor, minor, major_sections=28, minor_sections=8, transform=_T(centre, _ry(np.pi / 2)))


def ellipsoid(centre, radii, subdivisions: int = 2) -> trimesh.Trimesh:
    mesh = creation.icosphere(subdivisions=subdivisions)
    mesh.apply_transform(_T(centre, np.diag(np.asarray(radii, float))))
    return mesh


def revolve_z(profile, sections: int = 32, angle: float | None = None, start: float = 0.0, centre=(0, 0, 0)) -> trimesh.Trimesh:
    """Body of revolution about +Z from an (r, z) profile; ``start`` rotates a partial sweep."""
    kwargs = {"angle": angle} if angle is not None else {}
    mesh = creation.revolve(np.asarray(profile, float), sections=sections, **kwargs)
    mesh.apply_transform(_T(centre, _rz(start)))
    return mesh


def _superellipse(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False) + np.pi / n
    c, s = np.cos(t), np.sin(t)
    return np.sign(c) * np.abs(c) ** (2 / p), np.sign(s) * np.abs(s) ** (2 / p)


def ring_xz(y: float, hw: float, z0: float, z1: float, p: float = 4.0, bot: float = 1.0, top: float = 1.0, x0: float = 0.0, n: int = RING) -> np.ndarray:
    """Cross-section across the Y axis: half width ``hw``, from z0 to z1, tapered at bottom/top."""
    u, v = _superellipse(n, p)
    frac = (v + 1) / 2
    w = hw * (bot + (top - bot) * frac)
    return np.stack([x0 + u * w, np.full(n, float(y)), z0 + frac * (z1 - z0)], 1)


def ring(centre, a, b, ra: float, rb: float, p: float = 2.0, n: int = RING) -> np.ndarray:
    """Superellipse in the plane spanned by unit vectors a, b around ``centre``."""
    u, v = _superellipse(n, p)
    return np.asarray(centre, float) + np.outer(u * ra, a) + np.outer(v * rb, b)


X, Y, Z = np.eye(3)


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


def plate_yz(points_yz, x0: float, x1: float) -> trimesh.Trimesh:
    """A convex polygon in the (y, z) plane (side view), extruded across x."""
    pts = np.asarray(points_yz, float)
    return loft([np.column_stack([np.full(len(pts), x0), pts]), np.column_stack([np.full(len(pts), x1), pts])])


def arc(centre, radius: float, a0: float, a1: float, half_width: float, half_thick: float, n: int = 12) -> trimesh.Trimesh:
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
    return box((0.03, length, height), (x_side + sign * 0.01, y, z), _ry(-sign * tilt))


def front_pane(y: float, z: float, width: float, height: float, lean: float) -> trimesh.Trimesh:
    """A windscreen facing -y, leaning back by ``lean`` radians."""
    return box((width, 0.03, height), (0.0, y, z), _rx(-lean))


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
        for mesh in meshes:
            self.parts.setdefault(part, []).extend(mesh if isinstance(mesh, list) else [mesh])

    def kp(self, name: str, point) -> None:
        self.keypoints[name] = [float(v) for v in point]

    def kp_pair(self, name: str, point) -> None:
        """``left_<name>`` at +x and ``right_<name>`` at -x (the object's own left and right)."""
        x, y, z = (float(v) for v in point)
        self.kp(f"left_{name}", (abs(x), y, z))
        self.kp(f"right_{name}", (-abs(x), y, z))


# --------------------------------------------------------------------------------------
# car
# --------------------------------------------------------------------------------------

CAR_PRESETS = [
    # sedan: three boxes, boot behind the rear window
    dict(L=4.7, W=1.82, clear=0.17, nose=0.72, belt=0.95, tail=0.98, roof=1.44, r=0.32, axle_f=0.19, axle_r=0.80,
         ws=0.33, rf=0.46, rb=0.68, re=0.83, taper=0.8),
    # SUV: tall, long roof, vertical tailgate, big wheels
    dict(L=4.75, W=1.9, clear=0.26, nose=0.95, belt=1.12, tail=1.12, roof=1.78, r=0.38, axle_f=0.19, axle_r=0.81,
         ws=0.27, rf=0.38, rb=0.97, re=1.0, taper=0.86),
    # sports car: low, long bonnet, fastback
    dict(L=4.45, W=1.92, clear=0.12, nose=0.52, belt=0.78, tail=0.85, roof=1.2, r=0.33, axle_f=0.2, axle_r=0.79,
         ws=0.40, rf=0.53, rb=0.64, re=0.9, taper=0.72),
]


def build_car(p: dict) -> Model:
    m = Model()
    L, W, hw = p["L"], p["W"], p["W"] / 2
    y = lambda f: -L / 2 + f * L  # noqa: E731 - fraction along the length, 0 = front bumper
    ws, rf, rb, re = p["ws"], p["rf"], p["rb"], p["re"]
    # lower body: bonnet rises from the nose to the windscreen base, boot falls to the tail
    stations = [(0.0, 0.84, p["clear"] + 0.1, p["nose"] - 0.06), (0.02, 0.93, p["clear"] + 0.04, p["nose"]),
                (0.08, 0.98, p["clear"], p["nose"] + 0.4 * (p["belt"] - p["nose"])), (ws, 1.0, p["clear"], p["belt"]),
                (min(re, 0.95), 1.0, p["clear"], p["belt"] + 0.6 * (p["tail"] - p["belt"])),
                (0.98, 0.95, p["clear"] + 0.03, p["tail"]), (1.0, 0.88, p["clear"] + 0.1, p["tail"] - 0.05)]
    for axle in (p["axle_f"], p["axle_r"]):  # keep the wings above the tyres (sports car: a bonnet bulge)
        need = 2 * p["r"] + 0.08
        if np.interp(axle, [s[0] for s in stations], [s[3] for s in stations]) < need:
            stations = sorted(stations + [(axle, 1.0, p["clear"], need)])
    m.add("body", loft([ring_xz(y(f), hw * w, z0, z1, p=5) for f, w, z0, z1 in stations]))
    # greenhouse (glass) with a roof panel and pillars over it
    belt, roof, tp = p["belt"], p["roof"], p["taper"]
    glass_hw = hw * 0.93
    tail_top = roof - 0.08 if re >= 0.99 else belt + 0.01
    cabin = [(ws, belt + 0.01), (ws + 0.25 * (rf - ws), belt + 0.45 * (roof - belt)), (rf, roof), (rb, roof),
             (re - 0.2 * (re - rb), belt + 0.55 * (roof - belt)) if re < 0.99 else (rb + 0.5 * (re - rb), roof - 0.03),
             (re, tail_top)]
    m.add("windows", loft([ring_xz(y(f), glass_hw, belt - 0.05, z, p=6, top=tp) for f, z in cabin]))
    roof_hw = glass_hw * tp + 0.02
    m.add("body", loft([ring_xz(y(f), roof_hw, roof - 0.02, roof + 0.035, p=8) for f in (rf - 0.01, rb + 0.01)]))
    for side in (1, -1):
        base_a = (side * glass_hw, y(ws), belt)
        top_a = (side * (roof_hw - 0.02), y(rf), roof)
        m.add("body", tube(base_a, top_a, 0.045, 6))
        mid = (rf + rb) / 2
        m.add("body", tube((side * glass_hw * 1.01, y(mid), belt), (side * (roof_hw - 0.01), y(mid), roof), 0.05, 6))
        m.add("body", tube((side * glass_hw, y(re), belt), (side * (roof_hw - 0.02), y(rb), roof), 0.07, 6))
        m.add("mirrors", box((0.16, 0.08, 0.1), (side * (hw + 0.05), y(ws) + 0.1, belt + 0.08)))
    # wheels stand just proud of the body sides so their circles read from the side
    tw = 0.22
    for f in (p["axle_f"], p["axle_r"]):
        for side in (1, -1):
            centre = (side * (hw - tw / 2 + 0.02), y(f), p["r"])
            m.add("wheels", tyre(centre, p["r"], tw))
            m.add("rims", disc((side * (hw - tw / 2 + 0.03), y(f), p["r"]), p["r"] * 0.6, tw * 0.85))
            # wheel arch lip hugging the rounded body side
            fs = [s[0] for s in stations]
            z0, z1 = np.interp(f, fs, [s[2] for s in stations]), np.interp(f, fs, [s[3] for s in stations])
            rings = []
            for a in np.deg2rad(np.linspace(-8, 188, 14)):
                radial = np.array([0.0, np.cos(a), np.sin(a)])
                pt = np.array([0.0, y(f), p["r"]]) + (p["r"] + 0.06) * radial
                v = np.clip((pt[2] - (z0 + z1) / 2) / ((z1 - z0) / 2), -1, 1)
                pt[0] = side * (hw * np.interp(f, fs, [s[1] for s in stations]) * (1 - abs(v) ** 5) ** 0.2 + 0.01)
                rings.append(ring(pt, X, radial, 0.04, 0.03, p=6, n=8))
            m.add("body", loft(rings))
    # lights, grille, bumpers
    light_z = p["nose"] - 0.12
    for side in (1, -1):
        m.add("lights", box((0.38, 0.08, 0.11), (side * (hw - 0.3), y(0.005), light_z)))
        m.add("lights", box((0.34, 0.06, 0.1), (side * (hw - 0.28), y(0.998), p["tail"] - 0.14)))
    m.add("grille", box((W * 0.36, 0.06, 0.16), (0, y(0.0), light_z - 0.04)))
    m.add("body", box((W * 0.9, 0.14, 0.14), (0, y(0.01), p["clear"] + 0.14)))
    m.add("body", box((W * 0.9, 0.14, 0.14), (0, y(0.99), p["clear"] + 0.16)))
    m.add("body", box((0.3, 0.03, 0.1), (0, y(0.999), p["clear"] + 0.32)))  # number plate
    # keypoints: PASCAL3D+ car names, left = +x
    m.kp_pair("front_wheel", (hw + 0.02, y(p["axle_f"]), p["r"]))
    m.kp_pair("back_wheel", (hw + 0.02, y(p["axle_r"]), p["r"]))
    m.kp_pair("front_light", (hw - 0.3, y(0.005) - 0.04, light_z))
    m.kp_pair("back_trunk", (hw - 0.28, y(0.998) + 0.03, p["tail"] - 0.14))
    m.kp_pair("upper_windshield", (roof_hw - 0.02, y(rf), roof))
    m.kp_pair("upper_rearwindow", (roof_hw - 0.02, y(rb), roof))
    return m


# --------------------------------------------------------------------------------------
# bus
# --------------------------------------------------------------------------------------

BUS_PRESETS = [
    dict(style="school", L=10.8, W=2.45, H=3.05, clear=0.45, r=0.5, hood=1.6, hood_h=1.7, windows=9, decks=1),
    dict(style="transit", L=12.0, W=2.55, H=3.1, clear=0.32, r=0.5, hood=0.0, hood_h=0.0, windows=6, decks=1),
    dict(style="double", L=10.4, W=2.55, H=4.35, clear=0.3, r=0.5, hood=0.0, hood_h=0.0, windows=5, decks=2),
]


def build_bus(p: dict) -> Model:
    m = Model()
    L, W, H, hw = p["L"], p["W"], p["H"], p["W"] / 2
    front, back = -L / 2, L / 2
    box_front = front + p["hood"]
    clear, r = p["clear"], p["r"]
    double = p["decks"] == 2
    # the box: vertical below the dash, a raked windscreen above it
    dash = 1.3 if not double else H - 0.2
    rake = 0.3 if not double else 0.08
    m.add("body", loft([ring_xz(box_front, hw * 0.985, clear, dash, p=10, top=0.96), ring_xz(box_front + rake, hw, clear, H, p=10, top=0.93),
                        ring_xz(back, hw, clear, H, p=10, top=0.93)]))
    axle_f = box_front + (0.5 if p["hood"] else 2.4)
    axle_r = back - (2.9 if not double else 2.2)
    if p["hood"] > 0:  # conventional school bus bonnet with fenders
        hh = p["hood_h"]
        m.add("body", loft([ring_xz(front + 0.05, hw * 0.6, clear + 0.25, hh - 0.2, p=6, top=0.9), ring_xz(front + 0.4, hw * 0.66, clear + 0.15, hh - 0.03, p=6, top=0.85),
                            ring_xz(box_front + 0.1, hw * 0.7, clear + 0.15, hh, p=6, top=0.85)]))
        m.add("grille", box((W * 0.45, 0.06, hh - clear - 0.65), (0, front + 0.05, (clear + hh) / 2 - 0.02)))
        m.add("body", box((W * 0.98, 0.18, 0.22), (0, front - 0.03, clear + 0.15)))  # bumper
        for side in (1, -1):
            m.add("body", loft([ring_xz(front + 0.45, 0.2, clear + 0.55, clear + 0.75, p=3, x0=side * (hw - 0.22)),
                                ring_xz(box_front - 0.1, 0.24, clear + 0.5, clear + 1.05, p=3, x0=side * (hw - 0.2))]))  # fenders
        light_y, light_z, light_x = front + 0.35, hh - 0.2, hw * 0.52
    else:
        m.add("body", box((W * 1.01, 0.2, 0.3), (0, box_front - 0.02, clear + 0.15)))
        light_y, light_z, light_x = box_front - 0.01, clear + 0.55, hw - 0.3
    for side in (1, -1):
        m.add("lights", disc((side * light_x, light_y - 0.02, light_z), 0.13, 0.08, "y", 16))
        m.add("lights", box((0.25, 0.04, 0.35), (side * (hw - 0.25), back + 0.01, clear + 0.6)))
    # windscreen(s), destination sign, rear window
    if double:
        m.add("windows", front_pane(box_front - 0.02, 1.55, W * 0.88, 1.0, 0.12))
        m.add("windows", front_pane(box_front - 0.02, H - 0.95, W * 0.88, 0.95, 0.12))
    else:
        lean = np.arctan2(rake, H - dash)
        m.add("windows", front_pane(box_front + rake * 0.45 - 0.03, (dash + H - 0.45) / 2, W * 0.88, H - dash - 0.5, lean + 0.12))
        m.add("lights", front_pane(box_front + rake * 0.9 - 0.03, H - 0.25, W * 0.6, 0.25, lean))
    # side windows: one or two rows of panes, leaning in so they shade apart from the wall
    rows = [(1.55, 2.45)] if not double else [(1.2, 1.95), (2.85, 3.65)]
    if p["style"] == "transit":
        rows = [(1.25, 2.6)]
    y0 = box_front + (0.9 if p["hood"] else 1.6)
    y1 = back - 0.5
    n = p["windows"]
    pitch = (y1 - y0) / n
    for z0, z1 in rows:
        for i in range(n):
            for side in (1, -1):
                m.add("windows", side_pane(side * hw, y0 + (i + 0.5) * pitch, (z0 + z1) / 2, pitch * 0.86, z1 - z0, 0.08))
        m.add("windows", box((W * 0.8, 0.03, z1 - z0), (0, back + 0.01, (z0 + z1) / 2), _rx(0.1)))
    # passenger door on the object's right (-x), just behind the windscreen
    door_y = box_front + (0.5 if p["hood"] else 0.9)
    m.add("doors", side_pane(-hw, door_y, (clear + H - 0.45) / 2, 0.9, H - clear - 0.6, 0.04))
    if p["style"] == "school":  # the rub rails every school bus has
        for z in (1.2, 1.38, 0.9):
            for side in (1, -1):
                m.add("trim", box((0.04, L - p["hood"] - 0.3, 0.06), (side * (hw + 0.015), (box_front + back) / 2 + 0.1, z)))
    # wheels: one front axle, one rear axle; tyres and arches stand proud of the sides
    for yy in (axle_f, axle_r):
        for side in (1, -1):
            m.add("wheels", tyre((side * (hw - 0.12), yy, r), r, 0.32))
            m.add("rims", disc((side * (hw + 0.02), yy, r), r * 0.55, 0.06, "x", 20))
            if not (p["hood"] and yy == axle_f):
                m.add("body", arc((side * (hw + 0.01), yy, r), r + 0.08, -8, 188, 0.035, 0.04, 14))
    m.kp_pair("front_wheel", (hw + 0.05, axle_f, r))
    m.kp_pair("back_wheel", (hw + 0.05, axle_r, r))
    m.kp_pair("front_light", (light_x, light_y - 0.06, light_z))
    m.kp_pair("front_top", (hw * 0.93, box_front + rake, H))
    m.kp_pair("back_top", (hw * 0.93, back, H))
    m.kp_pair("back_bottom", (hw, back, clear))
    return m


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------

TRAIN_PRESETS = [
    dict(style="loco", L=19.0, W=3.0, H=4.3, floor=1.2, nose=0.0, r=0.6, axles=2),
    dict(style="highspeed", L=22.0, W=2.95, H=3.9, floor=1.0, nose=6.0, r=0.46, axles=2),
    dict(style="hood", L=18.0, W=3.05, H=4.6, floor=1.3, nose=0.0, r=0.52, axles=3),
]


def build_train(p: dict) -> Model:
    m = Model()
    L, W, H, hw, fl = p["L"], p["W"], p["H"], p["W"] / 2, p["floor"]
    front, back = -L / 2, L / 2
    if p["style"] == "hood":
        m.add("body", span((-hw, front + 0.3, fl), (hw, back - 0.3, fl + 0.25)))  # running board
        cab0, cab1 = front + 3.0, front + 6.0
        m.add("body", loft([ring_xz(cab0, hw - 0.05, fl + 0.2, H - 0.2, p=8, top=0.9), ring_xz(cab1, hw - 0.05, fl + 0.2, H, p=8, top=0.9)]))
        m.add("body", loft([ring_xz(front + 0.5, hw * 0.6, fl + 0.2, fl + 1.7, p=8, top=0.9), ring_xz(cab0, hw * 0.6, fl + 0.2, fl + 2.0, p=8, top=0.9)]))
        m.add("body", loft([ring_xz(cab1, hw * 0.62, fl + 0.2, H - 0.45, p=8, top=0.9), ring_xz(back - 0.5, hw * 0.62, fl + 0.2, H - 0.45, p=8, top=0.9)]))
        m.add("windows", front_pane(cab0 - 0.03, H - 0.75, W * 0.8, 0.8, 0.1))
        for side in (1, -1):
            m.add("windows", side_pane(side * (hw - 0.05), cab0 + 1.2, H - 0.75, 1.2, 0.8, 0.1))
            m.add("body", tube((side * (hw - 0.05), cab1, fl + 1.2), (side * (hw - 0.05), back - 0.5, fl + 1.2), 0.03, 6))  # handrail
        m.add("body", disc((0, cab1 + 2.0, H - 0.3), 0.35, 0.3, "z", 16))  # exhaust stack
        light = (0, front + 0.45, fl + 1.45)
        top_front, top_back = (hw * 0.9, cab0, H - 0.2), (hw * 0.6, back - 0.5, H - 0.45)
        buffer_y = front + 0.3
    else:
        rows = []
        if p["nose"] > 0:  # streamlined nose: a blunt tip growing into the full section
            for f in (0.0, 0.05, 0.2, 0.45, 0.75, 1.0):
                grow = np.sqrt(1 - (1 - f) ** 2)
                z1 = fl + 0.6 + (H - fl - 0.6) * np.sqrt(f)
                rows.append(ring_xz(front + f * p["nose"], max(hw * (0.18 + 0.82 * grow), 0.05), fl - 0.2 + 0.1 * (1 - f), max(z1, fl + 0.5), p=3 + 2 * f, top=0.8))
        else:  # flat cab front, slightly raked
            rows += [ring_xz(front, hw * 0.97, fl - 0.1, H - 1.5, p=8, top=0.95), ring_xz(front + 0.65, hw, fl - 0.2, H, p=8, top=0.88)]
        rows.append(ring_xz(back, hw, fl - 0.2, H, p=8, top=0.88))
        m.add("body", loft(rows))
        if p["nose"] > 0:
            tip = front + p["nose"]
            m.add("windows", loft([ring_xz(tip - 2.6, hw * 0.4, H - 1.2, H - 1.15, p=4), ring_xz(tip - 1.4, hw * 0.66, H - 0.75, H - 0.35, p=4, top=0.7),
                                   ring_xz(tip - 0.7, hw * 0.7, H - 0.4, H - 0.05, p=4, top=0.72)]))
            light = (0, front + 0.45, fl + 0.35)
            top_front = (hw * 0.6, tip - 0.7, H)
            for side in (1, -1):
                for k in range(8):
                    m.add("windows", side_pane(side * hw * 0.99, tip + 0.8 + k * (back - tip - 1.2) / 8 + 0.7, H - 1.3, 1.1, 0.6, 0.1))
                m.add("trim", box((0.03, L - 0.5, 0.15), (side * (hw + 0.005), 0.25, fl + 0.4)))
            buffer_y = None
        else:
            lean = np.arctan2(0.65, 1.5)
            for side in (1, -1):
                m.add("windows", box((W * 0.4, 0.03, 0.9), (side * W * 0.21, front + 0.65 * 0.7 / 1.5 - 0.03, H - 0.8), _rx(-lean - 0.1) @ _rz(side * 0.08)))
            for side in (1, -1):
                m.add("windows", side_pane(side * hw, front + 1.5, H - 1.2, 0.8, 0.8, 0.1))
                m.add("doors", side_pane(side * hw, front + 2.5, fl + 1.3, 0.7, 2.0, 0.04))
                for i in range(6):
                    m.add("vents", side_pane(side * hw, front + 4.5 + 1.75 * i, H - 1.3, 1.4, 0.7, -0.08))
            light = (0, front - 0.02, fl + 0.6)
            top_front = (hw * 0.86, front + 0.5, H)
            buffer_y = front - 0.2
        top_back = (hw * 0.86, back, H)
        # pantograph: a diamond on the roof, the electric locomotive's signature
        py = -L / 2 + (0.35 if p["nose"] == 0 else 0.45) * L
        m.add("pantograph", box((1.0, 1.2, 0.15), (0, py, H + 0.05)))
        kx = H + 0.1
        for side in (0.35, -0.35):
            m.add("pantograph", tube((side, py - 0.5, kx), (side, py + 0.6, kx + 0.9), 0.03, 6))
            m.add("pantograph", tube((side, py + 0.6, kx + 0.9), (side * 0.2, py - 0.2, kx + 1.7), 0.03, 6))
        m.add("pantograph", tube((-0.9, py - 0.2, kx + 1.7), (0.9, py - 0.2, kx + 1.7), 0.05, 6))
    m.add("lights", disc(light, 0.18, 0.08, "y", 16))
    if p["style"] == "loco":
        for side in (1, -1):
            m.add("lights", disc((side * hw * 0.62, front - 0.02, fl + 0.45), 0.14, 0.08, "y", 16))
        m.add("body", span((-hw * 0.9, front - 0.15, fl - 0.45), (hw * 0.9, front + 0.2, fl - 0.1)))  # buffer beam
    if buffer_y is not None:
        for side in (1, -1):
            m.add("body", disc((side * 0.9, buffer_y, fl + 0.1), 0.18, 0.4, "y", 12))
    # bogies
    r, gauge = p["r"], 0.75
    bogie_pitch = 1.2 if p["axles"] == 2 else 1.1
    centres = (front + 0.22 * L, back - 0.22 * L) if p["nose"] == 0 else (front + p["nose"] * 0.8, back - 3.0)
    wheel_kps = []
    for cy in centres:
        offsets = np.arange(p["axles"]) * 2 * bogie_pitch - (p["axles"] - 1) * bogie_pitch
        m.add("bogies", span((-hw * 0.75, cy - abs(offsets).max() - 0.8, r * 0.9), (hw * 0.75, cy + abs(offsets).max() + 0.8, fl - 0.15)))
        for dy in offsets:
            for side in (1, -1):
                m.add("wheels", disc((side * gauge, cy + dy, r), r, 0.14, "x", 24))
            wheel_kps.append(cy + dy)
    m.kp_pair("front_wheel", (gauge + 0.07, min(wheel_kps), r))
    m.kp_pair("back_wheel", (gauge + 0.07, max(wheel_kps), r))
    m.kp_pair("front_top", top_front)
    m.kp_pair("back_top", top_back)
    m.kp("headlight", (light[0], light[1] - 0.04, light[2]))
    return m


# --------------------------------------------------------------------------------------
# aeroplane
# --------------------------------------------------------------------------------------

PLANE_PRESETS = [
    dict(style="airliner", L=38.0, R=1.95, span=35.0, chord=7.0, tip=1.6, sweep=0.55, wing_y=-0.02, wing_z=-0.55, dihedral=0.09,
         fin=7.0, stab=12.5, engines=2),
    dict(style="jet", L=16.0, R=0.85, span=10.0, chord=6.0, tip=1.2, sweep=0.9, wing_y=0.12, wing_z=0.0, dihedral=-0.03,
         fin=3.3, stab=6.0, engines=0),
    dict(style="prop", L=8.3, R=0.62, span=11.0, chord=1.5, tip=1.5, sweep=0.0, wing_y=-0.12, wing_z=1.22, dihedral=0.02,
         fin=1.9, stab=3.4, engines=0),
]


def build_aeroplane(p: dict) -> Model:
    m = Model()
    L, R = p["L"], p["R"]
    front, back = -L / 2, L / 2
    style = p["style"]
    # fuselage: circular loft, nose at -y, the tail cone rising toward the fin
    if style == "airliner":
        prof = [(0.0, 0.02, -0.05), (0.012, 0.35, -0.12), (0.035, 0.62, -0.1), (0.07, 0.85, -0.04), (0.12, 0.97, 0), (0.2, 1.0, 0),
                (0.72, 1.0, 0), (0.85, 0.78, 0.25), (0.95, 0.42, 0.55), (1.0, 0.18, 0.7)]
    elif style == "jet":
        prof = [(0.0, 0.02, -0.1), (0.08, 0.3, -0.05), (0.22, 0.65, 0), (0.4, 0.9, 0), (0.55, 1.0, 0), (0.9, 1.0, 0), (1.0, 0.8, 0)]
    else:
        prof = [(0.0, 0.25, -0.2), (0.04, 0.7, -0.2), (0.12, 0.95, -0.1), (0.3, 1.0, 0.0), (0.42, 0.95, 0.05), (0.7, 0.45, 0.35),
                (1.0, 0.22, 0.55)]
    rings = []
    for f, rr, dz in prof:
        squash = 1.25 if style == "prop" else 1.0  # the light plane's cabin is taller than wide
        rings.append(ring((0, front + f * L, dz * R), X, Z, max(rr * R, 0.02), max(rr * R * squash, 0.02), p=2.4 if style == "prop" else 2))
    m.add("body", loft(rings))
    # wings: root and tip airfoil sections, swept and with dihedral
    wing_root_y = p["wing_y"] * L
    wing_z = p["wing_z"] * R
    half = p["span"] / 2
    tip_y = wing_root_y + p["sweep"] * half * (1 if style != "jet" else 0.7)
    tip_z = wing_z + p["dihedral"] * half
    thick = 0.12 * p["chord"] if style != "prop" else 0.16
    for side in (1, -1):
        root = ring((0, wing_root_y, wing_z), Y, Z, p["chord"] / 2, thick / 2, p=2.2, n=16)
        tip = ring((side * half, tip_y + (p["chord"] - p["tip"]) / 2 * (1 if style != "prop" else 0), tip_z), Y, Z, p["tip"] / 2, thick / 5, p=2.2, n=16)
        m.add("wings", loft([root, tip]))
    # tail: fin and stabilisers
    fin_base_y = back - 0.55 * p["fin"] if style != "prop" else back - 0.8
    fin_z = prof[-1][2] * R + (0.3 * R if style == "airliner" else 0.5 * R)
    fin_root_chord = p["fin"] * (0.8 if style != "prop" else 0.6)
    fin_len = p["fin"]
    fin_tip = (0, fin_base_y + 0.55 * fin_len, fin_z + fin_len)
    m.add("tail", loft([ring((0, fin_base_y, fin_z - 0.3 * R), Y, X, fin_root_chord / 2, fin_root_chord * 0.06, p=2.2, n=16),
                        ring(fin_tip, Y, X, fin_root_chord * 0.22, fin_root_chord * 0.025, p=2.2, n=16)]))
    stab_y = back - 0.12 * L if style != "prop" else back - 0.4
    stab_z = prof[-2][2] * R if style != "jet" else 0.0
    stab_chord = p["stab"] * (0.32 if style != "prop" else 0.3)
    for side in (1, -1):
        tip = (side * p["stab"] / 2, stab_y + (0.35 if style != "prop" else 0.05) * p["stab"] / 2, stab_z + 0.1 * p["stab"] / 2 * (style == "airliner"))
        m.add("tail", loft([ring((0, stab_y, stab_z), Y, Z, stab_chord / 2, stab_chord * 0.05, p=2.2, n=16),
                            ring(tip, Y, Z, stab_chord * 0.25, stab_chord * 0.02, p=2.2, n=16)]))
    # style extras
    if style == "airliner":
        for side in (1, -1):
            ex = side * 0.33 * half
            ey = wing_root_y + p["sweep"] * 0.33 * half - 0.35 * p["chord"]
            ez = wing_z + p["dihedral"] * 0.33 * half - 1.2
            m.add("engines", loft([ring((ex, ey - 2.2, ez), X, Z, 1.05, 1.05, p=2), ring((ex, ey - 1.0, ez), X, Z, 1.2, 1.2, p=2),
                                   ring((ex, ey + 1.5, ez), X, Z, 0.8, 0.8, p=2)]))
            m.add("engines", box((0.3, 2.0, 1.0), (ex, ey + 1.2, ez + 0.9)))
        m.add("windows", loft([ring((0, front + 0.04 * L, 0.35 * R), X, Z, 0.7 * R, 0.16 * R, p=4), ring((0, front + 0.06 * L, 0.5 * R), X, Z, 0.78 * R, 0.18 * R, p=4)]))
        for side in (1, -1):
            m.add("windows", box((0.05, 0.62 * L, 0.3), (side * R * 0.985, front + 0.47 * L, 0.25 * R)))
        gear = [(0, front + 0.1 * L, 1.1), (0.2 * half, wing_root_y + 0.2 * p["chord"], 1.2), (-0.2 * half, wing_root_y + 0.2 * p["chord"], 1.2)]
    elif style == "jet":
        m.add("windows", ellipsoid((0, front + 0.25 * L, 0.6 * R), (0.48 * R, 0.1 * L, 0.65 * R)))
        for side in (1, -1):
            m.add("engines", loft([ring((side * 1.05 * R, front + 0.34 * L, -0.1 * R), X, Z, 0.35 * R, 0.55 * R, p=4),
                                   ring((side * 0.8 * R, front + 0.6 * L, -0.1 * R), X, Z, 0.35 * R, 0.6 * R, p=4)]))
        m.add("engines", disc((0, back + 0.25, 0), 0.7 * R, 0.6, "y", 20))
        gear = [(0, front + 0.3 * L, 0.9), (0.9 * R, 0.1 * L, 0.9), (-0.9 * R, 0.1 * L, 0.9)]
    else:
        m.add("engines", loft([ring((0, front - 0.45, -0.2 * R), X, Z, 0.02, 0.02), ring((0, front + 0.05, -0.2 * R), X, Z, 0.22, 0.22)]))
        for blade in (1, -1):
            m.add("propeller", box((0.12, 0.05, 0.9), (0, front - 0.05, -0.2 * R + blade * 0.85), _ry(blade * 0.25)))
        m.add("windows", loft([ring((0, front + 0.17 * L, 0.45 * R), X, Z, 0.72 * R, 0.35 * R, p=3),
                               ring((0, front + 0.24 * L, 0.85 * R), X, Z, 0.8 * R, 0.32 * R, p=3)]))
        for side in (1, -1):
            m.add("windows", box((0.04, 1.3, 0.42), (side * R * 1.0, front + 0.34 * L, 0.45 * R)))
            m.add("wings", tube((side * R * 0.9, front + 0.33 * L, -0.45 * R), (side * 0.48 * half, wing_root_y + 0.6, wing_z - 0.05), 0.04, 6))
        gear = [(0, front + 0.08 * L, 1.25), (0.75 * R * 1.9, front + 0.42 * L, 1.25), (-0.75 * R * 1.9, front + 0.42 * L, 1.25)]
    # landing gear: strut + wheel below the fuselage
    bottom = -R * (1.25 if style == "prop" else 1.0)
    wr = {"airliner": 0.45, "jet": 0.3, "prop": 0.2}[style]
    for gx, gy, depth in gear:
        gz = bottom - depth * (R * 0.5 if style != "prop" else 0.4)
        m.add("gear", tube((gx, gy, bottom + 0.5 * R if style != "prop" else bottom + 0.2), (gx, gy, gz + wr), 0.08 * R if style != "prop" else 0.03, 6))
        m.add("gear", disc((gx, gy, gz + wr), wr, wr * 0.8, "x", 16))
    m.kp("nose", (0, front, prof[0][2] * R))
    m.kp("tail", (0, back, prof[-1][2] * R))
    m.kp_pair("wing_tip", (half, tip_y + (p["chord"] - p["tip"]) / 2 * (style != "prop"), tip_z))
    m.kp("fin_top", fin_tip)
    m.kp_pair("stabilizer_tip", (p["stab"] / 2, stab_y + (0.35 if style != "prop" else 0.05) * p["stab"] / 2, stab_z))
    return m


# --------------------------------------------------------------------------------------
# bicycle
# --------------------------------------------------------------------------------------

BIKE_PRESETS = [
    dict(style="mtb", r=0.36, tyre=0.06, wb=1.14, st=0.46, slope=0.14, bar=0.74, bar_h=1.0, tube=0.022),
    dict(style="road", r=0.34, tyre=0.028, wb=0.99, st=0.55, slope=0.0, bar=0.42, bar_h=0.98, tube=0.016),
    dict(style="city", r=0.35, tyre=0.045, wb=1.1, st=0.5, slope=0.4, bar=0.6, bar_h=1.1, tube=0.02),
]


def build_bicycle(p: dict) -> Model:
    m = Model()
    r, wb, tr = p["r"], p["wb"], p["tube"]
    fy, by = -wb / 2, wb / 2  # front and back axle
    front_axle, back_axle = np.array([0, fy, r]), np.array([0, by, r])
    for c in (front_axle, back_axle):
        m.add("wheels", tyre(c, r, p["tyre"]))
        m.add("wheels", tyre(c, r - p["tyre"] * 0.8, p["tyre"] * 0.45))  # rim
        m.add("hubs", disc(c, 0.03, 0.1, "x", 10))
        for i in range(12):  # spokes
            a = i * np.pi / 6
            rim = c + (r - p["tyre"] * 0.9) * np.array([0, np.cos(a), np.sin(a)])
            side = 0.03 if i % 2 else -0.03
            m.add("spokes", tube(c + (side, 0, 0), rim, 0.0025, 4))
    bb = np.array([0, by - 0.43, r - 0.07])
    st_dir = np.array([0, np.cos(np.deg2rad(73)), np.sin(np.deg2rad(73))])
    st_top = bb + p["st"] * st_dir
    ht_dir = np.array([0, np.cos(np.deg2rad(71)), np.sin(np.deg2rad(71))])
    head_bottom = front_axle + 0.42 * ht_dir + np.array([0, -0.04, 0])
    head_top = head_bottom + 0.16 * ht_dir
    m.add("frame", tube(head_bottom, head_top, tr * 1.6, 10))
    if p["style"] == "city":  # step-through: one low, curved down tube
        mid = bb + np.array([0, -0.28, 0.12])
        m.add("frame", tube(head_top - 0.05 * ht_dir, mid, tr * 1.3), tube(mid, bb, tr * 1.3))
        m.add("frame", tube(head_bottom, mid + (0, 0.05, -0.05), tr))
    else:
        m.add("frame", tube(head_top - 0.02 * ht_dir, st_top - p["slope"] * st_dir, tr), tube(head_bottom, bb, tr * 1.3))
    m.add("frame", tube(bb, st_top, tr))
    ss_top = st_top - (p["slope"] + 0.04) * st_dir
    for side in (1, -1):
        d = np.array([side * 0.055, 0, 0])
        m.add("frame", tube(bb + d * 0.4, back_axle + d, tr * 0.7, 8), tube(ss_top, back_axle + d, tr * 0.6, 8))
        fork_w = 0.06 if p["style"] != "mtb" else 0.08
        m.add("fork", tube(head_bottom + (side * fork_w * 0.5, 0, 0), front_axle + (side * fork_w, 0, 0), tr * (0.8 if p["style"] != "mtb" else 1.2), 8))
    # seat, handlebar, crank
    saddle = st_top + 0.14 * st_dir
    m.add("frame", tube(st_top, saddle, tr * 0.8, 8))
    m.add("seat", loft([ring_xz(saddle[1] - 0.14, 0.025, saddle[2], saddle[2] + 0.04, p=3), ring_xz(saddle[1] + 0.02, 0.06, saddle[2], saddle[2] + 0.06, p=3),
                        ring_xz(saddle[1] + 0.11, 0.08, saddle[2], saddle[2] + 0.055, p=3)]))
    stem_top = np.array([0, head_top[1] + (0.1 if p["style"] == "city" else -0.08), p["bar_h"]])
    m.add("handlebar", tube(head_top, head_top + (0, 0, 0.05), tr * 1.1, 8), tube(head_top + (0, 0, 0.05), stem_top, tr, 8))
    hb = p["bar"] / 2
    if p["style"] == "road":  # drop bars
        m.add("handlebar", tube((-hb, stem_top[1], stem_top[2]), (hb, stem_top[1], stem_top[2]), 0.012, 8))
        for side in (1, -1):
            a = np.array([side * hb, stem_top[1], stem_top[2]])
            b = a + (0, -0.1, -0.06)
            c = b + (0, 0.02, -0.09)
            d = c + (0, 0.1, -0.02)
            m.add("handlebar", tube(a, b, 0.012, 8), tube(b, c, 0.012, 8), tube(c, d, 0.012, 8))
    elif p["style"] == "city":  # swept-back bar
        for side in (1, -1):
            m.add("handlebar", tube(stem_top, stem_top + (side * hb * 0.6, 0.02, 0.02), 0.012, 8),
                  tube(stem_top + (side * hb * 0.6, 0.02, 0.02), stem_top + (side * hb, 0.16, 0.02), 0.014, 8))
        m.add("basket", span((-0.17, fy - 0.2, head_bottom[2] + 0.02), (0.17, fy + 0.1, head_bottom[2] + 0.26)))
    else:
        m.add("handlebar", tube((-hb, stem_top[1], stem_top[2]), (hb, stem_top[1], stem_top[2]), 0.014, 8))
    m.add("drivetrain", disc(bb + (-0.07, 0, 0), 0.1, 0.008, "x", 24))
    pedals = []
    for side, ang in ((1, 0.3), (-1, 0.3 + np.pi)):
        tip = bb + np.array([side * 0.09, 0.17 * np.cos(ang), 0.17 * np.sin(ang)])
        m.add("drivetrain", tube(bb + (side * 0.08, 0, 0), tip, 0.012, 6), box((0.09, 0.08, 0.02), tip + (side * 0.05, 0, 0)))
        pedals.append(tip + (side * 0.05, 0, 0))
    m.add("drivetrain", tube(bb + (-0.07, 0, 0.1), back_axle + (-0.07, 0, 0.05), 0.006, 4), tube(bb + (-0.07, 0, -0.1), back_axle + (-0.07, 0, -0.05), 0.006, 4))
    m.kp("front_wheel", front_axle)
    m.kp("back_wheel", back_axle)
    m.kp_pair("handle", (hb, stem_top[1] + (0.16 if p["style"] == "city" else 0), stem_top[2]))
    m.kp("seat_front", (0, saddle[1] - 0.14, saddle[2] + 0.04))
    m.kp("seat_back", (0, saddle[1] + 0.11, saddle[2] + 0.055))
    m.kp("head_center", head_top)
    m.kp("left_pedal_center", pedals[0])
    m.kp("right_pedal_center", pedals[1])
    return m


# --------------------------------------------------------------------------------------
# motorbike
# --------------------------------------------------------------------------------------

MOTO_PRESETS = [
    dict(style="sport", r=0.31, tyre=0.16, wb=1.42, rake=24.0, seat_h=0.83),
    dict(style="cruiser", r=0.33, tyre=0.13, wb=1.68, rake=32.0, seat_h=0.7),
    dict(style="scooter", r=0.24, tyre=0.11, wb=1.3, rake=26.0, seat_h=0.8),
]


def build_motorbike(p: dict) -> Model:
    m = Model()
    r, wb, style = p["r"], p["wb"], p["style"]
    fa, ba = np.array([0, -wb / 2, r]), np.array([0, wb / 2, r])
    for c in (fa, ba):
        m.add("wheels", tyre(c, r, p["tyre"]))
        m.add("rims", disc(c, r - p["tyre"] * 0.85, 0.06, "x", 24), disc(c, 0.05, 0.16, "x", 12))
    m.add("rims", disc(fa + (0.07, 0, 0), r * 0.6, 0.008, "x", 20))  # brake disc
    rake = np.deg2rad(p["rake"])
    fork_dir = np.array([0, np.sin(rake), np.cos(rake)])
    head = fa + {"sport": 0.72, "cruiser": 0.92, "scooter": 0.78}[style] * fork_dir
    for side in (1, -1):
        m.add("fork", tube(fa + (side * 0.09, 0, 0), head + (side * 0.09, 0, 0), 0.03 if style != "scooter" else 0.025, 8))
    m.add("fork", box((0.26, 0.08, 0.05), head))  # triple clamp
    seat_h = p["seat_h"]
    hy, hz = head[1], head[2]
    if style == "sport":
        # fairing wraps the front; tank, seat and a pointed tail follow; clip-on bars sit low
        m.add("fairing", loft([ring_xz(hy - 0.26, 0.05, hz - 0.12, hz - 0.04, p=3), ring_xz(hy - 0.16, 0.17, hz - 0.36, hz + 0.08, p=3, top=0.55),
                               ring_xz(hy, 0.22, hz - 0.55, hz + 0.12, p=3, top=0.55), ring_xz(hy + 0.22, 0.23, r + 0.02, hz - 0.05, p=3, top=0.7),
                               ring_xz(hy + 0.5, 0.18, r + 0.05, seat_h - 0.25, p=3), ring_xz(hy + 0.62, 0.1, r + 0.12, seat_h - 0.32, p=3)]))
        m.add("windows", box((0.26, 0.02, 0.2), (0, hy - 0.04, hz + 0.14), _rx(-0.9)))
        m.add("tank", loft([ring_xz(hy + 0.12, 0.14, hz - 0.2, hz + 0.04, p=3, top=0.6), ring_xz(hy + 0.32, 0.18, seat_h - 0.12, hz + 0.06, p=3, top=0.7),
                            ring_xz(hy + 0.5, 0.15, seat_h - 0.12, seat_h + 0.05, p=3, top=0.7)]))
        s0 = hy + 0.5
        m.add("seat", loft([ring_xz(s0, 0.14, seat_h - 0.05, seat_h + 0.01, p=4), ring_xz(s0 + 0.3, 0.13, seat_h - 0.05, seat_h + 0.03, p=4)]))
        m.add("body", loft([ring_xz(s0 + 0.25, 0.13, seat_h - 0.2, seat_h + 0.02, p=3), ring_xz(s0 + 0.5, 0.1, seat_h - 0.12, seat_h + 0.1, p=3),
                            ring_xz(ba[1] + 0.12, 0.03, seat_h + 0.06, seat_h + 0.13, p=3)]))
        m.add("engine", span((-0.15, hy + 0.1, r - 0.06), (0.15, hy + 0.5, seat_h - 0.3)))
        grip = (0.3, hy + 0.08, hz - 0.02)
        light = (0, hy - 0.27, hz - 0.08)
        m.add("lights", ellipsoid(light, (0.07, 0.03, 0.04), 1))
        m.add("exhaust", tube((-0.1, hy + 0.45, r - 0.06), (-0.15, ba[1] - 0.15, r + 0.12), 0.035, 8),
              tube((-0.16, ba[1] - 0.2, r + 0.1), (-0.17, ba[1] + 0.05, r + 0.22), 0.065, 12))
        m.add("body", arc(fa, r + 0.04, 60, 150, 0.07, 0.01, 8))  # front mudguard
        seat_front, seat_back = (0, s0, seat_h + 0.01), (0, ba[1] + 0.12, seat_h + 0.13)
    elif style == "cruiser":
        # long and low: teardrop tank, V-twin, big fenders, pulled-back bars, round headlight
        m.add("frame", tube(head + (0, 0.02, -0.05), (0, hy + 0.75, seat_h - 0.05), 0.035, 8),
              tube(head + (0, 0.02, -0.1), (0, hy + 0.15, 0.2), 0.035, 8), tube((0, hy + 0.15, 0.2), (0, ba[1] - 0.5, 0.2), 0.03, 8))
        m.add("tank", loft([ring_xz(hy + 0.05, 0.09, hz - 0.2, hz - 0.05, p=3, top=0.6), ring_xz(hy + 0.25, 0.17, hz - 0.3, hz + 0.0, p=3, top=0.7),
                            ring_xz(hy + 0.62, 0.12, seat_h - 0.05, seat_h + 0.12, p=3, top=0.7)]))
        s0 = hy + 0.6
        m.add("seat", loft([ring_xz(s0, 0.13, seat_h - 0.06, seat_h + 0.03, p=3), ring_xz(s0 + 0.22, 0.19, seat_h - 0.06, seat_h, p=3),
                            ring_xz(s0 + 0.38, 0.15, seat_h - 0.03, seat_h + 0.1, p=3), ring_xz(s0 + 0.62, 0.12, seat_h + 0.02, seat_h + 0.1, p=3)]))
        cy = (fa[1] + ba[1]) / 2 - 0.05
        m.add("engine", span((-0.15, cy - 0.2, 0.18), (0.15, cy + 0.28, 0.42)))
        for a in (-0.42, 0.42):  # the V
            top = np.array([0, cy + 0.04 + 0.36 * np.sin(a), 0.35 + 0.36 * np.cos(a)])
            m.add("engine", tube((0, cy + 0.04, 0.35), top, 0.085, 12), disc(top, 0.11, 0.05, "x", 12))
        for dz in (0.0, 0.09):
            m.add("exhaust", tube((-0.14, cy - 0.12, 0.45 - dz), (-0.17, cy + 0.2, 0.24 - dz * 0.5), 0.035, 8),
                  tube((-0.17, cy + 0.2, 0.24 - dz * 0.5), (-0.19, ba[1] + 0.3, 0.3 - dz * 0.3), 0.04, 10))
        m.add("body", arc(fa, r + 0.04, 40, 160, 0.08, 0.01, 10), arc(ba, r + 0.05, 10, 125, 0.13, 0.012, 12))  # fenders
        for side in (1, -1):
            m.add("frame", span((side * 0.18 - 0.06, hy + 0.2, 0.26), (side * 0.18 + 0.06, hy + 0.45, 0.29)))  # floorboards
        grip = (0.42, hy + 0.22, hz + 0.2)
        m.add("handlebar", tube(head, (0, hy + 0.05, hz + 0.14), 0.02, 8), tube((0, hy + 0.05, hz + 0.14), (0.3, hy + 0.12, hz + 0.2), 0.016, 8),
              tube((0, hy + 0.05, hz + 0.14), (-0.3, hy + 0.12, hz + 0.2), 0.016, 8))
        for sx in (1, -1):
            m.add("handlebar", tube((sx * 0.3, hy + 0.12, hz + 0.2), (sx * 0.42, hy + 0.22, hz + 0.2), 0.016, 8))
        light = (0, hy - 0.12, hz - 0.12)
        m.add("lights", disc(light, 0.1, 0.12, "y", 16))
        seat_front, seat_back = (0, s0, seat_h + 0.03), (0, s0 + 0.62, seat_h + 0.1)
    else:  # scooter / moped: step-through floor, front shield, enclosed rear body
        m.add("body", loft([ring_xz(fa[1] + 0.24, 0.2, r + 0.08, hz - 0.05, p=4, top=0.65), ring_xz(fa[1] + 0.38, 0.22, r - 0.08, hz + 0.02, p=4, top=0.65)]))
        m.add("body", span((-0.16, fa[1] + 0.35, r - 0.12), (0.16, ba[1] - 0.55, r - 0.02)))
        m.add("body", loft([ring_xz(ba[1] - 0.62, 0.16, r - 0.12, seat_h - 0.25, p=4), ring_xz(ba[1] - 0.25, 0.2, r + 0.02, seat_h - 0.08, p=4),
                            ring_xz(ba[1] + 0.16, 0.11, r + 0.2, seat_h - 0.14, p=4)]))
        m.add("body", arc(fa, r + 0.04, 40, 150, 0.08, 0.01, 8))  # front mudguard
        m.add("seat", loft([ring_xz(ba[1] - 0.62, 0.14, seat_h - 0.26, seat_h - 0.02, p=4), ring_xz(ba[1] - 0.05, 0.15, seat_h - 0.1, seat_h + 0.02, p=4)]))
        m.add("engine", span((-0.14, ba[1] - 0.3, r - 0.1), (0.05, ba[1] + 0.05, r + 0.12)))
        m.add("exhaust", tube((0.12, ba[1] - 0.2, r - 0.02), (0.14, ba[1] + 0.15, r + 0.05), 0.04, 8))
        grip = (0.34, hy + 0.1, hz + 0.12)
        m.add("handlebar", span((-0.12, hy - 0.05, hz + 0.04), (0.12, hy + 0.12, hz + 0.14)), tube((-0.34, hy + 0.1, hz + 0.12), (0.34, hy + 0.1, hz + 0.12), 0.016, 8))
        light = (0, hy - 0.06, hz + 0.09)
        m.add("lights", disc(light, 0.06, 0.04, "y", 14))
        seat_front, seat_back = (0, ba[1] - 0.62, seat_h - 0.02), (0, ba[1] - 0.05, seat_h + 0.02)
    if style == "sport":
        for side in (1, -1):
            m.add("handlebar", tube((side * 0.1, grip[1], grip[2]), (side * grip[0], grip[1] + 0.04, grip[2]), 0.016, 8))
    m.add("body", tube((0, hy + 0.4, r + 0.12), (0.0, ba[1], r), 0.03, 8) if style != "scooter" else tube((0, ba[1] - 0.3, r), ba, 0.03, 8))  # swingarm
    for side in (1, -1):
        mx, my, mz = side * grip[0] * 0.8, grip[1], grip[2]
        m.add("mirrors", tube((mx, my, mz), (mx * 1.1, my - 0.04, mz + 0.16), 0.007, 4), box((0.09, 0.02, 0.055), (mx * 1.1, my - 0.04, mz + 0.18)))
    m.kp("front_wheel", fa)
    m.kp("back_wheel", ba)
    m.kp("headlight_center", (light[0], light[1] - 0.05, light[2]))
    m.kp_pair("handle_center", grip)
    m.kp("front_seat", seat_front)
    m.kp("back_seat", seat_back)
    return m


# --------------------------------------------------------------------------------------
# boat
# --------------------------------------------------------------------------------------

BOAT_PRESETS = [
    dict(style="speedboat", L=6.2, B=2.3, depth=1.05),
    dict(style="sailboat", L=9.0, B=3.0, depth=1.3),
    dict(style="cruiser", L=11.0, B=3.6, depth=1.9),
]

# hull cross-section (u across, v up; v = 1 at the deck): flared topsides, a chine, a V bottom
_HULL_SIDE = [(1.0, 1.0), (0.985, 0.8), (0.96, 0.6), (0.92, 0.42), (0.86, 0.3), (0.6, 0.16), (0.3, 0.06)]
_HULL_SECTION = np.array(_HULL_SIDE + [(0.0, 0.0)] + [(-u, v) for u, v in reversed(_HULL_SIDE)] + [(-0.5, 1.0), (0.0, 1.0), (0.5, 1.0)])


def _hull(L: float, B: float, depth: float, deadrise: float) -> tuple[trimesh.Trimesh, list]:
    """Hull with a raked stem at -y and a flat transom at +y; returns the mesh and (y, half beam, deck z) stations."""
    rows, deck = [], []
    for f in (0.0, 0.03, 0.08, 0.16, 0.27, 0.4, 0.55, 0.75, 1.0):
        half = B / 2 * (0.02 + 0.98 * np.sin(np.pi / 2 * min(f / 0.55, 1.0)) ** 0.8) * (1 - 0.08 * max(f - 0.6, 0) / 0.4)
        keel = depth * 0.8 * max(0.0, 1 - f / 0.3) ** 1.6 + (0.05 * depth if f > 0.9 else 0.0)
        deck_z = depth * (1 + 0.14 * (1 - f) ** 2)
        y = -L / 2 + f * L
        u, v = _HULL_SECTION[:, 0], _HULL_SECTION[:, 1]
        v = np.where(v < 1.0, v * (0.7 + deadrise), v) if f > 0.2 else v
        rows.append(np.stack([u * half, np.full(len(u), y), keel + v * (deck_z - keel)], 1))
        deck.append((y, half, deck_z))
    return loft(rows), deck


def build_boat(p: dict) -> Model:
    m = Model()
    L, B, D, style = p["L"], p["B"], p["depth"], p["style"]
    hull, deck = _hull(L, B, D, 0.3 if style == "speedboat" else 0.5)
    m.add("hull", hull)
    front, back = -L / 2, L / 2
    # rub rail along the sheer line, so the deck edge reads from every side
    for side in (1, -1):
        pts = [(side * (half + 0.02), y, z - 0.05) for y, half, z in deck[1:]]
        for a, b in zip(pts[:-1], pts[1:]):
            m.add("trim", tube(a, b, 0.045, 6))
    top = deck[-1][2]

    def deck_z(y: float) -> float:
        return float(np.interp(y, [d[0] for d in deck], [d[2] for d in deck]))

    if style == "speedboat":
        ws_y = front + 0.45 * L
        zc = deck_z(ws_y)
        m.add("deck", span((-B * 0.3, ws_y, zc - 0.1), (B * 0.3, ws_y + 0.55, zc + 0.35)))  # console
        m.add("windows", front_pane(ws_y - 0.02, zc + 0.55, B * 0.62, 0.45, 0.65))
        for side in (1, -1):
            m.add("windows", box((0.6, 0.03, 0.42), (side * B * 0.36, ws_y + 0.18, zc + 0.52), _rz(side * 0.75) @ _rx(-0.5)))
        for x in (-0.45, 0.45):
            m.add("seats", span((x - 0.28, ws_y + 0.75, top - 0.15), (x + 0.28, ws_y + 1.25, top + 0.2)),
                  box((0.56, 0.12, 0.5), (x, ws_y + 1.32, top + 0.35), _rx(-0.2)))
        m.add("seats", span((-B * 0.42, back - 0.8, top - 0.15), (B * 0.42, back - 0.25, top + 0.15)))  # rear bench
        m.add("engine", span((-0.25, back + 0.05, top - 0.3), (0.25, back + 0.55, top + 0.35)))  # outboard
        m.add("engine", span((-0.08, back + 0.15, -0.35), (0.08, back + 0.4, top - 0.3)))
        m.kp("top_centre", (0, ws_y + 0.2, zc + 0.75))
    elif style == "sailboat":
        m.add("deck", loft([ring_xz(-1.2, B * 0.22, top - 0.1, top + 0.5, p=6, top=0.85), ring_xz(-0.7, B * 0.3, top - 0.1, top + 0.6, p=6, top=0.85),
                            ring_xz(1.8, B * 0.3, top - 0.1, top + 0.6, p=6, top=0.85)]))  # cabin trunk
        for side in (1, -1):
            m.add("windows", side_pane(side * B * 0.29, 0.4, top + 0.35, 1.6, 0.2, 0.15))
        mast_y, mast_h = -1.2, 11.5
        m.add("mast", tube((0, mast_y, top + 0.5), (0, mast_y, top + mast_h), 0.08, 8))
        m.add("mast", tube((0, mast_y + 0.1, top + 1.1), (0, back - 0.5, top + 1.1), 0.06, 8))  # boom
        m.add("mast", tube((0, front + 0.1, deck[0][2]), (0, mast_y, top + mast_h - 1.4), 0.01, 4), tube((0, back - 0.1, top), (0, mast_y, top + mast_h), 0.01, 4))
        m.add("sails", plate_yz([(mast_y + 0.12, top + 1.2), (back - 0.6, top + 1.2), (mast_y + 0.15, top + mast_h - 0.3)], -0.02, 0.02))
        m.add("sails", plate_yz([(front + 0.5, deck[0][2] + 0.3), (mast_y - 0.3, top + 0.9), (mast_y - 0.12, top + mast_h - 1.6)], -0.02, 0.02))
        m.add("hull", loft([ring((0, 0.1, 0.0), Y, X, 0.8, 0.08, p=2, n=12), ring((0, 0.4, -1.3), Y, X, 0.55, 0.07, p=2, n=12)]))  # fin keel
        m.add("hull", plate_yz([(back - 0.9, 0.3), (back - 0.3, 0.3), (back - 0.4, -0.8), (back - 0.75, -0.8)], -0.04, 0.04))  # rudder
        m.kp("top_centre", (0, mast_y, top + mast_h))
    else:  # cabin cruiser: superstructure with raked windscreen, a flybridge and a swim platform
        sy0, sy1 = -2.6, 2.4
        m.add("deck", loft([ring_xz(sy0, B * 0.3, top - 0.1, top + 0.9, p=6, top=0.8), ring_xz(sy0 + 1.2, B * 0.4, top - 0.1, top + 1.55, p=6, top=0.86),
                            ring_xz(sy1, B * 0.42, top - 0.1, top + 1.55, p=6, top=0.86)]))
        m.add("windows", front_pane(sy0 + 0.62, top + 1.2, B * 0.6, 0.6, 0.95))
        for side in (1, -1):
            m.add("windows", side_pane(side * B * 0.405, 0.3, top + 1.05, 3.2, 0.55, 0.16))
        m.add("deck", span((-B * 0.38, sy0 + 1.4, top + 1.55), (B * 0.38, sy1, top + 1.65)))  # flybridge floor
        m.add("deck", span((-B * 0.38, sy0 + 1.4, top + 1.65), (B * 0.38, sy0 + 1.6, top + 2.05)))  # flybridge screen
        for x in (-B * 0.36, B * 0.36):
            m.add("deck", tube((x, sy1 - 0.2, top + 1.65), (x, sy1 - 0.2, top + 2.6), 0.03, 6), tube((x, sy0 + 1.8, top + 1.65), (x, sy0 + 1.8, top + 2.6), 0.03, 6))
        m.add("deck", span((-B * 0.4, sy0 + 1.6, top + 2.6), (B * 0.4, sy1, top + 2.68)))  # bimini top
        m.add("mast", tube((0, sy0 + 2.6, top + 2.68), (0, sy0 + 2.9, top + 3.5), 0.05, 6))
        m.add("deck", span((-B * 0.45, back, 0.3), (B * 0.45, back + 0.7, 0.42)))  # swim platform
        m.kp("top_centre", (0, sy0 + 2.9, top + 3.5))
    m.kp("head", (0, front, deck[0][2]))
    m.kp("head_down", (0, deck[2][0], D * 0.8 * (1 - 0.08 / 0.3) ** 1.6))
    m.kp_pair("head_side", (deck[3][1], deck[3][0], deck[3][2]))
    m.kp_pair("tail", (deck[-1][1], back, deck[-1][2]))
    m.kp("tail_down", (0, back, 0.05 * D))
    return m


# --------------------------------------------------------------------------------------
# bottle
# --------------------------------------------------------------------------------------

BOTTLE_PRESETS = [
    # heights as fractions of H: where the shoulder starts, where the neck starts, the cap's height (m)
    dict(style="water", H=0.23, R=0.034, neck=0.0145, shoulder=0.6, neck_z=0.84, cap=0.022),
    dict(style="wine", H=0.30, R=0.038, neck=0.0145, shoulder=0.62, neck_z=0.73, cap=0.055),
    dict(style="beer", H=0.235, R=0.031, neck=0.0125, shoulder=0.45, neck_z=0.76, cap=0.011),
]


def build_bottle(p: dict) -> Model:
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=0))
    H, R, rn, style = p["H"], p["R"], p["neck"], p["style"]
    zs, zn = p["shoulder"] * H, p["neck_z"] * H
    cap_h = p["cap"]
    body_top = H - (cap_h if style != "wine" else 0.003)  # the wine foil sits over the neck
    prof = [(0.0, 0.0), (R * 0.88, 0.0), (R, 0.008)]
    if style == "water":  # two ribs round the waist
        for zr in (0.3, 0.4):
            prof += [(R, zs * zr - 0.006), (R * 0.94, zs * zr), (R, zs * zr + 0.006)]
    prof.append((R, zs))
    for t in np.linspace(0.2, 1.0, 5):  # shoulder: domed (water, wine) or conical (beer)
        shape = np.sin(t * np.pi / 2) if style != "beer" else t ** 1.3
        prof.append((R - (R - rn) * shape, zs + (zn - zs) * t))
    prof += [(rn, body_top - 0.006), (rn * 1.18, body_top - 0.004), (rn * 1.18, body_top), (0.0, body_top)]
    m.add("body", revolve_z(prof, sections=36))
    if style == "wine":
        m.add("cap", revolve_z([(0, H - cap_h), (rn * 1.08, H - cap_h), (rn * 1.1, H - 0.008), (rn * 1.22, H - 0.006), (rn * 1.22, H), (0, H)], sections=24))
    elif style == "water":
        z0 = body_top
        m.add("cap", revolve_z([(0, z0), (rn * 1.35, z0), (rn * 1.35, H - 0.004), (rn * 1.25, H), (0, H)], sections=24))
    else:  # crown cap
        m.add("cap", revolve_z([(0, body_top - 0.003), (rn * 1.3, body_top - 0.003), (rn * 1.3, H - 0.002), (rn * 1.1, H), (0, H)], sections=24))
    # the label is the bottle's front: 150 degrees of wrap centred on -y, proud of the glass
    z0, z1 = {"water": (0.2 * zs, 0.85 * zs), "wine": (0.2 * zs, 0.85 * zs), "beer": (0.15 * zs, 0.8 * zs)}[style]
    arc_angle = np.deg2rad(150)
    lr = R + 0.0015
    m.add("label", revolve_z([(R - 0.001, z0), (lr, z0), (lr, z1), (R - 0.001, z1), (R - 0.001, z0)], sections=20, angle=arc_angle,
                             start=-np.pi / 2 - arc_angle / 2))
    m.kp("cap_top", (0, 0, H))
    m.kp("neck_front", (0, -rn, zn))
    m.kp("shoulder_front", (0, -R, zs))
    m.kp("label_center", (0, -lr, (z0 + z1) / 2))
    m.kp("base_front", (0, -R, 0))
    m.kp("base_back", (0, R, 0))
    return m


# --------------------------------------------------------------------------------------
# chair
# --------------------------------------------------------------------------------------

CHAIR_PRESETS = [
    dict(style="dining", seat_w=0.46, seat_d=0.44, seat_h=0.46, back_h=0.95),
    dict(style="folding", seat_w=0.44, seat_d=0.42, seat_h=0.45, back_h=0.82),
    dict(style="office", seat_w=0.5, seat_d=0.48, seat_h=0.5, back_h=1.1),
]


def build_chair(p: dict) -> Model:
    m = Model()
    w, d, h, bh, style = p["seat_w"] / 2, p["seat_d"] / 2, p["seat_h"], p["back_h"], p["style"]
    seat_top = h + 0.03
    if style == "dining":
        m.add("seat", span((-w, -d, h - 0.02), (w, d, seat_top)))
        t = 0.04
        legs = [(sx * (w - t / 2), sy * (d - t / 2)) for sx in (1, -1) for sy in (-1, 1)]
        for x, y in legs:
            top = bh if y > 0 else h - 0.02
            m.add("legs", span((x - t / 2, y - t / 2, 0), (x + t / 2, y + t / 2, top)))
        for sy in (-1, 1):
            m.add("legs", span((-w + t, sy * (d - t / 2) - 0.012, 0.15), (w - t, sy * (d - t / 2) + 0.012, 0.18)))
        for sx in (1, -1):
            m.add("legs", span((sx * (w - t / 2) - 0.012, -d + t, 0.2), (sx * (w - t / 2) + 0.012, d - t, 0.23)))
        m.add("back", span((-w, d - t, bh - 0.1), (w, d, bh)))
        for x in np.linspace(-w * 0.55, w * 0.55, 3):
            m.add("back", span((x - 0.03, d - t * 0.8, seat_top), (x + 0.03, d - t * 0.2, bh - 0.1)))
        tips = [(x, y, 0) for x, y in legs]
        back_top = (w, d, bh)
    elif style == "folding":
        m.add("seat", span((-w, -d, h - 0.015), (w, d * 0.9, seat_top - 0.01)))
        r = 0.012
        for sx in (1, -1):
            x = sx * (w + r)
            # front leg runs up and back into the backrest; rear leg crosses under the seat
            m.add("legs", tube((x, -d - 0.02, 0), (x, d + 0.05, bh), r, 8))
            m.add("legs", tube((x * 0.93, d + 0.12, 0), (x * 0.93, -d + 0.06, h), r, 8))
        m.add("legs", tube((-w - r, -d + 0.05, 0.08), (w + r, -d + 0.05, 0.08), r * 0.8, 6))
        m.add("legs", tube((-w, d + 0.1, 0.05), (w, d + 0.1, 0.05), r * 0.8, 6))
        back_y = -d - 0.02 + (2 * d + 0.07) * (bh - 0.12) / bh
        m.add("back", box((2 * w + 0.02, 0.025, 0.2), (0, back_y, bh - 0.12), _rx(-np.arctan2(2 * d + 0.07, bh))))
        tips = [(w + r, -d - 0.02, 0), (-w - r, -d - 0.02, 0), (w * 0.93, d + 0.12, 0), (-w * 0.93, d + 0.12, 0)]
        back_top = (w + r, back_y + 0.03, bh - 0.02)
    else:  # office: five-star base on casters, gas lift, cushioned seat and back, armrests
        for k in range(5):
            a = np.pi / 2 + 2 * np.pi * k / 5
            tip = np.array([0.32 * np.cos(a), 0.32 * np.sin(a), 0.08])
            m.add("legs", tube((0, 0, 0.1), tip, 0.022, 8))
            m.add("legs", ellipsoid(tip - (0, 0, 0.045), (0.035, 0.035, 0.035), 1))
        m.add("legs", disc((0, 0, 0.12), 0.05, 0.06, "z", 12), tube((0, 0, 0.12), (0, 0, h - 0.05), 0.025, 12))
        m.add("seat", loft([ring_xz(-d, w * 0.92, h - 0.06, seat_top - 0.02, p=4), ring_xz(-d + 0.06, w, h - 0.06, seat_top, p=4),
                            ring_xz(d - 0.04, w, h - 0.06, seat_top, p=4), ring_xz(d, w * 0.95, h - 0.05, seat_top - 0.02, p=4)]))
        m.add("back", tube((0, d - 0.1, h - 0.04), (0, d + 0.04, h + 0.12), 0.025, 8))
        m.add("back", loft([ring_xz(d + 0.01, w * 0.85, h + 0.1, bh - 0.05, p=5, top=0.95), ring_xz(d + 0.08, w * 0.9, h + 0.12, bh, p=5, top=0.95)]))
        for sx in (1, -1):
            m.add("arms", span((sx * w * 0.9 - 0.015, -0.02, h - 0.05), (sx * w * 0.9 + 0.015, 0.06, h + 0.22)),
                  span((sx * w * 0.9 - 0.04, -0.12, h + 0.22), (sx * w * 0.9 + 0.04, 0.12, h + 0.25)))
        tips = [(0.32 * np.cos(np.pi / 2 + 2 * np.pi * k / 5), 0.32 * np.sin(np.pi / 2 + 2 * np.pi * k / 5), 0.0) for k in (1, 4)]
        tips += [(0.32 * np.cos(np.pi / 2 + 2 * np.pi * k / 5), 0.32 * np.sin(np.pi / 2 + 2 * np.pi * k / 5), 0.0) for k in (2, 3)]
        back_top = (w * 0.9, d + 0.08, bh)
    m.kp_pair("seat_front", (w, -d, seat_top))
    m.kp_pair("seat_back", (w, d, seat_top))
    m.kp_pair("back_top", back_top)
    names = ["leg_front", "leg_back"]
    for (x, y, z), name in zip(sorted(tips, key=lambda q: (q[1], -q[0])), [names[0], names[0], names[1], names[1]]):
        m.kp(f"{'left' if x > 0 else 'right'}_{name}", (x, y, z))
    return m


# --------------------------------------------------------------------------------------
# dining table
# --------------------------------------------------------------------------------------

TABLE_PRESETS = [
    dict(style="rect", L=1.6, D=0.9, H=0.75, top=0.04),
    dict(style="round", L=1.1, D=1.1, H=0.75, top=0.035),
    dict(style="trestle", L=1.9, D=0.85, H=0.76, top=0.05),
]


def build_table(p: dict) -> Model:
    L, D, H, t, style = p["L"] / 2, p["D"] / 2, p["H"], p["top"], p["style"]
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=4 if style == "round" else 2))
    if style == "round":
        m.add("top", revolve_z([(0, H - t), (L, H - t), (L + 0.005, H - t / 2), (L, H), (0, H)], sections=48))
        m.add("legs", revolve_z([(0, 0.05), (0.08, 0.06), (0.05, 0.15), (0.045, H - 0.2), (0.07, H - 0.1), (0.2, H - t), (0, H - t)], sections=20))
        for k in range(4):
            a = k * np.pi / 2
            tip = np.array([0.36 * np.cos(a), 0.36 * np.sin(a), 0.0])
            m.add("legs", loft([ring((0, 0, 0.06), X, Y, 0.06, 0.06, p=2, n=12), ring(tip + (0, 0, 0.025), X, Y, 0.03, 0.03, p=2, n=12)]))
        m.kp("top_front", (0, -L, H))
        m.kp("top_back", (0, L, H))
        m.kp("top_left", (L, 0, H))
        m.kp("top_right", (-L, 0, H))
        for name, (x, y) in {"foot_front": (0, -0.36), "foot_back": (0, 0.36), "foot_left": (0.36, 0), "foot_right": (-0.36, 0)}.items():
            m.kp(name, (x, y, 0))
        return m
    m.add("top", span((-L, -D, H - t), (L, D, H)))
    if style == "rect":
        s = 0.05
        inset = 0.06
        for sx in (1, -1):
            for sy in (1, -1):
                x, y = sx * (L - inset), sy * (D - inset)
                m.add("legs", loft([ring((x, y, 0), X, Y, s * 0.35, s * 0.35, p=8, n=8), ring((x, y, 0.1), X, Y, s * 0.45, s * 0.45, p=8, n=8),
                                    ring((x, y, H - t), X, Y, s / 2, s / 2, p=8, n=8)]))
        m.add("legs", span((-L + inset, -D + inset - 0.01, H - t - 0.1), (L - inset, -D + inset + 0.01, H - t)),
              span((-L + inset, D - inset - 0.01, H - t - 0.1), (L - inset, D - inset + 0.01, H - t)),
              span((-L + inset - 0.01, -D + inset, H - t - 0.1), (-L + inset + 0.01, D - inset, H - t)),
              span((L - inset - 0.01, -D + inset, H - t - 0.1), (L - inset + 0.01, D - inset, H - t)))
        feet = {(sx, sy): (sx * (L - inset), sy * (D - inset)) for sx in (1, -1) for sy in (1, -1)}
    else:  # trestle: two end frames joined by a stretcher
        ex = L - 0.25
        for sx in (1, -1):
            x = sx * ex
            m.add("legs", span((x - 0.04, -D + 0.05, 0), (x + 0.04, D - 0.05, 0.07)))
            m.add("legs", span((x - 0.035, -D + 0.1, H - t - 0.07), (x + 0.035, D - 0.1, H - t)))
            m.add("legs", loft([ring((x, 0, 0.07), X, Y, 0.04, 0.14, p=6, n=12), ring((x, 0, 0.4), X, Y, 0.04, 0.08, p=6, n=12),
                                ring((x, 0, H - t - 0.07), X, Y, 0.04, 0.12, p=6, n=12)]))
        m.add("legs", span((-ex, -0.03, 0.28), (ex, 0.03, 0.36)))
        feet = {(sx, sy): (sx * ex, sy * (D - 0.05)) for sx in (1, -1) for sy in (1, -1)}
    for (sx, sy), (x, y) in feet.items():
        m.kp(f"{'left' if sx > 0 else 'right'}_{'front' if sy < 0 else 'back'}_leg", (x, y, 0))
        m.kp(f"top_{'left' if sx > 0 else 'right'}_{'front' if sy < 0 else 'back'}", (sx * L, sy * D, H))
    return m


# --------------------------------------------------------------------------------------
# sofa
# --------------------------------------------------------------------------------------

SOFA_PRESETS = [
    dict(style="three", W=2.1, D=0.92, seats=3, arm=0.2, arm_h=0.64, back_h=0.88, seat_h=0.46),
    dict(style="rolled", W=1.6, D=0.9, seats=2, arm=0.24, arm_h=0.7, back_h=0.95, seat_h=0.47),
    dict(style="sectional", W=2.5, D=0.95, seats=3, arm=0.16, arm_h=0.58, back_h=0.8, seat_h=0.43),
]


def build_sofa(p: dict) -> Model:
    W, D, style = p["W"] / 2, p["D"] / 2, p["style"]
    m = Model(symmetry=Symmetry(type="none") if style == "sectional" else Symmetry(type="mirror", axis="x"))
    arm, seat_h, back_h, arm_h = p["arm"], p["seat_h"], p["back_h"], p["arm_h"]
    leg_h = 0.1 if style != "sectional" else 0.06
    back_d = 0.22
    front = -D
    chaise = 0.7 if style == "sectional" else 0.0  # the chaise runs forward on the object's right (-x)
    m.add("frame", span((-W, front, leg_h), (W, D, seat_h - 0.12)))
    if chaise:
        m.add("frame", span((-W, front - chaise, leg_h), (-W + 0.85, front, seat_h - 0.12)))
    m.add("frame", span((-W + arm, D - back_d, seat_h - 0.12), (W - arm, D, back_h - 0.08)))
    # arms
    for sx in (1, -1):
        x0, x1 = (W - arm, W) if sx > 0 else (-W, -W + arm)
        y0 = front - (chaise if sx < 0 else 0.0)
        if style == "rolled":
            m.add("arms", span((x0, y0, leg_h), (x1, D, arm_h - 0.08)))
            m.add("arms", disc(((x0 + x1) / 2, (y0 + D) / 2, arm_h - 0.1), arm / 2 + 0.03, D - y0, "y", 20))
        else:
            m.add("arms", loft([ring_xz(y0, arm / 2, leg_h, arm_h, p=6, x0=(x0 + x1) / 2), ring_xz(D, arm / 2, leg_h, arm_h, p=6, x0=(x0 + x1) / 2)]))
    # cushions
    inner = W - arm
    n = p["seats"]
    width = 2 * inner / n
    for i in range(n):
        x0 = -inner + i * width
        y0 = front + 0.02 - (chaise if (chaise and i == 0) else 0.0)
        m.add("cushions", loft([ring_xz(y0, width / 2 - 0.01, seat_h - 0.12, seat_h, p=6, x0=x0 + width / 2),
                                ring_xz(D - back_d, width / 2 - 0.01, seat_h - 0.12, seat_h, p=6, x0=x0 + width / 2)]))
        m.add("cushions", loft([ring_xz(D - back_d - 0.16, width / 2 - 0.015, seat_h - 0.02, back_h - 0.12, p=6, x0=x0 + width / 2, top=0.95),
                                ring_xz(D - back_d + 0.02, width / 2 - 0.015, seat_h - 0.02, back_h, p=6, x0=x0 + width / 2, top=0.95)]))
    # legs
    legs = [(sx * (W - 0.06), sy * (D - 0.06)) for sx in (1, -1) for sy in (-1, 1)]
    if chaise:
        legs[2] = (-W + 0.06, front - chaise + 0.06)
        legs.append((-W + 0.79, front - chaise + 0.06))
    for x, y in legs:
        if style == "rolled":
            m.add("legs", revolve_z([(0, 0), (0.025, 0), (0.035, leg_h * 0.6), (0.03, leg_h), (0, leg_h)], sections=12, centre=(x, y, 0)))
        else:
            m.add("legs", span((x - 0.025, y - 0.025, 0), (x + 0.025, y + 0.025, leg_h)))
    m.kp_pair("seat_front", (inner, front, seat_h))
    if chaise:
        m.kp("right_seat_front", (-inner, front - chaise, seat_h))
    m.kp_pair("top_back", (inner, D, back_h))
    m.kp_pair("arm_front", (W - arm / 2, front, arm_h))
    if chaise:
        m.kp("right_arm_front", (-W + arm / 2, front - chaise, arm_h))
    m.kp_pair("bottom_front", (W, front, leg_h))
    if chaise:
        m.kp("right_bottom_front", (-W, front - chaise, leg_h))
    return m


# --------------------------------------------------------------------------------------
# tv monitor
# --------------------------------------------------------------------------------------

TV_PRESETS = [
    dict(style="monitor", W=0.62, H=0.37, depth=0.05, lift=0.12),
    dict(style="crt", W=0.42, H=0.36, depth=0.42, lift=0.03),
    dict(style="tv", W=1.22, H=0.71, depth=0.06, lift=0.08),
]


def build_tvmonitor(p: dict) -> Model:
    m = Model()
    w, h, depth, style = p["W"] / 2, p["H"], p["depth"], p["style"]
    z0, z1 = p["lift"], p["lift"] + p["H"]
    bez = {"monitor": 0.018, "crt": 0.04, "tv": 0.022}[style]
    front_d = 0.012 if style != "crt" else 0.035  # how far the rounded bezel stands proud of the screen
    # housing behind the screen
    m.add("body", span((-w + 0.005, 0.0 if style != "crt" else 0.05, z0 + 0.005), (w - 0.005, depth if style != "crt" else 0.06, z1 - 0.005)))
    # bezel: four rounded bars framing a recessed screen, so the frame reads in clay renders
    yb = -front_d / 2 + 0.004 if style != "crt" else 0.02
    for z in (z0 + bez / 2, z1 - bez / 2):
        m.add("body", loft([ring((-w, yb, z), Y, Z, front_d, bez / 2, p=3, n=12), ring((w, yb, z), Y, Z, front_d, bez / 2, p=3, n=12)]))
    for x in (-w + bez / 2, w - bez / 2):
        m.add("body", loft([ring((x, yb, z0), Y, X, front_d, bez / 2, p=3, n=12), ring((x, yb, z1), Y, X, front_d, bez / 2, p=3, n=12)]))
    if style == "crt":  # a bulging glass screen and a deep tapered back
        zc, sw, sh = (z0 + z1) / 2, w - bez * 0.7, h / 2 - bez * 0.7
        m.add("screen", loft([ring((0, y, zc), X, Z, sw * k, sh * k, p=pw) for y, k, pw in
                              ((0.055, 1.0, 10), (0.0, 0.97, 10), (-0.01, 0.85, 8))]))
        m.add("body", loft([ring_xz(0.06, w, z0, z1, p=8), ring_xz(0.2, w * 0.85, z0 + 0.02, z0 + h * 0.92, p=8), ring_xz(depth, w * 0.55, z0 + 0.05, z0 + h * 0.7, p=6)]))
        m.add("stand", loft([ring((0, depth * 0.45, 0.0), X, Y, 0.16, 0.15, p=3), ring((0, depth * 0.45, z0 + 0.01), X, Y, 0.14, 0.13, p=3)]))
        base_front = (0, depth * 0.45 - 0.15, z0 + 0.01)
        back_top = (w * 0.55, depth, z0 + h * 0.7)
    else:
        m.add("screen", span((-w + bez, -0.002, z0 + bez), (w - bez, 0.002, z1 - bez)))
        m.add("body", span((-w * 0.6, depth, z0 + h * 0.2), (w * 0.6, depth + 0.03, z0 + h * 0.75)))  # back bump
        back_top = (w, depth, z1)
        if style == "monitor":
            m.add("stand", box((0.07, 0.025, z0 + h * 0.4), (0, depth + 0.06, (z0 + h * 0.4) / 2 + 0.01), _rx(0.12)))
            m.add("stand", loft([ring((0, depth + 0.04, 0.0), X, Y, 0.13, 0.1, p=3), ring((0, depth + 0.04, 0.015), X, Y, 0.12, 0.09, p=3)]))
            base_front = (0, depth + 0.04 - 0.1, 0.015)
        else:
            for sx in (1, -1):
                x = sx * w * 0.75
                m.add("stand", tube((x, depth / 2, z0 + 0.05), (x, -0.1, 0.01), 0.012, 6), tube((x, depth / 2, z0 + 0.05), (x, 0.18, 0.01), 0.012, 6))
                m.add("stand", span((x - 0.02, -0.12, 0), (x + 0.02, 0.2, 0.015)))
            m.add("lights", box((0.02, 0.01, 0.008), (w * 0.8, -0.012, z0 + 0.01)))  # standby LED
            base_front = (w * 0.75, -0.12, 0)
    m.kp_pair("screen_top", (w - bez, -0.002, z1 - bez))
    m.kp_pair("screen_bottom", (w - bez, -0.002, z0 + bez))
    m.kp_pair("back_top", back_top)
    m.kp("stand_front", base_front)
    return m


# --------------------------------------------------------------------------------------
# classes and the library build
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassSpec:
    synset: str
    name: str  # ImageNet lemma (first name)
    pascal3d: str
    prefix: str
    build: Callable[[dict], Model]
    presets: list[dict]
    pose_defaults: dict


_GROUND = {"elevation_range": {"min": -5.0, "max": 45.0}, "elevation_mean": 12.0, "elevation_std": 12.0}
_INDOOR = {"elevation_range": {"min": 0.0, "max": 60.0}, "elevation_mean": 22.0, "elevation_std": 15.0}

CLASSES: list[ClassSpec] = [
    ClassSpec("n02690373", "airliner", "aeroplane", "aeroplane", build_aeroplane, PLANE_PRESETS,
              {"elevation_range": {"min": -30.0, "max": 60.0}, "elevation_mean": 10.0, "elevation_std": 20.0}),
    ClassSpec("n03792782", "mountain bike", "bicycle", "bicycle", build_bicycle, BIKE_PRESETS, _GROUND),
    ClassSpec("n04273569", "speedboat", "boat", "boat", build_boat, BOAT_PRESETS,
              {"elevation_range": {"min": -5.0, "max": 50.0}, "elevation_mean": 15.0, "elevation_std": 12.0}),
    ClassSpec("n04557648", "water bottle", "bottle", "bottle", build_bottle, BOTTLE_PRESETS,
              {"elevation_range": {"min": -10.0, "max": 60.0}, "elevation_mean": 15.0, "elevation_std": 15.0}),
    ClassSpec("n04146614", "school bus", "bus", "bus", build_bus, BUS_PRESETS, _GROUND),
    ClassSpec("n02814533", "beach wagon", "car", "car", build_car, CAR_PRESETS, _GROUND),
    ClassSpec("n03376595", "folding chair", "chair", "chair", build_chair, CHAIR_PRESETS, _INDOOR),
    ClassSpec("n03201208", "dining table", "diningtable", "diningtable", build_table, TABLE_PRESETS, _INDOOR),
    ClassSpec("n03785016", "moped", "motorbike", "motorbike", build_motorbike, MOTO_PRESETS, _GROUND),
    ClassSpec("n04344873", "studio couch", "sofa", "sofa", build_sofa, SOFA_PRESETS, _INDOOR),
    ClassSpec("n03272562", "electric locomotive", "train", "train", build_train, TRAIN_PRESETS,
              {"elevation_range": {"min": -5.0, "max": 40.0}, "elevation_mean": 10.0, "elevation_std": 10.0}),
    ClassSpec("n03782006", "monitor", "tvmonitor", "tvmonitor", build_tvmonitor, TV_PRESETS,
              {"mode": "front_half", "elevation_range": {"min": -10.0, "max": 40.0}, "elevation_mean": 8.0, "elevation_std": 10.0}),
]


def instance_params(spec: ClassSpec, index: int) -> dict:
    """Preset ``index``; beyond the presets, a preset with its sizes jittered by up to 8%.

    The jitter is seeded by (class, index), so instance k is the same whatever ``instances`` is.
    """
    base = dict(spec.presets[index % len(spec.presets)])
    if index < len(spec.presets):
        return base
    rng = np.random.default_rng([zlib.crc32(spec.prefix.encode()), index])
    for key in sorted(base):
        value = base[key]
        if isinstance(value, float):
            base[key] = float(value * rng.uniform(0.92, 1.08))
    return base


def finish(model: Model) -> tuple[dict[str, trimesh.Trimesh], dict[str, list[float]], dict, float]:
    """Merge each part's pieces, centre on the bbox, scale the longest side to 1, snap keypoints."""
    parts = {name: trimesh.util.concatenate(pieces) for name, pieces in model.parts.items() if pieces}
    verts = np.vstack([p.vertices for p in parts.values()])
    lo, hi = verts.min(0), verts.max(0)
    centre, size = (lo + hi) / 2, float((hi - lo).max())
    scale = 1.0 / size
    out = {}
    for name, mesh in parts.items():
        v = ((mesh.vertices - centre) * scale).astype(np.float32)
        out[name] = trimesh.Trimesh(v, mesh.faces, process=False)
    kps = {k: [round(float(c), 6) for c in snap_to_surface((np.asarray(v) - centre) * scale, out.values())] for k, v in sorted(model.keypoints.items())}
    norm = {"centre": [round(float(c), 6) for c in centre], "scale": round(scale, 9)}
    return out, kps, norm, size


def snap_to_surface(point: np.ndarray, parts) -> np.ndarray:
    """Nearest point on the model's triangles: keypoints lie on the surface, so depth tests see them."""
    tris = np.vstack([np.asarray(p.triangles, float) for p in parts])
    cand = trimesh.triangles.closest_point(tris, np.repeat(np.asarray(point, float)[None], len(tris), 0))
    return cand[int(np.argmin(np.linalg.norm(cand - point, axis=1)))]


def glb_bytes(parts: dict[str, trimesh.Trimesh]) -> bytes:
    """One named geometry and node per part; trimesh's GLB writer is byte-stable."""
    scene = trimesh.Scene()
    for name, mesh in parts.items():
        scene.add_geometry(mesh, geom_name=name, node_name=name)
    return scene.export(file_type="glb")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_model(spec: ClassSpec, index: int) -> tuple[dict[str, trimesh.Trimesh], CadModel]:
    """Build one instance; returns normalized parts and its manifest entry (mesh path relative)."""
    model = spec.build(instance_params(spec, index))
    parts, kps, norm, size = finish(model)
    model_id = f"{spec.prefix}_{index:02d}"
    entry = CadModel(
        id=model_id, mesh=f"meshes/{spec.synset}/{model_id}.glb", source=SOURCE, license=LICENSE, front="-y", up="+z",
        normalization=norm, size_m=round(size, 4), keypoints=kps, symmetry=model.symmetry,
        faces=int(sum(len(p.faces) for p in parts.values())),
    )
    return parts, entry


def build_library(root: Path, instances: int = 3) -> Manifest:
    """Write ``instances`` models per class under ``root`` and (re)write its manifest.

    Models from other sources (imports) already in the manifest are kept, and so are
    classes that only imports created; stale generated meshes (from a build with more
    instances) are removed. A class's ``pose_defaults`` already in the manifest are kept
    too, so hand edits survive a rebuild.
    """
    if instances < 1:
        raise UserError(f"--instances must be at least 1, got {instances}")
    root = Path(root)
    old = CadLibrary(root).manifest if (root / MANIFEST).is_file() else Manifest()
    generated = {f"{spec.prefix}_{i:02d}" for spec in CLASSES for i in range(instances)}
    for cls in old.classes.values():
        for mdl in cls.models:
            if mdl.source != SOURCE and mdl.id in generated:
                raise UserError(f"imported model '{mdl.id}' has the id of a generated model; re-import it under another --id, or build fewer --instances")
    manifest = Manifest()
    for spec in CLASSES:
        previous = old.classes[spec.synset].models if spec.synset in old.classes else []
        models = []
        for index in range(instances):
            parts, entry = build_model(spec, index)
            write_atomic(root / entry.mesh, glb_bytes(parts))
            models.append(entry)
        fresh = {e.mesh for e in models}
        for stale in previous:
            if stale.source == SOURCE and stale.mesh not in fresh:
                (root / stale.mesh).unlink(missing_ok=True)
        kept = [mdl for mdl in previous if mdl.source != SOURCE]
        pose = old.classes[spec.synset].pose_defaults if spec.synset in old.classes else {}
        manifest.classes[spec.synset] = CadClass(name=spec.name, pascal3d=spec.pascal3d, pose_defaults=pose or dict(spec.pose_defaults), models=models + kept)
    for synset, cls in old.classes.items():  # classes created by imports
        manifest.classes.setdefault(synset, cls)
    write_atomic(root / MANIFEST, (json.dumps(manifest.model_dump(mode="json"), indent=1) + "\n").encode())
    return manifest
