"""Renderer, annotations and controls: labels must agree with the pixels."""

import cv2
import numpy as np
import pytest
import trimesh

from dst3d.control.visual_prompt import ControlConfig, make_controls
from dst3d.pose.viewpoint import Viewpoint, intrinsics, project
from dst3d.render.annotations import bbox_from_mask, project_keypoints, visible_fraction
from dst3d.render.renderer import Renderer

W = H = 256
K = intrinsics(W, H, 300.0)


@pytest.fixture(scope="module")
def parts():
    """An asymmetric two-part object: a box body and an off-centre cone 'nose' toward -Y."""
    body = trimesh.creation.box([0.5, 0.8, 0.3])
    nose = trimesh.creation.cone(0.12, 0.3, sections=24)
    nose.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    nose.apply_translation([0.1, -0.4, 0.05])
    return [body, nose]


@pytest.fixture(scope="module")
def renderer(parts):
    with Renderer(parts, W, H) as r:
        yield r


VIEWS = [Viewpoint(a, e, th, d) for a, e, th, d in [(0.0, 0.2, 0.0, 2.5), (0.9, 0.5, 0.2, 2.2), (2.5, -0.1, 6.0, 3.0), (4.0, 1.0, 0.4, 2.0), (5.5, 0.3, 0.1, 2.8)]]


@pytest.mark.parametrize("vp", VIEWS)
def test_bbox_of_projected_vertices_matches_mask(renderer, parts, vp):
    result = renderer.render(vp.rotation(), vp.translation(), K)
    uv, _ = project(np.vstack([p.vertices for p in parts]), vp.rotation(), vp.translation(), K)
    projected = [uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()]
    np.testing.assert_allclose(bbox_from_mask(result.mask), projected, atol=1.0)


