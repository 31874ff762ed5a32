"""Aircraft and boats: airliner/jet/light plane and speedboat/sailboat/cruiser (PASCAL3D+ aeroplane, boat).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame; the build module normalizes it. Why one module per family: builders of
one family share proportions and helpers, and a new family never touches the others.
"""

from __future__ import annotations

import numpy as np
import trimesh

from .primitives import Model, X, Y, Z, box, disc, ellipsoid, front_pane, loft, plate_yz, ring, ring_xz, rot_x, rot_y, rot_z, side_pane, span, tube


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
    # double-deck four-engine airliner: a span longer than the fuselage, a tall fuselage
    dict(style="airliner", L=72.0, R=3.6, span=79.0, chord=14.0, tip=3.5, sweep=0.5, wing_y=0.0, wing_z=-0.6, dihedral=0.08,
         fin=13.0, stab=30.0, engines=4),
    # low-wing light plane: a long tapered wing under the cabin, no struts
    dict(style="prop", L=7.2, R=0.58, span=12.5, chord=1.5, tip=0.8, sweep=0.04, wing_y=-0.1, wing_z=-0.8, dihedral=0.07,
         fin=1.6, stab=3.2, engines=0, struts=False),
]


def build_aeroplane(p: dict) -> Model:
    """Aeroplane (airliner, jet, light prop plane): lofted fuselage nose at -Y, swept wings, fin, stabilisers, gear."""
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
        stations = (0.33,) if p["engines"] == 2 else (0.3, 0.58)  # engine pods per wing, as fractions of the half span
        for side, k in ((s, k) for s in (1, -1) for k in stations):
            ex = side * k * half
            ey = wing_root_y + p["sweep"] * k * half - (0.35 * p["chord"] if k == 0.33 else 0.35 * p["chord"] * (1 - k) / 0.67)  # outer pods sit nearer the thinner wing
            ez = wing_z + p["dihedral"] * k * half - 1.2
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
            m.add("propeller", box((0.12, 0.05, 0.9), (0, front - 0.05, -0.2 * R + blade * 0.85), rot_y(blade * 0.25)))
        m.add("windows", loft([ring((0, front + 0.17 * L, 0.45 * R), X, Z, 0.72 * R, 0.35 * R, p=3),
                               ring((0, front + 0.24 * L, 0.85 * R), X, Z, 0.8 * R, 0.32 * R, p=3)]))
        for side in (1, -1):
            m.add("windows", box((0.04, 1.3, 0.42), (side * R * 1.0, front + 0.34 * L, 0.45 * R)))
            if p.get("struts", True):  # a high wing's lift struts
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
# boat
# --------------------------------------------------------------------------------------

BOAT_PRESETS = [
    dict(style="speedboat", L=6.2, B=2.3, depth=1.05),
    dict(style="sailboat", L=9.0, B=3.0, depth=1.3),
    dict(style="cruiser", L=11.0, B=3.6, depth=1.9),
    # long, narrow runabout
    dict(style="speedboat", L=8.6, B=2.2, depth=1.0),
    # open rowing boat: thwarts and a pair of oars, no superstructure
    dict(style="rowboat", L=4.2, B=1.55, depth=0.62),
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
    """Boat (speedboat, sailboat, cabin cruiser, rowing boat): a V hull, stem at -Y and transom at +Y, with a style superstructure."""
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
            m.add("windows", box((0.6, 0.03, 0.42), (side * B * 0.36, ws_y + 0.18, zc + 0.52), rot_z(side * 0.75) @ rot_x(-0.5)))
        for x in (-0.45, 0.45):
            m.add("seats", span((x - 0.28, ws_y + 0.75, top - 0.15), (x + 0.28, ws_y + 1.25, top + 0.2)),
                  box((0.56, 0.12, 0.5), (x, ws_y + 1.32, top + 0.35), rot_x(-0.2)))
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
    elif style == "rowboat":  # three thwarts across the hull, oars resting in their rowlocks
        ys, halves = [d[0] for d in deck], [d[1] for d in deck]
        for f in (0.3, 0.55, 0.82):
            yy = front + f * L
            half, zz = float(np.interp(yy, ys, halves)), deck_z(yy)
            m.add("seats", span((-half * 0.9, yy - 0.12, zz), (half * 0.9, yy + 0.12, zz + 0.06)))  # the hull is decked: thwarts sit on it
        yo = front + 0.58 * L
        half, zz = float(np.interp(yo, ys, halves)), deck_z(yo)
        for side in (1, -1):
            m.add("oars", tube((side * (half - 0.35), yo - 0.25, zz + 0.15), (side * (half + 1.5), yo + 0.45, zz - 0.35), 0.025, 6),
                  box((0.5, 0.03, 0.14), (side * (half + 1.45), yo + 0.43, zz - 0.33), rot_z(side * 0.4)))
            m.add("trim", tube((side * half, yo, zz - 0.02), (side * half, yo, zz + 0.1), 0.02, 6))  # rowlock
        m.kp("top_centre", (0, front + 0.55 * L, deck_z(front + 0.55 * L) + 0.06))
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
