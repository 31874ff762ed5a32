"""Musical instruments: acoustic guitar, electric guitar, violin, cello, drum, grand piano, upright piano.

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame. String instruments stand on their base with the neck up (+Z) and the strings
toward the viewer (-Y), as on a stand; a piano's keyboard faces -Y (the player sits there).
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import X, Y, Z, Model, arc_points, bent_tube, box, disc, flat_ring, front_ring, loft, plate_xy, plate_xz, revolve_z, ring, rot_x, rot_y, span, tube

_NONE = Symmetry(type="none")
_MIRROR = Symmetry(type="mirror", axis="x")


def bout_outline(bouts: list[tuple[float, float]], length: float, n: int = 40) -> np.ndarray:
    """Body outline in the (x, z) plane from (height fraction, half width) stations, x-symmetric,
    sampled evenly around; z runs from 0 (bottom) to ``length``. Rounded at both ends."""
    fz = np.array([b[0] for b in bouts])
    hw = np.array([b[1] for b in bouts])
    t = np.linspace(0.0, 1.0, n // 2 + 1)
    f = (1 - np.cos(np.pi * t)) / 2  # denser near the ends, where the outline turns
    half = np.interp(f, fz, hw) * np.sin(np.pi * np.minimum(f, 1 - f)) ** 0.25  # exactly 0 at both ends (sin(pi) is 1e-16)
    right = np.stack([half, f * length], 1)
    left = right[::-1][1:-1] * (-1, 1)
    return np.vstack([right, left])


def outline_ring(outline: np.ndarray, y: float, scale: float = 1.0, zc: float = 0.0) -> np.ndarray:
    """The (x, z) outline placed at depth y, shrunk by ``scale`` about its middle height zc (for arching)."""
    pts = np.asarray(outline, float)
    return np.column_stack([pts[:, 0] * scale, np.full(len(pts), y), zc + (pts[:, 1] - zc) * scale])


def strings(m: Model, xs_bottom, xs_top, y: float, z0: float, z1: float, radius: float = 0.0006) -> None:
    for xb, xt in zip(xs_bottom, xs_top):
        m.add("strings", tube((xb, y, z0), (xt, y, z1), radius, 4))


# --------------------------------------------------------------------------------------
# acoustic guitar
# --------------------------------------------------------------------------------------

GUITAR_PRESETS = [
    dict(style="dreadnought", body=0.51, lower=0.2, upper=0.145, waist=0.138, depth=0.12, neck=0.36, cutaway=False),
    # classical: a slotted headstock with rollers; jumbo: twelve strings and a pickguard; archtop: f-holes and a
    # floating tailpiece instead of a round soundhole; cutaway: an electro-acoustic with a pickguard and a preamp
    dict(style="classical", body=0.49, lower=0.185, upper=0.14, waist=0.118, depth=0.1, neck=0.35, cutaway=False, head="slotted"),
    dict(style="jumbo", body=0.53, lower=0.215, upper=0.16, waist=0.13, depth=0.125, neck=0.36, cutaway=False, courses=12, pickguard=True),
    dict(style="archtop", body=0.47, lower=0.2, upper=0.15, waist=0.12, depth=0.085, neck=0.35, cutaway=False, archtop=True),
    dict(style="cutaway", body=0.5, lower=0.195, upper=0.142, waist=0.125, depth=0.11, neck=0.37, cutaway=True, pickguard=True, preamp=True),
]


def build_guitar(p: dict) -> Model:
    """Acoustic guitar: a figure-eight body of depth ``depth`` with a rosette and bridge, a neck with frets' board and a headstock with tuners
    (solid or slotted, six or twelve strings); optional pickguard (tagged ``none``), preamp, archtop f-holes and tailpiece."""
    m = Model(symmetry=_NONE if p["cutaway"] or p.get("pickguard") else _MIRROR)
    L, lo, up, wa, dep = p["body"], p["lower"], p["upper"], p["waist"], p["depth"]
    bouts = [(0.0, lo * 0.5), (0.12, lo * 0.93), (0.3, lo), (0.5, wa), (0.72, up), (0.88, up * 0.9), (1.0, up * 0.45)]
    outline = bout_outline(bouts, L)
    if p["cutaway"]:  # the treble side (the object's left, +X) cut away under the neck
        cut = outline[:, 1] > L * 0.7
        outline[cut & (outline[:, 0] > 0), 0] = np.minimum(outline[cut & (outline[:, 0] > 0), 0], wa * 0.55)
    zc = L * 0.5
    m.add("body", loft([outline_ring(outline, -dep / 2, 0.985, zc), outline_ring(outline, -dep / 2 + 0.006, 1.0, zc),
                        outline_ring(outline, dep / 2 - 0.006, 1.0, zc), outline_ring(outline, dep / 2, 0.985, zc)]))
    y = -dep / 2
    hole_z = L * 0.66
    if p.get("archtop"):
        archtop_parts(m, L, wa, y)
    else:
        m.add("soundhole", disc((0, y + 0.001, hole_z), 0.043, 0.004, "y", 28))
        m.add("soundhole", front_ring((0, y - 0.001, hole_z), 0.05, 0.004, 32))  # rosette
    m.add("bridge", box((0.16, 0.01, 0.03), (0, y - 0.005, L * 0.26)))
    if p.get("pickguard"):  # a teardrop under the soundhole on the treble side (+X)
        m.add("pickguard", plate_xz(arc_points((0.0, 0.0, 0.0), 0.05, 0, 360, X, Z, n=16)[:-1, ::2] * (1.0, 1.4) + (0.075, hole_z - 0.06), y - 0.0015, y - 0.0005))
    if p.get("preamp"):  # an electro-acoustic's preamp panel on the upper bass rib (-X)
        m.add("preamp", box((0.012, 0.05, 0.1), (-up * 0.93, 0.0, L * 0.72)))
    # neck: from the top of the body up to the nut, slightly narrower at the nut
    top = L + p["neck"]
    m.add("neck", loft([ring((0, 0.005, L - 0.05), X, Y, 0.028, 0.022, p=3, n=12), ring((0, 0.008, top), X, Y, 0.024, 0.018, p=3, n=12)]))
    m.add("fretboard", span((-0.027, -0.022, L - 0.06), (0.027, -0.014, top)))
    # headstock, tilted back (+Y) from the nut, with three tuner buttons per side (six on a twelve-string)
    if p.get("head") == "slotted":
        slotted_head(m, top)
    else:
        m.add("headstock", box((0.075, 0.016, 0.19), (0, 0.02, top + 0.09), rot_x(-0.25)))
    per_side = p.get("courses", 6) // 2
    for k in range(per_side):
        for sx in (1, -1):
            z = top + 0.04 + k * 0.1 / max(per_side - 1, 1)
            m.add("tuners", disc((sx * 0.05, 0.025 + (z - top) * np.tan(0.25), z), 0.009 if per_side == 3 else 0.006, 0.012, "x", 10))
    n = p.get("courses", 6)
    strings(m, np.linspace(-0.027, 0.027, n), np.linspace(-0.018, 0.018, n), y - 0.012, L * 0.26, top)
    m.kp("headstock_top", (0, 0.02 + 0.095 * np.sin(0.25) + 0.01, top + 0.18))
    m.kp("nut", (0, -0.022, top))
    m.kp("soundhole", (0, y - 0.001, hole_z))
    m.kp("bridge", (0, y - 0.01, L * 0.26))
    m.kp("bottom", (0, 0, 0))
    m.kp_pair("lower_bout", (lo, 0, L * 0.3))
    return m


def slotted_head(m: Model, top: float) -> None:
    """A classical guitar's slotted headstock: two side cheeks, a cap and the string rollers across the slots."""
    tilt = rot_x(-0.25)
    for sx in (1, -1):
        m.add("headstock", box((0.018, 0.018, 0.19), (sx * 0.029, 0.02, top + 0.09), tilt))
    m.add("headstock", box((0.075, 0.018, 0.03), (0, 0.02 + 0.175 * np.sin(0.25), top + 0.175), tilt))
    for k in range(3):
        z = top + 0.04 + k * 0.05
        yy = 0.02 + (z - top - 0.005) * np.tan(0.25)
        m.add("rollers", tube((-0.038, yy, z), (0.038, yy, z), 0.005, 8))


