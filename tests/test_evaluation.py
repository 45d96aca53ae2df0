"""The evaluation protocol end to end on the built-in demo data: tables, figures, no leakage.

Quick settings (3 folds, 3 epochs, small SVR/SVM grids, 6-second clips) keep this module
near two minutes on two CPU cores; most of it is Keras building and tracing 12 + 8 networks.
Each demo set is synthesised and its features computed once (module fixtures, shared cache).
"""

import hashlib

import numpy as np
import pandas as pd
import pytest

import semgru_keras.protocol as protocol
from semgru_keras.data import load_dataset
from semgru_keras.evaluation import CVResults, EvaluationConfig, cross_validate, evaluate
from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features, stack_features

pytestmark = pytest.mark.slow

#: Demo sets and their sizes: enough songs that chance-level scores are within the bounds
#: below with a wide margin (accuracy: ±0.1 is about 3 binomial standard deviations at 160).
DEMO = {"synthetic-gems": 80, "synthetic-quadrants": 160}
QUICK = dict(epochs=3, n_boot=200)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="module", params=list(DEMO))
def demo(request, cache_dir):
    """A demo data set with its features in the shared cache (computed once)."""
    ds = load_dataset(request.param, n_songs=DEMO[request.param], duration=6.0, seed=0)
    return ds, *_features(ds, cache_dir)


def _features(ds, cache_dir):
    sequences = ds.sequences(cache_dir=cache_dir, progress=False)
    handcrafted = stack_features(ds.map_audio(handcrafted_features, HANDCRAFTED_KEY, cache_dir=cache_dir, progress=False))
    return list(sequences), handcrafted


def test_quick_protocol_writes_tables_and_figures(demo, tmp_path, cache_dir):
    ds = demo[0]
    name, n = ds.name, len(ds)
    config = EvaluationConfig.quick(**QUICK)
    results = evaluate(ds, config=config, results_dir=tmp_path / "results", figures_dir=tmp_path / "figures",
                       cache_dir=cache_dir, progress=False)

    expected = {"semgru", "standard_gru", *(f"handcrafted_{g}" for g in
                                             ("dynamics", "rhythm", "harmony", "timbre", "combined"))}
    assert set(results.systems) == expected
    assert np.ptp(np.bincount(results.folds)) <= 8  # about n / 3 songs per fold
    for system in results.systems:
        assert len(results.train_indices[system]) == 3
        for f, train in enumerate(results.train_indices[system]):
            assert not set(train) & set(np.flatnonzero(results.folds == f))
        score = results.score(system)
        assert np.isfinite(score) and -1.0 <= score <= 1.0
    if ds.task == "classification":
        assert set(results.predictions["semgru"]) <= set(ds.classes)
        assert results.classes == ds.classes  # quadrant order, as the data set gives it
    else:
        assert results.predictions["semgru"].shape == ds.annotations.shape
    assert results.embedding.shape == (n, 50) and np.all(np.isfinite(results.embedding))

    out = tmp_path / "results" / name
    for file in ("results.json", "comparison.csv", "comparison.md", "summary.csv", "summary.md"):
        assert (out / file).is_file(), file
    table = pd.read_csv(out / "comparison.csv", index_col=0)
    assert any(c.startswith("published") for c in table.columns)
    assert len(table) == (10 if ds.task == "regression" else 7)
    loaded = CVResults.load(out / "results.json")
    assert loaded.score("semgru") == pytest.approx(results.score("semgru"))
    figures = sorted(p.name for p in (tmp_path / "figures" / name).glob("*.png"))
    extra = "per_emotion.png" if ds.task == "regression" else "confusion.png"
    assert figures == sorted(["scores.png", "projection.png", extra])


def _digest(array) -> str:
    return hashlib.sha1(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def test_shuffled_targets_score_at_chance_and_no_test_song_is_seen(demo, monkeypatch):
    ds, sequences, handcrafted = demo
    song_of = {_digest(s): i for i, s in enumerate(sequences)}
    row_of = {_digest(r): i for i, r in enumerate(handcrafted["timbre"])}
    assert len(song_of) == len(row_of) == len(ds)

    seen = {"semgru": [], "standard_gru": [], "handcrafted_timbre": []}

    class SpyEmbedder(protocol.SemanticEmbedder):
        def fit(self, X, y):
            seen["semgru"].append({song_of[_digest(x)] for x in X})
            return super().fit(X, y)

    class SpyGRU(protocol.StandardGRU):
        def fit(self, X, y):
            seen["standard_gru"].append({song_of[_digest(x)] for x in X})
            return super().fit(X, y)

    real_svm = protocol.fit_predict_svm

    def spy_svm(X_train, y_train, X_test, **kwargs):
        if np.shape(X_train)[1] == handcrafted["timbre"].shape[1] and _digest(X_train[0]) in row_of:
            seen["handcrafted_timbre"].append({row_of[_digest(r)] for r in X_train})
        return real_svm(X_train, y_train, X_test, **kwargs)

    monkeypatch.setattr(protocol, "SemanticEmbedder", SpyEmbedder)
    monkeypatch.setattr(protocol, "StandardGRU", SpyGRU)
    monkeypatch.setattr(protocol, "fit_predict_svm", spy_svm)

    targets = np.asarray(ds.targets)[np.random.default_rng(0).permutation(len(ds))]
    config = EvaluationConfig.quick(n_folds=2, **QUICK)  # two folds: fewer networks to train
    results = cross_validate(sequences, targets, handcrafted=handcrafted, config=config, task=ds.task,
                             target_names=ds.target_names if ds.task == "regression" else None,
                             classes=ds.classes, groups=ds.groups, name=ds.name + " (shuffled)", progress=False)

    # The learners never saw a song of the fold they predicted.
    for system, per_fold in seen.items():
        assert len(per_fold) == config.n_folds, system
        for f, songs in enumerate(per_fold):
            test = set(np.flatnonzero(results.folds == f))
            assert songs and not songs & test, system
            assert songs == set(results.train_indices[system][f])
    # Artists (ds.groups) stay within one fold.
    for g in np.unique(ds.groups):
        assert len(np.unique(results.folds[ds.groups == g])) == 1

    # With shuffled targets every system scores at chance.
    print(results.summary().iloc[:, :5].to_string())
    _, counts = np.unique(targets, return_counts=True)
    for system in results.systems:
        score = results.score(system)  # mean over the held-out folds
        if ds.task == "regression":
            assert abs(score) < 0.15, (system, score)
        else:
            assert abs(score - counts.max() / counts.sum()) < 0.1, (system, score)
