"""Appliances and electronics: microwave, refrigerator, washer, toaster, table lamp, wall clock, loudspeaker, laptop.

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame. The front is the side a user works at: the door, the dial, the screen, the
drivers face -Y. Keypoint names use the object's own left (+X) and right (-X).
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import Model, bent_tube, box, cone, disc, ellipsoid, facing_front, flat_ring, front_ring, loft, plate_xz, polar_outline, revolve_z, rigid, ring_xz, rot_y, span, tube

_NONE = Symmetry(type="none")
_MIRROR = Symmetry(type="mirror", axis="x")


def corners(m: Model, w: float, d: float, z0: float, z1: float, front_only: bool = False) -> None:
    """Box-corner keypoints named by the object's sides: ``top_left_front`` is at (+w, -d, z1)."""
    for sx, side in ((1, "left"), (-1, "right")):
        for sy, end in ((-1, "front"), (1, "back")):
            if front_only and sy > 0:
                continue
            m.kp(f"top_{side}_{end}", (sx * w, sy * d, z1))
            m.kp(f"bottom_{side}_{end}", (sx * w, sy * d, z0))


# --------------------------------------------------------------------------------------
# microwave
# --------------------------------------------------------------------------------------

MICROWAVE_PRESETS = [
    dict(style="dial", W=0.46, D=0.36, H=0.27, panel=0.12),
    dict(style="keypad", W=0.52, D=0.4, H=0.3, panel=0.13),
    dict(style="range", W=0.76, D=0.4, H=0.42, panel=0.16),
    dict(style="retro", W=0.48, D=0.38, H=0.29, panel=0.11),
    dict(style="compact", W=0.44, D=0.33, H=0.26, panel=0.1, push_button=True),  # one dial, a door-release button, no handle
]


def build_microwave(p: dict) -> Model:
    """Microwave oven: a box, a door with a dark window on the viewer's left, a control panel on the right (dials, a keypad, or one dial
    and a door-release button on a handle-less door)."""
    m = Model(symmetry=_NONE)
    w, d, H, style = p["W"] / 2, p["D"] / 2, p["H"], p["style"]
    feet = 0.015
    if style == "retro":
        m.add("body", loft([ring_xz(-d, w, feet, H, p=5), ring_xz(d, w * 0.97, feet, H * 0.98, p=5)]))
    else:
        m.add("body", span((-w, -d, feet), (w, d, H)))
    px = w - p["panel"]  # the panel occupies x in [px, w] (the viewer's right)
    y = -d - 0.012
    m.add("door", span((-w + 0.008, y, feet + 0.01), (px - 0.006, -d + 0.002, H - 0.012)))
    m.add("window", span((-w + 0.05, y - 0.003, feet + 0.05), (px - 0.07, y + 0.004, H - 0.05)))
    if not p.get("push_button"):
        m.add("door", box((0.02, 0.03, (H - feet) * 0.6), (px - 0.03, y - 0.012, (feet + H) / 2)))  # handle
    m.add("panel", span((px, y + 0.004, feet + 0.01), (w - 0.008, -d + 0.002, H - 0.012)))
    cx = (px + w) / 2
    if p.get("push_button"):
        m.add("controls", disc((cx, y - 0.012, H * 0.65), 0.026, 0.02, "y", 20))
        m.add("controls", span((cx - 0.03, y - 0.01, H * 0.15), (cx + 0.03, y + 0.004, H * 0.27)))  # door release
    elif style in ("dial", "retro"):
        for k, z in enumerate((H * 0.72, H * 0.42)):
            m.add("controls", disc((cx, y - 0.012, z), 0.024 - 0.004 * k, 0.02, "y", 20))
    else:
        m.add("controls", span((cx - 0.035, y - 0.004, H * 0.78), (cx + 0.035, y + 0.004, H * 0.88)))  # display
        for row in range(4):
            for col in range(3):
                m.add("controls", box((0.018, 0.008, 0.012), (cx + (col - 1) * 0.024, y - 0.002, H * 0.68 - row * 0.03)))
    if style == "range":  # over-the-range: a vent grille along the top of the door
        m.add("panel", span((-w + 0.01, y - 0.002, H - 0.05), (w - 0.01, y + 0.004, H - 0.015)))
    for sx in (1, -1):
        for sy in (1, -1):
            m.add("feet", disc((sx * (w - 0.04), sy * (d - 0.04), feet / 2), 0.015, feet, "z", 10))
    m.kp("door_handle", (px - 0.03, y - (0.027 if not p.get("push_button") else 0.0), (feet + H) / 2))
    m.kp("window_top_right", (-w + 0.05, y - 0.003, H - 0.05))
    m.kp("panel_top", (cx, y, H - 0.012))
    corners(m, w, d, feet, H)
    return m


# --------------------------------------------------------------------------------------
# refrigerator
# --------------------------------------------------------------------------------------