def archtop_parts(m: Model, L: float, wa: float, y: float) -> None:
    """An archtop's two f-holes (instead of a round soundhole) and its floating tailpiece below the bridge."""
    for sx in (1, -1):
        x = sx * wa * 0.8
        m.add("fholes", bent_tube([(x * 0.9, y - 0.0005, L * 0.28), (x * 1.05, y - 0.0005, L * 0.4), (x, y - 0.0005, L * 0.5),
                                   (x * 0.85, y - 0.0005, L * 0.58)], 0.004, n=6))
    m.add("tailpiece", loft([ring((0, y - 0.01, L * 0.03), X, Y, 0.012, 0.003, p=2.5, n=10), ring((0, y - 0.012, L * 0.2), X, Y, 0.03, 0.003, p=2.5, n=10)]))


# --------------------------------------------------------------------------------------
# electric guitar
# --------------------------------------------------------------------------------------

EGUITAR_PRESETS = [
    dict(style="strat", body=0.45, width=0.16, bass_horn=0.1, treble_horn=0.055, depth=0.045, neck=0.42, pickups=3),
    # single cut: a three-a-side headstock, four knobs and a toggle switch; double cut: three-a-side and a
    # pickguard; offset: a pickguard and a tremolo arm; superstrat: headless, seven strings, tuners behind the bridge
    dict(style="single_cut", body=0.44, width=0.17, bass_horn=0.0, treble_horn=0.05, depth=0.055, neck=0.4, pickups=2, head="3x3", knobs=4, toggle=True),
    dict(style="double_cut", body=0.42, width=0.165, bass_horn=0.07, treble_horn=0.07, depth=0.045, neck=0.41, pickups=2, head="3x3", pickguard=True),
    dict(style="offset", body=0.47, width=0.17, bass_horn=0.13, treble_horn=0.04, depth=0.042, neck=0.43, pickups=2, pickguard=True, tremolo=True),
    dict(style="superstrat", body=0.43, width=0.155, bass_horn=0.12, treble_horn=0.09, depth=0.04, neck=0.44, pickups=2, head="headless", courses=7),
]


def closed_curve(points: list[tuple[float, float]], n: int = 48, smooth: int = 2) -> np.ndarray:
    """A closed 2-D polyline rounded by Chaikin corner cutting and resampled to ``n`` points evenly by length."""
    pts = np.asarray(points, float)
    for _ in range(smooth):
        nxt = np.roll(pts, -1, axis=0)
        pts = np.stack([0.75 * pts + 0.25 * nxt, 0.25 * pts + 0.75 * nxt], 1).reshape(-1, 2)
    closed = np.vstack([pts, pts[:1]])
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    u = np.linspace(0.0, s[-1], n, endpoint=False)
    return np.stack([np.interp(u, s, closed[:, 0]), np.interp(u, s, closed[:, 1])], 1)


