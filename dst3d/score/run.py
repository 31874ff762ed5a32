"""`dst3d score DATA`: run the scorers over a dataset and store their columns (see :mod:`.store`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import __version__
from ..errors import UserError
from ..files import probe_writable
from ..progress import Progress
from ..store.dataset import open_dataset
from .clip import DEFAULT_CLIP, TEMPLATE, ClipScorer, class_scores, class_set, definition, short_name
from .models import DTYPES
from .store import SCORE_DIR, dataset_state, write_scores
from .vlm import DEFAULT_MAX_NEW_TOKENS, VlmScorer, parse_answer, prompt_for, tile_views

GROUPING = ("auto", "group", "image")


@dataclass
class ScoreSettings:
    """What `dst3d score` runs. ``clip=None``: no CLIP scores (only the VLM); ``vlm=None``: no VLM.
    ``grouping``: ``auto`` rates multi-view groups when every record belongs to one (``render["view"]``),
    else single images; ``group`` requires groups; ``image`` rates every image alone."""

    clip: str | None = DEFAULT_CLIP
    clip_revision: str | None = None
    competitors: str = "imagenet"
    template: str = TEMPLATE
    crop: bool = False
    vlm: str | None = None
    vlm_revision: str | None = None
    grouping: str = "auto"
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_size: int = 32
    vlm_batch_size: int = 4
    device: str = "auto"
    dtype: str = "auto"

    def check(self) -> None:
        if self.clip is None and self.vlm is None:
            raise UserError("nothing to score: give a CLIP model (--model) or a VLM (--vlm), or both")
        if self.grouping not in GROUPING:
            raise UserError(f"grouping must be one of {', '.join(GROUPING)}, not {self.grouping!r}")
        if self.dtype not in DTYPES:
            raise UserError(f"--dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if "{name}" not in self.template:
            raise UserError(f"the CLIP prompt template must contain {{name}}, e.g. {TEMPLATE!r}; got {self.template!r}")
        if self.batch_size < 1 or self.vlm_batch_size < 1 or self.max_new_tokens < 1:
            raise UserError("batch sizes and max_new_tokens must be at least 1")


def view_of(render: dict | None) -> tuple[str | None, int]:
    """(group id, view index) of a record from its ``render["view"]``; (None, 0) for a single image."""
    view = (render or {}).get("view")
    if isinstance(view, dict) and view.get("group") is not None:
        return str(view["group"]), int(view.get("index") or 0)
    return None, 0


def crop_box(image: np.ndarray, bbox, margin: float = 0.1) -> np.ndarray:
    """A square crop around the bbox (side = longest bbox side x (1 + 2 margin)), padded with the
    image's edge pixels where it leaves the image."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    side = max(x1 - x0, y1 - y0, 2.0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    size = max(int(round(side)), 1)
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + size - w, top + size - h)
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else image
    return np.ascontiguousarray(padded[top + pad : top + pad + size, left + pad : left + pad + size])


def run_score(data: str | Path, settings: ScoreSettings, progress: bool = True) -> dict:
    """Score DATA's train split; write DATA/score/scores.parquet and score.json. Returns a summary."""
    settings.check()
    data = Path(data)
    ds = open_dataset(data, "train")
    _locate(settings)  # a missing model: one line, before anything is read or written
    probe_writable(data, f"`dst3d score` writes {SCORE_DIR}/ into {data}: make it writable or score a copy")
    meta = list(ds.records(["id", "synset", "class_name", "render"]))
    ids = [r.id for r in meta]
    if len(set(ids)) != len(ids):
        raise UserError(f"{data} has duplicate sample ids; scores are stored by id, regenerate the dataset")
    state = dataset_state(ds)
    names = {r.synset: r.class_name for r in meta}
    columns: dict[str, pa.Array] = {}
    sections: dict[str, dict] = {}
    summary: dict = {"samples": len(ids), "out": str(data / SCORE_DIR)}
    # Load every model first: a missing one fails before any compute.
    clip = ClipScorer(settings.clip, settings.clip_revision, settings.device, settings.dtype, settings.batch_size, settings.template) if settings.clip else None
    vlm = VlmScorer(settings.vlm, settings.vlm_revision, settings.device, settings.dtype, settings.vlm_batch_size, settings.max_new_tokens) if settings.vlm else None
    with Progress(progress) as bars:
        if clip is not None:
            cols, section = _timed(_clip_columns, ds, meta, names, clip, settings, bars)
            sections["clip"] = section
            columns.update(cols)
            summary["clip"] = {"median_prob": float(np.median(cols["clip_class_prob"].to_numpy())),
                               "top1": float(np.mean(cols["clip_class_rank"].to_numpy() == 1)), "classes": section["n_classes"]}
        if vlm is not None:
            cols, section = _timed(_vlm_columns, ds, meta, names, vlm, settings, bars)
            sections["vlm"] = section
            columns.update(cols)
            ratings = [r for r in cols["vlm_rating"].to_pylist() if r is not None]
            summary["vlm"] = {"units": section["units"], "rated": section["rated"], "unrated": section["units"] - section["rated"],
                              "mean_rating": float(np.mean(ratings)) if ratings else None, "grouping": section["grouping"]}
    write_scores(data, ids, state, columns, sections, {"dst3d": __version__})
    return summary


def _timed(columns_of, *args) -> tuple[dict, dict]:
    """``columns_of(*args)`` -> (columns, section), the section with its ``seconds``."""
    t0 = time.perf_counter()
    cols, section = columns_of(*args)
    section["seconds"] = round(time.perf_counter() - t0, 2)
    return cols, section


