"""`dst3d filter`: the K-fold consistency filter."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("filter")
    def filter_cmd(
        data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
        folds: int = typer.Option(5, help="K: train on K-1 folds of every class, score the held-out one"),
        by_cad: bool = typer.Option(False, "--by-cad", help="folds by CAD instance (held-out images are of unseen instances)"),
        threshold_deg: Optional[float] = typer.Option(None, help="drop samples whose held-out rotation error exceeds this [default rule: 60]"),
        quantile: Optional[float] = typer.Option(None, help="instead: drop this fraction of every class, highest --score first"),
        score: Optional[str] = typer.Option(None, help="what --quantile ranks: contrast (default: own vs competing poses' control agreement), combined, ratio, agreement, error or loss"),
        contrast_weight: Optional[float] = typer.Option(None, help="contrast = weight x (agreement with the likeliest wrong pose's control) - (agreement with the label's own) [default: 0.6]"),
        backbone: str = typer.Option("mobilenet_v2", help="frozen feature extractor: mobilenet_v2, resnet18, resnet50"),
        weights: str = typer.Option("imagenet", help="imagenet, none, or a .safetensors/.pth file"),
        feature_layer: Optional[int] = typer.Option(14, help="use the backbone's first N blocks (0 = all); 14 = MobileNetV2 mid-level"),
        size: int = typer.Option(128, help="crop size in pixels"),
        bins: str = typer.Option("24,12,24", help="bins for azimuth,elevation,theta"),
        epochs: int = typer.Option(30, help="head training epochs per fold"),
        augment: int = typer.Option(0, help="extra jittered copies of every image for head training"),
        seed: int = typer.Option(0, help="random seed (folds, heads)"),
        cad_library: Optional[Path] = typer.Option(None, help="CAD library (symmetry tags, label renders) [default: the shipped one]"),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        """Score every sample by K-fold cross-validated pose estimation; keep or drop by a rule.

        Writes DATA/kcf/scores.parquet, kcf/report.json, kcf/report.png and the kept rows as
        DATA/data/filtered-*.parquet (the train shards stay as they are).
        """
        from rich.console import Console
        from rich.table import Table

        from .filter import KcfConfig, run_filter

        cfg = KcfConfig(
            folds=folds, by_cad=by_cad, threshold_deg=threshold_deg, quantile=quantile, score=score, backbone=backbone,
            weights=weights, feature_layer=feature_layer or None, size=size, bins=bins, epochs=epochs, augment=augment, seed=seed,
        )
        if contrast_weight is not None:
            cfg.contrast_weight = contrast_weight
        report = run_filter(data, cfg, progress=progress, cad_library=str(cad_library) if cad_library else None)
        table = Table(title=f"KCF on {data}: kept {report['kept']}, dropped {report['dropped']} ({report['compute_seconds']['wall_total']:.0f} s)")
        for column in ("synset", "class", "kept", "dropped", "cut", "median err (deg)"):
            table.add_column(column, justify="left" if column in ("synset", "class") else "right")
        for synset, c in report["per_class"].items():
            table.add_row(synset, c["name"].split(",")[0], str(c["kept"]), str(c["dropped"]), f"{c['cut']:.3g}", f"{c['median_error_deg']:.1f}")
        console = Console()
        console.print(table)
        console.print(f"wrote {data}/kcf/scores.parquet, report.json, report.png and {len(report['filtered_split']['files'])} data/filtered-*.parquet shards")
