"""Backgrounds for the render backend: procedural walls, photos, procedural clutter.

A pose estimator that only ever sees objects on smooth walls learns to find "the only
edges in the frame"; real photos have clutter everywhere. Sources (``backgrounds`` option):

- ``procedural``: a wall/floor split with smooth multi-scale texture (the default);
- ``samples``: scikit-image's bundled sample photographs (installed with scikit-image, no
  network), randomly scaled, cropped and flipped per image;
- ``clutter``: the procedural wall with random textured shapes and blobs in front of it;
- a folder of the user's own photos.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
BUILTIN_SOURCES = ("procedural", "samples", "clutter")
# scikit-image's bundled photographs of scenes and things (not charts, micrographs or text)
SAMPLE_PHOTOS = ("astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
                 "gravel.png", "motorcycle_left.png", "motorcycle_right.png", "rocket.jpg", "page.png")


def image_files(folder: Path) -> list[Path]:
    """The images directly in ``folder`` (sorted: the draw by index must not depend on listing order)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def sample_photos() -> list[Path]:
    """Paths of scikit-image's sample photographs; empty when scikit-image is not installed.
    Found through the package's location only: importing skimage costs a second."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0]) / "data"
    return [folder / name for name in SAMPLE_PHOTOS if (folder / name).is_file()]


def check_source(value: str) -> str:
    """``value`` if it is a background source, else a one-line reason (ValueError)."""
    if value in ("procedural", "clutter"):
        return value
    if value == "samples":
        if not sample_photos():
            raise ValueError("backgrounds 'samples' needs scikit-image's sample photos: pip install scikit-image")
        return value
    if not image_files(Path(value)):
        raise ValueError(f"backgrounds must be {', '.join(repr(s) for s in BUILTIN_SOURCES)} or a folder with images "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))}); '{value}' is none of these")
    return value


@lru_cache(maxsize=len(SAMPLE_PHOTOS))
def _sample(path: Path) -> np.ndarray:
    """A sample photo decoded once per process (they are few and small); by Pillow, which
    does not print libpng's warning about one of them's colour profile as OpenCV does."""
    from PIL import Image

    with Image.open(path) as photo:
        return np.asarray(photo.convert("RGB"))


def read_photo(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file; one line if it cannot be read."""
    photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if photo is None:
        raise UserError(f"background image {path} cannot be read; remove it or replace it with a valid image")
    return cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)


def photo_crop(rng: np.random.Generator, photo: np.ndarray, h: int, w: int) -> np.ndarray:
    """A random crop of ``photo`` scaled to cover (h, w) at 1-1.5x, flipped left-right half the time."""
    scale = max(h / photo.shape[0], w / photo.shape[1]) * rng.uniform(1.0, 1.5)
    photo = cv2.resize(photo, (max(w, round(photo.shape[1] * scale)), max(h, round(photo.shape[0] * scale))))
    y = int(rng.integers(photo.shape[0] - h + 1))
    x = int(rng.integers(photo.shape[1] - w + 1))
    crop = photo[y : y + h, x : x + w]
    return (crop[:, ::-1] if rng.random() < 0.5 else crop).astype(np.float32)


