"""The ControlNet backend's mechanics, offline, on tiny random models.

The models are built from configs with random weights, saved in the Hub's folder layout
and loaded back through the same ``from_pretrained`` calls real weights go through. Their
images are noise: these tests check loading, batching, seeding, sizes, records and error
paths, never image quality.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from dst3d.errors import UserError

from tiny_models import save_tiny_controlnet, save_tiny_sd15, save_tiny_sdxl

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
    from dst3d.appearance.base import AppearanceRequest

    canny = np.zeros((h, w, 3), np.uint8)
    y0, y1, x0, x1 = box
    canny[y0:y1, x0] = canny[y0:y1, x1] = canny[y0, x0:x1] = canny[y1, x0:x1] = 255
    depth = np.zeros((h, w, 3), np.uint8)
    depth[y0:y1, x0:x1] = 180
    return AppearanceRequest({"canny": canny, "depth": depth}, None, prompt, "blurry", seed)


def _backend(tiny, **options):
    from dst3d.appearance.base import load_backend

    return load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "steps": 2, **options})


@pytest.fixture(scope="module")
def sd15(tiny):
    return _backend(tiny)


def test_config_defaults_and_validation():
    from pydantic import ValidationError

    from dst3d.appearance.controlnet import ControlNetConfig

    c = ControlNetConfig()
    assert (c.base_model, c.scheduler, c.steps, c.guidance_scale, c.controls) == ("stable-diffusion-v1-5/stable-diffusion-v1-5", "unipc", 20, 7.5, ["canny"])
    few = ControlNetConfig(few_step=True)
    assert (few.scheduler, few.steps, few.guidance_scale) == ("lcm", 4, 1.0)
    assert ControlNetConfig(lcm_lora="x/y", steps=6).steps == 6  # explicit values win
    for bad in ({"controlnet": ["a/b"], "controls": ["canny", "depth"]}, {"conditioning_scale": [1.0, 0.5]}, {"resolution": 100}, {"nope": 1}, {"controls": []}):
        with pytest.raises(ValidationError):
            ControlNetConfig(**bad)


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

    s = sd15.settings()
    json.dumps(s)
    assert s["base_model"] == str(tiny["sd15"]) and s["base_revision"] == f"local:{tiny['sd15'].resolve()}"
    assert s["controlnet"] == [str(tiny["cn"])] and s["controlnet_revisions"] == [f"local:{tiny['cn'].resolve()}"]
    assert (s["pipeline"], s["scheduler_class"], s["steps"], s["guidance_scale"], s["dtype"], s["device"]) == ("sd15", "UniPCMultistepScheduler", 2, 7.5, "fp32", "cpu")
    assert s["diffusers"] and s["torch"] and s["local_files_only"] is True


def test_resolution_differs_from_job_size(tiny):
    backend = _backend(tiny, resolution=64, scheduler="ddim")
    image = backend.generate([_request(3, h=80, w=96)])[0]
    assert image.shape == (80, 96, 3)
    assert backend.settings()["scheduler_class"] == "DDIMScheduler"


def test_multi_controlnet_edges_and_depth(tiny):
    backend = _backend(tiny, controlnet=[str(tiny["cn"]), str(tiny["cn2"])], controls=["canny", "depth"], conditioning_scale=[1.0, 0.5])
    images = backend.generate([_request(1), _request(2)])
    assert [i.shape for i in images] == [(64, 64, 3)] * 2
    s = backend.settings()
    assert len(s["controlnet"]) == 2 and s["conditioning_scale"] == [1.0, 0.5]
    with pytest.raises(UserError, match="add depth to control.kinds"):
        req = _request(1)
        del req.controls["depth"]
        backend.generate([req])


def test_sdxl_pipeline_is_detected_and_runs(tiny):
    from dst3d.appearance.base import load_backend

    backend = load_backend("controlnet", {"base_model": str(tiny["sdxl"]), "controlnet": str(tiny["cnxl"]), "steps": 2})
    s = backend.settings()
    assert (s["pipeline"], s["pipeline_class"]) == ("sdxl", "StableDiffusionXLControlNetPipeline")
    images = backend.generate([_request(5), _request(6)])
    assert [i.shape for i in images] == [(64, 64, 3)] * 2
    assert np.array_equal(images[0], backend.generate([_request(5), _request(6)])[0])


def test_lcm_lora_few_step_mode(tiny, tmp_path):
    pytest.importorskip("peft")
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(3)
    unet = UNet2DConditionModel.from_pretrained(tiny["sd15"], subfolder="unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    StableDiffusionPipeline.save_lora_weights(tmp_path / "lora", unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)))
    from dst3d.appearance.base import load_backend

    backend = load_backend("controlnet", {"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"]), "lcm_lora": str(tmp_path / "lora")})
    s = backend.settings()
    assert (s["few_step"], s["steps"], s["guidance_scale"], s["scheduler_class"]) == (True, 4, 1.0, "LCMScheduler")
    assert s["lcm_lora_revision"] == f"local:{(tmp_path / 'lora').resolve()}"
    assert backend.generate([_request(1)])[0].shape == (64, 64, 3)


def test_missing_models_fail_fast_with_one_line(tiny, tmp_path):
    from dst3d.appearance.base import load_backend

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
    # The same checks without loading anything, for a parent process before its workers load.
    from dst3d.appearance.controlnet import check_models

    check_models({"base_model": str(tiny["sd15"]), "controlnet": str(tiny["cn"])})
    with pytest.raises(UserError, match="stable-diffusion-v1-5"):
        check_models({})
    with pytest.raises(UserError, match="invalid backend_options.steps"):
        check_models({"steps": 0})


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
        assert g["base_model"] == str(tiny["sd15"]) and g["controlnet"] == [str(tiny["cn"])]
        assert g["base_revision"].startswith("local:") and g["steps"] == 2 and g["guidance_scale"] == 7.5 and g["diffusers"]
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

    from dst3d.appearance.controlnet import locate_model

    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}")
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        locate_model("someone/not-cached", probe_file="model_index.json", what="base model", option="backend_options.base_model", local_files_only=False)
    assert time.perf_counter() - start < 5
    assert "cannot be reached" in str(err.value) and "someone/not-cached" in str(err.value) and "\n" not in str(err.value)
