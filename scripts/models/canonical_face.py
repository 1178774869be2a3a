"""Extract MediaPipe's canonical face model (geometry_pipeline_metadata_landmarks.binarypb) into an npz.

The metadata is a tiny proto2 message; its wire format is parsed here directly (no protobuf dependency).
Field numbers (spec section 5):
  GeometryPipelineMetadata{canonical_mesh=1 (Mesh3d), procrustes_landmark_basis=2 (repeated
  WeightedLandmarkRef), input_source=3 (enum)}
  Mesh3d{vertex_type=1, primitive_type=2, vertex_buffer=3 (repeated float), index_buffer=4 (repeated uint32)}
  WeightedLandmarkRef{landmark_id=1 (uint32), weight=2 (float)}
Repeated scalars are accepted both packed (one length-delimited field) and unpacked (one tag per value).
"""

from __future__ import annotations

import argparse
import io
import struct
import zipfile
from pathlib import Path

import numpy as np

NUM_VERTICES = 468
NUM_TRIANGLES = 898
FLOATS_PER_VERTEX = 5  # VERTEX_PT: x, y, z (cm), u, v
# Procrustes basis weights listed in the spec; checked against the file at build time.
EXPECTED_WEIGHTS = {
    4: 0.070909939706326,
    6: 0.032100144773722,
    10: 0.008446550928056,
    33: 0.058724168688059,
    263: 0.058724168688059,
    54: 0.007667080033571,
    284: 0.007667080033571,
    67: 0.009078059345484,
    297: 0.009078059345484,
    117: 0.009791937656701,
    346: 0.009791937656701,
    119: 0.014565368182957,
    348: 0.014565368182957,
    121: 0.018591361120343,
    350: 0.018591361120343,
    127: 0.005197994410992,
    356: 0.005197994410992,
    129: 0.120625205338001,
    358: 0.120625205338001,
    132: 0.005560018587857,
    361: 0.005560018587857,
    133: 0.05328618362546,
    362: 0.05328618362546,
    136: 0.066890455782413,
    365: 0.066890455782413,
    143: 0.014816547743976,
    372: 0.014816547743976,
    147: 0.014262833632529,
    376: 0.014262833632529,
    198: 0.025462191551924,
    420: 0.025462191551924,
    205: 0.047252278774977,
    425: 0.047252278774977,
}

WIRE_VARINT, WIRE_FIXED64, WIRE_LEN, WIRE_FIXED32 = 0, 1, 2, 5


