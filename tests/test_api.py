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
