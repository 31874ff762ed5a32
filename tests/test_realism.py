"""The mesh's own appearance: kept by `dst3d cad import`, drawn by the renderer, used by the render backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from dst3d.appearance.render import RenderBackend, RenderBackendConfig
from dst3d.appearance.request import AppearanceRequest
from dst3d.cad.importer import import_mesh
from dst3d.cad.library import CadLibrary
from dst3d.pose.viewpoint import Viewpoint, intrinsics, project
from dst3d.render.renderer import Renderer

FACE_COLOURS = np.array([[220, 30, 30], [30, 200, 40], [40, 60, 230], [230, 220, 40], [200, 40, 210], [40, 210, 220]], np.uint8)


def empty_library(root: Path) -> CadLibrary:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text('{"version": 1, "classes": {}}')
    return CadLibrary(root)


def coloured_box() -> trimesh.Trimesh:
    """A box whose 6 sides each have one colour, as per-vertex colours (every face owns its vertices)."""
    box = trimesh.creation.box((1.0, 0.8, 0.6))
    box.unmerge_vertices()
    side = np.argmax(np.abs(box.face_normals), 1) * 2 + (box.face_normals.max(1) > 0.5)  # 0..5
    colours = np.zeros((len(box.vertices), 4), np.uint8)
    colours[:, 3] = 255
    for f, s in zip(box.faces, side):
        colours[f, :3] = FACE_COLOURS[s]
    box.visual = trimesh.visual.ColorVisuals(vertex_colors=colours)
    return box


def pixel_of_face_centres(mesh, R, t, K):
    """(side index, (col, row)) of each box side's centre that faces the camera."""
    out = []
    for s in range(6):
        axis, positive = divmod(s, 2)
        normal = np.zeros(3)
        normal[axis] = 1.0 if positive else -1.0
        if (R @ normal)[2] >= -0.3:  # facing away or grazing
            continue
        centre = normal * (mesh.extents[axis] / 2)
        (u, v), = project(centre[None], R, t, K)[0]
        out.append((s, (int(u), int(v))))
    return out


def render_imported(lib: CadLibrary, model_id: str, size=160):
    _, model = lib.model(model_id)
    parts = lib.load_parts(model)
    vp = Viewpoint(np.deg2rad(35), np.deg2rad(25), 0.0, 3.0)
    R, t, K = vp.rotation(), vp.translation(), intrinsics(size, size, size * 1.2)
    renderer = Renderer(parts, size, size)
    try:
        return parts, renderer.render(R, t, K), (R, t, K)
    finally:
        renderer.close()


def test_vertex_colours_survive_import_and_render(tmp_path):
    path = tmp_path / "box.ply"
    coloured_box().export(path)
    assert trimesh.load(path, process=False).visual.kind == "vertex"
    lib = empty_library(tmp_path / "lib")
    import_mesh(lib, path, "n97000001", "-y", "+z", model_id="box", name="box", size_m=0.1)
    parts, result, (R, t, K) = render_imported(lib, "box")
    assert all(p.visual.kind == "vertex" for p in parts)
    assert result.albedo is not None and result.albedo.shape == result.mask.shape + (3,)
    assert (result.albedo[~result.mask] == 0).all()
    # the model is the box scaled to longest side 1 (canonical frame = source frame for -y/+z)
    seen = pixel_of_face_centres(trimesh.creation.box((1.0, 0.8, 0.6)), R, t, K)
    assert len(seen) >= 3
    for side, (u, v) in seen:
        assert result.mask[v, u]
        assert np.abs(result.albedo[v, u].astype(int) - FACE_COLOURS[side].astype(int)).max() <= 3, side


def test_textures_and_base_colours_survive_import_and_render(tmp_path):
    lib = empty_library(tmp_path / "lib")
    textured = trimesh.creation.box((1.0, 1.0, 1.0))
    texture = Image.fromarray(np.full((8, 8, 3), (30, 120, 210), np.uint8))
    textured.visual = trimesh.visual.TextureVisuals(uv=np.full((len(textured.vertices), 2), 0.5), image=texture)
    textured.export(tmp_path / "textured.glb")
    based = trimesh.creation.box((1.0, 1.0, 1.0))
    based.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(baseColorFactor=[200, 90, 20, 255]))
    based.export(tmp_path / "based.glb")
    for name, colour, kind in (("textured", (30, 120, 210), "texture"), ("based", (200, 90, 20), None)):
        import_mesh(lib, tmp_path / f"{name}.glb", f"n9700000{2 if name == 'textured' else 3}", "-y", "+z", model_id=name, name=name)
        parts, result, _ = render_imported(lib, name)
        if kind:
            assert parts[0].visual.kind == kind
        mean = result.albedo[result.mask].mean(0)
        assert np.abs(mean - colour).max() <= 3, (name, mean)


