"""Convert MediaPipe's face .tflite models to ONNX graphs that run well on onnxruntime.

Design:
- The graph input stays NHWC float32 with a dynamic batch dim; ONE Transpose turns it into NCHW, after which
  every 4D activation lives in NCHW (ONNX's native conv layout), so no per-op transposes are needed.
  Tensors that leave the 4D world (RESHAPE to [N, anchors, 16], ...) are transposed back once, where needed.
- Constant subgraphs are folded at conversion: DEQUANTIZE of fp16 weights -> fp32 initializers, DENSIFY of
  sparse weights -> dense initializers, so the ONNX graph only holds fp32 math.
- MediaPipe's custom ops of face_landmark_with_attention (Landmarks2TransformMatrix v2,
  TransformTensorBilinear v2, TransformLandmarks v2) are rebuilt from standard ONNX ops; the affine crop of
  the feature map is a GridSample.
- Graph outputs [N,1,1,K] are flattened to [N,K]; outputs are renamed through `output_names`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import tflite
from flatbuffers import flexbuffers
from onnx import TensorProto, helper, numpy_helper
from tflite.BuiltinOperator import BuiltinOperator

OPSET = 18
NCHW = "NCHW"  # a 4D activation stored channels-first
PLAIN = "plain"  # any other tensor, stored with the tflite shape (batch dim first)
AFFINE = "affine"  # a MediaPipe 4x4 crop matrix, stored as its used part: [N, 2, 3] = [A | t]

_OP_NAMES = {value: key for key, value in vars(BuiltinOperator).items() if not key.startswith("_")}
_NUMPY_TYPES = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
    tflite.TensorType.INT64: np.int64,
    tflite.TensorType.UINT8: np.uint8,
    tflite.TensorType.INT8: np.int8,
}
_INDEX_VECTORS = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}
_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


class ConversionError(RuntimeError):
    """The model uses something this converter does not handle."""


# --------------------------------------------------------------------------------------------- parsing


@dataclass
class Tensor:
    name: str
    shape: list[int]
    dtype: type
    data: np.ndarray | None  # constant payload (already densified), None for activations


@dataclass
class Operator:
    index: int
    kind: str  # builtin name, or "CUSTOM:<code>"
    inputs: list[int]
    outputs: list[int]
    options: object | None  # the builtin options table, or the decoded flexbuffer dict for custom ops
    version: int = 1  # operator code version (MediaPipe's custom ops: only v2 is implemented)


@dataclass
class TfliteGraph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]


def _densify(values: np.ndarray, shape: list[int], sparsity) -> np.ndarray:
    """Expand a TFLite sparse tensor (dims stored DENSE or SPARSE_CSR, no block map) to a dense array."""
    if not sparsity.BlockMapIsNone() and sparsity.BlockMapLength():
        raise ConversionError("block-sparse tensors are not supported")
    order = sparsity.TraversalOrderAsNumpy().tolist()
    if order != list(range(len(shape))):
        raise ConversionError(f"unsupported traversal order {order}")
    dense = np.zeros(int(np.prod(shape)), dtype=values.dtype)
    # Walk the dims in order; `positions` are flat indices into `values` per stored prefix, `offsets` the
    # dense flat offsets those prefixes map to.
    offsets = np.zeros(1, dtype=np.int64)
    positions = np.zeros(1, dtype=np.int64)
    for dim in range(len(shape)):
        meta = sparsity.DimMetadata(dim)
        stride = int(np.prod(shape[dim + 1:]))
        if meta.Format() == tflite.DimensionType.DENSE:
            size = meta.DenseSize()
            offsets = (offsets[:, None] + np.arange(size) * stride).reshape(-1)
            positions = (positions[:, None] * size + np.arange(size)).reshape(-1)
        else:
            segments = _index_vector(meta.ArraySegmentsType(), meta.ArraySegments())
            indices = _index_vector(meta.ArrayIndicesType(), meta.ArrayIndices())
            starts, ends = segments[positions], segments[positions + 1]
            counts = ends - starts
            stored = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
                                    + [np.zeros(0, dtype=np.int64)])
            offsets = np.repeat(offsets, counts) + indices[stored] * stride
            positions = stored
    if len(positions) != values.size:
        raise ConversionError(f"sparse tensor holds {values.size} values, metadata expects {len(positions)}")
    dense[offsets] = values.reshape(-1)[positions]
    return dense.reshape(shape)


def _index_vector(kind: int, table) -> np.ndarray:
    vector = _INDEX_VECTORS[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64)


def _tensor_data(model, tensor) -> np.ndarray | None:
    buffer = model.Buffers(tensor.Buffer())
    if buffer is None or buffer.DataLength() == 0:
        return None
    dtype = _NUMPY_TYPES[tensor.Type()]
    raw = buffer.DataAsNumpy().tobytes()
    values = np.frombuffer(raw, dtype=dtype).copy()
    shape = tensor.ShapeAsNumpy().tolist() if tensor.ShapeLength() else []
    if tensor.Sparsity() is not None:
        return _densify(values, shape, tensor.Sparsity())
    return values.reshape(shape)


def parse_tflite(path: Path) -> TfliteGraph:
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    if model.SubgraphsLength() != 1:
        raise ConversionError(f"{path.name}: expected one subgraph")
    graph = model.Subgraphs(0)
    tensors = []
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        shape = tensor.ShapeAsNumpy().tolist() if tensor.ShapeLength() else []
        tensors.append(Tensor(tensor.Name().decode(), shape, _NUMPY_TYPES[tensor.Type()],
                              _tensor_data(model, tensor)))
    operators = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == BuiltinOperator.CUSTOM:
            kind = "CUSTOM:" + code.CustomCode().decode()
            raw = op.CustomOptionsAsNumpy() if op.CustomOptionsLength() else None
            options = flexbuffers.Loads(raw.tobytes()) if raw is not None else {}
        else:
            kind = _OP_NAMES[builtin]
            options = op.BuiltinOptions()
        inputs, outputs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        operators.append(Operator(i, kind, inputs, outputs, options, code.Version()))
    return TfliteGraph(tensors, operators, graph.InputsAsNumpy().tolist(), graph.OutputsAsNumpy().tolist())


def _options(op: Operator, cls):
    table = cls()
    table.Init(op.options.Bytes, op.options.Pos)
    return table


# ------------------------------------------------------------------------------------------- building


def _clean(name: str) -> str:
    """A short readable ONNX name from a tflite tensor name ('a/b/c;d/e' -> 'a_b_c')."""
    name = name.split(";")[0]
    for prefix in ("model_1/model/", "model/", "model_1/"):
        name = name.removeprefix(prefix)
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "t"


@dataclass
class Value:
    name: str
    layout: str  # NCHW, PLAIN or AFFINE
    shape: list[int]  # tflite (NHWC) shape, batch dim included


@dataclass
class Builder:
    graph: TfliteGraph
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    values: dict[int, Value] = field(default_factory=dict)
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    used_names: set[str] = field(default_factory=set)
    prelu_mode: str = "dwconv"  # how PRELU is expressed: "dwconv", "minmul" or "prelu" (see _prelu)
    optimize_layout: bool = True  # channel Pad as 1x1 Conv, spatial Pad folded into Conv (False: naive)

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def const(self, array: np.ndarray, base: str) -> str:
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def node(self, op_type: str, inputs: list[str], base: str, **attrs) -> str:
        out = self.unique(base)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    def is_const(self, index: int) -> bool:
        return index in self.constants or self.graph.tensors[index].data is not None

    def const_value(self, index: int) -> np.ndarray:
        if index in self.constants:
            return self.constants[index]
        return self.graph.tensors[index].data

    def out_name(self, op: Operator, k: int = 0) -> str:
        return _clean(self.tensor(op.outputs[k]).name)

    # ---- layout helpers
    def as_nhwc_order(self, value: Value) -> str:
        """The value's data with the tflite (NHWC) element order; a transpose only if H*W > 1."""
        if value.layout == NCHW and value.shape[1] * value.shape[2] > 1:
            return self.node("Transpose", [value.name], value.name + "_nhwc", perm=[0, 2, 3, 1])
        return value.name

    def set_output(self, op: Operator, name: str, layout: str, k: int = 0) -> None:
        self.values[op.outputs[k]] = Value(name, layout, self.tensor(op.outputs[k]).shape)

    def input_value(self, index: int) -> Value:
        if index in self.values:
            return self.values[index]
        if self.is_const(index):  # a constant used as an activation operand: keep its tflite layout
            data = self.const_value(index).astype(np.float32)
            return Value(self.const(data, _clean(self.tensor(index).name)), PLAIN, list(data.shape))
        raise ConversionError(f"tensor {self.tensor(index).name} has no producer")


def _same_pads(in_size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    out = -(-in_size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


def _conv_pads(padding: int, in_hw: list[int], kernel: list[int], strides: list[int],
               dilations: list[int]) -> list[int]:
    if padding == tflite.Padding.VALID:
        return [0, 0, 0, 0]
    top, bottom = _same_pads(in_hw[0], kernel[0], strides[0], dilations[0])
    left, right = _same_pads(in_hw[1], kernel[1], strides[1], dilations[1])
    return [top, left, bottom, right]


def _activation(b: Builder, name: str, fused: int, base: str) -> str:
    if fused == tflite.ActivationFunctionType.NONE:
        return name
    if fused == tflite.ActivationFunctionType.RELU:
        return b.node("Relu", [name], base + "_relu")
    if fused == tflite.ActivationFunctionType.RELU6:
        lo, hi = b.const(np.float32(0), base + "_min"), b.const(np.float32(6), base + "_max")
        return b.node("Clip", [name, lo, hi], base + "_relu6")
    raise ConversionError(f"fused activation {fused} not supported")


# ------------------------------------------------------------------------------------------- builtins


def _conv(b: Builder, op: Operator, depthwise: bool) -> None:
    x = b.input_value(op.inputs[0])
    weight = b.const_value(op.inputs[1]).astype(np.float32)  # [O, kh, kw, I] or [1, kh, kw, C*M]
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = b.const_value(op.inputs[2]).astype(np.float32) if has_bias else None
    if depthwise:
        opts = _options(op, tflite.DepthwiseConv2DOptions)
        group = x.shape[3]
        weight = weight.transpose(3, 0, 1, 2)  # [C*M, 1, kh, kw]
    else:
        opts = _options(op, tflite.Conv2DOptions)
        group = 1
        weight = weight.transpose(0, 3, 1, 2)
    strides = [opts.StrideH(), opts.StrideW()]
    dilations = [opts.DilationHFactor(), opts.DilationWFactor()]
    kernel = list(weight.shape[2:])
    pads = _conv_pads(opts.Padding(), x.shape[1:3], kernel, strides, dilations)
    base = b.out_name(op)
    inputs = [x.name, b.const(weight, base + "_weight")]
    if bias is not None:
        inputs.append(b.const(bias, base + "_bias"))
    out = b.node("Conv", inputs, base, kernel_shape=kernel, strides=strides, dilations=dilations, pads=pads,
                 group=group)
    b.set_output(op, _activation(b, out, opts.FusedActivationFunction(), base), NCHW)


def _prelu(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    alpha = b.const_value(op.inputs[1]).astype(np.float32)
    if x.layout == NCHW:  # alpha broadcasts against NHWC: make it [C, H', W'] for NCHW
        alpha = alpha.reshape((1,) * (4 - alpha.ndim) + alpha.shape).transpose(0, 3, 1, 2)[0]
    base = b.out_name(op)
    per_channel = x.layout == NCHW and alpha.shape[1:] == (1, 1) and alpha.shape[0] == x.shape[3]
    if b.prelu_mode == "prelu" or not per_channel:
        out = b.node("PRelu", [x.name, b.const(alpha, base + "_slope")], base)
    elif b.prelu_mode == "minmul":  # relu(x) + a * min(x, 0)
        negative = b.node("Min", [x.name, b.const(np.float32(0), base + "_zero")], base + "_neg")
        scaled = b.node("Mul", [negative, b.const(alpha, base + "_slope")], base + "_negs")
        out = b.node("Add", [b.node("Relu", [x.name], base + "_pos"), scaled], base)
    else:  # "dwconv": x + (1 - a) * relu(-x), as two 1x1 depthwise convs (see prelu_as_depthwise)
        out = _prelu_as_depthwise(b, x, alpha[:, 0, 0], base)
    b.set_output(op, out, x.layout)


def _prelu_as_depthwise(b: Builder, x: Value, alpha: np.ndarray, base: str) -> str:
    """PReLU(x) = x + (1 - a) * relu(-x), built from 1x1 depthwise Convs, Relu and Add.

    onnxruntime's CPU PRelu takes a slow generic broadcast path (measured ~40x a Relu of the same size) and
    is not supported by its NCHWc layout transformer, so each PRelu also costs two layout reorders. A 1x1
    depthwise Conv is a per-channel scale that the NCHWc transformer keeps blocked; it fuses the Relu into
    the first conv and the Add (as its "Sum" input) into the second, leaving two cheap blocked convs.
    """
    channels = alpha.size
    negate = b.const(np.full((channels, 1, 1, 1), -1, np.float32), base + "_negate")
    slope = b.const((1 - alpha).reshape(channels, 1, 1, 1), base + "_1_minus_slope")
    flipped = b.node("Conv", [x.name, negate], base + "_neg", kernel_shape=[1, 1], group=channels)
    negative_part = b.node("Relu", [flipped], base + "_relu_neg")
    scaled = b.node("Conv", [negative_part, slope], base + "_scaled", kernel_shape=[1, 1], group=channels)
    return b.node("Add", [x.name, scaled], base)


def _unary(b: Builder, op: Operator, op_type: str) -> None:
    x = b.input_value(op.inputs[0])
    b.set_output(op, b.node(op_type, [x.name], b.out_name(op)), x.layout)


def _binary(b: Builder, op: Operator, op_type: str, options_cls) -> None:
    a_index, c_index = op.inputs
    names, layouts = [], []
    for index in (a_index, c_index):
        if index in b.values:
            names.append(b.values[index].name)
            layouts.append(b.values[index].layout)
        else:
            names.append(None)
            layouts.append(None)
    layout = NCHW if NCHW in layouts else PLAIN
    for k, index in enumerate((a_index, c_index)):
        if names[k] is None:  # constant operand: match the activation layout
            data = b.const_value(index).astype(np.float32)
            if layout == NCHW and data.ndim == 4:
                data = data.transpose(0, 3, 1, 2)
            elif layout == NCHW and data.ndim in (1, 3) and data.size > 1:
                raise ConversionError(f"{op.kind}: cannot broadcast constant {data.shape} in NCHW")
            names[k] = b.const(data, b.out_name(op) + "_const")
    base = b.out_name(op)
    out = b.node(op_type, names, base)
    fused = _options(op, options_cls).FusedActivationFunction() if op.options is not None else 0
    b.set_output(op, _activation(b, out, fused, base), layout)


def _max_pool(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    opts = _options(op, tflite.Pool2DOptions)
    kernel, strides = [opts.FilterHeight(), opts.FilterWidth()], [opts.StrideH(), opts.StrideW()]
    pads = _conv_pads(opts.Padding(), x.shape[1:3], kernel, strides, [1, 1])
    base = b.out_name(op)
    out = b.node("MaxPool", [x.name], base, kernel_shape=kernel, strides=strides, pads=pads)
    b.set_output(op, _activation(b, out, opts.FusedActivationFunction(), base), NCHW)


def _pad(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    paddings = b.const_value(op.inputs[1]).astype(np.int64)  # [rank, 2] in tflite axis order
    if x.layout == NCHW:
        paddings = paddings[[0, 3, 1, 2]]
    base = b.out_name(op)
    channel_only = b.optimize_layout and x.layout == NCHW and not paddings[[0, 2, 3]].any()
    if channel_only:
        b.set_output(op, _channel_pad_as_conv(b, x, paddings[1], base), NCHW)
        return
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    out = b.node("Pad", [x.name, b.const(pads, base + "_pads")], base, mode="constant")
    b.set_output(op, out, x.layout)


def _channel_pad_as_conv(b: Builder, x: Value, channel_pads: np.ndarray, base: str) -> str:
    """Zero channels before/after, as a 1x1 Conv with an identity-embedding weight.

    BlazeFace-style blocks pad channels on the skip path. onnxruntime's NCHWc transformer does not handle
    Pad, so a Pad there forces every later residual Add out of the blocked layout (reorders around each
    block). A 1x1 Conv stays blocked, its cost is tiny, and the following Add fuses into it.
    """
    before, after = (int(v) for v in channel_pads)
    channels = x.shape[3]
    weight = np.zeros((before + channels + after, channels, 1, 1), np.float32)
    weight[before + np.arange(channels), np.arange(channels)] = 1.0
    return b.node("Conv", [x.name, b.const(weight, base + "_embed")], base, kernel_shape=[1, 1])


def _reshape(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    target = list(b.tensor(op.outputs[0]).shape)
    base = b.out_name(op)
    data = b.as_nhwc_order(x)
    if len(target) == 4 and target[1] * target[2] > 1:  # back into NCHW for further 4D ops
        shape = b.const(np.array([0, *target[1:]], dtype=np.int64), base + "_shape")
        nhwc = b.node("Reshape", [data, shape], base + "_nhwc")
        b.set_output(op, b.node("Transpose", [nhwc], base, perm=[0, 3, 1, 2]), NCHW)
        return
    if len(target) == 4:  # [N,1,1,C]: the NCHW [N,C,1,1] has the same element order
        shape = b.const(np.array([0, target[3], 1, 1], dtype=np.int64), base + "_shape")
        b.set_output(op, b.node("Reshape", [data, shape], base), NCHW)
        return
    shape = b.const(np.array([0, *target[1:]], dtype=np.int64), base + "_shape")
    b.set_output(op, b.node("Reshape", [data, shape], base), PLAIN)


def _concatenation(b: Builder, op: Operator) -> None:
    values = [b.input_value(i) for i in op.inputs]
    opts = _options(op, tflite.ConcatenationOptions)
    rank = len(values[0].shape)
    axis = opts.Axis() % rank
    layouts = {v.layout for v in values}
    if layouts == {NCHW}:
        axis = _NHWC_TO_NCHW_AXIS[axis]
        layout = NCHW
    elif layouts == {PLAIN}:
        layout = PLAIN
    else:
        raise ConversionError("CONCATENATION of mixed layouts")
    base = b.out_name(op)
    out = b.node("Concat", [v.name for v in values], base, axis=axis)
    b.set_output(op, _activation(b, out, opts.FusedActivationFunction(), base), layout)


def _resize_bilinear(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    opts = _options(op, tflite.ResizeBilinearOptions)
    out_hw = b.const_value(op.inputs[1]).astype(np.int64).tolist()
    scales = np.array([1, 1, out_hw[0] / x.shape[1], out_hw[1] / x.shape[2]], dtype=np.float32)
    if opts.AlignCorners():
        mode = "align_corners"
    elif opts.HalfPixelCenters():
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    base = b.out_name(op)
    out = b.node("Resize", [x.name, "", b.const(scales, base + "_scales")], base, mode="linear",
                 coordinate_transformation_mode=mode)
    b.set_output(op, out, NCHW)


def _depth_to_space(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    block = _options(op, tflite.DepthToSpaceOptions).BlockSize()
    # TF's NHWC depth_to_space reads channels as (row, col, c): ONNX's DCR mode on NCHW.
    b.set_output(op, b.node("DepthToSpace", [x.name], b.out_name(op), blocksize=block, mode="DCR"), NCHW)


def _strided_slice(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    begin, end, strides = (b.const_value(i).tolist() for i in op.inputs[1:4])
    shape = b.tensor(op.inputs[0]).shape
    opts = _options(op, tflite.StridedSliceOptions)
    masks = (opts.BeginMask(), opts.EndMask(), opts.EllipsisMask(), opts.NewAxisMask(), opts.ShrinkAxisMask())
    if any(masks) or begin != [0] * len(shape) or end != shape or strides != [1] * len(shape):
        raise ConversionError(f"STRIDED_SLICE other than identity not supported: {begin} {end} {strides}")
    b.values[op.outputs[0]] = Value(x.name, x.layout, b.tensor(op.outputs[0]).shape)


# ----------------------------------------------------------------------------------- MediaPipe custom ops


def _landmarks_to_transform_matrix(b: Builder, op: Operator) -> None:
    """Landmarks2TransformMatrix v2 as ONNX ops; output: [N,2,3] affine A|t (output px -> input px).

    Upstream semantics: r = target_rotation - atan2(dy, dx) between the two rotation landmarks; rotate the
    subset landmarks by r, take their axis-aligned box (size w,h, centre m), rotate m back by -r;
    T = shift(centre) * rot(-r) * scale(scale_x*w/out_w, scale_y*h/out_h) * shift(-out_w/2, -out_h/2).
    cos/sin of r are taken from the normalized direction vector (ONNX has no atan2).
    The tflite op emits a 4x4 matrix; only its A (2x2) and t (2) parts are ever read downstream, so they are
    produced as a [N,2,3] tensor and later MULs by constants are applied to those parts.
    """
    opts = op.options
    if abs(float(opts.get("target_rotation_radians", 0.0))) > 0:
        raise ConversionError("target_rotation_radians != 0 not supported")
    landmarks = b.input_value(op.inputs[0])  # [N, 468, 3], PLAIN
    base = b.unique("crop_matrix")
    xy = b.node("Slice", [landmarks.name, b.const(np.array([0], np.int64), base + "_s0"),
                          b.const(np.array([2], np.int64), base + "_s1"),
                          b.const(np.array([2], np.int64), base + "_sax")], base + "_xy")  # [N,468,2]
    pair_idx = [opts["left_rotation_idx"], opts["right_rotation_idx"]]
    pair = b.const(np.array(pair_idx, np.int64), base + "_pair")
    ends = b.node("Gather", [xy, pair], base + "_ends", axis=1)  # [N,2,2]
    left = b.node("Gather", [ends, b.const(np.array(0, np.int64), base + "_i0")], base + "_left", axis=1)
    right = b.node("Gather", [ends, b.const(np.array(1, np.int64), base + "_i1")], base + "_right", axis=1)
    direction = b.node("Sub", [right, left], base + "_dir")  # [N,2] = (dx, dy)
    length = b.node("ReduceL2", [direction, b.const(np.array([1], np.int64), base + "_ax1")], base + "_len",
                    keepdims=1)
    # atan2(0, 0) = 0 upstream: a zero direction means no rotation (1, 0).
    safe_len = b.node("Max", [length, b.const(np.array(1e-30, np.float32), base + "_tiny")], base + "_slen")
    unit = b.node("Div", [direction, safe_len], base + "_unit")
    is_zero = b.node("Equal", [length, b.const(np.array(0, np.float32), base + "_zero")], base + "_isz")
    unit = b.node("Where", [is_zero, b.const(np.array([1, 0], np.float32), base + "_ex"), unit], base + "_u")
    # r = -atan2(dy, dx): cos r = ux, sin r = -uy. Rotation by r maps (x, y) -> (ux*x + uy*y, -uy*x + ux*y),
    # i.e. xy @ Rr^T with Rr^T = [[ux, -uy], [uy, ux]].
    ux = b.node("Gather", [unit, b.const(np.array([0], np.int64), base + "_c0")], base + "_ux", axis=1)
    uy = b.node("Gather", [unit, b.const(np.array([1], np.int64), base + "_c1")], base + "_uy", axis=1)
    neg_uy = b.node("Neg", [uy], base + "_nuy")
    row0 = b.node("Concat", [ux, neg_uy], base + "_r0", axis=1)  # [N,2]
    row1 = b.node("Concat", [uy, ux], base + "_r1", axis=1)
    rot_t = b.node("Concat", [b.node("Unsqueeze", [row0, b.const(np.array([1], np.int64), base + "_u1")],
                                     base + "_r0u"),
                              b.node("Unsqueeze", [row1, b.const(np.array([1], np.int64), base + "_u2")],
                                     base + "_r1u")], base + "_rotT", axis=1)  # [N,2,2] = Rr^T
    subset = b.const(np.asarray(opts["subset_idxs"], np.int64), base + "_subset")
    points = b.node("Gather", [xy, subset], base + "_pts", axis=1)  # [N,K,2]
    rotated = b.node("MatMul", [points, rot_t], base + "_rot")
    axis1 = b.const(np.array([1], np.int64), base + "_rax")
    high = b.node("ReduceMax", [rotated, axis1], base + "_max", keepdims=1)  # [N,1,2]
    low = b.node("ReduceMin", [rotated, axis1], base + "_min", keepdims=1)
    size = b.node("Sub", [high, low], base + "_size")  # (w, h)
    middle = b.node("Mul", [b.node("Add", [high, low], base + "_sum"),
                            b.const(np.array(0.5, np.float32), base + "_half")], base + "_mid")
    # Back by -r: (x, y) -> Rr^T (x, y), i.e. as a row vector m @ Rr.
    rot = b.node("Transpose", [rot_t], base + "_rotm", perm=[0, 2, 1])
    centre = b.node("MatMul", [middle, rot], base + "_centre")  # [N,1,2]
    out_w, out_h = opts["output_width"], opts["output_height"]
    per_px = np.array([opts["scale_x"] / out_w, opts["scale_y"] / out_h], np.float32)
    scale = b.node("Mul", [size, b.const(per_px, base + "_pxs")], base + "_scale")  # [N,1,2]
    # A = rot(-r) @ diag(scale) = Rr^T @ diag(scale): scale the columns of Rr^T.
    linear = b.node("Mul", [rot_t, scale], base + "_A")  # [N,2,2]
    shift = b.const(np.array([[-out_w / 2.0], [-out_h / 2.0]], np.float32), base + "_shift")
    offset = b.node("MatMul", [linear, shift], base + "_Ashift")  # [N,2,1]
    centre_col = b.node("Transpose", [centre], base + "_ccol", perm=[0, 2, 1])
    translation = b.node("Add", [centre_col, offset], base + "_t")  # [N,2,1]
    affine = b.node("Concat", [linear, translation], base, axis=2)  # [N,2,3]
    b.values[op.outputs[0]] = Value(affine, AFFINE, [0, 2, 3])


def _affine_mul(b: Builder, op: Operator) -> bool:
    """MUL of a 4x4 crop matrix by a constant: apply the factors of the A|t entries to the [N,2,3] form."""
    matrix_index = next((i for i in op.inputs if i in b.values and b.values[i].layout == AFFINE), None)
    if matrix_index is None:
        return False
    other = next(i for i in op.inputs if i != matrix_index)
    factors = np.broadcast_to(b.const_value(other).astype(np.float32), (1, 4, 4))[0]
    kept = factors[:2][:, [0, 1, 3]]  # rows 0,1; columns A0, A1, t (column 2 multiplies z = 0)
    base = b.out_name(op)
    out = b.node("Mul", [b.values[matrix_index].name, b.const(kept, base + "_factors")], base)
    b.values[op.outputs[0]] = Value(out, AFFINE, [0, 2, 3])
    return True


def _transform_tensor_bilinear(b: Builder, op: Operator) -> None:
    """TransformTensorBilinear v2: out[y,x] = bilinear(in, A @ (x+0.5, y+0.5) + t - 0.5), 0 outside.

    Upstream zeroes a sample whose source point falls outside [0, W-1] x [0, H-1]; inside it is plain
    bilinear interpolation, which GridSample(align_corners=1) reproduces; the outside is masked explicitly.
    """
    feature = b.input_value(op.inputs[0])  # NCHW [N,C,H,W]
    matrix = b.values[op.inputs[1]]
    if feature.layout != NCHW or matrix.layout != AFFINE:
        raise ConversionError("TransformTensorBilinear expects an NCHW feature map and a crop matrix")
    out_h, out_w = op.options["output_height"], op.options["output_width"]
    in_h, in_w = feature.shape[1], feature.shape[2]
    base = b.out_name(op)
    ys, xs = np.meshgrid(np.arange(out_h, dtype=np.float32) + 0.5, np.arange(out_w, dtype=np.float32) + 0.5,
                         indexing="ij")
    homogeneous = np.stack([xs.ravel(), ys.ravel(), np.ones(out_h * out_w, np.float32)])  # [3, HW]
    source = b.node("MatMul", [matrix.name, b.const(homogeneous, base + "_grid")], base + "_src")  # [N,2,HW]
    source = b.node("Sub", [source, b.const(np.array([[0.5], [0.5]], np.float32), base + "_half")],
                    base + "_srcpx")
    limits = np.array([[in_w - 1], [in_h - 1]], np.float32)
    inside = b.node("And", [b.node("GreaterOrEqual", [source, b.const(np.zeros((2, 1), np.float32),
                                                                       base + "_lo")], base + "_ge"),
                            b.node("LessOrEqual", [source, b.const(limits, base + "_hi")], base + "_le")],
                    base + "_in")
    inside = b.node("Cast", [inside], base + "_inf", to=TensorProto.FLOAT)  # [N,2,HW]: x and y in range
    inside = b.node("ReduceMin", [inside, b.const(np.array([1], np.int64), base + "_ax")], base + "_both",
                    keepdims=1)
    mask = b.node("Reshape", [inside, b.const(np.array([-1, 1, out_h, out_w], np.int64), base + "_mshape")],
                  base + "_mask")
    scaled = b.node("Mul", [source, b.const(2.0 / limits, base + "_norm")], base + "_scaled")
    normalized = b.node("Sub", [scaled, b.const(np.array(1.0, np.float32), base + "_one")], base + "_normed")
    grid = b.node("Reshape", [b.node("Transpose", [normalized], base + "_gridt", perm=[0, 2, 1]),
                              b.const(np.array([-1, out_h, out_w, 2], np.int64), base + "_gshape")],
                  base + "_gridnhw2")
    sampled = b.node("GridSample", [feature.name, grid], base + "_sampled", mode="bilinear",
                     padding_mode="border", align_corners=1)
    b.set_output(op, b.node("Mul", [sampled, mask], base), NCHW)


def _transform_landmarks(b: Builder, op: Operator) -> None:
    """TransformLandmarks v2 on [N,K,2] (or [N,K,3], z kept): xy -> A @ xy + t."""
    points = b.input_value(op.inputs[0])
    matrix = b.values[op.inputs[1]]
    if points.layout != PLAIN or matrix.layout != AFFINE:
        raise ConversionError("TransformLandmarks expects [N,K,D] landmarks and a crop matrix")
    dims = points.shape[-1]
    base = b.out_name(op)
    linear = b.node("Slice", [matrix.name, b.const(np.array([0], np.int64), base + "_a0"),
                              b.const(np.array([2], np.int64), base + "_a1"),
                              b.const(np.array([2], np.int64), base + "_aax")], base + "_A")
    translation = b.node("Slice", [matrix.name, b.const(np.array([2], np.int64), base + "_t0"),
                                   b.const(np.array([3], np.int64), base + "_t1"),
                                   b.const(np.array([2], np.int64), base + "_tax")], base + "_t")
    xy = points.name
    if dims == 3:
        xy = b.node("Slice", [points.name, b.const(np.array([0], np.int64), base + "_x0"),
                              b.const(np.array([2], np.int64), base + "_x1"),
                              b.const(np.array([2], np.int64), base + "_xax")], base + "_xy")
    moved = b.node("MatMul", [xy, b.node("Transpose", [linear], base + "_AT", perm=[0, 2, 1])], base + "_Axy")
    moved = b.node("Add", [moved, b.node("Transpose", [translation], base + "_tT", perm=[0, 2, 1])],
                   base + ("_xyout" if dims == 3 else ""))
    if dims == 3:
        z = b.node("Slice", [points.name, b.const(np.array([2], np.int64), base + "_z0"),
                             b.const(np.array([3], np.int64), base + "_z1"),
                             b.const(np.array([2], np.int64), base + "_zax")], base + "_z")
        moved = b.node("Concat", [moved, z], base, axis=2)
    b.set_output(op, moved, PLAIN)


# ------------------------------------------------------------------------------------------- driver


def _fold_constant(b: Builder, op: Operator) -> bool:
    if op.kind in ("DEQUANTIZE", "DENSIFY") and b.is_const(op.inputs[0]):
        b.constants[op.outputs[0]] = b.const_value(op.inputs[0]).astype(
            np.float32 if op.kind == "DEQUANTIZE" else b.const_value(op.inputs[0]).dtype)
        return True
    return False


def _emit(b: Builder, op: Operator) -> None:
    kind = op.kind
    if kind.startswith("CUSTOM:") and op.version != 2:
        raise ConversionError(f"{kind} version {op.version}: only version 2 is implemented")
    if _fold_constant(b, op):
        return
    if kind == "CONV_2D":
        _conv(b, op, depthwise=False)
    elif kind == "DEPTHWISE_CONV_2D":
        _conv(b, op, depthwise=True)
    elif kind == "PRELU":
        _prelu(b, op)
    elif kind == "RELU":
        _unary(b, op, "Relu")
    elif kind == "ADD":
        _binary(b, op, "Add", tflite.AddOptions)
    elif kind == "MUL":
        if not _affine_mul(b, op):
            _binary(b, op, "Mul", tflite.MulOptions)
    elif kind == "MAX_POOL_2D":
        _max_pool(b, op)
    elif kind == "PAD":
        _pad(b, op)
    elif kind == "RESHAPE":
        _reshape(b, op)
    elif kind == "CONCATENATION":
        _concatenation(b, op)
    elif kind == "RESIZE_BILINEAR":
        _resize_bilinear(b, op)
    elif kind == "DEPTH_TO_SPACE":
        _depth_to_space(b, op)
    elif kind == "STRIDED_SLICE":
        _strided_slice(b, op)
    elif kind == "CUSTOM:Landmarks2TransformMatrix":
        _landmarks_to_transform_matrix(b, op)
    elif kind == "CUSTOM:TransformTensorBilinear":
        _transform_tensor_bilinear(b, op)
    elif kind == "CUSTOM:TransformLandmarks":
        _transform_landmarks(b, op)
    else:
        raise ConversionError(f"op {kind} not supported")


def convert(tflite_path: Path, outputs_by_tflite_name: dict[str, str], input_name: str = "input",
            doc: str = "", prelu_mode: str = "dwconv", optimize_layout: bool = True) -> onnx.ModelProto:
    """Build the ONNX model; outputs keep the tflite output order, renamed by `outputs_by_tflite_name`."""
    graph = parse_tflite(tflite_path)
    tflite_names = [graph.tensors[i].name for i in graph.outputs]
    if len(graph.inputs) != 1 or sorted(tflite_names) != sorted(outputs_by_tflite_name):
        raise ConversionError(f"{tflite_path.name}: expected 1 input and outputs "
                              f"{sorted(outputs_by_tflite_name)}, found {len(graph.inputs)} inputs and "
                              f"outputs {tflite_names}")
    output_names = [outputs_by_tflite_name[name] for name in tflite_names]
    b = Builder(graph, prelu_mode=prelu_mode, optimize_layout=optimize_layout)
    b.used_names.update([input_name, *output_names])
    in_shape = graph.tensors[graph.inputs[0]].shape  # [1, H, W, C]
    nchw = b.node("Transpose", [input_name], "input_nchw", perm=[0, 3, 1, 2])
    b.values[graph.inputs[0]] = Value(nchw, NCHW, in_shape)
    for op in graph.operators:
        _emit(b, op)
    outputs = []
    for index, name in zip(graph.outputs, output_names, strict=True):
        value = b.values[index]
        width = int(np.prod(value.shape[1:]))
        if len(value.shape) == 4 and value.shape[1] * value.shape[2] == 1:  # [N,1,1,K] -> [N,K]
            flat = b.const(np.array([0, width], np.int64), name + "_shape")
            b.nodes.append(helper.make_node("Reshape", [value.name, flat], [name], name=name))
            dims = ["N", width]
        elif value.layout == PLAIN:
            b.nodes.append(helper.make_node("Identity", [value.name], [name], name=name))
            dims = ["N", *value.shape[1:]]
        else:
            raise ConversionError(f"output {name}: unexpected spatial NCHW output {value.shape}")
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", *in_shape[1:]])]
    onnx_graph = helper.make_graph(b.nodes, tflite_path.stem, inputs, outputs, b.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="facemesh_ros scripts/models/tflite_to_onnx.py")
    model.ir_version = 8
    model.doc_string = doc
    if optimize_layout:
        _fold_pads_into_convs(model)
    _prune_unused_initializers(model)
    onnx.checker.check_model(model, full_check=True)
    return model


def _fold_pads_into_convs(model: onnx.ModelProto) -> None:
    """Drop zero spatial Pads whose consumers are all Convs: the pads go into the Convs' pads attribute."""
    inits = {init.name: init for init in model.graph.initializer}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in model.graph.output}
    dropped = []
    for node in model.graph.node:
        if node.op_type != "Pad" or node.output[0] in outputs or (len(node.input) > 2 and node.input[2]):
            continue
        pads = numpy_helper.to_array(inits[node.input[1]]).tolist()  # [n, c, h, w] begins then ends
        users = consumers.get(node.output[0], [])
        if pads[0] or pads[1] or pads[4] or pads[5] or not users or any(u.op_type != "Conv" for u in users):
            continue
        for user in users:
            attr = next(a for a in user.attribute if a.name == "pads")
            top, left, bottom, right = attr.ints
            attr.ints[:] = [top + pads[2], left + pads[3], bottom + pads[6], right + pads[7]]
            user.input[0] = node.input[0]
        dropped.append(node)
    for node in dropped:
        model.graph.node.remove(node)


def _prune_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
