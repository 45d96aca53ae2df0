"""The paper's evaluation protocol (Section V-B/C): cross-validation of three systems.

For every outer fold of a k-fold cross-validation (the paper: 10 folds), on the *same*
folds:

``semgru``
    The Semantic Embedding GRU (Eqs. 7–13) is trained on the training songs only; their
    learned features and those of the held-out songs come from that model; an RBF SVR per
    target (regression, Table I) or an RBF SVM (classification, Table II) is fitted on the
    training songs' features and predicts the held-out songs.
``standard_gru``
    The standard GRU (Eq. 14): same trunk, sigmoid output layer, mean squared error; it
    predicts the targets (or a one-hot class vector → argmax) directly.
``handcrafted_<group>`` and ``handcrafted_combined``
    Hand-crafted audio features (:mod:`semgru_keras.handcrafted`, a librosa stand-in for
    the MIRToolbox features of [17] and [27]) + the same SVR/SVM, per feature group and
    all groups together.

Not the paper's, and run only when asked for (:data:`OPTIONAL_SYSTEMS`; issue 16's
extended recipe):

``fusion``
    The fold's learned SE-GRU features (the ``semgru`` system's model: no second
    training) concatenated with the combined hand-crafted features, then the same inner
    search and SVR/SVM. The pipeline standardises every input with the training songs'
    statistics, so each block is standardised on the training songs; the blocks are not
    re-weighted (``units[-1]`` learned against the hand-crafted block's columns).

Model selection. SVR/SVM hyper-parameters are chosen by a grid search with an inner
cross-validation on the training folds only (:data:`SVR_GRID`, :data:`SVC_GRID`): the
held-out fold is never used to choose anything. Inputs are standardised with training
statistics inside the pipeline; SVR targets are standardised too (so ε is in units of the
target's standard deviation) and the inner search maximises R² (regression) or accuracy.
The paper does not describe its parameter selection; this is our choice. One mild
optimism remains *inside* model selection: the inner search sees learned features of
training songs that the feature learner was itself trained on (nested re-training of the
GRU per inner fold would cost ``inner_folds`` times more). The outer test fold stays clean.

Figures of merit: Pearson's r per target and its mean (regression), accuracy
(classification), computed on each held-out fold and averaged over folds, with the std
over folds, a 95 % bootstrap interval (songs resampled within folds) and, for reference,
the same figure on the pooled out-of-fold predictions (:mod:`semgru_keras.metrics`).

Independence and parallelism. The outer folds do not depend on each other: fold ``f``
seeds its networks with ``seed + f``, so :func:`cross_validate` can run them in worker
processes (``n_jobs``, :mod:`semgru_keras.parallel`) with the same results.

This module computes; :mod:`semgru_keras.results` holds what it computed,
:mod:`semgru_keras.report` turns that into tables and figures, and
:func:`semgru_keras.evaluation.evaluate` does all of it in one call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from .baselines import StandardGRU, is_classification_target
from .embedder import SemanticEmbedder
from .handcrafted import FEATURE_GROUPS
from .losses import GRAM_VARIANTS
from .metrics import accuracy, mean_pearson
from .presets import MODES, PAPER, TrainingSettings
from .results import CVResults
from .vocabulary import CLASS_ALIASES, QUADRANT_CORNERS

__all__ = [
    "SVR_GRID",
    "SVC_GRID",
    "QUICK_SVR_GRID",
    "QUICK_SVC_GRID",
    "SYSTEMS",
    "OPTIONAL_SYSTEMS",
    "EvaluationConfig",
    "make_folds",
    "describe_grouping",
    "class_vectors_for",
    "fit_predict_svm",
    "cross_validate",
]

#: SVR grid (regression). Inputs and targets are standardised, so γ is relative to
#: unit-variance inputs ("scale" = 1 / n_features) and ε is in target standard deviations.
SVR_GRID: dict[str, list] = {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale", 0.001, 0.01, 0.1], "epsilon": [0.1, 0.5]}
#: SVM grid (classification), on standardised inputs.
SVC_GRID: dict[str, list] = {"C": [0.1, 1.0, 10.0, 100.0], "gamma": ["scale", 0.001, 0.01, 0.1]}
#: Small grids of the quick preset (demo runs and tests).
QUICK_SVR_GRID: dict[str, list] = {"C": [1.0, 10.0], "gamma": ["scale"], "epsilon": [0.1]}
QUICK_SVC_GRID: dict[str, list] = {"C": [1.0, 10.0], "gamma": ["scale"]}

#: The three systems of the comparison.
SYSTEMS: tuple[str, ...] = ("semgru", "standard_gru", "handcrafted")
#: Systems beyond the paper, run only when named in ``EvaluationConfig.systems`` (see the module docstring).
OPTIONAL_SYSTEMS: tuple[str, ...] = ("fusion",)



@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of the cross-validation protocol (defaults: the paper's, Section V-B).

    The GRU settings are those of :class:`~semgru_keras.presets.TrainingSettings`, with its
    defaults (:data:`~semgru_keras.presets.PAPER`); :attr:`training` returns them as one
    object. ``n_folds`` and ``epochs`` follow the ``"full"`` mode and :meth:`quick` the
    ``"quick"`` mode of :data:`~semgru_keras.presets.MODES`.

    Parameters
    ----------
    n_folds : int
        Outer folds (paper: 10).
    epochs, batch_size, crop_length, crops_per_song, units, learning_rate, rho, init_stddev, reset_after, standardize
        The GRU training settings (:class:`~semgru_keras.presets.TrainingSettings`).
    seed : int
        Seeds the folds, the inner searches and every network (fold ``f`` uses ``seed + f``).
    inner_folds : int
        Folds of the inner hyper-parameter search (on the training folds only).
    systems : tuple of str
        Subset of :data:`SYSTEMS` to run, plus any of :data:`OPTIONAL_SYSTEMS` (``"fusion"``
        needs ``"semgru"`` and ``"handcrafted"`` too).
    feature_groups : tuple of str
        Hand-crafted groups to evaluate (each alone and all together, "combined").
    svr_grid, svc_grid : dict
        SVR / SVM parameter grids (keys ``C``, ``gamma``, ``epsilon``).
    embed_length : int or None
        Semantic Embedding GRU features of the whole song (``None``, Eq. 11) or of its
        middle ``embed_length`` vectors (see :class:`~semgru_keras.embedder.SemanticEmbedder`).
    gram : str
        Gram target of the Semantic Embedding loss (:data:`~semgru_keras.losses.GRAM_VARIANTS`;
        ``"cosine"``: the paper's Eq. 13).
    n_seeds : int
        Semantic Embedding GRUs per fold (paper: 1). With ``k`` > 1, fold ``f`` trains ``k``
        networks seeded ``seed + f`` … ``seed + f + k − 1`` and the SVR/SVM (and ``fusion``)
        gets their features side by side (``k · units[-1]`` values; the networks' feature
        bases are unrelated, so they are concatenated, never averaged).
    class_coding : {"auto", "onehot"}
        Annotation vectors for classes in the semantic embedding: ``"auto"`` uses the
        valence–arousal corners of :data:`~semgru_keras.vocabulary.QUADRANT_CORNERS` when
        the classes are the four quadrants (the paper's Last.fm coding), else one-hot.
    use_groups : bool or None
        Keep songs that share a group (``ds.groups``: an artist, a recording) in the same
        fold. ``None``: whenever groups repeat; ``True``: always; ``False``: never (songs of
        one group may then be in a training and a test fold). Grouping is never dropped
        silently: groups that cannot be honoured (fewer groups than folds, an empty fold,
        training folds with fewer groups than ``inner_folds``) raise an error naming the
        options, and the grouping used is recorded (``CVResults.grouping``).
    duplicates : {"auto", "fingerprint", "content"}
        How :func:`~semgru_keras.evaluation.cross_validate_dataset` finds one recording
        under several names before the folds are made (their songs then share a group):
        :data:`semgru_keras.data.grouping.METHODS`.
    n_boot : int
        Bootstrap resamples for the confidence intervals.
    n_jobs : int
        Parallel jobs of the inner grid searches.
    verbose : int
        Keras ``fit`` verbosity of the networks (0 silent).
    """

    n_folds: int = MODES["full"]["n_folds"]
    epochs: int = MODES["full"]["epochs"]
    batch_size: int = PAPER.batch_size
    crop_length: int = PAPER.crop_length
    crops_per_song: int = PAPER.crops_per_song
    units: tuple[int, ...] = PAPER.units
    learning_rate: float = PAPER.learning_rate
    rho: float = PAPER.rho
    init_stddev: float | None = PAPER.init_stddev
    reset_after: bool = PAPER.reset_after
    standardize: bool = PAPER.standardize
    seed: int = PAPER.seed
    inner_folds: int = 3
    systems: tuple[str, ...] = SYSTEMS
    feature_groups: tuple[str, ...] = FEATURE_GROUPS
    svr_grid: Mapping[str, Sequence] = field(default_factory=lambda: dict(SVR_GRID))
    svc_grid: Mapping[str, Sequence] = field(default_factory=lambda: dict(SVC_GRID))
    embed_length: int | None = None
    gram: str = "cosine"
    n_seeds: int = 1
    class_coding: str = "auto"
    use_groups: bool | None = None
    duplicates: str = "auto"
    n_boot: int = 1000
    n_jobs: int = 1
    verbose: int = PAPER.verbose

    def __post_init__(self):
        object.__setattr__(self, "units", tuple(int(u) for u in self.units))
        object.__setattr__(self, "systems", tuple(self.systems))
        object.__setattr__(self, "feature_groups", tuple(self.feature_groups))
        unknown = set(self.systems) - set(SYSTEMS) - set(OPTIONAL_SYSTEMS)
        if unknown:
            raise ValueError(f"unknown systems {sorted(unknown)}; choose from {SYSTEMS + OPTIONAL_SYSTEMS}")
        if "fusion" in self.systems and not {"semgru", "handcrafted"} <= set(self.systems):
            raise ValueError("the 'fusion' system reuses the 'semgru' features and the 'handcrafted' ones: "
                             "add both to systems")
        if self.gram not in GRAM_VARIANTS:
            raise ValueError(f"unknown gram {self.gram!r}; choose from {sorted(GRAM_VARIANTS)}")
        unknown = set(self.feature_groups) - set(FEATURE_GROUPS)
        if unknown:
            raise ValueError(f"unknown feature groups {sorted(unknown)}; choose from {FEATURE_GROUPS}")
        if self.n_seeds < 1:
            raise ValueError(f"n_seeds must be at least 1, got {self.n_seeds}")
        if self.n_folds < 2 or self.inner_folds < 2:
            raise ValueError("n_folds and inner_folds must be at least 2")
        if self.class_coding not in ("auto", "onehot"):
            raise ValueError(f"class_coding must be 'auto' or 'onehot', got {self.class_coding!r}")
        if self.duplicates not in ("auto", "fingerprint", "content"):
            raise ValueError(f"duplicates must be 'auto', 'fingerprint' or 'content', got {self.duplicates!r}")

    @classmethod
    def quick(cls, **overrides) -> EvaluationConfig:
        """Demo preset: the folds and epochs of the ``"quick"`` mode (:data:`~semgru_keras.presets.MODES`,
        as ``semgru_keras.run``), small SVR/SVM grids, 200 bootstrap draws; the tests use it with fewer
        epochs."""
        settings = dict(MODES["quick"], n_boot=200, svr_grid=dict(QUICK_SVR_GRID), svc_grid=dict(QUICK_SVC_GRID))
        settings.update(overrides)
        return cls(**settings)

    def to_dict(self) -> dict:
        """JSON-friendly dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        d["svr_grid"] = {k: list(v) for k, v in self.svr_grid.items()}
        d["svc_grid"] = {k: list(v) for k, v in self.svc_grid.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> EvaluationConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def training(self) -> TrainingSettings:
        """The GRU training settings of this protocol (seeded with ``seed``)."""
        return TrainingSettings(**{name: getattr(self, name) for name in TrainingSettings.names()})

    def network_params(self, seed: int) -> dict:
        """Keyword arguments shared by :class:`SemanticEmbedder` and :class:`StandardGRU` (seeded with ``seed``)."""
        return dataclasses.replace(self.training, seed=seed).to_dict()


def class_vectors_for(classes, coding: str = "auto") -> dict | None:
    """Annotation vectors of class labels for the semantic embedding (Section V-A).

    Returns the valence–arousal corners (:data:`QUADRANT_CORNERS`) when ``classes`` are the
    four quadrants (``happy/angry/sad/relaxed`` or ``Q1``–``Q4``, any case) and
    ``coding="auto"``; otherwise ``None``, which means one-hot vectors.
    """
    if coding == "onehot":
        return None
    vectors = {}
    for c in classes:
        key = CLASS_ALIASES.get(str(c).strip().lower())
        if key is None:
            return None
        vectors[c] = QUADRANT_CORNERS[key]
    if len(set(vectors.values())) != len(vectors):
        return None
    return vectors


def _use_groups(groups, n: int, n_folds: int, use_groups: bool | None) -> bool:
    """Whether the folds keep groups together (see :class:`EvaluationConfig` ``use_groups``).

    Raises ``ValueError`` naming the options when the groups cannot fill ``n_folds`` folds.
    """
    if groups is None or use_groups is False:
        return False
    n_unique = len(np.unique(np.asarray(groups)))
    if use_groups is None and n_unique == n:
        return False  # every song its own group: nothing to keep together
    if n_unique < n_folds:
        raise ValueError(
            f"{n} songs in {n_unique} groups cannot fill {n_folds} folds with each group in one fold; options: "
            f"n_folds={n_unique} or fewer, or use_groups=False (a group's songs may then be in training and test "
            f"folds, which inflates the scores)")
    return True


def describe_grouping(groups, n: int, config: EvaluationConfig) -> dict:
    """The grouping the protocol uses, for the record (``CVResults.grouping``)."""
    grouped = _use_groups(groups, n, config.n_folds, config.use_groups)
    n_groups = len(np.unique(np.asarray(groups))) if groups is not None else n
    return {"use_groups": config.use_groups, "grouped": grouped, "n_groups": int(n_groups if grouped else n),
            "n_songs": int(n)}


def _splitter(classification: bool, n_splits: int, seed: int, grouped: bool):
    if grouped:
        cls = StratifiedGroupKFold if classification else GroupKFold
    else:
        cls = StratifiedKFold if classification else KFold
    try:
        return cls(n_splits=n_splits, shuffle=True, random_state=seed)
    except TypeError:  # GroupKFold shuffles only since scikit-learn 1.6
        return cls(n_splits=n_splits)


def make_folds(y, n_folds: int = 10, seed: int = 0, groups=None, use_groups: bool | None = None,
               inner_folds: int | None = None) -> np.ndarray:
    """Assign every song to one outer fold; returns the fold index per song, shape ``(n,)``.

    Shuffled with ``seed``; stratified by class for 1-D labels; songs sharing a group stay
    together when groups are used (see :class:`EvaluationConfig` ``use_groups``).

    Raises
    ------
    ValueError
        Naming the options, when the groups cannot be honoured: fewer groups than folds, a
        fold left empty, or (with ``inner_folds``) a fold's training songs in fewer groups
        than the inner search has folds.
    """
    y = np.asarray(y)
    grouped = _use_groups(groups, len(y), n_folds, use_groups)
    splitter = _splitter(is_classification_target(y), n_folds, seed, grouped)
    folds = np.full(len(y), -1, dtype=np.int64)
    strat = y if is_classification_target(y) else np.zeros(len(y))
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(y)), strat, groups if grouped else None)):
        folds[test] = f
    if grouped:
        groups = np.asarray(groups)
        sizes = np.bincount(folds[folds >= 0], minlength=n_folds)
        if (folds < 0).any() or (sizes == 0).any():
            raise ValueError(f"{len(np.unique(groups))} groups of sizes up to {np.unique(groups, return_counts=True)[1].max()} "
                             f"leave a fold empty ({n_folds} folds); options: fewer folds, or use_groups=False")
        for f in range(n_folds) if inner_folds else ():
            n_train = len(np.unique(groups[folds != f]))
            if n_train < inner_folds:
                raise ValueError(f"fold {f}: its training songs are in {n_train} groups, fewer than the "
                                 f"{inner_folds} inner folds; options: inner_folds={n_train} or fewer, fewer outer "
                                 f"folds, or use_groups=False")
    return folds


def _svm_search(task: str, grid: Mapping, inner_folds: int, seed: int, grouped: bool, n_jobs: int) -> GridSearchCV:
    if task == "regression":
        estimator = TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), SVR(kernel="rbf")), transformer=StandardScaler()
        )
        prefix, scoring = "regressor__svr__", "r2"
    else:
        estimator = make_pipeline(StandardScaler(), SVC(kernel="rbf"))
        prefix, scoring = "svc__", "accuracy"
    cv = _splitter(task != "regression", inner_folds, seed, grouped)
    param_grid = {prefix + k: list(v) for k, v in grid.items()}
    return GridSearchCV(estimator, param_grid, scoring=scoring, cv=cv, n_jobs=n_jobs, error_score="raise")


def fit_predict_svm(
    X_train,
    y_train,
    X_test,
    task: str,
    grid: Mapping,
    inner_folds: int = 3,
    seed: int = 0,
    groups=None,
    n_jobs: int = 1,
    return_decision: bool = False,
):
    """Fit an RBF SVR per target (regression) or one RBF SVM (classification); predict ``X_test``.

    Hyper-parameters come from a grid search with ``inner_folds``-fold cross-validation on
    the training data only (grouped when ``groups`` is given).

    Returns
    -------
    (predictions, best_params) or (predictions, best_params, decision)
        Predictions shaped like ``y_train``'s rows; one dict of chosen parameters per target.
        With ``return_decision=True`` also, for classification, ``(classes, values)``: the
        SVM's one-vs-one decision values of ``X_test``, ``(n_test, n_pairs)``, columns the
        pairs ``(a, b)`` of the sorted ``classes`` in libsvm's order (> 0 favours ``a``);
        ``None`` for regression. Probabilities are calibrated on them
        (:mod:`semgru_keras.calibration`).
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    grouped = groups is not None
    if task == "regression":
        y = np.asarray(y_train, dtype=np.float64)
        columns = y.reshape(len(y), -1)
        preds, params = [], []
        for j in range(columns.shape[1]):
            search = _svm_search(task, grid, inner_folds, seed, grouped, n_jobs)
            search.fit(X_train, columns[:, j], groups=groups)
            preds.append(search.predict(X_test))
            params.append(_plain_params(search.best_params_))
        out = np.stack(preds, axis=1)
        out = out[:, 0] if y.ndim == 1 else out
        return (out, params, None) if return_decision else (out, params)
    search = _svm_search(task, grid, inner_folds, seed, grouped, n_jobs)
    search.fit(X_train, np.asarray(y_train), groups=groups)
    pred, params = search.predict(X_test), [_plain_params(search.best_params_)]
    if not return_decision:
        return pred, params
    svc = search.best_estimator_[-1]
    svc.decision_function_shape = "ovo"  # read at decision time only; the vote above is unchanged
    decision = search.best_estimator_.decision_function(X_test)
    return pred, params, (np.asarray(svc.classes_), np.asarray(decision, dtype=np.float64).reshape(len(X_test), -1))


