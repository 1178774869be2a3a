"""Convert MediaPipe's face .tflite models to ONNX graphs that run well on onnxruntime.

Design:
- The graph input stays NHWC float32 with a dynamic batch dim; ONE Transpose turns it into NCHW, after which
  every 4D activation lives in NCHW (ONNX's native conv layout), so no per-op transposes are needed.
  Tensors that leave the 4D world (RESHAPE to [N, anchors, 16], ...) are transposed back once, where needed.
- Constant subgraphs are folded at conversion: DEQUANTIZE of fp16 weights -> fp32 initializers, DENSIFY of
  sparse weights -> dense initializers, so the ONNX graph only holds fp32 math.
- MediaPipe's custom ops of face_landmark_with_attention (Landmarks2TransformMatrix v2,
  TransformTensorBilinear v2, TransformLandmarks v2) are rebuilt from standard ONNX ops; the affine crop of
  the feature map gathers its four bilinear taps (GatherND), cheaper than onnxruntime's GridSample.
- The crop branches of that model (lips, eye contours, irises: identical towers on 16x16 crops) run as one
  channel-packed tower of grouped convolutions instead of five chains of tiny ops (see _plan_lanes).
- Graph outputs [N,1,1,K] are flattened to [N,K]; outputs are renamed through `output_names`.
- A non-image input (the blendshape model's [1,146,2] points) stays plain until a RESHAPE makes it 4D; the
  MLP-Mixer ops (MEAN, SUM, SQUARED_DIFFERENCE, RSQRT, TRANSPOSE, general STRIDED_SLICE, ...) map their axes
  into the NCHW layout, and a constant joined by CONCATENATION (a learned token) is expanded to the batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
        stride = int(np.prod(shape[dim + 1 :]))
        if meta.Format() == tflite.DimensionType.DENSE:
            size = meta.DenseSize()
            offsets = (offsets[:, None] + np.arange(size) * stride).reshape(-1)
            positions = (positions[:, None] * size + np.arange(size)).reshape(-1)
        else:
            segments = _index_vector(meta.ArraySegmentsType(), meta.ArraySegments())
            indices = _index_vector(meta.ArrayIndicesType(), meta.ArrayIndices())
            starts, ends = segments[positions], segments[positions + 1]
            counts = ends - starts
            stored = np.concatenate(
                [np.arange(s, e) for s, e in zip(starts, ends, strict=True)] + [np.zeros(0, dtype=np.int64)]
            )
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
        tensors.append(Tensor(tensor.Name().decode(), shape, _NUMPY_TYPES[tensor.Type()], _tensor_data(model, tensor)))
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
    optimize_layout: bool = True  # channel Pad as 1x1 Conv, spatial Pad folded, packed lanes (False: naive)

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


def _conv_pads(
    padding: int, in_hw: list[int], kernel: list[int], strides: list[int], dilations: list[int]
) -> list[int]:
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


@dataclass
class ConvParts:
    """A CONV_2D / DEPTHWISE_CONV_2D in ONNX terms: OIHW weight, bias (or None) and attributes."""

    weight: np.ndarray  # [O, I/group, kh, kw]
    bias: np.ndarray | None
    strides: list[int]
    dilations: list[int]
    pads: list[int]
    activation: int  # tflite fused activation

    @property
    def kernel(self) -> list[int]:
        return list(self.weight.shape[2:])


def _conv_parts(b: Builder, op: Operator, in_hw: list[int]) -> ConvParts:
    depthwise = op.kind == "DEPTHWISE_CONV_2D"
    weight = b.const_value(op.inputs[1]).astype(np.float32)  # [O, kh, kw, I] or [1, kh, kw, C*M]
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = b.const_value(op.inputs[2]).astype(np.float32) if has_bias else None
    if depthwise:
        opts = _options(op, tflite.DepthwiseConv2DOptions)
        weight = weight.transpose(3, 0, 1, 2)  # [C*M, 1, kh, kw]
    else:
        opts = _options(op, tflite.Conv2DOptions)
        weight = weight.transpose(0, 3, 1, 2)
    strides = [opts.StrideH(), opts.StrideW()]
    dilations = [opts.DilationHFactor(), opts.DilationWFactor()]
    pads = _conv_pads(opts.Padding(), in_hw, list(weight.shape[2:]), strides, dilations)
    return ConvParts(weight, bias, strides, dilations, pads, opts.FusedActivationFunction())


def _conv_node(b: Builder, x: str, parts: ConvParts, group: int, base: str) -> str:
    inputs = [x, b.const(parts.weight, base + "_weight")]
    if parts.bias is not None:
        inputs.append(b.const(parts.bias, base + "_bias"))
    out = b.node(
        "Conv",
        inputs,
        base,
        kernel_shape=parts.kernel,
        strides=parts.strides,
        dilations=parts.dilations,
        pads=parts.pads,
        group=group,
    )
    return _activation(b, out, parts.activation, base)


def _conv(b: Builder, op: Operator, depthwise: bool) -> None:
    x = b.input_value(op.inputs[0])
    parts = _conv_parts(b, op, x.shape[1:3])
    group = x.shape[3] if depthwise else 1
    b.set_output(op, _conv_node(b, x.name, parts, group, b.out_name(op)), NCHW)


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
            if layout == NCHW and data.size > 1:
                data = _nhwc_constant_as_nchw(data)
            names[k] = b.const(data, b.out_name(op) + "_const")
    base = b.out_name(op)
    out = b.node(op_type, names, base)
    fused = _options(op, options_cls).FusedActivationFunction() if op.options is not None else 0
    b.set_output(op, _activation(b, out, fused, base), layout)


def _nhwc_constant_as_nchw(data: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against an NHWC activation, reshaped to broadcast against its NCHW form."""
    if data.ndim > 4:
        raise ConversionError(f"cannot broadcast constant {data.shape} in NCHW")
    return data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(0, 3, 1, 2)


def _squared_difference(b: Builder, op: Operator) -> None:
    """(a - c)^2 as Sub and a self-Mul (ONNX has no SquaredDifference)."""
    a, c = (b.input_value(i) for i in op.inputs)
    if a.layout != c.layout:
        raise ConversionError("SQUARED_DIFFERENCE of mixed layouts")
    base = b.out_name(op)
    difference = b.node("Sub", [a.name, c.name], base + "_diff")
    b.set_output(op, b.node("Mul", [difference, difference], base), a.layout)


