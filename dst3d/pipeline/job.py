"""A generation job as plain data, and its deterministic list of sample specs.

The plan is a pure function of the job config and the CAD manifest: sample ``i`` is the
same whichever machine, worker or run computes it. That is what makes runs resumable and
distributable without coordination.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..cad.library import CadLibrary
from ..config import validated
from ..control.visual_prompt import ControlConfig
from ..errors import UserError
from ..pose.sampling import PoseSampling
from ..seeds import sample_rng, sample_seed
from ..pose.viewpoint import Viewpoint, focal_from_fov, intrinsics
from ..prompts import PromptConfig, build_prompt


class JobConfig(BaseModel):
    """Everything that determines a dataset. Load from YAML/JSON with :func:`load_job`."""

    model_config = ConfigDict(extra="forbid")
    classes: list[str] = Field(description="ImageNet synset ids, class names or PASCAL3D+ names")
    per_class: int = Field(8, ge=1)
    seed: int = 0
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

    @model_validator(mode="after")
    def _valid(self) -> "JobConfig":
        if not self.classes:
            raise ValueError("classes is empty; name at least one class, e.g. --classes car")
        # Overrides stay partial dicts (so they survive a JSON round trip to workers
        # unchanged) but must be valid PoseSampling fields and values.
        PoseSampling().merged(self.pose)
        for overrides in self.class_pose.values():
            PoseSampling().merged(self.pose).merged(overrides)
        return self

    def K(self):
        return intrinsics(self.width, self.height, focal_from_fov(self.width, self.fov_deg))

    def fingerprint(self) -> str:
        """Hash of the settings that decide sample content (for resume checks)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def load_job(path: Path | None, overrides: dict, backend_options: dict | None = None) -> JobConfig:
    """Job from a YAML/JSON file (optional) with values on top (None values ignored);
    ``backend_options`` are merged into the job's, not replacing them. One-line errors."""
    data: dict = read_job_file(path) if path is not None else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
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


class Plan:
    """The job's samples, class-major: indices [c * per_class, (c + 1) * per_class) are class c."""

    def __init__(self, job: JobConfig, library: CadLibrary | None = None):
        self.job = job
        self.library = library or CadLibrary(job.cad_library)
        self.synsets = _unique([self.library.resolve_class(c) for c in job.classes])
        self._pose = {s: self.pose_sampling(s) for s in self.synsets}
        for synset in self.synsets:
            models = self.library.manifest.classes[synset].models
            if not models:
                raise UserError(f"class {synset} has no CAD models; add one with `dst3d cad import`")
            for model in models:  # fail now on a bad mesh, not after hours of generation
                self.library.load_parts(model)

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
            return PoseSampling().merged(cls.pose_defaults).merged(self.job.pose).merged(per_class)
        except ValidationError as exc:
            raise UserError(f"invalid pose settings for class {synset}: {exc.errors()[0]['msg']}") from None

    def spec(self, index: int) -> SampleSpec:
        if not 0 <= index < len(self):
            raise IndexError(index)
        job = self.job
        synset = self.synsets[index // job.per_class]
        cls = self.library.manifest.classes[synset]
        model = cls.models[int(sample_rng(job.seed, index, "cad").integers(len(cls.models)))]
        viewpoint = self._pose[synset].sample(sample_rng(job.seed, index, "pose"))
        prompt, negative = build_prompt(job.prompts, synset, cls.name, job.seed, index)
        return SampleSpec(
            index=index,
            id=f"{synset}-{index % job.per_class:06d}",
            synset=synset,
            class_name=cls.name,
            cad_id=model.id,
            viewpoint=viewpoint,
            seed=sample_seed(job.seed, index, "appearance"),
            prompt=prompt,
            negative_prompt=negative,
        )

    def shards(self) -> list[range]:
        size = self.job.shard_size
        return [range(start, min(start + size, len(self))) for start in range(0, len(self), size)]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
