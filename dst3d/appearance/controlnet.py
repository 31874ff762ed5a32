"""The ``controlnet`` appearance backend: diffusers ControlNet pipelines (SD1.5 and SDXL).

The render's control images (edges, depth, normals) condition a text-to-image diffusion
model, so the generated image inherits the render's exact pose. Defaults follow 3D-DST:
Stable Diffusion 1.5 with ControlNet v1.1 canny, 20 UniPC steps, guidance 7.5.

Any Hub id or local folder works for each model. Hub models are located before anything
is loaded (:func:`locate_model`): offline, or with the Hub unreachable, a model that is not
already cached fails at once with one line saying how to provide it, instead of hanging in
retries. Every record stores :meth:`ControlNetBackend.settings` (model ids, resolved
revisions, scheduler, steps, guidance, dtype, ...).

Determinism: each image gets its own ``torch.Generator`` on the CPU seeded with the
request's seed, so its initial noise depends on that seed alone (not on its batch
neighbours, nor on the device). Same seed + same settings + same device and batch
composition = the same image. Across batch sizes the math is the same but float kernels
may round differently (a level or two of 255 on CPU).

torch, diffusers and transformers are imported only inside functions: importing this module
is cheap, and the ``render`` backend never pays for them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import UserError

if TYPE_CHECKING:  # base imports the renderer; the prompts' LLM path uses this module's Hub helpers
    from .base import AppearanceRequest

log = logging.getLogger("dst3d.controlnet")

ControlKind = Literal["canny", "depth", "normal"]
PipelineKind = Literal["sd15", "sdxl"]

DEFAULT_BASE = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_CONTROLNETS: dict[str, dict[str, str]] = {
    "sd15": {
        "canny": "lllyasviel/control_v11p_sd15_canny",
        "depth": "lllyasviel/control_v11f1p_sd15_depth",
        "normal": "lllyasviel/control_v11p_sd15_normalbae",
    },
    "sdxl": {
        "canny": "diffusers/controlnet-canny-sdxl-1.0",
        "depth": "diffusers/controlnet-depth-sdxl-1.0",
    },
}
DEFAULT_LCM_LORA = {"sd15": "latent-consistency/lcm-lora-sdv1-5", "sdxl": "latent-consistency/lcm-lora-sdxl"}

# name -> (diffusers class, extra config)
SCHEDULERS: dict[str, tuple[str | None, dict]] = {
    "unipc": ("UniPCMultistepScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "model": (None, {}),  # keep the scheduler the base model ships with
}
SchedulerName = Literal["unipc", "dpmpp_2m", "dpmpp_2m_karras", "ddim", "euler", "euler_a", "pndm", "lcm", "model"]
DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


class ControlNetConfig(BaseModel):
    """Options of the ``controlnet`` backend (``backend_options`` in a job config).

    Models: ``base_model`` and each ``controlnet`` are Hub ids or local folders in diffusers
    layout. ``controlnet`` may be one id or a list (multi-ControlNet); ``controls`` names
    the control image fed to each, in order (``canny``, ``depth``, ``normal``). Without
    ``controlnet`` the default model for each control kind and base type is used.

    Speed: ``dtype`` (auto: fp16 on CUDA, fp32 on CPU), ``channels_last`` and ``fuse_qkv``
    (auto: on CUDA), ``compile`` (torch.compile the UNet and ControlNets), ``few_step``
    / ``lcm_lora`` (LCM-LoRA: LCM scheduler, 4 steps, guidance 1 unless set),
    ``cpu_offload`` (model CPU offload for small GPUs), ``max_batch_size`` (split the job's
    batches). Images are generated at ``resolution`` (default: the job's size rounded to
    a multiple of 8) and resized to the job's size if they differ.
    """

    model_config = ConfigDict(extra="forbid")
    base_model: str = DEFAULT_BASE
    revision: str | None = Field(None, description="base model revision (branch, tag or commit)")
    variant: str | None = Field(None, description="weight variant of the base model, e.g. fp16 (half the download)")
    pipeline: Literal["auto", "sd15", "sdxl"] = "auto"
    controlnet: str | list[str] | None = None
    controlnet_revision: str | list[str | None] | None = None
    controls: list[ControlKind] = ["canny"]
    vae: str | None = Field(None, description="replacement VAE, e.g. madebyollin/sdxl-vae-fp16-fix")
    vae_revision: str | None = None
    scheduler: SchedulerName = "unipc"
    steps: int = Field(20, ge=1, le=1000)
    guidance_scale: float = Field(7.5, ge=0.0)
    conditioning_scale: float | list[float] = 1.0
    control_guidance_start: float = Field(0.0, ge=0.0, le=1.0)
    control_guidance_end: float = Field(1.0, ge=0.0, le=1.0)
    resolution: int | tuple[int, int] | None = Field(None, description="generation size: N (square) or [width, height]; default: the job's size")
    few_step: bool = False
    lcm_lora: str | None = None
    lcm_lora_revision: str | None = None
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = "auto"
    device: str = "auto"
    attention: Literal["sdpa", "eager"] = "sdpa"
    channels_last: bool | Literal["auto"] = "auto"
    fuse_qkv: bool | Literal["auto"] = "auto"
    compile: bool = False
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    cpu_offload: bool = False
    deterministic: bool = False
    max_batch_size: int | None = Field(None, ge=1)
    local_files_only: bool | Literal["auto"] = "auto"
    progress: bool = False

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value):
        if value is None:
            return value
        sizes = (value, value) if isinstance(value, int) else tuple(value)
        if any(s < 64 or s % 8 for s in sizes):
            raise ValueError(f"resolution must be a multiple of 8 and at least 64, got {value}")
        return value

    @model_validator(mode="after")
    def _valid(self) -> "ControlNetConfig":
        n = len(self.controls)
        if n == 0:
            raise ValueError("controls must name at least one control kind (canny, depth, normal)")
        if isinstance(self.controlnet, list) and len(self.controlnet) != n:
            raise ValueError(f"controlnet lists {len(self.controlnet)} models but controls lists {n} kinds; give one control kind per ControlNet")
        if isinstance(self.controlnet, str) and n != 1:
            raise ValueError(f"one controlnet given for {n} control kinds; list one ControlNet per kind")
        if isinstance(self.controlnet_revision, list) and len(self.controlnet_revision) != n:
            raise ValueError("controlnet_revision must list one revision per ControlNet")
        if isinstance(self.conditioning_scale, list) and len(self.conditioning_scale) != n:
            raise ValueError("conditioning_scale must list one scale per ControlNet")
        if self.control_guidance_end < self.control_guidance_start:
            raise ValueError("control_guidance_end must not be below control_guidance_start")
        if self.lcm_lora is not None:
            self.few_step = True
        if self.few_step:
            # LCM-LoRA's recommended settings, unless set explicitly.
            if "scheduler" not in self.model_fields_set:
                self.scheduler = "lcm"
            if "steps" not in self.model_fields_set:
                self.steps = 4
            if "guidance_scale" not in self.model_fields_set:
                self.guidance_scale = 1.0
        return self

    def scales(self) -> list[float]:
        if isinstance(self.conditioning_scale, list):
            return [float(s) for s in self.conditioning_scale]
        return [float(self.conditioning_scale)] * len(self.controls)


# --------------------------------------------------------------------------------------
# Locating models: local folder, Hub cache or Hub, failing fast when none will do
# --------------------------------------------------------------------------------------


@dataclass
class ModelSource:
    """Where a model comes from. ``path`` is what ``from_pretrained`` gets."""

    id: str
    path: str
    revision: str | None
    resolved: str  # commit hash, 'local:<folder>', or the revision asked for when unknown
    local_files_only: bool
    probe: str | None = None  # local path of the probe file (model_index.json / config.json)

    def record(self) -> dict:
        return {"id": self.id, "revision": self.resolved}


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as huggingface_hub reads it."""
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def _missing(what: str, model_id: str, option: str, reason: str) -> UserError:
    return UserError(
        f"{what} '{model_id}' is not available ({reason}); download it with `hf download {model_id}` "
        f"(`huggingface-cli download` in older versions) on a machine with network, or pass a local folder via {option}"
    )


