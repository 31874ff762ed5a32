"""`dst3d generate` end to end: the dataset loads, labels match, records re-render, bad input fails cleanly."""

import shutil

import numpy as np
import pytest
import yaml
from datasets import load_dataset

from dst3d.cad.library import CadLibrary
from dst3d.control.visual_prompt import make_controls
from dst3d.errors import UserError
from dst3d.pipeline.job import JobConfig
from dst3d.pipeline.run import run_job
from dst3d.pose.viewpoint import viewpoint_to_rotation
from dst3d.render.scene import Rerenderer
from dst3d.store.dataset import open_dataset, read_table


def test_cli_generate_then_load_dataset(cli, tmp_path):
    out = tmp_path / "ds"
    proc = cli("generate", "--classes", "car,n02690373", "--per-class", "3", "--size", "96", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    ds = load_dataset(str(out), split="train")
    assert len(ds) == 6
    assert sorted(set(ds["class_name"])) == sorted({ds[0]["class_name"], ds[5]["class_name"]})
    assert ds["synset"].count("n02690373") == 3
    for row in ds:
        assert row["image"].size == (96, 96) and row["control"].size == (96, 96)
        R = viewpoint_to_rotation(row["azimuth"], row["elevation"], row["theta"])
        np.testing.assert_allclose(np.array(row["R"]), R, atol=1e-9)
        np.testing.assert_allclose(row["t"], [0, 0, row["distance"]], atol=1e-9)
        x0, y0, x1, y1 = row["bbox"]
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 96
        assert row["backend"] == "render" and row["prompt"]
    card = (out / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert header["configs"][0]["data_files"][0]["path"] == "data/train-*"
    assert "n02690373" in card


def test_cli_inspect_writes_pngs(cli, small_dataset, tmp_path):
    proc = cli("inspect", str(small_dataset), "--out", str(tmp_path / "insp"), "--n", "4")
    assert proc.returncode == 0, proc.stderr
    for name in ("contact_sheet.png", "pose_distribution.png"):
        data = (tmp_path / "insp" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_stored_record_rerenders_its_control(small_dataset):
    with Rerenderer(CadLibrary()) as rerenderer:
        for record in open_dataset(small_dataset).records():
            posed = rerenderer.view(record)
            control = make_controls(posed.render, record.control_config)[record.control_type]
            assert np.array_equal(control, record.control_rgb()), record.id
            assert posed.annotations["bbox"] == pytest.approx(record.bbox)
            assert posed.annotations["visible_fraction"] == pytest.approx(record.visible_fraction)


def test_content_depends_only_on_job_and_index(tmp_path):
    """Shard layout and batch size change nothing: the basis for resumable, distributed runs."""
    a = JobConfig(classes=["bottle", "sofa"], per_class=4, width=64, height=64, seed=3, shard_size=8, batch_size=8)
    b = a.model_copy(update={"shard_size": 3, "batch_size": 2})
    run_job(a, tmp_path / "a", progress=False)
    run_job(b, tmp_path / "b", progress=False)
    ta, tb = read_table(tmp_path / "a"), read_table(tmp_path / "b")
    assert ta.column("id").to_pylist() == tb.column("id").to_pylist()
    for column in ("image", "control", "R", "cad_id", "prompt", "seed"):
        assert ta.column(column).to_pylist() == tb.column(column).to_pylist(), column
    assert len(list((tmp_path / "b" / "data").glob("*.parquet"))) == 3


# --- bad input: one line on stderr, exit code 2, nothing written -------------------------

def _fails_cleanly(proc, out, *words):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]
    if out is not None:
        assert not out.exists()


def test_unknown_class(cli, tmp_path):
    out = tmp_path / "o"
    _fails_cleanly(cli("generate", "--classes", "car,unicorn", "--out", str(out)), out, "unknown class 'unicorn'")


def test_class_messages_say_what_to_do():
    """A real ImageNet class without a CAD model gets the import command; a typo gets a guess."""
    library = CadLibrary()
    with pytest.raises(UserError, match=r"no CAD model for 'golden retriever' \(n02099601\).*dst3d cad import MESH --synset n02099601"):
        library.resolve_class("golden retriever")
    with pytest.raises(UserError, match="unknown class 'aeroplan'; did you mean 'aeroplane'"):
        library.resolve_class("aeroplan")


@pytest.fixture
def library_copy(tmp_path):
    root = tmp_path / "lib"
    shutil.copytree(CadLibrary().root, root)
    return root


def _first_mesh(root):
    lib = CadLibrary(root)
    cls = lib.manifest.classes[lib.resolve_class("car")]
    return root / cls.models[0].mesh


def test_missing_mesh(cli, tmp_path, library_copy):
    _first_mesh(library_copy).unlink()
    out = tmp_path / "o"
    _fails_cleanly(cli("generate", "--classes", "car", "--out", str(out), "--cad-library", str(library_copy)), out, "missing")


def test_corrupt_mesh(cli, tmp_path, library_copy):
    _first_mesh(library_copy).write_bytes(b"glTF this is not a mesh" * 10)
    out = tmp_path / "o"
    _fails_cleanly(cli("generate", "--classes", "car", "--out", str(out), "--cad-library", str(library_copy)), out, "cannot be read")


def test_empty_mesh(cli, tmp_path, library_copy):
    import trimesh

    path = _first_mesh(library_copy)
    trimesh.Scene([trimesh.PointCloud(np.random.default_rng(0).uniform(size=(10, 3)))]).export(path)
    out = tmp_path / "o"
    _fails_cleanly(cli("generate", "--classes", "car", "--out", str(out), "--cad-library", str(library_copy)), out, "no faces")


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"pose": {"elevation_range": {"min": 40, "max": 10}}}, "greater than max"),
        ({"pose": {"distance_range": {"min": -1, "max": 2}}}, "positive"),
        ({"per_class": 0}, "per_class"),
        ({"control": {"canny_low": 300, "canny_high": 100}}, "canny"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings(cli, tmp_path, setting, message):
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump({"classes": ["car"], **setting}))
    out = tmp_path / "o"
    _fails_cleanly(cli("generate", "--config", str(config), "--out", str(out)), out, message)