class ProtoError(ValueError):
    """The metadata bytes are not the expected protobuf message."""


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ProtoError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def parse_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split one message into (field number, wire type, raw value) triples, in file order.

    Varints come back as int, fixed32/fixed64 and length-delimited fields as their raw bytes.
    """
    fields: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == WIRE_VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire in (WIRE_FIXED32, WIRE_FIXED64):
            size = 4 if wire == WIRE_FIXED32 else 8
            value, pos = buf[pos : pos + size], pos + size
        elif wire == WIRE_LEN:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ProtoError(f"unsupported wire type {wire} for field {number}")
        if pos > len(buf):
            raise ProtoError(f"field {number} runs past the end of the message")
        fields.append((number, wire, value))
    return fields


def _repeated_floats(fields: list, number: int) -> list[float]:
    out: list[float] = []
    for num, wire, value in fields:
        if num != number:
            continue
        if wire == WIRE_FIXED32:  # unpacked: one tag per value
            out.append(struct.unpack("<f", value)[0])
        elif wire == WIRE_LEN:  # packed
            out.extend(np.frombuffer(value, dtype="<f4").tolist())
        else:
            raise ProtoError(f"field {number}: expected float, got wire type {wire}")
    return out


def _repeated_varints(fields: list, number: int) -> list[int]:
    out: list[int] = []
    for num, wire, value in fields:
        if num != number:
            continue
        if wire == WIRE_VARINT:
            out.append(value)
        elif wire == WIRE_LEN:
            pos = 0
            while pos < len(value):
                item, pos = _read_varint(value, pos)
                out.append(item)
        else:
            raise ProtoError(f"field {number}: expected varint, got wire type {wire}")
    return out


def _single(fields: list, number: int, wire: int, default=None):
    values = [v for n, w, v in fields if n == number and w == wire]
    return values[-1] if values else default  # proto2: the last occurrence wins


def parse_metadata(buf: bytes) -> dict[str, np.ndarray]:
    """Decode GeometryPipelineMetadata into vertices, uvs, triangles and per-landmark Procrustes weights."""
    top = parse_fields(buf)
    mesh_bytes = _single(top, 1, WIRE_LEN)
    if mesh_bytes is None:
        raise ProtoError("no canonical_mesh (field 1)")
    mesh = parse_fields(mesh_bytes)
    vertex_buffer = np.asarray(_repeated_floats(mesh, 3), dtype=np.float32)
    index_buffer = np.asarray(_repeated_varints(mesh, 4), dtype=np.int64)
    if vertex_buffer.size % FLOATS_PER_VERTEX or index_buffer.size % 3:
        raise ProtoError(f"odd buffer sizes: {vertex_buffer.size} floats, {index_buffer.size} indices")
    vertices_pt = vertex_buffer.reshape(-1, FLOATS_PER_VERTEX)
    num_vertices = len(vertices_pt)
    if index_buffer.size and (index_buffer.min() < 0 or index_buffer.max() >= num_vertices):
        raise ProtoError("triangle index out of range")
    weights = np.zeros(num_vertices, dtype=np.float32)
    for num, wire, value in top:
        if num == 2 and wire == WIRE_LEN:
            ref = parse_fields(value)
            landmark = _single(ref, 1, WIRE_VARINT, 0)
            weight_raw = _single(ref, 2, WIRE_FIXED32)
            if landmark >= num_vertices:
                raise ProtoError(f"procrustes landmark {landmark} out of range")
            weights[landmark] = struct.unpack("<f", weight_raw)[0] if weight_raw is not None else 0.0
    return {
        "vertices": np.ascontiguousarray(vertices_pt[:, :3]),
        "uvs": np.ascontiguousarray(vertices_pt[:, 3:5]),
        "triangles": index_buffer.reshape(-1, 3).astype(np.int32),
        "procrustes_weights": weights,
    }


def verify(model: dict[str, np.ndarray]) -> None:
    """Check the facts the spec states; raise ValueError on any mismatch."""
    if model["vertices"].shape != (NUM_VERTICES, 3):
        raise ValueError(f"expected {NUM_VERTICES} vertices, got {model['vertices'].shape}")
    if model["triangles"].shape != (NUM_TRIANGLES, 3):
        raise ValueError(f"expected {NUM_TRIANGLES} triangles, got {model['triangles'].shape}")
    weights = model["procrustes_weights"]
    expected = np.zeros(NUM_VERTICES, dtype=np.float32)
    for landmark, weight in EXPECTED_WEIGHTS.items():
        expected[landmark] = weight
    if not np.allclose(weights, expected, rtol=0, atol=1e-7):
        bad = np.flatnonzero(~np.isclose(weights, expected, rtol=0, atol=1e-7))
        raise ValueError(f"procrustes weights differ from the spec at landmarks {bad.tolist()}")
    vertices = model["vertices"]
    if not (vertices[33, 0] < -4 and vertices[263, 0] > 4 and vertices[4, 2] > 7):
        raise ValueError("canonical frame is not x-right / z-toward-camera as expected")


def extract_from_packed_assets(data: bytes, start: int, end: int) -> dict[str, np.ndarray]:
    """Cut the binarypb out of face_mesh_solution_packed_assets.data and decode it."""
    if end > len(data):
        raise ValueError(f"packed assets hold {len(data)} bytes, need up to {end}")
    return parse_metadata(data[start:end])


def save(model: dict[str, np.ndarray], path: Path) -> None:
    """Write an .npz (readable by np.load) byte-for-byte reproducibly: fixed entry order and timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(model):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(model[name]), allow_pickle=False)
            entry = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(entry, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binarypb", type=Path, help="geometry_pipeline_metadata_landmarks.binarypb")
    parser.add_argument("output", type=Path, help="output .npz")
    args = parser.parse_args()
    model = parse_metadata(args.binarypb.read_bytes())
    verify(model)
    save(model, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
