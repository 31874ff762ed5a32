"""Storage furniture, desks and benches: bookcase, wardrobe, chiffonier, file cabinet, desk, park bench.

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame: the side you open (shelves, doors, drawers) or sit at faces -Y. Kept apart
from ``furniture`` (the PASCAL3D+ chair, table, sofa) so those models never change.
"""

from __future__ import annotations

import numpy as np

from ..library import Symmetry
from .primitives import Model, bent_tube, box, disc, loft, plate_yz, ring_xz, span, tube

_NONE = Symmetry(type="none")
_MIRROR = Symmetry(type="mirror", axis="x")


def drawer_front(m: Model, x0: float, x1: float, z0: float, z1: float, y: float, pull: str = "knob", part: str = "drawers") -> tuple[float, float, float]:
    """A drawer front standing 1.5 cm proud of ``y`` with a knob, a pair of knobs or a bar pull; returns the pull centre."""
    gap = 0.004
    m.add(part, span((x0 + gap, y - 0.018, z0 + gap), (x1 - gap, y, z1 - gap)))
    xc, zc = (x0 + x1) / 2, (z0 + z1) / 2 + (z1 - z0) * (0.2 if pull == "bar" and z1 - z0 > 0.25 else 0.0)
    if pull == "knob":
        m.add("pulls", disc((xc, y - 0.028, zc), 0.015, 0.02, "y", 12))
    elif pull == "knobs":
        for f in (0.27, 0.73):
            m.add("pulls", disc((x0 + (x1 - x0) * f, y - 0.028, zc), 0.013, 0.02, "y", 12))
    else:
        half = min((x1 - x0) * 0.3, 0.12)
        m.add("pulls", bent_tube([(xc - half, y - 0.018, zc), (xc - half, y - 0.04, zc), (xc + half, y - 0.04, zc), (xc + half, y - 0.018, zc)], 0.006, n=6))
    return xc, y - 0.04, zc


def box_corners(m: Model, w: float, d: float, z0: float, z1: float) -> None:
    """Front and back top corners and the front feet, named by the object's sides (left = +X)."""
    for sx, side in ((1, "left"), (-1, "right")):
        m.kp(f"top_{side}_front", (sx * w, -d, z1))
        m.kp(f"top_{side}_back", (sx * w, d, z1))
        m.kp(f"bottom_{side}_front", (sx * w, -d, z0))


# --------------------------------------------------------------------------------------
# bookcase
# --------------------------------------------------------------------------------------

BOOKCASE_PRESETS = [
    dict(W=0.8, D=0.3, H=1.8, shelves=5, books=False, doors=False),
    dict(W=0.9, D=0.32, H=1.95, shelves=5, books=True, doors=False),
    dict(W=1.2, D=0.35, H=0.82, shelves=2, books=True, doors=False),
    dict(W=0.8, D=0.38, H=2.0, shelves=5, books=True, doors=True),
    dict(W=0.45, D=0.28, H=1.5, shelves=4, books=False, doors=False),
]


