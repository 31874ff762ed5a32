"""Work vehicles: pickup truck, tractor, forklift (ImageNet classes beyond the PASCAL3D+ ones in ``vehicles``).

Each builder takes one preset dict (sizes in metres) and returns a :class:`Model` in the
canonical frame: the direction of travel (the bonnet, a forklift's forks) is -Y, wheels on the
ground at z = 0, the driver's left is +X. Keypoints follow the PASCAL3D+ car names where they apply.
"""

from __future__ import annotations

from ..library import Symmetry
from .primitives import Model, arc, bent_tube, box, disc, front_pane, loft, plate_yz, ring_xz, side_pane, span, tube, tyre

_MIRROR = Symmetry(type="mirror", axis="x")


def wheel(m: Model, centre, radius: float, width: float, rim: float = 0.6) -> None:
    """A torus tyre with a rim disc just inside its outer face, axle along X."""
    m.add("wheels", tyre(centre, radius, width))
    sx = 1.0 if centre[0] > 0 else -1.0
    m.add("rims", disc((centre[0] + sx * width * 0.1, centre[1], centre[2]), radius * rim, width * 0.8, "x", 20))


# --------------------------------------------------------------------------------------
# pickup truck
# --------------------------------------------------------------------------------------

PICKUP_PRESETS = [
    dict(style="regular", L=5.3, W=2.0, clear=0.25, hood=1.15, roof=1.85, r=0.4, cab=(0.3, 0.52), axle=(0.17, 0.76)),
    dict(style="crew", L=5.9, W=2.03, clear=0.26, hood=1.18, roof=1.9, r=0.41, cab=(0.27, 0.6), axle=(0.16, 0.78), doors=4),  # four doors, handles
    dict(style="long_bed", L=6.2, W=2.0, clear=0.25, hood=1.12, roof=1.86, r=0.4, cab=(0.25, 0.45), axle=(0.15, 0.77), rack=True),  # ladder rack
    dict(style="lifted", L=5.5, W=2.1, clear=0.45, hood=1.45, roof=2.15, r=0.52, cab=(0.29, 0.55), axle=(0.17, 0.77), light_bar=True,
         bull_bar=True),  # off-road: roof light bar, bull bar
    dict(style="compact", L=4.9, W=1.8, clear=0.2, hood=1.0, roof=1.68, r=0.36, cab=(0.31, 0.55), axle=(0.17, 0.76), tonneau=True),  # bed covered
]


