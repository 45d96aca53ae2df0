"""Feature model and standard-GRU baseline: shapes, masking, initialisation, saving."""

import keras
import numpy as np
import pytest

from semgru_keras.model import build_feature_model, build_standard_gru, without_padding_mask


def test_shapes_and_layers():
    model = build_feature_model(seed=0)
    assert model.output_shape == (None, 50)
    grus = [layer for layer in model.layers if isinstance(layer, keras.layers.GRU)]
    assert [g.units for g in grus] == [100, 50]
    assert all(g.reset_after is False for g in grus)
    x = np.random.default_rng(0).standard_normal((3, 20, 160)).astype("float32")
    assert model.predict(x, verbose=0).shape == (3, 50)


def test_weights_drawn_from_n0_001():
    model = build_feature_model(seed=0)
    kernel = model.get_layer("gru_1").get_weights()[0]
    assert abs(kernel.std() - 0.01) < 0.001
    assert abs(kernel.mean()) < 0.001


def test_padding_does_not_change_a_song_feature(rng):
    model = build_feature_model(input_mean=np.full(160, -20.0), input_variance=np.full(160, 100.0), seed=1)
    song = rng.normal(-20, 10, (37, 160)).astype("float32")
    other = rng.normal(-20, 10, (90, 160)).astype("float32")
    batch = np.zeros((2, 90, 160), "float32")
    batch[0, :37] = song
    batch[1] = other
    alone = model.predict(song[None], verbose=0)[0]
    padded = model.predict(batch, verbose=0)[0]
    np.testing.assert_allclose(padded, alone, rtol=1e-4, atol=1e-6)
    # and the padding really is masked: without it the mean would differ
    assert np.abs(alone).max() > 0


@pytest.mark.parametrize("builder", ["feature", "standard"])
def test_save_load_round_trip(tmp_path, rng, builder):
    if builder == "feature":
        model = build_feature_model(input_mean=np.zeros(160), input_variance=np.ones(160), seed=2)
    else:
        model = build_standard_gru(9, seed=2)
    x = rng.standard_normal((4, 25, 160)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_standard_gru_outputs_sigmoid(rng):
    model = build_standard_gru(4, seed=0)
    out = model.predict(rng.standard_normal((2, 10, 160)).astype("float32") * 100, verbose=0)
    assert out.shape == (2, 4) and np.all((out >= 0) & (out <= 1))


def test_reset_after_flag_and_keras_default_init():
    model = build_feature_model(reset_after=True, init_stddev=None, units=(8, 4))
    assert model.output_shape == (None, 4)
    assert model.get_layer("gru_1").reset_after is True
    with pytest.raises(ValueError, match="units"):
        build_feature_model(units=())


@pytest.mark.parametrize("builder", [build_feature_model, lambda **kw: build_standard_gru(3, **kw)])
def test_view_without_mask_shares_weights_and_agrees_on_unpadded_input(rng, builder):
    model = builder(input_mean=np.zeros(160), input_variance=np.ones(160), seed=0)
    view = without_padding_mask(model)
    assert view is not model and without_padding_mask(model) is view  # cached, no new graph nodes
    assert not any(isinstance(layer, keras.layers.Masking) for layer in view.layers)
    assert {id(v) for v in view.weights} == {id(v) for v in model.weights}
    x = rng.normal(size=(4, 30, 160)).astype("float32")
    np.testing.assert_allclose(view.predict_on_batch(x), model.predict_on_batch(x), rtol=1e-5, atol=1e-7)
    # training the view trains the model
    kernel = next(layer for layer in view.layers if isinstance(layer, keras.layers.GRU)).weights[0]
    kernel.assign(np.ones(kernel.shape, dtype="float32"))
    gru = next(layer for layer in model.layers if isinstance(layer, keras.layers.GRU))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(gru.weights[0]), 1.0)


def test_view_leaves_other_models_alone():
    inputs = keras.Input(shape=(None, 8))
    a = keras.layers.GRU(4, return_sequences=True)(keras.layers.Masking()(inputs))
    b = keras.layers.GlobalAveragePooling1D()(a)
    model = keras.Model(inputs, keras.layers.Concatenate()([b, b]))
    assert without_padding_mask(model) is model