FRIDGE_PRESETS = [
    dict(style="top_freezer", W=0.7, D=0.72, H=1.7),
    dict(style="bottom_freezer", W=0.76, D=0.74, H=1.82),
    dict(style="side_by_side", W=0.91, D=0.75, H=1.78),
    dict(style="french", W=0.9, D=0.78, H=1.78),
    dict(style="mini", W=0.48, D=0.5, H=0.84),
]


def build_refrigerator(p: dict) -> Model:
    """Refrigerator: a tall box with its doors (top/bottom freezer, side-by-side, French, mini) and handle bars."""
    w, d, H, style = p["W"] / 2, p["D"] / 2, p["H"], p["style"]
    m = Model(symmetry=_MIRROR if style == "french" else _NONE)  # side-by-side: the freezer door is narrower
    base = 0.08 if style != "mini" else 0.03
    m.add("body", loft([ring_xz(-d + 0.04, w, base, H, p=14), ring_xz(d, w, base, H, p=14)]))
    m.add("base", span((-w + 0.02, -d + 0.03, 0.0), (w - 0.02, d - 0.02, base)))
    m.add("base", span((-w + 0.04, -d + 0.028, 0.015), (w - 0.04, -d + 0.04, base - 0.01)))  # toe grille
    y0, y1 = -d - 0.03, -d + 0.04
    gap = 0.008
    handles = []
    if style in ("top_freezer", "bottom_freezer"):
        split = base + (H - base) * (0.7 if style == "top_freezer" else 0.33)
        m.add("doors", span((-w, y0, base + gap), (w, y1, split - gap / 2)), span((-w, y0, split + gap / 2), (w, y1, H - gap)))
        if style == "top_freezer":  # vertical bars near the object's right edge (the viewer's left)
            handles += [((-w + 0.06, split + 0.06), (-w + 0.06, H - 0.08)), ((-w + 0.06, split - 0.08), (-w + 0.06, split - 0.45))]
        else:
            handles += [((-w + 0.06, split + 0.08), (-w + 0.06, split + 0.6))]
            m.add("handles", tube((-w + 0.12, y0 - 0.035, split - 0.06), (w - 0.12, y0 - 0.035, split - 0.06), 0.012, 8))
    elif style == "side_by_side":
        m.add("doors", span((-w, y0, base + gap), (-gap / 2 - 0.06 * w, y1, H - gap)), span((-0.06 * w + gap / 2, y0, base + gap), (w, y1, H - gap)))
        m.add("dispenser", span((-w * 0.75, y0 - 0.01, H * 0.5), (-w * 0.35, y0 + 0.01, H * 0.68)))
        handles += [((-0.06 * w - 0.04, H * 0.25), (-0.06 * w - 0.04, H * 0.85)), ((-0.06 * w + 0.04, H * 0.25), (-0.06 * w + 0.04, H * 0.85))]
    elif style == "french":
        split = base + (H - base) * 0.34
        m.add("doors", span((-w, y0, split + gap / 2), (-gap / 2, y1, H - gap)), span((gap / 2, y0, split + gap / 2), (w, y1, H - gap)))
        m.add("doors", span((-w, y0, base + gap), (w, y1, split - gap / 2)))
        handles += [((-0.04, split + 0.1), (-0.04, H - 0.2)), ((0.04, split + 0.1), (0.04, H - 0.2))]
        m.add("handles", tube((-w + 0.12, y0 - 0.035, split - 0.06), (w - 0.12, y0 - 0.035, split - 0.06), 0.012, 8))
    else:  # mini: one door, a recessed grip
        m.add("doors", span((-w, y0, base + gap), (w, y1, H - gap)))
        handles += [((-w + 0.04, H * 0.55), (-w + 0.04, H * 0.8))]
    for (x0, z0), (x1, z1) in handles:
        m.add("handles", tube((x0, y0 - 0.035, z0), (x1, y0 - 0.035, z1), 0.012, 8))
        for x, z in ((x0, z0), (x1, z1)):
            m.add("handles", tube((x, y0 - 0.035, z), (x, y0, z), 0.008, 6))
    m.kp("handle_top", (handles[0][1][0], y0 - 0.047, handles[0][1][1]))
    m.kp("handle_bottom", (handles[0][0][0], y0 - 0.047, handles[0][0][1]))
    corners(m, w, d, 0.0, H)
    return m


# --------------------------------------------------------------------------------------
# washer
# --------------------------------------------------------------------------------------

WASHER_PRESETS = [
    dict(style="front", W=0.6, D=0.6, H=0.85, door=0.2),
    dict(style="front", W=0.6, D=0.65, H=0.9, door=0.17, pedestal=0.3),  # on a pedestal drawer
    dict(style="front_tall", W=0.69, D=0.78, H=0.99, door=0.22, dryer=0.8),  # a stacked washer and dryer
    dict(style="top", W=0.69, D=0.7, H=1.05, door=0.0, open_lid=True),  # top loader, its lid open over the agitator
    dict(style="top_low", W=0.62, D=0.65, H=0.92, door=0.0, twin=True),  # twin tub: wash and spin lids side by side
]


