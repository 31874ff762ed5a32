"""A generation job as plain data, and its deterministic list of sample specs.

The plan is a pure function of the job config and the CAD manifest: sample ``i`` is the
same whichever machine, worker or run computes it. That is what makes runs resumable and
distributable without coordination.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..cad.library import CadLibrary, resolve_classes
from ..config import validated
from ..control.visual_prompt import ControlConfig
from ..errors import UserError
from ..appearance.request import ViewOf
from ..pose.sampling import PoseSampling
from ..pose.views import ZERO123PP_FOV_DEG, ViewsConfig, layout_viewpoints
from ..seeds import STREAMS, sample_rng, sample_seed
from ..pose.viewpoint import Viewpoint, focal_from_fov, intrinsics, project
from ..prompts import PromptConfig, build_prompt
from ..render.meshes import PREFIX as MESH_PREFIX
from ..render.meshes import MeshFolder
from ..render.scene import ZFAR, ZNEAR, Distractor
from ..store.shards import public_settings
from .distractors import DISTRACTOR_STREAM, DistractorConfig, place_distractors

POSE_REDRAWS = 32  # derived pose draws tried for a sample whose object would be out of view


class JobConfig(BaseModel):
    """Everything that determines a dataset. Load from YAML/JSON with :func:`load_job`."""

    model_config = ConfigDict(extra="forbid")
    classes: list[str] = Field(description="ImageNet synset ids, class names or PASCAL3D+ names")
    per_class: int = Field(8, ge=1)
    seed: int = Field(0, ge=0, description="job seed (a non-negative integer)")
    width: int = Field(512, ge=16, le=4096)
    height: int = Field(512, ge=16, le=4096)
    fov_deg: float = Field(30.0, gt=1.0, lt=170.0)
    pose: dict = Field(default_factory=dict, description="PoseSampling overrides for every class")
    class_pose: dict[str, dict] = Field(default_factory=dict, description="per-class PoseSampling overrides")
    control: ControlConfig = ControlConfig()
    prompts: PromptConfig = PromptConfig()
    backend: str = "render"
    backend_options: dict = Field(default_factory=dict)
    batch_size: int = Field(8, ge=1, description="images per backend call")
    shard_size: int = Field(256, ge=1, description="samples per parquet shard")
    cad_library: str | None = None
    distractors: DistractorConfig = Field(default_factory=DistractorConfig, description="other library objects around and in front of the target")
    views: ViewsConfig = Field(default_factory=ViewsConfig, description="multi-view groups: per_object views of one object instance (dst3d.pose.views)")

    @model_validator(mode="after")
    def _valid(self) -> "JobConfig":
        if not self.classes:
            raise ValueError("classes is empty; name at least one class, e.g. --classes car")
        for where, value in (("pose", self.pose), *((f"class_pose.{k}", v) for k, v in self.class_pose.items())):
            bad = _non_finite(value)
            if bad:
                raise ValueError(f"{where}.{bad} is not a finite number")
        # Overrides stay partial dicts (so they survive a JSON round trip to workers
        # unchanged) but must be valid PoseSampling fields and values.
        PoseSampling().merged(self.pose)
        for overrides in self.class_pose.values():
            PoseSampling().merged(self.pose).merged(overrides)
        views = self.views
        if views.active():
            n = views.per_object
            if self.per_class % n:
                low, high = max(n, self.per_class - self.per_class % n), self.per_class + n - self.per_class % n
                raise ValueError(f"per_class {self.per_class} is not a multiple of views.per_object {n} (per_class counts images, "
                                 f"{n} per object); use per_class {low} or {high}")
            if views.layout == "zero123pp" and self.fov_deg != ZERO123PP_FOV_DEG:
                raise ValueError(f"views.layout zero123pp renders with Zero123++'s field of view of {ZERO123PP_FOV_DEG:g} degrees; "
                                 f"set fov_deg to {ZERO123PP_FOV_DEG:g} (got {self.fov_deg:g})")
            # batches and shards hold whole groups: rounded up to a multiple of the group size
            self.batch_size = -(-self.batch_size // n) * n
            self.shard_size = -(-self.shard_size // n) * n
        return self

    def K(self):
        return intrinsics(self.width, self.height, focal_from_fov(self.width, self.fov_deg))

    def fingerprint(self) -> str:
        """Hash of the settings as given (a cache key); resume checks use :meth:`Plan.fingerprint`,
        which also covers the CAD models and reads class spellings as their synsets."""
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]

    def settings(self) -> dict:
        """``model_dump(mode="json")`` without settings that came later and are at their
        default (``distractors``, ``views`` without groups): jobs that do not use them keep
        their fingerprints and job files."""
        data = self.model_dump(mode="json")
        if not self.distractors.active() and self.distractors == DistractorConfig():
            data.pop("distractors")
        if not self.views.active():
            data.pop("views")
        return data

    def public(self) -> dict:
        """The settings with local paths (backgrounds, local model folders) replaced by a name
        and a hash of their listing, and the CAD library by its folder name: what the job file
        and the card may show."""
        data = self.settings()
        data["backend_options"] = public_settings(data["backend_options"])
        if "distractors" in data:
            data["distractors"] = public_settings(data["distractors"])
        if data.get("cad_library"):
            data["cad_library"] = Path(data["cad_library"]).name
        return data


def _non_finite(value, path: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number in nested settings, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}{key}.")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}{i}.")
            if found:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return path.rstrip(".") or "value"
    return None


def load_job(path: Path | None, overrides: dict, backend_options: dict | None = None) -> JobConfig:
    """Job from a YAML/JSON file (optional) with values on top (None values ignored);
    ``backend_options`` are merged into the job's, not replacing them. One-line errors."""
    data: dict = read_job_file(path) if path is not None else {}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(overrides.get("views"), dict) and isinstance(data.get("views"), dict):
        overrides["views"] = {**data["views"], **overrides["views"]}  # --views-per-object on a file's views: merged
    data.update(overrides)
    if backend_options:
        data["backend_options"] = {**(data.get("backend_options") or {}), **backend_options}
    return validated(JobConfig, data, "job setting")


