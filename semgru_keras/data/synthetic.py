r"""Built-in synthetic emotion data: seeded music clips whose annotations follow their music.

The notebooks must run with no download, so the package synthesises its own small
data sets (NumPy only). Each clip is a few bars of chords, bass, melody and drums whose
*musical parameters* are drawn at random; the emotion annotations are then derived from
those parameters with noise, following what music psychology links to emotion (Gabrielsson
& Lindström 2010; Juslin & Laukka 2004; Eerola, Friberg & Bresin 2013): mode, tempo,
loudness and its dynamics, register, articulation, timbre brightness and dissonance.

Generative model
----------------
1. **Parameters.** Every clip draws nine parameters, each coded on ``[-1, 1]`` (``z``):

   ================  ========================  ===============================================
   parameter         ``z = -1 … +1``           how it is rendered
   ================  ========================  ===============================================
   ``minor``         major (−1) / minor (+1)   scale and chord qualities (a coin flip, ±1 only)
   ``tempo``         60 … 180 BPM              beat length (log scale)
   ``loudness``      −32 … −12 dBFS RMS        gain of the final mix
   ``dynamics``      flat … ±9 dB              slow crescendo/decrescendo and random accents
   ``register``      tonic near C3 … G4        octave of chords, bass and melody (the tonic
                                               is the artist's key nearest MIDI 48 … 67)
   ``articulation``  legato … staccato         note length 100 % … 25 % of its slot; attack
                                               80 … 4 ms, decay time 2.75 … 0.25 s (ADSR)
   ``brightness``    dark … bright             harmonic roll-off ``k^-2.6`` … ``k^-0.6``
   ``dissonance``    consonant … dissonant     detuned doubling (0 … 35 cents) and semitone
                                               cluster tones (probability 0 … 0.7)
   ``percussion``    no drums … strong drums   kick/snare/hi-hat level −40 … 0 dB re music
   ================  ========================  ===============================================

   Clips are grouped into synthetic *artists* (``songs_per_artist`` each, default 4); an
   artist fixes the instrument timbre (odd/even harmonic balance, vibrato) and the key, so
   grouped cross-validation (``Dataset.groups``) keeps an artist's sound out of its test fold.
   Keys come from the first ``n_keys`` keys of the circle of fifths (default 3: C, G, F), so
   that the mode shows in pitch-class statistics; with ``n_keys=12`` the mode is visible only
   in interval patterns, which is much harder to learn from 200 clips.

2. **Audio.** Chords (one hit per beat) and a bass note per beat follow a common progression
   of the clip's mode (e.g. I–V–vi–IV, i–VI–III–VII), a melody walks on the scale in eighths
   or quarters, each note is wavetable additive synthesis with an ADSR envelope; kick on beats
   1 and 3, snare on 2 and 4, hi-hats on eighths. The mix is scaled to the target RMS and
   soft-clipped. Musical choices use one random stream and noise another, so a clip rendered
   at another sample rate is the same music.

3. **GEMS annotations** (``synthetic-gems``; the 9 Emotify emotions). Each emotion ``e`` gets a
   score ``s_e = b_e + Σ_p W[e, p]·z_p + noise·ε_e`` (``ε ~ N(0, 1)`` per clip: what the
   parameters do not explain). ``n`` virtual respondents (Poisson, mean ``n_respondents``)
   each tag ``k`` emotions, ``k ∈ {0, 1, 2, 3}`` with probabilities 5/30/35/30 % (Emotify:
   1.93 tags per row on average), chosen without replacement with probabilities ∝ ``exp(s_e)``
   (the top ``k`` of ``s_e + Gumbel``). The annotation is the fraction of respondents who
   tagged each emotion, as in Emotify. ``b_e = log`` of Emotify's mean fraction, so the
   averages look like the real set's. The weights ``W`` (:data:`GEMS_WEIGHTS`):

   ==================  =====  =====  =====  =====  =====  =====  =====  =====  =====
   emotion             minor  tempo  loud   dyn    reg    stacc  bright disson perc
   ==================  =====  =====  =====  =====  =====  =====  =====  =====  =====
   amazement            .      +0.4   +0.4   +1.0   +0.4   .      +0.6   .      .
   solemnity           +0.3   −0.8    .      .     −1.0   −0.6   −0.4    .     −0.4
   tenderness          −0.6   −0.6   −0.8    .     +0.4   −0.8    .     −0.6   −0.4
   nostalgia           +0.8   −0.6   −0.4    .      .     −0.4   −0.4    .      .
   calmness            −0.3   −1.0   −0.8   −0.6    .     −0.6    .     −0.6   −0.8
   power                .     +0.5   +1.2   +0.4   −0.4   +0.4   +0.6   +0.3   +0.8
   joyful_activation   −1.0   +1.0    .      .     +0.4   +0.6   +0.4   −0.4   +0.6
   tension             +0.6   +0.4   +0.4   +0.4    .      .      .     +1.2    .
   sadness             +1.2   −0.8   −0.4    .     −0.4   −0.4   −0.4    .      .
   ==================  =====  =====  =====  =====  =====  =====  =====  =====  =====

   In words: minor mode raises sadness, nostalgia and tension and lowers joyful activation
   and tenderness; fast, loud, percussive music raises power and joyful activation; soft, slow,
   legato, consonant music raises calmness and tenderness; dissonance raises tension; a low
   register and slow tempo raise solemnity; strong dynamics and brightness raise amazement.
   Because the tags compete (at most 3 per respondent), raising one emotion lowers the others a
   little.

4. **Quadrant labels** (``synthetic-quadrants``; the paper's Last.fm / 4Q classes). Valence and
   arousal are linear in the parameters plus noise (:data:`VALENCE_WEIGHTS`,
   :data:`AROUSAL_WEIGHTS`)::

       valence = −0.5·minor − 0.6·dissonance + 0.5·brightness + 0.5·register + noise·ε_v
       arousal =  0.8·tempo + 0.6·loudness + 0.4·articulation + 0.4·percussion
                  + 0.2·dynamics + noise·ε_a

   and the class is the quadrant: happy (v > 0, a > 0), angry (v < 0, a > 0), sad (v < 0,
   a < 0), relaxed (v > 0, a < 0). Classes are balanced by drawing candidates until each
   quadrant has its share. The annotation matrix is the paper's corner coding (±1, ±1).

Everything is a pure function of ``seed`` (and the other options): the same seed gives the
same parameters, annotations and audio, bit for bit. A clip's rendering does not depend on
which other clips are in the set, so ``Dataset.subset`` renders the same audio.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..vocabulary import EMOTIFY_MEANS, GEMS_EMOTIONS, QUADRANT_CLASSES, QUADRANT_CORNERS

__all__ = [
    "GEMS_EMOTIONS",
    "GEMS_WEIGHTS",
    "GEMS_BASE_RATES",
    "PARAMETERS",
    "VALENCE_WEIGHTS",
    "AROUSAL_WEIGHTS",
    "QUADRANT_CLASSES",
    "GENERATOR_VERSION",
    "SyntheticClip",
    "SyntheticSet",
    "draw_parameters",
    "gems_scores",
    "sample_gems",
    "valence_arousal",
    "quadrant_of",
    "make_synthetic_gems",
    "make_synthetic_quadrants",
    "render_clip",
    "parameter_table",
]

#: Bump when the rendering changes, so cached features of old clips are not reused.
GENERATOR_VERSION = 1  # bump on any change to render_clip


#: The musical parameters, each coded on [-1, 1] (``minor`` is exactly ±1).
PARAMETERS: tuple[str, ...] = (
    "minor",
    "tempo",
    "loudness",
    "dynamics",
    "register",
    "articulation",
    "brightness",
    "dissonance",
    "percussion",
)

#: ``W[e, p]``: effect of parameter ``p`` on the score of emotion ``e`` (rows: GEMS_EMOTIONS).
GEMS_WEIGHTS = np.array(
    [
        # minor tempo loud  dyn   reg  stacc bright diss  perc
        [0.0, 0.4, 0.4, 1.0, 0.4, 0.0, 0.6, 0.0, 0.0],  # amazement
        [0.3, -0.8, 0.0, 0.0, -1.0, -0.6, -0.4, 0.0, -0.4],  # solemnity
        [-0.6, -0.6, -0.8, 0.0, 0.4, -0.8, 0.0, -0.6, -0.4],  # tenderness
        [0.8, -0.6, -0.4, 0.0, 0.0, -0.4, -0.4, 0.0, 0.0],  # nostalgia
        [-0.3, -1.0, -0.8, -0.6, 0.0, -0.6, 0.0, -0.6, -0.8],  # calmness
        [0.0, 0.5, 1.2, 0.4, -0.4, 0.4, 0.6, 0.3, 0.8],  # power
        [-1.0, 1.0, 0.0, 0.0, 0.4, 0.6, 0.4, -0.4, 0.6],  # joyful_activation
        [0.6, 0.4, 0.4, 0.4, 0.0, 0.0, 0.0, 1.2, 0.0],  # tension
        [1.2, -0.8, -0.4, 0.0, -0.4, -0.4, -0.4, 0.0, 0.0],  # sadness
    ]
)

#: Emotify's per-emotion mean fractions (Aljanaki et al.); ``b_e = log`` of these.
GEMS_BASE_RATES = np.log(np.array([EMOTIFY_MEANS[e] for e in GEMS_EMOTIONS]))

#: Valence and arousal as linear functions of the parameters (before noise).
VALENCE_WEIGHTS = np.array([-0.5, 0.0, 0.0, 0.0, 0.5, 0.0, 0.5, -0.6, 0.0])
AROUSAL_WEIGHTS = np.array([0.0, 0.8, 0.6, 0.2, 0.0, 0.4, 0.0, 0.0, 0.4])


#: Probabilities of a virtual respondent tagging 0, 1, 2 or 3 emotions (mean 1.9).
_TAG_COUNT_PROBS = np.array([0.05, 0.30, 0.35, 0.30])

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])  # natural minor
#: Chord progressions as scale degrees (0 = tonic), per mode.
_PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 0, 4)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 3, 6, 2), (0, 5, 3, 4)],
}
_TABLE_SIZE = 4096
_CONTROL = 32  # samples per step of slow control signals (vibrato, dynamics)
#: Keys (tonic pitch classes) in circle-of-fifths order from C: C G F D B♭ A E♭ E A♭ B D♭ F♯.
_KEY_ORDER = (0, 7, 5, 2, 10, 9, 3, 4, 8, 11, 1, 6)


# --------------------------------------------------------------------------- parameters
def draw_parameters(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` parameter vectors ``z`` (``(n, 9)``, columns :data:`PARAMETERS`).

    ``minor`` is ±1 with probability 1/2; the others are uniform on ``[-1, 1]``.
    """
    z = rng.uniform(-1.0, 1.0, size=(n, len(PARAMETERS)))
    z[:, 0] = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return z