def build_washer(p: dict) -> Model:
    """Washing machine: front loaders with a round porthole and a control strip (on a pedestal drawer, or with a dryer stacked on
    top), top loaders with a lid and a back console (the lid open over the agitator, or a twin tub's two lids)."""
    m = Model(symmetry=_NONE)
    w, d, H, style = p["W"] / 2, p["D"] / 2, p["H"], p["style"]
    if p.get("pedestal"):
        return washer_on_pedestal(m, p)
    top = H if style.startswith("front") else H - 0.2  # a top loader's cabinet ends under its lid and console
    m.add("body", loft([ring_xz(-d, w, 0.02, top, p=12), ring_xz(d, w, 0.02, top, p=12)]))
    m.add("feet", span((-w + 0.03, -d + 0.03, 0.0), (w - 0.03, d - 0.03, 0.02)))
    y = -d
    if p.get("dryer"):
        stacked_dryer(m, w, d, H, p["dryer"])
    if p.get("open_lid") or p.get("twin"):
        top_loader_variant(m, p, w, d, H, top)
    elif style.startswith("front"):
        zc = (H - 0.15) * 0.5 + 0.02
        r = p["door"]
        m.add("door", front_ring((0.0, y - 0.03, zc), r, 0.035, 36))
        m.add("glass", facing_front(revolve_z([(0, 0), (r - 0.02, 0), (r * 0.6, 0.04), (0, 0.05)], sections=32), (0.0, y - 0.005, zc)))
        m.add("door", box((0.03, 0.04, 0.1), (r + 0.03, y - 0.05, zc)))  # door latch on the viewer's right
        m.add("panel", span((-w + 0.01, y - 0.015, H - 0.15), (w - 0.01, y + 0.01, H - 0.01)))
        m.add("controls", disc((w * 0.55, y - 0.03, H - 0.08), 0.035, 0.03, "y", 20))
        m.add("controls", span((-w + 0.04, y - 0.03, H - 0.13), (-w + 0.22, y - 0.01, H - 0.04)))  # detergent drawer
        m.add("controls", span((-0.05, y - 0.02, H - 0.11), (0.1, y - 0.012, H - 0.05)))  # display
        m.kp("door_top", (0, y - 0.065, zc + r))
        m.kp("door_bottom", (0, y - 0.065, zc - r))
        m.kp("dial", (w * 0.55, y - 0.045, H - 0.08))
    else:
        m.add("lid", span((-w + 0.02, -d + 0.02, top - 0.002), (w - 0.02, d - 0.16, top + 0.02)))
        m.add("lid", box((0.2, 0.04, 0.02), (0, -d + 0.04, top + 0.03)))  # lid grip
        m.add("panel", loft([ring_xz(d - 0.15, w, top - 0.01, H - 0.02, p=8, top=0.98), ring_xz(d, w, top - 0.01, H, p=8)]))
        m.add("controls", disc((w * 0.6, d - 0.16, H - 0.1), 0.04, 0.04, "y", 20), disc((-w * 0.6, d - 0.16, H - 0.1), 0.03, 0.04, "y", 20))
        m.kp("lid_front", (0, -d + 0.04, top + 0.04))
        m.kp("console_left", (w, d - 0.15, H - 0.02))
        m.kp("console_right", (-w, d - 0.15, H - 0.02))
    corners(m, w, d, 0.0, top, front_only=True)
    return m


def washer_on_pedestal(m: Model, p: dict) -> Model:
    """A front loader raised on a pedestal drawer: the same washer built on top of a drawer of height ``pedestal``."""
    lift = p["pedestal"]
    inner = build_washer({k: v for k, v in p.items() if k != "pedestal"})
    w, d = p["W"] / 2, p["D"] / 2
    m.add("pedestal", span((-w, -d, 0.0), (w, d, lift)))
    m.add("pedestal", span((-w + 0.03, -d - 0.015, 0.04), (w - 0.03, -d + 0.002, lift - 0.03)), box((0.2, 0.03, 0.025), (0, -d - 0.03, lift - 0.07)))
    for name, pieces in inner.parts.items():
        m.add(name, [piece.copy().apply_translation((0, 0, lift)) for piece in pieces])
    for name, point in inner.keypoints.items():
        m.kp(name, (point[0], point[1], point[2] + lift if name.startswith(("door", "dial", "top")) else point[2]))
    return m


