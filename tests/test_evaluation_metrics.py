"""Figures of merit, folds, SVR/SVM search, tables and hand-crafted features (fast, no GRU training)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion

from semgru_keras.protocol import EvaluationConfig, class_vectors_for, fit_predict_svm, make_folds
from semgru_keras.report import comparison_table, to_markdown, write_tables
from semgru_keras.results import CVResults
from semgru_keras.handcrafted import FEATURE_GROUPS, feature_names, handcrafted_features, stack_features
from semgru_keras.metrics import (
    accuracy,
    bootstrap_ci,
    fold_average,
    fold_mean_std,
    mean_pearson,
    pearson_per_target,
)
from semgru_keras.report import PUBLISHED_TABLE_I, PUBLISHED_TABLE_II, save_figures
from semgru_keras.vocabulary import GEMS_EMOTIONS


# ----------------------------------------------------------------------------- metrics
def test_pearson_matches_scipy(rng):
    truth = rng.random((40, 9))
    pred = 0.5 * truth + rng.standard_normal((40, 9)) * np.linspace(0.05, 2.0, 9)
    expected = [scipy.stats.pearsonr(truth[:, j], pred[:, j])[0] for j in range(9)]
    np.testing.assert_allclose(pearson_per_target(truth, pred), expected, rtol=1e-12)
    assert mean_pearson(truth, pred) == pytest.approx(np.mean(expected), rel=1e-12)
    one = pearson_per_target(truth[:, 0], pred[:, 0])
    assert one.shape == (1,) and one[0] == pytest.approx(expected[0])


def test_pearson_of_a_constant_prediction_is_undefined(rng):
    truth = rng.random((20, 2))
    pred = np.column_stack([truth[:, 0] * 2 + 1, np.full(20, 0.3)])
    r = pearson_per_target(truth, pred)
    assert r[0] == pytest.approx(1.0) and np.isnan(r[1])
    assert mean_pearson(truth, pred) == pytest.approx(1.0)  # NaN targets are skipped
    with pytest.raises(ValueError, match="shape"):
        pearson_per_target(truth, pred[:, :1])


def test_accuracy_and_confusion_match_sklearn(rng):
    labels = np.array(["happy", "angry", "sad", "relaxed"])
    truth = labels[rng.integers(0, 4, 50)]
    pred = np.where(rng.random(50) < 0.6, truth, labels[rng.integers(0, 4, 50)])
    assert accuracy(truth, pred) == accuracy_score(truth, pred)
    results = _fake_results(truth, {"semgru": pred}, "classification", rng)
    np.testing.assert_array_equal(results.confusion("semgru"), sk_confusion(truth, pred, labels=results.classes))


def test_bootstrap_interval_brackets_the_estimate(rng):
    truth = rng.random((120, 3))
    pred = truth + 0.5 * rng.standard_normal((120, 3))
    low, high = bootstrap_ci(mean_pearson, truth, pred, n_boot=300, seed=1)
    assert low < mean_pearson(truth, pred) < high
    assert (low, high) == bootstrap_ci(mean_pearson, truth, pred, n_boot=300, seed=1)  # seeded
    lows, highs = bootstrap_ci(pearson_per_target, truth, pred, n_boot=300, seed=1)
    assert lows.shape == highs.shape == (3,) and np.all(lows < highs)
    labels = rng.integers(0, 2, 200)
    low, high = bootstrap_ci(accuracy, labels, labels, n_boot=100)
    assert low == high == 1.0


def test_fold_average_and_its_within_fold_bootstrap(rng):
    truth = rng.random((90, 2))
    pred = truth + rng.standard_normal((90, 2))
    folds = np.arange(90) % 3
    idx = [np.flatnonzero(folds == f) for f in range(3)]
    expected = np.mean([pearson_per_target(truth[i], pred[i]) for i in idx], axis=0)
    np.testing.assert_allclose(fold_average(pearson_per_target, truth, pred, idx), expected)
    low, high = bootstrap_ci(mean_pearson, truth, pred, n_boot=200, folds=folds)
    assert low < fold_average(mean_pearson, truth, pred, idx) < high


def test_pooled_r_is_biased_for_a_constant_predictor_and_the_fold_average_is_not(rng):
    # A "model" that predicts its training folds' mean (plus a whisper of noise): no skill.
    truth = rng.random((60, 1))
    folds = np.arange(60) % 10
    pred = np.array([truth[folds != f].mean() for f in folds])[:, None] + 1e-6 * rng.standard_normal((60, 1))
    results = _fake_results(truth, {"semgru": pred}, "regression", rng, names=["x"], n_folds=10)
    results.folds = folds
    assert results.score("semgru", pooled=True) < -0.3
    assert abs(results.score("semgru")) < 0.3


def test_fold_mean_std_matches_numpy():
    scores = np.array([0.4, 0.5, 0.9])
    assert fold_mean_std(scores) == pytest.approx((scores.mean(), scores.std(ddof=1)))
    mean, std = fold_mean_std([[0.1, np.nan], [0.3, 0.2]])
    np.testing.assert_allclose(mean, [0.2, 0.2])
    assert std[0] == pytest.approx(np.std([0.1, 0.3], ddof=1)) and np.isnan(std[1])


# ----------------------------------------------------------------------------- folds and SVR/SVM
def test_folds_are_stratified_seeded_and_grouped(rng):
    labels = np.repeat(["happy", "angry", "sad", "relaxed"], 30)
    folds = make_folds(labels, n_folds=3, seed=0)
    assert sorted(np.bincount(folds)) == [40, 40, 40]
    for f in range(3):
        assert sorted(np.unique(labels[folds == f], return_counts=True)[1]) == [10, 10, 10, 10]
    np.testing.assert_array_equal(folds, make_folds(labels, n_folds=3, seed=0))
    assert not np.array_equal(folds, make_folds(labels, n_folds=3, seed=1))
    groups = np.arange(120) // 4  # 30 "artists" of 4 songs
    grouped = make_folds(labels, n_folds=3, seed=0, groups=groups)
    for g in np.unique(groups):
        assert len(np.unique(grouped[groups == g])) == 1
    reg = make_folds(rng.random((50, 9)), n_folds=5, seed=0)
    assert sorted(np.bincount(reg)) == [10] * 5


def test_grouping_is_never_dropped_silently_and_is_recorded(rng, tmp_path):
    """Property 2 (issue 23): groups that can be honoured are (60 songs, 15 artists, 10 folds: before,
    grouping was switched off without a word); groups that cannot raise an error naming the options;
    the grouping used is in results.json and in the summary's note."""
    from semgru_keras.protocol import cross_validate
    from semgru_keras.report import write_tables
    from semgru_keras.results import CVResults

    labels = np.repeat(["happy", "angry", "sad", "relaxed"], 15)
    artists = np.arange(60) % 15  # every artist in all four quadrants
    folds = make_folds(labels, n_folds=10, seed=0, groups=artists)
    for a in range(15):
        assert len(np.unique(folds[artists == a])) == 1, f"artist {a} split across folds"
    assert len(np.unique(folds)) == 10
    few = np.arange(60) % 8
    with pytest.raises(ValueError, match=r"8 groups cannot fill 10 folds.*n_folds=8 or fewer, or use_groups=False"):
        make_folds(labels, n_folds=10, groups=few)
    with pytest.raises(ValueError, match=r"fewer than the 3 inner folds; options: inner_folds=2"):
        make_folds(labels, n_folds=3, groups=np.arange(60) % 3, inner_folds=3)
    assert len(np.unique(make_folds(labels, n_folds=10, groups=few, use_groups=False)[few == 0])) > 1  # asked for

    config = EvaluationConfig.quick(n_folds=5, systems=("handcrafted",), feature_groups=("dynamics",), n_boot=10)
    features = {"dynamics": rng.standard_normal((60, 3))}
    results = cross_validate(None, labels, handcrafted=features, config=config, groups=artists, progress=False)
    saved = CVResults.load(results.save(tmp_path / "results.json"))
    assert saved.grouping == {"use_groups": None, "grouped": True, "n_groups": 15, "n_songs": 60}
    assert "Folds grouped by group (15 groups of 60 songs" in (write_tables(saved, tmp_path)["summary.md"]).read_text()
    off = cross_validate(None, labels, handcrafted=features, config=dataclasses.replace(config, use_groups=False),
                         groups=artists, progress=False)
    assert off.grouping["grouped"] is False and off.grouping["use_groups"] is False


def test_svr_search_uses_training_data_only(rng):
    x = rng.standard_normal((80, 4))
    y = np.column_stack([x[:, 0], x[:, 1] ** 2]) + 0.1 * rng.standard_normal((80, 2))
    pred, params = fit_predict_svm(x[:60], y[:60], x[60:], "regression", EvaluationConfig.quick().svr_grid, seed=0)
    assert pred.shape == (20, 2) and len(params) == 2 and set(params[0]) == {"C", "gamma", "epsilon"}
    assert np.all(pearson_per_target(y[60:], pred) > 0.7)
    labels = np.where(x[:, 0] > 0, "happy", "sad")
    pred, params = fit_predict_svm(x[:60], labels[:60], x[60:], "classification", {"C": [1.0]}, seed=0)
    assert accuracy(labels[60:], pred) > 0.8 and params == [{"C": 1.0}]


def test_class_vectors_follow_the_quadrants():
    vectors = class_vectors_for(["Q1", "Q2", "Q3", "Q4"])
    assert vectors == {"Q1": (1.0, 1.0), "Q2": (-1.0, 1.0), "Q3": (-1.0, -1.0), "Q4": (1.0, -1.0)}
    assert class_vectors_for(["happy", "sad"])["sad"] == (-1.0, -1.0)
    assert class_vectors_for(["happy", "other"]) is None
    assert class_vectors_for(["happy", "sad"], coding="onehot") is None


def test_config_validates_and_round_trips():
    config = EvaluationConfig.quick(epochs=2, units=[8, 4])
    assert config.units == (8, 4) and config.n_folds == 3
    assert EvaluationConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown systems"):
        EvaluationConfig(systems=("semgru", "cnn"))


# ----------------------------------------------------------------------------- results, tables, figures
def _fake_results(y, predictions, task, rng, names=None, n_folds=3):
    y = np.asarray(y)
    n = len(y)
    folds = np.arange(n) % n_folds
    results = CVResults(
        name="fake-gems" if task == "regression" else "fake-quadrants",
        task=task,
        target_names=list(names) if names is not None else sorted(set(y.tolist())),
        classes=None if task == "regression" else sorted(set(y.tolist())),
        ids=np.arange(n),
        y_true=y,
        folds=folds,
        predictions=dict(predictions),
        train_indices={k: [np.flatnonzero(folds != f) for f in range(n_folds)] for k in predictions},
        fit_seconds={k: [1.0] * n_folds for k in predictions},
        n_features={k: 50 for k in predictions},
        config=EvaluationConfig.quick(n_boot=50).to_dict(),
    )
    dim = 8
    results.embedding = rng.standard_normal((n, dim)).astype("float32")
    train = np.flatnonzero(folds != 0)
    results.projection = {"fold": 0, "train_index": train, "train_features": rng.standard_normal((len(train), dim))}
    return results


def _gems_results(rng, n=60):
    truth = rng.dirichlet(np.ones(9), n).astype("float32")
    preds = {k: truth + s * rng.standard_normal(truth.shape) for k, s in
             (("semgru", 0.1), ("standard_gru", 0.3), ("handcrafted_timbre", 0.5), ("handcrafted_combined", 0.2))}
    return _fake_results(truth, preds, "regression", rng, names=GEMS_EMOTIONS)


def test_results_save_and_load(tmp_path, rng):
    results = _gems_results(rng)
    results.best_params = {"semgru": [[{"C": 1.0, "gamma": "scale", "epsilon": 0.1}]] * 3}
    loaded = CVResults.load(results.save(tmp_path / "r.json"))
    np.testing.assert_array_equal(loaded.y_true, results.y_true)
    assert loaded.y_true.dtype == results.y_true.dtype
    np.testing.assert_array_equal(loaded.projection["train_index"], results.projection["train_index"])
    assert loaded.best_params == results.best_params and loaded.config == results.config
    pd.testing.assert_frame_equal(loaded.summary(), results.summary())
    labels = np.array(["happy", "sad"] * 10)
    cls = _fake_results(labels, {"semgru": labels[::-1]}, "classification", rng)
    again = CVResults.load(cls.save(tmp_path / "c.json"))
    np.testing.assert_array_equal(again.predictions["semgru"], labels[::-1])
    assert again.classes == ["happy", "sad"]


def test_table_one_has_the_published_columns(rng):
    results = _gems_results(rng)
    table = comparison_table(results)
    assert list(table.index) == [e.replace("_", " ").capitalize() for e in GEMS_EMOTIONS] + ["Average"]
    published = [c for c in table.columns if c.startswith("published")]
    assert len(published) == 4 and all("not this dataset" in c for c in published)
    np.testing.assert_allclose(table[published[-1]], PUBLISHED_TABLE_I["Semantic Embedding GRU + SVR"])
    ours = "ours: Semantic Embedding GRU + SVR"
    np.testing.assert_allclose(table[ours].iloc[:9], results.per_target("semgru"))
    assert table.loc["Average", ours] == pytest.approx(results.score("semgru"))
    assert np.all(table[ours + " — 95% CI low"] <= table[ours]) and np.all(table[ours] <= table[ours + " — 95% CI high"])
    markdown = to_markdown(table)
    assert markdown.count("\n") == 12 and "[95% CI]" in markdown and "95% CI low" not in markdown


def test_table_two_and_written_files(tmp_path, rng):
    labels = np.array(["happy", "angry", "sad", "relaxed"])[rng.integers(0, 4, 80)]
    preds = {k: np.where(rng.random(80) < p, labels, labels[::-1]) for k, p in
             (("semgru", 0.8), ("standard_gru", 0.5), ("handcrafted_dynamics", 0.3), ("handcrafted_combined", 0.6))}
    results = _fake_results(labels, preds, "classification", rng)
    table = comparison_table(results)
    assert table.loc["Semantic Embedding GRU + SVM", "ours: accuracy"] == pytest.approx(results.score("semgru"))
    pub = "published (paper, Last.fm — not this dataset): accuracy"
    assert table.loc["Semantic Embedding GRU + SVM", pub] == PUBLISHED_TABLE_II.loc["Semantic Embedding GRU + SVM", "accuracy"]
    assert table.loc["Dynamics features + SVM", pub] == 0.372
    paths = write_tables(results, tmp_path / "tables")
    for name in ("comparison.csv", "comparison.md", "summary.csv", "summary.md", "confusion_semgru.csv"):
        assert paths[name].is_file()
    markdown = paths["comparison.md"].read_text()
    assert "ours: accuracy [95% CI]" in markdown and "published" in markdown and "Last.fm" in markdown
    np.testing.assert_allclose(pd.read_csv(paths["comparison.csv"], index_col=0)["ours: accuracy"], table["ours: accuracy"])
    figures = save_figures(results, tmp_path / "figures")
    assert set(figures) == {"scores", "confusion", "projection"}
    assert all(p.stat().st_size > 10_000 for p in figures.values())


def test_regression_figures(tmp_path, rng):
    figures = save_figures(_gems_results(rng), tmp_path)
    assert set(figures) == {"scores", "per_emotion", "projection"}
    assert all(p.is_file() for p in figures.values())


# ----------------------------------------------------------------------------- hand-crafted features
def test_handcrafted_features_have_fixed_sizes(rng):
    sr = 22050
    t = np.arange(3 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.standard_normal(len(t)))
    feats = handcrafted_features(y.astype("float32"), sr)
    names = feature_names()
    assert tuple(feats) == FEATURE_GROUPS
    for group, values in feats.items():
        assert values.shape == (len(names[group]),) and values.dtype == np.float32 and np.all(np.isfinite(values))
    assert [len(names[g]) for g in FEATURE_GROUPS] == [7, 5, 36, 50]
    silent = handcrafted_features(np.zeros(sr, "float32"), 44100)
    assert all(np.all(np.isfinite(v)) for v in silent.values())
    stacked = stack_features([feats, feats, silent])
    assert stacked["timbre"].shape == (3, 50)
    louder = handcrafted_features(2 * y.astype("float32"), sr)
    assert louder["dynamics"][0] == pytest.approx(2 * feats["dynamics"][0], rel=1e-3)  # RMS scales


def test_macro_f1_equals_scikit_learns():
    from sklearn.metrics import f1_score

    from semgru_keras.metrics import macro_f1

    rng = np.random.default_rng(0)
    for _ in range(100):
        t = rng.choice(["Q1", "Q2", "Q3", "Q4"], size=int(rng.integers(1, 40)))
        p = rng.choice(["Q1", "Q2", "Q3", "happy"], size=len(t))  # a class never true, one never predicted
        assert macro_f1(t, p) == pytest.approx(f1_score(t, p, average="macro", zero_division=0), abs=1e-12)
    assert macro_f1(["a", "a", "b"], ["a", "a", "a"]) == pytest.approx(0.4)  # F1(a) = 0.8, F1(b) = 0
