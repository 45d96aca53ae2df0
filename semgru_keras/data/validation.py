"""Load-time checks of songs: annotations, declared durations, decoded durations.

No silent wrong result: a song that cannot give the paper's training input is rejected
before any feature extraction or training, by an error that names the song id, its file
and the rule it breaks (or, with ``on_invalid="skip"``, left out with a warning listing
every such song).

Rules
-----
* **Annotations** are finite, and no song's annotation row is all zero: the cosine
  similarity of Eq. 12 is undefined for a zero vector.
* **Length.** A song must hold at least one training crop: ``crop_length`` input vectors
  of 50 ms, i.e. :data:`MIN_DURATION` = 100 × 50 ms = 5 s with the paper's settings. At
  load time this is checked from the container's header (``soundfile.info``: frames /
  sample rate), which costs about a millisecond per file. A file whose header cannot be
  read is not judged here; extraction then fails on it with an error naming the file.
* **Truncation.** When a file is decoded, the decoded duration must not fall short of
  the duration its header declares by more than ``min(1 s, 5 %)``
  (:data:`TRUNCATION_TOLERANCE_SECONDS`, :data:`TRUNCATION_TOLERANCE_FRACTION`). A cut-off
  MP3 keeps its Xing header, which still declares the full length (the first 20 kB of a
  60 s Emotify song decode to 3.37 s). On the real files we checked (10 Emotify MP3s,
  25 4Q OGGs) decoded and declared durations agree to the sample. WAV, FLAC and OGG headers are rebuilt by
  libsndfile from what is actually in the file, so a cut-off file of those kinds is not
  detectable this way; the length rule above still applies to it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..features import AudioError

__all__ = [
    "MIN_DURATION",
    "ON_INVALID",
    "TRUNCATION_TOLERANCE_FRACTION",
    "TRUNCATION_TOLERANCE_SECONDS",
    "annotation_problems",
    "check_annotations",
    "check_decoded_duration",
    "declared_duration",
    "validate_songs",
]

#: Shortest accepted clip, seconds: one crop of the paper (100 input vectors × 50 ms).
MIN_DURATION = 5.0

#: A decoded file may fall short of its declared duration by at most
#: ``min(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_FRACTION × declared)``.
TRUNCATION_TOLERANCE_SECONDS = 1.0
TRUNCATION_TOLERANCE_FRACTION = 0.05

ON_INVALID = ("raise", "skip")


def declared_duration(path: str | os.PathLike) -> float | None:
    """Duration in seconds that a file's header declares (``None`` if it cannot be read)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # not readable by libsndfile: judged when it is decoded
        return None
    if not info.samplerate or info.frames <= 0:
        return None
    return info.frames / info.samplerate


def check_decoded_duration(path: str | os.PathLike, n_samples: int, sr: int) -> None:
    """Raise :class:`~semgru_keras.features.AudioError` naming ``path`` if the decoded audio is cut off.

    See the module docstring for the tolerance.
    """
    declared = declared_duration(path)
    if declared is None:
        return
    decoded = n_samples / sr
    tolerance = min(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_FRACTION * declared)
    if declared - decoded > tolerance:
        raise AudioError(
            f"{path}: truncated audio: decoded {decoded:.2f} s but the header declares {declared:.2f} s "
            f"(rule: at most min({TRUNCATION_TOLERANCE_SECONDS:g} s, "
            f"{100 * TRUNCATION_TOLERANCE_FRACTION:g} %) shorter); the file is probably cut off"
        )


def annotation_problems(annotations: np.ndarray) -> dict[int, str]:
    """Row index → rule broken, for non-finite and all-zero annotation rows."""
    a = np.asarray(annotations, dtype=np.float64)
    out: dict[int, str] = {}
    for i in np.flatnonzero(~np.all(np.isfinite(a), axis=1)):
        out[int(i)] = "annotation contains NaN or infinite values"
    for i in np.flatnonzero(np.all(a == 0, axis=1)):
        out[int(i)] = "annotation row is all zero (its cosine similarity, Eq. 12, is undefined)"
    return out


def _song(ids, paths, i: int) -> str:
    name = f"song {ids[i]}"
    return f"{name} ({paths[i]})" if paths is not None else name


def check_annotations(ids: Sequence[str], annotations: np.ndarray, paths=None, where: str = "") -> None:
    """Raise ``ValueError`` naming every song whose annotation is non-finite or all zero."""
    problems = annotation_problems(annotations)
    if problems:
        prefix = f"{where}: " if where else ""
        listing = "; ".join(f"{_song(ids, paths, i)}: {why}" for i, why in sorted(problems.items())[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError(f"{prefix}{len(problems)} songs with unusable annotations: {listing}{more}")


def validate_songs(
    ids: Sequence[str],
    paths: Sequence[Path],
    annotations: np.ndarray,
    *,
    where: str,
    min_duration: float | None = MIN_DURATION,
    on_invalid: str = "raise",
) -> np.ndarray:
    """Check the songs of a file data set at load time; return the mask of songs to keep.

    Parameters
    ----------
    ids, paths, annotations
        Song ids, audio files and annotation rows, aligned.
    where : str
        The data set's root or annotation file, named in messages.
    min_duration : float or None
        Shortest accepted clip in seconds by its header (default :data:`MIN_DURATION`,
        one crop of the paper); ``None`` or 0 turns the check off.
    on_invalid : {"raise", "skip"}
        ``"raise"``: ``ValueError`` naming the first bad song (id, file, rule) and listing
        the others. ``"skip"``: leave them out with a warning listing every one.
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    problems = annotation_problems(annotations)
    if min_duration:
        for i, p in enumerate(paths):
            if i in problems:
                continue
            declared = declared_duration(p)
            if declared is not None and declared < min_duration:
                problems[i] = (
                    f"{declared:.2f} s long by its header, shorter than min_duration={min_duration:g} s "
                    f"(one training crop: 100 input vectors × 50 ms = {MIN_DURATION:g} s); "
                    "min_duration= sets the rule, on_invalid='skip' leaves such songs out"
                )
    keep = np.ones(len(ids), dtype=bool)
    if not problems:
        return keep
    lines = [f"  {_song(ids, paths, i)}: {why}" for i, why in sorted(problems.items())]
    listing = "\n".join(lines[:20]) + ("\n  …" if len(lines) > 20 else "")
    if on_invalid == "raise":
        first = min(problems)
        others = f"\n{len(problems)} invalid songs in all:\n{listing}" if len(problems) > 1 else ""
        raise ValueError(f"{paths[first]}: song {ids[first]} (listed in {where}): {problems[first]}{others}")
    warnings.warn(f"{where}: skipped {len(problems)} invalid songs:\n{listing}", stacklevel=4)
    keep[list(problems)] = False
    return keep
