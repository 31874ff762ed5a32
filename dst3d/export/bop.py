"""Export to the BOP format (https://github.com/thodan/bop_toolkit/blob/master/docs/bop_datasets_format.md).

Layout (one scene per class, scene ids in synset order)::

    camera.json                     the camera, when every image shares one K and size
    models/models_info.json         per obj_id: diameter, bounding box, symmetries (mm)
    models/obj_000001.ply ...       each CAD model, in mm
    train/000000/rgb/000000.png     the images
    train/000000/scene_camera.json  cam_K, depth_scale
    train/000000/scene_gt.json      cam_R_m2c (row-major), cam_t_m2c (mm), obj_id
    train/000000/scene_gt_info.json bbox_obj, bbox_visib ([x, y, w, h]), visib_fract
    dst3d_export.json               obj_id -> CAD model, scene -> class, image -> record id

Units: a dataset model has longest side 1 unit, which is ``size_m`` metres of the real
object, so 1 unit = ``1000 * size_m`` mm. Both the translation and the exported model are
scaled by that factor, which leaves every projection unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..cad.library import CadLibrary, CadModel
from ..errors import UserError
from ..pose.viewpoint import project
from ..store.shards import read_table
from .common import dataset_shards, iter_rows, job_info, staged_output, write_image, write_json

SPLIT = "train"
_ROW_COLUMNS = ["id", "index", "image", "synset", "class_name", "cad_id", "R", "t", "K", "width", "height", "bbox", "visible_fraction"]


def _merged(library: CadLibrary, model: CadModel) -> tuple[np.ndarray, np.ndarray]:
    parts = library.load_parts(model)
    vertices, faces, offset = [], [], 0
    for part in parts:
        vertices.append(np.asarray(part.vertices, dtype=np.float64))
        faces.append(np.asarray(part.faces, dtype=np.int64) + offset)
        offset += len(part.vertices)
    return np.vstack(vertices), np.vstack(faces)


def write_ply(path: Path, vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray) -> None:
    """ASCII PLY with vertex normals, the form bop_toolkit's ``inout.load_ply`` reads."""
    lines = ["ply", "format ascii 1.0", "comment dst3d export, units: mm", f"element vertex {len(vertices)}",
             "property float x", "property float y", "property float z",
             "property float nx", "property float ny", "property float nz",
             f"element face {len(faces)}", "property list uchar int vertex_indices", "end_header"]
    body = [f"{x:.6f} {y:.6f} {z:.6f} {a:.6f} {b:.6f} {c:.6f}" for (x, y, z), (a, b, c) in zip(vertices, normals)]
    body += [f"3 {i} {j} {k}" for i, j, k in faces]
    path.write_text("\n".join(lines + body) + "\n")


def _symmetries(model: CadModel) -> dict:
    sym = model.symmetry
    if sym.type != "rotational":
        return {}  # a mirror image is not a pose ambiguity
    axis = {"x": [1.0, 0.0, 0.0], "y": [0.0, 1.0, 0.0], "z": [0.0, 0.0, 1.0]}[sym.axis]
    if sym.order == 0:
        return {"symmetries_continuous": [{"axis": axis, "offset": [0.0, 0.0, 0.0]}]}
    import trimesh

    out = []
    for k in range(1, sym.order):
        T = trimesh.transformations.rotation_matrix(2.0 * np.pi * k / sym.order, axis)
        out.append([float(v) for v in T.reshape(-1)])
    return {"symmetries_discrete": out}


def _diameter(vertices: np.ndarray) -> float:
    """Largest distance between two model points (over the convex hull's vertices)."""
    from scipy.spatial import ConvexHull, QhullError
    from scipy.spatial.distance import pdist

    try:
        pts = vertices[ConvexHull(vertices).vertices]
    except (QhullError, ValueError):
        pts = vertices
    if len(pts) > 4000:
        pts = pts[np.random.default_rng(0).choice(len(pts), 4000, replace=False)]
    return float(pdist(pts).max()) if len(pts) > 1 else 0.0


def _box(x0: float, y0: float, x1: float, y1: float) -> list[int]:
    if x1 <= x0 or y1 <= y0:
        return [-1, -1, -1, -1]  # BOP's value for an invisible object
    x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
    return [x0, y0, x1 - x0, y1 - y0]


