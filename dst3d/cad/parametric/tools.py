"""Hand tools and cookware: hammer, screwdriver, hatchet, shovel, broom, frying pan, padlock.

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame. Long-handled tools stand on their handle's end with the working end up
(hammer, screwdriver, hatchet) or down as they rest (shovel, broom), their flat profile in
the x-z plane: the front view (from -Y) shows the silhouette that names the tool.
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import X, Y, Z, Model, arc_points, bent_tube, box, disc, ellipsoid, flat_ring, loft, revolve_z, ring, ring_xz, span, tube

_MIRROR_X = Symmetry(type="mirror", axis="x")
_MIRROR_Y = Symmetry(type="mirror", axis="y")


def handle(length: float, r: float, flare: float = 1.25, z0: float = 0.0, sections: int = 16):
    """A revolved wooden or rubber handle along +Z from z0: swelling toward the butt, a knob at the end."""
    return revolve_z([(0, z0), (r * flare, z0), (r * flare * 1.05, z0 + 0.012), (r * 1.1, z0 + length * 0.25), (r, z0 + length * 0.6),
                      (r * 0.85, z0 + length), (0, z0 + length)], sections=sections)


# --------------------------------------------------------------------------------------
# hammer
# --------------------------------------------------------------------------------------

HAMMER_PRESETS = [
    dict(style="claw", L=0.33, r=0.014, head=0.13, face=0.0145),
    dict(style="sledge", L=0.8, r=0.018, head=0.2, face=0.032),
    dict(style="ballpeen", L=0.32, r=0.013, head=0.11, face=0.014),
    dict(style="mallet", L=0.3, r=0.013, head=0.13, face=0.035),
    dict(style="framing", L=0.41, r=0.015, head=0.16, face=0.017),
]


def build_hammer(p: dict) -> Model:
    """Hammer: handle up +Z, head along X at the top: claw (face +X, claw -X), sledge, ball-peen, mallet, framing hammer."""
    L, r, hl, rf, style = p["L"], p["r"], p["head"], p["face"], p["style"]
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2) if style in ("sledge", "mallet") else _MIRROR_Y)
    m.add("handle", handle(L, r))
    zc = L + rf * 0.6
    if style in ("sledge", "mallet"):
        if style == "sledge":
            m.add("head", span((-hl / 2 + 0.01, -rf, zc - rf), (hl / 2 - 0.01, rf, zc + rf)))
            for sx in (1, -1):
                m.add("head", disc((sx * (hl / 2 - 0.005), 0, zc), rf * 0.95, 0.012, "x", 16))
        else:
            m.add("head", disc((0, 0, zc + rf * 0.4), rf, hl, "x", 24))
            zc += rf * 0.4
        m.kp("head_left", (hl / 2, 0, zc))
        m.kp("head_right", (-hl / 2, 0, zc))
    else:
        m.add("head", span((-0.022, -0.013, zc - 0.021), (0.022, 0.013, zc + 0.021)))  # eye
        m.add("head", disc((0.04, 0, zc), rf * 0.9, 0.04, "x", 16), disc((hl * 0.55 - 0.005, 0, zc), rf * 1.1, 0.014, "x", 16))  # neck and face
        if style == "ballpeen":
            m.add("head", tube((-0.02, 0, zc), (-hl * 0.45 + 0.012, 0, zc), rf * 0.6, 14), ellipsoid((-hl * 0.45 + 0.01, 0, zc), (0.014, 0.014, 0.014), 1))
        else:  # claw: two tines curving down (claw) or straight (framing), split by a slot
            bend = 0.035 if style == "claw" else 0.008
            s = np.linspace(0, 1, 8)
            path = np.stack([-0.02 - s * hl * 0.45, np.zeros(8), zc + 0.006 - bend * s ** 2], 1)
            for sy in (1, -1):
                m.add("head", bent_tube(path + (0, sy * 0.0065, 0), np.linspace(0.016, 0.004, 8), n=8, radius_b=np.linspace(0.0065, 0.0025, 8)))
        m.kp("face", (hl * 0.55 + 0.002, 0, zc))  # the face disc ends at hl * 0.55 + 0.002
        m.kp("head_back", (-0.02 - hl * 0.45, 0, zc if style == "ballpeen" else zc + 0.006 - (0.035 if style == "claw" else 0.008)))
    m.kp("handle_end", (0, 0, 0))
    m.kp("handle_neck", (0, -r * 0.85, L - 0.02))
    m.kp("head_top", (0, 0, zc + (rf if style in ("sledge", "mallet") else 0.021)))
    return m


# --------------------------------------------------------------------------------------
# screwdriver
# --------------------------------------------------------------------------------------

SCREWDRIVER_PRESETS = [
    dict(tip="flat", grip=0.1, r=0.014, shaft=0.12, sr=0.0035),
    dict(tip="phillips", grip=0.1, r=0.015, shaft=0.1, sr=0.003),
    dict(tip="flat", grip=0.045, r=0.015, shaft=0.035, sr=0.003),
    dict(tip="phillips", grip=0.11, r=0.016, shaft=0.2, sr=0.004),
    dict(tip="flat", grip=0.07, r=0.006, shaft=0.06, sr=0.0013),
]


def build_screwdriver(p: dict) -> Model:
    """Screwdriver: a fluted grip at the bottom, the shaft up +Z, a flat blade (2-fold) or a Phillips cross (4-fold)."""
    g, r, sl, sr = p["grip"], p["r"], p["shaft"], p["sr"]
    flat = p["tip"] == "flat"
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2 if flat else 4))
    m.add("grip", revolve_z([(0, 0), (r * 0.9, 0), (r, g * 0.06), (r * 1.05, g * 0.5), (r * 0.95, g * 0.85), (r * 0.55, g), (0, g)], sections=12))  # 12 flats
    m.add("ferrule", revolve_z([(0, g - 0.002), (r * 0.55, g - 0.002), (r * 0.4, g + 0.008), (0, g + 0.008)], sections=16))
    top = g + 0.008 + sl
    m.add("shaft", tube((0, 0, g), (0, 0, top - 0.01), sr, 12))
    if flat:
        m.add("tip", loft([ring((0, 0, top - 0.012), X, Y, sr, sr, p=2, n=8), ring((0, 0, top), X, Y, sr * 1.3, sr * 0.25, p=6, n=8)]))
    else:
        m.add("tip", loft([ring((0, 0, top - 0.012), X, Y, sr, sr, p=2, n=8), ring((0, 0, top - 0.002), X, Y, sr * 0.7, sr * 0.7, p=0.8, n=8),
                           ring((0, 0, top), X, Y, sr * 0.15, sr * 0.15, p=0.8, n=8)]))
    m.kp("tip", (0, 0, top))
    m.kp("grip_end", (0, 0, 0))
    m.kp("grip_front", (0, -r * 1.05, g * 0.5))
    m.kp("ferrule", (0, -r * 0.45, g + 0.006))
    return m


# --------------------------------------------------------------------------------------
# hatchet
# --------------------------------------------------------------------------------------

HATCHET_PRESETS = [
    dict(style="hatchet", L=0.36, head=0.15, blade=0.09, double=False),
    dict(style="axe", L=0.7, head=0.19, blade=0.11, double=False, knob=True),  # felling axe: a swelled knob at the butt
    dict(style="tomahawk", L=0.45, head=0.16, blade=0.07, double=False),
    dict(style="maul", L=0.8, head=0.17, blade=0.075, double=False, sledge=True),  # splitting maul: sledge poll, overstrike guard
    dict(style="double", L=0.75, head=0.25, blade=0.1, double=True),
]


def build_hatchet(p: dict) -> Model:
    """Hatchet: a slightly curved handle up +Z and the head at the top, its edge toward +X (a double-bit axe has two);
    optional butt knob, a maul's sledge poll and overstrike guard."""
    L, hl, bh = p["L"], p["head"], p["blade"]
    double = p["double"]
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2) if double else _MIRROR_Y)
    s = np.linspace(0, 1, 10)
    bow = 0.0 if double else 1.0  # a double-bit axe keeps a straight handle (its 2-fold symmetry)
    path = np.stack([bow * (-0.012 * np.sin(np.pi * s) + 0.008 * s), np.zeros(10), s * (L + 0.03)], 1)
    m.add("handle", bent_tube(path, np.linspace(0.016, 0.013, 10), n=10, radius_b=np.linspace(0.011, 0.009, 10)))
    zc = L - 0.02
    thick = 0.022 if p["style"] != "maul" else 0.035
    eye = 0.03
    rings = []
    if double:
        xs = [-hl / 2, -hl / 2 + 0.01, -eye, 0.0, eye, hl / 2 - 0.01, hl / 2]
        for x in xs:
            f = min(1.0, abs(x) / (hl / 2))
            h = 0.04 + (bh - 0.04) * f ** 2
            rings.append(ring((x, 0, zc), Y, Z, max(thick * (1 - f) ** 1.3, 0.0015), h / 2, p=3, n=12))
        edge_x = hl / 2
    else:
        poll = -0.035 if p["style"] != "tomahawk" else -0.025
        for x, half_t, h, dz in ((poll, thick * 0.9, 0.04, 0.0), (poll + 0.01, thick, 0.045, 0.0), (eye, thick, 0.045, 0.0),
                                 (hl * 0.5, thick * 0.5, 0.05 + (bh - 0.05) * 0.4, -0.005), (hl * 0.85, thick * 0.18, bh * 0.85, -0.012),
                                 (hl - 0.035, 0.0015, bh, -0.015)):
            rings.append(ring((x, 0, zc + dz), Y, Z, half_t, h / 2, p=3 if x < hl * 0.5 else 2.5, n=12))
        edge_x = hl - 0.035
        if p["style"] == "tomahawk":
            m.add("head", tube((poll, 0, zc), (poll - 0.05, 0, zc + 0.01), 0.008, 8))  # spike
        if p.get("sledge"):  # a square striking face behind the eye, and a steel guard on the handle below the head
            m.add("head", span((poll - 0.04, -thick, zc - 0.028), (poll + 0.005, thick, zc + 0.028)))
            m.add("guard", loft([ring((0, 0, zc - 0.13), Y, X, 0.013, 0.019, n=12), ring((0, 0, zc - 0.03), Y, X, 0.015, 0.021, n=12)]))
    if p.get("knob"):
        m.add("handle", ellipsoid((0.0, 0, 0.02), (0.026, 0.018, 0.03), 2))
    m.add("head", loft(rings))
    m.kp("edge_top", (edge_x, 0, zc + bh / 2 - (0.015 if not double else 0)))
    m.kp("edge_bottom", (edge_x, 0, zc - bh / 2 - (0.015 if not double else 0)))
    m.kp("head_back", (-edge_x if double else -0.035, 0, zc))
    m.kp("handle_end", (0.0, 0, 0.0))
    m.kp("handle_front", (-0.004, -0.011, L * 0.5))
    return m