def _plain_params(params: Mapping) -> dict:
    return {k.rsplit("__", 1)[-1]: (v if isinstance(v, str) else float(v)) for k, v in params.items()}


def cross_validate(
    sequences: Sequence[np.ndarray] | None,
    targets,
    *,
    handcrafted: Mapping[str, np.ndarray] | None = None,
    config: EvaluationConfig | None = None,
    task: str | None = None,
    target_names: Sequence[str] | None = None,
    classes: Sequence | None = None,
    groups=None,
    ids=None,
    name: str = "dataset",
    progress: bool = True,
    n_jobs: int | None = 1,
    checkpoint_dir: str | os.PathLike | None = None,
) -> CVResults:
    """Run the three systems on the same outer folds and collect out-of-fold predictions.

    Parameters
    ----------
    sequences : list of arrays ``(t_i, 160)`` or None
        Input sequences of the GRUs (needed for ``semgru`` and ``standard_gru``).
    targets : array
        ``(n, k)`` annotation matrix (regression) or ``(n,)`` class labels.
    handcrafted : dict of str to array ``(n, d_g)``, optional
        Hand-crafted features per group (needed for ``handcrafted``); see
        :func:`~semgru_keras.handcrafted.stack_features`.
    config : EvaluationConfig
        Protocol settings (default: the paper's full protocol).
    task : {"regression", "classification"}, optional
        Inferred from ``targets`` when omitted.
    target_names : list of str, optional
        Names of the targets (regression).
    classes : list, optional
        Class order of tables and confusion matrices (classification; default sorted).
    groups : array (n,), optional
        Group of each song (see ``EvaluationConfig.use_groups``).
    ids : array (n,), optional
        Song identifiers (default ``0 … n−1``).
    name : str
        Dataset name (used in tables and figure folders).
    progress : bool
        Show a per-fold progress bar (tqdm, on stderr).
    n_jobs : int or None
        Worker processes for the outer folds (joblib's convention: ``-1`` = all cores;
        ``1`` runs them here, one after another). The folds are independent and seeded, so
        the results are the same either way; inside ``joblib.parallel_config(backend="dask")``
        they run on a Dask cluster (:mod:`semgru_keras.parallel`).
    checkpoint_dir : path, optional
        Save every finished outer fold under this folder and read back the folds a previous
        run with the same settings, data and code saved there (:mod:`semgru_keras.checkpoints`):
        an interrupted run resumes, with the results of an uninterrupted one.

    Returns
    -------
    CVResults
    """
    config = config or EvaluationConfig()
    y = np.asarray(targets)
    n = len(y)
    if task is None:
        task = "classification" if is_classification_target(y) else "regression"
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}")
    if task == "regression":
        y = y.astype(np.float64)
        if y.ndim == 1:
            y = y[:, None]
    needs_sequences = {"semgru", "standard_gru"} & set(config.systems)
    if needs_sequences:
        if sequences is None:
            raise ValueError(f"systems {sorted(needs_sequences)} need the input sequences")
        sequences = list(sequences)
        if len(sequences) != n:
            raise ValueError(f"{len(sequences)} sequences but {n} targets")
    if "handcrafted" in config.systems:
        if handcrafted is None:
            raise ValueError("the 'handcrafted' system needs hand-crafted features")
        handcrafted = {g: np.asarray(handcrafted[g], dtype=np.float64) for g in config.feature_groups}
        handcrafted["combined"] = np.concatenate([handcrafted[g] for g in config.feature_groups], axis=1)
        for g, h in handcrafted.items():
            if len(h) != n:
                raise ValueError(f"hand-crafted group {g!r} has {len(h)} rows for {n} songs")

    if task == "classification":
        present = np.unique(y)
        classes = list(present) if classes is None else [c for c in classes if c in set(present)]
        if len(classes) != len(present):
            raise ValueError(f"labels {sorted(set(present) - set(classes))} are missing from classes {classes}")
    else:
        classes = None
    if task == "classification":
        target_names = [str(c) for c in classes]
    elif target_names is None:
        target_names = [f"target{j}" for j in range(y.shape[1])]
    grouping = describe_grouping(groups, n, config)
    groups_arr = np.asarray(groups) if grouping["grouped"] else None
    folds = make_folds(y, config.n_folds, config.seed, groups_arr, use_groups=grouping["grouped"],
                       inner_folds=config.inner_folds)

    results = CVResults(
        name=str(name),
        task=task,
        target_names=list(target_names),
        classes=classes,
        ids=np.asarray(ids) if ids is not None else np.arange(n),
        y_true=y,
        folds=folds,
        config=config.to_dict(),
        grouping=grouping,
    )
    keys = []
    if "semgru" in config.systems:
        keys.append("semgru")
    if "standard_gru" in config.systems:
        keys.append("standard_gru")
    if "handcrafted" in config.systems:
        keys += [f"handcrafted_{g}" for g in (*config.feature_groups, "combined")]
    keys += [s for s in OPTIONAL_SYSTEMS if s in config.systems]
    for key in keys:
        results.predictions[key] = np.full(y.shape, np.nan) if task == "regression" else np.empty_like(y)
        results.train_indices[key] = []
        results.best_params[key] = []
        results.fit_seconds[key] = []
    if "semgru" in config.systems:
        results.n_features["semgru"] = config.units[-1] * config.n_seeds
    if "standard_gru" in config.systems:
        results.n_features["standard_gru"] = config.units[-1]
    if handcrafted is not None:
        for g, h in handcrafted.items():
            results.n_features[f"handcrafted_{g}"] = int(h.shape[1])
    if "fusion" in config.systems:
        results.n_features["fusion"] = results.n_features["semgru"] + results.n_features["handcrafted_combined"]

    class_vectors = class_vectors_for(classes, config.class_coding) if task == "classification" else None
    store = None
    if checkpoint_dir is not None:
        from .checkpoints import FoldStore, fold_key

        key = fold_key(config, task=task, y=y, folds=folds, sequences=sequences if needs_sequences else None,
                       handcrafted=handcrafted, groups=groups_arr, ids=results.ids, class_vectors=class_vectors)
        store = FoldStore(checkpoint_dir, key, say=_say)
    started = time.perf_counter()
    shared = (task, y, folds, config, sequences, handcrafted, class_vectors, groups_arr)
    resumed = store.done() if store is not None else []
    resumed = [f for f in resumed if f < config.n_folds]
    if resumed:
        _say(f"[{name}] resuming: folds {', '.join(str(f + 1) for f in resumed)} of {config.n_folds} read from "
             f"{store.path}")
    todo = [f for f in range(config.n_folds) if f not in resumed]
    outputs = [store.load(f) for f in resumed] if resumed else []
    bar = _progress(_map_folds(shared, todo, n_jobs), progress, f"{name}: folds", total=config.n_folds,
                    initial=len(resumed))
    shown = ("semgru", "standard_gru", "handcrafted_combined", "fusion")
    with _quiet_retracing():
        for out in bar:
            if store is not None:
                store.save(out)
            outputs.append(out)
            scores = {k: round(_score(results, k, out), 3) for k in shown if k in out["systems"]}
            if progress:
                bar.set_postfix(scores)
                elapsed = time.perf_counter() - started
                computed = len(outputs) - len(resumed)
                left = elapsed / computed * (config.n_folds - len(outputs))
                fold_s = sum(v[2] for v in out["systems"].values())
                _say(f"[{name}] fold {out['fold'] + 1}/{config.n_folds} done ({fold_s:.0f} s of fitting"
                     f"{'; saved' if store is not None else ''}): {len(outputs)}/{config.n_folds} folds, "
                     f"{_minutes(elapsed)} elapsed, about {_minutes(left)} left", bar)
    for out in sorted(outputs, key=lambda o: o["fold"]):  # in fold order: the record does not depend on timing
        _record_fold(results, out)
    results.wall_seconds = time.perf_counter() - started
    return results


