"""Typed model tags in the CAD manifest: version-1 manifests migrate, `cad list` shows tags, bad tags fail in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dst3d.cad.commands import register
from dst3d.cad.library import MANIFEST_VERSION, CadLibrary
from dst3d.errors import UserError


def _model(mid: str, source: str, normalization: dict | None = None) -> dict:
    return {"id": mid, "mesh": f"meshes/n02690373/{mid}.glb", "source": source, "license": "CC0-1.0",
            "normalization": normalization or {"centre": [0.0, 0.0, 0.0], "scale": 1.0}}


# A version-1 manifest as dst3d wrote it before tags existed: the facts only in strings and numbers.
V1_MODELS = [
    _model("release_good", "3D-DST release (ccvl/3D-DST-models) shapenet:abc (02691156/abc); strength=1; strategy=3; distance=2; "
           "az_offset=90; el_offset=0", {"centre": [0.0, 0.0, 0.0], "scale": 1.0, "release_strength": 1.0, "release_strategy": 3.0,
                                         "release_elevation_offset": 0.0}),
    _model("release_approx_tilted", "3D-DST release (ccvl/3D-DST-models) objaverse:u1 (u1.glb); strength=2 (approximate); strategy=5; "
           "distance=1.5; az_offset=0; el_offset=15"),
    _model("objaverse_estimated", "Objaverse u2 (LVIS airplane); lvis_relation=broader; orientation=estimated; approximate=lvis-broader",
           {"centre": [0.0, 0.0, 0.0], "scale": 1.0, "orientation_estimated": 1.0}),
    _model("objaverse_fixed", "Objaverse u3 (LVIS airplane); lvis_relation=exact; orientation=estimated; oriented z:90",
           {"centre": [0.0, 0.0, 0.0], "scale": 1.0, "orientation_estimated": 1.0}),
    _model("aeroplane_00", "dst3d parametric generator v1"),
]
# What those strings mean, written out by hand (the independent reading of the v1 conventions).
EXPECTED = {
    "release_good": {"strength": "good", "sampling_strategy": 3},
    "release_approx_tilted": {"strength": "approximate", "sampling_strategy": 5, "needs_review": ["elevation_offset"]},
    "objaverse_estimated": {"strength": "approximate", "needs_review": ["orientation_estimated"]},
    "objaverse_fixed": {},
    "aeroplane_00": {},
}


def _write(root: Path, manifest: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def v1_library(root: Path) -> CadLibrary:
    return CadLibrary(_write(root, {"version": 1, "classes": {"n02690373": {"name": "airliner", "models": V1_MODELS}}}))


def test_version_1_manifest_migrates_to_typed_tags(tmp_path):
    lib = v1_library(tmp_path / "lib")
    got = {m.id: m.tags.model_dump(mode="json") for m in lib.manifest.classes["n02690373"].models}
    assert got == EXPECTED
    lib.save()
    data = json.loads((tmp_path / "lib" / "manifest.json").read_text())
    assert data["version"] == MANIFEST_VERSION == 2
    stored = {m["id"]: m.get("tags") for m in data["classes"]["n02690373"]["models"]}
    assert stored == {k: (v or None) for k, v in EXPECTED.items()}  # models without tags carry no key
    again = CadLibrary(tmp_path / "lib")  # version 2: read as written, no second derivation
    assert {m.id: m.tags.model_dump(mode="json") for m in again.manifest.classes["n02690373"].models} == EXPECTED


def test_version_2_tags_are_not_rederived_from_strings(tmp_path):
    """A flag cleared by hand stays cleared although the source still says orientation=estimated."""
    model = dict(V1_MODELS[2], tags={"strength": "approximate"})
    lib = CadLibrary(_write(tmp_path / "lib", {"version": 2, "classes": {"n02690373": {"name": "airliner", "models": [model]}}}))
    assert lib.manifest.classes["n02690373"].models[0].tags.needs_review == []


@pytest.mark.parametrize("manifest, words", [
    ({"version": 3, "classes": {}}, ["version 3", "upgrade dst3d"]),
    ({"version": "2", "classes": {}}, ["whole number"]),
    ({"version": 2, "classes": {"n02690373": {"name": "airliner", "models": [dict(V1_MODELS[0], tags={"strength": "great"})]}}},
     ["tags.strength", "good"]),
    ({"version": 2, "classes": {"n02690373": {"name": "airliner", "models": [dict(V1_MODELS[0], tags={"sampling_strategy": 9})]}}},
     ["tags.sampling_strategy"]),
    ({"version": 2, "classes": {"n02690373": {"name": "airliner", "models": [dict(V1_MODELS[0], tags={"needs_review": ["looks odd"]})]}}},
     ["tags.needs_review"]),
])
def test_bad_manifests_fail_in_one_line(tmp_path, manifest, words):
    with pytest.raises(UserError) as info:
        CadLibrary(_write(tmp_path / "lib", manifest))
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_cad_list_shows_the_tags(tmp_path):
    lib = v1_library(tmp_path / "lib")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cad", "list", "--cad-library", str(lib.root)], env={"COLUMNS": "600"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "n02690373" in line)
    # 2 approximate (release strength 2, LVIS broader), 1 good, strategies 3 and 5 once each, 2 flagged for review
    for part in ("approximate 2", "good 1", "strategy 3: 1", "strategy 5: 1", "review 2"):
        assert part in row, row
    assert re.search(r"\btags\b", result.output)
