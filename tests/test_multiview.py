"""Multi-view object sets (job ``views``): layouts, shared instances, camera conventions, export.

The camera checks are written independently of dst3d's projection code: a stored
camera-to-world matrix is inverted by hand and K applied by hand, and the result is compared
with what the renderer drew (the silhouette's extent, the depth buffer of another view).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from dst3d.cad.library import CadLibrary
from dst3d.control.visual_prompt import make_controls
from dst3d.errors import UserError
from dst3d.pipeline.generator import Generator
from dst3d.pipeline.job import JobConfig, Plan, load_job
from dst3d.render.scene import Rerenderer
from dst3d.store.dataset import open_dataset
from dst3d.store.record import Record

GL = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenCV <-> OpenGL camera axes, written out here on purpose


@pytest.fixture(scope="module")
def orbit_data(tmp_path_factory, cli):
    """CLI: 2 classes x 8 images = 2 groups of 4 orbit views each, 64 px; then the multiview export."""
    work = tmp_path_factory.mktemp("mv")
    out = work / "orbit"
    proc = cli("generate", "--classes", "car,chair", "--per-class", "8", "--size", "64", "--seed", "5",
               "--views-per-object", "4", "--view-layout", "orbit", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    proc = cli("export", str(out), "--format", "multiview", "--out", str(work / "export"))
    assert proc.returncode == 0, proc.stderr
    return out, work / "export"


def _records(root) -> list[Record]:
    return list(open_dataset(root).records())


def _groups(records) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.view_group, []).append(r)
    return {g: sorted(v, key=lambda r: r.view_index) for g, v in groups.items()}


def _camera_centre(c2w_cv: np.ndarray) -> np.ndarray:
    return c2w_cv[:3, 3]


def _project(points: np.ndarray, c2w_cv: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object points -> dst3d pixels (pixel edges at integers) and depth, by hand: inverse c2w, then K."""
    w2c = np.linalg.inv(c2w_cv)
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    u = K[0, 0] * cam[:, 0] / cam[:, 2] + K[0, 2]
    v = K[1, 1] * cam[:, 1] / cam[:, 2] + K[1, 2]
    return np.stack([u, v], 1), cam[:, 2]


# --- layouts ---------------------------------------------------------------------------------

def test_orbit_layout_even_azimuths_at_the_elevation(orbit_data):
    """Recovered from the stored c2w alone (camera centre), not from the angle columns."""
    groups = _groups(_records(orbit_data[0]))
    assert len(groups) == 4 and all(len(v) == 4 for v in groups.values())
    for views in groups.values():
        centres = [_camera_centre(np.asarray(r.view["c2w"])) for r in views]
        for c in centres:  # elevation 15 deg: asin(z / |C|)
            assert np.degrees(np.arcsin(c[2] / np.linalg.norm(c))) == pytest.approx(15.0, abs=1e-6)
        # PASCAL3D+ azimuth from the centre: C = d (cos e sin a, -cos e cos a, sin e)
        az = [np.degrees(np.arctan2(c[0], -c[1])) for c in centres]
        steps = [(az[k + 1] - az[k]) % 360 for k in range(3)]
        assert steps == pytest.approx([90.0] * 3, abs=1e-6)
        assert len({round(np.linalg.norm(c), 9) for c in centres}) == 1  # one distance per group
        assert all(r.theta == pytest.approx(0.0) for r in views)