def eguitar_outline(L: float, hw: float, bass: float, treble: float) -> np.ndarray:
    """Solid-body outline in (x, z): lower bout, waist, upper bouts and the horns beside the neck
    (the bass horn on the player's... the object's right, -X). Counter-clockwise from the bottom."""
    neck = L * 0.97
    right_side = [(0.0, 0.0), (0.55, 0.02), (0.93, 0.13), (1.0, 0.3), (0.92, 0.48), (0.75, 0.62), (0.78, 0.76)]
    pts = [(x * hw, z * L) for x, z in right_side]
    if treble > 0:
        pts += [(0.74 * hw, 0.86 * L), (0.55 * hw, neck + treble), (0.38 * hw, neck + treble * 0.9), (0.3 * hw, neck - 0.01)]
    else:  # a single cutaway's rounded treble shoulder
        pts += [(0.72 * hw, 0.88 * L), (0.5 * hw, neck - 0.02), (0.25 * hw, neck)]
    pts += [(0.2 * hw, neck + 0.005), (-0.2 * hw, neck + 0.005)]
    if bass > 0:
        pts += [(-0.3 * hw, neck - 0.01), (-0.4 * hw, neck + bass * 0.9), (-0.58 * hw, neck + bass), (-0.76 * hw, 0.86 * L)]
    else:
        pts += [(-0.45 * hw, neck + 0.03), (-0.75 * hw, 0.9 * L)]
    pts += [(-x * hw, z * L) for x, z in reversed(right_side[1:])]
    return closed_curve(pts, 56)


def eguitar_head(m: Model, style: str, top: float, y: float, courses: int) -> tuple[float, float, float]:
    """The headstock above the nut (``inline``: six tuners on the bass side; ``3x3``: three a side; ``headless``: a
    cap, the tuners sit behind the bridge instead). Returns the headstock's top point."""
    if style == "headless":
        m.add("headstock", span((-0.03, -0.012, top), (0.03, 0.006, top + 0.03)))
        for k in range(courses):  # tuner knobs at the tail of the body
            m.add("tuners", disc((-0.03 + 0.06 * k / (courses - 1), y + 0.01, -0.006), 0.005, 0.012, "z", 8))
        return (0.0, 0.0, top + 0.03)
    if style == "3x3":
        m.add("headstock", loft([ring((0, 0.004, top), X, Y, 0.03, 0.007, p=4, n=12), ring((0, 0.004, top + 0.16), X, Y, 0.045, 0.007, p=4, n=12),
                                 ring((0, 0.004, top + 0.19), X, Y, 0.03, 0.007, p=4, n=12)]))
        for k in range(3):
            for sx in (1, -1):
                m.add("tuners", disc((sx * (0.05 + 0.004 * k), 0.004, top + 0.04 + k * 0.045), 0.008, 0.012, "x", 10))
        return (0.0, 0.004, top + 0.19)
    m.add("headstock", box((0.06, 0.013, 0.18), (-0.012, 0.0, top + 0.09), rot_y(0.08)))
    for k in range(6):  # six tuners in a row on the bass side
        m.add("tuners", disc((-0.05 + 0.01 * k / 5, 0.0, top + 0.03 + k * 0.027), 0.008, 0.012, "x", 10))
    return (-0.019, 0.0, top + 0.18)


