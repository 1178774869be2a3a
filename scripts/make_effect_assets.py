#!/usr/bin/env python3
"""Generate the built-in effect assets into facemesh_ros/effects/assets/ from the canonical face model:

- glasses.obj + glasses.png: rims, lenses, a bridge and temples reaching back over the ears, modelled
  around the canonical face (cm, canonical frame) and textured from a stripe atlas (one stripe per part,
  facemesh_ros.effects.assets.GLASSES_PARTS);
- face_paint.png: a face-paint texture drawn in the canonical UV space (an eye mask, lipstick, cheek stars).

    PYTHONPATH=. .venv/bin/python scripts/make_effect_assets.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from facemesh_ros.effects.assets import ASSETS_DIR, GLASSES_PARTS, ObjectMesh
from facemesh_ros.geometry import SELLION_INDEX, CanonicalFaceModel, default_canonical_face_model

GLASSES_STRIPE_WIDTH = 16  # texels per stripe of the glasses atlas
# The glasses' bridge is built around the canonical face's sellion (the top of the nose bridge), in x and y.
GLASSES_ANCHOR_VERTEX = SELLION_INDEX


def save_obj(path: str | os.PathLike[str], mesh: ObjectMesh, header: str = "") -> None:
    """Write `mesh` as OBJ with v, vt (flipped back to OBJ's bottom-up v), vn and 1-based v/vt/vn faces."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"v {x:.3f} {y:.3f} {z:.3f}" for x, y, z in mesh.positions.tolist()]
    lines += [f"vt {u:.4f} {1.0 - v:.4f}" for u, v in mesh.uvs.tolist()]
    lines += [f"vn {x:.3f} {y:.3f} {z:.3f}" for x, y, z in mesh.normals.tolist()]
    lines += ["f " + " ".join(f"{i}/{i}/{i}" for i in tri) for tri in (mesh.triangles + 1).tolist()]
    Path(path).write_text("\n".join(lines) + "\n")


def glasses_stripe_texture(colors: dict[str, tuple[int, int, int, int]], height: int = 16) -> np.ndarray:
    """A glasses atlas with one RGBA colour per part (parts not named are fully transparent)."""
    texture = np.zeros((height, GLASSES_STRIPE_WIDTH * len(GLASSES_PARTS), 4), np.uint8)
    for part, color in colors.items():
        start = GLASSES_PARTS.index(part) * GLASSES_STRIPE_WIDTH
        texture[:, start : start + GLASSES_STRIPE_WIDTH] = color
    return texture


def glasses_part_u(part: str) -> float:
    """The texture u at the centre of a part's stripe (every vertex of that part uses it)."""
    return (GLASSES_PARTS.index(part) + 0.5) / len(GLASSES_PARTS)


# Glasses shape (cm, canonical frame). The frame front is a slightly wrapped surface z = FRONT_Z - WRAP x^2,
# ~1.2 cm in front of the eyes and ~0.45 cm in front of the nose bridge.
FRONT_Z = 5.7
WRAP = 0.045
LENS_HALF_SIZE = (2.3, 1.65)  # half width, half height
LENS_ROUNDNESS = 3.0  # superellipse exponent: 2 = ellipse, larger = squarer
RIM_RADIUS = 0.17
BRIDGE_RADIUS = 0.15
TEMPLE_RADIUS = 0.14
TEMPLE_CLEARANCE = 0.45  # temples run this far outside the side of the head
TEMPLE_BACK_Z = -6.8  # where the temple starts to bend down over the ear
EAR_DROP = (1.9, 1.7)  # how far (y down, z back) the tip goes behind the ear
RING = 8  # vertices around a tube
RIM_SAMPLES = 72

PART_COLORS = {  # RGBA of each stripe of the built-in texture
    "rims": (28, 24, 30, 255),
    "lenses": (70, 110, 150, 90),
    "bridge": (28, 24, 30, 255),
    "temple_right": (28, 24, 30, 255),
    "temple_left": (28, 24, 30, 255),
}

RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]


class MeshBuilder:
    """Accumulates positions, uvs, normals and triangles of several parts into one mesh."""

    def __init__(self) -> None:
        self.positions: list[np.ndarray] = []
        self.normals: list[np.ndarray] = []
        self.uvs: list[np.ndarray] = []
        self.triangles: list[np.ndarray] = []
        self.count = 0

    def add(self, positions: np.ndarray, normals: np.ndarray, triangles: np.ndarray, part: str) -> None:
        uv = np.array([glasses_part_u(part), 0.5])
        self.positions.append(positions)
        self.normals.append(normals)
        self.uvs.append(np.tile(uv, (len(positions), 1)))
        self.triangles.append(triangles + self.count)
        self.count += len(positions)

    def mesh(self) -> ObjectMesh:
        return ObjectMesh(
            np.vstack(self.positions).astype(np.float32),
            np.vstack(self.uvs).astype(np.float32),
            np.vstack(self.normals).astype(np.float32),
            np.vstack(self.triangles).astype(np.int32),
        )


