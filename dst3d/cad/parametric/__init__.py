"""Parametric CAD models built offline from primitives (the shipped ``cad_aligned/`` library).

Why: no mesh download is possible offline, and a pose dataset only needs recognizable,
correctly posed silhouettes with named parts and keypoints. Every model is built in metres
in the canonical frame (+Z up, front toward -Y, object's left = +X), then centred and scaled
so its longest bounding-box side is 1.

Layout (imports run one way: ``build`` -> families -> ``primitives``):
``primitives`` (shapes, transforms, the :class:`Model` container), one module per object
family and ``build`` (class specs, instance parameters, normalization, GLB bytes, ``build_library``).
The twelve PASCAL3D+ classes live in ``vehicles``, ``aircraft_boats``, ``two_wheelers``,
``furniture`` and ``household``; the other ImageNet classes in ``containers``, ``appliances``,
``cabinets``, ``tools``, ``instruments`` and ``work_vehicles`` (kept apart so that adding a class
never touches, or changes the bytes of, an existing model).
"""

from __future__ import annotations

from .build import CLASSES, INSTANCES, LICENSE, SOURCE, BuildResult, ClassSpec, build_library, build_model, finish, glb_bytes, instance_params
from .primitives import Model

__all__ = ["CLASSES", "INSTANCES", "LICENSE", "SOURCE", "BuildResult", "ClassSpec", "Model", "build_library", "build_model", "finish", "glb_bytes", "instance_params"]
