"""Control agreement: does a generated image follow the control it was generated from?

Every record stores its ``control`` image: the Canny edges of the label's render (white
on black, ``control_type == "canny"``). A diffusion model that ignores its control (draws
the object turned around, or at another pose) produces an image whose edges do not line up
with the control's, even when the object looks right. That is a label error the held-out
pose estimator of the K-fold filter finds only as well as it estimates poses; the edge
check needs no model and costs ~1 ms per image.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


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
    from ..store.schema import decode_png
    from ..store.shards import read_table

    table = read_table(Path(root), columns=["id", "image", "control", "control_type", "bbox"], split=split)
    if ids is not None and table["id"].to_pylist() != list(ids):
        raise ValueError("dataset rows do not match the scored samples")
    out = np.full(table.num_rows, np.nan)
    columns = (table[c].to_pylist() for c in ("image", "control", "control_type", "bbox"))
    for i, (image, control, kind, bbox) in enumerate(zip(*columns)):
        if kind == "canny":
            out[i] = control_agreement(decode_png(image), decode_png(control), bbox)
    return out


def alternative_agreement(root: Path, split: str, ids: np.ndarray, pred_angles: np.ndarray, cad_library: str | None = None) -> np.ndarray:
    """Agreement of each image with the control of the most likely *wrong* pose.

    Two competing hypotheses per sample, each rendered from the record's CAD model exactly
    as its control was: the held-out estimator's prediction, and the label turned by pi in
    azimuth (diffusion's classic failure: the object drawn from behind). An image that
    follows its label agrees with neither better than with its own control; one that
    ignored it often matches one of them. Max of the two, NaN where the control is not Canny.
    """
    import json

    from ..cad.library import CadLibrary
    from ..control.visual_prompt import ControlConfig
    from ..pipeline.run import SceneCache, render_view
    from ..pose.viewpoint import Viewpoint
    from ..store.schema import decode_png
    from ..store.shards import read_table

    columns = ["id", "image", "control_type", "cad_id", "azimuth", "elevation", "theta", "distance", "K", "width", "height", "render"]
    table = read_table(Path(root), columns=columns, split=split)
    if table["id"].to_pylist() != list(ids):
        raise ValueError("dataset rows do not match the scored samples")
    out = np.full(table.num_rows, np.nan)
    scenes = None
    try:
        for i, row in enumerate(table.to_pylist()):
            if row["control_type"] != "canny":
                continue
            if scenes is None:
                scenes = SceneCache(CadLibrary(cad_library), row["width"], row["height"])
            control = ControlConfig.model_validate(json.loads(row["render"])["control"])
            image = decode_png(row["image"])
            a, e, t = pred_angles[i]
            best = -np.inf
            for vp in (Viewpoint(a, e, t, row["distance"]), Viewpoint(row["azimuth"] + np.pi, row["elevation"], row["theta"], row["distance"])):
                view = render_view(scenes, row["cad_id"], vp.rotation(), vp.translation(), np.asarray(row["K"]), control)
                best = max(best, control_agreement(image, view.controls["canny"], view.annotations["bbox"]))
            out[i] = best
    finally:
        if scenes is not None:
            scenes.close()
    return out
