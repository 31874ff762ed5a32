"""Scenes kept open per CAD model, one render-and-annotate path, and re-rendering records.

Generation and every later re-render (KCF, exports, injections, reports) come through
:func:`render_pose`, so a record's masks, boxes and control images are reproducible from
its pose by construction. :class:`Rerenderer` reads what a re-render needs (CAD model,
pose, K, image size, clip planes) from a stored record.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ..cad.library import CadLibrary, CadModel
from ..errors import UserError
from .meshes import PREFIX, MeshFolder
from .annotations import Silhouette, bbox_from_mask, full_silhouette, project_keypoints, visible_fraction
from .renderer import Renderer, RenderResult

ZNEAR, ZFAR = 0.05, 100.0


class SceneCache:
    """Open renderers per CAD model, least recently used closed first (GL contexts are
    costly to build, cheap to keep: scenes are built once per model, not per view)."""

    def __init__(self, library: CadLibrary, width: int, height: int, capacity: int = 8, znear: float = ZNEAR, zfar: float = ZFAR,
                 meshes: MeshFolder | None = None):
        self.library, self.width, self.height, self.capacity = library, width, height, capacity
        self.znear, self.zfar = znear, zfar
        self.meshes = meshes  # loose distractor meshes (ids ``mesh:<file>``), if any
        self._open: OrderedDict[str, tuple[Renderer, CadModel, np.ndarray]] = OrderedDict()
        self._digests: dict[str, str] = {}

    def get(self, cad_id: str) -> tuple[Renderer, CadModel, np.ndarray]:
        """(renderer, model, all vertices) of a CAD model, opening its scene if needed."""
        if cad_id in self._open:
            self._open.move_to_end(cad_id)
            return self._open[cad_id]
        if cad_id.startswith(PREFIX):
            model, parts = None, self._mesh_folder(cad_id).load_parts(cad_id)
        else:
            _, model = self.library.model(cad_id)
            parts = self.library.load_parts(model)
        renderer = Renderer(parts, self.width, self.height, self.znear, self.zfar)
        vertices = np.vstack([np.asarray(part.vertices) for part in parts])  # for annotations
        self._open[cad_id] = (renderer, model, vertices)
        while len(self._open) > self.capacity:
            _, (old, _, _) = self._open.popitem(last=False)
            _close(old)
        return self._open[cad_id]

    def mesh_digest(self, cad_id: str) -> str:
        """First 16 hex digits of the mesh file's sha256 (recorded with every sample)."""
        if cad_id not in self._digests:
            path = self._mesh_folder(cad_id).path(cad_id) if cad_id.startswith(PREFIX) else self.library.mesh_path(self.library.model(cad_id)[1])
            self._digests[cad_id] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return self._digests[cad_id]

    def _mesh_folder(self, mesh_id: str) -> MeshFolder:
        if self.meshes is None:
            raise UserError(f"'{mesh_id}' is a distractor from a mesh folder; pass that folder (Rerenderer(library, meshes=FOLDER))")
        return self.meshes

    def close(self) -> None:
        for renderer, _, _ in self._open.values():
            _close(renderer)
        self._open.clear()


def _close(renderer: Renderer) -> None:
    try:
        renderer.close()
    except Exception:  # noqa: BLE001 - pyrender's EGL teardown may fail once the shared display is gone
        pass


@dataclass(frozen=True)
class Distractor:
    """Another CAD model in the picture: object-to-camera rotation ``R`` (9 numbers, row-major),
    translation ``t`` and a uniform ``scale``. Stored camera-relative, so a re-render of the
    record with another target pose (a competing hypothesis) keeps the clutter in place."""

    cad_id: str
    R: tuple[float, ...]
    t: tuple[float, float, float]
    scale: float = 1.0

    def to_json(self) -> dict:
        return {"cad_id": self.cad_id, "R": [float(v) for v in self.R], "t": [float(v) for v in self.t], "scale": float(self.scale)}

    @classmethod
    def from_json(cls, data: dict) -> "Distractor":
        return cls(str(data["cad_id"]), tuple(float(v) for v in data["R"]), tuple(float(v) for v in data["t"]), float(data.get("scale", 1.0)))


