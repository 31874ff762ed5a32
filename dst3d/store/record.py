"""One record type: a dataset row with its pose as arrays and its JSON columns parsed.

Rows are encoded in exactly one place (:meth:`Record.to_row`) and decoded in one
(:meth:`Record.from_row`), the way a Hugging Face builder owns its encoding: the pipeline
writes through it, every reader (KCF, exports, pose training) reads through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..control.visual_prompt import ControlConfig
from ..pose.viewpoint import Viewpoint, camera_to_world
from ..errors import UserError
from .schema import FEATURES, decode_png

_JSON = ("generation", "render")
_ARRAYS = {"R": (3, 3), "t": (3,), "K": (3, 3)}


def _array(row: dict, key: str, value) -> np.ndarray:
    """A pose column as a float64 array of its shape; R must be a rotation (to 1e-6)."""
    try:
        out = np.asarray(value, np.float64).reshape(_ARRAYS[key])
    except (TypeError, ValueError):
        out = None
    if out is None or not np.isfinite(out).all():
        raise UserError(f"record {row.get('id')!r}: column '{key}' is not a finite {'x'.join(map(str, _ARRAYS[key]))} array; "
                        "the dataset is damaged, regenerate it")
    if key == "R" and (abs(np.linalg.det(out) - 1.0) > 1e-6 or not np.allclose(out @ out.T, np.eye(3), atol=1e-6)):
        raise UserError(f"record {row.get('id')!r}: R is not a rotation matrix (orthonormal, det +1, to 1e-6); "
                        "project imported rotations to the nearest rotation (e.g. scipy Rotation.from_matrix) first")
    return out


@dataclass
class Record:
    """One sample. Columns a partial read did not ask for are None.

    ``R``, ``t``, ``K`` are float64 arrays (object -> OpenCV camera, pixel-edge K);
    ``generation`` (the backend's settings) and ``render`` (what re-rendering needs beyond
    the pose: clip planes, control settings, mesh hash) are dicts; ``image``/``control``
    are encoded Image cells (``{"bytes": PNG, "path": None}``), decoded on demand.
    """

    id: str | None = None
    index: int | None = None
    image: dict | None = None
    control: dict | None = None
    control_type: str | None = None
    synset: str | None = None
    class_name: str | None = None
    cad_id: str | None = None
    azimuth: float | None = None
    elevation: float | None = None
    theta: float | None = None
    distance: float | None = None
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    K: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    bbox: list[float] | None = None
    visible_fraction: float | None = None
    keypoints: list[dict] | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    backend: str | None = None
    generation: dict | None = None
    render: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # columns outside the schema (e.g. KCF scores)

    @classmethod
    def from_row(cls, row: dict) -> "Record":
        names = {f.name for f in fields(cls)} - {"extra"}
        values, extra = {}, {}
        for key, value in row.items():
            if key not in names:
                extra[key] = value
            elif key in _ARRAYS and value is not None:
                values[key] = _array(row, key, value)
            elif key in _JSON and isinstance(value, str):
                try:
                    values[key] = json.loads(value) if value else {}
                except ValueError:
                    raise UserError(f"record {row.get('id')!r}: column '{key}' is not JSON; the dataset is damaged, regenerate it") from None
            else:
                values[key] = value
        return cls(**values, extra=extra)

    def to_row(self) -> dict:
        """The row in the dataset schema's column order (every column must be set)."""
        row = {}
        for name in FEATURES:
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"record {self.id}: column '{name}' is not set")
            if name in _ARRAYS:
                value = np.asarray(value, np.float64).tolist()
            elif name in _JSON:
                value = json.dumps(value, sort_keys=True)
            row[name] = value
        return row

    def require(self, *names: str) -> "Record":
        """Self, or a one-line error naming the first of ``names`` that is missing."""
        for name in names:
            if getattr(self, name) is None:
                raise UserError(f"record {self.id!r} has no '{name}'; the dataset is damaged or not made by dst3d, regenerate it")
        return self

    # --- views of the columns -------------------------------------------------
    @property
    def viewpoint(self) -> Viewpoint:
        return Viewpoint(self.azimuth, self.elevation, self.theta, self.distance)

    @property
    def control_config(self) -> ControlConfig:
        """The control settings the record's control was made with (defaults if unrecorded)."""
        return ControlConfig.model_validate((self.render or {}).get("control") or {})

    @property
    def view(self) -> dict | None:
        """The record's place in a multi-view group (``render["view"]``: group, index, size,
        layout, c2w, ...; see :func:`dst3d.pipeline.generator.view_info`), None for a single image."""
        view = (self.render or {}).get("view")
        return view if isinstance(view, dict) else None

    @property
    def view_group(self) -> str | None:
        """The id of the record's multi-view group (shared by all its views), or None."""
        return (self.view or {}).get("group")

    @property
    def view_index(self) -> int | None:
        """The view's index in its group, 0 .. size - 1, or None."""
        return (self.view or {}).get("index")

    @property
    def view_size(self) -> int | None:
        """Views in the record's group, or None."""
        return (self.view or {}).get("size")

    def camera_to_world(self) -> np.ndarray:
        """4x4 camera-to-world matrix from ``R``, ``t``: OpenCV camera axes (x right, y down,
        z forward), world = the object's canonical frame (+Z up, front -Y, object units). For
        NeRF/Blender (OpenGL) axes multiply on the right by ``diag(1, -1, -1, 1)``
        (:data:`dst3d.pose.viewpoint.OPENCV_TO_OPENGL`)."""
        self.require("R", "t")
        return camera_to_world(self.R, self.t)

    def image_rgb(self) -> np.ndarray:
        return decode_png(self.image)

    def control_rgb(self) -> np.ndarray:
        return decode_png(self.control)
