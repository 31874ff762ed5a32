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
