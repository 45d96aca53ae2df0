"""On-disk cache of per-song computations (mel sequences, hand-crafted features).

Each song's result is one ``.npz`` file of plain arrays, keyed by

* a *computation key*: for mel sequences ``"mel_sequence"`` plus the
  :class:`~semgru_keras.features.FeatureConfig` (as JSON), for other computations the
  caller's ``key``; plus the sample rate the audio is read at and the explicit
  :data:`CACHE_VERSION`. No source code is hashed: editing a function (or its docstring)
  never wipes the cache, so change ``key`` (or bump :data:`CACHE_VERSION`) when a
  computation's output changes;
* a *content id*: the SHA-256 of the audio file's bytes (so a renamed or moved file is
  still a hit and an edited file is a miss), or, for synthetic clips, a hash of everything
  that determines the rendered audio.

The path of the file is deliberately *not* part of the key. Songs that are not yet cached
are computed in parallel (``joblib.Parallel``, ``n_jobs`` workers) with a ``tqdm`` progress
bar; cached songs are read in the calling process, so a second load never starts workers.

Entries on disk
---------------
``<cache>/v<CACHE_VERSION>/<hash of key and rate>/<hash of content id>.npz`` holds the
result as plain arrays (an array, a number or string, or a dict of those), a description
of that layout and the SHA-256 of both. Reading uses ``numpy.load(allow_pickle=False)``,
so nothing on disk is ever unpickled or executed, and verifies the checksum; an entry that
is unreadable, not plain arrays, cut off or altered is deleted, recomputed and reported by
a :class:`CacheWarning` naming it. Writes go to a temporary file in the same folder and
are moved into place with ``os.replace``: concurrent writers and killed processes leave a
complete old or new entry, never a partial one. Entries, folders and ``key.json`` get the
permissions the process's umask allows (as any file it creates), so a cache shared by a
group of users works. ``key.json`` in each folder names its computation for people browsing
the cache; reading never needs it. (The ``joblib/`` folder of earlier versions is never read.)

The cache is a speed-up, never a point of failure: a cache folder that cannot be written
(read-only, full disk, not a folder) is read where it can be, songs it lacks are computed
and returned all the same, and one :class:`CacheWarning` names the folder.

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
from ..parallel import guarded, resolve_jobs

__all__ = [
    "CACHE_VERSION",
    "AudioSource",
    "FileSource",
    "ClipSource",
    "CachedResults",
    "UnreadableAudioWarning",
    "CacheWarning",
    "default_cache_dir",
    "clear_cache",
    "file_digest",
    "cached_map",
    "entry_path",
    "key_folder",
    "read_entry",
    "write_entry",
]

#: Part of every key and entry; bump to invalidate all cached results after a format
#: change (2: plain-array ``.npz`` entries with checksums, replacing joblib's pickles).
CACHE_VERSION = 2

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
        """Decode the file (``features.load_audio``); a cut-off file raises ``AudioError`` naming it."""
        from ..features import load_audio
        from .validation import check_decoded_duration

        y, rate = load_audio(self.path, sr=sr)
        check_decoded_duration(self.path, len(y), rate)
        return y, rate

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
    if not path.is_dir():
        return
    for folder in path.iterdir():  # every cache version, and the joblib folder of version 1
        if folder.is_dir() and (folder.name == "joblib" or (folder.name[:1] == "v" and folder.name[1:].isdigit())):
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------- entries on disk
class CacheWarning(UserWarning):
    """A cache entry was unreadable or failed its checksum (it is recomputed), or the cache folder
    cannot be written (results are computed without storing them)."""


_SCALARS = {"bool": bool, "int": int, "float": float, "complex": complex, "str": str}


def _leaf(value: Any, where: str) -> tuple[np.ndarray, str]:
    """One value → (plain array, how to give it back)."""
    for name, kind in _SCALARS.items():
        if type(value) is kind:
            return np.asarray(value), name
    if isinstance(value, np.generic):
        value, how = np.asarray(value), "numpy-scalar"
    elif isinstance(value, np.ndarray):
        how = "array"
    else:
        raise TypeError(
            f"cannot cache a result of type {type(value).__name__} ({where}): return an array, "
            "a number or string, or a dict of those"
        )
    if value.dtype.hasobject:
        raise TypeError(f"cannot cache an object array ({where}): it would need pickle")
    return value, how


def _checksum(meta: str, arrays: Sequence[np.ndarray]) -> str:
    """SHA-256 of the layout description and every array's dtype, shape and bytes."""
    h = hashlib.sha256(meta.encode())
    for a in arrays:
        h.update(f"|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _encode(value: Any) -> dict[str, np.ndarray]:
    """A result → the plain arrays of one ``.npz`` entry (layout, arrays, checksum)."""
    if isinstance(value, dict):
        keys = list(value)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError(f"cannot cache a dict with non-string keys: {keys[:5]}")
        leaves = [_leaf(value[k], f"key {k!r}") for k in keys]
        layout = {"type": "dict", "keys": keys, "how": [how for _, how in leaves]}
    else:
        leaves = [_leaf(value, "result")]
        layout = {"type": "value", "how": [leaves[0][1]]}
    meta = json.dumps({"cache_version": CACHE_VERSION, **layout}, sort_keys=True)
    arrays = [a for a, _ in leaves]
    out = {f"a{i}": a for i, a in enumerate(arrays)}
    out["meta"] = np.asarray(meta)
    out["sha256"] = np.asarray(_checksum(meta, arrays))
    return out


def _restore(array: np.ndarray, how: str) -> Any:
    if how == "array":
        return array
    if how == "numpy-scalar":
        return array[()]
    return _SCALARS[how](array.item())


def read_entry(path: str | os.PathLike) -> Any:
    """Read one cache entry: plain arrays only (``allow_pickle=False``), checksum verified.

    Raises
    ------
    ValueError
        Naming the entry, if it is not a readable ``.npz`` of plain arrays, was written by
        another cache version, or its checksum does not match its contents (a planted
        pickle, flipped bytes, a cut-off file).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            stored = {name: z[name] for name in z.files}
        meta = str(stored.pop("meta"))
        digest = str(stored.pop("sha256"))
        layout = json.loads(meta)
        arrays = [stored.pop(f"a{i}") for i in range(len(layout["how"]))]
    except Exception as exc:  # not an npz, pickled, cut off, missing fields, ...
        raise ValueError(f"{path}: unreadable cache entry ({type(exc).__name__}: {exc})") from exc
    if stored or layout.get("cache_version") != CACHE_VERSION:
        raise ValueError(f"{path}: not a cache entry of version {CACHE_VERSION}")
    if _checksum(meta, arrays) != digest:
        raise ValueError(f"{path}: checksum mismatch: the entry was altered or damaged")
    values = [_restore(a, how) for a, how in zip(arrays, layout["how"])]
    if layout["type"] == "dict":
        return dict(zip(layout["keys"], values))
    return values[0]


def _umask() -> int:
    """The process's umask (read from ``/proc`` where it can be, which leaves it untouched)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_entry(path: str | os.PathLike, value: Any) -> None:
    """Store ``value`` at ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    Concurrent writers of one entry each replace it whole; readers see an old or a new
    complete file, never a partial one. The entry gets the permissions of any new file
    (``0o666`` less the umask), not the temporary file's private ``0o600``.
    """
    import tempfile

    path = Path(path)
    arrays = _encode(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_folder(cache_dir: str | os.PathLike, key: str, sr: int | None) -> Path:
    """Folder of one computation's entries: ``<cache_dir>/v<CACHE_VERSION>/<hash of key and sr>``."""
    full_key = json.dumps({"cache_version": CACHE_VERSION, "key": key, "sr": sr}, sort_keys=True)
    return Path(cache_dir) / f"v{CACHE_VERSION}" / _digest(full_key)[:32]


def entry_path(cache_dir: str | os.PathLike, key: str, sr: int | None, content_id: str) -> Path:
    """Where the result of computation ``key`` at rate ``sr`` for audio ``content_id`` is stored."""
    return key_folder(cache_dir, key, sr) / f"{_digest(content_id)[:40]}.npz"


def _describe_key(folder: Path, key: str, sr: int | None) -> str | None:
    """Write ``key.json`` (for people browsing the cache) once per computation; ``None``, or why
    the folder cannot be written."""
    note = folder / "key.json"
    if note.is_file():
        return None
    tmp = folder / f".key.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"cache_version": CACHE_VERSION, "key": key, "sr": sr}, indent=1))
        os.replace(tmp, note)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        return f"{type(exc).__name__}: {exc}"
    return None


def _named(exc: BaseException, source: AudioSource, what: str) -> BaseException:
    """``exc`` with the song's file (or clip) named in its message."""
    label = source.label
    if isinstance(exc, (AudioError, FileNotFoundError)):
        if label in str(exc):
            return exc
        return type(exc)(f"{label}: {exc}")
    return RuntimeError(f"{label}: {what} failed ({type(exc).__name__}: {exc})")


def _run_one(path: Path | None, sr, source, func, what, on_error):
    """Compute one song and store it at ``path`` (``None``: not stored).

    Returns ``(True, result, None)``, ``(True, result, why it could not be stored)`` or
    ``(False, message, None)``.
    """
    try:
        y, rate = source.load(sr)
        value = func(y, rate)
    except Exception as exc:  # name the file, then raise or report it
        named = _named(exc, source, what)
        if on_error == "raise":
            if named is exc:
                raise
            raise named from exc
        return False, str(named), None
    _encode(value)  # an uncacheable result type is the caller's error: it raises, cache or not
    if path is None:
        return True, value, None
    try:
        write_entry(path, value)
    except OSError as exc:  # read-only, full, gone: the result stands, only the speed-up is lost
        return True, value, f"{type(exc).__name__}: {exc}"
    return True, value, None


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
        Parallel workers for songs not yet cached (``joblib`` semantics: -1 = all cores;
        never more than the cores or the songs to compute: :func:`semgru_keras.parallel.resolve_jobs`).
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
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = key_folder(root, key, sr)
    unwritable = _describe_key(folder, key, sr)  # None, or why the cache cannot be written

    results: list[Any] = [None] * len(sources)
    ok = np.zeros(len(sources), dtype=bool)
    errors: dict[str, str] = {}
    paths: list[Path | None] = [None] * len(sources)
    todo = []
    for i, src in enumerate(sources):
        try:
            content_id = src.content_id()
        except Exception as exc:  # e.g. a missing file: cannot even be hashed
            named = _named(exc, src, what)
            if on_error == "raise":
                raise named from (None if named is exc else exc)
            errors[ids[i]] = str(named)
            continue
        paths[i] = entry_path(root, key, sr, content_id)
        if paths[i].is_file():
            try:
                results[i], ok[i] = read_entry(paths[i]), True
                continue
            except ValueError as exc:
                warnings.warn(f"{exc}; recomputing it ({what} of {src.label})", CacheWarning, stacklevel=3)
                try:
                    paths[i].unlink(missing_ok=True)
                except OSError:
                    pass
        todo.append(i)

    if todo:
        desc = description or key
        store = (lambda i: None) if unwritable else (lambda i: paths[i])  # noqa: E731
        n_workers = resolve_jobs(n_jobs, len(todo))  # never more workers than cores or songs
        if n_workers == 1:
            outputs = (_run_one(store(i), sr, sources[i], func, what, on_error) for i in todo)
        else:
            me = os.getpid()  # workers end with this process (parallel.die_with_parent)
            jobs = (delayed(guarded)(me, _run_one, store(i), sr, sources[i], func, what, on_error) for i in todo)
            outputs = Parallel(n_jobs=n_workers, return_as="generator")(jobs)
        bar = tqdm(outputs, total=len(todo), desc=desc, unit="song", disable=not progress, leave=False)
        for i, (success, value, not_stored) in zip(todo, bar):
            ok[i] = success
            if success:
                results[i] = value
            else:
                errors[ids[i]] = value
            unwritable = unwritable or not_stored
        if unwritable:
            warnings.warn(f"{root}: cannot write the feature cache ({unwritable}); {what} computed without "
                          "storing it (the next run computes it again)", CacheWarning, stacklevel=3)

    if errors:
        listing = "\n".join(f"  {msg}" for msg in errors.values())
        warnings.warn(
            f"skipped {len(errors)} of {len(sources)} songs ({what}):\n{listing}",
            UnreadableAudioWarning,
            stacklevel=3,
        )
    kept = np.flatnonzero(ok)
    return CachedResults([results[i] for i in kept], indices=kept, errors=errors)
