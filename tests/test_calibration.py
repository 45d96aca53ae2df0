"""Calibration on out-of-fold outputs: what the protocol saves, the calibrator, ECE, reliability, terciles."""

import json

import numpy as np
import pytest

from semgru_keras.calibration import (
    SoftmaxCalibrator,
    calibration_report,
    confidence_terciles,
    cross_fitted_proba,
    expected_calibration_error,
    ovo_pairs,
    ovo_vote,
    reliability_table,
)
from semgru_keras.protocol import EvaluationConfig, cross_validate
from semgru_keras.results import CVResults

CLASSES = ["angry", "happy", "relaxed", "sad"]


def _scores(n=2400, seed=0, noise=1.0):
    """Labels and one-vs-one 'decision values' that are informative but noisy."""
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, size=n)
    centre = {c: rng.normal(size=3) * 1.5 for c in CLASSES}
    latent = np.stack([centre[c] for c in y]) + noise * rng.normal(size=(n, 3))
    decision = np.stack([np.sum((latent - centre[b]) ** 2, 1) - np.sum((latent - centre[a]) ** 2, 1)
                         for a, b in ovo_pairs(CLASSES)], axis=1) / 4
    return decision, y


def test_the_protocol_keeps_out_of_fold_decision_values_that_give_its_votes(tmp_path):
    rng = np.random.default_rng(1)
    y = np.array(CLASSES)[rng.integers(0, 4, 80)]
    X = rng.normal(size=(80, 5)) + np.array([CLASSES.index(c) for c in y])[:, None] * 0.8
    config = EvaluationConfig.quick(n_folds=4, systems=("handcrafted",), feature_groups=("timbre",))
    res = cross_validate(None, y, handcrafted={"timbre": X}, config=config, progress=False)
    for key in ("handcrafted_timbre", "handcrafted_combined"):
        dec = res.decision_values[key]
        assert dec.shape == (80, 6) and np.all(np.isfinite(dec))
        np.testing.assert_array_equal(ovo_vote(dec, res.decision_classes), res.predictions[key])
    assert res.decision_classes == sorted(CLASSES)
    again = CVResults.load(res.save(tmp_path / "r.json"))
    np.testing.assert_array_equal(again.decision_values["handcrafted_timbre"], res.decision_values["handcrafted_timbre"])


def test_regression_runs_keep_no_decision_values():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    config = EvaluationConfig.quick(n_folds=3, systems=("handcrafted",), feature_groups=("timbre",))
    res = cross_validate(None, X[:, :2] + 0.1 * rng.normal(size=(40, 2)), handcrafted={"timbre": X}, config=config,
                         progress=False)
    assert res.decision_values == {} and res.decision_classes is None


def test_ece_by_hand():
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.45, 0.55]])
    y = ["a", "b", "a", "a"]
    # bins (0.9, 1.0]: 2 songs, confidence 0.95, accuracy 0.5; (0.5, 0.6]: 2 songs, 0.55, accuracy 0.5
    assert expected_calibration_error(proba, y, ["a", "b"]) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)
    table = reliability_table(proba, y, ["a", "b"])
    assert table["songs"].sum() == 4 and table.loc[9, "songs"] == 2 and table.loc[5, "songs"] == 2


def test_the_calibrator_turns_overconfident_scores_into_honest_probabilities():
    decision, y = _scores()
    naive = np.exp(3 * decision[:, :3] @ np.eye(3, 4) + 0)  # an arbitrary, uncalibrated squashing
    naive /= naive.sum(1, keepdims=True)
    folds = np.arange(len(y)) % 10
    proba = cross_fitted_proba(decision, y, folds, CLASSES)
    assert np.allclose(proba.sum(1), 1) and np.all(proba > 0)
    assert expected_calibration_error(proba, y, CLASSES) < 0.03
    assert expected_calibration_error(naive, y, CLASSES) > 0.1
    terciles = confidence_terciles(proba, y, CLASSES)
    assert list(terciles["songs"]) == [800, 800, 800]
    assert terciles["accuracy"].is_monotonic_increasing  # confidence ranks right answers above wrong ones


def test_calibrator_arrays_round_trip_and_refuse_wrong_inputs():
    decision, y = _scores(600, seed=3)
    cal = SoftmaxCalibrator.fit(decision, y, CLASSES)
    assert list(cal.classes) == CLASSES
    hit = np.argmax(cal.predict_proba(decision), 1)
    assert np.mean(np.array(CLASSES)[hit] == y) > 0.5  # columns are the classes named
    again = SoftmaxCalibrator.from_arrays(cal.to_arrays("cal_"), "cal_")
    np.testing.assert_array_equal(again.predict_proba(decision), cal.predict_proba(decision))
    with pytest.raises(ValueError, match="shape"):
        SoftmaxCalibrator.fit(decision[:, :4], y, CLASSES)
    with pytest.raises(ValueError, match=r"missing \['sad'\], unknown \['calm'\]"):
        SoftmaxCalibrator.fit(decision, np.where(y == "sad", "calm", y), CLASSES)


def test_report_from_a_run_is_json_without_nan_and_refuses_a_run_without_decision_values():
    decision, y = _scores(400, seed=4, noise=2.0)
    res = CVResults(name="toy", task="classification", target_names=CLASSES, classes=CLASSES, ids=np.arange(400),
                    y_true=y, folds=np.arange(400) % 5, predictions={"semgru": ovo_vote(decision, CLASSES)},
                    decision_values={"semgru": decision}, decision_classes=CLASSES)
    report = calibration_report(res, n_boot=50)
    text = json.dumps(report, allow_nan=False)
    assert "NaN" not in text and report["ece_ci"][0] <= report["ece"] <= report["ece_ci"][1] + 1e-12
    assert report["accuracy_svm_vote"] == pytest.approx(np.mean(ovo_vote(decision, CLASSES) == y))
    assert sum(r["songs"] for r in report["reliability"]) == 400
    res.decision_values = {}
    with pytest.raises(ValueError, match="no out-of-fold decision values"):
        calibration_report(res)
