"""Seed streams: every random choice of sample ``i`` is drawn from (job seed, i, stream).

One place for all stages (pose, CAD choice, appearance, prompt, diffusion), so adding a
stream never shifts another and any sample can be re-made alone, in any order, on any
worker: the basis of resumable, distributed and reproducible runs.
"""

from __future__ import annotations

import numpy as np

# Independent streams drawn from one (seed, index): never renumber, only append.
STREAMS = {"pose": 0, "cad": 1, "appearance": 2, "prompt": 3, "diffusion": 4}


def sample_rng(job_seed: int, index: int, stream: str) -> np.random.Generator:
    """The generator of one stream of one sample."""
    return np.random.default_rng(np.random.SeedSequence([int(job_seed), int(index), STREAMS[stream]]))


def sample_seed(job_seed: int, index: int, stream: str) -> int:
    """A 31-bit integer seed for libraries that want an int (torch, diffusers)."""
    return int(sample_rng(job_seed, index, stream).integers(0, 2**31 - 1))