def _rsqrt(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    base = b.out_name(op)
    root = b.node("Sqrt", [x.name], base + "_sqrt")
    b.set_output(op, b.node("Reciprocal", [root], base), x.layout)


def _axis_in_layout(axis: int, rank: int, layout: str) -> int:
    axis %= rank
    return _NHWC_TO_NCHW_AXIS[axis] if layout == NCHW else axis


def _reduce(b: Builder, op: Operator, op_type: str) -> None:
    """MEAN / SUM over constant axes; with keep_dims the NCHW layout survives, without it only batch stays."""
    x = b.input_value(op.inputs[0])
    rank = len(x.shape)
    axes = np.atleast_1d(b.const_value(op.inputs[1])).astype(np.int64).tolist()
    keep = bool(_options(op, tflite.ReducerOptions).KeepDims())
    if not keep and x.layout == NCHW:
        raise ConversionError(f"{op.kind} without keep_dims on a 4D activation not supported")
    if 0 in [a % rank for a in axes]:
        raise ConversionError(f"{op.kind} over the batch axis not supported")
    onnx_axes = np.array(sorted(_axis_in_layout(a, rank, x.layout) for a in axes), np.int64)
    base = b.out_name(op)
    out = b.node(op_type, [x.name, b.const(onnx_axes, base + "_axes")], base, keepdims=int(keep))
    b.set_output(op, out, x.layout)


def _transpose(b: Builder, op: Operator) -> None:
    """TRANSPOSE with a constant permutation that keeps the batch axis first."""
    x = b.input_value(op.inputs[0])
    perm = b.const_value(op.inputs[1]).astype(np.int64).tolist()
    if perm[0] != 0:
        raise ConversionError(f"TRANSPOSE moving the batch axis not supported: {perm}")
    if x.layout == NCHW:  # out_nchw = in_nhwc.T(perm).T(to_nchw) = in_nchw.T(to_nhwc[perm[to_nchw]])
        to_nchw, to_nhwc = [0, 3, 1, 2], [0, 2, 3, 1]
        perm = [to_nhwc[perm[axis]] for axis in to_nchw]
    base = b.out_name(op)
    out = b.node("Transpose", [x.name], base, perm=perm) if perm != sorted(perm) else x.name
    b.set_output(op, out, x.layout)


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
    weight = _channel_embedding(x.shape[3], *(int(v) for v in channel_pads))
    return b.node("Conv", [x.name, b.const(weight, base + "_embed")], base, kernel_shape=[1, 1])


def _channel_embedding(channels: int, before: int, after: int) -> np.ndarray:
    """1x1 Conv weight [before + channels + after, channels, 1, 1] copying the input between zero channels."""
    weight = np.zeros((before + channels + after, channels, 1, 1), np.float32)
    weight[before + np.arange(channels), np.arange(channels)] = 1.0
    return weight


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
    activation = next(b.values[i] for i in op.inputs if i in b.values)
    values = [b.values[i] if i in b.values else _batched_constant(b, i, activation) for i in op.inputs]
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


def _batched_constant(b: Builder, index: int, like: Value) -> Value:
    """A constant [1, ...] operand of a Concat, in `like`'s layout and repeated to its batch size."""
    data = b.const_value(index).astype(np.float32)
    if data.shape[0] != 1 or data.ndim != len(like.shape):
        raise ConversionError(f"cannot concatenate constant {data.shape} with {like.shape}")
    if like.layout == NCHW:
        data = data.transpose(0, 3, 1, 2)
    base = _clean(b.tensor(index).name)
    batch = b.node("Shape", [like.name], base + "_batch", start=0, end=1)
    shape = b.node(
        "Concat", [batch, b.const(np.array(data.shape[1:], np.int64), base + "_dims")], base + "_shape", axis=0
    )
    expanded = b.node("Expand", [b.const(data, base), shape], base + "_expand")
    return Value(expanded, like.layout, list(b.tensor(index).shape))


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
    out = b.node(
        "Resize",
        [x.name, "", b.const(scales, base + "_scales")],
        base,
        mode="linear",
        coordinate_transformation_mode=mode,
    )
    b.set_output(op, out, NCHW)


def _depth_to_space(b: Builder, op: Operator) -> None:
    x = b.input_value(op.inputs[0])
    block = _options(op, tflite.DepthToSpaceOptions).BlockSize()
    # TF's NHWC depth_to_space reads channels as (row, col, c): ONNX's DCR mode on NCHW.
    b.set_output(op, b.node("DepthToSpace", [x.name], b.out_name(op), blocksize=block, mode="DCR"), NCHW)


def _strided_slice(b: Builder, op: Operator) -> None:
    """STRIDED_SLICE with constant begin/end/strides and begin/end/shrink masks (no ellipsis, no new axes).

    An identity slice is an alias. A shrink of the batch axis (size 1 in tflite) is not applied: the ONNX
    graph keeps its batch dimension, so e.g. a [1, 52] -> [52] slice stays [N, 52].
    """
    x = b.input_value(op.inputs[0])
    begin, end, strides = (b.const_value(i).astype(np.int64).tolist() for i in op.inputs[1:4])
    shape = b.tensor(op.inputs[0]).shape
    opts = _options(op, tflite.StridedSliceOptions)
    if opts.EllipsisMask() or opts.NewAxisMask():
        raise ConversionError("STRIDED_SLICE with ellipsis or new-axis masks not supported")
    shrink = opts.ShrinkAxisMask()
    starts, stops = [], []
    for axis, size in enumerate(shape):
        start = 0 if opts.BeginMask() >> axis & 1 else begin[axis] + (size if begin[axis] < 0 else 0)
        if shrink >> axis & 1:
            stop = start + 1
        elif opts.EndMask() >> axis & 1:
            stop = size
        else:
            stop = min(end[axis] + (size if end[axis] < 0 else 0), size)
        starts.append(start)
        stops.append(stop)
    if any(s != 1 for s in strides):
        raise ConversionError(f"STRIDED_SLICE with strides {strides} not supported")
    if shrink & ~1 and x.layout == NCHW:
        raise ConversionError("STRIDED_SLICE shrinking a 4D activation not supported")
    out_shape = [stop - start for start, stop in zip(starts, stops, strict=True)]
    base = b.out_name(op)
    changed = [axis for axis in range(1, len(shape)) if (starts[axis], stops[axis]) != (0, shape[axis])]
    if not changed:  # identity (apart from the batch axis)
        out = x.name
    else:
        onnx_axes = [_axis_in_layout(axis, len(shape), x.layout) for axis in changed]
        out = b.node(
            "Slice",
            [
                x.name,
                b.const(np.array([starts[a] for a in changed], np.int64), base + "_starts"),
                b.const(np.array([stops[a] for a in changed], np.int64), base + "_ends"),
                b.const(np.array(onnx_axes, np.int64), base + "_axes"),
            ],
            base,
        )
    dropped = [axis for axis in range(1, len(shape)) if shrink >> axis & 1]
    if dropped:
        out = b.node("Squeeze", [out, b.const(np.array(dropped, np.int64), base + "_squeeze")], base + "_shrunk")
        out_shape = [size for axis, size in enumerate(out_shape) if axis not in dropped]
    b.values[op.outputs[0]] = Value(out, x.layout, out_shape)


# ----------------------------------------------------------------------------------- MediaPipe custom ops


def _landmarks_to_transform_matrix(b: Builder, op: Operator) -> None:
    """Landmarks2TransformMatrix v2 of one crop (see _crop_matrices); output: [N,2,3] affine A|t.

    The tflite op emits a 4x4 matrix; only its A (2x2) and t (2) parts are ever read downstream, so they are
    produced as a [N,2,3] tensor and later MULs by constants are applied to those parts.
    """
    matrices = _crop_matrices(b, [op])
    axis = b.const(np.array([1], np.int64), matrices + "_ax")
    b.values[op.outputs[0]] = Value(b.node("Squeeze", [matrices, axis], matrices + "_1"), AFFINE, [0, 2, 3])


def _crop_matrices(b: Builder, ops: list[Operator]) -> str:
    """Landmarks2TransformMatrix v2 of all crops at once: [N, crops, 2, 3] affine A|t (output px -> input px).

    Upstream semantics: r = target_rotation - atan2(dy, dx) between the two rotation landmarks; rotate the
    subset landmarks by r, take their axis-aligned box (size w,h, centre m), rotate m back by -r;
    T = shift(centre) * rot(-r) * scale(scale_x*w/out_w, scale_y*h/out_h) * shift(-out_w/2, -out_h/2).
    cos/sin of r come from the normalized direction vector (ONNX has no atan2). The 4x4 matrix upstream is
    only ever read through A (2x2) and t (2). Subsets of different sizes are padded by repeating an index,
    which changes no box.
    """
    if any(abs(float(op.options.get("target_rotation_radians", 0.0))) > 0 for op in ops):
        raise ConversionError("target_rotation_radians != 0 not supported")
    crops = len(ops)
    base = b.unique("crop_matrices")
    size = max(len(op.options["subset_idxs"]) for op in ops)
    rows = []
    for op in ops:
        subset = list(op.options["subset_idxs"])
        rows.append(
            [
                op.options["left_rotation_idx"],
                op.options["right_rotation_idx"],
                *subset,
                *[subset[0]] * (size - len(subset)),
            ]
        )
    picked = []
    for k, op in enumerate(ops):  # [N, 1, 2 + size, 3] each: the rotation pair, then the subset
        landmarks = b.input_value(op.inputs[0])
        if landmarks.layout != PLAIN:
            raise ConversionError("Landmarks2TransformMatrix expects [N, K, 3] landmarks")
        picked.append(
            b.node(
                "Gather",
                [landmarks.name, b.const(np.array(rows[k : k + 1], np.int64), f"{base}_idx{k}")],
                f"{base}_pick{k}",
                axis=1,
            )
        )
    points = b.node("Concat", picked, base + "_points", axis=1)
    xy = _slice(b, points, 0, 2, 3, base + "_xy")
    pair, subset = _slice(b, xy, 0, 2, 2, base + "_pair"), _slice(b, xy, 2, 2 + size, 2, base + "_subset")
    direction = b.node(
        "MatMul", [b.const(np.array([[-1, 1]], np.float32), base + "_diff"), pair], base + "_dir"
    )  # [N, crops, 1, 2] = right - left = (dx, dy)
    length = b.node("ReduceL2", [direction, b.const(np.array([3], np.int64), base + "_ax3")], base + "_len", keepdims=1)
    # atan2(0, 0) = 0 upstream: a zero direction means no rotation (1, 0).
    safe_length = b.node("Max", [length, b.const(np.array(1e-30, np.float32), base + "_tiny")], base + "_slen")
    unit = b.node("Div", [direction, safe_length], base + "_unit")
    is_zero = b.node("Equal", [length, b.const(np.array(0, np.float32), base + "_zero")], base + "_isz")
    unit = b.node("Where", [is_zero, b.const(np.array([1, 0], np.float32), base + "_ex"), unit], base + "_u")
    # r = -atan2(dy, dx): cos r = ux, sin r = -uy; rotating by r is xy @ Rr^T, Rr^T = [[ux, -uy], [uy, ux]]
    # (each entry is one of +-ux, +-uy: the MatMul with this 0/+-1 basis is exact).
    basis = np.array([[1, 0, 0, 1], [0, -1, 1, 0]], np.float32)
    rot_t = b.node(
        "Reshape",
        [
            b.node("MatMul", [unit, b.const(basis, base + "_basis")], base + "_rflat"),
            b.const(np.array([0, crops, 2, 2], np.int64), base + "_rshape"),
        ],
        base + "_rotT",
    )
    rotated = b.node("MatMul", [subset, rot_t], base + "_rot")
    axis2 = b.const(np.array([2], np.int64), base + "_ax2")
    high = b.node("ReduceMax", [rotated, axis2], base + "_max", keepdims=1)  # [N, crops, 1, 2]
    low = b.node("ReduceMin", [rotated, axis2], base + "_min", keepdims=1)
    extent = b.node("Sub", [high, low], base + "_size")  # (w, h)
    middle = b.node(
        "Mul",
        [b.node("Add", [high, low], base + "_sum"), b.const(np.array(0.5, np.float32), base + "_half")],
        base + "_mid",
    )
    # Back by -r: (x, y) -> Rr^T (x, y), i.e. as a row vector m @ Rr.
    rot = b.node("Transpose", [rot_t], base + "_rotm", perm=[0, 1, 3, 2])
    centre = b.node("MatMul", [middle, rot], base + "_centre")  # [N, crops, 1, 2]
    per_px = np.array(
        [
            [[op.options["scale_x"] / op.options["output_width"], op.options["scale_y"] / op.options["output_height"]]]
            for op in ops
        ],
        np.float32,
    )
    scale = b.node("Mul", [extent, b.const(per_px, base + "_pxs")], base + "_scale")
    # A = rot(-r) @ diag(scale) = Rr^T @ diag(scale): scale the columns of Rr^T.
    linear = b.node("Mul", [rot_t, scale], base + "_A")  # [N, crops, 2, 2]
    shift = np.array(
        [[[-op.options["output_width"] / 2.0], [-op.options["output_height"] / 2.0]] for op in ops], np.float32
    )
    offset = b.node("MatMul", [linear, b.const(shift, base + "_shift")], base + "_Ashift")  # [N, crops, 2, 1]
    centre_col = b.node("Transpose", [centre], base + "_ccol", perm=[0, 1, 3, 2])
    translation = b.node("Add", [centre_col, offset], base + "_t")
    return b.node("Concat", [linear, translation], base, axis=3)


def _slice(b: Builder, x: str, start: int, end: int, axis: int, base: str) -> str:
    return b.node(
        "Slice",
        [
            x,
            b.const(np.array([start], np.int64), base + "_start"),
            b.const(np.array([end], np.int64), base + "_end"),
            b.const(np.array([axis], np.int64), base + "_axis"),
        ],
        base,
    )


def _affine_mul(b: Builder, op: Operator) -> bool:
    """MUL of a 4x4 crop matrix by a constant: apply the factors of the A|t entries to the [N,2,3] form."""
    matrix_index = next((i for i in op.inputs if i in b.values and b.values[i].layout == AFFINE), None)
    if matrix_index is None:
        return False
    other = next(i for i in op.inputs if i != matrix_index)
    base = b.out_name(op)
    out = b.node("Mul", [b.values[matrix_index].name, b.const(_affine_factors(b, other), base + "_factors")], base)
    b.values[op.outputs[0]] = Value(out, AFFINE, [0, 2, 3])
    return True


def _affine_factors(b: Builder, index: int) -> np.ndarray:
    """The factors of a constant that multiplies a 4x4 crop matrix, for its [2, 3] A|t form."""
    factors = np.broadcast_to(b.const_value(index).astype(np.float32), (1, 4, 4))[0]
    return factors[:2][:, [0, 1, 3]]  # rows 0,1; columns A0, A1, t (column 2 multiplies z = 0)


def _transform_tensor_bilinear(b: Builder, op: Operator) -> None:
    """TransformTensorBilinear v2 of one crop (see _bilinear_crops)."""
    feature = b.input_value(op.inputs[0])  # NCHW [N,C,H,W]
    matrix = b.values[op.inputs[1]]
    if feature.layout != NCHW or matrix.layout != AFFINE:
        raise ConversionError("TransformTensorBilinear expects an NCHW feature map and a crop matrix")
    axis = b.const(np.array([1], np.int64), matrix.name + "_ax")
    matrices = b.node("Unsqueeze", [matrix.name, axis], matrix.name + "_1")
    crop = _bilinear_crops(b, feature, matrices, op.options, 1)
    b.set_output(op, crop.name, NCHW)


def _bilinear_crops(b: Builder, feature: Value, matrices: str, options: dict, crops: int) -> Value:
    """TransformTensorBilinear v2 of all crops: out[y,x] = bilinear(in, A @ (x+0.5, y+0.5) + t - 0.5).

    Upstream zeroes a sample whose source point falls outside [0, W-1] x [0, H-1]; inside it is plain bilinear
    interpolation. Built as a gather of the 4 taps from the feature map in [N, H*W, C] layout (GatherND,
    batch_dims=1) and their weighted sum: onnxruntime's CPU GridSample took ~0.1 ms per crop per face (~12 ns
    per output value), this ~3x less. Taps outside the map get weight 0 (their clamped index is harmless),
    an outside sample gets all four weights 0. Result: [N, crops * C, out_h, out_w], crop-major channels.
    """
    out_h, out_w = options["output_height"], options["output_width"]
    in_h, in_w, channels = feature.shape[1:4]
    pixels = out_h * out_w
    base = b.unique("crops")
    ys, xs = np.meshgrid(
        np.arange(out_h, dtype=np.float32) + 0.5, np.arange(out_w, dtype=np.float32) + 0.5, indexing="ij"
    )
    homogeneous = np.stack([xs.ravel(), ys.ravel(), np.ones(pixels, np.float32)])  # [3, P]
    source = b.node("MatMul", [matrices, b.const(homogeneous, base + "_grid")], base + "_src")  # [N,crops,2,P]
    source = b.node("Sub", [source, b.const(np.array(0.5, np.float32), base + "_half")], base + "_srcpx")
    source = b.node(
        "Unsqueeze", [source, b.const(np.array([3], np.int64), base + "_ax3")], base + "_src5"
    )  # [N, crops, 2 (x, y), 1, P]: P innermost keeps broadcasts vectorized
    limits = np.array([in_w - 1, in_h - 1], np.float32).reshape(2, 1, 1)
    inside = b.node(
        "And",
        [
            b.node("GreaterOrEqual", [source, b.const(np.float32(0), base + "_zero")], base + "_ge"),
            b.node("LessOrEqual", [source, b.const(limits, base + "_limits")], base + "_le"),
        ],
        base + "_in",
    )
    inside = b.node("Cast", [inside], base + "_inf", to=TensorProto.FLOAT)  # per coordinate
    taps = np.array([[0, 1, 0, 1], [0, 0, 1, 1]], np.float32).reshape(2, 4, 1)  # (dx, dy) of each tap
    corners = b.node(
        "Add", [b.node("Floor", [source], base + "_floor"), b.const(taps, base + "_taps")], base + "_corners"
    )  # [N, crops, 2, 4, P]
    one = b.const(np.float32(1), base + "_one")
    closeness = b.node(
        "Sub", [one, b.node("Abs", [b.node("Sub", [source, corners], base + "_d")], base + "_ad")], base + "_w1"
    )  # 1 - frac or frac, per coordinate
    closeness = b.node("Mul", [closeness, inside], base + "_w1in")
    weights = b.node(
        "ReduceProd", [closeness, b.const(np.array([2], np.int64), base + "_ax2")], base + "_w", keepdims=0
    )  # [N, crops, 4, P]
    clamped = b.node(
        "Min",
        [b.node("Max", [corners, b.const(np.float32(0), base + "_lo")], base + "_cmax"), b.const(limits, base + "_hi")],
        base + "_clamp",
    )
    stride = np.array([1, in_w], np.float32).reshape(2, 1, 1)  # flat index x + W * y, exact in fp32
    flat = b.node(
        "ReduceSum",
        [
            b.node("Mul", [clamped, b.const(stride, base + "_stride")], base + "_xy"),
            b.const(np.array([2], np.int64), base + "_sax"),
        ],
        base + "_flat",
        keepdims=0,
    )
    index = b.node(
        "Cast",
        [b.node("Reshape", [flat, b.const(np.array([0, -1, 1], np.int64), base + "_ishape")], base + "_flat3")],
        base + "_index",
        to=TensorProto.INT64,
    )  # [N, crops*4*P, 1]
    nhwc = b.node("Transpose", [feature.name], base + "_nhwc", perm=[0, 2, 3, 1])
    table = b.node(
        "Reshape", [nhwc, b.const(np.array([0, in_h * in_w, channels], np.int64), base + "_tshape")], base + "_table"
    )  # [N, H*W, C]
    gathered = b.node("GatherND", [table, index], base + "_gather", batch_dims=1)  # [N, crops*4*P, C]
    gathered = b.node(
        "Reshape",
        [gathered, b.const(np.array([0, -1, 4, pixels, channels], np.int64), base + "_gshape")],
        base + "_taps5",
    )
    weights = b.node("Unsqueeze", [weights, b.const(np.array([4], np.int64), base + "_ax4")], base + "_w5")
    sampled = b.node(
        "ReduceSum",
        [b.node("Mul", [gathered, weights], base + "_weighted"), b.const(np.array([2], np.int64), base + "_rax")],
        base + "_sum",
        keepdims=0,
    )  # [N, crops, P, C]
    planar = b.node("Transpose", [sampled], base + "_planar", perm=[0, 1, 3, 2])  # [N, crops, C, P]
    packed = b.node(
        "Reshape",
        [planar, b.const(np.array([0, crops * channels, out_h, out_w], np.int64), base + "_pshape")],
        base + "_packed",
    )
    # An exact identity depthwise Conv: its output is NCHWc-blocked, so the residual Adds that read the crop
    # fuse into the blocked convs instead of forcing reorders around the first blocks.
    total = crops * channels
    entry = b.node(
        "Conv",
        [packed, b.const(np.ones((total, 1, 1, 1), np.float32), base + "_ones")],
        base,
        kernel_shape=[1, 1],
        group=total,
    )
    return Value(entry, NCHW, [1, out_h, out_w, total])


def _transform_landmarks(b: Builder, op: Operator) -> None:
    """TransformLandmarks v2 on [N,K,2] (or [N,K,3], z kept): xy -> A @ xy + t."""
    points = b.input_value(op.inputs[0])
    matrix = b.values[op.inputs[1]]
    if points.layout != PLAIN or matrix.layout != AFFINE:
        raise ConversionError("TransformLandmarks expects [N,K,D] landmarks and a crop matrix")
    dims = points.shape[-1]
    base = b.out_name(op)
    linear_t = b.node("Transpose", [_slice(b, matrix.name, 0, 2, 2, base + "_A")], base + "_AT", perm=[0, 2, 1])
    translation = b.node("Transpose", [_slice(b, matrix.name, 2, 3, 2, base + "_t")], base + "_tT", perm=[0, 2, 1])
    xy = _slice(b, points.name, 0, 2, 2, base + "_xy") if dims == 3 else points.name
    moved = b.node("MatMul", [xy, linear_t], base + "_Axy")
    moved = b.node("Add", [moved, translation], base + ("_xyout" if dims == 3 else ""))
    if dims == 3:
        moved = b.node("Concat", [moved, _slice(b, points.name, 2, 3, 2, base + "_z")], base, axis=2)
    b.set_output(op, moved, PLAIN)


# ------------------------------------------------------------------------- attention branches, packed
#
# face_landmark_with_attention crops the trunk's 48x48 feature map three times (lips, left eye, right eye) and
# runs a small BlazeBlock tower on each 16x16 crop; each eye tower forks into eye-contour and iris heads. Built
# op by op that is ~550 tiny nodes after onnxruntime's fusions (the trunk: ~150) on maps of 16x16 down to 2x2,
# where per-node overhead, not arithmetic, sets the time.
# All five towers have the same structure, so they run as ONE tower on a channel-packed tensor: lane i owns
# channels [i*C, (i+1)*C), 1x1 convs become grouped convs (group = lanes), depthwise convs, PReLU slopes, pools
# and adds are per channel anyway. Every op stays NCHWc-compatible (group sizes are multiples of 8). The fork
# (one eye crop -> contour and iris lanes) is a Concat of the packed tensor with itself, which also feeds a
# filler lane (a copy of the lips lane whose output is dropped): cheaper than any channel gather.


@dataclass
class LanePlan:
    """The packed emission of the crop branches (made by _plan_lanes, emitted by _emit_lanes)."""

    matrix_ops: list[Operator]  # Landmarks2TransformMatrix per crop
    crop_ops: list[Operator]  # TransformTensorBilinear per crop (same feature map, same output size)
    slots: list[list[Operator]]  # per packed lane: its ops, crop (position 0) .. head conv; crop c = slot % crops
    real: list[bool]  # False for filler lanes
    refs: list[list[tuple[str, int]]]  # per position, per op input: ("lane", position) or ("const", tensor)
    split: int  # positions >= split have one op per lane; below, one per crop
    output_ops: list[tuple[Operator, Operator, Operator] | None]  # per slot: RESHAPE, TransformLandmarks, RESHAPE
    factors: list[int | None]  # per slot: the constant multiplying its crop matrix for TransformLandmarks
    handled: set[int]  # indices of every op the packed emission replaces

    @property
    def trigger(self) -> int:
        return min(self.handled)


def _static_input(graph: TfliteGraph, producer: dict[int, Operator], index: int) -> bool:
    if graph.tensors[index].data is not None:
        return True
    op = producer.get(index)
    return op is not None and op.kind in ("DEQUANTIZE", "DENSIFY") and graph.tensors[op.inputs[0]].data is not None


def _options_key(graph: TfliteGraph, op: Operator) -> tuple | None:
    """Everything besides weights that decides what a lane op computes; None for kinds lanes do not support."""
    if op.kind == "CONV_2D":
        o = _options(op, tflite.Conv2DOptions)
        return (
            o.Padding(),
            o.StrideH(),
            o.StrideW(),
            o.DilationHFactor(),
            o.DilationWFactor(),
            o.FusedActivationFunction(),
        )
    if op.kind == "DEPTHWISE_CONV_2D":
        o = _options(op, tflite.DepthwiseConv2DOptions)
        return (
            o.Padding(),
            o.StrideH(),
            o.StrideW(),
            o.DilationHFactor(),
            o.DilationWFactor(),
            o.FusedActivationFunction(),
            o.DepthMultiplier(),
        )
    if op.kind == "MAX_POOL_2D":
        o = _options(op, tflite.Pool2DOptions)
        return (o.Padding(), o.StrideH(), o.StrideW(), o.FilterHeight(), o.FilterWidth(), o.FusedActivationFunction())
    if op.kind == "ADD":
        return (_options(op, tflite.AddOptions).FusedActivationFunction(),)
    if op.kind == "PRELU":
        return ()
    if op.kind == "PAD" and graph.tensors[op.inputs[1]].data is not None:
        pads = graph.tensors[op.inputs[1]].data
        return tuple(pads.ravel().tolist()) if not pads[:3].any() else None  # channel padding only
    return None


def _plan_lanes(graph: TfliteGraph) -> LanePlan | None:
    """Find the crop branches and check that they can be packed; None: convert them op by op."""
    ops = graph.operators
    producer = {t: op for op in ops for t in op.outputs}
    consumers: dict[int, list[Operator]] = {}
    for op in ops:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op)
    crops = [op for op in ops if op.kind == "CUSTOM:TransformTensorBilinear" and op.version == 2]
    matrix_ops = [producer.get(op.inputs[1]) for op in crops]
    if (
        len(crops) < 2
        or len({op.inputs[0] for op in crops}) != 1
        or len({(op.options["output_height"], op.options["output_width"]) for op in crops}) != 1
        or any(
            m is None
            or m.kind != "CUSTOM:Landmarks2TransformMatrix"
            or m.version != 2
            or m.options.get("target_rotation_radians", 0.0)
            for m in matrix_ops
        )
        or len({(m.options["output_width"], m.options["output_height"]) for m in matrix_ops}) != 1
    ):
        return None
    # The lane region: 4D ops below a crop; heads: region ops whose outputs leave the region.
    crop_of: dict[int, int] = {}
    for c, crop in enumerate(crops):
        stack = [crop]
        while stack:
            op = stack.pop()
            if crop_of.setdefault(op.index, c) != c:
                return None  # branches that meet again
            for t in op.outputs:
                stack += [
                    u
                    for u in consumers.get(t, [])
                    if u.index not in crop_of and u.kind != "RESHAPE" and len(graph.tensors[u.outputs[0]].shape) == 4
                ]
    region = {op.index: op for op in ops if op.index in crop_of}
    heads = [
        op for op in region.values() if not any(u.index in region for t in op.outputs for u in consumers.get(t, []))
    ]
    lanes = []
    for head in sorted(heads, key=lambda op: op.index):
        members, stack = set(), [head]
        while stack:
            op = stack.pop()
            if op.index in members:
                continue
            members.add(op.index)
            stack += [producer[t] for t in op.inputs if t in producer and producer[t].index in region]
        lanes.append(sorted((region[i] for i in members), key=lambda op: op.index))
    refs = _lane_refs(graph, producer, lanes)
    if refs is None:
        return None
    by_crop = [[lane for lane in lanes if crop_of[lane[0].index] == c] for c in range(len(crops))]
    if any(not group for group in by_crop):
        return None
    splits = set()
    for group in by_crop:
        if len(group) > 1:
            shared = [len({id(lane[j]) for lane in group}) for j in range(len(group[0]))]
            split = shared.index(len(group)) if len(group) in shared else len(shared)
            if shared[:split] != [1] * split or shared[split:] != [len(group)] * (len(shared) - split):
                return None
            splits.add(split)
    if len(splits) > 1:
        return None
    depth = max(len(group) for group in by_crop)
    slots, real = [], []
    for r in range(depth):
        for group in by_crop:
            slots.append(group[r] if r < len(group) else group[0])
            real.append(r < len(group))
    plan = LanePlan(
        matrix_ops,
        crops,
        slots,
        real,
        refs,
        splits.pop() if splits else len(lanes[0]),
        [],
        [],
        set(region) | {m.index for m in matrix_ops},
    )
    return plan if _plan_outputs(graph, producer, consumers, plan) else None