def test_zero123pp_layout_matches_the_spec():
    job = JobConfig(classes=["chair"], per_class=12, width=64, height=64, seed=2, views={"layout": "zero123pp"})
    assert job.views.per_object == 6  # zero123pp means six views
    plan = Plan(job)
    for first in (0, 6):
        specs = [plan.spec(i) for i in range(first, first + 6)]
        base = specs[0].base_azimuth
        rel = [np.degrees(s.viewpoint.azimuth - base) % 360 for s in specs]
        assert rel == pytest.approx([30, 90, 150, 210, 270, 330], abs=1e-9)
        assert [np.degrees(s.viewpoint.elevation) for s in specs] == pytest.approx([20, -10, 20, -10, 20, -10], abs=1e-9)
        assert all(s.viewpoint.theta == 0.0 for s in specs)
    assert np.degrees(2 * np.arctan(32 / job.K()[0, 0])) == pytest.approx(30.0)  # FOV 30
    with pytest.raises(UserError, match="fov_deg to 30"):
        load_job(None, {"classes": ["chair"], "per_class": 6, "fov_deg": 40, "views": {"layout": "zero123pp"}})
    with pytest.raises(UserError, match="per_object to 6"):
        load_job(None, {"classes": ["chair"], "per_class": 8, "views": {"layout": "zero123pp", "per_object": 4}})


def test_random_layout_shares_the_instance_but_not_the_pose():
    job = JobConfig(classes=["car"], per_class=6, width=64, height=64, seed=4, views={"per_object": 3, "layout": "random"})
    plan = Plan(job)
    specs = [plan.spec(i) for i in range(6)]
    for group in (specs[:3], specs[3:]):
        assert len({(s.cad_id, s.prompt, s.seed, s.view.group) for s in group}) == 1
        assert len({round(s.viewpoint.azimuth, 9) for s in group}) == 3
        assert [s.view.index for s in group] == [0, 1, 2]
    assert specs[0].view.group != specs[3].view.group


def test_per_class_must_be_whole_groups_and_batches_round_up():
    with pytest.raises(UserError, match="per_class 10 is not a multiple of views.per_object 4.*per_class 8 or 12"):
        load_job(None, {"classes": ["car"], "per_class": 10, "views": {"per_object": 4}})
    job = load_job(None, {"classes": ["car"], "per_class": 12, "batch_size": 5, "shard_size": 7, "views": {"per_object": 6, "layout": "orbit"}})
    assert (job.batch_size, job.shard_size) == (6, 12)


# --- records ---------------------------------------------------------------------------------

def test_views_of_a_group_share_model_prompt_seed_and_score(orbit_data):
    groups = _groups(_records(orbit_data[0]))
    keys = set()
    for group, views in groups.items():
        assert [r.view_index for r in views] == [0, 1, 2, 3] and {r.view_size for r in views} == {4}
        assert len({(r.cad_id, r.prompt, r.seed) for r in views}) == 1, group
        scores = {r.view.get("consistency") for r in views}
        assert len(scores) == 1 and 0.0 <= scores.pop() <= 1.0  # the group's score, in every view
        assert all(r.view["layout"] == "orbit" for r in views)
        keys.add((views[0].cad_id, views[0].seed))
    assert len(keys) == len(groups)  # groups are different instances


