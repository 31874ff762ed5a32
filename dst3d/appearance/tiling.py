"""Multi-view canvases: a group's views tiled into one image, cut back out, and scored.

A multi-view group (the views of one object instance, :class:`~dst3d.appearance.request.ViewOf`)
can be generated in ONE diffusion pass by tiling its control images into one canvas: the
UNet's self-attention then spans every view, so the views tend to share the object's colours
and materials (the idea behind Zero123++'s 3 x 2 grid of six views). Tiles are placed at exact
pixel offsets with no resizing, so each tile of the control canvas is bit-identical to its
view's control image and a view cut out of the output keeps its view's exact pose label.

Layout (:func:`grid_for`): ``rows = ceil(sqrt(n))``, ``cols = ceil(n / rows)``; views fill the
grid row-major (view ``k`` at row ``k // cols``, column ``k % cols``, top-left pixel
``(row * h, col * w)``). So 1 -> 1x1, 2 -> 2x1, 3 and 4 -> 2x2, 5 and 6 -> 3x2 (Zero123++'s
3 rows x 2 columns), 7 to 9 -> 3x3. Unused tiles of a canvas are zero (a blank control).

:func:`consistency_score` is a cheap, offline per-group appearance-consistency score (see its
docstring). Pure numpy: no torch, importable anywhere.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

# consistency_score: 2-D histogram over rg chromaticity (r, g) = (R, G) / (R + G + B), BINS x BINS
# bins over [0, 1]; pixels darker than DARK (R + G + B) carry no reliable colour and are left out,
# and so are views with fewer than MIN_PIXELS usable mask pixels.
BINS = 16
DARK = 48
MIN_PIXELS = 16
SCORE_METHOD = f"mean pairwise histogram intersection of rg-chromaticity {BINS}x{BINS} histograms inside each view's mask (pixels with R+G+B < {DARK} left out)"


def grid_for(n: int) -> tuple[int, int]:
    """(rows, cols) of the canvas for ``n`` views: ``rows = ceil(sqrt(n))``, ``cols = ceil(n / rows)``
    (4 -> 2x2, 6 -> 3x2 as Zero123++ lays out its six views)."""
    if n < 1:
        raise ValueError(f"a canvas needs at least one view, got {n}")
    rows = math.isqrt(n - 1) + 1  # ceil(sqrt(n)) for integers
    cols = -(-n // rows)
    return rows, cols


def tile_position(index: int, cols: int) -> tuple[int, int]:
    """(row, col) of view ``index`` in a canvas of ``cols`` columns (row-major)."""
    return index // cols, index % cols


def tile(images: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    """One canvas of shape ``(rows * h, cols * w, ...)`` with view ``k`` at rows
    ``[r * h, (r + 1) * h)`` and columns ``[c * w, (c + 1) * w)``, ``(r, c) = tile_position(k, cols)``.

    All views must have the same shape and dtype; nothing is resized, so each tile is
    bit-identical to its view. Tiles without a view are zero."""
    if not images:
        raise ValueError("tile() needs at least one image")
    if len(images) > rows * cols:
        raise ValueError(f"{len(images)} views do not fit a {rows}x{cols} grid")
    first = np.asarray(images[0])
    for k, image in enumerate(images):
        if image.shape != first.shape or image.dtype != first.dtype:
            raise ValueError(f"view {k} is {image.shape} {image.dtype}, view 0 is {first.shape} {first.dtype}: a canvas needs views of one size")
    h, w = first.shape[:2]
    canvas = np.zeros((rows * h, cols * w, *first.shape[2:]), dtype=first.dtype)
    for k, image in enumerate(images):
        r, c = tile_position(k, cols)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    return canvas


def untile(canvas: np.ndarray, rows: int, cols: int, h: int, w: int) -> list[np.ndarray]:
    """The ``rows * cols`` tiles of a canvas, row-major (the inverse of :func:`tile`: take the
    first ``n`` for ``n`` views). Each tile is a contiguous copy of shape ``(h, w, ...)``."""
    if canvas.shape[0] != rows * h or canvas.shape[1] != cols * w:
        raise ValueError(f"canvas {canvas.shape[:2]} is not a {rows}x{cols} grid of {h}x{w} tiles")
    out = []
    for k in range(rows * cols):
        r, c = tile_position(k, cols)
        out.append(np.ascontiguousarray(canvas[r * h : (r + 1) * h, c * w : (c + 1) * w]))
    return out


def _chroma_histogram(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    image = np.asarray(image)
    mask = np.asarray(mask).astype(bool)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f"consistency_score needs (H, W, 3) RGB images, got {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    rgb = image[mask][:, :3].astype(np.float64)
    total = rgb.sum(1)
    rgb, total = rgb[total >= DARK], total[total >= DARK]
    if len(total) < MIN_PIXELS:
        return None
    rg = np.minimum((rgb[:, :2] / total[:, None] * BINS).astype(np.int64), BINS - 1)
    hist = np.bincount(rg[:, 0] * BINS + rg[:, 1], minlength=BINS * BINS).astype(np.float64)
    return hist / hist.sum()


def consistency_score(images: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """How alike the object's colours are across the views of a group, in [0, 1].

    For each view (an (H, W, 3) uint8 RGB image and its object mask, (H, W) bool), the pixels
    inside the mask are binned on their rg chromaticity ``(R, G) / (R + G + B)``, a 16 x 16
    histogram normalised to sum 1. Chromaticity is unchanged when a pixel's RGB is scaled, so
    shading (the same paint lit brighter or darker from another viewpoint) moves no mass between
    bins; near-black pixels (R + G + B < 48), whose chromaticity is noise, are left out. The
    score is the mean over all pairs
    of views of the histogram intersection ``sum(min(p, q))``: 1 = the same colour distribution
    in every view, 0 = no colour in common. Background outside the masks is never looked at.

    Views with fewer than 16 usable mask pixels are left out; with fewer than two views left
    there is nothing to compare and the score is 1.0. Cheap (one bincount per view) and
    offline; views may differ in size.
    """
    if len(images) != len(masks):
        raise ValueError(f"{len(images)} images but {len(masks)} masks")
    hists = [h for h in (_chroma_histogram(np.asarray(i), m) for i, m in zip(images, masks)) if h is not None]
    if len(hists) < 2:
        return 1.0
    scores = [float(np.minimum(p, q).sum()) for p, q in combinations(hists, 2)]
    return float(min(1.0, max(0.0, sum(scores) / len(scores))))