# --------------------------------------------------------------------------------------
# shovel
# --------------------------------------------------------------------------------------

SHOVEL_PRESETS = [
    dict(style="round", L=1.45, W=0.23, blade=0.3, grip="straight", curve=0.04),
    dict(style="square", L=1.05, W=0.25, blade=0.29, grip="d", curve=0.03, treads=True),  # D grip, turned-over treads
    dict(style="spade", L=1.0, W=0.19, blade=0.28, grip="t", curve=0.01),  # T grip
    dict(style="snow", L=1.25, W=0.5, blade=0.36, grip="d", curve=0.09, wear_strip=True),  # wide scoop, wear strip at the edge
    dict(style="trench", L=1.3, W=0.12, blade=0.3, grip="straight", curve=0.02, treads=True),  # narrow, long straight handle, treads
]


def build_shovel(p: dict) -> Model:
    """Shovel: the blade at the bottom, its hollow toward -Y, a handle up +Z with a D grip, a T grip or a straight end; optional
    treads and a wear strip (shovel_extras)."""
    m = Model(symmetry=_MIRROR_X)
    L, hw, bl, style, curve = p["L"], p["W"] / 2, p["blade"], p["style"], p["curve"]
    rings = []
    for f in np.linspace(0.0, 1.0, 9):
        if style == "round":
            width = hw * np.sqrt(np.clip(np.sin(np.pi / 2 * min(f / 0.55, 1.0)), 0.04, 1)) * (1 - 0.1 * f)
        elif style == "trench":
            width = hw * (0.35 + 0.65 * min(f / 0.3, 1.0))
        else:
            width = hw * (1 - 0.12 * f)
        z = f * bl
        y = curve * (1 - (2 * f - 1) ** 2) * (1.0 if style != "snow" else 1.6) + (0.06 * f if style == "snow" else 0.0)
        rings.append(ring((0, y, z), X, Y, width, 0.004, p=8, n=12))
    m.add("blade", loft(rings))
    collar_y = rings[-1][:, 1].mean()
    m.add("blade", loft([ring((0, collar_y, bl - 0.03), X, Y, 0.02, 0.018, n=12), ring((0, collar_y, bl + 0.12), X, Y, 0.018, 0.017, n=12)]))  # socket
    top = L - (0.13 if p["grip"] == "d" else 0.0)
    m.add("handle", tube((0, collar_y, bl + 0.1), (0, collar_y, top), 0.017, 12))
    shovel_extras(m, p, rings, collar_y)
    if p["grip"] == "t":
        m.add("grip", tube((-0.065, collar_y, L - 0.018), (0.065, collar_y, L - 0.018), 0.018, 12))
    elif p["grip"] == "d":
        m.add("grip", bent_tube([(0.0, collar_y, top - 0.02), (0.055, collar_y, top + 0.02), (0.06, collar_y, L - 0.005), (-0.06, collar_y, L - 0.005),
                                 (-0.055, collar_y, top + 0.02), (0.0, collar_y, top - 0.02)], 0.014, n=8))
    else:
        m.add("grip", revolve_z([(0, top - 0.06), (0.02, top - 0.06), (0.021, top - 0.005), (0, top)], sections=12).apply_translation((0, collar_y, 0)))
    m.kp("blade_tip", (0, rings[0][:, 1].mean(), 0.0))
    m.kp_pair("blade_corner", (rings[-1][:, 0].max(), collar_y, bl))
    m.kp("grip_top", (0, collar_y, L))
    m.kp("socket", (0, collar_y - 0.02, bl + 0.05))
    return m


