"""Viewpoint angles as classification bins, decoded at bin centres.

Azimuth and theta are periodic: ``n`` bins of width ``w = 2pi/n`` centred on ``k * w``, so
bin 0 covers ``[-w/2, w/2)`` and the frontal view (azimuth 0) and the upright in-plane
rotation (theta 0) are bin centres. Elevation covers ``[-pi/2, pi/2]`` with ``n`` bins
centred on ``-pi/2 + (k + 1/2) w``. Decoding returns the bin centre, so a perfect classifier
has an error of at most half a bin per angle and exactly zero on bin centres (3D-DST's public
model decodes two of its angles half a bin off the centre: ~7 deg median error for a perfect
classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TWO_PI = 2.0 * np.pi
ANGLES = ("azimuth", "elevation", "theta")
PERIODIC = {"azimuth": True, "elevation": False, "theta": True}


@dataclass(frozen=True)
class AngleBins:
    name: str
    n: int

    @property
    def periodic(self) -> bool:
        return PERIODIC[self.name]

    @property
    def width(self) -> float:
        return (TWO_PI if self.periodic else np.pi) / self.n

    def centres(self) -> np.ndarray:
        k = np.arange(self.n)
        return k * self.width if self.periodic else -np.pi / 2 + (k + 0.5) * self.width

    def encode(self, angle) -> np.ndarray:
        """Bin index of each angle (radians); periodic angles wrap, elevation is clipped."""
        angle = np.asarray(angle, dtype=np.float64)
        if self.periodic:
            k = np.floor(np.mod(angle + self.width / 2, TWO_PI) / self.width)
        else:
            k = np.floor((np.clip(angle, -np.pi / 2, np.pi / 2) + np.pi / 2) / self.width)
        return np.clip(k, 0, self.n - 1).astype(np.int64)

    def decode(self, index) -> np.ndarray:
        """Bin centre (radians) of each index; periodic angles in [0, 2pi)."""
        return self.centres()[np.asarray(index, dtype=np.int64)]


@dataclass(frozen=True)
class PoseBins:
    """Bin counts for (azimuth, elevation, theta)."""

    azimuth: int = 24
    elevation: int = 12
    theta: int = 24

    @classmethod
    def parse(cls, spec: str | int | list | tuple | dict) -> "PoseBins":
        """``24`` (all three), ``"24,12,24"`` (azimuth, elevation, theta) or a dict."""
        from ..errors import UserError

        if isinstance(spec, dict):
            values = [spec[a] for a in ANGLES]
        elif isinstance(spec, (list, tuple)):
            values = list(spec)
        else:
            parts = [p.strip() for p in str(spec).split(",") if p.strip()]
            try:
                values = [int(p) for p in parts]
            except ValueError:
                raise UserError(f"--bins must be an integer or three comma-separated integers, got '{spec}'") from None
            if len(values) == 1:
                values = values * 3
        if len(values) != 3 or any(int(v) < 2 for v in values):
            raise UserError(f"--bins needs one or three counts of at least 2 (azimuth,elevation,theta), got '{spec}'")
        return cls(*(int(v) for v in values))

    def counts(self) -> dict[str, int]:
        return {"azimuth": self.azimuth, "elevation": self.elevation, "theta": self.theta}

    def angle(self, name: str) -> AngleBins:
        return AngleBins(name, getattr(self, name))

    def encode(self, azimuth, elevation, theta) -> np.ndarray:
        """(N, 3) int64 bin indices."""
        return np.stack([self.angle(n).encode(v) for n, v in zip(ANGLES, (azimuth, elevation, theta))], axis=-1)

    def decode(self, indices) -> np.ndarray:
        """(N, 3) radians (azimuth, elevation, theta) at bin centres."""
        indices = np.asarray(indices)
        return np.stack([self.angle(n).decode(indices[..., i]) for i, n in enumerate(ANGLES)], axis=-1)
