"""Training-time image augmentation for crops, and symmetry-aware targets.

Real photographs differ from renders in ways a pose label does not care about: the object is
partly hidden by others, small in the frame (a 60 px crop upsampled), out of focus, noisy. Each
effect is drawn per crop from the training generator, so a run is reproducible from its seed:

* ``occlusion``: random erasing with 1-2 rectangles (5-25% of the crop each), filled with
  noise, a flat colour or a patch of another crop of the batch (an object-like occluder);
* ``low_res``: down- then up-sampling by 0.3-0.8 (the resolution of a small real crop);
* ``blur``: Gaussian blur, sigma 0.4-1.6 px (defocus, motion);
* sensor noise (Gaussian, std 0-8 grey levels) whenever any of the above is enabled.

Symmetry-aware targets: a model that is ``rotational`` about its z axis with order n >= 2 looks
the same from azimuth a and a + 2 pi / n (``R Rz(2 pi / n)`` = the viewpoint with azimuth
``a - 2 pi / n``, same elevation and theta), so its azimuth target is taken modulo 2 pi / n; with
continuous symmetry about z (order 0) every azimuth shows the same image and the target is 0.
The scores are computed modulo the symmetry anyway; the targets just stop contradicting
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .metrics import SymmetrySpec

TWO_PI = 2.0 * np.pi


@dataclass(frozen=True)
class Augment:
    """Probabilities of each effect per crop (0 disables it)."""

    occlusion: float = 0.0
    low_res: float = 0.0
    blur: float = 0.0

    @property
    def any(self) -> bool:
        return self.occlusion > 0 or self.low_res > 0 or self.blur > 0


def augment_crops(crops: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """(B, S, S, 3) uint8 crops with the configured effects, drawn per crop from ``rng``."""
    if not aug.any or not len(crops):
        return crops
    out = crops.copy()
    size = crops.shape[1]
    for i in range(len(out)):
        img = out[i]
        if rng.random() < aug.low_res:
            f = rng.uniform(0.3, 0.8)
            small = max(4, int(round(size * f)))
            img = cv2.resize(cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA), (size, size), interpolation=cv2.INTER_LINEAR)
        if rng.random() < aug.blur:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.6))
        if rng.random() < aug.occlusion:
            img = _erase(img, crops, rng)
        noise = rng.normal(0.0, rng.uniform(0.0, 8.0), img.shape)
        out[i] = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return out


def _erase(img: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random erasing (Zhong et al. 2020) with 1-2 rectangles; fills as in the module docstring."""
    img = img.copy()
    size = img.shape[0]
    for _ in range(int(rng.integers(1, 3))):
        area = rng.uniform(0.05, 0.25) * size * size
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
        h = int(min(size, round(np.sqrt(area * aspect))))
        w = int(min(size, round(np.sqrt(area / aspect))))
        if h < 1 or w < 1:
            continue
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        kind = rng.random()
        if kind < 0.4:  # another crop's patch: textured, object-like
            other = pool[int(rng.integers(len(pool)))]
            oy, ox = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
            img[y:y + h, x:x + w] = other[oy:oy + h, ox:ox + w]
        elif kind < 0.7:
            img[y:y + h, x:x + w] = rng.integers(0, 256, 3, dtype=np.uint8)
        else:
            img[y:y + h, x:x + w] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return img


def symmetric_targets(angles: np.ndarray, symmetries: list[SymmetrySpec]) -> np.ndarray:
    """Angle targets (N, 3) with the azimuth folded into one period of each model's symmetry
    about z (see the module docstring); other symmetries leave the angles as they are."""
    out = np.array(angles, dtype=np.float64, copy=True)
    for i, sym in enumerate(symmetries):
        if sym.type != "rotational" or sym.axis != "z" or sym.order == 1:
            continue
        out[i, 0] = 0.0 if sym.order == 0 else np.mod(out[i, 0], TWO_PI / sym.order)
    return out