def shovel_extras(m: Model, p: dict, rings: list[np.ndarray], collar_y: float) -> None:
    """Optional: treads (the blade's top edge turned over for the foot) either side of the socket, a steel wear
    strip along a snow shovel's leading edge."""
    top, bottom = rings[-1], rings[0]
    if p.get("treads"):
        xmax = float(top[:, 0].max())
        for sx in (1, -1):
            m.add("treads", span((min(sx * 0.03, sx * xmax), collar_y - 0.035, p["blade"] - 0.008), (max(sx * 0.03, sx * xmax), collar_y + 0.005, p["blade"] + 0.004)))
    if p.get("wear_strip"):
        xmax = float(bottom[:, 0].max())
        yb = float(bottom[:, 1].mean())
        m.add("wear_strip", span((-xmax, yb - 0.008, 0.0), (xmax, yb + 0.008, 0.03)))


# --------------------------------------------------------------------------------------
# broom
# --------------------------------------------------------------------------------------

BROOM_PRESETS = [
    dict(style="corn", L=1.4, W=0.32, bristle=0.4),
    dict(style="push", L=1.5, W=0.6, bristle=0.08),
    dict(style="angle", L=1.3, W=0.3, bristle=0.22),
    dict(style="whisk", L=0.3, W=0.16, bristle=0.18),
    dict(style="besom", L=1.2, W=0.26, bristle=0.5),  # a round bundle of twigs bound to a pole
]


