"""Throughput of render + edges + annotations (views/s), the CPU-bound half of generation.

    python experiments/bench_render.py --size 512 --faces 10000 --views 400

Uses a shipped CAD model subdivided to at least --faces faces, the same code path as
`dst3d generate` (SceneCache + render_view: G-buffer pass, Canny, bbox, visible fraction,
keypoints), one scene reused across views. Prints one line per setting.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import trimesh  # noqa: E402

from dst3d.cad.library import CadLibrary  # noqa: E402
from dst3d.control.visual_prompt import ControlConfig, make_controls  # noqa: E402
from dst3d.render.scene import SceneCache, render_pose  # noqa: E402
from dst3d.pose.sampling import PoseSampling  # noqa: E402
from dst3d.seeds import sample_rng  # noqa: E402
from dst3d.pose.viewpoint import focal_from_fov, intrinsics  # noqa: E402


def dense_model(library: CadLibrary, cad_id: str, faces: int) -> None:
    """Subdivide the model's parts in the library's cache until it has >= faces faces."""
    _, model = library.model(cad_id)
    parts = library.load_parts(model)
    while sum(len(p.faces) for p in parts) < faces:
        parts = [trimesh.Trimesh(*trimesh.remesh.subdivide(p.vertices, p.faces), process=False) for p in parts]
    library._parts[cad_id] = parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--faces", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=400)
    parser.add_argument("--cad-id", default="motorbike_01")
    args = parser.parse_args()

    library = CadLibrary()
    dense_model(library, args.cad_id, args.faces)
    n_faces = sum(len(p.faces) for p in library._parts[args.cad_id])
    K = intrinsics(args.size, args.size, focal_from_fov(args.size, 30.0))
    poses = [PoseSampling().sample(sample_rng(0, i, "pose")) for i in range(args.views)]
    scenes = SceneCache(library, args.size, args.size)
    control = ControlConfig(kinds=["canny"])
    def render_view(vp):
        posed = render_pose(scenes, args.cad_id, vp.rotation(), vp.translation(), K)
        return make_controls(posed.render, control), posed.annotations

    render_view(poses[0])  # build scene, warm up

    for label in ("render only", "render+canny+annotations"):
        start = time.perf_counter()
        for vp in poses:
            if label == "render only":
                renderer, _, _ = scenes.get(args.cad_id)
                renderer.render(vp.rotation(), vp.translation(), K).mask
            else:
                render_view(vp)
        rate = args.views / (time.perf_counter() - start)
        print(f"{label:28s} {rate:7.1f} views/s  ({args.size}x{args.size}, {n_faces} faces, {args.views} views, "
              f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, GL={os.environ['PYOPENGL_PLATFORM']})")
    scenes.close()


if __name__ == "__main__":
    main()
