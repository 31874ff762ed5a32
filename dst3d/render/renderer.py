"""Headless pyrender: one G-buffer pass per view (depth, normals, part ids).

The scene is built once per CAD model; each view only moves the camera. Instead of
pyrender's PBR pass (4x MSAA, lights, ~40 views/s here) we draw pyrender's segmentation
pass with our own two-line shaders (``shaders/``): it has multisampling off and no lights,
and writes camera-space normals and a part id per pixel. Everything the pipeline needs
(mask, metric depth, normal map, a clay RGB, the appearance backend's materials) is
derived from that one pass on the CPU.
"""

from __future__ import annotations

import ctypes.util
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np


def _choose_gl_platform() -> None:
    """EGL when its library loads, else OSMesa; must run before OpenGL is imported."""
    if "PYOPENGL_PLATFORM" in os.environ:
        return
    if ctypes.util.find_library("EGL"):
        os.environ["PYOPENGL_PLATFORM"] = "egl"
    elif ctypes.util.find_library("OSMesa"):
        os.environ["PYOPENGL_PLATFORM"] = "osmesa"


_choose_gl_platform()

import pyrender  # noqa: E402  (platform must be chosen first)
import trimesh  # noqa: E402
from pyrender.shader_program import ShaderProgramCache  # noqa: E402

from ..errors import UserError  # noqa: E402

SHADER_DIR = Path(__file__).parent / "shaders"
BACKGROUND_ID = 255  # alpha of cleared pixels; parts are 1..254
CV_TO_GL = np.diag([1.0, -1.0, -1.0, 1.0])


# Clay light: from the upper left behind the viewer, so faces at different angles get
# different greys (a pure headlight shades all faces parallel to the image alike and
# their shared edges vanish from the edge map). Weights act on the raw G-buffer bytes.
_CLAY_LIGHT = np.array([-0.35, 0.45, 0.82])  # OpenGL camera axes: left, up, toward the viewer
_CLAY_LIGHT = _CLAY_LIGHT / np.linalg.norm(_CLAY_LIGHT)


@dataclass
class RenderResult:
    """One view: the raw G-buffer plus the pose that produced it; images decode on demand.

    ``gbuffer`` is pyrender's RGBA read-back: rgb = camera-space normal (OpenGL axes) in
    [0, 255], alpha = part id (255 = background). Decoding lazily keeps the per-view cost
    at what the caller actually uses.
    """

    gbuffer: np.ndarray  # (H, W, 4) uint8
    depth: np.ndarray  # (H, W) float32, metric z in object units, 0 = background
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray

    @cached_property
    def mask(self) -> np.ndarray:
        return self.gbuffer[..., 3] != BACKGROUND_ID

    @cached_property
    def parts(self) -> np.ndarray:
        """(H, W) uint8: 0 = background, k = part k-1."""
        alpha = self.gbuffer[..., 3]
        return np.where(self.mask, alpha, 0).astype(np.uint8)

    @cached_property
    def normals(self) -> np.ndarray:
        """(H, W, 3) float32 unit normals in OpenCV camera axes, 0 on the background."""
        n = self.gbuffer[..., :3].astype(np.float32) * (2.0 / 255.0) - 1.0
        n[..., 1:] *= -1.0
        n[~self.mask] = 0.0
        return n

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape

    def clay(self) -> np.ndarray:
        """(H, W) uint8 grey Lambert render on white under a fixed key light: the render's RGB.

        Edge maps are taken from this image, as 3D-DST takes them from its CAD renders.
        """
        # n = byte * 2/255 - 1, so n.l = byte.(2l/255) - sum(l): one C pass over the G-buffer.
        weights = (2.0 / 255.0 * _CLAY_LIGHT).reshape(1, 3)
        cosine = cv2.transform(self.gbuffer[..., :3].astype(np.float32), weights) - _CLAY_LIGHT.sum()
        grey = (np.clip(cosine, 0.0, 1.0) * 200.0 + 35.0).astype(np.uint8)
        grey[~self.mask] = 255
        return grey


