"""Probabilities that mean what they say: calibrating the quadrant SVM on out-of-fold outputs.

An SVM gives decision values, not probabilities. Calibrating them on the songs the SVM was
trained on (or on inner folds whose features came from a GRU trained on every song, as
the first shipped model did) teaches the calibrator how the model behaves on songs it has
*seen*: its probabilities then claim far more than it knows about new music.

Here the calibrator learns from the protocol's **outer folds** instead
(:attr:`~semgru_keras.results.CVResults.decision_values`): each song's one-vs-one decision
values come from the fold model that never saw it, which is how the shipped model meets a
new song. The calibrator is a multinomial logistic regression on those values
(:class:`SoftmaxCalibrator`: ``p = softmax(W f + b)``, scikit-learn's
``LogisticRegression``), which also turns the pairwise margins into one probability per
class that sums to one.

How good the probabilities are is measured honestly too (:func:`calibration_report`):
the calibrator is *cross-fitted* over the same outer folds (fitted on the other folds'
songs, applied to the held-out fold's), and the figures are computed on those probabilities:

* expected calibration error (ECE; Guo et al. 2017): the top class's probability against
  how often the top class is right, in 10 equal-width bins, weighted by songs per bin, with
  a 95 % bootstrap interval over songs;
* the reliability table behind a reliability diagram (:func:`reliability_table`,
  :func:`semgru_keras.plots.reliability_diagram`);
* accuracy by confidence tercile (:func:`confidence_terciles`): useful confidence ranks
  right answers above wrong ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ovo_pairs",
    "ovo_vote",
    "SoftmaxCalibrator",
    "cross_fitted_proba",
    "expected_calibration_error",
    "reliability_table",
    "confidence_terciles",
    "calibration_report",
]


def ovo_pairs(classes: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs ``(a, b)`` of one-vs-one decision values, in libsvm's order (``a`` before ``b`` in ``classes``)."""
    classes = [str(c) for c in classes]
    return [(a, b) for i, a in enumerate(classes) for b in classes[i + 1 :]]


