"""`cad review`: one sheet per class, a row per model and the same canonical views in every
column (front, front-left, left, back, right, top), so a model imported upside down or facing
the wrong way stands out of its column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cad.library import CadModel
from ..errors import UserError
from ..files import write_bytes_atomic
from ..pose.viewpoint import Viewpoint, intrinsics
from ..render.renderer import Renderer

VIEWS = ((0.0, 10.0, "front"), (45.0, 20.0, "front-left"), (90.0, 10.0, "left side"), (180.0, 10.0, "back"),
         (270.0, 10.0, "right side"), (0.0, 89.0, "top"))
HEADER = 36  # pixels above the first row: the class line, then the view names

def review_sheet(library, name: str, out: Path, size: int = 128) -> Path:
    """One PNG: a row per model of the class, a column per canonical view (see VIEWS)."""
    import cv2

    synset = library.resolve_class(name)
    cls = library.manifest.classes[synset]
    if not cls.models:
        raise UserError(f"class {cls.name} ({synset}) has no models to review")
    label_w, distance = 150, 3.0
    K = intrinsics(size, size, size / 2 * distance / 0.87 * 0.85)  # a unit box's bounding sphere (radius 0.87) fits
    rows = []
    header = np.full((HEADER, label_w + size * len(VIEWS), 3), 255, np.uint8)
    cv2.putText(header, f"{cls.name} ({synset}): {len(cls.models)} models", (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (_, _, label) in enumerate(VIEWS):
        cv2.putText(header, label, (label_w + k * size + 4, 31), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
    rows.append(header)
    for model in cls.models:
        tiles = []
        with Renderer(library.load_parts(model), size, size) as renderer:
            for az, el, _ in VIEWS:
                vp = Viewpoint(np.deg2rad(az), np.deg2rad(el), 0.0, distance)
                tiles.append(cv2.cvtColor(renderer.render(vp.rotation(), vp.translation(), K).clay(), cv2.COLOR_GRAY2BGR))
        label = np.full((size, label_w, 3), 255, np.uint8)
        for j, text in enumerate(_wrap(model.id, 20)[:4] + [f"{model.faces} faces"]):
            cv2.putText(label, text, (4, 16 + 15 * j), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        if flagged(model):
            cv2.putText(label, "estimated/approx.", (4, size - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 200), 1, cv2.LINE_AA)
        rows.append(np.hstack([label, *tiles]))
    sheet = np.vstack(rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(".png", sheet)
    if not ok:
        raise UserError(f"cannot encode the review sheet for {out}")
    try:
        write_bytes_atomic(out, data.tobytes())
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def flagged(model: CadModel) -> bool:
    """A model the sheet marks: its typed tags say it needs review or only approximates its class."""
    return bool(model.tags.needs_review) or model.tags.strength == "approximate"


def _wrap(text: str, width: int) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]
