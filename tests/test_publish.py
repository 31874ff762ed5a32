"""`dst3d publish` against a local stand-in for the Hub, and the data-driven dataset card.

The real `huggingface_hub` and `datasets` clients run in subprocesses whose environment
points them at the stand-in (they read HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE at import,
and conftest switches the Hub off for this process).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from dst3d.store.dataset import read_table
from dst3d.store.shards import shard_files, write_shard

sys.path.insert(0, str(Path(__file__).parent))
from hub_stub import HubStub  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOKEN = "hf_dst3dStubToken0123456789abcdefXYZ"
REPO_ID = "tester/dst3d-small"

LOAD = r"""
import sys
import pyarrow.parquet as pq
from datasets import Image, load_dataset
repo_id, out = sys.argv[1:3]
for i, revision in enumerate(sys.argv[3:]):
    ds = load_dataset(repo_id, split="train", revision=revision)
    ds = ds.cast_column("image", Image(decode=False)).cast_column("control", Image(decode=False))
    pq.write_table(ds.with_format("arrow")[:], f"{out}-{i}.parquet")
"""


@pytest.fixture
def hub(tmp_path):
    with HubStub(tmp_path / "hub", TOKEN) as stub:
        yield stub


def client_env(hub_url: str, tmp_path: Path, token: str | None = TOKEN) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_ENDPOINT=hub_url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1",
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    if token is not None:
        env["HF_TOKEN"] = token
    return env


class Client:
    """Runs the CLI (and a loader) like a user would, keeping every byte they print."""

    def __init__(self, hub_url: str, tmp_path: Path, token: str | None = TOKEN):
        self.env, self.tmp, self.outputs = client_env(hub_url, tmp_path, token), tmp_path, []

    def _run(self, args: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *args], env=self.env, capture_output=True, text=True, timeout=300)
        self.outputs += [proc.stdout, proc.stderr]
        return proc

    def dst3d(self, *args: str) -> subprocess.CompletedProcess:
        return self._run(["-m", "dst3d", *args])

    def load(self, repo_id: str, *revisions: str) -> list[list[dict]]:
        """`load_dataset(repo_id, revision=...)` for each revision, in one process."""
        out = self.tmp / f"loaded-{len(self.outputs)}"
        proc = self._run(["-c", LOAD, repo_id, str(out), *revisions])
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [pq.read_table(f"{out}-{i}.parquet").to_pylist() for i in range(len(revisions))]


def assert_no_token(client: Client, *folders: Path) -> None:
    for text in client.outputs:
        assert TOKEN not in text
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), f"token written into {path}"


def one_line_error(proc, *words) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for word in words:
        assert word in lines[0]
    return lines[0]


def local_rows(root: Path) -> list[dict]:
    return read_table(root).to_pylist()


def data_files(hub: HubStub, revision: str = "main") -> dict[str, dict]:
    return {p: f for p, f in hub.files(REPO_ID, revision).items() if p.startswith("data/")}


def copy_dataset(src: Path, dst: Path, keep: int | None = None, n_shards: int | None = None) -> Path:
    """A copy, optionally with fewer rows and other sharding (a new version of the data)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("data", "assets", "README.md", ".dst3d.lock"))
    if keep is None:
        shutil.copytree(src / "data", dst / "data")
        return dst
    (dst / "dst3d_job.json").unlink()  # other data than the job made: no longer that run
    rows = local_rows(src)[:keep]
    per = -(-len(rows) // n_shards)
    for i in range(n_shards):
        write_shard(dst, i, n_shards, rows[i * per : (i + 1) * per])
    return dst


# --- the card ---------------------------------------------------------------------------------------
def test_card_is_generated_from_the_data(small_dataset, tmp_path):
    from datasets import Features, load_dataset

    from dst3d.store.card import write_card
    from dst3d.viz.inspect import card_pictures

    data = copy_dataset(small_dataset, tmp_path / "data")
    rows = local_rows(data)
    report = {"folds": 3, "rule": "agreement", "threshold": 0.5, "kept": 15, "dropped": 3,
              "per_class": {"n02958343": {"kept": 4, "dropped": 2}, "n02690373": {"kept": 6, "dropped": 0}}}
    (data / "kcf").mkdir()
    (data / "kcf" / "report.json").write_text(json.dumps(report))
    (data / "kcf" / "report.png").write_bytes((small_dataset / "assets" / "pose_distribution.png").read_bytes())
    write_shard(data, 0, 1, rows[:15], split="filtered")  # what a KCF filter keeps, as its own split

    card = write_card(data, repo_id=REPO_ID, pictures=card_pictures(data)).read_text()
    _, header, body = card.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["license"] and {"image-classification", "object-detection"} <= set(meta["task_categories"])
    assert meta["size_categories"] == ["n<1K"] and "3d-pose-estimation" in meta["tags"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}, {"split": "filtered", "path": "data/filtered-*"}]}]
    # the schema block is generated from the shards' own schema, so loading keeps working
    from datasets import DatasetInfo

    assert meta["dataset_info"] == DatasetInfo(features=Features.from_arrow_schema(pq.read_schema(shard_files(data)[0])))._to_yaml_dict()
    loaded = load_dataset(str(data))
    assert (loaded["train"].num_rows, loaded["filtered"].num_rows) == (len(rows), 15)

    classes = {(r["synset"], r["class_name"]) for r in rows}
    for synset, name in classes:
        count = sum(r["synset"] == synset for r in rows)
        assert f"| {synset} | {name} | {count} |" in body
    assert f"| render | {len(rows)} |" in body
    assert "PASCAL3D+" in body and "OpenCV" in body  # the pose convention
    for png in ("assets/samples.png", "assets/pose_distribution.png"):
        assert f"]({png})" in body and (data / png).read_bytes().startswith(b"\x89PNG")
    # generation settings, seeds, CAD sources with licences
    assert "| backgrounds |" in body and f"job seed `{json.loads((data / 'dst3d_job.json').read_text())['job']['seed']}`" in body
    from dst3d.cad.library import CadLibrary

    library = CadLibrary(json.loads((data / "dst3d_job.json").read_text())["job"].get("cad_library"))
    for cad_id in {r["cad_id"] for r in rows}:
        _, model = library.model(cad_id)
        assert f"| {cad_id} |" in body and model.license in body and model.source in body
    # KCF statistics when a report is there
    assert "## KCF filtering" in body and "3 folds" in body and "kept 15, dropped 3" in body
    kcf = body.split("## KCF filtering")[1]
    assert "| n02958343 | " in kcf and "](kcf/report.png)" in kcf and "`filtered` (15 rows)" in kcf
    (data / "kcf" / "report.json").unlink()
    without = write_card(data).read_text()
    assert "KCF" not in without and "](assets/" not in without  # no picture linked unless given
    assert "](assets/" not in write_card(data, pictures=["assets/missing.png"]).read_text()  # nor one that is not there


