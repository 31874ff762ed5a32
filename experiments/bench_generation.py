"""ControlNet generation throughput through dst3d's backend, prepared as ONE device call.

    .venv/bin/python experiments/bench_generation.py --smoke --out /tmp/bench.json   # CPU check on tiny models
    PYTHONPATH=. python experiments/bench_generation.py --out $OUT/bench.json        # GPU: all stages, < 10 min

(On a device machine with no dst3d install, ``PYTHONPATH=.`` makes the working tree importable.)

The full-size Stable Diffusion 1.5 UNet (860M), a ControlNet made from it (361M, the layout
of lllyasviel/control_v11p_sd15_canny), the SD VAE, the CLIP ViT-L text encoder and a
full-size TAESD (AutoencoderTiny) are built from their configs with random weights on the
device, saved in the Hub layout, and loaded by ``dst3d.appearance.load_backend`` exactly as
real weights are. Random weights cost exactly what real ones cost; no download is needed.
``--smoke`` uses the test suite's tiny models on the CPU instead (checks the script, not speed).

Stages (each one denoising pass per step; guidance > 1 doubles the batch):
- ``naive``: batch 1, fp32, the classic (non-SDPA) attention processor, no other tuning:
  how 3D-DST's generation script runs the pipeline.
- ``tuned``: batch B, fp16 (bf16 with --dtype), SDPA, fused QKV (UNet, VAE), channels_last,
  cudnn.benchmark.
- ``tuned-compile``: tuned + torch.compile of the UNet and ControlNet (warm-up excluded).
- ``fewstep``: tuned with LCM settings: LCMScheduler, 4 steps, guidance 1.0 (no
  classifier-free guidance). An LCM-LoRA is fused into the UNet weights before inference, so
  it costs nothing per step; --lcm-lora FOLDER loads a real one (needs peft).
- ``tinyvae``: tuned with the AutoencoderTiny decoder.
- ``e2e``: a whole ``dst3d generate --backend controlnet`` job of --e2e-images images (render,
  controls, generation, PNG encoding, shards) with the tuned options, in a fresh process,
  timed end to end (model loading included and also reported apart) against ``tuned``.

A time budget (--budget-s, default 540 s) guards the one call: a stage that would not fit
is skipped and says so. Every stage's result is appended to --out as soon as it is known,
so a run cut short still reports what it measured. Prints one JSON line per stage and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]

PROMPT = "a professional photo of a red car parked on a city street, golden hour sunlight, 50mm lens"
NEGATIVE = "lowres, blurry, deformed, watermark, text"


def build_full_sd15(folder: Path, dtype: str = "fp16", device: str = "cpu") -> dict[str, Path]:
    """Full-size SD1.5 base (UNet, VAE, CLIP text encoder, tokenizer, scheduler), a ControlNet
    derived from its UNet and a full-size TAESD, with random weights (initialized on
    ``device``: seconds on a GPU, minutes on a CPU), saved with save_pretrained."""
    import torch
    from diffusers import AutoencoderKL, AutoencoderTiny, ControlNetModel, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from dst3d.tiny_models import save_clip_tokenizer

    torch.manual_seed(0)
    save_dtype = {"fp16": torch.float16, "fp32": torch.float32}[dtype]
    torch.set_default_device(device)
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
    taesd = AutoencoderTiny()  # madebyollin/taesd's configuration
    torch.set_default_device("cpu")
    pipe.save_pretrained(folder / "sd15")
    controlnet.to(save_dtype).save_pretrained(folder / "controlnet")
    taesd.to(save_dtype).save_pretrained(folder / "taesd")
    return {"base": folder / "sd15", "controlnet": folder / "controlnet", "taesd": folder / "taesd"}




def build_tiny(folder: Path) -> dict[str, Path]:
    from dst3d.tiny_models import save_tiny_controlnet, save_tiny_sd15, save_tiny_taesd

    return {"base": save_tiny_sd15(folder / "sd15"), "controlnet": save_tiny_controlnet(folder / "controlnet"), "taesd": save_tiny_taesd(folder / "taesd")}


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


TUNED = dict(attention="sdpa", channels_last=True, fuse_qkv=True, cudnn_benchmark=True)
CONFIGS = {
    "naive": dict(batch=1, options=dict(dtype="fp32", attention="eager", channels_last=False, fuse_qkv=False, cudnn_benchmark=False)),
    "tuned": dict(batch=None, options=dict(TUNED)),
    "tuned-compile": dict(batch=None, options=dict(TUNED, compile=True)),
    "fewstep": dict(batch=None, options=dict(TUNED, scheduler="lcm", steps=4, guidance_scale=1.0)),
    "fewstep-compile": dict(batch=None, options=dict(TUNED, scheduler="lcm", steps=4, guidance_scale=1.0, compile=True)),
    "tinyvae": dict(batch=None, options=dict(TUNED, vae="taesd")),
}
ALL = "naive,tuned,fewstep,tinyvae,e2e,tuned-compile"


def options_for(name: str, models: dict[str, Path], args) -> dict:
    options = {"base_model": str(models["base"]), "controlnet": str(models["controlnet"]), "steps": args.steps, "guidance_scale": 7.5,
               "scheduler": "unipc", "device": args.device, "resolution": args.size, "dtype": args.dtype, "max_batch_size": args.batch}
    options.update(CONFIGS[name]["options"])
    if options.get("vae") == "taesd":
        options["vae"] = str(models["taesd"])
    if name.startswith("fewstep") and args.lcm_lora:
        options.update(lcm_lora=args.lcm_lora)
    if args.device == "cpu" and options.get("dtype") in ("fp16", "auto"):
        options["dtype"] = "fp32"
    if args.device == "cpu":
        options["cudnn_benchmark"] = False
    return options


def run_config(name: str, models: dict[str, Path], args) -> dict:
    import torch

    from dst3d.appearance import load_backend

    spec = CONFIGS[name]
    options = options_for(name, models, args)
    batch = spec["batch"] or args.batch
    n_images = args.naive_images if name == "naive" else args.images
    n_images = max(batch, (n_images // batch) * batch)
    t0 = time.perf_counter()
    backend = load_backend("controlnet", options)
    load_s = time.perf_counter() - t0
    requests = [SimpleNamespace(controls={"canny": canny_image(args.size, i)}, prompt=PROMPT, negative_prompt=NEGATIVE, seed=1000 + i)
                for i in range(n_images)]
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
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
    s = backend.settings()
    loaded = s["loaded"]
    result = {
        "config": name, "batch": batch, "images": n_images, "size": args.size, "steps": s["steps"], "guidance_scale": s["guidance_scale"],
        "scheduler": loaded["scheduler"]["class"], "dtype": loaded["dtype"]["unet"], "vae": loaded["vae"]["class"],
        "attention": loaded["attention"]["unet"], "fused_qkv": loaded["fused_qkv"], "channels_last": loaded["channels_last"],
        "cudnn_benchmark": loaded["cudnn_benchmark"], "compile": loaded["compile"], "images_per_s": n_images / elapsed,
        "s_per_image": elapsed / n_images, "load_s": round(load_s, 1), "warmup_s": round(warmup_s, 1), "image_shape": list(images[0].shape),
        "retried": backend.stats["retried"], "padded": backend.stats["padded"],
    }
    if cuda:
        result["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    del backend
    if cuda:
        torch.cuda.empty_cache()
    return result


def run_e2e(models: dict[str, Path], args, work: Path) -> dict:
    """A whole `dst3d generate --backend controlnet` job in a fresh process, timed end to end."""
    import subprocess

    import yaml

    options = options_for("tuned", models, args)
    job = {"classes": ["car"], "per_class": args.e2e_images, "width": args.size, "height": args.size, "seed": 0, "batch_size": args.batch,
           "shard_size": 256, "backend": "controlnet", "backend_options": options, "prompts": {"source": "templates"}}
    (work / "job.yaml").write_text(yaml.safe_dump(job))
    out = work / "e2e-out"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dst3d", "generate", "--config", str(work / "job.yaml"), "--backend", "controlnet",
                           "--out", str(out), "--no-progress"], env=env, capture_output=True, text=True, timeout=args.budget_s)
    wall = time.perf_counter() - t0
    result = {"config": "e2e", "command": "dst3d generate --backend controlnet (tuned options)", "images": args.e2e_images, "batch": args.batch,
              "size": args.size, "steps": options["steps"], "returncode": proc.returncode, "wall_s": round(wall, 1),
              "images_per_s_incl_startup": args.e2e_images / wall}
    if proc.returncode != 0:
        result["stderr_tail"] = proc.stderr[-2000:]
        return result
    from dst3d.store.dataset import read_table

    rows = read_table(out).to_pylist()
    result["rows"] = len(rows)
    result["generation_loaded_dtype"] = json.loads(rows[0]["generation"])["loaded"]["dtype"]["unet"]
    timing = out / "timings.json"
    if timing.is_file():
        result["stage_seconds"] = json.loads(timing.read_text())
    return result


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"CPU {name}, {os.cpu_count()} cores visible, torch threads {torch.get_num_threads()} (torch {torch.__version__})"


# Rough seconds per stage on one H100-class GPU at 512 px / 20 steps (planning only, for the
# budget guard; scaled by --images): a stage is skipped when it would overrun the budget.
PLAN_S = {"naive": 40, "tuned": 25, "fewstep": 10, "tinyvae": 25, "tuned-compile": 150, "fewstep-compile": 120, "e2e": 120}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8, help="batch of the tuned configurations")
    parser.add_argument("--images", type=int, default=64, help="timed images per tuned configuration")
    parser.add_argument("--naive-images", type=int, default=4, help="timed images of the naive configuration")
    parser.add_argument("--e2e-images", type=int, default=256, help="images of the end-to-end `dst3d generate` job")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches first (compilation, cuDNN autotuning)")
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp16", "bf16", "fp32"], help="dtype of the tuned configurations")
    parser.add_argument("--configs", default=ALL, help=f"comma-separated, of {','.join([*CONFIGS, 'e2e'])}")
    parser.add_argument("--lcm-lora", default=None, help="a real LCM-LoRA folder for the fewstep configurations (needs peft)")
    parser.add_argument("--models", type=Path, default=None, help="keep the built models in this folder and reuse them on later runs")
    parser.add_argument("--tiny", action="store_true", help="tiny random models instead of full-size")
    parser.add_argument("--smoke", action="store_true", help="CPU check of the whole script: tiny models, 64 px, 2 steps, few images")
    parser.add_argument("--budget-s", type=float, default=540.0, help="skip stages that would not finish within this many seconds")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON (updated after every stage)")
    args = parser.parse_args()
    if args.smoke:
        args.tiny, args.device, args.size, args.steps, args.batch = True, "cpu", 64, 2, 4
        args.images, args.naive_images, args.e2e_images, args.warmup = 8, 2, 8, 1
        args.threads = args.threads or 1
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS and n != "e2e"]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {[*CONFIGS, 'e2e']}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    started = time.perf_counter()
    report = {"machine": machine(args.device), "models": "tiny random" if args.tiny else "full-size SD1.5 + ControlNet canny + TAESD, random weights",
              "command": " ".join(["python", "experiments/bench_generation.py", *sys.argv[1:]]), "results": [], "skipped": []}

    def save() -> None:
        report["total_s"] = round(time.perf_counter() - started, 1)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        build = build_tiny if args.tiny else (lambda folder: build_full_sd15(folder, device=args.device))
        if args.models:  # reuse, or build once and keep
            models = {"base": args.models / "sd15", "controlnet": args.models / "controlnet", "taesd": args.models / "taesd"}
            if not all((p / ("model_index.json" if k == "base" else "config.json")).is_file() for k, p in models.items()):
                args.models.mkdir(parents=True, exist_ok=True)
                models = build(args.models)
        else:
            models = build(Path(tmp))
        report["build_s"] = round(time.perf_counter() - t0, 1)
        print(f"models ready in {report['build_s']:.0f} s: {models}", file=sys.stderr)
        save()
        scale = 1.0 if args.tiny else max(1.0, args.images / 64)
        for name in names:
            left = args.budget_s - (time.perf_counter() - started)
            need = 0.0 if args.tiny else PLAN_S.get(name, 60) * (scale if name != "e2e" else args.e2e_images / 256)
            if need > left:
                report["skipped"].append({"config": name, "why": f"needs about {need:.0f} s, {left:.0f} s of the budget left"})
                print(json.dumps(report["skipped"][-1]), flush=True)
                save()
                continue
            try:
                result = run_e2e(models, args, Path(tmp)) if name == "e2e" else run_config(name, models, args)
            except Exception as exc:  # noqa: BLE001 - one failed stage must not lose the others
                result = {"config": name, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
            report["results"].append(result)
            print(json.dumps(result), flush=True)
            save()
    tuned = next((r for r in report["results"] if r.get("config") == "tuned" and "images_per_s" in r), None)
    e2e = next((r for r in report["results"] if r.get("config") == "e2e" and "images_per_s_incl_startup" in r), None)
    if tuned and e2e:
        startup = tuned["load_s"] + tuned["warmup_s"]
        e2e["images_per_s_excl_startup_est"] = e2e["images"] / max(1e-9, e2e["wall_s"] - startup)
        e2e["vs_bare_pipeline"] = e2e["images_per_s_excl_startup_est"] / tuned["images_per_s"]
    save()
    print(f"\n{report['machine']}; {report['models']}; {args.size}x{args.size}")
    print(f"{'config':<16}{'batch':>6}{'steps':>6}{'cfg':>6}{'dtype':>9}{'img/s':>9}{'s/img':>9}")
    for r in report["results"]:
        if "images_per_s" in r:
            print(f"{r['config']:<16}{r['batch']:>6}{r['steps']:>6}{r['guidance_scale']:>6}{r['dtype']:>9}{r['images_per_s']:>9.3f}{r['s_per_image']:>9.2f}")
        elif "wall_s" in r:
            extra = f", ~{r['images_per_s_excl_startup_est']:.2f} img/s without startup ({r['vs_bare_pipeline']:.0%} of tuned)" if "vs_bare_pipeline" in r else ""
            print(f"{r['config']:<16} {r['images']} images in {r['wall_s']} s end to end (rc {r['returncode']}){extra}")
        else:
            print(f"{r['config']:<16} {r.get('error')}")
    for r in report["skipped"]:
        print(f"{r['config']:<16} skipped: {r['why']}")


if __name__ == "__main__":
    main()
