"""Where `dst3d score` keeps its scores: ``DATA/score/scores.parquet`` and ``DATA/score/score.json``.

One row per sample of the train split (``id`` first, then each scorer's columns); the JSON
records what made them (models, revisions, prompts, class list, dst3d version) and the state
of the dataset scored (:func:`dataset_state`: the train shards' recorded sha256). Readers
(:func:`load_scores`, `dst3d filter`) refuse scores of another dataset state or another id
list, so stale scores are never used silently. Both files are written atomically; the
dataset's shards are never written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import UserError
from ..files import atomic_path, write_json_atomic
from ..store.dataset import Dataset
from ..store.shards import record_path

SCORE_DIR = "score"
SCORES_FILE = "scores.parquet"
INFO_FILE = "score.json"
CLIP_COLUMNS = ("clip_class_prob", "clip_class_rank", "clip_margin", "clip_top")
VLM_COLUMNS = ("vlm_rating", "vlm_reason", "vlm_caption", "vlm_raw", "vlm_group", "vlm_views")
SCORERS = {"clip": CLIP_COLUMNS, "vlm": VLM_COLUMNS}
RERUN = "run `dst3d score {data} --model ...` (and `--vlm ...` for VLM ratings) first"


def dataset_state(ds: Dataset) -> str:
    """A digest of the split's content: each shard's name and the sha256 recorded when it was
    written (its size where a shard has no record). Changes when the dataset is regenerated."""
    parts = []
    for path in ds.files:
        try:
            sha = json.loads(record_path(path).read_text()).get("sha256")
        except (OSError, ValueError, AttributeError):
            sha = None
        parts.append([path.name, sha or f"bytes:{path.stat().st_size}"])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def score_paths(root: str | Path) -> tuple[Path, Path]:
    folder = Path(root) / SCORE_DIR
    return folder / SCORES_FILE, folder / INFO_FILE


def read_existing(root: str | Path, state: str, ids: list[str]) -> tuple[pa.Table | None, dict]:
    """The stored scores and info if they belong to this dataset state and id list, else (None, {})."""
    table_path, info_path = score_paths(root)
    try:
        info = json.loads(info_path.read_text())
        table = pq.read_table(table_path)
    except (OSError, ValueError, pa.ArrowException):
        return None, {}
    if not isinstance(info, dict) or (info.get("dataset") or {}).get("state") != state or table.column("id").to_pylist() != ids:
        return None, {}
    return table, info


def write_scores(root: str | Path, ids: list[str], state: str, columns: dict[str, pa.Array], sections: dict[str, dict], common: dict) -> Path:
    """Write ``columns`` (one scorer's or several) for ``ids``; another scorer's columns of the
    same dataset state are kept, anything of another state is replaced."""
    table_path, info_path = score_paths(root)
    old, info = read_existing(root, state, ids)
    data = {"id": pa.array(ids, pa.string())}
    for name, cols in SCORERS.items():
        if name in sections:
            data.update({c: columns[c] for c in cols})
        elif old is not None and name in info and all(c in old.column_names for c in cols):
            data.update({c: old.column(c) for c in cols})
            sections = {**sections, name: info[name]}
    table_path.parent.mkdir(exist_ok=True)
    with atomic_path(table_path) as tmp:
        pq.write_table(pa.table(data), tmp)
    write_json_atomic(info_path, {**common, "dataset": {"split": "train", "samples": len(ids), "state": state},
                                  **{k: sections[k] for k in SCORERS if k in sections}})
    return table_path


def load_scores(root: str | Path, columns: list[str]) -> pa.Table:
    """The stored ``columns`` (and ``id``) of DATA's train split, in its row order; one-line errors
    when there are none, when they were made for another state of the dataset or other samples,
    or lack a column (e.g. no VLM ratings yet)."""
    from ..store.dataset import open_dataset

    ds = open_dataset(root, "train")
    table_path, info_path = score_paths(root)
    hint = RERUN.format(data=root)
    if not table_path.is_file() or not info_path.is_file():
        raise UserError(f"{root} has no model scores ({SCORE_DIR}/{SCORES_FILE}); {hint}")
    try:
        info = json.loads(info_path.read_text())
        table = pq.read_table(table_path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise UserError(f"{table_path} cannot be read ({type(exc).__name__}); {hint}") from None
    if not isinstance(info, dict) or (info.get("dataset") or {}).get("state") != dataset_state(ds):
        raise UserError(f"the scores in {root}/{SCORE_DIR} were made for another state of the dataset (it was regenerated or changed since); {hint}")
    ids = ds.table(["id"]).column("id").to_pylist()
    if "id" not in table.column_names or table.column("id").to_pylist() != ids:
        raise UserError(f"the scores in {root}/{SCORE_DIR} are not of this dataset's samples (ids differ); {hint}")
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise UserError(f"{root}/{SCORE_DIR}/{SCORES_FILE} has no {', '.join(missing)}; {hint}")
    return table.select(["id", *columns])


def score_info(root: str | Path) -> dict:
    """score.json ({} if absent or unreadable)."""
    try:
        info = json.loads(score_paths(root)[1].read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
