"""The ``controlnet`` appearance backend: diffusers ControlNet pipelines (SD1.5 and SDXL).

The render's control images (edges, depth, normals) condition a text-to-image diffusion
model, so the generated image inherits the render's exact pose. Defaults follow 3D-DST:
Stable Diffusion 1.5 with ControlNet v1.1 canny, 20 UniPC steps, guidance 7.5.

Any Hub id or local folder works for each model; models are located before anything is
loaded (:func:`dst3d.hub_models.locate_model`), so a missing one fails at once with one line.

Records: :meth:`ControlNetBackend.settings` is ``{"backend": "controlnet", **options,
"loaded": {...}}``: every option (validated, defaults filled in), so that
:func:`dst3d.appearance.backend_from_settings` rebuilds an equal backend, and under
``loaded`` what was actually loaded and run: resolved revisions, classes, the dtype of every
component as loaded, attention processors, whether QKV projections are fused (per module),
the compile mode, the VAE, the scheduler class and config, library versions.

Multi-ControlNet: each net gets its own control images as one batched tensor per net (the
flat-list form diffusers reads as one entry per net in every version since 0.30).

Non-finite or black outputs (fp16 overflow) are never returned as images: the pipeline
stops at the latents; a sample whose latents are non-finite is re-run with a seed derived
from its own (:func:`derived_seed`), a sample whose decode is non-finite is decoded again
with the VAE in fp32, up to ``nan_retries`` times; what happened is in the image's notes
(:class:`~dst3d.appearance.request.Generated`); past the retries it fails with a UserError.

Determinism: each image gets its own ``torch.Generator`` on the CPU seeded with the
request's seed, so its initial noise depends on that seed alone (not on its batch
neighbours, nor on the device). Same seed + same settings + same device and batch
composition = the same image. Across batch sizes the math is the same but float kernels
may round differently (a level or two of 255 on CPU).

Multi-view canvases (``tile_views``): the views of a multi-view group (requests whose
``view`` names the same group) are generated in ONE diffusion sample: each control kind's
view images are tiled into one canvas (:mod:`dst3d.appearance.tiling`: ``grid_for(n)``
rows x cols, view k at row k // cols, column k % cols, exact pixel offsets, unused tiles
blank), the pipeline runs once on the canvas with the group's prompt, negative prompt and
seed (shared by the group; the lowest view index's are used), and the output is cut back
into views at the same offsets. Self-attention then spans all views, so they tend to share
the object's appearance; each view's control is the canvas tile, bit-identical, so its pose
label stays exact. Canvases of one size are batched like images (``max_batch_size`` counts
canvases); the non-finite/black retry runs per canvas. Each view's notes say how it was
made: ``{"tiled": {"group", "index", "views", "grid": [rows, cols], "tile": [row, col],
"canvas": [H, W], "tile_size": [h, w]}}`` (plus the canvas's retries, if any). A view can be
regenerated exactly only with its whole group. Memory and time grow with the canvas: six
512 px views are a 1536 x 1024 canvas (6x the pixels of one image; self-attention over 6x
the tokens at the UNet's finest level), fine on a GPU with SDPA, slow on a CPU.

Compilation (``compile``): the UNet and the ControlNet(s) are replaced by ``torch.compile``
wrappers (``pipe.unet = torch.compile(pipe.unet)``, as the diffusers docs do), so the
pipeline sees compiled modules (and marks CUDA-graph steps for ``reduce-overhead``). Shapes
are static (``dynamic=False``); to avoid a recompilation for every new batch size (a shard's
last batch, a single-image regeneration), every batch is padded to the compiled batch size
(``max_batch_size``, else the first batch's size) with copies of its last request, whose
outputs are dropped: the cost is a few wasted images per shard, never a recompilation.

torch, diffusers and transformers are imported only inside functions: importing this module
is cheap, and the ``render`` backend never pays for them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import UserError
from ..hub_models import ModelSource, dtype_kwarg, hub_offline, load_or_explain, locate_model
from .request import AppearanceRequest, Generated
from .tiling import grid_for, tile, tile_position, untile

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
SDXL_ONLY = ("original_size", "target_size", "crops_coords_top_left", "watermark")
# Keys that records written before the options/"loaded" split carried next to the options.
LEGACY_RECORD_KEYS = {"pipeline_class", "base_revision", "controlnet_revisions", "scheduler_class", "seeding", "diffusers", "torch"}

TILING = ("each multi-view group is one canvas of grid_for(n) = (ceil(sqrt n), ceil(n / rows)) tiles, view k at row k // cols, "
          "column k % cols, exact pixel offsets, unused tiles blank; one diffusion sample per canvas with the group's prompt and seed "
          "(its lowest view index's); the output cut back at the same offsets")
SEEDING = "one CPU torch.Generator per image, seeded with the record's seed (a retry after a non-finite output: derived_seed(seed, attempt))"


class ControlNetConfig(BaseModel):
    """Options of the ``controlnet`` backend (``backend_options`` in a job config).

    Models: ``base_model`` and each ``controlnet`` are Hub ids or local folders in diffusers
    layout. ``controlnet`` may be one id or a list (multi-ControlNet); ``controls`` names
    the control image fed to each, in order (``canny``, ``depth``, ``normal``). Without
    ``controlnet`` the default model for each control kind and base type is used.

    Pipeline arguments are passed through: ``guess_mode``, ``control_guidance_start`` /
    ``control_guidance_end`` (one value or one per net), ``clip_skip``, ``eta``, and for SDXL
    the size micro-conditioning (``original_size``, ``target_size``, ``crops_coords_top_left``).

    Speed: ``dtype`` (auto: fp16 on CUDA, fp32 on CPU), ``channels_last`` and ``fuse_qkv``
    (auto: on CUDA), ``cudnn_benchmark`` (auto: on CUDA unless ``deterministic``),
    ``compile`` (torch.compile the UNet and ControlNets), a tiny VAE (``vae`` naming an
    ``AutoencoderTiny`` such as ``madebyollin/taesd``), ``few_step`` / ``lcm_lora``
    (LCM-LoRA: LCM scheduler, 4 steps, guidance 1 unless set), ``cpu_offload`` (model CPU
    offload for small GPUs), ``max_batch_size`` (split the job's batches). Images are
    generated at ``resolution`` (default: the job's size rounded to a multiple of 8) and
    resized to the job's size if they differ.

    Multi-view groups: ``tile_views`` generates each group's views as one tiled canvas in one
    diffusion sample (see the module docstring); ``resolution`` is then the size of one view.
    """

    model_config = ConfigDict(extra="forbid")
    base_model: str = Field(DEFAULT_BASE, description="base pipeline: Hub id or local folder (diffusers layout, model_index.json)")
    revision: str | None = Field(None, description="base model revision (branch, tag or commit)")
    variant: str | None = Field(None, description="weight variant of the base model, e.g. fp16 (half the download)")
    pipeline: Literal["auto", "sd15", "sdxl"] = Field("auto", description="pipeline family; auto: from the base model's model_index.json")
    controlnet: str | list[str] | None = Field(None, description="ControlNet Hub id/folder, or one per control kind; default: the standard net per kind")
    controlnet_revision: str | list[str | None] | None = Field(None, description="ControlNet revision, or one per net")
    controlnet_variant: str | None = Field("auto", description="ControlNet weight variant; auto: the base model's variant where the net has it, else its plain weights")
    controls: list[ControlKind] = Field(["canny"], description="control kind fed to each ControlNet, in order")
    vae: str | None = Field(None, description="replacement VAE: an AutoencoderKL (e.g. madebyollin/sdxl-vae-fp16-fix) or AutoencoderTiny (e.g. madebyollin/taesd) id or folder")
    vae_revision: str | None = Field(None, description="revision of the replacement VAE")
    vae_upcast: bool | Literal["auto"] = Field("auto", description="keep the VAE in fp32; auto: when fp16 meets a VAE whose config says force_upcast on SDXL (the stock SDXL VAE overflows in fp16)")
    scheduler: SchedulerName = Field("unipc", description="sampler; 'model' keeps the base model's own")
    steps: int = Field(20, ge=1, le=1000, description="denoising steps")
    guidance_scale: float = Field(7.5, ge=0.0, description="classifier-free guidance scale (<= 1: no guidance, half the work)")
    conditioning_scale: float | list[float] = Field(1.0, description="ControlNet conditioning scale, or one per net")
    control_guidance_start: float | list[float] = Field(0.0, description="fraction of the steps at which each ControlNet starts acting (one value or one per net)")
    control_guidance_end: float | list[float] = Field(1.0, description="fraction of the steps at which each ControlNet stops acting; must be above the start")
    guess_mode: bool = Field(False, description="ControlNet guess mode (the net sees only the conditional batch half)")
    clip_skip: int | None = Field(None, ge=1, description="skip the last N CLIP layers for the prompt embedding")
    eta: float = Field(0.0, ge=0.0, le=1.0, description="DDIM eta (used by schedulers that take it)")
    original_size: tuple[int, int] | None = Field((1024, 1024), description="SDXL micro-conditioning [height, width] of the 'source image'; None: the generation size (the pipeline's default, which tells SDXL the image is low-resolution below 1024)")
    target_size: tuple[int, int] | None = Field(None, description="SDXL micro-conditioning target [height, width]; None: the generation size")
    crops_coords_top_left: tuple[int, int] = Field((0, 0), description="SDXL micro-conditioning crop [top, left]")
    watermark: bool = Field(False, description="SDXL invisible watermark (needs invisible-watermark); off: it costs time and alters pixels")
    resolution: int | tuple[int, int] | None = Field(None, description="generation size: N (square) or [width, height]; default: the job's size")
    few_step: bool = Field(False, description="LCM-LoRA few-step mode (the default LCM-LoRA of the base family)")
    lcm_lora: str | None = Field(None, description="LCM-LoRA Hub id or folder (implies few_step)")
    lcm_lora_revision: str | None = None
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = Field("auto", description="weights and compute dtype; auto: fp16 on a GPU, fp32 on CPU")
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps")
    attention: Literal["sdpa", "eager"] = Field("sdpa", description="attention processor: torch SDPA or the classic one")
    channels_last: bool | Literal["auto"] = Field("auto", description="channels_last memory format; auto: on CUDA")
    fuse_qkv: bool | Literal["auto"] = Field("auto", description="fuse the QKV projections where the model supports it (UNet, VAE); auto: on CUDA")
    cudnn_benchmark: bool | Literal["auto"] = Field("auto", description="torch.backends.cudnn.benchmark; auto: on CUDA unless deterministic")
    compile: bool = Field(False, description="torch.compile the UNet and ControlNet(s) (batches padded to one size: no recompilation)")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    compile_backend: str = Field("inductor", description="torch.compile backend")
    cpu_offload: bool = Field(False, description="model CPU offload (small GPUs)")
    deterministic: bool = Field(False, description="deterministic torch kernels (slower)")
    max_batch_size: int | None = Field(None, ge=1, description="split the job's batches into at most this many images per pipeline call")
    nan_retries: int = Field(2, ge=0, le=10, description="re-runs of a sample with a non-finite or black output (derived seed, fp32 VAE decode) before failing")
    tile_views: bool = Field(False, description="generate each multi-view group (requests with the same view.group) as one tiled canvas in one diffusion sample (grid_for(n) rows x cols, views at exact pixel offsets) and cut it back into views: the views share attention and so appearance; view sizes must be multiples of 8 unless resolution is set (then the per-view generation size)")
    local_files_only: bool | Literal["auto"] = Field("auto", description="never contact the Hub; auto: when HF_HUB_OFFLINE is set")
    progress: bool = Field(False, description="diffusers' per-step progress bar")

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
        for name in ("controlnet_revision", "conditioning_scale", "control_guidance_start", "control_guidance_end"):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != n:
                raise ValueError(f"{name} must list one value per ControlNet ({n}), got {len(value)}")
        for k, (start, end) in enumerate(zip(self.guidance_starts(), self.guidance_ends())):
            which = f" (ControlNet {k})" if n > 1 else ""
            if not (0.0 <= start < end <= 1.0):
                raise ValueError(f"control_guidance_start must be below control_guidance_end, both in [0, 1]{which}; got {start} and {end}")
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

    def _per_net(self, value) -> list[float]:
        return [float(v) for v in value] if isinstance(value, list) else [float(value)] * len(self.controls)

    def scales(self) -> list[float]:
        return self._per_net(self.conditioning_scale)

    def guidance_starts(self) -> list[float]:
        return self._per_net(self.control_guidance_start)

    def guidance_ends(self) -> list[float]:
        return self._per_net(self.control_guidance_end)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _read_json(path: str | None) -> dict:
    if not path:
        return {}
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def derived_seed(seed: int, attempt: int) -> int:
    """The seed of retry ``attempt`` (1, 2, ...) of an image whose output was non-finite:
    a deterministic function of the image's own seed, so a rerun gives the same image."""
    if attempt == 0:
        return int(seed)
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, int(attempt), 0x4E614E]).generate_state(1, np.uint32)[0]
    return int(state) & 0x7FFFFFFF


