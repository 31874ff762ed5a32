"""What `dst3d filter` leaves in the dataset folder.

* ``kcf/scores.parquet``: one row per sample (id, synset, cad_id, fold, loss, error_deg,
  ratio, agreement (control agreement, NaN without a Canny control), keep, predicted angles);
* ``data/filtered-XXXXX-of-YYYYY.parquet``: the kept rows, one shard per train shard, same
  schema: a split the Hub loader reads (``split="filtered"`` / a ``filtered`` config);
* ``kcf/report.json``: rule, cuts, counts (overall and per class), compute seconds; with
  model-score criteria (``min_clip_prob``, ``min_vlm_rating``) what each of them dropped
  (``criteria``; ``keep_rule`` and the score columns then join kcf/scores.parquet);
* ``kcf/report.png``: the score histogram with the cut, and dropped samples next to the
  render of their label (and of the pose the held-out model saw).

Every file is written to a temporary name and renamed (``dst3d.files``); the train shards
are never touched.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import __version__
from ..cad.library import CadLibrary
from ..files import atomic_path, write_json_atomic
from ..store.dataset import open_dataset
from ..store.shards import DATA_DIR, record_path, write_table_shard
from .rules import rule_values

KCF_DIR = "kcf"
FILTERED_SPLIT = "filtered"


def write_outputs(root: Path, scores, keep: np.ndarray, cuts: dict, cfg, seconds_total: float,
                  library: CadLibrary | None = None, render_examples: bool = True, criteria=None, keep_rule: np.ndarray | None = None) -> dict:
    """``keep``: the final decision; with model-score ``criteria`` (:class:`.criteria.ScoreCriteria`),
    ``keep_rule`` is the KCF rule's alone, and both, the score columns used and what each
    criterion dropped are recorded too."""
    root = Path(root)
    out = root / KCF_DIR
    out.mkdir(exist_ok=True)
    rec = scores.records
    table = pa.table({
        "id": rec.ids.tolist(),
        "synset": rec.synsets.tolist(),
        "cad_id": rec.cad_ids.tolist(),
        "fold": scores.folds.astype(np.int32),
        "loss": scores.loss.astype(np.float32),
        "error_deg": scores.error_deg.astype(np.float32),
        "ratio": scores.ratio.astype(np.float32),
        "agreement": scores.agreement.astype(np.float32),
        "alternative": scores.alternative.astype(np.float32),
        "photo": scores.photo.astype(np.float32),
        "photo_alternative": scores.photo_alternative.astype(np.float32),
        "keep": keep,
        "pred_azimuth": scores.pred_angles[:, 0],
        "pred_elevation": scores.pred_angles[:, 1],
        "pred_theta": scores.pred_angles[:, 2],
    })
    if criteria is not None:
        table = table.append_column("keep_rule", pa.array(keep_rule if keep_rule is not None else keep))
        for column, values in criteria.values.items():
            table = table.append_column(column, pa.array(values.astype(np.float32)))
    with atomic_path(out / "scores.parquet") as tmp:
        pq.write_table(table, tmp)
    filtered = write_filtered_shards(root, dict(zip(rec.ids.tolist(), keep.tolist())))
    per_class = {}
    for c in sorted(set(rec.synsets.tolist())):
        m = rec.synsets == c
        per_class[c] = {
            "name": rec.class_names[c], "kept": int((keep & m).sum()), "dropped": int((~keep & m).sum()),
            "cut": cuts[c], "median_error_deg": float(np.median(scores.error_deg[m])),
        }
    rule = cfg.rule()
    report = {
        "dst3d": __version__,
        "folds": cfg.folds,
        "by_cad": cfg.by_cad,
        "fold_by": cfg.fold_by,
        "rule": rule,
        **({"threshold": rule["threshold_deg"]} if rule["type"] == "threshold" else {}),
        "kept": int(keep.sum()),
        "dropped": int((~keep).sum()),
        **({"criteria": criteria.report(keep_rule if keep_rule is not None else keep)} if criteria is not None else {}),
        "per_class": per_class,
        "held_out": {
            "acc_pi_6": float(np.mean(scores.error_deg < 30)),
            "median_error_deg": float(np.median(scores.error_deg)),
            "median_agreement": _median(scores.agreement),
        },
        "compute_seconds": {**{k: round(v, 2) for k, v in scores.seconds.items()}, "wall_total": round(seconds_total, 2)},
        "config": cfg.as_dict(),
        "filtered_split": {"split": FILTERED_SPLIT, "files": filtered},
        "dropped_ids": rec.ids[~keep].tolist(),
    }
    write_json_atomic(out / "report.json", report)
    try:
        report_png(root, scores, keep, cuts, rule, library, render_examples)
    except Exception as exc:  # noqa: BLE001 - a plot must not lose the scores
        warnings.warn(f"kcf/report.png not written: {type(exc).__name__}: {exc}", stacklevel=2)
    refresh_card(root)
    return report


def _median(values: np.ndarray) -> float | None:
    """Median of the finite values (None when there are none: JSON has no NaN)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else None


