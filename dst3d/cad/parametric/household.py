"""Household objects: bottle and TV monitor (PASCAL3D+ bottle, tvmonitor).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame; the build module normalizes it. Why one module per family: builders of
one family share proportions and helpers, and a new family never touches the others.
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import Model, X, Y, Z, bent_tube, box, loft, revolve_z, ring, ring_xz, rot_x, span, tube


# --------------------------------------------------------------------------------------
# bottle
# --------------------------------------------------------------------------------------

BOTTLE_PRESETS = [
    # heights as fractions of H: where the shoulder starts, where the neck starts, the cap's height (m)
    dict(style="water", H=0.23, R=0.034, neck=0.0145, shoulder=0.6, neck_z=0.84, cap=0.022),
    dict(style="wine", H=0.30, R=0.038, neck=0.0145, shoulder=0.62, neck_z=0.73, cap=0.055),
    dict(style="beer", H=0.235, R=0.031, neck=0.0125, shoulder=0.45, neck_z=0.76, cap=0.011),
    # wide sports bottle: short dome, wide mouth, a tall cap with a carry loop
    dict(style="water", H=0.25, R=0.046, neck=0.022, shoulder=0.8, neck_z=0.88, cap=0.04, loop=True),
    # water-cooler jug: big and squat, ribbed, narrow neck
    dict(style="water", H=0.49, R=0.135, neck=0.028, shoulder=0.72, neck_z=0.9, cap=0.03),
]


def build_bottle(p: dict) -> Model:
    """Bottle (water, wine, beer; a wide sports bottle with a carry loop, a water-cooler jug): a revolved
    profile plus a label on its -Y side, so azimuth is visible."""
    # a carry loop leaves a half turn (the label is not counted, as for every bottle)
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=2 if p.get("loop", False) else 0))
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
        if p.get("loop", False):  # a carry loop standing on the cap, across the x axis
            loop_r = rn * 1.1
            m.add("cap", bent_tube([(loop_r * np.cos(a), 0.0, H - 0.004 + loop_r * 1.2 * np.sin(a)) for a in np.linspace(0, np.pi, 9)], 0.0035))
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
# tv monitor
# --------------------------------------------------------------------------------------

TV_PRESETS = [
    dict(style="monitor", W=0.62, H=0.37, depth=0.05, lift=0.12),
    dict(style="crt", W=0.42, H=0.36, depth=0.42, lift=0.03),
    dict(style="tv", W=1.22, H=0.71, depth=0.06, lift=0.08),
    # 21:9 ultrawide monitor on a tall stand
    dict(style="monitor", W=0.86, H=0.37, depth=0.06, lift=0.1),
    # wall-mounted TV: no stand, a flat wall bracket behind it
    dict(style="tv", W=1.45, H=0.83, depth=0.05, lift=0.0, stand=False),
]


def build_tvmonitor(p: dict) -> Model:
    """TV monitor (flat monitor, CRT, TV on feet, ultrawide, wall-mounted TV): bezel framing a recessed screen facing -Y, stand behind."""
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
            m.add("stand", box((0.07, 0.025, z0 + h * 0.4), (0, depth + 0.06, (z0 + h * 0.4) / 2 + 0.01), rot_x(0.12)))
            m.add("stand", loft([ring((0, depth + 0.04, 0.0), X, Y, 0.13, 0.1, p=3), ring((0, depth + 0.04, 0.015), X, Y, 0.12, 0.09, p=3)]))
            base_front = (0, depth + 0.04 - 0.1, 0.015)
        elif not p.get("stand", True):  # wall mount: a bracket plate behind, no feet
            m.add("stand", span((-w * 0.3, depth + 0.03, z0 + h * 0.3), (w * 0.3, depth + 0.05, z0 + h * 0.65)))
            m.add("lights", box((0.02, 0.01, 0.008), (w * 0.8, -0.012, z0 + 0.01)))  # standby LED
            base_front = (0, depth * 0.5, z0)  # no stand: the housing's bottom edge, mid-depth
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
