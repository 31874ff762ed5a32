"""`dst3d train-pose` and `dst3d eval-pose`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("train-pose")
    def train_pose_cmd(
        data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
        out: Path = typer.Option(..., "--out", help="run folder for model.safetensors, config.json, metrics.json"),
        backbone: str = typer.Option("mobilenet_v2", help="mobilenet_v2 (CPU default), resnet18, resnet50 (as in 3D-DST), tiny"),
        weights: str = typer.Option("imagenet", help="imagenet (offline sources first, then torchvision download), none, or a .safetensors/.pth file"),
        epochs: int = typer.Option(10, help="passes over the training samples"),
        bins: str = typer.Option("36,18,36", help="bins for azimuth,elevation,theta (one number for all three)"),
        size: int = typer.Option(128, help="crop size in pixels (square crop around the bbox)"),
        batch_size: int = typer.Option(32, help="samples per step"),
        lr: float = typer.Option(1e-3, help="head learning rate (the backbone gets lr x --backbone-lr-scale)"),
        backbone_lr_scale: float = typer.Option(0.1, help="backbone learning rate relative to --lr"),
        freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="train only the head on features computed once (fast)"),
        feature_layer: Optional[int] = typer.Option(None, help="use only the backbone's first N blocks (e.g. 14: MobileNetV2 mid-level features)"),
        rotation_head: bool = typer.Option(False, "--rotation-head", help="also train a continuous 6D rotation head"),
        class_heads: bool = typer.Option(True, "--class-heads/--shared-heads", help="one set of bin classifiers per class, or one for all"),
        augment: bool = typer.Option(True, "--augment/--no-augment", help="box/colour jitter and mirror flips while fine-tuning"),
        val_fraction: float = typer.Option(0.0, help="fraction of every class held out for validation metrics"),
        split: str = typer.Option("train", help="dataset split: train, or filtered (after `dst3d filter`)"),
        seed: int = typer.Option(0, help="random seed"),
        cad_library: Optional[Path] = typer.Option(None, help="CAD library with the symmetry tags [default: the shipped one]"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace a model already in --out"),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        """Train a pose estimator (bin classifiers for azimuth, elevation, theta) on DATA."""
        from rich.console import Console

        from .evaluate import metrics_table
        from .train import TrainConfig, train_pose

        cfg = TrainConfig(
            backbone=backbone, weights=weights, epochs=epochs, bins=bins, size=size, batch_size=batch_size, lr=lr,
            backbone_lr_scale=backbone_lr_scale, freeze_backbone=freeze_backbone, rotation_head=rotation_head,
            class_heads=class_heads, augment=augment, val_fraction=val_fraction, split=split, seed=seed,
            feature_layer=feature_layer,
        )
        metrics = train_pose(data, out, cfg, progress=progress, overwrite=overwrite, cad_library=str(cad_library) if cad_library else None)
        console = Console()
        part = "val" if "val" in metrics else "train"
        console.print(metrics_table({**metrics[part], "class_names": metrics["class_names"]}, f"{part} metrics ({metrics['samples'][part]} samples)"))
        console.print(f"saved {out}/model.safetensors, config.json, metrics.json ({metrics['timings']['total_s']:.1f} s)")

    @app.command("eval-pose")
    def eval_pose_cmd(
        run: Path = typer.Argument(..., help="a run folder made by `dst3d train-pose`"),
        data: Path = typer.Argument(..., help="a dataset folder to evaluate on"),
        split: str = typer.Option("train", help="dataset split to evaluate"),
        out: Optional[Path] = typer.Option(None, help="JSON file for the metrics [default: RUN/eval-<DATA name>.json]"),
        batch_size: int = typer.Option(64, help="images per forward pass"),
        cad_library: Optional[Path] = typer.Option(None, help="CAD library with the symmetry tags [default: the shipped one]"),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        """Acc@pi/6, Acc@pi/18 and median rotation error of RUN's model on DATA, per class and overall."""
        from rich.console import Console

        from .evaluate import evaluate_run, metrics_table

        target = out or Path(run) / f"eval-{Path(data).resolve().name}.json"
        result = evaluate_run(run, data, split, target, str(cad_library) if cad_library else None, progress, batch_size)
        console = Console()
        console.print(metrics_table(result, f"{run} on {data} ({split})"))
        if "rotation_head" in result:
            console.print(metrics_table({**result["rotation_head"], "class_names": result["class_names"]}, "6D rotation head"))
        if result["skipped_classes"]:
            console.print(f"skipped classes the model does not know: {', '.join(result['skipped_classes'])}")
        console.print(f"wrote {target}")