def parameter_table(z: np.ndarray):
    """Parameters in musical units as a :class:`pandas.DataFrame` (one row per clip)."""
    import pandas as pd

    z = np.atleast_2d(z)
    u = (z + 1.0) / 2.0  # 0..1
    return pd.DataFrame(
        {
            "mode": np.where(z[:, 0] > 0, "minor", "major"),
            "tempo_bpm": 60.0 * 3.0 ** u[:, 1],
            "loudness_dbfs": -32.0 + 20.0 * u[:, 2],
            "dynamics_db": 9.0 * u[:, 3],
            "tonic_midi": 48.0 + 19.0 * u[:, 4],
            "note_fraction": 1.0 - 0.75 * u[:, 5],
            "rolloff": 2.6 - 2.0 * u[:, 6],
            "detune_cents": 35.0 * u[:, 7],
            "percussion_db": -40.0 + 40.0 * u[:, 8],
        }
    )


# --------------------------------------------------------------------------- annotations
def gems_scores(z: np.ndarray) -> np.ndarray:
    """Noise-free GEMS scores ``b + z Wᵀ`` (``(n, 9)``); tag probabilities ∝ ``exp(score)``."""
    return GEMS_BASE_RATES[None, :] + np.atleast_2d(z) @ GEMS_WEIGHTS.T