def stacked_dryer(m: Model, w: float, d: float, H: float, h: float) -> None:
    """A dryer stacked on the washer: its cabinet, a wide round door, a control strip and the stacking kit's rim."""
    m.add("dryer", loft([ring_xz(-d, w, H + 0.02, H + h, p=12), ring_xz(d, w, H + 0.02, H + h, p=12)]))
    m.add("dryer", span((-w - 0.005, -d - 0.005, H), (w + 0.005, d + 0.005, H + 0.025)))  # stacking kit
    zc = H + (h - 0.13) * 0.5 + 0.02
    m.add("door", front_ring((0.0, -d - 0.03, zc), h * 0.28, 0.03, 36))
    m.add("glass", facing_front(revolve_z([(0, 0), (h * 0.28 - 0.02, 0), (h * 0.16, 0.03), (0, 0.035)], sections=32), (0.0, -d - 0.005, zc)))
    m.add("panel", span((-w + 0.01, -d - 0.015, H + h - 0.13), (w - 0.01, -d + 0.01, H + h - 0.01)))
    m.add("controls", disc((-w * 0.5, -d - 0.03, H + h - 0.07), 0.035, 0.03, "y", 20))
    m.kp("dryer_door_top", (0, -d - 0.06, zc + h * 0.28))


def top_loader_variant(m: Model, p: dict, w: float, d: float, H: float, top: float) -> None:
    """A top loader with its lid hinged open (standing at the back, the agitator showing), or a twin tub's two lids."""
    if p.get("twin"):
        for x0, x1 in ((-w + 0.02, -0.01), (0.01, w - 0.02)):
            m.add("lid", span((x0, -d + 0.02, top - 0.002), (x1, d - 0.16, top + 0.02)))
            m.add("lid", box((0.12, 0.04, 0.02), ((x0 + x1) / 2, -d + 0.04, top + 0.03)))
        m.kp("lid_front", (w / 2, -d + 0.04, top + 0.04))
    else:
        m.add("lid", span((-w + 0.02, d - 0.2, top), (w - 0.02, d - 0.18, top + 2 * d - 0.2)))  # standing up at the hinge
        m.add("tub", flat_ring(top + 0.004, w * 0.75, 0.012, 32).apply_translation((0, -0.08, 0)))
        m.add("tub", revolve_z([(0, top - 0.05), (0.07, top - 0.05), (0.045, top + 0.1), (0, top + 0.11)], sections=16).apply_translation((0, -0.08, 0)))
        m.kp("lid_front", (0, d - 0.2, top + 2 * d - 0.2))
    m.add("panel", loft([ring_xz(d - 0.15, w, top - 0.01, H - 0.02, p=8, top=0.98), ring_xz(d, w, top - 0.01, H, p=8)]))
    m.add("controls", disc((w * 0.6, d - 0.16, H - 0.1), 0.04, 0.04, "y", 20), disc((-w * 0.6, d - 0.16, H - 0.1), 0.03, 0.04, "y", 20))
    m.kp("console_left", (w, d - 0.15, H - 0.02))
    m.kp("console_right", (-w, d - 0.15, H - 0.02))


# --------------------------------------------------------------------------------------
# toaster
# --------------------------------------------------------------------------------------

TOASTER_PRESETS = [
    dict(style="two", W=0.27, D=0.16, H=0.19, slots=2, long=False, p=5),
    dict(style="four", W=0.29, D=0.28, H=0.2, slots=4, long=False, p=5),
    dict(style="long", W=0.4, D=0.15, H=0.19, slots=2, long=True, p=6),
    dict(style="retro", W=0.3, D=0.18, H=0.2, slots=2, long=False, p=3, feet=True, ribs=3),  # chrome ribs, bun feet
    dict(style="compact", W=0.24, D=0.14, H=0.17, slots=2, long=False, p=8, rack=True, buttons=3),  # bun-warming rack, crumb tray, buttons
]


