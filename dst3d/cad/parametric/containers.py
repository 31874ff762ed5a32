"""Containers: coffee mug, teapot, soup bowl, vase, bucket, barrel, ashcan (ImageNet classes, no PASCAL3D+ category).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame. Round bodies are revolved about +Z; a handle, when there is one, sits on
the object's left (+X, the viewer's right in the front view), so "front" (-Y) is the side a
person facing the handle-right view sees; such models are tagged mirror:y (the handle plane).
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import X, Y, Z, Model, arc_points, bent_tube, box, disc, flat_ring, loft, revolve_z, ring_xz, span, tube, tyre

_ROUND = Symmetry(type="rotational", axis="z", order=0)
_HANDLE_PLANE = Symmetry(type="mirror", axis="y")
_MIRROR_X = Symmetry(type="mirror", axis="x")


def shell(outer: list[tuple[float, float]], wall: float, floor: float) -> list[tuple[float, float]]:
    """(r, z) profile of an open vessel: up the outside, over the rim, down the inside to a floor.

    Why: a revolved open shell shows its cavity from above, which is what makes a bowl or a
    bucket read as one; ``outer`` runs from the base (z = 0) to the rim.
    """
    rim_r, rim_z = outer[-1]
    inner = [(max(r - wall, 0.002), z) for r, z in reversed(outer[1:-1]) if z > floor + 1e-6]
    floor_r = max(float(np.interp(floor, [z for _, z in outer], [r for r, _ in outer])) - wall, 0.002)
    return [(0.0, 0.0), *outer, (rim_r - wall, rim_z), *inner, (floor_r, floor), (0.0, floor)]


def radius_at(outer: list[tuple[float, float]], z: float) -> float:
    return float(np.interp(z, [q[1] for q in outer], [q[0] for q in outer]))


def side_handle(outer: list[tuple[float, float]], z_top: float, z_bot: float, reach: float, thick: float, flat: float = 0.6) -> list:
    """A C handle on +X joining the body at z_top and z_bot, bulging ``reach`` beyond it."""
    zc, half = (z_top + z_bot) / 2, (z_top - z_bot) / 2
    x0 = min(radius_at(outer, z_top), radius_at(outer, z_bot)) - thick
    pts = arc_points((x0, 0.0, zc), reach + thick, 100, -100, X, Z, n=14, radius_v=half * 1.08)
    return [bent_tube(pts, thick, n=8, radius_b=thick * flat)]


# --------------------------------------------------------------------------------------
# coffee mug
# --------------------------------------------------------------------------------------

MUG_PRESETS = [
    dict(style="classic", H=0.095, Rb=0.041, Rt=0.041, bulge=0.0, reach=0.028, hs=0.62, thick=0.006),
    dict(style="travel", H=0.15, Rb=0.032, Rt=0.044, bulge=0.0, reach=0.026, hs=0.55, thick=0.006, lid=True),  # tapered, sip lid, grip band
    dict(style="espresso", H=0.058, Rb=0.024, Rt=0.032, bulge=0.0, reach=0.016, hs=0.55, thick=0.004, saucer=0.062),  # cup on a saucer
    dict(style="stein", H=0.13, Rb=0.04, Rt=0.037, bulge=0.006, reach=0.034, hs=0.7, thick=0.011, foot=True),  # thick handle, foot ring, bands
    dict(style="camp", H=0.078, Rb=0.045, Rt=0.045, bulge=0.0, reach=0.024, hs=0.7, thick=0.004),
]


def build_mug(p: dict) -> Model:
    """Coffee mug: a revolved open shell and a C handle on +X (classic, travel mug with a lid, espresso cup on a saucer, stein, enamel camp mug)."""
    m = Model(symmetry=_HANDLE_PLANE)
    H, rb, rt = p["H"], p["Rb"], p["Rt"]
    outer = [(rb * 0.9, 0.0), (rb, 0.006)]
    for f in np.linspace(0.15, 1.0, 6):
        outer.append((rb + (rt - rb) * f + p["bulge"] * np.sin(np.pi * f), H * f))
    m.add("body", revolve_z(shell(outer, 0.004, 0.008), sections=36))
    if p["style"] == "camp":  # the rolled rim of an enamel mug
        m.add("rim", flat_ring(H - 0.003, rt - 0.001, 0.003))
    z_top, z_bot = H * (0.5 + p["hs"] / 2), H * (0.5 - p["hs"] / 2)
    m.add("handle", side_handle(outer, z_top, z_bot, p["reach"], p["thick"]))
    mug_extras(m, p, outer)
    x_out = max(radius_at(outer, z_top), radius_at(outer, z_bot)) + p["reach"]
    m.kp("rim_front", (0, -rt, H))
    m.kp("rim_back", (0, rt, H))
    m.kp("handle_top", (radius_at(outer, z_top) + p["thick"], 0, z_top))
    m.kp("handle_bottom", (radius_at(outer, z_bot) + p["thick"], 0, z_bot))
    m.kp("handle_outer", (x_out, 0, H / 2))
    m.kp("base_front", (0, -rb, 0))
    return m


def mug_extras(m: Model, p: dict, outer: list[tuple[float, float]]) -> None:
    """Optional: a travel mug's press-on lid with its sip spout (on the plane of the handle, toward -X) and grip
    band; a stein's foot ring and two raised bands; an espresso cup's saucer (the cup then stands on it)."""
    H, rt = p["H"], p["Rt"]
    if p.get("lid"):
        m.add("lid", revolve_z([(0, H - 0.01), (rt + 0.002, H - 0.01), (rt + 0.003, H + 0.004), (rt * 0.8, H + 0.012), (0, H + 0.012)], sections=36))
        m.add("lid", box((0.014, 0.01, 0.006), (-rt * 0.6, 0.0, H + 0.014)))
        m.add("band", revolve_z([(radius_at(outer, H * 0.3) + 0.002, H * 0.3), (radius_at(outer, H * 0.6) + 0.002, H * 0.6),
                                  (radius_at(outer, H * 0.6) - 0.001, H * 0.6), (radius_at(outer, H * 0.3) - 0.001, H * 0.3)], sections=36))
    if p.get("foot"):
        m.add("foot", flat_ring(0.004, p["Rb"] * 0.95, 0.004, 36))
        for f in (0.2, 0.85):
            m.add("foot", flat_ring(H * f, radius_at(outer, H * f), 0.0025, 36))
    if p.get("saucer"):
        r = p["saucer"]
        m.add("saucer", revolve_z([(0, -0.008), (r * 0.45, -0.008), (r * 0.5, -0.004), (r, 0.002), (r * 0.98, 0.004), (r * 0.5, -0.002), (0, -0.002)], sections=40))
        m.kp("saucer_front", (0, -r, 0.002))


# --------------------------------------------------------------------------------------
# teapot
# --------------------------------------------------------------------------------------

TEAPOT_PRESETS = [
    dict(style="round", H=0.14, R=0.085, neck=0.05, spout=0.09, rise=0.07, knob="ball"),
    dict(style="tall", H=0.2, R=0.07, neck=0.035, spout=0.1, rise=0.1, knob="spire"),
    dict(style="squat", H=0.1, R=0.095, neck=0.06, spout=0.075, rise=0.045, knob="ball"),
    dict(style="drum", H=0.13, R=0.075, neck=0.065, spout=0.08, rise=0.06, knob="disc"),
    dict(style="pear", H=0.17, R=0.08, neck=0.04, spout=0.11, rise=0.09, knob="spire"),
]


def build_teapot(p: dict) -> Model:
    """Teapot: revolved body, lid and knob, a tapered spout on -X and a handle on +X."""
    m = Model(symmetry=_HANDLE_PLANE)
    H, R, rn, style = p["H"], p["R"], p["neck"], p["style"]
    body_h = H * 0.78
    if style == "drum":
        outer = [(R * 0.9, 0.0), (R, 0.01), (R, body_h * 0.9), (rn, body_h)]
    elif style == "tall":
        outer = [(R * 0.8, 0.0), (R, body_h * 0.2), (R * 0.75, body_h * 0.65), (rn * 1.1, body_h * 0.92), (rn, body_h)]
    elif style == "pear":
        outer = [(R * 0.7, 0.0), (R * 0.98, body_h * 0.22), (R, body_h * 0.35), (R * 0.7, body_h * 0.7), (rn, body_h)]
    else:
        outer = [(R * 0.6, 0.0)] + [(R * np.sin(a) * (1.0 if style == "round" else 1.0), body_h * (1 - np.cos(a)) / 2 * (1.0 if a < np.pi / 2 else 1.0))
                                    for a in np.linspace(0.35, np.pi - 0.55, 7)] + [(rn, body_h)]
    prof = [(0.0, 0.0), *outer, (0.0, body_h)]
    m.add("body", revolve_z(prof, sections=32))
    # lid: a dome over the opening, with a knob
    lid_top = body_h + (H - body_h) * 0.55
    m.add("lid", revolve_z([(0, body_h - 0.003), (rn * 1.12, body_h - 0.003), (rn * 1.1, body_h + 0.004), (rn * 0.7, lid_top - 0.004), (0, lid_top)], sections=28))
    if p["knob"] == "ball":
        m.add("lid", revolve_z([(0, lid_top - 0.002), (0.006, lid_top), (0.012, lid_top + 0.012), (0.006, H - 0.002), (0, H)], sections=16))
    elif p["knob"] == "spire":
        m.add("lid", revolve_z([(0, lid_top - 0.002), (0.01, lid_top), (0.004, lid_top + (H - lid_top) * 0.5), (0.008, H - 0.01), (0, H)], sections=16))
    else:
        m.add("lid", revolve_z([(0, lid_top - 0.002), (0.006, lid_top), (0.006, H - 0.006), (0.018, H - 0.005), (0.018, H), (0, H)], sections=16))
    # spout on -X: from low on the body, out and up, tapering
    z0 = body_h * 0.3
    x0 = -radius_at(outer, z0) + 0.01
    tip = np.array([x0 - p["spout"], 0.0, z0 + p["rise"] + body_h * 0.35])
    ctrl = np.array([x0 - p["spout"] * 0.45, 0.0, z0 + 0.01])
    s = np.linspace(0, 1, 10)[:, None]
    path = (1 - s) ** 2 * np.array([x0, 0, z0]) + 2 * (1 - s) * s * ctrl + s ** 2 * tip
    m.add("spout", bent_tube(path, np.linspace(0.02, 0.007, 10), n=10))
    # handle on +X: from below the rim to low on the body
    m.add("handle", side_handle(outer, body_h * 0.88, body_h * 0.3, p["R"] * 0.55, 0.01))
    m.kp("spout_tip", tip)
    m.kp("lid_knob", (0, 0, H))
    m.kp("handle_top", (radius_at(outer, body_h * 0.88) + 0.01, 0, body_h * 0.88))
    m.kp("handle_outer", (max(radius_at(outer, body_h * 0.88), radius_at(outer, body_h * 0.3)) + p["R"] * 0.55, 0, body_h * 0.59))
    m.kp("body_front", (0, -max(q[0] for q in outer), outer[int(np.argmax([q[0] for q in outer]))][1]))
    m.kp("base_front", (0, -outer[0][0], 0))
    return m


# --------------------------------------------------------------------------------------
# soup bowl
# --------------------------------------------------------------------------------------

BOWL_PRESETS = [
    dict(style="soup", D=0.16, H=0.07, foot=0.06, foot_h=0.008, flare=0.0, brim=0.0),
    dict(style="pasta", D=0.24, H=0.055, foot=0.09, foot_h=0.006, flare=0.35, brim=0.03),
    dict(style="deep", D=0.14, H=0.085, foot=0.055, foot_h=0.01, flare=-0.1, brim=0.0),
    dict(style="conical", D=0.18, H=0.075, foot=0.05, foot_h=0.012, flare=0.6, brim=0.0),
    dict(style="cream", D=0.13, H=0.06, foot=0.05, foot_h=0.007, flare=0.1, brim=0.012),
]


def build_bowl(p: dict) -> Model:
    """Soup bowl: a revolved open shell on a foot ring, optionally with a flat brim."""
    m = Model(symmetry=_ROUND)
    R, H, rf, fh, flare = p["D"] / 2, p["H"], p["foot"] / 2, p["foot_h"], p["flare"]
    outer = []
    for f in np.linspace(0.0, 1.0, 8):  # a quarter-round wall, straightened toward a cone by ``flare``
        curve = np.sin(f * np.pi / 2)
        r = rf * 0.95 + (R - rf * 0.95) * ((1 - abs(flare)) * curve + abs(flare) * f if flare >= 0 else curve ** (1 + abs(flare) * 3))
        outer.append((r, fh + f * (H - fh)))
    m.add("body", revolve_z(shell([(rf * 0.9, fh)] + outer, 0.004, fh + 0.005), sections=32))
    m.add("foot", revolve_z([(0, 0), (rf, 0), (rf * 1.02, fh), (0, fh + 0.001)], sections=32))
    top = H
    if p["brim"] > 0:
        m.add("brim", revolve_z([(R - 0.004, H - 0.004), (R + p["brim"], H - 0.002), (R + p["brim"], H + 0.002), (R - 0.004, H)], sections=40))
        R = R + p["brim"]
    m.kp("rim_front", (0, -R, top))
    m.kp("rim_back", (0, R, top))
    m.kp("rim_left", (R, 0, top))
    m.kp("rim_right", (-R, 0, top))
    m.kp("foot_front", (0, -rf, 0))
    return m


# --------------------------------------------------------------------------------------
# vase
# --------------------------------------------------------------------------------------

VASE_PRESETS = [
    # profile radii (m) at evenly spaced heights from base to lip
    dict(style="amphora", H=0.36, radii=[0.05, 0.095, 0.11, 0.09, 0.045, 0.035, 0.05], handles=True),
    dict(style="cylinder", H=0.3, radii=[0.055, 0.058, 0.058, 0.058, 0.06], handles=False),
    dict(style="bottle", H=0.32, radii=[0.06, 0.1, 0.085, 0.03, 0.022, 0.022, 0.03], handles=False),
    dict(style="trumpet", H=0.28, radii=[0.05, 0.03, 0.025, 0.035, 0.06, 0.095], handles=False),
    dict(style="urn", H=0.26, radii=[0.045, 0.035, 0.08, 0.1, 0.085, 0.065, 0.075], handles=True),
]


def build_vase(p: dict) -> Model:
    """Vase: a revolved open shell from a radius profile, a lip bead and, for two styles, a pair of handles."""
    H, radii = p["H"], p["radii"]
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2) if p["handles"] else _ROUND)
    zs = np.linspace(0, H, len(radii))
    fine = np.linspace(0, H, 10)
    rr = np.interp(fine, zs, radii)
    outer = [(float(r), float(z)) for r, z in zip(rr, fine)]
    m.add("body", revolve_z(shell(outer, 0.005, 0.012), sections=30))
    m.add("lip", flat_ring(H - 0.004, radii[-1] - 0.002, 0.006, 24))
    m.add("base", revolve_z([(0, 0), (radii[0] * 1.08, 0), (radii[0] * 1.08, 0.01), (0, 0.011)], sections=32))
    if p["handles"]:
        z_top, z_bot = zs[-2] + (H - zs[-2]) * 0.3, zs[2]
        for sx in (1, -1):
            x_top, x_bot = radius_at(outer, z_top) - 0.004, radius_at(outer, z_bot) - 0.004
            reach = max(x_top, x_bot) + 0.035
            pts = [(x_top, 0, z_top), (reach, 0, z_top + 0.01), (reach + 0.01, 0, (z_top + z_bot) / 2 + 0.02), (x_bot + 0.03, 0, z_bot + 0.01), (x_bot, 0, z_bot)]
            m.add("handles", bent_tube(np.array(pts) * (sx, 1, 1), 0.007, n=8))
        m.kp("left_handle", (reach + 0.01, 0, (z_top + z_bot) / 2 + 0.02))
        m.kp("right_handle", (-reach - 0.01, 0, (z_top + z_bot) / 2 + 0.02))
    widest = int(np.argmax(rr))
    m.kp("lip_front", (0, -radii[-1], H))
    m.kp("lip_back", (0, radii[-1], H))
    m.kp("belly_front", (0, -rr[widest], fine[widest]))
    m.kp("base_front", (0, -radii[0] * 1.08, 0))
    m.kp("base_back", (0, radii[0] * 1.08, 0))
    return m


# --------------------------------------------------------------------------------------
# bucket
# --------------------------------------------------------------------------------------

BUCKET_PRESETS = [
    dict(style="pail", H=0.26, Rb=0.1, Rt=0.145, bail=0.13, hoops=0),
    dict(style="plastic", H=0.3, Rb=0.115, Rt=0.15, bail=0.12, hoops=0),
    dict(style="paint", H=0.22, Rb=0.125, Rt=0.13, bail=0.1, hoops=0),
    dict(style="wooden", H=0.28, Rb=0.12, Rt=0.14, bail=0.12, hoops=2),
    dict(style="tall", H=0.36, Rb=0.1, Rt=0.13, bail=0.11, hoops=0),
]


def build_bucket(p: dict) -> Model:
    """Bucket: a tapered open shell with a rolled rim, two ears and a wire bail arching over the top (x-z plane)."""
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2))
    H, rb, rt = p["H"], p["Rb"], p["Rt"]
    outer = [(rb * 0.97, 0.0), (rb, 0.008), (rt, H)]
    m.add("body", revolve_z(shell(outer, 0.004, 0.008), sections=36))
    m.add("rim", flat_ring(H - 0.005, rt, 0.007))
    if p["style"] == "plastic":
        m.add("rim", flat_ring(H - 0.05, radius_at(outer, H - 0.05) + 0.002, 0.005))
    for k in range(p["hoops"]):
        z = H * (0.2 + 0.6 * k)
        m.add("rim", flat_ring(z, radius_at(outer, z) + 0.002, 0.006))
    ez = H - 0.035
    ex = radius_at(outer, ez) + 0.008
    for sx in (1, -1):
        m.add("ears", box((0.012, 0.03, 0.035), (sx * ex, 0, ez)))
    bail = arc_points((0, 0, ez), ex + 0.004, 0, 180, X, Z, n=16, radius_v=p["bail"] + H - ez)
    m.add("handle", bent_tube(bail, 0.004, n=6))
    if p["style"] == "plastic":  # a grip on the bail
        m.add("handle", tube((-0.05, 0, H + p["bail"]), (0.05, 0, H + p["bail"]), 0.012, 10))
    m.kp("rim_front", (0, -rt, H))
    m.kp("rim_back", (0, rt, H))
    m.kp("bail_top", (0, 0, ez + p["bail"] + H - ez))
    m.kp("left_ear", (ex, 0, ez))
    m.kp("right_ear", (-ex, 0, ez))
    m.kp("base_front", (0, -rb, 0))
    return m


# --------------------------------------------------------------------------------------
# barrel
# --------------------------------------------------------------------------------------

BARREL_PRESETS = [
    dict(style="wine", H=0.95, R=0.3, bulge=0.16, hoops=(0.06, 0.2, 0.8, 0.94)),
    dict(style="cask", H=0.8, R=0.26, bulge=0.2, hoops=(0.08, 0.3, 0.7, 0.92), cradle=True),  # lying on a cradle, a tap in its head
    dict(style="drum", H=0.88, R=0.29, bulge=0.0, hoops=(0.33, 0.66), bungs=True),  # steel drum: rolling rings, two bungs
    dict(style="keg", H=0.6, R=0.2, bulge=0.12, hoops=(0.05, 0.5, 0.95)),
    dict(style="rain", H=1.1, R=0.32, bulge=0.08, hoops=(0.1, 0.9), spigot=True),  # rain barrel: lid, spigot near the bottom
]


def build_barrel(p: dict) -> Model:
    """Barrel: a closed body of revolution bulging at the middle (staves), with hoops (a steel drum: rolling rings and bungs; a rain
    barrel: lid and spigot, both tagged mirror:x); a cask lies on a cradle instead (cask_on_cradle)."""
    if p.get("cradle"):
        return cask_on_cradle(p)
    m = Model(symmetry=_ROUND if not (p.get("bungs") or p.get("spigot")) else _MIRROR_X)
    H, R, bulge = p["H"], p["R"], p["bulge"]
    end = R / (1 + bulge)
    prof = [(0.0, 0.0), (end * 0.96, 0.0), (end, 0.01)]
    for f in np.linspace(0.05, 0.95, 9):
        prof.append((end * (1 + bulge * np.sin(np.pi * f)), H * f))
    prof += [(end, H - 0.01), (end * 0.96, H), (end * 0.9, H), (end * 0.9, H - 0.012), (0.0, H - 0.012)]  # chime: the head sits in
    m.add("staves", revolve_z(prof, sections=32))
    for f in p["hoops"]:
        r = end * (1 + bulge * np.sin(np.pi * f))
        m.add("hoops", flat_ring(H * f - 0.01, r + 0.002, 0.012 if p["style"] == "drum" else 0.008, 24))
    barrel_fittings(m, p, end)
    m.kp("top_front", (0, -end, H))
    m.kp("top_back", (0, end, H))
    m.kp("belly_front", (0, -R, H / 2))
    m.kp("bottom_front", (0, -end, 0))
    m.kp("bottom_back", (0, end, 0))
    return m


def barrel_fittings(m: Model, p: dict, end: float) -> None:
    """Optional: a steel drum's two bung caps on its lid (on the x = 0 plane); a rain barrel's lid and front spigot."""
    H = p["H"]
    if p.get("bungs"):
        for y in (-end * 0.6, end * 0.6):
            m.add("bungs", disc((0, y, H - 0.004), 0.03, 0.02, "z", 12))
    if p.get("spigot"):
        m.add("lid", revolve_z([(0, H - 0.012), (end * 0.93, H - 0.012), (end * 0.95, H + 0.03), (0, H + 0.04)], sections=32))
        m.add("spigot", tube((0, -end * 0.95, H * 0.12), (0, -end - 0.08, H * 0.12), 0.015, 10), tube((0, -end - 0.07, H * 0.12), (0, -end - 0.07, H * 0.12 - 0.06), 0.012, 10))
        m.add("spigot", box((0.012, 0.04, 0.012), (0, -end - 0.07, H * 0.12 + 0.025)))


def cask_on_cradle(p: dict) -> Model:
    """A cask lying on its side on a two-saddle cradle, its axis along Y, a tap in the front head (-Y)."""
    m = Model(symmetry=_MIRROR_X)
    upright = build_barrel({k: v for k, v in p.items() if k != "cradle"})
    H, R = p["H"], p["R"]
    end = R / (1 + p["bulge"])
    lift = R + 0.12
    turn = np.eye(4)
    turn[:3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]  # +Z (the cask's axis) onto +Y, the bottom head to the front
    turn[:3, 3] = (0, -H / 2, lift)
    for name, pieces in upright.parts.items():
        m.add(name, [piece.copy().apply_transform(turn) for piece in pieces])
    for y in (-H * 0.28, H * 0.28):
        r = end * (1 + p["bulge"] * np.sin(np.pi * (0.5 + y / H)))
        saddle = [(-R * 0.85, 0.0), (R * 0.85, 0.0), (R * 0.85, lift - r * 0.55), (R * 0.4, lift - r * 0.9), (-R * 0.4, lift - r * 0.9), (-R * 0.85, lift - r * 0.55)]
        m.add("cradle", loft([np.column_stack([[q[0] for q in saddle], np.full(6, y - 0.03), [q[1] for q in saddle]]),
                              np.column_stack([[q[0] for q in saddle], np.full(6, y + 0.03), [q[1] for q in saddle]])]))
    m.add("cradle", span((-R * 0.7, -H * 0.32, 0.0), (-R * 0.6, H * 0.32, 0.05)), span((R * 0.6, -H * 0.32, 0.0), (R * 0.7, H * 0.32, 0.05)))
    m.add("tap", tube((0, -H / 2 + 0.01, lift - end * 0.5), (0, -H / 2 - 0.07, lift - end * 0.5), 0.012, 10),
          tube((0, -H / 2 - 0.06, lift - end * 0.5), (0, -H / 2 - 0.06, lift - end * 0.5 - 0.05), 0.01, 10))
    m.kp("top_front", (0, -H / 2, lift + end))
    m.kp("top_back", (0, H / 2, lift + end))
    m.kp("belly_top", (0, 0, lift + R))
    m.kp("bottom_front", (0, -H / 2, lift - end))
    m.kp("bottom_back", (0, H / 2, lift - end))
    m.kp("tap", (0, -H / 2 - 0.07, lift - end * 0.5))
    return m


# --------------------------------------------------------------------------------------
# ashcan
# --------------------------------------------------------------------------------------

ASHCAN_PRESETS = [
    dict(style="metal", H=0.7, W=0.5),
    dict(style="pedal", H=0.62, W=0.32),
    dict(style="wheelie", H=1.07, W=0.58),
    dict(style="basket", H=0.36, W=0.3),
    dict(style="swing", H=0.75, W=0.4),
]


def build_ashcan(p: dict) -> Model:
    """Ashcan (trash can): ribbed metal can with a domed lid, pedal bin, wheelie bin, office basket, swing-lid bin."""
    H, W, style = p["H"], p["W"], p["style"]
    R = W / 2
    m = Model()
    if style in ("metal", "pedal", "basket"):
        rb = R * (0.82 if style != "pedal" else 0.97)
        top = H if style == "basket" else H * (0.9 if style == "metal" else 0.93)
        outer = [(rb * 0.97, 0.0), (rb, 0.01), (R, top)]
        m.add("body", revolve_z(shell(outer, 0.004 if style != "basket" else 0.003, 0.01), sections=40))
        if style == "metal":
            m.symmetry = Symmetry(type="rotational", axis="z", order=2)
            for f in (0.25, 0.5, 0.75):
                m.add("body", flat_ring(top * f, radius_at(outer, top * f) + 0.002, 0.008))
            m.add("lid", revolve_z([(0, top - 0.01), (R + 0.015, top - 0.01), (R + 0.015, top + 0.01), (R * 0.85, top + (H - top) * 0.8), (0, H - 0.015)], sections=40))
            m.add("lid", bent_tube(arc_points((0, 0, H - 0.02), 0.06, 180, 0, X, Z, n=8, radius_v=0.035), 0.008))
            for sx in (1, -1):  # side handles
                m.add("handles", bent_tube(arc_points((sx * (radius_at(outer, top * 0.85) + 0.005), 0, top * 0.85), 0.05, 180, 0, Y, Z, n=8, radius_v=0.03), 0.007))
            m.kp("lid_handle", (0, 0, H + 0.015))
            m.kp("left_handle", (radius_at(outer, top * 0.85) + 0.005, 0, top * 0.85 + 0.03))
        elif style == "pedal":
            m.symmetry = Symmetry(type="mirror", axis="x")
            m.add("lid", revolve_z([(0, top - 0.005), (R + 0.008, top - 0.005), (R + 0.008, top + 0.01), (R * 0.9, H - 0.01), (0, H)], sections=40))
            m.add("pedal", span((-0.06, -R - 0.06, 0.01), (0.06, -R + 0.02, 0.035)))
            m.add("hinge", span((-0.05, R - 0.01, top - 0.03), (0.05, R + 0.02, top + 0.01)))
            m.kp("pedal", (0, -R - 0.06, 0.035))
            m.kp("hinge", (0, R + 0.02, top))
        else:
            m.symmetry = _ROUND
            m.add("body", flat_ring(top - 0.006, R, 0.006))
            m.add("base", revolve_z([(0, 0), (rb, 0), (rb, 0.006), (0, 0.006)], sections=32))
            m.kp("rim_left", (R, 0, top))
            m.kp("rim_right", (-R, 0, top))
        m.kp("rim_front", (0, -R, top))
        m.kp("rim_back", (0, R, top))
        m.kp("base_front", (0, -rb, 0))
        return m
    m.symmetry = Symmetry(type="mirror", axis="x")
    d = W * (1.25 if style == "wheelie" else 0.9)
    top = H * (0.9 if style == "wheelie" else 0.78)
    m.add("body", loft([ring_xz(-d / 2 * 0.88, W / 2 * 0.88, 0.05 if style == "wheelie" else 0.0, top, p=8, bot=0.9),
                        ring_xz(d / 2 * 0.88, W / 2 * 0.88, 0.05 if style == "wheelie" else 0.0, top, p=8, bot=0.9)]))
    if style == "wheelie":
        m.add("lid", span((-W / 2, -d / 2 - 0.02, top), (W / 2, d / 2, top + 0.05)))
        m.add("handle", bent_tube([(-W / 2 + 0.05, d / 2 + 0.01, top - 0.02), (-W / 2 + 0.05, d / 2 + 0.07, top - 0.02), (W / 2 - 0.05, d / 2 + 0.07, top - 0.02),
                                   (W / 2 - 0.05, d / 2 + 0.01, top - 0.02)], 0.015))
        for sx in (1, -1):
            m.add("wheels", tyre((sx * (W / 2 - 0.03), d / 2 - 0.02, 0.1), 0.1, 0.05))
        m.add("body", span((-W / 2 + 0.05, d / 2 - 0.06, 0.06), (W / 2 - 0.05, d / 2 + 0.0, 0.14)))  # axle housing
        m.kp("handle_left", (W / 2 - 0.05, d / 2 + 0.07, top - 0.02))
        m.kp("handle_right", (-W / 2 + 0.05, d / 2 + 0.07, top - 0.02))
        m.kp("left_wheel", (W / 2, d / 2 - 0.02, 0.1))
        m.kp("lid_front", (0, -d / 2 - 0.02, top + 0.05))
        m.kp("bottom_front", (0, -d / 2 * 0.88, 0.05))
    else:  # swing lid: a dome with a flap facing the front
        m.add("lid", loft([ring_xz(-d / 2 * 0.9, W / 2 * 0.9, top, H, p=8, top=0.8), ring_xz(d / 2 * 0.9, W / 2 * 0.9, top, H, p=8, top=0.8)]))
        m.add("flap", box((W * 0.55, 0.02, (H - top) * 0.7), (0, -d / 2 * 0.9 - 0.01, top + (H - top) * 0.45), None))
        m.kp("flap_top", (0, -d / 2 * 0.9 - 0.02, top + (H - top) * 0.8))
        m.kp("lid_top_front", (W / 2 * 0.9 * 0.8, -d / 2 * 0.9, H))
        m.kp("lid_top_back", (W / 2 * 0.9 * 0.8, d / 2 * 0.9, H))
        m.kp("bottom_front", (0, -d / 2 * 0.88, 0.0))
        m.kp("bottom_back", (0, d / 2 * 0.88, 0.0))
    return m