@dataclass
class RenderedPose:
    """One pose of one CAD model: the render's buffers and the annotations made from them.

    With distractors, ``render`` is the whole picture (``render.mask``: the target's visible
    pixels) and ``alone`` the target without them: the amodal quantities (full silhouette,
    ``bbox_unoccluded``) come from ``alone``, the visible ones from ``render``."""

    render: RenderResult
    annotations: dict  # bbox, visible_fraction, keypoints (the record's columns)
    render_at: Callable[[np.ndarray], RenderResult]  # the same pose through another K (tiles), target alone
    vertices: np.ndarray  # the model's vertices (object units)
    alone: RenderResult | None = None  # the target without distractors (None: there are none, it is ``render``)

    @property
    def mask(self) -> np.ndarray:
        return self.render.mask

    def full_silhouette(self) -> Silhouette:
        """The silhouette beyond the image border too, occluders ignored (BOP's px_count_all, bbox_obj)."""
        return full_silhouette(self.alone if self.alone is not None else self.render, self.render_at, self.vertices)


def render_pose(scenes: SceneCache, cad_id: str, R, t, K, distractors: Sequence[Distractor] = ()) -> RenderedPose:
    """Render one pose of one CAD model with its annotations (the only render path).

    ``distractors`` are drawn in the same pass (real occlusion by the depth test); the
    target's labels then count only its visible pixels: ``bbox`` of the visible mask,
    ``visible_fraction`` = visible pixels / the whole unoccluded silhouette (beyond the
    border too), keypoints depth-tested against the occluders."""
    occluders = []
    for d in distractors:  # opened before the target, so the target's scene is the most recent
        other, _, _ = scenes.get(d.cad_id)
        occluders.append((other, np.reshape(np.asarray(d.R, np.float64), (3, 3)), np.asarray(d.t, np.float64), d.scale))
    renderer, model, vertices = scenes.get(cad_id)
    R, t, K = (np.asarray(a, np.float64) for a in (R, t, K))
    result = renderer.render(R, t, K, occluders)

    def render_at(K_tile: np.ndarray) -> RenderResult:
        return renderer.render(R, t, K_tile)

    names, points = scenes.library.keypoints(model)
    alone = renderer.render(R, t, K) if occluders else None
    annotations = {
        "bbox": bbox_from_mask(result.mask),
        "visible_fraction": visible_fraction(result, render_at, vertices) if alone is None else occluded_fraction(result, alone, render_at, vertices),
        "keypoints": project_keypoints(result, names, points),
    }
    return RenderedPose(result, annotations, render_at, vertices, alone)


def occluded_fraction(result: RenderResult, alone: RenderResult, render_at: Callable[[np.ndarray], RenderResult], vertices: np.ndarray) -> float:
    """Visible pixels of the target among occluders over its whole silhouette without them
    (BOP visib_fract: px_count_visib / px_count_all)."""
    visible = int(result.mask.sum())
    if not visible:
        return 0.0
    total = full_silhouette(alone, render_at, vertices).pixels if _touches_border(alone.mask) else int(alone.mask.sum())
    return visible / total


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


class PosedRecord(Protocol):
    """What a re-render reads from a record (a :class:`dst3d.store.Record` has it all)."""

    cad_id: str
    R: Any
    t: Any
    K: Any
    width: int
    height: int


class Rerenderer:
    """Re-render stored records: ``Rerenderer(library).view(record, R=None, t=None)``
    (``meshes=FOLDER`` for records whose distractors came from a mesh folder).

    The record's own pose, K and image size are used unless ``R``/``t``/``K`` are given
    (a competing hypothesis, an injected error); its distractors (``render["distractors"]``)
    are drawn at their stored camera-frame poses. One open scene cache per image size and
    clip planes, so datasets with mixed sizes work; close it (or use ``with``) when done.
    """

    def __init__(self, library: CadLibrary, capacity: int = 16, meshes: str | Path | MeshFolder | None = None):
        self.library, self.capacity = library, capacity
        self.meshes = meshes if isinstance(meshes, MeshFolder) or meshes is None else MeshFolder(meshes)
        self._caches: dict[tuple[int, int, float, float], SceneCache] = {}

    def scenes(self, width: int, height: int, znear: float = ZNEAR, zfar: float = ZFAR) -> SceneCache:
        key = (int(width), int(height), float(znear), float(zfar))
        if key not in self._caches:
            self._caches[key] = SceneCache(self.library, key[0], key[1], self.capacity, key[2], key[3], self.meshes)
        return self._caches[key]

    def view(self, record: PosedRecord, R=None, t=None, K=None) -> RenderedPose:
        render_info = getattr(record, "render", None) or {}
        scenes = self.scenes(record.width, record.height, render_info.get("znear", ZNEAR), render_info.get("zfar", ZFAR))
        distractors = [Distractor.from_json(d) for d in render_info.get("distractors", [])]
        return render_pose(scenes, record.cad_id, record.R if R is None else R, record.t if t is None else t, record.K if K is None else K,
                           distractors)

    def close(self) -> None:
        for scenes in self._caches.values():
            scenes.close()
        self._caches.clear()

    def __enter__(self) -> "Rerenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
