"""Offscreen OpenGL effect renderer (spec §6): AR effects anchored to tracked faces, the face as occluder.

Per frame, into a framebuffer whose colour attachment holds the camera frame:
1. the frame is uploaded into the colour texture (no resampling: pixels nothing draws on come back bit-exact);
2. per face, the runtime face mesh with the face's pose, pushed 0.1 cm farther from the camera, into the
   depth buffer only: the occluder that hides whatever the head would hide;
3. per face, the effect with alpha blending, depth test and depth write: a 3D object (canonical frame, cm)
   placed with the pose, or the face mesh itself textured in the canonical UV space (face paint).

The projection is the camera's pinhole model (fx, fy, cx, cy; pixel centres at integers, ROS/OpenCV), so a
point the geometry put at metric p lands on the pixel the landmark came from. Geometry is MediaPipe's metric
space (cm, camera looking down -z, y up), as FaceGeometry.pose_matrix gives it. Lens distortion is not
rendered: draw on the rectified image (or accept the offset the distortion makes away from the centre).

OpenGL comes from moderngl on an EGL context (no display needed): Mesa's llvmpipe on CPU machines, the
vendor's EGL (e.g. NVIDIA's) on GPU machines. A GL context belongs to one thread: create and use an
EffectRenderer on the same thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from facemesh_ros.geometry import Camera, FaceGeometry, GeometryError, estimate_face_geometry
from facemesh_ros.geometry.model import NUM_VERTICES, CanonicalFaceModel, default_canonical_face_model

from .assets import Effect, FacePaintEffect, ObjectEffect, checked_texture

NEAR_CM = 1.0  # MediaPipe's near and far planes (cm); 24-bit depth resolves ~0.002 cm at 1 m
FAR_CM = 10000.0
OCCLUDER_OFFSET_CM = 0.1  # the occluder sits this much behind the face so face paint passes the depth test
MIN_SCALE = 1e-6
SAMPLE_COUNTS = (0, 2, 4, 8)  # accepted multisample counts (0 = off; OpenGL 3.3 guarantees up to 4)
INSTALL_HINT = (
    "install the EGL/Mesa libraries (Debian/Ubuntu: apt-get install libegl1 libgl1 libegl-mesa0 "
    "libgl1-mesa-dri; on NVIDIA machines the driver's EGL library comes with the driver) and "
    "moderngl (pip install moderngl==5.13.0 glcontext==3.1.0)"
)

_VERTEX_SHADER = """
#version 330
uniform mat4 mvp;        // canonical cm -> clip
uniform mat3 normal_to_camera;
in vec3 in_position;
in vec2 in_uv;
in vec3 in_normal;
out vec2 uv;
out vec3 normal;
void main() {
    gl_Position = mvp * vec4(in_position, 1.0);
    uv = in_uv;
    normal = normal_to_camera * in_normal;
}
"""
_FRAGMENT_SHADER = """
#version 330
uniform sampler2D effect_texture;
uniform bool lit;
in vec2 uv;
in vec3 normal;
out vec4 color;
void main() {
    vec4 texel = texture(effect_texture, uv);
    if (texel.a < 0.004) discard;  // fully transparent: keep the camera image and write no depth
    vec3 rgb = texel.rgb;
    if (lit) {
        // A light at the camera, a little above: thin tubes look round. abs(): faces seen from either side.
        vec3 n = normalize(normal);
        vec3 light = normalize(vec3(0.0, 0.5, 1.0));
        float diffuse = abs(dot(n, light));
        float specular = pow(max(abs(dot(reflect(-light, n), vec3(0.0, 0.0, 1.0))), 0.0), 24.0);
        rgb = rgb * (0.45 + 0.55 * diffuse) + vec3(0.35 * specular);
    }
    color = vec4(rgb, texel.a);
}
"""
_DEPTH_FRAGMENT_SHADER = """
#version 330
out vec4 color;
void main() { color = vec4(0.0); }
"""
_COPY_VERTEX_SHADER = """
#version 330
in vec2 in_position;
void main() { gl_Position = vec4(in_position, 0.0, 1.0); }
"""
_COPY_FRAGMENT_SHADER = """
#version 330
uniform sampler2D frame;
out vec4 color;
void main() { color = texelFetch(frame, ivec2(gl_FragCoord.xy), 0); }
"""
_DEPTH_VERTEX_SHADER = """
#version 330
uniform mat4 mvp;
in vec3 in_position;
void main() { gl_Position = mvp * vec4(in_position, 1.0); }
"""


class EffectRendererUnavailable(RuntimeError):
    """No offscreen OpenGL here; the message says what to install."""


@dataclass
class RenderResult:
    """The effect image and what happened to each face (indices into the `faces` argument)."""

    image: np.ndarray  # (H, W, 3) uint8, same channel order as the input frame
    drawn: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (face index, reason)


@dataclass
class _RenderTarget:
    """GL objects for one frame size: the frame texture (upload and read-back) and where passes draw."""

    size: tuple[int, int]
    frame: Any  # texture holding the camera frame, attached to `resolve`
    draw: Any  # framebuffer the passes draw into: `resolve` itself, or a multisampled one
    resolve: Any
    resources: list[Any]

    def release(self) -> None:
        for resource in self.resources:
            resource.release()


def projection_matrix(camera: Camera, near: float = NEAR_CM, far: float = FAR_CM) -> np.ndarray:
    """4x4 OpenGL projection for MediaPipe metric space (looking down -z, y up) through a pinhole camera.

    Window x = u + 1/2 and window y = v + 1/2 for the pixel (u, v) the camera projects to (pixel centres at
    integers), so framebuffer row r is image row r: the read-back needs no flip. The y flip reverses the
    triangle winding, which does not matter here (no face culling).
    """
    width, height = camera.width, camera.height
    matrix = np.zeros((4, 4))
    matrix[0, 0] = 2.0 * camera.fx / width
    matrix[0, 2] = 1.0 - 2.0 * (camera.cx + 0.5) / width
    matrix[1, 1] = -2.0 * camera.fy / height
    matrix[1, 2] = 1.0 - 2.0 * (camera.cy + 0.5) / height
    matrix[2, 2] = (near + far) / (near - far)
    matrix[2, 3] = 2.0 * far * near / (near - far)
    matrix[3, 2] = -1.0
    return matrix


def create_gl_context() -> Any:
    """A headless OpenGL >= 3.3 context through EGL, or EffectRendererUnavailable saying what to install."""
    try:
        import moderngl
    except ImportError as error:
        raise EffectRendererUnavailable(f"the effect renderer needs moderngl ({error}): {INSTALL_HINT}") from None
    try:
        # moderngl's stub types **settings as dict values; the keyword is a string (backend="egl")
        return moderngl.create_standalone_context(backend="egl", require=330)  # type: ignore[arg-type]
    except Exception as error:  # glcontext raises plain Exceptions whose text names the failing EGL call
        raise EffectRendererUnavailable(
            f"no offscreen OpenGL 3.3 context through EGL ({type(error).__name__}: {error}): {INSTALL_HINT}"
        ) from None


class EffectRenderer:
    """Draws one effect on every face of a frame. Not thread-safe: one thread creates and uses it (several
    renderers may live in one thread: each makes its own context current while it works)."""

    def __init__(
        self, effect: Effect, *, occlusion: bool = True, samples: int = 0, model: CanonicalFaceModel | None = None
    ) -> None:
        """occlusion: the face mesh hides what is behind the head; samples: multisample anti-aliasing of the
        effect's edges (0 = off; 4 is smooth, costs more on a CPU renderer)."""
        if samples not in SAMPLE_COUNTS:
            raise ValueError(f"samples must be 0, 2, 4 or 8, got {samples!r}")
        self._model = model or default_canonical_face_model()
        self.occlusion = occlusion
        self._samples = samples
        self._ctx = create_gl_context()
        try:
            self._create_gl_objects()
            self._effect: Effect | None = None
            self._effect_resources: list[Any] = []
            self._object: Any = None
            self._texture: Any = None
            self.set_effect(effect)
        except BaseException:  # a shader that does not compile, a bad effect: free the context, not leak it
            self.close()
            raise

    def _create_gl_objects(self) -> None:
        """The programs and the face mesh buffers every effect uses (the context must be current)."""
        self._effect_program = self._ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self._depth_program = self._ctx.program(
            vertex_shader=_DEPTH_VERTEX_SHADER, fragment_shader=_DEPTH_FRAGMENT_SHADER
        )
        self._face_positions = self._ctx.buffer(reserve=NUM_VERTICES * 3 * 4, dynamic=True)
        self._face_uvs = self._ctx.buffer(self._model.uvs.astype("f4").tobytes())
        self._face_indices = self._ctx.buffer(self._model.triangles.astype("i4").tobytes())
        self._occluder = self._ctx.vertex_array(
            self._depth_program, [(self._face_positions, "3f", "in_position")], self._face_indices
        )
        self._face_paint = self._ctx.vertex_array(
            self._effect_program,
            [(self._face_positions, "3f", "in_position"), (self._face_uvs, "2f", "in_uv")],
            self._face_indices,
        )
        self._target: _RenderTarget | None = None
        self._copy_program = self._ctx.program(vertex_shader=_COPY_VERTEX_SHADER, fragment_shader=_COPY_FRAGMENT_SHADER)
        triangle = np.array([-1.0, -1.0, 3.0, -1.0, -1.0, 3.0], dtype="f4")  # covers the whole viewport
        self._copy_quad = self._ctx.vertex_array(
            self._copy_program, [(self._ctx.buffer(triangle.tobytes()), "2f", "in_position")]
        )

    @property
    def samples(self) -> int:
        """Multisample anti-aliasing samples per pixel (0 = off), fixed at construction."""
        return self._samples

    @property
    def renderer_name(self) -> str:
        """The OpenGL renderer string (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)')."""
        with self._ctx:
            return str(self._ctx.info["GL_RENDERER"])

    @property
    def effect(self) -> Effect:
        assert self._effect is not None
        return self._effect

    def set_effect(self, effect: Effect) -> None:
        """Switch to another effect (uploads its mesh and texture once)."""
        if not isinstance(effect, (ObjectEffect, FacePaintEffect)):
            raise TypeError(f"effect must be an ObjectEffect or FacePaintEffect, got {type(effect).__name__}")
        texture = checked_texture(effect.texture, f"{effect.name} texture")
        with self._ctx:  # make this renderer's context current (several renderers may share a thread)
            self._upload_effect(effect, texture)

    def _upload_effect(self, effect: Effect, texture: np.ndarray) -> None:
        """Create the new effect's GL objects first: if that fails, the old effect stays whole and drawable."""
        resources: list[Any] = []
        try:
            height, width = texture.shape[:2]
            gl_texture = self._ctx.texture((width, height), 4, texture.tobytes(), alignment=1)
            resources.append(gl_texture)
            gl_texture.build_mipmaps()
            gl_texture.filter = (self._ctx.LINEAR_MIPMAP_LINEAR, self._ctx.LINEAR)
            gl_object = None
            if isinstance(effect, ObjectEffect):
                mesh = effect.mesh
                vertices = np.hstack([mesh.positions, mesh.uvs, mesh.normals]).astype("f4")
                vbo = self._ctx.buffer(vertices.tobytes())
                resources.append(vbo)
                ibo = self._ctx.buffer(mesh.triangles.astype("i4").tobytes())
                resources.append(ibo)
                gl_object = self._ctx.vertex_array(
                    self._effect_program, [(vbo, "3f 2f 3f", "in_position", "in_uv", "in_normal")], ibo
                )
                resources.append(gl_object)
        except BaseException:
            _release_all(resources)
            raise
        self._release_effect()
        self._texture, self._object, self._effect_resources = gl_texture, gl_object, resources
        self._effect = effect

    def render(self, frame: np.ndarray, camera: Camera, faces: Sequence[FaceGeometry | None]) -> RenderResult:
        """Draw the effect on every face of `frame` ((H, W, 3) uint8 RGB, the channel order of the textures).

        `faces`: one FaceGeometry per face (None for a face without geometry: skipped). Faces whose geometry
        cannot be drawn (non-finite, zero scale, behind the camera) are skipped with a reason; with no
        drawable face the frame comes back unchanged (a copy) without touching OpenGL.
        """
        frame = _checked_frame(frame, camera)
        result = RenderResult(frame)
        poses: list[FaceGeometry] = []
        for index, face in enumerate(faces):
            reason = _unusable_reason(face)
            if reason is not None:
                result.skipped.append((index, reason))
            elif face is not None:  # always, as a None face has a reason
                poses.append(face)
                result.drawn.append(index)
        if not poses:
            result.image = frame.copy()
            return result
        with self._ctx:
            result.image = self._draw(frame, camera, poses)
        return result

    def render_landmarks(self, frame: np.ndarray, camera: Camera, faces: Sequence[Any]) -> RenderResult:
        """`render` from MediaPipe normalized landmarks ((468|478, 3) per face): the geometry is solved with
        the same camera that renders, so the effect lands on the landmarks' pixels by construction."""
        geometries: list[FaceGeometry | None] = []
        reasons: dict[int, str] = {}
        for index, landmarks in enumerate(faces):
            try:
                geometries.append(estimate_face_geometry(landmarks, camera, model=self._model, raise_on_failure=True))
            except GeometryError as error:
                geometries.append(None)
                reasons[index] = str(error)
        result = self.render(frame, camera, geometries)
        result.skipped = [(index, reasons.get(index, reason)) for index, reason in result.skipped]
        return result

    def close(self) -> None:
        """Free the GL objects and the context."""
        if self._ctx is not None:
            self._ctx.release()
            self._ctx = None

    def __enter__(self) -> EffectRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- drawing ---------------------------------------------------------------------------------------------

    def _draw(self, frame: np.ndarray, camera: Camera, faces: list[FaceGeometry]) -> np.ndarray:
        ctx = self._ctx
        target = self._render_target(camera.width, camera.height)
        if self.samples:
            target.frame.write(frame.tobytes(), alignment=1)
            target.draw.use()
            target.draw.clear(depth=1.0)
            ctx.disable(ctx.DEPTH_TEST | ctx.BLEND)
            target.frame.use(0)
            self._copy_program["frame"] = 0
            self._copy_quad.render()  # every sample of a pixel gets that pixel: the resolve gives it back exactly
        else:
            target.draw.use()
            target.draw.clear(depth=1.0)
            target.frame.write(frame.tobytes(), alignment=1)  # after clear(): clear() also wipes the colour
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        projection = projection_matrix(camera)
        if self.occlusion:
            target.draw.color_mask = (False, False, False, False)
            target.draw.use()  # moderngl applies a framebuffer's colour mask when it is bound
            push_back = np.eye(4)
            push_back[2, 3] = -OCCLUDER_OFFSET_CM
            for face in faces:
                self._face_positions.write(face.mesh_vertices.astype("f4").tobytes())
                self._depth_program["mvp"].write(_gl_matrix(projection @ push_back @ face.pose_matrix))
                self._occluder.render()
            target.draw.color_mask = (True, True, True, True)
            target.draw.use()
        ctx.enable(ctx.BLEND)
        ctx.blend_func = ctx.SRC_ALPHA, ctx.ONE_MINUS_SRC_ALPHA
        self._texture.use(0)
        program = self._effect_program
        program["effect_texture"] = 0
        program["lit"] = isinstance(self._effect, ObjectEffect)
        for face in faces:
            pose = face.pose_matrix
            program["mvp"].write(_gl_matrix(projection @ pose))
            if isinstance(self._effect, ObjectEffect):
                program["normal_to_camera"].write(_gl_matrix(pose[:3, :3] / np.linalg.norm(pose[:3, 0])))
                self._object.render()
            else:
                self._face_positions.write(face.mesh_vertices.astype("f4").tobytes())
                self._face_paint.render()
        ctx.disable(ctx.BLEND)
        if self.samples:
            ctx.copy_framebuffer(target.resolve, target.draw)
        data = target.resolve.read(components=3, alignment=1)
        return np.frombuffer(data, np.uint8).reshape(frame.shape).copy()

    def _render_target(self, width: int, height: int) -> _RenderTarget:
        if self._target is None or self._target.size != (width, height):
            if self._target is not None:
                self._target.release()
            ctx = self._ctx
            frame = ctx.texture((width, height), 3, alignment=1)
            depth = ctx.depth_renderbuffer((width, height))
            resolve = ctx.framebuffer(color_attachments=[frame], depth_attachment=depth)
            resources = [resolve, frame, depth]
            draw = resolve
            if self.samples:
                color = ctx.renderbuffer((width, height), 3, samples=self.samples)
                depth_ms = ctx.depth_renderbuffer((width, height), samples=self.samples)
                draw = ctx.framebuffer(color_attachments=[color], depth_attachment=depth_ms)
                resources = [draw, color, depth_ms, *resources]
            self._target = _RenderTarget((width, height), frame, draw, resolve, resources)
        return self._target

    def _release_effect(self) -> None:
        _release_all(self._effect_resources)
        self._effect_resources = []
        self._object = None


