"""Export to the BOP format (https://github.com/thodan/bop_toolkit/blob/master/docs/bop_datasets_format.md).

Layout (one scene per class, scene ids in synset order)::

    camera.json                     the camera, when every image shares one K and size
    models/models_info.json         per obj_id: diameter, bounding box, symmetries (mm)
    models/obj_000001.ply ...       each CAD model, in mm
    train/000000/rgb/000000.png     the images
    train/000000/depth/000000.png   uint16 depth along the optical axis; mm = value * depth_scale, 0 = no object
    train/000000/mask/000000_000000.png        the object's silhouette inside the image (0/255)
    train/000000/mask_visib/000000_000000.png  its visible part (the same: one object, no occluder)
    train/000000/scene_camera.json  cam_K (pixel centres at integers, as BOP means it), depth_scale (per image)
    train/000000/scene_gt.json      cam_R_m2c (row-major), cam_t_m2c (mm), obj_id
    train/000000/scene_gt_info.json px_count_all/valid/visib, visib_fract, bbox_obj, bbox_visib ([x, y, w, h])
    dst3d_export.json               obj_id -> CAD model, scene -> class, image -> record id

Depth and masks are not stored in a dataset: they are re-rendered from the CAD model with
the renderer that made the record (same pose, K and size, so the masks are the ones the
record's ``bbox`` came from). ``scene_gt_info`` follows bop_toolkit's ``calc_gt_info``:
boxes are ``[x_min, y_min, x_max - x_min, y_max - y_min]`` over mask pixel indices, and for
an object that leaves the image, ``px_count_all`` and ``bbox_obj`` count the silhouette
beyond the border too (image-sized tiles around the image, as ``visible_fraction`` does;
bop_toolkit renders a 3x canvas, the same pixels). ``depth=False`` (``--no-depth``) skips the rendering:
no depth/mask images, no ``px_count_*``, boxes and ``visib_fract`` from the record.

Pixels: dst3d's K puts pixel edges at integers, BOP's pixel centres; ``cam_K`` and
``camera.json`` carry cx, cy minus 0.5 (``to_pixel_centres``), so rasterizing the exported
model at pixel centres with the exported camera gives the exported mask.

Units: a dataset model has longest side 1 unit, which is ``size_m`` metres of the real
object, so 1 unit = ``1000 * size_m`` mm. Both the translation and the exported model are
scaled by that factor, which leaves every projection unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .. import __version__
from ..cad.library import CadLibrary, CadModel
from ..errors import UserError
from ..pose.viewpoint import project, to_pixel_centres
from ..progress import Progress
from ..render.annotations import Silhouette, bbox_from_mask
from ..render.scene import Rerenderer
from ..store.dataset import open_dataset
from ..store.library import library_for
from ..store.record import Record
from .common import staged_output, write_image, write_json

SPLIT = "train"
DEPTH_MAX = 65535  # uint16
_COLUMNS = ["id", "index", "image", "synset", "class_name", "cad_id", "R", "t", "K", "width", "height", "bbox", "visible_fraction", "render"]


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


def _bop_box(x0: float, y0: float, x1: float, y1: float) -> list[int]:
    """bop_toolkit's ``calc_2d_bbox`` of the pixels in the pixel-edge box [x0, x1) x [y0, y1):
    ``[x_min, y_min, x_max - x_min, y_max - y_min]`` over pixel indices (one less than the
    pixel count per side); ``[-1, -1, -1, -1]`` when the box holds no pixel."""
    if x1 <= x0 or y1 <= y0:
        return [-1, -1, -1, -1]
    x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
    return [x0, y0, x1 - 1 - x0, y1 - 1 - y0]


def depth_scale_for(max_mm: float) -> float:
    """The finest of 0.1, 0.2, 0.5, 1, 2, 5, 10, ... mm per depth unit that keeps ``max_mm``
    within uint16: a car at 15 m and a mug at 30 cm both keep >= 26k depth levels."""
    exponent = -1
    while True:
        for mantissa in (1, 2, 5):
            scale = float(f"{mantissa}e{exponent}")
            if max_mm / scale <= DEPTH_MAX:
                return scale
        exponent += 1


def encode_depth(depth_mm: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """BOP depth image (uint16, mm / depth_scale) and its depth_scale; 0 exactly off the mask."""
    scale = depth_scale_for(float(depth_mm[mask].max(initial=0.0)))
    out = np.zeros(depth_mm.shape, np.uint16)
    out[mask] = np.clip(np.rint(depth_mm[mask] / scale), 1, DEPTH_MAX)
    return out, scale


def gt_info(mask: np.ndarray, depth: np.ndarray, silhouette: Silhouette) -> dict:
    """A ``scene_gt_info`` entry as bop_toolkit's ``calc_gt_info`` computes it. With one object
    and no sensor noise the visible mask is the silhouette's part inside the image."""
    px = int(mask.sum())
    visible = px > 0 and silhouette.bbox is not None  # bop_toolkit keeps [-1, -1, -1, -1] for an invisible object
    return {"bbox_obj": _bop_box(*silhouette.bbox) if visible else [-1, -1, -1, -1], "bbox_visib": _bop_box(*bbox_from_mask(mask)),
            "px_count_all": silhouette.pixels, "px_count_valid": int((depth[mask] > 0).sum()), "px_count_visib": px,
            "visib_fract": px / silhouette.pixels if silhouette.pixels else 0.0}


