"""The public Python API drives a whole job: generate -> filter -> train_pose -> evaluate_pose
-> export, on a tiny job, checking each step's output against the data it came from."""

from __future__ import annotations

import json

import pytest

import dst3d


def test_python_api_end_to_end(tmp_path):
    job = dst3d.load_job(overrides={"classes": ["bottle", "n03376595"], "per_class": 8, "width": 96, "height": 96, "shard_size": 8, "seed": 2})
    assert isinstance(job, dst3d.JobConfig)
    summary = dst3d.generate(job, tmp_path / "data")
    assert summary.samples == 16
    records = list(dst3d.open_dataset(tmp_path / "data").records())
    assert {r.synset for r in records} == {"n04557648", "n03376595"}  # chair given as its synset

    report = dst3d.filter(tmp_path / "data", folds=2, size=64, epochs=3)
    dropped = set(report["dropped_ids"])
    kept = [r.id for r in dst3d.open_dataset(tmp_path / "data", split="filtered").records(columns=["id"])]
    assert report["kept"] + report["dropped"] == 16 and set(kept) == {r.id for r in records} - dropped

    metrics = dst3d.train_pose(tmp_path / "data", tmp_path / "run", backbone="tiny", weights="none", epochs=1, size=64)
    assert metrics["samples"]["train"] == 16 and (tmp_path / "run" / "model.safetensors").is_file()
    result = dst3d.evaluate_pose(tmp_path / "run", tmp_path / "data", split="filtered")
    assert result["overall"]["n"] == len(kept)

    out = dst3d.export(tmp_path / "data", tmp_path / "coco", format="coco", split="filtered")
    coco = json.loads(next(out.rglob("*.json")).read_text())
    assert len(coco["annotations"]) == len(kept)


def test_api_errors_are_one_line_user_errors(tmp_path):
    with pytest.raises(dst3d.UserError, match="invalid job setting 'per_class'"):
        dst3d.load_job(overrides={"classes": ["car"], "per_class": 0})
    with pytest.raises(dst3d.UserError, match="holds no dataset shards"):
        dst3d.filter(tmp_path)
    with pytest.raises(dst3d.UserError, match="at least one sample"):
        dst3d.inspect(tmp_path, n=0)


def test_score_through_the_api_matches_the_stored_parquet(small_dataset, tmp_path):
    """dst3d.score_dataset writes one row per sample, and its summary is computed from those rows."""
    import shutil

    import pyarrow.parquet as pq

    from dst3d.score.tiny import save_tiny_clip

    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    summary = dst3d.score_dataset(data, model=str(save_tiny_clip(tmp_path / "clip")), competitors="dataset")
    table = pq.read_table(data / "score" / "scores.parquet").to_pydict()
    ids = [r.id for r in dst3d.open_dataset(data).records(columns=["id"])]
    assert sorted(table["id"]) == sorted(ids) and summary["samples"] == len(ids)
    assert summary["clip"]["top1"] == pytest.approx(sum(r == 1 for r in table["clip_class_rank"]) / len(ids))
    with pytest.raises(dst3d.UserError, match="unknown score setting"):
        dst3d.score_dataset(data, model=None, nonsense=1)
