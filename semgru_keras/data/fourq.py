"""The 4Q audio emotion data set, read as its authors distribute it.

Panda, Malheiro & Paiva, IEEE Transactions on Affective Computing 11(4), 2020 (published
online 2018).

900 clips of about 30 s, 225 in each of Russell's valence–arousal quadrants — the same
four classes as the paper's Last.fm set (Table II), whose audio was never published:

=====  ===============  ====================
folder class            (valence, arousal)
=====  ===============  ====================
Q1     happy            (1, 1)
Q2     angry            (−1, 1)
Q3     sad              (−1, −1)
Q4     relaxed          (1, −1)
=====  ===============  ====================

Layout (as distributed; the audio may be any format soundfile/librosa read)::

    root/panda_dataset_taffc_metadata.csv    Song, Artist, Title, Quadrant, PQuad, ...
    root/Q1/<Song>.mp3  …  root/Q4/<Song>.mp3

Song ids are the CSV's ``Song`` column (``MT0000004637``); groups are artists, so
cross-validation keeps an artist's clips in one fold (130 artists have several clips and
28 appear in more than one quadrant). An artist credited with and without a backing band
("Bob Marley" / "Bob Marley & the Wailers", "Xavier Cugat" / "… & His Orchestra": four
such aliases in the authors' CSV) is one group
(:func:`~semgru_keras.data.grouping.canonical_artists`); the metadata keeps the credits. The loader checks the folders against the CSV
before anything is computed and names the file and CSV line that break a rule: a clip
with no CSV row, a CSV row with no clip, a clip in two folders, a quadrant in the CSV that
disagrees with the clip's folder, a duplicated song id. A blank artist cell makes that
song a group of its own (with a warning listing them), never one shared "blank" artist.

Getting the data
----------------
From the authors' page, https://mir.dei.uc.pt/downloads.html (``MER_audio_taffc_dataset.zip``),
or ``python -m semgru_keras.data download 4q --to PATH``; ``python -m semgru_keras.data check
4q --root PATH`` verifies a copy (900 files, both CSVs' SHA-256). Cite R. Panda, R. Malheiro
& R. P. Paiva, "Novel audio features for music emotion recognition", IEEE Transactions on
Affective Computing 11(4), 2020 (published online 2018), doi:10.1109/TAFFC.2018.2820691. The
clips are previews of commercial recordings: never commit them to a repository. Everything,
with the digests: ``python -m semgru_keras.data sources 4q`` (:mod:`semgru_keras.data.sources`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..vocabulary import QUADRANT_CLASSES, QUADRANT_CORNERS, canonical_class
from .grouping import canonical_artists
from .quadrants import AUDIO_EXTENSIONS
from .validation import MIN_DURATION, validate_songs

__all__ = ["FOURQ_METADATA", "FOURQ_FOLDERS", "is_4q_root", "load_4q"]

#: The authors' metadata file (one row per song, with the artist).
FOURQ_METADATA = "panda_dataset_taffc_metadata.csv"

#: The quadrant folders, Q1–Q4 (happy, angry, sad, relaxed).
FOURQ_FOLDERS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")


def is_4q_root(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding the 4Q metadata CSV."""
    path = Path(path)
    return path.is_dir() and (path / FOURQ_METADATA).is_file()


