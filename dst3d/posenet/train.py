"""Training a PoseNet on a dst3d dataset; the loops are shared with KCF.

Two regimes:

* fine-tuning (default): the whole network trains on jittered crops (box scale/shift,
  colour), horizontally flipped with mirrored labels for models tagged mirror-symmetric
  across x. The backbone learns at ``lr * backbone_lr_scale``.
* ``freeze_backbone``: the backbone's features are computed once per image and only the
  head trains, on the cached features: seconds instead of hours on a CPU.

A run folder holds ``model.safetensors`` (state dict), ``config.json`` (model + training
settings) and ``metrics.json`` (loss history, timings, metrics on the training and
validation samples).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..errors import UserError
from ..files import atomic_path, probe_writable, write_text_atomic
from ..progress import Progress
from .augment import Augment, augment_crops, symmetric_targets
from .bins import PoseBins
from .config import TrainConfig
from .data import CONTEXT, Records, centre_crops, context_crops, jittered_crop, load_records, mirror_labels
from .metrics import pose_metrics, rotation_errors
from .model import ModelConfig, PoseHead, PoseNet, build_backbone, decode_outputs, pose_loss, rotations_from_angles
from .templates import build_matcher, check_layers, matcher_from_state, predict_templates, silhouettes

MODEL_FILE, CONFIG_FILE, METRICS_FILE = "model.safetensors", "config.json", "metrics.json"


# --- tensors from records -----------------------------------------------------------

def class_index(records: Records, classes: list[str]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(records.synsets.tolist()) - set(lookup))
    if unknown:
        raise UserError(f"classes {', '.join(unknown)} were not in the model's training data (it knows {', '.join(classes)})")
    return np.array([lookup[s] for s in records.synsets], np.int64)


def mirror_flags(records: Records) -> np.ndarray:
    """Samples whose CAD model is mirror-symmetric across x (flip augmentation is exact)."""
    return np.array([s.type == "mirror" and s.axis == "x" for s in records.symmetries], bool)


@torch.no_grad()
def extract_features(model: PoseNet, crops: np.ndarray, batch_size: int = 64, advance=None) -> torch.Tensor:
    """Frozen backbone features (eval mode, no gradients), stored as float16."""
    model.eval()
    out = []
    for start in range(0, len(crops), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(crops[start : start + batch_size]))
        out.append(model.features(batch).to(torch.float16))
        if advance:
            advance(len(batch))
    return torch.cat(out) if out else torch.empty(0)


def _schedule(optimizer, total_steps: int):
    warmup = max(1, min(50, total_steps // 10))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, total_steps))))
    )


def _step(loss: torch.Tensor, optimizer, scheduler) -> float:
    """One optimizer and LR-schedule step; the loss value for the progress bar."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    return loss.item()


def fit_head(head: PoseHead, features: torch.Tensor, cls: np.ndarray, targets: np.ndarray, R: np.ndarray, *, epochs: int,
             batch_size: int, lr: float, weight_decay: float, seed: int, label_smoothing: float = 0.0, advance=None) -> list[float]:
    """Train the head on cached features; returns the mean loss per epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    n = len(features)
    cls_t, tgt_t, R_t = torch.from_numpy(cls), torch.from_numpy(targets), torch.from_numpy(R).float()
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(n / batch_size)
    scheduler = _schedule(optimizer, steps)
    history = []
    head.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2 and n >= 2:  # BatchNorm needs two samples
                continue
            loss = pose_loss(head(features[idx].float(), cls_t[idx]), tgt_t[idx], R_t[idx], label_smoothing).mean()
            value = _step(loss, optimizer, scheduler)
            total += value * len(idx)
            if advance:
                advance(1, f"loss {value:.3f}")
        history.append(total / n)
    head.eval()
    return history


def _colour_jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-sample brightness, contrast and saturation jitter of (B, 3, H, W) in [0, 1]."""
    b = len(x)
    bright = 1.0 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    contrast = 1.0 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.5
    sat = 1.0 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.6
    x = x * bright
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * sat + grey
    return x.clamp_(0.0, 1.0)