def build_bookcase(p: dict) -> Model:
    """Bookcase: sides, top, plinth, a back panel and shelves open to -Y; some with rows of books, one with cupboard doors below."""
    W, D, H, n = p["W"] / 2, p["D"] / 2, p["H"], p["shelves"]
    m = Model(symmetry=_NONE if p["books"] else _MIRROR)
    t, plinth = 0.02, 0.07
    for sx in (1, -1):
        m.add("frame", span((sx * W - (t if sx > 0 else 0), -D, 0.0), (sx * W + (0 if sx > 0 else t), D, H)))
    m.add("frame", span((-W, -D - 0.01, H - t), (W, D, H)), span((-W + t, -D + 0.01, 0.0), (W - t, D, plinth)))
    m.add("frame", span((-W + t, D - 0.006, plinth), (W - t, D, H - t)))
    z_doors = plinth + (H - plinth) * 0.38 if p["doors"] else plinth
    levels = np.linspace(z_doors, H - t, n + 1)
    for z in levels[:-1]:
        m.add("shelves", span((-W + t, -D + 0.005, z - (t if z > plinth + 1e-6 else 0.0)), (W - t, D - 0.006, z)))
    if p["doors"]:
        for sx in (1, -1):
            x0, x1 = (0.002, W - t) if sx > 0 else (-W + t, -0.002)
            m.add("doors", span((x0, -D - 0.018, plinth + 0.005), (x1, -D, z_doors - 0.005)))
            m.add("pulls", disc((sx * 0.04, -D - 0.03, z_doors - 0.07), 0.013, 0.024, "y", 12))
        m.kp("door_top_left", (W - t, -D - 0.018, z_doors - 0.005))
    if p["books"]:
        k = 0
        for row, (z0, z1) in enumerate(zip(levels[:-1], levels[1:])):
            gap = z1 - z0 - t
            x = -W + t + 0.01
            end = W - t - (0.1 + 0.15 * (row % 3)) * W  # leave some shelves partly empty
            while True:
                width = 0.018 + 0.022 * (0.5 + 0.5 * np.sin(1.7 * k + row))
                if x + width > end:
                    break
                height = gap * (0.62 + 0.25 * (0.5 + 0.5 * np.cos(2.3 * k)))
                depth = 2 * D * (0.55 + 0.2 * (0.5 + 0.5 * np.sin(0.9 * k)))
                m.add("books", span((x, D - 0.006 - depth, z0), (x + width - 0.002, D - 0.006, z0 + height)))
                x += width
                k += 1
    box_corners(m, W, D, 0.0, H)
    m.kp("shelf_front_centre", (0, -D + 0.005, levels[len(levels) // 2 - 1]))
    return m


# --------------------------------------------------------------------------------------
# wardrobe
# --------------------------------------------------------------------------------------

WARDROBE_PRESETS = [
    dict(W=1.0, D=0.58, H=1.95, doors=2, drawers=0, cornice=0.0, legs=0.1),
    dict(W=1.5, D=0.6, H=2.1, doors=3, drawers=0, cornice=0.0, legs=0.0),
    dict(W=1.1, D=0.6, H=2.05, doors=2, drawers=1, cornice=0.06, legs=0.08),
    dict(W=0.9, D=0.55, H=1.8, doors=2, drawers=2, cornice=0.0, legs=0.0),
    dict(W=1.2, D=0.62, H=2.2, doors=2, drawers=0, cornice=0.09, legs=0.14),
]


def build_wardrobe(p: dict) -> Model:
    """Wardrobe: a tall case on legs or a plinth, two or three doors with bar pulls, optional drawers and a cornice."""
    W, D, H = p["W"] / 2, p["D"] / 2, p["H"]
    m = Model(symmetry=_MIRROR if p["doors"] == 2 else _NONE)
    legs = p["legs"]
    z0 = legs if legs else 0.08
    top = H - p["cornice"]
    m.add("case", span((-W, -D, z0), (W, D, top)))
    if legs:
        for sx in (1, -1):
            for sy in (1, -1):
                m.add("legs", loft([ring_xz(sy * (D - 0.04) - 0.02, 0.02, 0.0, legs, p=2, x0=sx * (W - 0.05), bot=0.6),
                                    ring_xz(sy * (D - 0.04) + 0.02, 0.02, 0.0, legs, p=2, x0=sx * (W - 0.05), bot=0.6)]))
    else:
        m.add("case", span((-W + 0.02, -D + 0.03, 0.0), (W - 0.02, D - 0.02, z0)))
    if p["cornice"]:
        m.add("cornice", loft([ring_xz(-D - 0.04, W + 0.04, top, H, p=12), ring_xz(D + 0.01, W + 0.04, top, H, p=12)]))
    dz = 0.22
    z_doors = z0 + dz * p["drawers"]
    for k in range(p["drawers"]):
        drawer_front(m, -W, W, z0 + k * dz, z0 + (k + 1) * dz, -D, "knobs")
    n = p["doors"]
    edges = np.linspace(-W, W, n + 1)
    pulls = []
    for i in range(n):
        x0, x1 = edges[i], edges[i + 1]
        m.add("doors", span((x0 + 0.003, -D - 0.02, z_doors + 0.004), (x1 - 0.003, -D, top - 0.004)))
        px = x1 - 0.04 if (i + 0.5) < n / 2 else x0 + 0.04  # pulls by the meeting edges
        if n == 3 and i == 2:
            px = x0 + 0.04
        zc = (z_doors + top) / 2 + 0.1
        m.add("pulls", tube((px, -D - 0.04, zc - 0.15), (px, -D - 0.04, zc + 0.15), 0.008, 8))
        m.add("pulls", tube((px, -D - 0.04, zc - 0.13), (px, -D - 0.02, zc - 0.13), 0.006, 6), tube((px, -D - 0.04, zc + 0.13), (px, -D - 0.02, zc + 0.13), 0.006, 6))
        pulls.append((px, -D - 0.048, zc))
    m.kp("pull_left", max(pulls))
    m.kp("pull_right", min(pulls))
    box_corners(m, W, D, 0.0, top)
    return m


# --------------------------------------------------------------------------------------
# chiffonier (chest of drawers)
# --------------------------------------------------------------------------------------

CHEST_PRESETS = [
    dict(W=0.8, D=0.45, H=1.0, rows=4, cols=1, pull="knobs", legs=0.1, split_top=False),
    dict(W=1.0, D=0.48, H=0.85, rows=3, cols=2, pull="knob", legs=0.06, split_top=False),
    dict(W=0.6, D=0.42, H=1.25, rows=6, cols=1, pull="bar", legs=0.0, split_top=False),
    dict(W=0.9, D=0.5, H=1.1, rows=4, cols=1, pull="bar", legs=0.14, split_top=True),
    dict(W=1.2, D=0.5, H=0.78, rows=3, cols=3, pull="knob", legs=0.0, split_top=False),
]


def build_chest(p: dict) -> Model:
    """Chiffonier (chest of drawers): a case with an overhanging top, a grid of drawers with knobs or bars, on legs or a plinth."""
    W, D, H = p["W"] / 2, p["D"] / 2, p["H"]
    m = Model(symmetry=_MIRROR)
    legs = p["legs"]
    z0 = legs if legs else 0.06
    m.add("case", span((-W, -D, z0), (W, D, H - 0.025)))
    m.add("top", span((-W - 0.015, -D - 0.02, H - 0.025), (W + 0.015, D + 0.005, H)))
    if legs:
        for sx in (1, -1):
            for sy in (1, -1):
                m.add("legs", loft([ring_xz(sy * (D - 0.03) - 0.018, 0.018, 0.0, legs, p=4, x0=sx * (W - 0.03), bot=0.55),
                                    ring_xz(sy * (D - 0.03) + 0.018, 0.018, 0.0, legs, p=4, x0=sx * (W - 0.03), bot=0.55)]))
    else:
        m.add("legs", span((-W + 0.02, -D + 0.02, 0.0), (W - 0.02, D - 0.02, z0)))
    rows, cols = p["rows"], p["cols"]
    zs = np.linspace(z0, H - 0.025, rows + 1)
    pulls = []
    for r in range(rows):
        c_here = 2 if (p["split_top"] and r == rows - 1) else cols
        xs = np.linspace(-W, W, c_here + 1)
        for c in range(c_here):
            pulls.append(drawer_front(m, xs[c], xs[c + 1], zs[r], zs[r + 1], -D, p["pull"]))
    top_row = [q for q in pulls if q[2] > zs[-2]]
    m.kp("top_drawer_pull", max(top_row, key=lambda q: (q[0], q[2])))
    m.kp("bottom_drawer_pull", min(pulls, key=lambda q: (q[2], -q[0])))
    box_corners(m, W + 0.015, D + 0.005, 0.0, H)
    return m


# --------------------------------------------------------------------------------------
# file cabinet
# --------------------------------------------------------------------------------------

FILE_PRESETS = [
    dict(W=0.38, D=0.62, H=1.32, drawers=4),
    dict(W=0.38, D=0.52, H=0.71, drawers=2),
    dict(W=0.46, D=0.66, H=1.02, drawers=3),
    dict(W=0.9, D=0.46, H=0.96, drawers=3),  # lateral
    dict(W=0.76, D=0.46, H=0.72, drawers=2),  # lateral
]


def build_file(p: dict) -> Model:
    """File cabinet: a steel case of 2-4 drawers, each with a bar pull and a label holder (vertical and lateral files)."""
    W, D, H, n = p["W"] / 2, p["D"] / 2, p["H"], p["drawers"]
    m = Model(symmetry=_MIRROR)
    m.add("case", loft([ring_xz(-D, W, 0.0, H, p=16), ring_xz(D, W, 0.0, H, p=16)]))
    m.add("case", span((-W + 0.01, -D - 0.005, 0.0), (W - 0.01, -D + 0.01, 0.04)))  # kick plate
    zs = np.linspace(0.04, H - 0.01, n + 1)
    pulls = []
    for k in range(n):
        z0, z1 = zs[k], zs[k + 1]
        m.add("drawers", span((-W + 0.008, -D - 0.015, z0 + 0.004), (W - 0.008, -D, z1 - 0.004)))
        zc = z1 - (z1 - z0) * 0.28
        half = min(W * 0.4, 0.09)
        m.add("pulls", bent_tube([(-half, -D - 0.015, zc), (-half, -D - 0.035, zc - 0.005), (half, -D - 0.035, zc - 0.005), (half, -D - 0.015, zc)], 0.007, n=6))
        m.add("labels", span((-0.045, -D - 0.019, zc + 0.025), (0.045, -D - 0.014, zc + 0.055)))
        pulls.append((0, -D - 0.042, zc - 0.005))
    m.kp("top_pull", pulls[-1])
    m.kp("bottom_pull", pulls[0])
    box_corners(m, W, D, 0.0, H)
    return m


# --------------------------------------------------------------------------------------
# desk
# --------------------------------------------------------------------------------------

DESK_PRESETS = [
    dict(style="double", W=1.5, D=0.75, H=0.76),
    dict(style="single", W=1.2, D=0.65, H=0.75),
    dict(style="writing", W=1.1, D=0.55, H=0.76),
    dict(style="computer", W=1.3, D=0.65, H=0.75),
    dict(style="standing", W=1.4, D=0.7, H=1.05),
]


def build_desk(p: dict) -> Model:
    """Desk: a top over drawer pedestals (both sides, one side), tapered legs, a computer desk's tray and tower shelf, or T legs."""
    W, D, H, style = p["W"] / 2, p["D"] / 2, p["H"], p["style"]
    m = Model(symmetry=_MIRROR if style in ("double", "writing", "standing") else _NONE)
    t = 0.03
    m.add("top", span((-W, -D, H - t), (W, D, H)))
    ped = 0.42
    pulls = []
    if style in ("double", "single", "computer"):
        sides = (1, -1) if style == "double" else (1,)
        for sx in sides:
            x0, x1 = (W - ped, W - 0.01) if sx > 0 else (-W + 0.01, -W + ped)
            m.add("pedestals", span((x0, -D + 0.03, 0.0), (x1, D - 0.02, H - t)))
            rows = 3 if style != "computer" else 2
            zs = np.linspace(0.06, H - t - 0.005, rows + 1)
            for k in range(rows):
                pulls.append(drawer_front(m, x0, x1, zs[k], zs[k + 1], -D + 0.03, "bar"))
        if style == "double":
            m.add("drawers", span((-W + ped + 0.01, -D + 0.015, H - t - 0.1), (W - ped - 0.01, -D + 0.03, H - t)))  # pencil drawer
        else:  # legs (or a panel) on the other side
            m.add("legs", span((-W + 0.01, -D + 0.03, 0.0), (-W + 0.04, D - 0.02, H - t)))
        m.add("panel", span((-W + 0.02, D - 0.04, 0.2), (W - 0.02, D - 0.02, H - t)))  # modesty panel at the back
        if style == "computer":
            m.add("tray", span((-W + 0.06, -D + 0.02, H - t - 0.1), (W - ped - 0.02, D - 0.15, H - t - 0.085)))
            m.add("shelf", span((-W + 0.04, -D + 0.05, 0.06), (-W + 0.3, D - 0.05, 0.08)))
            m.add("hutch", span((-W, D - 0.3, H), (W, D, H + 0.02)), span((-W, D - 0.3, H), (-W + 0.02, D, H + 0.35)),
                  span((W - 0.02, D - 0.3, H), (W, D, H + 0.35)), span((-W, D - 0.3, H + 0.33), (W, D, H + 0.35)))
    elif style == "writing":
        for sx in (1, -1):
            for sy in (1, -1):
                m.add("legs", loft([ring_xz(sy * (D - 0.05) - 0.02, 0.02, 0.0, H - t, p=6, x0=sx * (W - 0.05), bot=0.5),
                                    ring_xz(sy * (D - 0.05) + 0.02, 0.02, 0.0, H - t, p=6, x0=sx * (W - 0.05), bot=0.5)]))
        m.add("apron", span((-W + 0.04, -D + 0.03, H - t - 0.12), (W - 0.04, D - 0.03, H - t)))
        pulls.append(drawer_front(m, -0.3, 0.3, H - t - 0.12, H - t, -D + 0.03, "knobs"))
    else:  # standing: two T legs with feet, a crossbar
        for sx in (1, -1):
            x = sx * (W - 0.12)
            m.add("legs", span((x - 0.04, -0.04, 0.05), (x + 0.04, 0.04, H - t)), span((x - 0.035, -D + 0.05, 0.0), (x + 0.035, D - 0.05, 0.05)))
            m.add("legs", span((x - 0.03, -0.28, H - t - 0.04), (x + 0.03, 0.28, H - t)))
        m.add("legs", span((-W + 0.12, -0.02, H - t - 0.1), (W - 0.12, 0.02, H - t - 0.04)))
    box_corners(m, W, D, 0.0, H)
    if pulls:
        m.kp("drawer_pull", max(pulls, key=lambda q: (q[2], q[0])))
    return m


# --------------------------------------------------------------------------------------
# park bench
# --------------------------------------------------------------------------------------

BENCH_PRESETS = [
    dict(style="classic", L=1.6, back=True, arms=True, frames=2, slats=5),
    dict(style="backless", L=1.5, back=False, arms=False, frames=2, slats=4),
    dict(style="long", L=2.2, back=True, arms=True, frames=3, slats=4),
    dict(style="reclined", L=1.8, back=True, arms=False, frames=2, slats=6),
    dict(style="picnic", L=1.8, back=False, arms=False, frames=2, slats=3),
]


def build_bench(p: dict) -> Model:
    """Park bench: cast side frames (side-view plates), seat slats along X, back slats leaning back (+Y), arms."""
    L, style = p["L"] / 2, p["style"]
    m = Model(symmetry=_MIRROR)
    seat_h, seat_d = 0.45, 0.45 if style != "picnic" else 0.32
    y0, y1 = -seat_d / 2, seat_d / 2
    xs = np.linspace(-L + 0.12, L - 0.12, p["frames"])
    lean = 0.32 if style == "reclined" else 0.2
    back_h = 0.82
    for x in xs:
        th = 0.025
        m.add("frames", plate_yz([(y0, 0.0), (y0 + 0.06, 0.0), (y0 + 0.06, seat_h - 0.03), (y0, seat_h - 0.03)], x - th, x + th))  # front leg
        m.add("frames", plate_yz([(y1 - 0.07, 0.0), (y1, 0.0), (y1 - 0.02, seat_h - 0.03), (y1 - 0.08, seat_h - 0.03)], x - th, x + th))  # rear leg
        m.add("frames", plate_yz([(y0 - 0.01, seat_h - 0.07), (y1 + 0.01, seat_h - 0.07), (y1 + 0.01, seat_h - 0.03), (y0 - 0.01, seat_h - 0.03)], x - th, x + th))
        if p["back"]:
            top = (y1 + (back_h - seat_h) * np.tan(lean), back_h)
            m.add("frames", plate_yz([(y1 - 0.05, seat_h - 0.03), (y1, seat_h - 0.03), (top[0] + 0.02, top[1]), (top[0] - 0.03, top[1])], x - th, x + th))
        if p["arms"] and abs(abs(x) - (L - 0.12)) < 1e-9:
            m.add("arms", bent_tube([(x, y0 - 0.02, seat_h - 0.03), (x, y0 - 0.03, seat_h + 0.2), (x, y0 + 0.05, seat_h + 0.24), (x, y1, seat_h + 0.22)], 0.02, n=8))
    n = p["slats"]
    width = seat_d / n
    for k in range(n):
        yc = y0 + (k + 0.5) * width
        m.add("seat", span((-L, yc - width * 0.4, seat_h - 0.03), (L, yc + width * 0.4, seat_h + 0.005)))
    if p["back"]:
        for k in range(3 if style != "reclined" else 4):
            f = (k + 0.5) / (3 if style != "reclined" else 4)
            z = seat_h + 0.07 + f * (back_h - seat_h - 0.07)
            yb = y1 + (z - seat_h) * np.tan(lean)
            m.add("back", box((2 * L, 0.025, 0.07), (0, yb + 0.015, z), np.array([[1, 0, 0], [0, np.cos(lean), np.sin(lean)], [0, -np.sin(lean), np.cos(lean)]])))
        m.kp_pair("back_top", (L, y1 + (back_h - seat_h) * np.tan(lean) + 0.02, back_h))
    if style == "picnic":  # a table-height board in front would make it a picnic table; keep a bench: add a foot rail
        m.add("frames", span((-L + 0.12, -0.02, 0.12), (L - 0.12, 0.02, 0.16)))
    m.kp_pair("seat_front", (L, y0, seat_h + 0.005))
    m.kp_pair("seat_back", (L, y1, seat_h + 0.005))
    m.kp_pair("front_foot", (xs[-1] + 0.025, y0 + 0.03, 0.0))
    if p["arms"]:
        m.kp_pair("arm_front", (xs[-1], y0 - 0.03, seat_h + 0.2))
    return m
