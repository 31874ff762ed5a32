"""Furniture: chair, dining table, sofa (PASCAL3D+ chair, diningtable, sofa).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame; the build module normalizes it. Why one module per family: builders of
one family share proportions and helpers, and a new family never touches the others.
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import Model, X, Y, box, disc, ellipsoid, loft, revolve_z, ring, ring_xz, rot_x, span, tube


# --------------------------------------------------------------------------------------
# chair
# --------------------------------------------------------------------------------------

CHAIR_PRESETS = [
    dict(style="dining", seat_w=0.46, seat_d=0.44, seat_h=0.46, back_h=0.95),
    dict(style="folding", seat_w=0.44, seat_d=0.42, seat_h=0.45, back_h=0.82),
    dict(style="office", seat_w=0.5, seat_d=0.48, seat_h=0.5, back_h=1.1),
    # wide, low wooden armchair: the dining frame with armrests on front posts
    dict(style="dining", seat_w=0.58, seat_d=0.54, seat_h=0.43, back_h=0.84, arms=True),
    # tall ladder-back bar chair: horizontal back rails, a footrest, a small seat high up
    dict(style="dining", seat_w=0.4, seat_d=0.38, seat_h=0.76, back_h=1.12, slats="horizontal"),
]


def build_chair(p: dict) -> Model:
    """Chair (dining, folding, office): seat, legs or five-star base, backrest at +Y so the sitter faces -Y.

    The dining frame also makes a wooden armchair (``arms``) and a ladder-back bar chair
    (``slats="horizontal"``: back rails and a footrest), distinct designs rather than resized copies.
    """
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
        if p.get("slats", "vertical") == "horizontal":  # ladder back, and a footrest rail between the front legs
            for z in np.linspace(seat_top + 0.12, bh - 0.2, 3):
                m.add("back", span((-w + t, d - t * 0.8, z - 0.025), (w - t, d - t * 0.2, z + 0.025)))
            m.add("legs", span((-w + t, -d + t / 2 - 0.015, 0.3), (w - t, -d + t / 2 + 0.015, 0.33)))
        else:
            for x in np.linspace(-w * 0.55, w * 0.55, 3):
                m.add("back", span((x - 0.03, d - t * 0.8, seat_top), (x + 0.03, d - t * 0.2, bh - 0.1)))
        if p.get("arms", False):  # front posts rising through the seat, armrests back to the rear legs
            arm_z = seat_top + 0.22
            for sx in (1, -1):
                x = sx * (w - t / 2)
                m.add("arms", span((x - t / 2, -d + 0.02, seat_top), (x + t / 2, -d + 0.02 + t, arm_z)),
                      span((x - 0.04, -d - 0.02, arm_z), (x + 0.04, d, arm_z + 0.03)))
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
        m.add("back", box((2 * w + 0.02, 0.025, 0.2), (0, back_y, bh - 0.12), rot_x(-np.arctan2(2 * d + 0.07, bh))))
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
    # low rectangular table with a shelf between the legs
    dict(style="rect", L=1.2, D=0.62, H=0.46, top=0.035, shelf=True),
    # tall, small round bar table on the pedestal
    dict(style="round", L=0.7, D=0.7, H=1.05, top=0.03),
]


def build_table(p: dict) -> Model:
    """Dining table (rectangular, round pedestal, trestle; a low one with a shelf, a tall bar table); rotational symmetry tag (2- or 4-fold)."""
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
        if p.get("shelf", False):  # a lower shelf joining the four legs
            m.add("top", span((-L + inset, -D + inset, 0.12), (L - inset, D - inset, 0.14)))
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
    # long four-seater with thin track arms
    dict(style="three", W=2.9, D=1.0, seats=4, arm=0.12, arm_h=0.6, back_h=0.82, seat_h=0.44),
    # armless loveseat (a daybed-like studio couch): no arms, a low back
    dict(style="armless", W=1.5, D=0.84, seats=2, arm=0.0, arm_h=0.0, back_h=0.76, seat_h=0.44),
]


def build_sofa(p: dict) -> Model:
    """Sofa (three- or four-seat, rolled-arm, sectional with a chaise on its right, armless): frame, arms, cushions, legs."""
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
    for sx in (1, -1) if arm > 0 else ():
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
    if arm > 0:
        m.kp_pair("arm_front", (W - arm / 2, front, arm_h))
    if chaise:
        m.kp("right_arm_front", (-W + arm / 2, front - chaise, arm_h))
    m.kp_pair("bottom_front", (W, front, leg_h))
    if chaise:
        m.kp("right_bottom_front", (-W, front - chaise, leg_h))
    return m