class _SharedGL:
    """The process's one GL context and one scene, shared by every :class:`Renderer`.

    EGL displays are per-device singletons: pyrender's context teardown terminates the
    display under every other context, so several OffscreenRenderers cannot live and die
    independently in one process. One context, one scene holding every open model's nodes
    (only the nodes in the current seg map are drawn), and uploads happen once per model.
    """

    def __init__(self):
        self.scene = pyrender.Scene(bg_color=[0, 0, 0, 0], ambient_light=[0, 0, 0])
        self.camera_node = self.scene.add(pyrender.IntrinsicsCamera(1, 1, 0, 0), pose=np.eye(4))
        self._offscreen = None
        self.draw_order: list = []

    def offscreen(self, width: int, height: int) -> "pyrender.OffscreenRenderer":
        if self._offscreen is None:
            try:
                self._offscreen = pyrender.OffscreenRenderer(width, height)
            except Exception as exc:  # noqa: BLE001 - GL errors come in many types
                raise UserError(
                    f"cannot open a headless OpenGL context ({type(exc).__name__}: {exc}); install "
                    "libegl1 libegl-mesa0 libgl1-mesa-dri (EGL) or libosmesa6 with PYOPENGL_PLATFORM=osmesa"
                ) from None
            self._offscreen._renderer._program_cache = ShaderProgramCache(shader_dir=str(SHADER_DIR))
            # pyrender orders equidistant nodes by set iteration (memory addresses), so where
            # coplanar parts overlap the winner changed between runs; draw in part order.
            self._offscreen._renderer._sorted_mesh_nodes = lambda scene: self.draw_order
        if (self._offscreen.viewport_width, self._offscreen.viewport_height) != (width, height):
            self._offscreen.viewport_width, self._offscreen.viewport_height = width, height
        return self._offscreen


_shared: _SharedGL | None = None


def _shared_gl() -> _SharedGL:
    global _shared
    if _shared is None:
        _shared = _SharedGL()
    return _shared


class Renderer:
    """Renders one CAD model (a list of parts) from any camera; the model is uploaded once.

    Use as a context manager, or call :meth:`close` to drop the model from the GL scene.
    """

    def __init__(self, parts: list[trimesh.Trimesh], width: int, height: int, znear: float = 0.05, zfar: float = 100.0):
        if not parts:
            raise UserError("the CAD model has no faces to render; re-import it from a valid mesh")
        if len(parts) >= BACKGROUND_ID:
            raise UserError(f"a CAD model may have at most {BACKGROUND_ID - 1} parts, this one has {len(parts)}")
        self.width, self.height = int(width), int(height)
        self.znear, self.zfar = znear, zfar
        self._gl = _shared_gl()
        self._gl.offscreen(self.width, self.height)  # fail here, not mid-run, without GL
        self.seg_map = {}
        for index, part in enumerate(parts):
            node = self._gl.scene.add(pyrender.Mesh.from_trimesh(part, smooth=False))
            self.seg_map[node] = np.array([index + 1, 0, 0], dtype=np.float64)

    def render(self, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> RenderResult:
        """Render with an object-to-camera pose (OpenCV axes, BOP style) and intrinsics K."""
        if not self.seg_map:
            raise RuntimeError("render() after close()")
        R, t, K = np.asarray(R, float), np.asarray(t, float).reshape(3), np.asarray(K, float)
        gl = self._gl
        camera = gl.camera_node.camera
        camera.fx, camera.fy, camera.cx, camera.cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        camera.znear, camera.zfar = self.znear, self.zfar
        cam_to_obj = np.eye(4)
        cam_to_obj[:3, :3] = R.T
        cam_to_obj[:3, 3] = -R.T @ t
        gl.scene.set_pose(gl.camera_node, cam_to_obj @ CV_TO_GL)
        flags = pyrender.RenderFlags.SEG | pyrender.RenderFlags.RGBA
        gl.draw_order = list(self.seg_map)
        rgba, depth = gl.offscreen(self.width, self.height).render(gl.scene, flags=flags, seg_node_map=self.seg_map)
        return RenderResult(gbuffer=rgba, depth=depth, R=R, t=t, K=K)

    def close(self) -> None:
        for node in self.seg_map:
            self._gl.scene.remove_node(node)
        self.seg_map = {}

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