def _record_gt_info(record: Record, vertices: np.ndarray) -> dict:
    """``scene_gt_info`` without rendering (``--no-depth``): the record's box and visible fraction,
    and the projected model's box as ``bbox_obj`` when the object leaves the image (boxes are
    pixel indices, the same in both pixel conventions; the projection uses the record's K)."""
    visib = _bop_box(*record.bbox)
    full = visib
    if 0.0 < record.visible_fraction < 1.0:  # 0: bop_toolkit keeps [-1, -1, -1, -1]
        uv, z = project(vertices, record.R, record.t, record.K)
        uv = uv[z > 0]
        full = _bop_box(np.floor(uv[:, 0].min()), np.floor(uv[:, 1].min()), np.ceil(uv[:, 0].max()), np.ceil(uv[:, 1].max())) if len(uv) else [-1, -1, -1, -1]
    return {"bbox_obj": full, "bbox_visib": visib, "visib_fract": float(record.visible_fraction)}


def _write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise UserError(f"cannot encode {path.name} as PNG")
    path.write_bytes(buf.tobytes())


def write_depth_and_masks(folder: Path, im_id: int, depth_mm: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """A scene's depth/, mask/ and mask_visib/ images of one single-object image (gt id 0:
    with no occluder the visible mask is the silhouette); returns the depth image and its scale."""
    depth_image, scale = encode_depth(depth_mm, mask)
    _write_png(folder / "depth" / f"{im_id:06d}.png", depth_image)
    silhouette = mask.astype(np.uint8) * 255
    _write_png(folder / "mask" / f"{im_id:06d}_000000.png", silhouette)
    _write_png(folder / "mask_visib" / f"{im_id:06d}_000000.png", silhouette)
    return depth_image, scale


def export_bop(root: Path, out: Path, cad_library: Path | None = None, split: str = "train", depth: bool = True, progress: bool = False) -> Path:
    """Write ``split`` of the dataset in ``root`` as a BOP dataset in ``out``; ``depth=False``
    skips re-rendering depth and masks (the only costly step). File names are indices only."""
    dataset = open_dataset(root, split)
    meta = dataset.table(["synset", "class_name", "cad_id", "render"])
    # before the output folder exists: the CAD models must be the rendered ones
    library = library_for(dataset, None, cad_library)

    models = {cad_id: library.model(cad_id) for cad_id in sorted(set(meta["cad_id"].to_pylist()))}
    obj_ids = {cad_id: i + 1 for i, cad_id in enumerate(sorted(models))}
    names = dict(zip(meta["synset"].to_pylist(), meta["class_name"].to_pylist()))
    scene_ids = {synset: i for i, synset in enumerate(sorted(names))}

    with staged_output(Path(out)) as tmp, Progress(progress, transient=True) as bars, Rerenderer(library) as rerenderer:
        advance = bars.task("exporting BOP", meta.num_rows, unit="img")
        info, mm_per_unit, vertices_units = {}, {}, {}
        objects = {}
        (tmp / "models").mkdir()
        for cad_id, obj_id in obj_ids.items():
            synset, model = models[cad_id]
            vertices, faces = _merged(library, model)
            scale = 1000.0 * model.size_m
            mm_per_unit[cad_id] = scale
            vertices_units[cad_id] = vertices
            import trimesh

            normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
            v_mm = vertices * scale
            write_ply(tmp / "models" / f"obj_{obj_id:06d}.ply", v_mm, faces, normals)
            lo, hi = v_mm.min(axis=0), v_mm.max(axis=0)
            info[str(obj_id)] = {"diameter": _diameter(v_mm), "min_x": lo[0], "min_y": lo[1], "min_z": lo[2],
                                 "size_x": hi[0] - lo[0], "size_y": hi[1] - lo[1], "size_z": hi[2] - lo[2], **_symmetries(model)}
            objects[str(obj_id)] = {"cad_id": cad_id, "synset": synset, "class_name": names.get(synset, library.manifest.classes[synset].name),
                                    "source": model.source, "license": model.license, "size_m": model.size_m, "mm_per_unit": scale}
        write_json(tmp / "models" / "models_info.json", {k: {n: float(v) if isinstance(v, (np.floating, float)) else v for n, v in d.items()} for k, d in info.items()})

        cams, gts, gt_infos = defaultdict(dict), defaultdict(dict), defaultdict(dict)
        records = defaultdict(dict)
        cameras, depth_scales = set(), set()
        for record in dataset.records(_COLUMNS):
            scene = scene_ids[record.synset]
            im_id = len(cams[scene])
            folder = tmp / SPLIT / f"{scene:06d}"
            (folder / "rgb").mkdir(parents=True, exist_ok=True)
            write_image(record.image, folder / "rgb" / f"{im_id:06d}.png", f"the image of record {record.id}")
            cad_id = record.cad_id
            if not depth:
                scale, entry = 1.0, _record_gt_info(record, vertices_units[cad_id])
            else:
                posed = rerenderer.view(record)
                depth_mm = np.where(posed.mask, posed.render.depth.astype(np.float64), 0.0) * mm_per_unit[cad_id]
                depth_image, scale = write_depth_and_masks(folder, im_id, depth_mm, posed.mask)
                entry = gt_info(posed.mask, depth_image, posed.full_silhouette())
            K_bop = to_pixel_centres(record.K)  # BOP puts pixel centres at integers, dst3d pixel edges
            cams[scene][str(im_id)] = {"cam_K": K_bop.reshape(-1).tolist(), "depth_scale": scale}
            gts[scene][str(im_id)] = [{"cam_R_m2c": record.R.reshape(-1).tolist(), "cam_t_m2c": (record.t * mm_per_unit[cad_id]).tolist(), "obj_id": obj_ids[cad_id]}]
            gt_infos[scene][str(im_id)] = [entry]
            records[f"{scene:06d}"][str(im_id)] = {"id": record.id, "index": record.index, "cad_id": cad_id}
            cameras.add((tuple(K_bop.reshape(-1).tolist()), record.width, record.height))
            depth_scales.add(scale)
            advance()

        for scene in cams:
            folder = tmp / SPLIT / f"{scene:06d}"
            write_json(folder / "scene_camera.json", cams[scene])
            write_json(folder / "scene_gt.json", gts[scene])
            write_json(folder / "scene_gt_info.json", gt_infos[scene])
        if len(cameras) == 1:
            (K, width, height), = cameras
            shared = {"depth_scale": depth_scales.pop()} if len(depth_scales) == 1 else {}  # else per image only
            write_json(tmp / "camera.json", {"cx": K[2], "cy": K[5], "fx": K[0], "fy": K[4], "width": width, "height": height, **shared})
        write_json(tmp / "dst3d_export.json", {
            "format": "bop", "dst3d": __version__, "split": SPLIT, "dataset_split": split, "depth": depth,
            "pixel_convention": "cam_K and camera.json: pixel centres at integers (BOP, OpenCV): cx, cy = dst3d's - 0.5",
            "objects": objects,
            "scenes": {f"{s:06d}": {"synset": syn, "class_name": names[syn], "images": len(cams[s])} for syn, s in scene_ids.items()},
            "images": records,
        })
    return Path(out)
