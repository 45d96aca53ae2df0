"""Issue 16's extended recipe: loss options, several crops per song, the fusion system, seed
ensembles and the experiment's paired table (experiments/extended.py)."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from semgru_keras.embedder import SemanticEmbedder
from semgru_keras.handcrafted import FEATURE_GROUPS
from semgru_keras.losses import GRAM_VARIANTS, CosineGramLoss, gram_loss, safe_l2_normalize
from semgru_keras.protocol import QUICK_SVR_GRID, EvaluationConfig, cross_validate
from semgru_keras.results import CVResults
from semgru_keras.training import CropSequence
from test_losses import reference_loss, value_and_grad

ROOT = Path(__file__).resolve().parents[1]


# ---- the loss options against NumPy ---------------------------------------------------


def reference_options(a, f, center=False, clip_negative=False, squared=False) -> float:
    """The option's definition in float64 NumPy: centre, normalise rows, clip, Frobenius."""

    def gram(x):
        x = np.asarray(x, np.float64)
        if center:
            x = x - x.mean(axis=0, keepdims=True)
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = np.where(norms > 1e-6, x / np.where(norms > 0, norms, 1.0), 0.0)
        g = x @ x.T
        return np.maximum(g, 0.0) if clip_negative else g

    total = np.sum((gram(f) - gram(a)) ** 2)
    return total if squared else np.sqrt(total)


