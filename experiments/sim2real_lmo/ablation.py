"""Ablation table of the sim2real benchmark: each row turns one realism setting or recipe part off.

    .venv/bin/python experiments/sim2real_lmo/ablation.py                      # template estimator (default)
    .venv/bin/python experiments/sim2real_lmo/ablation.py --set network --per-class 150 --epochs 10

Extra flags go to every row: ``--rows 1,2 --templates-per-class 1500`` measures rows against the
1500-template setting (how session 5's rows were measured; see ``ablation-templates.json``).
Every row is one ``run.py`` call (same seed, same allowed frames <= 611) with one change from
the full setting; writes ``ablation[-templates].json`` and ``.md`` next to this file. The
defaults were chosen on a synthetic tuning set (realism renders, seed 7000), not on these rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = "camera,backgrounds,lights,distractors"
TEMPLATE_ROWS = {
    "templates: default (3000 per object, own colours, clean renders, silhouette mask, blocks 7+14, 128 px)": [],
    "- silhouette mask (whole crop compared)": ["--no-template-mask"],
    "random colours instead of the mesh's own": ["--template-appearance", "random"],
    "jittered own colours": ["--template-appearance", "jitter"],
    "realism renders as templates (camera, backgrounds, lights, distractors)": ["--template-realism", FULL],
    "500 templates per object": ["--templates-per-class", "500"],
    "blocks 4+7+14": ["--template-layers", "4,7,14"],
    "1500 templates per object": ["--templates-per-class", "1500"],
}
NETWORK_ROWS = {
    "full": [],
    "no realism (procedural backgrounds only)": ["--realism", "none"],
    "- distractors": ["--realism", "camera,backgrounds,lights"],
    "- camera effects": ["--realism", "backgrounds,lights,distractors"],
    "- photo/clutter backgrounds": ["--realism", "camera,lights,distractors"],
    "- lights": ["--realism", "camera,backgrounds,distractors"],
    "- estimator augmentation (erasing, low-res, blur)": ["--occlusion", "0", "--low-res", "0", "--blur", "0"],
    "- symmetry-folded targets": ["--no-symmetric-targets"],
    "appearance random (not own colours)": ["--appearance", "random"],
    "frozen backbone (head only, 40 epochs)": ["--train-option", "freeze_backbone=true", "--epochs", "40"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="templates", choices=["templates", "network"], help="which estimator's rows")
    ap.add_argument("--per-class", default="150")
    ap.add_argument("--epochs", default="10")
    ap.add_argument("--rows", default=None, help="comma-separated row numbers (default: all)")
    args, extra = ap.parse_known_args()
    rows = TEMPLATE_ROWS if args.set == "templates" else NETWORK_ROWS
    chosen = list(rows.items())
    if args.rows:
        chosen = [chosen[int(i)] for i in args.rows.split(",")]
    table = {}
    suffix = "-templates" if args.set == "templates" else ""
    out = HERE / f"ablation{suffix}.json"
    if out.is_file():
        table = json.loads(out.read_text())
    for i, (name, flags) in enumerate(chosen):
        tag = f"{'tpl' if args.set == 'templates' else 'abl'}{list(rows).index(name)}"
        estimator = ["--estimator", args.set] + (["--per-class", args.per_class, "--epochs", args.epochs] if args.set == "network" else [])
        cmd = [sys.executable, str(HERE / "run.py"), *estimator, "--tag", tag, *extra, *flags]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        r = json.loads((HERE / f"results-{tag}.json").read_text())
        table[name] = {"command": " ".join(["run.py", *cmd[2:]]), "minutes": round((time.perf_counter() - t0) / 60, 1),
                       "synthetic": r["synthetic_held_out"]["overall"]["acc_pi_6"],
                       "real_all": r["real"]["all"]["model"]["overall"]["acc_pi_6"],
                       "real_vis": r["real"]["visibility>=0.5"]["model"]["overall"]["acc_pi_6"],
                       "real_median_deg": r["real"]["all"]["model"]["overall"]["median_deg"]}
        out.write_text(json.dumps(table, indent=1) + "\n")
        print(name, table[name], flush=True)
    lines = ["| setting | synthetic Acc@pi/6 | real Acc@pi/6 (all) | real, vis >= 0.5 | real median err | minutes |", "|---|---|---|---|---|---|"]
    for name, row in table.items():
        lines.append(f"| {name} | {row['synthetic']:.3f} | {row['real_all']:.3f} | {row['real_vis']:.3f} | {row['real_median_deg']:.1f} deg | {row['minutes']} |")
    (HERE / f"ablation{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
