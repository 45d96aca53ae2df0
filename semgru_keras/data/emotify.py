"""The Emotify data set (Aljanaki, Wiering & Veltkamp 2016) in its published layout.

Layout
------
::

    root/
      data.csv                          one row per respondent per song
      emotifymusic/classical/1.mp3 … 100.mp3
      emotifymusic/rock/1.mp3 …         track ids 101–200
      emotifymusic/electronic/…         track ids 201–300
      emotifymusic/pop/…                track ids 301–400

``data.csv`` has the header ``track id, genre, amazement, solemnity, tenderness,
nostalgia, calmness, power, joyful_activation, tension, sadness, mood, liked, disliked,
age, gender, mother tongue`` (a space after every comma); the nine emotion columns are
0/1 (a row may tag none). Track ``t`` of genre ``g`` is
``emotifymusic/<g>/<((t − 1) mod 100) + 1>.mp3``.

The annotation of a song (the paper's target) is the fraction of its respondents who
tagged each emotion; respondents who tagged nothing count in the denominator.

Getting the data
----------------
From the authors' page, https://www2.projects.science.uu.nl/memotion/emotifydata/
(``data.csv`` and ``emotifymusic.zip``), or ``python -m semgru_keras.data download emotify
--to PATH``; ``python -m semgru_keras.data check emotify --root PATH`` verifies a copy
(400 files, ``data.csv``'s SHA-256). Cite A. Aljanaki, F. Wiering & R. C. Veltkamp,
Information Processing & Management 52(1), 2016. The music is Magnatune's, under Creative
Commons BY-NC-SA licences: never commit it to a repository. Everything, with the licence and
digests: ``python -m semgru_keras.data sources emotify`` (:mod:`semgru_keras.data.sources`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..vocabulary import EMOTIFY_MEANS, GEMS_EMOTIONS

from .validation import MIN_DURATION, validate_songs

__all__ = [
    "EMOTIFY_EMOTIONS",
    "EMOTIFY_GENRES",
    "EMOTIFY_MEANS",
    "read_emotify_annotations",
    "emotify_path",
    "genre_range",
    "load_emotify",
    "is_emotify_root",
]

#: The nine GEMS emotion columns, in file order (:data:`semgru_keras.vocabulary.GEMS_EMOTIONS`).
EMOTIFY_EMOTIONS: tuple[str, ...] = GEMS_EMOTIONS

#: Genres in track-id order (ids 1–100, 101–200, 201–300, 301–400).
EMOTIFY_GENRES: tuple[str, ...] = ("classical", "rock", "electronic", "pop")


_REQUIRED = ("track id", "genre", *EMOTIFY_EMOTIONS)


def is_emotify_root(path: str | os.PathLike) -> bool:
    """Whether ``path`` looks like an Emotify folder (``data.csv`` + ``emotifymusic/``)."""
    path = Path(path)
    return (path / "data.csv").is_file() and (path / "emotifymusic").is_dir()


def emotify_path(root: str | os.PathLike, track_id: int, genre: str) -> Path:
    """Audio file of a track: ``root/emotifymusic/<genre>/<((id − 1) mod 100) + 1>.mp3``."""
    return Path(root) / "emotifymusic" / genre / f"{(int(track_id) - 1) % 100 + 1}.mp3"


def genre_range(genre: str) -> range:
    """Track ids of a genre in the published set: classical 1–100, rock 101–200, …"""
    g = EMOTIFY_GENRES.index(genre)
    return range(100 * g + 1, 100 * g + 101)


def _check_genre_ranges(frame, csv_path: Path) -> None:
    """Each row's track id must lie in its genre's range, or the id maps to another song's file."""
    rule = ", ".join(f"{g} {genre_range(g).start}–{genre_range(g).stop - 1}" for g in EMOTIFY_GENRES)
    bad = []
    for line, (track, genre) in enumerate(zip(frame["track id"], frame["genre"]), start=2):
        if genre not in EMOTIFY_GENRES:
            why = "empty genre" if not genre else f"unknown genre {genre!r}"
        elif track not in genre_range(genre):
            why = f"track id {track} outside genre {genre!r}"
        else:
            continue
        bad.append(f"line {line} (track id {track}): {why}")
    if bad:
        listing = "; ".join(bad[:10]) + (f"; … ({len(bad)} rows in all)" if len(bad) > 10 else "")
        raise ValueError(
            f"{csv_path}: {listing}. Rule: the genre is one of {', '.join(EMOTIFY_GENRES)} and the track id lies "
            f"in its range ({rule}); track t of genre g is emotifymusic/<g>/<((t − 1) mod 100) + 1>.mp3, so "
            "another id would silently read another song's audio"
        )


