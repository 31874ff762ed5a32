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
    from dst3d.exporters.common import safe_stem

    for good in ("n02958343-000003", "n02958343-000003-shifted", "a.b_c-1"):
        assert safe_stem(good, "record id") == good
    for bad in ("/etc/passwd", "../x", "..", ".hidden", "a/b", "a\\b", "", "x" * 129, None, 7, "a\x00b", "é"):
        with pytest.raises(UserError, match="not a safe file name"):
            safe_stem(bad, "record id")


def _library_copy(small_dataset: Path, folder: Path, drop: str | None = None, touch: str | None = None) -> Path:
    """A copy of the dataset's CAD library: model ``drop`` left out of the manifest, the mesh of
    model ``touch`` changed (same name, other bytes)."""
    import json

    from dst3d.cad.library import CadLibrary

    library = CadLibrary(json.loads((small_dataset / "dst3d_job.json").read_text())["job"].get("cad_library"))
    copy = folder / "library"
    shutil.copytree(library.root, copy)
    if drop:
        manifest = json.loads((copy / "manifest.json").read_text())
        for cls in manifest["classes"].values():
            cls["models"] = [m for m in cls["models"] if m["id"] != drop]
        (copy / "manifest.json").write_text(json.dumps(manifest))
    if touch:
        _, model = library.model(touch)
        (copy / model.mesh).write_bytes((copy / model.mesh).read_bytes() + b"\n")
    return copy


def test_bop_refuses_a_library_without_the_datasets_models(cli, small_dataset, tmp_path):
    used = sorted(set(open_dataset(small_dataset).table(["cad_id"])["cad_id"].to_pylist()))
    library = _library_copy(small_dataset, tmp_path, drop=used[0])
    before = _tree(tmp_path)
    _refused(cli("export", str(small_dataset), "--format", "bop", "--out", str(tmp_path / "out"), "--cad-library", str(library), "--no-progress"),
             f"lacks the dataset's CAD model {used[0]}", "--cad-library")
    assert _tree(tmp_path) == before


def test_bop_uses_the_datasets_own_library(cli, small_dataset, tmp_path):
    """Without --cad-library the job's library is used (a changed mesh there is refused), and a
    job naming a folder that is not on this machine falls back to the shipped library."""
    import json

    used = sorted(set(open_dataset(small_dataset).table(["cad_id"])["cad_id"].to_pylist()))
    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    job = json.loads((data / "dst3d_job.json").read_text())
    job["job"]["cad_library"] = str(_library_copy(small_dataset, tmp_path, touch=used[-1]))
    (data / "dst3d_job.json").write_text(json.dumps(job))
    _refused(cli("export", str(data), "--format", "bop", "--out", str(tmp_path / "a"), "--no-depth", "--no-progress"),
             f"CAD model '{used[-1]}'", "differs")
    job["job"]["cad_library"] = str(tmp_path / "not-here")
    (data / "dst3d_job.json").write_text(json.dumps(job))
    proc = cli("export", str(data), "--format", "bop", "--out", str(tmp_path / "b"), "--no-depth", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "a").exists() and (tmp_path / "b" / "models" / "models_info.json").is_file()


def test_repeated_ids_get_distinct_file_names():
    from dst3d.exporters.coco import _file_names

    names = _file_names(["x", "x", "00000001_x", "y"])
    assert len(set(names)) == 4 and names[0] == "x.png" and names[3] == "y.png"
