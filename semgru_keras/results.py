"""The record of a cross-validation run: :class:`CVResults`, saved and loaded as one JSON file.

It holds what the protocol (:mod:`semgru_keras.protocol`) produced — out-of-fold
predictions per system, the folds, the chosen SVR/SVM parameters, wall times per stage,
the learned features of held-out songs — and computes the figures of merit from them
(:mod:`semgru_keras.metrics`): fold-averaged score, 95 % bootstrap interval, std over
folds, pooled score, confusion matrix. Tables and figures of a record are in
:mod:`semgru_keras.report`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .metrics import (
    accuracy,
    bootstrap_ci,
    confusion_matrix,
    fold_average,
    fold_mean_std,
    macro_f1,
    mean_pearson,
    pearson_per_target,
)

__all__ = ["CVResults", "CI_LOW", "CI_HIGH", "system_label", "data_identity", "grouping_line"]

#: Suffixes of the columns that hold a value's bootstrap interval (merged by ``report.to_markdown``).
CI_LOW, CI_HIGH = " — 95% CI low", " — 95% CI high"


def system_label(system: str, task: str) -> str:
    """Display name of a system key, worded as in the paper's tables."""
    learner = "SVR" if task == "regression" else "SVM"
    if system == "semgru":
        return f"Semantic Embedding GRU + {learner}"
    if system == "standard_gru":
        return "Standard GRU"
    if system == "fusion":
        return f"Learned + all hand-crafted features + {learner}"
    if system.startswith("handcrafted_"):
        group = system[len("handcrafted_") :]
        name = "All hand-crafted features (combined)" if group == "combined" else f"{group.capitalize()} features"
        return f"{name} + {learner}"
    return system


def data_identity(ids, targets) -> dict:
    """What identifies a data set's songs and annotations: ``{"n_songs", "annotations_sha256"}``.

    The SHA-256 covers the song ids in order and the targets (labels as text, annotations as
    float64 values and shape), so the same songs with the same annotations give the same
    checksum whatever machine or folder they are read from; a subset, a relabelled song or a
    shuffled annotation gives another.
    """
    ids = [str(i) for i in ids]
    y = np.asarray(targets)
    digest = hashlib.sha256("\x00".join(ids).encode())
    if y.dtype.kind in "USO":
        digest.update(b"\x01labels\x00" + "\x00".join(str(v) for v in y.ravel()).encode())
    else:
        digest.update(f"\x01values{y.shape}".encode() + np.ascontiguousarray(y, dtype="<f8").tobytes())
    return {"n_songs": len(ids), "annotations_sha256": digest.hexdigest()}


def grouping_line(grouping: dict) -> str:
    """One sentence on the folds' grouping (``CVResults.grouping``) and the duplicate recordings found;
    ``""`` for records that predate it."""
    if not grouping:
        return ""
    if grouping.get("grouped"):
        text = f"Folds grouped by {grouping.get('by', 'group')} ({grouping['n_groups']} groups of {grouping['n_songs']} songs"
        text += ", each group in one fold)"
    else:
        asked = " (use_groups=False)" if grouping.get("use_groups") is False else " (every song its own group)"
        text = f"Folds not grouped{asked}"
    dups = grouping.get("duplicates")
    if dups is not None:
        found = (f"{dups['n_sets']} recording(s) under several names ({dups['n_songs']} songs)" if dups["n_sets"]
                 else "no recording under several names")
        text += f"; duplicate check ({dups['method']}): {found}"
    return text + "."


