"""Export multi-view groups (``views:`` jobs) to the folder-per-object layout 3D generators read.

Layout::

    index.json                  every group: folder, views, caption, class, CAD model, layout
    <group>/000.png ...         the group's views, in view order (the dataset's PNG bytes, unchanged)
    <group>/transforms.json     cameras (NeRF / instant-ngp / nerfstudio form) and the caption
    <group>/caption.txt         the group's prompt

``transforms.json``: ``frames[k].transform_matrix`` is the camera-to-world matrix in the
NeRF/Blender (OpenGL) camera convention (x right, y up, looking down -z), i.e. the record's
OpenCV camera-to-world ``[[R^T, -R^T t], [0, 1]]`` times ``diag(1, -1, -1, 1)``. World is
the object's canonical frame (+Z up as Blender's, the object's front facing -Y, centred,
longest side 1 unit). Intrinsics ``fl_x, fl_y, cx, cy, w, h`` are in pixels with pixel edges
at integers (the top-left pixel's centre is (0.5, 0.5)), as COLMAP, instant-ngp and
nerfstudio mean them and as dst3d's K is: copied unchanged. (The original NeRF Blender
loader puts pixel centres at integers; that 0.5 px it ignores.) ``camera_angle_x`` is the
horizontal field of view in radians. Each frame also carries the record's id, its PASCAL3D+
angles in degrees and its OpenCV ``R``, ``t`` (object -> camera).

Group ids become folder names only after a safe-name check; a group missing views (a
filtered split) is left out and listed in ``index.json`` under ``incomplete``. Nothing is
written on bad input (the export is staged and renamed into place at the end).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import UserError
from ..pose.viewpoint import OPENCV_TO_OPENGL, camera_to_world
from ..progress import Progress
from ..store.dataset import open_dataset
from ..store.record import Record
from .common import inside, safe_stem, staged_output, write_image, write_json

_META = ["id", "synset", "class_name", "cad_id", "azimuth", "elevation", "theta", "distance", "prompt", "seed", "R", "t", "K",
         "width", "height", "render"]
CONVENTIONS = {
    "world": "the object's canonical frame: +Z up, front facing -Y, centred, longest side 1 unit",
    "transform_matrix": "camera-to-world, OpenGL/NeRF camera axes (x right, y up, looking down -z) = OpenCV c2w @ diag(1,-1,-1,1)",
    "intrinsics": "pixels, pixel edges at integers (top-left pixel centre at (0.5, 0.5)), as COLMAP/instant-ngp/nerfstudio",
    "R_t": "object-to-camera, OpenCV camera axes (x right, y down, z forward): x_cam = R x_obj + t",
    "angles": "PASCAL3D+ azimuth/elevation/theta in degrees; distance in object units",
}


def export_multiview(root: Path, out: Path, split: str = "train", progress: bool = False) -> Path:
    """Write the multi-view groups of ``split`` of the dataset in ``root`` to ``out``."""
    dataset = open_dataset(root, split)
    groups, incomplete = _groups([Record.from_row(row) for row in dataset.table(_META).to_pylist()], root)
    where = {rid: (group, k) for group, members in groups.items() for k, rid in enumerate(r.id for r in members)}
    with staged_output(Path(out)) as tmp, Progress(progress, transient=True) as bars:
        advance = bars.task("exporting multi-view groups", len(where), unit="img")
        for group in groups:
            inside(tmp, tmp / group).mkdir()
        for record in dataset.records(["id", "image"]):
            if record.id in where:
                group, k = where[record.id]
                write_image(record.image, inside(tmp / group, tmp / group / f"{k:03d}.png"), f"the image of record {record.id}")
                advance()
        index = []
        for group, members in groups.items():
            first = members[0]
            write_json(tmp / group / "transforms.json", transforms(members))
            (tmp / group / "caption.txt").write_text(first.prompt + "\n", encoding="utf-8")
            index.append({"group": group, "folder": group, "views": len(members), "caption": first.prompt, "synset": first.synset,
                          "class_name": first.class_name, "cad_id": first.cad_id, "layout": first.view.get("layout"),
                          "records": [r.id for r in members]})
        write_json(tmp / "index.json", {"format": "dst3d multiview", "dst3d": __version__, "conventions": CONVENTIONS,
                                        "groups": index, "incomplete": incomplete})
    return Path(out)


def _groups(records: list[Record], root: Path) -> tuple[dict[str, list[Record]], list[str]]:
    """Complete groups (views sorted by index) by safe group id, and the ids of incomplete ones;
    one-line refusals for a dataset without groups and for inconsistent ones."""
    members: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record.view is not None:
            members[safe_stem(record.view_group, "view group id")].append(record)
    if not members:
        raise UserError(f"{root} has no view groups (its records carry no render.view); "
                        "generate it with --views-per-object N (or views: {per_object: N} in the job)")
    groups, incomplete = {}, []
    for group, views in sorted(members.items()):
        sizes = {r.view_size for r in views}
        size = sizes.pop() if len(sizes) == 1 else None
        indices = sorted(r.view_index for r in views) if all(isinstance(r.view_index, int) for r in views) else None
        if not isinstance(size, int) or size < 1 or indices is None or len(set(indices)) != len(indices) or not set(indices) <= set(range(size)):
            raise UserError(f"view group {group} has inconsistent view indices or sizes; the dataset is damaged, regenerate it")
        for r in views:
            r.require("R", "t", "K", "width", "height", "prompt")
        if len({(r.cad_id, r.prompt, r.seed) for r in views}) != 1:
            raise UserError(f"the views of group {group} do not share one CAD model, prompt and seed; the dataset is damaged, regenerate it")
        if len(indices) < size:
            incomplete.append(group)
            continue
        groups[group] = sorted(views, key=lambda r: r.view_index)
    if not groups:
        raise UserError(f"no view group of {root} is complete ({len(incomplete)} miss views, e.g. a filtered split); export the train split")
    return groups, incomplete


def _intrinsics(record: Record) -> dict:
    K, w, h = record.K, int(record.width), int(record.height)
    fx, fy = float(K[0, 0]), float(K[1, 1])
    return {"fl_x": fx, "fl_y": fy, "cx": float(K[0, 2]), "cy": float(K[1, 2]), "w": w, "h": h,
            "camera_angle_x": 2.0 * math.atan(w / (2.0 * fx)), "camera_angle_y": 2.0 * math.atan(h / (2.0 * fy))}


def transforms(views: list[Record]) -> dict:
    """The ``transforms.json`` of one group (views in order; see the module docstring)."""
    first = views[0]
    shared = _intrinsics(first)
    per_frame = any(_intrinsics(r) != shared for r in views)
    frames = []
    for k, r in enumerate(views):
        frame = {"file_path": f"{k:03d}.png", "transform_matrix": (camera_to_world(r.R, r.t) @ OPENCV_TO_OPENGL).tolist(),
                 "dst3d_id": r.id, "view_index": r.view_index,
                 "azimuth_deg": float(np.rad2deg(r.azimuth)) if r.azimuth is not None else None,
                 "elevation_deg": float(np.rad2deg(r.elevation)) if r.elevation is not None else None,
                 "theta_deg": float(np.rad2deg(r.theta)) if r.theta is not None else None,
                 "distance": r.distance, "R": r.R.tolist(), "t": r.t.tolist()}
        if per_frame:
            frame.update(_intrinsics(r))
        frames.append(frame)
    head = {} if per_frame else shared
    return {"camera_model": "OPENCV", **head, "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0,
            "group": first.view_group, "caption": first.prompt, "synset": first.synset, "class_name": first.class_name,
            "cad_id": first.cad_id, "layout": first.view.get("layout"), "conventions": CONVENTIONS, "frames": frames}
