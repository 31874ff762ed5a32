"""Control agreement: does a generated image follow the control it was generated from?

Every record stores its ``control`` image: the Canny edges of the label's render (white
on black, ``control_type == "canny"``). A diffusion model that ignores its control (draws
the object turned around, or at another pose) produces an image whose edges do not line up
with the control's, even when the object looks right. That is a label error the held-out
pose estimator of the K-fold filter finds only as well as it estimates poses; the edge
check needs no model and costs ~1 ms per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..cad.library import CadLibrary
from ..control.visual_prompt import make_controls
from ..pose.viewpoint import viewpoint_to_rotation
from ..store.library import library_for
from ..render.scene import RenderedPose, Rerenderer
from .edges import PhotoCrop
from .hypotheses import flipped_angles, render_hypothesis
from ..store.dataset import open_dataset
from ..store.record import Record


def _near(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within ``radius`` px (Euclidean) of a True pixel of ``mask``."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= radius


def control_agreement(image: np.ndarray, control: np.ndarray, bbox, radius: float = 2.0) -> float:
    """How well the image's edges align with its Canny control, above chance; lower = disagrees.

    Sum of two chance-corrected scores, each (hit rate - chance) / (1 - chance), so 0 is what
    unrelated edges give and 1 is a perfect match (each term can go negative):

    * control edges having an image edge (``cv2.Canny(grey, 50, 150)``) within ``radius``
      px; chance = the share of all pixels within ``radius`` of an image edge;
    * image edges inside the bbox (grown by ``radius``) having a control edge within
      ``radius`` px; chance = the share of that box within ``radius`` of a control edge.

    The first asks "is the rendered outline drawn?", the second "is what is drawn in the box
    the rendered outline?", which textured backgrounds do not confuse. ``image`` is (H, W, 3)
    RGB uint8, ``control`` (H, W) or (H, W, C) with edges > 0, ``bbox`` x0, y0, x1, y1 in px.
    """
    edges = cv2.Canny(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY), 50, 150) > 0
    ctrl = (control if control.ndim == 2 else control[..., 0]) > 0
    near_edges, near_ctrl = _near(edges, radius), _near(ctrl, radius)
    pad = int(np.ceil(radius))
    x0, y0, x1, y1 = (int(round(v)) for v in bbox)
    box = np.zeros_like(edges)
    box[max(y0 - pad, 0) : y1 + pad, max(x0 - pad, 0) : x1 + pad] = True

    def above_chance(hits: np.ndarray, chance: float) -> float:
        return float((hits.mean() - chance) / max(1.0 - chance, 1e-6)) if hits.size else 0.0

    recall = above_chance(near_edges[ctrl], near_edges.mean())
    precision = above_chance(near_ctrl[edges & box], near_ctrl[box].mean() if box.any() else 0.0)
    return recall + precision


def dataset_agreement(root: Path, split: str = "train", ids: np.ndarray | None = None) -> np.ndarray:
    """control_agreement of every row of a split (shard order), NaN where the control is not
    Canny edges. With ``ids``, checks that the rows are those samples, in that order."""
    records = list(open_dataset(root, split).records(["id", "image", "control", "control_type", "bbox"]))
    if ids is not None and [r.id for r in records] != list(ids):
        raise ValueError("dataset rows do not match the scored samples")
    out = np.full(len(records), np.nan)
    for i, record in enumerate(records):
        if record.control_type == "canny":
            out[i] = control_agreement(record.image_rgb(), record.control_rgb(), record.bbox)
    return out


def canny_control(posed: RenderedPose, record: Record) -> np.ndarray:
    """The Canny control of a re-render, made with the record's own control settings."""
    settings = record.control_config.model_copy(update={"kinds": ["canny"]})
    return make_controls(posed.render, settings)["canny"]


ALTERNATIVE_COLUMNS = ["id", "image", "control", "control_type", "cad_id", "azimuth", "elevation", "theta", "distance", "R", "t", "K",
                       "width", "height", "render", "bbox"]


