"""`dst3d score DATA`: CLIP class presence and (optionally) VLM ratings, stored per sample."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .clip import COMPETITORS, DEFAULT_CLIP, TEMPLATE
from .vlm import DEFAULT_MAX_NEW_TOKENS

SCORE_HELP = f"""Score every sample with models: CLIP class presence and, with --vlm, a 1-5 rating, reason and caption.

CLIP compares each image with "{TEMPLATE}" for its own class and the competing classes
(--competitors imagenet: the other ImageNet-1k classes) and stores the own class's softmax
probability, its rank and the logit margin. A VLM (any transformers image-text-to-text chat
model) rates each image, or each multi-view group with its views tiled into one image; an
answer without a whole-number rating 1-5 is stored unrated, with the raw text. Writes
DATA/score/scores.parquet (one row per sample) and DATA/score/score.json (models, revisions,
prompts, classes); the shards stay as they are. `dst3d filter --min-clip-prob/--min-vlm-rating`
reads them.
"""


def register(app: typer.Typer) -> None:
    @app.command("score", help=SCORE_HELP)
    def score_cmd(
        data: Path = typer.Argument(..., help="a dataset folder made by `dst3d generate` or `dst3d import-bop`"),
        model: str = typer.Option(DEFAULT_CLIP, help="CLIP model: a Hugging Face Hub id or a local folder (transformers layout) (default: " + DEFAULT_CLIP + ")", show_default=False),
        clip: bool = typer.Option(True, "--clip/--no-clip", help="CLIP scores (--no-clip: only the VLM; stored CLIP scores are kept) (default: --clip)", show_default=False),
        revision: Optional[str] = typer.Option(None, help="CLIP model revision (branch, tag or commit) (default: the Hub's main)", show_default=False),
        competitors: str = typer.Option("imagenet", help=f"classes each image competes with: {', '.join(COMPETITORS)} (the dataset's classes only) (default: imagenet)", show_default=False),
        template: str = typer.Option(TEMPLATE, help=f"CLIP text per class, with {{name}} (default: {TEMPLATE})", show_default=False),
        crop: bool = typer.Option(False, "--crop/--full-image", help="CLIP sees a square crop around the object's bbox, or the full image (default: --full-image)", show_default=False),
        vlm: Optional[str] = typer.Option(None, help="vision-language chat model (Hub id or local folder) to rate 1-5 with a reason and a caption (default: none)", show_default=False),
        vlm_revision: Optional[str] = typer.Option(None, help="VLM revision (default: the Hub's main)", show_default=False),
        per_group: Optional[bool] = typer.Option(None, "--per-group/--per-image", help="VLM rates each multi-view group (views tiled) or each image (default: groups when every record has render['view'], else images)", show_default=False),
        max_new_tokens: int = typer.Option(DEFAULT_MAX_NEW_TOKENS, min=1, help=f"VLM answer length in tokens (default: {DEFAULT_MAX_NEW_TOKENS})", show_default=False),
        batch_size: int = typer.Option(32, min=1, help="CLIP images per batch (default: 32)", show_default=False),
        vlm_batch_size: int = typer.Option(4, min=1, help="VLM images or groups per generate call (default: 4)", show_default=False),
        device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)", show_default=False),
        dtype: str = typer.Option("auto", help="auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 or bf16 (default: auto)", show_default=False),
        progress: bool = typer.Option(True, help="show progress bars"),
    ) -> None:
        from rich.console import Console

        from .run import ScoreSettings, run_score

        settings = ScoreSettings(
            clip=model if clip else None, clip_revision=revision, competitors=competitors, template=template, crop=crop, vlm=vlm,
            vlm_revision=vlm_revision, grouping={None: "auto", True: "group", False: "image"}[per_group], max_new_tokens=max_new_tokens,
            batch_size=batch_size, vlm_batch_size=vlm_batch_size, device=device, dtype=dtype,
        )
        summary = run_score(data, settings, progress=progress)
        console = Console()
        if "clip" in summary:
            c = summary["clip"]
            console.print(f"CLIP: {summary['samples']} samples against {c['classes']} classes: own class top-1 for {c['top1']:.0%}, median probability {c['median_prob']:.3g}")
        if "vlm" in summary:
            v = summary["vlm"]
            mean = f", mean rating {v['mean_rating']:.2f}" if v["mean_rating"] is not None else ""
            console.print(f"VLM: {v['rated']} of {v['units']} {'groups' if v['grouping'] == 'group' else 'images'} rated{mean}; {v['unrated']} answers without a rating 1-5 (raw text kept)")
        console.print(f"wrote {summary['out']}/scores.parquet and score.json")
