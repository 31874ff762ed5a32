"""Every record field checked against a source other than the code that wrote it: the CAD
manifest file, the job, the PASCAL3D+ pose formula, the pinhole intrinsics formula.

A swapped ``class_name``/``synset``/``cad_id``, a wrong sample order or a pose column that
disagrees with R fails here."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dst3d.cad.library import CadLibrary
from dst3d.store.dataset import open_dataset
from dst3d.store.record import Record

CLASSES = ["car", "aeroplane", "chair"]  # small_dataset's job (tests/conftest.py)


def _manifest() -> dict:
    """The shipped manifest as plain JSON, read without dst3d's library code."""
    return json.loads((CadLibrary().root / "manifest.json").read_text())


def _rotation(a: float, e: float, theta: float) -> np.ndarray:
    """R = Rz(-theta) diag(1, -1, -1) Rx(e - pi/2) Rz(-a), written out from the README."""
    def rz(x):
        return np.array([[math.cos(x), -math.sin(x), 0], [math.sin(x), math.cos(x), 0], [0, 0, 1]])

    def rx(x):
        return np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])

    return rz(-theta) @ np.diag([1.0, -1.0, -1.0]) @ rx(e - math.pi / 2) @ rz(-a)


def test_identity_fields_match_the_manifest(small_dataset):
    manifest = _manifest()["classes"]
    by_name = {c["pascal3d"] or c["name"]: s for s, c in manifest.items()}
    synsets = [by_name[c] for c in CLASSES]  # class-major, in the job's order
    job = json.loads((small_dataset / "dst3d_job.json").read_text())["job"]
    records = list(open_dataset(small_dataset).records())
    assert len(records) == len(CLASSES) * job["per_class"]
    for r in records:
        synset = synsets[r.index // job["per_class"]]
        assert r.synset == synset
        assert r.class_name == manifest[synset]["name"]
        assert r.cad_id in {m["id"] for m in manifest[synset]["models"]}
        assert r.id == f"{synset}-{r.index % job['per_class']:06d}"
        assert r.render["mesh_sha256"]
    assert [r.index for r in records] == list(range(len(records)))


def test_pose_fields_follow_the_pose_formula(small_dataset):
    job = json.loads((small_dataset / "dst3d_job.json").read_text())["job"]
    w, h, fov = job["width"], job["height"], job["fov_deg"]
    f = (w / 2) / math.tan(math.radians(fov) / 2)
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    for r in open_dataset(small_dataset).records():
        np.testing.assert_allclose(r.R, _rotation(r.azimuth, r.elevation, r.theta), atol=1e-9)
        np.testing.assert_allclose(r.t, [0, 0, r.distance], atol=1e-12)
        np.testing.assert_allclose(r.K, K, rtol=1e-12)
        assert (r.width, r.height) == (w, h)
        np.testing.assert_allclose(r.R @ r.R.T, np.eye(3), atol=1e-12)


def test_record_round_trips_a_row_exactly(small_dataset):
    rows = open_dataset(small_dataset).table().to_pylist()
    for row in rows[:5]:
        assert Record.from_row(row).to_row() == row


def test_partial_rows_and_missing_control_settings():
    record = Record.from_row({"id": "x", "render": json.dumps({"znear": 0.05}), "R": np.eye(3).tolist()})
    assert record.control_config.kinds == ["canny"]  # the defaults when a record has no control entry
    assert record.R.shape == (3, 3) and record.K is None
    with pytest.raises(ValueError, match="column 'index' is not set"):
        record.to_row()


@pytest.mark.parametrize("column, value, words", [
    ("R", [[1, 0], [0, 1]], "not a finite 3x3"),
    ("R", [[1, 0, 0], [0, 1, 0], [0, 0, float("nan")]], "not a finite 3x3"),
    ("R", [[1, 0, 0], [0, 1, 0], [0, 0, -1]], "not a rotation"),  # a reflection
    ("R", [[1.01, 0, 0], [0, 1, 0], [0, 0, 1]], "not a rotation"),
    ("t", [0, 0], "not a finite 3 array"),
    ("render", "{not json", "not JSON"),
])
def test_malformed_rows_are_one_line_errors(column, value, words):
    from dst3d.errors import UserError

    with pytest.raises(UserError, match=words):
        Record.from_row({"id": "bad", column: value})
