"""`dst3d score`: CLIP class presence and VLM ratings on tiny random models, and their use in
`dst3d filter`.

The models are built here from configs with random weights (dst3d.score.tiny) and saved to a
folder, then loaded by `dst3d score` through the same ``from_pretrained`` calls real weights
take. Random weights say nothing about quality: the tests check the mechanics (which text
belongs to which class, one row per sample, groups, stale scores, the filter's arithmetic),
and the answer parser on hand-written answers in the shapes chat models produce.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dst3d.errors import UserError
from dst3d.score.clip import TEMPLATE, class_scores, class_set, short_name
from dst3d.score.run import ScoreSettings, run_score
from dst3d.score.store import load_scores
from dst3d.score.vlm import parse_answer, parse_rating, tile_views
from dst3d.store.dataset import open_dataset, read_table
from dst3d.store.shards import file_sha256, shard_files, write_shard


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    from dst3d.score.tiny import save_tiny_clip, save_tiny_vlm

    root = tmp_path_factory.mktemp("score-models")
    return save_tiny_clip(root / "clip"), save_tiny_vlm(root / "vlm")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """3 classes x 4 images at 64 px, 2 shards."""
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    out = tmp_path_factory.mktemp("score-data") / "ds"
    run_job(JobConfig(classes=["car", "aeroplane", "chair"], per_class=4, width=64, height=64, shard_size=8, seed=3), out, progress=False)
    return out


@pytest.fixture(scope="module")
def scored(cli, data, models) -> Path:
    shards = {p.name: file_sha256(p) for p in shard_files(data)}
    result = cli("score", str(data), "--model", str(models[0]), "--vlm", str(models[1]), "--no-progress", "--batch-size", "5")
    assert result.returncode == 0, result.stderr
    assert {p.name: file_sha256(p) for p in shard_files(data)} == shards  # the shards are never written
    return data


def scores(root: Path) -> dict:
    return pq.read_table(root / "score" / "scores.parquet").to_pydict()


def test_one_row_per_sample_with_provenance(scored):
    got = scores(scored)
    assert got["id"] == read_table(scored, ["id"]).column("id").to_pylist()
    info = json.loads((scored / "score" / "score.json").read_text())
    assert info["dataset"]["samples"] == len(got["id"])
    assert info["clip"]["template"] == TEMPLATE and info["clip"]["competitors"] == "imagenet" and info["clip"]["n_classes"] == 1000
    assert info["clip"]["revision"].startswith("local:clip@sha256:")  # a local folder: its name and listing hash, not the path
    assert str(scored.parent) not in json.dumps(info)
    assert "dst3d" in info and info["vlm"]["decoding"] == "greedy" and "{name}" in info["vlm"]["image_prompt"]


def test_clip_probability_is_the_models_own_softmax(scored, models):
    """Recomputed here with CLIPModel's forward on the texts in another order: a text/class
    index mix-up, a wrong class name or a softmax over the wrong axis changes the numbers."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    from dst3d.imagenet import imagenet_classes

    model, processor = CLIPModel.from_pretrained(models[0]).eval(), CLIPProcessor.from_pretrained(models[0])
    records = list(open_dataset(scored).records(["id", "synset", "class_name", "image"]))
    texts = {c.wnid: f"a photo of a {c.names[0]}" for c in imagenet_classes()}
    texts.update({r.synset: f"a photo of a {r.class_name.split(',')[0].strip()}" for r in records})
    synsets = list(texts)[::-1]  # another order than dst3d's
    got = scores(scored)
    for k in (0, 5, 11):
        inputs = processor(text=[texts[s] for s in synsets], images=[records[k].image_rgb()], return_tensors="pt", padding=True)
        with torch.no_grad():
            logits = model(**inputs).logits_per_image[0].numpy().astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        own = synsets.index(records[k].synset)
        assert got["clip_class_prob"][k] == pytest.approx(probs[own], rel=1e-3)
        assert got["clip_class_rank"][k] == 1 + int((logits > logits[own]).sum())
        assert got["clip_margin"][k] == pytest.approx(logits[own] - np.delete(logits, own).max(), abs=1e-3)
        assert got["clip_top"][k] == synsets[int(logits.argmax())]


