"""Shards are verified against the record written with them; damaged, truncated or deleted
shards are named by status and the readers and remade by resume (byte-identical to an
uninterrupted run); a resume with other CAD models is refused naming them; a full disk
is one line with nothing half-written; objects out of view are redrawn, deterministically."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dst3d.cli import app
from dst3d.errors import UserError
from dst3d.pipeline.job import JobConfig, Plan
from dst3d.pipeline.run import run_job
from dst3d.store.run_state import run_status
from dst3d.store.dataset import open_dataset, read_table
from dst3d.store.shards import shard_files

JOB = {"classes": ["car", "chair"], "per_class": 6, "width": 64, "height": 64, "seed": 5, "shard_size": 4, "batch_size": 2}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    from dst3d.cad.library import DEFAULT_LIBRARY

    lib = tmp_path_factory.mktemp("lib") / "cad"
    shutil.copytree(DEFAULT_LIBRARY, lib)
    return lib


@pytest.fixture(scope="module")
def reference(tmp_path_factory, library) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ds"
    run_job(JobConfig(**JOB, cad_library=str(library)), out, progress=False)
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".dst3d.lock"))
    return dst


def _shard_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in shard_files(root)}


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def _status(path: Path) -> list[str]:
    result = CliRunner().invoke(app, ["status", str(path)])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


@pytest.mark.parametrize("damage, what", [
    (_flip_middle, "sha256"),
    (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]), "truncated"),
    (lambda p: p.unlink(), "deleted"),
])
def test_damaged_shard_is_named_by_status_and_readers_and_remade_by_resume(tmp_path, reference, library, damage, what):
    data = _copy(reference, tmp_path / "ds")
    shard = shard_files(data)[1]
    damage(shard)

    st = run_status(data)
    assert list(st.problems) == [f"data/{shard.name}"] and what in st.problems[f"data/{shard.name}"]
    assert st.shards_done == st.shards - 1 and "damaged" in st.state
    lines = _status(data)
    assert "damaged" in lines[0] and any(shard.name in line and what in line for line in lines[1:])
    if what != "sha256":  # the quick check of every reader: size and footer (a flipped byte needs the sha256)
        with pytest.raises(UserError, match=shard.name):
            open_dataset(data)
    with pytest.raises(UserError, match=shard.name):
        open_dataset(data, verify="full")

    summary = run_job(JobConfig(**JOB, cad_library=str(library)), data, progress=False)
    assert list(summary.remade) == [f"data/{shard.name}"]
    assert _shard_bytes(data) == _shard_bytes(reference)
    assert run_status(data).problems == {} and run_status(data).state == "complete"


def test_shard_without_record_counts_as_not_done(tmp_path, reference, library):
    """A crash between a shard's rename and its record's write: the shard is remade."""
    data = _copy(reference, tmp_path / "ds")
    record = data / "data" / f".{shard_files(data)[0].name}.json"
    record.unlink()
    st = run_status(data)
    assert st.shards_done == st.shards - 1 and not st.problems and st.state.startswith("stopped")
    with pytest.raises(UserError, match="unverified"):
        open_dataset(data)
    run_job(JobConfig(**JOB, cad_library=str(library)), data, progress=False)
    assert record.is_file() and _shard_bytes(data) == _shard_bytes(reference)


def _kill_last_shard(data: Path) -> None:
    last = shard_files(data)[-1]
    last.unlink()
    (last.parent / f".{last.name}.json").unlink()


def test_resume_with_another_cad_model_is_refused_naming_it(tmp_path, reference, library):
    data = _copy(reference, tmp_path / "ds")
    _kill_last_shard(data)
    changed = tmp_path / "cad"
    shutil.copytree(library, changed)
    manifest = json.loads((changed / "manifest.json").read_text())
    car = manifest["classes"]["n02814533"]["models"]
    car.append({**car[0], "id": "car_99"})  # another model imported between the kill and the resume
    (changed / "manifest.json").write_text(json.dumps(manifest))

    job = JobConfig(**JOB, cad_library=str(changed))
    with pytest.raises(UserError) as err:
        run_job(job, data, progress=False)
    line = str(err.value)
    assert "\n" not in line and "n02814533" in line and "car_99 added" in line, line
    assert [p.name for p in shard_files(data)] == [p.name for p in shard_files(reference)][:-1]  # nothing touched

    # a changed mesh file is named too
    mesh = changed / car[1]["mesh"]
    manifest["classes"]["n02814533"]["models"].pop()
    (changed / "manifest.json").write_text(json.dumps(manifest))
    mesh.write_bytes(mesh.read_bytes() + b"\0")
    with pytest.raises(UserError, match=f"{car[1]['id']} changed"):
        run_job(job, data, progress=False)


def test_same_job_spelled_with_synsets_and_a_moved_library_resumes(tmp_path, reference, library):
    data = _copy(reference, tmp_path / "ds")
    _kill_last_shard(data)
    moved = shutil.copytree(library, tmp_path / "elsewhere" / "cad")  # the same models in another folder
    job = JobConfig(**{**JOB, "classes": ["n02814533", "Chair"]}, cad_library=str(moved))
    summary = run_job(job, data, progress=False)
    assert summary.timings and _shard_bytes(data) == _shard_bytes(reference)


def test_a_different_setting_is_named(tmp_path, reference, library):
    with pytest.raises(UserError, match=r"holds a different job: seed \(5 before, 6 now\)"):
        run_job(JobConfig(**{**JOB, "seed": 6}, cad_library=str(library)), reference, progress=False)


def test_disk_full_while_writing_shards(tmp_path, reference, library, monkeypatch):
    import pyarrow.parquet as pq

    import dst3d.store.shards as shards

    real, calls = pq.write_table, []

    def write_table(table, where, **kwargs):
        calls.append(where)
        if len(calls) >= 2:  # the second shard meets a full disk
            Path(where).write_bytes(b"PAR1 half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kwargs)

    monkeypatch.setattr(shards.pq, "write_table", write_table)
    out = tmp_path / "ds"
    job = JobConfig(**JOB, cad_library=str(library))
    with pytest.raises(UserError, match="disk is full") as err:
        run_job(job, out, progress=False)
    assert "\n" not in str(err.value)
    assert [p.name for p in shard_files(out)] == [shard_files(reference)[0].name]
    assert not list((out / "data").glob(".*tmp*"))  # the half-written shard was removed
    monkeypatch.setattr(shards.pq, "write_table", real)
    run_job(job, out, progress=False)
    assert _shard_bytes(out) == _shard_bytes(reference)

    # a fresh run that fails before its first shard leaves nothing at all
    monkeypatch.setattr(shards.pq, "write_table", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(UserError, match="disk is full"):
        run_job(job, tmp_path / "fresh", progress=False)
    assert not (tmp_path / "fresh").exists()


def test_disk_full_while_writing_the_card_is_an_error_and_links_nothing_missing(tmp_path, library, monkeypatch):
    import dst3d.files as files

    real = files.os.replace

    def replace(src, dst, *a, **k):
        if str(dst).endswith(".png"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(files.os, "replace", replace)
    out = tmp_path / "ds"
    with pytest.raises(UserError, match="disk is full"):
        run_job(JobConfig(**{**JOB, "per_class": 2}, cad_library=str(library)), out, progress=False)
    card = out / "README.md"
    assert not card.exists() or "](assets/" not in card.read_text()
    assert not list(out.rglob("*.tmp*"))


def test_out_of_view_poses_are_redrawn_deterministically(tmp_path, library):
    job = JobConfig(classes=["car"], per_class=12, width=48, height=48, seed=2, cad_library=str(library),
                    pose={"distance_range": {"min": 0.05, "max": 3.0}})  # near 0 the camera sits inside the car
    plan = Plan(job)
    specs = [plan.spec(i) for i in range(len(plan))]
    redrawn = [s for s in specs if s.pose_draw > 0]
    assert redrawn, "some draws should put the camera inside the object"
    assert specs == [Plan(job).spec(i) for i in range(len(plan))]  # the same draws every time
    for s in specs:
        assert plan.in_view(s.cad_id, s.viewpoint)
    out = tmp_path / "ds"
    run_job(job, out, progress=False)
    table = read_table(out, columns=["visible_fraction", "bbox"]).to_pylist()
    assert all(r["visible_fraction"] > 0 and r["bbox"][2] > r["bbox"][0] and r["bbox"][3] > r["bbox"][1] for r in table)


def test_pose_ranges_that_never_show_the_object_are_refused(library):
    job = JobConfig(classes=["car"], per_class=4, width=48, height=48, cad_library=str(library),
                    pose={"distance_range": {"min": 200.0, "max": 300.0}})  # beyond the far plane
    with pytest.raises(UserError, match="out of view"):
        Plan(job)
