"""KCF on datasets the generator did not make in one piece: mixed image sizes, records without
control settings, and a CAD library other than the one the data was made with."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dst3d.errors import UserError

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def mixed_dataset(tmp_path_factory) -> Path:
    """Two generated datasets (64 px and 96 px, default control settings) as one: their
    shards side by side; the 96 px shard's render JSON has no `control` entry."""
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    base = tmp_path_factory.mktemp("mixed")
    parts = []
    for size, seed in ((64, 1), (96, 2)):
        run_job(JobConfig(classes=["car", "chair"], per_class=3, width=size, height=size, seed=seed), base / f"p{size}", progress=False)
        parts.append(pq.read_table(base / f"p{size}" / "data" / "train-00000-of-00001.parquet"))
    root = base / "mixed"
    (root / "data").mkdir(parents=True)
    for i, table in enumerate(parts):
        if i == 1:
            renders = [json.dumps({k: v for k, v in json.loads(r).items() if k != "control"}) for r in table["render"].to_pylist()]
            table = table.set_column(table.schema.get_field_index("render"), "render", pa.array(renders, pa.string()))
            table = table.set_column(table.schema.get_field_index("id"), "id", pa.array([f"b{x}" for x in table["id"].to_pylist()]))
        pq.write_table(table, root / "data" / f"train-{i:05d}-of-00002.parquet")
    return root


def test_mixed_sizes_and_missing_control_settings(mixed_dataset):
    """alternative_agreement renders every record at its own size with its own (or default)
    control settings: at the label's own pose the re-rendered Canny control is the control
    the generator stored, pixel for pixel."""
    from dst3d.cad.library import CadLibrary
    from dst3d.kcf.agreement import alternative_agreement, canny_control, dataset_agreement
    from dst3d.render.scene import Rerenderer
    from dst3d.store.dataset import open_dataset

    records = list(open_dataset(mixed_dataset).records())
    assert {r.width for r in records} == {64, 96}
    assert sum("control" not in r.render for r in records) == 6
    with Rerenderer(CadLibrary()) as rerender:
        for r in records:
            stored = r.control_rgb()
            assert stored.shape == (r.height, r.width, 3)
            assert np.array_equal(canny_control(rerender.view(r), r), stored), r.id
    labels = np.array([[r.azimuth, r.elevation, r.theta] for r in records])
    ids = np.array([r.id for r in records])
    alternative = alternative_agreement(mixed_dataset, "train", ids, labels)
    own = dataset_agreement(mixed_dataset, "train", ids)
    assert np.isfinite(alternative).all() and np.isfinite(own).all()
    # the prediction is the label itself here: no wrong pose, so only the flip competes; its
    # agreement, by hand: the control of the pose turned by pi in azimuth (generated data: the
    # camera looks at the origin, R is the viewpoint's rotation)
    from dst3d.kcf.agreement import control_agreement
    from dst3d.pose.viewpoint import viewpoint_to_rotation

    with Rerenderer(CadLibrary()) as rerender:
        for r, value in zip(records, alternative):
            posed = rerender.view(r, R=viewpoint_to_rotation(r.azimuth + np.pi, r.elevation, r.theta))
            assert value == pytest.approx(control_agreement(r.image_rgb(), canny_control(posed, r), posed.annotations["bbox"])), r.id


@pytest.fixture(scope="module")
def altered_library(tmp_path_factory) -> tuple[Path, Path]:
    """Copies of the shipped library: one with a car mesh changed, one without that model."""
    from dst3d.cad.library import CadLibrary

    shipped = CadLibrary().root
    base = tmp_path_factory.mktemp("libs")
    changed, lacking = base / "changed", base / "lacking"
    for lib in (changed, lacking):
        shutil.copytree(shipped, lib)
    manifest = json.loads((lacking / "manifest.json").read_text())
    car = next(s for s, c in manifest["classes"].items() if c.get("pascal3d") == "car")
    mesh = manifest["classes"][car]["models"][0]["mesh"]
    with open(changed / mesh, "ab") as f:
        f.write(b"\0")  # a different file (the hash the records carry no longer matches)
    manifest["classes"][car]["models"] = manifest["classes"][car]["models"][1:]
    (lacking / "manifest.json").write_text(json.dumps(manifest))
    return changed, lacking


