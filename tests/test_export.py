"""`dst3d export`: BOP and COCO round trips through small independent readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dst3d.pose.viewpoint import geodesic_error, project, viewpoint_to_rotation
from dst3d.store.dataset import open_dataset


def read_table(root: Path, columns: list[str] | None = None, split: str = "train"):
    return open_dataset(root, split).table(columns)


def _records(root: Path) -> dict[str, dict]:
    return _records_split(root, "train")


def _records_split(root: Path, split: str) -> dict[str, dict]:
    return {r["id"]: r for r in read_table(root, split=split).to_pylist()}


# --- readers: only the published format descriptions, nothing from dst3d.exporters ----------------
def read_bop(folder: Path, split: str = "train") -> list[dict]:
    """Every ground-truth object of a BOP split: pose in mm, K, boxes, image path, obj_id."""
    out = []
    for scene in sorted((folder / split).iterdir()):
        cams = json.loads((scene / "scene_camera.json").read_text())
        gts = json.loads((scene / "scene_gt.json").read_text())
        infos = json.loads((scene / "scene_gt_info.json").read_text())
        for im_id, cam in cams.items():
            for gt, info in zip(gts[im_id], infos[im_id]):
                gt_id = len([o for o in out if o["scene"] == scene.name and o["im_id"] == int(im_id)])
                out.append({
                    "scene": scene.name, "im_id": int(im_id), "rgb": scene / "rgb" / f"{int(im_id):06d}.png",
                    "depth": scene / "depth" / f"{int(im_id):06d}.png",
                    "mask": scene / "mask" / f"{int(im_id):06d}_{gt_id:06d}.png",
                    "mask_visib": scene / "mask_visib" / f"{int(im_id):06d}_{gt_id:06d}.png",
                    "K": np.array(cam["cam_K"]).reshape(3, 3), "depth_scale": cam["depth_scale"],
                    "R": np.array(gt["cam_R_m2c"]).reshape(3, 3), "t_mm": np.array(gt["cam_t_m2c"]), "obj_id": gt["obj_id"],
                    **info,  # bbox_obj, bbox_visib, visib_fract, px_count_* (when exported)
                })
    return out


def read_png(path: Path) -> np.ndarray:
    """A BOP depth (uint16) or mask (uint8) image, exactly as stored."""
    from PIL import Image

    with Image.open(path) as image:
        return np.array(image)


def calc_2d_bbox(mask: np.ndarray) -> list[int]:
    """bop_toolkit's box of a mask: [x_min, y_min, x_max - x_min, y_max - y_min] over pixel indices."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [-1, -1, -1, -1]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min())]


def near_record_box(box: list[int], rec_bbox: list[float], tol: float = 1.0) -> bool:
    """A BOP box within ``tol`` px of the record's pixel-edge box as [x, y, w, h]."""
    x0, y0, x1, y1 = rec_bbox
    return bool(np.abs(np.array(box) - [x0, y0, x1 - x0, y1 - y0]).max() <= tol)


