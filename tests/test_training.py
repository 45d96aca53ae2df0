"""Random-crop batches, the training protocol, full-length embedding and the sklearn front."""

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from semgru_keras.embedder import QUADRANT_CORNERS, SemanticEmbedder, annotation_matrix
from semgru_keras.model import build_feature_model
from semgru_keras.training import CropSequence, embed, predict_sequences


def separable_set(rng, n=90, n_classes=3, dim=160):
    """Sequences of varying length whose class shifts the mean of every vector."""
    labels = rng.integers(0, n_classes, n)
    centers = rng.standard_normal((n_classes, dim))
    seqs = [
        (centers[c] + 2.0 * rng.standard_normal((int(rng.integers(60, 120)), dim))).astype("float32")
        for c in labels
    ]
    return seqs, labels


def test_crop_batches_follow_the_protocol(rng):
    seqs = [np.zeros((int(n), 4), "float32") + i + 1 for i, n in enumerate(rng.integers(100, 300, 360))]
    data = CropSequence(seqs, np.ones((360, 2)), crop_length=100, batch_size=100, seed=0)
    sizes = [len(data[i][0]) for i in range(len(data))]
    assert sizes == [100, 100, 100, 60]
    x, y = data[0]
    assert x.shape == (100, 100, 4) and y.shape == (100, 2)
    seen = np.concatenate([data[i][0][:, 0, 0] for i in range(len(data))])
    assert sorted(seen.astype(int)) == list(range(1, 361))  # every song once per epoch
    starts = data.starts.copy()
    data.on_epoch_end()
    assert not np.array_equal(starts, data.starts)  # new crops every epoch
    assert np.all(data.starts + 100 <= np.array([len(s) for s in seqs]))


def test_crops_are_seeded(rng):
    seqs = [rng.standard_normal((150, 3)).astype("float32") for _ in range(10)]
    a = CropSequence(seqs, np.ones((10, 2)), crop_length=20, batch_size=4, seed=7)
    b = CropSequence(seqs, np.ones((10, 2)), crop_length=20, batch_size=4, seed=7)
    np.testing.assert_array_equal(a[1][0], b[1][0])


def test_tiny_last_batch_is_merged(rng):
    seqs = [np.ones((100, 2), "float32")] * 201
    data = CropSequence(seqs, np.ones((201, 2)), batch_size=100)
    assert len(data) == 2 and len(data[1][0]) == 101


def test_bad_sequences_are_named(rng):
    seqs = [np.ones((120, 2), "float32"), np.ones((50, 2), "float32")]
    with pytest.raises(ValueError, match="'b'.*50 vectors.*crop of 100"):
        CropSequence(seqs, np.ones((2, 2)), ids=["a", "b"])
    seqs[1] = np.full((150, 2), np.nan, "float32")
    with pytest.raises(ValueError, match="sequence 1.*NaN"):
        CropSequence(seqs, np.ones((2, 2)))


def test_embed_matches_one_song_at_a_time(rng):
    model = build_feature_model(units=(8, 4), seed=0, input_mean=np.zeros(160), input_variance=np.ones(160))
    seqs = [rng.standard_normal((int(n), 160)).astype("float32") for n in (30, 250, 7, 130, 61)]
    batched = embed(model, seqs, batch_size=2)
    single = np.stack([model.predict(s[None], verbose=0)[0] for s in seqs])
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-6)
    assert predict_sequences(model, seqs[:1]).shape == (1, 4)


