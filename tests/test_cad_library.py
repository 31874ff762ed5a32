"""The shipped library beyond PASCAL3D+: >= 40 ImageNet classes x >= 5 parametric models, each
loadable, normalized, in the canonical frame, honestly tagged for symmetry and visible when rendered.

Checked against sources independent of the generator: ImageNet's class list
(prompts/imagenet_classes.json) for synsets and names, the mesh files for geometry, the renderer for
silhouettes, and the models' own vertices for their symmetry tags.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from dst3d.cad.commands import register
from dst3d.cad.library import DEFAULT_LIBRARY, CadLibrary
from dst3d.errors import UserError
from dst3d.pose.viewpoint import Viewpoint, intrinsics

IMAGENET = Path(__file__).resolve().parents[1] / "prompts" / "imagenet_classes.json"
PASCAL_IDS = re.compile(r"^(aeroplane|bicycle|boat|bottle|bus|car|chair|diningtable|motorbike|sofa|train|tvmonitor)_0[0-2]$")


@pytest.fixture(scope="module")
def lib() -> CadLibrary:
    return CadLibrary(DEFAULT_LIBRARY)


def new_models(lib: CadLibrary):
    """Every model added after the first 36 (the twelve PASCAL3D+ classes x 3)."""
    return [(synset, m) for synset, cls in lib.manifest.classes.items() for m in cls.models if not PASCAL_IDS.match(m.id)]


def test_cad_list_shows_40_classes_with_5_models(lib):
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["cad", "list", "--cad-library", str(lib.root)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.search(r"\bn\d{8}\b", line)]
    synsets = {re.search(r"\bn\d{8}\b", row).group(0) for row in rows}
    assert len(synsets) >= 40 and synsets == set(lib.manifest.classes)
    for row in rows:
        synset = re.search(r"\bn\d{8}\b", row).group(0)
        ids = [m.id for m in lib.manifest.classes[synset].models]
        assert len(ids) >= 5 and all(i in row for i in ids), row


def test_classes_are_imagenet_synsets_with_their_names(lib):
    names = {c["wnid"]: c["names"] for c in json.loads(IMAGENET.read_text())["classes"]}
    for synset, cls in lib.manifest.classes.items():
        assert synset in names, synset
        assert cls.name == names[synset][0], (synset, cls.name, names[synset])
    assert len({m.id for cls in lib.manifest.classes.values() for m in cls.models}) == sum(len(c.models) for c in lib.manifest.classes.values())


def test_new_models_load_normalized_with_faces_and_keypoints(lib):
    models = new_models(lib)
    assert len(models) >= 28 * 5 + 12 * 2
    for synset, model in models:
        parts = lib.load_parts(model)
        assert len(parts) >= 2 and sum(len(p.faces) for p in parts) == model.faces > 0, model.id
        verts = np.vstack([p.vertices for p in parts])
        lo, hi = verts.min(0), verts.max(0)
        assert abs((hi - lo).max() - 1.0) < 1e-6, model.id  # longest side 1
        np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-6, err_msg=model.id)  # centred
        assert model.mesh == f"meshes/{synset}/{model.id}.glb" and model.front == "-y" and model.up == "+z"
        names, kps = lib.keypoints(model)
        assert len(names) >= 4 and (np.abs(kps) <= 0.5 + 1e-4).all(), model.id


def test_instances_of_a_class_are_distinct(lib):
    for cls in lib.manifest.classes.values():
        shapes = set()
        for model in cls.models:
            verts = np.vstack([p.vertices for p in lib.load_parts(model)])
            shapes.add((round(float(np.ptp(verts, 0)[0]), 3), round(float(np.ptp(verts, 0)[1]), 3), round(float(np.ptp(verts, 0)[2]), 3), model.faces))
        assert len(shapes) == len(cls.models), cls.name


# --- no near-identical models in a class -------------------------------------------------------------------
# Near-identical: the same vertex count (the same part structure), normalized bounding boxes within 0.08 on
# every axis and volumes within 20%. It catches 9 in 10 of the generator's own jittered copies (sizes
# scaled by up to 8%, test below), which is what the PASCAL3D+ twelve's models 03 and 04 used to be.
BOX_TOL, VOLUME_TOL = 0.08, 0.2
# Every class is guarded, the twelve PASCAL3D+ ones and the rest alike: the presets of a class differ in part
# structure (a mug with a lid, on a saucer, a stein; a tractor with a loader, with twin wheels ...), not
# only in proportions. A pair listed here (model numbers, e.g. "mug": "03") would be an accepted exception.
KNOWN_NEAR_IDENTICAL: dict[str, str] = {}


def shape_signature(parts) -> tuple[int, np.ndarray, float]:
    """(vertex count, bounding-box extents, total part volume) of a normalized model, from its meshes."""
    verts = np.vstack([np.asarray(p.vertices) for p in parts])
    return len(verts), np.ptp(verts, 0), float(sum(abs(p.volume) for p in parts))


def near_identical(a, b) -> bool:
    return a[0] == b[0] and float(np.abs(a[1] - b[1]).max()) < BOX_TOL and abs(a[2] - b[2]) / max(a[2], b[2]) < VOLUME_TOL


def test_the_measure_catches_jittered_copies():
    """The generator's jittered instances (beyond a class's presets) of presets 0 and 1, for every class."""
    from dst3d.cad.parametric import CLASSES, build_model

    caught = []
    for spec in CLASSES:
        for base in (0, 1):
            jitter = base + 2 * len(spec.presets)  # instance_params: the same preset, sizes jittered
            a, b = (shape_signature(list(build_model(spec, i)[0].values())) for i in (base, jitter))
            caught.append(near_identical(a, b))
    assert np.mean(caught) >= 0.85, np.mean(caught)


def test_no_two_models_of_a_class_are_near_identical(lib):
    found: dict[str, str] = {}
    for cls in lib.manifest.classes.values():
        signatures = [(m.id, shape_signature(lib.load_parts(m))) for m in cls.models]
        pairs = [f"{a[0][-1]}{b[0][-1]}" for i, a in enumerate(signatures) for b in signatures[i + 1:] if near_identical(a[1], b[1])]
        if pairs:
            found[cls.models[0].id.rsplit("_", 1)[0]] = " ".join(pairs)
    pascal = {"aeroplane", "bicycle", "boat", "bottle", "bus", "car", "chair", "diningtable", "motorbike", "sofa", "train", "tvmonitor"}
    assert not pascal & set(found), {k: found[k] for k in pascal & set(found)}
    assert found == KNOWN_NEAR_IDENTICAL


def _mean(kps: dict, word: str, axis: int) -> float | None:
    values = [v[axis] for k, v in kps.items() if word in k.split("_")]
    return float(np.mean(values)) if values else None


def test_keypoint_names_match_the_canonical_frame(lib):
    """+Z up, front toward -Y, the object's left at +X: what the keypoint names say is where they are."""
    checked = 0
    for _, model in new_models(lib):
        kps = model.keypoints
        for name, (x, y, z) in kps.items():
            words = name.split("_")
            if "left" in words:
                assert x > 1e-3, (model.id, name)
            if "right" in words:
                assert x < -1e-3, (model.id, name)
        front, back = _mean(kps, "front", 1), _mean(kps, "back", 1)
        if front is not None and back is not None:
            assert front < back, model.id
            checked += 1
        top, bottom = _mean(kps, "top", 2), _mean(kps, "bottom", 2)
        if top is not None and bottom is not None:
            assert top > bottom, model.id
    assert checked >= 100


def _transformed(verts: np.ndarray, symmetry, angle: float) -> np.ndarray:
    axis = "xyz".index(symmetry.axis)
    if symmetry.type == "mirror":
        out = verts.copy()
        out[:, axis] *= -1
        return out
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    out = verts.copy()
    out[:, i], out[:, j] = c * verts[:, i] - s * verts[:, j], s * verts[:, i] + c * verts[:, j]
    return out


def test_symmetry_tags_hold_on_the_geometry(lib):
    """A mirror or n-fold tag maps the model's vertices onto its own surface (within the polygonization).

    For the classes beyond PASCAL3D+; the twelve PASCAL3D+ builders tag "mirror:x" on vehicles whose
    door or drivetrain sits on one side (kept as they are: their models must not change)."""
    tagged = 0
    for synset, model in new_models(lib):
        if lib.manifest.classes[synset].pascal3d:
            continue
        sym = model.symmetry
        if sym.type == "none":
            continue
        verts = np.unique(np.vstack([p.vertices for p in lib.load_parts(model)]).round(6), axis=0)
        tree = cKDTree(verts)
        if sym.type == "mirror":
            angles, tol = [0.0], 0.01  # trimesh orients a tilted cylinder's vertex ring its own way (wrong tags: > 0.03)
        elif sym.order >= 2:
            angles, tol = [2 * np.pi / sym.order], 0.03
        else:
            angles, tol = [np.deg2rad(37.0), np.deg2rad(160.0)], 0.06  # a 30-gon of radius 0.4 is off by up to 0.04
        for angle in angles:
            distance = tree.query(_transformed(verts, sym, angle))[0].max()
            assert distance < tol, (model.id, sym, distance)
        tagged += 1
    assert tagged >= 100


@pytest.mark.parametrize("chunk", range(4))
def test_new_models_render_a_silhouette_from_every_side(lib, chunk):
    from dst3d.render.renderer import Renderer

    size = 128  # a broom seen edge-on is a few pixels wide at 64
    K = intrinsics(size, size, size * 1.1)
    models = new_models(lib)[chunk::4]
    try:
        for _, model in models:
            with Renderer(lib.load_parts(model), size, size) as renderer:
                for azimuth, elevation in ((0, 15), (90, 30), (180, 10), (270, 60)):
                    vp = Viewpoint(np.deg2rad(azimuth), np.deg2rad(elevation), 0.0, 2.5)
                    mask = renderer.render(vp.rotation(), vp.translation(), K).mask
                    assert mask.sum() >= 20, (model.id, azimuth, int(mask.sum()))
                    assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()), (model.id, azimuth)  # whole object in view
    except UserError as exc:
        if "OpenGL" in str(exc):
            pytest.skip(str(exc))
        raise


def test_review_sheet_flags_models_by_their_typed_tags(lib):
    """`cad review` marks a model from its tags (needs review, or only approximates its class), whatever its
    source text says: a source mentioning "approximate" is not a flag, a tag without such text is."""
    from dst3d.cad.library import CadModel, ModelTags
    from dst3d.viz.cad_review import flagged

    plain = dict(id="x_00", mesh="meshes/x.glb", license="CC0-1.0")
    assert not any(flagged(m) for cls in lib.manifest.classes.values() for m in cls.models)  # parametric: no tags
    assert not flagged(CadModel(source="approximate orientation=estimated (old text)", **plain))
    assert flagged(CadModel(source="objaverse", tags=ModelTags(needs_review=["orientation_estimated"]), **plain))
    assert flagged(CadModel(source="release", tags=ModelTags(strength="approximate"), **plain))
    assert not flagged(CadModel(source="release", tags=ModelTags(strength="good", sampling_strategy=2), **plain))
