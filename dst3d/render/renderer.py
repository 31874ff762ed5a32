"""Headless pyrender: one G-buffer pass per view (depth, normals, part ids).

The scene is built once per CAD model; each view only moves the camera. Instead of
pyrender's PBR pass (4x MSAA, lights, ~40 views/s here) we draw pyrender's segmentation
pass with our own two-line shaders (``shaders/``): it has multisampling off and no lights,
and writes camera-space normals and a part id per pixel. Everything the pipeline needs
(mask, metric depth, normal map, a clay RGB, the appearance backend's materials) is
derived from that one pass on the CPU. A model with its own appearance (vertex colours,
textures, base colours kept by ``dst3d cad import``) gets a second draw of the same nodes
that writes the own colour per pixel (``RenderResult.albedo``), for the render backend's
``appearance: own|jitter``; models without one cost one pass as before.
"""

from __future__ import annotations

import ctypes.util
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

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


def _load_triton_before_mesa() -> None:
    """triton (imported by torch/torchvision when installed) bundles its own LLVM; loaded
    after Mesa's llvmpipe has been initialized by a GL context, the process segfaults.
    Loading it first (0.2 s) makes the order harmless."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        importlib.import_module("triton")  # for its side effect: its LLVM loads first


_choose_gl_platform()
_load_triton_before_mesa()

import pyrender  # noqa: E402  (platform must be chosen first)
import trimesh  # noqa: E402
from OpenGL.GL import (  # noqa: E402
    GL_DEPTH_COMPONENT,
    GL_DRAW_FRAMEBUFFER,
    GL_FLOAT,
    GL_FRONT,
    GL_READ_FRAMEBUFFER,
    GL_RGBA,
    GL_UNSIGNED_BYTE,
    glBindFramebuffer,
    glReadBuffer,
    glReadPixels,
)
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
_CLAY_FLOOR, _CLAY_GAIN = 35.0, 200.0


@dataclass
class RenderResult:
    """One view: the raw G-buffer plus the pose that produced it; images decode on demand.

    ``gbuffer`` is pyrender's RGBA read-back: rgb = camera-space normal (OpenGL axes) in
    [0, 255], alpha = part id (255 = background). Decoding lazily keeps the per-view cost
    at what the caller actually uses.
    """

    gbuffer: np.ndarray  # (H, W, 4) uint8
    window_depth: np.ndarray  # (H, W) float32, the raw GL depth buffer in [0, 1], 1 = background
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    znear: float
    zfar: float
    albedo: np.ndarray | None = None  # (H, W, 3) uint8: the mesh's own colour per pixel (models with an appearance), else None
    target_parts: int | None = None  # with occluders drawn: ids 1..target_parts are the target, higher ones occluders; None: all target
    own_parts: np.ndarray | None = None  # with occluders: (256,) bool, whether part id k has an own colour in ``albedo``

    @cached_property
    def depth(self) -> np.ndarray:
        """(H, W) float32 metric z (object units) along the optical axis, 0 = background."""
        return self.metric_depth(self.window_depth)

    def metric_depth(self, window_depth: np.ndarray) -> np.ndarray:
        """Metric z of raw depth-buffer values (any shape); background (1.0) -> 0."""
        ndc = np.asarray(window_depth, np.float64) * 2.0 - 1.0
        n, f = self.znear, self.zfar
        with np.errstate(divide="ignore"):
            z = (2.0 * n * f) / (f + n - ndc * (f - n))
        return np.where(np.asarray(window_depth) < 1.0, z, 0.0).astype(np.float32)

    @cached_property
    def mask(self) -> np.ndarray:
        """The target's visible pixels (occluders drawn in front of it excluded)."""
        alpha = self.gbuffer[..., 3]
        if self.target_parts is None:
            return alpha != BACKGROUND_ID
        return (alpha != BACKGROUND_ID) & (alpha <= self.target_parts)

    @cached_property
    def scene_mask(self) -> np.ndarray:
        """Every drawn pixel: the target and its occluders (the picture, not the label)."""
        return self.gbuffer[..., 3] != BACKGROUND_ID if self.target_parts is not None else self.mask

    @cached_property
    def parts(self) -> np.ndarray:
        """(H, W) uint8: 0 = background, k = part k-1 (occluders' parts after the target's)."""
        alpha = self.gbuffer[..., 3]
        return np.where(self.scene_mask, alpha, 0).astype(np.uint8)

    @cached_property
    def normals(self) -> np.ndarray:
        """(H, W, 3) float32 unit normals in OpenCV camera axes, 0 on the background."""
        n = self.gbuffer[..., :3].astype(np.float32) * (2.0 / 255.0) - 1.0
        n[..., 1:] *= -1.0
        n[~self.scene_mask] = 0.0
        return n

    def normals_at(self, flat: np.ndarray) -> np.ndarray:
        """``normals`` at flat pixel indices only: shading needs the object's pixels, not the frame."""
        g = self.gbuffer.reshape(-1, 4)[flat]
        n = g[:, :3].astype(np.float32) * (2.0 / 255.0) - 1.0
        n[:, 1:] *= -1.0
        n[g[:, 3] == BACKGROUND_ID] = 0.0
        return n

    @property
    def shape(self) -> tuple[int, int]:
        return self.window_depth.shape

    def clay(self) -> np.ndarray:
        """(H, W) uint8 grey Lambert render on white under a fixed key light: the render's RGB.

        Edge maps are taken from this image, as 3D-DST takes them from its CAD renders.
        """
        # grey = 35 + 200 max(n.l, 0) with n = byte * 2/255 - 1, i.e. an affine map of the
        # G-buffer bytes: one saturating C pass (cv2.transform), then the floor at 35.
        affine = np.append(_CLAY_GAIN * 2.0 / 255.0 * _CLAY_LIGHT, _CLAY_FLOOR - _CLAY_GAIN * _CLAY_LIGHT.sum())
        grey = cv2.max(cv2.transform(self.gbuffer[..., :3], affine.reshape(1, 4)), _CLAY_FLOOR)
        grey[~self.scene_mask] = 255  # occluders are drawn: the control shows what the image shows
        return grey


