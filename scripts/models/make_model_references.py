"""Write test/fixtures/model_references.npz: outputs of the ORIGINAL .tflite models on fixed inputs.

Runs in the reference environment (TFLite runtime + MediaPipe), never in the package's own:

    .venv-ref/bin/python scripts/models/make_model_references.py

Needs .cache/models/tflite/ (made by `.venv/bin/python -m scripts.models.build_models`) and test/data/
(`.venv/bin/python scripts/fetch_test_data.py`). Inputs are 2 real crops from the test images plus 2 uniform
random images, stored as uint8 with the float conversion x = u8 * scale + offset (float32) that the test
applies too. Plain models run on ai-edge-litert's Interpreter (XNNPACK); face_landmark_with_attention needs
MediaPipe's custom ops, so it runs inside a minimal MediaPipe graph (ImageToTensor -> InferenceCalculator
with MediaPipe's op resolver), whose input tensor is checked against the same uint8 conversion.
The blendshape model takes points, not images: its real inputs are the 146 points it reads from the v2
landmark model's TFLite output on the two centred face crops (crop pixels), plus 2 sets of uniform random
points; stored as float32 `face_blendshapes/input`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from facemesh_ros.blendshapes import BLENDSHAPE_LANDMARKS  # noqa: E402  (numpy only)

TFLITE_DIR = REPO / ".cache" / "models" / "tflite"
DATA = REPO / "test" / "data"
OUTPUT = REPO / "test" / "fixtures" / "model_references.npz"

# Square crops (x, y, size) in image pixels, picked around the faces / right eyes of the test images.
FACE_CROPS = [
    ("lenna.png", (146, 168, 259)),
    ("breakingbad.jpg", (543, 122, 422)),
    # faces half out of the crop: the attention model's eye/lip crops then reach past its feature maps
    ("lenna.png", (266, 258, 259)),
    ("breakingbad.jpg", (383, 10, 422)),
]
EYE_CROPS = [("lenna.png", (230, 229, 77)), ("astronaut.png", (182, 80, 44))]
DETECTION_IMAGES = ["lenna.png", "t1.jpg"]  # whole images, letterboxed to a square
NUM_RANDOM = 2

# model -> (tflite file, input size, scale, offset, tflite output names in order -> reference output names)
MODELS = {
    "face_detection_short_range": (
        "face_detection_short_range.tflite",
        128,
        2 / 255,
        -1.0,
        ["regressors", "classificators"],
    ),
    "face_detection_full_range": (
        "face_detection_full_range_sparse.tflite",
        192,
        2 / 255,
        -1.0,
        ["regressors", "classificators"],
    ),
    "face_landmark": ("face_landmark.tflite", 192, 1 / 255, 0.0, ["landmarks", "face_flag"]),
    "face_landmark_with_attention": (
        "face_landmark_with_attention.tflite",
        192,
        1 / 255,
        0.0,
        ["landmarks", "lips", "left_eye", "right_eye", "left_iris", "right_iris", "face_flag"],
    ),
    "iris_landmark": ("iris_landmark.tflite", 64, 1 / 255, 0.0, ["eye_contour", "iris"]),
    "face_landmark_v2": ("face_landmarks_detector.tflite", 256, 1 / 255, 0.0, ["landmarks", "face_flag", "aux_score"]),
}
BLENDSHAPES = ("face_blendshapes", "face_blendshapes.tflite")
BLENDSHAPE_REAL_CROPS = 2  # the first two face crops, centred faces


def read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(DATA / name), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{DATA / name} missing: run .venv/bin/python scripts/fetch_test_data.py")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def crop(name: str, box: tuple[int, int, int], size: int) -> np.ndarray:
    x, y, side = box
    image = read_rgb(name)
    padded = cv2.copyMakeBorder(image, side, side, side, side, cv2.BORDER_REPLICATE)
    patch = padded[y + side : y + 2 * side, x + side : x + 2 * side]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def letterbox(name: str, size: int) -> np.ndarray:
    image = read_rgb(name)
    height, width = image.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = cv2.copyMakeBorder(
        image, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT, value=0
    )  # uint8 0 -> -1, MediaPipe's padding value
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def make_inputs(model: str, size: int, rng: np.random.Generator) -> np.ndarray:
    if model.startswith("face_detection"):
        real = [letterbox(name, size) for name in DETECTION_IMAGES]
    elif model == "iris_landmark":
        real = [crop(name, box, size) for name, box in EYE_CROPS]
    else:
        real = [crop(name, box, size) for name, box in FACE_CROPS]
    noise = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(NUM_RANDOM)]
    return np.stack(real + noise)


def to_float(images: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return images.astype(np.float32) * np.float32(scale) + np.float32(offset)


def run_tflite(path: Path, x: np.ndarray) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    outputs = interpreter.get_output_details()
    results = []
    for sample in x:
        interpreter.set_tensor(index, sample[None])
        interpreter.invoke()
        results.append([interpreter.get_tensor(o["index"]).reshape(-1).copy() for o in outputs])
    return [np.stack([r[k] for r in results]) for k in range(len(outputs))]


def run_mediapipe_graph(path: Path, images: np.ndarray, num_outputs: int) -> tuple[np.ndarray, list]:
    """Run a model with MediaPipe's custom ops; returns (input tensors as floats, outputs)."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python import packet_creator, packet_getter
    from mediapipe.python._framework_bindings import calculator_graph, image_frame

    size = images.shape[1]
    names = ["in"] + [f"out{k}" for k in range(num_outputs)]
    split = " ".join(f"ranges {{ begin: {k} end: {k + 1} }}" for k in range(num_outputs))
    to_floats = "\n".join(
        f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t_{n}" output_stream: "FLOATS:{n}" }}'
        for n in names
    )
    config_text = f'''
        input_stream: "image"
        {" ".join(f'output_stream: "{n}"' for n in names)}
        node {{ calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image"
          output_stream: "TENSORS:t_in"
          options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{
            output_tensor_width: {size} output_tensor_height: {size} keep_aspect_ratio: false
            output_tensor_float_range {{ min: 0.0 max: 1.0 }} }} }} }}
        node {{ calculator: "TfLiteCustomOpResolverCalculator"
          output_side_packet: "OP_RESOLVER:op_resolver" }}
        node {{ calculator: "InferenceCalculator" input_stream: "TENSORS:t_in"
          output_stream: "TENSORS:tensors"
          input_side_packet: "OP_RESOLVER:op_resolver"
          options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ model_path: "{path}"
            delegate {{ xnnpack {{}} }} }} }} }}
        node {{ calculator: "SplitTensorVectorCalculator" input_stream: "tensors"
          {" ".join(f'output_stream: "t_out{k}"' for k in range(num_outputs))}
          options {{ [mediapipe.SplitVectorCalculatorOptions.ext] {{ {split} }} }} }}
        {to_floats}
    '''
    config = text_format.Parse(config_text, calculator_pb2.CalculatorGraphConfig())
    graph = calculator_graph.CalculatorGraph(graph_config=config)
    results: dict[str, list] = {n: [] for n in names}
    for n in names:
        graph.observe_output_stream(
            n,
            lambda stream, packet: results[stream].append(np.asarray(packet_getter.get_float_list(packet), np.float32)),
        )
    graph.start_run()
    for k, image in enumerate(images):
        frame = packet_creator.create_image_frame(
            image_format=image_frame.ImageFormat.SRGB, data=np.ascontiguousarray(image)
        )
        graph.add_packet_to_input_stream("image", frame.at(k))
    graph.close()
    inputs = np.stack(results["in"]).reshape(images.shape)
    return inputs, [np.stack(results[f"out{k}"]) for k in range(num_outputs)]


