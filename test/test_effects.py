"""Effect renderer: alignment, occlusion, untouched pixels, several faces and bad input, on synthetic faces with
a known pose (the canonical face posed in front of a known camera) and on a real photo.

Synthetic faces go through the real geometry pipeline: their landmarks are the canonical face projected by the
camera (z in MediaPipe's units), so estimate_face_geometry recovers the pose exactly and every pixel check
compares the render with an independent projection of the known 3D points.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import cv2
import moderngl
import numpy as np
import pytest
from face_mesh_reference import read_rgb
from repo_scripts import load_script
from scipy.spatial.transform import Rotation

from facemesh_ros.effects import (
    AssetError,
    EffectRenderer,
    EffectRendererUnavailable,
    FacePaintEffect,
    ObjectEffect,
    glasses_effect,
    load_obj,
    load_texture,
    projection_matrix,
)
from facemesh_ros.effects import assets as fx_assets
from facemesh_ros.effects import renderer as fx_renderer
from facemesh_ros.geometry import Camera, FaceGeometry, Similarity, default_canonical_face_model, estimate_face_geometry

REPO = Path(__file__).resolve().parent.parent
asset_script = load_script("make_effect_assets.py")  # the glasses atlas and OBJ writer (asset authoring)
CAMERA = Camera.from_intrinsics(620.0, 600.0, 330.0, 225.0, 640, 480)  # fx != fy, off-centre principal point
NOSE_BRIDGE = 168
RED, GREEN, BLUE = (255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)


@dataclasses.dataclass
class SyntheticFace:
    landmarks: np.ndarray  # (468, 3) MediaPipe normalized
    pixels: np.ndarray  # (468, 2) true projections (pixel centres at integers)
    rotation: np.ndarray
    translation: np.ndarray
    geometry: FaceGeometry

    def project(self, canonical_points: np.ndarray) -> np.ndarray:
        """True pixels of canonical-frame points (cm) on this face."""
        return project(canonical_points @ self.rotation.T + self.translation)


def project(points: np.ndarray, camera: Camera = CAMERA) -> np.ndarray:
    depth = -points[:, 2]
    return np.stack([camera.cx + camera.fx * points[:, 0] / depth, camera.cy - camera.fy * points[:, 1] / depth], 1)


def synthetic_face(
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    position: tuple[float, float, float] = (0.0, 0.0, -40.0),
    camera: Camera = CAMERA,
) -> SyntheticFace:
    """The canonical face turned by yaw (about y), pitch (x), roll (z) degrees and placed at `position` (cm)."""
    rotation = Rotation.from_euler("yxz", [yaw, pitch, roll], degrees=True).as_matrix()
    translation = np.asarray(position, dtype=np.float64)
    points = default_canonical_face_model().vertices @ rotation.T + translation
    depth = -points[:, 2]
    pixels = project(points, camera)
    # MediaPipe's z: depth offset in image-width units, as the geometry pipeline reads it back (camera.py).
    z = (depth - depth.mean()) / depth.mean() * camera.fx / camera.width
    landmarks = np.column_stack([(pixels + 0.5) / (camera.width, camera.height), z])
    geometry = estimate_face_geometry(landmarks, camera, raise_on_failure=True)
    return SyntheticFace(landmarks, pixels, rotation, translation, geometry)


def noise_frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)


def gray_frame() -> np.ndarray:
    return np.full((CAMERA.height, CAMERA.width, 3), 128, np.uint8)


def color_mask(image: np.ndarray, rgba: tuple[int, int, int, int], tolerance: int = 40) -> np.ndarray:
    return np.abs(image.astype(np.int32) - rgba[:3]).max(axis=2) <= tolerance


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    assert rows.size > 0, "colour not found in the render"
    return np.array([cols.mean(), rows.mean()])


def glasses_with(colors: dict[str, tuple[int, int, int, int]]) -> ObjectEffect:
    """The built-in glasses mesh with a texture that colours only the named parts (the rest is transparent)."""
    return ObjectEffect(glasses_effect().mesh, asset_script.glasses_stripe_texture(colors), "test glasses")


def part_vertices(mesh, part: str) -> np.ndarray:
    return mesh.positions[np.isclose(mesh.uvs[:, 0], asset_script.glasses_part_u(part))].astype(np.float64)


@pytest.fixture(scope="module")
def renderer():
    with EffectRenderer(glasses_effect()) as instance:
        yield instance


# ---- projection and alignment ------------------------------------------------------------------------------


def test_projection_matrix_reproduces_the_camera():
    face = synthetic_face(yaw=20.0, pitch=-10.0, position=(4.0, -3.0, -45.0))
    clip = np.column_stack([face.geometry.metric_landmarks, np.ones(468)]) @ projection_matrix(CAMERA).T
    ndc = clip[:, :3] / clip[:, 3:]
    window = (ndc[:, :2] + 1.0) / 2.0 * (CAMERA.width, CAMERA.height)
    np.testing.assert_allclose(window - 0.5, face.pixels, atol=1e-6)  # pixel centres at integers
    assert np.all((ndc[:, 2] > -1.0) & (ndc[:, 2] < 1.0))


PAINTED = (1, 10, 33, 50, 61, 152, 168, 263, 280, 291)  # landmarks whose UV gets a coloured dot
DOT_COLORS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
    (0, 0, 0),
    (255, 128, 0),
    (128, 0, 255),
]


def dot_texture(size: int = 512, radius: int = 6) -> np.ndarray:
    texture = np.zeros((size, size, 4), np.uint8)
    uvs = default_canonical_face_model().uvs
    for vertex, color in zip(PAINTED, DOT_COLORS, strict=True):
        centre = tuple(np.round(uvs[vertex] * size - 0.5).astype(int))
        cv2.circle(texture, centre, radius, (*color, 255), -1)
    return texture


@pytest.mark.parametrize(
    "pose",
    [
        {},
        {"yaw": 25.0, "roll": 10.0, "position": (-5.0, 3.0, -38.0)},
        {"pitch": -15.0, "yaw": -20.0, "position": (6.0, -4.0, -50.0)},
    ],
)
def test_face_paint_dots_land_on_their_landmarks(renderer, pose):
    face = synthetic_face(**pose)
    renderer.set_effect(FacePaintEffect(dot_texture()))
    image = renderer.render(gray_frame(), CAMERA, [face.geometry]).image
    for vertex, color in zip(PAINTED, DOT_COLORS, strict=True):
        found = centroid(color_mask(image, (*color, 255), tolerance=60))
        error = np.linalg.norm(found - face.pixels[vertex])
        assert error < 2.0, f"dot of landmark {vertex} drawn {error:.2f} px from it"


def test_glasses_bridge_is_built_on_the_nose_bridge():
    bridge = part_vertices(glasses_effect().mesh, "bridge")
    sellion = default_canonical_face_model().vertices[NOSE_BRIDGE]
    centre = (bridge.min(axis=0) + bridge.max(axis=0)) / 2.0
    np.testing.assert_allclose(centre[:2], sellion[:2], atol=0.02)
    assert 0.2 < centre[2] - sellion[2] < 0.8  # in front of the skin, not in it


@pytest.mark.parametrize(
    "pose",
    [
        {},
        {"yaw": 8.0, "pitch": 5.0, "roll": -20.0, "position": (-7.0, 4.0, -42.0)},
        {"yaw": -35.0, "pitch": 12.0, "position": (5.0, -2.0, -55.0)},
    ],
)
def test_glasses_anchor_lands_on_the_projected_nose_bridge(renderer, pose):
    face = synthetic_face(**pose)
    renderer.set_effect(glasses_with({"bridge": RED}))
    image = renderer.render(gray_frame(), CAMERA, [face.geometry]).image
    found = centroid(color_mask(image, RED, tolerance=120))
    bridge = part_vertices(renderer.effect.mesh, "bridge")
    anchor = (bridge.min(axis=0) + bridge.max(axis=0)) / 2.0
    assert np.linalg.norm(found - face.project(anchor[None])[0]) < 2.0
    if abs(pose.get("yaw", 0.0)) < 10.0 and abs(pose.get("pitch", 0.0)) < 10.0:
        # Facing the camera, the bridge (0.46 cm in front of the skin) covers the nose-bridge landmark itself.
        assert np.linalg.norm(found - face.pixels[NOSE_BRIDGE]) < 2.0


# ---- occlusion and untouched pixels ------------------------------------------------------------------------


def face_silhouette(face: SyntheticFace) -> np.ndarray:
    mask = np.zeros((CAMERA.height, CAMERA.width), np.uint8)
    triangles = np.round(face.pixels[default_canonical_face_model().triangles] * 16).astype(np.int32)
    cv2.fillPoly(mask, list(triangles), 1, cv2.LINE_8, shift=4)
    return mask.astype(bool)


def test_head_turned_60_deg_hides_the_far_temple_and_shows_the_near_one(renderer):
    face = synthetic_face(yaw=60.0, position=(0.0, 0.0, -40.0))  # subject's left side (+x) turned away
    frame = noise_frame(1)
    renderer.set_effect(glasses_with({"temple_right": GREEN, "temple_left": BLUE}))
    renderer.occlusion = False
    try:
        unoccluded = renderer.render(frame, CAMERA, [face.geometry]).image
    finally:
        renderer.occlusion = True
    occluded = renderer.render(frame, CAMERA, [face.geometry]).image
    far_temple = np.any(unoccluded != frame, axis=2) & color_mask(unoccluded, BLUE, 100)
    inside_head = cv2.erode(face_silhouette(face).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    behind_head = far_temple & inside_head
    assert behind_head.sum() > 150, "the far temple should pass behind the head at 60 deg"
    np.testing.assert_array_equal(occluded[behind_head], frame[behind_head])
    near_before = color_mask(unoccluded, GREEN, 100).sum()
    near_after = color_mask(occluded, GREEN, 100).sum()
    assert near_after > 300 and near_after >= 0.95 * near_before


def test_pixels_outside_face_and_object_are_untouched(renderer):
    face = synthetic_face(yaw=30.0, pitch=10.0, position=(3.0, 2.0, -45.0))
    frame = noise_frame(2)
    mesh = glasses_effect().mesh
    footprint = face_silhouette(face).astype(np.uint8)
    object_pixels = np.round(face.project(mesh.positions.astype(np.float64))[mesh.triangles] * 16).astype(np.int32)
    cv2.fillPoly(footprint, list(object_pixels), 1, cv2.LINE_8, shift=4)
    outside = ~cv2.dilate(footprint, np.ones((5, 5), np.uint8)).astype(bool)
    for effect in (glasses_effect(), fx_assets.face_paint_effect()):
        renderer.set_effect(effect)
        image = renderer.render(frame, CAMERA, [face.geometry]).image
        np.testing.assert_array_equal(image[outside], frame[outside])
        assert np.any(image != frame, axis=2).sum() > 500, f"{effect.name} drew nothing"


def test_several_faces_each_with_its_own_pose(renderer):
    faces = [
        synthetic_face(yaw=-25.0, position=(-12.0, 2.0, -55.0)),
        synthetic_face(pitch=15.0, roll=12.0, position=(0.0, -3.0, -45.0)),
        synthetic_face(yaw=30.0, roll=-8.0, position=(13.0, 4.0, -60.0)),
    ]
    renderer.set_effect(glasses_with({"bridge": RED}))
    result = renderer.render(gray_frame(), CAMERA, [f.geometry for f in faces])
    assert result.drawn == [0, 1, 2] and result.skipped == []
    count, labels = cv2.connectedComponents(color_mask(result.image, RED, 120).astype(np.uint8))
    assert count - 1 == 3
    found = np.array([centroid(labels == label) for label in range(1, count)])
    bridge = part_vertices(renderer.effect.mesh, "bridge")
    anchor = ((bridge.min(axis=0) + bridge.max(axis=0)) / 2.0)[None]
    for face in faces:
        assert np.linalg.norm(found - face.project(anchor)[0], axis=1).min() < 2.0
    renderer.set_effect(FacePaintEffect(dot_texture()))
    image = renderer.render(gray_frame(), CAMERA, [f.geometry for f in faces]).image
    nose_tips = color_mask(image, (255, 0, 0, 255), tolerance=60)  # landmark 1's dot on every face
    for face in faces:
        near = np.linalg.norm(np.stack(np.nonzero(nose_tips)[::-1], 1) - face.pixels[1], axis=1) < 4.0
        assert near.sum() >= 3


# ---- bad input ---------------------------------------------------------------------------------------------


def test_no_faces_returns_the_frame_unchanged(renderer):
    frame = noise_frame(3)
    result = renderer.render(frame, CAMERA, [])
    np.testing.assert_array_equal(result.image, frame)
    assert result.image is not frame and result.drawn == [] and result.skipped == []


def test_degenerate_faces_are_skipped_with_a_reason_and_the_others_drawn(renderer):
    good = synthetic_face()
    bad_pose = dataclasses.replace(good.geometry, pose=Similarity(float("nan"), np.eye(3), np.zeros(3)))
    zero_scale = dataclasses.replace(good.geometry, pose=Similarity(0.0, np.eye(3), np.array([0.0, 0.0, -40.0])))
    behind = dataclasses.replace(good.geometry, pose=Similarity(1.0, np.eye(3), np.array([0.0, 0.0, 40.0])))
    renderer.set_effect(glasses_effect())
    frame = noise_frame(4)
    result = renderer.render(frame, CAMERA, [None, bad_pose, good.geometry, zero_scale, behind, "junk"])
    assert result.drawn == [2]
    reasons = dict(result.skipped)
    assert set(reasons) == {0, 1, 3, 4, 5}
    assert "no geometry" in reasons[0]
    assert "non-finite" in reasons[1]
    assert "degenerate pose" in reasons[3]
    assert "in front of the camera" in reasons[4]
    assert "not a face geometry" in reasons[5]
    alone = renderer.render(frame, CAMERA, [good.geometry]).image
    np.testing.assert_array_equal(result.image, alone)  # the skipped faces drew nothing


def test_render_landmarks_skips_bad_landmarks_with_the_geometry_reason(renderer):
    good = synthetic_face()
    collapsed = np.full((468, 3), 0.5)
    renderer.set_effect(glasses_effect())
    result = renderer.render_landmarks(noise_frame(5), CAMERA, [collapsed, good.landmarks, np.zeros((5, 3))])
    assert result.drawn == [1]
    reasons = dict(result.skipped)
    assert "too compact" in reasons[0] and "landmark shape" in reasons[2]


@pytest.mark.parametrize(
    ("frame", "camera", "error", "message"),
    [
        (np.zeros((480, 640), np.uint8), CAMERA, ValueError, "(H, W, 3) uint8"),
        (np.zeros((480, 640, 3), np.float32), CAMERA, ValueError, "(H, W, 3) uint8"),
        (np.zeros((240, 320, 3), np.uint8), CAMERA, ValueError, "camera is 640x480"),
        (np.zeros((480, 640, 3), np.uint8), "camera", TypeError, "Camera"),
    ],
)
def test_bad_frame_or_camera_raises_a_clear_error(renderer, frame, camera, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        renderer.render(frame, camera, [])


def test_bad_effects_are_rejected(renderer):
    with pytest.raises(TypeError, match="ObjectEffect or FacePaintEffect"):
        renderer.set_effect("glasses")
    with pytest.raises(AssetError, match=r"\(H, W, 4\) RGBA"):
        renderer.set_effect(FacePaintEffect(np.zeros((8, 8, 3), np.uint8)))


# ---- assets ------------------------------------------------------------------------------------------------


def test_obj_loader_reads_quads_negative_indices_and_flips_v(tmp_path):
    path = tmp_path / "quad.obj"
    path.write_text(
        "# a unit quad\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nf -4/-4 -3/-3 -2/-2 -1/-1\n"
    )
    mesh = load_obj(path)
    assert mesh.triangles.shape == (2, 3) and len(mesh.positions) == 4
    by_position = {tuple(p): uv for p, uv in zip(mesh.positions.tolist(), mesh.uvs.tolist(), strict=True)}
    assert by_position[(0.0, 1.0, 0.0)] == [0.0, 0.0]  # OBJ v = 1 (top) -> our v = 0 (top row)
    np.testing.assert_allclose(np.abs(mesh.normals[:, 2]), 1.0)  # computed normals


def test_obj_round_trip(tmp_path):
    mesh = glasses_effect().mesh
    asset_script.save_obj(tmp_path / "copy.obj", mesh)
    again = load_obj(tmp_path / "copy.obj")
    assert len(again.triangles) == len(mesh.triangles)
    np.testing.assert_allclose(np.sort(again.positions, axis=0), np.sort(mesh.positions, axis=0), atol=1e-3)
    np.testing.assert_allclose(np.sort(again.uvs, axis=0), np.sort(mesh.uvs, axis=0), atol=1e-4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v 0 0 0\nv 1 0 0\nf 1 2 3\n", r":3: .*undefined element"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "at least 3 vertices"),
        ("v 0 zero 0\n", r":1: cannot parse"),
        ("v 0 0 0\n", "no faces"),
    ],
)
def test_bad_obj_files_raise_asset_errors(tmp_path, text, message):
    path = tmp_path / "bad.obj"
    path.write_text(text)
    with pytest.raises(AssetError, match=message):
        load_obj(path)


def test_missing_or_unreadable_asset_files(tmp_path):
    with pytest.raises(AssetError, match="OBJ file not found"):
        load_obj(tmp_path / "none.obj")
    with pytest.raises(AssetError, match="texture file not found"):
        load_texture(tmp_path / "none.png")
    (tmp_path / "fake.png").write_bytes(b"not a png")
    with pytest.raises(AssetError, match="cannot decode texture"):
        load_texture(tmp_path / "fake.png")


def test_user_assets_load_from_files(tmp_path):
    gray = np.full((4, 6), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    texture = load_texture(tmp_path / "gray.png")
    assert texture.shape == (4, 6, 4) and (texture[..., 3] == 255).all()
    effect = fx_assets.object_effect(fx_assets.GLASSES_OBJ, tmp_path / "gray.png")
    assert effect.texture.shape == (4, 6, 4)
    paint = fx_assets.face_paint_effect(fx_assets.FACE_PAINT_PNG)
    assert paint.texture.shape[2] == 4 and paint.texture[..., 3].max() > 0


def test_stored_assets_match_the_generator(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_effect_assets.py"), "--out", str(tmp_path)],
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
    )
    for name in ("glasses.obj", "glasses.png", "face_paint.png"):
        assert (tmp_path / name).read_bytes() == (fx_assets.ASSETS_DIR / name).read_bytes(), name


# ---- no OpenGL ---------------------------------------------------------------------------------------------


def test_missing_moderngl_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "moderngl", None)
    with pytest.raises(EffectRendererUnavailable, match="pip install moderngl"):
        EffectRenderer(glasses_effect())


def test_missing_egl_library_says_what_to_install():
    code = (
        "from facemesh_ros.effects import EffectRenderer, EffectRendererUnavailable, glasses_effect\n"
        "try:\n    EffectRenderer(glasses_effect())\nexcept EffectRendererUnavailable as e:\n    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), GLCONTEXT_LINUX_LIBEGL="/nonexistent/libEGL.so.1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "no offscreen OpenGL" in out.stdout and "apt-get install libegl1" in out.stdout, out.stdout + out.stderr


# ---- a real photo ------------------------------------------------------------------------------------------


def test_effects_on_a_real_face_stay_around_the_face(renderer, test_data_dir):
    from facemesh_ros.face_mesh import FaceMesh

    rgb = read_rgb("astronaut.png")
    with FaceMesh(static_image_mode=True) as face_mesh:
        landmarks = face_mesh.process(rgb).landmarks
    assert len(landmarks) == 1
    camera = Camera.from_fov(63.0, rgb.shape[1], rgb.shape[0])
    pixels = landmarks[0][:, :2] * (rgb.shape[1], rgb.shape[0])
    low, high = pixels.min(axis=0), pixels.max(axis=0)
    margin = (high - low) * 0.35  # temples reach past the face oval
    x0, y0 = np.floor(low - margin).astype(int)
    x1, y1 = np.ceil(high + margin).astype(int)
    for effect in (glasses_effect(), fx_assets.face_paint_effect()):
        renderer.set_effect(effect)
        result = renderer.render_landmarks(rgb, camera, list(landmarks))
        changed = np.any(result.image != rgb, axis=2)
        assert result.drawn == [0]
        assert changed.sum() > 1000
        changed[y0:y1, x0:x1] = False
        assert not changed.any(), f"{effect.name} drew outside the face region"
    eyes = pixels[[33, 263]].round().astype(int)  # the glasses' rims sit around the eyes
    renderer.set_effect(glasses_effect())
    image = renderer.render_landmarks(rgb, camera, list(landmarks)).image
    for x, y in eyes:
        assert np.any(image[y - 15 : y + 15, x - 15 : x + 15] != rgb[y - 15 : y + 15, x - 15 : x + 15])


def test_antialiased_rendering_keeps_alignment_and_untouched_pixels():
    face = synthetic_face(yaw=15.0, pitch=5.0, position=(2.0, 1.0, -42.0))
    effect = glasses_with({"bridge": RED, "rims": BLUE})
    renders = {}
    for samples in (0, 4):
        with EffectRenderer(effect, samples=samples) as renderer:
            renders[samples] = [
                renderer.render(frame, CAMERA, [face.geometry]).image for frame in (noise_frame(6), gray_frame())
            ]
    (smooth_noise, smooth_gray), (sharp_noise, sharp_gray) = renders[4], renders[0]
    changed = np.any(smooth_noise != noise_frame(6), axis=2)
    footprint = cv2.dilate(np.any(sharp_noise != noise_frame(6), axis=2).astype(np.uint8), np.ones((3, 3), np.uint8))
    assert changed.sum() > 500 and not (changed & ~footprint.astype(bool)).any()  # only edges may differ
    bridge = part_vertices(effect.mesh, "bridge")
    anchor = (bridge.min(axis=0) + bridge.max(axis=0)) / 2.0
    assert np.linalg.norm(centroid(color_mask(smooth_gray, RED, 120)) - face.project(anchor[None])[0]) < 2.0

    # Edge pixels blend the object with the frame: more partly covered pixels than without anti-aliasing.
    def partly_covered(image: np.ndarray) -> int:
        drawn = np.any(image != gray_frame(), axis=2)
        return int((drawn & ~color_mask(image, BLUE, 100) & ~color_mask(image, RED, 100)).sum())

    assert partly_covered(smooth_gray) > 1.5 * partly_covered(sharp_gray)


def test_renderers_sharing_a_thread_do_not_disturb_each_other(renderer):
    face = synthetic_face(yaw=10.0)
    renderer.set_effect(glasses_effect())
    alone = renderer.render(gray_frame(), CAMERA, [face.geometry]).image
    with EffectRenderer(fx_assets.face_paint_effect(), samples=2) as other:
        painted = other.render(gray_frame(), CAMERA, [face.geometry]).image
        np.testing.assert_array_equal(renderer.render(gray_frame(), CAMERA, [face.geometry]).image, alone)
        assert not np.array_equal(painted, alone)
    np.testing.assert_array_equal(renderer.render(gray_frame(), CAMERA, [face.geometry]).image, alone)


def test_bad_sample_count_is_rejected():
    with pytest.raises(ValueError, match="samples must be"):
        EffectRenderer(glasses_effect(), samples=3)


# ---- failures leave nothing behind -------------------------------------------------------------------------


@pytest.fixture
def created_contexts(monkeypatch):
    """Every GL context the renderers of a test create."""
    contexts = []

    def recording_create_gl_context():
        contexts.append(real_create())
        return contexts[-1]

    real_create = fx_renderer.create_gl_context
    monkeypatch.setattr(fx_renderer, "create_gl_context", recording_create_gl_context)
    return contexts


def is_released(context) -> bool:
    return isinstance(context.mglo, moderngl.InvalidObject)


def test_failed_construction_releases_the_gl_context(monkeypatch, created_contexts):
    with pytest.raises(TypeError, match="ObjectEffect or FacePaintEffect"):
        EffectRenderer("glasses")
    with monkeypatch.context() as patch, pytest.raises(moderngl.Error, match="GLSL Compiler failed"):
        patch.setattr(fx_renderer, "_FRAGMENT_SHADER", "#version 330\nnot glsl at all")
        EffectRenderer(glasses_effect())
    assert len(created_contexts) == 2 and all(is_released(context) for context in created_contexts)
    with EffectRenderer(glasses_effect()) as renderer:  # the check itself: a working renderer is not released
        assert not is_released(created_contexts[-1])
    assert is_released(created_contexts[-1]) and renderer.samples == 0


def test_failed_effect_upload_keeps_the_old_effect_drawing(monkeypatch):
    face = synthetic_face(yaw=10.0)
    with EffectRenderer(glasses_effect()) as renderer:
        before = renderer.render(gray_frame(), CAMERA, [face.geometry]).image
        released = []

        def failing_vertex_array(*args, **kwargs):  # after the new texture and buffers exist
            raise moderngl.Error("out of memory")

        monkeypatch.setattr(moderngl.Buffer, "release", lambda self: released.append(self))
        monkeypatch.setattr(moderngl.Context, "vertex_array", failing_vertex_array)
        with pytest.raises(moderngl.Error, match="out of memory"):
            renderer.set_effect(glasses_with({"rims": RED}))
        assert len(released) == 2  # the new effect's vertex and index buffers, not the old effect's
        monkeypatch.undo()
        assert renderer.effect.name == "glasses"
        np.testing.assert_array_equal(renderer.render(gray_frame(), CAMERA, [face.geometry]).image, before)