class _GBufferRenderer(pyrender.Renderer):
    """pyrender's renderer, narrowed to what the G-buffer pass needs.

    * our shaders (``shaders/``) stand in for its segmentation pass;
    * nodes are drawn in part order (pyrender orders equidistant nodes by set iteration,
      i.e. memory addresses, so where coplanar parts overlap the winner changed between
      runs and byte-identical output was lost);
    * it draws into the single-sample framebuffer (the pass has no multisampling, and the
      4x buffer pyrender always draws into costs a resolve blit per view);
    * it reads back the raw depth buffer; metric depth is computed only when used;
    * its context update handles meshes only (no textures or lights in this pass).
    """

    def __init__(self, width: int, height: int):
        super().__init__(width, height)
        self._program_cache = ShaderProgramCache(shader_dir=str(SHADER_DIR))
        self.draw_order: list = []

    def _sorted_mesh_nodes(self, scene):
        return self.draw_order

    def _update_context(self, scene, flags):
        """Uploads and deletes meshes only: the G-buffer pass draws no textures (own colours
        are vertex colours) and no lights, and pyrender's per-view scan of every material's
        textures grew with the number of open models (15 ms a view with the library open)."""
        scene_meshes = scene.meshes
        for mesh in scene_meshes - self._meshes:
            for primitive in mesh.primitives:
                primitive._add_to_context()
        for mesh in self._meshes - scene_meshes:
            for primitive in mesh.primitives:
                primitive.delete()
        self._meshes = scene_meshes.copy()

    def _configure_forward_pass_viewport(self, flags):
        super()._configure_forward_pass_viewport(flags)
        if flags & pyrender.RenderFlags.OFFSCREEN:
            glBindFramebuffer(GL_DRAW_FRAMEBUFFER, self._main_fb)

    def _read_main_framebuffer(self, scene, flags):
        return self._read(self._main_fb)

    def read_color_buf(self):  # platforms without framebuffers (OSMesa) read the window
        return self._read(0)[0]

    def read_depth_buf(self):
        return self._read(0)[1]

    def _read(self, framebuffer: int) -> tuple[np.ndarray, np.ndarray]:
        width, height = self.viewport_width, self.viewport_height
        glBindFramebuffer(GL_READ_FRAMEBUFFER, framebuffer)
        if framebuffer == 0:
            glReadBuffer(GL_FRONT)
        depth = np.frombuffer(glReadPixels(0, 0, width, height, GL_DEPTH_COMPONENT, GL_FLOAT), np.float32)
        rgba = np.frombuffer(glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE), np.uint8)
        return rgba.reshape(height, width, 4)[::-1], depth.reshape(height, width)[::-1]


class _GBufferOffscreen(pyrender.OffscreenRenderer):
    def _create(self):
        super()._create()
        self._renderer = _GBufferRenderer(self.viewport_width, self.viewport_height)


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

    def offscreen(self, width: int, height: int) -> "pyrender.OffscreenRenderer":
        if self._offscreen is None:
            try:
                self._offscreen = _GBufferOffscreen(width, height)
            except Exception as exc:  # noqa: BLE001 - GL errors come in many types
                raise UserError(
                    f"cannot open a headless OpenGL context ({type(exc).__name__}: {exc}); install "
                    "libegl1 libegl-mesa0 libgl1-mesa-dri (EGL) or libosmesa6 with PYOPENGL_PLATFORM=osmesa"
                ) from None
        if (self._offscreen.viewport_width, self._offscreen.viewport_height) != (width, height):
            self._offscreen.viewport_width, self._offscreen.viewport_height = width, height
        return self._offscreen


_shared: _SharedGL | None = None


def _shared_gl() -> _SharedGL:
    global _shared
    if _shared is None:
        _shared = _SharedGL()
    return _shared