def read_job_file(path: Path) -> dict:
    """The settings mapping of a job YAML/JSON file; one line for every way it can be wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UserError(f"job config {path} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"job config {path} is a folder; pass a YAML or JSON file") from None
    except UnicodeDecodeError:
        raise UserError(f"job config {path} is not UTF-8 text; save it as UTF-8 YAML or JSON") from None
    except OSError as exc:
        raise UserError(f"job config {path} cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"job config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UserError(f"job config {path} must be a mapping of settings, got {type(data).__name__}")
    return data


@dataclass(frozen=True)
class SampleSpec:
    """One sample to make: everything but pixels, fixed by (job, index)."""

    index: int
    id: str
    synset: str
    class_name: str
    cad_id: str
    viewpoint: Viewpoint
    seed: int
    prompt: str
    negative_prompt: str
    pose_draw: int = 0  # 0: the sample's pose stream; k > 0: the k-th derived draw (object was out of view)
    distractors: tuple[Distractor, ...] = ()  # other models drawn with the target (job.distractors)
    view: ViewOf | None = None  # its place in a multi-view group (job.views), None for single images
    base_azimuth: float | None = None  # orbit/zero123pp groups: the group's base (condition view) azimuth, radians


class Plan:
    """The job's samples, class-major: indices [c * per_class, (c + 1) * per_class) are class c."""

    def __init__(self, job: JobConfig, library: CadLibrary | None = None):
        self.job = job
        self.library = library or CadLibrary(job.cad_library)
        self.synsets = [synset for synset, _ in resolve_classes(job.classes, self.library)]  # `cad`: every class of the library
        self._pose = {s: self.pose_sampling(s) for s in self.synsets}
        self._extent: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._radius: dict[str, float] = {}
        self.meshes = MeshFolder(job.distractors.meshes) if job.distractors.meshes else None  # loose distractor meshes
        self._candidates: dict[str, list[tuple[str, float]]] = {}
        for synset in self.synsets:
            models = self.library.manifest.classes[synset].models
            if not models:
                raise UserError(f"class {synset} has no CAD models; add one with `dst3d cad import`")
            for model in models:  # fail now on a bad mesh, not after hours of generation
                self.library.load_parts(model)
        self._K = job.K()
        for c, synset in enumerate(self.synsets):  # pose ranges that put the object out of view fail now
            for index in range(c * job.per_class, c * job.per_class + min(job.per_class, 16)):
                self.spec(index)

    def __len__(self) -> int:
        return len(self.synsets) * self.job.per_class

    def pose_sampling(self, synset: str) -> PoseSampling:
        """Built-in defaults < the class's manifest defaults < job.pose < job.class_pose."""
        cls = self.library.manifest.classes[synset]
        per_class = {}
        for key, value in self.job.class_pose.items():
            if self.library.resolve_class(key) == synset:
                per_class = value
        try:
            sampling = PoseSampling().merged(cls.pose_defaults).merged(self.job.pose).merged(per_class)
        except ValidationError as exc:
            raise UserError(f"invalid pose settings for class {synset}: {exc.errors()[0]['msg']}") from None
        bad = _non_finite(sampling.model_dump())
        if bad:
            raise UserError(f"invalid pose settings for class {synset}: {bad} is not a finite number")
        return sampling

    def spec(self, index: int) -> SampleSpec:
        """Sample ``index``. In a multi-view job (``views.per_object`` N), group g of class c holds
        indices ``[c * per_class + g * N, ... + N)``: its CAD model, prompt and appearance seed are
        the group's first index's, its viewpoint the layout's view ``index - first`` around the
        first index's pose draw (``random``: the sample's own draw); distractors are per view."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        job = self.job
        synset = self.synsets[index // job.per_class]
        cls = self.library.manifest.classes[synset]
        views = job.views
        n = views.per_object if views.active() else 1
        first = index - (index % job.per_class) % n  # the group's first index (the sample itself without groups)
        model = cls.models[int(sample_rng(job.seed, first, "cad").integers(len(cls.models)))]
        view, base_azimuth = None, None
        if n == 1 or views.layout == "random":
            viewpoint, draw = self._draw(synset, model.id, index, lambda vp: [vp])
        else:
            base, draw = self._draw(synset, model.id, first, lambda vp: layout_viewpoints(views, vp))
            viewpoint, base_azimuth = layout_viewpoints(views, base)[index - first], base.azimuth
        if n > 1:
            view = ViewOf(group=f"{synset}-g{(first % job.per_class) // n:06d}", index=index - first, size=n)
        prompt, negative = build_prompt(job.prompts, synset, cls.name, job.seed, first)
        return SampleSpec(
            index=index,
            id=f"{synset}-{index % job.per_class:06d}",
            synset=synset,
            class_name=cls.name,
            cad_id=model.id,
            viewpoint=viewpoint,
            seed=sample_seed(job.seed, first, "appearance"),
            prompt=prompt,
            negative_prompt=negative,
            pose_draw=draw,
            distractors=self.distractors(index, synset, viewpoint, model.id) if job.distractors.active() else (),
            view=view,
            base_azimuth=base_azimuth,
        )

    def group(self, index: int) -> range:
        """The indices of sample ``index``'s multi-view group (``range(index, index + 1)`` without groups)."""
        n = self.job.views.per_object if self.job.views.active() else 1
        first = index - (index % self.job.per_class) % n
        return range(first, first + n)

    def _draw(self, synset: str, cad_id: str, index: int, views) -> tuple[Viewpoint, int]:
        """Sample ``index``'s pose draw and its number: the pose stream's first draw, or the first
        derived draw of the same stream (up to POSE_REDRAWS) for which every viewpoint of
        ``views(draw)`` (the draw itself, or a group's layout around it) has the model in view."""
        job = self.job
        viewpoint, draw = self._pose[synset].sample(sample_rng(job.seed, index, "pose")), 0
        while not all(self.in_view(cad_id, vp) for vp in views(viewpoint)):  # deterministic: derived draws of the same stream
            draw += 1
            if draw > POSE_REDRAWS:
                cls = self.library.manifest.classes[synset]
                raise UserError(f"the pose settings of class {synset} ({cls.name.split(',')[0]}) put the object out of view "
                                f"(e.g. sample {index}: distance {viewpoint.distance:.3g}, camera inside the object or beyond the "
                                f"far plane {ZFAR:g}); widen or move distance_range" + (" or views.distance" if job.views.active() else ""))
            viewpoint = self._pose[synset].sample(np.random.default_rng(np.random.SeedSequence([int(job.seed), int(index), STREAMS["pose"], draw])))
        return viewpoint, draw

    def distractors(self, index: int, synset: str, viewpoint: Viewpoint, cad_id: str, draw: int = 0) -> tuple[Distractor, ...]:
        """The sample's distractors: a pure function of (job seed, index, draw) and the target's
        pose; ``draw`` k > 0 is the k-th redraw (the generator's, when they hid too much of it)."""
        entropy = [int(self.job.seed), int(index), DISTRACTOR_STREAM] + ([int(draw)] if draw else [])
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        return place_distractors(rng, self.job.distractors, viewpoint, self.radius(cad_id), self._distractor_candidates(synset))

    def radius(self, cad_id: str) -> float:
        """The model's bounding radius about its origin (object units)."""
        if cad_id not in self._radius:
            parts = self.meshes.load_parts(cad_id) if cad_id.startswith(MESH_PREFIX) else self.library.load_parts(self.library.model(cad_id)[1])
            vertices = np.concatenate([p.vertices for p in parts])
            self._radius[cad_id] = float(np.linalg.norm(vertices, axis=1).max())
        return self._radius[cad_id]

    def _distractor_candidates(self, synset: str) -> list[tuple[str, float]]:
        """(cad_id, radius) of the models a distractor of a ``synset`` target may be (sorted: plan order fixed)."""
        if synset not in self._candidates:
            names = self.job.distractors.classes
            pool = [self.library.resolve_class(n) for n in names] if names else [s for s in sorted(self.library.manifest.classes) if s != synset]
            models = sorted(m.id for s in pool for m in self.library.manifest.classes[s].models)
            if self.meshes is not None:
                models = self.meshes.ids()
            if not models:
                raise UserError("distractors: no CAD model to draw them from; add classes to distractors.classes or the library")
            self._candidates[synset] = [(m, self.radius(m)) for m in models]
        return self._candidates[synset]

    def in_view(self, cad_id: str, viewpoint: Viewpoint) -> bool:
        """Whether the model can appear in the image: the camera outside its bounding box and
        some vertex between the clip planes projecting onto the image's pixel centres."""
        if cad_id not in self._extent:
            _, model = self.library.model(cad_id)
            vertices = np.concatenate([p.vertices for p in self.library.load_parts(model)])
            step = max(1, len(vertices) // 4096)
            self._extent[cad_id] = (vertices.min(0), vertices.max(0), vertices[::step])
        lo, hi, vertices = self._extent[cad_id]
        centre = viewpoint.camera_centre()
        if np.all(centre > lo - 1e-6) and np.all(centre < hi + 1e-6):
            return False
        uv, z = project(vertices, viewpoint.rotation(), viewpoint.translation(), self._K)
        front = (z > ZNEAR) & (z < ZFAR)
        if not front.any():
            return False
        uv = uv[front]
        x0, y0 = np.maximum(uv.min(0), 0.0)
        x1, y1 = np.minimum(uv.max(0), (self.job.width, self.job.height))
        return bool(np.floor(x1 - 0.5) >= np.ceil(x0 - 0.5) and np.floor(y1 - 0.5) >= np.ceil(y0 - 0.5))

    def identity(self) -> dict:
        """What decides the samples' content: the settings (classes as synsets, class_pose by
        synset, local paths as name + listing hash, no CAD library location) and the job's
        CAD classes as the manifest describes them, with each mesh file's sha256."""
        settings = self.job.settings()
        settings.pop("cad_library", None)
        settings["classes"] = list(self.synsets)
        settings["class_pose"] = {self.library.resolve_class(k): v for k, v in settings["class_pose"].items()}
        settings["backend_options"] = public_settings(settings["backend_options"])
        if "distractors" in settings:
            settings["distractors"] = public_settings(settings["distractors"])
        cad = {}
        for synset in self.synsets:
            cls = self.library.manifest.classes[synset].model_dump(mode="json")
            for model in cls["models"]:
                path = self.library.root / model["mesh"]
                model["mesh_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            cad[synset] = cls
        return {"settings": settings, "cad": cad}

    def fingerprint(self) -> str:
        """Hash of :meth:`identity` (what a resume must match)."""
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    def shards(self) -> list[range]:
        size = self.job.shard_size
        return [range(start, min(start + size, len(self))) for start in range(0, len(self), size)]


def identity_differences(recorded: dict, current: dict) -> list[str]:
    """What differs between two :meth:`Plan.identity` records, as short phrases."""
    out = []
    old, new = recorded.get("settings", {}), current.get("settings", {})
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{key} ({_short(old.get(key))} before, {_short(new.get(key))} now)")
    old_cad, new_cad = recorded.get("cad", {}), current.get("cad", {})
    for synset in sorted(set(old_cad) | set(new_cad)):
        a, b = old_cad.get(synset), new_cad.get(synset)
        if a == b or a is None or b is None:
            continue  # a class added or removed already shows in 'classes'
        name = (b.get("name") or synset).split(",")[0]
        models_a = {m["id"]: m for m in a.get("models", [])}
        models_b = {m["id"]: m for m in b.get("models", [])}
        added = sorted(set(models_b) - set(models_a))
        removed = sorted(set(models_a) - set(models_b))
        changed = sorted(m for m in set(models_a) & set(models_b) if models_a[m] != models_b[m])
        parts = [f"{', '.join(added)} added"] * bool(added) + [f"{', '.join(removed)} removed"] * bool(removed)
        parts += [f"{', '.join(changed)} changed"] * bool(changed)
        if {k: v for k, v in a.items() if k != "models"} != {k: v for k, v in b.items() if k != "models"}:
            parts.append("class entry changed")
        out.append(f"CAD models of class {synset} ({name}): {'; '.join(parts)}")
    return out


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True) if value is not None else "unset"
    return text if len(text) <= 60 else text[:57] + "..."
