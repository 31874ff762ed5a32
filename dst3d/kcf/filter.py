"""K-fold consistency filter (KCF): drop samples whose image disagrees with their label.

3D-DST trains a ResNet-50 per class on K-1 folds (150 epochs, 5 folds) and scores the
held-out fold. Ours keeps the protocol and changes the cost:

1. every image is cropped around its bbox and passed once through a frozen ImageNet
   backbone (MobileNetV2 by default); all folds share these features. Mirror-symmetric
   models (tag ``mirror`` about x) also get the features of the flipped crop, labelled
   with the mirrored pose, as training augmentation;
2. per fold, a light head (1x1 reduction, small spatial grid, MLP, per-class bin
   classifiers) trains on the other K-1 folds' features in seconds;
3. the held-out fold is scored in eval mode without gradients: per-sample loss
   (cross-entropy at the label's bins) and rotation error of the decoded pose against the
   label, modulo the CAD model's symmetry;
4. every sample also gets its control agreement (``agreement.py``): how well the image's
   edges follow the Canny control it was generated from, no model involved;
5. the likeliest *wrong* poses (the estimator's prediction, the label turned by pi in
   azimuth) and the label are rendered in the record's own label frame
   (``hypotheses.py``; the label's re-render is its stored control, off-centre objects too):
   each image's agreement with the wrong poses' controls (``alternative``), and the photo
   agreement (``edges.py``: silhouette colour separation plus oriented contour chamfer) of the
   label (``photo``) and of the wrong poses (``photo_alternative``);
6. a rule (``rules.py``) keeps or drops each sample. The default (``config.DEFAULT_RULE``)
   drops the top 10% of each class by the ``photo`` score, ``0.8 * photo_alternative -
   photo``: a wrong pose's render fits the image better, or the label's fits badly.
   ``quantile`` with another score ranks that instead (``contrast`` the same on the Canny
   controls, ``evidence`` a weighted rank mean of photo, contrast, likelihood ratio and
   error, ``combined`` a rank average of the ratio and the control disagreement);
   ``threshold_deg`` drops by the held-out rotation error.

Folds are by sample, by CAD instance, or by contiguous ranges of source frames (imported
photographs: a video's near-duplicates stay on one side); ``fold_by: auto`` picks frames for
imported data. The held-out error is measured against the viewpoint label (the allocentric
pose of an imported photograph's crop).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..files import probe_writable
from ..posenet.bins import PoseBins
from ..posenet.data import Records, centre_crops, context_crops, load_records, mirror_labels
from ..posenet.metrics import rotation_errors
from ..posenet.model import ModelConfig, PoseHead, PoseNet, build_backbone, decode_outputs, pose_loss, rotations_from_angles
from ..posenet.train import class_index, extract_features, fit_head, mirror_flags, predict_head
from ..progress import Progress
from ..store.shards import DATA_DIR
from .agreement import dataset_agreement, hypothesis_agreements
from .config import CONTRAST_WEIGHT, DEFAULT_RULE, KcfConfig
from .criteria import load_criteria
from .folds import assign_folds, assign_frame_folds
from .outputs import write_outputs
from .rules import KcfScores, combined_score, decide, rule_values

__all__ = ["KcfConfig", "KcfScores", "DEFAULT_RULE", "CONTRAST_WEIGHT", "combined_score", "decide", "rule_values",
           "score_dataset", "run_filter", "log_ratio", "training_views"]


def score_dataset(records: Records, cfg: KcfConfig, progress: bool = True) -> KcfScores:
    """Held-out loss and rotation error of every sample, by K-fold cross-validation; the
    label renders come from the records' own (checked) CAD library."""
    torch.manual_seed(cfg.seed)
    seconds: dict[str, float] = {}
    classes = sorted(set(records.synsets.tolist()))
    model_cfg = ModelConfig(**cfg.model_settings(cfg.bins, classes, records.class_names, class_heads=True))
    bins = model_cfg.pose_bins()
    folds = fold_numbers(records, cfg)
    cls = class_index(records, classes)
    targets = bins.encode(*records.angles.T)
    t0 = time.perf_counter()
    agreement = dataset_agreement(records.root, records.split, records.ids)
    seconds["agreement"] = time.perf_counter() - t0
    with Progress(progress) as bars:
        t0 = time.perf_counter()
        backbone, _ = build_backbone(cfg.backbone, cfg.weights, model_cfg.feature_layer)
        net = PoseNet(model_cfg, backbone)
        seconds["load_backbone"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctx = context_crops(records, cfg.size, cfg.margin, on_image=bars.task("cropping", len(records)))
        seconds["crops"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        views = training_views(ctx, records, cfg)
        advance = bars.task("features (frozen backbone)", sum(len(v[0]) for v in views))
        features = [extract_features(net, crops, advance=advance) for crops, _, _ in views]
        held_features = features[0]  # view 0: the plain centre crops, in record order
        train_features = torch.cat(features)
        source = np.concatenate([src for _, src, _ in views])
        angles = np.concatenate([ang for _, _, ang in views])
        train_targets = bins.encode(*angles.T)
        train_R = rotations_from_angles(angles)
        seconds["features"] = time.perf_counter() - t0
        del ctx, views
        t0 = time.perf_counter()
        loss = np.zeros(len(records))
        error = np.zeros(len(records))
        ratio = np.zeros(len(records))
        pred = np.zeros((len(records), 3))
        label_R = records.label_R()
        steps = [cfg.epochs * int(np.ceil(np.sum(folds[source] != k) / cfg.batch_size)) for k in range(cfg.folds)]
        train_bar = bars.task(f"{cfg.folds} folds (head)", sum(steps))
        for k in range(cfg.folds):
            held = np.flatnonzero(folds == k)
            if not len(held):
                continue
            train = np.flatnonzero(folds[source] != k)
            torch.manual_seed(cfg.seed + k)
            head = PoseHead(held_features.shape[1], model_cfg)
            fit_head(head, train_features[train], cls[source[train]], train_targets[train], train_R[train], epochs=cfg.epochs,
                     batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=cfg.seed + k,
                     label_smoothing=cfg.label_smoothing, advance=train_bar)
            outputs = predict_head(head, held_features[held], cls[held])  # eval mode, no gradients
            with torch.no_grad():
                loss[held] = pose_loss(outputs, torch.from_numpy(targets[held])).numpy()
                ratio[held] = log_ratio(outputs, targets[held], bins)
            decoded = decode_outputs(outputs, bins)
            pred[held] = decoded["angles"]
            # against the viewpoint label (what a crop shows; for imported photos the allocentric pose, not R)
            error[held] = np.rad2deg(rotation_errors(decoded["R"], label_R[held], [records.symmetries[i] for i in held]))
        seconds["folds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hyp = hypothesis_agreements(records.root, records.split, records.ids, pred, records.library, records.symmetries)
    seconds["alternative_renders"] = time.perf_counter() - t0
    seconds["total"] = sum(seconds.values())
    return KcfScores(records, folds, loss, error, ratio, pred, seconds, agreement, hyp.alternative, hyp.photo, hyp.photo_alternative)


def fold_numbers(records: Records, cfg: KcfConfig) -> np.ndarray:
    """The fold of every sample under ``cfg.fold_by`` (auto: by frame where the samples come
    from imported photographs, whose frames are a video's, else by sample)."""
    if cfg.fold_by in ("auto", "frame"):
        frames, imported = source_frames(records.root, records.split, records.ids)
        if cfg.fold_by == "frame" or imported:
            return assign_frame_folds(frames, cfg.folds)
    return assign_folds(records.synsets, cfg.folds, cfg.seed, records.cad_ids if cfg.fold_by == "cad" else None)


def source_frames(root: Path, split: str, ids: np.ndarray) -> tuple[np.ndarray, bool]:
    """Each sample's source frame: the image id of an imported photograph (``render.bop.im_id``),
    else its row number (every generated sample is its own frame); and whether they were imported."""
    from ..store.dataset import open_dataset

    rows = list(open_dataset(root, split).records(["id", "render"]))
    if [r.id for r in rows] != list(ids):
        raise ValueError("dataset rows do not match the scored samples")
    frames = np.arange(len(rows), dtype=np.int64)
    bop = [((r.render or {}).get("bop") or {}).get("im_id") for r in rows]
    imported = bool(bop) and all(isinstance(b, int) for b in bop)
    return (np.asarray(bop, np.int64) if imported else frames), imported


def log_ratio(outputs: dict, targets: np.ndarray, bins: PoseBins) -> np.ndarray:
    """How much less likely the label is than the model's best guess, per sample:
    sum over angles of log p(best) - log p(label), with each bin's probability pooled
    with its neighbours (periodic angles wrap), so a label one bin off costs nothing.
    Views the model finds ambiguous (front or back?) get small values either way."""
    from ..posenet.bins import ANGLES, PERIODIC

    total = np.zeros(len(targets))
    for i, name in enumerate(ANGLES):
        p = torch.softmax(outputs[name].float(), dim=1).numpy()
        if PERIODIC[name]:
            pooled = p + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)
        else:
            padded = np.pad(p, ((0, 0), (1, 1)))
            pooled = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
        label = pooled[np.arange(len(targets)), targets[:, i]]
        total += np.log(pooled.max(axis=1) + 1e-12) - np.log(label + 1e-12)
    return total


def training_views(ctx: np.ndarray, records: Records, cfg: KcfConfig) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(crops, source record index, pose labels) for every view the heads train on.

    View 0 is the plain centre crop of every image (also what held-out samples are scored
    on). Mirror-symmetric models add their flipped crop with the mirrored pose; each
    ``augment`` copy adds a box-jittered, colour-jittered crop (flipped at random where the
    flip is exact), so the head sees more appearance variation for the same poses.
    """
    from ..posenet.data import jittered_crop

    n = len(records)
    crops = centre_crops(ctx, cfg.size)
    views = [(crops, np.arange(n), records.angles)]
    mirror = mirror_flags(records) if cfg.flip else np.zeros(n, bool)
    if mirror.any():
        idx = np.flatnonzero(mirror)
        views.append((np.ascontiguousarray(crops[idx][:, :, ::-1]), idx, mirror_labels(records.angles[idx])))
    rng = np.random.default_rng(cfg.seed)
    for _ in range(cfg.augment):
        out = np.stack([jittered_crop(c, cfg.size, rng) for c in ctx])
        flip = mirror & (rng.random(n) < 0.5)
        out[flip] = out[flip][:, :, ::-1]
        out = _colour_jitter_np(out, rng)
        views.append((out, np.arange(n), np.where(flip[:, None], mirror_labels(records.angles), records.angles)))
    return views


def _colour_jitter_np(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-image brightness/contrast/saturation jitter and a random channel permutation."""
    x = images.astype(np.float32)
    n = len(x)
    x *= rng.uniform(0.7, 1.3, (n, 1, 1, 1))
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * rng.uniform(0.7, 1.3, (n, 1, 1, 1)) + mean
    grey = x.mean(axis=3, keepdims=True)
    x = (x - grey) * rng.uniform(0.5, 1.5, (n, 1, 1, 1)) + grey
    perm = np.array([rng.permutation(3) for _ in range(n)])
    x = np.take_along_axis(x, perm[:, None, None, :], axis=3)
    return np.clip(x, 0, 255).astype(np.uint8)


def run_filter(data: Path, cfg: KcfConfig, progress: bool = True, cad_library: str | None = None, render_examples: bool = True) -> dict:
    """Score DATA, decide, and write kcf/scores.parquet, kcf/report.json, kcf/report.png and
    data/filtered-*.parquet. Returns the report. The CAD library is the dataset's own (its
    job file's) unless ``cad_library`` is given; one lacking the dataset's models is refused.
    ``cfg.min_clip_prob`` / ``cfg.min_vlm_rating`` also drop samples by `dst3d score`'s scores
    (:mod:`.criteria`)."""
    started = time.perf_counter()
    records = load_records(data, "train", cad_library)
    criteria = load_criteria(Path(data), records.ids, cfg.score_criteria())  # missing or stale scores: fail before the compute
    for folder in (Path(data), Path(data) / DATA_DIR):  # the outputs go here: fail now, not after the compute
        probe_writable(folder, f"the filter writes kcf/ and data/filtered-*.parquet into {data}: make it writable or filter a copy")
    scores = score_dataset(records, cfg, progress)
    keep, cuts = decide(scores, cfg)
    keep_rule = keep.copy()
    for kept in criteria.keep().values():
        keep &= kept
    return write_outputs(Path(data), scores, keep, cuts, cfg, time.perf_counter() - started, records.library, render_examples,
                         criteria=criteria if criteria.thresholds else None, keep_rule=keep_rule)
