"""`dst3d export`: BOP and COCO round trips through small independent readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dst3d.pose.viewpoint import geodesic_error, project, viewpoint_to_rotation
from dst3d.store.shards import read_table


def _records(root: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_table(root).to_pylist()}


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
                out.append({
                    "scene": scene.name, "im_id": int(im_id), "rgb": scene / "rgb" / f"{int(im_id):06d}.png",
                    "K": np.array(cam["cam_K"]).reshape(3, 3), "depth_scale": cam["depth_scale"],
                    "R": np.array(gt["cam_R_m2c"]).reshape(3, 3), "t_mm": np.array(gt["cam_t_m2c"]), "obj_id": gt["obj_id"],
                    "bbox_obj": info["bbox_obj"], "bbox_visib": info["bbox_visib"], "visib_fract": info["visib_fract"],
                })
    return out


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
        assert obj["bbox_visib"] == [x0, y0, x1 - x0, y1 - y0]
        assert obj["visib_fract"] == pytest.approx(rec["visible_fraction"])
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

