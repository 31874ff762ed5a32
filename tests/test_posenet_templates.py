"""Pose by template retrieval (`train-pose --method templates`): silhouettes, the masked
similarity, leave-one-out, class separation and the run folder round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dst3d.posenet.config import TrainConfig
from dst3d.posenet.data import centre_crops, context_crops, load_records
from dst3d.posenet.model import ModelConfig, build_backbone
from dst3d.posenet.templates import TemplateMatcher, build_matcher, predict_templates, silhouettes
from dst3d.posenet.train import class_index, load_model

SIZE = 48


@pytest.fixture(scope="module")
def records(small_dataset):
    return load_records(small_dataset, "train")


@pytest.fixture(scope="module")
def crops(records):
    return centre_crops(context_crops(records, SIZE, 0.15), SIZE)


def _matcher(records, crops, layers=(4, 7)):
    classes = sorted(set(records.synsets.tolist()))
    config = ModelConfig(backbone="mobilenet_v2", classes=classes, size=SIZE, method="templates", template_layers=list(layers))
    cls = class_index(records, classes)
    masks = silhouettes(records, SIZE, 0.15)
    matcher, _ = build_matcher(config, "none", records, cls, crops, masks)
    return matcher, cls, masks


def test_silhouettes_fill_the_stored_box(records):
    """The crop is the stored bbox plus a 15% margin on its long side, so the re-rendered
    silhouette must span size / 1.15 pixels along that side, centred (a silhouette from
    another pose, K or box would not)."""
    masks = silhouettes(records, SIZE, 0.15)
    for mask, box in zip(masks, records.bbox):
        ys, xs = np.nonzero(mask > 0.5)
        w, h = box[2] - box[0], box[3] - box[1]
        span = (xs.max() - xs.min() + 1) if w >= h else (ys.max() - ys.min() + 1)
        assert abs(span - SIZE / 1.15) <= 2.0
        centre = ((xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2)
        assert np.allclose(centre, SIZE / 2, atol=1.5)


def test_similarity_is_the_masked_mean_cosine(records, crops):
    """Against a direct computation: per layer, sum over cells of mask weight x cosine of the
    two unit feature vectors, over the weight sum; averaged over layers; -inf for other classes."""
    matcher, cls, masks = _matcher(records, crops)
    q = torch.from_numpy(crops[:3])
    got = matcher.similarity(q, torch.from_numpy(cls[:3])).numpy()
    backbone, _ = build_backbone("mobilenet_v2", "none", 7)
    backbone.load_state_dict(matcher.backbone.state_dict())
    backbone.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(x):
        h, out = (torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 - mean) / std, {}
        with torch.no_grad():
            for i, block in enumerate(backbone, 1):
                h = block(h)
                out[i] = h.numpy()
        return out

    fq, ft = feats(crops[:3]), feats(crops)
    for a in range(3):
        for b in range(len(crops)):
            if cls[b] != cls[a]:
                assert got[a, b] == -np.inf
                continue
            total = 0.0
            for layer in (4, 7):
                u, v = fq[layer][a], ft[layer][b]
                cos = (u * v).sum(0) / (np.linalg.norm(u, axis=0) * np.linalg.norm(v, axis=0) + 1e-12)
                hh, ww = cos.shape
                m = masks[b].reshape(hh, SIZE // hh, ww, SIZE // ww).mean((1, 3))
                total += (m * cos).sum() / m.sum()
            assert got[a, b] == pytest.approx(total / 2, abs=2e-3)  # templates are stored as float16


def test_leave_one_out_and_class_separation(records, crops):
    matcher, cls, _ = _matcher(records, crops)
    own = predict_templates(matcher, crops, cls)
    assert np.array_equal(own["template"].numpy(), np.arange(len(crops)))  # an image is its own best template
    loo = predict_templates(matcher, crops, cls, exclude=np.arange(len(crops)))
    picked = loo["template"].numpy()
    assert not np.any(picked == np.arange(len(crops)))
    assert np.array_equal(cls[picked], cls)  # never a template of another class
    assert np.allclose(loo["angles"].numpy(), records.angles[picked])


def test_train_and_evaluate_through_the_cli(small_dataset, tmp_path, cli):
    run = tmp_path / "run"
    result = cli("train-pose", str(small_dataset), "--out", str(run), "--method", "templates", "--weights", "none",
                 "--size", str(SIZE), "--template-layers", "4,7", "--no-progress")
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["method"] == "templates" and config["model"]["template_layers"] == [4, 7]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["samples"]["train"] == 18
    # the saved index answers every training image with its own label (loaded from disk: the buffers were saved)
    result = cli("eval-pose", str(run), str(small_dataset), "--out", str(tmp_path / "eval.json"), "--no-progress")
    assert result.returncode == 0, result.stderr
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["overall"]["acc_pi_18"] == 1.0 and evaluated["overall"]["median_deg"] < 1e-3
    assert isinstance(load_model(run), TemplateMatcher)
    bad = cli("train-pose", str(small_dataset), "--out", str(tmp_path / "bad"), "--method", "templates", "--weights", "none",
              "--template-layers", "99", "--no-progress")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "template layers must be between 1 and" in bad.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "bad" / "model.safetensors").exists()


def test_template_layers_are_validated():
    with pytest.raises(ValueError):
        TrainConfig(method="templates", template_layers=[])
