"""One home for the training hyperparameters and the quick/full rule (semgru_keras.presets)."""

import dataclasses
import inspect

import pytest

from semgru_keras import run
from semgru_keras.baselines import StandardGRU
from semgru_keras.embedder import SemanticEmbedder
from semgru_keras.model import build_feature_model, build_standard_gru
from semgru_keras.presets import MODES, PAPER, PAPER_FOLDS, TrainingSettings
from semgru_keras.protocol import EvaluationConfig
from semgru_keras.training import CropSequence, adadelta, train_model


def _defaults(fn) -> dict:
    return {n: p.default for n, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def test_the_paper_values_section_v_b():
    assert PAPER == TrainingSettings(units=(100, 50), epochs=100, batch_size=100, crop_length=100, learning_rate=1.0,
                                     rho=0.9, init_stddev=0.01, reset_after=False, standardize=True, seed=0, verbose=0)
    assert (MODES["full"]["epochs"], MODES["full"]["n_folds"]) == (PAPER.epochs, PAPER_FOLDS) == (100, 10)
    assert dict(MODES["quick"]) == {"epochs": 30, "n_folds": 3}


@pytest.mark.parametrize("fn", [SemanticEmbedder, StandardGRU, EvaluationConfig, train_model, build_feature_model,
                                build_standard_gru, CropSequence, adadelta])
def test_every_signature_takes_its_defaults_from_paper(fn):
    defaults = _defaults(fn)
    if fn in (build_feature_model, build_standard_gru):
        defaults.pop("seed")  # the bare builders are unseeded unless told
    shared = set(defaults) & set(TrainingSettings.names())
    assert shared, f"{fn.__name__} shares no setting with TrainingSettings"
    assert {n: defaults[n] for n in shared} == {n: getattr(PAPER, n) for n in shared}


def test_the_estimators_take_every_setting():
    for estimator in (SemanticEmbedder, StandardGRU):
        assert set(TrainingSettings.names()) <= set(estimator().get_params())
        settings = TrainingSettings.quick(units=[8, 4], seed=3)
        assert TrainingSettings.from_mapping(estimator(**settings.to_dict()).get_params()) == settings


def test_evaluation_config_holds_the_training_settings():
    config = EvaluationConfig.quick(epochs=2, units=[8, 4])
    assert config.training == TrainingSettings(epochs=2, units=(8, 4))
    assert config.network_params(5) == dataclasses.replace(config.training, seed=5).to_dict()
    assert set(EvaluationConfig().to_dict()) >= set(TrainingSettings.names())


def test_one_quick_full_rule():
    assert run.MODES is MODES
    quick = EvaluationConfig.quick()
    assert (quick.epochs, quick.n_folds) == (MODES["quick"]["epochs"], MODES["quick"]["n_folds"])
    assert TrainingSettings.quick().epochs == MODES["quick"]["epochs"]
    full = EvaluationConfig()
    assert (full.epochs, full.n_folds) == (MODES["full"]["epochs"], MODES["full"]["n_folds"])
    with pytest.raises(TypeError):
        MODES["quick"]["epochs"] = 1  # read-only: a notebook cannot change the rule for everyone
