"""The ControlNet backend's mechanics, offline, on tiny random models.

The models are built from configs with random weights, saved in the Hub's folder layout
and loaded back through the same ``from_pretrained`` calls real weights go through. Their
images are noise: these tests check loading, batching, seeding, sizes, records and error
paths, never image quality.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from pipe_recorder import call_recorder
import yaml

from dst3d.errors import UserError

from dst3d.tiny_models import save_tiny_controlnet, save_tiny_sd15, save_tiny_sdxl

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; two OpenMP threads on a shared 2-core machine
    were measured 10x slower (they spin while other processes hold the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "sd15": save_tiny_sd15(root / "sd15"),
        "cn": save_tiny_controlnet(root / "cn-canny"),
        "cn2": save_tiny_controlnet(root / "cn-depth", seed=2),
        "sdxl": save_tiny_sdxl(root / "sdxl"),
        "cnxl": save_tiny_controlnet(root / "cn-xl", sdxl=True),
    }


def _request(seed: int, h: int = 64, w: int = 64, box=(16, 48, 12, 52), prompt="a photo of a red car"):
    from dst3d.appearance import AppearanceRequest

    canny = np.zeros((h, w, 3), np.uint8)
    y0, y1, x0, x1 = box
    canny[y0:y1, x0] = canny[y0:y1, x1] = canny[y0, x0:x1] = canny[y1, x0:x1] = 255
    depth = np.zeros((h, w, 3), np.uint8)
    depth[y0:y1, x0:x1] = 180
    return AppearanceRequest({"canny": canny, "depth": depth}, None, prompt, "blurry", seed)


def _backend(tiny, **options):
    from dst3d.appearance import load_backend

    return load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 2, **options})


@pytest.fixture(scope="module")
def sd15(tiny):
    return _backend(tiny)


def test_config_defaults_and_validation():
    from pydantic import ValidationError

    from dst3d.appearance import backend_options, options_model
    from dst3d.appearance.controlnet import ControlNetConfig

    assert options_model("controlnet") is ControlNetConfig
    c = ControlNetConfig()
    assert (c.base_model, c.scheduler, c.steps, c.guidance_scale, c.controls) == ("stable-diffusion-v1-5/stable-diffusion-v1-5", "unipc", 20, 7.5, ["canny"])
    few = ControlNetConfig(few_step=True)
    assert (few.scheduler, few.steps, few.guidance_scale) == ("lcm", 4, 1.0)
    assert ControlNetConfig(lcm_lora="x/y", steps=6).steps == 6  # explicit values win
    two = {"controlnet": ["a/b", "c/d"], "controls": ["canny", "depth"]}
    assert ControlNetConfig(**two, control_guidance_end=[1.0, 0.5]).guidance_ends() == [1.0, 0.5]
    for bad in ({"controlnet": ["a/b"], "controls": ["canny", "depth"]}, {"conditioning_scale": [1.0, 0.5]}, {"resolution": 100}, {"nope": 1},
                {"controls": []}, {"control_guidance_start": 0.5, "control_guidance_end": 0.5}, {**two, "control_guidance_end": [1.0]},
                {**two, "control_guidance_start": [0.0, 0.6], "control_guidance_end": [1.0, 0.6]}, {"clip_skip": 0}, {"eta": 2.0}):
        with pytest.raises(ValidationError):
            ControlNetConfig(**bad)
    # One line naming the setting, through the registry.
    with pytest.raises(UserError, match=r"^invalid backend_options\.steps: Input should be greater than or equal to 1$"):
        backend_options("controlnet", {"steps": 0})
    with pytest.raises(UserError, match=r"^invalid backend_options: control_guidance_start must be below control_guidance_end"):
        backend_options("controlnet", {"control_guidance_start": 0.3, "control_guidance_end": 0.3})
    with pytest.raises(UserError, match=r"^invalid backend_options(\.|: )noise_std"):
        backend_options("render", {"noise_std": -1})
    # Every option is documented.
    assert all(f.description for name, f in ControlNetConfig.model_fields.items() if name not in {"compile_mode", "lcm_lora_revision"})


def test_imports_run_one_way():
    """base (the registry) imports the backends; the backends import only request and hub_models."""
    import ast

    root = Path(__file__).resolve().parents[1] / "dst3d"

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                names.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dst3d"):
                names.add(node.module)
        return names

    for backend in ("render.py", "controlnet.py"):
        deps = imported(root / "appearance" / backend)
        assert not {".base", "dst3d.appearance.base", ".", "dst3d.appearance"} & deps, (backend, deps)
    assert not {n for n in imported(root / "prompts" / "llm.py") if "appearance" in n}
    assert not {n for n in imported(root / "hub_models.py") if "appearance" in n or "prompts" in n}
    assert not {n for n in imported(root / "appearance" / "request.py") if n.startswith(".") and n != "..errors" and "render" not in n}


def test_generate_sizes_determinism_and_settings(sd15, tiny):
    a, b = _request(11), _request(12)
    images = sd15.generate([a, b])
    assert [i.shape for i in images] == [(64, 64, 3)] * 2 and all(i.dtype == np.uint8 for i in images)
    again = sd15.generate([a, b])
    assert all(np.array_equal(x, y) for x, y in zip(images, again)), "same seeds, same device: same images"
    assert np.abs(images[0].astype(int) - images[1]).mean() > 5, "different seeds give different images"
    # Each image's noise comes from its own generator: alone or in a batch, the same image
    # up to float rounding of batched kernels.
    alone = sd15.generate([b])[0]
    assert np.abs(alone.astype(int) - images[1]).max() <= 2
    # The control image reaches the output.
    moved = sd15.generate([_request(11, box=(8, 30, 30, 60))])[0]
    assert np.abs(moved.astype(int) - images[0]).mean() > 0.5
    assert [g.notes for g in sd15.generate_detailed([a, b])] == [{}, {}]

    s = sd15.settings()
    json.dumps(s)
    assert s["backend"] == "controlnet" and s["base_model"] == str(tiny["sd15"]) and s["controlnet"] == str(tiny["cn"]) and s["steps"] == 2
    loaded = s["loaded"]
    assert loaded["base_model"] == {"id": str(tiny["sd15"]), "revision": f"local:{tiny['sd15'].resolve()}", "variant": None}
    assert loaded["controlnets"] == [{"id": str(tiny["cn"]), "revision": f"local:{tiny['cn'].resolve()}", "variant": None, "control": "canny"}]
    assert (loaded["pipeline"], loaded["scheduler"]["class"], loaded["device"]) == ("sd15", "UniPCMultistepScheduler", "cpu")
    assert loaded["scheduler"]["config"]["num_train_timesteps"] == 1000
    assert set(loaded["dtype"].values()) == {"float32"} and set(loaded["dtype"]) == {"unet", "vae", "text_encoder", "controlnet"}
    assert loaded["vae"]["class"] == "AutoencoderKL" and loaded["attention"]["unet"] == ["AttnProcessor2_0"]
    assert loaded["compile"] is None and loaded["cudnn_benchmark"] is False and loaded["local_files_only"] is True
    assert loaded["versions"]["diffusers"] and loaded["versions"]["torch"]


def test_resolution_differs_from_job_size(tiny):
    backend = _backend(tiny, resolution=64, scheduler="ddim")
    image = backend.generate([_request(3, h=80, w=96)])[0]
    assert image.shape == (80, 96, 3)
    assert backend.settings()["loaded"]["scheduler"]["class"] == "DDIMScheduler"


def _constant_request(j: int, size: int = 64):
    """Controls whose value names the request and the net: canny 10 + j, depth 100 + j."""
    from dst3d.appearance import AppearanceRequest

    canny = np.full((size, size, 3), 10 + j, np.uint8)
    depth = np.full((size, size, 3), 100 + j, np.uint8)
    return AppearanceRequest({"canny": canny, "depth": depth}, None, f"a photo of a car {j}", "blurry", 100 + j)


def _record_conditioning(backend, scales: dict | None = None) -> dict[int, list]:
    """Hook every ControlNet: the per-sample control values (x 255) each one receives per
    call (and, into ``scales``, the conditioning scale of each call)."""
    controlnet = getattr(backend.pipe.controlnet, "_orig_mod", backend.pipe.controlnet)
    seen: dict[int, list] = {}
    for k, net in enumerate(getattr(controlnet, "nets", [controlnet])):
        def hook(module, args, kwargs, k=k):
            cond = kwargs.get("controlnet_cond", args[3] if len(args) > 3 else None)
            seen.setdefault(k, []).append([round(float(v) * 255) for v in cond.float().mean(dim=(1, 2, 3))])
            if scales is not None:
                scales.setdefault(k, []).append(float(kwargs.get("conditioning_scale", 1.0)))
        net.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


@pytest.fixture(scope="module")
def multi(tiny):
    return _backend(tiny, controlnet=[str(tiny["cn"]), str(tiny["cn2"])], controls=["canny", "depth"], conditioning_scale=[1.0, 0.5])


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_multi_controlnet_gets_its_own_controls(multi, batch):
    """Issue 11 defect 1: each net receives exactly its own control for every request."""
    seen = _record_conditioning(multi)
    try:
        images = multi.generate([_constant_request(j) for j in range(batch)])
    finally:
        for net in [*multi.pipe.controlnet.nets]:
            net._forward_pre_hooks.clear()
    assert [i.shape for i in images] == [(64, 64, 3)] * batch
    canny = list(range(10, 10 + batch))
    depth = list(range(100, 100 + batch))
    # Classifier-free guidance: the nets see [uncond batch, cond batch], both the same controls.
    assert seen[0] == [canny * 2] * 2, seen[0]  # 2 steps
    assert seen[1] == [depth * 2] * 2, seen[1]


def test_multi_controlnet_settings_and_missing_control(multi):
    s = multi.settings()
    assert [n["control"] for n in s["loaded"]["controlnets"]] == ["canny", "depth"] and s["loaded"]["conditioning_scale"] == [1.0, 0.5]
    with pytest.raises(UserError, match="add depth to control.kinds"):
        req = _request(1)
        del req.controls["depth"]
        multi.generate([req])




def test_pipeline_arguments_pass_through(tiny):
    """Issue 11 defect 6: guess_mode, per-net guidance windows, clip_skip, eta reach the pipeline."""
    backend = _backend(tiny, controlnet=[str(tiny["cn"]), str(tiny["cn2"])], controls=["canny", "depth"], scheduler="ddim",
                       control_guidance_start=[0.0, 0.5], control_guidance_end=[0.5, 1.0], clip_skip=1, eta=0.3, guess_mode=True)
    calls = call_recorder(backend)
    scales: dict = {}
    seen = _record_conditioning(backend, scales)
    backend.generate([_constant_request(0), _constant_request(1)])
    kw = calls[0]
    assert (kw["control_guidance_start"], kw["control_guidance_end"], kw["clip_skip"], kw["eta"], kw["guess_mode"]) == ([0.0, 0.5], [0.5, 1.0], 1, 0.3, True)
    # Guess mode: the nets see the conditional half only; each net acts in its own window
    # (2 steps: canny on the first, depth on the second; outside it its scale is 0).
    assert seen[0] == [[10, 11]] * 2 and seen[1] == [[100, 101]] * 2
    assert scales[0][0] > 0 and scales[0][1] == 0 and scales[1][0] == 0 and scales[1][1] > 0
    assert backend.settings()["loaded"]["control_guidance"] == [[0.0, 0.5], [0.5, 1.0]]
    with pytest.raises(UserError, match="SDXL pipelines only"):
        _backend(tiny, original_size=[512, 512])


def test_sdxl_defaults_size_conditioning_watermark_off(tiny):
    """Issue 11 defect 5: SDXL gets 1024 px original-size conditioning and no watermarker."""
    from dst3d.appearance import load_backend

    backend = load_backend("controlnet", {"base_model": str(tiny["sdxl"]), "controlnet": str(tiny["cnxl"]), "steps": 2})
    s = backend.settings()
    assert (s["loaded"]["pipeline"], s["loaded"]["pipeline_class"]) == ("sdxl", "StableDiffusionXLControlNetPipeline")
    assert backend.pipe.watermark is None and s["loaded"]["watermark"] is False
    assert s["loaded"]["sdxl_size_conditioning"]["original_size"] == [1024, 1024]
    assert s["loaded"]["vae"]["upcast"] is False  # fp32 here; fp16 + the stock VAE keeps the VAE in fp32 once, not per call
    time_ids = []
    backend.pipe.unet.register_forward_pre_hook(lambda m, a, kw: time_ids.append(kw["added_cond_kwargs"]["time_ids"][-1].tolist()), with_kwargs=True)
    images = backend.generate([_request(5), _request(6)])
    assert [i.shape for i in images] == [(64, 64, 3)] * 2
    assert time_ids[0] == [1024, 1024, 0, 0, 64, 64]  # original size, crop, target size (the generation size)
    backend.pipe.unet._forward_pre_hooks.clear()
    assert np.array_equal(images[0], backend.generate([_request(5), _request(6)])[0])


def test_record_settings_rebuild_an_equal_backend(multi, tiny):
    """Issue 11 defect 3: a record's generation JSON rebuilds an equal backend (KCF regeneration)."""
    from dst3d.appearance import backend_from_settings, settings_to_options
    from dst3d.appearance.render import RenderBackend

    stored = json.dumps(multi.settings())  # as a record's `generation` column holds it
    rebuilt = backend_from_settings(stored)
    assert rebuilt.settings() == multi.settings()
    requests = [_request(21), _request(22)]
    assert all(np.array_equal(x, y) for x, y in zip(rebuilt.generate(requests), multi.generate(requests)))
    name, options = settings_to_options(stored)
    assert name == "controlnet" and "loaded" not in options and options["controls"] == ["canny", "depth"]
    render = RenderBackend()
    assert backend_from_settings(render.settings()).settings() == render.settings()
    # A record written before the options/"loaded" split rebuilds too.
    legacy = {**{k: v for k, v in json.loads(stored).items() if k != "loaded"}, "pipeline": "sd15", "pipeline_class": "StableDiffusionControlNetPipeline",
              "base_revision": "local:x", "controlnet_revisions": ["local:x", "local:y"], "scheduler_class": "UniPCMultistepScheduler",
              "seeding": "...", "diffusers": "0.30.0", "torch": "2.4.0", "dtype": "fp32", "device": "cpu"}
    assert backend_from_settings(legacy).settings()["controlnet"] == [str(tiny["cn"]), str(tiny["cn2"])]