# --- publishing ----------------------------------------------------------------------------------------
def test_publish_load_and_republish(small_dataset, hub, tmp_path):
    client = Client(hub.url, tmp_path)

    # dry run: lists files and sizes, needs no token, talks to nobody
    proc = Client(hub.url, tmp_path, token=None).dst3d("publish", str(small_dataset), "--repo-id", REPO_ID, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    for shard in shard_files(small_dataset):
        assert f"data/{shard.name}" in proc.stdout
    assert "README.md" in proc.stdout and "assets/samples.png" in proc.stdout and " kB" in proc.stdout
    assert hub.requests == []

    proc = client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = hub.files(REPO_ID)
    expected = {f"data/{p.name}" for p in shard_files(small_dataset)}
    assert set(data_files(hub)) == expected
    assert {"README.md", "assets/samples.png", "assets/pose_distribution.png", "dst3d_job.json"} <= set(files)
    for shard in shard_files(small_dataset):
        assert hub.read(REPO_ID, f"data/{shard.name}") == shard.read_bytes()
    assert ("POST", "/api/validate-yaml", 200) in hub.requests  # the card's YAML passed the Hub's check
    first_commit = hub.repos[REPO_ID]["refs"]["main"]

    # republish other data (fewer rows, other sharding): the old shards go, in one commit
    v2 = copy_dataset(small_dataset, tmp_path / "v2", keep=10, n_shards=2)
    write_shard(v2, 0, 1, local_rows(v2)[:7], split="filtered")  # and a KCF result
    (v2 / "kcf").mkdir()
    (v2 / "kcf" / "report.json").write_text(json.dumps({"folds": 2, "rule": "threshold", "kept": 7, "dropped": 3, "per_class": {}}))
    commits = len(hub.repos[REPO_ID]["commits"])
    proc = client.dst3d("publish", str(v2), "--repo-id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(hub.repos[REPO_ID]["commits"]) == commits + 1
    assert set(data_files(hub)) == {f"data/{p.name}" for p in shard_files(v2)} | {"data/filtered-00000-of-00001.parquet"}
    assert not expected & set(data_files(hub)) and "kcf/report.json" in hub.files(REPO_ID)
    # through the same endpoint, `load_dataset` gives the rows of each version
    published_first, published_now = client.load(REPO_ID, first_commit, "main")
    assert published_first == local_rows(small_dataset)
    assert published_now == local_rows(v2)
    assert "10 images" in hub.read(REPO_ID, "README.md").decode()
    assert_no_token(client, tmp_path, small_dataset)


def test_interrupted_upload_runs_again(small_dataset, hub, tmp_path):
    client = Client(hub.url, tmp_path)
    hub.faults.append({"method": "PUT", "path": r"^/_lfs/", "status": 400, "skip": 1})  # the 2nd upload breaks
    one_line_error(client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID), "400")
    assert set(hub.files(REPO_ID)) == {".gitattributes"}  # nothing half-published
    first = {p for m, p, s in hub.requests if m == "PUT" and s == 200}
    assert first

    del hub.requests[:]
    proc = client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = {p for m, p, s in hub.requests if m == "PUT"}
    lfs = {f["sha256"] for f in hub.files(REPO_ID).values() if f["lfs"]}
    assert not first & again, "objects that arrived the first time are not sent again"
    assert {p.rsplit("/", 1)[1] for p in first | again} == lfs
    assert set(data_files(hub)) == {f"data/{p.name}" for p in shard_files(small_dataset)}

    # unchanged data: nothing is uploaded, no new commit
    del hub.requests[:]
    commits = len(hub.repos[REPO_ID]["commits"])
    assert client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID).returncode == 0
    assert not [r for r in hub.requests if r[0] == "PUT"] and len(hub.repos[REPO_ID]["commits"]) == commits
    assert_no_token(client, tmp_path)