def build_broom(p: dict) -> Model:
    """Broom: bristles at the bottom (a corn broom's flat fan, a push broom's block, an angled head, a short whisk, a besom's round
    bundle), a handle up +Z."""
    L, hw, bh, style = p["L"], p["W"] / 2, p["bristle"], p["style"]
    m = Model(symmetry=Symmetry(type="none") if style == "angle" else _MIRROR_X)  # an angle broom's bristles are cut at a slant
    if style == "besom":
        return build_besom(m, L, hw, bh)
    if style in ("corn", "whisk"):
        rings = [ring((0, 0, 0.0), X, Y, hw, 0.02 * hw / 0.16, p=4, n=16), ring((0, 0, bh * 0.55), X, Y, hw * 0.7, 0.03 * hw / 0.16, p=3, n=16),
                 ring((0, 0, bh), X, Y, 0.035 if style == "corn" else 0.025, 0.03 if style == "corn" else 0.02, p=2, n=16)]
        m.add("bristles", loft(rings))
        tip = 0.035 if style == "corn" else 0.025
        for f in (0.62, 0.75, 0.88):  # binding rows, just proud of the fan
            width = float(np.interp(f, [0.0, 0.55, 1.0], [hw, hw * 0.7, tip])) * 1.04
            depth = float(np.interp(f, [0.0, 0.55, 1.0], [0.02, 0.03, 0.03])) * hw / 0.16 * 1.15
            m.add("bindings", loft([ring((0, 0, bh * f - 0.006), X, Y, width, depth, p=3, n=16), ring((0, 0, bh * f + 0.006), X, Y, width, depth, p=3, n=16)]))
        top_of_head = bh
    elif style == "push":
        m.add("head", span((-hw, -0.035, bh), (hw, 0.035, bh + 0.05)))
        m.add("bristles", span((-hw + 0.005, -0.03, 0.0), (hw - 0.005, 0.03, bh)))
        m.add("head", tube((0, 0, bh + 0.05), (0.0, 0.18, bh + 0.25), 0.012, 8), tube((0, 0, bh + 0.05), (0.0, -0.18, bh + 0.25), 0.012, 8))  # braces
        top_of_head = bh + 0.05
    else:  # angle broom: a trapezoid head whose bristles are cut at a slant
        m.add("head", loft([ring_xz(-0.025, hw * 0.55, bh, bh + 0.05, p=6, bot=1.3), ring_xz(0.025, hw * 0.55, bh, bh + 0.05, p=6, bot=1.3)]))
        m.add("bristles", loft([np.array([(-hw, y, 0.06), (hw, y, 0.0), (hw * 0.72, y, bh), (-hw * 0.72, y, bh)]) for y in (-0.022, 0.022)]))
        top_of_head = bh + 0.05
    m.add("handle", tube((0, 0, top_of_head - 0.03), (0, 0, L), 0.013 if style != "whisk" else 0.015, 12))
    m.add("handle", revolve_z([(0, L - 0.004), (0.014, L - 0.004), (0.01, L + 0.01), (0, L + 0.012)], sections=12))
    m.kp_pair("bristle_corner", (hw, 0, 0.0 if style != "angle" else 0.03))
    m.kp("head_top", (0, -0.02 if style in ("corn", "whisk") else -0.035, top_of_head))
    m.kp("handle_top", (0, 0, L + 0.012))
    m.kp("bristle_front", (0, -0.02 * hw / 0.16 if style in ("corn", "whisk") else -0.03, 0.02))
    return m


