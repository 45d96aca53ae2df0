"""The standard-GRU baseline (Eq. 14) as a scikit-learn estimator."""

import numpy as np
import pytest

from semgru_keras.baselines import StandardGRU, is_classification_target

TINY = dict(units=(4,), epochs=1, crop_length=10, batch_size=8, seed=0)


def _sequences(rng, n, dim=6):
    return [rng.standard_normal((int(rng.integers(12, 30)), dim)).astype("float32") for _ in range(n)]


def test_target_kinds():
    assert is_classification_target(np.array(["happy", "sad"]))
    assert is_classification_target(np.array([0, 2, 1]))
    assert not is_classification_target(np.array([0.2, 0.5]))
    assert not is_classification_target(np.ones((3, 2)))


def test_regression_targets_are_scaled_into_the_sigmoid_range_and_back(rng):
    seqs = _sequences(rng, 16)
    y = np.column_stack([rng.uniform(-5, 5, 16), rng.uniform(10, 20, 16)])
    model = StandardGRU(**TINY).fit(seqs, y)
    np.testing.assert_allclose(model.target_min_, y.min(axis=0))
    np.testing.assert_allclose(model.target_range_, np.ptp(y, axis=0))
    out = model.decision_function(seqs)
    pred = model.predict(seqs)
    assert out.shape == pred.shape == (16, 2)
    assert np.all((out > 0) & (out < 1))
    np.testing.assert_allclose(pred, out * np.ptp(y, axis=0) + y.min(axis=0), rtol=1e-5)
    fractions = rng.random((16, 3))  # Emotify-like targets already in [0, 1]: no scaling
    model = StandardGRU(**TINY).fit(seqs, fractions)
    assert model.target_min_ is None and model.classes_ is None
    np.testing.assert_allclose(model.predict(seqs), model.decision_function(seqs), rtol=1e-6)


def test_classes_are_one_hot_targets_and_argmax_predictions(rng):
    seqs = _sequences(rng, 16)
    labels = np.array(["happy", "angry", "sad", "relaxed"])[np.arange(16) % 4]
    model = StandardGRU(**TINY).fit(seqs, labels)
    assert list(model.classes_) == ["angry", "happy", "relaxed", "sad"] and model.n_outputs_ == 4
    pred = model.predict(seqs)
    np.testing.assert_array_equal(pred, model.classes_[np.argmax(model.decision_function(seqs), axis=1)])
    with pytest.raises(ValueError, match="sequences but"):
        StandardGRU(**TINY).fit(seqs[:3], labels)
