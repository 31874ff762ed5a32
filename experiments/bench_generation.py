"""ControlNet generation throughput: naive (as 3D-DST runs it) vs tuned, through dst3d's backend.

    python experiments/bench_generation.py --device cuda --size 512 --steps 20
    python experiments/bench_generation.py --device cpu --size 256 --steps 2 --images 2 --configs naive,tuned

The full-size Stable Diffusion 1.5 UNet (860M), a ControlNet made from it (361M, the layout
of lllyasviel/control_v11p_sd15_canny), the SD VAE and the CLIP ViT-L text encoder are
built from their configs with random weights, saved in the Hub layout, and loaded by
``dst3d.appearance.controlnet.ControlNetBackend`` exactly as real weights are. Random
weights cost exactly what real ones cost; no download is needed. (``--tiny`` uses the test
suite's tiny models instead, for a quick smoke run.)

Configurations (each one denoising pass per step; guidance > 1 doubles the batch):
- ``naive``: batch 1, fp32, the classic (non-SDPA) attention processor, no other tuning:
  how 3D-DST's generation script runs the pipeline.
- ``tuned``: batch B, fp16 (bf16 with --dtype), SDPA attention, fused QKV projections,
  channels_last.
- ``tuned-compile``: tuned + torch.compile of the UNet and ControlNet (warm-up excluded).
- ``fewstep``: tuned with LCM settings: LCMScheduler, 4 steps, guidance 1.0 (no
  classifier-free guidance). An LCM-LoRA is fused into the UNet weights before inference, so
  it costs nothing per step; --lcm-lora FOLDER loads a real one (needs peft).
- ``fewstep-compile``: fewstep + torch.compile.

Prints one JSON line per configuration and a table; --out writes all results as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

PROMPT = "a professional photo of a red car parked on a city street, golden hour sunlight, 50mm lens"
NEGATIVE = "lowres, blurry, deformed, watermark, text"


def build_full_sd15(folder: Path, dtype: str = "fp16") -> tuple[Path, Path]:
    """Full-size SD1.5 base (UNet, VAE, CLIP text encoder, tokenizer, scheduler) and a ControlNet
    derived from its UNet, with random weights, saved with save_pretrained."""
    import torch
    from diffusers import AutoencoderKL, ControlNetModel, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from tiny_models import save_clip_tokenizer

    torch.manual_seed(0)
    save_dtype = {"fp16": torch.float16, "fp32": torch.float32}[dtype]
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
    )
    controlnet = ControlNetModel.from_unet(unet)  # conditioning embedding (16, 32, 96, 256) as in ControlNet v1.1
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
    ))
    save_clip_tokenizer(folder / "_tok")
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=vae.to(save_dtype), text_encoder=text_encoder.to(save_dtype), tokenizer=CLIPTokenizer.from_pretrained(folder / "_tok"),
        unet=unet.to(save_dtype), scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder / "sd15")
    controlnet.to(save_dtype).save_pretrained(folder / "controlnet")
    return folder / "sd15", folder / "controlnet"


def build_tiny(folder: Path) -> tuple[Path, Path]:
    from tiny_models import save_tiny_controlnet, save_tiny_sd15

    return save_tiny_sd15(folder / "sd15"), save_tiny_controlnet(folder / "controlnet")


def canny_image(size: int, seed: int) -> np.ndarray:
    """A box-and-wheels edge drawing, like a rendered car's canny map."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.uint8)
    s = size / 512
    x0, y0 = int((120 + rng.integers(-20, 20)) * s), int(220 * s)
    cv2.rectangle(img, (x0, y0), (x0 + int(270 * s), y0 + int(90 * s)), 255, max(1, int(2 * s)))
    cv2.rectangle(img, (x0 + int(60 * s), y0 - int(60 * s)), (x0 + int(200 * s), y0), 255, max(1, int(2 * s)))
    for dx in (50, 220):
        cv2.circle(img, (x0 + int(dx * s), y0 + int(95 * s)), int(35 * s), 255, max(1, int(2 * s)))
    return np.repeat(img[..., None], 3, axis=2)


CONFIGS = {
    "naive": dict(batch=1, options=dict(dtype="fp32", attention="eager", channels_last=False, fuse_qkv=False)),
    "tuned": dict(batch=None, options=dict(attention="sdpa", channels_last=True, fuse_qkv=True)),
    "tuned-compile": dict(batch=None, options=dict(attention="sdpa", channels_last=True, fuse_qkv=True, compile=True)),
    "fewstep": dict(batch=None, options=dict(attention="sdpa", channels_last=True, fuse_qkv=True, scheduler="lcm", steps=4, guidance_scale=1.0)),
    "fewstep-compile": dict(batch=None, options=dict(attention="sdpa", channels_last=True, fuse_qkv=True, scheduler="lcm", steps=4, guidance_scale=1.0, compile=True)),
}


