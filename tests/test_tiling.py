"""Multi-view canvases (dst3d.appearance.tiling) and the ControlNet backend's tile_views path."""

from __future__ import annotations

import numpy as np
import pytest
from pipe_recorder import call_recorder

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


# -- the ControlNet backend's tile_views path, on tiny random models -----------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from dst3d.tiny_models import save_tiny_controlnet, save_tiny_sd15

    root = tmp_path_factory.mktemp("tiny_models")
    return {"sd15": save_tiny_sd15(root / "sd15"), "cn": save_tiny_controlnet(root / "cn-canny")}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread on a shared 2-core machine (see test_controlnet)."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiled_backend(tiny, **options):
    from dst3d.appearance import load_backend

    return load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 2, "tile_views": True, **options})




def _control_of(kwargs) -> np.ndarray:
    """The control batch a pipeline call got, back as (B, H, W, 3) uint8."""
    return (kwargs["image"].permute(0, 2, 3, 1).numpy() * 255.0).round().astype(np.uint8)


def _group_requests(group: str, n: int, seed: int, h: int = 32, w: int = 24, prompt="a red car"):
    """n views of one group: random binary canny controls (distinct per view), shared prompt and seed."""
    from dst3d.appearance.request import AppearanceRequest, ViewOf

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        canny = np.where(rng.random((h, w, 1)) < 0.1, 255, 0).astype(np.uint8).repeat(3, axis=2)
        out.append(AppearanceRequest({"canny": canny}, None, prompt, "blurry", seed, ViewOf(group, k, n)))
    return out


