"""Bring an outside mesh into the library: rotate to the canonical frame, normalize, register.

Canonical frame: +Z up, the object's front toward -Y, bounding-box centre at the origin,
longest side 1. The mesh's own appearance (vertex or face colours, a UV texture and its
material, a base colour) is kept in the library GLB (:func:`own_appearance`). The user names which source axes were front and up; everything else is
checked here so a bad file fails with one line saying what to fix, before anything is
written. A new synset is accepted only together with a class ``name`` (so the manifest
never holds a nameless class); an existing class can be named by synset, name or
PASCAL3D+ category.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import trimesh

from ..errors import UserError
from ..files import read_json_object, write_bytes_atomic
from .library import CadClass, CadLibrary, CadModel, Symmetry

SUPPORTED = (".obj", ".glb", ".gltf", ".ply", ".off", ".stl")
AXES = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]), "z": np.array([0.0, 0.0, 1.0])}
MAX_PARTS = 254  # the renderer's part-id limit
# Relative to the longest side: a triangle below AREA (of longest^2) has no area, a mesh thinner than
# FLAT (of longest) has no depth. Both far above float32 noise (~1e-7), far below any real object.
AREA = 1e-12
FLAT = 1e-6
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_axis(text: str, what: str) -> tuple[str, np.ndarray]:
    """'+x', '-y', 'z' (= '+z') -> canonical name and unit vector."""
    t = str(text).strip().lower()
    if len(t) == 1:
        t = "+" + t
    if len(t) != 2 or t[0] not in "+-" or t[1] not in AXES:
        raise UserError(f"bad --{what} axis '{text}': use one of +x -x +y -y +z -z (x means +x)")
    return t, AXES[t[1]] * (1.0 if t[0] == "+" else -1.0)


def parse_symmetry(text: str) -> Symmetry:
    """'none', 'mirror:x', 'rotational:z:4' (order 0 = continuous)."""
    parts = [p.strip().lower() for p in str(text).split(":")]
    try:
        if parts[0] == "none" and len(parts) == 1:
            return Symmetry(type="none")
        if parts[0] == "mirror" and len(parts) <= 2:
            return Symmetry(type="mirror", axis=parts[1] if len(parts) > 1 else "x")
        if parts[0] == "rotational" and len(parts) <= 3:
            return Symmetry(type="rotational", axis=parts[1] if len(parts) > 1 else "z", order=int(parts[2]) if len(parts) > 2 else 0)
    except ValueError:
        pass
    raise UserError(f"bad symmetry '{text}': use none, mirror:x|y|z or rotational:x|y|z:N (N=0 for continuous)")


def read_keypoints(path: Path) -> dict:
    """Keypoints for an import from a JSON object {name: [x, y, z]}."""
    return read_json_object(path, "keypoints", '{"nose": [0, 0.1, 2.5]}')


def canonical_rotation(front: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation taking the source front to -Y and the source up to +Z (a proper rotation)."""
    src = np.stack([front, up, np.cross(front, up)], 1)
    dst = np.stack([[0.0, -1.0, 0.0], [0.0, 0.0, 1.0], np.cross([0.0, -1.0, 0.0], [0.0, 0.0, 1.0])], 1)
    return dst @ src.T


def _load_parts(path: Path) -> list[tuple[str, trimesh.Trimesh]]:
    """Named triangle parts of any supported file, scene transforms applied."""
    try:
        scene = trimesh.load(path, force="scene", process=False)
    except Exception as exc:  # noqa: BLE001 - loaders raise many types on corrupt input
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {path.name} as {path.suffix.lower()[1:].upper()}: {detail}; re-export it from your modelling tool") from None
    parts = []
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            mesh = trimesh.Trimesh(np.asarray(geom.vertices, float), np.asarray(geom.faces), process=False)
            appearance = own_appearance(geom)
            if appearance is not None:
                mesh.visual = appearance
            mesh.remove_unreferenced_vertices()  # a stray vertex must not move the box the model is normalized by
            mesh.apply_transform(transform)
            parts.append((str(node), mesh))
    return parts


def own_appearance(geom: trimesh.Trimesh):
    """The mesh's own appearance, kept on import into the library GLB: vertex colours, face
    colours, a UV texture with its material, or a material's base colour (None: no appearance,
    the model renders with the backend's random colours as before)."""
    visual = getattr(geom, "visual", None)
    if visual is None or not visual.defined:
        return None
    kind = visual.kind
    try:
        if kind == "vertex":
            return trimesh.visual.ColorVisuals(vertex_colors=np.asarray(visual.vertex_colors, np.uint8))
        if kind == "face":
            return trimesh.visual.ColorVisuals(face_colors=np.asarray(visual.face_colors, np.uint8))
        if kind == "texture" or isinstance(visual, trimesh.visual.TextureVisuals):
            uv = getattr(visual, "uv", None)
            material = getattr(visual, "material", None)
            if uv is not None and len(uv) == len(geom.vertices):
                return trimesh.visual.TextureVisuals(uv=np.asarray(uv, np.float64), material=material)
            if material is not None:  # a base colour without texture coordinates: one colour per vertex
                colour = np.asarray(material.main_color, np.uint8).reshape(-1)[:4]
                return trimesh.visual.ColorVisuals(vertex_colors=np.tile(colour, (len(geom.vertices), 1)))
    except (ValueError, TypeError, AttributeError):  # a malformed visual: keep the geometry, drop the appearance
        return None
    return None


