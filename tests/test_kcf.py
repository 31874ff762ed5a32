"""K-fold consistency filter: folds, rules, outputs, and flagging deliberately corrupted samples."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dst3d.config import validated
from dst3d.errors import UserError
from dst3d.kcf.filter import KcfConfig, KcfScores, decide
from dst3d.kcf.folds import assign_folds

INJECT = Path(__file__).resolve().parents[1] / "experiments" / "kcf_injection" / "inject.py"


def inject_errors(*args, **kwargs):
    """experiments/kcf_injection/inject.py's inject_errors (an experiment tool, loaded by path)."""
    spec = importlib.util.spec_from_file_location("kcf_injection_inject", INJECT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.inject_errors(*args, **kwargs)


def test_folds_stratified_per_class():
    synsets = np.array(["a"] * 23 + ["b"] * 10)
    folds = assign_folds(synsets, 5, seed=0)
    for c in ("a", "b"):
        counts = np.bincount(folds[synsets == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert (assign_folds(synsets, 5, seed=0) == folds).all()
    with pytest.raises(UserError):
        assign_folds(synsets, 1)
    with pytest.raises(UserError):
        assign_folds(np.array(["a"] * 3), 5)


def test_folds_by_cad_keep_instances_together():
    synsets = np.array(["a"] * 30 + ["b"] * 12)
    cads = np.array([f"a{i % 6}" for i in range(30)] + [f"b{i % 3}" for i in range(12)])
    folds = assign_folds(synsets, 3, seed=1, groups=cads)
    for cad in set(cads):
        assert len(set(folds[cads == cad])) == 1
    for c in ("a", "b"):
        assert len(set(folds[synsets == c])) == 3
    with pytest.raises(UserError, match="single CAD model"):
        assign_folds(np.array(["a"] * 6), 2, groups=np.array(["x"] * 6))


def _fake_scores(error, ratio, synsets, agreement=None, alternative=None):
    class R:
        pass

    rec = R()
    rec.synsets = np.asarray(synsets)
    n = len(error)
    return KcfScores(rec, np.zeros(n, int), np.asarray(ratio) * 2, np.asarray(error, float), np.asarray(ratio, float), np.zeros((n, 3)), {},
                      None if agreement is None else np.asarray(agreement, float),
                      None if alternative is None else np.asarray(alternative, float))


def test_rules():
    s = _fake_scores([10, 100, 50, 170, 5, 61], [0.1, 3.0, 0.5, 2.0, 0.0, 1.0], ["a", "a", "a", "b", "b", "b"])
    keep, cuts = decide(s, KcfConfig(threshold_deg=60))
    assert keep.tolist() == [True, False, True, False, True, False] and cuts == {"a": 60.0, "b": 60.0}
    keep, cuts = decide(s, KcfConfig(quantile=0.34, score="ratio"))  # one per class, by ratio
    assert keep.tolist() == [True, False, True, False, True, True] and cuts == {"a": 3.0, "b": 2.0}
    keep, _ = decide(s, KcfConfig(quantile=0.34))  # default: photo; without photo scores contrast, without agreement combined: the ratio's ranks
    assert keep.tolist() == [True, False, True, False, True, True] and KcfConfig(quantile=0.34).rule()["score"] == "photo"
    s = _fake_scores([10, 100, 50, 170, 5, 61], [0.1, 3.0, 0.5, 2.0, 0.0, 1.0], ["a", "a", "a", "b", "b", "b"],
                     agreement=[1.0, 2.0, 0.0, np.nan, np.nan, np.nan])
    keep, _ = decide(s, KcfConfig(quantile=0.34, score="agreement"))  # lowest agreement
    assert keep[:3].tolist() == [True, True, False]
    keep, _ = decide(s, KcfConfig(quantile=0.34, score="combined"))  # a: ranks (ratio, -agreement) avg 1/2, 2/3, 5/6; b: ratio only
    assert keep.tolist() == [True, True, False, False, True, True]
    s = _fake_scores([10, 100, 50, 170, 5, 61], [0.1, 3.0, 0.5, 2.0, 0.0, 1.0], ["a", "a", "a", "b", "b", "b"],
                     agreement=[1.0, 1.2, 1.5, 1.5, 1.5, 1.4], alternative=[0.2, 1.4, 0.2, 0.1, 1.8, 0.2])
    keep, _ = decide(s, KcfConfig(quantile=0.34, score="contrast"))  # contrast 0.6 alt - agree: a -0.88, -0.36, -1.38; b -1.44, -0.42, -1.28
    assert keep.tolist() == [True, False, True, True, False, True]
    keep, _ = decide(s, KcfConfig(quantile=0.34, score="contrast", contrast_weight=0.0))  # weight 0: own agreement only: a -1, -1.2, -1.5; b -1.5, -1.5, -1.4
    assert keep.tolist() == [False, True, True, True, True, False]
    keep, _ = decide(s, KcfConfig(quantile=0.34, score="error"))
    assert keep.tolist() == [True, False, True, False, True, True]
    for bad, setting in ((dict(threshold_deg=30, quantile=0.1), "one rule"), (dict(quantile=1.5), "'quantile'"), (dict(threshold_deg=0), "'threshold_deg'"),
                         (dict(threshold_deg=60, score="loss"), "quantile rule"), (dict(score="x"), "'score'"), (dict(contrast_weight=-1), "'contrast_weight'"),
                         (dict(folds=1), "'folds'"), (dict(bins="24,x"), "'bins'"), (dict(epochs=0), "'epochs'"), (dict(hiden=3), "'hiden'")):
        with pytest.raises(UserError, match=setting) as err:
            validated(KcfConfig, bad, "filter setting")
        assert "\n" not in str(err.value)


def test_control_agreement_high_on_own_pose_low_on_another(small_dataset, tmp_path):
    """The same sample's image rendered at its label pose vs at a pose >= 90 deg away (same
    control, same seed): the edges follow the control only in the first case."""
    from dst3d.kcf.agreement import control_agreement, dataset_agreement
    from dst3d.store.dataset import read_table
    from dst3d.store.schema import decode_png

    truth = inject_errors(small_dataset, tmp_path / "bad", 0.5, seed=0, min_deg=90)
    ids = {c["id"] for c in truth["corrupted"]}
    columns = ["id", "image", "control", "bbox"]
    clean = read_table(small_dataset, columns=columns).to_pylist()
    bad = {r["id"]: r for r in read_table(tmp_path / "bad", columns=columns).to_pylist()}
    good, wrong = [], []
    for row in clean:
        control = decode_png(row["control"])
        good.append(control_agreement(decode_png(row["image"]), control, row["bbox"]))
        if row["id"] in ids:
            wrong.append(control_agreement(decode_png(bad[row["id"]]["image"]), control, row["bbox"]))
    good, wrong = np.array(good), np.array(wrong)
    assert len(wrong) == 9
    # pairwise AUC: a wrong pose may look like the label for a nearly front-back symmetric
    # design (aeroplane_04, the strutless low-wing plane, turned by pi: 1.41 vs the lowest
    # correct 1.37), but almost every correct image must beat almost every wrong one
    assert (good[:, None] > wrong[None, :]).mean() > 0.97, (good, wrong)
    assert good.mean() - wrong.mean() > 0.5, (good, wrong)
    assert np.allclose(dataset_agreement(small_dataset), good)


@pytest.fixture(scope="module")
def corrupted_dataset(tmp_path_factory):
    """3 classes x 80 images at 96 px; 10% of each class re-rendered at azimuth + pi or a
    random pose at least 90 degrees from the label (label unchanged)."""
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    root = tmp_path_factory.mktemp("kcf")
    job = JobConfig(classes=["car", "chair", "tvmonitor"], per_class=80, width=96, height=96, seed=3)
    run_job(job, root / "clean", progress=False)
    truth = inject_errors(root / "clean", root / "bad", 0.1, seed=0, min_deg=90)
    return root / "bad", truth


def _imagenet_or_skip():
    from dst3d.posenet.model import imagenet_state_dict

    try:
        imagenet_state_dict("mobilenet_v2")
    except UserError as exc:
        pytest.skip(f"no offline ImageNet weights: {exc}")


def test_injection_changes_images_not_labels(corrupted_dataset):
    from dst3d.store.dataset import read_table

    data, truth = corrupted_dataset
    assert len(truth["corrupted"]) == 24 and all(c["distance_deg"] >= 90 for c in truth["corrupted"])
    clean = read_table(data.parent / "clean", columns=["id", "image", "azimuth", "R"]).to_pylist()
    bad = read_table(data, columns=["id", "image", "azimuth", "R"]).to_pylist()
    ids = {c["id"] for c in truth["corrupted"]}
    for a, b in zip(clean, bad):
        assert a["id"] == b["id"] and a["azimuth"] == b["azimuth"] and a["R"] == b["R"]
        assert (a["image"]["bytes"] != b["image"]["bytes"]) == (a["id"] in ids)


def test_kcf_flags_corrupted_samples(corrupted_dataset):
    _imagenet_or_skip()
    from dst3d.kcf.filter import run_filter
    from dst3d.store.dataset import read_table

    data, truth = corrupted_dataset
    from test_kcf_records import documented_rule

    report = run_filter(data, KcfConfig(size=64, epochs=30), progress=False)  # no rule setting: the default rule
    scores = pq.read_table(data / "kcf" / "scores.parquet").to_pandas()
    bad = scores["id"].isin({c["id"] for c in truth["corrupted"]}).to_numpy()
    ratio = scores["ratio"].to_numpy()
    auc = np.mean(ratio[bad][:, None] > ratio[~bad][None, :])
    agreement = scores["agreement"].to_numpy()
    auc_agreement = np.mean(agreement[bad][:, None] < agreement[~bad][None, :])
    dropped = ~scores["keep"].to_numpy()  # default: top 10% per class by the photo score
    precision = (dropped & bad).sum() / dropped.sum()
    by_ratio = scores.groupby("synset")["ratio"].rank(ascending=False, method="first").to_numpy() <= 8
    # 10% are corrupted: a blind filter would have AUC 0.5 and precision 0.1
    assert auc > 0.7, auc
    assert auc_agreement > 0.8, auc_agreement
    assert precision >= max(0.5, (by_ratio & bad).sum() / by_ratio.sum()), precision
    assert set(scores.columns) >= {"id", "fold", "loss", "error_deg", "ratio", "agreement", "alternative", "photo", "photo_alternative", "keep"}
    assert sorted(scores["fold"].unique()) == [0, 1, 2, 3, 4]

    assert report["kept"] == 216 and report["dropped"] == 24 and report["folds"] == 5
    assert report["rule"] == documented_rule() == {"type": "quantile", "quantile": 0.1, "score": "photo", "photo_weight": 0.8}
    assert set(report["per_class"]) == set(scores["synset"]) and all(c["dropped"] == 8 for c in report["per_class"].values())
    assert report["compute_seconds"]["features"] > 0 and (data / "kcf" / "report.png").stat().st_size > 10_000
    assert json.loads((data / "kcf" / "report.json").read_text())["dropped_ids"] == scores["id"][dropped].tolist()
    filtered = read_table(data, columns=["id"], split="filtered")
    assert filtered.num_rows == 216 and set(filtered["id"].to_pylist()) == set(scores["id"][~dropped])
    assert read_table(data, columns=["id"]).num_rows == 240  # the train split is untouched


def test_filter_cli(cli, corrupted_dataset):
    _imagenet_or_skip()
    from test_kcf_records import documented_rule

    data, _ = corrupted_dataset
    result = cli("filter", str(data), "--folds", "3", "--size", "64", "--epochs", "5", "--no-progress")  # no rule flags
    assert result.returncode == 0, result.stderr
    report = json.loads((data / "kcf" / "report.json").read_text())
    assert report["rule"] == documented_rule() and report["dropped"] == 24  # 10% of 3 x 80
    result = cli("filter", str(data), "--folds", "3", "--threshold-deg", "90", "--size", "64", "--epochs", "5", "--no-progress")
    assert result.returncode == 0, result.stderr
    report = json.loads((data / "kcf" / "report.json").read_text())
    assert report["folds"] == 3 and report["rule"]["type"] == "threshold" and report["threshold"] == 90.0
    assert report["kept"] + report["dropped"] == 240
    result = cli("filter", str(data), "--quantile", "0.1", "--threshold-deg", "30", "--no-progress")
    assert result.returncode == 2 and "one rule" in result.stderr and "Traceback" not in result.stderr
