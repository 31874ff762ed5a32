"""A plain (non-editable) install carries the CAD library and the prompt data.

``cad_aligned/`` and ``prompts/`` live at the top of the repository; setup.py maps them into
the wheel. This builds the real wheel, installs it into a folder outside the checkout and
runs dst3d from there, so a forgotten data file shows up here rather than on a user's machine.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)], check=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("dst3d-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--target", str(tmp / "site"), str(wheel)], check=True, cwd=tmp)
    return tmp


def test_wheel_holds_every_data_file(installed):
    (wheel,) = (installed / "dist").glob("dst3d-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("cad_aligned", "prompts"):
        for f in (ROOT / folder).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                assert f"dst3d/_shipped/{f.relative_to(ROOT).as_posix()}" in names
    assert {"dst3d/render/shaders/segmentation.vert", "dst3d/render/shaders/segmentation.frag"} <= names


def _run_installed(installed: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed / "site")}
    return subprocess.run([sys.executable, *args], cwd=installed, env=env, capture_output=True, text=True, timeout=300)


def test_installed_copy_finds_its_data_and_generates(installed):
    probe = _run_installed(installed, "-c", "import json, dst3d.cad.library as c, dst3d.imagenet as p; "
                           "print(json.dumps([c.__file__, str(c.DEFAULT_LIBRARY), len(p.imagenet_classes())]))")
    assert probe.returncode == 0, probe.stderr[-2000:]
    module, library, n_classes = json.loads(probe.stdout)
    site = str(installed / "site")
    assert module.startswith(site) and library.startswith(site), "the installed copy must read its own data, not the checkout's"
    assert n_classes == 1000

    proc = _run_installed(installed, "-m", "dst3d", "generate", "--classes", "car", "--per-class", "2", "--size", "64", "--out", "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((installed / "out" / "data").glob("*.parquet"))
