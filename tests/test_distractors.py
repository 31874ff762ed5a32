"""Distractors: other models drawn with the target; the target's labels stay exact.

The reference for every label is independent of the joint render: the target and each
distractor are rendered alone (the distractor from its own scaled mesh, through another GL
transform) and composited per pixel by depth.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from dst3d.cad.library import CadLibrary
from dst3d.errors import UserError
from dst3d.pipeline.job import JobConfig, Plan, load_job
from dst3d.pipeline.run import run_job
from dst3d.pose.viewpoint import Viewpoint, intrinsics, project
from dst3d.render.annotations import bbox_from_mask
from dst3d.render.renderer import Renderer
from dst3d.render.scene import Distractor, Rerenderer, SceneCache, render_pose
from dst3d.store.dataset import open_dataset, read_table

SIZE = 160


@pytest.fixture(scope="module")
def library():
    return CadLibrary(None)


def _model_ids(library, n=2):
    classes = sorted(library.manifest.classes)
    return [library.manifest.classes[c].models[0].id for c in classes[:n]]


def _alone(library, cad_id, R, t, K, scale=1.0):
    """The model rendered alone from its own (scaled) mesh: (mask, metric depth)."""
    _, model = library.model(cad_id)
    parts = [p.copy() for p in library.load_parts(model)]
    for p in parts:
        p.apply_scale(scale)
    with Renderer(parts, SIZE, SIZE) as renderer:
        result = renderer.render(R, t, K)
        return result.mask.copy(), result.depth.copy()


def _composite(target, occluders):
    """The target's visible mask: its pixels where no occluder is nearer (z-buffer)."""
    mask, depth = target
    visible = mask.copy()
    for other_mask, other_depth in occluders:
        visible &= ~(other_mask & (other_depth < depth))
    return visible


def _pose(azimuth=30.0, distance=3.0, shift=0.0):
    vp = Viewpoint(np.deg2rad(azimuth), np.deg2rad(15), 0.0, distance)
    t = vp.translation() + np.array([shift, 0.0, 0.0])
    return vp.rotation(), t, intrinsics(SIZE, SIZE, 220)


