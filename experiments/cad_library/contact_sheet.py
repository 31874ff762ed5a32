"""Contact sheet of the shipped CAD library: one canonical view of every model, a row per class.

Why: the parametric generator is checked by tests for geometry, but only a look tells whether a
model reads as its class and faces -Y. The view is azimuth 30, elevation 20 (the front, -Y, turned
a little toward the object's left, +X); clay shading, as the edge maps are made from.

    PYOPENGL_PLATFORM=egl python experiments/cad_library/contact_sheet.py [--out PNG] [--tile 112]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from dst3d.cad.library import CadLibrary
from dst3d.pose.viewpoint import Viewpoint, intrinsics
from dst3d.render.renderer import Renderer

HERE = Path(__file__).resolve().parent


def tile(lib: CadLibrary, model, size: int, azimuth: float = 30.0, elevation: float = 20.0) -> np.ndarray:
    """One clay render with the model's id; the bounding sphere fits the tile."""
    parts = lib.load_parts(model)
    radius = max(float(np.linalg.norm(p.vertices, axis=1).max()) for p in parts)
    distance = 3.0
    K = intrinsics(size, size, size / 2 * (distance - radius) / radius * 0.9)
    vp = Viewpoint(np.deg2rad(azimuth), np.deg2rad(elevation), 0.0, distance)
    with Renderer(parts, size, size) as renderer:
        image = cv2.cvtColor(renderer.render(vp.rotation(), vp.translation(), K).clay(), cv2.COLOR_GRAY2BGR)
    cv2.putText(image, model.id, (3, size - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 160), 1, cv2.LINE_AA)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "contact_sheet.png")
    parser.add_argument("--tile", type=int, default=112)
    parser.add_argument("--per-row", type=int, default=2, help="classes per row of the sheet")
    args = parser.parse_args()
    lib = CadLibrary()
    blocks = []
    width = max(len(c.models) for c in lib.manifest.classes.values())
    for synset, cls in lib.manifest.classes.items():
        tiles = [tile(lib, m, args.tile) for m in cls.models]
        tiles += [np.full_like(tiles[0], 255)] * (width - len(tiles))
        label = np.full((16, args.tile * width, 3), 235, np.uint8)
        cv2.putText(label, f"{cls.name} ({synset})", (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        blocks.append(np.vstack([label, np.hstack(tiles)]))
    gap = np.full((blocks[0].shape[0], 8, 3), 255, np.uint8)
    rows = []
    for k in range(0, len(blocks), args.per_row):
        row = blocks[k:k + args.per_row]
        row += [np.full_like(blocks[0], 255)] * (args.per_row - len(row))
        rows.append(np.hstack([x for b in row for x in (b, gap)][:-1]))
    sheet = np.vstack(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {sum(len(c.models) for c in lib.manifest.classes.values())} models, {len(lib.manifest.classes)} classes, {sheet.shape[1]}x{sheet.shape[0]} px")


if __name__ == "__main__":
    main()