def check_geometry(name: str, parts: list[tuple[str, trimesh.Trimesh]]) -> tuple[np.ndarray, np.ndarray]:
    """Refuse meshes that cannot become a renderable, normalizable model; returns the bbox (lo, hi).

    Why: a mesh with no faces, only zero-area faces, no depth (all in one plane) or non-finite
    coordinates renders as nothing (or nothing from some side), and every pose label drawn on it
    would label an invisible object. Each refusal is one line that says what to fix.
    """
    faces = sum(len(m.faces) for _, m in parts)
    if faces == 0:
        raise UserError(f"{name} has no triangle faces (empty, truncated, or a point cloud); export a triangle mesh")
    verts = np.vstack([m.vertices for _, m in parts])
    if not np.isfinite(verts).all():
        raise UserError(f"{name} has NaN or infinite vertex coordinates; repair the mesh and export it again")
    lo, hi = verts.min(0), verts.max(0)
    with np.errstate(over="ignore", invalid="ignore"):
        longest = float((hi - lo).max())
    if not np.isfinite(longest) or longest > 1e30:
        raise UserError(f"{name} has vertex coordinates too large to compute with (up to {np.abs(verts).max():.3g}); scale the mesh down and export it again")
    if longest <= 1e-12 * max(1.0, float(np.abs(verts).max())):
        raise UserError(f"{name} has zero size (all vertices coincide); export the real geometry")
    unit = (verts - (lo + hi) / 2) / longest  # longest side 1: thresholds are relative
    tris, offset = [], 0
    for _, mesh in parts:
        tris.append(unit[offset:offset + len(mesh.vertices)][mesh.faces])
        offset += len(mesh.vertices)
    tris = np.concatenate(tris)
    areas = np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1) / 2
    if not (areas > AREA).any():
        which = "its only face has" if faces == 1 else f"all {faces} of its faces have"
        raise UserError(f"{name}: {which} zero area (collinear or repeated vertices), so nothing would render; export the object's real surface")
    centred = unit - unit.mean(0)
    normal = np.linalg.svd(centred, full_matrices=False)[2][-1]
    thickness = float(np.ptp(centred @ normal))
    if thickness < FLAT:
        axis = int(np.argmax(np.abs(normal)))
        where = f"along its {'xyz'[axis]} axis" if abs(normal[axis]) > 0.999 else f"across the plane with normal ({normal[0]:.2f}, {normal[1]:.2f}, {normal[2]:.2f})"
        raise UserError(f"{name} is flat: all its vertices lie in one plane (no extent {where}), so it vanishes seen edge-on and has no 3D pose; "
                        "export the solid object, or give the sheet a thickness")
    return lo, hi


def _resolve_synset(library: CadLibrary, synset: str, name: str | None) -> tuple[str, bool]:
    """(synset, is_new): an existing class by synset/name/PASCAL3D+ name, or a new one if named."""
    key = synset.strip()
    if key in library.manifest.classes:
        return key, False
    try:
        return library.resolve_class(key), False
    except UserError:
        pass
    if name:
        if not re.fullmatch(r"n\d{8}", key):
            raise UserError(f"new synset '{synset}' must look like an ImageNet WordNet id, e.g. n02958343")
        return key, True
    known = ", ".join(f"{c.pascal3d or c.name} ({s})" for s, c in sorted(library.manifest.classes.items()))
    raise UserError(f"unknown synset '{synset}'; use one of {known}, or pass --name NAME to create a new class")


def import_mesh(
    library: CadLibrary,
    path: Path,
    synset: str,
    front: str,
    up: str,
    model_id: str | None = None,
    source: str | None = None,
    license: str = "unknown",
    keypoints: dict | None = None,
    symmetry: Symmetry | None = None,
    size_m: float | None = None,
    name: str | None = None,
) -> CadModel:
    """Validate, canonicalize and add one mesh; on any error nothing is written.

    ``keypoints`` are in source coordinates and get the mesh's transform. ``size_m``
    defaults to the median of the class's other models (1.0 for a new class).
    """
    path = Path(path)
    # --- validate the arguments before touching the file ------------------------------
    if not path.exists():
        raise UserError(f"mesh file not found: {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a file; pass the mesh file itself")
    if path.suffix.lower() not in SUPPORTED:
        raise UserError(f"unsupported mesh format '{path.suffix or path.name}'; convert it to one of {' '.join(SUPPORTED)}")
    front_name, front_vec = parse_axis(front, "front")
    up_name, up_vec = parse_axis(up, "up")
    if abs(float(front_vec @ up_vec)) > 0.5:
        raise UserError(f"--front {front_name} and --up {up_name} must be perpendicular axes (e.g. --front -y --up +z)")
    synset, new_class = _resolve_synset(library, synset, name)
    model_id = model_id or _free_id(library, re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_.-") or "model")
    if not _ID.match(model_id):
        raise UserError(f"bad model id '{model_id}': use letters, digits, '_', '-' and '.', starting with a letter or digit")
    if any(m.id == model_id for c in library.manifest.classes.values() for m in c.models):
        raise UserError(f"model id '{model_id}' is already in the library; pick another with --id")
    if size_m is not None and not (np.isfinite(size_m) and size_m > 0):
        raise UserError(f"--size-m must be a positive number of metres, got {size_m}")
    # --- read and check the geometry --------------------------------------------------
    parts = _load_parts(path)
    lo, hi = check_geometry(path.name, parts)
    faces = sum(len(m.faces) for _, m in parts)
    longest = float((hi - lo).max())
    kps = _check_keypoints(keypoints or {})
    # --- canonical transform: x' = R (x - c) * s ---------------------------------------
    R = canonical_rotation(front_vec, up_vec)
    centre, scale = (lo + hi) / 2, 1.0 / longest
    transform = np.eye(4)
    transform[:3, :3] = R * scale
    transform[:3, 3] = -R @ centre * scale
    if len(parts) > MAX_PARTS:  # the renderer colours at most 254 parts: merge them (their own colours kept per vertex)
        merged = [m for _, m in parts]
        if any(m.visual.defined for m in merged) and len({m.visual.kind for m in merged}) > 1:
            merged = [_as_vertex_colours(m) for m in merged]
        parts = [("body", trimesh.util.concatenate(merged))]
    scene = trimesh.Scene()
    used: set[str] = set()
    for index, (part_name, mesh) in enumerate(parts):
        mesh = mesh.copy()
        mesh.apply_transform(transform)
        label = part_name if part_name and part_name not in used else f"part_{index:03d}"
        used.add(label)
        scene.add_geometry(mesh, geom_name=label, node_name=label)
    glb = scene.export(file_type="glb")
    cls = library.manifest.classes.get(synset)
    sizes = sorted(m.size_m for m in cls.models) if cls else []
    model = CadModel(
        id=model_id,
        mesh=f"meshes/{synset}/{model_id}.glb",
        source=source or path.name,
        license=license,
        front=front_name,
        up=up_name,
        normalization={"centre": [round(float(v), 9) for v in centre], "scale": float(scale)},
        size_m=float(size_m) if size_m is not None else (float(np.median(sizes)) if sizes else 1.0),
        keypoints={k: [round(float(c), 6) for c in R @ (np.asarray(v) - centre) * scale] for k, v in kps.items()},
        symmetry=symmetry or Symmetry(),
        faces=int(faces),
    )
    # --- write: mesh first (temp + rename), then the manifest; undo the mesh on failure ---
    target = library.root / model.mesh
    if target.exists():
        raise UserError(f"{target} already exists but no model uses it; remove the stray file or pick another --id")
    old_manifest = library.manifest
    new_manifest = old_manifest.model_copy(deep=True)
    if new_class:
        new_manifest.classes[synset] = CadClass(name=name.strip(), pascal3d=None)
    new_manifest.classes[synset].models.append(model)
    made_dir = not target.parent.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, glb)
        library.manifest = new_manifest
        library.save()
    except OSError as exc:
        library.manifest = old_manifest
        target.unlink(missing_ok=True)
        if made_dir:
            try:
                target.parent.rmdir()
            except OSError:
                pass
        raise UserError(f"cannot write into the CAD library {library.root}: {exc.strerror or exc}; check permissions and free space") from None
    return model


def _as_vertex_colours(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The mesh with its appearance as vertex colours (grey when it has none), so parts of
    different kinds can be concatenated."""
    mesh = mesh.copy()
    try:
        colours = mesh.visual.to_color().vertex_colors if mesh.visual.defined else None
    except (ValueError, TypeError, AttributeError):
        colours = None
    colours = np.asarray(colours if colours is not None else [128, 128, 128, 255], np.uint8)
    if colours.ndim == 1:
        colours = np.tile(colours[:4], (len(mesh.vertices), 1))
    mesh.visual = trimesh.visual.ColorVisuals(vertex_colors=colours)
    return mesh


def _free_id(library: CadLibrary, stem: str) -> str:
    taken = {m.id for c in library.manifest.classes.values() for m in c.models}
    if stem not in taken:
        return stem
    k = 2
    while f"{stem}_{k}" in taken:
        k += 1
    return f"{stem}_{k}"


def _check_keypoints(keypoints: dict) -> dict[str, np.ndarray]:
    out = {}
    for key, value in keypoints.items():
        try:
            point = np.asarray(value, dtype=float).reshape(3)
        except (TypeError, ValueError):
            raise UserError(f"keypoint '{key}' must be three numbers [x, y, z] in the mesh's coordinates, got {value!r}") from None
        if not np.isfinite(point).all():
            raise UserError(f"keypoint '{key}' has a non-finite coordinate: {value!r}")
        out[str(key)] = point
    return out