def _locate(settings: ScoreSettings) -> None:
    from ..hub_models import hub_offline, locate_model

    for model, revision, what, option in ((settings.clip, settings.clip_revision, "CLIP model", "--model"), (settings.vlm, settings.vlm_revision, "VLM", "--vlm")):
        if model:
            locate_model(model, revision=revision, probe_file="config.json", what=what, option=option, local_files_only=hub_offline())


def _clip_columns(ds, meta, names, clip: ClipScorer, settings: ScoreSettings, bars) -> tuple[dict, dict]:
    from .models import public_source

    classes = class_set(names, settings.competitors)
    index = {synset: i for i, (synset, _) in enumerate(classes)}
    texts = [settings.template.format(name=name) for _, name in classes]
    text_features = clip.text_features(texts)
    own = np.array([index[r.synset] for r in meta])
    out = {k: [] for k in ("clip_class_prob", "clip_class_rank", "clip_margin", "top")}
    advance = bars.task("CLIP class presence", len(meta), unit="img")
    batch: list[np.ndarray] = []
    start = 0

    def flush() -> None:
        nonlocal batch, start
        scores = class_scores(clip.logits(batch, text_features), own[start : start + len(batch)])
        for k in out:
            out[k].append(scores[k])
        advance(len(batch))
        start += len(batch)
        batch = []

    for i, record in enumerate(ds.records(["id", "image", "bbox"])):
        if record.id != meta[i].id:
            raise UserError(f"{ds.root}: the dataset changed while it was being scored; run `dst3d score` again")
        image = record.image_rgb()
        batch.append(crop_box(image, record.bbox) if settings.crop and record.bbox is not None else image)
        if len(batch) == settings.batch_size:
            flush()
    if batch:
        flush()
    cat = {k: np.concatenate(v) for k, v in out.items()}
    columns = {
        "clip_class_prob": pa.array(cat["clip_class_prob"].astype(np.float32)),
        "clip_class_rank": pa.array(cat["clip_class_rank"].astype(np.int32)),
        "clip_margin": pa.array(cat["clip_margin"].astype(np.float32)),
        "clip_top": pa.array([classes[j][0] for j in cat["top"]], pa.string()),
    }
    section = {**public_source(clip.source), "template": settings.template, "competitors": settings.competitors, "crop": settings.crop,
               "n_classes": len(classes), "classes": [[s, t] for (s, _), t in zip(classes, texts)], "device": clip.device, "dtype": settings.dtype}
    return columns, section


def _units(meta, grouping: str) -> tuple[list[list[int]], str]:
    """Rows rated together (a group's views in view order, or one image each), and the grouping used."""
    views = [view_of(r.render) for r in meta]
    grouped = bool(views) and all(g is not None for g, _ in views)
    if grouping == "group" and not grouped:
        missing = sum(g is None for g, _ in views)
        raise UserError(f"--per-group needs multi-view groups, but {missing} of {len(views)} records have no render['view'] group; "
                        "use --per-image or generate with views.per_object")
    if grouping == "image" or not grouped:
        return [[i] for i in range(len(meta))], "image"
    members: dict[str, list[int]] = {}
    for i, (group, _) in enumerate(views):
        members.setdefault(group, []).append(i)
    return [sorted(rows, key=lambda i: views[i][1]) for rows in members.values()], "group"


def _vlm_columns(ds, meta, names, vlm: VlmScorer, settings: ScoreSettings, bars) -> tuple[dict, dict]:
    from .models import public_source

    units, grouping = _units(meta, settings.grouping)
    unit_of = {i: u for u, rows in enumerate(units) for i in rows}
    answers: dict[int, object] = {}
    prompts: dict[int, str] = {}
    images: dict[int, np.ndarray] = {}  # rows read, waiting for the rest of their unit
    ready: list[int] = []
    advance = bars.task(f"VLM ratings ({'groups' if grouping == 'group' else 'images'})", len(units), unit=grouping)

    def flush() -> None:
        nonlocal ready
        tiles = [tile_views([images.pop(i) for i in units[u]]) for u in ready]
        for u in ready:
            synset = meta[units[u][0]].synset
            prompts[u] = prompt_for(short_name(names[synset]), definition(synset), len(units[u]))
        for u, raw in zip(ready, vlm.generate(tiles, [prompts[u] for u in ready])):
            answers[u] = parse_answer(raw)
        advance(len(ready))
        ready = []

    for i, record in enumerate(ds.records(["id", "image"])):
        if record.id != meta[i].id:
            raise UserError(f"{ds.root}: the dataset changed while it was being scored; run `dst3d score` again")
        images[i] = record.image_rgb()
        u = unit_of[i]
        if all(j in images for j in units[u]):
            ready.append(u)
            if len(ready) == settings.vlm_batch_size:
                flush()
    if ready:
        flush()
    rows = [answers[unit_of[i]] for i in range(len(meta))]
    columns = {
        "vlm_rating": pa.array([a.rating for a in rows], pa.int32()),
        "vlm_reason": pa.array([a.reason for a in rows], pa.string()),
        "vlm_caption": pa.array([a.caption for a in rows], pa.string()),
        "vlm_raw": pa.array([a.raw for a in rows], pa.string()),
        "vlm_group": pa.array([view_of(meta[i].render)[0] if grouping == "group" else None for i in range(len(meta))], pa.string()),
        "vlm_views": pa.array([len(units[unit_of[i]]) for i in range(len(meta))], pa.int32()),
    }
    section = {**public_source(vlm.source), "grouping": grouping, "units": len(units), "rated": sum(answers[u].rating is not None for u in answers),
               "image_prompt": prompt_for("{name}", "{definition}", 1), "group_prompt": prompt_for("{name}", "{definition}", 2).replace("These 2 images", "These {n} images"),
               "max_new_tokens": settings.max_new_tokens, "decoding": "greedy", "device": vlm.device, "dtype": settings.dtype}
    return columns, section