def test_models_without_appearance_render_as_before(tmp_path):
    path = tmp_path / "plain.obj"
    trimesh.creation.box((1.0, 0.8, 0.6)).export(path)
    lib = empty_library(tmp_path / "lib")
    import_mesh(lib, path, "n97000004", "-y", "+z", model_id="plain", name="plain")
    _, result, _ = render_imported(lib, "plain")
    assert result.albedo is None


def test_render_backend_draws_the_own_colours(tmp_path):
    path = tmp_path / "box.ply"
    coloured_box().export(path)
    lib = empty_library(tmp_path / "lib")
    import_mesh(lib, path, "n97000001", "-y", "+z", model_id="box", name="box")
    _, result, (R, t, K) = render_imported(lib, "box")
    flat = dict(light_intensity=(0.0, 0.0), ambient=(1.0, 1.0), noise_std=0.0)  # image = albedo exactly
    request = AppearanceRequest({}, result, "", "", 3)
    own = RenderBackend(RenderBackendConfig(appearance="own", **flat)).generate([request])[0]
    inner = result.mask & np.roll(result.mask, 2, 0) & np.roll(result.mask, -2, 0) & np.roll(result.mask, 2, 1) & np.roll(result.mask, -2, 1)
    assert np.abs(own[inner].astype(int) - result.albedo[inner].astype(int)).max() <= 2
    jitter = RenderBackend(RenderBackendConfig(appearance="jitter", **flat)).generate([AppearanceRequest({}, result, "", "", 4)])[0]
    assert np.abs(jitter[inner].astype(int) - result.albedo[inner].astype(int)).mean() > 2  # changed, per image
    random = RenderBackend(RenderBackendConfig(**flat)).generate([request])[0]  # default: one random colour per part
    assert len(np.unique(random[inner].reshape(-1, 3), axis=0)) == 1


def test_backend_option_is_validated():
    with pytest.raises(ValueError):
        RenderBackendConfig(appearance="photoreal")


# ---------------------------------------------------------------- camera effects, backgrounds, lights

import cv2  # noqa: E402

from dst3d.appearance import backend_from_settings, backend_options  # noqa: E402
from dst3d.appearance import backgrounds as backgrounds_module  # noqa: E402
from dst3d.appearance.camera import disk_kernel, kelvin_to_rgb, line_kernel, shot_noise  # noqa: E402
from dst3d.appearance.render import LATER_OPTIONS  # noqa: E402
from dst3d.errors import UserError  # noqa: E402

QUIET = dict(noise_std=0.0)


@pytest.fixture(scope="module")
def gbuffer():
    """One G-buffer of a shipped library model, 160 px, the object in the middle."""
    from dst3d.render.scene import SceneCache, render_pose

    lib = CadLibrary(None)
    scenes = SceneCache(lib, 160, 160)
    cad = lib.manifest.classes[sorted(lib.manifest.classes)[0]].models[0].id
    vp = Viewpoint(np.deg2rad(30), np.deg2rad(20), 0.0, 3.0)
    try:
        yield render_pose(scenes, cad, vp.rotation(), vp.translation(), intrinsics(160, 160, 250)).render
    finally:
        scenes.close()


def image(result, seed: int = 5, **options) -> np.ndarray:
    return RenderBackend(RenderBackendConfig(**options)).generate([AppearanceRequest({}, result, "", "", seed)])[0]


def interior(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)).astype(bool)


def test_disk_kernel_has_the_moments_of_a_uniform_disk():
    for radius in (1.5, 3.0, 6.5):
        k = disk_kernel(radius).astype(np.float64)
        assert abs(k.sum() - 1) < 1e-5 and np.allclose(k, k.T, atol=1e-6) and np.allclose(k, k[::-1], atol=1e-6)
        y, x = np.mgrid[: k.shape[0], : k.shape[1]] - k.shape[0] // 2
        assert abs((k * x**2).sum() - radius**2 / 4) < 0.06 * radius**2 / 4 + 0.02  # E[x^2] of a disk: r^2 / 4
    assert disk_kernel(0.2).shape == (1, 1)


