"""On-disk cache of per-song computations (mel sequences, hand-crafted features).

Results are stored with :class:`joblib.Memory`, keyed by

* a *computation key*: for mel sequences ``"mel_sequence"`` plus the
  :class:`~semgru_keras.features.FeatureConfig` (as JSON), for other computations the
  caller's ``key``; plus the sample rate the audio is read at and :data:`CACHE_VERSION`;
* a *content id*: the SHA-256 of the audio file's bytes (so a renamed or moved file is
  still a hit and an edited file is a miss), or, for synthetic clips, a hash of everything
  that determines the rendered audio.

The path of the file is deliberately *not* part of the key. Songs that are not yet cached
are computed in parallel (``joblib.Parallel``, ``n_jobs`` workers) with a ``tqdm`` progress
bar; cached songs are read in the calling process, so a second load never starts workers.

Cache location
--------------
``cache_dir`` argument, else ``$SEMGRU_CACHE_DIR``, else ``<checkout>/.cache/semgru_keras``
when the package runs from a source checkout (a folder holding ``pyproject.toml`` next to
the package; git ignores ``.cache/``), else ``$XDG_CACHE_HOME/semgru_keras``
(``~/.cache/semgru_keras``). Delete the folder to clear the cache; :func:`clear_cache` does it.

Errors
------
With ``on_error="raise"`` the first song that fails raises an error that names its file
(:class:`~semgru_keras.features.AudioError` for unreadable, corrupt or silent audio,
``FileNotFoundError`` for missing files). With ``on_error="skip"`` failing songs are
left out, a :class:`UnreadableAudioWarning` lists every one of them, and the returned
:class:`CachedResults` tells which songs were kept (``.indices``) and why others were not
(``.errors``). Errors are never cached: a fixed file is computed on the next call.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..features import AudioError

__all__ = [
    "CACHE_VERSION",
    "AudioSource",
    "FileSource",
    "ClipSource",
    "CachedResults",
    "UnreadableAudioWarning",
    "default_cache_dir",
    "clear_cache",
    "file_digest",
    "cached_map",
]

#: Part of every key; bump to invalidate all cached results after a format change.
CACHE_VERSION = 1

ON_ERROR = ("raise", "skip")


class UnreadableAudioWarning(UserWarning):
    """Warned (never silently) when ``on_error="skip"`` leaves songs out."""


class AudioSource(Protocol):
    """Something that yields a song's audio: a file or a synthetic clip."""

    label: str

    def load(self, sr: int | None) -> tuple[np.ndarray, int]: ...

    def content_id(self) -> str: ...


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (memoised per path, size and modification time).

    Raises
    ------
    FileNotFoundError
        Naming the file, if it does not exist.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: audio file not found") from None
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


@dataclass(frozen=True)
class FileSource:
    """An audio file on disk."""

    path: Path

    @property
    def label(self) -> str:
        return str(self.path)

    def load(self, sr: int | None) -> tuple[np.ndarray, int]:
        from ..features import load_audio

        return load_audio(self.path, sr=sr)

    def content_id(self) -> str:
        return "sha256-" + file_digest(self.path)


@dataclass(frozen=True)
class ClipSource:
    """A synthetic clip, rendered on demand (see :mod:`semgru_keras.data.synthetic`)."""

    clip: Any  # SyntheticClip
    name: str

    @property
    def label(self) -> str:
        return f"synthetic clip {self.name}"

    def load(self, sr: int | None) -> tuple[np.ndarray, int]:
        return self.clip.render(sr)

    def content_id(self) -> str:
        return self.clip.content_id()


class CachedResults(list):
    """The results of :func:`cached_map`: a list, plus which songs they belong to.

    Attributes
    ----------
    indices : ndarray of int
        Position in the data set of each element (``arange(n)`` unless songs were skipped).
    errors : dict
        Song id → error message of every skipped song (empty unless ``on_error="skip"``).
    """

    def __init__(self, items=(), indices=None, errors=None):
        super().__init__(items)
        self.indices = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=int)
        self.errors: dict[str, str] = dict(errors or {})


