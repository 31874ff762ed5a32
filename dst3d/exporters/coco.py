"""Export to COCO (detection + keypoints), with the pose of every object in its annotation.

Layout::

    images/<record id>.png
    annotations/instances_train.json   info, licenses, images, categories, annotations

One annotation per image (a dst3d sample shows one object). Categories are the synsets,
with the keypoint names the class's CAD models carry. File names are the record ids, each
checked to be a plain file name (a dataset cannot name a path outside ``out``); a repeated
id gets its row position in front. Image cells must hold their bytes: a cell naming a local file is
refused, never read.

Coordinates (see docs/export.md): ``bbox`` is ``[x, y, w, h]`` in COCO's continuous
coordinates, pixel edges at integers as in dst3d (the record's ``[x0, y0, x1, y1]`` minus its
corner: ``pycocotools``' box of the mask). Keypoints use COCO's pixel-index convention (the
centre of the top-left pixel is (0, 0)), i.e. the record's position minus 0.5, with v=2
visible, v=1 inside the image but hidden by the object itself, and v=0 (0, 0, 0) outside the
image or absent from the object's CAD model. ``K`` is given in the same pixel-centre
convention (OpenCV's: cx, cy minus 0.5), so ``K (R X + t)`` lands on the keypoints as given
and ``cv2.solvePnP(keypoints, K)`` works unchanged. The other pose fields (radians, object
units, OpenCV camera axes) are copied: azimuth, elevation, theta, distance, R, t.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from .. import __version__
from ..pose.viewpoint import to_pixel_centres
from ..progress import Progress
from ..store.dataset import open_dataset
from ..store.record import Record
from .common import inside, safe_stem, staged_output, write_image, write_json

SPLIT = "train"
_COLUMNS = ["id", "index", "image", "synset", "class_name", "cad_id", "azimuth", "elevation", "theta", "distance",
            "R", "t", "K", "width", "height", "bbox", "visible_fraction", "keypoints"]


def coco_keypoints(names: list[str], keypoints: list[dict] | None, width: int, height: int) -> tuple[list[float], int]:
    """COCO's flat ``[x, y, v] * len(names)`` of a record's keypoints, and how many are labelled."""
    by_name = {kp["name"]: kp for kp in keypoints or []}
    flat, labelled = [], 0
    for name in names:
        kp = by_name.get(name)
        if kp is None or not (0.0 <= kp["x"] < width and 0.0 <= kp["y"] < height):
            flat += [0.0, 0.0, 0]
            continue
        x, y = to_pixel_centres(xy=(kp["x"], kp["y"]))
        flat += [x, y, 2 if kp["visible"] else 1]
        labelled += 1
    return flat, labelled


def _file_names(ids: list) -> list[str]:
    """``<id>.png`` per record (ids checked to be plain names); a repeated id gets its row
    position in front (``<position>_<id>.png``), never a name the dataset spells out."""
    names, used = [], set()
    for position, record_id in enumerate(ids):
        stem = safe_stem(record_id, "record id")
        name, n = f"{stem}.png", 0
        while name in used:
            name, n = f"{position:08d}{'_' * (n + 1)}{stem}.png", n + 1
        used.add(name)
        names.append(name)
    return names


def export_coco(root: Path, out: Path, split: str = "train", progress: bool = False) -> Path:
    """Write ``split`` of the dataset in ``root`` as a COCO dataset in ``out``."""
    dataset = open_dataset(root, split)
    meta = dataset.table(["id", "synset", "class_name", "keypoints"])
    file_names = _file_names(meta["id"].to_pylist())  # refused before out exists
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

    with staged_output(Path(out)) as tmp, Progress(progress, transient=True) as bars:
        advance = bars.task("exporting COCO", meta.num_rows, unit="img")
        (tmp / "images").mkdir()
        images, annotations = [], []
        for record, file_name in zip(dataset.records(_COLUMNS), file_names):
            image_id = len(images) + 1
            write_image(record.image, inside(tmp / "images", tmp / "images" / file_name), f"the image of record {record.id}")
            images.append({"id": image_id, "file_name": file_name, "width": record.width, "height": record.height, "license": 1, "dst3d_id": record.id})
            annotations.append(_annotation(record, image_id, category_ids[record.synset], kp_names[record.synset]))
            advance()
        write_json(tmp / "annotations" / f"instances_{SPLIT}.json", {
            "info": {"description": "dst3d pose dataset (3D Diffusion Style Transfer), COCO export", "version": __version__,
                     "pose_convention": "PASCAL3D+ angles in radians; R, t object-to-camera (OpenCV camera), t and distance in object units (longest model side = 1)",
                     "pixel_convention": "bbox: pixel edges at integers (COCO boxes); keypoints and K: pixel centres at integers (COCO keypoints, OpenCV)"},
            "licenses": [{"id": 1, "name": "see the dataset card", "url": ""}],
            "images": images, "annotations": annotations, "categories": categories,
        }, compact=True)
    return Path(out)


def _annotation(record: Record, image_id: int, category_id: int, keypoint_names: list[str]) -> dict:
    x0, y0, x1, y1 = (float(v) for v in record.bbox)
    w, h = max(x1 - x0, 0.0), max(y1 - y0, 0.0)
    keypoints, labelled = coco_keypoints(keypoint_names, record.keypoints, record.width, record.height)
    return {
        "id": image_id, "image_id": image_id, "category_id": category_id,
        "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0,
        "keypoints": keypoints, "num_keypoints": labelled,
        "azimuth": record.azimuth, "elevation": record.elevation, "theta": record.theta, "distance": record.distance,
        "R": record.R.tolist(), "t": record.t.tolist(), "K": to_pixel_centres(record.K).tolist(),
        "cad_id": record.cad_id, "synset": record.synset, "visible_fraction": record.visible_fraction, "dst3d_id": record.id,
    }