def sample_gems(
    scores: np.ndarray, n_respondents: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate Emotify-style tagging.

    Parameters
    ----------
    scores : array (n, 9)
        Per-clip emotion scores (noise included).
    n_respondents : int array (n,)
        Respondents per clip.
    rng : numpy Generator

    Returns
    -------
    fractions : float32 (n, 9)
        Fraction of each clip's respondents that tagged each emotion.
    tags : int (n, 9)
        The tag counts.
    """
    scores = np.atleast_2d(scores)
    n, k = scores.shape
    r_max = int(np.max(n_respondents))
    gumbel = rng.gumbel(size=(n, r_max, k))
    n_tags = rng.choice(len(_TAG_COUNT_PROBS), size=(n, r_max), p=_TAG_COUNT_PROBS)
    # Top-k of score + Gumbel = sampling k emotions without replacement, p ∝ exp(score).
    rank = np.argsort(np.argsort(-(scores[:, None, :] + gumbel), axis=2), axis=2)
    tagged = rank < n_tags[:, :, None]
    present = np.arange(r_max)[None, :] < np.asarray(n_respondents)[:, None]
    tags = (tagged & present[:, :, None]).sum(axis=1)
    return (tags / np.asarray(n_respondents)[:, None]).astype(np.float32), tags


def valence_arousal(z: np.ndarray) -> np.ndarray:
    """Noise-free (valence, arousal) of parameter vectors, ``(n, 2)``."""
    z = np.atleast_2d(z)
    return np.stack([z @ VALENCE_WEIGHTS, z @ AROUSAL_WEIGHTS], axis=1)


def quadrant_of(va: np.ndarray) -> np.ndarray:
    """Quadrant class name of each (valence, arousal) row."""
    va = np.atleast_2d(va)
    v, a = va[:, 0] > 0, va[:, 1] > 0
    names = np.array(QUADRANT_CLASSES)
    return names[np.where(a, np.where(v, 0, 1), np.where(v, 3, 2))]


# --------------------------------------------------------------------------- audio
@dataclass(frozen=True)
class SyntheticClip:
    """Everything needed to render one clip again: parameters, artist timbre, seed.

    Parameters
    ----------
    z : tuple of float
        The nine parameters (:data:`PARAMETERS`) on [-1, 1].
    artist : int
        Synthetic artist index.
    key : int
        Artist's key: the tonic's pitch class (0 = C … 11 = B); the register picks its octave.
    odd_even : float
        Artist's timbre: weight of odd vs even harmonics (0 = even-rich, 1 = odd-only, clarinet-like).
    vibrato : float
        Artist's vibrato depth in cents.
    seed : int
        Seed of the clip's score and noise.
    duration : float
        Seconds.
    sr : int
        Default sample rate.
    """

    z: tuple[float, ...]
    artist: int
    key: int
    odd_even: float
    vibrato: float
    seed: int
    duration: float
    sr: int

    def render(self, sr: int | None = None) -> tuple[np.ndarray, int]:
        """Synthesise the clip: ``(y, sr)``, float32 mono (``sr`` defaults to the clip's)."""
        sr = int(sr or self.sr)
        return render_clip(self, sr), sr

    def content_id(self) -> str:
        """Hash of everything that determines the audio (used as the cache key)."""
        payload = json.dumps(
            {
                "v": GENERATOR_VERSION,
                "z": [round(float(x), 12) for x in self.z],
                "key": self.key,
                "odd_even": round(self.odd_even, 12),
                "vibrato": round(self.vibrato, 12),
                "seed": self.seed,
                "duration": self.duration,
                "sr": self.sr,  # the rate used when none is asked for
            },
            sort_keys=True,
        )
        return "synthetic-" + hashlib.sha256(payload.encode()).hexdigest()


def _wavetable(rolloff: float, odd_even: float, n_harmonics: int = 10) -> np.ndarray:
    k = np.arange(1, n_harmonics + 1)
    amps = k ** (-rolloff) * np.where(k % 2 == 1, 1.0, 1.0 - odd_even)
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = amps @ np.sin(2 * np.pi * k[:, None] * phase[None, :])
    return (table / np.max(np.abs(table))).astype(np.float32)


def _midi_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=float) - 69.0) / 12.0)


