"""Two-wheelers: bicycle and motorbike (PASCAL3D+ bicycle, motorbike).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame; the build module normalizes it. Why one module per family: builders of
one family share proportions and helpers, and a new family never touches the others.
"""

from __future__ import annotations

import numpy as np

from .primitives import Model, arc, box, disc, ellipsoid, loft, ring_xz, rot_x, span, tube, tyre


# --------------------------------------------------------------------------------------
# bicycle
# --------------------------------------------------------------------------------------

BIKE_PRESETS = [
    dict(style="mtb", r=0.36, tyre=0.06, wb=1.14, st=0.46, slope=0.14, bar=0.74, bar_h=1.0, tube=0.022),
    dict(style="road", r=0.34, tyre=0.028, wb=0.99, st=0.55, slope=0.0, bar=0.42, bar_h=0.98, tube=0.016),
    dict(style="city", r=0.35, tyre=0.045, wb=1.1, st=0.5, slope=0.4, bar=0.6, bar_h=1.1, tube=0.02),
    # BMX: small wheels, a short low frame, wide high bars, thick tubes
    dict(style="mtb", r=0.25, tyre=0.055, wb=0.92, st=0.28, slope=0.22, bar=0.72, bar_h=0.95, tube=0.026),
    # small-wheel folding bike: a long seat post and stem over 16-inch wheels
    dict(style="city", r=0.2, tyre=0.04, wb=0.98, st=0.46, slope=0.5, bar=0.55, bar_h=1.05, tube=0.022),
]


def build_bicycle(p: dict) -> Model:
    """Bicycle (mountain, road, city): spoked wheels, diamond or step-through frame, bars, saddle, cranks."""
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
    # naked roadster: the sport frame without a fairing, a round headlight, wide raised bars
    dict(style="sport", r=0.33, tyre=0.14, wb=1.45, rake=25.0, seat_h=0.84, naked=True),
    # chopper: a very long wheelbase, a steep rake, a low seat
    dict(style="cruiser", r=0.34, tyre=0.15, wb=2.0, rake=38.0, seat_h=0.62),
]


def build_motorbike(p: dict) -> Model:
    """Motorbike (sport, naked, cruiser, chopper, scooter): torus wheels, raked fork, style bodywork, bars and mirrors."""
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
        naked = p.get("naked", False)  # a roadster: no fairing or screen, the frame and engine in view
        if not naked:
            m.add("fairing", loft([ring_xz(hy - 0.26, 0.05, hz - 0.12, hz - 0.04, p=3), ring_xz(hy - 0.16, 0.17, hz - 0.36, hz + 0.08, p=3, top=0.55),
                                   ring_xz(hy, 0.22, hz - 0.55, hz + 0.12, p=3, top=0.55), ring_xz(hy + 0.22, 0.23, r + 0.02, hz - 0.05, p=3, top=0.7),
                                   ring_xz(hy + 0.5, 0.18, r + 0.05, seat_h - 0.25, p=3), ring_xz(hy + 0.62, 0.1, r + 0.12, seat_h - 0.32, p=3)]))
            m.add("windows", box((0.26, 0.02, 0.2), (0, hy - 0.04, hz + 0.14), rot_x(-0.9)))
        else:
            m.add("fairing", tube(head + (0, 0.02, -0.05), (0, hy + 0.5, seat_h - 0.2), 0.04, 8),
                  tube(head + (0, 0.02, -0.12), (0, hy + 0.2, r - 0.02), 0.04, 8))  # frame tubes
        m.add("tank", loft([ring_xz(hy + 0.12, 0.14, hz - 0.2, hz + 0.04, p=3, top=0.6), ring_xz(hy + 0.32, 0.18, seat_h - 0.12, hz + 0.06, p=3, top=0.7),
                            ring_xz(hy + 0.5, 0.15, seat_h - 0.12, seat_h + 0.05, p=3, top=0.7)]))
        s0 = hy + 0.5
        m.add("seat", loft([ring_xz(s0, 0.14, seat_h - 0.05, seat_h + 0.01, p=4), ring_xz(s0 + 0.3, 0.13, seat_h - 0.05, seat_h + 0.03, p=4)]))
        m.add("body", loft([ring_xz(s0 + 0.25, 0.13, seat_h - 0.2, seat_h + 0.02, p=3), ring_xz(s0 + 0.5, 0.1, seat_h - 0.12, seat_h + 0.1, p=3),
                            ring_xz(ba[1] + 0.12, 0.03, seat_h + 0.06, seat_h + 0.13, p=3)]))
        m.add("engine", span((-0.15, hy + 0.1, r - 0.06), (0.15, hy + 0.5, seat_h - 0.3)))
        grip = (0.3, hy + 0.08, hz - 0.02) if not naked else (0.4, hy + 0.1, hz + 0.14)
        light = (0, hy - 0.27, hz - 0.08) if not naked else (0, hy - 0.1, hz - 0.06)
        if naked:
            m.add("lights", disc(light, 0.09, 0.1, "y", 16))
            m.add("handlebar", tube((-0.1, hy + 0.06, hz + 0.05), (0.1, hy + 0.06, hz + 0.05), 0.018, 8))
            for side in (1, -1):
                m.add("handlebar", tube((side * 0.1, hy + 0.06, hz + 0.05), (side * 0.1, grip[1], grip[2]), 0.016, 8))
        else:
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