def build_besom(m: Model, L: float, r: float, bh: float) -> Model:
    """A besom: a round, flaring bundle of twigs bound in two places onto a pole; round about +Z."""
    m.symmetry = Symmetry(type="rotational", axis="z", order=0)
    m.add("bristles", revolve_z([(0, 0), (r * 0.85, 0.0), (r, 0.04), (r * 0.55, bh * 0.55), (0.05, bh), (0, bh)], sections=32))
    for f in (0.62, 0.85):
        m.add("bindings", flat_ring(bh * f, float(np.interp(f, [0.55, 1.0], [r * 0.55, 0.05])) + 0.002, 0.008, 32))
    m.add("handle", revolve_z([(0, bh - 0.03), (0.016, bh - 0.03), (0.016, L), (0.012, L + 0.01), (0, L + 0.012)], sections=16))
    m.kp_pair("bristle_corner", (r * 0.85, 0, 0.0))
    m.kp("bristle_front", (0, -r, 0.04))
    m.kp("head_top", (0, -0.05, bh))
    m.kp("handle_top", (0, 0, L + 0.012))
    return m


# --------------------------------------------------------------------------------------
# frying pan
# --------------------------------------------------------------------------------------

PAN_PRESETS = [
    dict(style="skillet", D=0.26, H=0.045, handle=0.2, helper=False, rise=0.04),
    dict(style="cast_iron", D=0.27, H=0.055, handle=0.16, helper=True, rise=0.02),
    dict(style="crepe", D=0.28, H=0.015, handle=0.2, helper=False, rise=0.05),
    dict(style="saute", D=0.28, H=0.075, handle=0.24, helper=True, rise=0.05),
    dict(style="small", D=0.2, H=0.04, handle=0.17, helper=False, rise=0.035),
]