def read_emotify_annotations(csv_path: str | os.PathLike):
    """Aggregate ``data.csv`` into one row per song.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``track id`` (sorted), with the genre, the nine emotion fractions,
        ``n_respondents`` and the fractions of respondents who ``liked``/``disliked`` it
        (when those columns exist).

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file, for a missing file, missing columns, non-0/1 emotion values,
        or a row whose genre is empty or unknown or
        whose track id lies outside its genre's range (naming the line and track id).
    """
    import pandas as pd

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: Emotify annotation file not found")
    try:
        frame = pd.read_csv(csv_path, skipinitialspace=True)
    except Exception as exc:
        raise ValueError(f"{csv_path}: cannot parse as CSV ({type(exc).__name__}: {exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{csv_path}: missing columns {missing}; expected the Emotify header "
            f"'{', '.join(_REQUIRED)}, …' (found {list(frame.columns)})"
        )
    if frame.empty:
        raise ValueError(f"{csv_path}: no annotation rows")
    ids = pd.to_numeric(frame["track id"], errors="coerce")
    if ids.isna().any() or (ids != ids.round()).any():
        bad = frame.index[ids.isna() | (ids != ids.round())][:5] + 2  # 1-based, after header
        raise ValueError(f"{csv_path}: non-integer 'track id' on lines {bad.tolist()}")
    frame["track id"] = ids.astype(int)
    frame["genre"] = frame["genre"].fillna("").astype(str).str.strip().str.lower()
    _check_genre_ranges(frame, csv_path)
    values = frame[list(EMOTIFY_EMOTIONS)].apply(pd.to_numeric, errors="coerce")
    bad_rows = ~values.isin([0, 1]).all(axis=1)
    if bad_rows.any():
        lines = (frame.index[bad_rows][:5] + 2).tolist()
        raise ValueError(f"{csv_path}: emotion columns must be 0 or 1; bad values on lines {lines}")
    frame[list(EMOTIFY_EMOTIONS)] = values.astype(float)
    grouped = frame.groupby("track id", sort=True)
    songs = grouped[list(EMOTIFY_EMOTIONS)].mean()
    songs.insert(0, "genre", grouped["genre"].first())
    songs["n_respondents"] = grouped.size()
    for extra in ("liked", "disliked"):
        if extra in frame.columns:
            songs[extra] = pd.to_numeric(grouped[extra].mean(), errors="coerce")
    return songs


def load_emotify(
    root: str | os.PathLike,
    on_missing: str = "raise",
    min_duration: float | None = MIN_DURATION,
    on_invalid: str = "raise",
) -> dict:
    """Read an Emotify folder into the fields of a :class:`~semgru_keras.data.Dataset`.

    Parameters
    ----------
    root : path
        The folder holding ``data.csv`` and ``emotifymusic/``.
    on_missing : {"raise", "skip"}
        A song whose audio file is missing raises ``FileNotFoundError`` naming the file
        (and the ``data.csv`` that lists it), or is left out with a warning listing all
        such files.
    min_duration : float or None
        Shortest accepted song in seconds, read from the file headers at load time
        (default 5 s: one training crop of 100 input vectors × 50 ms); ``None`` turns
        the check off. See :mod:`semgru_keras.data.validation`.
    on_invalid : {"raise", "skip"}
        A song that is shorter than ``min_duration`` or whose annotation row is all zero
        raises ``ValueError`` naming its track id, file and the rule, or is left out with
        a warning listing all such songs.

    Returns
    -------
    dict
        Keyword arguments of :class:`~semgru_keras.data.Dataset`.
    """
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Emotify folder not found (python -m semgru_keras.data sources emotify "
                                "says where to get it; check it with python -m semgru_keras.data check emotify --root PATH)")
    csv_path = root / "data.csv"
    songs = read_emotify_annotations(csv_path)
    if not (root / "emotifymusic").is_dir():
        raise FileNotFoundError(f"{root / 'emotifymusic'}: Emotify audio folder not found (expected emotifymusic/<genre>/<n>.mp3: "
                                "unpack the authors' emotifymusic.zip there; python -m semgru_keras.data sources emotify)")
    paths = [emotify_path(root, t, g) for t, g in zip(songs.index, songs["genre"])]
    exists = np.array([p.is_file() for p in paths])
    if not exists.all():
        missing = [str(p) for p, e in zip(paths, exists) if not e]
        listing = "\n".join(f"  {m}" for m in missing[:20]) + ("\n  …" if len(missing) > 20 else "")
        if on_missing == "raise":
            raise FileNotFoundError(
                f"{missing[0]}: audio file not found for track {songs.index[~exists][0]} listed in {csv_path} "
                f"({len(missing)} missing in all):\n{listing}"
            )
        warnings.warn(f"{csv_path}: skipped {len(missing)} tracks whose audio is missing:\n{listing}", stacklevel=3)
        songs = songs[exists]
        paths = [p for p, e in zip(paths, exists) if e]
    keep = validate_songs(
        [str(t) for t in songs.index],
        paths,
        songs[list(EMOTIFY_EMOTIONS)].to_numpy(dtype=np.float64),
        where=str(csv_path),
        min_duration=min_duration,
        on_invalid=on_invalid,
    )
    if not keep.any():
        raise ValueError(f"{csv_path}: no valid songs left")
    songs = songs[keep]
    paths = [p for p, k in zip(paths, keep) if k]
    track_ids = songs.index.to_numpy()
    meta = songs.drop(columns=list(EMOTIFY_EMOTIONS)).reset_index()
    meta["path"] = [str(p) for p in paths]
    return dict(
        name="emotify",
        ids=np.array([str(t) for t in track_ids]),
        annotations=songs[list(EMOTIFY_EMOTIONS)].to_numpy(dtype=np.float32),
        target_names=list(EMOTIFY_EMOTIONS),
        task="regression",
        groups=track_ids,
        group_by="song",
        paths=paths,
        metadata=meta,
        root=root,
    )