def front_z(x: np.ndarray) -> np.ndarray:
    return FRONT_Z - WRAP * np.square(x)


def tube(path: np.ndarray, radius: float, closed: bool, reference: np.ndarray) -> tuple[np.ndarray, ...]:
    """A tube of `RING` vertices around each point of `path`: positions, normals, triangles (ends capped)."""
    tangents = np.gradient(path, axis=0) if not closed else np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    side = np.cross(tangents, reference)
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    up = np.cross(side, tangents)
    angles = np.linspace(0.0, 2.0 * np.pi, RING, endpoint=False)
    normals = np.cos(angles)[None, :, None] * side[:, None] + np.sin(angles)[None, :, None] * up[:, None]
    positions = (path[:, None] + radius * normals).reshape(-1, 3)
    normals = normals.reshape(-1, 3)
    rings = len(path) if closed else len(path) - 1
    i = np.arange(rings)[:, None]
    j = np.arange(RING)[None, :]
    a, b = i * RING + j, i * RING + (j + 1) % RING
    c, d = ((i + 1) % len(path)) * RING + j, ((i + 1) % len(path)) * RING + (j + 1) % RING
    triangles = np.concatenate([np.stack([a, b, d], -1), np.stack([a, d, c], -1)]).reshape(-1, 3)
    if not closed:
        for end, direction in ((0, -1.0), (len(path) - 1, 1.0)):
            centre = len(positions)
            positions = np.vstack([positions, path[end]])
            normals = np.vstack([normals, direction * tangents[end]])
            ring = end * RING + np.arange(RING)
            triangles = np.vstack([triangles, np.stack([np.full(RING, centre), ring, np.roll(ring, -1)], -1)])
    return positions, normals, triangles


def lens_outline(side: float) -> np.ndarray:
    """The rim centre line of one lens (closed), `side` = -1 for the subject's right, +1 for the left."""
    centre = np.array([side * 3.35, 2.85])
    angles = np.linspace(0.0, 2.0 * np.pi, RIM_SAMPLES, endpoint=False)
    exponent = 2.0 / LENS_ROUNDNESS
    x = centre[0] + LENS_HALF_SIZE[0] * np.sign(np.cos(angles)) * np.abs(np.cos(angles)) ** exponent
    y = centre[1] + LENS_HALF_SIZE[1] * np.sign(np.sin(angles)) * np.abs(np.sin(angles)) ** exponent
    return np.stack([x, y, front_z(x)], axis=1)


def lens_surface(outline: np.ndarray) -> tuple[np.ndarray, ...]:
    """A fan from the lens centre to the rim line, just behind the rim's centre line."""
    centre = outline.mean(axis=0)
    centre[2] = front_z(centre[:1])[0]
    positions = np.vstack([centre, outline]) - [0.0, 0.0, 0.03]
    normals = np.tile([0.0, 0.0, 1.0], (len(positions), 1))
    ring = 1 + np.arange(len(outline))
    triangles = np.stack([np.zeros(len(outline), int), ring, np.roll(ring, -1)], axis=1)
    return positions, normals, triangles


def head_half_width(model: CanonicalFaceModel, y: float, z: np.ndarray) -> np.ndarray:
    """Largest |x| of the canonical face near height y, at each depth z (a running max from the back, so the
    temple never turns inward while it runs towards the ears)."""
    vertices = model.vertices
    band = vertices[np.abs(vertices[:, 1] - y) < 1.2]
    widths = np.array([np.abs(band[np.abs(band[:, 2] - depth) < 0.9, 0]).max(initial=0.0) for depth in z])
    return np.maximum.accumulate(widths[::-1])[::-1]


def temple_path(model: CanonicalFaceModel, side: float, hinge: np.ndarray) -> np.ndarray:
    """From the hinge back along the side of the head, then down behind the ear."""
    z = np.linspace(hinge[2] - 0.4, TEMPLE_BACK_Z, 24)
    y = np.linspace(hinge[1], hinge[1] - 0.5, len(z))
    x = np.maximum(head_half_width(model, hinge[1], z) + TEMPLE_CLEARANCE, abs(hinge[0]) + 0.15)
    x = np.maximum.accumulate(x)
    straight = np.stack([side * x, y, z], axis=1)
    t = np.linspace(0.0, 0.5 * np.pi, 10)[1:]
    drop = np.stack(
        [
            np.full_like(t, side * (x[-1] - 0.1)),
            y[-1] - EAR_DROP[0] * (1.0 - np.cos(t)),
            TEMPLE_BACK_Z - EAR_DROP[1] * np.sin(t),
        ],
        axis=1,
    )
    return np.vstack([hinge, straight, drop])