def test_revision_and_private(small_dataset, hub, tmp_path):
    client = Client(hub.url, tmp_path)
    proc = client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID, "--revision", "v1", "--private")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert hub.repos[REPO_ID]["private"]
    assert set(data_files(hub, "v1")) == {f"data/{p.name}" for p in shard_files(small_dataset)}
    assert set(hub.files(REPO_ID, "main")) == {".gitattributes"}
    assert_no_token(client, tmp_path)


def test_errors_are_one_line_and_never_show_the_token(small_dataset, hub, tmp_path):
    wrong = Client(hub.url, tmp_path, token=TOKEN[:-3] + "bad")
    line = one_line_error(wrong.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID), "401", "token")
    assert TOKEN[:-3] not in line
    assert hub.repos == {}

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    offline = Client(closed, tmp_path)
    one_line_error(offline.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID), "cannot reach the Hub")

    none = Client(hub.url, tmp_path, token=None)
    one_line_error(none.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID), "HF_TOKEN")
    for c in (wrong, offline, none):
        assert_no_token(c, tmp_path)

    from dst3d.errors import UserError
    from dst3d.hub.hub import publish

    with pytest.raises(UserError, match="does not exist"):
        publish(tmp_path / "nothing", REPO_ID, dry_run=True)
    with pytest.raises(UserError, match="OWNER/NAME"):
        publish(small_dataset, "no-owner", dry_run=True)


