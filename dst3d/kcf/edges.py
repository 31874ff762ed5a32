"""Image-vs-label agreement that survives real appearance: does a pose's rendered silhouette
fit the photograph?

The Canny-control agreement (``agreement.py``) asks whether the image's Canny edges fall on the
control's; on render-backend images they do by construction, on photographs texture, clutter
and lighting swamp it (about chance on correct LM-O labels). ``photo_agreement`` asks two
narrower questions a photograph answers too, in a square crop around the record's bbox:

* **colour separation**: 1 - Bhattacharyya coefficient of the coarse Lab histograms inside the
  silhouette and in a ``RING`` px band around it (a silhouette on the object's outline separates
  it from its surroundings; one at a wrong pose cuts through object and background alike);
* **oriented chamfer**: the share of the silhouette contour's pixels with a photo edge (Canny
  on the grey crop) within ``RADIUS`` px whose orientation is within one of ``BINS`` bins
  (polarity ignored: object-vs-background contrast can have either sign).

Photo edges away from the contour never count, so clutter outside the silhouette does not lower
a correct label's score; the filter compares the label's agreement with the likeliest wrong
poses' on the same crop, where clutter, texture and occlusion are the same for all. Measured
and dropped on the way (LM-O): the shift-normalized variants (score in place minus the mean
over shifted copies), and the render's internal Canny edges in the chamfer (both lower AUC).
Costs one small render per hypothesis (128 px) and a few distance transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BINS = 8  # orientation bins over [0, pi)
RADIUS = 1.5  # px at the crop size
CROP_SIZE = 128
CROP_MARGIN = 0.5
IMAGE_CANNY = (40, 120)


def orientations(grey: np.ndarray, sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude and orientation bin (0..BINS-1, modulo pi) of a grey image."""
    blurred = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), sigma)
    gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    return np.hypot(gx, gy), (np.floor(angle / np.pi * BINS).astype(np.int64) % BINS)


@dataclass
class PhotoEdges:
    """Per orientation bin, each pixel's distance to the nearest photo edge of that bin or a
    neighbouring one."""

    distance: np.ndarray  # (BINS, H, W) float32

    @classmethod
    def of(cls, rgb: np.ndarray) -> "PhotoEdges":
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 0.8), *IMAGE_CANNY) > 0
        _, bins = orientations(grey)
        distance = np.empty((BINS,) + edges.shape, np.float32)
        for b in range(BINS):
            near = edges & ((bins == b) | (bins == (b + 1) % BINS) | (bins == (b - 1) % BINS))
            distance[b] = cv2.distanceTransform((~near).astype(np.uint8), cv2.DIST_L2, 3) if near.any() else np.inf
        return cls(distance)


@dataclass
class ModelEdges:
    """A render's edge pixels (silhouette contour and Canny edges) and their orientation bins."""

    ys: np.ndarray
    xs: np.ndarray
    bins: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray, clay: np.ndarray, canny: np.ndarray | None = None) -> "ModelEdges":
        m = mask.astype(np.uint8)
        contour = (m - cv2.erode(m, np.ones((3, 3), np.uint8))) > 0
        edges = contour if canny is None else contour | ((canny if canny.ndim == 2 else canny[..., 0]) > 0)
        # orientation from the clay render with the background set to black (the silhouette's
        # contrast is then the strongest, as an object against any background)
        shaded = np.where(mask, clay, 0).astype(np.float32)
        _, bins = orientations(shaded)
        ys, xs = np.nonzero(edges)
        return cls(ys, xs, bins[ys, xs])

    def __len__(self) -> int:
        return len(self.ys)


def matched(photo: PhotoEdges, model: ModelEdges, shift: tuple[int, int] = (0, 0), radius: float = RADIUS) -> float:
    """Share of the model's edge pixels (shifted by ``shift`` = (dx, dy), those in the crop)
    with a photo edge of a compatible orientation within ``radius`` px; NaN without any."""
    _, h, w = photo.distance.shape
    ys, xs = model.ys + shift[1], model.xs + shift[0]
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    if not inside.any():
        return float("nan")
    d = photo.distance[model.bins[inside], ys[inside], xs[inside]]
    return float(np.mean(d <= radius))


# --- region: does the label's silhouette separate the photo into object and surroundings? ----
RING = 6  # px at the crop size: the band outside the silhouette that stands for its surroundings
HIST_BINS = (4, 6, 6)  # L, a, b


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """(H, W) int: each pixel's coarse Lab colour bin."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.int64)
    nl, na, nb = HIST_BINS
    return (lab[..., 0] * nl // 256) * (na * nb) + (lab[..., 1] * na // 256) * nb + (lab[..., 2] * nb // 256)


def separation(codes: np.ndarray, mask: np.ndarray) -> float:
    """1 - Bhattacharyya coefficient of the colour histograms inside ``mask`` and in the ring
    around it: 0 when the silhouette cuts through uniform colour, 1 when inside and outside
    share no colour; NaN when either side is empty."""
    m = mask.astype(np.uint8)
    inside = cv2.erode(m, np.ones((3, 3), np.uint8)) > 0
    ring = (cv2.dilate(m, np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)) > 0) & ~(m > 0)
    if inside.sum() < 10 or ring.sum() < 10:
        return float("nan")
    n = int(np.prod(HIST_BINS))
    p = np.bincount(codes[inside], minlength=n) / inside.sum()
    q = np.bincount(codes[ring], minlength=n) / ring.sum()
    return float(1.0 - np.sum(np.sqrt(p * q)))


# --- the photo agreement of a pose hypothesis ---------------------------------------------------
@dataclass
class PhotoCrop:
    """A record's photo seen through a square crop around its bbox, ready to score hypotheses."""

    affine: np.ndarray
    edges: PhotoEdges
    codes: np.ndarray

    @classmethod
    def of(cls, image: np.ndarray, bbox, size: int = CROP_SIZE, margin: float = CROP_MARGIN) -> "PhotoCrop":
        from .hypotheses import crop_affine, crop_image

        affine = crop_affine(bbox, size, margin)
        rgb = crop_image(image, affine, size)
        return cls(affine, PhotoEdges.of(rgb), colour_codes(rgb))

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    def agreement(self, rerender, record, angles=None) -> float:
        """photo_agreement of the record's label (``angles`` None) or of a hypothesis."""
        from .hypotheses import render_hypothesis

        posed = render_hypothesis(rerender, record, angles, self.affine, self.size)
        return photo_agreement(self, posed.mask, posed.render.clay())


def photo_agreement(photo: PhotoCrop, mask: np.ndarray, clay: np.ndarray) -> float:
    """How well a rendered silhouette fits the photo, in [0, 2]: the colour separation of its
    inside from its surroundings plus the share of its contour on photo edges of the same
    orientation (0 for a silhouette with nothing in the crop). Both are raw: a filter compares
    them between hypotheses of the same photo (the label against its likeliest wrong poses),
    where clutter, texture and occlusion are the same."""
    if not mask.any():
        return 0.0
    sep = separation(photo.codes, mask)
    hit = matched(photo.edges, ModelEdges.of(mask, clay))
    return float(np.nan_to_num(sep) + np.nan_to_num(hit))
