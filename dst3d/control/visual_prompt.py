"""Visual prompts: the control images a diffusion model is conditioned on.

All are computed from the same :class:`RenderResult` that gives the pose label, so a record's
control image can be re-made from its stored pose alone.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from ..render.renderer import RenderResult

ControlKind = Literal["canny", "depth", "normal"]


class ControlConfig(BaseModel):
    """Which control images to make. ``kinds[0]`` is stored as the record's ``control``."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[ControlKind] = ["canny"]
    canny_low: int = 100
    canny_high: int = 200

    @model_validator(mode="after")
    def _valid(self) -> "ControlConfig":
        if not self.kinds:
            raise ValueError("control kinds must name at least one of canny, depth, normal")
        if not 0 <= self.canny_low < self.canny_high <= 1000:
            raise ValueError(f"canny thresholds must satisfy 0 <= low < high, got {self.canny_low}, {self.canny_high}")
        return self


def canny(result: RenderResult, low: int = 100, high: int = 200) -> np.ndarray:
    """(H, W, 3) uint8 white edges on black: ControlNet-canny's input format."""
    edges = cv2.Canny(result.clay(), low, high)
    return cv2.cvtColor(edges, cv2.COLOR_GRAY2RGB)


def depth_map(result: RenderResult) -> np.ndarray:
    """(H, W, 3) uint8 inverse depth, near = bright, background black (MiDaS-like, as
    ControlNet-depth was trained on)."""
    depth, mask = result.depth, result.mask
    out = np.zeros(depth.shape, np.uint8)
    if mask.any():
        inv = 1.0 / depth[mask]
        lo, hi = inv.min(), inv.max()
        out[mask] = (40 + 215 * (inv - lo) / max(hi - lo, 1e-9)).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)


def normal_map(result: RenderResult) -> np.ndarray:
    """(H, W, 3) uint8 normal map in ControlNet-normalbae colours (x right, y up, z toward
    the viewer, mapped to [0, 255]); background is the 'facing the viewer' colour."""
    n = result.normals * np.array([1.0, -1.0, -1.0], np.float32)
    rgb = ((n * 0.5 + 0.5) * 255.0).astype(np.uint8)
    rgb[~result.mask] = (127, 127, 255)
    return rgb


def make_controls(result: RenderResult, config: ControlConfig) -> dict[str, np.ndarray]:
    makers = {
        "canny": lambda: canny(result, config.canny_low, config.canny_high),
        "depth": lambda: depth_map(result),
        "normal": lambda: normal_map(result),
    }
    return {kind: makers[kind]() for kind in config.kinds}
