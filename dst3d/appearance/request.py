"""The types every appearance backend shares: requests in, images (and notes) out.

Backends import this module only; the registry (:mod:`dst3d.appearance.base`) imports the
backends. So imports run one way: ``base -> render / controlnet -> request``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ValidationError

from ..errors import UserError
from ..render.renderer import RenderResult


@dataclass(frozen=True)
class ViewOf:
    """Where a request sits in a multi-view group: the views of one object instance that
    share its appearance (prompt, seed, materials). A backend may generate a whole group
    at once (the ControlNet backend's tiled canvas); batches hold whole groups."""

    group: str  # the group's id, the same for all its views
    index: int  # the view's index in the group, 0 .. size - 1
    size: int  # views in the group


@dataclass
class AppearanceRequest:
    """Everything a backend may use for one image.

    ``controls`` maps a control kind (``canny``, ``depth``, ``normal``) to an (H, W, 3) uint8
    image; ``render`` is the G-buffer behind them, for backends that shade it directly.
    """

    controls: dict[str, np.ndarray]
    render: RenderResult | None
    prompt: str
    negative_prompt: str
    seed: int
    view: ViewOf | None = None  # set for the views of a multi-view group, None for single images


@dataclass
class Generated:
    """One backend output: the (H, W, 3) uint8 image and what happened making it.

    ``notes`` is empty for a plain generation. A backend that had to recover fills it, e.g.
    the ControlNet backend after a non-finite or black output:
    ``{"retries": [{"seed": 123, "why": "non-finite latents"}], "seed": <seed used>,
    "vae_decode": "float32"}``. Store it with the record: the image came from ``notes["seed"]``.
    """

    image: np.ndarray
    notes: dict[str, Any] = field(default_factory=dict)


class AppearanceBackend(Protocol):
    name: str

    def settings(self) -> dict:
        """JSON-able settings stored in every record; :func:`dst3d.appearance.backend_from_settings`
        rebuilds an equal backend from them."""

    def generate(self, requests: list[AppearanceRequest]) -> list[np.ndarray]:
        """One (H, W, 3) uint8 RGB image per request, deterministic in each request's seed."""

    def generate_detailed(self, requests: list[AppearanceRequest]) -> list[Generated]:
        """As :meth:`generate`, with each image's notes (retries, derived seeds)."""


def validate_options(model: type[BaseModel], options: dict | None, prefix: str = "backend_options"):
    """``model.model_validate(options)``; a bad value is one UserError line naming the setting:
    ``invalid backend_options.steps: Input should be greater than or equal to 1``."""
    try:
        return model.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise UserError(f"invalid {prefix}.{where}: {msg}" if where else f"invalid {prefix}: {msg}") from None