def _nan_unet(backend, bad_calls):
    """Make the UNet's output NaN on the calls whose number (0, 1, ...) is in ``bad_calls``."""
    count = [0]

    def hook(module, args, output):
        count[0] += 1
        if bad_calls(count[0] - 1):
            return (torch.full_like(output[0], float("nan")),) + tuple(output[1:])
        return output

    return backend.pipe.unet.register_forward_hook(hook)


def test_nan_unet_is_retried_with_a_derived_seed_never_black(sd15):
    """Issue 11 defect 4: a NaN UNet output never becomes a black image."""
    from dst3d.appearance.controlnet import derived_seed

    clean = sd15.generate([_request(7)])[0]
    handle = _nan_unet(sd15, lambda call: call < 2)  # the first attempt (2 steps) overflows
    try:
        [result] = sd15.generate_detailed([_request(7)])
    finally:
        handle.remove()
    seed2 = derived_seed(7, 1)
    assert seed2 != 7 and derived_seed(7, 1) == seed2 and derived_seed(7, 0) == 7
    assert result.notes == {"retries": [{"seed": 7, "why": "non-finite latents"}], "seed": seed2}
    assert result.image.max() > 0 and not np.array_equal(result.image, clean)
    # The retry is exactly the image of the derived seed.
    assert np.array_equal(result.image, sd15.generate([_request(seed2)])[0])
    handle = _nan_unet(sd15, lambda call: True)
    try:
        with pytest.raises(UserError, match=r"non-finite latents image for seed 7 3 times .*dtype bf16 or fp32"):
            sd15.generate([_request(7)])
    finally:
        handle.remove()


