"""Making a job's rows: plan -> render -> controls -> appearance -> records.

One :class:`Generator` per worker. It has two halves so an engine may run them apart
(Ray renders on CPU tasks and generates on GPU actors): :meth:`Generator.render` (scenes,
controls, annotations) and :meth:`Generator.finish` (the appearance backend, loaded on
first use, and encoding into records).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..appearance.base import AppearanceRequest, load_backend
from ..control.visual_prompt import make_controls
from ..render.renderer import RenderResult
from ..render.scene import ZFAR, ZNEAR, SceneCache, render_pose
from ..store.record import Record
from ..store.schema import SCHEMA_VERSION, encode_png
from .job import JobConfig, Plan, SampleSpec


@dataclass
class View:
    """A rendered sample before appearance: buffers, controls and annotations."""

    render: RenderResult
    controls: dict[str, np.ndarray]
    annotations: dict


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now


class Generator:
    """Makes a job's rows (see the module docstring)."""

    def __init__(self, job: JobConfig, plan: Plan | None = None, backend=None):
        self.job = job
        self.plan = plan or Plan(job)
        self._backend = backend
        self._generation: dict | None = None
        self.scenes = SceneCache(self.plan.library, job.width, job.height)
        self.timings = Timings()

    @property
    def backend(self):
        if self._backend is None:
            self._backend = load_backend(self.job.backend, self.job.backend_options)
        return self._backend

    def rows(self, indices: range, on_sample=None) -> list[dict]:
        rows = []
        for start in range(indices.start, indices.stop, self.job.batch_size):
            specs = self.specs(range(start, min(start + self.job.batch_size, indices.stop)))
            rows.extend(self.finish(specs, self.render(specs)))
            if on_sample:
                on_sample(len(specs))
        return rows

    def specs(self, indices: range) -> list[SampleSpec]:
        return [self.plan.spec(i) for i in indices]

    def render(self, specs: list[SampleSpec]) -> list[View]:
        t0 = time.perf_counter()
        K = self.job.K()
        views = []
        for s in specs:
            posed = render_pose(self.scenes, s.cad_id, s.viewpoint.rotation(), s.viewpoint.translation(), K)
            views.append(View(posed.render, make_controls(posed.render, self.job.control), posed.annotations))
        self.timings.add("render+control+annotate", t0)
        return views

    def finish(self, specs: list[SampleSpec], views: list[View]) -> list[dict]:
        t0 = time.perf_counter()
        backend = self.backend
        requests = [AppearanceRequest(v.controls, v.render, s.prompt, s.negative_prompt, s.seed) for s, v in zip(specs, views)]
        images = backend.generate(requests)
        t0 = self.timings.add(f"appearance ({backend.name})", t0)
        if self._generation is None:  # fixed for the run
            self._generation = backend.settings()
        rows = [self.record(s, v, img).to_row() for s, v, img in zip(specs, views, images)]
        self.timings.add("encode", t0)
        return rows

    def record(self, spec: SampleSpec, view: View, image: np.ndarray) -> Record:
        """The sample's record: every label from the same render that made its control."""
        kind = self.job.control.kinds[0]
        render_info = {
            "schema": SCHEMA_VERSION,
            "dst3d": __version__,
            "znear": ZNEAR,
            "zfar": ZFAR,
            "control": self.job.control.model_dump(),
            "mesh_sha256": self.scenes.mesh_digest(spec.cad_id),
        }
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
            generation=self._generation if self._generation is not None else self.backend.settings(),
            render=render_info,
        )

    def close(self) -> None:
        self.scenes.close()