@pytest.mark.parametrize("vp", VIEWS)
def test_keypoints_agree_with_mask_and_depth(renderer, parts, vp):
    nose_tip = parts[1].vertices[np.argmin(parts[1].vertices[:, 1])]
    corners = parts[0].vertices  # 8 box corners: some visible, some hidden
    names = ["nose_tip"] + [f"corner_{i}" for i in range(8)]
    points = np.vstack([nose_tip, corners])
    result = renderer.render(vp.rotation(), vp.translation(), K)
    keypoints = project_keypoints(result, names, points)
    _, z = project(points, vp.rotation(), vp.translation(), K)
    mask = result.mask
    for kp, depth in zip(keypoints, z):
        col, row = int(kp["x"]), int(kp["y"])
        near = mask[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
        if kp["visible"]:
            assert near.any(), f"{kp['name']} visible but off the mask"
            window = result.depth[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
            assert np.abs(window[window > 0] - depth).min() < 0.02
    assert any(kp["visible"] for kp in keypoints) and not all(kp["visible"] for kp in keypoints)


def test_depth_is_metric_and_normals_face_camera(renderer):
    vp = Viewpoint(0.0, 0.0, 0.0, 2.5)
    result = renderer.render(vp.rotation(), vp.translation(), K)
    # The body's front face (y = -0.4) is 2.1 units away, seen straight on at azimuth 0.
    centre = result.depth[H // 2 + 10, W // 2 - 25]
    assert centre == pytest.approx(2.5 - 0.4, abs=1e-3)
    n = result.normals[H // 2 + 10, W // 2 - 25]
    np.testing.assert_allclose(n, [0, 0, -1], atol=0.02)  # pointing back at the camera (-z)
    assert result.parts.max() == 2 and set(np.unique(result.parts)) == {0, 1, 2}


def test_visible_fraction_under_truncation(renderer, parts):
    """Exact: the silhouette beyond the border is counted on the same pixel lattice as the
    image, so it equals the count on a canvas large enough to hold the whole object."""
    from dst3d.render.annotations import full_silhouette
    from dst3d.render.renderer import Renderer

    vertices = np.vstack([p.vertices for p in parts])
    vp = Viewpoint(0.0, 0.2, 0.0, 2.5)
    R, t = vp.rotation(), vp.translation()
    def render_at(K_tile):
        return renderer.render(R, t, K_tile)
    full = renderer.render(R, t, K)
    assert visible_fraction(full, render_at, vertices) == 1.0
    with Renderer(parts, 3 * W, 3 * H) as big:
        for cx, cy in ((10.0, H / 2), (-5.0, -7.0), (W + 150.0, H / 2)):  # about half out; a corner; entirely outside
            shifted = K.copy()
            shifted[0, 2], shifted[1, 2] = cx, cy
            cut = renderer.render(R, t, shifted)
            assert cut.mask.any() == (cx < W)
            canvas_K = shifted.copy()
            canvas_K[0, 2] += W
            canvas_K[1, 2] += H
            whole = big.render(R, t, canvas_K).mask  # the image sits at (W, H) on the canvas
            assert whole.sum() > cut.mask.sum() and not (whole[0].any() or whole[:, 0].any() or whole[-1].any() or whole[:, -1].any())
            assert whole[H:2 * H, W:2 * W].sum() == cut.mask.sum()
            silhouette = full_silhouette(cut, render_at, vertices)
            assert silhouette.pixels == whole.sum()
            ys, xs = np.nonzero(whole)
            assert silhouette.bbox == (xs.min() - W, ys.min() - H, xs.max() + 1 - W, ys.max() + 1 - H)
            assert visible_fraction(cut, render_at, vertices) == cut.mask.sum() / whole.sum()
    assert 0 < full_silhouette(full, render_at, vertices).pixels == full.mask.sum()


def test_controls_are_images_of_the_render(renderer):
    vp = Viewpoint(0.7, 0.3, 0.0, 2.5)
    result = renderer.render(vp.rotation(), vp.translation(), K)
    controls = make_controls(result, ControlConfig(kinds=["canny", "depth", "normal"]))
    for image in controls.values():
        assert image.shape == (H, W, 3) and image.dtype == np.uint8
    edges = controls["canny"][..., 0] > 0
    # Edges lie on or next to the object (the silhouette and crease lines), never far off it.
    grown = cv2.dilate(result.mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert edges.sum() > 100 and (edges & ~grown).sum() == 0
    depth = controls["depth"][..., 0]
    assert depth[~result.mask].max() == 0 and depth[result.mask].min() >= 40
    # Near is bright: the nearest pixel is the brightest.
    near = np.unravel_index(np.where(result.mask, result.depth, np.inf).argmin(), result.depth.shape)
    assert depth[near] == depth.max()


def test_osmesa_fallback_renders_the_same(tmp_path):
    """The OSMesa platform (no EGL) gives the same G-buffer as EGL for the same view."""
    import ctypes.util
    import os
    import subprocess
    import sys

    if not ctypes.util.find_library("OSMesa"):
        pytest.skip("libOSMesa is not installed (scripts/setup.sh installs libosmesa6)")
    code = (
        "import numpy as np, trimesh\n"
        "from dst3d.render.renderer import Renderer\n"
        "from dst3d.pose.viewpoint import Viewpoint, intrinsics\n"
        "vp = Viewpoint(0.9, 0.5, 0.2, 2.2)\n"
        "with Renderer([trimesh.creation.box([0.5, 0.8, 0.3])], 128, 128) as r:\n"
        "    res = r.render(vp.rotation(), vp.translation(), intrinsics(128, 128, 150.0))\n"
        "    np.save(__import__('sys').argv[1], res.gbuffer)\n"
    )
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    for platform in ("egl", "osmesa"):
        env = {**os.environ, "PYOPENGL_PLATFORM": platform, "PYTHONPATH": repo}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / platform)], env=env, check=True, timeout=120)
        out[platform] = np.load(tmp_path / f"{platform}.npy")
    assert np.array_equal(out["egl"][..., 3] != 255, out["osmesa"][..., 3] != 255)
    assert np.abs(out["egl"].astype(int) - out["osmesa"]).max() <= 1