def refresh_card(root: Path) -> None:
    """Rewrite an existing dataset card (it reads kcf/report.json and the filtered split),
    keeping its licence."""
    readme = root / "README.md"
    if not readme.is_file():
        return
    try:
        import yaml

        from ..store.card import write_card
        from ..viz.inspect import card_pictures

        text = readme.read_text()
        meta = yaml.safe_load(text.split("---")[1]) if text.startswith("---") else {}
        write_card(root, (meta or {}).get("license", "cc-by-4.0"), pictures=card_pictures(root))
    except Exception as exc:  # noqa: BLE001 - the scores and shards are written; the card is a courtesy
        warnings.warn(f"README.md not refreshed: {type(exc).__name__}: {exc}", stacklevel=2)


def write_filtered_shards(root: Path, keep_by_id: dict[str, bool]) -> list[str]:
    """data/filtered-*.parquet (each with its integrity record): the kept rows of each train
    shard; stale ones removed."""
    files = open_dataset(root).files
    n = len(files)
    written = []
    for number, path in enumerate(files):
        table = pq.read_table(path)
        mask = pa.array([keep_by_id.get(i, True) for i in table["id"].to_pylist()], pa.bool_())
        name = f"{FILTERED_SPLIT}-{number:05d}-of-{n:05d}.parquet"
        write_table_shard(root / DATA_DIR / name, table.filter(mask))
        written.append(f"{DATA_DIR}/{name}")
    for stale in (root / DATA_DIR).glob(f"{FILTERED_SPLIT}-*.parquet"):
        if f"{DATA_DIR}/{stale.name}" not in written:
            stale.unlink()
            record_path(stale).unlink(missing_ok=True)
    return written


EXAMPLE_COLUMNS = ["id", "image", "control", "cad_id", "R", "t", "K", "bbox", "width", "height", "render"]


def _label_renders(records: list, library: CadLibrary | None) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Clay renders of each record's label pose and predicted pose; None where impossible."""
    if library is None:
        return [None] * len(records)
    try:
        from ..posenet.model import rotations_from_angles
        from ..render.scene import Rerenderer

        rerender = Rerenderer(library)
    except Exception:  # noqa: BLE001 - no GL: fall back to the stored control
        return [None] * len(records)
    out = []
    with rerender:
        for record in records:
            try:
                label = rerender.view(record)
                pred = rerender.view(record, R=rotations_from_angles(np.array([record.extra["pred"]]))[0])
                out.append((label.render.clay(), pred.render.clay()))
            except Exception:  # noqa: BLE001 - a plot must not lose the scores
                out.append(None)
    return out


