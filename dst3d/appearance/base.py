"""The appearance-backend interface: control images + prompt + seed in, an image out.

Backends are interchangeable: the pipeline hands each the same requests, whatever makes
the pixels (a domain-randomized render, a ControlNet diffusion model, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..render.renderer import RenderResult


@dataclass
class AppearanceRequest:
    """Everything a backend may use for one image.

    ``controls`` maps a control kind (``canny``, ``depth``, ``normal``) to an (H, W, 3) uint8
    image; ``render`` is the G-buffer behind them, for backends that shade it directly.
    """

    controls: dict[str, np.ndarray]
    render: RenderResult
    prompt: str
    negative_prompt: str
    seed: int


class AppearanceBackend(Protocol):
    name: str

    def settings(self) -> dict:
        """JSON-able settings stored in every record (model ids, revisions, steps, ...)."""

    def generate(self, requests: list[AppearanceRequest]) -> list[np.ndarray]:
        """One (H, W, 3) uint8 RGB image per request, deterministic in each request's seed."""


def load_backend(name: str, options: dict | None = None) -> AppearanceBackend:
    """Backend by name; heavy dependencies are imported only for the one asked for."""
    options = options or {}
    if name == "render":
        from .render import RenderBackend, RenderBackendConfig

        return RenderBackend(RenderBackendConfig.model_validate(options))
    if name == "controlnet":
        from .controlnet import ControlNetBackend, ControlNetConfig

        return ControlNetBackend(ControlNetConfig.model_validate(options))
    from ..errors import UserError

    raise UserError(f"unknown backend '{name}'; choose 'render' (offline, CPU) or 'controlnet' (diffusers)")
