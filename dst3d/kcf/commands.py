"""`dst3d filter`: the K-fold consistency filter.

Options default to None and are filled from :class:`~dst3d.kcf.config.KcfConfig`, whose
defaults the help texts show; the default rule is described once, in ``DEFAULT_RULE``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import default_help, given, validated
from .config import DEFAULT_RULE, SCORES, KcfConfig

FILTER_HELP = f"""Score every sample by K-fold cross-validated pose estimation; keep or drop by a rule.

The default rule: {DEFAULT_RULE}. Writes DATA/kcf/scores.parquet, kcf/report.json,
kcf/report.png and the kept rows as DATA/data/filtered-*.parquet (the train shards stay as
they are). --min-clip-prob and --min-vlm-rating also drop samples by the model scores of
`dst3d score` (DATA/score/scores.parquet), in addition to the rule.
"""


def _help(field: str, text: str) -> str:
    return default_help(KcfConfig, field, text)


def register(app: typer.Typer) -> None:
    @app.command("filter", help=FILTER_HELP)
    def filter_cmd(
        data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate`"),
        folds: Optional[int] = typer.Option(None, help=_help("folds", "K: train on K-1 folds of every class, score the held-out one")),
        by_cad: Optional[bool] = typer.Option(None, "--by-cad/--by-sample", help=_help("by_cad", "folds by CAD instance (held-out images are of unseen instances), or by sample")),
        fold_by: Optional[str] = typer.Option(None, help=_help("fold_by", "auto (frame for imported photographs, else sample), sample, cad, or frame: contiguous ranges of source frames (a video's near-duplicate frames stay in one fold)")),
        quantile: Optional[float] = typer.Option(None, help=_help("quantile", "drop this fraction of every class, highest --score first")),
        score: Optional[str] = typer.Option(None, help=_help("score", f"what --quantile ranks: {', '.join(SCORES)}; contrast = own vs competing poses' control agreement")),
        contrast_weight: Optional[float] = typer.Option(None, help=_help("contrast_weight", "contrast = weight x (agreement with the likeliest wrong pose's control) - (agreement with the label's own)")),
        photo_weight: Optional[float] = typer.Option(None, help=_help("photo_weight", "photo = weight x (photo agreement of the likeliest wrong pose's render) - (the label's); evidence ranks contrast, photo and ratio")),
        threshold_deg: Optional[float] = typer.Option(None, help=_help("threshold_deg", "instead of --quantile: drop samples whose held-out rotation error exceeds this many degrees")),
        min_clip_prob: Optional[float] = typer.Option(None, help=_help("min_clip_prob", "also drop samples whose CLIP own-class probability (`dst3d score`) is below this")),
        min_vlm_rating: Optional[int] = typer.Option(None, help=_help("min_vlm_rating", "also drop samples whose VLM rating (`dst3d score --vlm`) is below this, 1-5; unrated ones are kept")),
        backbone: Optional[str] = typer.Option(None, help=_help("backbone", "frozen feature extractor: mobilenet_v2, resnet18, resnet50")),
        weights: Optional[str] = typer.Option(None, help=_help("weights", "imagenet, none, or a .safetensors/.pth file")),
        feature_layer: Optional[int] = typer.Option(None, help=_help("feature_layer", "use the backbone's first N blocks; None: 14 for mobilenet_v2 (mid-level features), all for the others; 0: all")),
        size: Optional[int] = typer.Option(None, help=_help("size", "crop size in pixels")),
        bins: Optional[str] = typer.Option(None, help=_help("bins", "bins for azimuth,elevation,theta")),
        epochs: Optional[int] = typer.Option(None, help=_help("epochs", "head training epochs per fold")),
        augment: Optional[int] = typer.Option(None, help=_help("augment", "extra jittered copies of every image for head training")),
        seed: Optional[int] = typer.Option(None, help=_help("seed", "random seed (folds, heads)")),
        cad_library: Optional[Path] = typer.Option(None, help="CAD library the data was made with, for symmetry tags and label renders (default: the one in the dataset's dst3d_job.json)"),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        from rich.console import Console
        from rich.table import Table

        from .filter import run_filter

        cfg = validated(KcfConfig, given(
            folds=folds, by_cad=by_cad, fold_by=fold_by, photo_weight=photo_weight, threshold_deg=threshold_deg, quantile=quantile, score=score, contrast_weight=contrast_weight,
            backbone=backbone, weights=weights, feature_layer=feature_layer, size=size, bins=bins, epochs=epochs, augment=augment,
            seed=seed, min_clip_prob=min_clip_prob, min_vlm_rating=min_vlm_rating,
        ), "filter setting")
        report = run_filter(data, cfg, progress=progress, cad_library=str(cad_library) if cad_library else None)
        table = Table(title=f"KCF on {data}: kept {report['kept']}, dropped {report['dropped']} ({report['compute_seconds']['wall_total']:.0f} s)")
        for column in ("synset", "class", "kept", "dropped", "cut", "median err (deg)"):
            table.add_column(column, justify="left" if column in ("synset", "class") else "right")
        for synset, c in report["per_class"].items():
            table.add_row(synset, c["name"].split(",")[0], str(c["kept"]), str(c["dropped"]), f"{c['cut']:.3g}", f"{c['median_error_deg']:.1f}")
        console = Console()
        console.print(table)
        for name, c in report.get("criteria", {}).items():
            limit = f" (minimum {c['minimum']})" if "minimum" in c else ""
            console.print(f"{name}{limit}: dropped {c['dropped']}" + (f", {c['unscored_kept']} without a score kept" if c.get("unscored_kept") else ""))
        console.print(f"wrote {data}/kcf/scores.parquet, report.json, report.png and {len(report['filtered_split']['files'])} data/filtered-*.parquet shards")