def _map_folds(shared: tuple, folds: Sequence[int], n_jobs: int | None):
    """Fold outputs of ``folds``, each as soon as it is finished: here (``n_jobs=1``) or from joblib workers.

    Workers run whatever joblib backend is active (loky processes by default; Dask, Ray, …
    inside ``joblib.parallel_config(backend=...)``), each with its share of the CPU threads
    (:mod:`semgru_keras.parallel`). Outputs come in the order they finish, so a fold is saved
    (``checkpoint_dir``) the moment it is done.
    """
    import joblib

    from .parallel import WorkerSetup, resolve_jobs, run_in_worker

    folds = list(folds)
    n_workers = resolve_jobs(n_jobs, len(folds)) if folds else 1
    if n_workers == 1:
        return (_fold_outputs(f, *shared) for f in folds)
    import keras

    setup = WorkerSetup(backend=keras.backend.backend(), threads=max(1, joblib.cpu_count() // n_workers))
    parallel = joblib.Parallel(n_jobs=n_workers, return_as="generator_unordered")
    return parallel(joblib.delayed(run_in_worker)(setup, _fold_outputs, f, *shared) for f in folds)


def _say(message: str, bar=None) -> None:
    """A progress line: above the progress bar when there is one (tqdm), else on stdout."""
    if bar is not None and hasattr(bar, "write"):
        bar.write(message)
    else:
        print(message, flush=True)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@contextlib.contextmanager
def _quiet_retracing():
    """Silence TensorFlow's "triggered tf.function retracing" warnings (one per new batch shape)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fold_outputs(f: int, task: str, y, folds, config: EvaluationConfig, sequences, handcrafted, class_vectors,
                  groups) -> dict:
    """Train and evaluate every system on outer fold ``f``; a pure function of its arguments.

    Returns the fold's test/train indices and, per system, its predictions, chosen SVR/SVM
    parameters, wall time and per-stage wall times (training, embedding, SVR/SVM search,
    prediction), plus the SE-GRU features of the held-out songs and (classification) the
    SVMs' one-vs-one decision values of the held-out songs.
    """
    train = np.flatnonzero(folds != f)
    test = np.flatnonzero(folds == f)
    y_train = y[train]
    svm = dict(
        task=task,
        grid=config.svr_grid if task == "regression" else config.svc_grid,
        inner_folds=config.inner_folds,
        seed=config.seed + f,
        groups=None if groups is None else groups[train],
        n_jobs=config.n_jobs,
        return_decision=True,
    )
    out: dict = {"fold": f, "test": test, "train": train, "systems": {}, "decision": {}}

    def fit_svm(key: str, X_train, X_test):
        pred, params, decision = fit_predict_svm(X_train, y_train, X_test, **svm)
        if decision is not None:
            out["decision"][key] = decision
        return pred, params

    def stamp(stages: dict, stage: str, t0: float) -> float:
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - t0  # summed over an ensemble's networks
        return now

    if "semgru" in config.systems:
        stages: dict = {}
        t0 = t = time.perf_counter()
        learned = []
        for j in range(config.n_seeds):  # one network, seeded seed + f, unless an ensemble is asked for
            embedder = SemanticEmbedder(class_vectors=class_vectors, embed_length=config.embed_length,
                                        gram=config.gram, **config.network_params(config.seed + f + j))
            embedder.fit([sequences[i] for i in train], y_train)
            t = stamp(stages, "train", t)
            # One call for both sets: fewer distinct batch shapes, so fewer graph traces.
            learned.append(embedder.transform([sequences[i] for i in np.concatenate([train, test])]))
            t = stamp(stages, "embed", t)
        learned = np.concatenate(learned, axis=1)
        f_train, f_test = learned[: len(train)], learned[len(train) :]
        pred, params = fit_svm("semgru", f_train, f_test)
        stamp(stages, "svm", t)
        out["systems"]["semgru"] = (pred, params, time.perf_counter() - t0, stages)
        out["embedding"] = f_test
        if f == 0:
            out["projection"] = {"fold": 0, "train_index": train.copy(), "train_features": f_train.astype(np.float32)}

    if "standard_gru" in config.systems:
        stages = {}
        t0 = t = time.perf_counter()
        gru = StandardGRU(**config.network_params(config.seed + f))
        gru.fit([sequences[i] for i in train], y_train)
        t = stamp(stages, "train", t)
        pred = gru.predict([sequences[i] for i in test])
        stamp(stages, "predict", t)
        out["systems"]["standard_gru"] = (pred, [], time.perf_counter() - t0, stages)

    if "handcrafted" in config.systems:
        for g, h in handcrafted.items():
            t0 = time.perf_counter()
            pred, params = fit_svm(f"handcrafted_{g}", h[train], h[test])
            seconds = time.perf_counter() - t0
            out["systems"][f"handcrafted_{g}"] = (pred, params, seconds, {"svm": seconds})

    if "fusion" in config.systems:  # after the paper's systems, which it leaves as they are
        t0 = time.perf_counter()
        h = handcrafted["combined"]
        pred, params = fit_svm("fusion", np.concatenate([f_train, h[train]], axis=1),
                               np.concatenate([f_test, h[test]], axis=1))
        seconds = time.perf_counter() - t0
        out["systems"]["fusion"] = (pred, params, seconds, {"svm": seconds})
    return out


def _record_fold(results: CVResults, out: dict) -> None:
    """Write one fold's outputs (from :func:`_fold_outputs`) into ``results``."""
    test, train = out["test"], out["train"]
    for key, (pred, params, seconds, stages) in out["systems"].items():
        results.predictions[key][test] = pred
        results.train_indices[key].append(np.asarray(train).copy())
        results.best_params[key].append(params)
        results.fit_seconds[key].append(float(seconds))
        per_stage = results.stage_seconds.setdefault(key, {})
        for stage, value in stages.items():
            per_stage.setdefault(stage, []).append(float(value))
    results._ci_cache.clear()
    for key, (classes, values) in out.get("decision", {}).items():
        stored = results.decision_values.setdefault(key, np.full((len(results.y_true), values.shape[1]), np.nan))
        stored[test] = values
        results.decision_classes = [str(c) for c in classes]
    if "embedding" in out:
        f_test = out["embedding"]
        if results.embedding is None:
            results.embedding = np.full((len(results.y_true), f_test.shape[1]), np.nan, dtype=np.float32)
        results.embedding[test] = f_test
    if "projection" in out:
        results.projection = out["projection"]


def _score(results: CVResults, key: str, out: dict) -> float:
    """System ``key``'s score on the held-out songs of fold output ``out``."""
    fn = mean_pearson if results.task == "regression" else accuracy
    test = out["test"]
    try:
        return float(fn(results.y_true[test], np.asarray(out["systems"][key][0])))
    except ValueError:
        return float("nan")


def _progress(iterable, enabled: bool, desc: str, total: int | None = None, initial: int = 0):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="fold", total=total, initial=initial)
