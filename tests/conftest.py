"""Shared fixtures. Everything runs offline on CPU: the Hub is switched off for every test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def run_dst3d(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the CLI as a user would (a fresh process), with this checkout importable."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "dst3d", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def cli():
    return run_dst3d


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A render-backend dataset: 3 classes x 6 images at 128 px, 2 shards per class run."""
    out = tmp_path_factory.mktemp("data") / "small"
    from dst3d.pipeline.job import JobConfig
    from dst3d.pipeline.run import run_job

    job = JobConfig(classes=["car", "aeroplane", "chair"], per_class=6, width=128, height=128, shard_size=8, seed=7)
    run_job(job, out, progress=False)
    return out
