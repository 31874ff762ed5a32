"""Making a job's rows: plan -> render -> controls -> appearance -> records.

One :class:`Generator` per worker. It has two halves so an engine may run them apart
(Ray renders on CPU tasks and generates on GPU actors): :meth:`Generator.render` (scenes,
controls, annotations) and :meth:`Generator.finish` (the appearance backend, loaded on
first use, and encoding into records).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..appearance.base import AppearanceRequest, load_backend
from ..control.visual_prompt import make_controls
from ..pose.viewpoint import camera_to_world
from ..render.annotations import bbox_from_mask
from ..render.renderer import RenderResult
from ..render.scene import ZFAR, ZNEAR, RenderedPose, SceneCache, render_pose
from ..store.record import Record
from ..store.schema import SCHEMA_VERSION, encode_png
from .distractors import MAX_REDRAWS
from .job import JobConfig, Plan, SampleSpec


@dataclass
class View:
    """A rendered sample before appearance: buffers, controls and annotations."""

    render: RenderResult
    controls: dict[str, np.ndarray]
    annotations: dict
    render_extra: dict = field(default_factory=dict)  # what the render JSON adds for this view (the distractors drawn)


@dataclass
class Timings:
    """Seconds per stage (stages overlap in time, so they may add up to more than the wall time)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] += now - start
        return now