@dataclass
class HypothesisAgreements:
    """Per sample: the Canny-control agreement of the likeliest wrong pose (``alternative``, NaN
    where the control is not Canny), and the photo agreement (``edges.photo_agreement``) of the
    label (``photo``) and of the likeliest wrong pose (``photo_alternative``)."""

    alternative: np.ndarray
    photo: np.ndarray
    photo_alternative: np.ndarray


def alternative_agreement(root: Path, split: str, ids: np.ndarray, pred_angles: np.ndarray,
                          cad_library: CadLibrary | str | None = None) -> np.ndarray:
    """Agreement of each image with the control of the most likely *wrong* pose (see
    :func:`hypothesis_agreements`, whose ``alternative`` this is)."""
    return hypothesis_agreements(root, split, ids, pred_angles, cad_library).alternative


def hypothesis_agreements(root: Path, split: str, ids: np.ndarray, pred_angles: np.ndarray,
                          cad_library: CadLibrary | str | None = None, symmetries: list | None = None) -> HypothesisAgreements:
    """How well each image follows its label and the two likeliest wrong poses.

    Two competing hypotheses per sample, each rendered from the record's CAD model in the
    record's own label frame (``hypotheses.render_hypothesis``: its position, K, image size
    and control settings; defaults where the record has no control settings), exactly as its
    control was: the held-out estimator's prediction, and the label turned by pi in azimuth
    (diffusion's classic failure: the object drawn from behind). An image that follows its
    label agrees with neither better than with its own label; one that does not often matches
    one of them. Max over the two. A hypothesis within ``MIN_WRONG_DEG`` of the label modulo
    the CAD model's symmetry (``symmetries``, one tag per row; the flip of a 2-fold symmetric
    object, a prediction that agrees with the label) is no wrong pose and is left out; with
    none left, the wrong pose's agreement is the label's own (nothing competes with it).
    ``cad_library``: a CadLibrary, or a folder (default: the dataset's own, checked against
    the records' mesh hashes).
    """
    dataset = open_dataset(root, split)
    records = list(dataset.records(ALTERNATIVE_COLUMNS))
    if [r.id for r in records] != list(ids):
        raise ValueError("dataset rows do not match the scored samples")
    if not isinstance(cad_library, CadLibrary):
        digests = {r.cad_id: (r.render or {}).get("mesh_sha256") for r in records}
        cad_library = library_for(dataset, digests, cad_library)
    out = HypothesisAgreements(*(np.full(len(records), np.nan) for _ in range(3)))
    with Rerenderer(cad_library) as rerender:
        for i, record in enumerate(records):
            image = record.image_rgb()
            hypotheses = wrong_poses(record, [np.asarray(pred_angles[i], np.float64), flipped_angles(record)],
                                     symmetries[i] if symmetries is not None else None)
            if record.control_type == "canny":
                out.alternative[i] = max([_control_score(rerender, record, image, h) for h in hypotheses]
                                         or [control_agreement(image, record.control_rgb(), record.bbox)])
            photo = PhotoCrop.of(image, record.bbox)
            out.photo[i] = photo.agreement(rerender, record, None)
            out.photo_alternative[i] = max([photo.agreement(rerender, record, h) for h in hypotheses] or [out.photo[i]])
    return out


MIN_WRONG_DEG = 15.0  # a hypothesis closer than this to the label (modulo symmetry) is the label


def wrong_poses(record: Record, hypotheses: list[np.ndarray], symmetry=None) -> list[np.ndarray]:
    """The hypotheses that are a different pose from the record's label, modulo ``symmetry``."""
    from ..posenet.metrics import rotation_errors

    label = viewpoint_to_rotation(record.azimuth, record.elevation, record.theta)
    R = np.stack([viewpoint_to_rotation(*h[:3]) for h in hypotheses])
    far = np.rad2deg(rotation_errors(R, np.repeat(label[None], len(R), 0), [symmetry] * len(R))) >= MIN_WRONG_DEG
    return [h for h, keep in zip(hypotheses, far) if keep]


def _control_score(rerender: Rerenderer, record: Record, image: np.ndarray, angles: np.ndarray) -> float:
    posed = render_hypothesis(rerender, record, angles)
    return control_agreement(image, canny_control(posed, record), posed.annotations["bbox"])