def test_class_scores_by_hand():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0]])
    out = class_scores(logits, np.array([1, 1]))
    assert np.allclose(out["probs"].sum(axis=1), 1.0)
    assert out["clip_class_prob"][0] == pytest.approx(np.exp(1) / (np.exp(2) + np.exp(1) + 1))
    assert out["clip_class_rank"].tolist() == [2, 1]
    assert out["clip_margin"].tolist() == [-1.0, 2.0]
    # the dataset's classes come once, under the dataset's names, before the other ImageNet classes
    classes = class_set({"n02814533": "beach wagon, station wagon", "n99999999": "thing"})
    assert classes[:2] == [("n02814533", "beach wagon"), ("n99999999", "thing")] and len(classes) == 1001
    assert len({s for s, _ in classes}) == len(classes)
    assert class_set({"n02814533": "car"}, "dataset") == [("n02814533", "car")]
    assert short_name("a, b") == "a"


def test_answer_parser_on_hand_written_answers():
    a = parse_answer("Rating: 4\nReason: The car is complete and well lit.\nCaption: A red hatchback parked on a street,\nseen from the front left.")
    assert (a.rating, a.reason, a.caption) == (4, "The car is complete and well lit.", "A red hatchback parked on a street, seen from the front left.")
    b = parse_answer("Sure!\n**Rating:** 5/5\n**Reason:** Sharp and realistic.\n**Caption:** \"A white airliner on a runway.\"")
    assert (b.rating, b.reason, b.caption) == (5, "Sharp and realistic.", "A white airliner on a runway.")
    assert parse_answer("rating - 2 out of 5\nreason: blurry").rating == 2
    assert parse_answer("1. Rating: 3\n2. Reason: ok\n3. Caption: a chair").caption == "a chair"
    for bad in ("Rating: 6", "Rating: 0", "Rating: 4.5", "Rating: 8/10", "Rating: good", "I think it is a 4.", "", "x\x07\x1b"):
        answer = parse_answer(bad)
        assert answer.rating is None and answer.raw == bad, bad
    assert parse_answer("Rating: 2\nRating: 5").rating == 2  # the first answer counts
    assert [parse_rating(t) for t in ("4", "**4**", "4.0", "[3]", "5.", "45")] == [4, 4, 4, 3, 5, None]


def test_vlm_rows_keep_the_raw_answer_and_invent_no_rating(scored):
    got = scores(scored)
    assert all(isinstance(raw, str) for raw in got["vlm_raw"])
    for raw, rating, reason, caption in zip(got["vlm_raw"], got["vlm_rating"], got["vlm_reason"], got["vlm_caption"]):
        answer = parse_answer(raw)
        assert (rating, reason, caption) == (answer.rating, answer.reason, answer.caption)
    assert got["vlm_views"] == [1] * len(got["id"]) and got["vlm_group"] == [None] * len(got["id"])


def test_tile_views_places_views_row_major():
    views = [np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30)]
    grid = tile_views(views)  # 3 views -> 2 rows x 2 columns, the last tile black
    assert grid.shape == (8, 12, 3)
    assert grid[0, 0, 0] == 10 and grid[0, 6, 0] == 20 and grid[4, 0, 0] == 30 and grid[4, 6, 0] == 0
    assert tile_views([np.zeros((4, 6, 3), np.uint8), np.full((8, 12, 3), 9, np.uint8)])[4:, :, 0].min() == 9  # resized to the first


@pytest.fixture(scope="module")
def grouped(data, tmp_path_factory) -> Path:
    """The dataset rewritten with multi-view groups of 2 (render["view"], as multi-view jobs write)."""
    out = tmp_path_factory.mktemp("score-grouped") / "ds"
    rows = read_table(data).to_pylist()
    for row in rows:
        render = json.loads(row["render"])
        index = int(row["id"].rsplit("-", 1)[1])
        render["view"] = {"group": f"{row['synset']}-g{index // 2}", "index": 1 - index % 2, "size": 2}  # views stored in reverse order
        row["render"] = json.dumps(render, sort_keys=True)
    write_shard(out, 0, 1, rows)
    return out


