"""Pose-estimation inputs from a dst3d dataset: object crops and their labels.

Each image is cropped to a square around its ``bbox`` (plus a margin) and resized, which
keeps the in-plane rotation and the aspect ratio. Crops are made once per image at a
slightly larger "context" size and kept as uint8, so training can jitter the box cheaply
without decoding the PNG again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..cad.library import CadLibrary
from ..errors import UserError
from ..store.dataset import open_dataset
from ..store.library import library_for
from .metrics import SymmetrySpec

LABEL_COLUMNS = ["id", "synset", "class_name", "cad_id", "azimuth", "elevation", "theta", "R", "bbox", "width", "height",
                 "visible_fraction", "render"]
CONTEXT = 1.25  # context crops cover CONTEXT x the training crop, for box jitter


@dataclass
class Records:
    """Labels of a dataset split as arrays (row order = shard order), images still encoded."""

    root: Path
    split: str
    ids: np.ndarray
    synsets: np.ndarray
    class_names: dict[str, str]
    cad_ids: np.ndarray
    angles: np.ndarray  # (N, 3) azimuth, elevation, theta (radians)
    R: np.ndarray  # (N, 3, 3)
    bbox: np.ndarray  # (N, 4)
    images: list = field(repr=False, default_factory=list)  # encoded PNG bytes
    symmetries: list[SymmetrySpec] = field(default_factory=list)
    visible: np.ndarray | None = None  # (N,) visible fraction of the object
    library: CadLibrary | None = field(default=None, repr=False)  # the CAD library the data was made with (checked)

    def __len__(self) -> int:
        return len(self.ids)

    def label_R(self) -> np.ndarray:
        """(N, 3, 3) rotations of the viewpoint labels (the allocentric pose a crop shows)."""
        from .model import rotations_from_angles

        return rotations_from_angles(self.angles)

    def subset(self, index) -> "Records":
        index = np.asarray(index, np.int64)
        return Records(
            self.root, self.split, self.ids[index], self.synsets[index], self.class_names, self.cad_ids[index],
            self.angles[index], self.R[index], self.bbox[index], [self.images[i] for i in index] if self.images else [],
            [self.symmetries[i] for i in index], None if self.visible is None else self.visible[index], self.library,
        )


def load_records(root: Path, split: str = "train", cad_library: str | os.PathLike | None = None, images: bool = True) -> Records:
    """Read a split's labels (and encoded images) and the CAD library the data was made with
    (``cad_library``, else the one its job file names; refused when it lacks the dataset's
    CAD models or their meshes differ), and attach each CAD model's symmetry tag."""
    root = Path(root)
    dataset = open_dataset(root, split)
    columns = LABEL_COLUMNS + (["image"] if images else [])
    rows = list(dataset.records(columns))
    if not rows:
        raise UserError(f"{root} split '{split}' has no rows")
    digests: dict[str, str | None] = {}
    for r in rows:
        digests.setdefault(r.cad_id, (r.render or {}).get("mesh_sha256"))
    library = library_for(dataset, digests, cad_library)
    synsets = np.array([r.synset for r in rows])
    cad_ids = np.array([r.cad_id for r in rows])
    return Records(
        root=root,
        split=split,
        ids=np.array([r.id for r in rows]),
        synsets=synsets,
        class_names={r.synset: r.class_name for r in rows},
        cad_ids=cad_ids,
        angles=np.array([[r.azimuth, r.elevation, r.theta] for r in rows], np.float64),
        R=np.stack([r.R for r in rows]),
        bbox=np.asarray([r.bbox for r in rows], np.float64).reshape(-1, 4),
        images=[r.image["bytes"] for r in rows] if images else [],
        symmetries=symmetry_tags(cad_ids, library),
        visible=np.array([np.nan if r.visible_fraction is None else r.visible_fraction for r in rows], np.float64),
        library=library,
    )


def symmetry_tags(cad_ids, library: CadLibrary) -> list[SymmetrySpec]:
    """Each sample's symmetry from the CAD manifest (every CAD id must be in it)."""
    known = {model.id: SymmetrySpec.of(model.symmetry) for cls in library.manifest.classes.values() for model in cls.models}
    return [known[c] for c in cad_ids]


def _crop_matrix(box, out_size: int, margin: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    """Affine map from image pixels to a square crop around ``box``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 <= x0 or y1 <= y0:  # empty box: the object is outside the image; use the centre
        x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
    side = max(x1 - x0, y1 - y0) * (1.0 + margin) * scale
    cx = (x0 + x1) / 2.0 + shift[0] * side
    cy = (y0 + y1) / 2.0 + shift[1] * side
    s = out_size / side
    return np.array([[s, 0.0, out_size / 2.0 - s * cx], [0.0, s, out_size / 2.0 - s * cy]])


def crop(rgb: np.ndarray, box, size: int, margin: float = 0.15, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    """(size, size, 3) uint8 square crop around ``box`` ([x0, y0, x1, y1]), edges replicated."""
    M = _crop_matrix(box, size, margin, scale, shift)
    if M[0, 0] < 0.5:  # large downscale: area-average first (warpAffine would alias)
        f = M[0, 0] * 1.5
        h, w = rgb.shape[:2]
        rgb = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
        M = M @ np.diag([w / rgb.shape[1], h / rgb.shape[0], 1.0])
    return cv2.warpAffine(rgb, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def decode_rgb(png: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise UserError("a dataset image cannot be decoded; the shard may be corrupt")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def context_crops(records: Records, size: int, margin: float = 0.15, on_image=None) -> np.ndarray:
    """(N, C, C, 3) uint8 crops at ``C = round(size * CONTEXT)`` covering CONTEXT x the box."""
    ctx = int(round(size * CONTEXT))
    out = np.empty((len(records), ctx, ctx, 3), np.uint8)
    for i, (png, box) in enumerate(zip(records.images, records.bbox)):
        out[i] = crop(decode_rgb(png), box, ctx, margin, scale=CONTEXT)
        if on_image:
            on_image(1)
    return out


def centre_crops(ctx: np.ndarray, size: int) -> np.ndarray:
    """The un-jittered training-size crops from context crops: (N, size, size, 3)."""
    c = ctx.shape[1]
    if c == size:
        return ctx
    box = [(c - c / CONTEXT) / 2, (c - c / CONTEXT) / 2, (c + c / CONTEXT) / 2, (c + c / CONTEXT) / 2]
    return np.stack([crop(img, box, size, margin=0.0) for img in ctx]) if len(ctx) else np.empty((0, size, size, 3), np.uint8)


def jittered_crop(ctx_img: np.ndarray, size: int, rng: np.random.Generator, scale_range=0.1, shift_range=0.05) -> np.ndarray:
    c = ctx_img.shape[0]
    inner = c / CONTEXT
    box = [(c - inner) / 2, (c - inner) / 2, (c + inner) / 2, (c + inner) / 2]
    scale = float(np.exp(rng.uniform(-scale_range, scale_range)))
    shift = rng.uniform(-shift_range, shift_range, 2)
    return crop(ctx_img, box, size, margin=0.0, scale=scale, shift=shift)


def mirror_labels(angles: np.ndarray) -> np.ndarray:
    """Labels of a horizontally flipped image of an object that is mirror-symmetric across
    its x = 0 plane: (a, e, theta) -> (-a, e, -theta), i.e. diag(-1,1,1) R diag(-1,1,1)."""
    out = np.array(angles, dtype=np.float64, copy=True)
    out[..., 0] = np.mod(-out[..., 0], 2 * np.pi)
    out[..., 2] = np.mod(-out[..., 2], 2 * np.pi)
    return out
