"""Visual prompts: the control images a diffusion model is conditioned on.

All are computed from the same :class:`RenderResult` that gives the pose label, so a record's
control image can be re-made from its stored pose alone.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ..render.renderer import RenderResult

ControlKind = Literal["canny", "depth", "normal"]
CannySource = Literal["geometry", "textured"]
DEFAULT_CANNY_SOURCE: CannySource = "geometry"


class ControlConfig(BaseModel):
    """Which control images to make. ``kinds[0]`` is stored as the record's ``control``."""

    model_config = ConfigDict(extra="forbid")
    kinds: list[ControlKind] = ["canny"]
    canny_low: int = 100
    canny_high: int = 200
    canny_source: CannySource = Field(
        DEFAULT_CANNY_SOURCE,
        description="image the Canny edges are taken from: 'geometry' (the grey clay render: shape edges only) or "
        "'textured' (the render shaded with the mesh's own colours and textures, as the official 3D-DST code takes "
        "Canny of textured Blender renders: texture and colour edges too); models without own colours use geometry",
    )

    @model_validator(mode="after")
    def _valid(self) -> "ControlConfig":
        if not self.kinds:
            raise ValueError("control kinds must name at least one of canny, depth, normal")
        if not 0 <= self.canny_low < self.canny_high <= 1000:
            raise ValueError(f"canny thresholds must satisfy 0 <= low < high, got {self.canny_low}, {self.canny_high}")
        return self

    @model_serializer(mode="wrap")
    def _without_default_source(self, handler) -> dict:
        """The default ``canny_source`` is left out of dumps. Why: records store this dump (their
        ``render.control``) and job hashes are taken over it, so datasets and resumable runs made
        before the option existed keep their bytes; a missing key reads back as the default."""
        data = handler(self)
        if data.get("canny_source") == DEFAULT_CANNY_SOURCE:
            data.pop("canny_source")
        return data


def textured_render(result: RenderResult) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB: the mesh's own colour times the clay shading, on white; None when
    the model has no own colours (``result.albedo`` is None).

    Integer arithmetic (``albedo * grey / 255``, rounded) so the bytes are the same on every CPU.
    """
    if result.albedo is None:
        return None
    grey = result.clay().astype(np.uint32)[..., None]
    rgb = ((result.albedo.astype(np.uint32) * grey + 127) // 255).astype(np.uint8)
    rgb[~result.mask] = 255
    return rgb


def canny(result: RenderResult, low: int = 100, high: int = 200, source: CannySource = DEFAULT_CANNY_SOURCE) -> np.ndarray:
    """(H, W, 3) uint8 white edges on black: ControlNet-canny's input format.

    ``source="textured"`` takes the edges of :func:`textured_render` (cv2.Canny on the RGB image,
    strongest channel gradient, as controlnet_aux's CannyDetector does on a photo); a model
    without own colours falls back to the clay render, so its edges equal ``"geometry"``'s.
    """
    image = textured_render(result) if source == "textured" else None
    edges = cv2.Canny(result.clay() if image is None else image, low, high)
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
    """The control images ``config`` asks for, keyed by kind (the one maker of controls: generation
    and every re-render call it with the record's stored config, so both give the same bytes)."""
    makers = {
        "canny": lambda: canny(result, config.canny_low, config.canny_high, config.canny_source),
        "depth": lambda: depth_map(result),
        "normal": lambda: normal_map(result),
    }
    return {kind: makers[kind]() for kind in config.kinds}
