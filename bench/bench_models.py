"""Per-model latency: onnxruntime (the package's configuration and alternatives) vs TFLite + XNNPACK.

    PYTHONPATH=. .venv/bin/python bench/bench_models.py [--repeats 300] [--models face_landmark ...]

Same inputs (fixed-seed uniform noise) and same run: the TFLite side runs this file again with
--tflite-worker in .venv-ref (ai-edge-litert), in a subprocess after the onnxruntime side. Configurations
of one side are timed round-robin, so load from other processes spreads over all of them. The landmark
models run at batch 1 and at batch 4 (reported per face). Alternative ONNX variants are converted on the fly
from .cache/models/tflite/ (made by `.venv/bin/python -m scripts.models.build_models`) to show what each
conversion / session choice is worth. Prints medians; the machine is shared, so compare within one run.
face_landmark_with_attention needs MediaPipe's custom ops, which ai-edge-litert lacks: no TFLite figure.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TFLITE_DIR = REPO / ".cache" / "models" / "tflite"
REF_PYTHON = REPO / ".venv-ref" / "bin" / "python"
TFLITE_BASES = ("tflite xnnpack, 1 thread", "tflite xnnpack, 2 threads")  # the ratio baselines

# model -> (tflite file or None, input size, low end of the input range, batches)
MODELS = {
    "face_detection_short_range": ("face_detection_short_range.tflite", 128, -1.0, [1]),
    "face_detection_full_range": ("face_detection_full_range_sparse.tflite", 192, -1.0, [1]),
    "face_landmark": ("face_landmark.tflite", 192, 0.0, [1, 4]),
    "face_landmark_with_attention": (None, 192, 0.0, [1, 4]),
    "iris_landmark": ("iris_landmark.tflite", 64, 0.0, [1, 4]),
}
WHEEL_NAMES = {  # onnx model -> tflite file in .cache/models/tflite (also for the attention model)
    "face_landmark_with_attention": "face_landmark_with_attention.tflite",
}


def make_input(model: str, batch: int) -> np.ndarray:
    _, size, low, _ = MODELS[model]
    rng = np.random.default_rng(7)
    return rng.uniform(low, 1.0, (batch, size, size, 3)).astype(np.float32)


def time_interleaved(calls: dict, repeats: int, rounds: int = 10) -> dict[str, float]:
    """Median ms per call of each callable, run round-robin so that load from other processes hits all alike."""
    times: dict[str, list[float]] = {label: [] for label in calls}
    per_round = max(1, repeats // rounds)
    for _ in range(rounds):
        for label, call in calls.items():
            for _ in range(5):  # re-warm caches and the thread pool after the other configs ran
                call()
            for _ in range(per_round):
                start = time.perf_counter()
                call()
                times[label].append(time.perf_counter() - start)
    return {label: float(np.median(t) * 1e3) for label, t in times.items()}


# ------------------------------------------------------------------------------------------- TFLite side


def tflite_worker(request_path: Path) -> None:
    """Runs in .venv-ref: time each (tflite file, input .npy) pair, print JSON {key: ms per call}."""
    from ai_edge_litert.interpreter import Interpreter

    request = json.loads(request_path.read_text())
    results = {}
    for key, (model_path, input_path) in request["jobs"].items():
        x = np.load(input_path)
        calls = {}
        for threads in (1, 2):
            interpreter = Interpreter(model_path=model_path, num_threads=threads)
            index = interpreter.get_input_details()[0]["index"]
            if x.shape[0] != 1:
                interpreter.resize_tensor_input(index, list(x.shape))
            interpreter.allocate_tensors()

            def invoke(interpreter=interpreter, index=index, x=x):
                interpreter.set_tensor(index, x)
                interpreter.invoke()

            calls[threads] = invoke
        for threads, ms in time_interleaved(calls, request["repeats"]).items():
            results[f"{key}|{threads}"] = ms
    print(json.dumps(results))


def run_tflite(jobs: dict[str, tuple[str, str]], repeats: int) -> dict[str, float]:
    """{"model|batch|threads": ms per call} from the TFLite worker in .venv-ref."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"jobs": jobs, "repeats": repeats}, handle)
    completed = subprocess.run(
        [str(REF_PYTHON), __file__, "--tflite-worker", handle.name], capture_output=True, text=True, check=True
    )
    Path(handle.name).unlink()
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- ORT side


def ort_variants(model: str) -> dict[str, tuple[object, dict]]:
    """label -> (model path or serialized bytes, session settings); the first is the package's choice."""
    from facemesh_ros.model_paths import models_dir

    path = str(models_dir() / f"{model}.onnx")
    variants = {
        "ort (package: ALL, 2 threads, spinning)": (path, {"threads": None}),
        "ort ALL, 1 thread": (path, {"threads": 1}),
        "ort ALL, 2 threads, no spinning": (path, {"threads": 2, "spin": False}),
        "ort EXTENDED (no NCHWc), 2 threads": (path, {"threads": 2, "level": "EXTENDED"}),
    }
    tflite_path = TFLITE_DIR / (MODELS[model][0] or WHEEL_NAMES[model])
    if tflite_path.exists():
        from scripts.models.build_models import MODEL_SPECS
        from scripts.models.tflite_to_onnx import convert

        spec = next(s for s in MODEL_SPECS if s.onnx_name == f"{model}.onnx")
        naive = convert(tflite_path, spec.outputs, prelu_mode="prelu", optimize_layout=False)
        variants["ort naive (PRelu op, Pad ops), ALL, 2 threads"] = (naive.SerializeToString(), {})
        minmul = convert(tflite_path, spec.outputs, prelu_mode="minmul")
        variants["ort PRelu as Relu+Min*a, ALL, 2 threads"] = (minmul.SerializeToString(), {})
    return variants


def ort_session(source, threads: int | None, level: str = "ALL", spin: bool = True):
    import onnxruntime as ort

    from facemesh_ros.inference import session_options

    options = session_options(threads)
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_ENABLE_{level}")
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--tflite-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tflite_worker:
        tflite_worker(args.tflite_worker)
        return
    sys.path.insert(0, str(REPO))
    rows = []  # (model, batch, label, ms per call)
    jobs: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            tflite_name, _, _, batches = MODELS[model]
            variants = ort_variants(model)
            for batch in batches:
                x = make_input(model, batch)
                calls = {}
                for label, (source, settings) in variants.items():
                    session = ort_session(
                        source, settings.get("threads"), settings.get("level", "ALL"), settings.get("spin", True)
                    )
                    name = session.get_inputs()[0].name
                    calls[label] = lambda s=session, n=name, x=x: s.run(None, {n: x})
                for label, ms in time_interleaved(calls, args.repeats).items():
                    rows.append((model, batch, label, ms))
                if tflite_name and (TFLITE_DIR / tflite_name).exists() and REF_PYTHON.exists():
                    input_path = Path(tmp) / f"{model}_{batch}.npy"
                    np.save(input_path, x)
                    jobs[f"{model}|{batch}"] = (str(TFLITE_DIR / tflite_name), str(input_path))
        tflite = run_tflite(jobs, args.repeats) if jobs else {}
    for key, ms in tflite.items():
        model, batch, threads = key.split("|")
        rows.append((model, int(batch), f"tflite xnnpack, {threads} thread{'s' * (threads != '1')}", ms))
    print_table(rows)


def print_table(rows: list[tuple[str, int, str, float]]) -> None:
    header = (
        f"{'model':28s} {'N':>2s}  {'runtime / configuration':46s} {'ms/call':>8s} {'ms/face':>8s} "
        f"{'vs tfl 1t':>9s} {'vs tfl 2t':>9s}"
    )
    print(header)
    print("-" * len(header))
    for model in dict.fromkeys(r[0] for r in rows):
        bases = [
            next((r[3] for r in rows if r[0] == model and r[1] == 1 and r[2] == label), None) for label in TFLITE_BASES
        ]
        for batch in sorted({r[1] for r in rows if r[0] == model}):
            for _, _, label, ms in (r for r in rows if r[0] == model and r[1] == batch):
                per_face = ms / batch
                ratios = " ".join(f"{per_face / base:8.2f}x" if base else f"{'n/a':>9s}" for base in bases)
                print(f"{model:28s} {batch:2d}  {label:46s} {ms:8.3f} {per_face:8.3f} {ratios}")
    print(
        "vs tfl = ms/face / TFLite ms/face at N=1 with 1 or 2 threads (MediaPipe runs one face per call); < 1 is faster"
    )


if __name__ == "__main__":
    main()
