"""CosineGramLoss (Eq. 13) against an independent NumPy implementation."""

import keras
import numpy as np
import pytest
from keras import ops

from semgru_keras.losses import CosineGramLoss, cosine_gram


def reference_loss(a: np.ndarray, f: np.ndarray, squared: bool = False) -> float:
    """Eq. 13 written out with explicit loops over song pairs (float64)."""
    n = len(a)
    total = 0.0
    for i in range(n):
        for j in range(n):
            cos_f = f[i] @ f[j] / (np.linalg.norm(f[i]) * np.linalg.norm(f[j]))
            cos_a = a[i] @ a[j] / (np.linalg.norm(a[i]) * np.linalg.norm(a[j]))
            total += (cos_f - cos_a) ** 2
    return total if squared else np.sqrt(total)


def value_and_grad(loss, a, f):
    """Loss value and d loss / d f, for whichever backend is active."""
    backend = keras.backend.backend()
    a = np.asarray(a, "float32")
    f = np.asarray(f, "float32")
    if backend == "tensorflow":
        import tensorflow as tf

        fv = tf.Variable(f)
        with tf.GradientTape() as tape:
            value = loss(a, fv)
        return float(value), tape.gradient(value, fv).numpy()
    if backend == "jax":
        import jax

        value, grad = jax.value_and_grad(lambda x: loss(a, x))(f)
        return float(value), np.asarray(grad)
    if backend == "torch":
        import torch

        fv = torch.tensor(f, requires_grad=True)
        value = loss(torch.tensor(a), fv)
        value.backward()
        return float(value), fv.grad.numpy()
    pytest.skip(f"no gradient helper for backend {backend}")


@pytest.mark.parametrize("batch,k,d", [(2, 9, 50), (7, 2, 50), (31, 9, 5), (100, 4, 50)])
@pytest.mark.parametrize("squared", [False, True])
def test_matches_numpy_reference(rng, batch, k, d, squared):
    a = rng.random((batch, k)) + 0.01
    f = rng.standard_normal((batch, d))
    got = float(CosineGramLoss(squared=squared)(a, f))
    assert got == pytest.approx(reference_loss(a, f, squared), rel=1e-4, abs=1e-5)


def test_zero_when_gram_matrices_match(rng):
    # features = annotations rotated into a larger space and rescaled per row: same cosines
    a = rng.random((12, 4)) + 0.1
    q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    f = np.pad(a, ((0, 0), (0, 6))) @ q * rng.uniform(0.5, 3.0, (12, 1))
    assert float(CosineGramLoss()(a, f)) == pytest.approx(0.0, abs=1e-3)
    assert float(CosineGramLoss()(a, a)) == 0.0


def test_invariant_to_row_scaling(rng):
    a = rng.random((16, 9)) + 0.01
    f = rng.standard_normal((16, 50))
    base = float(CosineGramLoss()(a, f))
    scaled = float(CosineGramLoss()(a * rng.uniform(0.1, 10, (16, 1)), f * rng.uniform(0.1, 10, (16, 1))))
    assert scaled == pytest.approx(base, rel=1e-4)


def test_single_song_batch_is_zero(rng):
    assert float(CosineGramLoss()(rng.random((1, 9)), rng.standard_normal((1, 50)))) == 0.0


def test_cosine_gram_diagonal_is_one(rng):
    g = ops.convert_to_numpy(cosine_gram(rng.standard_normal((5, 3)).astype("float32")))
    np.testing.assert_allclose(np.diag(g), 1.0, atol=1e-5)
    np.testing.assert_allclose(g, g.T, atol=1e-6)


@pytest.mark.parametrize("squared", [False, True])
def test_gradients_finite_at_minimum_and_with_zero_rows(rng, squared):
    loss = CosineGramLoss(squared=squared)
    a = rng.random((6, 3)) + 0.1
    # at the minimum: f has exactly the annotations' cosines
    value, grad = value_and_grad(loss, a, a * 2.0)
    assert value == pytest.approx(0.0, abs=1e-4)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() < 1e-2
    # all-zero feature rows and an all-zero input
    f = rng.standard_normal((6, 5))
    f[2] = 0.0
    value, grad = value_and_grad(loss, a, f)
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and np.abs(grad).max() < 1e3
    value, grad = value_and_grad(loss, a, np.zeros((6, 5)))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_gradient_matches_finite_differences(rng):
    loss = CosineGramLoss()
    a = rng.random((5, 3)) + 0.1
    f = rng.standard_normal((5, 4))
    _, grad = value_and_grad(loss, a, f)
    eps = 1e-3
    i, j = 2, 1
    up, down = f.copy(), f.copy()
    up[i, j] += eps
    down[i, j] -= eps
    numeric = (reference_loss(a, up) - reference_loss(a, down)) / (2 * eps)
    assert grad[i, j] == pytest.approx(numeric, rel=2e-2, abs=1e-3)


def test_serialization_round_trip():
    loss = CosineGramLoss(squared=True, epsilon=1e-10, name="gram")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, CosineGramLoss)
    assert restored.get_config() == loss.get_config()
    assert keras.saving.get_registered_name(CosineGramLoss) == "semgru_keras>CosineGramLoss"