def test_nan_unet_stores_nothing(tiny, tmp_path):
    """Through the pipeline's generator: a sample that stays NaN fails the batch, no black row."""
    from dst3d.pipeline.generator import Generator
    from dst3d.pipeline.job import JobConfig

    backend = _backend(tiny, nan_retries=1)
    library = _box_library(tmp_path / "cad")
    job = JobConfig.model_validate({"classes": ["car"], "per_class": 2, "width": 64, "height": 64, "batch_size": 2, "cad_library": str(library),
                                    "prompts": {"llm_cache": str(tmp_path / "no-cache")}, "backend": "controlnet",
                                    "backend_options": {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 2}})
    generator = Generator(job, backend=backend)
    handle = _nan_unet(backend, lambda call: True)
    try:
        with pytest.raises(UserError, match="non-finite"):
            generator.rows(range(2))
    finally:
        handle.remove()
        generator.close()


def test_non_finite_decode_is_redone_in_fp32(tiny):
    """A VAE that overflows in half precision: the sample is decoded again in fp32, and noted."""
    backend = _backend(tiny, dtype="bf16", device="cpu")
    vae = backend.pipe.vae
    real = vae.decode

    def decode(z, *args, **kwargs):
        out = real(z, *args, **kwargs)
        if next(vae.parameters()).dtype != torch.float32:
            return (torch.full_like(out[0], float("nan")),)
        return out

    vae.decode = decode
    results = backend.generate_detailed([_request(1), _request(2)])
    assert [r.notes for r in results] == [{"vae_decode": "float32"}] * 2
    assert all(r.image.max() > 0 for r in results) and next(vae.parameters()).dtype == torch.bfloat16
    assert backend.stats["fp32_decodes"] == 2


