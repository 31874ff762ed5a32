"""Camera effects for the render backend: what a real camera adds between scene and file.

Real photos of an object are never the crisp, noise-free, PNG-exact shading a renderer
gives: lenses defocus, hands and objects move, sensors add signal-dependent (shot) noise,
white balance and tone curves differ per camera, and most photos went through JPEG. A pose
estimator trained on clean renders learns cues that are absent from photos; these effects,
each drawn per image, remove those cues. Every parameter comes from its own stream of the
request's seed (:func:`effect_rng`), so switching one effect on never changes another's draw
and the render backend's default output (all effects off) keeps its bytes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

EFFECT_STREAM = 0x43414D  # "CAM": keeps these streams apart from the backend's main draw
EFFECTS = {"defocus": 0, "motion": 1, "white_balance": 2, "noise": 3, "shot": 4, "gamma": 5, "jpeg": 6,
           "background": 7, "lights": 8, "clutter": 9, "distractors": 10, "shadow": 11}  # never renumber, only append


def effect_rng(seed: int, effect: str) -> np.random.Generator:
    """The generator of one effect for one image: independent of the main draw and of the
    other effects (a new effect never shifts an old one's parameters)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), EFFECT_STREAM, EFFECTS[effect]]))


def disk_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Normalized pillbox (a defocused point: the lens aperture's image) of ``radius`` pixels,
    each weight the pixel's area inside the circle (supersampled), so blur grows smoothly
    with the radius instead of in whole-pixel steps. Radius < 0.5: the identity."""
    if radius < 0.5:
        return np.ones((1, 1), np.float32)
    half = int(math.ceil(radius))
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    grid = np.arange(-half, half + 1)
    fine = (grid[:, None] + offsets[None, :]).reshape(-1)
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2) <= radius**2
    size = 2 * half + 1
    coverage = inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
    return (coverage / coverage.sum()).astype(np.float32)


def line_kernel(length: float, angle: float) -> np.ndarray:
    """Normalized straight motion-blur kernel: a segment of ``length`` pixels through the
    centre at ``angle`` (radians, image x towards y), splatted bilinearly (sub-pixel lengths
    and any direction). Length < 1: the identity."""
    if length < 1.0:
        return np.ones((1, 1), np.float32)
    half = int(math.ceil(length / 2)) + 1
    size = 2 * half + 1
    kernel = np.zeros((size, size), np.float64)
    n = max(2, int(math.ceil(length * 4)))
    steps = ((np.arange(n) + 0.5) / n - 0.5) * length  # midpoints of n equal pieces: the segment's own variance
    xs, ys = half + steps * math.cos(angle), half + steps * math.sin(angle)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    return (kernel / kernel.sum()).astype(np.float32)


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (float32 H x W x 3) convolved with ``kernel`` (borders mirrored)."""
    if kernel.shape == (1, 1):
        return image
    # filter2D correlates; flipping makes it a convolution (the line kernel is odd-symmetric
    # only up to splatting rounding, so this keeps the direction exact).
    return cv2.filter2D(image, -1, kernel[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT_101)


def shot_noise(rng: np.random.Generator, image: np.ndarray, gain: float) -> np.ndarray:
    """Signal-dependent (Poisson) sensor noise in its Gaussian form: variance ``gain * level``
    (grey levels, level >= 0), the photon-transfer law of real sensors; bright areas get
    more noise than dark ones, unlike the constant-std Gaussian noise."""
    if gain <= 0:
        return image
    from scipy.special import ndtri

    unit = ndtri((np.arange(256) + 0.5) / 256).astype(np.float32)  # standard-normal quantiles
    sigma = np.sqrt(np.float32(gain) * np.clip(image, 0.0, None))
    return image + sigma * unit[rng.integers(0, 256, image.shape, dtype=np.uint8)]


def apply_gamma(image: np.ndarray, gamma: float) -> np.ndarray:
    """Tone curve ``round(255 * (x / 255) ** gamma)`` on a uint8 image (gamma > 1 darkens
    mid-tones, < 1 brightens), as a camera's 8-bit lookup table: one table read per byte."""
    if gamma == 1.0:
        return image
    table = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return cv2.LUT(image, table)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (uint8 RGB) encoded as JPEG at ``quality`` and decoded: its block and ringing
    artifacts, as in almost every photo a pose estimator meets."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def kelvin_to_rgb(kelvin: float) -> np.ndarray:
    """Colour of a black body at ``kelvin`` (1000-40000 K) as linear RGB gains with mean 1
    (Tanner Helland's fit of the Planckian locus): 2700 K is warm orange, 6500 K white, 10000 K blue."""
    t = float(np.clip(kelvin, 1000.0, 40000.0)) / 100.0
    red = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
    green = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
    blue = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
    rgb = np.clip(np.array([red, green, blue]), 1.0, 255.0)
    return (rgb / rgb.mean()).astype(np.float32)
