"""The paper's input representation (Section V-B) and audio loading errors."""

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.features import (
    AUDITORY_TOOLBOX_FMAX,
    AudioError,
    FeatureConfig,
    file_sequence,
    load_audio,
    log_mel_spectrogram,
    mel_sequence,
    stack_frames,
)


@pytest.mark.parametrize("sr", [16000, 22050, 44100])
def test_thirty_seconds_give_600_vectors_of_160(rng, sr):
    y = rng.standard_normal(30 * sr).astype("float32")
    seq = mel_sequence(y, sr)
    assert seq.shape == (600, 160)
    assert seq.dtype == np.float32


def test_mirtoolbox_framing_without_end_padding(rng):
    sr = 44100
    y = rng.standard_normal(30 * sr).astype("float32")
    # 1 + (N - win) // hop = 1199 frames -> 599 pairs
    assert mel_sequence(y, sr, FeatureConfig(sr=None, pad_end=False)).shape == (599, 160)


def test_frame_sizes_follow_mirtoolbox():
    cfg = FeatureConfig()
    assert cfg.frame_samples(44100) == (2205, 1102, 4096)
    assert cfg.frame_samples(22050) == (1102, 551, 2048)
    assert cfg.vector_size == 160
    assert AUDITORY_TOOLBOX_FMAX == pytest.approx(6853.8, abs=0.5)


def test_vector_layout_is_two_frames_then_their_deltas(rng):
    mel = rng.standard_normal((7, 40)).astype("float32")
    vec = stack_frames(mel)
    assert vec.shape == (3, 160)  # the odd last frame is dropped
    k = 1
    np.testing.assert_array_equal(vec[k, :40], mel[2 * k])
    np.testing.assert_array_equal(vec[k, 40:80], mel[2 * k + 1])
    np.testing.assert_allclose(vec[k, 80:120], mel[2 * k] - mel[2 * k - 1])
    np.testing.assert_allclose(vec[k, 120:160], mel[2 * k + 1] - mel[2 * k])
    np.testing.assert_array_equal(vec[0, 80:120], 0.0)  # no frame before the first


def test_mel_band_follows_a_sine(rng):
    sr = 22050
    t = np.arange(2 * sr) / sr
    low = log_mel_spectrogram(np.sin(2 * np.pi * 300 * t).astype("float32"), sr)
    high = log_mel_spectrogram(np.sin(2 * np.pi * 3000 * t).astype("float32"), sr)
    assert low.shape[1] == 40
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()
    # dB of a unit sine: finite, no clipping 80 dB below the peak like librosa's amplitude_to_db
    assert np.isfinite(low).all() and low.max() - low.min() > 80


def test_silent_and_nan_signals_are_rejected():
    with pytest.raises(AudioError, match="silent"):
        mel_sequence(np.zeros(22050, "float32"), 22050)
    y = np.ones(22050, "float32")
    y[10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        mel_sequence(y, 22050)


def test_file_errors_name_the_file(tmp_path, rng):
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        load_audio(missing)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioError, match="corrupt.mp3"):
        load_audio(corrupt)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050, "float32"), 22050)
    with pytest.raises(AudioError, match="silent.wav.*silent"):
        file_sequence(silent)


def test_file_sequence_reads_stereo_at_native_rate(tmp_path, rng):
    path = tmp_path / "stereo.wav"
    sr = 16000
    stereo = rng.standard_normal((3 * sr, 2)).astype("float32") * 0.1
    sf.write(path, stereo, sr)
    y, rate = load_audio(path)
    assert rate == sr and y.ndim == 1
    np.testing.assert_allclose(y, stereo.mean(axis=1), atol=1e-4)
    assert file_sequence(path).shape == (60, 160)


def _band_limited(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Music-like test signal below 6 kHz: a few harmonic tones with vibrato plus low-passed noise."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for f0 in (110.0, 220.0, 330.0, 587.0):
        for h in range(1, 8):
            if f0 * h < 5500:
                y += np.sin(2 * np.pi * f0 * h * t + 3 * np.sin(2 * np.pi * 5 * t) + rng.uniform(0, 6)) / h
    sos = scipy.signal.butter(8, 5500, fs=sr, output="sos")
    y += 0.5 * scipy.signal.sosfiltfilt(sos, rng.standard_normal(len(t)))
    return (0.1 * y / np.abs(y).max()).astype("float32")


def test_features_do_not_depend_on_the_files_sample_rate(tmp_path):
    """Issue 10: the same signal at 16, 22.05, 32, 44.1 and 48 kHz gives features within 0.5 dB on average."""
    import librosa

    master_sr = 48000
    y48 = _band_limited(6.0, master_sr)
    seqs = {}
    for sr in (16000, 22050, 32000, 44100, 48000):
        y = y48 if sr == master_sr else librosa.resample(y48, orig_sr=master_sr, target_sr=sr, res_type="soxr_vhq")
        path = tmp_path / f"clip_{sr}.wav"
        sf.write(path, y, sr, subtype="FLOAT")
        seqs[sr] = file_sequence(path)
        np.testing.assert_allclose(mel_sequence(y, sr), seqs[sr], atol=1e-3)  # same path as from memory
    n = min(len(s) for s in seqs.values())
    ref = seqs[22050][:n, :80]  # the log-mel half (the deltas are differences of it)
    for sr, seq in seqs.items():
        diff = np.abs(seq[:n, :80] - ref)
        assert diff.mean() < 0.5, f"{sr} Hz: mean |difference| {diff.mean():.2f} dB from 22.05 kHz"


def test_file_rate_analysis_is_rate_dependent_as_in_mirtoolbox():
    """With ``sr=None`` (MIRToolbox) the level moves with the rate: the reason for the default."""
    import librosa

    y48 = _band_limited(4.0, 48000)
    y24 = librosa.resample(y48, orig_sr=48000, target_sr=24000, res_type="soxr_vhq")
    mirtoolbox = FeatureConfig(sr=None)
    a = log_mel_spectrogram(y48, 48000, mirtoolbox)
    b = log_mel_spectrogram(y24, 24000, mirtoolbox)
    n = min(len(a), len(b))
    assert np.mean(a[:n] - b[:n]) == pytest.approx(20 * np.log10(2), abs=0.5)  # twice the window samples
    a, b = log_mel_spectrogram(y48, 48000), log_mel_spectrogram(y24, 24000)
    n = min(len(a), len(b))
    assert abs(np.mean(a[:n] - b[:n])) < 0.5
