"""K-fold assignment, stratified by class, optionally grouped by CAD instance."""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def assign_folds(synsets: np.ndarray, k: int, seed: int = 0, groups: np.ndarray | None = None) -> np.ndarray:
    """Fold number (0..k-1) of every sample.

    Within each class the samples (or, with ``groups``, whole CAD instances) are spread over
    the k folds as evenly as possible, so every fold holds out part of every class. Grouped
    folds put a CAD model's images all in one fold: the held-out images are then scored by a
    model that never saw that instance, which separates "label wrong" from "unusual shape"
    less well but matches a deployment on new instances.
    """
    if k < 2:
        raise UserError(f"--folds must be at least 2, got {k}")
    synsets = np.asarray(synsets)
    folds = np.full(len(synsets), -1, np.int64)
    rng = np.random.default_rng(seed)
    for c in sorted(set(synsets.tolist())):
        idx = np.flatnonzero(synsets == c)
        if len(idx) < k:
            raise UserError(f"class {c} has {len(idx)} samples, fewer than --folds {k}; lower --folds or generate more")
        if groups is None:
            perm = rng.permutation(idx)
            start = int(rng.integers(k))  # do not always give fold 0 the remainder
            folds[perm] = (np.arange(len(perm)) + start) % k
            continue
        names = sorted(set(np.asarray(groups)[idx].tolist()))
        if len(names) < 2:
            raise UserError(f"class {c} has a single CAD model ({names[0]}): --by-cad needs at least 2 per class")
        sizes = {g: int(np.sum(np.asarray(groups)[idx] == g)) for g in names}
        load = np.zeros(k)
        order = sorted(names, key=lambda g: (-sizes[g], rng.random()))
        for g in order:  # largest first into the emptiest fold
            f = int(np.argmin(load + rng.random(k) * 1e-6))
            folds[idx[np.asarray(groups)[idx] == g]] = f
            load[f] += sizes[g]
    return folds


def assign_frame_folds(frames: np.ndarray, k: int) -> np.ndarray:
    """Fold number of every sample, by contiguous ranges of its source frame (a video's frame
    id; generated data: the sample index): the sorted frames are cut into ``k`` blocks of about
    equal sample counts, and every sample of a frame goes with it. Near-duplicate neighbouring
    frames of a video then sit in one fold (only the k-1 block boundaries separate neighbours),
    so the held-out estimator cannot score a frame by its twin."""
    if k < 2:
        raise UserError(f"--folds must be at least 2, got {k}")
    frames = np.asarray(frames)
    unique, counts = np.unique(frames, return_counts=True)
    if len(unique) < k:
        raise UserError(f"{len(unique)} source frames, fewer than --folds {k}; lower --folds or fold by sample")
    # block of each frame: where its cumulative sample count falls, never an empty block
    before = np.cumsum(counts) - counts
    block = np.minimum((before * k) // max(int(counts.sum()), 1), k - 1).astype(np.int64)
    block = np.maximum.accumulate(np.maximum(block, np.minimum(np.arange(len(unique)) - (len(unique) - k), k - 1)))
    block = np.minimum(block, np.arange(len(unique)))  # the first k frames open the k blocks at the latest
    return block[np.searchsorted(unique, frames)]