def own_colours(part: trimesh.Trimesh) -> np.ndarray | None:
    """(V, 4) uint8 RGBA per vertex of the part's own appearance, or None when it has none.

    Vertex colours as they are; face colours averaged onto vertices; a UV texture sampled at
    each vertex's texture coordinate (a per-vertex approximation of the texture: exact for
    vertex-coloured scans such as LM-O's, blurred for a coarse mesh with a detailed texture);
    a material's base colour everywhere.
    """
    visual = getattr(part, "visual", None)
    if visual is None or not visual.defined:
        return None
    try:
        if visual.kind == "vertex":
            colours = np.asarray(visual.vertex_colors)
        else:
            colours = np.asarray(visual.to_color().vertex_colors)
    except (ValueError, TypeError, AttributeError, IndexError):
        return None
    if colours.ndim == 1:
        colours = np.tile(colours.reshape(-1)[:4], (len(part.vertices), 1))
    if colours.shape[0] != len(part.vertices):
        return None
    if colours.shape[1] == 3:
        colours = np.column_stack([colours, np.full(len(colours), 255)])
    return np.ascontiguousarray(colours[:, :4], dtype=np.uint8)


# An occluder drawn with a target: (its Renderer, R, t object-to-camera, uniform scale).
Occluder = tuple["Renderer", np.ndarray, np.ndarray, float]


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
        colours = [own_colours(part) for part in parts]
        self.has_appearance = any(c is not None for c in colours)
        for index, (part, colour) in enumerate(zip(parts, colours)):
            if self.has_appearance:  # the same draw's geometry, with the own colour as a vertex attribute
                part = trimesh.Trimesh(part.vertices, part.faces, process=False,
                                       vertex_colors=colour if colour is not None else np.full((len(part.vertices), 4), 128, np.uint8))
            else:
                part = trimesh.Trimesh(part.vertices, part.faces, process=False)
            node = self._gl.scene.add(pyrender.Mesh.from_trimesh(part, smooth=False))
            self.seg_map[node] = np.array([index + 1, 0, 0], dtype=np.float64)

    def render(self, R: np.ndarray, t: np.ndarray, K: np.ndarray, occluders: Sequence[Occluder] = ()) -> RenderResult:
        """Render with an object-to-camera pose (OpenCV axes, BOP style) and intrinsics K.

        ``occluders``: other models drawn in the same pass at their own camera-frame poses
        (the GL depth test decides who is in front, as in a photo); their parts get ids after
        the target's, and the result's ``mask`` stays the target's visible pixels."""
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
        offscreen = gl.offscreen(self.width, self.height)
        seg_map, extra = self._with_occluders(cam_to_obj, occluders)
        own = [self.has_appearance] * len(self.seg_map) + [o.has_appearance for o, *_ in occluders for _ in o.seg_map]
        albedo = None
        try:
            offscreen._renderer.draw_order = list(seg_map)
            rgba, window_depth = offscreen.render(gl.scene, flags=flags, seg_node_map=seg_map)
            if any(own):  # a second draw of the same nodes (the camera unchanged): the own colours
                albedo_map = {node: value + np.array([0.0, 255.0, 0.0]) for node, value in seg_map.items()}
                colour, _ = offscreen.render(gl.scene, flags=flags, seg_node_map=albedo_map)
                albedo = np.where((rgba[..., 3] != BACKGROUND_ID)[..., None], colour[..., :3], 0).astype(np.uint8)
        finally:
            for node in extra:
                gl.scene.remove_node(node)
        own_parts = None
        if occluders:  # which ids have an own colour (id 0: the background ring, which takes its neighbours')
            own_parts = np.zeros(BACKGROUND_ID + 1, bool)
            own_parts[0] = True
            for index, flag in enumerate(own[: BACKGROUND_ID - 1]):
                own_parts[index + 1] = flag
        return RenderResult(gbuffer=rgba, window_depth=window_depth, R=R, t=t, K=K, znear=self.znear, zfar=self.zfar,
                            albedo=albedo, target_parts=len(self.seg_map) if occluders else None, own_parts=own_parts)

    def _with_occluders(self, cam_to_obj: np.ndarray, occluders: Sequence[Occluder]) -> tuple[dict, list]:
        """The seg map of the target plus temporary nodes of each occluder's meshes (pyrender
        instancing: the uploaded meshes are reused), placed in the target's object frame."""
        if not occluders:
            return self.seg_map, []
        seg_map, extra = dict(self.seg_map), []
        next_id = len(self.seg_map) + 1
        for other, R_o, t_o, scale in occluders:
            placement = np.eye(4)
            placement[:3, :3] = np.asarray(R_o, float) * float(scale)
            placement[:3, 3] = np.asarray(t_o, float).reshape(3)
            matrix = cam_to_obj @ placement  # occluder object -> camera -> target object (= GL world)
            for node in other.seg_map:
                copy = pyrender.Node(mesh=node.mesh, matrix=matrix)
                self._gl.scene.add_node(copy)
                extra.append(copy)
                seg_map[copy] = np.array([min(next_id, BACKGROUND_ID - 1), 0, 0], dtype=np.float64)
                next_id += 1
        return seg_map, extra

    def close(self) -> None:
        for node in self.seg_map:
            self._gl.scene.remove_node(node)
        self.seg_map = {}

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
