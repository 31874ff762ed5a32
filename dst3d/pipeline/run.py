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
from ..appearance.base import AppearanceRequest, load_backend
from ..cad.library import CadLibrary
from ..control.visual_prompt import ControlConfig, make_controls
from ..errors import UserError
from ..render.annotations import bbox_from_mask, project_keypoints, visible_fraction
from ..render.renderer import Renderer, RenderResult
from ..store.card import write_card
from ..store.schema import SCHEMA_VERSION, encode_png
from ..store.shards import write_shard
from .job import JobConfig, Plan, SampleSpec

JOB_FILE = "dst3d_job.json"
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
        merged = _merge_parts(parts)
        self._open[cad_id] = (renderer, (model, merged))
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


def _merge_parts(parts):
    vertices, faces, offset = [], [], 0
    for part in parts:
        vertices.append(np.asarray(part.vertices))
        faces.append(np.asarray(part.faces) + offset)
        offset += len(part.vertices)
    return np.vstack(vertices), np.vstack(faces)


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
    renderer, (model, (vertices, faces)) = scenes.get(cad_id)
    result = renderer.render(R, t, K)
    names, points = scenes.library.keypoints(model)
    annotations = {
        "bbox": bbox_from_mask(result.mask),
        "visible_fraction": visible_fraction(result, vertices, faces),
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
    """Makes the rows of a job's shards; one instance per worker process."""

    def __init__(self, job: JobConfig, plan: Plan | None = None, backend=None):
        self.job = job
        self.plan = plan or Plan(job)
        self.backend = backend or load_backend(job.backend, job.backend_options)
        self.scenes = SceneCache(self.plan.library, job.width, job.height)
        self.timings = Timings()
        self._generation = json.dumps(self.backend.settings(), sort_keys=True)

    def rows(self, indices: range, on_sample=None) -> list[dict]:
        rows = []
        for start in range(indices.start, indices.stop, self.job.batch_size):
            batch = [self.plan.spec(i) for i in range(start, min(start + self.job.batch_size, indices.stop))]
            rows.extend(self._batch(batch))
            if on_sample:
                on_sample(len(batch))
        return rows

    def _batch(self, specs: list[SampleSpec]) -> list[dict]:
        t0 = time.perf_counter()
        K = self.job.K()
        views = [render_view(self.scenes, s.cad_id, s.viewpoint.rotation(), s.viewpoint.translation(), K, self.job.control) for s in specs]
        t0 = self.timings.add("render+control+annotate", t0)
        requests = [AppearanceRequest(v.controls, v.render, s.prompt, s.negative_prompt, s.seed) for s, v in zip(specs, views)]
        images = self.backend.generate(requests)
        t0 = self.timings.add(f"appearance ({self.backend.name})", t0)
        rows = [self._row(s, v, img) for s, v, img in zip(specs, views, images)]
        self.timings.add("encode", t0)
        return rows

    def _row(self, spec: SampleSpec, view: View, image: np.ndarray) -> dict:
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
            "generation": self._generation,
            "render": json.dumps(render_info, sort_keys=True),
        }

    def close(self) -> None:
        self.scenes.close()


def prepare_output(out: Path) -> None:
    """Refuse to mix a new dataset into existing files; check writability before work."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"output {out} already exists and is not empty; choose a new --out or remove it")
    parent = out.parent if not out.exists() else out
    if not parent.exists():
        raise UserError(f"parent folder {parent} of --out does not exist; create it first")
    probe = parent / f".dst3d-write-test-{time.time_ns()}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {parent} ({exc.strerror}); choose a writable --out") from None


def run_job(job: JobConfig, out: Path, progress: bool = True) -> RunSummary:
    """Validate everything, then generate; a failure before the first shard leaves no folder."""
    out = Path(out)
    prepare_output(out)
    plan = Plan(job)
    generator = Generator(job, plan)
    created = not out.exists()
    start = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / JOB_FILE).write_text(json.dumps({"job": job.model_dump(mode="json"), "samples": len(plan), "fingerprint": job.fingerprint(), "dst3d": __version__}, indent=1))
        shards = plan.shards()
        with _progress_bar(len(plan), progress) as advance:
            for number, indices in enumerate(shards):
                rows = generator.rows(indices, on_sample=advance)
                t0 = time.perf_counter()
                write_shard(out, number, len(shards), rows)
                generator.timings.add("write", t0)
    except BaseException:
        if created and not any((out / "data").glob("*.parquet")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        generator.close()
    write_card(out)
    per_class = {s: job.per_class for s in plan.synsets}
    return RunSummary(out, len(plan), per_class, time.perf_counter() - start, dict(generator.timings.seconds))


class _progress_bar:
    """rich progress with rate and ETA; silent when disabled (tests, non-TTY logs)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("generating"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        )
        self._progress.start()
        task = self._progress.add_task("generate", total=self.total, rate="")
        started = time.perf_counter()

        def advance(n: int) -> None:
            self._progress.advance(task, n)
            done = self._progress.tasks[0].completed
            self._progress.update(task, rate=f"{done / max(time.perf_counter() - started, 1e-9):.1f} img/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self._progress.stop()
