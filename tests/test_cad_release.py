"""`dst3d cad import-release` on a miniature 3D-DST release built here, and `cad fetch objaverse` on a stub.

Library meshes are turned into release files the way the release stores them (ShapeNet OBJ and
OmniObject3D OBJ read by Blender's OBJ importer, Objaverse GLB by its glTF importer: both Y-up -> Z-up),
misaligned by known offsets that the CSV rows undo. After the import every model must coincide with its
original canonical mesh, and the dst3d viewpoint of an official record must render the view that an
independent transcription of the official Blender camera predicts.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import trimesh

from dst3d.cad.library import DEFAULT_LIBRARY, CadLibrary
from dst3d.cli import main

SIZE, FOCAL = 512, 35.0 / 32.0 * 512  # the official camera: 35 mm lens, 32 mm sensor, 512 px


def run_cli(args, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["dst3d", *map(str, args)])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    return exited.value.code or 0, out.out, out.err


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


# --- an independent transcription of the official renderer -----------------------------------------
def Rx(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def Rz(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def blender_import(vertices):
    """Blender's OBJ (forward -Z, up Y) and glTF importers: file (x, y, z) -> Blender (x, -z, y)."""
    v = np.asarray(vertices, float)
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], 1)


def blender_normalize(v):
    lo, hi = v.min(0), v.max(0)
    v = v / (hi - lo).max()
    lo, hi = v.min(0), v.max(0)
    return v - (lo + hi) / 2


def official_pose(a_s, p_s, az_off, el_off):
    """blender_render.py: offsets added, polar wrapped over the pole; returns (theta, phi) in radians."""
    theta = a_s + az_off / 180.0 * np.pi
    phi = p_s - el_off / 180.0 * np.pi
    phi = phi % (2 * np.pi)
    if phi > np.pi:
        theta, phi = theta + np.pi, 2 * np.pi - phi
    return theta % (2 * np.pi), float(np.clip(phi, 1e-5, np.pi))


def official_project(points, theta, phi, dist):
    """Blender camera at d (sin phi cos theta, sin phi sin theta, cos phi), TRACK_TO the origin (-Z forward,
    Y up), roll 0: its matrix_world is Rz(theta + 90 deg) Rx(phi). Pixels with the official intrinsics."""
    centre = dist * np.array([math.sin(phi) * math.cos(theta), math.sin(phi) * math.sin(theta), math.cos(phi)])
    world = Rz(math.degrees(theta) + 90.0) @ Rx(math.degrees(phi))  # camera axes (GL) in world
    cam = (points - centre) @ world  # GL camera coordinates: x right, y up, -z forward
    z = -cam[:, 2]
    return np.stack([FOCAL * cam[:, 0] / z + SIZE / 2, -FOCAL * cam[:, 1] / z + SIZE / 2], 1)


# --- the miniature release ------------------------------------------------------------------------------
# (kind, library model, azimuth offset, elevation offset, strength, strategy)
SPECS = [
    ("shapenet", "car_00", 90.0, 0.0, 1, 3),
    ("shapenet", "car_01", 37.0, 0.0, 2, 3),
    ("objaverse", "aeroplane_00", 180.0, 0.0, 1, 1),
    ("objaverse", "aeroplane_01", 270.0, 90.0, 1, 1),
    ("omniobject3d", "chair_00", 0.0, -90.0, 1, 4),  # an OmniObject3D scan stored Z-up: Blender lays it on its back
]
UIDS = {"aeroplane_00": "0123456789abcdef0123456789abcdef", "aeroplane_01": "fedcba9876543210fedcba9876543210"}


def canonical(lib: CadLibrary, model_id: str) -> trimesh.Trimesh:
    _, model = lib.model(model_id)
    return trimesh.util.concatenate(lib.load_parts(model))


