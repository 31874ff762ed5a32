"""Multi-view canvases (dst3d.appearance.tiling) and the ControlNet backend's tile_views path."""

from __future__ import annotations

import numpy as np
import pytest

from dst3d.appearance.tiling import consistency_score, grid_for, tile, tile_position, untile


def _views(n, h=4, w=6, channels=3):
    """n views whose every pixel says which view it belongs to (value 10 * (k + 1))."""
    return [np.full((h, w, channels), 10 * (k + 1), np.uint8) for k in range(n)]


def test_grid_for():
    assert grid_for(1) == (1, 1)
    assert grid_for(2) == (2, 1)
    assert grid_for(4) == (2, 2)
    assert grid_for(6) == (3, 2), "Zero123++: 3 rows x 2 columns"
    assert grid_for(9) == (3, 3)
    for n in range(1, 30):
        rows, cols = grid_for(n)
        assert rows * cols >= n and (rows - 1) * cols < n, n  # fits, and no all-empty row
    with pytest.raises(ValueError):
        grid_for(0)


def test_tile_places_views_at_hand_computed_offsets():
    # 6 views of 4 x 6 px in a 3 x 2 grid: a 12 x 12 canvas. Non-square views make a row/col
    # swap (or an h/w swap) land tiles at the wrong offsets.
    views = _views(6)
    canvas = tile(views, 3, 2)
    assert canvas.shape == (12, 12, 3) and canvas.dtype == np.uint8
    # view k at row k // 2, col k % 2: top-left (row * 4, col * 6)
    expected_top_left = {0: (0, 0), 1: (0, 6), 2: (4, 0), 3: (4, 6), 4: (8, 0), 5: (8, 6)}
    for k, (y, x) in expected_top_left.items():
        assert tile_position(k, 2) == (y // 4, x // 6)
        assert np.all(canvas[y : y + 4, x : x + 6] == 10 * (k + 1)), k
    # Random views: every tile bit-identical, round trip exact.
    rng = np.random.default_rng(0)
    views = [rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for _ in range(6)]
    back = untile(tile(views, 3, 2), 3, 2, 4, 6)
    assert len(back) == 6 and all(np.array_equal(a, b) for a, b in zip(views, back))


def test_tile_pads_unused_tiles_with_zeros_and_refuses_mixed_sizes():
    views = _views(3, channels=1)[:3]
    canvas = tile(views, *grid_for(3))  # 2 x 2, one tile empty
    assert canvas.shape == (8, 12, 1)
    tiles = untile(canvas, 2, 2, 4, 6)
    assert [int(t.max()) for t in tiles] == [10, 20, 30, 0]
    masks = [np.ones((4, 6), bool), np.zeros((4, 6), bool)]  # 2-D arrays tile too
    assert tile(masks, 1, 2).shape == (4, 12)
    with pytest.raises(ValueError):
        tile([np.zeros((4, 6, 3), np.uint8), np.zeros((4, 7, 3), np.uint8)], 1, 2)
    with pytest.raises(ValueError):
        tile(_views(5), 2, 2)
    with pytest.raises(ValueError):
        untile(canvas, 2, 2, 6, 4)  # h/w swapped


def _object(colour, h=32, w=32, background=(0, 200, 0), seed=0):
    """An image with a shaded disc of ``colour`` on ``background``, and the disc's mask."""
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 3) ** 2
    rng = np.random.default_rng(seed)
    image = np.empty((h, w, 3), np.uint8)
    image[:] = background
    shade = 0.5 + 0.5 * (xx / w) * rng.uniform(0.8, 1.0)  # brighter to the right, per view
    image[mask] = np.clip(np.asarray(colour, float) * shade[mask][:, None], 0, 255).astype(np.uint8)
    return image, mask


def test_consistency_score():
    red = [_object((220, 40, 40), seed=s) for s in range(3)]
    images, masks = [i for i, _ in red], [m for _, m in red]
    assert consistency_score([images[0]] * 3, [masks[0]] * 3) == 1.0
    # The same paint under different shading: chromaticity is unchanged.
    assert consistency_score(images, masks) > 0.9
    blue, blue_mask = _object((40, 40, 220))
    mixed = consistency_score(images + [blue], masks + [blue_mask])
    assert mixed < 0.6, mixed
    assert consistency_score([images[0], blue], [masks[0], blue_mask]) < 0.05
    # Background outside the masks is ignored: a different background changes nothing.
    other_bg, _ = _object((220, 40, 40), background=(0, 0, 255), seed=1)
    assert consistency_score([images[0], other_bg], [masks[0], masks[1]]) == consistency_score(images[:2], masks[:2])
    # ... and it would matter if the masks were ignored.
    full = np.ones_like(masks[0])
    assert consistency_score([images[0], other_bg], [full, full]) < consistency_score(images[:2], masks[:2])
    # An empty view is left out; fewer than two usable views: nothing to compare.
    empty = np.zeros_like(masks[0])
    assert consistency_score(images[:2] + [blue], masks[:2] + [empty]) == consistency_score(images[:2], masks[:2])
    assert consistency_score([images[0]], [masks[0]]) == 1.0
    with pytest.raises(ValueError):
        consistency_score(images, masks[:2])
