"""The feature learner and the standard-GRU baseline (paper, Sections III–IV, Fig. 1).

Both models read zero-padded batches of input sequences ``(batch, time, 160)``. A time
step whose 160 values are all exactly zero is padding: it is masked in every GRU layer
and left out of the mean over time, so a song's feature does not depend on how much
padding its batch needed. (Real log-mel vectors are never all-zero.)
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import keras
import numpy as np

from .presets import PAPER

__all__ = ["build_feature_model", "build_standard_gru", "gru_initializer", "without_padding_mask"]


def gru_initializer(stddev: float | None, seed: int | None):
    """Weight initializer: N(0, ``stddev``) as in the paper, or Keras' default if ``None``."""
    if stddev is None:
        return None
    return keras.initializers.RandomNormal(mean=0.0, stddev=stddev, seed=seed)


def _trunk(
    input_dim: int,
    units: Sequence[int],
    init_stddev: float | None,
    reset_after: bool,
    input_mean,
    input_variance,
    seed: int | None,
):
    """Input → optional standardisation → stacked GRUs → masked mean over time (Eq. 11)."""
    if not units:
        raise ValueError("units must name at least one GRU layer, e.g. (100, 50)")
    inputs = keras.Input(shape=(None, input_dim), name="sequence")
    x = keras.layers.Masking(mask_value=0.0, name="padding_mask")(inputs)
    if input_mean is not None or input_variance is not None:
        if input_mean is None or input_variance is None:
            raise ValueError("give both input_mean and input_variance, or neither")
        x = keras.layers.Normalization(
            mean=np.asarray(input_mean, dtype="float32"),
            variance=np.asarray(input_variance, dtype="float32"),
            name="standardize",
        )(x)
    for i, n in enumerate(units):
        kernel_seed = None if seed is None else seed + 2 * i
        recurrent_seed = None if seed is None else seed + 2 * i + 1
        x = keras.layers.GRU(
            int(n),
            return_sequences=True,
            reset_after=reset_after,
            kernel_initializer=gru_initializer(init_stddev, kernel_seed) or "glorot_uniform",
            recurrent_initializer=gru_initializer(init_stddev, recurrent_seed) or "orthogonal",
            name=f"gru_{i + 1}",
        )(x)
    features = keras.layers.GlobalAveragePooling1D(name="mean_over_time")(x)
    return inputs, features


def build_feature_model(
    input_dim: int = 160,
    units: Sequence[int] = PAPER.units,
    *,
    init_stddev: float | None = PAPER.init_stddev,
    reset_after: bool = PAPER.reset_after,
    input_mean=None,
    input_variance=None,
    seed: int | None = None,
    name: str = "semantic_embedding_gru",
) -> keras.Model:
    """Build the Semantic Embedding GRU: sequence → song feature ``f_i`` (Eqs. 7–11).

    Parameters
    ----------
    input_dim : int
        Size of one input vector (160: two 40-band frames and their deltas).
    units : sequence of int
        GRU layer sizes; the paper uses ``(100, 50)``, so ``f_i`` has 50 values.
    init_stddev : float or None
        Weights are drawn from N(0, ``init_stddev``) (paper: 0.01); ``None`` keeps
        Keras' defaults (Glorot / orthogonal). Biases start at zero.
    reset_after : bool
        ``False`` applies the reset gate before the recurrent matrix, as in Eqs. 9–10;
        ``True`` is Keras' default form, which can use cuDNN on a GPU.
    input_mean, input_variance : array-like of shape (input_dim,), optional
        Per-dimension statistics of the training inputs; when given, inputs are
        standardised inside the model (a ``Normalization`` layer, saved with it).
        The paper does not standardise; raw dB values saturate N(0, 0.01) GRUs.
    seed : int, optional
        Seed of the weight initializers.

    Returns
    -------
    keras.Model
        Maps ``(batch, time, input_dim)`` (zero-padded) to ``(batch, units[-1])``.
    """
    inputs, features = _trunk(input_dim, units, init_stddev, reset_after, input_mean, input_variance, seed)
    return keras.Model(inputs, features, name=name)


def build_standard_gru(
    n_outputs: int,
    input_dim: int = 160,
    units: Sequence[int] = PAPER.units,
    *,
    init_stddev: float | None = PAPER.init_stddev,
    reset_after: bool = PAPER.reset_after,
    input_mean=None,
    input_variance=None,
    seed: int | None = None,
    name: str = "standard_gru",
) -> keras.Model:
    """Build the paper's baseline: the same GRU trunk and a sigmoid output layer (Eq. 14).

    ``y_i = σ(W_y f_i + b_y)`` is trained with mean squared error against the
    annotation ``a_i`` (fractions in [0, 1], or a one-hot class vector), and predicts
    the targets directly. Other parameters are as in :func:`build_feature_model`.
    """
    inputs, features = _trunk(input_dim, units, init_stddev, reset_after, input_mean, input_variance, seed)
    outputs = keras.layers.Dense(
        int(n_outputs),
        activation="sigmoid",
        kernel_initializer=gru_initializer(init_stddev, None if seed is None else seed + 1000) or "glorot_uniform",
        name="emotion",
    )(features)
    return keras.Model(inputs, outputs, name=name)


#: Layer types of the chains that the builders above make (and that a view may re-wire).
_CHAIN_LAYERS = (
    keras.layers.InputLayer,
    keras.layers.Masking,
    keras.layers.Normalization,
    keras.layers.GRU,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.Dense,
)
_VIEWS: "weakref.WeakKeyDictionary[keras.Model, keras.Model]" = weakref.WeakKeyDictionary()


def without_padding_mask(model: keras.Model) -> keras.Model:
    """The same layers and weights as ``model``, minus its padding mask.

    Training crops are cut from inside songs and never contain padding, so the mask of
    every time step is ``True`` and computing it only costs time (about 5 % of a
    training epoch). The view shares its layers, hence its weights, with ``model``:
    training the view trains the model. Use it only on unpadded input; ``model``
    itself stays the right tool for zero-padded, variable-length batches.

    A model that is not a chain of the layers the builders of this module make is
    returned unchanged (still correct, with the mask). Views are cached per model.
    """
    if model in _VIEWS:
        return _VIEWS[model]
    layers = model.layers
    if (
        len(model.inputs) != 1
        or not any(isinstance(layer, keras.layers.Masking) for layer in layers)
        or not all(isinstance(layer, _CHAIN_LAYERS) for layer in layers)
        or sum(isinstance(layer, keras.layers.InputLayer) for layer in layers) != 1
    ):
        return model
    inputs = keras.Input(shape=model.inputs[0].shape[1:], name="crop")
    x = inputs
    for layer in layers:
        if not isinstance(layer, (keras.layers.InputLayer, keras.layers.Masking)):
            x = layer(x)
    view = keras.Model(inputs, x, name=f"{model.name}_unmasked")
    _VIEWS[model] = view
    return view