def test_vlm_rates_each_group_once_and_keeps_other_scores(grouped, data, models, monkeypatch):
    from dst3d.score import vlm as vlm_module

    run_score(grouped, ScoreSettings(clip=str(models[0]), competitors="dataset"), progress=False)
    clip_before = scores(grouped)["clip_class_prob"]
    seen = []
    real = vlm_module.VlmScorer.generate

    def spy(self, images, prompts):
        seen.extend(zip(images, prompts))
        return real(self, images, prompts)

    monkeypatch.setattr(vlm_module.VlmScorer, "generate", spy)
    summary = run_score(grouped, ScoreSettings(clip=None, vlm=str(models[1])), progress=False)
    got = scores(grouped)
    assert got["clip_class_prob"] == clip_before  # a VLM-only run keeps the stored CLIP scores of the same dataset state
    assert summary["vlm"]["grouping"] == "group" and summary["vlm"]["units"] == 6 == len(seen)
    records = list(open_dataset(grouped).records(["id", "image", "render"]))
    by_group = {}
    for record, group, raw, views in zip(records, got["vlm_group"], got["vlm_raw"], got["vlm_views"]):
        assert group == record.render["view"]["group"] and views == 2
        by_group.setdefault(group, set()).add(raw)
    assert all(len(raws) == 1 for raws in by_group.values())  # one answer per group, on each of its samples
    first = [r for r in records if r.render["view"]["group"] == records[0].render["view"]["group"]]
    ordered = sorted(first, key=lambda r: r.render["view"]["index"])
    assert any(np.array_equal(image, tile_views([r.image_rgb() for r in ordered])) for image, _ in seen)  # tiled in view order
    assert all("These 2 images" in prompt for _, prompt in seen)
    from dst3d.score.run import _units

    with pytest.raises(UserError, match="needs multi-view groups"):  # --per-group on single images
        _units(list(open_dataset(data).records(["id", "render"])), "group")
    assert _units(list(open_dataset(grouped).records(["id", "render"])), "image")[1] == "image"  # --per-image


