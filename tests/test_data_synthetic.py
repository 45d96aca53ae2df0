"""The built-in synthetic sets: determinism, documented parameter effects, audio, sizes."""

import numpy as np
import pytest

from semgru_keras import QUADRANT_CORNERS
from semgru_keras.data import DATASETS, GEMS_EMOTIONS, GEMS_WEIGHTS, PARAMETERS, load_dataset
from semgru_keras.data.synthetic import (
    AROUSAL_WEIGHTS,
    VALENCE_WEIGHTS,
    SyntheticClip,
    gems_scores,
    make_synthetic_gems,
    make_synthetic_quadrants,
    sample_gems,
)
from semgru_keras.features import mel_sequence


def _z(frame):
    return frame[[f"z_{p}" for p in PARAMETERS]].to_numpy()


def test_names():
    assert DATASETS == ("synthetic-gems", "synthetic-quadrants", "emotify", "4q", "quadrants")


def test_deterministic_per_seed():
    a = load_dataset("synthetic-gems", n_songs=6, duration=2.0, seed=3)
    b = load_dataset("synthetic-gems", n_songs=6, duration=2.0, seed=3)
    c = load_dataset("synthetic-gems", n_songs=6, duration=2.0, seed=4)
    np.testing.assert_array_equal(a.annotations, b.annotations)
    np.testing.assert_array_equal(a.groups, b.groups)
    ya, sr = a.audio(2)
    yb, _ = b.audio(2)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a.annotations, c.annotations)
    assert not np.array_equal(ya, c.audio(2)[0])
    # a clip is the same whichever subset it is rendered from
    np.testing.assert_array_equal(a.subset([2]).audio(0)[0], ya)
    assert a.sources[2].content_id() == b.sources[2].content_id() != c.sources[2].content_id()


def test_gems_set_shape_and_grouping():
    ds = load_dataset("synthetic-gems", n_songs=12, duration=2.0, seed=0)
    assert ds.task == "regression" and ds.labels is None and ds.classes is None
    assert ds.annotations.shape == (12, 9) and ds.annotations.dtype == np.float32
    assert ds.target_names == list(GEMS_EMOTIONS)
    assert np.all((ds.annotations >= 0) & (ds.annotations <= 1))
    assert len(np.unique(ds.groups)) == 3  # 4 clips per synthetic artist
    assert ds.paths is None and ds.is_synthetic
    assert ds.targets is ds.annotations
    assert {"mode", "tempo_bpm", "loudness_dbfs", "n_respondents", "artist"} <= set(ds.metadata.columns)


def test_annotations_follow_the_documented_weights():
    """Every non-zero entry of the weight table moves its emotion in the documented direction."""
    s = make_synthetic_gems(n_songs=3000, seed=1)
    z, a = _z(s.metadata), s.annotations
    for e, emotion in enumerate(GEMS_EMOTIONS):
        for p, param in enumerate(PARAMETERS):
            w = GEMS_WEIGHTS[e, p]
            if w != 0:
                r = np.corrcoef(z[:, p], a[:, e])[0, 1]
                assert np.sign(r) == np.sign(w), (emotion, param, w, r)


def test_mode_alone_moves_sadness_and_joy():
    """Intervention: the same clip in minor instead of major is tagged sadder and less joyful."""
    rng = np.random.default_rng(0)
    z = np.zeros((2, len(PARAMETERS)))
    z[0, 0], z[1, 0] = -1.0, 1.0  # major, minor; all else neutral
    frac, _ = sample_gems(gems_scores(z), np.array([20000, 20000]), rng)
    e = {name: j for j, name in enumerate(GEMS_EMOTIONS)}
    for up in ("sadness", "nostalgia", "tension"):
        assert frac[1, e[up]] > frac[0, e[up]] + 0.05, up
    for down in ("joyful_activation", "tenderness"):
        assert frac[1, e[down]] < frac[0, e[down]] - 0.05, down
    assert frac.sum(axis=1) == pytest.approx([1.9, 1.9], abs=0.05)  # 1.9 tags per respondent