def build_toaster(p: dict) -> Model:
    """Toaster: a rounded body, dark slot openings along X on top, the lever and browning knob on the +X end; optional bun feet and
    chrome ribs, a bun-warming rack with a crumb tray, buttons (toaster_extras)."""
    m = Model(symmetry=_NONE)
    w, d, H = p["W"] / 2, p["D"] / 2, p["H"]
    m.add("body", loft([ring_xz(-d, w * 0.96, 0.012, H * 0.97, p=p["p"], top=0.95), ring_xz(-d + 0.015, w, 0.012, H, p=p["p"], top=0.95),
                        ring_xz(d - 0.015, w, 0.012, H, p=p["p"], top=0.95), ring_xz(d, w * 0.96, 0.012, H * 0.97, p=p["p"], top=0.95)]))
    m.add("base", span((-w * 0.92, -d * 0.9, 0.0), (w * 0.92, d * 0.9, 0.014)))
    n = p["slots"]
    rows = [((-w * 0.8, w * 0.8), k) for k in range(2)] if n == 2 else [((-w * 0.82, -0.02), k) for k in range(2)] + [((0.02, w * 0.82), k) for k in range(2)]
    pitch = d * 0.9
    for (x0, x1), k in rows:
        yc = (k - 0.5) * pitch * (0.7 if n == 2 else 0.9)
        m.add("slots", span((x0, yc - 0.016, H - 0.006), (x1, yc + 0.016, H + 0.003)))
    m.add("lever", box((0.035, 0.03, 0.02), (w + 0.02, 0.0, H * 0.62)), box((0.008, 0.012, H * 0.5), (w + 0.004, 0.0, H * 0.5)))
    m.add("lever", disc((w + 0.005, 0.0, H * 0.25), 0.016, 0.018, "x", 16))
    toaster_extras(m, p, w, d, H)
    m.kp("lever", (w + 0.037, 0, H * 0.62))
    m.kp("knob", (w + 0.014, 0, H * 0.25))
    front_row = [span_x for span_x, k in rows if k == 0]
    m.kp("slot_front_left", (max(x1 for _, x1 in front_row), -pitch * 0.35 if n == 2 else -pitch * 0.45, H))
    m.kp("slot_front_right", (min(x0 for x0, _ in front_row), -pitch * 0.35 if n == 2 else -pitch * 0.45, H))
    corners(m, w * 0.92, d, 0.0, H * 0.5, front_only=True)
    return m


def toaster_extras(m: Model, p: dict, w: float, d: float, H: float) -> None:
    """Optional: bun feet and chrome ribs along the front and back (retro), a fold-down bun-warming wire rack
    over the slots, a crumb tray drawer and a column of buttons on the lever end."""
    if p.get("feet"):
        for sx in (1, -1):
            for sy in (1, -1):
                m.add("feet", ellipsoid((sx * w * 0.75, sy * d * 0.65, 0.0), (0.018, 0.018, 0.012), 1))
    for k in range(p.get("ribs", 0)):
        z = H * (0.3 + 0.2 * k)
        for sy in (1, -1):
            m.add("ribs", span((-w * 0.85, sy * d - (0.004 if sy > 0 else -0.004) - 0.003, z - 0.004), (w * 0.85, sy * d - (0.004 if sy > 0 else -0.004) + 0.003, z + 0.004)))
    if p.get("rack"):
        rack = [(-w * 0.8, -d * 0.55, H), (-w * 0.8, -d * 0.55, H + 0.05), (w * 0.8, -d * 0.55, H + 0.05), (w * 0.8, -d * 0.55, H)]
        m.add("rack", bent_tube(rack, 0.003, n=6), bent_tube([(x, -yy, z) for x, yy, z in rack], 0.003, n=6))
        for f in np.linspace(-0.7, 0.7, 5):
            m.add("rack", tube((w * f, -d * 0.55, H + 0.05), (w * f, d * 0.55, H + 0.05), 0.0025, 6))
        m.add("tray", span((-w * 0.7, -d * 0.5, 0.003), (w * 0.7, d * 0.5 + 0.02, 0.012)), box((0.04, 0.012, 0.008), (0, d * 0.5 + 0.03, 0.008)))
    for k in range(p.get("buttons", 0)):
        m.add("buttons", box((0.008, 0.016, 0.01), (w + 0.004, -d * 0.45, H * (0.75 - 0.13 * k))))


# --------------------------------------------------------------------------------------
# table lamp
# --------------------------------------------------------------------------------------

LAMP_PRESETS = [
    dict(style="drum", H=0.55, shade_b=0.18, shade_t=0.18, shade_h=0.22, base="urn"),
    dict(style="empire", H=0.6, shade_b=0.2, shade_t=0.1, shade_h=0.24, base="candlestick"),
    dict(style="bell", H=0.48, shade_b=0.17, shade_t=0.07, shade_h=0.2, base="disc"),
    dict(style="cylinder", H=0.5, shade_b=0.12, shade_t=0.12, shade_h=0.26, base="block"),
    dict(style="mushroom", H=0.36, shade_b=0.19, shade_t=0.0, shade_h=0.14, base="bulb"),
]


def build_lamp(p: dict) -> Model:
    """Table lamp: a base (urn, candlestick, disc, block, bulb), a stem and a revolved open shade with a finial."""
    H, rb, rt, sh, style = p["H"], p["shade_b"], p["shade_t"], p["shade_h"], p["style"]
    m = Model(symmetry=Symmetry(type="rotational", axis="z", order=4 if p["base"] == "block" else 0))
    z1 = H - 0.02
    z0 = z1 - sh
    base = p["base"]
    if base == "urn":
        prof = [(0, 0), (0.07, 0), (0.075, 0.02), (0.05, 0.05), (0.09, 0.12), (0.085, 0.2), (0.03, 0.26), (0.02, 0.28), (0, 0.28)]
    elif base == "candlestick":
        prof = [(0, 0), (0.08, 0), (0.08, 0.015), (0.03, 0.04), (0.018, 0.08), (0.014, 0.25), (0.025, 0.27), (0.012, 0.29), (0, 0.29)]
    elif base == "disc":
        prof = [(0, 0), (0.09, 0), (0.09, 0.02), (0.02, 0.03), (0, 0.03)]
    elif base == "bulb":
        prof = [(0, 0), (0.08, 0), (0.11, 0.06), (0.1, 0.14), (0.05, 0.2), (0, 0.21)]
    else:
        prof = None
    if prof is None:
        m.add("base", span((-0.075, -0.075, 0.0), (0.075, 0.075, 0.2)))
        top_of_base = 0.2
    else:
        m.add("base", revolve_z(prof, sections=32))
        top_of_base = prof[-1][1]
    if style == "mushroom":
        dome = [(rb, z0), (rb * 0.98, z0 + sh * 0.3), (rb * 0.8, z0 + sh * 0.7), (rb * 0.4, H - 0.005), (0, H), (0, H - 0.008),
                (rb * 0.4 - 0.004, H - 0.012), (rb * 0.8 - 0.004, z0 + sh * 0.7 - 0.004), (rb * 0.98 - 0.004, z0 + sh * 0.3), (rb - 0.004, z0)]
        m.add("shade", revolve_z(dome, sections=40))
        m.add("stem", tube((0, 0, top_of_base - 0.01), (0, 0, z0 + sh * 0.5), 0.012, 10))
        top = H
    else:
        m.add("shade", revolve_z([(rb - 0.004, z0), (rb, z0), (rt, z1), (rt - 0.004, z1)] + [(rb - 0.004, z0)], sections=40))
        m.add("stem", tube((0, 0, top_of_base - 0.01), (0, 0, z1 - 0.03), 0.008 if base == "candlestick" else 0.01, 10))
        m.add("stem", revolve_z([(0, z1 - 0.035), (0.012, z1 - 0.02), (0.006, z1 + 0.008), (0, z1 + 0.012)], sections=12))  # finial
        m.add("bulb", revolve_z([(0, z0 + 0.03), (0.02, z0 + 0.05), (0.032, z0 + 0.09), (0.02, z0 + 0.13), (0, z0 + 0.14)], sections=16))
        top = z1 + 0.012
    m.kp("finial", (0, 0, top))
    m.kp("shade_top_front", (0, -(rt if rt > 0 else rb * 0.4), z1 if style != "mushroom" else H - 0.005))
    m.kp("shade_bottom_front", (0, -rb, z0))
    m.kp("shade_bottom_back", (0, rb, z0))
    m.kp("base_front", (0, -0.075 if prof is None else -prof[1][0], 0))
    return m


# --------------------------------------------------------------------------------------
# wall clock
# --------------------------------------------------------------------------------------

CLOCK_PRESETS = [
    dict(style="round", R=0.15, rim=0.018, depth=0.045),
    dict(style="thin", R=0.18, rim=0.006, depth=0.03),
    dict(style="square", R=0.14, rim=0.02, depth=0.045),
    dict(style="school", R=0.14, rim=0.015, depth=0.07),
    dict(style="station", R=0.2, rim=0.03, depth=0.06),
]


