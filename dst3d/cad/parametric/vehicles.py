"""Road and rail vehicles: car, bus, train (PASCAL3D+ car, bus, train).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame; the build module normalizes it. Why one module per family: builders of
one family share proportions and helpers, and a new family never touches the others.
"""

from __future__ import annotations

import numpy as np

from .primitives import Model, X, arc, box, disc, front_pane, loft, ring, ring_xz, rot_x, rot_z, side_pane, span, tube, tyre


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
    # hatchback: short and tall, the roof running to a near-vertical hatch, a roof spoiler
    dict(L=4.05, W=1.72, clear=0.15, nose=0.8, belt=0.98, tail=1.02, roof=1.5, r=0.3, axle_f=0.17, axle_r=0.84,
         ws=0.3, rf=0.42, rb=0.88, re=1.0, taper=0.82, spoiler=True),
    # estate (the beach wagon itself): long, low roof carried to the tail, roof rails
    dict(L=5.0, W=1.84, clear=0.16, nose=0.7, belt=0.94, tail=1.0, roof=1.46, r=0.33, axle_f=0.18, axle_r=0.78,
         ws=0.31, rf=0.43, rb=0.96, re=1.0, taper=0.84, rails=True),
]


def build_car(p: dict) -> Model:
    """Car: lofted lower body, glass greenhouse with roof and pillars, torus wheels under arch lips; PASCAL3D+ keypoints.

    Sedan, SUV, sports car, hatchback (``spoiler``) and estate (``rails``: roof rails on posts).
    """
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
        if p.get("rails", False):  # a roof rail on three posts
            x = side * roof_hw * 0.8
            m.add("body", tube((x, y(rf + 0.03), roof + 0.1), (x, y(rb - 0.02), roof + 0.1), 0.02, 6))
            for f in np.linspace(rf + 0.03, rb - 0.02, 3):
                m.add("body", span((x - 0.02, y(f) - 0.03, roof + 0.02), (x + 0.02, y(f) + 0.03, roof + 0.1)))
    if p.get("spoiler", False):  # roof spoiler over the hatch
        m.add("body", box((2 * roof_hw, 0.22, 0.04), (0, y(rb) + 0.12, roof + 0.03), rot_x(-0.15)))
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
    # minibus: short, narrow, flat front
    dict(style="transit", L=6.4, W=2.1, H=2.7, clear=0.24, r=0.36, hood=0.0, hood_h=0.0, windows=4, decks=1),
    # short school bus: the bonnet and rub rails on a short body
    dict(style="school", L=7.2, W=2.3, H=2.95, clear=0.4, r=0.45, hood=1.5, hood_h=1.6, windows=5, decks=1),
]


def build_bus(p: dict) -> Model:
    """Bus (school, transit, double-decker): a box with raked windscreen, rows of leaning side panes, two axles."""
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
        m.add("windows", box((W * 0.8, 0.03, z1 - z0), (0, back + 0.01, (z0 + z1) / 2), rot_x(0.1)))
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
    # regional multiple unit: a short blunt nose on a shorter car
    dict(style="highspeed", L=15.0, W=2.9, H=3.8, floor=1.0, nose=2.4, r=0.45, axles=2),
    # shunter: a short cab unit on two three-axle bogies
    dict(style="loco", L=10.5, W=3.0, H=4.1, floor=1.2, nose=0.0, r=0.55, axles=3),
]


def build_train(p: dict) -> Model:
    """Electric locomotive (flat cab, streamlined nose or hood unit) on bogies, with the pantograph that names the class."""
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
                m.add("windows", box((W * 0.4, 0.03, 0.9), (side * W * 0.21, front + 0.65 * 0.7 / 1.5 - 0.03, H - 0.8), rot_x(-lean - 0.1) @ rot_z(side * 0.08)))
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