def test_line_kernel_is_a_segment_of_the_given_length_and_direction():
    for length, angle in ((12.0, 0.0), (9.0, np.pi / 3), (16.0, 2.0)):
        k = line_kernel(length, angle).astype(np.float64)
        y, x = np.mgrid[: k.shape[0], : k.shape[1]] - k.shape[0] // 2
        along = x * np.cos(angle) + y * np.sin(angle)
        across = -x * np.sin(angle) + y * np.cos(angle)
        assert abs((k * along).sum()) < 0.05 and abs((k * across).sum()) < 0.05  # centred
        assert abs((k * along**2).sum() - length**2 / 12) < 0.5  # variance of a uniform segment
        assert (k * across**2).sum() < 0.3  # thin


def test_defocus_blur_is_a_disk_convolution_of_the_sharp_image(gbuffer):
    sharp = image(gbuffer, **QUIET).astype(np.float32)
    blurred = image(gbuffer, defocus_blur_px=(3.0, 3.0), **QUIET).astype(np.float32)
    disk = np.zeros((7, 7), np.float32)
    cv2.circle(disk, (3, 3), 3, 1.0, -1)  # an independent disk of radius 3
    expected = cv2.filter2D(sharp, -1, disk / disk.sum(), borderType=cv2.BORDER_REFLECT_101)
    err, unblurred = np.abs(blurred - expected).mean(), np.abs(blurred - sharp).mean()
    assert err < 1.5 and unblurred > 3 * err, (err, unblurred)


def test_motion_blur_smears_along_one_seeded_direction(gbuffer):
    def best_angle(seed: int) -> tuple[float, float, float]:
        sharp = image(gbuffer, seed=seed, **QUIET).astype(np.float32)
        blurred = image(gbuffer, seed=seed, motion_blur_px=(10.0, 10.0), **QUIET).astype(np.float32)
        scores = []
        for deg in range(0, 180, 10):
            kernel = np.zeros((15, 15), np.float32)
            dx, dy = 5 * np.cos(np.deg2rad(deg)), 5 * np.sin(np.deg2rad(deg))
            cv2.line(kernel, (round(7 - dx), round(7 - dy)), (round(7 + dx), round(7 + dy)), 1.0, 1)
            expected = cv2.filter2D(sharp, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)
            scores.append((np.abs(blurred - expected).mean(), deg))
        err, deg = min(scores)
        return err, deg, np.abs(blurred - sharp).mean()

    (err_a, deg_a, sharp_a), (err_b, deg_b, _) = best_angle(5), best_angle(8)
    assert err_a < 2.0 and sharp_a > 2 * err_a, (err_a, sharp_a)
    assert err_b < 2.0 and min(abs(deg_a - deg_b), 180 - abs(deg_a - deg_b)) >= 20  # the direction comes from the seed


def test_gaussian_noise_range_is_drawn_per_image(gbuffer):
    clean = image(gbuffer, noise_std=0.0).astype(np.float32)
    unclipped = (clean > 40) & (clean < 215)
    fixed = (image(gbuffer, noise_std=8.0).astype(np.float32) - clean)[unclipped].std()
    assert abs(fixed - 8.0) < 0.6
    stds = [(image(gbuffer, seed=s, noise_std=(1.0, 12.0)).astype(np.float32) - image(gbuffer, seed=s, noise_std=0.0))[unclipped].std() for s in range(4)]
    assert all(0.5 < s < 12.8 for s in stds) and max(stds) - min(stds) > 2.0, stds


def test_shot_noise_variance_grows_with_the_signal(gbuffer):
    rng = np.random.default_rng(0)
    for level in (20.0, 80.0, 200.0):
        flat = np.full((200, 200, 3), level, np.float32)
        var = (shot_noise(rng, flat, 2.0) - flat).var()
        assert abs(var - 2.0 * level) < 0.08 * 2.0 * level, (level, var)  # Poisson: variance = gain x signal
    clean = image(gbuffer, **QUIET).astype(np.float32)
    noisy = image(gbuffer, shot_noise=(3.0, 3.0), **QUIET).astype(np.float32)
    dark, bright = (clean > 30) & (clean < 70), (clean > 150) & (clean < 200)
    assert (noisy - clean)[bright].std() > 1.3 * (noisy - clean)[dark].std()


