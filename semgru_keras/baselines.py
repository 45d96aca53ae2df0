"""The paper's standard-GRU baseline as a scikit-learn estimator: ``StandardGRU``.

Fig. 1 (left) and Eq. 14: the same two GRUs and mean over time as the feature learner,
then a dense sigmoid layer ``y_i = σ(W_y f_i + b_y)`` trained with mean squared error
against the annotation ``a_i``; the network predicts the targets itself (no SVR/SVM).

- Regression: the targets are the annotation matrix. Emotify's fractions already lie in
  [0, 1], the sigmoid's range; targets outside [0, 1] are scaled into it column by column
  with the training songs' minimum and maximum, and predictions are mapped back.
- Classification: the target is the one-hot class vector (the paper's ``a_i`` for
  classes), and ``predict`` returns the class with the largest output.

The training protocol (random crops, batches of songs, Adadelta with ρ = 0.9) and its
parameters are those of :class:`~semgru_keras.embedder.SemanticEmbedder`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .model import build_standard_gru
from .presets import PAPER, TrainingSettings
from .training import input_statistics, predict_sequences, train_model

__all__ = ["StandardGRU", "is_classification_target"]


def is_classification_target(y) -> bool:
    """``True`` for 1-D labels (strings, integers or integral floats), ``False`` for real targets."""
    y = np.asarray(y)
    if y.ndim != 1:
        return False
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.bool_):
        return True
    return bool(np.issubdtype(y.dtype, np.integer) or np.all(y == np.round(y)))


class StandardGRU(BaseEstimator):
    """The standard GRU of the paper (Eq. 14) for regression or classification.

    Parameters
    ----------
    units, epochs, batch_size, crop_length, crops_per_song, learning_rate, rho, init_stddev, reset_after, standardize
        The training settings, defaults the paper's: see
        :class:`~semgru_keras.presets.TrainingSettings` (as in
        :class:`~semgru_keras.embedder.SemanticEmbedder`).
    scale_targets : {"auto", True, False}
        Regression only. ``"auto"`` min–max scales the targets into [0, 1] when any
        training target lies outside [0, 1]; ``True`` always scales; ``False`` never.
    seed : int
        Seeds weights, crops and shuffling.
    verbose : int
        Keras ``fit`` verbosity.

    Attributes
    ----------
    model_ : keras.Model
        The trained network (sigmoid outputs).
    classes_ : ndarray or None
        Class labels for classification, ``None`` for regression.
    target_min_, target_range_ : ndarray or None
        The min–max scaling applied to regression targets (``None`` when not scaled).
    history_ : dict
        Per-epoch loss values.
    """

    def __init__(
        self,
        units: Sequence[int] = PAPER.units,
        epochs: int = PAPER.epochs,
        batch_size: int = PAPER.batch_size,
        crop_length: int = PAPER.crop_length,
        crops_per_song: int = PAPER.crops_per_song,
        learning_rate: float = PAPER.learning_rate,
        rho: float = PAPER.rho,
        init_stddev: float | None = PAPER.init_stddev,
        reset_after: bool = PAPER.reset_after,
        standardize: bool = PAPER.standardize,
        scale_targets: bool | str = "auto",
        seed: int = PAPER.seed,
        verbose: int = PAPER.verbose,
    ):
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.crop_length = crop_length
        self.crops_per_song = crops_per_song
        self.learning_rate = learning_rate
        self.rho = rho
        self.init_stddev = init_stddev
        self.reset_after = reset_after
        self.standardize = standardize
        self.scale_targets = scale_targets
        self.seed = seed
        self.verbose = verbose

    def _encode(self, y) -> np.ndarray:
        """Targets → network outputs in [0, 1]: one-hot classes, or (scaled) annotations."""
        y = np.asarray(y)
        self.target_min_ = self.target_range_ = None
        if is_classification_target(y):
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"y holds a single class {self.classes_.tolist()}: a classifier needs at least 2")
            self._single_output = False
            return (y[:, None] == self.classes_[None, :]).astype(np.float32)
        self.classes_ = None
        self._single_output = y.ndim == 1
        t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if not np.all(np.isfinite(t)):
            raise ValueError("targets contain NaN or infinite values")
        outside = bool(np.any(t < 0.0) or np.any(t > 1.0))
        if self.scale_targets not in ("auto", True, False):
            raise ValueError(f"scale_targets must be 'auto', True or False, got {self.scale_targets!r}")
        if self.scale_targets is True or (self.scale_targets == "auto" and outside):
            self.target_min_ = t.min(axis=0)
            self.target_range_ = np.where(np.ptp(t, axis=0) > 0, np.ptp(t, axis=0), 1.0)
            t = (t - self.target_min_) / self.target_range_
        return t.astype(np.float32)

    def fit(self, X, y):
        """Train the network on sequences ``X`` (list of ``(t_i, 160)`` arrays) and targets ``y``.

        ``y`` is an ``(n, k)`` annotation matrix or 1-D real targets (regression), or 1-D
        class labels (classification).
        """
        X = list(X)
        targets = self._encode(y)
        if len(targets) != len(X):
            raise ValueError(f"{len(X)} sequences but {len(targets)} targets")
        settings = TrainingSettings.from_mapping(self.get_params())
        mean, variance = input_statistics(X) if settings.standardize else (None, None)
        self.model_ = build_standard_gru(targets.shape[1], input_dim=np.asarray(X[0]).shape[1], input_mean=mean,
                                         input_variance=variance, **settings.model_params())
        history = train_model(self.model_, X, targets, loss="mse", **settings.fit_params())
        self.history_ = dict(history.history)
        self.n_outputs_ = int(targets.shape[1])
        self.n_train_ = len(X)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The sigmoid outputs on full-length sequences, shape ``(n, n_outputs)``."""
        check_is_fitted(self, "model_")
        return predict_sequences(self.model_, list(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (argmax of the outputs), or regression targets in their original scale."""
        out = self.decision_function(X)
        if self.classes_ is not None:
            return self.classes_[np.argmax(out, axis=1)]
        out = out.astype(np.float64)
        if self.target_min_ is not None:
            out = out * self.target_range_ + self.target_min_
        return out[:, 0] if self._single_output else out