def test_filter_refuses_a_library_without_the_datasets_models(cli, small_dataset, altered_library):
    changed, lacking = altered_library
    for lib, words in ((changed, "differs from the mesh"), (lacking, "lacks the dataset's CAD model")):
        result = cli("filter", str(small_dataset), "--cad-library", str(lib), "--no-progress")
        assert result.returncode == 2, result.stderr
        assert words in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_records_use_the_library_the_job_names(small_dataset, tmp_path, altered_library):
    """The job file's cad_library is the default; the shipped one is not silently used."""
    from dst3d.posenet.data import load_records

    _, lacking = altered_library
    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    job = json.loads((copy / "dst3d_job.json").read_text())
    job["job"]["cad_library"] = str(lacking)  # as if generated with it
    (copy / "dst3d_job.json").write_text(json.dumps(job))
    with pytest.raises(UserError, match="lacks the dataset's CAD model"):
        load_records(copy, images=False)
    from dst3d.cad.library import CadLibrary

    records = load_records(copy, images=False, cad_library=str(CadLibrary().root))  # given: used instead
    assert records.library.root == CadLibrary().root


# --- the default rule: one description, in README, help and code ---------------------

def documented_rule() -> dict:
    """The default rule as README.md states it (its 'default rule' sentence: the quantile as a
    percentage, the score after 'of every class by', the weight before 'x the')."""
    text = " ".join(README.read_text().split())
    sentence = next(s for s in re.split(r"(?<=[.])\s", text) if "default rule" in s.lower())
    match = re.search(r"top (\d+(?:\.\d+)?)\s*% of every class by (\w+)", sentence)
    assert match, sentence
    weight = float(re.search(r"\(?(\d+(?:\.\d+)?)\)? x the", sentence).group(1))
    score = match.group(2)
    return {"type": "quantile", "quantile": float(match.group(1)) / 100, "score": score, f"{score}_weight": weight}


def test_default_rule_is_the_documented_one():
    """With no rule setting, the filter drops what README's rule drops, computed here by hand:
    the top q of every class by weight x (the wrong pose's agreement) - (the label's)."""
    from dst3d.config import given, validated
    from dst3d.kcf.config import DEFAULT_RULE, KcfConfig
    from dst3d.kcf.rules import KcfScores, decide

    rule = documented_rule()
    cfg = validated(KcfConfig, given(quantile=None, threshold_deg=None, score=None, contrast_weight=None, photo_weight=None),
                    "filter setting")  # the CLI with no flags
    assert cfg.rule() == rule
    rng = np.random.default_rng(0)
    n = 40
    synsets = np.array(["a"] * 20 + ["b"] * 20)
    own, wrong = rng.uniform(0, 2, n), rng.uniform(0, 2, n)

    class Rec:
        pass

    rec = Rec()
    rec.synsets = synsets
    pair = {"agreement": own, "alternative": wrong} if rule["score"] == "contrast" else {"photo": own, "photo_alternative": wrong}
    scores = KcfScores(rec, np.zeros(n, int), rng.uniform(0, 1, n), rng.uniform(0, 180, n), rng.uniform(0, 3, n), np.zeros((n, 3)), {}, **pair)
    keep, _ = decide(scores, cfg)
    expected = np.ones(n, bool)
    for c in ("a", "b"):
        idx = np.flatnonzero(synsets == c)
        value = rule[f"{rule['score']}_weight"] * wrong[idx] - own[idx]
        expected[idx[np.argsort(-value)[: int(len(idx) * rule["quantile"])]]] = False
    assert (keep == expected).all() and (~keep).sum() == 4
    # the help text states the same rule, from the one constant
    assert f"top {rule['quantile']:.0%} of every class by {rule['score']}" in DEFAULT_RULE
    assert f"{rule[rule['score'] + '_weight']} x" in DEFAULT_RULE