def run_config(name: str, base: Path, controlnet: Path, args) -> dict:
    import torch

    from dst3d.appearance.controlnet import ControlNetBackend, ControlNetConfig

    spec = CONFIGS[name]
    options = {"base_model": str(base), "controlnet": str(controlnet), "steps": args.steps, "guidance_scale": 7.5, "scheduler": "unipc",
               "device": args.device, "resolution": args.size, "dtype": args.dtype}
    options.update(spec["options"])
    if name.startswith("fewstep") and args.lcm_lora:
        options.update(lcm_lora=args.lcm_lora)
    if args.device == "cpu" and options.get("dtype") in ("fp16", "auto"):
        options["dtype"] = "fp32"
    batch = spec["batch"] or args.batch
    n_images = args.naive_images if name == "naive" else args.images
    n_images = max(batch, (n_images // batch) * batch)
    t0 = time.perf_counter()
    backend = ControlNetBackend(ControlNetConfig.model_validate(options))
    load_s = time.perf_counter() - t0
    requests = [SimpleNamespace(controls={"canny": canny_image(args.size, i)}, prompt=PROMPT, negative_prompt=NEGATIVE, seed=1000 + i)
                for i in range(n_images)]
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    warm = time.perf_counter()
    for _ in range(args.warmup):
        backend.generate(requests[:batch])
    sync()
    warmup_s = time.perf_counter() - warm
    start = time.perf_counter()
    for i in range(0, n_images, batch):
        images = backend.generate(requests[i : i + batch])
    sync()
    elapsed = time.perf_counter() - start
    settings = backend.settings()
    result = {
        "config": name, "batch": batch, "images": n_images, "size": args.size, "steps": settings["steps"],
        "guidance_scale": settings["guidance_scale"], "scheduler": settings["scheduler_class"], "dtype": settings["dtype"],
        "attention": settings["attention"], "channels_last": settings["channels_last"], "fuse_qkv": settings["fuse_qkv"],
        "compile": settings["compile"], "images_per_s": n_images / elapsed, "s_per_image": elapsed / n_images,
        "load_s": round(load_s, 1), "warmup_s": round(warmup_s, 1), "image_shape": list(images[0].shape),
    }
    if args.device.startswith("cuda"):
        result["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del backend
    if args.device.startswith("cuda"):
        torch.cuda.empty_cache()
    return result


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    import os

    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {name}, {os.cpu_count()} cores visible, torch threads {torch.get_num_threads()} (torch {torch.__version__})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8, help="batch of the tuned configurations")
    parser.add_argument("--images", type=int, default=32, help="timed images per tuned configuration")
    parser.add_argument("--naive-images", type=int, default=4, help="timed images of the naive configuration")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches first (compilation, cuDNN autotuning)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp16", "bf16", "fp32"], help="dtype of the tuned configurations")
    parser.add_argument("--configs", default="naive,tuned,fewstep", help=f"comma-separated, of {','.join(CONFIGS)}")
    parser.add_argument("--lcm-lora", default=None, help="a real LCM-LoRA folder for the fewstep configurations (needs peft)")
    parser.add_argument("--models", type=Path, default=None, help="keep the built models in this folder and reuse them on later runs")
    parser.add_argument("--tiny", action="store_true", help="tiny random models instead of full-size (smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {list(CONFIGS)}")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.models:  # reuse, or build once and keep
            base, controlnet = args.models / "sd15", args.models / "controlnet"
            if not (base / "model_index.json").is_file() or not (controlnet / "config.json").is_file():
                args.models.mkdir(parents=True, exist_ok=True)
                (build_tiny if args.tiny else build_full_sd15)(args.models)
        elif args.tiny:
            base, controlnet = build_tiny(Path(tmp))
        else:
            base, controlnet = build_full_sd15(Path(tmp))
        print(f"models ready in {time.perf_counter() - t0:.0f} s: {base}, {controlnet}", file=sys.stderr)
        results = []
        for name in names:
            result = run_config(name, base, controlnet, args)
            results.append(result)
            print(json.dumps(result), flush=True)
    report = {"machine": machine(args.device), "models": "tiny random" if args.tiny else "full-size SD1.5 + ControlNet, random weights",
              "command": " ".join(["python", "experiments/bench_generation.py", *sys.argv[1:]]), "results": results}
    print(f"\n{report['machine']}; {report['models']}; {args.size}x{args.size}")
    print(f"{'config':<16}{'batch':>6}{'steps':>6}{'cfg':>6}{'dtype':>6}{'img/s':>9}{'s/img':>9}")
    for r in results:
        print(f"{r['config']:<16}{r['batch']:>6}{r['steps']:>6}{r['guidance_scale']:>6}{r['dtype']:>6}{r['images_per_s']:>9.3f}{r['s_per_image']:>9.2f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
