"""Multi-view groups: several views of one object instance, laid out as 3D generators train on.

A job with ``views: {per_object: N, layout: ...}`` makes groups of N consecutive samples that
share one object instance and its appearance (CAD model, prompt, appearance seed); only the
camera differs. Layouts (angles in PASCAL3D+ convention, :mod:`.viewpoint`):

* ``orbit``: N even azimuths ``base + k * 360 / N`` at one elevation (``elevation``, default
  15 degrees: MVDream's four views), in-plane rotation 0.
* ``zero123pp``: Zero123++'s six target views: azimuths ``base + 30, 90, ..., 330`` degrees
  (relative to the group's base azimuth, the condition view's), elevations alternating
  ``20, -10, 20, -10, 20, -10`` degrees, in-plane rotation 0, field of view 30 degrees.
* ``random``: every view drawn from the class's pose sampling, as single images are.

The base azimuth and the distance of a group are drawn from the class's pose sampling (the
group's first sample's pose stream); ``distance`` fixes the distance of every group instead.
Azimuth increases counter-clockwise seen from above (+Z): from the object's front (-Y) toward
its +X side.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .viewpoint import TWO_PI, Viewpoint, wrap_angle

LAYOUTS = ("orbit", "zero123pp", "random")
ZERO123PP_AZIMUTHS_DEG = (30.0, 90.0, 150.0, 210.0, 270.0, 330.0)  # relative to the condition view
ZERO123PP_ELEVATIONS_DEG = (20.0, -10.0, 20.0, -10.0, 20.0, -10.0)
ZERO123PP_FOV_DEG = 30.0
MAX_VIEWS = 64


class ViewsConfig(BaseModel):
    """``views`` in a job config: groups of views of one object instance (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    per_object: int = Field(1, ge=1, le=MAX_VIEWS, description="views per object instance (1: single images, no groups; zero123pp: 6)")
    layout: Literal["orbit", "zero123pp", "random"] = Field("orbit", description="orbit | zero123pp | random")
    elevation: float = Field(15.0, ge=-89.0, le=89.0, description="orbit: camera elevation in degrees (MVDream: 15)")
    distance: float | None = Field(None, gt=0.0, description="orbit, zero123pp: camera distance of every group (object units); none: drawn per group from the class's distance_range")

    @model_validator(mode="before")
    @classmethod
    def _zero123pp_has_six(cls, data):
        if isinstance(data, dict) and data.get("layout") == "zero123pp" and data.get("per_object") is None:
            data = {**data, "per_object": len(ZERO123PP_AZIMUTHS_DEG)}
        return data

    @model_validator(mode="after")
    def _valid(self) -> "ViewsConfig":
        if self.layout == "zero123pp" and self.per_object != len(ZERO123PP_AZIMUTHS_DEG):
            raise ValueError(f"layout zero123pp has {len(ZERO123PP_AZIMUTHS_DEG)} views; set views.per_object to 6 (or leave it out), got {self.per_object}")
        if not np.isfinite(self.elevation) or (self.distance is not None and not np.isfinite(self.distance)):
            raise ValueError("views.elevation and views.distance must be finite numbers")
        return self

    def active(self) -> bool:
        """Whether the job makes groups (``per_object`` >= 2)."""
        return self.per_object > 1


def layout_viewpoints(config: ViewsConfig, base: Viewpoint) -> list[Viewpoint]:
    """The views of a fixed layout (``orbit``, ``zero123pp``) around ``base`` (its azimuth and
    distance; ``config.distance`` replaces the latter when set)."""
    n = config.per_object
    distance = float(config.distance) if config.distance is not None else float(base.distance)
    if config.layout == "orbit":
        elevation = float(np.deg2rad(config.elevation))
        return [Viewpoint(wrap_angle(base.azimuth + TWO_PI * k / n), elevation, 0.0, distance) for k in range(n)]
    if config.layout == "zero123pp":
        return [Viewpoint(wrap_angle(base.azimuth + np.deg2rad(a)), float(np.deg2rad(e)), 0.0, distance)
                for a, e in zip(ZERO123PP_AZIMUTHS_DEG, ZERO123PP_ELEVATIONS_DEG)]
    raise ValueError(f"layout {config.layout} has no fixed views")


__all__ = ["LAYOUTS", "MAX_VIEWS", "ViewsConfig", "ZERO123PP_AZIMUTHS_DEG", "ZERO123PP_ELEVATIONS_DEG", "ZERO123PP_FOV_DEG", "layout_viewpoints"]