def fit_full(model: PoseNet, ctx: np.ndarray, cls: np.ndarray, angles: np.ndarray, mirror: np.ndarray,
             bins: PoseBins, cfg: TrainConfig, advance=None) -> list[float]:
    """Fine-tune the whole network on jittered, augmented crops (``angles`` are the targets,
    already symmetry-folded when asked); returns the mean loss per epoch."""
    from .model import to_float

    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    n = len(ctx)
    groups = [
        {"params": model.head.parameters(), "lr": cfg.lr},
        {"params": model.backbone.parameters(), "lr": cfg.lr * cfg.backbone_lr_scale},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    scheduler = _schedule(optimizer, cfg.epochs * math.ceil(n / cfg.batch_size))
    history = []
    effects = Augment(cfg.occlusion, cfg.low_res, cfg.blur)
    for _ in range(cfg.epochs):
        model.train()
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2 and n >= 2:
                continue
            if cfg.augment:
                crops = np.stack([jittered_crop(ctx[i], cfg.size, rng) for i in idx])
                flip = mirror[idx] & (rng.random(len(idx)) < 0.5)
                crops[flip] = crops[flip, :, ::-1]
                crops = augment_crops(crops, rng, effects)
                batch_angles = np.where(flip[:, None], mirror_labels(angles[idx]), angles[idx])
                batch_R = rotations_from_angles(batch_angles)
                x = _colour_jitter(to_float(torch.from_numpy(np.ascontiguousarray(crops))), gen)
            else:
                crops = centre_crops(ctx[idx], cfg.size)
                batch_angles = angles[idx]
                batch_R = rotations_from_angles(batch_angles)
                x = to_float(torch.from_numpy(np.ascontiguousarray(crops)))
            targets = torch.from_numpy(bins.encode(*batch_angles.T))
            outputs = model(x, torch.from_numpy(cls[idx]))
            loss = pose_loss(outputs, targets, torch.from_numpy(batch_R).float(), cfg.label_smoothing).mean()
            value = _step(loss, optimizer, scheduler)
            total += value * len(idx)
            if advance:
                advance(1, f"loss {value:.3f}")
        history.append(total / n)
    model.eval()
    return history


@torch.no_grad()
def predict_head(head: PoseHead, features: torch.Tensor, cls: np.ndarray, batch_size: int = 256) -> dict:
    """Head outputs (logits) on cached features, eval mode, no gradients."""
    head.eval()
    chunks = [head(features[s : s + batch_size].float(), torch.from_numpy(cls[s : s + batch_size])) for s in range(0, len(features), batch_size)]
    return {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}


@torch.no_grad()
def predict_images(model: PoseNet, crops: np.ndarray, cls: np.ndarray, batch_size: int = 64, advance=None) -> dict:
    model.eval()
    chunks = []
    for s in range(0, len(crops), batch_size):
        chunks.append(model(torch.from_numpy(np.ascontiguousarray(crops[s : s + batch_size])), torch.from_numpy(cls[s : s + batch_size])))
        if advance:
            advance(len(next(iter(chunks[-1].values()))))
    return {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}


def score(outputs: dict, records: Records, bins: PoseBins) -> dict:
    """Per-sample loss, decoded poses and symmetric errors (radians), and summary metrics.

    Errors are against the label's viewpoint rotation (``records.label_R``: what a crop
    around the object shows, the allocentric pose), which equals the egocentric ``R`` for
    generated images (the object at the principal point) but not for objects off the optical
    axis in real photos; ``errors_egocentric`` keeps the other for reference."""
    label_R = records.label_R()
    if "angles" in outputs:  # a template matcher: the best template's label; loss = 1 - its similarity
        angles = outputs["angles"].numpy()
        decoded = {"angles": angles, "R": rotations_from_angles(angles)}
        loss = 1.0 - outputs["similarity"].numpy()
    else:
        targets = torch.from_numpy(bins.encode(*records.angles.T))
        with torch.no_grad():
            loss = pose_loss(outputs, targets, torch.from_numpy(label_R).float()).numpy()
        decoded = decode_outputs(outputs, bins)
    errors = rotation_errors(decoded["R"], label_R, records.symmetries)
    result = {"loss": loss, "angles": decoded["angles"], "R": decoded["R"], "errors": errors,
              "errors_egocentric": rotation_errors(decoded["R"], records.R, records.symmetries),
              "metrics": pose_metrics(errors, records.synsets)}
    if "R_rot6d" in decoded:
        rot_err = rotation_errors(decoded["R_rot6d"], label_R, records.symmetries)
        result["errors_rot6d"] = rot_err
        result["metrics_rot6d"] = pose_metrics(rot_err, records.synsets)
    return result


def stratified_split(synsets: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out) with ``fraction`` of every class held out."""
    rng = np.random.default_rng(seed)
    held = []
    for c in sorted(set(synsets.tolist())):
        idx = np.flatnonzero(synsets == c)
        k = int(round(len(idx) * fraction))
        if fraction > 0 and len(idx) > 1:
            k = min(max(k, 1), len(idx) - 1)
        held.extend(rng.permutation(idx)[:k].tolist())
    held = np.array(sorted(held), np.int64)
    train = np.setdiff1d(np.arange(len(synsets)), held)
    return train, held


# --- the command ---------------------------------------------------------------------

def _prepare_run_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; choose a folder")
    if (out / MODEL_FILE).exists() and not overwrite:
        raise UserError(f"{out} already holds a trained model; choose a new --out or pass --overwrite")
    if not out.parent.exists():
        raise UserError(f"parent folder {out.parent} of --out does not exist; create it first")
    probe_writable(out if out.exists() else out.parent, "choose a writable --out")  # OUT itself is made only when the model is saved


def write_json(path: Path, data) -> None:
    """JSON with numpy scalars and arrays as plain numbers and lists, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=1, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def save_model(model: PoseNet, out: Path, extra_config: dict) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    out.mkdir(exist_ok=True)
    with atomic_path(out / MODEL_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt", "dst3d": __version__})
    write_json(out / CONFIG_FILE, {"model": model.config.as_dict(), **extra_config, "dst3d": __version__})


def load_model(run: Path) -> PoseNet:
    """A trained PoseNet (a TemplateMatcher for ``method: templates``) from a run folder (eval mode)."""
    from safetensors.torch import load_file

    run = Path(run)
    if not (run / CONFIG_FILE).is_file() or not (run / MODEL_FILE).is_file():
        raise UserError(f"{run} is not a training run (needs {CONFIG_FILE} and {MODEL_FILE}); train one with `dst3d train-pose`")
    try:
        config = ModelConfig.from_dict(json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{run / CONFIG_FILE} is damaged ({type(exc).__name__}); retrain with `dst3d train-pose` or restore the file") from None
    model = None if config.method == "templates" else PoseNet(config)
    try:
        state = load_file(str(run / MODEL_FILE))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types on damaged files
        raise UserError(f"{run / MODEL_FILE} is not a readable safetensors checkpoint ({type(exc).__name__}); retrain or restore it") from None
    if model is None:
        return matcher_from_state(config, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UserError(f"{run / MODEL_FILE} does not match its config: {str(exc).splitlines()[-1].strip()[:200]}") from None
    return model.eval()


def _fit_network(model_cfg: ModelConfig, cfg: TrainConfig, records: Records, cls: np.ndarray, ctx: np.ndarray, crops: np.ndarray,
                 train_idx: np.ndarray, bars, timings: dict, t0: float):
    """Fine-tune a PoseNet (or train its head on frozen features); its outputs on every crop."""
    backbone, source = build_backbone(cfg.backbone, cfg.weights, model_cfg.feature_layer)
    model = PoseNet(model_cfg, backbone)
    bins = model_cfg.pose_bins()
    steps = cfg.epochs * math.ceil(len(train_idx) / cfg.batch_size)
    targets = symmetric_targets(records.angles, records.symmetries) if cfg.symmetric_targets else records.angles
    if cfg.freeze_backbone:
        for p in model.backbone.parameters():
            p.requires_grad_(False)
        features = extract_features(model, crops, advance=bars.task("features", len(crops)))
        timings["features_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        train_targets = bins.encode(*targets[train_idx].T)
        history = fit_head(model.head, features[train_idx], cls[train_idx], train_targets, rotations_from_angles(targets[train_idx]),
                           epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                           seed=cfg.seed, label_smoothing=cfg.label_smoothing, advance=bars.task("training head", steps))
        timings["train_s"] = time.perf_counter() - t0
        outputs = predict_head(model.head, features, cls)
    else:
        history = fit_full(model, ctx[train_idx], cls[train_idx], targets[train_idx],
                           mirror_flags(records)[train_idx], bins, cfg, advance=bars.task("training", steps))
        timings["train_s"] = time.perf_counter() - t0
        outputs = predict_images(model, crops, cls, advance=bars.task("scoring", len(crops)))
    return model, source, outputs, history


def _fit_templates(model_cfg: ModelConfig, cfg: TrainConfig, records: Records, cls: np.ndarray, crops: np.ndarray,
                   train_idx: np.ndarray, val_idx: np.ndarray, bars, timings: dict):
    """A template matcher holding the training crops, and its outputs on every crop; a training
    crop never matches itself (leave-one-out: the train metrics say how well it generalizes)."""
    check_layers(cfg.backbone, list(cfg.template_layers))
    t0 = time.perf_counter()
    train = records.subset(train_idx)
    if cfg.template_mask:
        masks = silhouettes(train, cfg.size, cfg.margin, advance=bars.task("silhouettes", len(train_idx)))
    else:
        masks = np.ones((len(train_idx), cfg.size, cfg.size), np.float32)
    timings["silhouettes_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model, source = build_matcher(model_cfg, cfg.weights, train, cls[train_idx], crops[train_idx], masks,
                                  advance=bars.task("template features", len(train_idx)))
    timings["features_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    advance = bars.task("scoring", len(records))
    parts = [(train_idx, predict_templates(model, crops[train_idx], cls[train_idx], exclude=np.arange(len(train_idx)), advance=advance))]
    if len(val_idx):
        parts.append((val_idx, predict_templates(model, crops[val_idx], cls[val_idx], advance=advance)))
    outputs = {}
    for key, first in parts[0][1].items():
        merged = torch.empty((len(records), *first.shape[1:]), dtype=first.dtype)
        for idx, out in parts:
            merged[torch.from_numpy(idx)] = out[key]
        outputs[key] = merged
    timings["score_s"] = time.perf_counter() - t0
    return model, source, outputs, []


def train_pose(data: Path, out: Path, cfg: TrainConfig, progress: bool = True, overwrite: bool = False,
               cad_library: str | None = None, log=print) -> dict:
    """Train on DATA's split, save the run to OUT; returns the metrics written to metrics.json."""
    out = Path(out)
    _prepare_run_dir(out, overwrite)
    torch.manual_seed(cfg.seed)
    started = time.perf_counter()
    records = load_records(data, cfg.split, cad_library)
    classes = sorted(set(records.synsets.tolist()))
    templates = cfg.method == "templates"
    model_cfg = ModelConfig(**cfg.model_settings(cfg.bins, classes, records.class_names, class_heads=cfg.class_heads or templates,
                                                 rotation_head=cfg.rotation_head and not templates, method=cfg.method,
                                                 template_layers=list(cfg.template_layers) if templates else []))
    bins = model_cfg.pose_bins()
    train_idx, val_idx = stratified_split(records.synsets, cfg.val_fraction, cfg.seed)
    if len(train_idx) < 2:
        raise UserError(f"{data} has too few training samples ({len(train_idx)}); generate more or lower --val-fraction")
    cls = class_index(records, classes)
    timings = {}
    with Progress(progress) as bars:
        t0 = time.perf_counter()
        ctx = context_crops(records, cfg.size, cfg.margin, on_image=bars.task("cropping", len(records)))
        crops = centre_crops(ctx, cfg.size)
        timings["crops_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if templates:
            model, source, outputs, history = _fit_templates(model_cfg, cfg, records, cls, crops, train_idx, val_idx, bars, timings)
        else:
            model, source, outputs, history = _fit_network(model_cfg, cfg, records, cls, ctx, crops, train_idx, bars, timings, t0)
    scored = score(outputs, records, bins)
    metrics = {
        "data": str(Path(data).resolve()),
        "split": cfg.split,
        "samples": {"train": int(len(train_idx)), "val": int(len(val_idx))},
        "loss_history": history,
        "timings": {**timings, "total_s": time.perf_counter() - started},
        "weights_source": source,
        "class_names": {c: records.class_names[c] for c in classes},
        "train": _subset_metrics(scored, records, train_idx),
    }
    if len(val_idx):
        metrics["val"] = _subset_metrics(scored, records, val_idx)
    save_model(model, out, {"training": cfg.model_dump(), "weights_source": source, "data": str(Path(data).resolve())})
    write_json(out / METRICS_FILE, metrics)
    return metrics


def _subset_metrics(scored: dict, records: Records, idx: np.ndarray) -> dict:
    result = pose_metrics(scored["errors"][idx], records.synsets[idx])
    if "errors_rot6d" in scored:
        result["rotation_head"] = pose_metrics(scored["errors_rot6d"][idx], records.synsets[idx])
    return result


__all__ = ["TrainConfig", "train_pose", "load_model", "fit_head", "extract_features", "predict_head", "score", "CONTEXT"]
