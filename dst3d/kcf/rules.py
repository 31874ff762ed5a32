"""The rule of `dst3d filter`: the per-sample scores it ranks and the keep/drop decision.

``KcfScores`` holds what scoring measured; :func:`decide` applies ``KcfConfig.rule()``
(the default: ``DEFAULT_RULE`` in :mod:`.config`) per class. Reports and plots read the
ranked values through :func:`rule_values`, so they show the rule that was applied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..posenet.data import Records
from .config import CONTRAST_WEIGHT, EVIDENCE_WEIGHTS, PHOTO_WEIGHT, KcfConfig


@dataclass
class KcfScores:
    records: Records
    folds: np.ndarray
    loss: np.ndarray
    error_deg: np.ndarray
    ratio: np.ndarray
    pred_angles: np.ndarray
    seconds: dict
    agreement: np.ndarray | None = None  # control agreement (higher = image follows its control); NaN: no Canny control
    alternative: np.ndarray | None = None  # agreement with the control of the likeliest wrong pose (alternative_agreement)
    photo: np.ndarray | None = None  # photo agreement of the label (edges.photo_agreement); NaN: not measured
    photo_alternative: np.ndarray | None = None  # photo agreement of the likeliest wrong pose

    def __post_init__(self) -> None:
        for name in ("agreement", "alternative", "photo", "photo_alternative"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(len(self.ratio), np.nan))

    def values(self, score: str, contrast_weight: float | None = None, photo_weight: float | None = None) -> np.ndarray:
        """The per-sample score a rule ranks; higher = more likely a label error."""
        if score == "agreement":
            return -self.agreement
        if score == "combined":
            return combined_score(self.ratio, self.agreement, self.records.synsets)
        if score == "contrast":
            weight = CONTRAST_WEIGHT if contrast_weight is None else contrast_weight
            contrast = weight * self.alternative - self.agreement
            if np.isfinite(contrast).all():
                return contrast
            return combined_score(self.ratio, self.agreement, self.records.synsets)  # no Canny controls
        if score == "photo":
            weight = PHOTO_WEIGHT if photo_weight is None else photo_weight
            photo = weight * self.photo_alternative - self.photo
            if np.isfinite(photo).any():
                return np.nan_to_num(photo, nan=0.0)
            return self.values("contrast", contrast_weight)  # no photo scores measured
        if score == "evidence":
            return evidence_score(self, contrast_weight, photo_weight)
        return {"error": self.error_deg, "loss": self.loss, "ratio": self.ratio}[score]


def combined_score(ratio: np.ndarray, agreement: np.ndarray, synsets: np.ndarray) -> np.ndarray:
    """Per-class rank average of the likelihood ratio and the control disagreement, in (0, 1].

    The two signals are complementary (the pose estimator confuses front and back; the edge
    check does not care about appearance), and their scales differ, hence ranks. Where the
    agreement is NaN (no Canny control) the ratio's rank alone is used."""
    from scipy.stats import rankdata

    out = np.zeros(len(ratio))
    for c in set(np.asarray(synsets).tolist()):
        idx = np.flatnonzero(synsets == c)
        out[idx] = rankdata(ratio[idx]) / len(idx)
        valid = idx[np.isfinite(agreement[idx])]
        if len(valid):
            out[valid] = (out[valid] + rankdata(-agreement[valid]) / len(valid)) / 2
    return out


def evidence_score(scores: "KcfScores", contrast_weight: float | None = None, photo_weight: float | None = None,
                   weights: dict | None = None) -> np.ndarray:
    """Per-class weighted mean of the ranks (in (0, 1]) of the photo contrast, the control
    contrast, the estimator's likelihood ratio and its held-out error (``EVIDENCE_WEIGHTS``):
    views of one question (does the image show the label's pose?) on scales that differ between
    rendered and photographed data, hence ranks. A signal that is NaN for a sample (no Canny
    control, no photo score) is left out of its mean; so is one whose weight is 0. ``weights``
    replaces ``EVIDENCE_WEIGHTS`` (calibration: experiments/kcf_real/calibrate.py)."""
    weights = EVIDENCE_WEIGHTS if weights is None else weights
    from scipy.stats import rankdata

    signals = {"photo": scores.values("photo", photo_weight=photo_weight),
               "contrast": (CONTRAST_WEIGHT if contrast_weight is None else contrast_weight) * scores.alternative - scores.agreement,
               "ratio": scores.ratio, "error": scores.error_deg}
    synsets = np.asarray(scores.records.synsets)
    total, weight = np.zeros(len(synsets)), np.zeros(len(synsets))
    for c in set(synsets.tolist()):
        idx = np.flatnonzero(synsets == c)
        for name, value in signals.items():
            if not weights.get(name, 0.0):
                continue
            valid = idx[np.isfinite(value[idx])]
            if len(valid):
                total[valid] += weights[name] * rankdata(value[valid]) / len(valid)
                weight[valid] += weights[name]
    return np.where(weight > 0, total / np.maximum(weight, 1e-12), 0.0)


def decide(scores: KcfScores, cfg: KcfConfig) -> tuple[np.ndarray, dict]:
    """Keep mask and the per-class thresholds actually applied."""
    rule = cfg.rule()
    value = rule_values(scores, rule)
    keep = np.ones(len(value), bool)
    cuts = {}
    for c in sorted(set(scores.records.synsets.tolist())):
        idx = np.flatnonzero(scores.records.synsets == c)
        if rule["type"] == "threshold":
            cut = rule["threshold_deg"]
            keep[idx] = value[idx] <= cut
        else:
            n_drop = int(np.floor(len(idx) * rule["quantile"] + 1e-9))
            order = idx[np.argsort(-value[idx], kind="stable")]
            keep[order[:n_drop]] = False
            cut = float(value[order[n_drop - 1]]) if n_drop else float("inf")
        cuts[c] = float(cut)
    return keep, cuts


def rule_values(scores: KcfScores, rule: dict) -> np.ndarray:
    """What ``rule`` (KcfConfig.rule()) ranks, with its settings."""
    return scores.values(rule["score"], rule.get("contrast_weight"), rule.get("photo_weight"))
