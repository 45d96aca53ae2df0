"""Figures of merit of the paper's tables, with the uncertainty the paper does not give.

- Regression (Table I): Pearson's correlation coefficient between predicted and true
  values, one per emotion, and their mean ("Average").
- Classification (Table II): accuracy; beside it macro-F1 (the mean of the per-class F1
  scores, what Panda et al. report for the 4Q set), which a majority-class guesser cannot
  inflate.

We add two views of uncertainty: the spread over cross-validation folds (mean ± std of
the per-fold scores) and a percentile bootstrap interval over songs on the pooled
out-of-fold predictions (:func:`bootstrap_ci`).

Per fold, then averaged. Our headline number is the figure of merit on each held-out fold,
averaged over the folds (as scikit-learn's ``cross_val_score`` reports it); its bootstrap
interval resamples songs within each fold (``bootstrap_ci(..., folds=...)``). The
alternative, one r over the pooled out-of-fold predictions of all folds, is reported as
well but is biased for weak predictors: each fold's predictions lean towards its training
folds' mean, which is anti-correlated with the held-out fold's mean, so a network that
predicts nearly a constant gets a clearly *negative* pooled r (we saw −0.14 with fold-wise
r ≈ 0 on the demo data). For accuracy the two agree up to fold-size weighting.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix

__all__ = [
    "pearson_per_target",
    "mean_pearson",
    "accuracy",
    "macro_f1",
    "bootstrap_ci",
    "fold_average",
    "fold_mean_std",
    "confusion_matrix",
]


def pearson_per_target(y_true, y_pred) -> np.ndarray:
    """Pearson's r between matching columns of ``y_true`` and ``y_pred``.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,) or (n, k)

    Returns
    -------
    ndarray, shape (k,)
        One coefficient per target (``(1,)`` for 1-D input). A column whose truth or
        prediction is constant has no defined correlation and gives ``nan``.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.ndim == 1:
        t, p = t[:, None], p[:, None]
    if t.shape[0] < 2:
        raise ValueError("Pearson's r needs at least two samples")
    t = t - t.mean(axis=0)
    p = p - p.mean(axis=0)
    denom = np.sqrt((t * t).sum(axis=0) * (p * p).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (t * p).sum(axis=0) / denom
    # Round-off can give a "constant" column a tiny variance; call those undefined too.
    tiny = (np.ptp(t, axis=0) <= 1e-12 * np.maximum(1.0, np.abs(t).max(axis=0))) | (
        np.ptp(p, axis=0) <= 1e-12 * np.maximum(1.0, np.abs(p).max(axis=0))
    )
    r[tiny] = np.nan
    return np.clip(r, -1.0, 1.0)


def mean_pearson(y_true, y_pred) -> float:
    """Mean of :func:`pearson_per_target` over targets (Table I's "Average"); NaNs skipped."""
    r = pearson_per_target(y_true, y_pred)
    return float(np.nanmean(r)) if np.any(np.isfinite(r)) else float("nan")


def accuracy(y_true, y_pred) -> float:
    """Fraction of correctly predicted labels (Table II); :func:`sklearn.metrics.accuracy_score`."""
    return float(accuracy_score(np.asarray(y_true), np.asarray(y_pred)))


def macro_f1(y_true, y_pred) -> float:
    """Unweighted mean over classes of the F1 score, as :func:`sklearn.metrics.f1_score` with
    ``average="macro", zero_division=0`` (the classes are those in ``y_true`` or ``y_pred``; a
    class never predicted scores 0). Counted with NumPy: the bootstrap calls it ~10⁴ times."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} true labels but {len(p)} predictions")
    classes, codes = np.unique(np.concatenate([t, p]), return_inverse=True)
    ct, cp = codes[: len(t)], codes[len(t):]
    k = len(classes)
    tp = np.bincount(ct[ct == cp], minlength=k).astype(np.float64)
    denom = np.bincount(ct, minlength=k) + np.bincount(cp, minlength=k)  # 2·tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
    return float(f1.mean())


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float | np.ndarray],
    y_true,
    y_pred,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    folds=None,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Percentile bootstrap interval of ``metric`` over songs.

    Songs (rows) are drawn with replacement ``n_boot`` times; the metric is recomputed on
    each resample and the ``(1 − level) / 2`` and ``(1 + level) / 2`` quantiles are
    returned. It measures the sampling uncertainty of the songs, not the variability of
    retraining the feature learner.

    Parameters
    ----------
    metric : callable ``(y_true, y_pred) -> float or ndarray``
        E.g. :func:`mean_pearson`, :func:`pearson_per_target` or :func:`accuracy`.
    y_true, y_pred : array-like, first axis = songs
    n_boot : int
        Number of resamples.
    seed : int
        Seed of the resampling.
    level : float
        Coverage of the interval (0.95).
    folds : array of int (n,), optional
        Cross-validation fold of each song. When given, songs are resampled *within* each
        fold and the statistic is the mean over folds of the per-fold metric (the
        fold-averaged figure of merit, see the module docstring); otherwise the metric of
        the whole (pooled) resample.

    Returns
    -------
    (low, high)
        Floats for a scalar metric, arrays for a vector-valued one (NaNs ignored).
    """
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} true values but {len(p)} predictions")
    rng = np.random.default_rng(seed)
    if folds is None:
        stats = np.array(
            [np.asarray(metric(t[idx], p[idx]), dtype=np.float64) for idx in rng.integers(0, len(t), (n_boot, len(t)))]
        )
    else:
        folds = np.asarray(folds)
        if len(folds) != len(t):
            raise ValueError(f"{len(folds)} fold indices for {len(t)} songs")
        members = [np.flatnonzero(folds == f) for f in np.unique(folds)]
        stats = np.array([fold_average(metric, t, p, [rng.choice(m, len(m)) for m in members]) for _ in range(n_boot)])
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():  # a target with no defined value in any resample gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(stats, [alpha, 1.0 - alpha], axis=0)
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def fold_average(metric: Callable, y_true, y_pred, fold_indices) -> float | np.ndarray:
    """Mean over folds (NaNs skipped) of ``metric`` on each fold's songs ``fold_indices[f]``."""
    t = np.asarray(y_true)
    p = np.asarray(y_pred)
    scores = np.array([np.asarray(metric(t[idx], p[idx]), dtype=np.float64) for idx in fold_indices])
    with warnings.catch_warnings():  # a fold where a target's r is undefined is skipped
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(scores, axis=0)
    return float(mean) if np.ndim(mean) == 0 else mean


def fold_mean_std(scores) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Mean and standard deviation (ddof = 1) of per-fold scores over folds (axis 0); NaNs skipped."""
    s = np.asarray(scores, dtype=np.float64)
    with warnings.catch_warnings():  # all-NaN columns and single folds give NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(s, axis=0)
        std = np.nanstd(s, axis=0, ddof=1) if s.shape[0] > 1 else np.full(s.shape[1:], np.nan)
    if s.ndim == 1:
        return float(mean), float(std)
    return mean, std
