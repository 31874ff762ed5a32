"""The CAD library a dataset was made with: found from its job file, checked against its records.

Symmetry tags (scoring) and label renders (KCF) must come from the very CAD models the
images were rendered from. ``dataset_library`` picks the library the dataset's
``dst3d_job.json`` names (``cad_library``; the shipped one when it names none), unless one
is given; ``check_library`` refuses, in one line, a library that lacks one of the dataset's
CAD models or whose mesh differs from the one recorded in the records (``render.mesh_sha256``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..cad.library import MANIFEST, CadLibrary
from ..errors import UserError
from .dataset import Dataset


def named_library(dataset: Dataset) -> str | None:
    """The CAD library folder the dataset's job file names (None: the shipped one)."""
    return (dataset.job.get("job") or {}).get("cad_library") or None


def dataset_library(dataset: Dataset, cad_library: str | os.PathLike | None = None) -> CadLibrary:
    """``cad_library`` if given, else the library the job names (as written, or relative to
    the dataset folder), else the shipped one (or ``$DST3D_CAD_LIBRARY``)."""
    if cad_library is not None:
        return CadLibrary(cad_library)
    named = named_library(dataset)
    if named:
        for candidate in (Path(named), dataset.root / named):
            if (candidate / MANIFEST).is_file():
                return CadLibrary(candidate)
    return CadLibrary(None)


def mesh_digest(library: CadLibrary, cad_id: str, length: int = 16) -> str:
    _, model = library.model(cad_id)
    return hashlib.sha256(library.mesh_path(model).read_bytes()).hexdigest()[:length]


def check_library(library: CadLibrary, digests: dict[str, str | None], dataset: Dataset, given: bool) -> CadLibrary:
    """``library`` if it holds every CAD model of ``digests`` (cad_id -> recorded mesh hash
    prefix, None when unrecorded) with that mesh; a one-line UserError otherwise."""
    named = named_library(dataset)
    hint = "pass the library the data was made with (--cad-library)"
    if not given and named:
        hint = f"the dataset was made with CAD library '{named}', not found here: pass it with --cad-library"
    known = {m.id for c in library.manifest.classes.values() for m in c.models}
    missing = sorted(set(digests) - known)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise UserError(f"CAD library {library.root} lacks the dataset's CAD model{'s' if len(missing) > 1 else ''} {shown}; {hint}")
    for cad_id in sorted(digests):
        digest = digests[cad_id]
        _, model = library.model(cad_id)
        path = library.mesh_path(model)
        if not path.is_file():
            raise UserError(f"CAD mesh {path} of model '{cad_id}' is missing; {hint}")
        if digest and mesh_digest(library, cad_id, len(digest)) != digest:
            raise UserError(f"CAD model '{cad_id}' in {library.root} differs from the mesh the dataset was rendered with "
                            f"(sha256 {digest}...); {hint}")
    return library


def recorded_digests(dataset: Dataset) -> dict[str, str | None]:
    """cad_id -> the mesh hash prefix its records carry (``render.mesh_sha256``; None if unrecorded)."""
    digests: dict[str, str | None] = {}
    for record in dataset.records(["cad_id", "render"]):
        digests.setdefault(record.cad_id, (record.render or {}).get("mesh_sha256"))
    return digests


def library_for(dataset: Dataset, digests: dict[str, str | None] | None = None, cad_library: str | os.PathLike | None = None) -> CadLibrary:
    """The dataset's CAD library (see :func:`dataset_library`), checked against its records
    (``digests``: cad_id -> recorded mesh hash; read from the dataset when None). Every reader
    that needs the dataset's meshes (pose scoring, KCF, exports) comes through here."""
    digests = recorded_digests(dataset) if digests is None else digests
    return check_library(dataset_library(dataset, cad_library), digests, dataset, cad_library is not None)
