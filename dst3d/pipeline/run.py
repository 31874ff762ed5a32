"""Run a job: plan -> render -> controls -> appearance -> shards -> dataset card."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..appearance.base import AppearanceRequest, load_backend, preflight
from ..cad.library import CadLibrary
from ..control.visual_prompt import ControlConfig, make_controls
from ..errors import UserError
from ..progress import Progress
from ..render.annotations import bbox_from_mask, project_keypoints, visible_fraction
from ..render.renderer import Renderer, RenderResult
from ..store.card import write_card
from ..store.schema import SCHEMA_VERSION, encode_png
from .job import JobConfig, Plan, SampleSpec

ZNEAR, ZFAR = 0.05, 100.0


class SceneCache:
    """Open renderers per CAD model, least recently used closed first (GL contexts are
    costly to build, cheap to keep: scenes are built once per model, not per view)."""

    def __init__(self, library: CadLibrary, width: int, height: int, capacity: int = 8):
        self.library, self.width, self.height, self.capacity = library, width, height, capacity
        self._open: OrderedDict[str, tuple[Renderer, object]] = OrderedDict()
        self._digests: dict[str, str] = {}

    def get(self, cad_id: str) -> tuple[Renderer, object]:
        if cad_id in self._open:
            self._open.move_to_end(cad_id)
            return self._open[cad_id]
        _, model = self.library.model(cad_id)
        parts = self.library.load_parts(model)
        renderer = Renderer(parts, self.width, self.height, ZNEAR, ZFAR)
        vertices = np.vstack([np.asarray(part.vertices) for part in parts])  # for annotations
        self._open[cad_id] = (renderer, (model, vertices))
        while len(self._open) > self.capacity:
            _, (old, _) = self._open.popitem(last=False)
            old.close()
        return self._open[cad_id]

    def mesh_digest(self, cad_id: str) -> str:
        if cad_id not in self._digests:
            _, model = self.library.model(cad_id)
            self._digests[cad_id] = hashlib.sha256(self.library.mesh_path(model).read_bytes()).hexdigest()[:16]
        return self._digests[cad_id]

    def close(self) -> None:
        for renderer, _ in self._open.values():
            renderer.close()
        self._open.clear()


@dataclass
class View:
    """A rendered sample before appearance: buffers, controls and annotations."""

    render: RenderResult
    controls: dict[str, np.ndarray]
    annotations: dict


def render_view(scenes: SceneCache, cad_id: str, R, t, K, control: ControlConfig) -> View:
    """Render one pose of one CAD model with its controls and annotations.

    Generation and re-rendering a stored record both come through here, so a record's
    control image is reproducible from its pose by construction.
    """
    renderer, (model, vertices) = scenes.get(cad_id)
    result = renderer.render(R, t, K)
    names, points = scenes.library.keypoints(model)
    annotations = {
        "bbox": bbox_from_mask(result.mask),
        "visible_fraction": visible_fraction(result, lambda K_tile: renderer.render(R, t, K_tile), vertices),
        "keypoints": project_keypoints(result, names, points),
    }
    return View(result, make_controls(result, control), annotations)


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now


@dataclass
class RunSummary:
    out: Path
    samples: int
    per_class: dict[str, int]
    elapsed: float
    timings: dict[str, float]


class Generator:
    """Makes a job's rows; one per worker. Two halves, so an engine may run them apart:
    :meth:`render` (CPU: scenes, controls, annotations) and :meth:`finish` (the
    appearance backend, loaded on first use, and encoding)."""

    def __init__(self, job: JobConfig, plan: Plan | None = None, backend=None):
        self.job = job
        self.plan = plan or Plan(job)
        self._backend = backend
        self._generation: str | None = None
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
        views = [render_view(self.scenes, s.cad_id, s.viewpoint.rotation(), s.viewpoint.translation(), K, self.job.control) for s in specs]
        self.timings.add("render+control+annotate", t0)
        return views

    def finish(self, specs: list[SampleSpec], views: list[View]) -> list[dict]:
        t0 = time.perf_counter()
        backend = self.backend
        requests = [AppearanceRequest(v.controls, v.render, s.prompt, s.negative_prompt, s.seed) for s, v in zip(specs, views)]
        images = backend.generate(requests)
        t0 = self.timings.add(f"appearance ({backend.name})", t0)
        if self._generation is None:  # fixed for the run: serialize once
            self._generation = json.dumps(backend.settings(), sort_keys=True)
        rows = [self._row(s, v, img, self._generation) for s, v, img in zip(specs, views, images)]
        self.timings.add("encode", t0)
        return rows

    def _row(self, spec: SampleSpec, view: View, image: np.ndarray, generation: str) -> dict:
        kind = self.job.control.kinds[0]
        render_info = {
            "schema": SCHEMA_VERSION,
            "dst3d": __version__,
            "znear": ZNEAR,
            "zfar": ZFAR,
            "control": self.job.control.model_dump(),
            "mesh_sha256": self.scenes.mesh_digest(spec.cad_id),
        }
        return {
            "id": spec.id,
            "index": spec.index,
            "image": encode_png(image),
            "control": encode_png(view.controls[kind]),
            "control_type": kind,
            "synset": spec.synset,
            "class_name": spec.class_name,
            "cad_id": spec.cad_id,
            **spec.viewpoint.as_dict(),
            "R": view.render.R.tolist(),
            "t": view.render.t.tolist(),
            "K": view.render.K.tolist(),
            "width": self.job.width,
            "height": self.job.height,
            **view.annotations,
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "seed": spec.seed,
            "backend": self.backend.name,
            "generation": generation,
            "render": json.dumps(render_info, sort_keys=True),
        }

    def close(self) -> None:
        self.scenes.close()


def run_job(job: JobConfig, out: Path, progress: bool = True, engine: str = "local", workers: int = 1, address: str | None = None) -> RunSummary:
    """Generate (or resume) the job into OUT. Validates everything before touching disk.

    ``engine``: ``local`` (this process when workers == 1, else worker processes) or
    ``ray`` (a Ray cluster at ``address``, or a local one). Re-running the same command
    after an interruption (even SIGKILL) finishes the job: finished shards are kept.
    """
    from . import engines, state

    out = Path(out)
    resuming = state.check_output(out, job)
    plan = Plan(job)
    preflight(job.backend, job.backend_options, job.control.kinds)
    inline = engine == "local" and workers <= 1
    generator = Generator(job, plan) if inline else None
    if generator is not None:
        generator.backend  # load now: a missing model fails before anything is written
    start = time.perf_counter()
    created = not out.exists()
    try:
        state.start_output(out, job, len(plan))
        with state.RunLock(out):
            state.remove_partial_files(out)
            shards = plan.shards()
            pending = state.pending_shards(out, shards)
            done = len(plan) - sum(len(shards[i]) for i in pending)
            with Progress(progress) as bars:
                advance = bars.task("generating", len(plan), done, unit="img")
                if inline:
                    results = list(engines.run_inline(job, out, shards, pending, advance, generator))
                elif engine == "local":
                    results = list(engines.run_processes(job, out, shards, pending, workers, advance))
                elif engine == "ray":
                    from .ray_engine import run_ray

                    results = list(run_ray(job, out, shards, pending, workers, address, advance))
                else:
                    raise UserError(f"unknown engine '{engine}'; choose local or ray")
            timings = engines.merge_timings(results)
            elapsed = time.perf_counter() - start
            state.write_json_atomic(out / state.STATS_FILE, {"elapsed_s": elapsed, "samples_this_run": sum(r["samples"] for r in results), "resumed": resuming, "engine": engine, "workers": workers, "timings_s": timings})
            write_card(out)
    except BaseException:
        if created and not any((out / "data").glob("*.parquet")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if generator is not None:
            generator.close()
    per_class = {s: job.per_class for s in plan.synsets}
    return RunSummary(out, len(plan), per_class, elapsed, timings)
