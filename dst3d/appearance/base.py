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


def _config(name: str, options: dict | None):
    """(backend class, validated config); bad options are one-line UserErrors."""
    from pydantic import ValidationError

    from ..errors import UserError

    if name == "render":
        from .render import RenderBackend as cls, RenderBackendConfig as config_cls
    elif name == "controlnet":
        from .controlnet import ControlNetBackend as cls, ControlNetConfig as config_cls
    else:
        raise UserError(f"unknown backend '{name}'; choose 'render' (offline, CPU) or 'controlnet' (diffusers)")
    try:
        return cls, config_cls.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "backend_options"
        raise UserError(f"invalid backend_options.{where}: {err['msg']}") from None


def load_backend(name: str, options: dict | None = None) -> AppearanceBackend:
    """Backend by name; heavy dependencies are imported only for the one asked for."""
    cls, config = _config(name, options)
    return cls(config)


def preflight(name: str, options: dict | None, control_kinds: list[str]) -> None:
    """Everything about the backend that can fail, checked without loading a model: for a
    run whose workers load it later, so bad input fails before anything is written."""
    from ..errors import UserError

    cls, config = _config(name, options)
    if name == "controlnet":
        backend = cls(config, load=False)  # locates every model (cache, folder or Hub) and stops
        missing = set(backend.required_controls) - set(control_kinds)
        if missing:
            raise UserError(f"the ControlNet models need control kinds {sorted(missing)}; add them to control.kinds in the job")