def test_loaded_dtype_is_recorded_and_honoured(tiny, monkeypatch):
    """Issue 11 defect 2: the dtype asked for is the one loaded, on old and new diffusers."""
    import dst3d.appearance.controlnet as cn
    from dst3d.hub_models import dtype_kwarg

    assert dtype_kwarg("diffusers", "0.30.3") == "torch_dtype" and dtype_kwarg("diffusers", "0.42.1") == "dtype"
    assert dtype_kwarg("transformers", "4.44.2") == "torch_dtype" and dtype_kwarg("transformers", "4.56.0") == "dtype"
    for kwarg in ("dtype", "torch_dtype"):
        monkeypatch.setattr(cn, "dtype_kwarg", lambda library, kwarg=kwarg: kwarg)
        backend = _backend(tiny, dtype="bf16", device="cpu")
        loaded = backend.settings()["loaded"]
        assert loaded["dtype_kwarg"] == kwarg
        assert loaded["dtype"] == {"unet": "bfloat16", "vae": "bfloat16", "text_encoder": "bfloat16", "controlnet": "bfloat16"}
        assert backend.pipe.unet.dtype == torch.bfloat16 and backend.pipe.text_encoder.dtype == torch.bfloat16
    assert backend.generate([_request(4)])[0].max() > 0


