"""Annotations computed from the same pose and buffers that made the image."""

from __future__ import annotations

import cv2
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


def visible_fraction(result: RenderResult, vertices: np.ndarray, faces: np.ndarray) -> float:
    """Share of the object's full silhouette that lies inside the image (BOP visib_fract).

    A single object has no occluders, so only the image border can hide it: when the mask
    does not touch the border the answer is exactly 1 and we skip the silhouette raster.
    """
    mask = result.mask
    h, w = mask.shape
    if not mask.any():
        return 0.0
    if not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()):
        return 1.0
    uv, z = project(vertices, result.R, result.t, result.K)
    tri = uv[faces]
    tri = tri[(z[faces] > 0).all(axis=1)]
    lo = np.floor(tri.reshape(-1, 2).min(axis=0)).astype(int)
    hi = np.ceil(tri.reshape(-1, 2).max(axis=0)).astype(int)
    lo, hi = np.minimum(lo, 0), np.maximum(hi, [w, h])
    canvas = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.uint8)
    # Pixel centres at +0.5, as the GL rasterizer samples; 4 bits of sub-pixel precision.
    pts = np.round((tri - lo - 0.5) * 16).astype(np.int32)
    for triangle in pts:  # one by one: fillPoly on many polygons is even-odd, overlaps cancel
        cv2.fillConvexPoly(canvas, triangle, 1, lineType=cv2.LINE_8, shift=4)
    full = int(canvas.sum())
    return float(min(1.0, mask.sum() / full)) if full else 0.0


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