def build_clock(p: dict) -> Model:
    """Wall clock: a face toward -Y with 12 ticks, hands at 10:10, a bezel; the schoolhouse one has a pendulum case.

    Tagged ``none``: the hands differ in length, so even at 10:10 the face is not its own mirror image."""
    m = Model(symmetry=_NONE)
    R, rim, depth, style = p["R"], p["rim"], p["depth"], p["style"]
    zc = 0.0
    if style == "square":
        m.add("case", span((-R - rim, 0.0, zc - R - rim), (R + rim, depth, zc + R + rim)))
        m.add("face", span((-R, -0.004, zc - R), (R, 0.001, zc + R)))
    elif style == "school":  # octagonal frame over a tall pendulum case
        octagon = polar_outline([R + rim] * 8, n=8) @ np.array([[np.cos(np.pi / 8), np.sin(np.pi / 8)], [-np.sin(np.pi / 8), np.cos(np.pi / 8)]])
        m.add("case", plate_xz(octagon, 0.0, depth, offset=(0, zc)))
        m.add("case", loft([ring_xz(0.005, R * 0.55, zc - R * 2.4, zc - R * 0.6, p=8, bot=0.75), ring_xz(depth - 0.005, R * 0.55, zc - R * 2.4, zc - R * 0.6, p=8, bot=0.75)]))
        m.add("face", disc((0, -0.002, zc), R, 0.006, "y", 40))
        m.add("pendulum", disc((0, -0.002, zc - R * 1.9), R * 0.18, 0.006, "y", 20), box((0.006, 0.004, R * 1.1), (0, -0.002, zc - R * 1.3)))
        m.kp("case_bottom", (0, 0.0, zc - R * 2.4))
    else:
        m.add("case", disc((0, depth / 2, zc), R + rim * 0.5, depth, "y", 48))
        m.add("case", front_ring((0, -0.004, zc), R + rim * 0.5, rim * 0.6 if style != "thin" else 0.005, 48))
        m.add("face", disc((0, -0.002, zc), R, 0.004, "y", 48))
    for k in range(12):
        a = np.pi / 2 - k * np.pi / 6
        long = k % 3 == 0
        r = R * (0.86 if long else 0.89)
        # rounded marks and hands: flat ones would shade exactly like the face behind them
        tick = ellipsoid((0, 0, 0), (0.004 if long else 0.0025, 0.004, R * (0.07 if long else 0.04)), 0)
        m.add("ticks", tick.apply_transform(rigid((r * np.cos(a), -0.005, zc + r * np.sin(a)), rot_y(np.pi / 2 - a))))
    for angle, length, width in ((np.deg2rad(60), 0.5, 0.012), (np.deg2rad(-60), 0.75, 0.008)):  # 10:10, measured from 12
        direction = np.array([-np.sin(angle), 0.0, np.cos(angle)])
        path = np.array([(0.0, -0.012, zc)]) + np.outer(np.linspace(-0.1, 1.0, 6), direction * R * length)
        m.add("hands", bent_tube(path, 0.003, n=8, radius_b=np.array([0.6, 1.0, 1.0, 0.9, 0.7, 0.2]) * width / 2))
    m.add("hands", disc((0, -0.012, zc), 0.008, 0.006, "y", 12))
    if style == "station":
        m.add("case", tube((0, depth / 2, zc + R + rim), (0, depth / 2, zc + R + rim + 0.06), 0.012, 10))  # hanger bracket
        m.kp("bracket_top", (0, depth / 2, zc + R + rim + 0.06))
    m.kp("twelve", (0, -0.006, zc + R * 0.86))
    m.kp("six", (0, -0.006, zc - R * 0.86))
    m.kp("three", (R * 0.86, -0.006, zc))
    m.kp("nine", (-R * 0.86, -0.006, zc))
    m.kp("centre", (0, -0.015, zc))
    return m


# --------------------------------------------------------------------------------------
# loudspeaker
# --------------------------------------------------------------------------------------

SPEAKER_PRESETS = [
    dict(style="bookshelf", W=0.18, D=0.25, H=0.3, woofers=1, plinth=False),
    dict(style="tower", W=0.22, D=0.3, H=1.0, woofers=2, plinth=True),
    dict(style="monitor", W=0.2, D=0.26, H=0.33, woofers=1, plinth=False),
    dict(style="pa", W=0.38, D=0.35, H=0.6, woofers=1, plinth=False),
    dict(style="three_way", W=0.28, D=0.34, H=0.55, woofers=2, plinth=False),
]


def build_speaker(p: dict) -> Model:
    """Loudspeaker: a cabinet with woofer cones, surrounds and a tweeter dome facing -Y (bookshelf, tower, monitor, PA, 3-way)."""
    m = Model(symmetry=_MIRROR)
    w, d, H, style = p["W"] / 2, p["D"] / 2, p["H"], p["style"]
    z0 = 0.05 if p["plinth"] else 0.0
    if style == "pa":  # trapezoid cabinet, wide at the front
        m.add("cabinet", loft([ring_xz(-d, w, z0, H, p=12), ring_xz(d, w * 0.7, z0 + 0.02, H - 0.02, p=12)]))
        m.add("cabinet", bent_tube([(-0.07, 0.0, H - 0.002), (-0.07, 0.0, H + 0.04), (0.07, 0.0, H + 0.04), (0.07, 0.0, H - 0.002)], 0.012))
    else:
        m.add("cabinet", loft([ring_xz(-d, w, z0, H, p=10), ring_xz(d, w, z0, H, p=10)]))
    if p["plinth"]:
        m.add("plinth", span((-w - 0.03, -d - 0.02, 0.0), (w + 0.03, d + 0.02, 0.03)))
        for sx in (1, -1):
            for sy in (1, -1):
                m.add("plinth", disc((sx * (w - 0.02), sy * (d - 0.03), 0.04), 0.012, 0.02, "z", 8))
    y = -d
    wr = min(w * 0.82, 0.16)
    tweeter_z = H - (0.07 if style != "pa" else 0.12)
    # (height, radius) of each cone driver: woofers, and the three-way's midrange
    cones = {"bookshelf": [(H * 0.4, wr)], "monitor": [(H * 0.36, wr)], "pa": [(H * 0.38, wr)],
             "tower": [(H * 0.6, wr), (H * 0.38, wr)], "three_way": [(H * 0.28, wr), (H * 0.62, wr * 0.55)]}[style]
    for z, r in cones:
        m.add("drivers", facing_front(cone(r, 0.05), (0, y + 0.045, z)))
        m.add("surrounds", front_ring((0, y - 0.004, z), r, 0.01))
    if style == "pa":  # a horn above the woofer
        m.add("surrounds", loft([ring_xz(y + 0.05, 0.03, tweeter_z - 0.02, tweeter_z + 0.02, p=6), ring_xz(y - 0.002, 0.12, tweeter_z - 0.05, tweeter_z + 0.05, p=6)]))
    m.add("drivers", facing_front(revolve_z([(0, 0), (0.022, 0), (0.018, 0.01), (0, 0.016)], sections=20), (0, y + 0.002, tweeter_z)))
    m.add("surrounds", front_ring((0, y - 0.003, tweeter_z), 0.03 if style != "monitor" else 0.045, 0.006))
    if style in ("bookshelf", "tower"):
        m.add("drivers", disc((0, y + 0.002, z0 + 0.06), 0.025, 0.01, "y", 16))  # bass port
    m.kp("tweeter", (0, y - 0.016, tweeter_z))
    m.kp("woofer_centre", (0, y + 0.0, cones[0][0]))
    corners(m, w, d, z0, H, front_only=True)
    return m


