"""Annotations computed from the same pose and buffers that made the image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..pose.viewpoint import project
from .renderer import RenderResult

KEYPOINT_DEPTH_TOLERANCE = 0.02  # object units (longest side = 1): a keypoint on the surface


def bbox_from_mask(mask: np.ndarray) -> list[float]:
    """[x0, y0, x1, y1] in pixel-edge coordinates (x1 = last column + 1); zeros if empty."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    rows = np.flatnonzero(mask.any(axis=1))
    return [float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)]


MAX_TILES = 2  # image sizes beyond each border counted towards a silhouette (bop_toolkit: 1)


@dataclass(frozen=True)
class Silhouette:
    """The object's whole silhouette on the image's pixel lattice, inside the image or not."""

    pixels: int  # pixel centres it covers
    bbox: tuple[int, int, int, int] | None  # [x0, y0, x1, y1] pixel edges in image coordinates; None: empty


def full_silhouette(result: RenderResult, render_at: Callable[[np.ndarray], RenderResult], vertices: np.ndarray) -> Silhouette:
    """Count the silhouette beyond the image border too, by rendering neighbouring tiles.

    A single object has no occluders, so only the border can hide it. Each tile beyond the
    border is an image-sized render with the principal point shifted by whole images
    (``render_at(K)``, same pose), so every pixel is sampled exactly as the GL rasterizer
    samples the image itself and the counts are exact, not a polygon estimate.
    """
    mask = result.mask
    h, w = mask.shape
    pixels, box = int(mask.sum()), _box(mask, 0, 0)
    for i, j in _tiles(result, vertices, w, h):
        K = np.array(result.K, dtype=np.float64)
        K[0, 2] -= i * w
        K[1, 2] -= j * h
        tile = render_at(K).mask
        pixels += int(tile.sum())
        box = _union(box, _box(tile, i * w, j * h))
    return Silhouette(pixels, box)


def visible_fraction(result: RenderResult, render_at: Callable[[np.ndarray], RenderResult], vertices: np.ndarray) -> float:
    """Share of the object's full silhouette that lies inside the image (BOP visib_fract)."""
    inside = int(result.mask.sum())
    if not inside or not _touches_border(result.mask):
        return float(inside > 0)  # skip the tiles: nothing visible, or nothing cut off
    return inside / full_silhouette(result, render_at, vertices).pixels


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _tiles(result: RenderResult, vertices: np.ndarray, w: int, h: int) -> list[tuple[int, int]]:
    """Image-sized tiles (column, row offsets in images) other than the image itself that the
    projected model may reach, at most MAX_TILES images beyond each border."""
    uv, z = project(vertices, result.R, result.t, result.K)
    reach = range(-MAX_TILES, MAX_TILES + 1)
    if (z <= 0).any():  # the model crosses the camera plane: its projection is unbounded
        cols = rows = reach
    else:
        cols = range(max(-MAX_TILES, int(np.floor(uv[:, 0].min() / w))), min(MAX_TILES, int(np.floor(uv[:, 0].max() / w))) + 1)
        rows = range(max(-MAX_TILES, int(np.floor(uv[:, 1].min() / h))), min(MAX_TILES, int(np.floor(uv[:, 1].max() / h))) + 1)
    return [(i, j) for j in rows for i in cols if (i, j) != (0, 0)]


def _box(mask: np.ndarray, x: int, y: int) -> tuple[int, int, int, int] | None:
    if not mask.any():
        return None
    x0, y0, x1, y1 = (int(v) for v in bbox_from_mask(mask))
    return (x0 + x, y0 + y, x1 + x, y1 + y)


def _union(a, b):
    if a is None or b is None:
        return a or b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def project_keypoints(result: RenderResult, names: list[str], points: np.ndarray) -> list[dict]:
    """Pixel position of each named keypoint, visible when inside the image and not hidden
    behind the object's own surface (depth test against the rendered depth)."""
    if not names:
        return []
    uv, z = project(points, result.R, result.t, result.K)
    h, w = result.shape
    out = []
    for name, (u, v), depth in zip(names, uv, z):
        col, row = int(np.floor(u)), int(np.floor(v))
        inside = depth > 0 and 0 <= col < w and 0 <= row < h
        visible = False
        if inside:
            surface = _nearest_surface_depth(result, row, col)
            visible = surface > 0 and depth <= surface + KEYPOINT_DEPTH_TOLERANCE
        out.append({"name": name, "x": float(u), "y": float(v), "visible": bool(visible)})
    return out


def _nearest_surface_depth(result: RenderResult, row: int, col: int) -> float:
    """Smallest depth in a 3x3 window: a keypoint on a silhouette edge may fall on background.

    Linearizes only those 9 depth-buffer values, not the whole image."""
    window = result.metric_depth(result.window_depth[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2])
    hits = window[window > 0]
    return float(hits.min()) if hits.size else 0.0
