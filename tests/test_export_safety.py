"""`dst3d export` on hostile datasets: names and image cells a dataset supplies never make the
export write outside --out or read a local file. Driven through the CLI as a user would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dst3d.store.dataset import open_dataset
from dst3d.store.shards import write_shard


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _hostile(small_dataset: Path, folder: Path, split: str, change) -> Path:
    """A copy of the dataset with split ``split``: its rows passed through ``change``."""
    data = folder / "data"
    shutil.copytree(small_dataset, data)
    rows = open_dataset(small_dataset).table().to_pylist()
    write_shard(data, 0, 1, [change(i, dict(row)) for i, row in enumerate(rows)], split=split)
    return data


def _refused(proc, *words) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", ["absolute", "parent"])
def test_coco_refuses_ids_that_are_paths(cli, small_dataset, tmp_path, kind):
    """A record id like `/abs/path` or `../../x` would be joined into the image file name."""
    victim = tmp_path / "victim"
    victim.mkdir()
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    bad = str(victim / "planted") if kind == "absolute" else "../../../victim/planted"
    data = _hostile(small_dataset, tmp_path, "evil", lambda i, row: {**row, "id": bad if i == 1 else row["id"]})
    before = _tree(tmp_path)
    out = work / "coco"
    line = _refused(cli("export", str(data), "--format", "coco", "--out", str(out), "--split", "evil", "--no-progress"),
                    "record id", "not a safe file name")
    assert bad[:40] in line
    assert _tree(tmp_path) == before  # nothing outside --out, no --out, no staging folder left
    assert not out.exists() and list(victim.iterdir()) == []


def test_bop_names_files_by_index_only(cli, small_dataset, tmp_path):
    """The same ids do not reach BOP file names (scene and image indices do): the export works
    and writes only inside --out."""
    victim = tmp_path / "victim"
    victim.mkdir()
    data = _hostile(small_dataset, tmp_path, "evil", lambda i, row: {**row, "id": str(victim / f"planted{i}") if i % 2 else f"../../p{i}"})
    before = _tree(tmp_path)
    out = tmp_path / "bop"
    proc = cli("export", str(data), "--format", "bop", "--out", str(out), "--split", "evil", "--no-depth", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert {p for p in _tree(tmp_path) - before if not p.startswith("bop/")} == {"bop"}
    assert list(victim.iterdir()) == []


@pytest.mark.parametrize("fmt", ["coco", "bop"])
def test_image_cell_naming_a_local_file_is_refused(cli, small_dataset, tmp_path, fmt):
    """`{"bytes": null, "path": "/some/local/file"}`: the export must not copy that file."""
    secret = tmp_path / "secret.png"
    secret.write_bytes(open_dataset(small_dataset).table(["image"]).to_pylist()[0]["image"]["bytes"])  # a valid PNG: readable if read
    data = _hostile(small_dataset, tmp_path, "evil", lambda i, row: {**row, "image": {"bytes": None, "path": str(secret)}} if i == 2 else row)
    before = _tree(tmp_path)
    out = tmp_path / "out"
    _refused(cli("export", str(data), "--format", fmt, "--out", str(out), "--split", "evil", "--no-depth", "--no-progress"),
             "holds no image bytes", "names a file")
    assert _tree(tmp_path) == before and not out.exists()


def test_safe_names():
    from dst3d.errors import UserError
    from dst3d.export.common import safe_stem

    for good in ("n02958343-000003", "n02958343-000003-shifted", "a.b_c-1"):
        assert safe_stem(good, "record id") == good
    for bad in ("/etc/passwd", "../x", "..", ".hidden", "a/b", "a\\b", "", "x" * 129, None, 7, "a\x00b", "é"):
        with pytest.raises(UserError, match="not a safe file name"):
            safe_stem(bad, "record id")
