"""`dst3d train-pose` and `dst3d eval-pose`.

Options default to None and are filled from :class:`~dst3d.posenet.config.TrainConfig`, whose
defaults the help texts show, so a default lives in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import default_help, given, validated
from .config import TrainConfig

LIBRARY_HELP = "CAD library the data was made with, for the symmetry tags (default: the one in the dataset's dst3d_job.json)"


def _help(field: str, text: str) -> str:
    return default_help(TrainConfig, field, text)


def _layers(text: str | None) -> list | None:
    """``7,14`` -> [7, 14] (non-numbers are left for the config's one-line error)."""
    if text is None:
        return None
    return [int(p) if p.strip().lstrip("-").isdigit() else p.strip() for p in text.split(",") if p.strip()]


def register(app: typer.Typer) -> None:
    @app.command("train-pose")
    def train_pose_cmd(
        data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
        out: Path = typer.Option(..., "--out", help="run folder for model.safetensors, config.json, metrics.json"),
        backbone: Optional[str] = typer.Option(None, help=_help("backbone", "mobilenet_v2 (CPU default), resnet18, resnet50 (as in 3D-DST), tiny")),
        weights: Optional[str] = typer.Option(None, help=_help("weights", "imagenet (offline sources first, then torchvision download), none, or a .safetensors/.pth file")),
        epochs: Optional[int] = typer.Option(None, help=_help("epochs", "passes over the training samples")),
        bins: Optional[str] = typer.Option(None, help=_help("bins", "bins for azimuth,elevation,theta (one number for all three)")),
        size: Optional[int] = typer.Option(None, help=_help("size", "crop size in pixels (square crop around the bbox)")),
        batch_size: Optional[int] = typer.Option(None, help=_help("batch_size", "samples per step")),
        lr: Optional[float] = typer.Option(None, help=_help("lr", "head learning rate (the backbone gets lr x --backbone-lr-scale)")),
        backbone_lr_scale: Optional[float] = typer.Option(None, help=_help("backbone_lr_scale", "backbone learning rate relative to --lr")),
        freeze_backbone: Optional[bool] = typer.Option(None, "--freeze-backbone/--fine-tune", help=_help("freeze_backbone", "train only the head on features computed once (fast), or fine-tune the whole network")),
        feature_layer: Optional[int] = typer.Option(None, help=_help("feature_layer", "use the backbone's first N blocks; None: 14 for mobilenet_v2 (mid-level features), all for the others; 0: all")),
        rotation_head: Optional[bool] = typer.Option(None, "--rotation-head/--no-rotation-head", help=_help("rotation_head", "also train a continuous 6D rotation head")),
        class_heads: Optional[bool] = typer.Option(None, "--class-heads/--shared-heads", help=_help("class_heads", "one set of bin classifiers per class, or one for all")),
        augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help=_help("augment", "box/colour jitter and mirror flips while fine-tuning")),
        occlusion: Optional[float] = typer.Option(None, help=_help("occlusion", "probability of random erasing per crop (1-2 rectangles: noise, a flat colour or another crop's patch)")),
        low_res: Optional[float] = typer.Option(None, help=_help("low_res", "probability of down-up sampling a crop by 0.3-0.8 (small real objects)")),
        blur: Optional[float] = typer.Option(None, help=_help("blur", "probability of a Gaussian blur (sigma 0.4-1.6 px) per crop")),
        symmetric_targets: Optional[bool] = typer.Option(None, "--symmetric-targets/--plain-targets", help=_help("symmetric_targets", "fold the azimuth target of models symmetric about z into one symmetry period")),
        method: Optional[str] = typer.Option(None, help=_help("method", "network: train bin classifiers; templates: keep every image as a template (frozen features under its re-rendered silhouette), no training")),
        template_layers: Optional[str] = typer.Option(None, help=_help("template_layers", "backbone blocks the templates compare, comma-separated (--method templates)")),
        template_mask: Optional[bool] = typer.Option(None, "--template-mask/--no-template-mask", help=_help("template_mask", "compare only under each template's silhouette, or the whole crop (--method templates)")),
        val_fraction: Optional[float] = typer.Option(None, help=_help("val_fraction", "fraction of every class held out for validation metrics")),
        split: Optional[str] = typer.Option(None, help=_help("split", "dataset split: train, or filtered (after `dst3d filter`)")),
        seed: Optional[int] = typer.Option(None, help=_help("seed", "random seed")),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace a model already in --out"),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        """Train a pose estimator on DATA: bin classifiers for azimuth, elevation, theta, or (--method templates) a template index."""
        from rich.console import Console

        from .evaluate import metrics_table
        from .train import train_pose

        cfg = validated(TrainConfig, given(
            backbone=backbone, weights=weights, epochs=epochs, bins=bins, size=size, batch_size=batch_size, lr=lr,
            backbone_lr_scale=backbone_lr_scale, freeze_backbone=freeze_backbone, rotation_head=rotation_head,
            class_heads=class_heads, augment=augment, val_fraction=val_fraction, split=split, seed=seed,
            feature_layer=feature_layer, method=method, template_layers=_layers(template_layers), template_mask=template_mask, occlusion=occlusion, low_res=low_res, blur=blur, symmetric_targets=symmetric_targets,
        ), "training setting")
        metrics = train_pose(data, out, cfg, progress=progress, overwrite=overwrite, cad_library=str(cad_library) if cad_library else None)
        console = Console()
        part = "val" if "val" in metrics else "train"
        console.print(metrics_table({**metrics[part], "class_names": metrics["class_names"]}, f"{part} metrics ({metrics['samples'][part]} samples)"))
        console.print(f"saved {out}/model.safetensors, config.json, metrics.json ({metrics['timings']['total_s']:.1f} s)")

    @app.command("eval-pose")
    def eval_pose_cmd(
        run: Path = typer.Argument(..., help="a run folder made by `dst3d train-pose`"),
        data: Path = typer.Argument(..., help="a dataset folder to evaluate on"),
        split: str = typer.Option("train", help="dataset split to evaluate (default: train)"),
        out: Optional[Path] = typer.Option(None, help="JSON file for the metrics (default: RUN/eval-<DATA name>.json)"),
        classes: Optional[str] = typer.Option(None, help="only these classes: comma-separated synsets or class names (default: all)"),
        min_visibility: Optional[float] = typer.Option(None, help="only samples at least this fraction visible, in [0, 1] (default: all)"),
        batch_size: int = typer.Option(64, help="images per forward pass (default: 64)"),
        cad_library: Optional[Path] = typer.Option(None, help=LIBRARY_HELP),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        """Acc@pi/6, Acc@pi/18 and median rotation error of RUN's model on DATA, per class and overall."""
        from rich.console import Console

        from .evaluate import evaluate_run, metrics_table

        target = out or Path(run) / f"eval-{Path(data).resolve().name}.json"
        wanted = [c for c in classes.split(",") if c.strip()] if classes else None
        result = evaluate_run(run, data, split, target, str(cad_library) if cad_library else None, progress, batch_size,
                              classes=wanted, min_visibility=min_visibility)
        console = Console()
        console.print(metrics_table(result, f"{run} on {data} ({split})"))
        if "rotation_head" in result:
            console.print(metrics_table({**result["rotation_head"], "class_names": result["class_names"]}, "6D rotation head"))
        if result["skipped_classes"]:
            console.print(f"skipped classes the model does not know: {', '.join(result['skipped_classes'])}")
        console.print(f"wrote {target}")