def test_annotation_matrix_variants():
    a, classes = annotation_matrix(np.array(["sad", "happy", "sad"]))
    assert list(classes) == ["happy", "sad"]
    np.testing.assert_array_equal(a, [[0, 1], [1, 0], [0, 1]])
    a, _ = annotation_matrix(np.array(["angry", "relaxed"]), QUADRANT_CORNERS)
    np.testing.assert_array_equal(a, [[-1, 1], [1, -1]])
    with pytest.raises(ValueError, match="all zero"):
        annotation_matrix(np.array([[0.1, 0.2], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        annotation_matrix(np.array([[0.1, np.nan]]))
    with pytest.raises(ValueError, match="single real-valued target"):
        annotation_matrix(np.array([0.1, 0.7]))
    with pytest.raises(ValueError, match="knows"):
        annotation_matrix(np.array(["happy", "bored"]), QUADRANT_CORNERS)


@pytest.mark.slow
def test_training_lowers_the_loss_and_separates_classes(rng):
    seqs, labels = separable_set(rng)
    embedder = SemanticEmbedder(units=(32, 16), epochs=12, batch_size=30, crop_length=50, seed=0)
    features = embedder.fit_transform(seqs, labels)
    loss = embedder.history_["loss"]
    assert features.shape == (90, 16)
    assert np.mean(loss[-3:]) < 0.7 * np.mean(loss[:2])
    accuracy = cross_val_score(SVC(), StandardScaler().fit_transform(features), labels, cv=3).mean()
    assert accuracy > 0.9


@pytest.mark.slow
def test_same_seed_same_features(rng):
    seqs, labels = separable_set(rng, n=40)
    params = dict(units=(8, 4), epochs=2, batch_size=20, crop_length=50, seed=3)
    f1 = SemanticEmbedder(**params).fit_transform(seqs, labels)
    f2 = SemanticEmbedder(**params).fit_transform(seqs, labels)
    np.testing.assert_array_equal(f1, f2)


@pytest.mark.slow
def test_pipeline_in_cross_val_predict(rng):
    seqs, labels = separable_set(rng, n=60)
    pipe = make_pipeline(
        SemanticEmbedder(units=(16, 8), epochs=3, batch_size=20, crop_length=50, seed=0),
        StandardScaler(),
        SVC(kernel="rbf"),
    )
    clone(pipe)  # follows scikit-learn's estimator conventions
    pred = cross_val_predict(pipe, seqs, labels, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert pred.shape == (60,)
    assert set(pred) <= set(labels)


def test_training_without_the_mask_equals_training_with_it(rng):
    """train_model trains a mask-free view (crops hold no padding): same weights as the masked model."""
    from semgru_keras.losses import CosineGramLoss
    from semgru_keras.training import adadelta, train_model

    seqs, labels = separable_set(rng, n=40)
    targets = annotation_matrix(labels)[0]
    fast = build_feature_model(units=(8, 4), seed=0)
    train_model(fast, seqs, targets, epochs=2, batch_size=20, crop_length=50, seed=5, jit_compile=False)

    slow = build_feature_model(units=(8, 4), seed=0)
    keras.utils.set_random_seed(5)
    slow.compile(optimizer=adadelta(), loss=CosineGramLoss(), jit_compile=False)
    slow.fit(CropSequence(seqs, targets, 50, 20, seed=5), epochs=2, verbose=0)
    assert not np.allclose(fast.get_weights()[0], build_feature_model(units=(8, 4), seed=0).get_weights()[0])
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_embed_length_reads_the_middle_of_each_song(rng):
    seqs, labels = separable_set(rng, n=12)
    embedder = SemanticEmbedder(units=(6, 4), epochs=1, batch_size=6, crop_length=50, seed=0, embed_length=40)
    features = embedder.fit(seqs, labels).transform(seqs)
    middles = [s[(len(s) - 40) // 2 : (len(s) - 40) // 2 + 40] for s in seqs]
    np.testing.assert_allclose(features, embed(embedder.model_, middles), rtol=1e-5, atol=1e-7)
    assert not np.allclose(features, embed(embedder.model_, seqs))


# ----------------------------------------------------------------------------- no silent wrong results (issue 11)
def test_one_song_or_one_class_is_an_error_not_a_trained_model(rng):
    from semgru_keras.baselines import StandardGRU
    from semgru_keras.training import train_model

    seqs, labels = separable_set(rng, n=6)
    model = build_feature_model(units=(4, 2), seed=0)
    with pytest.raises(ValueError, match=r"at least 2 songs, got 1 \(song 'only'\)"):
        train_model(model, seqs[:1], np.ones((1, 2)), crop_length=50, ids=["only"])
    with pytest.raises(ValueError, match=r"all 6 training targets point the same way.*single class"):
        train_model(model, seqs, annotation_matrix(np.zeros(6, int))[0], crop_length=50)
    with pytest.raises(ValueError, match=r"all 6 training targets point the same way"):  # parallel GEMS rows
        train_model(model, seqs, np.outer(np.arange(1, 7), [0.1, 0.3]), crop_length=50)
    with pytest.raises(ValueError, match=r"all 6 training targets are equal"):
        train_model(model, seqs, np.full((6, 2), 0.5), loss="mse", crop_length=50)
    with pytest.raises(ValueError, match=r"single class \['sad'\]"):
        SemanticEmbedder(crop_length=50).fit(seqs, np.array(["sad"] * 6))
    with pytest.raises(ValueError, match=r"single class \['sad'\]"):
        StandardGRU(crop_length=50).fit(seqs, np.array(["sad"] * 6))


def test_nan_annotations_are_an_error_naming_the_song(rng):
    seqs, _ = separable_set(rng, n=4)
    targets = np.array([[0.1, 0.2], [0.3, np.nan], [0.2, 0.2], [0.5, 0.1]])
    with pytest.raises(ValueError, match=r"song 'b': its target row contains NaN"):
        CropSequence(seqs, targets, crop_length=50, ids=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="NaN"):
        SemanticEmbedder(crop_length=50).fit(seqs, targets)


def test_nan_or_all_zero_sequences_are_errors_naming_the_index(rng):
    seqs, labels = separable_set(rng, n=4)
    fitted = SemanticEmbedder(units=(4, 2))
    fitted.model_ = build_feature_model(units=(4, 2), seed=0)  # transform's checks come before the model
    bad = [s.copy() for s in seqs]
    bad[2][7, 3] = np.inf
    with pytest.raises(ValueError, match=r"sequence 2: the input sequence contains NaN or infinite values \(vectors \[7\]\)"):
        fitted.transform(bad)
    bad[2] = np.zeros_like(seqs[2])
    with pytest.raises(ValueError, match=r"sequence 2: every value of the input sequence is zero"):
        fitted.transform(bad)
    with pytest.raises(ValueError, match=r"sequence 2: every value"):
        embed(fitted.model_, bad)
    with pytest.raises(ValueError, match=r"sequence 2: every value"):
        SemanticEmbedder(crop_length=50).fit(bad, labels)
    assert np.all(np.isfinite(fitted.transform(seqs)))
