"""Four valence–arousal quadrant classes from a folder layout or a CSV.

The 4Q audio emotion data set (Panda, Malheiro & Paiva, IEEE TAFFC 2020, online 2018) and
EMOPIA (Hung et al. 2021) label songs with Russell's quadrants, the same four classes as the paper's Last.fm
set. Two layouts are read:

* folders: ``root/<class>/**/*.{mp3,wav,ogg,flac}`` (sub-folders inside a class folder are
  searched too; folders without audio are ignored);
* a CSV with a header and columns ``path,label`` (optionally ``artist``, used for
  grouped cross-validation); relative paths are relative to the CSV's folder.

Class names are case-insensitive and map to the paper's corner coding (Section V-A):

=========  ===========  ===================
class      also called  (valence, arousal)
=========  ===========  ===================
happy      Q1           (1, 1)
angry      Q2           (−1, 1)
sad        Q3           (−1, −1)
relaxed    Q4           (1, −1)
=========  ===========  ===================

Any other name is an error that lists the known ones.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..vocabulary import CLASS_ALIASES, QUADRANT_CLASSES, QUADRANT_CORNERS, canonical_class
from .grouping import canonical_artists
from .validation import MIN_DURATION, validate_songs

__all__ = ["AUDIO_EXTENSIONS", "CLASS_ALIASES", "QUADRANT_CLASSES", "canonical_class", "load_quadrants", "is_quadrant_root"]

#: Audio file extensions read from class folders (case-insensitive).
AUDIO_EXTENSIONS: tuple[str, ...] = (".mp3", ".wav", ".ogg", ".flac")



def _audio_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")
    )


def is_quadrant_root(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a CSV file or a folder with at least one class folder holding audio."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() == ".csv"
    if not path.is_dir():
        return False
    return any(d.is_dir() and d.name.strip().lower() in CLASS_ALIASES for d in path.iterdir())


def _from_folders(root: Path) -> tuple[list[Path], list[str], list[str] | None]:
    paths, labels = [], []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        files = _audio_files(folder)
        if not files:
            continue
        cls = canonical_class(folder.name, where=str(folder))
        paths += files
        labels += [cls] * len(files)
    loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS]
    if loose:
        warnings.warn(f"{root}: ignored {len(loose)} audio files outside class folders: {loose[:10]}", stacklevel=4)
    if not paths:
        raise FileNotFoundError(
            f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in class folders "
            f"(expected {root}/<class>/*.mp3 with class in {', '.join(QUADRANT_CLASSES)} or Q1–Q4)"
        )
    return paths, labels, None


def _from_csv(csv_path: Path) -> tuple[list[Path], list[str], list[str] | None]:
    import pandas as pd

    try:
        frame = pd.read_csv(csv_path, skipinitialspace=True, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise ValueError(f"{csv_path}: cannot parse as CSV ({type(exc).__name__}: {exc})") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("path", "label") if c not in frame.columns]
    if missing:
        raise ValueError(f"{csv_path}: missing columns {missing}; expected a header 'path,label' (found {list(frame.columns)})")
    if frame.empty:
        raise ValueError(f"{csv_path}: no rows")
    base = csv_path.parent
    paths, labels = [], []
    for line, (p, lab) in enumerate(zip(frame["path"], frame["label"]), start=2):
        p = Path(p.strip()).expanduser()
        paths.append(p if p.is_absolute() else base / p)
        labels.append(canonical_class(lab, where=f"{csv_path}, line {line}"))
    artists = None
    if "artist" in frame.columns:
        artists = [a.strip() for a in frame["artist"]]
    return paths, labels, artists


def _groups(ids: np.ndarray, artists: list[str] | None, where: Path) -> np.ndarray:
    """Artists as groups (aliases joined: :func:`~semgru_keras.data.grouping.canonical_artists`); a blank
    artist cell (or no artist column) makes the song its own group."""
    if artists is None:
        return np.asarray(ids).astype(str)
    blank = [i for i, a in enumerate(artists) if not a]
    if blank:
        warnings.warn(
            f"{where}: {len(blank)} rows have a blank artist (first: {ids[blank[0]]}); each of those songs "
            "is its own group for grouped cross-validation",
            stacklevel=4,
        )
    return canonical_artists([a if a else f"song:{i}" for a, i in zip(artists, ids)])


def load_quadrants(
    root: str | os.PathLike,
    on_missing: str = "raise",
    min_duration: float | None = MIN_DURATION,
    on_invalid: str = "raise",
) -> dict:
    """Read quadrant-labelled audio into the fields of a :class:`~semgru_keras.data.Dataset`.

    Parameters
    ----------
    root : path
        A folder of class folders, or a CSV file ``path,label[,artist]``.
    on_missing : {"raise", "skip"}
        For CSV rows whose file does not exist: raise ``FileNotFoundError`` naming it, or
        leave them out with a warning listing them.
    min_duration : float or None
        Shortest accepted clip in seconds, read from the file headers at load time
        (default 5 s: one training crop of 100 input vectors × 50 ms); ``None`` turns
        the check off. See :mod:`semgru_keras.data.validation`.
    on_invalid : {"raise", "skip"}
        A clip shorter than ``min_duration`` raises ``ValueError`` naming its id, file and
        the rule, or is left out with a warning listing all such clips.

    Returns
    -------
    dict
        Keyword arguments of :class:`~semgru_keras.data.Dataset`: ids are paths relative
        to the root without extension; annotations are the (valence, arousal) corners.
        Groups (songs of one group stay in one cross-validation fold) are the artists of
        the CSV's ``artist`` column; a song whose artist cell is blank is its own group
        (``"song:<id>"``, with a warning counting them), never one group of all blanks.
        Without an ``artist`` column every song is its own group (its id): files with the
        same name in different class folders are different songs.
    """

    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    root = Path(root).expanduser()
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise ValueError(f"{root}: expected a folder of class folders or a CSV file 'path,label'")
        paths, labels, artists = _from_csv(root)
        base = root.parent
    elif root.is_dir():
        paths, labels, artists = _from_folders(root)
        base = root
    else:
        raise FileNotFoundError(f"{root}: quadrant data set not found (a folder of class folders or a CSV)")

    exists = np.array([p.is_file() for p in paths])
    if not exists.all():
        missing = [str(p) for p, e in zip(paths, exists) if not e]
        listing = "\n".join(f"  {m}" for m in missing[:20]) + ("\n  …" if len(missing) > 20 else "")
        if on_missing == "raise":
            raise FileNotFoundError(f"{missing[0]}: audio file not found, listed in {root} ({len(missing)} missing):\n{listing}")
        warnings.warn(f"{root}: skipped {len(missing)} missing audio files:\n{listing}", stacklevel=3)
        keep = np.flatnonzero(exists)
        paths = [paths[i] for i in keep]
        labels = [labels[i] for i in keep]
        artists = None if artists is None else [artists[i] for i in keep]
        if not paths:
            raise FileNotFoundError(f"{root}: none of the listed audio files exist")

    def rel(p: Path) -> str:
        try:
            return p.resolve().relative_to(base.resolve()).with_suffix("").as_posix()
        except ValueError:
            return p.with_suffix("").as_posix()

    ids = np.array([rel(p) for p in paths])
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if (ids == i).sum() > 1})[:5]
        raise ValueError(f"{root}: the same file is listed more than once: {dup}")
    keep = validate_songs(
        ids, paths, np.array([QUADRANT_CORNERS[c] for c in labels], dtype=np.float64),
        where=str(root), min_duration=min_duration, on_invalid=on_invalid,
    )
    if not keep.all():
        if not keep.any():
            raise ValueError(f"{root}: no valid clips left")
        ids = ids[keep]
        paths = [p for p, k in zip(paths, keep) if k]
        labels = [c for c, k in zip(labels, keep) if k]
        artists = None if artists is None else [a for a, k in zip(artists, keep) if k]
    groups = _groups(ids, artists, root)
    present = [c for c in QUADRANT_CLASSES if c in set(labels)]
    import pandas as pd

    meta = pd.DataFrame({"path": [str(p) for p in paths], "label": labels})
    if artists is not None:
        meta["artist"] = artists
    return dict(
        name="quadrants",
        ids=ids,
        annotations=np.array([QUADRANT_CORNERS[c] for c in labels], dtype=np.float32),
        target_names=["valence", "arousal"],
        task="classification",
        labels=np.array(labels),
        classes=present,
        groups=groups,
        group_by="artist" if artists is not None else "song",
        paths=list(paths),
        metadata=meta,
        root=root,
    )