def _lane_refs(
    graph: TfliteGraph, producer: dict[int, Operator], lanes: list[list[Operator]]
) -> list[list[tuple[str, int]]] | None:
    """Per position, the op's inputs as ("lane", position) or ("const", tensor), if all lanes compute alike.

    Alike: same kind, options, input wiring and weight shapes at every position (the heads may differ in their
    number of outputs).
    """
    if len({len(lane) for lane in lanes}) != 1:
        return None
    signatures, refs = None, [[]]
    for lane in lanes:
        position = {t: j for j, op in enumerate(lane) for t in op.outputs}
        lane_signatures = []
        for j, op in enumerate(lane[1:], start=1):
            head = j == len(lane) - 1
            key = _options_key(graph, op)
            if key is None or len(op.outputs) != 1:
                return None
            inputs = []
            for t in op.inputs:
                if t in position:
                    inputs.append(("lane", position[t]))
                elif _static_input(graph, producer, t):
                    inputs.append(("const", t))
                else:
                    return None
            wiring = [r if r[0] == "lane" else graph.tensors[r[1]].shape[head:] for r in inputs]
            shape = graph.tensors[op.outputs[0]].shape
            lane_signatures.append((op.kind, key, wiring, shape[:3] if head else shape))
            if signatures is None:
                refs.append(inputs)
        if signatures is None:
            signatures = lane_signatures
        elif lane_signatures != signatures:
            return None
    return refs