def main() -> None:
    rng = np.random.default_rng(20260101)
    arrays: dict[str, np.ndarray] = {}
    for model, (tflite_name, size, scale, offset, output_names) in MODELS.items():
        path = TFLITE_DIR / tflite_name
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run .venv/bin/python -m scripts.models.build_models")
        images = make_inputs(model, size, rng)
        x = to_float(images, scale, offset)
        if model == "face_landmark_with_attention":
            used, outputs = run_mediapipe_graph(path, images, len(output_names))
            input_diff = float(np.abs(used - x).max())
            if input_diff > 1e-6:
                raise RuntimeError(f"MediaPipe's input tensor differs from u8*scale+offset by {input_diff}")
            print(f"{model}: MediaPipe input tensor == u8*scale+offset within {input_diff:.2g}")
        else:
            outputs = run_tflite(path, x)
        arrays[f"{model}/input_u8"] = images
        arrays[f"{model}/scale_offset"] = np.array([scale, offset], np.float32)
        for name, value in zip(output_names, outputs, strict=True):
            arrays[f"{model}/{name}"] = value.astype(np.float32)
        print(
            f"{model}: {len(images)} inputs, outputs "
            + ", ".join(f"{n}{list(v.shape)}" for n, v in zip(output_names, outputs, strict=True))
        )
    model, tflite_name = BLENDSHAPES
    crops_px = arrays["face_landmark_v2/landmarks"][:BLENDSHAPE_REAL_CROPS].reshape(-1, 478, 3)
    real = crops_px[:, BLENDSHAPE_LANDMARKS, :2]
    noise = rng.uniform(0, 256, (NUM_RANDOM, len(BLENDSHAPE_LANDMARKS), 2))
    points = np.concatenate([real, noise]).astype(np.float32)
    (scores,) = run_tflite(TFLITE_DIR / tflite_name, points)
    arrays[f"{model}/input"] = points
    arrays[f"{model}/blendshapes"] = scores.astype(np.float32)
    print(f"{model}: {len(points)} inputs, outputs blendshapes{list(scores.shape)}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUTPUT, **arrays)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