def glasses_mesh(model: CanonicalFaceModel) -> ObjectMesh:
    builder = MeshBuilder()
    x_axis, z_axis = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    anchor = model.vertices[GLASSES_ANCHOR_VERTEX]
    for side, temple in ((-1.0, "temple_right"), (1.0, "temple_left")):
        outline = lens_outline(side)
        builder.add(*tube(outline, RIM_RADIUS, closed=True, reference=z_axis), part="rims")
        # End piece: from the rim's outer top corner out to the hinge, then the temple.
        top_outer = outline[np.argmax(side * outline[:, 0] + 0.6 * outline[:, 1])]
        hinge_x = side * (abs(top_outer[0]) + 0.8)
        hinge = np.array([hinge_x, top_outer[1], front_z(np.array([hinge_x]))[0] - 0.15])
        piece = np.linspace(top_outer, hinge, 5)
        builder.add(*tube(piece, RIM_RADIUS, closed=False, reference=z_axis), part="rims")
        builder.add(*tube(temple_path(model, side, hinge), TEMPLE_RADIUS, closed=False, reference=x_axis), part=temple)
    bridge_x = np.linspace(-1.2, 1.2, 9)
    bridge = np.stack([bridge_x, np.full_like(bridge_x, anchor[1]), front_z(bridge_x)], axis=1)
    builder.add(*tube(bridge, BRIDGE_RADIUS, closed=False, reference=z_axis), part="bridge")
    for side in (-1.0, 1.0):  # lenses last: drawn after the opaque frame, so the frame shows through them
        builder.add(*lens_surface(lens_outline(side)), part="lenses")
    return builder.mesh()


def face_paint_texture(model: CanonicalFaceModel, size: int = 1024) -> np.ndarray:
    """RGBA texture in the canonical UV space (v = 0 at the top): purple eye mask, red lips, gold stars."""
    uv = model.uvs.astype(np.float64) * size
    rgb = np.zeros((size, size, 3), np.uint8)
    alpha = np.zeros((size, size), np.uint8)
    scale = 16  # cv2 fixed-point shift: sub-pixel accurate anti-aliased polygons

    def fill(points: np.ndarray, color: tuple[int, int, int], opacity: int) -> None:
        pts = [np.round(points * scale).astype(np.int32)]
        cv2.fillPoly(rgb, pts, color, cv2.LINE_AA, shift=4)
        cv2.fillPoly(alpha, pts, opacity, cv2.LINE_AA, shift=4)

    def cut(points: np.ndarray) -> None:
        cv2.fillPoly(alpha, [np.round(points * scale).astype(np.int32)], 0, cv2.LINE_AA, shift=4)

    # Eye mask: an ellipse around each eye joined across the nose bridge, with the eyes cut out.
    for eye in (RIGHT_EYE, LEFT_EYE):
        points = uv[eye]
        centre = points.mean(axis=0)
        half = (points.max(axis=0) - points.min(axis=0)) * (0.95, 2.1)
        ellipse = cv2.ellipse2Poly(tuple(np.round(centre).astype(int)), tuple(np.round(half).astype(int)), 0, 0, 360, 5)
        fill(ellipse.astype(np.float64), (110, 40, 150), 220)
    inner_x = uv[[133, 362], 0]
    top, bottom = uv[168, 1] - 12.0, uv[6, 1] + 8.0
    fill(
        np.array([[inner_x[0], top], [inner_x[1], top], [inner_x[1], bottom], [inner_x[0], bottom]]),
        (110, 40, 150),
        220,
    )
    for eye in (RIGHT_EYE, LEFT_EYE):
        points = uv[eye]
        centre = points.mean(axis=0)
        cut(centre + (points - centre) * 1.35)
    # Lipstick: the outer lip contour minus the mouth opening.
    fill(uv[LIPS_OUTER], (200, 20, 50), 200)
    cut(uv[LIPS_INNER])
    # Gold stars on the cheeks.
    for vertex in (50, 280):
        angles = np.linspace(-0.5 * np.pi, 1.5 * np.pi, 10, endpoint=False)
        radii = np.where(np.arange(10) % 2 == 0, 34.0, 14.0)
        star = uv[vertex] + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]
        fill(star, (250, 200, 40), 235)
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    return np.dstack([rgb, alpha])


def save_png(path: Path, rgba: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ASSETS_DIR, help="output directory (default: %(default)s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = default_canonical_face_model()
    mesh = glasses_mesh(model)
    save_obj(
        args.out / "glasses.obj",
        mesh,
        header=(
            "facemesh_ros glasses, generated by scripts/make_effect_assets.py from the canonical face model.\n"
            "Canonical face frame, cm: x = subject's left, y up, +z out of the face. Texture: glasses.png,\n"
            f"one stripe per part: {', '.join(GLASSES_PARTS)}."
        ),
    )
    save_png(args.out / "glasses.png", glasses_stripe_texture(PART_COLORS))
    save_png(args.out / "face_paint.png", face_paint_texture(model))
    print(f"glasses: {len(mesh.positions)} vertices, {len(mesh.triangles)} triangles -> {args.out}")


if __name__ == "__main__":
    main()