class _NoteMaker:
    """Wavetable notes with a clip-wide envelope shape and vibrato curve (computed once)."""

    def __init__(self, table, sr, n_total, max_len, attack, decay_tau, release, vibrato_cents):
        self.table, self.release = table, release
        t = np.arange(max_len + release) / sr
        self.t = t
        self.env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay_tau)
        self.fade = np.linspace(1.0, 0.0, release)
        # FM vibrato at 5.5 Hz: the integral of f0·(1 + c·sin ωt) is f0·(t − c·cos ωt / ω).
        w = 2 * np.pi * 5.5
        c = np.log(2.0) / 1200.0 * vibrato_cents
        n = n_total + len(t)
        coarse = np.cos(w * np.arange(0, n + _CONTROL, _CONTROL) / sr)  # smooth: control rate is plenty
        self.vib = (-c / w) * np.repeat(coarse, _CONTROL)[:n]

    def __call__(self, f0, start, n_len, phase0):
        n = n_len + self.release
        phase = phase0 + f0 * (self.t[:n] + self.vib[start : start + n])
        y = self.table[((phase * _TABLE_SIZE).astype(np.int64)) & (_TABLE_SIZE - 1)]
        env = self.env[:n].copy()
        env[n_len:] *= self.fade
        return y * env


