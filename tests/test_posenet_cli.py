"""`dst3d train-pose`/`eval-pose` options: defaults from the settings model, one-line errors,
evaluation subsets by class and visibility."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dst3d.posenet.config import TrainConfig
from test_kcf_cli import check_defaults, option_help


def test_train_pose_help_shows_the_models_defaults(cli):
    shown = option_help(cli, "train-pose")
    shown.pop("out")
    check_defaults(shown, TrainConfig)
    assert {"backbone", "epochs", "bins", "size", "lr", "feature_layer", "freeze_backbone", "augment"} <= set(shown)


def test_train_pose_bad_value_is_one_line_naming_the_setting(cli, tmp_path):
    for args, setting in ((["--epochs", "0"], "'epochs'"), (["--backbone", "vgg"], "'backbone'"), (["--val-fraction", "1"], "'val_fraction'")):
        result = cli("train-pose", str(tmp_path), "--out", str(tmp_path / "run"), *args, "--no-progress")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and setting in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_eval_pose_subsets(cli, small_dataset, tmp_path):
    """--classes and --min-visibility evaluate exactly the samples the shards say (counted
    here from the parquet columns), by synset or by class name."""
    run = tmp_path / "run"
    result = cli("train-pose", str(small_dataset), "--out", str(run), "--backbone", "tiny", "--weights", "none", "--epochs", "1",
                 "--size", "32", "--batch-size", "8", "--bins", "8,4,8", "--no-progress")
    assert result.returncode == 0, result.stderr
    table = pa.concat_tables([pq.read_table(f, columns=["synset", "class_name", "visible_fraction"]) for f in sorted((small_dataset / "data").glob("train-*.parquet"))])
    synsets = np.array(table["synset"].to_pylist())
    names = np.array([n.split(",")[0] for n in table["class_name"].to_pylist()])
    visible = np.array(table["visible_fraction"].to_pylist())
    first, second = sorted(set(synsets.tolist()))[:2]
    name = names[synsets == second][0]
    out = tmp_path / "sub.json"
    result = cli("eval-pose", str(run), str(small_dataset), "--classes", f"{first},{name.upper()}", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(out.read_text())
    assert set(evaluation["per_class"]) == {first, second}
    assert evaluation["overall"]["n"] == int(np.isin(synsets, [first, second]).sum())
    cut = float(np.median(visible))
    result = cli("eval-pose", str(run), str(small_dataset), "--min-visibility", str(cut), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["overall"]["n"] == int((visible >= cut).sum())
    result = cli("eval-pose", str(run), str(small_dataset), "--classes", "unicorn", "--no-progress")
    assert result.returncode == 2 and "unicorn" in result.stderr and len(result.stderr.strip().splitlines()) == 1