def release_file_vertices(m: np.ndarray, az_off: float, el_off: float) -> np.ndarray:
    """A canonical mesh as the release file holds it: misaligned so that the offsets align it again,
    in the file's Y-up axes, at an arbitrary scale and position."""
    G = Rx(el_off) @ Rz(-az_off)
    b = m @ G  # G^-1 m
    f = np.stack([b[:, 0], b[:, 2], -b[:, 1]], 1)  # Blender -> file (inverse of blender_import)
    return f * 2.5 + np.array([0.3, -1.0, 2.0])


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    lib = CadLibrary(DEFAULT_LIBRARY)
    rows = ["synset,model_id,distance,azimuth,elevation,strength,pose_sampling"]
    originals = {}
    for i, (kind, mid, az, el, strength, strategy) in enumerate(SPECS):
        synset, _ = lib.model(mid)
        mesh = canonical(lib, mid)
        originals[mid] = mesh
        out = trimesh.Trimesh(release_file_vertices(mesh.vertices, az, el), mesh.faces, process=False)
        if kind == "shapenet":
            rid = hashlib.md5(mid.encode()).hexdigest()
            path = root / "shapenet" / "02958343" / rid / "models" / "model_normalized.obj"
        elif kind == "objaverse":
            rid = UIDS[mid]
            path = root / "objaverse_cache" / "glbs" / "000-001" / f"{rid}.glb"
        else:
            rid = "omniobject3d_chair_001"
            path = root / "omni" / "raw" / "raw_scans" / "chair" / "chair_001" / "Scan" / "Scan.obj"
        path.parent.mkdir(parents=True, exist_ok=True)
        out.export(path, include_normals=False) if path.suffix == ".obj" else out.export(path)
        rows.append(f"{synset},{rid},{1.5 + 0.1 * i},{az:g},{el:g},{strength},{strategy}")
    (root / "models.csv").write_text("\n".join(rows) + "\n")
    # a stub of the objaverse package over a local cache
    stub = root / "stub" / "objaverse"
    stub.mkdir(parents=True)
    (root / "cache.json").write_text(json.dumps({
        "objects": {uid: str(root / "objaverse_cache" / "glbs" / "000-001" / f"{uid}.glb") for uid in UIDS.values()},
        "annotations": {UIDS["aeroplane_00"]: {"license": "by", "name": "jet"}, UIDS["aeroplane_01"]: {"license": "cc0", "name": "plane"}},
        "lvis": {"airplane": sorted(UIDS.values()), "lamp": []},
    }))
    (stub / "__init__.py").write_text(textwrap.dedent(f"""
        import json
        _DATA = json.load(open({str(root / 'cache.json')!r}))
        def load_objects(uids, download_processes=1):
            return {{u: _DATA["objects"][u] for u in uids if u in _DATA["objects"]}}
        def load_annotations(uids=None):
            return {{u: a for u, a in _DATA["annotations"].items() if uids is None or u in uids}}
        def load_lvis_annotations():
            return _DATA["lvis"]
    """))
    return root, originals


@pytest.fixture()
def objaverse_stub(release, monkeypatch):
    root, _ = release
    monkeypatch.syspath_prepend(str(root / "stub"))
    monkeypatch.delitem(sys.modules, "objaverse", raising=False)
    yield
    sys.modules.pop("objaverse", None)


def new_library(tmp_path, capsys, monkeypatch) -> Path:
    lib = tmp_path / "lib"
    code, out, err = run_cli(["cad", "init", lib], capsys, monkeypatch)
    assert code == 0, err
    return lib