def test_tiny_vae_and_controlnet_variants(tiny, tmp_path):
    """Issue 11 defect 7: an AutoencoderTiny folder is accepted; ``variant`` reaches the ControlNets."""
    from dst3d.tiny_models import save_tiny_taesd

    from dst3d.appearance import load_backend

    only_fp16 = save_tiny_controlnet(tmp_path / "cn-fp16", variant="fp16")
    base = save_tiny_sd15(tmp_path / "sd15-fp16", variant="fp16")
    taesd = save_tiny_taesd(tmp_path / "taesd")
    strict = load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(only_fp16), "controlnet_variant": "fp16", "steps": 2})
    assert [n["variant"] for n in strict.settings()["loaded"]["controlnets"]] == ["fp16"]
    with pytest.raises(UserError, match="fp16"):  # an explicit variant is required of every net
        load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn2"]), "controlnet_variant": "fp16", "steps": 2})
    backend = load_backend("controlnet", {"base_model": str(base), "controlnet": [str(only_fp16), str(tiny["cn2"])], "controls": ["canny", "depth"],
                                          "variant": "fp16", "vae": str(taesd), "steps": 2})
    loaded = backend.settings()["loaded"]
    assert [n["variant"] for n in loaded["controlnets"]] == ["fp16", None]  # auto: the base's variant where the net has it
    assert loaded["vae"]["class"] == "AutoencoderTiny" and loaded["vae"]["id"] == str(taesd) and loaded["dtype"]["controlnet_0"] == "float32"
    image = backend.generate([_request(1)])[0]
    assert image.shape == (64, 64, 3) and image.max() > 0


