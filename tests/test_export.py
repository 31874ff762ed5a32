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


# --- readers: only the published format descriptions, nothing from dst3d.export ----------------
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
    from dst3d.export import export

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
        np.testing.assert_array_equal(obj["K"], np.array(rec["K"]))
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
            assert np.abs(np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]) - rec["bbox"]).max() < 1.5
            assert obj["bbox_obj"] == obj["bbox_visib"]
    assert {int(k) for k in info} == {o["obj_id"] for o in objects}
    for obj_id, entry in info.items():
        assert entry["diameter"] >= max(entry["size_x"], entry["size_y"], entry["size_z"]) - 1e-6
        assert mapping["objects"][obj_id]["mm_per_unit"] == pytest.approx(max(entry["size_x"], entry["size_y"], entry["size_z"]), rel=1e-6)
    camera = json.loads((bop / "camera.json").read_text())
    assert camera["fx"] == objects[0]["K"][0, 0] and camera["width"] == records[next(iter(records))]["width"]


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
    camera = json.loads((bop / "camera.json").read_text())
    assert camera.get("depth_scale") == (scales.pop() if len(scales) == 1 else None)


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
    from dst3d.export import export

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
        assert obj["visib_fract"] == pytest.approx(obj["px_count_visib"] / full, abs=0.02) and obj["visib_fract"] < 0.99
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
    from dst3d.export import export

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
    with pytest.raises(UserError, match="differs from the one the dataset was rendered with"):
        export(small_dataset, "bop", tmp_path / "out", cad_library=copy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["library"]  # nothing written


# --- COCO -----------------------------------------------------------------------------------------
def test_coco_round_trip(small_dataset, tmp_path):
    from dst3d.export import export

    out = export(small_dataset, "coco", tmp_path / "coco")
    records = _records(small_dataset)
    data, images, categories = read_coco(out)
    assert len(data["annotations"]) == len(records) == len(images)
    assert {c["synset"] for c in categories.values()} == {r["synset"] for r in records.values()}
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
        np.testing.assert_array_equal(np.array(ann["K"]), np.array(rec["K"]))
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
    from dst3d.export import export

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

    from dst3d.export import export
    from dst3d.store.shards import write_shard

    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    kept = read_table(small_dataset).to_pylist()[::3]
    write_shard(data, 0, 1, kept, split="filtered")
    coco, _, _ = read_coco(export(data, "coco", tmp_path / "coco", split="filtered"))
    assert [a["dst3d_id"] for a in coco["annotations"]] == [r["id"] for r in kept]