def _release_all(resources: list[Any]) -> None:
    """Release GL objects, users (vertex arrays) before what they use."""
    for resource in reversed(resources):
        resource.release()


def _gl_matrix(matrix: np.ndarray) -> bytes:
    """Row-major numpy matrix -> the column-major float32 bytes GLSL expects."""
    return np.ascontiguousarray(matrix.T, dtype="f4").tobytes()


def _checked_frame(frame: np.ndarray, camera: Camera) -> np.ndarray:
    if not isinstance(camera, Camera):
        raise TypeError(f"camera must be a facemesh_ros.geometry.Camera, got {type(camera).__name__}")
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        dtype = getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"frame must be an (H, W, 3) uint8 array, got shape {shape} dtype {dtype}")
    if frame.shape[:2] != (camera.height, camera.width):
        raise ValueError(
            f"frame is {frame.shape[1]}x{frame.shape[0]} but the camera is "
            f"{camera.width}x{camera.height}: use the camera (camera_info) of this image"
        )
    return np.ascontiguousarray(frame)


def _unusable_reason(face: Any) -> str | None:
    """Why a face cannot be drawn, or None when it can (the pose is checked before the mesh derived from it)."""
    if face is None:
        return "no geometry for this face"
    try:
        pose = np.asarray(face.pose_matrix, dtype=np.float64)
    except (AttributeError, TypeError, ValueError) as error:
        return f"not a face geometry ({type(face).__name__}: {error})"
    if pose.shape != (4, 4):
        return f"bad geometry shapes: pose {pose.shape}"
    if not np.isfinite(pose).all():
        return "non-finite pose or mesh"
    scale = float(np.linalg.norm(pose[:3, 0]))
    if not scale > MIN_SCALE or not math.isclose(abs(np.linalg.det(pose[:3, :3])), scale**3, rel_tol=1e-3):
        return f"degenerate pose (scale {scale:.3g}, not a similarity transform)"
    if not pose[2, 3] < -NEAR_CM:
        return f"face not in front of the camera (z = {pose[2, 3]:.3g} cm)"
    try:
        mesh = np.asarray(face.mesh_vertices, dtype=np.float64)
    except (AttributeError, TypeError, ValueError) as error:
        return f"not a face geometry ({type(face).__name__}: {error})"
    if mesh.shape != (NUM_VERTICES, 3):
        return f"bad geometry shapes: mesh {mesh.shape}"
    if not np.isfinite(mesh).all():
        return "non-finite pose or mesh"
    return None