def _add(buf, start, x):
    end = min(len(buf), start + len(x))
    if end > start:
        buf[start:end] += x[: end - start]


def render_clip(clip: SyntheticClip, sr: int) -> np.ndarray:
    """Render a :class:`SyntheticClip` at rate ``sr`` (see the module docstring)."""
    z = np.asarray(clip.z, dtype=float)
    p = parameter_table(z).iloc[0]
    score = np.random.default_rng([clip.seed, 1])  # musical choices: independent of sr
    noise = np.random.default_rng([clip.seed, 2, sr])  # sample-level noise
    n_total = int(round(clip.duration * sr))
    minor = p["mode"] == "minor"
    scale = _MINOR if minor else _MAJOR
    beat = 60.0 / p["tempo_bpm"]
    n_beats = int(np.ceil(clip.duration / beat)) + 1
    # The artist's key fixes the tonic's pitch class; the register picks its octave.
    tonic = clip.key % 12 + 12 * round((p["tonic_midi"] - clip.key % 12) / 12)
    progression = _PROGRESSIONS["minor" if minor else "major"][score.integers(4)]
    table = _wavetable(p["rolloff"], clip.odd_even)
    frac = p["note_fraction"]
    attack = 0.004 + 0.076 * (1.0 - (z[5] + 1) / 2)  # legato: slow attack
    decay_tau = 0.25 + 2.5 * (1.0 - (z[5] + 1) / 2)  # staccato: plucked
    release = int(0.04 * sr)
    detune = p["detune_cents"]
    p_cluster = 0.7 * (z[7] + 1) / 2
    accent_db = p["dynamics_db"] / 2.0
    music = np.zeros(n_total + sr, dtype=np.float64)
    make = _NoteMaker(table, sr, len(music), int(np.ceil(beat * sr)) + 1, attack, decay_tau, release, clip.vibrato)

    def play(midi, start_s, length_s, amp):
        start = int(round(start_s * sr))
        n_len = max(1, int(round(length_s * sr)))
        f0 = float(_midi_hz(midi))
        x = make(f0, start, n_len, score.random())
        if detune > 0.5:  # a detuned doubling beats against the note
            x = 0.5 * (x + make(f0 * 2 ** (detune / 1200), start, n_len, score.random()))
        if score.random() < p_cluster:  # a semitone cluster tone
            x = x + 0.6 * make(f0 * 2 ** (1 / 12), start, n_len, score.random())
        _add(music, start, amp * 10 ** (score.normal(0, accent_db) / 20) * x)

    def degree_midi(deg, octave=0):
        return tonic + 12 * (octave + deg // 7) + scale[deg % 7]

    melody_deg = 7 + int(score.integers(0, 5))
    eighths = score.random() < 0.5 + 0.25 * z[1]
    for b in range(n_beats):
        root = progression[(b // 4) % 4]
        t0 = b * beat
        for voice in (0, 2, 4):  # chord hit on every beat
            play(degree_midi(root + voice), t0, beat * frac, 0.18)
        play(degree_midi(root, -1), t0, beat * frac, 0.35)  # bass
        for s in range(2 if eighths else 1):
            step = beat / (2 if eighths else 1)
            if s == 0 and score.random() < 0.6:  # on the beat: a chord tone near the last note
                options = [root + 7 + v for v in (0, 2, 4)]
                melody_deg = min(options, key=lambda d: abs(d - melody_deg))
            else:
                melody_deg = int(np.clip(melody_deg + score.integers(-2, 3), 3, 14))
            play(degree_midi(melody_deg), t0 + s * step, step * frac, 0.3)

    # Slow dynamics: a crescendo/decrescendo of ±dynamics_db over 4-8 s.
    t = np.arange(0, len(music) + _CONTROL, _CONTROL) / sr
    period = score.uniform(4.0, 8.0)
    gain = 10 ** (p["dynamics_db"] * np.sin(2 * np.pi * t / period + score.uniform(0, 2 * np.pi)) / 20)
    music *= np.repeat(gain, _CONTROL)[: len(music)]

    # Drums, scaled relative to the music.
    drums = np.zeros_like(music)
    # Kick: a 160 → 50 Hz sweep with a click (visible above the mel bank's 133 Hz floor);
    # snare: noise + 185 Hz body; hi-hat: short white-noise bursts.
    kick_t = np.arange(int(0.2 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(50 + 110 * np.exp(-kick_t / 0.025)) / sr) * np.exp(-kick_t / 0.08)
    click = int(0.004 * sr)
    snare_n = int(0.18 * sr)
    hat_n = int(0.05 * sr)
    hat_env = np.exp(-np.arange(hat_n) / sr / 0.015)
    st = np.arange(snare_n) / sr
    for b in range(n_beats):
        start = int(round(b * beat * sr))
        if b % 2 == 0:
            k = 0.7 * kick
            k[:click] += 0.5 * noise.standard_normal(click)
            _add(drums, start, k)
        else:
            snare = (0.7 * noise.standard_normal(snare_n) + 0.5 * np.sin(2 * np.pi * 185 * st)) * np.exp(-st / 0.06)
            _add(drums, start, 0.8 * snare)
        for h in range(2):
            _add(drums, int(round((b + h / 2) * beat * sr)), 0.35 * noise.standard_normal(hat_n) * hat_env)
    rms = lambda x: np.sqrt(np.mean(x**2) + 1e-20)  # noqa: E731
    drums *= rms(music) / rms(drums) * 10 ** (p["percussion_db"] / 20)
    y = (music + drums)[:n_total]
    y *= 10 ** (p["loudness_dbfs"] / 20) / rms(y)
    y = np.tanh(y.astype(np.float32))  # soft clip; nearly linear below −12 dBFS
    y += np.float32(1e-5) * noise.standard_normal(n_total, dtype=np.float32)  # never digitally silent
    return y


# --------------------------------------------------------------------------- data sets
@dataclass
class SyntheticSet:
    """Output of :func:`make_synthetic_gems` / :func:`make_synthetic_quadrants`."""

    clips: list[SyntheticClip]
    annotations: np.ndarray
    target_names: list[str]
    labels: np.ndarray | None
    metadata: "object"  # pandas.DataFrame


def _clips(z: np.ndarray, duration: float, sr: int, songs_per_artist: int, n_keys: int, rng) -> list[SyntheticClip]:
    if not 1 <= n_keys <= 12:
        raise ValueError(f"n_keys must be between 1 and 12, got {n_keys}")
    n = len(z)
    n_artists = int(np.ceil(n / songs_per_artist))
    artist_of = rng.permutation(np.arange(n) % n_artists)
    keys = np.array(_KEY_ORDER[:n_keys])[rng.integers(0, n_keys, n_artists)]
    odd_even = rng.uniform(0.0, 1.0, n_artists)
    vibrato = rng.uniform(0.0, 25.0, n_artists)
    clip_seeds = rng.integers(0, 2**31 - 1, n)
    return [
        SyntheticClip(
            z=tuple(float(v) for v in z[i]),
            artist=int(artist_of[i]),
            key=int(keys[artist_of[i]]),
            odd_even=float(odd_even[artist_of[i]]),
            vibrato=float(vibrato[artist_of[i]]),
            seed=int(clip_seeds[i]),
            duration=float(duration),
            sr=int(sr),
        )
        for i in range(n)
    ]


def _metadata(z: np.ndarray, clips: list[SyntheticClip]):
    import pandas as pd

    table = parameter_table(z)
    zt = pd.DataFrame(z, columns=[f"z_{p}" for p in PARAMETERS])
    extra = pd.DataFrame({"artist": [c.artist for c in clips], "key": [c.key for c in clips]})
    return pd.concat([table, zt, extra], axis=1)


def _check(n_songs: int, duration: float, sr: int):
    if n_songs < 1:
        raise ValueError(f"n_songs must be positive, got {n_songs}")
    if duration < 1.0:
        raise ValueError(f"duration must be at least 1 s, got {duration}")
    if sr < 8000:
        raise ValueError(f"sr must be at least 8000 Hz, got {sr}")


def make_synthetic_gems(
    n_songs: int = 200,
    duration: float = 12.0,
    sr: int = 22050,
    seed: int = 0,
    noise: float = 0.5,
    n_respondents: float = 20.0,
    songs_per_artist: int = 4,
    n_keys: int = 3,
) -> SyntheticSet:
    """Parameters, clips and GEMS annotations of a synthetic Emotify-like set.

    Parameters
    ----------
    n_songs : int
        Number of clips.
    duration : float
        Seconds per clip (≥ 6 s gives the 100-vector crops of the paper's training).
    sr : int
        Sample rate of the rendered audio.
    seed : int
        Seed of everything.
    noise : float
        Standard deviation of the per-clip, per-emotion score noise (what the music does
        not explain); 0 leaves only the respondents' sampling noise.
    n_respondents : float
        Mean respondents per clip (Poisson, at least 5).
    songs_per_artist : int
        Clips per synthetic artist (the grouping unit).
    n_keys : int
        Artists' keys are drawn from the first ``n_keys`` keys of the circle of fifths
        (C, G, F, …). With few keys (default 3) the mode shows in a song's average chroma;
        with 12 it is visible only in interval patterns, and much harder to learn.
    """
    _check(n_songs, duration, sr)
    rng = np.random.default_rng([seed, 0x6E35])
    z = draw_parameters(n_songs, rng)
    scores = gems_scores(z) + noise * rng.standard_normal((n_songs, len(GEMS_EMOTIONS)))
    n_resp = np.maximum(5, rng.poisson(n_respondents, n_songs))
    fractions, _ = sample_gems(scores, n_resp, rng)
    clips = _clips(z, duration, sr, songs_per_artist, n_keys, rng)
    meta = _metadata(z, clips)
    meta["n_respondents"] = n_resp
    return SyntheticSet(clips, fractions, list(GEMS_EMOTIONS), None, meta)


def make_synthetic_quadrants(
    n_songs: int = 200,
    duration: float = 12.0,
    sr: int = 22050,
    seed: int = 0,
    noise: float = 0.4,
    songs_per_artist: int = 4,
    n_keys: int = 3,
    balanced: bool = True,
) -> SyntheticSet:
    """Parameters, clips and quadrant labels of a synthetic 4-class valence–arousal set.

    Parameters are as in :func:`make_synthetic_gems`; ``noise`` is the standard deviation
    of the noise added to valence and arousal before the quadrant is taken, and
    ``balanced`` draws candidates until each quadrant holds ``n_songs / 4`` clips (±1).
    """

    _check(n_songs, duration, sr)
    rng = np.random.default_rng([seed, 0x4A11])
    if balanced:
        quota = np.full(4, n_songs // 4) + (np.arange(4) < n_songs % 4)
        chosen_z, chosen_va = [], []
        counts = np.zeros(4, dtype=int)
        while np.any(counts < quota):
            z = draw_parameters(4 * n_songs, rng)
            va = valence_arousal(z) + noise * rng.standard_normal((len(z), 2))
            cls = np.array([QUADRANT_CLASSES.index(c) for c in quadrant_of(va)])
            for i in range(len(z)):
                if counts[cls[i]] < quota[cls[i]]:
                    counts[cls[i]] += 1
                    chosen_z.append(z[i])
                    chosen_va.append(va[i])
        z, va = np.array(chosen_z), np.array(chosen_va)
    else:
        z = draw_parameters(n_songs, rng)
        va = valence_arousal(z) + noise * rng.standard_normal((n_songs, 2))
    labels = quadrant_of(va)
    corners = np.array([QUADRANT_CORNERS[c] for c in labels], dtype=np.float32)
    clips = _clips(z, duration, sr, songs_per_artist, n_keys, rng)
    meta = _metadata(z, clips)
    meta["valence"] = va[:, 0]
    meta["arousal"] = va[:, 1]
    return SyntheticSet(clips, corners, ["valence", "arousal"], labels, meta)
