"""The record schema: one row per image, enough alone to re-render its control image."""

from __future__ import annotations

import cv2
import numpy as np
from datasets import Features, Image, List, Value

SCHEMA_VERSION = 1

_F64 = Value("float64")
FEATURES = Features(
    {
        "id": Value("string"),
        "index": Value("int64"),
        "image": Image(),
        "control": Image(),
        "control_type": Value("string"),
        "synset": Value("string"),
        "class_name": Value("string"),
        "cad_id": Value("string"),
        "azimuth": _F64,
        "elevation": _F64,
        "theta": _F64,
        "distance": _F64,
        "R": List(List(_F64, length=3), length=3),
        "t": List(_F64, length=3),
        "K": List(List(_F64, length=3), length=3),
        "width": Value("int32"),
        "height": Value("int32"),
        "bbox": List(Value("float32"), length=4),
        "visible_fraction": Value("float32"),
        "keypoints": List({"name": Value("string"), "x": Value("float32"), "y": Value("float32"), "visible": Value("bool")}),
        "prompt": Value("string"),
        "negative_prompt": Value("string"),
        "seed": Value("int64"),
        "backend": Value("string"),
        "generation": Value("string"),  # JSON: the backend's settings (models, revisions, steps, ...)
        "render": Value("string"),  # JSON: what re-rendering the control needs beyond the pose
    }
)


def encode_png(rgb: np.ndarray) -> dict:
    """Image-feature cell from an (H, W, 3) uint8 RGB array (lossless). zlib level 1 with the
    run-length strategy: faster and smaller than the default on both noisy images and sparse
    edge maps (measured at 512 px: 12.7 vs 16.9 ms, 426 vs 486 KB; 5 ms, 4 vs 8 KB)."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return {"bytes": buf.tobytes(), "path": None}


def decode_png(cell) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image cell (dict with bytes) or a PIL image."""
    if isinstance(cell, dict):
        bgr = cv2.imdecode(np.frombuffer(cell["bytes"], np.uint8), cv2.IMREAD_COLOR)
        return bgr[..., ::-1].copy()
    return np.asarray(cell.convert("RGB"))
