"""Weighted orthogonal Procrustes with scale, and the canonical face model it runs on."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facemesh_ros.geometry import (
    CanonicalModelError,
    FailureReason,
    GeometryError,
    WeightedProcrustes,
    default_canonical_face_model,
    load_canonical_face_model,
    weighted_procrustes,
)
from facemesh_ros.geometry.reference import dense_procrustes
from facemesh_ros.model_paths import MODELS_ENV

MODEL = default_canonical_face_model()


def test_canonical_model_contents():
    assert MODEL.vertices.shape == (468, 3)
    assert MODEL.triangles.shape == (898, 3)
    assert np.count_nonzero(MODEL.procrustes_weights) == 33
    assert MODEL.procrustes_weights[4] == pytest.approx(0.070909939706326)
    assert MODEL.procrustes_weights[129] == pytest.approx(0.120625205338001)
    np.testing.assert_allclose(MODEL.vertices[[33, 263], 0], [-4.445859, 4.445859], atol=1e-5)
    assert MODEL.vertices[4, 2] == pytest.approx(7.58658, abs=1e-5)  # nose tip towards +z


def test_sellion_is_the_deepest_point_of_the_nasal_root():
    midline = [10, 151, 9, 8, 168, 6, 197, 195, 5, 4]  # forehead -> nose tip
    depths = MODEL.vertices[midline, 2]
    glabella_to_nose = midline[2:6]
    assert glabella_to_nose[int(np.argmin(MODEL.vertices[glabella_to_nose, 2]))] == 168
    assert depths[4] < depths[5]


def test_recovers_a_known_similarity_exactly():
    rotation = Rotation.from_euler("xyz", [20, -50, 70], degrees=True).as_matrix()
    target = 1.3 * MODEL.vertices @ rotation.T + [5.0, -3.0, -70.0]
    fit = MODEL.procrustes.fit(target)
    assert fit.scale == pytest.approx(1.3)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-12)
    np.testing.assert_allclose(fit.translation, [5.0, -3.0, -70.0], atol=1e-10)
    np.testing.assert_allclose(fit.matrix[:3, :3], 1.3 * rotation, atol=1e-12)


def test_matches_dense_formulas_on_noisy_targets():
    rng = np.random.default_rng(3)
    for _ in range(10):
        rotation = Rotation.random(random_state=rng).as_matrix()
        target = MODEL.vertices @ rotation.T * rng.uniform(0.5, 2) + rng.normal(0, 20, 3)
        target += rng.normal(0, 0.5, target.shape)
        expected = dense_procrustes(MODEL.vertices, target, MODEL.procrustes_weights)
        np.testing.assert_allclose(MODEL.procrustes.fit(target).matrix, expected, atol=1e-10)


def test_zero_weight_points_do_not_matter():
    target = MODEL.vertices + np.array([0.0, 0.0, -50.0])
    moved = target.copy()
    moved[MODEL.procrustes_weights == 0] += 100.0
    np.testing.assert_allclose(MODEL.procrustes.fit(moved).matrix, MODEL.procrustes.fit(target).matrix)


def test_mirrored_target_still_gives_a_proper_rotation():
    fit = MODEL.procrustes.fit(MODEL.vertices * [-1, 1, 1])
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)


def test_generic_helper():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(20, 3))
    weights = rng.uniform(0, 1, 20)
    rotation = Rotation.random(random_state=rng).as_matrix()
    target = 0.7 * source @ rotation.T + [1, 2, 3]
    fit = weighted_procrustes(source, target, weights)
    np.testing.assert_allclose(fit[:3, :3], 0.7 * rotation, atol=1e-12)


@pytest.mark.parametrize(
    "target",
    [
        np.zeros((468, 3)),  # one point
        np.outer(np.linspace(-1, 1, 468), [1.0, 2.0, 0.5]),  # a line
    ],
)
def test_degenerate_targets(target):
    with pytest.raises(GeometryError) as error:
        MODEL.procrustes.fit(target)
    assert error.value.reason is FailureReason.DEGENERATE


@pytest.mark.parametrize(
    ("source", "weights", "message"),
    [
        (np.zeros((5, 2)), np.ones(5), "need source"),
        (np.ones((5, 3)), np.ones(4), "need source"),
        (np.ones((5, 3)), np.zeros(5), "sum to zero"),
        (np.ones((5, 3)), -np.ones(5), "weights >= 0"),
        (np.ones((5, 3)), np.ones(5), "centroid"),
    ],
)
def test_bad_source(source, weights, message):
    with pytest.raises(ValueError, match=message):
        WeightedProcrustes(source, weights)


def test_models_dir_env_override(tmp_path, monkeypatch):
    np.savez(
        tmp_path / "canonical_face_model.npz",
        vertices=MODEL.vertices,
        uvs=MODEL.uvs,
        triangles=MODEL.triangles,
        procrustes_weights=MODEL.procrustes_weights,
    )
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    assert load_canonical_face_model().vertices.shape == (468, 3)


def test_bad_model_files(tmp_path):
    np.savez(tmp_path / "missing.npz", vertices=MODEL.vertices)
    with pytest.raises(ValueError, match="missing arrays"):
        load_canonical_face_model(tmp_path / "missing.npz")
    np.savez(
        tmp_path / "bad.npz",
        vertices=MODEL.vertices,
        uvs=MODEL.uvs,
        triangles=MODEL.triangles + 1,
        procrustes_weights=MODEL.procrustes_weights,
    )
    with pytest.raises(ValueError, match="out of range"):
        load_canonical_face_model(tmp_path / "bad.npz")
    with pytest.raises(CanonicalModelError, match=r"nope.npz \(no such file\)"):
        load_canonical_face_model(tmp_path / "nope.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(CanonicalModelError, match="BadZipFile"):
        load_canonical_face_model(tmp_path / "corrupt.npz")
    with pytest.raises(CanonicalModelError, match="does not exist"):
        load_canonical_face_model(tmp_path / "no_folder" / "canonical_face_model.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CanonicalModelError, match="is empty"):
        load_canonical_face_model(tmp_path / "empty" / "canonical_face_model.npz")