def test_fused_qkv_and_attention_recorded_truthfully(tiny):
    backend = _backend(tiny, fuse_qkv=True, channels_last=True)
    loaded = backend.settings()["loaded"]
    # diffusers fuses the UNet's and the VAE's projections; its ControlNetModel has no fused path.
    assert loaded["fused_qkv"] == {"unet": True, "controlnet": [False], "vae": True}
    assert loaded["attention"]["unet"] == ["FusedAttnProcessor2_0"] and loaded["attention"]["controlnet"] == [["AttnProcessor2_0"]]
    assert loaded["channels_last"] is True
    assert _backend(tiny, attention="eager").settings()["loaded"]["attention"]["unet"] == ["AttnProcessor"]


def test_compile_pads_batches_to_one_shape(tiny):
    """Issue 11 defect 7: compiled modules are visible to diffusers, and a short last batch is
    padded to the compiled batch size (no recompilation), its padding dropped."""
    from diffusers.utils.torch_utils import is_compiled_module

    backend = _backend(tiny, compile=True, compile_backend="eager")
    assert is_compiled_module(backend.pipe.unet) and is_compiled_module(backend.pipe.controlnet)
    batches = []
    backend.pipe.unet._orig_mod.register_forward_pre_hook(lambda m, a: batches.append(a[0].shape[0]))
    first = backend.generate([_request(1), _request(2), _request(3)])
    last = backend.generate([_request(4)])
    assert len(first) == 3 and len(last) == 1 and set(batches) == {6}  # 3 x classifier-free guidance
    assert backend.stats["padded"] == 2
    loaded = backend.settings()["loaded"]
    assert loaded["compile"]["backend"] == "eager" and loaded["compile"]["dynamic"] is False


def test_missing_models_fail_fast_with_one_line(tiny, tmp_path):
    from dst3d.appearance import load_backend, preflight

    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        load_backend("controlnet", {})  # the default SD1.5 is not cached here and the Hub is offline
    message = str(err.value)
    assert time.perf_counter() - start < 5
    assert "\n" not in message and "stable-diffusion-v1-5/stable-diffusion-v1-5" in message
    assert "hf download" in message and "backend_options.base_model" in message
    with pytest.raises(UserError, match="lllyasviel/control_v11p_sd15_canny"):
        load_backend("controlnet", {"base_model": str(tiny["sd15"])})
    with pytest.raises(UserError, match="does not exist"):
        load_backend("controlnet", {"base_model": str(tmp_path / "nowhere")})
    with pytest.raises(UserError, match="no model_index.json"):
        load_backend("controlnet", {"base_model": str(tiny["cn"])})
    with pytest.raises(UserError, match="AutoencoderKL or AutoencoderTiny"):
        load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "vae": str(tiny["cn"])})
    # The same checks without loading anything, for a parent process before its workers load.
    preflight("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"])}, ["canny"])
    with pytest.raises(UserError, match="stable-diffusion-v1-5"):
        preflight("controlnet", {}, ["canny"])
    with pytest.raises(UserError, match="invalid backend_options.steps"):
        preflight("controlnet", {"steps": 0}, ["canny"])
    with pytest.raises(UserError, match=r"need control kinds \['depth'\]"):
        preflight("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": [str(tiny["cn"]), str(tiny["cn2"])], "controls": ["canny", "depth"]}, ["canny"])


def _box_library(root: Path) -> Path:
    """A one-class CAD library (a box 'car') so the test does not depend on the shipped one."""
    import trimesh

    from dst3d.cad.library import CadClass, CadModel, Manifest

    mesh = trimesh.creation.box(extents=(0.45, 1.0, 0.35))
    (root / "meshes").mkdir(parents=True)
    trimesh.Scene({"body": mesh}).export(root / "meshes" / "box.glb")
    manifest = Manifest(classes={"n02814533": CadClass(name="beach wagon", pascal3d="car", models=[
        CadModel(id="box-car", mesh="meshes/box.glb", source="test box", license="CC0-1.0", keypoints={"top": [0.0, 0.0, 0.175]})
    ])})
    (root / "manifest.json").write_text(json.dumps(manifest.model_dump(mode="json")))
    return root


