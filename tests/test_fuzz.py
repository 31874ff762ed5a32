"""Every command, fed bad input: exit 2, one line on stderr ("error: ..." or click's usage
error), no traceback, nothing new on disk.

The commands run in this process through ``dst3d.cli.main`` (the entry point, which maps a
UserError to one line and exit 2) with ``sys.argv`` set, so about seventy cases take
seconds; Ctrl-C runs a real subprocess. One small generated dataset is reused (copied into a
workspace whose every file is snapshotted before and after each case).
"""

from __future__ import annotations

import builtins
import errno
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from dst3d.store.shards import shard_files

REPO = Path(__file__).resolve().parents[1]


# --- the workspace ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ws(small_dataset, tmp_path_factory) -> Path:
    """Datasets in every state a case needs, a CAD library copy, bad files."""
    from dst3d.cad.library import DEFAULT_LIBRARY
    from dst3d.store.dataset import read_table
    from dst3d.store.shards import write_shard

    w = tmp_path_factory.mktemp("fuzz")
    ignore = shutil.ignore_patterns(".dst3d.lock", "inspect")
    for name in ("ds", "ds_missing", "ds_truncated", "ds_flipped", "ds_badjob", "ds_listjob", "ds_locked", "ro_ds"):
        shutil.copytree(small_dataset, w / name, ignore=ignore)
    shard_files(w / "ds_missing")[1].unlink()
    truncated = shard_files(w / "ds_truncated")[0]
    truncated.write_bytes(truncated.read_bytes()[:2000])
    flipped = shard_files(w / "ds_flipped")[2]
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = bytes(b ^ 0xFF for b in data[len(data) // 2 : len(data) // 2 + 16])
    flipped.write_bytes(bytes(data))
    (w / "ds_badjob" / "dst3d_job.json").write_text('{"job": {"classes": [')
    (w / "ds_listjob" / "dst3d_job.json").write_text("[1, 2, 3]")
    # a dataset whose ids try to leave the export folder (COCO file names come from ids)
    rows = read_table(w / "ds").to_pylist()[:4]
    for i, row in enumerate(rows):
        row["id"] = ["../../escaped", "/tmp/dst3d-fuzz-abs", "a/../../b", "..\\x"][i]
    write_shard(w / "evil", 0, 1, rows)
    shutil.copytree(DEFAULT_LIBRARY, w / "lib")
    (w / "newlib").mkdir()
    (w / "newlib" / "manifest.json").write_text('{"version": 99, "classes": {}}')
    (w / "badtags").mkdir()
    (w / "badtags" / "manifest.json").write_text('{"version": 2, "classes": {"n02814533": {"name": "beach wagon", "models": [{"id": "car_00", '
                                                 '"mesh": "m.glb", "source": "s", "license": "l", "tags": {"strength": "great"}}]}}}')
    (w / "empty").mkdir()
    (w / "notempty").mkdir()
    (w / "notempty" / "keep.txt").write_text("mine")
    (w / "configdir").mkdir()
    (w / "latin1.yaml").write_bytes("classes: [caf\xe9]\n".encode("latin-1"))
    (w / "bad.yaml").write_text("classes: [car\nper_class: 3\n")
    (w / "list.yaml").write_text("- car\n- chair\n")
    (w / "nan.yaml").write_text("classes: [car]\npose: {distance_range: {min: .nan, max: 3.0}}\n")
    (w / "inf.yaml").write_text("classes: [car]\npose: {elevation_std: .inf}\n")
    (w / "ninf.yaml").write_text("classes: [car]\npose: {theta_range: {min: -.inf, max: 0}}\n")
    (w / "reversed.yaml").write_text("classes: [car]\npose: {distance_range: {min: 5, max: 1}}\n")
    (w / "unknown.yaml").write_text("classes: [car]\nper_klass: 3\n")
    (w / "faraway.yaml").write_text("classes: [car]\nper_class: 2\nwidth: 32\nheight: 32\npose: {distance_range: {min: 200, max: 300}}\n")
    (w / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")  # one collinear triangle
    (w / "notamesh.obj").write_bytes(b"\x00\x01garbage\xff")
    (w / "afile").write_text("x")
    (w / "run_corrupt").mkdir()
    (w / "run_corrupt" / "model.safetensors").write_bytes(b"\x00not a checkpoint\xff" * 8)
    (w / "run_corrupt" / "config.json").write_text('{"backbone": "tiny", "bins": [')
    return w


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_dir()}


# --- simulated environments -----------------------------------------------------------------------------
@contextmanager
def read_only(folder: Path):
    """Writes under ``folder`` fail with EACCES, as on a read-only mount (works as root too)."""
    folder = str(folder)
    real_open, real_touch, real_mkdir, real_replace, real_osopen = builtins.open, pathlib.Path.touch, pathlib.Path.mkdir, os.replace, os.open

    def inside(path) -> bool:
        try:
            return os.path.abspath(os.fspath(path)).startswith(folder)
        except TypeError:
            return False

    def deny(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def _open(file, mode="r", *a, **k):
        if any(c in mode for c in "wax+") and inside(file):
            deny(file)
        return real_open(file, mode, *a, **k)

    def _osopen(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            deny(path)
        return real_osopen(path, flags, *a, **k)

    def _touch(self, *a, **k):
        if inside(self):
            deny(self)
        return real_touch(self, *a, **k)

    def _mkdir(self, *a, **k):
        if inside(self):
            deny(self)
        return real_mkdir(self, *a, **k)

    def _replace(src, dst, *a, **k):
        if inside(dst):
            deny(dst)
        return real_replace(src, dst, *a, **k)

    builtins.open, pathlib.Path.touch, pathlib.Path.mkdir, os.replace, os.open = _open, _touch, _mkdir, _replace, _osopen
    try:
        yield
    finally:
        builtins.open, pathlib.Path.touch, pathlib.Path.mkdir, os.replace, os.open = real_open, real_touch, real_mkdir, real_replace, real_osopen


@contextmanager
def disk_full(w: Path):
    """Every parquet write meets a full disk (ENOSPC), after writing a few bytes."""
    import dst3d.store.shards as shards

    real = shards.pq.write_table

    def write_table(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1")
        raise OSError(errno.ENOSPC, "No space left on device")

    shards.pq.write_table = write_table
    try:
        yield
    finally:
        shards.pq.write_table = real


@contextmanager
def locked(folder: Path):
    from dst3d.store.run_state import RunLock

    with RunLock(folder):
        yield


# --- the cases ------------------------------------------------------------------------------------------
GEN = ["generate", "--out", "{w}/new", "--size", "32", "--per-class", "2", "--no-progress"]

CASES = [
    # generate: job files
    ("generate-config-folder", [*GEN, "--config", "{w}/configdir"], None, "folder"),
    ("generate-config-not-utf8", [*GEN, "--config", "{w}/latin1.yaml"], None, "UTF-8"),
    ("generate-config-bad-yaml", [*GEN, "--config", "{w}/bad.yaml"], None, "YAML"),
    ("generate-config-a-list", [*GEN, "--config", "{w}/list.yaml"], None, "mapping"),
    ("generate-config-missing", [*GEN, "--config", "{w}/nothing.yaml"], None, "does not exist"),
    ("generate-config-unknown-setting", [*GEN, "--config", "{w}/unknown.yaml"], None, "per_klass"),
    ("generate-pose-nan", [*GEN, "--config", "{w}/nan.yaml"], None, "finite"),
    ("generate-pose-inf", [*GEN, "--config", "{w}/inf.yaml"], None, "finite"),
    ("generate-pose-minus-inf", [*GEN, "--config", "{w}/ninf.yaml"], None, "finite"),
    ("generate-pose-reversed-range", [*GEN, "--config", "{w}/reversed.yaml"], None, "greater than max"),
    ("generate-pose-out-of-view", [*GEN, "--config", "{w}/faraway.yaml"], None, "out of view"),
    # generate: settings
    ("generate-seed-negative", [*GEN, "--classes", "car", "--seed", "-1"], None, "seed"),
    ("generate-per-class-zero", [*GEN, "--classes", "car", "--per-class", "0"], None, "per_class"),
    ("generate-size-tiny", [*GEN, "--classes", "car", "--size", "4"], None, "width"),
    ("generate-size-huge", [*GEN, "--classes", "car", "--size", "100000"], None, "width"),
    ("generate-unknown-class", [*GEN, "--classes", "carr"], None, "carr"),
    ("generate-no-classes", [*GEN, "--classes", " , "], None, "classes"),
    ("generate-unknown-backend", [*GEN, "--classes", "car", "--backend", "nosuch"], None, "nosuch"),
    ("generate-missing-cad-library", [*GEN, "--classes", "car", "--cad-library", "{w}/nolib"], None, "manifest"),
    ("generate-unknown-engine", [*GEN, "--classes", "car", "--engine", "nosuch"], None, "engine"),
    ("generate-workers-zero", [*GEN, "--classes", "car", "--workers", "0"], None, None),
    ("generate-out-not-empty", ["generate", "--classes", "car", "--out", "{w}/notempty", "--size", "32", "--per-class", "2"], None, "not empty"),
    ("generate-out-parent-missing", ["generate", "--classes", "car", "--out", "{w}/a/b/c", "--size", "32", "--per-class", "2"], None, "parent"),
    ("generate-out-a-file", ["generate", "--classes", "car", "--out", "{w}/afile", "--size", "32", "--per-class", "2"], None, "exists"),
    ("generate-other-job-in-folder", ["generate", "--classes", "car,aeroplane,chair", "--per-class", "6", "--size", "128", "--seed", "8", "--out", "{w}/ds"], None, "seed"),
    ("generate-disk-full", [*GEN, "--classes", "car"], disk_full, "disk is full"),
    ("generate-unknown-option", [*GEN, "--classes", "car", "--colour", "red"], None, None),
    ("generate-seed-not-a-number", [*GEN, "--classes", "car", "--seed", "x"], None, None),
    ("generate-views-not-dividing-per-class", [*GEN, "--classes", "car", "--views-per-object", "4"], None, "multiple of views.per_object"),
    ("generate-view-layout-unknown", [*GEN, "--classes", "car", "--views-per-object", "2", "--view-layout", "spiral"], None, "layout"),
    ("generate-views-zero", [*GEN, "--classes", "car", "--views-per-object", "0"], None, "per_object"),
    ("generate-view-layout-without-views", [*GEN, "--classes", "car", "--view-layout", "orbit"], None, "--views-per-object"),
    # inspect
    ("inspect-n-zero", ["inspect", "{w}/ds", "--n", "0", "--out", "{w}/insp"], None, "at least one"),
    ("inspect-n-negative", ["inspect", "{w}/ds", "--n", "-3", "--out", "{w}/insp"], None, "at least one"),
    ("inspect-missing-folder", ["inspect", "{w}/nothing"], None, "does not exist"),
    ("inspect-not-a-dataset", ["inspect", "{w}/empty"], None, "no dataset shards"),
    ("inspect-deleted-shard", ["inspect", "{w}/ds_missing", "--out", "{w}/insp"], None, "train-00001-of-00003.parquet is missing"),
    ("inspect-truncated-shard", ["inspect", "{w}/ds_truncated", "--out", "{w}/insp"], None, "train-00000-of-00003.parquet is damaged"),
    ("inspect-read-only-dataset", ["inspect", "{w}/ro_ds"], lambda w: read_only(w / "ro_ds"), "cannot write"),
    ("inspect-out-is-a-file", ["inspect", "{w}/ds", "--out", "{w}/afile"], None, "file"),
    # status
    ("status-corrupt-job-file", ["status", "{w}/ds_badjob"], None, "damaged"),
    ("status-job-file-a-list", ["status", "{w}/ds_listjob"], None, "not a dst3d job record"),
    ("status-not-a-run", ["status", "{w}/empty"], None, "not a dst3d run folder"),
    ("status-missing-folder", ["status", "{w}/nothing"], None, "does not exist"),
    # publish (dry runs: the checks come before any contact)
    ("publish-bad-repo-id", ["publish", "{w}/ds", "--repo-id", "no-owner", "--dry-run"], None, "OWNER/NAME"),
    ("publish-deleted-shard", ["publish", "{w}/ds_missing", "--repo-id", "me/x", "--dry-run"], None, "missing"),
    ("publish-flipped-shard", ["publish", "{w}/ds_flipped", "--repo-id", "me/x", "--dry-run"], None, "sha256"),
    ("publish-truncated-shard", ["publish", "{w}/ds_truncated", "--repo-id", "me/x", "--dry-run"], None, "truncated"),
    ("publish-while-writing", ["publish", "{w}/ds_locked", "--repo-id", "me/x", "--dry-run"], lambda w: locked(w / "ds_locked"), "is writing"),
    ("publish-corrupt-job-file", ["publish", "{w}/ds_badjob", "--repo-id", "me/x", "--dry-run"], None, "dst3d_job.json"),
    ("publish-missing-folder", ["publish", "{w}/nothing", "--repo-id", "me/x", "--dry-run"], None, "does not exist"),
    # export
    ("export-unknown-format", ["export", "{w}/ds", "--format", "pascal", "--out", "{w}/exp"], None, "pascal"),
    ("export-out-not-empty", ["export", "{w}/ds", "--format", "coco", "--out", "{w}/notempty"], None, None),
    ("export-deleted-shard", ["export", "{w}/ds_missing", "--format", "coco", "--out", "{w}/exp"], None, "missing"),
    ("export-multiview-no-groups", ["export", "{w}/ds", "--format", "multiview", "--out", "{w}/exp"], None, "no view groups"),
    # import-bop
    ("import-bop-missing-scene", ["import-bop", "{w}/no-scene", "--out", "{w}/real"], None, None),
    ("import-bop-scene-is-a-dataset", ["import-bop", "{w}/ds", "--out", "{w}/real"], None, None),
    ("export-truncated-shard", ["export", "{w}/ds_truncated", "--format", "coco", "--out", "{w}/exp"], None, "damaged"),
    ("export-unknown-split", ["export", "{w}/ds", "--format", "coco", "--out", "{w}/exp", "--split", "nosuch"], None, "nosuch"),
    ("export-coco-path-traversal", ["export", "{w}/evil", "--format", "coco", "--out", "{w}/exp"], None, None),
    # filter
    ("filter-one-fold", ["filter", "{w}/ds", "--folds", "1"], None, "folds"),
    ("filter-quantile-above-one", ["filter", "{w}/ds", "--quantile", "1.5"], None, "quantile"),
    ("filter-missing-folder", ["filter", "{w}/nothing"], None, "does not exist"),
    ("filter-deleted-shard", ["filter", "{w}/ds_missing"], None, "missing"),
    pytest.param("filter-read-only-dataset", ["filter", "{w}/ro_ds", "--epochs", "1", "--folds", "2", "--backbone", "resnet18", "--weights", "none"],
                 lambda w: read_only(w / "ro_ds"), None),
    ("filter-min-clip-prob-without-scores", ["filter", "{w}/ds", "--min-clip-prob", "0.5"], None, "dst3d score"),
    ("filter-min-vlm-rating-out-of-range", ["filter", "{w}/ds", "--min-vlm-rating", "9"], None, "min_vlm_rating"),
    # score
    ("score-missing-model", ["score", "{w}/ds", "--no-progress"], None, "hf download openai/clip-vit-base-patch32"),
    ("score-missing-model-folder", ["score", "{w}/ds", "--model", "{w}/noclip"], None, "does not exist"),
    ("score-missing-vlm-folder", ["score", "{w}/ds", "--no-clip", "--vlm", "{w}/novlm"], None, "--vlm"),
    ("score-nothing-to-score", ["score", "{w}/ds", "--no-clip"], None, "nothing to score"),
    ("score-missing-folder", ["score", "{w}/nothing"], None, "does not exist"),
    ("score-deleted-shard", ["score", "{w}/ds_missing"], None, "missing"),
    ("score-bad-dtype", ["score", "{w}/ds", "--dtype", "fp8"], None, "dtype"),
    ("score-template-without-name", ["score", "{w}/ds", "--template", "a photo"], None, "{name}"),
    # train-pose / eval-pose
    ("train-pose-epochs-zero", ["train-pose", "{w}/ds", "--out", "{w}/run", "--epochs", "0"], None, "epochs"),
    ("train-pose-bad-bins", ["train-pose", "{w}/ds", "--out", "{w}/run", "--bins", "a,b"], None, "bins"),
    ("train-pose-missing-data", ["train-pose", "{w}/nothing", "--out", "{w}/run"], None, "does not exist"),
    ("train-pose-deleted-shard", ["train-pose", "{w}/ds_missing", "--out", "{w}/run", "--epochs", "1"], None, "missing"),
    ("eval-pose-missing-run", ["eval-pose", "{w}/norun", "{w}/ds"], None, None),
    pytest.param("eval-pose-min-visibility", ["eval-pose", "{w}/run_corrupt", "{w}/ds", "--min-visibility", "2"], None, None),
    pytest.param("eval-pose-corrupt-checkpoint", ["eval-pose", "{w}/run_corrupt", "{w}/ds", "--out", "{w}/eval.json"], None, None),
    # cad
    ("cad-import-missing-mesh", ["cad", "import", "{w}/nomesh.obj", "--synset", "car", "--front", "-y", "--up", "+z", "--cad-library", "{w}/lib"], None, None),
    ("cad-import-bad-axis", ["cad", "import", "{w}/flat.obj", "--synset", "car", "--front", "+q", "--up", "+z", "--cad-library", "{w}/lib"], None, None),
    ("cad-import-not-a-mesh", ["cad", "import", "{w}/notamesh.obj", "--synset", "car", "--front", "-y", "--up", "+z", "--cad-library", "{w}/lib"], None, None),
    ("cad-import-degenerate-mesh", ["cad", "import", "{w}/flat.obj", "--synset", "car", "--front", "-y", "--up", "+z", "--cad-library", "{w}/lib"], None, None),
    ("cad-show-unknown-model", ["cad", "show", "nosuch_00", "--out", "{w}/show.png", "--cad-library", "{w}/lib"], None, "nosuch_00"),
    ("cad-list-missing-library", ["cad", "list", "--cad-library", "{w}/nolib"], None, "manifest"),
    ("cad-build-zero-instances", ["cad", "build", "--instances", "0", "--cad-library", "{w}/lib"], None, None),
    ("cad-list-newer-manifest", ["cad", "list", "--cad-library", "{w}/newlib"], None, "upgrade dst3d"),
    ("cad-review-bad-model-tags", ["cad", "review", "car", "--out", "{w}/review.png", "--cad-library", "{w}/badtags"], None, "tags.strength"),
    # prompts
    ("prompts-show-unknown-class", ["prompts", "show", "--classes", "carr"], None, "carr"),
    ("prompts-show-n-zero", ["prompts", "show", "--n", "0"], None, None),
    ("prompts-show-config-folder", ["prompts", "show", "--config", "{w}/configdir"], None, "folder"),
    ("prompts-build-missing-llm", ["prompts", "build", "--classes", "car", "--llm", "{w}/nollm", "--out", "{w}/pc"], None, None),
    ("unknown-command", ["fly"], None, None),
]


def run_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """``dst3d ARGS`` through the real entry point, in this process."""
    from dst3d.cli import main

    monkeypatch.setattr(sys, "argv", ["dst3d", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def test_there_are_enough_cases_and_every_command_is_driven():
    from dst3d.cli import app

    assert len(CASES) >= 40
    commands = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands} | {g.name for g in app.registered_groups}
    driven = {(c.values[1] if hasattr(c, "values") else c[1])[0] for c in CASES}
    assert commands - driven == set(), f"commands without bad-input cases: {commands - driven}"


@pytest.mark.parametrize("name, args, env, words", CASES, ids=[c.values[0] if hasattr(c, "values") else c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(ws, name, args, env, words, monkeypatch, capsys):
    monkeypatch.chdir(ws)
    monkeypatch.setenv("DST3D_PROMPT_CACHE", str(ws / "prompt-cache"))
    args = [a.replace("{w}", str(ws)) for a in args]
    with (env(ws) if env else _nothing()):
        before = snapshot(ws)  # after the environment's own files (e.g. a writer's lock)
        code, out, err = run_main(args, monkeypatch, capsys)
        after = snapshot(ws)
    assert "Traceback" not in err + out, err
    assert code == 2, f"exit {code}; stdout: {out[-1500:]} stderr: {err[-1500:]}"
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("error: "):
        assert len(lines) == 1, err
        if words:
            assert words in lines[0], lines[0]
    else:  # click's usage error (exit 2 too): its own few lines, no error: line from dst3d
        assert "Usage" in err or "Error" in err or "╭" in err, err
    changed = sorted({k for k in set(after) | set(before) if after.get(k) != before.get(k)})
    assert not changed, f"files appeared or changed: {changed[:5]}"


@contextmanager
def _nothing():
    yield


def test_ctrl_c_says_what_happened_and_exits_130(tmp_path):
    """A real SIGINT in the middle of a generate: one line, exit 130, finished work kept."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "ds"
    proc = subprocess.Popen([sys.executable, "-m", "dst3d", "generate", "--classes", "car,chair", "--per-class", "400", "--size", "64",
                             "--out", str(out), "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "dst3d_job.json").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted") and "Traceback" not in stderr, stderr
    assert not list(out.rglob("*.tmp*"))
    assert not list((out / "data").glob("*.parquet")) or all(p.with_name(f".{p.name}.json").is_file() for p in (out / "data").glob("*.parquet"))