def _plan_outputs(
    graph: TfliteGraph, producer: dict[int, Operator], consumers: dict[int, list[Operator]], plan: LanePlan
) -> bool:
    """Each real lane head must feed RESHAPE [1,n,2] -> TransformLandmarks(crop matrix * const) -> RESHAPE."""
    graph_outputs = set(graph.outputs)
    for slot, lane in enumerate(plan.slots):
        if not plan.real[slot]:
            plan.output_ops.append(None)
            plan.factors.append(None)
            continue
        chain = [lane[-1]]
        for kind in ("RESHAPE", "CUSTOM:TransformLandmarks", "RESHAPE"):
            users = consumers.get(chain[-1].outputs[0], [])
            if len(users) != 1 or users[0].kind != kind or users[0].inputs[0] != chain[-1].outputs[0]:
                return False
            chain.append(users[0])
        points = graph.tensors[chain[1].outputs[0]].shape
        matrix_mul = producer.get(chain[2].inputs[1])
        crop_matrix = plan.matrix_ops[slot % len(plan.crop_ops)].outputs[0]
        if (
            points[-1] != 2
            or chain[3].outputs[0] not in graph_outputs
            or matrix_mul is None
            or matrix_mul.kind != "MUL"
            or crop_matrix not in matrix_mul.inputs
            or chain[2].version != 2
        ):
            return False
        other = next(t for t in matrix_mul.inputs if t != crop_matrix)
        if not _static_input(graph, producer, other):
            return False
        plan.output_ops.append(tuple(chain[1:]))
        plan.factors.append(other)
        plan.handled.update({op.index for op in chain[1:]} | {matrix_mul.index})
    handled_outputs = {t for op in graph.operators if op.index in plan.handled for t in op.outputs}
    return all(u.index in plan.handled for t in handled_outputs for u in consumers.get(t, []))