def test_release_import_coincides_and_renders_the_official_view(release, objaverse_stub, tmp_path, capsys, monkeypatch):
    root, originals = release
    lib_dir = new_library(tmp_path, capsys, monkeypatch)
    code, out, err = run_cli(["cad", "import-release", root / "models.csv", "--shapenet", root / "shapenet", "--omniobject3d", root / "omni",
                              "--objaverse", "--workers", "2", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0, err
    assert "5 imported" in out
    lib = CadLibrary(lib_dir)
    csv_rows = (root / "models.csv").read_text().splitlines()[1:]
    rng = np.random.default_rng(0)
    for (kind, mid, az, el, strength, strategy), row in zip(SPECS, csv_rows):
        synset, rid = row.split(",")[:2]
        new_id = rid if kind == "omniobject3d" else f"{kind}_{rid}"
        _, model = lib.model(new_id)
        got = canonical(lib, new_id)
        # 1. the imported mesh is the original canonical mesh (float32 GLB precision)
        assert got.vertices.shape == originals[mid].vertices.shape
        assert np.abs(got.vertices - originals[mid].vertices).max() < 2e-6, new_id
        tags = dict(part.split("=", 1) for part in model.source.replace(" (approximate)", "").split("; ")[1:])
        assert tags["strength"] == str(strength) and tags["strategy"] == str(strategy)
        # the same facts as typed tags (what filters and review read)
        assert model.tags.strength == {1: "good", 2: "approximate"}[strength] and model.tags.sampling_strategy == strategy
        assert model.tags.needs_review == (["elevation_offset"] if el else []), new_id
        # 2. official records -> dst3d viewpoints render the official view
        from dst3d.cad.release import official_to_viewpoint

        raw = blender_normalize(blender_import(trimesh.load(_source_path(root, kind, rid), force="mesh", process=False).vertices))
        rec = model.normalization
        for k in range(6):
            a_s, p_s = rng.uniform(0, 2 * np.pi), float(np.clip(rng.normal(np.pi / 2, 0.5), 0.2, np.pi - 0.2))
            if k == 0:
                a_s, p_s = -np.pi / 2, np.pi / 2  # the official front view
            dist = float(row.split(",")[2]) + rng.uniform(-0.3, 1.0)
            theta, phi = official_pose(a_s, p_s, az, el)
            expected = official_project(raw, theta, phi, dist)
            vp, look_at = official_to_viewpoint(theta, np.pi / 2 - phi, dist, az, el, rec.get("release_centre", [0, 0, 0]), rec.get("release_distance_scale", 1.0))
            R = vp.rotation()
            t = vp.translation() - R @ look_at
            cam = got.vertices @ R.T + t
            uv = cam[:, :2] / cam[:, 2:] * FOCAL + SIZE / 2
            assert np.abs(uv - expected).max() < 0.01, (new_id, k)
            if el == 0:  # the 90 degree azimuth difference, nothing else
                assert math.isclose(math.cos(vp.azimuth - (a_s + np.pi / 2)), 1.0, abs_tol=1e-9)
                assert math.isclose(vp.elevation, np.pi / 2 - p_s, abs_tol=1e-9) and math.isclose(math.cos(vp.theta), 1.0, abs_tol=1e-9)
            if k == 0:  # the official front view is dst3d's front view for every offset (the official code moves phi = 0 to 1e-5)
                assert math.isclose(math.cos(vp.azimuth), 1, abs_tol=1e-9) and abs(vp.elevation) < 2e-5 and math.isclose(math.cos(vp.theta), 1, abs_tol=1e-9)
        if az % 90 == 0 and el % 90 == 0:
            assert "release_centre" not in rec or np.abs(rec["release_centre"]).max() < 1e-6
    # licences and pose defaults
    _, plane = lib.model(f"objaverse_{UIDS['aeroplane_00']}")
    assert plane.license == "CC-BY-4.0" and lib.model(f"objaverse_{UIDS['aeroplane_01']}")[1].license == "CC0-1.0"
    chair_cls = lib.cls("n03001627") if "n03001627" in lib.manifest.classes else lib.cls(lib.model("omniobject3d_chair_001")[0])
    assert chair_cls.pose_defaults["azimuth_range"] == {"min": -105.0, "max": 105.0}
    from dst3d.pose.sampling import PoseSampling

    for cls in lib.manifest.classes.values():
        PoseSampling().merged(cls.pose_defaults)  # valid settings
    # resumable: a second run skips everything, writes nothing
    before = snapshot(lib_dir)
    code, out, err = run_cli(["cad", "import-release", root / "models.csv", "--shapenet", root / "shapenet", "--omniobject3d", root / "omni",
                              "--objaverse", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0 and "0 imported, 5 skipped" in out, out + err
    assert snapshot(lib_dir) == before


def _source_path(root: Path, kind: str, rid: str) -> Path:
    if kind == "shapenet":
        return root / "shapenet" / "02958343" / rid / "models" / "model_normalized.obj"
    if kind == "objaverse":
        return root / "objaverse_cache" / "glbs" / "000-001" / f"{rid}.glb"
    return root / "omni" / "raw" / "raw_scans" / "chair" / "chair_001" / "Scan" / "Scan.obj"


def test_release_filters_and_local_objaverse_folder(release, tmp_path, capsys, monkeypatch):
    root, _ = release
    lib_dir = new_library(tmp_path, capsys, monkeypatch)
    code, out, err = run_cli(["cad", "import-release", root / "models.csv", "--objaverse-dir", root / "objaverse_cache", "--shapenet", root / "shapenet",
                              "--classes", "car,airliner", "--max-per-class", "1", "--exclude-approximate", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0, err
    lib = CadLibrary(lib_dir)
    ids = sorted(m.id for c in lib.manifest.classes.values() for m in c.models)
    assert len(ids) == 2 and any(i.startswith("shapenet_") for i in ids) and any(i.startswith("objaverse_") for i in ids)
    assert all("strength=1" in m.source and m.tags.strength == "good" for c in lib.manifest.classes.values() for m in c.models)


def test_release_bad_input_one_line_each_nothing_half_written(release, tmp_path, capsys, monkeypatch):
    root, _ = release
    lib_dir = new_library(tmp_path, capsys, monkeypatch)
    before = snapshot(lib_dir)
    # a CSV with wrong columns
    bad = tmp_path / "bad.csv"
    bad.write_text("synset,model_id,distance\nn02958343,abc,1.5\n")
    code, out, err = run_cli(["cad", "import-release", bad, "--shapenet", root / "shapenet", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "columns" in err
    # a missing source folder
    code, out, err = run_cli(["cad", "import-release", root / "models.csv", "--shapenet", tmp_path / "nope", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a folder" in err
    assert snapshot(lib_dir) == before
    # unknown ids, a mesh that fails to load, a toys4k row; one good model still imported
    (root / "shapenet" / "02958343" / "deadbeef" / "models").mkdir(parents=True, exist_ok=True)
    (root / "shapenet" / "02958343" / "deadbeef" / "models" / "model_normalized.obj").write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
    good = (root / "models.csv").read_text().splitlines()[1]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join(["a,b,c,d,e,f,g", "n02958343,0000notthere,1.5,0,0,1,1", "n02958343,deadbeef,1.5,0,0,1,1",
                                "n02958343,toys4k_car_001,1.5,0,0,1,1", good]) + "\n")
    code, out, err = run_cli(["cad", "import-release", mixed, "--shapenet", root / "shapenet", "--cad-library", lib_dir], capsys, monkeypatch)
    lines = err.strip().splitlines()
    assert code == 2
    assert sum("0000notthere" in line and "unknown model id" in line for line in lines) == 1
    assert sum("deadbeef" in line for line in lines) == 1
    assert sum("toys4k_car_001" in line and "unsupported" not in line.lower() and ".blend" in line for line in lines) == 1
    assert "1 imported" in out
    lib = CadLibrary(lib_dir)
    assert [m.id for c in lib.manifest.classes.values() for m in c.models] == [f"shapenet_{good.split(',')[1]}"]
    files = {p.name for p in lib_dir.rglob("*") if p.is_file()}
    assert files == {"manifest.json", f"shapenet_{good.split(',')[1]}.glb"}  # no staging leftovers, no half-written model


def test_release_offline_hub_is_one_line(tmp_path, capsys, monkeypatch):
    lib_dir = new_library(tmp_path, capsys, monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = run_cli(["cad", "import-release", "--shapenet", tmp_path, "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "ccvl/3D-DST-models" in err


def test_pose_defaults_mapping():
    from dst3d.cad.release import FOV_SCALE, release_pose_defaults
    from dst3d.pose.sampling import PoseSampling

    d = release_pose_defaults(4, 1.5)
    assert d["azimuth_range"] == {"min": -105.0, "max": 105.0} and d["elevation_mean"] == 30.0
    s = PoseSampling().merged(d)
    rng = np.random.default_rng(1)
    draws = [s.sample(rng).distance for _ in range(4000)]
    assert abs(np.mean(draws) / FOV_SCALE - (1.5 + 0.141)) < 0.02  # the official mean, rescaled to dst3d's field of view
    assert release_pose_defaults(5, 2.0)["elevation"] == "uniform"


def test_fetch_objaverse_on_the_stub(release, objaverse_stub, tmp_path, capsys, monkeypatch):
    root, originals = release
    lib_dir = new_library(tmp_path, capsys, monkeypatch)
    # airliner maps from LVIS "airplane" only as a broader category
    code, out, err = run_cli(["cad", "fetch", "objaverse", "--classes", "airliner", "--per-class", "2", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0 and "0 imported" in out and "--broader" in err
    rotations = tmp_path / "rot.json"
    # the file's rotation: glTF coordinates -> canonical, the inverse of how the test misaligned aeroplane_00
    from dst3d.cad.release import release_rotation

    rotations.write_text(json.dumps({UIDS["aeroplane_00"]: release_rotation(180.0, 0.0).tolist()}))
    code, out, err = run_cli(["cad", "fetch", "objaverse", "--classes", "airliner", "--per-class", "2", "--broader", "--licenses", "by",
                              "--rotations", rotations, "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0, err
    lib = CadLibrary(lib_dir)
    models = [m for c in lib.manifest.classes.values() for m in c.models]
    assert [m.id for m in models] == [f"objaverse_{UIDS['aeroplane_00']}"]  # the cc0 one filtered out
    assert "orientation=file" in models[0].source and "approximate" in models[0].source and models[0].license == "CC-BY-4.0"
    assert models[0].tags.strength == "approximate" and models[0].tags.needs_review == []  # LVIS "airplane" is broader than airliner
    got = canonical(lib, models[0].id)
    assert np.abs(got.vertices - originals["aeroplane_00"].vertices).max() < 2e-6
    # without a rotation: an estimate, flagged
    code, out, err = run_cli(["cad", "fetch", "objaverse", "--classes", "n02690373", "--per-class", "2", "--broader",
                              "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0, err
    est = CadLibrary(lib_dir).model(f"objaverse_{UIDS['aeroplane_01']}")[1]
    assert "orientation=estimated" in est.source and est.tags.needs_review == ["orientation_estimated"]
    code, out, err = run_cli(["cad", "review", "airliner", "--out", tmp_path / "review.png", "--size", "48", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0 and f"note: {est.id}: approximate, review: orientation estimated" in out.splitlines(), out
    # fixing the orientation by hand clears its review flag, and only that one
    code, out, err = run_cli(["cad", "orient", est.id, "--rotate", "z:90", "--cad-library", lib_dir], capsys, monkeypatch)
    assert code == 0, err
    fixed = CadLibrary(lib_dir).model(est.id)[1]
    assert fixed.tags.needs_review == [] and fixed.tags.strength == "approximate"


def test_lvis_mapping_is_wordnet_consistent():
    from dst3d.cad.objaverse import load_mapping

    mapping = load_mapping()
    by = {(e["lvis"], e["imagenet"]): e for e in mapping}
    assert by[("ambulance", "n02701002")]["relation"] == "exact"
    assert by[("airplane", "n02690373")]["relation"] == "broader"  # airliner is a kind of airplane.n.01 (n02691156)
    assert by[("airplane", "n02690373")]["lvis_wnid"] == "n02691156"