def test_quadrants_are_balanced_and_follow_valence_arousal():
    ds = load_dataset("synthetic-quadrants", n_songs=10, duration=2.0, seed=0)
    assert ds.task == "classification"
    assert ds.target_names == ["valence", "arousal"]
    assert sorted(np.unique(ds.labels, return_counts=True)[1]) == [2, 2, 3, 3]
    for label, row in zip(ds.labels, ds.annotations):
        assert tuple(row) == QUADRANT_CORNERS[label]
    np.testing.assert_array_equal(ds.targets, ds.labels)
    big = make_synthetic_quadrants(n_songs=2000, seed=1)
    z = _z(big.metadata)
    positive_v = np.isin(big.labels, ["happy", "relaxed"])
    positive_a = np.isin(big.labels, ["happy", "angry"])
    for p, param in enumerate(PARAMETERS):
        for weights, side in ((VALENCE_WEIGHTS, positive_v), (AROUSAL_WEIGHTS, positive_a)):
            if abs(weights[p]) >= 0.3:
                r = np.corrcoef(z[:, p], side)[0, 1]
                assert np.sign(r) == np.sign(weights[p]), (param, r)


def _clip(**params):
    z = np.zeros(len(PARAMETERS))
    for k, v in params.items():
        z[PARAMETERS.index(k)] = v
    return SyntheticClip(tuple(z), artist=0, key=0, odd_even=0.5, vibrato=10.0, seed=7, duration=3.0, sr=16000)


def _rms_db(y):
    return 10 * np.log10(np.mean(y.astype(float) ** 2))


def _centroid(y, sr):
    spec = np.abs(np.fft.rfft(y.astype(float)))
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    return float((spec * freqs).sum() / spec.sum())


def test_audio_follows_its_parameters():
    quiet, sr = _clip(loudness=-1.0).render()
    loud, _ = _clip(loudness=1.0).render()
    assert _rms_db(loud) - _rms_db(quiet) > 15  # −32 vs −12 dBFS
    assert _rms_db(quiet) == pytest.approx(-32, abs=1.5)
    dark, _ = _clip(brightness=-1.0).render()
    bright, _ = _clip(brightness=1.0).render()
    assert _centroid(bright, sr) > 1.3 * _centroid(dark, sr)
    low, _ = _clip(register=-1.0, brightness=-1.0, percussion=-1.0).render()
    high, _ = _clip(register=1.0, brightness=-1.0, percussion=-1.0).render()
    assert _centroid(high, sr) > _centroid(low, sr)
    for y in (quiet, loud, dark, bright):
        assert y.dtype == np.float32 and y.shape == (3 * sr,)
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1.0


def test_render_at_another_rate_is_the_same_music():
    clip = _clip(tempo=0.3)
    y16, _ = clip.render(16000)
    y8, sr8 = clip.render(8000)
    assert sr8 == 8000 and len(y8) == len(y16) // 2
    assert _rms_db(y8) == pytest.approx(_rms_db(y16), abs=1.0)


def test_default_clips_give_enough_input_vectors():
    ds = load_dataset("synthetic-gems", n_songs=1, seed=0)  # default duration and rate
    y, sr = ds.audio(0)
    assert sr == 22050 and len(y) == int(12.0 * sr)
    assert mel_sequence(y, sr).shape == (240, 160)
    short = load_dataset("synthetic-quadrants", n_songs=4, duration=6.0, seed=0)
    assert mel_sequence(*short.audio(0)).shape[0] >= 100  # one 100-vector training crop


def test_bad_options_are_reported():
    with pytest.raises(TypeError, match=r"unknown options \['n_song'\].*n_songs"):
        load_dataset("synthetic-gems", n_song=5)
    with pytest.raises(ValueError, match="takes no root"):
        load_dataset("synthetic-gems", root="/tmp")
    with pytest.raises(ValueError, match="n_songs must be positive"):
        load_dataset("synthetic-gems", n_songs=0)


def test_docstring_table_is_the_weight_matrix():
    import semgru_keras.data.synthetic as synthetic

    rows = {}
    for line in synthetic.__doc__.splitlines():
        parts = line.split()
        if parts and parts[0] in GEMS_EMOTIONS and len(parts) == 10:
            rows[parts[0]] = [0.0 if v == "." else float(v.replace("−", "-")) for v in parts[1:]]
    assert list(rows) == list(GEMS_EMOTIONS)
    np.testing.assert_array_equal(np.array([rows[e] for e in GEMS_EMOTIONS]), GEMS_WEIGHTS)