def _emit_lanes(b: Builder, plan: LanePlan) -> None:
    crops = len(plan.crop_ops)
    matrices = _crop_matrices(b, plan.matrix_ops)
    feature = b.values.get(plan.crop_ops[0].inputs[0])
    if feature is None or feature.layout != NCHW:
        raise ConversionError("TransformTensorBilinear expects an NCHW feature map")
    packed = {0: _bilinear_crops(b, feature, matrices, plan.crop_ops[0].options, crops)}
    expanded: dict[int, Value] = {}
    repeats = len(plan.slots) // crops
    for j in range(1, len(plan.slots[0])):
        lanes = plan.slots if j >= plan.split else plan.slots[:crops]
        inputs = []
        for kind, ref in plan.refs[j]:
            if kind == "const":
                inputs.append(None)
            elif j >= plan.split > ref and repeats > 1:  # the fork: each crop's lane feeds several lanes
                if ref not in expanded:
                    value = packed[ref]
                    name = b.node("Concat", [value.name] * repeats, value.name + "_fork", axis=1)
                    expanded[ref] = Value(name, NCHW, [*value.shape[:3], value.shape[3] * repeats])
                inputs.append(expanded[ref])
            else:
                inputs.append(packed[ref])
        packed[j] = _emit_packed_op(b, [lane[j] for lane in lanes], inputs, head=j == len(plan.slots[0]) - 1)
    _emit_lane_outputs(b, plan, packed[len(plan.slots[0]) - 1], matrices)