# --- only a finished, intact run is published ------------------------------------------------------
def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def _unfinished(dst: Path) -> None:
    last = shard_files(dst)[-1]  # as a killed run leaves it: the last shard not made yet
    last.unlink()
    (last.parent / f".{last.name}.json").unlink()


@pytest.mark.parametrize("damage, words", [
    (lambda d: shard_files(d)[1].unlink(), ("train-00001-of-00003.parquet", "missing")),
    (lambda d: _flip_middle(shard_files(d)[0]), ("train-00000-of-00003.parquet", "sha256")),
    (lambda d: os.truncate(shard_files(d)[2], 1000), ("train-00002-of-00003.parquet", "truncated")),
    (lambda d: [p.unlink() for p in (d / "data").glob(".*.json")], ("unverified",)),
    (_unfinished, ("unfinished", "generate")),
])
def test_publish_refuses_a_damaged_or_unfinished_run(small_dataset, tmp_path, damage, words):
    from dst3d.errors import UserError
    from dst3d.hub.hub import publish

    data = copy_dataset(small_dataset, tmp_path / "data")
    damage(data)
    with pytest.raises(UserError) as err:
        publish(data, REPO_ID, dry_run=True)
    line = str(err.value)
    assert "\n" not in line and all(w in line for w in words), line


def test_publish_refuses_while_a_run_writes(small_dataset, tmp_path):
    from dst3d.errors import UserError
    from dst3d.store.run_state import RunLock
    from dst3d.hub.hub import publish

    data = copy_dataset(small_dataset, tmp_path / "data")
    with RunLock(data):
        with pytest.raises(UserError, match=f"pid {os.getpid()}.* is writing"):
            publish(data, REPO_ID, dry_run=True)
    assert publish(data, REPO_ID, dry_run=True).files  # the writer is gone: fine again


def test_a_refused_publish_deletes_nothing_remote(small_dataset, hub, tmp_path):
    client = Client(hub.url, tmp_path)
    assert client.dst3d("publish", str(small_dataset), "--repo-id", REPO_ID).returncode == 0
    before = hub.files(REPO_ID)
    data = copy_dataset(small_dataset, tmp_path / "data")
    shard_files(data)[1].unlink()  # a shard deleted locally: a real publish would delete it remotely
    one_line_error(client.dst3d("publish", str(data), "--repo-id", REPO_ID), "train-00001-of-00003.parquet", "missing")
    assert hub.files(REPO_ID) == before
    assert_no_token(client, tmp_path)


def test_published_files_hold_no_local_paths(tmp_path, hub):
    """The job file's CAD library, the card and the rows' generation settings (backgrounds
    folder) name local folders by name and content hash, never by their absolute path."""
    import cv2
    import numpy as np

    from dst3d.cad.library import DEFAULT_LIBRARY
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    photos = tmp_path / "private" / "photos"
    photos.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(photos / f"p{i}.png"), np.full((40, 40, 3), 60 * i + 30, np.uint8))
    library = tmp_path / "private" / "library"
    shutil.copytree(DEFAULT_LIBRARY, library)
    data = tmp_path / "ds"
    job = JobConfig(classes=["car"], per_class=3, width=48, height=48, seed=3, cad_library=str(library),
                    backend_options={"backgrounds": str(photos)})
    run_job(job, data, progress=False)
    generation = json.loads(read_table(data, columns=["generation"])["generation"][0].as_py())
    assert generation["backgrounds"].startswith("photos@sha256:")

    client = Client(hub.url, tmp_path)
    proc = client.dst3d("publish", str(data), "--repo-id", REPO_ID)
    assert proc.returncode == 0, proc.stderr[-3000:]
    private = str(tmp_path / "private").encode()
    for path in hub.files(REPO_ID):
        assert private not in hub.read(REPO_ID, path), path
    published = json.loads(hub.read(REPO_ID, "dst3d_job.json"))
    assert published["job"]["cad_library"] == "library" and published["job"]["backend_options"]["backgrounds"].startswith("photos@sha256:")