def _json_safe(value):
    return json.loads(json.dumps(value, default=str))


def _dtype_name(module) -> str | None:
    try:
        return str(next(module.parameters()).dtype).removeprefix("torch.")
    except (StopIteration, AttributeError):
        return None


def _unwrap(module):
    return getattr(module, "_orig_mod", module)


def _nets(pipe) -> list:
    controlnet = _unwrap(pipe.controlnet)
    return list(controlnet.nets) if hasattr(controlnet, "nets") else [controlnet]


def _attention(module) -> list[str]:
    processors = getattr(module, "attn_processors", None)
    return sorted({type(p).__name__ for p in processors.values()}) if processors else []


def _fused(module) -> bool:
    return any(getattr(m, "fused_projections", False) for m in module.modules())


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



# --------------------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------------------


class ControlNetBackend:
    """Control images + prompts + seeds -> images, through a diffusers ControlNet pipeline."""

    name = "controlnet"
    options_model = ControlNetConfig

    def __init__(self, config: ControlNetConfig | None = None, load: bool = True):
        """Locate every model (fast, no torch import; raises UserError for a missing one),
        then, with ``load``, build the pipeline on its device."""
        self.config = config or ControlNetConfig()
        self._locate()
        self.pipe = None
        self._loaded: dict | None = None
        self._pad_to: int | None = None
        self.stats = {"images": 0, "retried": 0, "fp32_decodes": 0, "padded": 0, "canvases": 0}
        if load:
            self._resolve_runtime()
            self.pipe = self._load()
            self._loaded = self._describe()

    # -- the registry's hooks -----------------------------------------------------------
    @classmethod
    def preflight(cls, config: ControlNetConfig, control_kinds: list[str]) -> None:
        """Locate every model (no loading) and check the job makes the controls the nets need."""
        backend = cls(config, load=False)
        missing = set(backend.required_controls) - set(control_kinds)
        if missing:
            raise UserError(f"the ControlNet models need control kinds {sorted(missing)}; add them to control.kinds in the job")

    @classmethod
    def options_from_settings(cls, settings: dict, pin_revisions: bool = False) -> dict:
        """The options of a record's settings (see :func:`dst3d.appearance.settings_to_options`)."""
        loaded = settings.get("loaded")
        options = {k: v for k, v in settings.items() if k not in ("backend", "loaded")}
        if loaded is None:  # a record from before the options/"loaded" split
            options = {k: v for k, v in options.items() if k not in LEGACY_RECORD_KEYS}
            nets = options.get("controlnet")
            if isinstance(nets, list) and nets == [f"{options.get('base_model')}/controlnet"]:
                options["controlnet"] = None
            return options
        if pin_revisions:
            commit = re.compile(r"^[0-9a-f]{40}$")
            base = loaded.get("base_model", {})
            if options.get("revision") is None and commit.match(str(base.get("revision"))):
                options["revision"] = base["revision"]
            revisions = [n.get("revision") for n in loaded.get("controlnets") or []]
            if options.get("controlnet_revision") is None and revisions and all(commit.match(str(r)) for r in revisions):
                options["controlnet_revision"] = revisions if len(revisions) > 1 else revisions[0]
        return options

    # -- model resolution ---------------------------------------------------------------
    def _locate(self) -> None:
        c = self.config
        self.local_only = hub_offline() if c.local_files_only == "auto" else bool(c.local_files_only)
        self.base = locate_model(c.base_model, revision=c.revision, probe_file="model_index.json", what="base model",
                                 option="backend_options.base_model", local_files_only=self.local_only)
        index = _read_json(self.base.probe)
        self.kind: PipelineKind = c.pipeline if c.pipeline != "auto" else detect_pipeline(index, c.base_model)
        if self.kind != "sdxl":
            defaults = ControlNetConfig.model_fields
            wrong = [f for f in SDXL_ONLY if getattr(c, f) != defaults[f].default]
            if wrong:
                raise UserError(f"backend_options.{wrong[0]} applies to SDXL pipelines only, and the base model is {self.kind}; remove it")
        self.controlnets = self._locate_controlnets(index)
        self.vae = None
        self.vae_class = None
        if c.vae:
            self.vae = locate_model(c.vae, revision=c.vae_revision, what="VAE", option="backend_options.vae", local_files_only=self.local_only)
            vae_class = str(_read_json(self.vae.probe).get("_class_name", "AutoencoderKL"))
            if vae_class not in ("AutoencoderKL", "AutoencoderTiny"):
                raise UserError(f"VAE '{c.vae}' is a {vae_class}; backend_options.vae takes an AutoencoderKL or AutoencoderTiny (e.g. madebyollin/taesd)")
            self.vae_class = vae_class
        self.lcm_lora = None
        if c.few_step:
            import importlib.util

            if importlib.util.find_spec("peft") is None:
                raise UserError("few-step mode (few_step / lcm_lora) needs the peft package to load the LCM-LoRA: pip install peft")
            lora_id = c.lcm_lora or DEFAULT_LCM_LORA[self.kind]
            self.lcm_lora = locate_model(lora_id, revision=c.lcm_lora_revision, probe_file="pytorch_lora_weights.safetensors",
                                         what="LCM-LoRA", option="backend_options.lcm_lora", local_files_only=self.local_only)

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
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"backend_options.device is {device} but torch sees no CUDA GPU; use device: auto or cpu")
        accel = not device.startswith("cpu")
        dtype = ("fp16" if accel else "fp32") if c.dtype == "auto" else c.dtype
        self.device = device
        self.dtype_name = dtype
        self.torch_dtype = getattr(torch, DTYPES[dtype])
        cuda = device.startswith("cuda")
        self.channels_last = cuda if c.channels_last == "auto" else bool(c.channels_last)
        self.fuse_qkv = cuda if c.fuse_qkv == "auto" else bool(c.fuse_qkv)
        self.cudnn_benchmark = (cuda and not c.deterministic) if c.cudnn_benchmark == "auto" else bool(c.cudnn_benchmark)
        self.cpu_offload = bool(c.cpu_offload and accel)
        if not accel:
            log.warning("controlnet backend on CPU: expect tens of seconds per image at 512 px")

    # -- loading ------------------------------------------------------------------------
    def _load(self):
        import diffusers
        import torch

        c = self.config
        dtype = self.torch_dtype
        self.dtype_kwarg = dtype_kwarg("diffusers")
        common = {self.dtype_kwarg: dtype}
        if c.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = self.cudnn_benchmark

        kwargs: dict = {}
        self.controlnet_variants: list[str | None] = []
        if self.controlnets is not None:
            nets = [self._load_controlnet(s, common) for s in self.controlnets]
            kwargs["controlnet"] = nets[0] if len(nets) == 1 else nets
        if self.vae is not None:
            v = self.vae
            vae_cls = getattr(diffusers, self.vae_class)
            kwargs["vae"] = load_or_explain(
                lambda: vae_cls.from_pretrained(v.path, revision=v.revision, local_files_only=v.local_files_only, **common),
                v, "VAE", "backend_options.vae",
            )
        if self.kind == "sd15":
            cls = diffusers.StableDiffusionControlNetPipeline
            kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        else:
            cls = diffusers.StableDiffusionXLControlNetPipeline
            if c.watermark:
                import importlib.util

                if importlib.util.find_spec("imwatermark") is None:
                    raise UserError("backend_options.watermark needs the invisible-watermark package: pip install invisible-watermark")
            kwargs["add_watermarker"] = c.watermark
        b = self.base
        if c.variant:
            kwargs["variant"] = c.variant
        pipe = load_or_explain(
            lambda: cls.from_pretrained(b.path, revision=b.revision, local_files_only=b.local_files_only, **common, **kwargs),
            b, "base model", "backend_options.base_model",
        )
        self._enforce_dtype(pipe)
        if c.clip_skip and self.kind == "sd15" and not hasattr(pipe.text_encoder, "text_model"):
            # diffusers' SD clip_skip path reads text_encoder.text_model.final_layer_norm, which
            # transformers 5 moved onto CLIPTextModel itself: alias it (not a registered submodule).
            object.__setattr__(pipe.text_encoder, "text_model", pipe.text_encoder)
        self.vae_upcast = self._vae_upcast(pipe)
        if self.vae_upcast:
            pipe.vae.to(torch.float32)
        self._set_scheduler(pipe)
        if self.lcm_lora is not None:
            self._fuse_lcm_lora(pipe)
        self._set_attention(pipe)
        if self.cpu_offload:
            pipe.enable_model_cpu_offload(device=self.device)
        else:
            pipe.to(self.device)
        if self.channels_last:
            for module in [pipe.unet, *_nets(pipe), pipe.vae]:
                module.to(memory_format=torch.channels_last)
        if c.compile:
            # Assign the compiled wrappers (diffusers' documented way): the pipeline then
            # knows they are compiled and marks CUDA-graph steps; static shapes, batches padded.
            options = {"mode": c.compile_mode, "backend": c.compile_backend, "dynamic": False, "fullgraph": False}
            if c.compile_backend != "inductor" and c.compile_mode == "default":
                options.pop("mode")
            pipe.unet = torch.compile(pipe.unet, **options)
            pipe.controlnet = torch.compile(pipe.controlnet, **options)
        pipe.set_progress_bar_config(disable=not c.progress)
        return pipe

    def _load_controlnet(self, s: ModelSource, common: dict):
        import diffusers

        c = self.config
        load = diffusers.ControlNetModel.from_pretrained
        variant = c.variant if c.controlnet_variant == "auto" else c.controlnet_variant
        if variant and c.controlnet_variant == "auto":
            try:  # the base's variant where the net has it (a missing variant file raises OSError)
                net = load(s.path, revision=s.revision, local_files_only=s.local_files_only, variant=variant, **common)
                self.controlnet_variants.append(variant)
                return net
            except OSError:
                log.info("ControlNet %s has no %s variant; loading its plain weights", s.id, variant)
                variant = None
        extra = {"variant": variant} if variant else {}
        net = load_or_explain(lambda: load(s.path, revision=s.revision, local_files_only=s.local_files_only, **extra, **common),
                              s, "ControlNet", "backend_options.controlnet")
        self.controlnet_variants.append(variant)
        return net

    def _components(self, pipe) -> dict:
        parts = {"unet": pipe.unet, "vae": pipe.vae, "text_encoder": pipe.text_encoder}
        if getattr(pipe, "text_encoder_2", None) is not None:
            parts["text_encoder_2"] = pipe.text_encoder_2
        for k, net in enumerate(_nets(pipe)):
            parts[f"controlnet_{k}" if len(_nets(pipe)) > 1 else "controlnet"] = net
        return parts

    def _enforce_dtype(self, pipe) -> None:
        """Every component in the dtype asked for, whatever the installed version read."""
        for name, module in self._components(pipe).items():
            have = _dtype_name(module)
            if have is not None and have != str(self.torch_dtype).removeprefix("torch."):
                log.warning("%s loaded as %s although %s was asked for; casting it", name, have, self.dtype_name)
                module.to(self.torch_dtype)

    def _vae_upcast(self, pipe) -> bool:
        c = self.config
        if c.vae_upcast != "auto":
            return bool(c.vae_upcast)
        import torch

        force = bool(getattr(pipe.vae.config, "force_upcast", False)) and type(pipe.vae).__name__ == "AutoencoderKL"
        upcast = self.kind == "sdxl" and self.torch_dtype == torch.float16 and force
        if upcast:
            log.info("the SDXL VAE overflows in fp16: it stays in fp32 (a fp16-fix VAE via backend_options.vae, e.g. madebyollin/sdxl-vae-fp16-fix, decodes in fp16)")
        return upcast

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
        for module in [pipe.unet, *_nets(pipe), pipe.vae]:
            if getattr(module, "attn_processors", None):
                module.set_attn_processor(processor())
        if self.fuse_qkv and self.config.attention == "sdpa":
            # Only the models that implement it (UNet, AutoencoderKL); diffusers' ControlNetModel
            # has no fused projections. The record says per module what is fused.
            for module in [pipe.unet, *_nets(pipe), pipe.vae]:
                if hasattr(module, "fuse_qkv_projections"):
                    module.fuse_qkv_projections()

    def _describe(self) -> dict:
        """The truth about what was loaded (the ``loaded`` part of :meth:`settings`)."""
        import diffusers
        import torch
        import transformers

        c, pipe = self.config, self.pipe
        nets = _nets(pipe)
        if self.controlnets is not None:
            controlnets = [{"id": s.id, "revision": s.resolved, "variant": v, "control": kind}
                           for s, v, kind in zip(self.controlnets, self.controlnet_variants, c.controls)]
        else:
            controlnets = [{"id": f"{self.base.id} (its controlnet/)", "revision": self.base.resolved, "variant": c.variant, "control": c.controls[0]}]
        vae = pipe.vae
        return _json_safe({
            "pipeline": self.kind,
            "pipeline_class": type(pipe).__name__,
            "base_model": {"id": self.base.id, "revision": self.base.resolved, "variant": c.variant},
            "controlnets": controlnets,
            "vae": {"id": self.vae.id if self.vae else f"{self.base.id} (its vae/)", "revision": self.vae.resolved if self.vae else self.base.resolved,
                    "class": type(vae).__name__, "dtype": _dtype_name(vae), "upcast": self.vae_upcast},
            "lcm_lora": {"id": self.lcm_lora.id, "revision": self.lcm_lora.resolved} if self.lcm_lora else None,
            "scheduler": {"class": type(pipe.scheduler).__name__, "config": {k: v for k, v in pipe.scheduler.config.items() if not k.startswith("_")}},
            "dtype": {name: _dtype_name(m) for name, m in self._components(pipe).items()},
            "dtype_kwarg": self.dtype_kwarg,
            "device": self.device,
            "attention": {"unet": _attention(_unwrap(pipe.unet)), "controlnet": [_attention(n) for n in nets], "vae": _attention(vae)},
            "fused_qkv": {"unet": _fused(_unwrap(pipe.unet)), "controlnet": [_fused(n) for n in nets], "vae": _fused(vae)},
            "channels_last": self.channels_last,
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "cpu_offload": self.cpu_offload,
            "compile": {"modules": ["unet", "controlnet"], "mode": c.compile_mode, "backend": c.compile_backend, "dynamic": False,
                        "batch": "padded to max_batch_size, else to the first batch's size"} if c.compile else None,
            "conditioning_scale": c.scales(),
            "control_guidance": [[s, e] for s, e in zip(c.guidance_starts(), c.guidance_ends())],
            "sdxl_size_conditioning": {"original_size": c.original_size or "generation size", "target_size": c.target_size or "generation size",
                                       "crops_coords_top_left": c.crops_coords_top_left} if self.kind == "sdxl" else None,
            "watermark": c.watermark if self.kind == "sdxl" else None,
            "local_files_only": self.local_only,
            "seeding": SEEDING,
            "non_finite": f"re-run with derived_seed(seed, attempt) / fp32 VAE decode, {c.nan_retries} times at most, then fail",
            **({"tile_views": TILING} if c.tile_views else {}),
            "versions": {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        })

    # -- the interface ------------------------------------------------------------------
    @property
    def required_controls(self) -> list[str]:
        """Control kinds every request must carry (the job's control.kinds must include them)."""
        return list(self.config.controls)

    @property
    def prompt_token_limit(self) -> int:
        """The base pipeline's tokenizer limit (77 CLIP tokens for SD1.5 and SDXL)."""
        return int(self.pipe.tokenizer.model_max_length)

    def settings(self) -> dict:
        """``{"backend": "controlnet", **options, "loaded": {...}}`` (see the module docstring)."""
        if self._loaded is None:
            raise RuntimeError("settings() needs a loaded backend (ControlNetBackend(config, load=True))")
        return {"backend": self.name, **self.config.model_dump(mode="json"), "loaded": self._loaded}

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) the pipeline runs at for a job image of the given size."""
        r = self.config.resolution
        if r is None:
            return max(64, round(height / 8) * 8), max(64, round(width / 8) * 8)
        if isinstance(r, int):
            return r, r
        return int(r[1]), int(r[0])

    def generate(self, requests: list[AppearanceRequest]) -> list[np.ndarray]:
        return [g.image for g in self.generate_detailed(requests)]

    def generate_detailed(self, requests: list[AppearanceRequest]) -> list[Generated]:
        """One :class:`Generated` per request (image + notes of any retry), in order. With
        ``tile_views``, the requests of each multi-view group are generated as one canvas."""
        out: list[Generated | None] = [None] * len(requests)
        # Units of generation: a single request, or a group's canvas (a request of its own).
        units: list[AppearanceRequest] = []
        gen_sizes: list[tuple[int, int] | None] = []
        canvases: list[dict] = []  # units 0 .. len(canvases) - 1; the single requests follow
        if self.config.tile_views:
            groups: dict[str, list[int]] = {}
            for i, request in enumerate(requests):
                if request.view is not None:
                    groups.setdefault(request.view.group, []).append(i)
            tiled = {i for members in groups.values() for i in members}
            for group, members in groups.items():
                canvas = self._canvas(group, [requests[i] for i in members])
                canvas["members"] = members
                canvases.append(canvas)
                units.append(canvas["request"])
                gen_sizes.append(canvas["size"])
        else:
            tiled = set()
        singles = [i for i in range(len(requests)) if i not in tiled]
        for i in singles:
            units.append(requests[i])
            gen_sizes.append(None)
        batches: dict[tuple, list[int]] = {}
        for u, request in enumerate(units):
            key = gen_sizes[u] if gen_sizes[u] is not None else self._request_size(request)
            batches.setdefault((gen_sizes[u] is not None, key), []).append(u)
        step = self.config.max_batch_size or len(units) or 1
        if self.config.compile:
            if self._pad_to is None:
                self._pad_to = self.config.max_batch_size or min(step, max(len(b) for b in batches.values()))
            step = self._pad_to
        results: list[Generated | None] = [None] * len(units)
        for (is_canvas, size), indices in batches.items():
            for start in range(0, len(indices), step):
                chunk = indices[start : start + step]
                gen = size if is_canvas else None
                for u, result in zip(chunk, self._generate_checked([units[u] for u in chunk], size, gen)):
                    results[u] = result
        for u, canvas in enumerate(canvases):
            for i, generated in zip(canvas["members"], self._cut(canvas, results[u], [requests[i] for i in canvas["members"]])):
                out[i] = generated
        for u, i in enumerate(singles, start=len(canvases)):
            out[i] = results[u]
        self.stats["images"] += len(requests)
        self.stats["canvases"] += len(canvases)
        return out  # type: ignore[return-value]

    def _canvas(self, group: str, views: list[AppearanceRequest]) -> dict:
        """A group's views as one request whose controls are the tiled control canvases."""
        sizes = {self._request_size(v) for v in views}
        for v in views:
            sizes |= {tuple(v.controls[k].shape[:2]) for k in self.config.controls}
        if len(sizes) != 1:
            raise UserError(f"multi-view group '{group}' has views of different sizes {sorted(sizes)}; tile_views needs one size per group")
        n = views[0].view.size
        indices = [v.view.index for v in views]
        if any(v.view.size != n for v in views) or len(set(indices)) != len(indices) or not all(0 <= k < n for k in indices):
            raise UserError(f"multi-view group '{group}' has inconsistent views (indices {sorted(indices)}, sizes {sorted({v.view.size for v in views})})")
        (h, w), = sizes
        if self.config.resolution is None:
            if h % 8 or w % 8:
                raise UserError(f"backend_options.tile_views: view size {w}x{h} is not a multiple of 8 (Stable Diffusion's latent grid); use a job width and height that are, or set backend_options.resolution (the per-view generation size)")
            th, tw = h, w
        else:
            th, tw = self.size_for(h, w)
        rows, cols = grid_for(n)
        lead = min(views, key=lambda v: v.view.index)
        controls = {}
        for kind in self.config.controls:
            tiles = [np.zeros((th, tw, 3), np.uint8)] * n
            for v in views:
                tiles[v.view.index] = _resize_control(np.asarray(v.controls[kind])[..., :3], tw, th, kind)
            controls[kind] = tile(tiles, rows, cols)
        request = AppearanceRequest(controls, None, lead.prompt, lead.negative_prompt, lead.seed)
        return {"group": group, "request": request, "size": (rows * th, cols * tw), "grid": (rows, cols), "tile_size": (th, tw), "view_size": (h, w), "views": n}

    def _cut(self, canvas: dict, generated: Generated, views: list[AppearanceRequest]) -> list[Generated]:
        """A canvas's output cut back into its views (resized to the view size if generated at another)."""
        rows, cols = canvas["grid"]
        th, tw = canvas["tile_size"]
        h, w = canvas["view_size"]
        tiles = untile(generated.image, rows, cols, th, tw)
        out = []
        for v in views:
            image = tiles[v.view.index]
            if (th, tw) != (h, w):
                image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if th * tw > h * w else cv2.INTER_CUBIC)
            info = {"group": canvas["group"], "index": v.view.index, "views": canvas["views"], "grid": [rows, cols],
                    "tile": list(tile_position(v.view.index, cols)), "canvas": list(canvas["size"]), "tile_size": [th, tw]}
            out.append(Generated(image, {**generated.notes, "tiled": info}))
        return out

    def _request_size(self, request: AppearanceRequest) -> tuple[int, int]:
        for kind in self.config.controls:
            if kind not in request.controls:
                have = ", ".join(sorted(request.controls)) or "none"
                raise UserError(f"the controlnet backend needs '{kind}' control images (backend_options.controls) but the job makes only {have}; add {kind} to control.kinds in the job config")
        h, w = request.controls[self.config.controls[0]].shape[:2]
        return int(h), int(w)

    def _generate_checked(self, requests: list[AppearanceRequest], size: tuple[int, int], gen: tuple[int, int] | None = None) -> list[Generated]:
        """Generate, then re-run (derived seeds) the samples whose output is non-finite or black.
        ``gen``: the generation size (height, width); default :meth:`size_for` of ``size``."""
        seeds = [int(r.seed) for r in requests]
        results: list[Generated | None] = [None] * len(requests)
        history: list[list[dict]] = [[] for _ in requests]
        todo = list(range(len(requests)))
        for attempt in range(self.config.nan_retries + 1):
            use = [derived_seed(seeds[i], attempt) for i in todo]
            images, problems, fp32 = self._run([requests[i] for i in todo], size, use, gen)
            failed = []
            for j, i in enumerate(todo):
                if problems[j] is None:
                    notes: dict = {}
                    if history[i]:
                        notes.update(retries=history[i], seed=use[j])
                    if fp32[j]:
                        notes["vae_decode"] = "float32"
                    results[i] = Generated(images[j], notes)
                else:
                    history[i].append({"seed": use[j], "why": problems[j]})
                    failed.append(i)
            if not failed:
                break
            self.stats["retried"] += len(failed)
            for i in failed:
                log.warning("image with seed %d: %s; retrying with a derived seed", seeds[i], history[i][-1]["why"])
            todo = failed
        else:
            i = todo[0]
            raise UserError(
                f"the controlnet backend produced a {history[i][-1]['why']} image for seed {seeds[i]} "
                f"{len(history[i])} times (dtype {self.dtype_name}); the model overflows in this dtype: use backend_options.dtype bf16 or fp32"
                + (", or a fp16-fix VAE (backend_options.vae)" if self.kind == "sdxl" else "")
            )
        return results  # type: ignore[return-value]

    def _run(self, requests: list[AppearanceRequest], size: tuple[int, int], seeds: list[int], gen: tuple[int, int] | None = None):
        """(uint8 images, problem per sample or None, fp32-decoded per sample)."""
        import torch

        c = self.config
        h, w = size
        ph, pw = gen or self.size_for(h, w)
        n = len(requests)
        pad = 0
        if c.compile and self._pad_to and n < self._pad_to:
            pad = self._pad_to - n
            requests, seeds = requests + [requests[-1]] * pad, seeds + [seeds[-1]] * pad
            self.stats["padded"] += pad
        # One batched float tensor per net, [0, 1], (B, 3, H, W): diffusers reads a flat list
        # as one entry per net (a nested list would be read as [request][net]).
        per_net = []
        for kind in c.controls:
            stack = np.stack([_resize_control(r.controls[kind], pw, ph, kind) for r in requests])
            per_net.append(torch.from_numpy(stack).permute(0, 3, 1, 2).float().div_(255.0))
        scales, starts, ends = c.scales(), c.guidance_starts(), c.guidance_ends()
        multi = len(per_net) > 1
        kwargs = dict(
            prompt=[r.prompt for r in requests],
            negative_prompt=[r.negative_prompt or "" for r in requests],
            image=per_net if multi else per_net[0],
            height=ph,
            width=pw,
            num_inference_steps=c.steps,
            guidance_scale=c.guidance_scale,
            controlnet_conditioning_scale=scales if multi else scales[0],
            control_guidance_start=starts if multi else starts[0],
            control_guidance_end=ends if multi else ends[0],
            guess_mode=c.guess_mode,
            clip_skip=c.clip_skip,
            eta=c.eta,
            generator=[torch.Generator("cpu").manual_seed(int(s)) for s in seeds],
            output_type="latent",
        )
        if self.kind == "sdxl":
            kwargs.update(original_size=tuple(c.original_size or (ph, pw)), target_size=tuple(c.target_size or (ph, pw)),
                          crops_coords_top_left=tuple(c.crops_coords_top_left))
        latents = self.pipe(**kwargs).images[:n]
        finite = torch.isfinite(latents.float()).flatten(1).all(1).tolist()
        pixels, fp32 = self._decode(latents, finite)
        problems: list[str | None] = []
        images = []
        for k in range(n):
            image = pixels[k]
            if not finite[k]:
                problems.append("non-finite latents")
            elif image is None:
                problems.append("non-finite decode")
            elif int(image.max()) == 0:
                problems.append("black")
            else:
                problems.append(None)
            if image is not None and (ph, pw) != (h, w):
                interp = cv2.INTER_AREA if ph * pw > h * w else cv2.INTER_CUBIC
                image = cv2.resize(image, (w, h), interpolation=interp)
            images.append(image)
        return images, problems, fp32

    def _decode(self, latents, finite: list[bool]):
        """uint8 images (None where non-finite) and which were decoded in fp32 after a
        non-finite decode in the pipeline's dtype."""
        import torch

        vae = self.pipe.vae
        n = latents.shape[0]
        out: list[np.ndarray | None] = [None] * n
        fp32 = [False] * n
        keep = [k for k in range(n) if finite[k]]
        if not keep:
            return out, fp32
        decoded = self._vae_decode(latents[keep], vae)
        redo = []
        for j, k in enumerate(keep):
            if bool(torch.isfinite(decoded[j]).all()):
                out[k] = _to_uint8(decoded[j])
            else:
                redo.append(k)
        if redo:
            if _dtype_name(vae) != "float32":
                dtype = next(vae.parameters()).dtype
                vae.to(torch.float32)
                try:
                    again = self._vae_decode(latents[redo], vae)
                finally:
                    vae.to(dtype)
                for j, k in enumerate(redo):
                    if bool(torch.isfinite(again[j]).all()):
                        out[k] = _to_uint8(again[j])
                        fp32[k] = True
                self.stats["fp32_decodes"] += len(redo)
        return out, fp32

    def _vae_decode(self, latents, vae):
        import torch

        config = vae.config
        dtype = next(vae.parameters()).dtype
        z = latents.to(dtype)
        mean, std = getattr(config, "latents_mean", None), getattr(config, "latents_std", None)
        if mean is not None and std is not None:
            channels = z.shape[1]
            mean_t = torch.tensor(mean).view(1, channels, 1, 1).to(z.device, z.dtype)
            std_t = torch.tensor(std).view(1, channels, 1, 1).to(z.device, z.dtype)
            z = z * std_t / config.scaling_factor + mean_t
        else:
            z = z / config.scaling_factor
        with torch.inference_mode():
            image = vae.decode(z, return_dict=False)[0]
        return image.float().cpu()


def _to_uint8(image) -> np.ndarray:
    """A decoded (3, H, W) tensor in [-1, 1] -> (H, W, 3) uint8 (as diffusers' postprocess)."""
    array = (image / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()
    return (array * 255.0).round().astype(np.uint8)


def _resize_control(image: np.ndarray, width: int, height: int, kind: str) -> np.ndarray:
    """A control image at the generation size; canny stays binary (ControlNet-canny's input)."""
    if image.shape[:2] == (height, width):
        return np.ascontiguousarray(image)
    shrink = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if kind == "canny":
        resized = np.where(resized > (48 if shrink else 127), 255, 0).astype(np.uint8)
    return resized