def test_stored_c2w_is_the_inverse_of_R_t_and_projects_where_the_render_drew(orbit_data):
    """Every view: the model's vertices projected through the stored c2w and K (by hand) span
    the rendered silhouette's box (to 1 px). Two views: pixels of view 0 lifted to 3D with its
    depth and c2w land, through view 1's matrices, on view 1's rendered surface (its depth)."""
    root, _ = orbit_data
    library = CadLibrary()
    groups = _groups(_records(root))
    boxes = 0
    with Rerenderer(library) as rerender:
        for views in list(groups.values())[:2]:
            vertices = np.concatenate([p.vertices for p in library.load_parts(library.model(views[0].cad_id)[1])])
            posed = []
            for r in views:
                c2w = np.asarray(r.view["c2w"])
                assert np.allclose(c2w, r.camera_to_world(), atol=1e-9)
                assert np.allclose(np.linalg.inv(c2w)[:3, :3], r.R, atol=1e-9) and np.allclose(np.linalg.inv(c2w)[:3, 3], r.t, atol=1e-9)
                view = rerender.view(r)
                assert np.array_equal(make_controls(view.render, r.control_config)[r.control_type], r.control_rgb())  # the render that made it
                uv, z = _project(vertices, c2w, r.K)
                assert (z > 0).all()
                ys, xs = np.nonzero(view.render.mask)
                drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)  # pixel-edge box of the mask
                inside = (uv[:, 0] > 0) & (uv[:, 0] < r.width) & (uv[:, 1] > 0) & (uv[:, 1] < r.height)
                if inside.all():
                    projected = np.array([*uv.min(0), *uv.max(0)])
                    assert np.abs(projected - drawn).max() <= 1.0, (r.id, projected, drawn)
                    boxes += 1
                posed.append(view)
            a, b = views[0], views[1]
            da, db = posed[0].render.depth, posed[1].render.depth
            rows, cols = np.nonzero(da > 0)
            pix = np.stack([cols + 0.5, rows + 0.5, np.ones_like(cols, float)], 1)  # dst3d: pixel centres at +0.5
            cam_a = (pix @ np.linalg.inv(a.K).T) * da[rows, cols][:, None]
            world = cam_a @ np.asarray(a.view["c2w"])[:3, :3].T + np.asarray(a.view["c2w"])[:3, 3]
            uv, zb = _project(world, np.asarray(b.view["c2w"]), b.K)
            ok = (uv[:, 0] >= 0) & (uv[:, 0] < b.width) & (uv[:, 1] >= 0) & (uv[:, 1] < b.height) & (zb > 0)
            assert ok.mean() > 0.9  # in view 1's image (a flipped or transposed c2w puts none there)
            surface = db[uv[ok, 1].astype(int), uv[ok, 0].astype(int)]
            hit = surface > 0
            assert hit.mean() > 0.7  # on the object's silhouette in view 1 (thin chair legs miss at 64 px)
            gap = zb[ok][hit] - surface[hit]  # > 0: hidden behind what view 1 sees
            assert np.percentile(gap, 5) > -0.1  # not in front of view 1's surface (beyond pixel-edge noise)
            assert (np.abs(gap) < 0.03).mean() > 0.1  # the surface both views see coincides
    assert boxes >= 4  # most views show the whole object


# --- export ----------------------------------------------------------------------------------