def _rot(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


@pytest.mark.parametrize("shift", [0.0, 1.1])  # 1.1: the target also crosses the image border
def test_distractors_keep_the_target_labels_exact(library, shift):
    target, other = _model_ids(library)
    R, t, K = _pose(shift=shift)
    front = Distractor(other, tuple(_rot(40).reshape(-1)), (t[0] * 1.7 / t[2] + 0.1, 0.05, 1.7), 0.5)  # on the line of sight
    behind = Distractor(target, tuple(_rot(-70).reshape(-1)), (t[0] - 0.9, -0.2, 4.5), 0.8)  # the same model as the target, too
    scenes = SceneCache(library, SIZE, SIZE)
    try:
        posed = render_pose(scenes, target, R, t, K, [front, behind])
        plain = render_pose(scenes, target, R, t, K)
        amodal, amodal_with = plain.full_silhouette(), posed.full_silhouette()
    finally:
        scenes.close()
    reference = _composite(_alone(library, target, R, t, K),
                           [_alone(library, d.cad_id, np.reshape(d.R, (3, 3)), np.asarray(d.t), K, d.scale) for d in (front, behind)])
    assert reference.sum() < 0.9 * plain.mask.sum()  # the front distractor really hides part of the target
    assert (plain.annotations["visible_fraction"] < 0.95) == (shift > 0)  # the shifted target is cut by the border
    mismatch = int((posed.mask != reference).sum())
    assert mismatch <= max(3, 0.003 * reference.sum()), mismatch
    assert posed.annotations["bbox"] == pytest.approx(bbox_from_mask(reference), abs=1)
    assert amodal_with == amodal  # amodal quantities ignore the occluders
    expected = reference.sum() / amodal.pixels
    assert posed.annotations["visible_fraction"] == pytest.approx(expected, abs=0.004)
    assert posed.annotations["visible_fraction"] < plain.annotations["visible_fraction"] - 0.05
    assert posed.render.scene_mask.sum() > posed.mask.sum()  # the distractors are in the picture
    _, points = library.keypoints(library.model(target)[1])
    for kp, (u, v) in zip(posed.annotations["keypoints"], project(points, R, t, K)[0]):
        col, row = int(np.floor(u)), int(np.floor(v))
        if 1 <= col < SIZE - 1 and 1 <= row < SIZE - 1 and not reference[row - 1 : row + 2, col - 1 : col + 2].any():
            assert not kp["visible"], kp  # hidden by an occluder (or off the object): not visible


def test_render_backend_draws_the_distractors(library):
    from dst3d.appearance.render import RenderBackend, RenderBackendConfig
    from dst3d.appearance.request import AppearanceRequest

    target, other = _model_ids(library)
    R, t, K = _pose()
    scenes = SceneCache(library, SIZE, SIZE)
    try:
        posed = render_pose(scenes, target, R, t, K, [Distractor(other, tuple(np.eye(3).reshape(-1)), (0.1, 0.0, 1.7), 0.5)])
        plain = render_pose(scenes, target, R, t, K)
    finally:
        scenes.close()
    backend = RenderBackend(RenderBackendConfig(noise_std=0.0))
    with_d, without = (backend.generate([AppearanceRequest({}, p.render, "", "", 1)])[0] for p in (posed, plain))
    only = posed.render.scene_mask & ~plain.mask  # distractor pixels over the background
    assert only.sum() > 100
    changed = np.abs(with_d.astype(int) - without.astype(int)).max(-1) > 0
    assert changed[only].mean() > 0.95  # shaded into the image, not left as background
    far = ~cv2.dilate(posed.render.scene_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert not changed[far].any()  # the background itself is the same draw


def _job(**extra) -> JobConfig:
    return JobConfig(classes=["bottle", "sofa"], per_class=3, width=64, height=64, seed=2, shard_size=6, **extra)


def test_plan_draws_distractors_as_a_pure_function_of_job_and_index(library):
    job = _job(distractors={"count": [1, 3], "in_front": 0.5})
    a, b = Plan(job), Plan(job)
    specs = [a.spec(i) for i in range(len(a))]
    assert [b.spec(i) for i in reversed(range(len(b)))][::-1] == specs
    assert all(1 <= len(s.distractors) <= 3 for s in specs)
    assert len({s.distractors for s in specs}) == len(specs)
    for s in specs:  # never the target's own class by default
        assert all(library.model(d.cad_id)[0] != s.synset for d in s.distractors)
        assert all(abs(np.linalg.det(np.reshape(d.R, (3, 3))) - 1) < 1e-9 for d in s.distractors)
    assert Plan(job.model_copy(update={"seed": 3})).spec(0).distractors != specs[0].distractors


def test_records_store_their_distractors_and_rerender_their_labels(tmp_path, library):
    job = _job(distractors={"count": [2, 3], "in_front": 0.8})
    run_job(job, tmp_path / "d", progress=False)
    records = list(open_dataset(tmp_path / "d").records())
    assert all(2 <= len(r.render["distractors"]) <= 3 for r in records)
    assert any(r.visible_fraction < 0.95 for r in records)
    with Rerenderer(library) as rerenderer:
        for record in records:
            posed = rerenderer.view(record)
            assert posed.annotations["bbox"] == pytest.approx(record.bbox)
            assert posed.annotations["visible_fraction"] == pytest.approx(record.visible_fraction)
            assert record.render["bbox_unoccluded"] == pytest.approx(bbox_from_mask(posed.alone.mask))
            assert {d["mesh_sha256"] for d in record.render["distractors"]} <= {rerenderer.scenes(64, 64).mesh_digest(d["cad_id"]) for d in record.render["distractors"]}


def test_a_distractor_free_job_is_unchanged(tmp_path):
    plain, zero = _job(), _job(distractors={"count": [0, 0]})
    assert "distractors" not in plain.settings() and Plan(plain).fingerprint() == Plan(zero).fingerprint()
    run_job(plain, tmp_path / "a", progress=False)
    run_job(zero, tmp_path / "b", progress=False)
    for name in ("data/train-00000-of-00001.parquet", "dst3d_job.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not any("distractors" in json.dumps(r) for r in read_table(tmp_path / "a").column("render").to_pylist())


@pytest.mark.parametrize("value, words", [
    ({"count": [0, 9]}, "count"), ({"count": [3, 1]}, "count"), ({"scale": [0, 1]}, "scale"), ({"in_front": 2}, "in_front"),
    ({"classes": []}, "classes"), ({"colour": 1}, "colour"),
])
def test_bad_distractor_settings_are_one_line(value, words):
    with pytest.raises(UserError) as info:
        load_job(None, {"classes": ["car"], "distractors": value})
    assert words in str(info.value) and "\n" not in str(info.value)


def test_distractors_from_a_mesh_folder(tmp_path, library):
    import trimesh

    folder = tmp_path / "meshes"
    folder.mkdir()
    trimesh.creation.box((4.0, 2.0, 1.0)).export(folder / "brick.obj")  # any size: normalized to longest side 1
    trimesh.creation.icosphere(subdivisions=2, radius=30.0).export(folder / "ball.ply")
    (folder / "notes.txt").write_text("not a mesh")
    job = _job(distractors={"count": [2, 2], "in_front": 1.0, "meshes": str(folder)})
    spec = Plan(job).spec(0)
    assert {d.cad_id for d in spec.distractors} <= {"mesh:brick.obj", "mesh:ball.ply"}
    run_job(job, tmp_path / "d", progress=False)
    records = list(open_dataset(tmp_path / "d").records())
    with Rerenderer(library, meshes=folder) as rerenderer:
        for record in records:
            posed = rerenderer.view(record)
            assert posed.annotations["visible_fraction"] == pytest.approx(record.visible_fraction)
            assert posed.annotations["bbox"] == pytest.approx(record.bbox)
    assert any(r.visible_fraction < 0.97 for r in records)  # in front: they hide part of the target
    with Rerenderer(library) as rerenderer, pytest.raises(UserError, match="mesh folder"):
        rerenderer.view(records[0])
    with pytest.raises(UserError, match="meshes"):
        load_job(None, {"classes": ["car"], "distractors": {"count": [1, 1], "meshes": str(tmp_path / "nothing")}})


def test_placements_that_hide_the_target_are_redrawn(tmp_path, library):
    job = _job(distractors={"count": [3, 3], "in_front": 1.0, "scale": [1.5, 2.0], "min_visible": 0.8})
    run_job(job, tmp_path / "d", progress=False)
    records = list(open_dataset(tmp_path / "d").records())
    plan = Plan(job)
    redrawn = [r for r in records if r.render.get("distractor_draw")]
    assert redrawn  # big occluders in front: some first placements hid too much
    with Rerenderer(library) as rerenderer:
        for record in records:
            posed = rerenderer.view(record)
            if "distractors" in record.render:  # what is kept leaves >= 80% of the in-image target visible
                assert posed.mask.sum() >= 0.8 * posed.alone.mask.sum()
            assert posed.annotations["visible_fraction"] == pytest.approx(record.visible_fraction)
    for record in redrawn:  # the redraw is the plan's derived draw (deterministic)
        spec = plan.spec(record.index)
        draw = record.render["distractor_draw"]
        if "distractors" in record.render:
            expected = plan.distractors(spec.index, spec.synset, spec.viewpoint, spec.cad_id, draw)
            assert [d["cad_id"] for d in record.render["distractors"]] == [d.cad_id for d in expected]


def test_a_distractor_job_is_the_same_on_any_number_of_workers(tmp_path):
    job = _job(distractors={"count": [1, 3]}, backend_options={"backgrounds": "clutter", "defocus_blur_px": [0, 1.5], "jpeg_quality": [60, 90]})
    run_job(job, tmp_path / "a", progress=False)
    run_job(job.model_copy(update={"batch_size": 2}), tmp_path / "b", progress=False, workers=2)
    shard = "data/train-00000-of-00001.parquet"
    assert read_table(tmp_path / "a").column("render").to_pylist() == read_table(tmp_path / "b").column("render").to_pylist()
    assert (tmp_path / "a" / shard).read_bytes() == (tmp_path / "b" / shard).read_bytes()


def test_distractors_with_own_colours_keep_them(tmp_path):
    """A vertex-coloured distractor over a plain target: the albedo pass draws its colours,
    and the render backend's 'own' appearance paints them (a random colour for parts without)."""
    import trimesh

    from dst3d.appearance.render import RenderBackend, RenderBackendConfig
    from dst3d.appearance.request import AppearanceRequest
    from dst3d.cad.importer import import_mesh

    root = tmp_path / "lib"
    root.mkdir()
    (root / "manifest.json").write_text('{"version": 1, "classes": {}}')
    lib = CadLibrary(root)
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    box.visual = trimesh.visual.ColorVisuals(vertex_colors=np.tile([200, 40, 30, 255], (len(box.vertices), 1)).astype(np.uint8))
    box.export(tmp_path / "red.ply")
    trimesh.creation.icosphere(subdivisions=2).export(tmp_path / "plain.obj")
    import_mesh(lib, tmp_path / "red.ply", "n97000011", "-y", "+z", model_id="red", name="red")
    import_mesh(lib, tmp_path / "plain.obj", "n97000012", "-y", "+z", model_id="plain", name="plain")
    R, t, K = _pose()
    scenes = SceneCache(lib, SIZE, SIZE)
    try:
        posed = render_pose(scenes, "plain", R, t, K, [Distractor("red", tuple(_rot(30).reshape(-1)), (0.15, 0.0, 1.8), 0.4)])
    finally:
        scenes.close()
    result = posed.render
    red = result.scene_mask & ~result.mask
    assert red.sum() > 50 and result.albedo is not None
    assert np.abs(result.albedo[red].astype(int) - [200, 40, 30]).max() <= 3
    assert result.own_parts[result.parts[red]].all() and not result.own_parts[result.parts[result.mask]].any()
    flat = dict(light_intensity=(0.0, 0.0), ambient=(1.0, 1.0), noise_std=0.0, specular=(0.0, 0.0))
    out = RenderBackend(RenderBackendConfig(appearance="own", **flat)).generate([AppearanceRequest({}, result, "", "", 2)])[0]
    inner = cv2.erode(red.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(out[inner].astype(int) - [200, 40, 30]).max() <= 3
