"""Evaluating a trained run on a dataset: per-class and overall pose metrics."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..progress import Progress
from .data import Records, centre_crops, context_crops, load_records
from .metrics import pose_metrics
from .train import class_index, load_model, predict_images, score, write_json


def select(records: Records, classes: list[str] | None = None, min_visibility: float | None = None) -> Records:
    """The samples of ``classes`` (synsets or class names as the dataset spells them, any of
    the comma-separated names, case-insensitive) whose visible fraction is at least
    ``min_visibility``; a one-line error when a class is not in the data or nothing is left."""
    keep = np.ones(len(records), bool)
    if classes:
        lookup = {}
        for synset, name in records.class_names.items():
            lookup[synset.lower()] = synset
            for part in str(name).split(","):
                if part.strip():
                    lookup.setdefault(part.strip().lower(), synset)
        wanted = set()
        for item in classes:
            key = item.strip().lower()
            if not key:
                continue
            if key not in lookup:
                known = ", ".join(f"{s} ({records.class_names[s].split(',')[0]})" for s in sorted(records.class_names))
                raise UserError(f"class '{item.strip()}' is not in the dataset (it has {known})")
            wanted.add(lookup[key])
        keep &= np.isin(records.synsets, sorted(wanted))
    if min_visibility is not None:
        if not 0.0 <= min_visibility <= 1.0:
            raise UserError(f"--min-visibility is a visible fraction in [0, 1], got {min_visibility}")
        keep &= np.nan_to_num(records.visible, nan=1.0) >= min_visibility
    if not keep.any():
        raise UserError("no sample of the dataset is left after --classes/--min-visibility")
    return records if keep.all() else records.subset(np.flatnonzero(keep))


def evaluate_run(run: Path, data: Path, split: str = "train", out: Path | None = None, cad_library: str | None = None,
                 progress: bool = True, batch_size: int = 64, classes: list[str] | None = None,
                 min_visibility: float | None = None) -> dict:
    """Metrics of RUN's model on DATA's split (optionally only ``classes`` and samples at least
    ``min_visibility`` visible); written to ``out`` (JSON) when given. Symmetries come from
    the dataset's own CAD library unless ``cad_library`` is given."""
    started = time.perf_counter()
    model = load_model(run)
    config = model.config
    records = select(load_records(data, split, cad_library), classes, min_visibility)
    known = set(config.classes)
    if config.class_heads:
        keep = np.array([s in known for s in records.synsets])
        if not keep.any():
            raise UserError(f"no sample of {data} is of a class the model knows ({', '.join(config.classes)})")
        skipped = sorted(set(records.synsets[~keep].tolist()))
        records = records.subset(np.flatnonzero(keep))
        cls = class_index(records, config.classes)
    else:
        skipped = []
        cls = np.zeros(len(records), np.int64)
    with Progress(progress) as bars:
        ctx = context_crops(records, config.size, config.margin, on_image=bars.task("cropping", len(records)))
        outputs = predict_images(model, centre_crops(ctx, config.size), cls, batch_size, advance=bars.task("predicting", len(records)))
    scored = score(outputs, records, config.pose_bins())
    result = {
        "run": str(Path(run).resolve()),
        "data": str(Path(data).resolve()),
        "split": split,
        "subset": {"classes": sorted(set(records.synsets.tolist())) if classes else None, "min_visibility": min_visibility},
        "cad_library": str(records.library.root),
        "skipped_classes": skipped,
        "class_names": {s: records.class_names[s] for s in sorted(set(records.synsets.tolist()))},
        **scored["metrics"],
        # scored against the viewpoint label (allocentric); the egocentric R for reference
        "egocentric": pose_metrics(scored["errors_egocentric"], records.synsets),
        "seconds": time.perf_counter() - started,
    }
    if "metrics_rot6d" in scored:
        result["rotation_head"] = scored["metrics_rot6d"]
    result["samples"] = [
        {"id": i, "synset": s, "error_deg": float(np.rad2deg(e)), "loss": float(l)}
        for i, s, e, l in zip(records.ids.tolist(), records.synsets.tolist(), scored["errors"], scored["loss"])
    ]
    if out is not None:
        write_json(Path(out), result)
    return result


def metrics_table(result: dict, title: str):
    from rich.table import Table

    table = Table(title=title)
    for column, justify in (("synset", "left"), ("class", "left"), ("n", "right"), ("Acc@pi/6", "right"), ("Acc@pi/18", "right"), ("median err (deg)", "right")):
        table.add_column(column, justify=justify)
    names = result.get("class_names", {})

    def row(key, name, m, **style):
        table.add_row(key, name, str(m["n"]), f"{m['acc_pi_6']:.3f}", f"{m['acc_pi_18']:.3f}", f"{m['median_deg']:.1f}", **style)

    for synset, m in result["per_class"].items():
        row(synset, names.get(synset, "").split(",")[0], m)
    row("overall", "", result["overall"], style="bold")
    return table
