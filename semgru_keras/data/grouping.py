"""Which songs must share a fold: one artist under several credits, one recording under several names.

Cross-validation keeps the songs of a group in one fold
(:func:`semgru_keras.protocol.make_folds`); two relations make songs a group.

Artists
    Loaders give the artist as the group (4Q, the ``artist`` column of a quadrants CSV).
    Credits name one act in several ways: "Bob Marley" and "Bob Marley & the Wailers",
    "Xavier Cugat" and "Xavier Cugat & His Orchestra". :func:`artist_key` reduces a credit
    to its leader: Unicode form, case and spacing are normalised, and a trailing backing
    clause is dropped — a conjunction (``&``, ``and``, ``+``, ``with``, ``'n'``) followed by
    ``the``, ``his``, ``her`` or ``their`` ("& the Wailers", "and His Orchestra", "& Her
    Trio"), or a featuring clause ("feat. X", "ft. X", "featuring X"). Duos ("Simon &
    Garfunkel") keep both names. :func:`canonical_artists` gives every credit the shortest
    spelling among the credits with its key, so a credit without an alias keeps its label.
    Two different acts with one leader's name are merged: that keeps more songs together
    (stricter folds), it never splits one act.

Recordings
    The same audio under two names would put one recording in a training and a test fold.
    :func:`find_duplicates` finds

    * identical content: the SHA-256 of a file's bytes (the content id the feature cache
      keys on, :mod:`semgru_keras.data.cache`), or a synthetic clip's content id;
    * re-encoded copies — another format, bit rate, sample rate or level, or an excerpt
      that overlaps another song by at least :data:`MIN_OVERLAP_SECONDS` (or half the
      shorter song): Chromaprint fingerprints (the AcoustID fingerprint, ``libchromaprint``
      through the ctypes binding of ``pyacoustid``), compared by their bit error rate at
      the best alignment (:func:`match_fingerprints`). Measured here on a 4Q clip: an Ogg
      Vorbis re-encode at half the level differs in 0.5 % of the fingerprint bits, an MP3
      re-encode in 1.4 %, a 7 s-shifted excerpt in 0.6 %; a different song in ≈ 40 %.

    Fingerprints are computed once per file content, through the feature cache. Synthetic
    clips are rendered from their parameters, so their content ids already tell copies
    apart; they are not fingerprinted.

    :func:`merge_groups` then joins the groups of duplicate songs: the groups used are
    the union of both relations.

Chromaprint is a system library: Debian/Ubuntu ``apt-get install libchromaprint1``,
conda-forge ``chromaprint``, Homebrew ``chromaprint``; ``pyacoustid`` comes with the
package. Without it, ``method="auto"`` checks identical content only and says so once
(:class:`DuplicateCheckWarning`, and the record of the run); ``method="fingerprint"``
raises an ``ImportError`` naming the install commands.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

__all__ = [
    "METHODS",
    "MAX_BIT_ERROR_RATE",
    "MIN_OVERLAP_SECONDS",
    "DuplicateCheckWarning",
    "Duplicates",
    "artist_key",
    "canonical_artists",
    "chromaprint_status",
    "fingerprint",
    "match_fingerprints",
    "find_duplicates",
    "merge_groups",
]

#: ``method`` of :func:`find_duplicates`: identical content and fingerprints where Chromaprint is
#: installed (``"auto"``), fingerprints required (``"fingerprint"``), identical content only (``"content"``).
METHODS = ("auto", "fingerprint", "content")
#: Largest fraction of differing fingerprint bits at the best alignment for two songs to be one recording.
MAX_BIT_ERROR_RATE = 0.15
#: Shortest aligned overlap (seconds) for a fingerprint match; half the shorter song when that is less.
MIN_OVERLAP_SECONDS = 10.0
#: Seconds per Chromaprint item (its default algorithm: 11025 Hz, frames of 4096 samples, a third apart).
ITEM_SECONDS = 4096 / 3 / 11025

_INSTALL = ("install Chromaprint: apt-get install libchromaprint1 (Debian/Ubuntu), conda install -c conda-forge "
            "chromaprint, or brew install chromaprint; and pip install pyacoustid")


class DuplicateCheckWarning(UserWarning):
    """The duplicate check could not compare fingerprints (Chromaprint missing): identical content only."""


# ---------------------------------------------------------------------- artists
_BACKING = re.compile(
    r"\s*(?:&|\+|\band\b|\bwith\b|'n'?|\bn\b)\s+(?:the|his|her|their)\b.*$"  # & the Wailers, and His Orchestra
    r"|\s*[(\[]?\s*(?:\bfeat\b\.?|\bft\b\.?|\bfeaturing\b)\s+.*$"  # feat. X
)


def artist_key(name: str) -> str:
    """The act an artist credit names: its leader, normalised (see the module docstring).

    >>> artist_key("Bob Marley & the Wailers"), artist_key("Eddie Heywood and His Orchestra")
    ('bob marley', 'eddie heywood')
    >>> artist_key("Simon & Garfunkel")
    'simon & garfunkel'
    """
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(name)).casefold()).strip()
    return _BACKING.sub("", text).strip() or text


def canonical_artists(names) -> np.ndarray:
    """Each credit replaced by the shortest credit with the same :func:`artist_key` (ties: the
    first in sorted order), so aliases share one label and other credits keep theirs."""
    names = [str(n) for n in names]
    by_key: dict[str, str] = {}
    for name in sorted(set(names), key=lambda s: (len(s), s)):
        by_key.setdefault(artist_key(name), name)
    return np.array([by_key[artist_key(n)] for n in names], dtype=object).astype(str)


# ---------------------------------------------------------------------- fingerprints
def chromaprint_status() -> tuple[bool, str]:
    """``(True, "Chromaprint <version>")`` when fingerprints can be computed, else ``(False, why)``."""
    try:
        import chromaprint
    except ImportError as exc:
        return False, f"Chromaprint unavailable ({exc}): {_INSTALL}"
    version = chromaprint._libchromaprint.chromaprint_get_version()
    return True, f"Chromaprint {version.decode() if isinstance(version, bytes) else version}"


def fingerprint(y: np.ndarray, sr: int) -> np.ndarray:
    """Raw Chromaprint fingerprint of mono audio ``y`` at rate ``sr``: uint32 items, one per
    :data:`ITEM_SECONDS` (Chromaprint resamples to 11025 Hz itself)."""
    import chromaprint

    pcm = (np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    printer = chromaprint.Fingerprinter()
    printer.start(int(sr), 1)
    printer.feed(pcm)
    items, _ = chromaprint.decode_fingerprint(printer.finish())
    return np.asarray(items, dtype=np.uint32)


def _bit_error_rate(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int, int]:
    """Bit error rate of ``a[i]`` against ``b[i - offset]`` over their overlap; ``(ber, overlap items,
    distinct equal items)``."""
    lo, hi = max(0, offset), min(len(a), offset + len(b))
    if hi <= lo:
        return 1.0, 0, 0
    x, y = a[lo:hi], b[lo - offset : hi - offset]
    bits = int(np.unpackbits((x ^ y).view(np.uint8)).sum())
    return bits / (32.0 * (hi - lo)), hi - lo, len(np.unique(x[x == y]))


def _compare(a: np.ndarray, b: np.ndarray, max_ber: float, min_overlap: float) -> tuple[float, float] | None:
    """``(bit error rate, overlap seconds)`` of two fingerprints that match, else ``None``.

    Alignments are proposed by items the two share exactly (a re-encode keeps most of them);
    the three most frequent are checked.
    """
    _, ia, ib = np.intersect1d(a, b, assume_unique=False, return_indices=True)
    offsets, counts = np.unique(ia - ib, return_counts=True)
    need = min(min_overlap / ITEM_SECONDS, 0.5 * min(len(a), len(b)))
    best = None
    for offset in offsets[np.argsort(-counts, kind="stable")[:3]]:
        ber, overlap, equal = _bit_error_rate(a, b, int(offset))
        if overlap >= need and equal >= 10 and ber <= max_ber and (best is None or ber < best[0]):
            best = (ber, overlap * ITEM_SECONDS)
    return best


def match_fingerprints(fingerprints, max_ber: float = MAX_BIT_ERROR_RATE,
                       min_overlap: float = MIN_OVERLAP_SECONDS) -> list[tuple[int, int, float, float]]:
    """Pairs of fingerprints of one recording: ``(i, j, bit error rate, overlap seconds)``, ``i < j``.

    Candidates share at least 10 distinct items (items found in more than 2 % of the songs,
    such as silence, are not counted); a candidate matches when, at an alignment its shared
    items propose, at least ``min_overlap`` seconds (or half the shorter song) overlap with
    at most ``max_ber`` of the bits differing and at least 10 distinct items equal.
    """
    fps = [np.asarray(f, dtype=np.uint32) for f in fingerprints]
    owners: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(fps):
        for item in np.unique(f).tolist():
            owners[item].append(i)
    common = max(5, int(0.02 * len(fps)))
    shared: Counter = Counter()
    for songs in owners.values():
        if 1 < len(songs) <= common:
            shared.update(combinations(songs, 2))
    pairs = []
    for (i, j), count in sorted(shared.items()):
        if count >= 10:
            found = _compare(fps[i], fps[j], max_ber, min_overlap)
            if found is not None:
                pairs.append((i, j, *found))
    return pairs


# ---------------------------------------------------------------------- duplicates
@dataclass
class Duplicates:
    """What :func:`find_duplicates` found.

    Attributes
    ----------
    sets : list of list of int
        Song indices of each recording found more than once (each set sorted, ≥ 2 songs).
    pairs : list of dict
        The evidence: ``{"songs": [i, j], "how": "identical content" or "fingerprint",
        "bit_error_rate", "overlap_seconds"}`` per linked pair.
    method : str
        What was compared: ``"content"`` or ``"content+fingerprint"``.
    note : str
        The fingerprinter used, or why none was.
    """

    sets: list = field(default_factory=list)
    pairs: list = field(default_factory=list)
    method: str = "content"
    note: str = ""

    @property
    def n_songs(self) -> int:
        """Songs that have a duplicate."""
        return sum(len(s) for s in self.sets)

    def describe(self) -> str:
        if not self.sets:
            return f"no duplicate recordings ({self.method}; {self.note})"
        return (f"{len(self.sets)} recording(s) found under several names, {self.n_songs} songs "
                f"({self.method}; {self.note})")

    def to_dict(self, ids=None) -> dict:
        """JSON-friendly record; songs named by ``ids`` when given."""
        name = (lambda i: str(ids[i])) if ids is not None else int  # noqa: E731
        return {
            "method": self.method,
            "note": self.note,
            "n_sets": len(self.sets),
            "n_songs": self.n_songs,
            "sets": [[name(i) for i in s] for s in self.sets],
            "pairs": [dict(p, songs=[name(i) for i in p["songs"]]) for p in self.pairs],
        }


def _components(n: int, links) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[root(i)].append(i)
    return sorted((m for m in members.values() if len(m) > 1), key=lambda m: m[0])


def find_duplicates(ds, method: str = "auto", cache_dir=None, n_jobs: int | None = 1,
                    progress: bool = True) -> Duplicates:
    """Songs of ``ds`` (a :class:`~semgru_keras.data.Dataset`) that hold one recording.

    Parameters
    ----------
    method : {"auto", "fingerprint", "content"}
        See :data:`METHODS`; ``"auto"`` without Chromaprint warns once
        (:class:`DuplicateCheckWarning`) and compares content only.
    cache_dir, n_jobs, progress
        As for :meth:`~semgru_keras.data.Dataset.map_audio`: fingerprints are computed once
        per file content, in ``n_jobs`` processes, then read from the cache.

    Raises
    ------
    ImportError
        ``method="fingerprint"`` without Chromaprint (the message names the install commands).
    """
    if method not in METHODS:
        raise ValueError(f"duplicates method must be one of {METHODS}, got {method!r}")
    sources = ds.sources
    by_content: dict[str, list[int]] = defaultdict(list)
    for i, src in enumerate(sources):
        by_content[src.content_id()].append(i)
    pairs = [{"songs": [s[0], j], "how": "identical content"} for s in by_content.values() if len(s) > 1 for j in s[1:]]
    links = [tuple(p["songs"]) for p in pairs]
    note = "SHA-256 of the audio files" if ds.paths is not None else "content ids of the synthetic clips"
    found = "content"
    if method != "content" and ds.paths is not None:
        ok, status = chromaprint_status()
        if ok:
            prints = ds.map_audio(fingerprint, key=f"chromaprint:{status}", cache_dir=cache_dir, n_jobs=n_jobs,
                                  progress=progress)
            linked = {frozenset(link) for link in links}
            for i, j, ber, overlap in match_fingerprints(list(prints)):
                if frozenset((i, j)) not in linked:
                    pairs.append({"songs": [i, j], "how": "fingerprint", "bit_error_rate": round(ber, 4),
                                  "overlap_seconds": round(overlap, 1)})
                    links.append((i, j))
            found, note = "content+fingerprint", f"{note}; {status} fingerprints"
        elif method == "fingerprint":
            raise ImportError(f"{ds.name}: cannot look for re-encoded copies: {status}")
        else:
            warnings.warn(f"{ds.name}: only identical files are found as duplicates, not re-encoded copies: {status}",
                          DuplicateCheckWarning, stacklevel=2)
            note = f"{note}; {status}"
    return Duplicates(sets=_components(len(sources), links), pairs=pairs, method=found, note=note)


def merge_groups(groups, sets) -> np.ndarray:
    """``groups`` with the groups of each set of songs (e.g. :attr:`Duplicates.sets`) joined.

    Songs are in one group afterwards when a chain of shared groups and shared sets links
    them (the union of both relations). A joined group takes the smallest label among its
    parts, so the array keeps its dtype, and ``groups`` comes back unchanged (the same
    object) when nothing is joined.
    """
    groups = np.asarray(groups)
    sets = [list(s) for s in sets if len(s) > 1]
    if not sets:
        return groups
    labels, inverse = np.unique(groups, return_inverse=True)
    links = [(int(inverse[s[0]]), int(inverse[j])) for s in sets for j in s[1:]]
    merged = np.arange(len(labels))
    for component in _components(len(labels), links):
        merged[component] = min(component)  # labels are sorted: the smallest label of the component
    return labels[merged[inverse]]