def build_eguitar(p: dict) -> Model:
    """Electric guitar: a solid body with one or two horns beside the neck, pickups, knobs, a long neck and a headstock
    (inline, three a side, or none: headless); optional pickguard, tremolo arm, toggle switch."""
    m = Model(symmetry=_NONE)
    L, hw, dep = p["body"], p["width"], p["depth"]
    outline = eguitar_outline(L, hw, p["bass_horn"], p["treble_horn"])
    zc = L * 0.45
    m.add("body", loft([outline_ring(outline, -dep / 2, 0.975, zc), outline_ring(outline, -dep / 2 + 0.005, 1.0, zc),
                        outline_ring(outline, dep / 2 - 0.005, 1.0, zc), outline_ring(outline, dep / 2, 0.975, zc)]))
    y = -dep / 2
    n = p["pickups"]
    for k in range(n):
        z = L * (0.3 + (0.42 / max(n - 1, 1)) * k)
        m.add("pickups", box((0.085, 0.012, 0.022 if n == 3 else 0.04), (0, y - 0.004, z)))
    m.add("bridge", box((0.08, 0.012, 0.02), (0, y - 0.004, L * 0.2)))
    for k in range(p.get("knobs", 3 if p["style"] == "strat" else 2)):
        m.add("knobs", disc((hw * 0.55 + k % 3 * 0.012 - k // 3 * 0.04, y - 0.006, L * (0.22 - 0.07 * (k % 3))), 0.011, 0.014, "y", 12))
    if p.get("toggle"):  # the pickup selector on the upper treble bout
        m.add("knobs", tube((hw * 0.5, y, L * 0.8), (hw * 0.5, y - 0.025, L * 0.8), 0.003, 6))
    if p.get("pickguard"):  # covers the treble half around the pickups
        m.add("pickguard", plate_xz([(0.03, L * 0.12), (hw * 0.75, L * 0.18), (hw * 0.85, L * 0.45), (hw * 0.55, L * 0.72), (0.04, L * 0.8), (-0.045, L * 0.6),
                                     (-0.05, L * 0.25)], y - 0.0018, y - 0.0006))
    if p.get("tremolo"):  # the whammy bar from the bridge out over the treble side
        m.add("tremolo", bent_tube([(0.03, y - 0.012, L * 0.19), (0.05, y - 0.03, L * 0.16), (0.09, y - 0.035, L * 0.1), (0.13, y - 0.035, L * 0.06)], 0.0025, n=6))
    top = L + p["neck"]
    m.add("neck", loft([ring((0, 0.0, L * 0.8), X, Y, 0.028, 0.018, p=3, n=12), ring((0, 0.002, top), X, Y, 0.022, 0.015, p=3, n=12)]))
    m.add("fretboard", span((-0.026, -0.018, L * 0.82), (0.026, -0.012, top)))
    head_top = eguitar_head(m, p.get("head", "inline"), top, y, p.get("courses", 6))
    n = p.get("courses", 6)
    strings(m, np.linspace(-0.022, 0.022, n), np.linspace(-0.016, 0.016, n), y - 0.016, L * 0.2, top)
    m.kp("headstock_top", head_top)
    m.kp("nut", (0, -0.018, top))
    m.kp("bridge", (0, y - 0.01, L * 0.2))
    m.kp("bottom", (0, 0, 0))
    for name, sign in (("bass_horn", -1), ("treble_horn", 1)):
        tip = outline[np.argmax(outline[:, 1] * (outline[:, 0] * sign > 0.03))]
        m.kp(name, (tip[0], 0, tip[1]))
    return m


# --------------------------------------------------------------------------------------
# violin and cello
# --------------------------------------------------------------------------------------

VIOLIN_PRESETS = [
    dict(body=0.356, lower=0.103, upper=0.083, waist=0.056, rib=0.032, arch=0.016, neck=0.13, scroll=0.016, endpin=0.0),
    dict(body=0.33, lower=0.098, upper=0.078, waist=0.052, rib=0.03, arch=0.015, neck=0.12, scroll=0.015, endpin=0.0, chinrest="centre"),  # 3/4, chinrest
    dict(body=0.354, lower=0.108, upper=0.087, waist=0.063, rib=0.031, arch=0.015, neck=0.128, scroll=0.016, endpin=0.0, fine_tuners=4),  # fine tuners
    dict(body=0.36, lower=0.106, upper=0.084, waist=0.054, rib=0.03, arch=0.019, neck=0.13, scroll=0.017, endpin=0.0, courses=5),  # five-string
    dict(body=0.35, lower=0.1, upper=0.08, waist=0.06, rib=0.034, arch=0.013, neck=0.13, scroll=0.016, endpin=0.0, chinrest="side", fine_tuners=1,
         shoulder_rest=True),  # side chinrest, an E-string tuner and a shoulder rest
]

CELLO_PRESETS = [
    dict(body=0.755, lower=0.22, upper=0.172, waist=0.118, rib=0.12, arch=0.026, neck=0.28, scroll=0.032, endpin=0.25),
    dict(body=0.7, lower=0.205, upper=0.16, waist=0.11, rib=0.11, arch=0.024, neck=0.26, scroll=0.03, endpin=0.22, fine_tuners=4),  # 3/4, fine tuners
    dict(body=0.76, lower=0.225, upper=0.175, waist=0.125, rib=0.125, arch=0.028, neck=0.28, scroll=0.033, endpin=0.35, rockstop=True),  # on a rockstop
    dict(body=0.74, lower=0.215, upper=0.17, waist=0.112, rib=0.115, arch=0.03, neck=0.27, scroll=0.032, endpin=0.0),  # baroque: no endpin
    dict(body=0.73, lower=0.212, upper=0.166, waist=0.12, rib=0.105, arch=0.022, neck=0.27, scroll=0.031, endpin=0.28, courses=5),  # five-string
]


def build_violin(p: dict) -> Model:
    """Violin or cello (one builder, different proportions and an endpin): arched C-bout body, f-holes, bridge, tailpiece, fingerboard, pegbox, scroll;
    four or five strings, optional fine tuners, chinrest, shoulder rest, rockstop (violin_fittings)."""
    m = Model(symmetry=_NONE if p.get("chinrest") == "side" or p.get("fine_tuners", 0) % 2 else _MIRROR)
    L, lo, up, wa, rib, arch = p["body"], p["lower"], p["upper"], p["waist"], p["rib"], p["arch"]
    z0 = p["endpin"]
    bouts = [(0.0, lo * 0.45), (0.1, lo * 0.9), (0.26, lo), (0.4, lo * 0.85), (0.46, wa), (0.55, wa), (0.62, up * 0.9), (0.76, up), (0.9, up * 0.85), (1.0, up * 0.4)]
    outline = bout_outline(bouts, L, n=44) + (0, z0)
    zc = z0 + L * 0.5
    m.add("body", loft([outline_ring(outline, -rib / 2 - arch, 0.35, zc), outline_ring(outline, -rib / 2 - arch * 0.7, 0.8, zc),
                        outline_ring(outline, -rib / 2, 1.0, zc), outline_ring(outline, rib / 2, 1.0, zc),
                        outline_ring(outline, rib / 2 + arch * 0.7, 0.8, zc), outline_ring(outline, rib / 2 + arch, 0.35, zc)]))
    front = -rib / 2 - arch
    for sx in (1, -1):  # f-holes: thin rounded slots, shaded apart from the arched top
        x = sx * wa * 0.55
        m.add("fholes", bent_tube([(x * 0.9, front * 0.82, z0 + L * 0.33), (x * 1.05, front * 0.84, z0 + L * 0.42), (x, front * 0.84, z0 + L * 0.5),
                                   (x * 0.85, front * 0.8, z0 + L * 0.57)], L * 0.004, n=6))
    bridge_z = z0 + L * 0.42
    m.add("bridge", box((wa * 0.75, 0.004, L * 0.09), (0, front - L * 0.045 * 0.2, bridge_z + L * 0.03)))
    m.add("tailpiece", loft([ring((0, front - L * 0.02, z0 + L * 0.08), X, Y, wa * 0.2, 0.004, p=2.5, n=10),
                             ring((0, front - L * 0.04, z0 + L * 0.3), X, Y, wa * 0.35, 0.004, p=2.5, n=10)]))
    top = z0 + L + p["neck"]
    m.add("neck", loft([ring((0, 0.0, z0 + L * 0.97), X, Y, wa * 0.24, rib * 0.45, p=3, n=12), ring((0, rib * 0.1, top), X, Y, wa * 0.2, rib * 0.35, p=3, n=12)]))
    board_y = front - L * 0.03
    m.add("fingerboard", loft([ring((0, board_y, z0 + L * 0.55), X, Y, wa * 0.33, 0.004, p=3, n=10), ring((0, front * 0.6, top), X, Y, wa * 0.22, 0.006, p=3, n=10)]))
    # pegbox and scroll
    s = p["scroll"]
    m.add("pegbox", box((wa * 0.38, rib * 0.55, s * 4.5), (0, rib * 0.1, top + s * 2.2), rot_x(-0.15)))
    courses = p.get("courses", 4)
    for k in range((courses + 1) // 2):  # a five-string has three pegs a side
        for sx in (1, -1):
            m.add("pegs", tube((sx * wa * 0.19, rib * 0.1 + k * 0.3 * s, top + s * (1.2 + 1.6 * k)), (sx * (wa * 0.19 + s * 1.6), rib * 0.1 + k * 0.3 * s, top + s * (1.2 + 1.6 * k)), s * 0.25, 6))
    spiral = arc_points((0, rib * 0.25, top + s * 5.2), s, -90, 250, Y, Z, n=14)
    m.add("scroll", bent_tube(spiral * (1, 1, 1), np.linspace(s * 0.55, s * 0.3, 14), n=8))
    strings(m, np.linspace(-wa * 0.18, wa * 0.18, courses), np.linspace(-wa * 0.1, wa * 0.1, courses), front - L * 0.045, z0 + L * 0.3, top, radius=L * 0.0015)
    violin_fittings(m, p, front, wa, lo, rib)
    if z0 > 0:
        m.add("endpin", tube((0, 0, 0.0), (0, 0, z0 + 0.01), 0.009, 8), disc((0, 0, z0 - 0.01), 0.02, 0.03, "z", 12))
    if p.get("rockstop"):  # the board the endpin rests in, and its strap to the chair leg
        m.add("rockstop", disc((0, 0, -0.006), 0.06, 0.012, "z", 20), box((0.04, 0.35, 0.004), (0, 0.2, -0.01)))
    m.kp("scroll_top", (0, rib * 0.25, top + s * 6.2))
    m.kp("bridge_top", (0, front - L * 0.009, bridge_z + L * 0.075))
    m.kp("tailpiece_end", (0, front - L * 0.02, z0 + L * 0.08))
    m.kp("bottom", (0, 0, 0))
    m.kp_pair("lower_bout", (lo, 0, z0 + L * 0.26))
    m.kp_pair("upper_bout", (up, 0, z0 + L * 0.76))
    return m


def violin_fittings(m: Model, p: dict, front: float, wa: float, lo: float, rib: float) -> None:
    """Optional fittings: fine tuners on the tailpiece (one: the E string's, on +X), a chinrest over the
    tailpiece end (``centre``) or beside it (``side``, on +X), a shoulder rest across the back."""
    L, z0 = p["body"], p["endpin"]
    n = p.get("fine_tuners", 0)
    xs = np.linspace(-wa * 0.24, wa * 0.24, n) if n > 1 else [wa * 0.24] * n
    for x in xs:
        m.add("fine_tuners", disc((x, front - L * 0.045, z0 + L * 0.26), L * 0.009, L * 0.012, "y", 8))
    chin = p.get("chinrest")
    if chin:
        x = 0.0 if chin == "centre" else lo * 0.45
        m.add("chinrest", loft([ring((x, front * 0.8, z0 + L * 0.03), X, Z, lo * 0.32, L * 0.05, p=2.5, n=14),
                                ring((x, front * 1.35, z0 + L * 0.03), X, Z, lo * 0.36, L * 0.06, p=2.5, n=14)]))
    if p.get("shoulder_rest"):
        m.add("shoulder_rest", bent_tube(arc_points((0, rib / 2 + L * 0.12, z0 + L * 0.2), lo * 1.2, 200, 340, X, Y, n=12, radius_v=L * 0.1), L * 0.012,
                                         n=8, radius_b=L * 0.04))


# --------------------------------------------------------------------------------------
# drum
# --------------------------------------------------------------------------------------

DRUM_PRESETS = [
    dict(style="snare", R=0.18, H=0.14, lugs=8, legs=0),
    dict(style="floor_tom", R=0.2, H=0.4, lugs=6, legs=3),
    dict(style="bass", R=0.28, H=0.4, lugs=8, legs=0),
    dict(style="conga", R=0.14, H=0.75, lugs=0, legs=0),
    dict(style="timpani", R=0.33, H=0.55, lugs=6, legs=3),
]


def build_drum(p: dict) -> Model:
    """Drum: a shell with hoops and tension lugs (snare, floor tom on legs, bass drum on its side facing -Y, conga, timpani)."""
    R, H, style, n = p["R"], p["H"], p["style"], p["lugs"]
    sym = {"snare": Symmetry(type="rotational", axis="z", order=8), "floor_tom": Symmetry(type="rotational", axis="z", order=3),
           "bass": _MIRROR, "conga": Symmetry(type="rotational", axis="z", order=0), "timpani": Symmetry(type="rotational", axis="z", order=3)}[style]
    m = Model(symmetry=sym)
    shell = []
    if style == "bass":  # on its side: build about +Z, then turn the axis to Y (front head toward -Y)
        z0 = 0.0
        shell.append(revolve_z([(0, 0), (R, 0), (R, H), (0, H)], sections=40))
        shell += [flat_ring(0.01, R + 0.008, 0.014), flat_ring(H - 0.01, R + 0.008, 0.014)]
        lugs = []
        for k in range(n):
            a = 2 * np.pi * (k + 0.5) / n
            lugs.append(box((0.02, 0.03, H * 0.5), (R * np.cos(a) * 1.03, R * np.sin(a) * 1.03, H / 2), np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])))
        turn = np.eye(4)
        turn[:3, :3] = rot_x(np.pi / 2)  # +Z -> -Y
        turn[:3, 3] = (0, H / 2, R + 0.02)
        for mesh in shell:
            m.add("shell", mesh.apply_transform(turn))
        for mesh in lugs:
            m.add("lugs", mesh.apply_transform(turn))
        m.add("shell", disc((0, -H / 2 - 0.002, R + 0.02), R * 0.35, 0.004, "y", 24))  # the port / logo patch
        for sx in (1, -1):  # spurs
            m.add("spurs", tube((sx * R * 0.7, -H * 0.25, R * 0.75), (sx * R * 1.15, -H * 0.4, 0.0), 0.008, 6))
        m.add("spurs", span((-0.05, -H / 2 - 0.12, 0.0), (0.05, -H / 2 - 0.02, 0.03)))  # pedal board at the front
        m.kp("front_head_top", (0, -H / 2, 2 * R + 0.02))
        m.kp("front_head_bottom", (0, -H / 2, 0.02))
        m.kp("back_head_top", (0, H / 2, 2 * R + 0.02))
        m.kp_pair("front_head_side", (R, -H / 2, R + 0.02))
        m.kp("pedal", (0, -H / 2 - 0.12, 0.03))
        return m
    z0 = 0.45 if style == "floor_tom" else (0.0 if style != "timpani" else 0.25)
    if style == "snare":
        z0 = 0.0
    if style == "conga":
        prof = [(0, 0), (R * 0.75, 0), (R * 0.95, H * 0.25), (R * 1.05, H * 0.55), (R, H), (0, H)]
        m.add("shell", revolve_z(prof, sections=40))
        m.add("hoops", flat_ring(H - 0.01, R + 0.006, 0.012))
        m.add("hoops", flat_ring(H * 0.55, R * 1.05 + 0.002, 0.006))
        top = H
    elif style == "timpani":
        prof = [(0, z0), (R * 0.3, z0), (R * 0.85, z0 + H * 0.35), (R * 1.0, z0 + H * 0.85), (R, z0 + H), (0, z0 + H)]
        m.add("shell", revolve_z(prof, sections=40))
        m.add("hoops", flat_ring(z0 + H - 0.01, R + 0.008, 0.014))
        top = z0 + H
    else:
        m.add("shell", revolve_z([(0, z0), (R, z0), (R, z0 + H), (0, z0 + H)], sections=40))
        m.add("hoops", flat_ring(z0 + 0.01, R + 0.008, 0.012), flat_ring(z0 + H - 0.01, R + 0.008, 0.012))
        top = z0 + H
    for k in range(n):
        a = 2 * np.pi * k / n + np.pi / 2
        x, y = np.cos(a) * (R + 0.015), np.sin(a) * (R + 0.015)
        zl = z0 + H * (0.5 if style != "timpani" else 0.9)
        m.add("lugs", box((0.018, 0.018, min(H * 0.4, 0.06)), (x, y, zl)))
        m.add("lugs", tube((x, y, zl + 0.03), (x, y, top + 0.005), 0.003, 4))
    if p["legs"]:
        for k in range(3):
            a = 2 * np.pi * k / 3 + np.pi / 2
            d = np.array([np.cos(a), np.sin(a), 0.0])
            if style == "floor_tom":  # legs clamped to the shell's side, inside the hoops' reach: with three legs
                # reaching further out, the bounding box (and so the model's centre) would leave the drum's axis
                m.add("legs", tube(d * (R + 0.005) + (0, 0, z0 + H * 0.7), d * (R + 0.01), 0.009, 8))
            else:  # timpani: struts from the bowl down to casters
                m.add("legs", tube(d * (R * 0.8) + (0, 0, z0 + H * 0.35), d * (R * 0.95), 0.012, 8), disc(d * (R * 0.95) + (0, 0, 0.02), 0.025, 0.03, "z", 10))
    m.kp("head_front", (0, -R, top))
    m.kp("head_back", (0, R, top))
    m.kp("head_left", (R, 0, top))
    m.kp("head_right", (-R, 0, top))
    m.kp("head_centre", (0, 0, top))
    return m


# --------------------------------------------------------------------------------------
# grand piano
# --------------------------------------------------------------------------------------

GRAND_PRESETS = [
    dict(L=2.1, W=1.52, lid=35.0, legs=3),  # parlour grand
    dict(L=1.55, W=1.48, lid=25.0, legs=3),  # baby grand
    dict(L=2.75, W=1.57, lid=40.0, legs=3),  # concert grand
    dict(L=1.85, W=1.5, lid=0.0, legs=3),  # closed lid
    dict(L=2.3, W=1.55, lid=30.0, legs=3),
]


def grand_outline(L: float, W: float, n: int = 20) -> np.ndarray:
    """Plan (x, y) of a grand piano's case: keyboard edge at -Y, the straight spine on the player's
    left (-X), the bent side sweeping from the treble cheek (+X) in toward the tail (+Y)."""
    w, front = W / 2, -L / 2
    cheek = front + 0.35
    pts = [(-w, front), (w, front), (w, cheek)]
    s = np.linspace(0.0, 1.0, n)[1:]
    tail_x, tail_y = -w + 0.45, L / 2
    for t in s:  # an S-shaped bent side, then the rounded tail
        x = w - (w - tail_x) * (3 * t ** 2 - 2 * t ** 3)
        y = cheek + (tail_y - cheek) * t
        pts.append((x, y))
    for a in np.linspace(0, np.pi / 2, 6)[1:]:
        pts.append((tail_x - (tail_x + w) * np.sin(a), tail_y - 0.3 * (1 - np.cos(a))))
    pts.append((-w, tail_y - 0.6))
    return np.array(pts)


def build_grandpiano(p: dict) -> Model:
    """Grand piano: the case in plan (spine at -X, bent side, tail at +Y), the lid raised on a prop, the keyboard toward -Y, legs and pedal lyre."""
    m = Model(symmetry=_NONE)
    L, W = p["L"], p["W"]
    w, front = W / 2, -L / 2
    outline = grand_outline(L, W)
    z0, z1 = 0.62, 0.99
    m.add("case", plate_xy(outline, z0, z1))
    # keyboard: a keybed in front of the case, white keys as one slab, black keys in groups of 2 and 3
    kb0, kb1 = front - 0.16, front
    m.add("keybed", span((-w - 0.02, kb0 - 0.02, 0.6), (w + 0.02, kb1, 0.7)))
    for sx in (1, -1):
        m.add("keybed", span((sx * w - (0.06 if sx > 0 else -0.0), kb0 - 0.02, 0.7), (sx * w + (0.0 if sx > 0 else 0.06), kb1, 0.78)))  # key blocks
    keys_w = W - 0.12
    m.add("keys", span((-keys_w / 2, kb0, 0.7), (keys_w / 2, kb1, 0.72)))
    octave = keys_w / 7.3
    for o in range(7):
        for k, f in enumerate((0.1, 0.24, 0.53, 0.67, 0.81)):
            x = -keys_w / 2 + (o + f) * octave + octave * 0.05
            m.add("keys", box((octave * 0.075, 0.09, 0.012), (x, kb1 - 0.05, 0.726)))
    m.add("case", span((-w + 0.05, kb1 - 0.005, 0.72), (w - 0.05, kb1 + 0.01, 0.9)))  # fallboard / name board
    m.add("desk", box((W * 0.55, 0.012, 0.3), (0, front + 0.2, z1 + 0.14), rot_x(-0.25)))  # music desk
    # lid: the case outline, hinged along the spine (x = -w), lifted on the treble side
    a = np.deg2rad(p["lid"])
    lid = plate_xy(outline, 0.0, 0.018)
    tr = np.eye(4)
    tr[:3, :3] = rot_y(-a)
    tr[:3, 3] = np.array([-w, 0.0, z1]) - rot_y(-a) @ np.array([-w, 0.0, 0.0])
    m.add("lid", lid.apply_transform(tr))
    if p["lid"] > 0:
        prop_foot = np.array([w * 0.55, 0.1, z1])
        lift = rot_y(-a) @ np.array([w * 0.55 + w, 0.1, 0.0])
        m.add("prop", tube(prop_foot, (-w + lift[0], 0.1, z1 + lift[2]), 0.012, 6))
    # legs at the two front corners and under the tail, and the pedal lyre
    legs = [(-w + 0.1, front + 0.1), (w - 0.1, front + 0.1), (-w + 0.35, L / 2 - 0.25)]
    for x, y in legs:
        m.add("legs", loft([ring((x, y, 0.05), X, Y, 0.04, 0.04, p=4, n=12), ring((x, y, z0), X, Y, 0.07, 0.07, p=4, n=12)]))
        m.add("legs", disc((x, y, 0.03), 0.035, 0.05, "z", 12))
    m.add("lyre", span((-0.09, front + 0.12, 0.06), (0.09, front + 0.17, z0)))
    m.add("lyre", span((-0.13, front + 0.05, 0.05), (0.13, front + 0.2, 0.1)))
    for k in (-1, 0, 1):
        m.add("lyre", box((0.03, 0.12, 0.012), (k * 0.06, front + 0.02, 0.09)))
    m.kp("keyboard_left", (keys_w / 2, kb0, 0.72))
    m.kp("keyboard_right", (-keys_w / 2, kb0, 0.72))
    m.kp("tail", tuple(outline[np.argmax(outline[:, 1])]) + (z1,))
    m.kp("bentside", (w, front + 0.35, z1))
    lid_edge = tr[:3, :3] @ np.array([w, front + 0.35, 0.018]) + tr[:3, 3]
    m.kp("lid_edge", lid_edge)
    m.kp("pedal", (0, front + 0.02, 0.096))
    m.kp("front_left_leg", (w - 0.1, front + 0.1, 0.0))
    m.kp("front_right_leg", (-w + 0.1, front + 0.1, 0.0))
    return m


# --------------------------------------------------------------------------------------
# upright piano
# --------------------------------------------------------------------------------------


def upright_extras(m: Model, p: dict, w: float, d: float, case_front: float) -> None:
    """Optional: brass candle sconces swung out from the front panel, the fallboard closed over the keys, a bench."""
    if p.get("sconces"):
        for sx in (1, -1):
            x = sx * (w - 0.2)
            m.add("sconces", bent_tube([(x, case_front, 1.0), (x, case_front - 0.08, 1.03), (x + sx * 0.05, case_front - 0.14, 1.08)], 0.008, n=6))
            m.add("sconces", disc((x + sx * 0.05, case_front - 0.14, 1.09), 0.03, 0.012, "z", 12), tube((x + sx * 0.05, case_front - 0.14, 1.09), (x + sx * 0.05, case_front - 0.14, 1.2), 0.01, 8))
    if p.get("closed"):  # the fallboard rolled down over the keys
        m.add("fallboard", span((-w + 0.05, -d + 0.03, 0.725), (w - 0.05, case_front, 0.8)))
    if p.get("bench"):
        front = -d - 0.55
        m.add("bench", span((-0.45, front, 0.44), (0.45, front + 0.35, 0.5)))
        for sx in (1, -1):
            for yy in (front + 0.03, front + 0.32):
                m.add("bench", span((sx * 0.42 - 0.025, yy - 0.025, 0.0), (sx * 0.42 + 0.025, yy + 0.025, 0.44)))

UPRIGHT_PRESETS = [
    dict(W=1.5, D=0.6, H=1.25, legs=True, top_lid=0.0),
    dict(W=1.45, D=0.58, H=1.1, legs=False, top_lid=0.0),  # studio upright on toe blocks
    dict(W=1.52, D=0.62, H=1.32, legs=True, top_lid=0.0, sconces=True),  # antique: candle sconces on the front panel
    dict(W=1.42, D=0.55, H=1.0, legs=False, top_lid=0.0, closed=True, bench=True),  # spinet, fallboard closed, with its bench
    dict(W=1.5, D=0.6, H=1.2, legs=True, top_lid=0.25),  # top lid propped open
]


def build_upright(p: dict) -> Model:
    """Upright piano: a tall case, the keyboard shelf toward -Y with white and black keys, a fallboard, toe blocks or legs, pedals;
    optional candle sconces, the fallboard closed, a bench (upright_extras).

    Tagged ``none``: the black keys' 2 + 3 grouping is not its own mirror image."""
    m = Model(symmetry=_NONE)
    w, d, H = p["W"] / 2, p["D"] / 2, p["H"]
    back = d
    case_front = -d + 0.28
    m.add("case", span((-w, case_front, 0.05), (w, back, H)))
    m.add("case", span((-w - 0.01, case_front - 0.02, H - 0.03), (w + 0.01, back + 0.01, H)))  # top
    for sx in (1, -1):
        m.add("cheeks", span((sx * w - (0.05 if sx > 0 else 0.0), -d, 0.62), (sx * w + (0.0 if sx > 0 else 0.05), case_front, 0.8)))
        if p["legs"]:
            m.add("legs", span((sx * (w - 0.025) - 0.025, -d + 0.02, 0.0), (sx * (w - 0.025) + 0.025, -d + 0.07, 0.62)))
        m.add("legs", span((sx * (w - 0.025) - 0.03, -d + 0.0, 0.0), (sx * (w - 0.025) + 0.03, case_front, 0.05)))  # toe blocks
    keys_w = 2 * w - 0.12
    m.add("keys", span((-keys_w / 2, -d + 0.02, 0.7), (keys_w / 2, case_front, 0.72)))
    m.add("case", span((-w + 0.05, -d + 0.04, 0.6), (w - 0.05, case_front, 0.7)))  # key slip and bed
    octave = keys_w / 7.3
    for o in range(7):
        for f in (0.1, 0.24, 0.53, 0.67, 0.81):
            x = -keys_w / 2 + (o + f) * octave + octave * 0.05
            m.add("keys", box((octave * 0.075, 0.09, 0.012), (x, case_front - 0.05, 0.726)))
    m.add("case", box((2 * w - 0.1, 0.02, 0.3), (0, case_front - 0.03, 0.97), rot_x(0.12)))  # fallboard / music desk panel
    for k in (-1, 0, 1):
        m.add("pedals", box((0.03, 0.1, 0.012), (k * 0.07, case_front - 0.03, 0.07)))
    if p["top_lid"] > 0:
        m.add("case", box((2 * w - 0.05, 0.3, 0.015), (0, back - 0.15, H + 0.05), rot_x(-p["top_lid"])))
    upright_extras(m, p, w, d, case_front)
    m.kp("keyboard_left", (keys_w / 2, -d + 0.02, 0.72))
    m.kp("keyboard_right", (-keys_w / 2, -d + 0.02, 0.72))
    m.kp_pair("top_front", (w, case_front - 0.02, H))
    m.kp_pair("top_back", (w, back, H))
    m.kp_pair("bottom_front", (w, -d, 0.0))
    return m