# --------------------------------------------------------------------------------------
# laptop
# --------------------------------------------------------------------------------------

LAPTOP_PRESETS = [
    dict(W=0.31, D=0.215, t=0.016, lid=0.007, angle=110.0, rows=5, cols=12),
    dict(W=0.36, D=0.245, t=0.022, lid=0.008, angle=118.0, rows=5, cols=14),
    dict(W=0.4, D=0.27, t=0.03, lid=0.01, angle=102.0, rows=6, cols=15),
    dict(W=0.29, D=0.2, t=0.014, lid=0.006, angle=125.0, rows=5, cols=12),
    dict(W=0.34, D=0.235, t=0.019, lid=0.0075, angle=95.0, rows=5, cols=13),
]


def build_laptop(p: dict) -> Model:
    """Laptop: a base with key rows and a touchpad, the lid hinged at the back (+Y) and opened toward the user at -Y."""
    m = Model(symmetry=_MIRROR)
    w, d, t = p["W"] / 2, p["D"] / 2, p["t"]
    m.add("base", loft([ring_xz(-d, w, 0.0, t * 0.75, p=8), ring_xz(-d + 0.01, w, 0.0, t, p=8), ring_xz(d, w, 0.0, t, p=8)]))
    rows, cols = p["rows"], p["cols"]
    kx0, kx1, ky0, ky1 = -w + 0.02, w - 0.02, -0.02, d - 0.02
    pitch_x, pitch_y = (kx1 - kx0) / cols, (ky1 - ky0) / rows
    for r in range(rows):
        yc = ky1 - (r + 0.5) * pitch_y
        if r == rows - 1:  # the bottom row: a long space bar between short keys
            m.add("keys", box((pitch_x * 5.5, pitch_y * 0.8, 0.002), (0, yc, t + 0.001)))
            for x in (-1, 1):
                m.add("keys", box(((kx1 - kx0) / 2 - pitch_x * 3, pitch_y * 0.8, 0.002), (x * ((kx1 - kx0) / 4 + pitch_x * 1.5), yc, t + 0.001)))
            continue
        for c in range(cols):
            m.add("keys", box((pitch_x * 0.82, pitch_y * 0.8, 0.002), (kx0 + (c + 0.5) * pitch_x, yc, t + 0.001)))
    m.add("touchpad", box((w * 0.55, (ky0 + d) * 0.5, 0.0015), (0, (-d + ky0) / 2, t + 0.0005)))
    a = np.deg2rad(p["angle"])
    hinge = np.array([0.0, d - 0.004, t])
    u = np.array([0.0, -np.cos(a), np.sin(a)])  # from the hinge to the lid's top edge
    n = np.array([0.0, -np.sin(a), -np.cos(a)])  # the screen's normal, toward the user
    lid_len = 2 * d - 0.005
    centre = hinge + u * lid_len / 2 - n * p["lid"] / 2
    m.add("lid", box((2 * w, lid_len, p["lid"]), centre, _frame(u, n)))
    m.add("screen", box((2 * w - 0.025, lid_len - 0.035, 0.0015), hinge + u * (lid_len / 2 + 0.004) + n * 0.0006, _frame(u, n)))
    top = hinge + u * lid_len
    m.kp_pair("lid_top", (w, top[1], top[2]))
    m.kp_pair("hinge", (w, d, t))
    m.kp_pair("base_front", (w, -d, t * 0.75))
    m.kp("touchpad", (0, (-d + ky0) / 2, t + 0.0013))
    return m


def _frame(u: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Rotation whose local +Y is ``u`` and local +Z is ``n`` (a box's length along u, thickness along n)."""
    x = np.cross(u, n)
    return np.stack([x, u, n], 1)