def _read_metadata(csv_path: Path):
    import pandas as pd

    if not csv_path.is_file():
        raise FileNotFoundError(
            f"{csv_path}: the 4Q metadata file is missing (the authors' distribution has {FOURQ_METADATA} "
            f"beside the folders Q1–Q4; python -m semgru_keras.data sources 4q says where to get it)"
        )
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise ValueError(f"{csv_path}: cannot parse as CSV ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in ("Song", "Artist", "Quadrant") if c not in frame.columns]
    if missing:
        raise ValueError(f"{csv_path}: missing columns {missing} (found {list(frame.columns)[:8]} …)")
    if frame.empty:
        raise ValueError(f"{csv_path}: no rows")
    frame["Song"] = frame["Song"].str.strip()
    frame["line"] = np.arange(2, len(frame) + 2)  # the header is line 1
    blank = frame.index[frame["Song"] == ""]
    if len(blank):
        raise ValueError(f"{csv_path}, line {frame.loc[blank[0], 'line']}: empty Song id")
    dup = frame["Song"].duplicated(keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        lines = frame.loc[frame["Song"] == first["Song"], "line"].tolist()
        raise ValueError(f"{csv_path}, lines {lines}: song {first['Song']} is listed more than once")
    return frame


def _clips(root: Path) -> dict[str, tuple[str, Path]]:
    """Song id → (folder, file) for every audio file in Q1–Q4; a song in two places is an error."""
    found: dict[str, tuple[str, Path]] = {}
    folders = [root / q for q in FOURQ_FOLDERS if (root / q).is_dir()]
    if not folders:
        raise FileNotFoundError(f"{root}: none of the quadrant folders {', '.join(FOURQ_FOLDERS)} exist")
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            song = path.stem
            if song in found:
                raise ValueError(
                    f"song {song}: two audio files, {found[song][1]} and {path}; each song must appear once"
                )
            found[song] = (folder.name, path)
    return found


def load_4q(
    root: str | os.PathLike,
    on_missing: str = "raise",
    min_duration: float | None = MIN_DURATION,
    on_invalid: str = "raise",
) -> dict:
    """Read the 4Q set into the fields of a :class:`~semgru_keras.data.Dataset`.

    Parameters
    ----------
    root : path
        The folder with ``panda_dataset_taffc_metadata.csv`` and ``Q1/ … Q4/``.
    on_missing : {"raise", "skip"}
        For CSV rows whose clip is absent from every quadrant folder: raise naming the
        song and line, or leave them out with a warning listing them. A clip that the CSV
        does not list, or whose folder disagrees with the CSV's quadrant, is always an error.
    min_duration, on_invalid
        Clips shorter than ``min_duration`` seconds by their header (default: one training
        crop) raise naming the song and file, or are skipped with a warning
        (:func:`~semgru_keras.data.validation.validate_songs`).

    Returns
    -------
    dict
        Keyword arguments of :class:`~semgru_keras.data.Dataset` (``name="4q"``): ids are
        song ids, groups are artists (aliases joined), annotations the (valence, arousal) quadrant corners,
        metadata the CSV's ``Artist``, ``Title``, ``PQuad`` and the file path.
    """

    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: 4Q data folder not found (python -m semgru_keras.data sources 4q says where "
                                "to get it; check it with python -m semgru_keras.data check 4q --root PATH)")
    csv_path = root / FOURQ_METADATA
    frame = _read_metadata(csv_path)
    clips = _clips(root)

    listed = set(frame["Song"])
    unlisted = sorted(set(clips) - listed)
    if unlisted:
        where = ", ".join(str(clips[s][1]) for s in unlisted[:5])
        raise ValueError(
            f"{where}: {len(unlisted)} audio file(s) with no row in {csv_path} (song ids {unlisted[:5]}); "
            f"every clip must be listed"
        )
    labels = []
    for song, quadrant, line in zip(frame["Song"], frame["Quadrant"], frame["line"]):
        label = canonical_class(quadrant, where=f"{csv_path}, line {line} (song {song})")
        labels.append(label)
        if song in clips:
            folder_label = canonical_class(clips[song][0])
            if folder_label != label:
                raise ValueError(
                    f"{clips[song][1]}: song {song} lies in folder {clips[song][0]} ({folder_label}) but "
                    f"{csv_path}, line {line} says {quadrant} ({label})"
                )
    frame["label"] = labels
    absent = ~frame["Song"].isin(list(clips))
    if absent.any():
        rows = frame[absent]
        listing = ", ".join(f"{s} (line {n}, {q})" for s, n, q in zip(rows["Song"], rows["line"], rows["Quadrant"]))
        message = f"{csv_path}: {len(rows)} listed song(s) have no audio file in {root}/Q1–Q4: {listing[:400]}"
        if on_missing == "raise":
            raise FileNotFoundError(message)
        warnings.warn(message + "; skipped", stacklevel=3)
        frame = frame[~absent].reset_index(drop=True)
        if frame.empty:
            raise FileNotFoundError(f"{root}: none of the songs in {csv_path} has an audio file")

    corners = np.array([QUADRANT_CORNERS[c] for c in frame["label"]], dtype=np.float64)
    keep = validate_songs(frame["Song"].to_numpy(), [clips[s][1] for s in frame["Song"]], corners,
                          where=str(root), min_duration=min_duration, on_invalid=on_invalid)
    if not keep.all():
        frame = frame[keep].reset_index(drop=True)
        if frame.empty:
            raise ValueError(f"{root}: no valid clips left")
    artists = frame["Artist"].str.strip()
    blank = artists == ""
    if blank.any():
        warnings.warn(
            f"{csv_path}: {int(blank.sum())} song(s) with a blank Artist, each made a group of its own: "
            f"{', '.join(frame.loc[blank, 'Song'].tolist()[:10])}",
            stacklevel=3,
        )
        artists = artists.where(~blank, "song:" + frame["Song"])
    paths = [clips[s][1] for s in frame["Song"]]
    import pandas as pd

    meta = pd.DataFrame({
        "artist": artists.to_numpy(),
        "title": frame["Title"].to_numpy() if "Title" in frame.columns else "",
        "quadrant": frame["Quadrant"].str.strip().str.upper().to_numpy(),
        "pquad": pd.to_numeric(frame["PQuad"], errors="coerce").to_numpy() if "PQuad" in frame.columns else np.nan,
        "path": [str(p) for p in paths],
    })
    present = [c for c in QUADRANT_CLASSES if c in set(frame["label"])]
    return dict(
        name="4q",
        ids=frame["Song"].to_numpy(),
        annotations=np.array([QUADRANT_CORNERS[c] for c in frame["label"]], dtype=np.float32),
        target_names=["valence", "arousal"],
        task="classification",
        labels=frame["label"].to_numpy(),
        classes=present,
        groups=canonical_artists(artists),
        group_by="artist",
        paths=paths,
        metadata=meta,
        root=root,
    )
