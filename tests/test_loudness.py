"""Loudness normalisation (ITU-R BS.1770) as a feature setting, and audio the features refuse."""

import numpy as np
import pytest

from semgru_keras.features import (
    AUDIBLE_DBFS,
    MIN_AUDIBLE_FRACTION,
    AudioError,
    FeatureConfig,
    audible_fraction,
    mel_sequence,
    normalize_loudness,
)

SR = 22050


def _music(seconds=6.0, seed=0):
    """A few decaying harmonic notes over a little noise: level varies inside the clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.01 * rng.standard_normal(len(t))
    for k, f0 in enumerate((220.0, 330.0, 262.0, 392.0)):
        start = k * seconds / 4
        env = np.where(t >= start, np.exp(-3 * (t - start)), 0.0)
        y += 0.08 * env * sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
    return y.astype(np.float32)


@pytest.mark.parametrize("gain_db", [-20.0, -10.0, 10.0])
def test_loudness_normalised_features_do_not_move_with_a_global_gain(gain_db):
    y = _music()
    assert np.abs(y).max() * 10 ** (gain_db / 20) < 1.0  # no clipping at any gain
    config = FeatureConfig(loudness=-23.0)
    base = mel_sequence(y, SR, config)
    scaled = mel_sequence(y * np.float32(10 ** (gain_db / 20)), SR, config)
    np.testing.assert_allclose(scaled, base, rtol=0, atol=0.01)  # dB
    # the paper's features move by the gain on every band (the first 80 columns are levels)
    paper = mel_sequence(y, SR, FeatureConfig())
    moved = mel_sequence(y * np.float32(10 ** (gain_db / 20)), SR, FeatureConfig())
    assert np.median(moved[:, :80] - paper[:, :80]) == pytest.approx(gain_db, abs=0.05)


def test_normalised_signal_measures_the_target_loudness():
    import pyloudnorm

    y = _music(seed=1)
    for target in (-23.0, -14.0):
        out = normalize_loudness(y, SR, target)
        assert pyloudnorm.Meter(SR).integrated_loudness(out.astype(np.float64)) == pytest.approx(target, abs=0.01)


def test_the_setting_is_part_of_the_cache_key_and_the_papers_key_is_unchanged():
    paper, loud = FeatureConfig(), FeatureConfig(loudness=-23.0)
    assert "loudness" not in paper.to_dict() and loud.to_dict()["loudness"] == -23.0
    assert paper.cache_key() != loud.cache_key() != FeatureConfig(loudness=-14.0).cache_key()
    assert FeatureConfig(**loud.to_dict()) == loud and FeatureConfig(**paper.to_dict()) == paper


@pytest.mark.parametrize("bad", [5.0, -80.0, float("nan")])
def test_an_impossible_loudness_target_is_refused(bad):
    with pytest.raises(ValueError, match="loudness must be a target in LUFS"):
        FeatureConfig(loudness=bad)


def test_a_dataset_caches_each_setting_apart(tmp_path):
    from semgru_keras.data import load_dataset

    ds = load_dataset("synthetic-gems", n_songs=2, duration=3.0, seed=4)
    paper = ds.sequences(cache_dir=tmp_path, progress=False)
    loud = ds.sequences(config=FeatureConfig(loudness=-23.0), cache_dir=tmp_path, progress=False)
    folders = [p for p in (tmp_path / "v2").iterdir() if p.is_dir()]
    assert len(folders) == 2
    assert paper[0].shape == loud[0].shape and not np.allclose(paper[0], loud[0])


def test_near_silent_signals_are_refused_and_quiet_music_is_not():
    one_sample = np.zeros(SR, dtype=np.float32)
    one_sample[SR // 2] = 0.5
    for y in (one_sample, _music() * np.float32(1e-30), (_music() * 10 ** ((AUDIBLE_DBFS - 20) / 20)).astype(np.float32)):
        with pytest.raises(AudioError, match="near-silent"):
            mel_sequence(y, SR)
    quiet = (_music() * np.float32(10 ** (-40 / 20))).astype(np.float32)  # 40 dB down: still music
    assert audible_fraction(quiet, SR) > MIN_AUDIBLE_FRACTION and len(mel_sequence(quiet, SR, FeatureConfig(loudness=-23.0))) > 0


@pytest.mark.parametrize("seconds", [0.010, 0.030, 0.049])
def test_too_short_for_one_input_vector_is_an_error_not_an_empty_sequence(seconds):
    y = _music()[: int(seconds * SR)]
    with pytest.raises(AudioError, match="no input vector|shorter than one"):
        mel_sequence(y, SR)


def test_loudness_needs_one_block_of_the_measurement():
    with pytest.raises(AudioError, match="400 ms block"):
        mel_sequence(_music()[: int(0.3 * SR)], SR, FeatureConfig(loudness=-23.0))
    assert len(mel_sequence(_music()[: int(0.3 * SR)], SR)) == 6  # the paper's features: 300 ms → 6 vectors