def build_pickup(p: dict) -> Model:
    """Pickup truck: a lofted bonnet and cab with a glass greenhouse, an open bed with a tailgate behind, four wheels under arches;
    optional door handles, ladder rack, light bar, bull bar, tonneau cover (pickup_extras)."""
    m = Model(symmetry=_MIRROR)
    L, W, hw = p["L"], p["W"], p["W"] / 2
    y = lambda f: -L / 2 + f * L  # noqa: E731 - fraction along the length, 0 = front bumper
    clear, hood, roof, r = p["clear"], p["hood"], p["roof"], p["r"]
    c0, c1 = p["cab"]
    belt = hood + 0.05
    m.add("body", loft([ring_xz(y(0.0), hw * 0.9, clear + 0.15, hood - 0.08, p=5), ring_xz(y(0.03), hw * 0.97, clear + 0.05, hood, p=5),
                        ring_xz(y(c0), hw, clear + 0.05, belt, p=6), ring_xz(y(c1), hw, clear + 0.05, belt, p=6)]))
    m.add("windows", loft([ring_xz(y(c0), hw * 0.9, belt - 0.02, belt + 0.02, p=6, top=0.85), ring_xz(y(c0 + 0.07), hw * 0.9, belt - 0.02, roof - 0.03, p=6, top=0.85),
                           ring_xz(y(c1 - 0.01), hw * 0.9, belt - 0.02, roof - 0.03, p=6, top=0.85), ring_xz(y(c1), hw * 0.9, belt - 0.02, roof - 0.1, p=6, top=0.85)]))
    m.add("body", loft([ring_xz(y(c0 + 0.065), hw * 0.78, roof - 0.05, roof, p=8), ring_xz(y(c1 - 0.005), hw * 0.78, roof - 0.05, roof, p=8)]))  # roof
    for sx in (1, -1):
        m.add("body", tube((sx * hw * 0.9, y(c0), belt), (sx * hw * 0.76, y(c0 + 0.07), roof - 0.03), 0.05, 6))  # A pillars
        m.add("body", tube((sx * hw * 0.9, y(c1 - 0.005), belt), (sx * hw * 0.78, y(c1 - 0.01), roof - 0.03), 0.07, 6))  # B/C pillars
        m.add("mirrors", box((0.2, 0.08, 0.16), (sx * (hw + 0.08), y(c0) + 0.15, belt + 0.1)))
    # bed: floor and three walls, the tailgate at the back
    b0 = y(c1) + 0.05
    bed_top = belt - 0.02
    m.add("bed", span((-hw, b0, clear + 0.05), (hw, y(1.0) - 0.06, clear + 0.2)))
    for sx in (1, -1):
        m.add("bed", span((sx * hw - (0.06 if sx > 0 else 0.0), b0, clear + 0.05), (sx * hw + (0.0 if sx > 0 else 0.06), y(1.0) - 0.06, bed_top)))
    m.add("bed", span((-hw, b0, clear + 0.05), (hw, b0 + 0.06, bed_top)))
    m.add("bed", span((-hw, y(1.0) - 0.07, clear + 0.05), (hw, y(1.0), bed_top)))  # tailgate
    # front: grille, lights, bumpers
    m.add("grille", box((W * 0.55, 0.06, hood - clear - 0.35), (0, y(0.0) - 0.01, (hood + clear) / 2 + 0.05)))
    for sx in (1, -1):
        m.add("lights", box((0.32, 0.08, 0.16), (sx * (hw - 0.25), y(0.005), hood - 0.16)))
        m.add("lights", box((0.08, 0.05, 0.3), (sx * (hw - 0.05), y(1.0) + 0.01, bed_top - 0.2)))
    m.add("body", box((W * 1.0, 0.2, 0.2), (0, y(0.0) - 0.02, clear + 0.2)), box((W * 0.98, 0.16, 0.16), (0, y(1.0) + 0.02, clear + 0.15)))
    m.add("windows", front_pane(y(c0 + 0.035) - 0.03, (belt + roof) / 2, W * 0.8, roof - belt - 0.1, 0.45))
    # wheels and arches
    tw = 0.3 if p["style"] != "lifted" else 0.38
    for f in p["axle"]:
        for sx in (1, -1):
            wheel(m, (sx * (hw - tw / 2 + 0.02), y(f), r), r, tw)
            m.add("body", arc((sx * (hw + 0.01), y(f), r), r + 0.08, -5, 185, 0.05, 0.05, 14))
    pickup_extras(m, p, y, belt, roof)
    m.kp_pair("front_wheel", (hw + 0.02, y(p["axle"][0]), r))
    m.kp_pair("back_wheel", (hw + 0.02, y(p["axle"][1]), r))
    m.kp_pair("front_light", (hw - 0.25, y(0.005) - 0.04, hood - 0.16))
    m.kp_pair("back_trunk", (hw - 0.05, y(1.0) + 0.035, bed_top - 0.2))
    m.kp_pair("upper_windshield", (hw * 0.76, y(c0 + 0.07), roof))
    m.kp_pair("upper_rearwindow", (hw * 0.78, y(c1 - 0.01), roof))
    return m