def sample_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random crop of a random scikit-image sample photo."""
    photos = sample_photos()
    return photo_crop(rng, _sample(photos[int(rng.integers(len(photos)))]), h, w)


def procedural_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A wall/floor split at a random horizon, muted random colours, with smooth multi-scale
    texture (mostly luminance, a little colour) so edges and tones vary like real scenes."""
    hsv = np.stack([rng.uniform(0, 180, 2), rng.uniform(0, 140, 2), rng.uniform(60, 230, 2)], 1)
    wall, floor = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)
    horizon = rng.uniform(0.35, 0.85)
    ramp = np.clip((np.linspace(0, 1, h) - horizon) * rng.uniform(4, 30) + 0.5, 0, 1)[:, None, None]
    image = np.broadcast_to(wall * (1 - ramp) + floor * ramp, (h, w, 3)).astype(np.float32)
    for cells, amplitude in ((3, 30.0), (12, 14.0), (48, 6.0)):
        luminance = rng.normal(0.0, amplitude, (cells, cells, 1)).astype(np.float32)
        tint = rng.normal(0.0, amplitude / 4, (cells, cells, 3)).astype(np.float32)
        image = image + cv2.resize(luminance + tint, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(image, 0, 255)


def add_clutter(rng: np.random.Generator, image: np.ndarray, count: int) -> np.ndarray:
    """``image`` (float32 H x W x 3) with ``count`` random textured shapes painted over it,
    back to front: ellipses, boxes, polygons and smooth blobs of random size (3-40% of the
    short side), colour and texture (flat, stripes, noise or a shading gradient), so the
    background has object-like edges, corners and occluding contours everywhere."""
    h, w = image.shape[:2]
    out = image.copy()
    for _ in range(count):
        size = float(np.exp(rng.uniform(np.log(0.03), np.log(0.4)))) * min(h, w)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        mask = _shape_mask(rng, size)
        x0, y0 = int(round(cx)) - mask.shape[1] // 2, int(round(cy)) - mask.shape[0] // 2
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + mask.shape[1], w), min(y0 + mask.shape[0], h)
        if xa >= xb or ya >= yb:
            continue
        alpha = mask[ya - y0 : yb - y0, xa - x0 : xb - x0, None]
        paint = _texture(rng, yb - ya, xb - xa)
        out[ya:yb, xa:xb] = paint * alpha + out[ya:yb, xa:xb] * (1.0 - alpha)
    return out


def _shape_mask(rng: np.random.Generator, size: float) -> np.ndarray:
    """A soft-edged (anti-aliased) float32 mask in [0, 1] of one random shape, about ``size`` px across."""
    n = int(np.ceil(size)) + 4
    canvas = np.zeros((n, n), np.uint8)
    centre, radius = n / 2.0, size / 2.0
    kind = int(rng.integers(4))
    angle = rng.uniform(0, 2 * np.pi)
    if kind == 0:  # ellipse
        axes = (max(1, int(radius)), max(1, int(radius * rng.uniform(0.3, 1.0))))
        cv2.ellipse(canvas, (int(centre), int(centre)), axes, float(np.degrees(angle)), 0, 360, 255, -1, cv2.LINE_AA)
    else:
        if kind == 1:  # box
            corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [radius, radius * rng.uniform(0.3, 1.0)]
        elif kind == 2:  # convex-ish polygon
            k = int(rng.integers(3, 8))
            phi = np.sort(rng.uniform(0, 2 * np.pi, k))
            corners = np.stack([np.cos(phi), np.sin(phi)], 1) * radius * rng.uniform(0.5, 1.0, (k, 1))
        else:  # smooth blob: radius varying with a few harmonics
            phi = np.linspace(0, 2 * np.pi, 48, endpoint=False)
            r = np.ones_like(phi)
            for harmonic in (2, 3, 5):
                r += rng.uniform(0, 0.25) * np.sin(harmonic * phi + rng.uniform(0, 2 * np.pi))
            corners = np.stack([np.cos(phi), np.sin(phi)], 1) * (radius * r / r.max())[:, None]
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        points = (corners @ rot.T + centre) * 16  # 4 bits of sub-pixel precision
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 paint: a random colour times one of flat, stripes, noise or gradient."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(0, 255), rng.uniform(30, 250)]]], np.uint8)
    colour = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    kind = int(rng.integers(4))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    along = xs * np.cos(direction) + ys * np.sin(direction)
    if kind == 0:
        gain = np.ones((h, w), np.float32)
    elif kind == 1:
        gain = 1.0 + 0.35 * np.sign(np.sin(along * (2 * np.pi / rng.uniform(3, 20)))).astype(np.float32)
    elif kind == 2:
        cells = rng.normal(0.0, 0.3, (int(rng.integers(2, 10)),) * 2).astype(np.float32)
        gain = 1.0 + cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        gain = 0.6 + 0.8 * (along - along.min()) / max(float(np.ptp(along)), 1.0)
    return np.clip(colour * gain[..., None], 0, 255).astype(np.float32)
