"""Audio → the paper's input sequence (Section V-B).

The paper feeds its GRU with a log-power mel spectrogram computed with MIRToolbox's
defaults: 40 mel bands, 50 ms frames, 25 ms hop. Each input vector holds two
consecutive frames and their deltas ("changes from the previous frame"), so one vector
is ``2 × 40 + 2 × 40 = 160`` values and covers 50 ms; non-overlapping pairs make 30 s
of audio into 600 vectors.

MIRToolbox correspondence (``mirspectrum(..., 'Mel', 'dB')`` with its defaults)
-----------------------------------------------------------------------------
=========================  =====================================  ==========================
step                       MIRToolbox                             here (librosa / numpy)
=========================  =====================================  ==========================
sample rate                file's own, no resampling              22,050 Hz for every file
                                                                  (``sr=None``: file's own)
channels                   averaged to mono                       ``librosa.load(mono=True)``
window                     Hamming, 50 ms                         symmetric Hamming, 50 ms
hop                        25 ms, no centring or padding          25 ms, ``center=False``
FFT length                 next power of two ≥ the frame that     same rule
                           gives ≤ 66 Hz resolution (4096 at
                           44.1 kHz)
spectrum                   magnitude                              ``power=1``
mel bank                   40 Auditory-Toolbox (Slaney) bands,    ``htk=False, norm="slaney"``
                           133.33 Hz – 6853.8 Hz                  with the same edges
dB                         ``20·log10(x + 1e-16)``, no clipping   same (``log_floor``)
deltas                     —  (the paper: first differences)      ``x[t] − x[t−1]``, 0 at t=0
=========================  =====================================  ==========================

Where librosa's defaults differ (and are therefore overridden here): ``librosa.load``
resamples to 22,050 Hz, ``stft`` centres and pads frames, ``amplitude_to_db`` clips
80 dB below the peak, and ``feature.delta`` is a Savitzky–Golay slope over 9 frames.

Sample rate: one analysis rate for every file (our choice)
--------------------------------------------------------
MIRToolbox analyses a file at its own rate. With a fixed 50 ms window the level of the
mel spectrogram then depends on that rate: the window holds ``0.05 · sr`` samples, so the
same audio at 44.1 kHz reads about 6 dB higher than at 22.05 kHz (20·log10 2), and at
other rates the bin spacing changes too (measured on a 4Q clip: 32 vs 48 kHz, −6.2 dB on
every band). Data sets that mix rates (the 4Q set: 16, 22.05, 32, 44.1 and 48 kHz) would
give the network a level cue that is about the file, not the music. Every file is
therefore resampled (librosa's ``soxr_hq``) to ``FeatureConfig.sr = 22050`` Hz before
analysis: the 40-band mel bank stops at 6.85 kHz, below the 11.025 kHz Nyquist limit, so
nothing it sees is lost, and the work halves. At 22.05 kHz the window is 1102 samples and
the FFT 2048 points: the same 10.8 Hz bin spacing as MIRToolbox's 4096 points at
44.1 kHz, so a 44.1 kHz file gives MIRToolbox's spectrum shifted by a constant −6.0 dB,
which the per-dimension standardisation of the network's input removes.
``FeatureConfig(sr=None)`` restores MIRToolbox's file-rate analysis exactly.

One more choice is ours: MIRToolbox frames a clip of ``N`` samples into
``1 + (N − win) // hop`` frames, which gives 599 vectors for 30 s at 44.1 kHz; the
paper counts 600. ``FeatureConfig.pad_end=True`` (the default) zero-pads the last
partial window so a clip of ``T`` seconds gives ``T / 25 ms`` frames, the paper's
count; ``pad_end=False`` reproduces MIRToolbox's framing exactly.

Level: the paper's features, or loudness-normalised ones (our option)
--------------------------------------------------------------------
The log-mel values are absolute levels: the same recording turned down 10 dB gives every
band 10 dB lower, and a model trained on them reads level as mood (a file's level is an
accident of mastering and of the user's recording). ``FeatureConfig(loudness=-23.0)``
scales every signal, after resampling and before the spectrogram, to an integrated loudness
of −23 LUFS (ITU-R BS.1770-4 K-weighted, gated loudness, measured with ``pyloudnorm``; the
EBU R 128 broadcast target): a global gain then changes nothing the network sees. Loudness
*within* the song (its dynamics, its spectrum) stays. The default ``loudness=None`` keeps
the paper's features; the setting is part of the feature-cache key and is stored with a
trained model, so training and prediction always use the same one.

Audio that carries no music is refused with an :class:`AudioError` rather than turned into
features: a signal shorter than one input vector (50 ms), and a *near-silent* one, where
fewer than :data:`MIN_AUDIBLE_FRACTION` of the 50 ms frames reach :data:`AUDIBLE_DBFS`
(RMS; −70 dB is BS.1770's absolute silence gate, used here unweighted). Loudness
normalisation also needs one 400 ms BS.1770 block.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AudioError",
    "FeatureConfig",
    "AUDIBLE_DBFS",
    "MIN_AUDIBLE_FRACTION",
    "audible_fraction",
    "normalize_loudness",
    "load_audio",
    "to_analysis_rate",
    "log_mel_spectrogram",
    "stack_frames",
    "mel_sequence",
    "file_sequence",
]

#: Lowest and highest edge of the Auditory Toolbox's 40-band mel bank (Slaney 1998):
#: 13 linear bands of 66.67 Hz from 133.33 Hz, then 27 bands in steps of ×1.0711703.
AUDITORY_TOOLBOX_FMIN = 400.0 / 3.0
AUDITORY_TOOLBOX_FMAX = (AUDITORY_TOOLBOX_FMIN + 12 * 200.0 / 3.0) * 1.0711703**29


#: Frame level (RMS, dB re full scale) below which a 50 ms frame counts as silent: BS.1770's
#: absolute gate (−70), applied to the unweighted signal.
AUDIBLE_DBFS = -70.0
#: A signal whose audible frames are fewer than this fraction of all frames is near-silent.
MIN_AUDIBLE_FRACTION = 0.1


class AudioError(ValueError):
    """An audio file (or signal) that cannot be turned into features; the message names it."""


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of the input representation (paper, Section V-B; MIRToolbox defaults).

    Parameters
    ----------
    sr : int or None
        Analysis rate: every signal is resampled to it first (default 22,050 Hz, so the
        features do not depend on a file's rate; see the module docstring). ``None``
        keeps the file's own rate, as MIRToolbox does.
    n_mels : int
        Number of mel bands (40).
    frame_seconds, hop_seconds : float
        Frame length (50 ms) and hop (25 ms).
    fmin, fmax : float
        Edges of the mel bank; the defaults are the Auditory Toolbox's 40-band edges.
        ``fmax`` is capped at the Nyquist frequency.
    min_resolution_hz : float
        The FFT length is the next power of two that is at least one frame long and
        gives at most this bin spacing (66 Hz in MIRToolbox).
    log_floor : float
        Added before ``20·log10`` (MIRToolbox: 1e-16, i.e. −320 dB for silence).
    frames_per_vector : int
        Consecutive frames stacked into one input vector (2).
    deltas : bool
        Append each stacked frame's first difference (the paper: yes).
    pad_end : bool
        Zero-pad the last partial window so ``T`` seconds give ``T / hop`` frames (see
        the module docstring).
    loudness : float or None
        Integrated loudness (LUFS, ITU-R BS.1770-4) every signal is scaled to before
        analysis, e.g. ``-23.0``; ``None`` (default, the paper's features) keeps the
        signal's own level. See the module docstring.
    """

    sr: int | None = 22050
    n_mels: int = 40
    frame_seconds: float = 0.050
    hop_seconds: float = 0.025
    fmin: float = AUDITORY_TOOLBOX_FMIN
    fmax: float = AUDITORY_TOOLBOX_FMAX
    min_resolution_hz: float = 66.0
    log_floor: float = 1e-16
    frames_per_vector: int = 2
    deltas: bool = True
    pad_end: bool = True
    loudness: float | None = None

    def __post_init__(self):
        if self.loudness is not None:
            if not math.isfinite(float(self.loudness)) or not -70.0 < float(self.loudness) < 0.0:
                raise ValueError(f"loudness must be a target in LUFS between -70 and 0 (e.g. -23.0), or None; "
                                 f"got {self.loudness!r}")
            object.__setattr__(self, "loudness", float(self.loudness))

    @property
    def vector_size(self) -> int:
        """Length of one input vector (160 with the defaults)."""
        return self.n_mels * self.frames_per_vector * (2 if self.deltas else 1)

    @property
    def vector_seconds(self) -> float:
        """Audio time covered by one input vector (50 ms with the defaults)."""
        return self.hop_seconds * self.frames_per_vector

    def frame_samples(self, sr: int) -> tuple[int, int, int]:
        """Window length, hop and FFT length in samples at rate ``sr``."""
        win = int(round(self.frame_seconds * sr))
        hop = int(round(self.hop_seconds * sr))
        n_fft = 1 << max(win - 1, math.ceil(sr / self.min_resolution_hz) - 1).bit_length()
        return win, hop, n_fft

    def to_dict(self) -> dict:
        """Plain-dict form (part of the feature-cache key, stored with trained models).

        ``loudness`` appears only when set, so the paper's configuration keeps the key (and
        the cached features) it had before the option existed.
        """
        d = asdict(self)
        if d["loudness"] is None:
            del d["loudness"]
        return d

    def cache_key(self) -> str:
        """The feature cache's name for input sequences of this configuration."""
        return "mel_sequence:" + json.dumps(self.to_dict(), sort_keys=True)