def test_stale_or_missing_scores_are_refused(scored, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(scored, copy)
    assert load_scores(copy, ["clip_class_prob"]).column("id").to_pylist() == scores(scored)["id"]
    rows = read_table(copy).to_pylist()
    files = shard_files(copy)
    first = pq.read_table(files[0]).num_rows
    rows[0]["prompt"] = "a different prompt"  # the dataset regenerated: same ids, other content
    write_shard(copy, 0, len(files), rows[:first])
    with pytest.raises(UserError, match="another state of the dataset"):
        load_scores(copy, ["clip_class_prob"])
    shutil.rmtree(copy / "score")
    with pytest.raises(UserError, match="dst3d score"):
        load_scores(copy, ["clip_class_prob"])


def test_filter_min_clip_prob_drops_exactly_the_samples_below(cli, scored, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(scored, copy)
    prob = dict(zip(*[scores(copy)[c] for c in ("id", "clip_class_prob")]))
    minimum = float(np.median(list(prob.values())))
    result = cli("filter", str(copy), "--min-clip-prob", str(minimum), "--epochs", "1", "--folds", "2", "--backbone", "resnet18",
                 "--weights", "none", "--no-progress")
    assert result.returncode == 0, result.stderr
    kcf = pq.read_table(copy / "kcf" / "scores.parquet").to_pydict()
    below = {i for i, p in prob.items() if p < minimum}
    assert below and len(below) < len(prob)
    for i, keep, keep_rule in zip(kcf["id"], kcf["keep"], kcf["keep_rule"]):
        assert keep == (keep_rule and i not in below), i
    report = json.loads((copy / "kcf" / "report.json").read_text())
    assert report["criteria"]["min_clip_prob"]["dropped"] == len(below)
    assert report["criteria"]["kcf_rule"]["dropped"] == kcf["keep_rule"].count(False)
    assert report["kept"] == sum(kcf["keep"])
    kept_ids = read_table(copy, ["id"], split="filtered").column("id").to_pylist()
    assert set(kept_ids) == {i for i, k in zip(kcf["id"], kcf["keep"]) if k}
    assert f"min_clip_prob (minimum {minimum}): dropped {len(below)}" in " ".join(result.stdout.split())


def test_missing_model_and_missing_scores_are_one_line(cli, data, tmp_path):
    shutil.copytree(data, tmp_path / "ds", ignore=shutil.ignore_patterns("score", "kcf"))
    data = tmp_path / "ds"
    result = cli("score", str(data), "--no-progress")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "hf download openai/clip-vit-base-patch32" in lines[0] and "--model" in lines[0], result.stderr
    assert not (data / "score").exists()
    result = cli("filter", str(data), "--min-vlm-rating", "3", "--no-progress")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "dst3d score" in lines[0], result.stderr


def test_score_criteria_keep_and_count():
    """min_vlm_rating keeps unrated samples (NaN) and counts them; each criterion counts its own drops."""
    from dst3d.kcf.criteria import ScoreCriteria

    criteria = ScoreCriteria({"min_clip_prob": 0.5, "min_vlm_rating": 3},
                             {"clip_class_prob": np.array([0.2, 0.5, 0.9, 0.1]), "vlm_rating": np.array([5.0, 2.0, np.nan, 1.0])})
    keep = criteria.keep()
    assert keep["min_clip_prob"].tolist() == [False, True, True, False]  # 0.5 is not below 0.5
    assert keep["min_vlm_rating"].tolist() == [True, False, True, False]
    report = criteria.report(np.array([True, True, False, True]))
    assert report["kcf_rule"]["dropped"] == 1
    assert report["min_clip_prob"]["dropped"] == 2 and report["min_vlm_rating"]["dropped"] == 2
    assert report["min_vlm_rating"]["unscored_kept"] == 1


@pytest.mark.parametrize("family", ["llava", "qwen2_vl"])
def test_batched_vlm_answers_equal_single_ones(family, models, tmp_path):
    """Greedy answers in one batch (different prompt lengths and image sizes, left padding)
    equal those generated one at a time (checked: right padding fails this). Qwen2-VL: the
    number of image tokens follows the image size."""
    from dst3d.score.tiny import save_tiny_qwen2_vl
    from dst3d.score.vlm import VlmScorer

    folder = models[1] if family == "llava" else save_tiny_qwen2_vl(tmp_path / "qwen")
    scorer = VlmScorer(str(folder), device="cpu", max_new_tokens=6)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), rng.integers(0, 256, (64, 32, 3), dtype=np.uint8),
              rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)]
    prompts = ["Rate it.", prompt_text := "Rate these views of one object, please, with a reason and a caption.", prompt_text[:20]]
    batched = scorer.generate(images, prompts)
    assert batched == [scorer.generate([i], [p])[0] for i, p in zip(images, prompts)]
    assert len(set(batched)) > 1  # the answers do depend on the input


def test_crop_box_is_the_square_around_the_bbox():
    from dst3d.score.run import crop_box

    image = np.arange(20 * 30 * 3, dtype=np.int64).reshape(20, 30, 3).astype(np.uint8)
    out = crop_box(image, [10, 5, 20, 15], margin=0.0)  # 10 x 10 box, pixel-edge coordinates
    assert np.array_equal(out, image[5:15, 10:20])
    edge = crop_box(image, [0, 0, 10, 4], margin=0.0)  # 10 x 10 square leaves the image at the top: edge pixels repeat
    assert edge.shape == (10, 10, 3) and np.array_equal(edge[3:], image[0:7, 0:10]) and np.array_equal(edge[0], image[0, 0:10])
