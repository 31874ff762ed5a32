"""dst3d: image datasets with exact 3D pose labels, by 3D Diffusion Style Transfer.

The public API (see :mod:`dst3d.api`): ``JobConfig``, ``load_job``, ``generate``, ``filter``,
``train_pose``, ``evaluate_pose``, ``export``, ``publish``, ``inspect``, ``CadLibrary``,
``open_dataset``, ``Record``, ``UserError``. Names load on first use, so ``import dst3d``
stays cheap (no torch, no GL) and stage modules never import this facade.
"""

from __future__ import annotations

import importlib
import os

# OpenMP threads that spin while waiting make torch on a busy CPU several times slower
# (measured on a loaded 2-core machine: 5 vs 31 training images/s); passive waiting costs
# nothing measurable on an idle one. Must be set before torch loads; a user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_EXPORTS = {
    "JobConfig": "dst3d.pipeline.job",
    "load_job": "dst3d.api",
    "generate": "dst3d.api",
    "filter": "dst3d.api",
    "train_pose": "dst3d.api",
    "evaluate_pose": "dst3d.api",
    "score_dataset": "dst3d.api",
    "export": "dst3d.api",
    "publish": "dst3d.api",
    "inspect": "dst3d.api",
    "CadLibrary": "dst3d.cad.library",
    "open_dataset": "dst3d.store.dataset",
    "Record": "dst3d.store.record",
    "UserError": "dst3d.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dst3d' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
