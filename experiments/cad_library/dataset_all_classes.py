"""A dataset over every class of the shipped CAD library, and one sample per class on one sheet.

Why: `dst3d cad list` shows the library exists; this shows it generates: every class renders with
its pose label, keypoints and Canny control. One sample per class, picked so all five designs of a
class appear across the sheet (the PASCAL3D+ twelve show their newest designs, models 03 and 04).

    PYOPENGL_PLATFORM=egl python experiments/cad_library/dataset_all_classes.py [--work DIR] [--out PNG]

It runs `dst3d generate --classes cad --per-class 5 --size 128 --seed 0` into DIR (render backend,
offline, about 10 s here) and draws the picked rows with dst3d.viz's contact-sheet tiles.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from dst3d.store.dataset import open_dataset
from dst3d.viz.inspect import contact_sheet

HERE = Path(__file__).resolve().parent
PASCAL = {"aeroplane", "bicycle", "boat", "bottle", "bus", "car", "chair", "diningtable", "motorbike", "sofa", "train", "tvmonitor"}
COLUMNS = ["image", "control", "class_name", "cad_id", "azimuth", "elevation", "theta", "R", "t", "K", "keypoints", "bbox"]


def wanted_model(prefix: str, order: int) -> int:
    """Which model of a class to show: 03/04 alternating for the PASCAL3D+ twelve, else cycling 0-4."""
    return 3 + order % 2 if prefix in PASCAL else order % 5


def pick_rows(root: Path) -> list[dict]:
    """One row per class (in the dataset's class order), the wanted model when it was sampled."""
    rows = open_dataset(root).table(columns=COLUMNS).to_pylist()
    by_class: dict[str, list[dict]] = {}
    for row in rows:
        by_class.setdefault(row["class_name"], []).append(row)
    picked = []
    for order, (_, candidates) in enumerate(by_class.items()):
        prefix = candidates[0]["cad_id"].rsplit("_", 1)[0]
        index = wanted_model(prefix, order)
        exact = [r for r in candidates if r["cad_id"] == f"{prefix}_{index:02d}"]
        picked.append((exact or candidates)[0])
    for row in picked:  # the tile reads arrays
        for key in ("R", "K"):
            row[key] = np.asarray(row[key], float).reshape(3, 3)
        row["t"] = np.asarray(row["t"], float)
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="dataset folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=HERE / "dataset_all_classes.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp) / "all_classes"
        if not (work / "data").is_dir():
            subprocess.run([sys.executable, "-m", "dst3d", "generate", "--classes", "cad", "--per-class", "5", "--size", "128",
                            "--seed", "0", "--out", str(work)], check=True)
        rows = pick_rows(work)
        sheet = contact_sheet(rows, size=128, columns=5)
    cv2.imwrite(str(args.out), np.ascontiguousarray(sheet[..., ::-1]))
    print(f"{args.out}: {len(rows)} classes, {sheet.shape[1]}x{sheet.shape[0]} px")


if __name__ == "__main__":
    main()
