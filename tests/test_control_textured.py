"""Canny edges of the textured render (`control: {canny_source: textured}`): colour edges inside flat
faces appear, the default keeps its bytes, and a record re-renders its stored control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from dst3d.cad.importer import import_mesh
from dst3d.cad.library import CadLibrary
from dst3d.control.visual_prompt import ControlConfig, canny, make_controls
from dst3d.pose.viewpoint import Viewpoint, intrinsics
from dst3d.render.renderer import Renderer
from dst3d.render.scene import Rerenderer
from dst3d.store.dataset import open_dataset

RED, BLUE = (220, 30, 30, 255), (40, 60, 230, 255)
SIZE = 128
SYNSET = "n97000013"


def split_box(coloured: bool = True) -> trimesh.Trimesh:
    """A 1 x 0.8 x 0.6 box, red where x < 0 and blue where x > 0: the colour boundary x = 0 runs
    across the middle of four flat faces, where the geometry has no edge. One subdivision puts
    every triangle on one side of x = 0; unmerged vertices keep the boundary sharp."""
    box = trimesh.creation.box((1.0, 0.8, 0.6)).subdivide()
    box.unmerge_vertices()
    if coloured:
        left = box.triangles_center[:, 0] < 0
        colours = np.array([RED if is_left else BLUE for is_left in left for _ in range(3)], np.uint8)
        box.visual = trimesh.visual.ColorVisuals(vertex_colors=colours)
    return box


def front_render(mesh: trimesh.Trimesh):
    """The box seen from its front (azimuth 0, elevation 0), and the pose used."""
    vp = Viewpoint(0.0, 0.0, 0.0, 3.0)
    R, t, K = vp.rotation(), vp.translation(), intrinsics(SIZE, SIZE, SIZE * 1.2)
    with Renderer([mesh], SIZE, SIZE) as renderer:
        return renderer.render(R, t, K), (R, t, K)


def pinhole(point, R, t, K) -> tuple[float, float]:
    """Pixel (u, v) of an object point: x_cam = R x + t, (u, v) = (K x_cam)[:2] / z (written out here)."""
    x = np.asarray(R) @ np.asarray(point, float) + np.asarray(t, float).reshape(3)
    return K[0, 0] * x[0] / x[2] + K[0, 2], K[1, 1] * x[1] / x[2] + K[1, 2]


def boundary_band(R, t, K) -> tuple[slice, slice]:
    """Rows and columns around the projected colour boundary on the front face (y = -0.4),
    its ends trimmed by 4 px so the silhouette's own edges stay outside."""
    u0, v0 = pinhole((0.0, -0.4, 0.3), R, t, K)
    u1, v1 = pinhole((0.0, -0.4, -0.3), R, t, K)
    assert abs(u0 - u1) < 1e-9  # a vertical line in the image
    top, bottom = sorted((v0, v1))
    return slice(int(top) + 4, int(bottom) - 4), slice(int(np.floor(u0)) - 2, int(np.ceil(u0)) + 2)


def test_textured_edges_follow_the_colour_boundary_geometry_edges_do_not():
    result, (R, t, K) = front_render(split_box())
    rows, cols = boundary_band(R, t, K)
    textured = canny(result, source="textured")[..., 0] > 0
    geometry = canny(result)[..., 0] > 0
    assert rows.stop - rows.start > 20
    hit = textured[rows, cols].any(axis=1)
    assert hit.mean() > 0.9, hit.mean()  # an edge on (nearly) every row of the boundary
    assert not geometry[rows, cols].any()  # the face is flat: the clay render has no edge there
    # away from the boundary the front face is uniform in both
    assert not textured[rows, cols.stop + 4:cols.stop + 20].any()


def test_textured_falls_back_to_geometry_without_own_colours():
    result, _ = front_render(split_box(coloured=False))
    assert result.albedo is None
    assert np.array_equal(canny(result, source="textured"), canny(result))


def test_default_dump_keeps_the_old_keys_and_textured_round_trips():
    assert ControlConfig().model_dump(mode="json") == {"kinds": ["canny"], "canny_low": 100, "canny_high": 200}
    data = ControlConfig(canny_source="textured").model_dump(mode="json")
    assert data["canny_source"] == "textured"
    assert ControlConfig.model_validate(data).canny_source == "textured"
    with pytest.raises(ValueError):
        ControlConfig(canny_source="photo")


def _library_with_split_box(root: Path) -> CadLibrary:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text('{"version": 1, "classes": {}}')
    lib = CadLibrary(root)
    path = root.parent / "split_box.ply"
    split_box().export(path)
    import_mesh(lib, path, SYNSET, "-y", "+z", model_id="split_box", name="split box", size_m=0.3)
    return CadLibrary(root)


def test_records_store_the_source_and_rerender_their_control(tmp_path):
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    lib = _library_with_split_box(tmp_path / "lib")
    job = JobConfig(classes=[SYNSET], per_class=4, width=96, height=96, seed=5, cad_library=str(lib.root),
                    control={"kinds": ["canny"], "canny_source": "textured"})
    run_job(job, tmp_path / "out", progress=False)
    records = list(open_dataset(tmp_path / "out").records())
    assert len(records) == 4
    differs = 0
    with Rerenderer(lib) as rerenderer:
        for record in records:
            assert record.render["control"]["canny_source"] == "textured"
            posed = rerenderer.view(record)
            control = make_controls(posed.render, record.control_config)["canny"]
            assert np.array_equal(control, record.control_rgb()), record.id
            differs += not np.array_equal(control, canny(posed.render))
    assert differs >= 3  # the colour boundary adds edges in (almost) every view