def read_ply_vertices(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    n = next(int(line.split()[-1]) for line in lines if line.startswith("element vertex"))
    start = lines.index("end_header") + 1
    return np.array([[float(v) for v in line.split()[:3]] for line in lines[start : start + n]])


def read_coco(folder: Path) -> tuple[dict, dict, dict]:
    data = json.loads((folder / "annotations" / "instances_train.json").read_text())
    images = {im["id"]: im for im in data["images"]}
    categories = {c["id"]: c for c in data["categories"]}
    return data, images, categories


# --- BOP ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bop(small_dataset, tmp_path_factory) -> Path:
    from dst3d.exporters import export

    return export(small_dataset, "bop", tmp_path_factory.mktemp("bop") / "bop")


def test_bop_round_trip(small_dataset, bop):
    records = _records(small_dataset)
    mapping = json.loads((bop / "dst3d_export.json").read_text())
    info = json.loads((bop / "models" / "models_info.json").read_text())
    objects = read_bop(bop)
    assert len(objects) == len(records)
    assert len({o["scene"] for o in objects}) == len({r["synset"] for r in records.values()})  # one scene per class
    models = {}
    for obj in objects:
        rec = records[mapping["images"][obj["scene"]][str(obj["im_id"])]["id"]]
        # 1 unit = the model's longest side: the mm scale comes from the exported model itself
        mm_per_unit = max(info[str(obj["obj_id"])][k] for k in ("size_x", "size_y", "size_z"))
        assert geodesic_error(obj["R"], np.array(rec["R"])) < 1e-6
        np.testing.assert_allclose(obj["t_mm"] / mm_per_unit, rec["t"], rtol=1e-6, atol=1e-9)
        # BOP puts pixel centres at integers, dst3d pixel edges: cx, cy are half a pixel less
        np.testing.assert_array_equal(obj["K"], np.array(rec["K"]) - [[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])
        x0, y0, x1, y1 = rec["bbox"]
        assert obj["bbox_visib"] == [x0, y0, x1 - x0 - 1, y1 - y0 - 1]  # bop_toolkit: last pixel index - first
        assert obj["visib_fract"] == pytest.approx(rec["visible_fraction"], abs=0.01)
        assert obj["depth_scale"] > 0
        assert obj["rgb"].read_bytes() == rec["image"]["bytes"]
        # the mm model under the mm pose lands where the object is in the image
        ply = bop / "models" / f"obj_{obj['obj_id']:06d}.ply"
        vertices = models.setdefault(ply, read_ply_vertices(ply))
        uv, z = project(vertices, obj["R"], obj["t_mm"], obj["K"])
        assert (z > 0).all()
        if rec["visible_fraction"] >= 1.0:
            # pixel centres at integers: the centres of the first and last mask pixels (bop_toolkit's
            # box [x, y, x + w, y + h]) lie inside the projected model's extent, near its edges
            x, y, w, h = obj["bbox_visib"]
            lo, hi = uv.min(axis=0), uv.max(axis=0)
            assert (lo <= [x + 1e-9, y + 1e-9]).all() and (hi >= [x + w - 1e-9, y + h - 1e-9]).all()
            assert np.abs(np.concatenate([lo, hi]) - [x, y, x + w, y + h]).max() < 2.0  # thin parts may cover no centre
            assert obj["bbox_obj"] == obj["bbox_visib"]
    assert {int(k) for k in info} == {o["obj_id"] for o in objects}
    for obj_id, entry in info.items():
        assert entry["diameter"] >= max(entry["size_x"], entry["size_y"], entry["size_z"]) - 1e-6
        assert mapping["objects"][obj_id]["mm_per_unit"] == pytest.approx(max(entry["size_x"], entry["size_y"], entry["size_z"]), rel=1e-6)
    camera = json.loads((bop / "camera.json").read_text())
    assert camera["fx"] == objects[0]["K"][0, 0] and camera["width"] == records[next(iter(records))]["width"]
    rec = next(iter(records.values()))
    assert (camera["cx"], camera["cy"]) == (rec["K"][0][2] - 0.5, rec["K"][1][2] - 0.5)


def _library(root: Path):
    from dst3d.cad.library import CadLibrary

    return CadLibrary(json.loads((root / "dst3d_job.json").read_text())["job"].get("cad_library"))


def _cad_mesh(root: Path, cad_id: str):
    """The record's CAD model in dataset units (longest side 1), straight from the dataset's library."""
    import trimesh

    library = _library(root)
    _, model = library.model(cad_id)
    return trimesh.util.concatenate(library.load_parts(model))


def test_bop_depth_and_masks(small_dataset, bop):
    """Depth and masks re-rendered from the CAD model: consistent with each other, with the
    record's box and visible fraction, and the depth lies on the model's surface."""
    import trimesh

    records = _records(small_dataset)
    mapping = json.loads((bop / "dst3d_export.json").read_text())
    info = json.loads((bop / "models" / "models_info.json").read_text())
    rng = np.random.default_rng(0)
    meshes = {}
    scales = set()
    for obj in read_bop(bop):
        rec = records[mapping["images"][obj["scene"]][str(obj["im_id"])]["id"]]
        depth, mask, visib = read_png(obj["depth"]), read_png(obj["mask"]), read_png(obj["mask_visib"])
        assert depth.dtype == np.uint16 and mask.dtype == visib.dtype == np.uint8
        assert depth.shape == mask.shape == (rec["height"], rec["width"])
        assert set(np.unique(mask)) == {0, 255}
        np.testing.assert_array_equal(mask > 0, depth > 0)
        np.testing.assert_array_equal(mask, visib)  # one object, nothing occludes it
        # gt_info from the masks, as bop_toolkit's calc_gt_info defines it
        assert obj["px_count_visib"] == obj["px_count_valid"] == int((visib > 0).sum())
        assert obj["px_count_all"] >= obj["px_count_visib"] > 0
        assert obj["visib_fract"] == pytest.approx(obj["px_count_visib"] / obj["px_count_all"])
        assert obj["visib_fract"] == pytest.approx(rec["visible_fraction"], abs=0.01)
        assert obj["bbox_visib"] == calc_2d_bbox(visib)
        assert near_record_box(obj["bbox_visib"], rec["bbox"])
        if rec["visible_fraction"] >= 1.0:
            assert obj["bbox_obj"] == obj["bbox_visib"] and obj["px_count_all"] == obj["px_count_visib"]
        assert obj["depth_scale"] > 0
        scales.add(obj["depth_scale"])
        # back-project a sample of mask pixels (centres at +0.5, the dataset's pixel-edge
        # convention) in dataset units with the record's K, R, t: points on the CAD surface
        mm_per_unit = max(info[str(obj["obj_id"])][k] for k in ("size_x", "size_y", "size_z"))
        rows, cols = np.nonzero(mask)
        pick = rng.choice(len(rows), min(40, len(rows)), replace=False)
        rows, cols = rows[pick], cols[pick]
        z = depth[rows, cols] * obj["depth_scale"] / mm_per_unit
        K, R, t = np.array(rec["K"]), np.array(rec["R"]), np.array(rec["t"])
        cam = np.stack([(cols + 0.5 - K[0, 2]) * z / K[0, 0], (rows + 0.5 - K[1, 2]) * z / K[1, 1], z], axis=1)
        points = (cam - t) @ R  # R^T (X - t), row-wise
        mesh = meshes.setdefault(rec["cad_id"], _cad_mesh(small_dataset, rec["cad_id"]))
        _, distance, _ = trimesh.proximity.closest_point_naive(mesh, points)
        assert distance.max() < 1e-3, (rec["id"], distance.max())  # model size = 1 unit
        # the same as a BOP reader does it: pixel (col, row) centred at (col, row) in cam_K, mm,
        # cam_R_m2c / cam_t_m2c, onto the exported PLY model
        z_mm = depth[rows, cols] * obj["depth_scale"]
        K = obj["K"]
        cam = np.stack([(cols - K[0, 2]) * z_mm / K[0, 0], (rows - K[1, 2]) * z_mm / K[1, 1], z_mm], axis=1)
        ply = bop / "models" / f"obj_{obj['obj_id']:06d}.ply"
        model_mm = meshes.setdefault(ply, trimesh.Trimesh(*read_ply(ply), process=False))
        _, distance, _ = trimesh.proximity.closest_point_naive(model_mm, (cam - obj["t_mm"]) @ obj["R"])
        assert distance.max() < 1e-3 * mm_per_unit, (rec["id"], distance.max())
    camera = json.loads((bop / "camera.json").read_text())
    assert camera.get("depth_scale") == (scales.pop() if len(scales) == 1 else None)


def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and triangles of an ASCII PLY as the BOP export writes it (bop_toolkit's layout)."""
    lines = path.read_text().splitlines()
    n_v = next(int(line.split()[-1]) for line in lines if line.startswith("element vertex"))
    n_f = next(int(line.split()[-1]) for line in lines if line.startswith("element face"))
    start = lines.index("end_header") + 1
    vertices = np.array([[float(v) for v in line.split()[:3]] for line in lines[start : start + n_v]])
    faces = np.array([[int(v) for v in line.split()[1:4]] for line in lines[start + n_v : start + n_v + n_f]])
    return vertices, faces


def rasterize_at_pixel_centres(vertices_mm: np.ndarray, faces: np.ndarray, R: np.ndarray, t_mm: np.ndarray, K: np.ndarray,
                               width: int, height: int) -> np.ndarray:
    """The silhouette as a BOP/OpenCV reader computes it, independent of dst3d's renderer:
    project with K (u = fx X/Z + cx, pixel (i, j) centred at (i, j)) and mark every pixel whose
    centre lies in a projected triangle (edge-function point-in-triangle test, either winding)."""
    cam = vertices_mm @ R.T + t_mm
    assert (cam[:, 2] > 0).all()
    uv = (cam @ K.T)[:, :2] / cam[:, 2:3]
    mask = np.zeros((height, width), bool)
    for a, b, c in uv[faces]:
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if area == 0.0:
            continue
        lo, hi = np.minimum(np.minimum(a, b), c), np.maximum(np.maximum(a, b), c)
        i0, j0 = max(int(np.ceil(lo[0])), 0), max(int(np.ceil(lo[1])), 0)
        i1, j1 = min(int(np.floor(hi[0])), width - 1), min(int(np.floor(hi[1])), height - 1)
        if i1 < i0 or j1 < j0:
            continue
        x, y = np.meshgrid(np.arange(i0, i1 + 1, dtype=np.float64), np.arange(j0, j1 + 1, dtype=np.float64))
        w = [(q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]) for p, q in ((a, b), (b, c), (c, a))]
        hit = (w[0] >= 0) & (w[1] >= 0) & (w[2] >= 0) if area > 0 else (w[0] <= 0) & (w[1] <= 0) & (w[2] <= 0)
        mask[j0 : j1 + 1, i0 : i1 + 1] |= hit
    return mask


def boundary_offset(bop: Path, shift: float = 0.0) -> tuple[float, np.ndarray, int]:
    """How far the exported masks lie from the silhouettes of the exported PLY models at the
    exported cam_R_m2c, cam_t_m2c, cam_K (cx, cy moved by ``shift``), rasterized independently.
    Returns the mean distance between the two boundaries in px (pixels that differ / boundary
    length, pooled over the images), the mean signed centroid offset (raster - mask, px) and
    the number of images used (objects that touch the image border are left out: there the
    border, not the model, bounds both)."""
    import cv2

    plys = {}
    differ = length = 0.0
    offsets = []
    for obj in read_bop(bop):
        mask = read_png(obj["mask"]) > 0
        if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
            continue
        ply = bop / "models" / f"obj_{obj['obj_id']:06d}.ply"
        vertices, faces = plys.setdefault(ply, read_ply(ply))
        K = obj["K"] + [[0, 0, shift], [0, 0, shift], [0, 0, 0]]
        raster = rasterize_at_pixel_centres(vertices, faces, obj["R"], obj["t_mm"], K, mask.shape[1], mask.shape[0])
        contours, _ = cv2.findContours(raster.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        length += sum(cv2.arcLength(c, True) for c in contours)
        differ += float((raster != mask).sum())
        (ry, rx), (my, mx) = (np.argwhere(m).mean(axis=0) for m in (raster, mask))
        offsets.append((rx - mx, ry - my))
    return differ / length, np.mean(offsets, axis=0), len(offsets)


def test_bop_masks_match_an_independent_rasterization(bop):
    """BOP puts pixel centres at integers: the exported models, rasterized at pixel centres with
    the exported camera, land on the exported masks (within 0.1 px on average). The camera dst3d
    uses internally (cx, cy + 0.5: pixel edges at integers) lands half a pixel off: this check
    catches an export that forgets the conversion."""
    distance, offset, n = boundary_offset(bop)
    assert n >= 10
    assert distance < 0.1 and np.abs(offset).max() < 0.05, (distance, offset)
    unconverted, offset_unconverted, _ = boundary_offset(bop, shift=+0.5)
    assert unconverted > 0.3 and (offset_unconverted > 0.3).all(), (unconverted, offset_unconverted)
    print(f"boundary distance {distance:.4f} px, centroid offset {offset.round(4)} px over {n} images; "
          f"unconverted K: {unconverted:.4f} px, offset {offset_unconverted.round(4)}")


@pytest.fixture(scope="module")
def truncated(small_dataset, tmp_path_factory) -> Path:
    """A `shifted` split: some records moved sideways so the object leaves the image (one
    entirely), with bbox and visible_fraction from the generator's own render_view."""
    import shutil

    from dst3d.render.scene import SceneCache, render_pose
    from dst3d.store.shards import write_shard

    data = tmp_path_factory.mktemp("truncated") / "data"
    shutil.copytree(small_dataset, data)
    rows = read_table(small_dataset).to_pylist()[::2]
    scenes = SceneCache(_library(small_dataset), rows[0]["width"], rows[0]["height"])
    shifts = [(0.9, 0.0), (-0.7, 0.4), (0.0, -1.0), (0.5, 0.5), (6.0, 0.0)]
    try:
        for i, row in enumerate(rows):
            dx, dy = shifts[i % len(shifts)]
            row["t"] = (np.array(row["t"]) + [dx, dy, 0.0]).tolist()
            row["id"] = f"{row['id']}-shifted"
            view = render_pose(scenes, row["cad_id"], np.array(row["R"]), np.array(row["t"]), np.array(row["K"]))
            row.update(bbox=view.annotations["bbox"], visible_fraction=view.annotations["visible_fraction"])
    finally:
        scenes.close()
    write_shard(data, 0, 1, rows, split="shifted")
    return data


def silhouette_pixels(mesh, R: np.ndarray, t: np.ndarray, K: np.ndarray, supersample: int = 8) -> int:
    """Pixels of the whole projected silhouette (inside the image or not) whose centre the
    model covers: triangles filled on a finer grid, read back at pixel centres. Independent of
    the GL renderer that makes both the export's counts and the record's ``visible_fraction``."""
    import cv2

    uv, z = project(mesh.vertices, R, t, K)
    assert (z > 0).all()
    tri = uv[mesh.faces]
    lo = np.floor(tri.reshape(-1, 2).min(axis=0)) - 1
    size = (np.ceil(tri.reshape(-1, 2).max(axis=0)) + 1 - lo).astype(int) * supersample
    canvas = np.zeros((size[1], size[0]), np.uint8)
    for triangle in np.round((tri - lo) * supersample * 16 - 8).astype(np.int32):  # 4 fractional bits
        cv2.fillConvexPoly(canvas, triangle, 1, lineType=cv2.LINE_8, shift=4)
    half = supersample // 2
    return int(canvas[half::supersample, half::supersample].sum())


def test_bop_truncated_objects(truncated, tmp_path):
    """Objects cut by the image border: bbox_obj covers the whole projected model (outside the
    image too), px_count_all counts the whole silhouette, bbox_visib only the visible part."""
    from dst3d.exporters import export

    out = export(truncated, "bop", tmp_path / "bop", split="shifted")
    records = _records_split(truncated, "shifted")
    mapping = json.loads((out / "dst3d_export.json").read_text())
    seen_cut = seen_gone = 0
    for obj in read_bop(out):
        rec = records[mapping["images"][obj["scene"]][str(obj["im_id"])]["id"]]
        mask = read_png(obj["mask"]) > 0
        np.testing.assert_array_equal(mask, read_png(obj["depth"]) > 0)
        assert obj["bbox_visib"] == calc_2d_bbox(mask)
        assert obj["px_count_visib"] == int(mask.sum())
        if rec["visible_fraction"] == 0.0:  # entirely outside: bop_toolkit's "invisible" values
            seen_gone += 1
            assert obj["bbox_visib"] == obj["bbox_obj"] == [-1, -1, -1, -1] and obj["visib_fract"] == 0.0
            continue
        assert near_record_box(obj["bbox_visib"], rec["bbox"])
        if rec["visible_fraction"] == 1.0:
            assert obj["visib_fract"] == 1.0 and obj["bbox_obj"] == obj["bbox_visib"]
            continue
        seen_cut += 1
        mesh = _cad_mesh(truncated, rec["cad_id"])
        R, t, K = np.array(rec["R"]), np.array(rec["t"]), np.array(rec["K"])
        full = silhouette_pixels(mesh, R, t, K)
        assert obj["px_count_all"] == pytest.approx(full, rel=0.04)
        # the reference raster (edges included, 8x supersampled) counts thin parts (chair legs) up to ~3%
        # fuller than GL's pixel-centre rule: the same 4% as px_count_all above
        assert obj["visib_fract"] == pytest.approx(obj["px_count_visib"] / full, rel=0.04) and obj["visib_fract"] < 0.99
        assert obj["visib_fract"] == pytest.approx(rec["visible_fraction"], abs=1e-6)  # the record's (float32), counted the same way
        # the full box: the projected model's extent, reaching outside the image
        uv, _ = project(mesh.vertices, R, t, K)
        x, y, w, h = obj["bbox_obj"]
        assert x < 0 or y < 0 or x + w >= rec["width"] or y + h >= rec["height"]
        np.testing.assert_allclose([x, y, x + w + 1, y + h + 1], [*uv.min(axis=0), *uv.max(axis=0)], atol=1.5)
        bx, by, bw, bh = obj["bbox_visib"]
        assert x <= bx and y <= by and x + w >= bx + bw and y + h >= by + bh
    assert seen_cut >= 3 and seen_gone >= 1


def test_bop_no_depth(cli, small_dataset, bop, tmp_path):
    """--no-depth: the same poses, boxes and visible fractions, without depth or mask images."""
    proc = cli("export", str(small_dataset), "--format", "bop", "--out", str(tmp_path / "bop"), "--no-depth", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    full = {(o["scene"], o["im_id"]): o for o in read_bop(bop)}
    objects = read_bop(tmp_path / "bop")
    assert len(objects) == len(full)
    for obj in objects:
        ref = full[(obj["scene"], obj["im_id"])]
        assert not obj["depth"].exists() and not obj["mask"].exists() and not obj["mask_visib"].exists()
        assert "px_count_all" not in obj
        assert obj["bbox_visib"] == ref["bbox_visib"] and obj["bbox_obj"] == ref["bbox_obj"]
        assert obj["visib_fract"] == pytest.approx(ref["visib_fract"], abs=0.01)
        np.testing.assert_array_equal(obj["t_mm"], ref["t_mm"])
    assert not list((tmp_path / "bop" / "train").glob("*/depth"))


def test_bop_refuses_a_different_cad_model(small_dataset, tmp_path):
    from dst3d.cad.library import CadLibrary
    from dst3d.errors import UserError
    from dst3d.exporters import export

    job = json.loads((small_dataset / "dst3d_job.json").read_text())["job"]
    library = CadLibrary(job.get("cad_library"))
    copy = tmp_path / "library"
    copy.mkdir()
    (copy / "manifest.json").write_text((library.root / "manifest.json").read_text())
    used = set(read_table(small_dataset, columns=["cad_id"])["cad_id"].to_pylist())
    for cad_id in used:
        _, model = library.model(cad_id)
        target = copy / model.mesh
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(library.mesh_path(model).read_bytes())
    _, model = library.model(sorted(used)[0])
    (copy / model.mesh).write_bytes((copy / model.mesh).read_bytes() + b"\n")  # same name, other content
    with pytest.raises(UserError, match="differs from the mesh the dataset was rendered with"):
        export(small_dataset, "bop", tmp_path / "out", cad_library=copy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["library"]  # nothing written


# --- COCO -----------------------------------------------------------------------------------------
def test_coco_round_trip(small_dataset, tmp_path):
    from dst3d.exporters import export

    out = export(small_dataset, "coco", tmp_path / "coco")
    records = _records(small_dataset)
    data, images, categories = read_coco(out)
    assert len(data["annotations"]) == len(records) == len(images)
    assert {c["synset"] for c in categories.values()} == {r["synset"] for r in records.values()}
    library = _library(small_dataset)
    cad_points = {}
    for cad_id in {r["cad_id"] for r in records.values()}:
        names, points = library.keypoints(library.model(cad_id)[1])  # the manifest's 3D keypoints
        cad_points.update({(cad_id, n): np.asarray(p, np.float64) for n, p in zip(names, points)})
    seen_keypoints = 0
    for ann in data["annotations"]:
        image = images[ann["image_id"]]
        rec = records[image["dst3d_id"]]
        category = categories[ann["category_id"]]
        assert category["synset"] == rec["synset"]
        assert (out / "images" / image["file_name"]).read_bytes() == rec["image"]["bytes"]
        assert (image["width"], image["height"]) == (rec["width"], rec["height"])
        x, y, w, h = ann["bbox"]
        assert [x, y, x + w, y + h] == pytest.approx(rec["bbox"])
        assert ann["area"] == pytest.approx(w * h) and ann["iscrowd"] == 0
        assert geodesic_error(np.array(ann["R"]), np.array(rec["R"])) < 1e-6
        assert geodesic_error(viewpoint_to_rotation(ann["azimuth"], ann["elevation"], ann["theta"]), np.array(rec["R"])) < 1e-6
        np.testing.assert_allclose(ann["t"], rec["t"], atol=1e-12)
        # K in COCO keypoints' convention (pixel centres at integers): cx, cy half a pixel less
        np.testing.assert_array_equal(np.array(ann["K"]), np.array(rec["K"]) - [[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])
        assert ann["distance"] == rec["distance"]
        # keypoints: [x, y, v] per category keypoint name, COCO pixel-index coordinates (+0.5 back)
        kps = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        assert len(kps) == len(category["keypoints"])
        by_name = {kp["name"]: kp for kp in rec["keypoints"]}
        for name, (kx, ky, v) in zip(category["keypoints"], kps):
            kp = by_name.get(name)
            inside = kp is not None and 0 <= kp["x"] < rec["width"] and 0 <= kp["y"] < rec["height"]
            if not inside:
                assert (kx, ky, v) == (0, 0, 0)
                continue
            assert v == (2 if kp["visible"] else 1)
            assert (kx + 0.5, ky + 0.5) == pytest.approx((kp["x"], kp["y"]), abs=1e-9)
            # and where the CAD model's keypoint projects with the annotation's own K, R, t
            uv = np.array(ann["K"]) @ (np.array(ann["R"]) @ cad_points[(rec["cad_id"], name)] + np.array(ann["t"]))
            assert (kx, ky) == pytest.approx(tuple(uv[:2] / uv[2]), abs=1e-4)
            seen_keypoints += 1
        assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
    assert seen_keypoints > 0, "the shipped CAD library has keypoints for some class"


# --- bad input ------------------------------------------------------------------------------------
def _one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0]


def test_bad_input_writes_nothing(cli, small_dataset, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    _one_line_error(cli("export", str(small_dataset), "--format", "coco", "--out", str(busy)), "not empty")
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]

    from dst3d.errors import UserError
    from dst3d.exporters import export

    with pytest.raises(UserError, match="unknown export format 'yolo'; choose one of: bop, coco"):
        export(small_dataset, "yolo", tmp_path / "a")
    for fmt in ("bop", "coco"):
        with pytest.raises(UserError, match="does not exist"):
            export(tmp_path / "missing", fmt, tmp_path / "b")
        with pytest.raises(UserError, match="not empty"):
            export(small_dataset, fmt, busy)
    with pytest.raises(UserError, match="no dataset shards"):
        export(small_dataset, "coco", tmp_path / "c", split="filtered")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_export_another_split(small_dataset, tmp_path):
    """A KCF `filtered` split exports like `train`."""
    import shutil

    from dst3d.exporters import export
    from dst3d.store.shards import write_shard

    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    kept = read_table(small_dataset).to_pylist()[::3]
    write_shard(data, 0, 1, kept, split="filtered")
    coco, _, _ = read_coco(export(data, "coco", tmp_path / "coco", split="filtered"))
    assert [a["dst3d_id"] for a in coco["annotations"]] == [r["id"] for r in kept]