def pickup_extras(m: Model, p: dict, y, belt: float, roof: float) -> None:
    """Optional: door handles (and a crew cab's centre pillars), a ladder rack over the bed, a roof light bar and a
    bull bar, a tonneau cover over the bed."""
    hw, c0, c1, clear = p["W"] / 2, p["cab"][0], p["cab"][1], p["clear"]
    doors = p.get("doors", 0)
    for sx in (1, -1):
        for k in range(doors // 2):
            f = c0 + (c1 - c0) * (0.3 + 0.45 * k)
            m.add("handles", box((0.04, 0.18, 0.05), (sx * (hw + 0.01), y(f), belt - 0.12)))
        if doors == 4:
            m.add("body", tube((sx * hw * 0.92, y((c0 + c1) / 2 + 0.02), belt), (sx * hw * 0.79, y((c0 + c1) / 2 + 0.02), roof - 0.03), 0.05, 6))
    if p.get("rack"):
        b0, b1 = y(c1) + 0.1, y(1.0) - 0.1
        for yy in (b0, b1):
            for sx in (1, -1):
                m.add("rack", tube((sx * (hw - 0.04), yy, belt), (sx * (hw - 0.04), yy, roof + 0.1), 0.04, 6))
            m.add("rack", tube((-(hw - 0.04), yy, roof + 0.1), (hw - 0.04, yy, roof + 0.1), 0.04, 6))
        for sx in (1, -1):
            m.add("rack", tube((sx * (hw - 0.04), b0, roof + 0.1), (sx * (hw - 0.04), y(c0 + 0.1), roof + 0.1), 0.035, 6))
    if p.get("light_bar"):
        m.add("lights", box((hw * 1.4, 0.12, 0.1), (0, y(c0 + 0.08), roof + 0.08)))
    if p.get("bull_bar"):
        m.add("bull_bar", tube((-hw * 0.7, y(0.0) - 0.2, clear + 0.2), (-hw * 0.7, y(0.0) - 0.2, p["hood"] - 0.1), 0.04, 6),
              tube((hw * 0.7, y(0.0) - 0.2, clear + 0.2), (hw * 0.7, y(0.0) - 0.2, p["hood"] - 0.1), 0.04, 6),
              tube((-hw * 0.7, y(0.0) - 0.2, p["hood"] - 0.1), (hw * 0.7, y(0.0) - 0.2, p["hood"] - 0.1), 0.04, 6))
    if p.get("tonneau"):
        m.add("tonneau", span((-hw + 0.02, y(c1) + 0.06, belt - 0.03), (hw - 0.02, y(1.0) - 0.02, belt)))


# --------------------------------------------------------------------------------------
# tractor
# --------------------------------------------------------------------------------------

TRACTOR_PRESETS = [
    dict(style="rops", L=3.9, W=2.1, rear=0.8, front=0.45, hood=1.45, cab=False),
    dict(style="cab", L=4.6, W=2.4, rear=0.9, front=0.55, hood=1.6, cab=True),
    dict(style="compact", L=2.8, W=1.4, rear=0.55, front=0.35, hood=1.1, cab=False, loader=True),  # with a front loader
    dict(style="vintage", L=3.3, W=1.8, rear=0.7, front=0.35, hood=1.35, cab=False),  # row-crop: narrow front wheels, no weights
    dict(style="big4wd", L=5.2, W=2.6, rear=0.85, front=0.8, hood=1.75, cab=True, duals=True),  # twin rear wheels
]


def build_tractor(p: dict) -> Model:
    """Tractor: big rear wheels under fenders, small front wheels under a long bonnet (-Y), a seat under a roll bar or a cab, an exhaust stack
    on the driver's left (so tagged ``none``); optional twin rear wheels and a front loader."""
    m = Model(symmetry=Symmetry(type="none"))
    L, W, rr, rf, hood = p["L"], p["W"] / 2, p["rear"], p["front"], p["hood"]
    front, back = -L / 2, L / 2
    ya_r = back - rr * 1.05
    ya_f = front + rf * 1.1
    body_w = W * 0.33
    m.add("body", loft([ring_xz(front + 0.05, body_w * 0.85, rf * 0.7, hood - 0.1, p=6, top=0.9), ring_xz(front + 0.25, body_w, rf * 0.5, hood, p=6, top=0.9),
                        ring_xz(ya_r - rr * 0.6, body_w, rf * 0.5, hood, p=6, top=0.9)]))  # bonnet over the engine
    m.add("body", span((-body_w * 1.1, ya_r - rr * 0.7, rr * 0.6), (body_w * 1.1, ya_r + 0.3, rr * 1.25)))  # transmission housing
    m.add("grille", box((body_w * 1.6, 0.05, hood - rf * 0.8), (0, front + 0.03, (hood + rf * 0.6) / 2)))
    if p["style"] != "vintage":
        m.add("body", span((-body_w * 0.9, front - 0.25, rf * 0.5), (body_w * 0.9, front + 0.1, rf * 1.1)))  # front weights
    for sx in (1, -1):
        wheel(m, (sx * (W - 0.25), ya_r, rr), rr, 0.5 if p["style"] != "compact" else 0.32, rim=0.55)
        fw = 0.3 if p["style"] != "big4wd" else 0.5
        xf = sx * (W - fw / 2 - 0.05) if p["style"] != "vintage" else sx * 0.28
        wheel(m, (xf, ya_f, rf), rf, fw, rim=0.55)
        m.add("fenders", arc((sx * (W - 0.25), ya_r, rr), rr + 0.08, 20, 170, 0.28 if p["style"] != "compact" else 0.18, 0.02, 14))
        if p.get("duals"):  # a second rear wheel outside the first
            wheel(m, (sx * (W + 0.27), ya_r, rr), rr, 0.5, rim=0.55)
    seat_z = rr * 1.35
    m.add("seat", span((-0.25, ya_r - 0.05, rr * 1.25), (0.25, ya_r + 0.35, seat_z)), box((0.5, 0.08, 0.45), (0, ya_r + 0.38, seat_z + 0.2)))
    m.add("steering", tube((0, ya_r - 0.45, rr * 1.2), (0, ya_r - 0.6, hood + 0.35), 0.03, 6), disc((0, ya_r - 0.58, hood + 0.37), 0.2, 0.04, "z", 16))
    top = hood + 1.25 if p["style"] != "compact" else hood + 0.9
    if p["cab"]:
        c0, c1 = ya_r - 0.9, ya_r + 0.55
        m.add("cab", span((-W * 0.55, c0, top - 0.12), (W * 0.55, c1, top)))  # roof
        for sx in (1, -1):
            for yy in (c0, c1):
                m.add("cab", tube((sx * W * 0.5, yy, rr * 1.2), (sx * W * 0.5, yy, top - 0.1), 0.05, 6))
            m.add("windows", side_pane(sx * W * 0.5, (c0 + c1) / 2, (rr * 1.3 + top) / 2, c1 - c0 - 0.1, top - rr * 1.3 - 0.2, 0.03))
        m.add("windows", front_pane(c0 - 0.03, (hood + top) / 2, W * 0.9, top - hood - 0.2, 0.05))
    else:  # a two-post roll bar behind the seat
        posts = [(sx * W * 0.4, ya_r + 0.55, rr * 1.1) for sx in (1, -1)]
        for x, yy, z in posts:
            m.add("cab", tube((x, yy, z), (x, yy, top), 0.05, 8))
        m.add("cab", tube((posts[0][0], ya_r + 0.55, top), (posts[1][0], ya_r + 0.55, top), 0.05, 8))
    if p.get("loader"):
        front_loader(m, W, body_w, front, ya_r, rr, rf, hood)
    ex = body_w * 0.7
    m.add("exhaust", tube((ex, ya_r - rr * 0.9, hood), (ex, ya_r - rr * 0.9, hood + 0.7), 0.05, 10))
    m.kp_pair("front_wheel", (W - 0.05 if p["style"] != "vintage" else 0.28 + 0.15, ya_f, rf))
    m.kp_pair("back_wheel", (W, ya_r, rr))
    m.kp("grille_top", (0, front + 0.0, hood - 0.05))
    m.kp("exhaust_top", (ex, ya_r - rr * 0.9, hood + 0.7))
    m.kp_pair("roof_back", (W * (0.55 if p["cab"] else 0.4), ya_r + 0.55, top))
    return m


def front_loader(m: Model, W: float, body_w: float, front: float, ya_r: float, rr: float, rf: float, hood: float) -> None:
    """A front loader: uprights beside the bonnet, two arms reaching forward and down, a bucket on the ground in front."""
    bucket_y = front - 0.55
    for sx in (1, -1):
        x = sx * (body_w + 0.08)
        m.add("loader", tube((x, ya_r - rr * 0.9, rr * 0.5), (x, ya_r - rr * 0.9, hood + 0.15), 0.06, 6))
        m.add("loader", bent_tube([(x, ya_r - rr * 0.9, hood + 0.15), (x, front + 0.2, hood + 0.05), (x, bucket_y + 0.2, 0.35), (x, bucket_y + 0.15, 0.2)], 0.05, n=6))
    m.add("bucket", plate_yz([(bucket_y - 0.35, 0.0), (bucket_y + 0.15, 0.0), (bucket_y + 0.2, 0.45), (bucket_y + 0.05, 0.5)], -W * 0.95, W * 0.95))
    m.kp("bucket_front", (0, bucket_y - 0.35, 0.0))


# --------------------------------------------------------------------------------------
# forklift
# --------------------------------------------------------------------------------------

FORKLIFT_PRESETS = [
    dict(L=2.3, W=1.1, mast=2.1, lift=0.15, guard=2.1, r_f=0.33, r_b=0.27),
    dict(L=2.6, W=1.2, mast=2.3, lift=0.8, guard=2.15, r_f=0.36, r_b=0.3, cab=True),  # enclosed cab
    dict(L=2.0, W=0.95, mast=1.95, lift=0.3, guard=2.0, r_f=0.28, r_b=0.22, lpg=True),  # gas tank on the counterweight
    dict(L=3.0, W=1.4, mast=2.6, lift=1.3, guard=2.3, r_f=0.42, r_b=0.34, duals=True),  # twin front wheels, a pallet on the forks
    dict(L=2.4, W=1.15, mast=3.0, lift=0.5, guard=2.1, r_f=0.33, r_b=0.27, triplex=True),  # three-stage mast
]


def build_forklift(p: dict) -> Model:
    """Forklift: a chassis with a rounded counterweight at the back (+Y), an overhead guard over the seat, the mast and forks at the front (-Y);
    optional cab glass, LPG tank, twin front wheels with a pallet, triplex mast (forklift_extras)."""
    m = Model(symmetry=_MIRROR)
    L, w = p["L"], p["W"] / 2
    front, back = -L / 2, L / 2
    rf, rb = p["r_f"], p["r_b"]
    ya_f, ya_b = front + 0.45, back - 0.45
    m.add("chassis", span((-w * 0.8, front + 0.25, 0.15), (w * 0.8, back - 0.35, 0.95)))
    m.add("counterweight", loft([ring_xz(back - 0.6, w, 0.15, 1.15, p=5, top=0.85), ring_xz(back - 0.25, w, 0.15, 1.15, p=5, top=0.85),
                                 ring_xz(back, w * 0.85, 0.25, 1.0, p=4, top=0.8)]))
    m.add("chassis", span((-w, front + 0.2, 0.45), (w, back - 0.6, 0.55)))  # step and fenders
    for sx in (1, -1):
        wheel(m, (sx * (w - 0.14), ya_f, rf), rf, 0.28, rim=0.5)
        wheel(m, (sx * (w - 0.14), ya_b, rb), rb, 0.22, rim=0.5)
        if p.get("duals"):
            wheel(m, (sx * (w + 0.16), ya_f, rf), rf, 0.28, rim=0.5)
    m.add("seat", span((-0.25, back - 1.05, 0.95), (0.25, back - 0.6, 1.05)), box((0.5, 0.1, 0.45), (0, back - 0.6, 1.25)))
    m.add("steering", tube((0, front + 0.7, 0.95), (0, front + 0.75, 1.35), 0.03, 6), disc((0, front + 0.78, 1.37), 0.18, 0.04, "z", 16))
    g = p["guard"]
    g0, g1 = front + 0.45, back - 0.5
    for sx in (1, -1):
        m.add("guard", tube((sx * (w - 0.08), g0, 0.9), (sx * (w - 0.08), g0 + 0.25, g), 0.04, 6), tube((sx * (w - 0.08), g1, 1.0), (sx * (w - 0.08), g1, g), 0.04, 6))
    m.add("guard", span((-w + 0.04, g0 + 0.2, g - 0.05), (w - 0.04, g1 + 0.05, g)))
    # mast: two uprights with crossbars, in front of the front axle; carriage and forks at ``lift``
    my = front + 0.12
    H = p["mast"]
    for sx in (1, -1):
        m.add("mast", span((sx * 0.32 - 0.05, my - 0.06, 0.12), (sx * 0.32 + 0.05, my + 0.06, H)))
    for z in (0.4, H * 0.55, H - 0.08):
        m.add("mast", span((-0.32, my - 0.04, z - 0.04), (0.32, my + 0.04, z + 0.04)))
    lift = p["lift"]
    m.add("carriage", span((-0.45, my - 0.14, lift + 0.05), (0.45, my - 0.08, lift + 0.55)))
    for sx in (1, -1):
        m.add("forks", span((sx * 0.28 - 0.05, front - 1.05, lift), (sx * 0.28 + 0.05, my - 0.08, lift + 0.05)))
        m.add("forks", span((sx * 0.28 - 0.05, my - 0.14, lift), (sx * 0.28 + 0.05, my - 0.08, lift + 0.6)))
    forklift_extras(m, p, w, front, back, my)
    m.kp_pair("fork_tip", (0.33, front - 1.05, lift + 0.05))
    m.kp_pair("mast_top", (0.37, my - 0.06, H))
    m.kp_pair("guard_back", (w - 0.04, g1 + 0.05, g))
    m.kp_pair("front_wheel", (w, ya_f, rf))
    m.kp_pair("back_wheel", (w, ya_b, rb))
    return m


def forklift_extras(m: Model, p: dict, w: float, front: float, back: float, my: float) -> None:
    """Optional: an enclosed cab (glass on the guard's sides, front and back), an LPG cylinder lying on the
    counterweight, a pallet on the forks, the inner stages of a triplex mast."""
    g, g0, g1 = p["guard"], front + 0.45, back - 0.5
    if p.get("cab"):
        for sx in (1, -1):
            m.add("windows", side_pane(sx * (w - 0.06), (g0 + g1) / 2 + 0.1, (1.15 + g) / 2, g1 - g0 - 0.3, g - 1.25, 0.02))
        m.add("windows", front_pane(g0 + 0.15, (1.15 + g) / 2, 2 * w - 0.2, g - 1.25, 0.12), front_pane(g1 + 0.02, (1.15 + g) / 2, 2 * w - 0.2, g - 1.25, 0.0))
    if p.get("lpg"):
        m.add("tank", tube((-w * 0.7, back - 0.35, 1.3), (w * 0.7, back - 0.35, 1.3), 0.15, 14))
        m.add("tank", span((-w * 0.75, back - 0.45, 1.12), (w * 0.75, back - 0.25, 1.17)))
    if p.get("duals"):
        lift = p["lift"]
        m.add("pallet", span((-0.6, front - 1.1, lift + 0.05), (0.6, my - 0.16, lift + 0.2)))
    if p.get("triplex"):
        H = p["mast"]
        for stage, (x, top) in enumerate(((0.22, H * 0.85), (0.13, H * 0.7))):
            for sx in (1, -1):
                m.add("mast", span((sx * x - 0.035, my - 0.05 - 0.01 * stage, 0.3), (sx * x + 0.035, my + 0.05, top)))
            m.add("mast", span((-x, my - 0.04, top - 0.06), (x, my + 0.04, top)))