def build_pan(p: dict) -> Model:
    """Frying pan: a revolved shallow shell with flared walls, a long handle toward +X rising a little, and sometimes a helper handle."""
    m = Model(symmetry=_MIRROR_Y)
    R, H, style = p["D"] / 2, p["H"], p["style"]
    base = R * (0.78 if style != "saute" else 0.93)
    wall = 0.005 if style == "cast_iron" else 0.003
    outer = [(base * 0.97, 0.0), (base, 0.004)] + [(base + (R - base) * f ** 1.5, H * f) for f in np.linspace(0.2, 1.0, 5)]
    prof = [(0.0, 0.0), *outer, (R - wall, H)] + [(rr - wall, z) for rr, z in reversed(outer[1:-1]) if z > wall + 0.002] + [(base - wall, wall + 0.002), (0, wall + 0.002)]
    m.add("pan", revolve_z(prof, sections=40))
    x0 = R - 0.01
    zh = H * 0.75
    s = np.linspace(0, 1, 8)
    path = np.stack([x0 + s * p["handle"], np.zeros(8), zh + p["rise"] * s ** 1.3], 1)
    m.add("handle", bent_tube(path, np.linspace(0.006, 0.008, 8), n=10, radius_b=np.linspace(0.012, 0.015, 8)))
    if style != "cast_iron":
        m.add("handle", tube(path[3] - (0, 0, 0.003), path[-1] + (0.012, 0, 0.003), 0.014, 10))  # grip sleeve
    if p["helper"]:
        m.add("helper", bent_tube(arc_points((-R - 0.005, 0, zh), 0.035, 90, 270, X, Y, n=8, radius_v=0.045), 0.007, n=8))
        m.kp("helper", (-R - 0.04, 0, zh))
    m.kp("handle_end", path[-1] + (0.012, 0, 0))
    m.kp("rim_front", (0, -R, H))
    m.kp("rim_back", (0, R, H))
    m.kp("rim_left", (R, 0, H))
    m.kp("base_front", (0, -base, 0))
    return m


# --------------------------------------------------------------------------------------
# padlock
# --------------------------------------------------------------------------------------

PADLOCK_PRESETS = [
    dict(style="brass", W=0.05, H=0.045, T=0.018, shackle=0.03, sw=0.03, sr=0.0045),
    dict(style="laminated", W=0.052, H=0.05, T=0.026, shackle=0.028, sw=0.032, sr=0.005),
    dict(style="disc", W=0.07, H=0.07, T=0.03, shackle=0.012, sw=0.03, sr=0.005),
    dict(style="long", W=0.04, H=0.04, T=0.016, shackle=0.065, sw=0.024, sr=0.0035),
    dict(style="combination", W=0.05, H=0.055, T=0.022, shackle=0.03, sw=0.03, sr=0.0045),
]


def build_padlock(p: dict) -> Model:
    """Padlock: a body (rounded, laminated, disc) with a keyhole or a dial on the front (-Y), a U shackle on top."""
    m = Model(symmetry=_MIRROR_X)
    w, H, t, style = p["W"] / 2, p["H"], p["T"] / 2, p["style"]
    if style == "disc":
        m.add("body", disc((0, 0, H / 2), w, 2 * t, "y", 32))
        top = H * 0.92
    elif style == "laminated":
        n = 7
        for k in range(n):
            z0, z1 = H * k / n, H * (k + 1) / n
            m.add("body", loft([ring_xz(-t, w, z0 + 0.0005, z1 - 0.0005, p=6), ring_xz(t, w, z0 + 0.0005, z1 - 0.0005, p=6)]))
        top = H
    else:
        m.add("body", loft([ring_xz(-t, w * 0.97, 0.0, H, p=4 if style != "combination" else 6, bot=0.9), ring_xz(-t * 0.6, w, 0.0, H, p=4, bot=0.9),
                            ring_xz(t * 0.6, w, 0.0, H, p=4, bot=0.9), ring_xz(t, w * 0.97, 0.0, H, p=4 if style != "combination" else 6, bot=0.9)]))
        top = H
    half = p["sw"] / 2
    legs = top + p["shackle"] - half
    pts = [(half, 0, top - 0.004), (half, 0, legs)] + [tuple(q) for q in arc_points((0, 0, legs), half, 0, 180, X, Z, n=10)[1:-1]] + [(-half, 0, legs), (-half, 0, top - 0.004)]
    m.add("shackle", bent_tube(pts, p["sr"], n=10))
    face = -t - (0.0 if style != "laminated" else 0.0)
    if style == "combination":
        m.add("dial", disc((0, face - 0.003, H * 0.45), w * 0.7, 0.006, "y", 28), disc((0, face - 0.007, H * 0.45), w * 0.2, 0.004, "y", 12))
        m.kp("dial_centre", (0, face - 0.009, H * 0.45))
    else:
        kz = H * (0.3 if style != "disc" else 0.35)
        m.add("keyhole", disc((0, face - 0.0008, kz + 0.003), 0.0035, 0.002, "y", 10), box((0.0025, 0.002, 0.007), (0, face - 0.0008, kz - 0.002)))
        m.kp("keyhole", (0, face - 0.002, kz))
    m.kp("shackle_top", (0, 0, legs + half + p["sr"]))
    m.kp_pair("shackle_base", (half, 0, top))
    m.kp_pair("body_bottom", (w * 0.9, -t, 0.0 if style != "disc" else H / 2 - w * 0.9))
    return m
