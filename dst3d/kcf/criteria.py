"""Model-score criteria of `dst3d filter`: ``min_clip_prob`` and ``min_vlm_rating``.

They read `dst3d score`'s ``DATA/score/scores.parquet`` (refused when it is missing, made for
another state of the dataset, or lacks the column) and drop samples below the minimum, in
addition to the KCF rule. A sample the VLM gave no rating (its answer had none) is kept by
``min_vlm_rating`` and counted as unrated. Each criterion's drops are counted on its own (a
sample can fail several); the filter keeps what passes all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLUMN = {"min_clip_prob": "clip_class_prob", "min_vlm_rating": "vlm_rating"}


@dataclass
class ScoreCriteria:
    thresholds: dict  # criterion -> minimum
    values: dict = field(default_factory=dict)  # column -> per-record values (NaN: none)
    models: dict = field(default_factory=dict)  # criterion -> the model that made the column

    def keep(self) -> dict[str, np.ndarray]:
        """Per criterion, the records it keeps."""
        out = {}
        for name, minimum in self.thresholds.items():
            value = self.values[COLUMN[name]]
            out[name] = ~(value < minimum)  # NaN (unrated) compares False: kept
        return out

    def report(self, keep_rule: np.ndarray) -> dict:
        """What each criterion dropped (the KCF rule included), for kcf/report.json."""
        out = {"kcf_rule": {"dropped": int((~keep_rule).sum())}}
        for name, kept in self.keep().items():
            value = self.values[COLUMN[name]]
            out[name] = {"minimum": self.thresholds[name], "column": COLUMN[name], "dropped": int((~kept).sum()),
                         "unscored_kept": int(np.isnan(value).sum()), "model": self.models.get(name)}
        return out


def load_criteria(root: Path, ids: np.ndarray, thresholds: dict) -> ScoreCriteria:
    """The score columns the criteria need, in the order of ``ids`` (the filter's records)."""
    from ..score.store import load_scores, score_info

    criteria = ScoreCriteria(dict(thresholds))
    if not thresholds:
        return criteria
    columns = sorted({COLUMN[name] for name in thresholds})
    table = load_scores(root, columns)
    at = {i: k for k, i in enumerate(table.column("id").to_pylist())}
    order = np.array([at[i] for i in ids.tolist()])  # load_scores checked the ids are the dataset's
    for column in columns:
        values = np.array([np.nan if v is None else float(v) for v in table.column(column).to_pylist()], np.float64)
        criteria.values[column] = values[order]
    info = score_info(root)
    for name in thresholds:
        section = info.get("clip" if name == "min_clip_prob" else "vlm") or {}
        criteria.models[name] = {"model": section.get("model"), "revision": section.get("revision")}
    return criteria
