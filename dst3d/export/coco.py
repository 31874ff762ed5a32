"""Export to COCO (detection + keypoints), with the pose of every object in its annotation.

Layout::

    images/<record id>.png
    annotations/instances_train.json   info, licenses, images, categories, annotations

One annotation per image (a dst3d sample shows one object). Categories are the synsets,
with the keypoint names the class's CAD models carry. Coordinates: ``bbox`` is
``[x, y, w, h]`` in pixel-edge coordinates (the record's ``[x0, y0, x1, y1]`` minus its
corner); keypoints use COCO's pixel-index convention (the centre of the top-left pixel is
(0, 0)), i.e. the record's continuous position minus 0.5, with v=2 visible, v=1 inside the
image but hidden by the object itself, and v=0 (0, 0, 0) outside the image or absent from the
object's CAD model. The pose fields (radians, object units, OpenCV camera) are copied as
they are in the dataset: azimuth, elevation, theta, distance, R, t, K.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .. import __version__
from ..progress import Progress
from ..store.shards import read_table
from .common import dataset_shards, iter_rows, staged_output, write_image, write_json

SPLIT = "train"
KEYPOINT_OFFSET = 0.5  # dataset position - COCO position
_ROW_COLUMNS = ["id", "index", "image", "synset", "class_name", "cad_id", "azimuth", "elevation", "theta", "distance",
                "R", "t", "K", "width", "height", "bbox", "visible_fraction", "keypoints"]


def _coco_keypoints(names: list[str], keypoints: list[dict], width: int, height: int) -> tuple[list[float], int]:
    by_name = {kp["name"]: kp for kp in keypoints or []}
    flat, labelled = [], 0
    for name in names:
        kp = by_name.get(name)
        if kp is None or not (0.0 <= kp["x"] < width and 0.0 <= kp["y"] < height):
            flat += [0.0, 0.0, 0]
            continue
        flat += [float(kp["x"]) - KEYPOINT_OFFSET, float(kp["y"]) - KEYPOINT_OFFSET, 2 if kp["visible"] else 1]
        labelled += 1
    return flat, labelled


def export_coco(root: Path, out: Path, split: str = "train", progress: bool = False) -> Path:
    root, out = Path(root), Path(out)
    dataset_shards(root, split)
    meta = read_table(root, columns=["synset", "class_name", "keypoints"], split=split)
    keypoint_names: dict[str, set] = defaultdict(set)
    names = {}
    for synset, name, kps in zip(meta["synset"].to_pylist(), meta["class_name"].to_pylist(), meta["keypoints"].to_pylist()):
        names[synset] = name
        keypoint_names[synset].update(kp["name"] for kp in kps or [])
    categories = []
    category_ids = {}
    for i, synset in enumerate(sorted(names), start=1):
        category_ids[synset] = i
        categories.append({"id": i, "name": names[synset].split(",")[0].strip(), "supercategory": "object", "synset": synset,
                           "class_name": names[synset], "keypoints": sorted(keypoint_names[synset]), "skeleton": []})
    kp_names = {c["synset"]: c["keypoints"] for c in categories}

    with staged_output(out) as tmp, Progress(progress, transient=True) as bars:
        advance = bars.task("exporting COCO", meta.num_rows, unit="img")
        (tmp / "images").mkdir()
        images, annotations, used = [], [], set()
        for row in iter_rows(root, _ROW_COLUMNS, split):
            image_id = len(images) + 1
            file_name = f"{row['id']}.png" if row["id"] and f"{row['id']}.png" not in used else f"{row['index']:08d}_{row['id']}.png"
            used.add(file_name)
            write_image(row["image"], tmp / "images" / file_name)
            images.append({"id": image_id, "file_name": file_name, "width": row["width"], "height": row["height"], "license": 1, "dst3d_id": row["id"]})
            x0, y0, x1, y1 = (float(v) for v in row["bbox"])
            w, h = max(x1 - x0, 0.0), max(y1 - y0, 0.0)
            keypoints, labelled = _coco_keypoints(kp_names[row["synset"]], row["keypoints"], row["width"], row["height"])
            annotations.append({
                "id": image_id, "image_id": image_id, "category_id": category_ids[row["synset"]],
                "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0,
                "keypoints": keypoints, "num_keypoints": labelled,
                "azimuth": row["azimuth"], "elevation": row["elevation"], "theta": row["theta"], "distance": row["distance"],
                "R": row["R"], "t": row["t"], "K": row["K"],
                "cad_id": row["cad_id"], "synset": row["synset"], "visible_fraction": row["visible_fraction"], "dst3d_id": row["id"],
            })
            advance()
        write_json(tmp / "annotations" / f"instances_{SPLIT}.json", {
            "info": {"description": "dst3d pose dataset (3D Diffusion Style Transfer), COCO export", "version": __version__,
                     "pose_convention": "PASCAL3D+ angles in radians; R, t object-to-camera (OpenCV camera), t and distance in object units (longest model side = 1)"},
            "licenses": [{"id": 1, "name": "see the dataset card", "url": ""}],
            "images": images, "annotations": annotations, "categories": categories,
        }, compact=True)
    return out
