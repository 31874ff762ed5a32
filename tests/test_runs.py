"""Runs survive faults and scale out: resume after SIGKILL, one writer at a time, Ray == local."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from dst3d.pipeline.job import JobConfig
from dst3d.pipeline.run import run_job
from dst3d.store.run_state import RunLock, run_status
from dst3d.store.dataset import read_table

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]

JOB = {"classes": ["car", "chair"], "per_class": 24, "width": 96, "height": 96, "seed": 5, "shard_size": 4, "batch_size": 2}


def _table(path):
    return read_table(path).sort_by("index")


def _same_dataset(a, b):
    ta, tb = _table(a), _table(b)
    assert ta.column("id").to_pylist() == tb.column("id").to_pylist()
    assert len(set(ta.column("id").to_pylist())) == ta.num_rows
    for column in ta.column_names:
        assert ta.column(column).to_pylist() == tb.column(column).to_pylist(), column


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "ds"
    run_job(JobConfig(**JOB), out, progress=False)
    return out


def _generate_cmd(config, out):
    return [sys.executable, "-m", "dst3d", "generate", "--config", str(config), "--out", str(out), "--no-progress"]


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, reference):
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(JOB))
    out = tmp_path / "ds"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(_generate_cmd(config, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "data").glob("train-*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = run_status(out)
    assert 0 < done.shards_done < done.shards, "the kill should land mid-run"
    assert done.running_pid is None  # the kernel released the dead writer's lock
    resumed = subprocess.run(_generate_cmd(config, out), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert run_status(out).samples_done == 48
    assert not list((out / "data").glob(".*tmp"))
    _same_dataset(out, reference)


def test_second_writer_is_refused(tmp_path, cli):
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump(JOB))
    out = tmp_path / "ds"
    out.mkdir()
    job = JobConfig(**JOB)
    from dst3d.pipeline.state import start_output

    start_output(out, job, 48)
    with RunLock(out):
        proc = cli("generate", "--config", str(config), "--out", str(out))
        assert run_status(out).running_pid == os.getpid()
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: another dst3d run (pid {os.getpid()}) is writing to {out}; wait for it or stop it first"
    assert not (out / "data").exists()


def test_different_job_in_same_folder_is_refused(tmp_path, cli, reference):
    config = tmp_path / "job.yaml"
    config.write_text(yaml.safe_dump({**JOB, "seed": 6}))
    proc = cli("generate", "--config", str(config), "--out", str(reference))
    assert proc.returncode == 2 and "holds a different job" in proc.stderr


def test_worker_processes_equal_inline(tmp_path, reference):
    out = tmp_path / "ds"
    run_job(JobConfig(**JOB), out, progress=False, workers=2)
    _same_dataset(out, reference)


def test_ray_local_cluster_equals_local_engine(tmp_path, reference):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        out = tmp_path / "ds"
        run_job(JobConfig(**JOB), out, progress=False, engine="ray", workers=2)
    finally:
        ray.shutdown()
    _same_dataset(out, reference)
    assert (out / "README.md").exists()