@dataclass
class CVResults:
    """Everything a cross-validation run produced; saved and loaded as one JSON file.

    Attributes
    ----------
    name, task : str
        Dataset name and ``"regression"`` / ``"classification"``.
    target_names : list of str
        Targets (regression) or class names (classification).
    classes : list or None
        Class labels (classification).
    ids : ndarray (n,)
        Song identifiers.
    y_true : ndarray
        ``(n, k)`` annotations or ``(n,)`` labels, as evaluated (after any shuffling).
    folds : ndarray (n,)
        Outer fold of every song (the same folds for every system).
    predictions : dict of str to ndarray
        Out-of-fold predictions per system (keys: ``semgru``, ``standard_gru``,
        ``handcrafted_<group>``, ``handcrafted_combined``).
    train_indices : dict of str to list of ndarray
        Per system and fold, the song indices its learner was given for training.
    best_params : dict of str to list
        Per system and fold, the SVR/SVM parameters chosen by the inner search.
    fit_seconds : dict of str to list of float
        Per system and fold, wall time of training and predicting.
    stage_seconds : dict of str to dict of str to list of float
        Per system, stage (``train``, ``embed``, ``svm``, ``predict``) and fold, wall time;
        from :func:`cross_validate_dataset` and :func:`evaluate` also ``"extraction"``
        (``input_sequences``, ``handcrafted``) and ``"report"`` (``tables_and_figures``).
    n_features : dict of str to int
        Size of the feature vector each system uses (Table II's "Vector size").
    embedding : ndarray (n, d) or None
        Learned SE-GRU features of every song, computed by the model of the fold in which
        the song was held out (different folds' models have unrelated feature bases).
    projection : dict or None
        For one fold (``"fold"``): SE-GRU features of its training songs
        (``"train_index"``, ``"train_features"``) for the 2-D projection figure.
    decision_values : dict of str to ndarray
        Classification: per SVM system, the out-of-fold one-vs-one decision values of every
        song, ``(n, n_pairs)``, from the model of the fold that held it out; the material
        for calibrating probabilities on unseen songs (:mod:`semgru_keras.calibration`).
    decision_classes : list of str or None
        The classes whose pairs ``(a, b)``, ``a`` before ``b``, in libsvm's order, are the
        columns of ``decision_values`` (the SVM's sorted classes).
    feature_config : dict or None
        The :class:`~semgru_keras.features.FeatureConfig` of the input sequences
        (``to_dict()``), when the run recorded it.
    config : dict
        The :class:`EvaluationConfig` used.
    grouping : dict
        The grouping the folds kept (:func:`~semgru_keras.protocol.describe_grouping`):
        ``use_groups`` as asked, ``grouped``, ``n_groups``, ``n_songs``; from
        :func:`~semgru_keras.evaluation.cross_validate_dataset` also ``by`` (what a group is)
        and ``duplicates`` (the recordings found under several names,
        :meth:`semgru_keras.data.grouping.Duplicates.to_dict`). Empty in older records.
    data : dict
        The data set's identity (:func:`data_identity`: songs and a checksum of their ids
        and annotations), from :func:`~semgru_keras.evaluation.cross_validate_dataset`.
    wall_seconds : float
        Total wall time of the cross-validation.
    """

    name: str
    task: str
    target_names: list
    classes: list | None
    ids: np.ndarray
    y_true: np.ndarray
    folds: np.ndarray
    predictions: dict = field(default_factory=dict)
    train_indices: dict = field(default_factory=dict)
    best_params: dict = field(default_factory=dict)
    fit_seconds: dict = field(default_factory=dict)
    stage_seconds: dict = field(default_factory=dict)
    n_features: dict = field(default_factory=dict)
    embedding: np.ndarray | None = None
    projection: dict | None = None
    decision_values: dict = field(default_factory=dict)
    decision_classes: list | None = None
    feature_config: dict | None = None
    config: dict = field(default_factory=dict)
    grouping: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    wall_seconds: float = 0.0

    def __post_init__(self):
        self._ci_cache: dict = {}  # bootstrap intervals already computed (not saved)

    def identity(self) -> dict:
        """:func:`data_identity` of the evaluated songs and targets (also for records that predate ``data``)."""
        return data_identity(self.ids, self.y_true)

    # ---- scores ---------------------------------------------------------------------

    @property
    def systems(self) -> list[str]:
        """System keys with predictions, in run order."""
        return list(self.predictions)

    @property
    def n_folds(self) -> int:
        return int(self.folds.max()) + 1

    @property
    def metric_name(self) -> str:
        return "mean Pearson r" if self.task == "regression" else "accuracy"

    def _metric(self):
        return mean_pearson if self.task == "regression" else accuracy

    def _fold_indices(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.folds == f) for f in range(self.n_folds)]

    def score(self, system: str, pooled: bool = False) -> float:
        """The figure of merit: mean Pearson r over targets, or accuracy.

        Computed on each held-out fold and averaged over folds (the headline number); with
        ``pooled=True``, once on the out-of-fold predictions of all folds together (see
        :mod:`semgru_keras.metrics` for why the pooled r is biased for weak predictors).
        """
        if pooled:
            return self._metric()(self.y_true, self.predictions[system])
        return fold_average(self._metric(), self.y_true, self.predictions[system], self._fold_indices())

    def per_target(self, system: str, pooled: bool = False) -> np.ndarray:
        """Pearson r per target (regression), averaged over folds (or ``pooled``)."""
        if self.task != "regression":
            raise ValueError("per-target correlations are defined for regression only")
        if pooled:
            return pearson_per_target(self.y_true, self.predictions[system])
        return fold_average(pearson_per_target, self.y_true, self.predictions[system], self._fold_indices())

    def fold_scores(self, system: str, per_target: bool = False) -> np.ndarray:
        """The figure of merit on each held-out fold, shape ``(n_folds,)`` (or ``(n_folds, k)``)."""
        if per_target and self.task != "regression":
            raise ValueError("per-target scores are defined for regression only")
        fn = pearson_per_target if per_target else self._metric()
        return np.array([fn(self.y_true[idx], self.predictions[system][idx]) for idx in self._fold_indices()])

    def ci(self, system: str, per_target: bool = False, n_boot: int | None = None, seed: int | None = None):
        """95 % bootstrap interval ``(low, high)`` of :meth:`score` (or :meth:`per_target`).

        Songs are resampled within each fold (:func:`~semgru_keras.metrics.bootstrap_ci`).
        """
        fn = pearson_per_target if per_target else self._metric()
        n_boot = int(self.config.get("n_boot", 1000)) if n_boot is None else n_boot
        seed = int(self.config.get("seed", 0)) if seed is None else seed
        key = (system, per_target, n_boot, seed)
        if key not in self._ci_cache:  # tables and figures ask for the same intervals
            self._ci_cache[key] = bootstrap_ci(fn, self.y_true, self.predictions[system], n_boot=n_boot, seed=seed,
                                               folds=self.folds)
        return self._ci_cache[key]

    def macro_f1(self, system: str) -> tuple[float, float, float, float]:
        """Macro-F1 (classification): fold-averaged value, 95 % bootstrap interval (songs
        resampled within folds, as :meth:`ci`) and std over folds."""
        if self.task != "classification":
            raise ValueError("macro-F1 needs classes")
        folds = self._fold_indices()
        value = fold_average(macro_f1, self.y_true, self.predictions[system], folds)
        n_boot = int(self.config.get("n_boot", 1000))
        low, high = bootstrap_ci(macro_f1, self.y_true, self.predictions[system], n_boot=n_boot,
                                 seed=int(self.config.get("seed", 0)), folds=self.folds)
        _, std = fold_mean_std([macro_f1(self.y_true[i], self.predictions[system][i]) for i in folds])
        return value, low, high, std

    def confusion(self, system: str) -> np.ndarray:
        """Confusion matrix (rows: true class, columns: predicted) in the order of ``classes``."""
        if self.task != "classification":
            raise ValueError("a confusion matrix needs classes")
        return confusion_matrix(self.y_true, self.predictions[system], labels=self.classes)

    def summary(self, n_boot: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """One row per system: fold-averaged score, its 95 % bootstrap CI, std over folds,
        the pooled score, feature vector size and training time per fold."""
        rows = []
        for system in self.systems:
            low, high = self.ci(system, n_boot=n_boot, seed=seed)
            _, std = fold_mean_std(self.fold_scores(system))
            rows.append(
                {
                    "system": system_label(system, self.task),
                    self.metric_name: self.score(system),
                    self.metric_name + CI_LOW: low,
                    self.metric_name + CI_HIGH: high,
                    "std over folds": std,
                    f"pooled {self.metric_name}": self.score(system, pooled=True),
                    "vector size": self.n_features.get(system),
                    "seconds per fold": float(np.mean(self.fit_seconds.get(system, [np.nan]))),
                }
            )
            if self.task == "classification":
                f1, f1_low, f1_high, f1_std = self.macro_f1(system)
                rows[-1].update({"macro-F1": f1, "macro-F1" + CI_LOW: f1_low, "macro-F1" + CI_HIGH: f1_high,
                                 "macro-F1 std over folds": f1_std})
        return pd.DataFrame(rows).set_index("system")

    # ---- persistence ----------------------------------------------------------------

    def to_dict(self) -> dict:
        return {f.name: _to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping) -> CVResults:
        return cls(**{f.name: _from_json(d[f.name]) for f in dataclasses.fields(cls) if f.name in d})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the results as JSON (arrays keep their dtype); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CVResults:
        """Read results written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def _to_json(obj: Any):
    if isinstance(obj, np.ndarray):
        kind = obj.dtype.kind
        dtype = "str" if kind in "US" else ("object" if kind == "O" else obj.dtype.str)
        return {"__ndarray__": obj.tolist(), "dtype": dtype}
    if isinstance(obj, Mapping):
        return {str(k): _to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    return obj


def _from_json(obj: Any):
    if isinstance(obj, Mapping):
        if "__ndarray__" in obj:
            dtype = obj["dtype"]
            return np.array(obj["__ndarray__"], dtype=None if dtype == "object" else dtype)
        if "__float__" in obj:
            return float(obj["__float__"])
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj
