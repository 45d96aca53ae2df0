"""Building the shipped model: numpy heads equal scikit-learn's, save/load without pickle, determinism, card."""

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV

from semgru_keras.data import load_dataset
from semgru_keras.protocol import EvaluationConfig, _svm_search
from semgru_keras.pretrain import RECIPE, _read_summary, build_pretrained, main, write_model_card
from semgru_keras.pretrained import RBFClassifier, RBFRegressor, TrainingSongs, load_pretrained, rbf_kernel

REPO = Path(__file__).resolve().parents[1]


def _data(seed=0, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X_new = 1.5 * rng.normal(size=(40, 6))  # partly outside the training range
    return rng, X, X_new


def test_rbf_kernel_matches_sklearn():
    from sklearn.metrics.pairwise import rbf_kernel as sk_rbf

    _, X, X_new = _data()
    np.testing.assert_allclose(rbf_kernel(X_new, X, 0.3), sk_rbf(X_new, X, gamma=0.3), rtol=0, atol=1e-12)


@pytest.mark.parametrize("gamma", ["scale", 0.05])
def test_rbf_regressor_reproduces_the_protocols_svr(gamma):
    rng, X, X_new = _data()
    y = 0.3 + 0.2 * np.tanh(X[:, 0] - X[:, 2]) + 0.05 * rng.normal(size=len(X))
    grid = {"C": [1.0, 10.0], "gamma": [gamma], "epsilon": [0.1, 0.5]}
    fitted = _svm_search("regression", grid, 3, 0, False, 1).fit(X, y).best_estimator_
    head = RBFRegressor.from_sklearn(fitted)
    np.testing.assert_allclose(head.predict(X_new), fitted.predict(X_new), rtol=0, atol=1e-6)
    again = RBFRegressor.from_arrays(head.to_arrays("svr0_"), "svr0_")
    np.testing.assert_array_equal(again.predict(X_new), head.predict(X_new))


def test_rbf_classifier_reproduces_svm_votes_and_calibrated_probabilities():
    rng, X, X_new = _data(1, 160)
    labels = np.array(["happy", "angry", "sad", "relaxed"])[(X[:, 0] + 0.3 * rng.normal(size=len(X)) > 0) * 1
                                                           + (X[:, 1] > 0) * 2]
    search = _svm_search("classification", {"C": [1.0, 10.0], "gamma": ["scale", 0.1]}, 3, 0, False, 1).fit(X, labels)
    calibrated = CalibratedClassifierCV(clone(search.best_estimator_), method="sigmoid", ensemble=False, cv=3)
    calibrated.fit(X, labels)
    head = RBFClassifier.from_sklearn(calibrated)
    pipeline = calibrated.calibrated_classifiers_[0].estimator
    np.testing.assert_array_equal(head.predict(X_new), pipeline.predict(X_new))
    np.testing.assert_allclose(head.decision_ovr(X_new), pipeline.decision_function(X_new), rtol=0, atol=1e-6)
    np.testing.assert_allclose(head.predict_proba(X_new), calibrated.predict_proba(X_new), rtol=0, atol=1e-6)
    again = RBFClassifier.from_arrays(head.to_arrays("svc_"), "svc_")
    np.testing.assert_array_equal(again.predict_proba(X_new), head.predict_proba(X_new))


def test_nearest_songs_are_ranked_by_cosine_similarity():
    feats = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    songs = TrainingSongs("toy", np.array(["a", "b", "c", "d"]), np.array(["A", "B", "C", "D"]), feats, np.zeros((4, 2)))
    top = songs.nearest(np.array([[2.0, 0.1]]), k=3)[0]
    assert [s["id"] for s in top] == ["a", "c", "b"]
    assert top[0]["similarity"] == pytest.approx(2.0 / np.hypot(2.0, 0.1))


# ---------------------------------------------------------------------------- a tiny model, end to end
TINY = dataclasses.replace(RECIPE, epochs=2, units=(8, 4), crop_length=20, batch_size=8,
                           svr_grid=EvaluationConfig.quick().svr_grid, svc_grid=EvaluationConfig.quick().svc_grid)


def _tiny_sets():
    return (load_dataset("synthetic-gems", n_songs=16, duration=3.0, seed=3),
            load_dataset("synthetic-quadrants", n_songs=16, duration=3.0, seed=3))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    gems, quads = _tiny_sets()
    model = build_pretrained(gems, quads, config=TINY, cache_dir=cache, progress=False)
    folder = model.save(tmp_path_factory.mktemp("model"))
    seqs = list(gems.sequences(cache_dir=cache, progress=False))[:5]
    return model, folder, seqs, cache


def _flat(predictions):
    return np.array([[*p.gems_unclipped.values(), *p.quadrant_probabilities.values()] for p in predictions])


@pytest.mark.slow
def test_saved_model_loads_without_unpickling_and_predicts_the_same(tiny, monkeypatch):
    model, folder, seqs, _ = tiny

    def refuse(*args, **kwargs):
        raise AssertionError("load_pretrained unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded = load_pretrained(folder)
    monkeypatch.undo()
    before, after = model.predict_sequences(seqs), loaded.predict_sequences(seqs)
    np.testing.assert_allclose(_flat(after), _flat(before), rtol=0, atol=1e-6)
    assert [p.quadrant for p in after] == [p.quadrant for p in before]
    assert [s["id"] for s in after[0].similar] == [s["id"] for s in before[0].similar]
    # the stored training features are what the loaded GRU computes for those songs
    np.testing.assert_allclose(after[0].features, loaded.gems_songs.features[0], atol=1e-5)
    assert loaded.info["training"]["gems"]["n_songs"] == 16 and loaded.classes[0] == "happy"


@pytest.mark.slow
def test_building_twice_gives_the_same_predictions(tiny):
    model, _, seqs, cache = tiny
    gems, quads = _tiny_sets()
    rebuilt = build_pretrained(gems, quads, config=TINY, cache_dir=cache, progress=False)
    np.testing.assert_allclose(_flat(rebuilt.predict_sequences(seqs)), _flat(model.predict_sequences(seqs)),
                               rtol=0, atol=1e-4)


@pytest.mark.slow
def test_model_card_states_data_recipe_and_that_synthetic_scores_are_not_measured(tiny, tmp_path):
    model, _, _, _ = tiny
    text = write_model_card(tmp_path, model.info).read_text()
    assert "synthetic-gems" in text and "not measured: trained on synthetic data" in text
    assert "Not the protocol's recipe" in text and "`epochs=2` (protocol: 100)" in text


@pytest.mark.slow
def test_model_card_reads_the_cross_validated_scores_from_results(tiny, tmp_path):
    model, _, _, _ = tiny
    summary = pd.read_csv(REPO / "results" / "emotify" / "summary.csv")
    expected = summary.loc[summary["system"] == "Semantic Embedding GRU + SVR", "mean Pearson r"].item()
    info = dict(model.info)
    info["training"] = {
        "gems": dict(info["training"]["gems"], dataset="emotify", source="emotify"),
        "quadrant": dict(info["training"]["quadrant"], dataset="quadrants", source="4q"),
    }
    score = _read_summary(REPO / "results" / "emotify")
    info["cv_scores"] = {"gems": score, "quadrant": _read_summary(tmp_path / "4q")}
    assert score["value"] == expected and len(score["per_target"]) == 10  # nine emotions + average
    text = write_model_card(tmp_path, info).read_text()
    assert f"**{expected:.3f}**" in text
    assert "quadrant — not yet measured (no `results/4q/summary.csv`" in text


@pytest.mark.slow
def test_card_only_rewrites_the_card_without_training(tiny, tmp_path, capsys):
    _, folder, _, _ = tiny
    (folder / "MODEL_CARD.md").unlink(missing_ok=True)
    assert main(["--card-only", "--out", str(folder), "--results-dir", str(tmp_path)]) == 0
    assert (folder / "MODEL_CARD.md").is_file() and "rewrote" in capsys.readouterr().out
