"""Distractor objects around and in front of a sample's target, drawn into its plan.

Real photos of an object are cluttered and the object is often partly hidden (LM-O's
objects are, heavily). Distractors are other CAD models of the library drawn by the same
renderer in the same pass, so occlusion is real and the target's labels (visible mask,
bbox, visible fraction, keypoint visibility) count only what is seen. Where they go is part
of the sample's deterministic plan (a pure function of job seed, index and the target's
pose), recorded in the record's ``render`` JSON so a re-render reproduces the image's labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..pose.viewpoint import Viewpoint
from ..render.meshes import MESH_SUFFIXES, mesh_files
from ..render.scene import ZNEAR, Distractor

DISTRACTOR_STREAM = 101  # seed stream of the placements (dst3d.seeds.STREAMS holds 0-4; kept apart from them)
MAX_DISTRACTORS = 6  # the scene cache keeps 8 models open: target + distractors must fit
MAX_REDRAWS = 8  # placements tried for a sample whose target they hide too much


class DistractorConfig(BaseModel):
    """``distractors`` in a job config: other library models around and in front of the target."""

    model_config = ConfigDict(extra="forbid")
    count: tuple[int, int] = Field((0, 0), description=f"[min, max] distractor objects per image (0-{MAX_DISTRACTORS}); 0: none")
    in_front: float = Field(0.5, ge=0.0, le=1.0, description="chance that a distractor is placed between the camera and the target, overlapping it")
    scale: tuple[float, float] = Field((0.4, 0.9), description="[min, max] apparent size of a distractor relative to the target's (library models have longest side 1)")
    classes: list[str] | None = Field(None, description="classes the distractors are drawn from (names or synsets); none: every library class but the target's")
    min_visible: float = Field(0.3, ge=0.0, le=1.0, description="least share of the target's in-image pixels the distractors may leave visible; "
                               f"placements that hide more are redrawn (up to {MAX_REDRAWS} times, then none)")
    meshes: str | None = Field(None, description="a folder of mesh files (.obj, .ply, .glb, .gltf, .stl, .off) to draw distractors from instead of the "
                               "library (each centred and scaled to longest side 1); re-rendering its records needs the folder")

    @model_validator(mode="after")
    def _valid(self) -> "DistractorConfig":
        lo, hi = self.count
        if not 0 <= lo <= hi <= MAX_DISTRACTORS:
            raise ValueError(f"count must be [min, max] with 0 <= min <= max <= {MAX_DISTRACTORS}, got [{lo}, {hi}]")
        if not 0.05 <= self.scale[0] <= self.scale[1] <= 3.0:
            raise ValueError(f"scale must be [min, max] with 0.05 <= min <= max <= 3, got [{self.scale[0]}, {self.scale[1]}]")
        if self.classes is not None and not self.classes:
            raise ValueError("classes is empty; leave it out for every class but the target's")
        if self.meshes is not None and not mesh_files(Path(self.meshes).expanduser()):
            raise ValueError(f"meshes: '{self.meshes}' is not a folder with mesh files ({', '.join(sorted(MESH_SUFFIXES))})")
        if self.meshes is not None and self.classes is not None:
            raise ValueError("give classes (library models) or meshes (a folder), not both")
        return self

    def active(self) -> bool:
        return self.count[1] > 0


def place_distractors(rng: np.random.Generator, config: DistractorConfig, viewpoint: Viewpoint, target_radius: float,
                      candidates: list[tuple[str, float]]) -> tuple[Distractor, ...]:
    """Distractors for one sample: ``candidates`` are (cad_id, bounding radius) pairs.

    In front: between the camera and the target's bounding sphere (45-80% of its depth), its
    size scaled with its depth so it looks ``scale`` times the target, laterally within the
    target's radius of the line of sight (so it overlaps the target, mostly partly). Around: beside the
    target at a similar or larger depth, outside its bounding sphere (no interpenetration).
    A uniformly random rotation each.
    """
    count = int(rng.integers(config.count[0], config.count[1] + 1))
    depth = float(viewpoint.distance)  # the target's centre is on the optical axis at this depth
    out = []
    for _ in range(count):
        cad_id, radius = candidates[int(rng.integers(len(candidates)))]
        scale = float(rng.uniform(*config.scale))
        front = rng.random() < config.in_front
        z = float(rng.uniform(0.45, 0.8)) * depth  # in front: its size shrinks with its depth, so it looks `scale` times the target
        if front and z - z / depth * scale * radius > ZNEAR + 0.1 and z + z / depth * scale * radius < depth - target_radius:
            scale *= z / depth
            lateral = rng.uniform(0.2, 1.0) * target_radius * z / depth
        else:
            r = radius * scale
            z = depth + float(rng.uniform(-0.3, 1.5))
            lateral = target_radius + r + float(rng.uniform(0.05, 1.0))
        angle = rng.uniform(0.0, 2 * np.pi)
        t = (float(lateral * np.cos(angle)), float(lateral * np.sin(angle)), float(z))
        out.append(Distractor(cad_id, tuple(float(v) for v in random_rotation(rng).reshape(-1)), t, scale))
    return tuple(out)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation (a normalized Gaussian quaternion)."""
    w, x, y, z = _unit(rng.normal(size=4))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
