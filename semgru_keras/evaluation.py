"""The paper's evaluation in one call: :func:`evaluate` (load → protocol → record → tables and figures).

::

    from semgru_keras.evaluation import evaluate
    results = evaluate("emotify", root="../shared/data/emotify", n_jobs=-1)   # 10 folds, 100 epochs
    results = evaluate("synthetic-quadrants", quick=True)                    # 3 folds, 30 epochs

The pieces live one level down, each in its own module: the protocol (settings, folds,
inner SVR/SVM search, :func:`~semgru_keras.protocol.cross_validate`) in
:mod:`semgru_keras.protocol`, the record :class:`~semgru_keras.results.CVResults` in
:mod:`semgru_keras.results`, tables and figures in :mod:`semgru_keras.report`. The names
most used with :func:`evaluate` are importable from here too.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .data import slug
from .data.grouping import find_duplicates, merge_groups
from .handcrafted import HANDCRAFTED_KEY, handcrafted_features, stack_features
from .parallel import on_cluster
from .protocol import (
    QUICK_SVC_GRID,
    QUICK_SVR_GRID,
    SVC_GRID,
    SVR_GRID,
    SYSTEMS,
    EvaluationConfig,
    class_vectors_for,
    cross_validate,
    fit_predict_svm,
    make_folds,
)
from .report import save_figures, write_tables
from .results import CVResults, grouping_line

__all__ = [
    "evaluate",
    "cross_validate_dataset",
    "fold_groups",
    # from semgru_keras.protocol and semgru_keras.results, for convenience
    "EvaluationConfig",
    "CVResults",
    "cross_validate",
    "make_folds",
    "fit_predict_svm",
    "class_vectors_for",
    "SYSTEMS",
    "SVR_GRID",
    "SVC_GRID",
    "QUICK_SVR_GRID",
    "QUICK_SVC_GRID",
    "slug",
]


def fold_groups(ds, config: EvaluationConfig | None = None, *, cache_dir: str | os.PathLike | None = None,
                n_jobs: int = 1, progress: bool = True):
    """The groups the protocol's folds keep together: ``ds.groups`` (artists) joined with the songs that
    hold one recording (:func:`~semgru_keras.data.grouping.find_duplicates`, ``config.duplicates``).

    Returns ``(groups, duplicates)``; ``make_folds(targets, …, groups=groups)`` then gives the folds of
    :func:`cross_validate_dataset`.
    """
    config = config or EvaluationConfig()
    duplicates = find_duplicates(ds, config.duplicates, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    return merge_groups(ds.groups, duplicates.sets), duplicates


def cross_validate_dataset(
    ds,
    config: EvaluationConfig | None = None,
    *,
    feature_config=None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    shuffle_targets: bool = False,
    progress: bool = True,
    checkpoint_dir: str | os.PathLike | None = None,
) -> CVResults:
    """:func:`cross_validate` on a :class:`semgru_keras.data.Dataset`.

    Input sequences come from ``ds.sequences`` and hand-crafted features from
    ``ds.map_audio(handcrafted_features, key=HANDCRAFTED_KEY)``, both cached under
    ``cache_dir`` and computed with ``n_jobs`` processes; the outer folds run in ``n_jobs``
    worker processes too (see :func:`cross_validate`). ``shuffle_targets=True`` permutes
    the targets across songs (seeded): a null experiment in which every system must score
    at chance. ``checkpoint_dir`` saves every finished fold there and resumes from the
    folds a previous run saved (see :func:`cross_validate`).

    Before anything is computed, songs that hold one recording (identical content, or
    re-encoded copies by their Chromaprint fingerprints: ``config.duplicates``,
    :func:`~semgru_keras.data.grouping.find_duplicates`) join one group with the data set's
    own groups (artists), so no recording is in a training and a test fold. What was found,
    the grouping used and the data set's identity are recorded (``results.grouping``,
    ``results.data``) and, with ``progress``, printed.
    """
    config = config or EvaluationConfig()
    groups, duplicates = fold_groups(ds, config, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    extraction: dict = {}
    sequences = None
    if {"semgru", "standard_gru"} & set(config.systems):
        t0 = time.perf_counter()
        sequences = ds.sequences(config=feature_config, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress,
                                 min_length=config.crop_length)  # a short song is named before training
        extraction["input_sequences"] = [time.perf_counter() - t0]
    handcrafted = None
    if "handcrafted" in config.systems:
        t0 = time.perf_counter()
        per_song = ds.map_audio(handcrafted_features, key=HANDCRAFTED_KEY, cache_dir=cache_dir, n_jobs=n_jobs,
                                progress=progress)
        handcrafted = stack_features(per_song)
        extraction["handcrafted"] = [time.perf_counter() - t0]
    targets = np.asarray(ds.targets)
    if shuffle_targets:
        targets = targets[np.random.default_rng(config.seed).permutation(len(targets))]
    results = cross_validate(
        sequences,
        targets,
        handcrafted=handcrafted,
        config=config,
        task=ds.task,
        target_names=list(ds.target_names) if ds.task == "regression" else None,
        classes=getattr(ds, "classes", None) if ds.task == "classification" else None,
        groups=groups,
        ids=getattr(ds, "ids", None),
        name=ds.name + (" (shuffled targets)" if shuffle_targets else ""),
        progress=progress,
        n_jobs=n_jobs,
        checkpoint_dir=checkpoint_dir,
    )
    results.stage_seconds["extraction"] = extraction  # reading the cache, or computing what it lacks
    by = ds.group_by + (" + duplicate recordings" if duplicates.sets else "")
    results.grouping.update(by=by, duplicates=duplicates.to_dict(ds.ids))
    results.data = {"name": ds.name, **results.identity()}  # of the targets as evaluated (shuffled or not)
    if progress:
        print(f"{ds.name}: {grouping_line(results.grouping)}", flush=True)
    if sequences is not None:
        from .features import FeatureConfig

        results.feature_config = (feature_config or FeatureConfig()).to_dict()
    return results


def evaluate(
    dataset,
    *,
    root: str | os.PathLike | None = None,
    config: EvaluationConfig | None = None,
    quick: bool = False,
    results_dir: str | os.PathLike | None = "results",
    figures_dir: str | os.PathLike | None = "figures",
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    feature_config=None,
    progress: bool = True,
    dataset_options: Mapping | None = None,
    scheduler: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    **overrides,
) -> CVResults:
    """The full protocol in one call: load, cross-validate, write results, tables and figures.

    Parameters
    ----------
    dataset : str, path or Dataset
        A name for :func:`semgru_keras.data.load_dataset` (``"emotify"``,
        ``"synthetic-gems"``, ...), a path, or a loaded dataset.
    root : path, optional
        Data folder of a real dataset.
    config : EvaluationConfig, optional
        Default: the paper's protocol (10 folds, 100 epochs), or
        :meth:`EvaluationConfig.quick` with ``quick=True``.
    results_dir, figures_dir : path or None
        ``results.json`` and the tables go to ``<results_dir>/<dataset>/``, the PNG figures
        to ``<figures_dir>/<dataset>/``; ``None`` skips writing them.
    cache_dir, n_jobs, feature_config : optional
        Feature cache, worker processes (feature extraction and the outer folds; ``-1``:
        all cores) and the input representation
        (:class:`~semgru_keras.features.FeatureConfig`; see :func:`cross_validate_dataset`).
    progress : bool
        Progress bars (feature extraction, folds); ``False`` for quiet runs.
    dataset_options : dict, optional
        Extra keyword arguments of ``load_dataset``.
    scheduler : str, optional
        Address of a Dask scheduler (``"tcp://host:8786"``): the feature extraction and the
        folds then run on its workers (:func:`semgru_keras.parallel.on_cluster`); give
        ``n_jobs`` > 1. The numbers are those of a local run.
    checkpoint_dir : path, optional
        Save every finished outer fold under this folder; a rerun with the same settings,
        data and code reads them back and computes only the missing folds
        (:mod:`semgru_keras.checkpoints`), with the results of an uninterrupted run.
    **overrides
        Fields of :class:`EvaluationConfig` to change, e.g. ``n_folds=5, epochs=20``.

    Returns
    -------
    CVResults
    """
    base = config or (EvaluationConfig.quick() if quick else EvaluationConfig())
    config = dataclasses.replace(base, **overrides) if overrides else base
    if isinstance(dataset, (str, os.PathLike)):
        from .data import load_dataset

        dataset = load_dataset(dataset, root=root, **dict(dataset_options or {}))
    with on_cluster(scheduler):
        results = cross_validate_dataset(dataset, config, feature_config=feature_config, cache_dir=cache_dir,
                                         n_jobs=n_jobs, progress=progress, checkpoint_dir=checkpoint_dir)
    name = slug(results.name)
    t0 = time.perf_counter()
    if results_dir is not None:
        write_tables(results, Path(results_dir) / name)
    if figures_dir is not None:
        save_figures(results, Path(figures_dir) / name)
    results.stage_seconds["report"] = {"tables_and_figures": [time.perf_counter() - t0]}
    if results_dir is not None:
        results.save(Path(results_dir) / name / "results.json")
    return results