def _emit_packed_op(b: Builder, ops: list[Operator], inputs: list[Value | None], head: bool) -> Value:
    """One lane op for all lanes at once; `inputs` are the packed activations (None for constants)."""
    op, lanes, x = ops[0], len(ops), inputs[0]
    base = b.out_name(op) + f"_x{lanes}"
    out_shape = list(b.tensor(op.outputs[0]).shape)
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        parts = [_conv_parts(b, lane_op, x.shape[1:3]) for lane_op in ops]
        width = max(p.weight.shape[0] for p in parts)
        if head:  # heads of different widths: pad to a common, NCHWc-aligned width
            width = -(-width // 8) * 8
        merged = parts[0]
        merged.weight = np.concatenate(
            [np.pad(p.weight, [(0, width - p.weight.shape[0])] + [(0, 0)] * 3) for p in parts]
        )
        if merged.bias is not None:
            merged.bias = np.concatenate([np.pad(p.bias, (0, width - p.bias.shape[0])) for p in parts])
        group = x.shape[3] if op.kind == "DEPTHWISE_CONV_2D" else lanes
        out = _conv_node(b, x.name, merged, group, base)
        out_shape[3] = width * lanes
    elif op.kind == "PRELU":
        alphas = [b.const_value(lane_op.inputs[1]).astype(np.float32).reshape(-1) for lane_op in ops]
        if any(a.size != x.shape[3] // lanes for a in alphas):
            raise ConversionError("packed PRELU expects per-channel slopes")
        out = _prelu_as_depthwise(b, x, np.concatenate(alphas), base)
        out_shape[3] = x.shape[3]
    elif op.kind == "ADD":
        out = b.node("Add", [inputs[0].name, inputs[1].name], base)
        out = _activation(b, out, _options(op, tflite.AddOptions).FusedActivationFunction(), base)
        out_shape[3] = x.shape[3]
    elif op.kind == "MAX_POOL_2D":
        opts = _options(op, tflite.Pool2DOptions)
        kernel, strides = [opts.FilterHeight(), opts.FilterWidth()], [opts.StrideH(), opts.StrideW()]
        pads = _conv_pads(opts.Padding(), x.shape[1:3], kernel, strides, [1, 1])
        out = b.node("MaxPool", [x.name], base, kernel_shape=kernel, strides=strides, pads=pads)
        out = _activation(b, out, opts.FusedActivationFunction(), base)
        out_shape[3] = x.shape[3]
    elif op.kind == "PAD":  # channel padding (checked by _options_key): one embedding per lane, grouped
        before, after = (int(v) for v in b.const_value(op.inputs[1])[3])
        channels = x.shape[3] // lanes
        weight = np.concatenate([_channel_embedding(channels, before, after)] * lanes)
        out = b.node("Conv", [x.name, b.const(weight, base + "_embed")], base, kernel_shape=[1, 1], group=lanes)
        out_shape[3] = weight.shape[0]
    else:
        raise ConversionError(f"packed lanes: op {op.kind} not supported")
    return Value(out, NCHW, out_shape)


def _emit_lane_outputs(b: Builder, plan: LanePlan, head: Value, matrices: str) -> None:
    """TransformLandmarks v2 of every lane at once: xy -> A @ xy + t with the lane's (scaled) crop matrix."""
    slots = len(plan.slots)
    width = head.shape[3] // slots
    base = b.unique("lane_landmarks")
    factors = [np.ones((2, 3), np.float32) if f is None else _affine_factors(b, f) for f in plan.factors]
    crop_of_slot = np.arange(slots, dtype=np.int64) % len(plan.crop_ops)
    lane_matrices = b.node(
        "Mul",
        [
            b.node("Gather", [matrices, b.const(crop_of_slot, base + "_crop")], base + "_m", axis=1),
            b.const(np.stack(factors), base + "_factors"),
        ],
        base + "_matrices",
    )
    linear_t = b.node("Transpose", [_slice(b, lane_matrices, 0, 2, 3, base + "_A")], base + "_AT", perm=[0, 1, 3, 2])
    translation = b.node("Transpose", [_slice(b, lane_matrices, 2, 3, 3, base + "_t")], base + "_tT", perm=[0, 1, 3, 2])
    points = b.node(
        "Reshape",
        [head.name, b.const(np.array([0, slots, width // 2, 2], np.int64), base + "_pshape")],
        base + "_points",
    )
    moved = b.node("Add", [b.node("MatMul", [points, linear_t], base + "_Axy"), translation], base + "_moved")
    flat = b.node("Reshape", [moved, b.const(np.array([0, slots * width], np.int64), base + "_fshape")], base + "_flat")
    for slot, chain in enumerate(plan.output_ops):
        if chain is None:
            continue
        size = int(np.prod(b.tensor(chain[2].outputs[0]).shape))
        out = _slice(b, flat, slot * width, slot * width + size, 1, b.out_name(chain[2]))
        b.values[chain[2].outputs[0]] = Value(out, PLAIN, [1, size])


# ------------------------------------------------------------------------------------------- driver


def _fold_constant(b: Builder, op: Operator) -> bool:
    if op.kind in ("DEQUANTIZE", "DENSIFY") and b.is_const(op.inputs[0]):
        b.constants[op.outputs[0]] = b.const_value(op.inputs[0]).astype(
            np.float32 if op.kind == "DEQUANTIZE" else b.const_value(op.inputs[0]).dtype
        )
        return True
    return False


def _mul(b: Builder, op: Operator) -> None:
    if not _affine_mul(b, op):
        _binary(b, op, "Mul", tflite.MulOptions)


# TFLite op kind -> the function that emits its ONNX nodes
_EMITTERS: dict[str, Callable[[Builder, Operator], None]] = {
    "CONV_2D": lambda b, op: _conv(b, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda b, op: _conv(b, op, depthwise=True),
    "PRELU": _prelu,
    "RELU": lambda b, op: _unary(b, op, "Relu"),
    "LOGISTIC": lambda b, op: _unary(b, op, "Sigmoid"),
    "NEG": lambda b, op: _unary(b, op, "Neg"),
    "SQRT": lambda b, op: _unary(b, op, "Sqrt"),
    "RSQRT": _rsqrt,
    "ADD": lambda b, op: _binary(b, op, "Add", tflite.AddOptions),
    "SUB": lambda b, op: _binary(b, op, "Sub", tflite.SubOptions),
    "DIV": lambda b, op: _binary(b, op, "Div", tflite.DivOptions),
    "SQUARED_DIFFERENCE": _squared_difference,
    "MEAN": lambda b, op: _reduce(b, op, "ReduceMean"),
    "SUM": lambda b, op: _reduce(b, op, "ReduceSum"),
    "TRANSPOSE": _transpose,
    "MUL": _mul,
    "MAX_POOL_2D": _max_pool,
    "PAD": _pad,
    "RESHAPE": _reshape,
    "CONCATENATION": _concatenation,
    "RESIZE_BILINEAR": _resize_bilinear,
    "DEPTH_TO_SPACE": _depth_to_space,
    "STRIDED_SLICE": _strided_slice,
    "CUSTOM:Landmarks2TransformMatrix": _landmarks_to_transform_matrix,
    "CUSTOM:TransformTensorBilinear": _transform_tensor_bilinear,
    "CUSTOM:TransformLandmarks": _transform_landmarks,
}


def _emit(b: Builder, op: Operator) -> None:
    kind = op.kind
    if kind.startswith("CUSTOM:") and op.version != 2:
        raise ConversionError(f"{kind} version {op.version}: only version 2 is implemented")
    emitter = _EMITTERS.get(kind)
    if emitter is None:
        raise ConversionError(f"op {kind} not supported")
    emitter(b, op)


def convert(
    tflite_path: Path,
    outputs_by_tflite_name: dict[str, str],
    input_name: str = "input",
    doc: str = "",
    prelu_mode: str = "dwconv",
    optimize_layout: bool = True,
) -> onnx.ModelProto:
    """Build the ONNX model; outputs keep the tflite output order, renamed by `outputs_by_tflite_name`."""
    graph = parse_tflite(tflite_path)
    tflite_names = [graph.tensors[i].name for i in graph.outputs]
    if len(graph.inputs) != 1 or sorted(tflite_names) != sorted(outputs_by_tflite_name):
        raise ConversionError(
            f"{tflite_path.name}: expected 1 input and outputs "
            f"{sorted(outputs_by_tflite_name)}, found {len(graph.inputs)} inputs and "
            f"outputs {tflite_names}"
        )
    output_names = [outputs_by_tflite_name[name] for name in tflite_names]
    b = Builder(graph, prelu_mode=prelu_mode, optimize_layout=optimize_layout)
    b.used_names.update([input_name, *output_names])
    in_shape = graph.tensors[graph.inputs[0]].shape  # [1, H, W, C] for images
    if len(in_shape) == 4:
        nchw = b.node("Transpose", [input_name], "input_nchw", perm=[0, 3, 1, 2])
        b.values[graph.inputs[0]] = Value(nchw, NCHW, in_shape)
    else:  # e.g. [1, K, 2] points
        b.values[graph.inputs[0]] = Value(input_name, PLAIN, in_shape)
    lanes = _plan_lanes(graph) if optimize_layout else None
    folded = {op.index for op in graph.operators if _fold_constant(b, op)}  # first: the lanes read all weights
    for op in graph.operators:
        if op.index in folded:
            continue
        if lanes is not None and op.index in lanes.handled:
            if op.index == lanes.trigger:
                _emit_lanes(b, lanes)
            continue
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
    model = helper.make_model(
        onnx_graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facemesh_ros scripts/models/tflite_to_onnx.py",
    )
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