def load_audio(path: str | os.PathLike, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32 (channels averaged, as MIRToolbox does).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    AudioError
        If the file cannot be decoded, is empty, or contains non-finite samples.
    """
    import librosa

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: audio file not found")
    try:
        with warnings.catch_warnings():  # librosa warns before falling back to audioread
            warnings.simplefilter("ignore")
            y, rate = librosa.load(path, sr=sr, mono=True, dtype=np.float32)
    except Exception as exc:  # soundfile/audioread raise many types; name the file
        raise AudioError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    if y.size == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    return y, int(rate)


def to_analysis_rate(y: np.ndarray, sr: int, config: FeatureConfig | None = None) -> tuple[np.ndarray, int]:
    """Resample ``y`` to the analysis rate ``config.sr`` (unchanged when it already is, or ``sr=None``)."""
    config = config or FeatureConfig()
    if config.sr is None or int(sr) == int(config.sr):
        return y, int(sr)
    import librosa

    return librosa.resample(y, orig_sr=int(sr), target_sr=int(config.sr), res_type="soxr_hq"), int(config.sr)


def normalize_loudness(y: np.ndarray, sr: int, target: float) -> np.ndarray:
    """``y`` scaled to an integrated loudness of ``target`` LUFS (ITU-R BS.1770-4, ``pyloudnorm``).

    Raises
    ------
    AudioError
        If the signal is shorter than one 400 ms gating block, or no block reaches the
        −70 LUFS absolute gate (nothing to measure).
    """
    import pyloudnorm

    meter = pyloudnorm.Meter(int(sr))  # K-weighting, 400 ms blocks with 75 % overlap
    if len(y) < meter.block_size * sr:
        raise AudioError(f"signal of {len(y) / sr:.3f} s is shorter than one {meter.block_size * 1e3:.0f} ms "
                         "block of the loudness measurement (ITU-R BS.1770)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured = meter.integrated_loudness(np.asarray(y, dtype=np.float64))
    if not np.isfinite(measured):
        raise AudioError("near-silent: no 400 ms block reaches the -70 LUFS gate of ITU-R BS.1770")
    return (np.asarray(y, dtype=np.float64) * 10.0 ** ((target - measured) / 20.0)).astype(np.float32)


def audible_fraction(y: np.ndarray, sr: int, frame_seconds: float = 0.050, hop_seconds: float = 0.025) -> float:
    """Fraction of the 50 ms frames (25 ms hop) whose RMS level reaches :data:`AUDIBLE_DBFS`."""
    y = np.asarray(y, dtype=np.float64)
    win, hop = max(1, int(round(frame_seconds * sr))), max(1, int(round(hop_seconds * sr)))
    if len(y) < win:
        return float(np.sqrt(np.mean(y**2)) >= 10 ** (AUDIBLE_DBFS / 20)) if len(y) else 0.0
    energy = np.concatenate([[0.0], np.cumsum(y**2)])
    starts = np.arange(0, len(y) - win + 1, hop)
    mean_square = (energy[starts + win] - energy[starts]) / win
    return float(np.mean(mean_square >= 10 ** (AUDIBLE_DBFS / 10)))


def log_mel_spectrogram(y: np.ndarray, sr: int, config: FeatureConfig | None = None) -> np.ndarray:
    """MIRToolbox-style log mel spectrogram, shape ``(n_frames, n_mels)``, in dB.

    The signal is first resampled to the analysis rate ``config.sr`` and, with
    ``config.loudness`` set, scaled to that integrated loudness (see the module docstring).
    """
    import librosa
    import scipy.signal

    config = config or FeatureConfig()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(f"expected a mono signal (1-D array), got shape {y.shape}")
    y, sr = to_analysis_rate(y, sr, config)
    if config.loudness is not None:
        y = normalize_loudness(y, sr, config.loudness)
    win, hop, n_fft = config.frame_samples(sr)
    if config.pad_end:
        n_frames = len(y) // hop
        y = np.pad(y, (0, max(0, (n_frames - 1) * hop + win - len(y))))
    if len(y) < win:
        raise AudioError(
            f"signal of {len(y) / sr:.3f} s is shorter than one {config.frame_seconds * 1e3:.0f} ms frame"
        )
    # Frame exactly as MIRToolbox does (window-length frames, each zero-padded to n_fft);
    # librosa.stft would frame by n_fft and so give fewer frames.
    frames = librosa.util.frame(y, frame_length=win, hop_length=hop, axis=0)
    window = scipy.signal.windows.hamming(win, sym=True)  # MATLAB's hamming() is symmetric
    spectrum = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=1)).T
    bank = librosa.filters.mel(
        sr=sr,
        n_fft=n_fft,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=min(config.fmax, sr / 2),
        htk=False,
        norm="slaney",
    )
    mel = bank @ spectrum
    return (20.0 * np.log10(mel + config.log_floor)).T.astype(np.float32)


def stack_frames(mel: np.ndarray, config: FeatureConfig | None = None) -> np.ndarray:
    """Pair consecutive frames and append their deltas: ``(n_frames, 40) → (n_frames // 2, 160)``.

    Vector ``k`` is ``[m[2k], m[2k+1], Δm[2k], Δm[2k+1]]`` with ``Δm[t] = m[t] − m[t−1]``
    (``Δm[0] = 0``). A trailing odd frame is dropped.
    """
    config = config or FeatureConfig()
    p = config.frames_per_vector
    n_vectors = mel.shape[0] // p
    blocks = [mel]
    if config.deltas:
        blocks.append(np.diff(mel, axis=0, prepend=mel[:1]))
    # (n_frames, n_mels) per block -> (n_vectors, p * n_mels) per block, then concatenated.
    parts = [b[: n_vectors * p].reshape(n_vectors, p * mel.shape[1]) for b in blocks]
    return np.concatenate(parts, axis=1).astype(np.float32)


def mel_sequence(y: np.ndarray, sr: int, config: FeatureConfig | None = None) -> np.ndarray:
    """Audio signal → the GRU's input sequence, float32 ``(n_vectors, 160)``.

    Examples
    --------
    >>> import numpy as np
    >>> sr = 22050
    >>> y = np.random.default_rng(0).standard_normal(30 * sr).astype("float32")
    >>> mel_sequence(y, sr).shape
    (600, 160)
    """
    config = config or FeatureConfig()
    if not np.all(np.isfinite(y)):
        raise AudioError("the signal contains NaN or infinite samples")
    if not np.any(y):
        raise AudioError("the signal is silent (all samples are zero)")
    audible = audible_fraction(y, sr, config.frame_seconds, config.hop_seconds)
    if audible < MIN_AUDIBLE_FRACTION:
        raise AudioError(f"near-silent: {audible:.0%} of its {config.frame_seconds * 1e3:.0f} ms frames reach "
                         f"{AUDIBLE_DBFS:.0f} dBFS (fewer than {MIN_AUDIBLE_FRACTION:.0%})")
    sequence = stack_frames(log_mel_spectrogram(y, sr, config), config)
    if len(sequence) == 0:
        raise AudioError(f"signal of {len(y) / sr:.3f} s gives no input vector (one covers "
                         f"{config.vector_seconds * 1e3:.0f} ms)")
    return sequence


def file_sequence(path: str | os.PathLike, config: FeatureConfig | None = None) -> np.ndarray:
    """Read ``path`` and return its input sequence; every error names the file."""
    config = config or FeatureConfig()
    y, sr = load_audio(path, sr=config.sr)
    try:
        return mel_sequence(y, sr, config)
    except AudioError as exc:
        raise AudioError(f"{path}: {exc}") from exc