def test_tiled_controlnet_one_sample_per_group(tiny):
    backend = _tiled_backend(tiny, max_batch_size=1)
    calls = call_recorder(backend)
    a = _group_requests("g0", 6, seed=3)  # 6 views of 32 x 24: a 3 x 2 canvas of 96 x 48
    b = _group_requests("g1", 4, seed=4, prompt="a blue car")  # 2 x 2: 64 x 48
    single = _group_requests("x", 1, seed=5)[0]
    single.view = None
    # Interleaved: the backend regroups by view.group.
    requests = [a[0], b[0], a[1], single, *a[2:], *b[1:]]
    out = backend.generate_detailed(requests)
    assert len(calls) == 3, "one pipeline call per group canvas, one for the single image"
    by_shape = {_control_of(kw).shape[1:3]: kw for kw in calls}
    assert set(by_shape) == {(96, 48), (64, 48), (64, 64)}  # the single image: size_for (at least 64)
    for views, (rows, cols) in ((a, (3, 2)), (b, (2, 2))):
        kw = by_shape[(rows * 32, cols * 24)]
        assert (kw["height"], kw["width"]) == (rows * 32, cols * 24)
        assert kw["prompt"] == [views[0].prompt] and len(kw["generator"]) == 1
        np.testing.assert_array_equal(_control_of(kw)[0], tile([v.controls["canny"] for v in views], rows, cols))
    assert all(g.image.shape == (32, 24, 3) and g.image.dtype == np.uint8 for g in out)
    # Each view is its tile of the canvas output, and its notes say where it sat.
    notes = {id(r): g.notes for r, g in zip(requests, out)}
    assert notes[id(single)] == {}
    for k, v in enumerate(a):
        assert notes[id(v)]["tiled"] == {"group": "g0", "index": k, "views": 6, "grid": [3, 2], "tile": [k // 2, k % 2],
                                         "canvas": [96, 48], "tile_size": [32, 24]}
    images = {id(r): g.image for r, g in zip(requests, out)}
    assert len({images[id(v)].tobytes() for v in a}) == 6, "the views differ (different tiles of the output)"
    # The views are the canvas: the same group alone, in another order, gives the same images.
    again = backend.generate_detailed(list(reversed(a)))
    for v, g in zip(reversed(a), again):
        np.testing.assert_array_equal(g.image, images[id(v)])
    assert backend.stats["canvases"] == 3
    # Batched canvases (no max_batch_size): one call for the two groups of one canvas size.
    batched = _tiled_backend(tiny)
    calls = call_recorder(batched)
    c = _group_requests("g2", 4, seed=6)
    batched.generate(b + c)
    assert len(calls) == 1 and _control_of(calls[0]).shape == (2, 64, 48, 3)


def test_tiled_controlnet_refusals_retries_and_off(tiny):
    from dst3d.errors import UserError

    backend = _tiled_backend(tiny)
    with pytest.raises(UserError, match=r"^backend_options\.tile_views: view size 30x30 is not a multiple of 8"):
        backend.generate(_group_requests("odd", 2, seed=1, h=30, w=30))
    mixed = _group_requests("m", 2, seed=1)
    mixed[1].controls["canny"] = mixed[1].controls["canny"][:24]
    with pytest.raises(UserError, match="different sizes"):
        backend.generate(mixed)
    assert "tile_views" in backend.settings()["loaded"] and backend.settings()["tile_views"] is True
    # A non-finite canvas is retried as one sample with a derived seed; every view says so.
    from dst3d.appearance.controlnet import derived_seed

    count = [0]

    def hook(module, args, output):
        count[0] += 1
        return (torch.full_like(output[0], float("nan")),) + tuple(output[1:]) if count[0] <= 2 else output

    import torch

    group = _group_requests("r", 4, seed=9)
    handle = backend.pipe.unet.register_forward_hook(hook)
    try:
        out = backend.generate_detailed(group)
    finally:
        handle.remove()
    assert all(g.notes["retries"] == [{"seed": 9, "why": "non-finite latents"}] and g.notes["seed"] == derived_seed(9, 1) for g in out)
    assert all(g.image.max() > 0 for g in out)
    # Off (the default): views are generated one by one, at their own size.
    plain = _tiled_backend(tiny, tile_views=False)
    calls = call_recorder(plain)
    out = plain.generate_detailed(_group_requests("p", 4, seed=2))
    assert len(calls) == 1 and _control_of(calls[0]).shape == (4, 64, 64, 3) and all(g.notes == {} for g in out)
    assert "tile_views" not in plain.settings()["loaded"] and plain.settings()["tile_views"] is False


def test_tiled_group_labels_are_exact_per_tile(tiny):
    """A real group (one CAD model seen from four viewpoints): each tile of the canvas the
    pipeline got is bit-identical to the control re-rendered from that view's label alone."""
    from types import SimpleNamespace

    from dst3d.appearance.request import AppearanceRequest, ViewOf
    from dst3d.cad.library import CadLibrary
    from dst3d.control.visual_prompt import ControlConfig, make_controls
    from dst3d.pose.viewpoint import Viewpoint, focal_from_fov, intrinsics
    from dst3d.render.scene import Rerenderer, SceneCache, render_pose

    library = CadLibrary()
    cad_id = library.manifest.classes[library.resolve_class("car")].models[0].id
    h = w = 48
    K = intrinsics(w, h, focal_from_fov(w, 30.0))
    control = ControlConfig()
    labels, requests = [], []
    scenes = SceneCache(library, w, h)
    try:
        for k, azimuth in enumerate((0.3, 1.6, 3.0, 4.4)):
            vp = Viewpoint(azimuth, 0.3, 0.05 * k, 3.0)
            posed = render_pose(scenes, cad_id, vp.rotation(), vp.translation(), K)
            labels.append(SimpleNamespace(cad_id=cad_id, R=posed.render.R, t=posed.render.t, K=posed.render.K, width=w, height=h, render={}))
            requests.append(AppearanceRequest(make_controls(posed.render, control), posed.render, "a car", "", 17, ViewOf("car-0", k, 4)))
    finally:
        scenes.close()
    backend = _tiled_backend(tiny)
    calls = call_recorder(backend)
    canvases = []
    checked = backend._generate_checked

    def keep(*args, **kwargs):  # the canvas image the backend cuts views from
        results = checked(*args, **kwargs)
        canvases.extend(g.image for g in results)
        return results

    backend._generate_checked = keep
    out = backend.generate_detailed(requests)
    assert len(calls) == 1 and len(canvases) == 1 and canvases[0].shape == (2 * h, 2 * w, 3)
    # View k's image is tile k of the canvas output, the tile whose control was view k's.
    for k, (piece, generated) in enumerate(zip(untile(canvases[0], 2, 2, h, w), out)):
        np.testing.assert_array_equal(generated.image, piece, err_msg=f"view {k}")
    tiles = untile(_control_of(calls[0])[0], 2, 2, h, w)
    with Rerenderer(library) as rerender:
        for k, (label, generated) in enumerate(zip(labels, out)):
            again = make_controls(rerender.view(label).render, control)["canny"]
            assert again.any(), "the object is in view"
            np.testing.assert_array_equal(tiles[k], again, err_msg=f"view {k}")
            assert generated.image.shape == (h, w, 3) and generated.notes["tiled"]["tile"] == [k // 2, k % 2]
    # The tiles differ: a swapped or repeated tile would fail the comparison above.
    assert len({t.tobytes() for t in tiles}) == 4


def test_multiview_job_with_tiled_controlnet_labels_re_render(tiny, tmp_path):
    """End to end: a multi-view job (2 groups of 4 views, 64 px) through the ControlNet backend
    with tile_views: every record's stored control is the re-render of its own label, its
    generation notes place it in its group's canvas, and its group has a consistency score."""
    from dst3d.cad.library import CadLibrary
    from dst3d.control.visual_prompt import ControlConfig, make_controls
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job
    from dst3d.render.scene import Rerenderer
    from dst3d.store.dataset import open_dataset

    options = {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 1, "tile_views": True}
    job = JobConfig.model_validate({"classes": ["car"], "per_class": 8, "width": 64, "height": 64, "seed": 5, "batch_size": 8,
                                    "views": {"per_object": 4, "layout": "orbit"}, "backend": "controlnet", "backend_options": options,
                                    "prompts": {"llm_cache": str(tmp_path / "no-cache")}})
    run_job(job, tmp_path / "out", progress=False)
    records = list(open_dataset(tmp_path / "out").records())
    assert len(records) == 8
    groups: dict[str, list] = {}
    with Rerenderer(CadLibrary()) as rerender:
        for r in records:
            control = ControlConfig.model_validate(r.render["control"])
            again = make_controls(rerender.view(r).render, control)[control.kinds[0]]
            np.testing.assert_array_equal(r.control_rgb(), again, err_msg=r.id)
            assert r.image_rgb().shape == (64, 64, 3)
            tiled = r.generation["tiled"]  # the backend's placement note, apart from retries
            assert "retry" not in r.generation
            assert r.generation["tile_views"] is True
            view = r.view
            assert (tiled["group"], tiled["index"], tiled["views"], tiled["grid"], tiled["canvas"]) == (view["group"], view["index"], 4, [2, 2], [128, 128])
            assert 0.0 <= view["consistency"] <= 1.0
            groups.setdefault(view["group"], []).append(r)
    assert len(groups) == 2 and all(len(g) == 4 for g in groups.values())
