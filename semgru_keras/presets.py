"""The paper's training hyperparameters and the quick/full rule, each defined once (Section V-B).

:class:`TrainingSettings` holds the settings that the GRU estimators
(:class:`~semgru_keras.embedder.SemanticEmbedder`, :class:`~semgru_keras.baselines.StandardGRU`),
:func:`~semgru_keras.training.train_model` and the protocol
(:class:`~semgru_keras.protocol.EvaluationConfig`) share. :data:`PAPER` holds the paper's values,
and every one of those signatures takes its defaults from it (the scikit-learn estimators keep
their explicit keyword parameters, which ``get_params``/``clone`` need).

:data:`MODES` is the one rule for the two ways to run: ``"full"`` is the paper's protocol
(100 epochs, 10 outer folds); ``"quick"`` is the demo and test setting that runs on a laptop CPU in
minutes. :mod:`semgru_keras.run` and :meth:`EvaluationConfig.quick
<semgru_keras.protocol.EvaluationConfig.quick>` both read it.

Plain Python on purpose: the runner imports this module without importing Keras.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["TrainingSettings", "PAPER", "PAPER_FOLDS", "MODES"]


@dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of the GRU networks and their training (defaults: the paper's, Section V-B).

    Parameters
    ----------
    units : tuple of int
        GRU layer sizes (paper: ``(100, 50)``); the song feature ``f_i`` has ``units[-1]`` values.
    epochs : int
        Training epochs (paper: 100).
    batch_size : int
        Songs per batch (paper: 100).
    crop_length : int
        Input vectors per random training crop (paper: 100 ≈ 5 s).
    crops_per_song : int
        Random crops of every training song per epoch (paper: 1; more is a variant of the
        extended recipe, issue 16: an epoch then has that many times more batches).
    learning_rate, rho : float
        Adadelta's step and decay (Zeiler's step 1.0; paper: ρ = 0.9); see
        :func:`~semgru_keras.training.adadelta`.
    init_stddev : float or None
        GRU weights ~ N(0, ``init_stddev``) (paper: 0.01); ``None`` keeps Keras' initializers.
    reset_after : bool
        GRU variant (``False`` = the paper's Eqs. 9–10).
    standardize : bool
        Standardise the input dimensions with the training songs' statistics (not in the
        paper; see :func:`~semgru_keras.model.build_feature_model`).
    seed : int
        Seeds weights, crops and shuffling.
    verbose : int
        Keras ``fit`` verbosity (0 silent).
    """

    units: tuple[int, ...] = (100, 50)
    epochs: int = 100
    batch_size: int = 100
    crop_length: int = 100
    crops_per_song: int = 1
    learning_rate: float = 1.0
    rho: float = 0.9
    init_stddev: float | None = 0.01
    reset_after: bool = False
    standardize: bool = True
    seed: int = 0
    verbose: int = 0

    def __post_init__(self):
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))

    @classmethod
    def quick(cls, **overrides) -> TrainingSettings:
        """The paper's settings with the epochs of the ``"quick"`` mode (:data:`MODES`)."""
        return cls(**{"epochs": MODES["quick"]["epochs"], **overrides})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The setting names, in order (the keyword parameters they share with the estimators)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping) -> TrainingSettings:
        """The settings named in ``values`` (e.g. an estimator's ``get_params()``); other keys are ignored."""
        return cls(**{name: values[name] for name in cls.names() if name in values})

    def to_dict(self) -> dict:
        """All settings: keyword arguments of :class:`~semgru_keras.embedder.SemanticEmbedder` and
        :class:`~semgru_keras.baselines.StandardGRU`."""
        return {name: getattr(self, name) for name in self.names()}

    def model_params(self) -> dict:
        """Keyword arguments of :func:`~semgru_keras.model.build_feature_model` and
        :func:`~semgru_keras.model.build_standard_gru`."""
        return dict(units=self.units, init_stddev=self.init_stddev, reset_after=self.reset_after, seed=self.seed)

    def fit_params(self) -> dict:
        """Keyword arguments of :func:`~semgru_keras.training.train_model`."""
        return dict(epochs=self.epochs, batch_size=self.batch_size, crop_length=self.crop_length,
                    crops_per_song=self.crops_per_song, learning_rate=self.learning_rate, rho=self.rho, seed=self.seed, verbose=self.verbose)


#: The paper's hyperparameters (Section V-B).
PAPER = TrainingSettings()

#: Outer folds of the paper's cross-validation (Section V-B: 10-fold).
PAPER_FOLDS = 10

#: Settings per mode: ``"full"`` is the paper's protocol (Section V-B); ``"quick"`` is the demo/test
#: setting that runs on a laptop CPU in minutes. Read-only.
MODES: Mapping[str, Mapping[str, int]] = MappingProxyType({
    "quick": MappingProxyType({"epochs": 30, "n_folds": 3}),
    "full": MappingProxyType({"epochs": PAPER.epochs, "n_folds": PAPER_FOLDS}),
})