def test_jpeg_quality_is_applied_at_the_drawn_quality(gbuffer):
    png = image(gbuffer)
    for quality in (15, 60):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(png, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        expected = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        got = image(gbuffer, jpeg_quality=(quality, quality))
        assert np.array_equal(got, expected) and not np.array_equal(got, png)


def test_white_balance_scales_red_and_blue_by_one_gain_each(gbuffer):
    gains = []
    for seed in (5, 6):
        ref = image(gbuffer, seed=seed, **QUIET).astype(np.float64)
        out = image(gbuffer, seed=seed, white_balance=0.3, **QUIET).astype(np.float64)
        ok = (ref > 60).all(-1) & (ref < 190).all(-1)
        ratio = out[ok] / ref[ok]
        assert np.abs(ratio[:, 1] - 1).max() < 0.02  # green fixed
        assert ratio[:, 0].std() < 0.02 and ratio[:, 2].std() < 0.02  # one gain per channel
        assert 0.69 < ratio[:, 0].mean() < 1.31 and 0.69 < ratio[:, 2].mean() < 1.31
        gains.append(ratio[:, [0, 2]].mean(0))
    assert np.abs(gains[0] - gains[1]).max() > 0.02  # drawn per image


def test_gamma_is_the_tone_curve(gbuffer):
    ref = image(gbuffer).astype(np.float64)
    out = image(gbuffer, gamma=(2.0, 2.0))
    assert np.array_equal(out, np.round(255 * (ref / 255) ** 2).astype(np.uint8))


def test_effects_follow_the_seed(gbuffer):
    options = dict(defocus_blur_px=(0.0, 2.0), motion_blur_px=(0.0, 6.0), shot_noise=(0.0, 2.0), jpeg_quality=(40, 95),
                   white_balance=0.2, gamma=(0.8, 1.25), noise_std=(1.0, 5.0), backgrounds=["procedural", "clutter"],
                   lights=(1, 3), light_temperature_k=(3000.0, 8000.0))
    a, b, c = image(gbuffer, 3, **options), image(gbuffer, 3, **options), image(gbuffer, 4, **options)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_clutter_changes_the_background_only(gbuffer):
    plain = image(gbuffer, **QUIET)
    clutter = image(gbuffer, backgrounds="clutter", **QUIET)
    inner = interior(gbuffer.mask)
    assert np.array_equal(plain[inner], clutter[inner])
    outside = ~cv2.dilate(gbuffer.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert (np.abs(plain.astype(int) - clutter.astype(int)).max(-1) > 10)[outside].mean() > 0.05
    edges = lambda im: cv2.Canny(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), 50, 150)[outside].mean()  # noqa: E731
    assert edges(clutter) > 2 * edges(plain)


def test_sample_photo_backgrounds(gbuffer, monkeypatch):
    pytest.importorskip("skimage")
    outside = ~cv2.dilate(gbuffer.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    photos = [backgrounds_module.read_photo(p) for p in backgrounds_module.sample_photos()]
    assert len(photos) >= 8
    for seed in range(3):
        out = image(gbuffer, seed=seed, backgrounds="samples", **QUIET)
        # the background is a crop of a sample photo at scale >= 1: its colours are among that photo's
        corner = out[:8, :8].reshape(-1, 3).astype(int)
        best = min(np.abs(p.reshape(-1, 3)[:, None, :].astype(int)[::7] - corner[None]).sum(-1).min(0).mean() for p in photos)
        assert best < 12, best
        assert not np.array_equal(out[outside], image(gbuffer, seed=seed, **QUIET)[outside])
    monkeypatch.setattr(backgrounds_module, "sample_photos", lambda: [])
    with pytest.raises(UserError, match="pip install scikit-image"):
        backend_options("render", {"backgrounds": "samples"})


def test_a_list_of_backgrounds_draws_one_per_image(gbuffer):
    kinds = set()
    for seed in range(10):
        mixed = image(gbuffer, seed=seed, backgrounds=["procedural", "clutter"], **QUIET)
        kinds.add("procedural" if np.array_equal(mixed, image(gbuffer, seed=seed, **QUIET)) else "clutter")
    assert kinds == {"procedural", "clutter"}


def test_colour_temperature_tints_the_object(gbuffer):
    assert kelvin_to_rgb(2700)[0] > kelvin_to_rgb(2700)[1] > kelvin_to_rgb(2700)[2]
    assert kelvin_to_rgb(10000)[2] > kelvin_to_rgb(10000)[0]
    assert abs(kelvin_to_rgb(4000).mean() - 1) < 1e-5
    inner = interior(gbuffer.mask)
    warm = image(gbuffer, light_temperature_k=(2700.0, 2700.0), **QUIET)[inner].astype(float).mean(0)
    cold = image(gbuffer, light_temperature_k=(10000.0, 10000.0), **QUIET)[inner].astype(float).mean(0)
    assert warm[0] / max(warm[2], 1) > 1.2 * cold[0] / max(cold[2], 1)


def test_fill_lights_add_light_and_one_light_matches_the_plain_shading(gbuffer):
    flat = dict(ambient=(0.0, 0.0), light_intensity=(0.6, 0.6), specular=(0.0, 0.0), **QUIET)
    inner = interior(gbuffer.mask)
    plain = image(gbuffer, **flat)[inner].astype(int)
    one = image(gbuffer, light_tint=1e-9, **flat)[inner].astype(int)  # the coloured-light path with one white light
    assert np.abs(one - plain).max() <= 1
    three = image(gbuffer, lights=(3, 3), fill_intensity=(0.4, 0.4), **flat)[inner].astype(int)
    assert (three >= plain - 1).all() and three.mean() > plain.mean() + 5


def test_specular_range_makes_highlights(gbuffer):
    inner = interior(gbuffer.mask)
    matte = image(gbuffer, specular=(0.0, 0.0), **QUIET)[inner].astype(int)
    shiny = image(gbuffer, specular=(1.0, 1.0), shininess=(5.0, 5.0), **QUIET)[inner].astype(int)
    assert (shiny >= matte).all() and shiny.sum(-1).max() > matte.sum(-1).max()


def test_new_options_are_recorded_only_when_set_and_rebuild():
    default = RenderBackend().settings()
    assert not set(LATER_OPTIONS) & set(default)  # default datasets keep their generation JSON bytes
    options = {"jpeg_quality": [50, 90], "defocus_blur_px": [0, 2], "lights": [1, 3], "backgrounds": ["procedural", "clutter"]}
    settings = RenderBackend(backend_options("render", options)).settings()
    for key, value in options.items():
        assert list(settings[key]) == value
    assert backend_from_settings(settings).settings() == settings


@pytest.mark.parametrize("options, field", [
    ({"jpeg_quality": [0, 50]}, "jpeg_quality"), ({"jpeg_quality": [90, 50]}, "jpeg_quality"), ({"gamma": [0.0, 1.0]}, "gamma"),
    ({"lights": [0, 2]}, "lights"), ({"defocus_blur_px": [-1, 2]}, "defocus_blur_px"), ({"noise_std": [5, 1]}, "noise_std"),
    ({"white_balance": 2.0}, "white_balance"), ({"light_temperature_k": [100, 200]}, "light_temperature_k"),
    ({"backgrounds": []}, "backgrounds"), ({"backgrounds": ["procedural", "/no/such/folder"]}, "backgrounds"), ({"blur": 1}, "blur"),
])
def test_bad_options_are_one_line(options, field):
    with pytest.raises(UserError) as info:
        backend_options("render", options)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_shadow_darkens_the_background_away_from_the_key_light(gbuffer):
    plain = image(gbuffer, **QUIET).astype(float)
    shaded = image(gbuffer, shadow=(0.7, 0.7), **QUIET).astype(float)
    inner = interior(gbuffer.mask)
    assert np.array_equal(plain[inner], shaded[inner])  # the object itself is unchanged
    outside = ~cv2.dilate(gbuffer.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    ratio = shaded.sum(-1)[outside] / np.maximum(plain.sum(-1)[outside], 1)
    assert (ratio <= 1.0 + 1e-6).all() and ratio.min() < 0.6  # only darker, and clearly somewhere
    # the darkened pixels lie on the side away from the light: the shadow's centroid is off the object's
    # in the direction opposite the light's image-plane component (the same draw as the shading)
    rng = np.random.default_rng(5)
    backend = RenderBackend(RenderBackendConfig(**QUIET))
    n = int(gbuffer.parts.max()) + 1
    backend._materials(rng, n)
    light = backend._light_direction(rng)
    ys, xs = np.nonzero(outside & (shaded.sum(-1) < 0.9 * plain.sum(-1)))
    oy, ox = np.nonzero(gbuffer.mask)
    offset = np.array([xs.mean() - ox.mean(), ys.mean() - oy.mean()])
    assert offset @ -light[:2] > 0
