"""The dataset card (README.md), written from the data itself, never from memory.

Everything on the card is computed from the shards (counts, pose statistics, generation
settings, seeds, prompts, the schema), from ``dst3d_job.json``, from the CAD manifest the
data was rendered with (sources and licences) and from ``kcf/report.json`` when a KCF
filter ran. Two pictures go with it: ``assets/samples.png`` (a contact sheet of samples
with their pose drawn on) and ``assets/pose_distribution.png``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

from ..files import write_text_atomic
from .dataset import read_table
from .shards import DATA_DIR, read_job_file

KCF_DIR = "kcf"
KCF_REPORT = "kcf/report.json"
KCF_PNG = "kcf/report.png"
_SHARD = re.compile(r"(?P<split>\w+)-\d{5}-of-\d{5}\.parquet")
ASSETS_DIR = "assets"
SAMPLES_PNG = f"{ASSETS_DIR}/samples.png"
POSE_PNG = f"{ASSETS_DIR}/pose_distribution.png"
CITATION = """\
@inproceedings{ma2024generating,
  title     = {Generating Images with 3D Annotations Using Diffusion Models},
  author    = {Ma, Wufei and Liu, Qihao and Wang, Jiahao and Wang, Angtian and others},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2024}
}"""

POSE_CONVENTION = """\
Poses follow PASCAL3D+/ObjectNet3D. The object frame is the canonical CAD frame (+Z up, the
object's front facing -Y, centred, longest side 1 unit). `azimuth`, `elevation`, `theta`
(in-plane rotation) are radians, `distance` is in object units; the camera centre is
`distance * (cos e sin a, -cos e cos a, sin e)`, so azimuth 0 sees the object's front.
`R`, `t` map object to camera coordinates in OpenCV axes (x right, y down, z forward):
`x_cam = R @ x_obj + t`, pixel `= K @ x_cam / z`. `bbox` is `[x0, y0, x1, y1]` in pixel-edge
coordinates; keypoints are pixel positions with a visibility flag (depth-tested)."""

COLUMNS = {
    "id": "sample id, `<synset>-<number>`",
    "index": "sample index in the job (fixes its pose, CAD model, prompt and seeds)",
    "image": "the generated image (PNG)",
    "control": "the control image the appearance backend was conditioned on (PNG)",
    "control_type": "kind of control image (e.g. `canny`)",
    "synset": "ImageNet synset id of the object class",
    "class_name": "class name",
    "cad_id": "CAD model rendered (see *CAD models*)",
    "azimuth": "viewpoint azimuth, radians in [0, 2pi)",
    "elevation": "viewpoint elevation, radians",
    "theta": "in-plane rotation, radians in [0, 2pi)",
    "distance": "camera distance, object units (longest side of the model = 1)",
    "R": "3x3 object-to-camera rotation, OpenCV camera",
    "t": "object-to-camera translation, object units",
    "K": "3x3 camera intrinsics, pixels",
    "width": "image width, pixels",
    "height": "image height, pixels",
    "bbox": "visible object box `[x0, y0, x1, y1]`, pixel-edge coordinates",
    "visible_fraction": "share of the object's silhouette inside the image",
    "keypoints": "named 3D keypoints projected to pixels, with a depth-tested visibility flag",
    "prompt": "text prompt given to the appearance backend",
    "negative_prompt": "negative prompt",
    "seed": "seed of this image's appearance generation",
    "backend": "appearance backend",
    "generation": "JSON: the backend's settings (models, revisions, steps, ...)",
    "render": "JSON: what re-rendering the control image needs beyond the pose",
}

_STAT_COLUMNS = ["id", "synset", "class_name", "cad_id", "azimuth", "elevation", "theta", "distance", "width", "height",
                 "visible_fraction", "keypoints", "prompt", "negative_prompt", "seed", "backend", "generation", "control_type"]


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M" if n < 10_000_000 else "10M<n<100M"


def split_files(root: Path) -> dict[str, list[Path]]:
    """Shards per split (``data/<split>-XXXXX-of-YYYYY.parquet``), ``train`` first.

    ``train`` is what generation wrote; other splits (e.g. KCF's ``filtered``) are
    published and declared on the card alongside it.
    """
    found: dict[str, list[Path]] = defaultdict(list)
    for path in sorted((Path(root) / DATA_DIR).glob("*.parquet")):
        match = _SHARD.fullmatch(path.name)
        if match:
            found[match.group("split")].append(path)
    return {s: found[s] for s in sorted(found, key=lambda s: (s != "train", s))}


def card_metadata(n: int, license: str = "cc-by-4.0", features=None, keypoints: bool = False, pretty_name: str | None = None,
                  splits: list[str] | None = None) -> dict:
    """YAML header the Hub validates: licence, tasks, tags, size category, configs."""
    meta = {
        "license": license,
        "pretty_name": pretty_name or "3D-DST pose dataset",
        "task_categories": ["image-classification", "object-detection"],
        "tags": ["3d-pose-estimation", "viewpoint-estimation", "synthetic", "3d-dst", "pascal3d", "imagenet"]
        + (["keypoint-detection"] if keypoints else []),
        "size_categories": [size_category(n)],
        "configs": [{"config_name": "default", "data_files": [{"split": s, "path": f"{DATA_DIR}/{s}-*"} for s in splits or ["train"]]}],
    }
    if features is not None:  # generated from the shards' own schema: a partial one would break loading
        from datasets import DatasetInfo

        meta["dataset_info"] = DatasetInfo(features=features)._to_yaml_dict()
    return meta


# --- gathering ------------------------------------------------------------------------
def _load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cad_models(job: dict) -> dict:
    """cad_id -> manifest entry (dict), from the library the job used; {} if unavailable."""
    from ..cad.library import CadLibrary
    from ..errors import UserError

    try:
        library = CadLibrary(job.get("cad_library"))
    except (UserError, OSError):
        return {}
    return {m.id: {**m.model_dump(mode="json"), "synset": s} for s, c in library.manifest.classes.items() for m in c.models}


def _deg_range(values: np.ndarray, wrap: bool = False) -> str:
    if wrap:  # in-plane angles live around 0: show them in (-180, 180]
        values = np.angle(np.exp(1j * values))
    lo, hi = (round(float(v)) + 0 for v in (np.rad2deg(values.min()), np.rad2deg(values.max())))
    return f"{lo} to {hi}"


def collect(root: Path) -> dict:
    """Everything the card says, as plain data (tests and other tools can use it too)."""
    root = Path(root)
    table = read_table(root, columns=_STAT_COLUMNS)
    col = {name: table[name].to_pylist() for name in _STAT_COLUMNS if name != "keypoints"}
    n = table.num_rows
    job_file = read_job_file(root)
    job = job_file.get("job", {})
    cad = _cad_models(job)

    classes = []
    names = dict(zip(col["synset"], col["class_name"]))
    by_class = defaultdict(list)
    for i, synset in enumerate(col["synset"]):
        by_class[synset].append(i)
    pose = {k: np.asarray(col[k], dtype=np.float64) for k in ("azimuth", "elevation", "theta", "distance")}
    visible = np.asarray(col["visible_fraction"], dtype=np.float64)
    for synset in sorted(by_class):
        idx = np.asarray(by_class[synset])
        classes.append({
            "synset": synset,
            "class_name": names[synset],
            "images": len(idx),
            "cad_models": len({col["cad_id"][i] for i in idx}),
            "azimuth_deg": _deg_range(pose["azimuth"][idx]),
            "elevation_deg": _deg_range(pose["elevation"][idx]),
            "theta_deg": _deg_range(pose["theta"][idx], wrap=True),
            "distance": f"{pose['distance'][idx].min():.2f} to {pose['distance'][idx].max():.2f}",
            "visible_fraction": float(visible[idx].mean()),
        })

    generation = Counter(zip(col["backend"], col["generation"]))
    settings = []
    for (backend, text), count in sorted(generation.items()):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"settings": text}
        settings.append({"backend": backend, "images": count, "settings": parsed})

    cad_rows = []
    for cad_id, count in sorted(Counter(col["cad_id"]).items()):
        entry = cad.get(cad_id, {})
        cad_rows.append({
            "cad_id": cad_id,
            "synset": entry.get("synset") or next(s for s, c in zip(col["synset"], col["cad_id"]) if c == cad_id),
            "source": entry.get("source", "unknown (CAD library not available when the card was written)"),
            "license": entry.get("license", "unknown"),
            "size_m": entry.get("size_m"),
            "images": count,
        })

    keypoint_names = defaultdict(set)
    for synset, kps in zip(col["synset"], table["keypoints"].to_pylist()):
        keypoint_names[synset].update(kp["name"] for kp in kps or [])

    seeds = np.asarray(col["seed"], dtype=np.int64)
    splits = split_files(root)
    shard_paths = [p for paths in splits.values() for p in paths]
    schemas = [pq.read_schema(paths[0]) for paths in splits.values()]
    job_public = {k: (Path(v).name if k == "cad_library" and v else v) for k, v in job.items()}  # no local paths
    return {
        "n": n,
        "classes": classes,
        "backends": dict(sorted(Counter(col["backend"]).items())),
        "controls": dict(sorted(Counter(col["control_type"]).items())),
        "sizes": dict(sorted(Counter(f"{w}x{h}" for w, h in zip(col["width"], col["height"])).items())),
        "generation": settings,
        "job": job_public,
        "job_seed": job.get("seed"),
        "seeds": {"min": int(seeds.min()), "max": int(seeds.max()), "distinct": int(len(np.unique(seeds)))} if n else {},
        "prompts": {"distinct": len(set(col["prompt"])), "examples": list(dict.fromkeys(col["prompt"][i] for i in np.linspace(0, n - 1, min(n, 5)).astype(int))) if n else [],
                    "negative": sorted(set(col["negative_prompt"]))[:3]},
        "cad": cad_rows,
        "keypoints": {s: sorted(v) for s, v in sorted(keypoint_names.items()) if v},
        "kcf": _load_json(root / KCF_REPORT),
        "kcf_png": (root / KCF_PNG).is_file(),
        "shards": [{"path": p.relative_to(root).as_posix(), "bytes": p.stat().st_size} for p in shard_paths],
        "splits": {s: sum(pq.ParquetFile(p).metadata.num_rows for p in paths) for s, paths in splits.items()},
        # one schema block for all splits, or none (a wrong one would break loading)
        "features": schemas[0] if schemas and all(sch.equals(schemas[0]) for sch in schemas) else None,
        "dst3d": job_file.get("dst3d"),
    }


# --- writing ------------------------------------------------------------------------------
def _table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]]


def _flatten(settings: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", f"`{json.dumps(value)}`"))
    return out


def render_card(stats: dict, repo_id: str | None = None, license: str = "cc-by-4.0", pictures: list[str] | tuple = ()) -> str:
    """The card's Markdown; ``pictures`` (paths relative to the card) are linked where they fit."""
    from datasets import Features

    features = Features.from_arrow_schema(stats["features"]) if stats["features"] is not None else None
    n = stats["n"]
    meta = card_metadata(n, license, features, keypoints=bool(stats["keypoints"]), splits=list(stats["splits"]) or None)
    names = {c["synset"]: c["class_name"] for c in stats["classes"]}
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
             "# 3D-DST pose dataset", "",
             f"{n} images of {len(stats['classes'])} classes with exact 3D pose labels, made by dst3d with 3D Diffusion "
             "Style Transfer (3D-DST): aligned CAD models are rendered from sampled viewpoints, the renders' control "
             "images are turned into images by an appearance backend, and every image inherits the pose of its render.",
             "", "```python", "from datasets import load_dataset",
             f'ds = load_dataset("{repo_id or "path/or/repo-id"}", split="train")', "```", ""]
    if SAMPLES_PNG in pictures:
        lines += [f"![samples with their pose labels]({SAMPLES_PNG})", "",
                  "*Samples: generated image with the labelled object axes (x red, y green, z blue), visible box and "
                  "keypoints; beside it, the control image it was generated from.*", ""]

    lines += ["## Counts", ""]
    lines += _table(["synset", "class", "images", "CAD models"], [[c["synset"], c["class_name"], c["images"], c["cad_models"]] for c in stats["classes"]])
    lines += ["", *_table(["backend", "images"], [[b, k] for b, k in stats["backends"].items()]), ""]
    lines += [f"Image sizes: {', '.join(f'{s} ({k})' for s, k in stats['sizes'].items())}. "
              f"Control images: {', '.join(f'{c} ({k})' for c, k in stats['controls'].items())}.", ""]

    lines += ["## Pose convention", "", POSE_CONVENTION, "", "## Pose distribution", ""]
    if POSE_PNG in pictures:
        lines += [f"![pose distribution]({POSE_PNG})", ""]
    lines += _table(["class", "azimuth (deg)", "elevation (deg)", "theta (deg)", "distance (units)", "mean visible fraction"],
                    [[c["class_name"], c["azimuth_deg"], c["elevation_deg"], c["theta_deg"], c["distance"], f"{c['visible_fraction']:.3f}"] for c in stats["classes"]])
    if stats["keypoints"]:
        lines += ["", "Keypoints per class: " + "; ".join(f"{names.get(s, s)}: {', '.join(k)}" for s, k in stats["keypoints"].items()) + "."]
    lines.append("")

    lines += ["## Generation", ""]
    for block in stats["generation"]:
        lines += [f"Backend `{block['backend']}` ({block['images']} images):", ""]
        lines += [*_table(["setting", "value"], _flatten(block["settings"])), ""]
    seeds = stats["seeds"]
    if seeds:
        lines += [f"Seeds: job seed `{stats['job_seed']}`; every image's appearance seed (column `seed`) is derived from "
                  f"(job seed, sample index): {seeds['distinct']} distinct seeds in [{seeds['min']}, {seeds['max']}]. "
                  "Pose, CAD model and prompt are drawn from their own streams of the same (seed, index), so any "
                  "sample can be regenerated alone.", ""]
    prompts = stats["prompts"]
    lines += [f"Prompts: {prompts['distinct']} distinct, e.g. " + "; ".join(f"\"{p}\"" for p in prompts["examples"][:3]) + ".",
              "Negative prompt: " + "; ".join(f"\"{p}\"" for p in prompts["negative"]) + ".", ""]
    if stats["job"]:
        lines += ["<details><summary>Job settings (<code>dst3d_job.json</code>)</summary>", "", "```json",
                  json.dumps(stats["job"], indent=1), "```", "", "</details>", ""]

    lines += ["## CAD models", "", "The images are renders of these models (restyled); their sources and licences:", ""]
    lines += _table(["CAD model", "class", "source", "licence", "real size (m)", "images"],
                    [[c["cad_id"], names.get(c["synset"], c["synset"]), c["source"], c["license"], c["size_m"] if c["size_m"] is not None else "?", c["images"]] for c in stats["cad"]])
    lines.append("")

    kcf = stats["kcf"]
    if kcf:
        kept, dropped = kcf.get("kept", 0), kcf.get("dropped", 0)
        rule = kcf.get("rule", "?")
        rule = ", ".join(f"{k}={v}" for k, v in rule.items()) if isinstance(rule, dict) else rule
        threshold = f", threshold `{kcf['threshold']}`" if "threshold" in kcf else ""
        lines += ["## KCF filtering", "",
                  f"K-fold consistency filter: {kcf.get('folds', '?')} folds, rule `{rule}`{threshold}: kept {kept}, dropped {dropped}"
                  + (f" ({100.0 * dropped / (kept + dropped):.1f}% dropped)." if kept + dropped else "."), ""]
        per_class = kcf.get("per_class") or {}
        if per_class:
            lines += _table(["synset", "class", "kept", "dropped"], [[s, names.get(s, ""), v.get("kept", 0), v.get("dropped", 0)] for s, v in sorted(per_class.items())])
            lines.append("")
        if stats.get("kcf_png"):
            lines += [f"![KCF report]({KCF_PNG})", ""]
        others = [s for s in stats["splits"] if s != "train"]
        if others:
            lines += ["The kept samples are also published as split " + ", ".join(f"`{s}` ({stats['splits'][s]} rows)" for s in others)
                      + f': `load_dataset(..., split="{others[0]}")`.', ""]

    splits = ", ".join(f"`{s}` ({k} rows)" for s, k in stats["splits"].items())
    lines += ["## Files and columns", "",
              f"{len(stats['shards'])} parquet shards under `data/` ({sum(s['bytes'] for s in stats['shards']) / 1e6:.1f} MB); splits {splits}.", ""]
    lines += _table(["column", "meaning"], [[f"`{name}`", COLUMNS.get(name, "")] for name in (features or {})])
    lines += ["", "Exports: `dst3d export DATA --format bop|coco --out DIR` writes BOP or COCO layouts with the same poses.", "",
              "## Licence", "",
              f"The dataset is released under `{license}`; the CAD models keep their own licences (table above), and "
              "the appearance backends' model licences apply to generated images.", "",
              "## Citation", "", "```bibtex", CITATION, "```", ""]
    return "\n".join(lines)


def write_card(root: Path, license: str = "cc-by-4.0", *, out: Path | None = None, repo_id: str | None = None,
               pictures: list[str] | tuple = ()) -> Path:
    """Write README.md for the dataset in ``root``, linking ``pictures``.

    ``out`` (default ``root``) receives README.md; publishing stages the card in a
    temporary folder this way so the dataset folder is only read. ``pictures`` are paths
    relative to ``out`` that the caller has already written (e.g. by
    :func:`dst3d.viz.inspect.card_pictures`): the card never links a file that is not there.
    """
    root = Path(root)
    out = Path(out) if out is not None else root
    stats = collect(root)
    present = [p for p in pictures if (out / p).is_file()]
    return write_text_atomic(out / "README.md", render_card(stats, repo_id, license, pictures=present if stats["n"] else ()))