class Generator:
    """Makes a job's rows (see the module docstring)."""

    def __init__(self, job: JobConfig, plan: Plan | None = None, backend=None):
        self.job = job
        self.plan = plan or Plan(job)
        self._backend = backend
        self._generation: dict | None = None
        # distractors come from the whole library: keep more scenes open than the job's own models need
        capacity = 256 if job.distractors.active() else 8
        self.scenes = SceneCache(self.plan.library, job.width, job.height, capacity, meshes=self.plan.meshes)
        self.timings = Timings()

    @property
    def backend(self):
        if self._backend is None:
            self._backend = load_backend(self.job.backend, self.job.backend_options)
        return self._backend

    def rows(self, indices: range, on_sample=None) -> list[dict]:
        """The rows of ``indices``, in order. Batch k+1 is rendered (GL, on this thread: the
        process's one GL context stays on one thread) while batch k is generated and encoded
        on a worker thread, so a GPU backend does not wait for rendering and PNG encoding;
        content does not depend on the overlap (each sample is a pure function of its spec).
        In a multi-view job, whole groups are made (a range that cuts a group is widened to it,
        and only the rows asked for are returned): a group's views are generated together."""
        if self.job.views.active() and len(indices):
            wanted = indices
            indices = range(self.plan.group(indices.start).start, self.plan.group(indices.stop - 1).stop)
            if indices != wanted:
                rows = self.rows(indices, on_sample)
                return rows[wanted.start - indices.start: wanted.stop - indices.start]
        rows: list[dict] = []
        batches = [range(start, min(start + self.job.batch_size, indices.stop)) for start in range(indices.start, indices.stop, self.job.batch_size)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dst3d-appearance") as pool:
            in_flight: Future | None = None
            for batch in batches:
                specs = self.specs(batch)
                views = self.render(specs)
                if in_flight is not None:
                    rows.extend(self._collect(in_flight, on_sample))
                in_flight = pool.submit(self.finish, specs, views)
            if in_flight is not None:
                rows.extend(self._collect(in_flight, on_sample))
        return rows

    @staticmethod
    def _collect(done: Future, on_sample) -> list[dict]:
        batch = done.result()
        if on_sample:
            on_sample(len(batch))
        return batch

    def specs(self, indices: range) -> list[SampleSpec]:
        return [self.plan.spec(i) for i in indices]

    def render(self, specs: list[SampleSpec]) -> list[View]:
        t0 = time.perf_counter()
        K = self.job.K()
        views = []
        for s in specs:
            posed, extra = self._posed(s, K)
            views.append(View(posed.render, make_controls(posed.render, self.job.control), posed.annotations, extra))
        self.timings.add("render+control+annotate", t0)
        return views

    def _posed(self, spec: SampleSpec, K: np.ndarray) -> tuple[RenderedPose, dict]:
        """The sample rendered with its distractors, and what its render JSON adds. A placement
        that leaves less than ``distractors.min_visible`` of the target's in-image pixels
        visible is redrawn (derived draws, deterministic), at worst the sample has none."""
        R, t = spec.viewpoint.rotation(), spec.viewpoint.translation()
        distractors, settings = spec.distractors, self.job.distractors
        for draw in range(MAX_REDRAWS + 2):
            if draw == MAX_REDRAWS + 1:
                distractors = ()
            elif draw:
                distractors = self.plan.distractors(spec.index, spec.synset, spec.viewpoint, spec.cad_id, draw)
            posed = render_pose(self.scenes, spec.cad_id, R, t, K, distractors)
            if posed.alone is None or posed.mask.sum() >= settings.min_visible * posed.alone.mask.sum():
                break
        if posed.alone is None:
            return posed, ({"distractor_draw": draw} if draw else {})
        listed = [{**d.to_json(), "mesh_sha256": self.scenes.mesh_digest(d.cad_id)} for d in distractors]
        return posed, {"distractors": listed, "bbox_unoccluded": bbox_from_mask(posed.alone.mask), **({"distractor_draw": draw} if draw else {})}

    def finish(self, specs: list[SampleSpec], views: list[View]) -> list[dict]:
        t0 = time.perf_counter()
        backend = self.backend
        requests = [AppearanceRequest(v.controls, v.render, s.prompt, s.negative_prompt, s.seed, view=s.view) for s, v in zip(specs, views)]
        outputs = backend.generate_detailed(requests)
        t0 = self.timings.add(f"appearance ({backend.name})", t0)
        if self._generation is None:  # fixed for the run
            self._generation = backend.settings()
        scores = group_consistency(specs, views, [out.image for out in outputs])
        rows = [self.record(s, v, out.image, out.notes, scores.get(s.view.group) if s.view else None).to_row()
                for s, v, out in zip(specs, views, outputs)]
        self.timings.add("encode", t0)
        return rows

    def record(self, spec: SampleSpec, view: View, image: np.ndarray, notes: dict | None = None,
               consistency: float | None = None) -> Record:
        """The sample's record: every label from the same render that made its control.
        ``notes`` (a backend's retry after a non-finite or black output) go into its
        ``generation`` JSON as ``"retry"``: the image then came from ``notes["seed"]``; a
        tiled multi-view canvas's placement (``notes["tiled"]``) goes in as ``"tiled"``.
        A view of a multi-view group gets ``render["view"]`` (:func:`view_info`), with its
        group's ``consistency`` score when the whole group was generated together."""
        generation = self._generation if self._generation is not None else self.backend.settings()
        kind = self.job.control.kinds[0]
        render_info = {
            "schema": SCHEMA_VERSION,
            "dst3d": __version__,
            "znear": ZNEAR,
            "zfar": ZFAR,
            "control": self.job.control.model_dump(),
            "mesh_sha256": self.scenes.mesh_digest(spec.cad_id),
            **({"pose_draw": spec.pose_draw} if spec.pose_draw else {}),  # a redrawn out-of-view pose
            **view.render_extra,  # the distractors drawn, if any
        }
        if spec.view is not None:
            render_info["view"] = view_info(spec, view.render.R, view.render.t, self.job.views.layout, consistency)
        return Record(
            id=spec.id,
            index=spec.index,
            image=encode_png(image),
            control=encode_png(view.controls[kind]),
            control_type=kind,
            synset=spec.synset,
            class_name=spec.class_name,
            cad_id=spec.cad_id,
            **spec.viewpoint.as_dict(),
            R=view.render.R,
            t=view.render.t,
            K=view.render.K,
            width=self.job.width,
            height=self.job.height,
            **view.annotations,
            prompt=spec.prompt,
            negative_prompt=spec.negative_prompt,
            seed=spec.seed,
            backend=self.backend.name,
            generation=_with_notes(generation, notes),
            render=render_info,
        )

    def close(self) -> None:
        self.scenes.close()


def _with_notes(generation: dict, notes: dict | None) -> dict:
    """The backend settings plus what happened making this image: ``tiled`` (where the view
    sat in its group's canvas) and ``retry`` (the rest of the notes: retries, the seed used)."""
    notes = dict(notes or {})
    tiled = notes.pop("tiled", None)
    return {**generation, **({"retry": notes} if notes else {}), **({"tiled": tiled} if tiled else {})}


def view_info(spec: SampleSpec, R: np.ndarray, t: np.ndarray, layout: str, consistency: float | None = None) -> dict:
    """A view's ``render["view"]``: ``group`` (its id), ``index`` (0 .. size - 1), ``size``,
    ``layout``, ``c2w`` (4x4 camera-to-world, OpenCV camera axes, world = the object's canonical
    frame; the inverse of the record's ``[R | t]``), ``base_azimuth`` (orbit, zero123pp: the
    group's base azimuth in radians, that of Zero123++'s condition view) and ``consistency``
    (the group's appearance-consistency score, :func:`dst3d.appearance.tiling.consistency_score`)."""
    info = {"group": spec.view.group, "index": spec.view.index, "size": spec.view.size, "layout": layout,
            "c2w": camera_to_world(R, t).tolist()}
    if spec.base_azimuth is not None:
        info["base_azimuth"] = float(spec.base_azimuth)
    if consistency is not None:
        info["consistency"] = float(consistency)
    return info


def group_consistency(specs: list[SampleSpec], views: list[View], images: list[np.ndarray]) -> dict[str, float]:
    """The appearance-consistency score of every multi-view group whose views are all in this
    batch (images and the target's visible masks), by group id."""
    if all(spec.view is None for spec in specs):
        return {}
    from ..appearance.tiling import consistency_score

    members: dict[str, list[int]] = defaultdict(list)
    for i, spec in enumerate(specs):
        if spec.view is not None:
            members[spec.view.group].append(i)
    scores = {}
    for group, at in members.items():
        if sorted(specs[i].view.index for i in at) == list(range(specs[at[0]].view.size)):
            scores[group] = consistency_score([images[i] for i in at], [views[i].render.mask for i in at])
    return scores