def test_existing_output(cli, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _fails_cleanly(cli("generate", "--classes", "car", "--out", str(out)), None, "already exists")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_unwritable_output(cli):
    _fails_cleanly(cli("generate", "--classes", "car", "--out", "/proc/dst3d-out"), None, "cannot write")


def test_backend_retry_notes_are_recorded_with_the_sample(tmp_path, monkeypatch):
    """A backend that had to recover (e.g. ControlNet after a non-finite output) reports
    notes per image; the pipeline stores them in that row's generation JSON, only there."""
    from dst3d.appearance.render import RenderBackend
    from dst3d.appearance.request import Generated

    plain = RenderBackend.generate_detailed

    def with_a_retry(self, requests):
        out = plain(self, requests)
        return [Generated(g.image, {"retry_of": r.seed, "seed": r.seed + 1} if r.seed % 2 else {}) for g, r in zip(out, requests)]

    monkeypatch.setattr(RenderBackend, "generate_detailed", with_a_retry)
    run_job(JobConfig(classes=["bottle"], per_class=6, width=64, height=64, seed=5), tmp_path / "o", progress=False)
    for record in open_dataset(tmp_path / "o").records():
        if record.seed % 2:
            assert record.generation["retry"] == {"retry_of": record.seed, "seed": record.seed + 1}
        else:
            assert "retry" not in record.generation


def test_classes_cad_means_every_class_of_the_library():
    from dst3d.pipeline.job import Plan

    library = CadLibrary()
    plan = Plan(JobConfig(classes=["cad", "car"], per_class=1), library)  # car again: no duplicate
    assert plan.synsets == list(library.manifest.classes) and len(plan) == len(library.manifest.classes)
    with pytest.raises(UserError, match="use 'cad'"):
        Plan(JobConfig(classes=["all"], per_class=1), library)