def default_cache_dir() -> Path:
    """The cache folder used when none is given (see the module docstring)."""
    env = os.environ.get("SEMGRU_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "semgru_keras").is_dir():
        return checkout / ".cache" / "semgru_keras"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "semgru_keras"


def clear_cache(cache_dir: str | os.PathLike | None = None) -> None:
    """Delete every cached result under ``cache_dir`` (default: :func:`default_cache_dir`)."""
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    shutil.rmtree(path / "joblib", ignore_errors=True)


def _compute(key: str, content_id: str, sr: int | None, source: AudioSource, func: Callable) -> Any:
    """The cached function: only ``key``, ``content_id`` and ``sr`` enter the hash."""
    y, rate = source.load(sr)
    return func(y, rate)


_MEMORIES: dict[str, Any] = {}


def _memorized(cache_dir: Path):
    import joblib

    loc = str(cache_dir)
    if loc not in _MEMORIES:
        memory = joblib.Memory(location=loc, verbose=0)
        _MEMORIES[loc] = memory.cache(_compute, ignore=["source", "func"])
    return _MEMORIES[loc]


def _named(exc: BaseException, source: AudioSource, what: str) -> BaseException:
    """``exc`` with the song's file (or clip) named in its message."""
    label = source.label
    if isinstance(exc, (AudioError, FileNotFoundError)):
        if label in str(exc):
            return exc
        return type(exc)(f"{label}: {exc}")
    return RuntimeError(f"{label}: {what} failed ({type(exc).__name__}: {exc})")


def _run_one(mf, key, content_id, sr, source, func, what, on_error):
    try:
        return True, mf(key, content_id, sr, source, func)
    except Exception as exc:  # name the file, then raise or report it
        named = _named(exc, source, what)
        if on_error == "raise":
            if named is exc:
                raise
            raise named from exc
        return False, str(named)


def cached_map(
    sources: Sequence[AudioSource],
    func: Callable[[np.ndarray, int], Any],
    key: str,
    *,
    ids: Sequence[str] | None = None,
    sr: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int | None = 1,
    on_error: str = "raise",
    progress: bool = True,
    description: str | None = None,
    what: str | None = None,
) -> CachedResults:
    """``func(y, sr)`` for every source, through the on-disk cache.

    Parameters
    ----------
    sources : sequence of AudioSource
        :class:`FileSource` or :class:`ClipSource` objects.
    func : callable ``(y, sr) -> result``
        The computation; must be picklable for ``n_jobs != 1`` (module-level functions,
        ``functools.partial``; lambdas work through cloudpickle). It is *not* hashed:
        ``key`` must change whenever ``func``'s output would.
    key : str
        Names the computation in the cache key (e.g. ``"handcrafted-v1"``).
    ids : sequence of str, optional
        Song ids for ``CachedResults.errors`` (default: the sources' labels).
    sr : int or None
        Sample rate the audio is read at (``None``: the file's own).
    cache_dir : path, optional
        See :func:`default_cache_dir`.
    n_jobs : int or None
        Parallel workers for songs not yet cached (``joblib`` semantics: -1 = all cores).
    on_error : {"raise", "skip"}
        See the module docstring.
    progress : bool
        Show a ``tqdm`` progress bar while computing.
    description : str, optional
        Label of the progress bar (default ``key``).
    what : str, optional
        Name of the computation in error messages (default ``key``).

    Returns
    -------
    CachedResults
        One result per kept song, in order.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm  # plain text bar: tqdm.auto warns in notebooks without ipywidgets

    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string naming the computation")
    what = what or key
    sources = list(sources)
    ids = [s.label for s in sources] if ids is None else [str(i) for i in ids]
    full_key = json.dumps({"cache_version": CACHE_VERSION, "key": key}, sort_keys=True)
    mf = _memorized(Path(cache_dir) if cache_dir is not None else default_cache_dir())

    results: list[Any] = [None] * len(sources)
    ok = np.zeros(len(sources), dtype=bool)
    errors: dict[str, str] = {}
    content: list[str | None] = [None] * len(sources)
    todo = []
    for i, src in enumerate(sources):
        try:
            content[i] = src.content_id()
        except Exception as exc:  # e.g. a missing file: cannot even be hashed
            named = _named(exc, src, what)
            if on_error == "raise":
                raise named from (None if named is exc else exc)
            errors[ids[i]] = str(named)
            continue
        if mf.check_call_in_cache(full_key, content[i], sr, src, func):
            ok[i], results[i] = _run_one(mf, full_key, content[i], sr, src, func, what, on_error)
            if not ok[i]:  # unreadable cache entry (should not happen)
                errors[ids[i]] = results[i]
        else:
            todo.append(i)

    if todo:
        desc = description or key
        jobs = (delayed(_run_one)(mf, full_key, content[i], sr, sources[i], func, what, on_error) for i in todo)
        if n_jobs == 1:
            outputs = (_run_one(mf, full_key, content[i], sr, sources[i], func, what, on_error) for i in todo)
        else:
            outputs = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
        bar = tqdm(outputs, total=len(todo), desc=desc, unit="song", disable=not progress, leave=False)
        for i, (success, value) in zip(todo, bar):
            ok[i] = success
            if success:
                results[i] = value
            else:
                errors[ids[i]] = value

    if errors:
        listing = "\n".join(f"  {msg}" for msg in errors.values())
        warnings.warn(
            f"skipped {len(errors)} of {len(sources)} songs ({what}):\n{listing}",
            UnreadableAudioWarning,
            stacklevel=3,
        )
    kept = np.flatnonzero(ok)
    return CachedResults([results[i] for i in kept], indices=kept, errors=errors)
