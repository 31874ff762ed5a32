"""Camera pose sampling: distributions as plain config, one RNG stream per sample.

Every draw takes a ``numpy.random.Generator`` made by :func:`dst3d.seeds.sample_rng` from
(job seed, sample index, "pose"), so any single sample can be re-drawn alone, in any
order, on any worker: the basis of resumable and distributed runs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .viewpoint import TWO_PI, Viewpoint, wrap_angle


class Range(BaseModel):
    """A closed interval; degrees for angles in configs, converted on use."""

    model_config = ConfigDict(extra="forbid")
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not (np.isfinite(self.min) and np.isfinite(self.max)):
            raise ValueError(f"range bounds must be finite numbers, got [{self.min}, {self.max}]")
        if self.max < self.min:
            raise ValueError(f"range min {self.min} is greater than max {self.max}")
        return self


class PoseSampling(BaseModel):
    """How viewpoints are drawn. Angles in degrees here, radians in the data.

    ``mode``: ``uniform`` (azimuth uniform over 360), ``front_half`` (azimuth within 90 of
    the front), or ``sphere`` (camera direction uniform on the sphere, within the
    elevation range). ``azimuth_range`` (degrees, e.g. ``{min: -195, max: 15}`` as 3D-DST's
    strategies 2 and 4) restricts the azimuth to an interval instead, drawn uniformly (on
    the sphere's band in ``sphere`` mode too). ``elevation``: ``truncnorm`` (mean/std cut to
    the range) or ``uniform`` over the range.
    """

    model_config = ConfigDict(extra="forbid")
    mode: Literal["uniform", "front_half", "sphere"] = "uniform"
    elevation: Literal["truncnorm", "uniform"] = "truncnorm"
    azimuth_range: Range | None = Field(default=None, description="degrees; None: as the mode says")
    elevation_range: Range = Range(min=-10.0, max=60.0)
    elevation_mean: float = 15.0
    elevation_std: float = 15.0
    theta_range: Range = Range(min=-10.0, max=10.0)
    distance_range: Range = Field(default=Range(min=2.6, max=3.6), description="object units; the model's longest side is 1")

    @model_validator(mode="after")
    def _valid(self) -> "PoseSampling":
        er = self.elevation_range
        if er.min < -90 or er.max > 90:
            raise ValueError(f"elevation_range must lie within [-90, 90] degrees, got [{er.min}, {er.max}]")
        if self.elevation_std <= 0:
            raise ValueError("elevation_std must be positive")
        if self.azimuth_range is not None and self.azimuth_range.max - self.azimuth_range.min > 360:
            raise ValueError(f"azimuth_range spans more than 360 degrees: [{self.azimuth_range.min}, {self.azimuth_range.max}]")
        if not all(np.isfinite(v) for v in (self.elevation_mean, self.elevation_std)):
            raise ValueError("elevation_mean and elevation_std must be finite numbers")
        if self.distance_range.min <= 0:
            raise ValueError("distance_range must be positive (the camera cannot sit inside the object)")
        return self

    def sample(self, rng: np.random.Generator) -> Viewpoint:
        azimuth, elevation = self._direction(rng)
        theta = np.deg2rad(rng.uniform(self.theta_range.min, self.theta_range.max))
        distance = rng.uniform(self.distance_range.min, self.distance_range.max)
        return Viewpoint(wrap_angle(azimuth), float(elevation), wrap_angle(theta), float(distance))

    def _direction(self, rng: np.random.Generator) -> tuple[float, float]:
        lo, hi = np.deg2rad(self.elevation_range.min), np.deg2rad(self.elevation_range.max)
        if self.azimuth_range is not None:
            az_lo, az_hi = np.deg2rad(self.azimuth_range.min), np.deg2rad(self.azimuth_range.max)
        elif self.mode == "front_half":
            az_lo, az_hi = -np.pi / 2, np.pi / 2
        else:
            az_lo, az_hi = 0.0, TWO_PI
        if self.mode == "sphere":
            # Uniform on the sphere's band: sin(elevation) is uniform.
            return rng.uniform(az_lo, az_hi), float(np.arcsin(rng.uniform(np.sin(lo), np.sin(hi))))
        azimuth = rng.uniform(az_lo, az_hi)
        if self.elevation == "uniform" or self.elevation_range.min == self.elevation_range.max:
            return azimuth, rng.uniform(lo, hi)
        from scipy.special import ndtr, ndtri  # inverse-CDF draw; scipy.stats costs ~1 s to import

        mean, std = np.deg2rad(self.elevation_mean), np.deg2rad(self.elevation_std)
        u = rng.uniform(ndtr((lo - mean) / std), ndtr((hi - mean) / std))
        return azimuth, float(np.clip(mean + std * ndtri(u), lo, hi))

    def merged(self, overrides: dict) -> "PoseSampling":
        """A copy with some fields replaced (per-class defaults, then job overrides)."""
        data = self.model_dump()
        data.update(overrides)
        return PoseSampling.model_validate(data)