def export_bop(root: Path, out: Path, cad_library: Path | None = None, split: str = "train") -> Path:
    root, out = Path(root), Path(out)
    dataset_shards(root, split)
    meta = read_table(root, columns=["synset", "class_name", "cad_id", "render"], split=split)
    job = job_info(root).get("job", {})
    library = CadLibrary(cad_library or job.get("cad_library"))

    # Validate everything before the output folder exists: the CAD models must be the rendered ones.
    cad_ids = sorted(set(meta["cad_id"].to_pylist()))
    digests = {}
    for cad_id, render in zip(meta["cad_id"].to_pylist(), meta["render"].to_pylist()):
        digests.setdefault(cad_id, (json.loads(render or "{}") or {}).get("mesh_sha256"))
    models = {}
    for cad_id in cad_ids:
        synset, model = library.model(cad_id)
        path = library.mesh_path(model)
        if not path.is_file():
            raise UserError(f"CAD mesh {path} of model '{cad_id}' is missing; pass the library the data was made with (--cad-library)")
        if digests[cad_id] and hashlib.sha256(path.read_bytes()).hexdigest()[: len(digests[cad_id])] != digests[cad_id]:
            raise UserError(f"CAD model '{cad_id}' in {library.root} differs from the one the dataset was rendered with; pass the right --cad-library")
        models[cad_id] = (synset, model)
    obj_ids = {cad_id: i + 1 for i, cad_id in enumerate(cad_ids)}
    names = dict(zip(meta["synset"].to_pylist(), meta["class_name"].to_pylist()))
    scene_ids = {synset: i for i, synset in enumerate(sorted(names))}

    with staged_output(out) as tmp:
        info, mm_per_unit, vertices_units = {}, {}, {}
        objects = {}
        for cad_id, obj_id in obj_ids.items():
            synset, model = models[cad_id]
            vertices, faces = _merged(library, model)
            scale = 1000.0 * model.size_m
            mm_per_unit[cad_id] = scale
            vertices_units[cad_id] = vertices
            import trimesh

            normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
            v_mm = vertices * scale
            (tmp / "models").mkdir(exist_ok=True)
            write_ply(tmp / "models" / f"obj_{obj_id:06d}.ply", v_mm, faces, normals)
            lo, hi = v_mm.min(axis=0), v_mm.max(axis=0)
            info[str(obj_id)] = {"diameter": _diameter(v_mm), "min_x": lo[0], "min_y": lo[1], "min_z": lo[2],
                                 "size_x": hi[0] - lo[0], "size_y": hi[1] - lo[1], "size_z": hi[2] - lo[2], **_symmetries(model)}
            objects[str(obj_id)] = {"cad_id": cad_id, "synset": synset, "class_name": names.get(synset, library.manifest.classes[synset].name),
                                    "source": model.source, "license": model.license, "size_m": model.size_m, "mm_per_unit": scale}
        write_json(tmp / "models" / "models_info.json", {k: {n: float(v) if isinstance(v, (np.floating, float)) else v for n, v in d.items()} for k, d in info.items()})

        cams, gts, gt_infos = defaultdict(dict), defaultdict(dict), defaultdict(dict)
        records = defaultdict(dict)
        cameras = set()
        for row in iter_rows(root, _ROW_COLUMNS, split):
            scene = scene_ids[row["synset"]]
            im_id = len(cams[scene])
            rgb = tmp / SPLIT / f"{scene:06d}" / "rgb"
            rgb.mkdir(parents=True, exist_ok=True)
            write_image(row["image"], rgb / f"{im_id:06d}.png")
            R, t, K = np.asarray(row["R"]), np.asarray(row["t"]), np.asarray(row["K"])
            scale = mm_per_unit[row["cad_id"]]
            cams[scene][str(im_id)] = {"cam_K": K.reshape(-1).tolist(), "depth_scale": 1.0}
            gts[scene][str(im_id)] = [{"cam_R_m2c": R.reshape(-1).tolist(), "cam_t_m2c": (t * scale).tolist(), "obj_id": obj_ids[row["cad_id"]]}]
            visib = _box(*row["bbox"])
            if row["visible_fraction"] >= 1.0:
                full = visib  # nothing cut off by the border: the silhouette box is the visible one
            else:
                uv, z = project(vertices_units[row["cad_id"]], R, t, K)
                uv = uv[z > 0]
                full = _box(np.floor(uv[:, 0].min()), np.floor(uv[:, 1].min()), np.ceil(uv[:, 0].max()), np.ceil(uv[:, 1].max())) if len(uv) else [-1, -1, -1, -1]
            gt_infos[scene][str(im_id)] = [{"bbox_obj": full, "bbox_visib": visib, "visib_fract": float(row["visible_fraction"])}]
            records[f"{scene:06d}"][str(im_id)] = {"id": row["id"], "index": row["index"], "cad_id": row["cad_id"]}
            cameras.add((tuple(K.reshape(-1).tolist()), row["width"], row["height"]))

        for scene in cams:
            folder = tmp / SPLIT / f"{scene:06d}"
            write_json(folder / "scene_camera.json", cams[scene])
            write_json(folder / "scene_gt.json", gts[scene])
            write_json(folder / "scene_gt_info.json", gt_infos[scene])
        if len(cameras) == 1:
            (K, width, height), = cameras
            write_json(tmp / "camera.json", {"cx": K[2], "cy": K[5], "fx": K[0], "fy": K[4], "width": width, "height": height, "depth_scale": 1.0})
        write_json(tmp / "dst3d_export.json", {
            "format": "bop", "dst3d": __version__, "split": SPLIT, "dataset_split": split,
            "objects": objects,
            "scenes": {f"{s:06d}": {"synset": syn, "class_name": names[syn], "images": len(cams[s])} for syn, s in scene_ids.items()},
            "images": records,
        })
    return out