@pytest.mark.parametrize("center,clip", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("batch,k,d", [(7, 9, 50), (31, 2, 5)])
def test_options_match_numpy(rng, center, clip, squared, batch, k, d):
    a = rng.random((batch, k)) + 0.01
    f = rng.standard_normal((batch, d))
    got = float(CosineGramLoss(squared=squared, center=center, clip_negative=clip)(a, f))
    assert got == pytest.approx(reference_options(a, f, center, clip, squared), rel=1e-4, abs=1e-5)
    assert got != pytest.approx(reference_loss(a, f, squared), rel=1e-3)  # the option changes the value


def test_relu_clips_negative_annotation_cosines_too(rng):
    # quadrant corners: happy (1, 1) and sad (−1, −1) have cosine −1; clipped, features at cosine ≤ 0 score 0
    a = np.array([[1.0, 1.0], [-1.0, -1.0]])
    f = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # orthogonal: cosine 0
    assert float(CosineGramLoss(clip_negative=True)(a, f)) == 0.0
    assert float(CosineGramLoss()(a, f)) == pytest.approx(np.sqrt(2.0), rel=1e-5)


def _eq13_as_before(y_true, y_pred, epsilon=1e-12):
    """CosineGramLoss.call before the options existed (commit dcc31e1), verbatim in keras.ops."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)

    def gram(x):
        x = safe_l2_normalize(x, epsilon)
        return ops.matmul(x, ops.transpose(x))

    squared_norm = ops.sum(ops.square(gram(y_pred) - gram(y_true)))
    positive = squared_norm > epsilon
    return ops.where(positive, ops.sqrt(ops.where(positive, squared_norm, 1.0)), 0.0)


def test_default_is_eq13_bit_for_bit(rng):
    a = (rng.random((40, 9)) + 0.01).astype("float32")
    f = rng.standard_normal((40, 50)).astype("float32")
    before = ops.convert_to_numpy(_eq13_as_before(a, f))
    for loss in (CosineGramLoss(), gram_loss("cosine"), CosineGramLoss(center=False, clip_negative=False)):
        assert np.array_equal(ops.convert_to_numpy(loss(a, f)), before)
    assert float(before) == pytest.approx(reference_loss(a, f), rel=1e-4)


def test_gram_variants_and_unknown_names():
    assert GRAM_VARIANTS["cosine"] == {}
    assert gram_loss("centered").center and not gram_loss("centered").clip_negative
    assert gram_loss("relu").clip_negative and not gram_loss("relu").center
    with pytest.raises(ValueError, match="unknown gram 'cka'"):
        gram_loss("cka")
    with pytest.raises(ValueError, match="unknown gram"):
        EvaluationConfig(gram="cka")


@pytest.mark.parametrize("options", [dict(center=True), dict(clip_negative=True), dict(center=True, squared=True)])
def test_options_survive_serialisation(rng, options):
    loss = CosineGramLoss(**options)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.get_config() == loss.get_config()
    a, f = rng.random((6, 3)) + 0.1, rng.standard_normal((6, 4))
    assert float(restored(a, f)) == float(loss(a, f))


def test_a_config_saved_before_the_options_loads_as_eq13():
    old = {"name": "cosine_gram", "reduction": "sum_over_batch_size", "squared": False, "epsilon": 1e-12}
    loss = CosineGramLoss.from_config(old)
    assert (loss.center, loss.clip_negative) == (False, False)


@pytest.mark.parametrize("gram", ["centered", "relu"])
def test_option_gradients_finite(rng, gram):
    a = rng.random((6, 3)) + 0.1
    f = rng.standard_normal((6, 5))
    f[2] = f.mean(axis=0)  # after centring, a (near-)zero row
    value, grad = value_and_grad(gram_loss(gram), a, f)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    value, grad = value_and_grad(gram_loss(gram), a, np.zeros((6, 5)))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


# ---- several crops per song -----------------------------------------------------------


def test_one_crop_per_song_draws_as_the_paper_protocol(rng):
    seqs = [rng.standard_normal((int(n), 3)) for n in rng.integers(30, 60, 23)]
    data = CropSequence(seqs, np.ones((23, 2)), crop_length=20, batch_size=8, seed=5)
    draw = np.random.default_rng(5)  # the protocol's draws: a song order, then one start per song
    order = draw.permutation(23)
    starts = np.array([draw.integers(0, len(s) - 20 + 1) for s in seqs])
    assert np.array_equal(data.order, order) and np.array_equal(data.starts, starts)
    x, _ = data[0]
    assert np.array_equal(x, np.stack([seqs[i][starts[i]:starts[i] + 20] for i in order[:8]]).astype("float32"))


def test_four_crops_per_song(rng):
    seqs = [rng.standard_normal((int(n), 3)) for n in rng.integers(30, 60, 10)]
    targets = np.arange(20, dtype=float).reshape(10, 2)
    data = CropSequence(seqs, targets, crop_length=20, batch_size=8, seed=0, crops_per_song=4)
    assert len(data) == 5  # 40 crops in batches of 8
    seen = []
    for b in range(len(data)):
        x, y = data[b]
        songs = (y[:, 0] / 2).astype(int)  # target row i is (2i, 2i + 1)
        for crop, song in zip(x, songs):
            windows = np.lib.stride_tricks.sliding_window_view(seqs[song].astype("float32"), (20, 3))[:, 0]
            assert any(np.array_equal(crop, w) for w in windows)  # a crop of that very song
        seen += songs.tolist()
    assert np.bincount(seen).tolist() == [4] * 10
    with pytest.raises(ValueError, match="crops_per_song"):
        CropSequence(seqs, targets, crop_length=20, crops_per_song=0)


# ---- the protocol: fusion and seed ensembles ------------------------------------------

TINY = dict(n_folds=2, inner_folds=2, epochs=2, units=(8, 4), crop_length=10, batch_size=8, n_boot=20,
            svr_grid=dict(QUICK_SVR_GRID))


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(3)
    n = 24
    sequences = [rng.standard_normal((int(t), 6)).astype("float32") for t in rng.integers(20, 40, n)]
    targets = rng.random((n, 3)) + 0.05
    handcrafted = {g: rng.standard_normal((n, d)) for g, d in zip(FEATURE_GROUPS, (3, 2, 4, 5))}
    return sequences, targets, handcrafted


def _run(tiny_data, **settings):
    sequences, targets, handcrafted = tiny_data
    return cross_validate(sequences, targets, handcrafted=handcrafted, config=EvaluationConfig(**TINY, **settings),
                          progress=False)


@pytest.fixture(scope="module")
def paper_run(tiny_data):
    return _run(tiny_data)


@pytest.mark.slow
def test_fusion_leaves_the_paper_systems_unchanged(tiny_data, paper_run, monkeypatch):
    import semgru_keras.protocol as protocol

    widths = []
    original = protocol.fit_predict_svm

    def recording(X_train, *args, **kwargs):
        widths.append(np.asarray(X_train).shape[1])
        return original(X_train, *args, **kwargs)

    monkeypatch.setattr(protocol, "fit_predict_svm", recording)
    fused = _run(tiny_data, systems=("semgru", "standard_gru", "handcrafted", "fusion"))
    assert list(fused.predictions)[:-1] == list(paper_run.predictions) and fused.systems[-1] == "fusion"
    for key, pred in paper_run.predictions.items():
        np.testing.assert_array_equal(fused.predictions[key], pred, err_msg=key)
    np.testing.assert_array_equal(fused.embedding, paper_run.embedding)
    assert np.all(np.isfinite(fused.predictions["fusion"]))
    assert fused.n_features["fusion"] == 4 + 14
    # per fold: semgru (4), the four groups, combined (14), then fusion on both blocks (18)
    assert widths == [4, 3, 2, 4, 5, 14, 18] * 2
    assert not np.allclose(fused.predictions["fusion"], fused.predictions["handcrafted_combined"])


def test_fusion_needs_its_two_sources():
    with pytest.raises(ValueError, match="fusion"):
        EvaluationConfig(systems=("semgru", "fusion"))
    with pytest.raises(ValueError, match="unknown systems"):
        EvaluationConfig(systems=("semgru", "fused"))
    assert "fusion" not in EvaluationConfig().systems


@pytest.mark.slow
def test_seed_ensemble_concatenates_networks_seeded_seed_plus_fold_plus_j(tiny_data, paper_run):
    ensemble = _run(tiny_data, systems=("semgru",), n_seeds=2)
    assert ensemble.n_features["semgru"] == 8 and ensemble.embedding.shape == (24, 8)
    np.testing.assert_array_equal(ensemble.embedding[:, :4], paper_run.embedding)  # network j = 0 is the paper's
    assert not np.allclose(ensemble.embedding[:, 4:], paper_run.embedding)
    assert len(ensemble.stage_seconds["semgru"]["train"]) == 2  # one entry per fold, summed over networks


def test_loss_and_crop_options_reach_the_network(monkeypatch, rng):
    import semgru_keras.embedder as embedder

    seen = {}

    def fake_train(model, X, y, *, loss=None, **fit):
        seen.update(loss=loss, **fit)
        raise RuntimeError("stop")

    monkeypatch.setattr(embedder, "train_model", fake_train)
    config = EvaluationConfig(**TINY, gram="relu", crops_per_song=3)
    est = SemanticEmbedder(gram=config.gram, **config.network_params(7))
    with pytest.raises(RuntimeError, match="stop"):
        est.fit([rng.standard_normal((30, 6)) for _ in range(4)], rng.random((4, 3)) + 0.1)
    assert seen["loss"].get_config()["clip_negative"] and seen["crops_per_song"] == 3 and seen["seed"] == 7


def test_old_results_configs_still_load():
    config = json.loads((ROOT / "results" / "emotify" / "results.json").read_text())["config"]
    for key in ("gram", "crops_per_song", "n_seeds"):
        assert key not in config
    loaded = EvaluationConfig.from_dict(config)
    assert (loaded.gram, loaded.crops_per_song, loaded.n_seeds) == ("cosine", 1, 1)
    assert loaded.systems == ("semgru", "standard_gru", "handcrafted")


# ---- the experiment's table -----------------------------------------------------------


def _made_up(correct_per_fold, systems_correct: dict | None = None, folds=None) -> CVResults:
    """Classification records over two folds of ten songs, with a chosen number of correct
    predictions per fold and system."""
    y = np.array([0, 1] * 10)
    folds = np.repeat([0, 1], 10) if folds is None else folds
    res = CVResults(name="made-up", task="classification", target_names=["0", "1"], classes=[0, 1],
                    ids=np.arange(20), y_true=y, folds=folds, config={"n_boot": 50, "seed": 0})
    for system, per_fold in (systems_correct or {}).items():
        pred = 1 - y
        for f, k in enumerate(per_fold):
            idx = np.flatnonzero(folds == f)[:k]
            pred[idx] = y[idx]
        res.predictions[system] = pred
        res.fit_seconds[system] = [60.0, 120.0]
        res.n_features[system] = 4
    return res


def test_table_paired_deltas_and_folds_better(tmp_path):
    from experiments import extended

    base = _made_up(None, {"semgru": (6, 7), "standard_gru": (5, 5), "handcrafted_combined": (5, 5)})
    relu = _made_up(None, {"semgru": (8, 6)})
    fusion = _made_up(None, {"semgru": (6, 7), "handcrafted_combined": (5, 5), "fusion": (7, 7)})
    df = extended.comparison(base, {"relu_gram": relu, "fusion": fusion})
    assert df.loc["relu_gram", "accuracy"] == pytest.approx(0.7)
    assert df.loc["relu_gram", "Δ vs paper SE-GRU"] == pytest.approx((0.2 - 0.1) / 2)
    assert df.loc["relu_gram", "folds better than paper SE-GRU"] == "1/2"
    assert df.loc["relu_gram", "Δ vs hand-crafted"] == pytest.approx((0.3 + 0.1) / 2)
    assert df.loc["relu_gram", "folds better than hand-crafted"] == "2/2"
    assert df.loc["fusion", "Δ vs paper SE-GRU"] == pytest.approx((0.1 + 0.0) / 2)
    assert df.loc["fusion", "folds better than paper SE-GRU"] == "1/2"
    assert df.loc["fusion run: its paper SE-GRU", "Δ vs paper SE-GRU"] == 0.0
    assert df.loc["fusion run: its hand-crafted", "Δ vs hand-crafted"] == 0.0
    assert np.isnan(df.loc["protocol: paper SE-GRU", "Δ vs paper SE-GRU"])
    assert df.loc["relu_gram", "minutes per fold"] == pytest.approx(1.5)
    assert df.loc["fusion", "minutes per fold"] == pytest.approx(3.0)  # its own search + its SE-GRU
    low, high = df.loc["relu_gram", ["95 % CI low", "95 % CI high"]]
    assert low <= 0.7 <= high

    other_folds = _made_up(None, {"semgru": (8, 6)}, folds=np.tile([0, 1], 10))
    with pytest.raises(ValueError, match="relu_gram: its songs or folds differ"):
        extended.comparison(base, {"relu_gram": other_folds})

    (tmp_path / "made-up" / "extended").mkdir(parents=True)
    base.save(tmp_path / "made-up" / "results.json")
    relu.save(tmp_path / "made-up" / "extended" / "relu_gram.json")
    extended.write_table("made-up", out=tmp_path)
    text = (tmp_path / "made-up" / "extended.md").read_text()
    assert "relu_gram" in text and "fusion" not in text.split("|", 1)[1]
    assert (tmp_path / "made-up" / "extended.csv").is_file()


def test_every_variant_is_the_protocol_with_its_one_change():
    from experiments import extended

    base = json.loads((ROOT / "results" / "emotify" / "results.json").read_text())["config"]
    protocol = EvaluationConfig.from_dict(base)
    for name, (_, overrides, system) in extended.VARIANTS.items():
        config = extended.variant_config(base, name)
        changed = {f.name for f in dataclasses.fields(config)
                   if getattr(config, f.name) != getattr(protocol, f.name)} - {"systems", "n_jobs"}
        assert changed == set(overrides) - {"systems"}, name
        assert system in config.systems


def test_run_variant_resumes_from_its_partial_folds_and_skips_a_saved_variant(tmp_path, monkeypatch, capsys):
    """The experiment passes its checkpoint folder to the protocol, removes it once the variant is
    saved, and the same command then skips the saved variant (issue 24)."""
    import types

    import semgru_keras.data
    import semgru_keras.evaluation
    from experiments import extended

    base = _made_up(None, {"semgru": (6, 7), "handcrafted_combined": (5, 5)})
    base.config = EvaluationConfig(n_folds=2).to_dict()
    base.save(tmp_path / "made-up" / "results.json")
    ds = types.SimpleNamespace(ids=base.ids, targets=base.y_true, groups=None)
    monkeypatch.setattr(semgru_keras.data, "load_dataset", lambda name, root=None: ds)
    monkeypatch.setattr("semgru_keras.protocol.make_folds", lambda *a, **k: base.folds)
    monkeypatch.setattr(semgru_keras.evaluation, "fold_groups", lambda ds, config, **k: (None, None))
    calls = []

    def fake_cv(ds_, config, cache_dir=None, n_jobs=1, progress=True, checkpoint_dir=None):
        calls.append(checkpoint_dir)
        if checkpoint_dir is not None:  # as the protocol leaves it after its folds
            Path(checkpoint_dir, "somekey").mkdir(parents=True)
        run = _made_up(None, {"semgru": (8, 6)})
        run.config = config.to_dict()
        return run

    monkeypatch.setattr(semgru_keras.evaluation, "cross_validate_dataset", fake_cv)
    path = extended.run_variant("made-up", "relu_gram", "unused", out=tmp_path)
    assert calls == [tmp_path / "made-up" / "extended" / "partial" / "relu_gram"]
    assert path.is_file() and not (tmp_path / "made-up" / "extended" / "partial").exists()
    capsys.readouterr()
    extended.run_variant("made-up", "relu_gram", "unused", out=tmp_path)
    assert len(calls) == 1 and "already saved" in capsys.readouterr().out
    extended.run_variant("made-up", "relu_gram", "unused", out=tmp_path, resume=False)
    assert calls[1] is None