def test_export_reads_back_images_captions_and_cameras(orbit_data):
    root, export = orbit_data
    groups = _groups(_records(root))
    index = json.loads((export / "index.json").read_text())
    assert [g["group"] for g in index["groups"]] == sorted(groups) and index["incomplete"] == []
    assert sorted(p.name for p in export.iterdir()) == sorted([*groups, "index.json"])
    for group, views in groups.items():
        folder = export / group
        assert sorted(p.name for p in folder.iterdir()) == ["000.png", "001.png", "002.png", "003.png", "caption.txt", "transforms.json"]
        assert (folder / "caption.txt").read_text().strip() == views[0].prompt
        meta = json.loads((folder / "transforms.json").read_text())
        assert meta["caption"] == views[0].prompt and meta["w"] == 64 and meta["h"] == 64
        K = views[0].K
        assert (meta["fl_x"], meta["fl_y"], meta["cx"], meta["cy"]) == pytest.approx((K[0, 0], K[1, 1], K[0, 2], K[1, 2]))
        assert meta["cx"] == pytest.approx(32.0)  # pixel edges at integers: the centre of a 64 px image
        assert meta["camera_angle_x"] == pytest.approx(np.radians(30.0))
        for r, frame in zip(views, meta["frames"]):
            image = cv2.cvtColor(cv2.imread(str(folder / frame["file_path"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            assert np.array_equal(image, r.image_rgb())
            c2w_gl = np.asarray(frame["transform_matrix"])
            w2c = np.linalg.inv(c2w_gl @ GL)  # back to OpenCV, then world -> camera
            assert np.allclose(w2c[:3, :3], r.R, atol=1e-9) and np.allclose(w2c[:3, 3], r.t, atol=1e-9)
            # OpenGL camera: looks down -z at the object's origin, +y up (theta 0: world up is up)
            centre = c2w_gl[:3, 3]
            assert np.allclose(c2w_gl[:3, 2], centre / np.linalg.norm(centre), atol=1e-9)
            assert c2w_gl[2, 1] > 0
            a, e, d = r.azimuth, r.elevation, r.distance  # README: C = d (cos e sin a, -cos e cos a, sin e)
            assert np.allclose(centre, d * np.array([np.cos(e) * np.sin(a), -np.cos(e) * np.cos(a), np.sin(e)]), atol=1e-9)


def test_export_refuses_single_images_and_unsafe_group_ids(small_dataset, tmp_path):
    from dst3d.exporters import export
    from dst3d.exporters.multiview import _groups as export_groups

    with pytest.raises(UserError, match="no view groups.*--views-per-object N"):
        export(small_dataset, "multiview", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    evil = Record(id="x", cad_id="car_00", prompt="p", seed=1, render={"view": {"group": "../../etc", "index": 0, "size": 1}})
    with pytest.raises(UserError, match="not a safe file name"):
        export_groups([evil], tmp_path)


# --- determinism, defaults ---------------------------------------------------------------------

def test_a_view_made_alone_equals_the_full_run(orbit_data):
    root, _ = orbit_data
    job = JobConfig.model_validate(open_dataset(root).job["job"])
    full = {r["id"]: r for r in open_dataset(root).table().to_pylist()}
    generator = Generator(job)
    try:
        for index in (2, 13):
            (row,) = generator.rows(range(index, index + 1))
            stored = full[row["id"]]
            for column in ("image", "control", "R", "t", "K", "cad_id", "prompt", "seed", "render"):
                assert row[column] == stored[column], (index, column)
    finally:
        generator.close()


def test_batches_hold_whole_groups_with_their_view():
    from dst3d.appearance.render import RenderBackend

    job = JobConfig(classes=["car"], per_class=6, width=32, height=32, seed=1, batch_size=4, views={"per_object": 3})
    batches = []

    class Recording(RenderBackend):
        def generate_detailed(self, requests):
            batches.append([r.view for r in requests])
            return super().generate_detailed(requests)

    generator = Generator(job, backend=Recording())
    try:
        generator.rows(range(0, 6))
    finally:
        generator.close()
    assert [len(b) for b in batches] == [6]  # batch_size 4 rounded up to 6, whole groups
    assert [(v.group, v.index, v.size) for v in batches[0]] == [("n02814533-g000000", k, 3) for k in range(3)] + [("n02814533-g000001", k, 3) for k in range(3)]


def test_default_job_keeps_its_settings_and_fingerprint():
    """Values computed with the code before multi-view groups existed."""
    job = JobConfig(classes=["car", "chair"], per_class=4, width=64, height=64, seed=3)
    assert "views" not in job.settings() and "views" not in job.public()
    assert job.fingerprint() == "d798a6e10425064b"
    assert Plan(job).fingerprint() == "d94d03ad60c6f1e5"
    assert JobConfig(classes=["car", "chair"], per_class=4, width=64, height=64, seed=3, views={"per_object": 1}).fingerprint() == job.fingerprint()
    assert Plan(job).spec(5).view is None


def test_jobs_survive_the_round_trip_to_worker_processes():
    """Workers and Ray actors get ``model_dump_json()``: default and view jobs must validate back unchanged."""
    for job in (JobConfig(classes=["car"]), JobConfig(classes=["car"], per_class=12, batch_size=5, views={"per_object": 4, "layout": "random"}),
                JobConfig(classes=["car"], per_class=6, views={"layout": "zero123pp"})):
        again = JobConfig.model_validate_json(job.model_dump_json())
        assert again == job and again.fingerprint() == job.fingerprint()
        assert JobConfig.model_validate(job.settings()) == job  # the job file's settings too