def ovo_vote(decision: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The class with most pairwise wins (> 0 favours ``a``; ties: the earlier class), as libsvm votes."""
    classes = np.asarray([str(c) for c in classes])
    index = {c: i for i, c in enumerate(classes)}
    votes = np.zeros((len(decision), len(classes)), dtype=np.int64)
    for p, (a, b) in enumerate(ovo_pairs(classes)):
        votes[:, index[a]] += decision[:, p] > 0
        votes[:, index[b]] += decision[:, p] <= 0
    return classes[np.argmax(votes, axis=1)]


@dataclass
class SoftmaxCalibrator:
    """``p(class | f) = softmax(W f + b)`` on one-vs-one decision values ``f``.

    Attributes
    ----------
    weights : ndarray (n_classes, n_pairs)
    bias : ndarray (n_classes,)
    classes : ndarray of str
        The probabilities' columns (and the order of the pairs, :func:`ovo_pairs`).
    """

    weights: np.ndarray
    bias: np.ndarray
    classes: np.ndarray

    @classmethod
    def fit(cls, decision, y, classes: Sequence[str], C: float = 1.0) -> SoftmaxCalibrator:
        """Fit on decision values ``(n, n_pairs)`` and labels ``y`` (multinomial logistic regression, L2 with ``C``)."""
        from sklearn.linear_model import LogisticRegression

        decision = np.asarray(decision, dtype=np.float64)
        classes = [str(c) for c in classes]
        y = np.asarray(y).astype(str)
        if decision.ndim != 2 or decision.shape[1] != len(ovo_pairs(classes)):
            raise ValueError(f"expected decision values of shape (n, {len(ovo_pairs(classes))}) for "
                             f"{len(classes)} classes, got {decision.shape}")
        missing, unknown = sorted(set(classes) - set(y)), sorted(set(y.tolist()) - set(classes))
        if missing or unknown:
            raise ValueError(f"every class must occur in y and y only holds classes {classes}; "
                             f"missing {missing}, unknown {unknown}")
        model = LogisticRegression(C=C, max_iter=5000).fit(decision, y)
        order = [list(model.classes_).index(c) for c in classes]
        return cls(np.asarray(model.coef_)[order], np.asarray(model.intercept_)[order], np.asarray(classes))

    def predict_proba(self, decision) -> np.ndarray:
        """Probabilities ``(n, n_classes)``, columns in :attr:`classes` order."""
        z = np.asarray(decision, dtype=np.float64) @ self.weights.T + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}weights": self.weights, f"{prefix}bias": self.bias,
                f"{prefix}classes": np.asarray(self.classes).astype(str)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> SoftmaxCalibrator:
        return cls(np.asarray(arrays[f"{prefix}weights"], dtype=np.float64),
                   np.asarray(arrays[f"{prefix}bias"], dtype=np.float64),
                   np.asarray(arrays[f"{prefix}classes"]).astype(str))


def cross_fitted_proba(decision, y, folds, classes: Sequence[str], C: float = 1.0) -> np.ndarray:
    """Probabilities of every song from a calibrator fitted on the *other* folds' songs."""
    decision = np.asarray(decision, dtype=np.float64)
    folds = np.asarray(folds)
    proba = np.full((len(decision), len(classes)), np.nan)
    for f in np.unique(folds):
        test = folds == f
        proba[test] = SoftmaxCalibrator.fit(decision[~test], np.asarray(y)[~test], classes, C).predict_proba(decision[test])
    return proba


def _top(proba, y, classes):
    proba = np.asarray(proba, dtype=np.float64)
    classes = np.asarray([str(c) for c in classes])
    confidence = proba.max(axis=1)
    correct = classes[np.argmax(proba, axis=1)] == np.asarray(y).astype(str)
    return confidence, correct


def expected_calibration_error(proba, y, classes: Sequence[str], n_bins: int = 10) -> float:
    """Top-label ECE: ``Σ_b (n_b / n) |accuracy_b − mean confidence_b|`` over ``n_bins`` equal-width bins."""
    table = reliability_table(proba, y, classes, n_bins)
    used = table[table["songs"] > 0]
    return float(np.sum(used["songs"] / used["songs"].sum() * np.abs(used["accuracy"] - used["mean confidence"])))


def reliability_table(proba, y, classes: Sequence[str], n_bins: int = 10) -> pd.DataFrame:
    """Per confidence bin (equal width on [0, 1]): songs, mean confidence of the top class, its accuracy."""
    confidence, correct = _top(proba, y, classes)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        pick = which == b
        rows.append({"bin low": edges[b], "bin high": edges[b + 1], "songs": int(pick.sum()),
                     "mean confidence": float(confidence[pick].mean()) if pick.any() else np.nan,
                     "accuracy": float(correct[pick].mean()) if pick.any() else np.nan})
    return pd.DataFrame(rows)


def confidence_terciles(proba, y, classes: Sequence[str]) -> pd.DataFrame:
    """Songs split into thirds by the top class's probability: range, songs, mean confidence, accuracy."""
    confidence, correct = _top(proba, y, classes)
    order = np.argsort(confidence, kind="stable")
    rows = []
    for name, part in zip(("lowest third", "middle third", "highest third"), np.array_split(order, 3)):
        rows.append({"tercile": name, "confidence from": float(confidence[part].min()),
                     "confidence to": float(confidence[part].max()), "songs": len(part),
                     "mean confidence": float(confidence[part].mean()), "accuracy": float(correct[part].mean())})
    return pd.DataFrame(rows).set_index("tercile")


def calibration_report(results, system: str = "semgru", n_bins: int = 10, C: float = 1.0, n_boot: int = 1000,
                       seed: int = 0) -> dict:
    """How honest the calibrated probabilities of ``system`` are, from a protocol run's out-of-fold outputs.

    Parameters
    ----------
    results : CVResults
        A classification run with ``decision_values[system]`` (:mod:`semgru_keras.protocol`).

    Returns
    -------
    dict (JSON-ready)
        ``ece`` with its bootstrap interval, ``accuracy`` of the most probable class and of the
        SVM vote, ``reliability`` and ``terciles`` tables (records), all on cross-fitted
        probabilities; ``n_songs``, ``n_bins``, ``C``.
    """
    if results.task != "classification" or system not in results.decision_values:
        raise ValueError(f"{results.name}: no out-of-fold decision values of {system!r} in this run "
                         f"(classification runs of this version of the protocol save them)")
    decision = np.asarray(results.decision_values[system], dtype=np.float64)
    classes = list(results.decision_classes)
    y = np.asarray(results.y_true).astype(str)
    if not np.all(np.isfinite(decision)):
        raise ValueError(f"{results.name}: {int((~np.isfinite(decision)).any(axis=1).sum())} songs lack decision values")
    proba = cross_fitted_proba(decision, y, results.folds, classes, C)
    rng = np.random.default_rng(seed)
    boots = [expected_calibration_error(proba[i], y[i], classes, n_bins)
             for i in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))]
    confidence, correct = _top(proba, y, classes)
    return {
        "system": system,
        "n_songs": int(len(y)),
        "n_folds": int(results.n_folds),
        "classes": classes,
        "method": "multinomial logistic regression on out-of-fold one-vs-one SVM decision values, "
                  "cross-fitted over the protocol's outer folds",
        "C": C,
        "n_bins": n_bins,
        "ece": expected_calibration_error(proba, y, classes, n_bins),
        "ece_ci": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "mean_confidence": float(confidence.mean()),
        "accuracy_most_probable": float(correct.mean()),
        "accuracy_svm_vote": float(np.mean(ovo_vote(decision, classes) == y)),
        "reliability": _records(reliability_table(proba, y, classes, n_bins)),
        "terciles": _records(confidence_terciles(proba, y, classes).reset_index()),
    }


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts, empty cells as ``None`` (valid JSON: never NaN)."""
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]