def locate_model(
    model_id: str,
    *,
    revision: str | None = None,
    probe_file: str = "config.json",
    what: str = "model",
    option: str = "backend_options / --config",
    local_files_only: bool | None = None,
    probe_timeout: float = 10.0,
) -> ModelSource:
    """Find a model without slow surprises.

    A local folder is used as is (``resolved='local:<path>'``). A Hub id is looked up in the
    cache; offline (HF_HUB_OFFLINE or ``local_files_only``) a miss raises at once. Online,
    one metadata request with a short timeout checks the Hub: unreachable, a cached model is
    loaded from the cache and a missing one raises; a missing repo, revision or file raises.
    """
    path = Path(model_id).expanduser()
    if path.is_dir():
        if probe_file and not (path / probe_file).is_file():
            raise UserError(f"{what} folder {path} has no {probe_file}; point {option} at a folder in diffusers/transformers layout (as saved by save_pretrained)")
        return ModelSource(model_id, str(path.resolve()), None, f"local:{path.resolve()}", True, str(path / probe_file) if probe_file else None)
    if _looks_like_path(model_id) or path.exists():
        raise UserError(f"{what} folder {model_id} does not exist; pass an existing folder or a Hugging Face Hub id via {option}")

    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError

    try:
        cached = try_to_load_from_cache(model_id, probe_file, revision=revision)
    except HFValidationError:
        raise UserError(f"{what} '{model_id}' is neither an existing folder nor a valid Hugging Face Hub id (owner/name); fix {option}") from None
    cached = cached if isinstance(cached, str) else None
    offline = hub_offline() if local_files_only is None else local_files_only
    if offline:
        if cached is None:
            raise _missing(what, model_id, option, "not in the Hugging Face cache and the Hub is offline (HF_HUB_OFFLINE or local_files_only)")
        return ModelSource(model_id, model_id, revision, _commit_of(cached) or revision or "unknown", True, cached)

    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(model_id, probe_file, revision=revision), timeout=probe_timeout)
    except Exception as exc:
        problem = _hub_problem(exc, what, model_id, revision, probe_file, option)
        if problem is not None:
            raise problem from None
        # Connection refused, DNS, timeout, proxy, 5xx ...: the Hub is unreachable.
        reason = f"the Hub cannot be reached: {type(exc).__name__}"
        if cached is None:
            raise _missing(what, model_id, option, f"not in the Hugging Face cache and {reason}") from None
        log.warning("%s; using the cached copy of %s", reason, model_id)
        return ModelSource(model_id, model_id, revision, _commit_of(cached) or revision or "unknown", True, cached)
    try:
        probe = hf_hub_download(model_id, probe_file, revision=revision)
    except Exception as exc:
        raise _missing(what, model_id, option, f"download of {probe_file} failed: {type(exc).__name__}") from None
    return ModelSource(model_id, model_id, revision, meta.commit_hash or _commit_of(probe) or revision or "unknown", False, probe)


def _hub_problem(exc: Exception, what: str, model_id: str, revision: str | None, probe_file: str, option: str) -> UserError | None:
    """A UserError for answers from the Hub that no retry will change; None otherwise."""
    from huggingface_hub import errors as hf_errors

    if isinstance(exc, hf_errors.GatedRepoError):
        return UserError(f"{what} '{model_id}' is gated: accept its licence on the Hub and log in with `hf auth login`, or pass a local folder via {option}")
    if isinstance(exc, hf_errors.RepositoryNotFoundError):
        return UserError(f"{what} '{model_id}' does not exist on the Hub (or is private: log in with `hf auth login`); fix {option}")
    if isinstance(exc, hf_errors.RevisionNotFoundError):
        return UserError(f"{what} '{model_id}' has no revision '{revision}'; fix the revision or {option}")
    if isinstance(exc, hf_errors.EntryNotFoundError) and not isinstance(exc, hf_errors.LocalEntryNotFoundError):
        return UserError(f"{what} '{model_id}' has no {probe_file}: it is not a diffusers/transformers model repo of the expected kind; fix {option}")
    return None


def _commit_of(cached_file: str) -> str | None:
    """The commit hash in a Hub-cache path: .../snapshots/<commit>/<file>."""
    parts = Path(cached_file).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def load_or_explain(load, source: ModelSource, what: str, option: str):
    """Call ``load()``; turn 'file missing' errors into one-line UserErrors."""
    try:
        return load()
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        lowered = message.lower()
        if isinstance(exc, OSError) or any(k in lowered for k in ("not found", "no such file", "does not appear to have", "cannot find", "offline", "local_files_only")):
            where = "local folder" if source.resolved.startswith("local:") else ("Hugging Face cache" if source.local_files_only else "Hub")
            raise UserError(
                f"{what} '{source.id}' could not be loaded from the {where}: {message[:300]}; download it completely with "
                f"`hf download {source.id}` on a machine with network, or pass a complete local folder via {option}"
            ) from None
        raise


# --------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------


def _read_json(path: str | None) -> dict:
    import json

    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def check_models(options: dict | None = None) -> None:
    """Validate ``backend_options`` and locate every model they name, without loading any
    (no torch import): for a parent process that must fail fast before its workers load."""
    from pydantic import ValidationError

    try:
        config = ControlNetConfig.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "backend_options"
        raise UserError(f"invalid backend_options.{where}: {err['msg']}") from None
    ControlNetBackend(config, load=False)


def detect_pipeline(model_index: dict, model_id: str) -> PipelineKind:
    """sd15 or sdxl from a diffusers model_index.json."""
    name = str(model_index.get("_class_name", ""))
    if "text_encoder_2" in model_index or "XL" in name:
        return "sdxl"
    if "unet" in model_index and "text_encoder" in model_index:
        return "sd15"
    raise UserError(
        f"base model '{model_id}' is a {name or 'unknown'} pipeline; the controlnet backend supports Stable Diffusion 1.x/2.x "
        "and SDXL UNet pipelines (set backend_options.pipeline to sd15 or sdxl to force one)"
    )


class ControlNetBackend:
    """Control images + prompts + seeds -> images, through a diffusers ControlNet pipeline."""

    name = "controlnet"

    def __init__(self, config: ControlNetConfig | None = None, load: bool = True):
        """Locate every model (fast, no torch import; raises UserError for a missing one),
        then, with ``load``, build the pipeline on its device."""
        self.config = config or ControlNetConfig()
        self._locate()
        if load:
            self._resolve_runtime()
            self.pipe = self._load()

    def _locate(self) -> None:
        c = self.config
        self.local_only = hub_offline() if c.local_files_only == "auto" else bool(c.local_files_only)
        self.base = locate_model(c.base_model, revision=c.revision, probe_file="model_index.json", what="base model",
                                 option="backend_options.base_model", local_files_only=self.local_only)
        index = _read_json(self.base.probe)
        self.kind: PipelineKind = c.pipeline if c.pipeline != "auto" else detect_pipeline(index, c.base_model)
        self.controlnets = self._locate_controlnets(index)
        self.vae = locate_model(c.vae, revision=c.vae_revision, what="VAE", option="backend_options.vae", local_files_only=self.local_only) if c.vae else None
        self.lcm_lora = None
        if c.few_step:
            import importlib.util

            if importlib.util.find_spec("peft") is None:
                raise UserError("few-step mode (few_step / lcm_lora) needs the peft package to load the LCM-LoRA: pip install peft")
            lora_id = c.lcm_lora or DEFAULT_LCM_LORA[self.kind]
            self.lcm_lora = locate_model(lora_id, revision=c.lcm_lora_revision, probe_file="pytorch_lora_weights.safetensors",
                                         what="LCM-LoRA", option="backend_options.lcm_lora", local_files_only=self.local_only)

    # -- model resolution ---------------------------------------------------------------
    def _locate_controlnets(self, index: dict) -> list[ModelSource] | None:
        c = self.config
        if c.controlnet is None and index.get("controlnet", [None])[0] is not None and len(c.controls) == 1:
            return None  # the base folder is a whole ControlNet pipeline: use its own ControlNet
        if c.controlnet is None:
            ids = []
            for kind in c.controls:
                default = DEFAULT_CONTROLNETS[self.kind].get(kind)
                if default is None:
                    raise UserError(f"no default {self.kind} ControlNet for '{kind}' controls; name one in backend_options.controlnet")
                ids.append(default)
        else:
            ids = [c.controlnet] if isinstance(c.controlnet, str) else list(c.controlnet)
        revisions = c.controlnet_revision if isinstance(c.controlnet_revision, list) else [c.controlnet_revision] * len(ids)
        return [
            locate_model(i, revision=r, what=f"ControlNet ({kind})", option="backend_options.controlnet", local_files_only=self.local_only)
            for i, r, kind in zip(ids, revisions, c.controls)
        ]

    def _resolve_runtime(self) -> None:
        import torch

        c = self.config
        if c.device == "auto":
            device = "cuda" if torch.cuda.is_available() else ("mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu")
        else:
            device = c.device
        accel = not device.startswith("cpu")
        if c.dtype == "auto":
            dtype = "fp16" if accel else "fp32"
        else:
            dtype = c.dtype
        self.device = device
        self.dtype_name = dtype
        self.torch_dtype = getattr(torch, DTYPES[dtype])
        cuda = device.startswith("cuda")
        self.channels_last = cuda if c.channels_last == "auto" else bool(c.channels_last)
        self.fuse_qkv = cuda if c.fuse_qkv == "auto" else bool(c.fuse_qkv)
        self.cpu_offload = bool(c.cpu_offload and accel)
        if not accel:
            log.warning("controlnet backend on CPU: expect tens of seconds per image at 512 px")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"backend_options.device is {device} but torch sees no CUDA GPU; use device: auto or cpu")

    # -- loading ------------------------------------------------------------------------
    def _load(self):
        import torch
        import diffusers

        c = self.config
        dtype = self.torch_dtype
        common = {"dtype": dtype}
        if c.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

        kwargs: dict = {}
        if self.controlnets is not None:
            nets = [
                load_or_explain(
                    lambda s=s: diffusers.ControlNetModel.from_pretrained(s.path, revision=s.revision, local_files_only=s.local_files_only, **common),
                    s, "ControlNet", "backend_options.controlnet",
                )
                for s in self.controlnets
            ]
            kwargs["controlnet"] = nets[0] if len(nets) == 1 else nets
        if self.vae is not None:
            v = self.vae
            kwargs["vae"] = load_or_explain(
                lambda: diffusers.AutoencoderKL.from_pretrained(v.path, revision=v.revision, local_files_only=v.local_files_only, **common),
                v, "VAE", "backend_options.vae",
            )
        if self.kind == "sd15":
            cls = diffusers.StableDiffusionControlNetPipeline
            kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        else:
            cls = diffusers.StableDiffusionXLControlNetPipeline
        b = self.base
        if c.variant:
            kwargs["variant"] = c.variant
        pipe = load_or_explain(
            lambda: cls.from_pretrained(b.path, revision=b.revision, local_files_only=b.local_files_only, **common, **kwargs),
            b, "base model", "backend_options.base_model",
        )
        self._set_scheduler(pipe)
        if self.lcm_lora is not None:
            self._fuse_lcm_lora(pipe)
        self._set_attention(pipe)
        if self.cpu_offload:
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        if self.channels_last:
            for module in self._denoisers(pipe) + [pipe.vae]:
                module.to(memory_format=torch.channels_last)
        if c.compile:
            for module in self._denoisers(pipe):
                module.compile(mode=c.compile_mode, fullgraph=False)
        pipe.set_progress_bar_config(disable=not c.progress)
        return pipe

    @staticmethod
    def _denoisers(pipe) -> list:
        controlnet = pipe.controlnet
        nets = list(controlnet.nets) if hasattr(controlnet, "nets") else [controlnet]
        return [pipe.unet, *nets]

    def _set_scheduler(self, pipe) -> None:
        import diffusers

        class_name, extra = SCHEDULERS[self.config.scheduler]
        if class_name is not None:
            pipe.scheduler = getattr(diffusers, class_name).from_config(pipe.scheduler.config, **extra)

    def _fuse_lcm_lora(self, pipe) -> None:
        s = self.lcm_lora
        try:
            pipe.load_lora_weights(s.path, revision=s.revision, local_files_only=s.local_files_only, adapter_name="lcm")
        except ValueError as exc:
            if "peft" in str(exc).lower():
                raise UserError("few-step mode (lcm_lora) needs the peft package: pip install peft") from None
            raise
        except OSError as exc:
            raise UserError(f"LCM-LoRA '{s.id}' could not be loaded: {str(exc).splitlines()[0][:300]}; pass a folder with pytorch_lora_weights.safetensors via backend_options.lcm_lora") from None
        pipe.fuse_lora(adapter_names=["lcm"])
        pipe.unload_lora_weights()  # keeps the fused weights; removes the per-step LoRA layers

    def _set_attention(self, pipe) -> None:
        from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

        processor = AttnProcessor2_0 if self.config.attention == "sdpa" else AttnProcessor
        for module in self._denoisers(pipe) + [pipe.vae]:
            module.set_attn_processor(processor())
        if self.fuse_qkv and self.config.attention == "sdpa":
            for module in self._denoisers(pipe):
                if hasattr(module, "fuse_qkv_projections"):
                    module.fuse_qkv_projections()
            if hasattr(pipe.vae, "fuse_qkv_projections"):
                pipe.vae.fuse_qkv_projections()

    # -- the interface ------------------------------------------------------------------
    @property
    def required_controls(self) -> list[str]:
        """Control kinds every request must carry (the job's control.kinds must include them)."""
        return list(self.config.controls)

    def settings(self) -> dict:
        import diffusers
        import torch

        c = self.config
        return {
            "backend": self.name,
            **c.model_dump(mode="json"),
            "pipeline": self.kind,
            "pipeline_class": type(self.pipe).__name__,
            "base_model": self.base.id,
            "base_revision": self.base.resolved,
            "controlnet": [s.id for s in self.controlnets] if self.controlnets else [f"{self.base.id}/controlnet"],
            "controlnet_revisions": [s.resolved for s in self.controlnets] if self.controlnets else [self.base.resolved],
            "vae_revision": self.vae.resolved if self.vae else None,
            "lcm_lora": self.lcm_lora.id if self.lcm_lora else None,
            "lcm_lora_revision": self.lcm_lora.resolved if self.lcm_lora else None,
            "scheduler_class": type(self.pipe.scheduler).__name__,
            "conditioning_scale": self.config.scales(),
            "dtype": self.dtype_name,
            "device": self.device,
            "channels_last": self.channels_last,
            "fuse_qkv": self.fuse_qkv,
            "cpu_offload": self.cpu_offload,
            "local_files_only": self.local_only,
            "seeding": "one CPU torch.Generator per image, seeded with the record's seed",
            "diffusers": diffusers.__version__,
            "torch": torch.__version__,
        }

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the pipeline runs at for a job image of the given size."""
        r = self.config.resolution
        if r is None:
            return max(64, round(height / 8) * 8), max(64, round(width / 8) * 8)
        if isinstance(r, int):
            return r, r
        return int(r[1]), int(r[0])

    def generate(self, requests: list[AppearanceRequest]) -> list[np.ndarray]:
        out: list[np.ndarray | None] = [None] * len(requests)
        step = self.config.max_batch_size or len(requests) or 1
        groups: dict[tuple[int, int], list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(self._request_size(request), []).append(i)
        for size, indices in groups.items():
            for start in range(0, len(indices), step):
                chunk = indices[start : start + step]
                for i, image in zip(chunk, self._run([requests[i] for i in chunk], size)):
                    out[i] = image
        return out  # type: ignore[return-value]

    def _request_size(self, request: AppearanceRequest) -> tuple[int, int]:
        for kind in self.config.controls:
            if kind not in request.controls:
                have = ", ".join(sorted(request.controls)) or "none"
                raise UserError(f"the controlnet backend needs '{kind}' control images (backend_options.controls) but the job makes only {have}; add {kind} to control.kinds in the job config")
        h, w = request.controls[self.config.controls[0]].shape[:2]
        return int(h), int(w)

    def _run(self, requests: list[AppearanceRequest], size: tuple[int, int]) -> list[np.ndarray]:
        import torch
        from PIL import Image

        c = self.config
        h, w = size
        ph, pw = self.size_for(h, w)
        per_net = [[Image.fromarray(_resize_control(r.controls[kind], pw, ph, kind)) for r in requests] for kind in c.controls]
        scales = c.scales()
        multi = len(per_net) > 1
        result = self.pipe(
            prompt=[r.prompt for r in requests],
            negative_prompt=[r.negative_prompt or "" for r in requests],
            image=per_net if multi else per_net[0],
            height=ph,
            width=pw,
            num_inference_steps=c.steps,
            guidance_scale=c.guidance_scale,
            controlnet_conditioning_scale=scales if multi else scales[0],
            control_guidance_start=c.control_guidance_start,
            control_guidance_end=c.control_guidance_end,
            generator=[torch.Generator("cpu").manual_seed(int(r.seed)) for r in requests],
            output_type="np",
        )
        images = np.nan_to_num(np.asarray(result.images, dtype=np.float32))
        images = (np.clip(images, 0.0, 1.0) * 255.0).round().astype(np.uint8)
        if (ph, pw) != (h, w):
            interp = cv2.INTER_AREA if ph * pw > h * w else cv2.INTER_CUBIC
            return [cv2.resize(img, (w, h), interpolation=interp) for img in images]
        return list(images)


def _resize_control(image: np.ndarray, width: int, height: int, kind: str) -> np.ndarray:
    """A control image at the generation size; canny stays binary (ControlNet-canny's input)."""
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image)
    shrink = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if kind == "canny":
        resized = np.where(resized > (48 if shrink else 127), 255, 0).astype(np.uint8)
    return resized