def report_png(root: Path, scores, keep: np.ndarray, cuts: dict, rule: dict, library: CadLibrary | None = None,
               render_examples: bool = True, n_examples: int = 8) -> Path:
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..posenet.data import crop

    rec = scores.records
    value = rule_values(scores, rule)
    order = np.flatnonzero(~keep)
    order = order[np.argsort(-value[order])][:n_examples]
    rows = []
    if len(order):
        wanted = set(rec.ids[order].tolist())
        by_id = {r.id: r for r in open_dataset(root).records(EXAMPLE_COLUMNS) if r.id in wanted}
        for i in order:
            record = by_id[rec.ids[i]]
            record.extra["pred"] = scores.pred_angles[i]
            rows.append(record)
    renders = _label_renders(rows, library) if render_examples and rows else [None] * len(rows)

    n_rows = max(1, int(np.ceil(len(rows) / 2)))
    fig = plt.figure(figsize=(15, 3.2 + 2.1 * n_rows))
    ax = fig.add_subplot(2, 1, 1) if rows else fig.add_subplot(1, 1, 1)
    bins = np.linspace(0, 180, 37) if rule["score"] == "error" else 40
    finite = np.isfinite(value)
    ax.hist([value[keep & finite], value[~keep & finite]], bins=bins, stacked=True, color=["#4c72b0", "#dd5555"], label=[f"kept ({int(keep.sum())})", f"dropped ({int((~keep).sum())})"])
    if rule["type"] == "threshold":
        ax.axvline(rule["threshold_deg"], color="k", ls="--", label=f"cut {rule['threshold_deg']:.0f} deg")
    else:
        finite_cuts = [c for c in cuts.values() if np.isfinite(c)]
        if finite_cuts:
            ax.axvline(float(np.median(finite_cuts)), color="k", ls="--", label=f"median per-class cut (drop top {rule['quantile']:.0%} per class)")
    ax.set_xlabel({"error": "held-out rotation error vs label (deg)", "loss": "held-out loss", "ratio": "held-out log-likelihood ratio (best guess vs label)",
                   "agreement": "control disagreement (- agreement of image edges with the Canny control)",
                   "combined": "per-class rank average of likelihood ratio and control disagreement",
                   "contrast": f"contrast: {rule.get('contrast_weight')} x agreement with a competing pose's control - agreement with own control",
                   "photo": f"photo: {rule.get('photo_weight')} x photo agreement of a competing pose's render - the label's",
                   "evidence": "evidence: weighted per-class rank mean of photo, contrast, likelihood ratio, error"}.get(rule["score"], rule["score"]))
    ax.set_ylabel("samples")
    ax.set_title(f"KCF: {len(keep)} samples, {int((~keep).sum())} dropped")
    ax.legend()
    if rows:
        tiles = []
        for row, rendered in zip(rows, renders):
            size = 128
            image = crop(row.image_rgb(), row.bbox, size)
            if rendered is None:
                label = crop(row.control_rgb(), row.bbox, size)
                pred = np.full_like(label, 255)
            else:
                label = crop(cv2.cvtColor(rendered[0], cv2.COLOR_GRAY2RGB), row.bbox, size)
                pred = crop(cv2.cvtColor(rendered[1], cv2.COLOR_GRAY2RGB), row.bbox, size)
            tile = np.hstack([image, label, pred])
            i = int(np.flatnonzero(rec.ids == row.id)[0])
            text = f"{row.id} err {scores.error_deg[i]:.0f}"
            cv2.rectangle(tile, (0, 0), (tile.shape[1], 14), (0, 0, 0), -1)
            cv2.putText(tile, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        if len(tiles) % 2:
            tiles.append(np.full_like(tiles[0], 255))
        grid = np.vstack([np.hstack(tiles[i : i + 2]) for i in range(0, len(tiles), 2)])
        ax2 = fig.add_subplot(2, 1, 2)
        ax2.imshow(grid)
        ax2.set_axis_off()
        ax2.set_title("dropped (highest scores): image | render of its label | render of the held-out prediction")
    fig.tight_layout()
    path = root / KCF_DIR / "report.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path