def test_generate_cli_end_to_end(tiny, tmp_path, cli):
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job
    from dst3d.seeds import sample_seed
    from dst3d.prompts import PromptConfig, build_prompt
    from dst3d.store.schema import decode_png
    from dst3d.store.dataset import read_table

    library = _box_library(tmp_path / "cad")
    options = {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 2}
    job = {"classes": ["car"], "per_class": 3, "width": 64, "height": 64, "seed": 3, "batch_size": 2, "cad_library": str(library),
           "prompts": {"llm_cache": str(tmp_path / "no-cache")}, "backend_options": options}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    result = cli("generate", "--config", str(tmp_path / "job.yaml"), "--backend", "controlnet", "--out", str(tmp_path / "out"), "--no-progress", env=ONE_THREAD)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_table(tmp_path / "out").to_pylist()
    assert [r["index"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert r["backend"] == "controlnet" and (r["width"], r["height"]) == (64, 64)
        assert decode_png(r["image"]).shape == (64, 64, 3)
        assert r["seed"] == sample_seed(3, r["index"], "appearance")
        assert (r["prompt"], r["negative_prompt"]) == build_prompt(PromptConfig(llm_cache=str(tmp_path / "no-cache")), "n02814533", "beach wagon", 3, r["index"])
        g = json.loads(r["generation"])
        # local model folders are stored by name and listing hash, never by the machine's path
        assert re.fullmatch(r"sd15@sha256:[0-9a-f]{16}", g["base_model"]) and re.fullmatch(re.escape(tiny["cn"].name) + r"@sha256:[0-9a-f]{16}", g["controlnet"])
        assert str(tmp_path) not in r["generation"] and str(tiny["sd15"]) not in r["generation"]
        assert g["loaded"]["base_model"]["revision"].startswith("local:sd15@sha256:") and g["steps"] == 2 and g["guidance_scale"] == 7.5
        assert g["loaded"]["versions"]["diffusers"] and g["loaded"]["dtype"]["unet"] == "float32"
    # The record's settings rebuild the backend it was made with (KCF regenerates from them).
    from dst3d.appearance import backend_from_settings

    # (local folders, which the record names only by hash, are given back by the user)
    from dst3d.store.shards import public_settings

    stored = json.loads(rows[0]["generation"])
    rebuilt = public_settings(backend_from_settings({**stored, "base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"])}).settings())
    assert {k: v for k, v in rebuilt["loaded"].items() if rebuilt["loaded"][k] != stored["loaded"].get(k)} == {}
    assert rebuilt == stored
    # The same job again (in this process, a different batch layout of the same samples
    # would also do): the same seeds on the same device give the same images.
    again = run_job(JobConfig.model_validate({**job, "backend": "controlnet"}), tmp_path / "again", progress=False)
    assert again.samples == 3
    for r, s in zip(rows, read_table(tmp_path / "again").to_pylist()):
        assert np.array_equal(decode_png(r["image"]), decode_png(s["image"])) and r["prompt"] == s["prompt"]


def test_generate_cli_offline_error_leaves_nothing(tmp_path, cli):
    library = _box_library(tmp_path / "cad")
    out = tmp_path / "out"
    start = time.perf_counter()
    result = cli("generate", "--classes", "car", "--backend", "controlnet", "--out", str(out), "--cad-library", str(library), "--size", "64", "--no-progress",
                 env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: base model 'stable-diffusion-v1-5/stable-diffusion-v1-5'"), result.stderr
    assert "local folder" in lines[0]
    assert not out.exists()
    assert time.perf_counter() - start < 30


def test_unreachable_hub_fails_fast(monkeypatch):
    """Online mode with the Hub unreachable (a closed local port): one fast line, no retries."""
    from huggingface_hub import constants

    from dst3d.hub_models import locate_model

    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}")
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        locate_model("someone/not-cached", probe_file="model_index.json", what="base model", option="backend_options.base_model", local_files_only=False)
    assert time.perf_counter() - start < 5
    assert "cannot be reached" in str(err.value) and "someone/not-cached" in str(err.value) and "\n" not in str(err.value)
