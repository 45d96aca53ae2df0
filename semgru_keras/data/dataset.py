"""The :class:`Dataset` container and the :func:`load_dataset` entry point."""

from __future__ import annotations

import functools
import inspect
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..vocabulary import QUADRANT_CLASSES
from .cache import CachedResults, ClipSource, FileSource, UnreadableAudioWarning, cached_map
from .validation import check_annotations

__all__ = ["DATASETS", "Dataset", "load_dataset", "emotify_root_from_env", "slug"]

#: The data set names :func:`load_dataset` knows (a path is accepted too).
DATASETS: tuple[str, ...] = ("synthetic-gems", "synthetic-quadrants", "emotify", "4q", "quadrants")

TASKS = ("regression", "classification")


def _mel(y: np.ndarray, sr: int, config) -> np.ndarray:
    from .. import features  # looked up at call time (tests patch it)

    return features.mel_sequence(y, sr, config)


@dataclass(eq=False)
class Dataset:
    """Songs, their audio (files or synthetic clips) and their emotion annotations.

    Parameters
    ----------
    name : str
        ``"synthetic-gems"``, ``"synthetic-quadrants"``, ``"emotify"``, ``"4q"`` or ``"quadrants"``.
    ids : array of str (n,)
        Song ids (Emotify: track id; quadrants: path relative to the root, no extension).
    annotations : float32 array (n, k)
        The annotation matrix ``A``: GEMS fractions, or the (valence, arousal) corners of
        the class for quadrant data. Must be finite with no all-zero row (the cosine of
        Eq. 12 is undefined for it): else ``ValueError`` naming the songs.
    target_names : list of str
        Names of the ``k`` annotation columns.
    task : {"regression", "classification"}
        What :attr:`targets` holds.
    groups : array (n,)
        Group of each song for grouped cross-validation: songs that share a group (the
        same artist or song) must stay in the same fold.
    labels : array of str (n,), optional
        Class label per song (classification).
    classes : list of str, optional
        The classes present, in quadrant order.
    paths : list of Path, optional
        Audio file per song (``None`` for synthetic data).
    clips : list of SyntheticClip, optional
        Synthetic clip per song, rendered on demand (``None`` for file data).
    metadata : pandas.DataFrame, optional
        Per-song extra information (genre and respondents; musical parameters of
        synthetic clips; ...), one row per song in order.
    root : Path, optional
        Where the data came from.
    options : dict
        The options the loader was called with (for the record).
    group_by : str
        What a group is (``"artist"``, ``"song"``), for the record of a run.
    """

    name: str
    ids: np.ndarray
    annotations: np.ndarray
    target_names: list[str]
    task: str
    groups: np.ndarray
    labels: np.ndarray | None = None
    classes: list[str] | None = None
    paths: list[Path] | None = None
    clips: list | None = None
    metadata: Any = None
    root: Path | None = None
    options: dict = field(default_factory=dict)
    group_by: str = "group"

    def __post_init__(self):
        self.ids = np.asarray(self.ids).astype(str)
        n = len(self.ids)
        self.annotations = np.asarray(self.annotations, dtype=np.float32)
        if self.annotations.ndim != 2 or len(self.annotations) != n:
            raise ValueError(f"{self.name}: annotations must be (n_songs={n}, k), got {self.annotations.shape}")
        self.target_names = [str(t) for t in self.target_names]
        if len(self.target_names) != self.annotations.shape[1]:
            raise ValueError(f"{self.name}: {len(self.target_names)} target names for {self.annotations.shape[1]} columns")
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task must be one of {TASKS}, got {self.task!r}")
        self.groups = np.asarray(self.groups)
        if len(self.groups) != n:
            raise ValueError(f"{self.name}: {len(self.groups)} groups for {n} songs")
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(str)
            if len(self.labels) != n:
                raise ValueError(f"{self.name}: {len(self.labels)} labels for {n} songs")
            if self.classes is None:
                self.classes = sorted(set(self.labels))
        elif self.task == "classification":
            raise ValueError(f"{self.name}: a classification data set needs labels")
        if (self.paths is None) == (self.clips is None):
            raise ValueError(f"{self.name}: give exactly one of paths (files) or clips (synthetic)")
        if self.paths is not None:
            self.paths = [Path(p) for p in self.paths]
        audio = self.paths if self.paths is not None else self.clips
        if len(audio) != n:
            raise ValueError(f"{self.name}: {len(audio)} audio sources for {n} songs")
        if self.metadata is not None and len(self.metadata) != n:
            raise ValueError(f"{self.name}: {len(self.metadata)} metadata rows for {n} songs")
        if self.root is not None:
            self.root = Path(self.root)
        check_annotations(self.ids, self.annotations, self.paths, where=self.name)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        source = f"root={str(self.root)!r}" if self.root is not None else "synthetic"
        return (
            f"Dataset({self.name!r}, {len(self)} songs, {len(self.target_names)} targets, "
            f"task={self.task!r}, {source})"
        )

    @property
    def is_synthetic(self) -> bool:
        """Whether the audio is synthesised (``clips``) rather than read from files."""
        return self.clips is not None

    @property
    def targets(self) -> np.ndarray:
        """What an estimator's ``y`` is: the annotations (regression) or the labels (classification)."""
        return self.labels if self.task == "classification" else self.annotations

    @property
    def sources(self) -> list:
        """One :class:`~semgru_keras.data.cache.FileSource` / ``ClipSource`` per song."""
        if self.paths is not None:
            return [FileSource(p) for p in self.paths]
        return [ClipSource(c, i) for c, i in zip(self.clips, self.ids)]

    def audio(self, i: int, sr: int | None = None) -> tuple[np.ndarray, int]:
        """Audio of song ``i`` as ``(y, sr)``: mono float32.

        Files are read at ``sr`` (``None``: the file's own rate); synthetic clips are
        rendered again (deterministically) at ``sr`` (``None``: the set's rate).
        """
        i = int(i)
        if self.paths is not None:
            return FileSource(self.paths[i]).load(sr)
        return ClipSource(self.clips[i], self.ids[i]).load(sr)

    def subset(self, indices) -> Dataset:
        """The songs at ``indices`` (integer positions or a boolean mask), in that order."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ValueError(f"boolean mask of length {len(idx)} for {len(self)} songs")
            idx = np.flatnonzero(idx)
        idx = idx.astype(int).ravel()
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} songs")
        pick = lambda seq: None if seq is None else [seq[i] for i in idx]  # noqa: E731
        labels = None if self.labels is None else self.labels[idx]
        classes = self.classes
        if labels is not None and self.classes is not None:
            classes = [c for c in self.classes if c in set(labels)]
        return replace(
            self,
            ids=self.ids[idx],
            annotations=self.annotations[idx],
            groups=self.groups[idx],
            labels=labels,
            classes=classes,
            paths=pick(self.paths),
            clips=pick(self.clips),
            metadata=None if self.metadata is None else self.metadata.iloc[idx].reset_index(drop=True),
            options=dict(self.options),
        )

    def to_frame(self):
        """One row per song: id, group, label (if any), the targets, then the metadata."""
        import pandas as pd

        frame = pd.DataFrame({"id": self.ids, "group": self.groups})
        if self.labels is not None:
            frame["label"] = self.labels
        frame = pd.concat([frame, pd.DataFrame(self.annotations, columns=self.target_names)], axis=1)
        if self.metadata is not None:
            extra = self.metadata.drop(columns=[c for c in self.metadata.columns if c in frame.columns])
            frame = pd.concat([frame, extra.reset_index(drop=True)], axis=1)
        return frame

    # ------------------------------------------------------------------ cached computations
    def map_audio(
        self,
        func: Callable[[np.ndarray, int], Any],
        key: str,
        sr: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        n_jobs: int | None = 1,
        on_error: str = "raise",
        progress: bool = True,
    ) -> CachedResults:
        """``func(y, sr)`` for every song, cached on disk.

        The cache key is ``key`` + ``sr`` + each song's content (file SHA-256, or the
        synthetic clip's parameters and seed); ``func`` itself is not hashed, so change
        ``key`` (e.g. ``"handcrafted-v2"``) whenever its output would change.

        Parameters
        ----------
        func : callable ``(y, sr) -> array or dict``
            Picklable for ``n_jobs != 1``.
        key : str
            Name of the computation.
        sr : int or None
            Rate to read the audio at (``None``: the file's own / the synthetic set's).
        cache_dir : path, optional
            Default :func:`~semgru_keras.data.cache.default_cache_dir`.
        n_jobs : int
            Parallel workers for songs not cached yet.
        on_error : {"raise", "skip"}
            ``"raise"``: the first unreadable, corrupt or silent song raises an error
            naming its file. ``"skip"``: such songs are left out with a warning listing
            them; the result's ``.indices`` are the kept songs (``ds.subset(result.indices)``
            realigns the data set).
        progress : bool
            ``tqdm`` progress bar while computing.

        Returns
        -------
        CachedResults
            A list of results (one per kept song) with ``.indices`` and ``.errors``.
        """
        return cached_map(
            self.sources,
            func,
            key,
            ids=self.ids,
            sr=sr,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
            on_error=on_error,
            progress=progress,
            description=f"{key} ({self.name})",
        )

    def sequences(
        self,
        config=None,
        cache_dir: str | os.PathLike | None = None,
        n_jobs: int | None = 1,
        on_error: str = "raise",
        progress: bool = True,
        min_length: int | None = None,
    ) -> CachedResults:
        """The GRU's input sequences, float32 ``(n_vectors_i, 160)`` per song, cached on disk.

        Computed once per feature configuration and audio content, in parallel over
        ``n_jobs`` workers; later calls read them. ``on_error`` and the return value are
        as in :meth:`map_audio`: with ``on_error="skip"`` use ``ds.subset(seqs.indices)``
        (or :meth:`drop_unreadable`) to keep songs and sequences aligned.

        Parameters
        ----------
        config : FeatureConfig, optional
            Default ``FeatureConfig()`` (the paper's 160-dim vectors).
        min_length : int, optional
            Fewest input vectors a song must give, e.g. the training ``crop_length``
            (100): a shorter song raises ``ValueError`` naming its id and file (or is
            skipped, listed in the warning, with ``on_error="skip"``) here, before any
            training. Loaders already reject clips shorter than one crop from their file
            headers (``min_duration``); this catches the rest (e.g. synthetic clips or
            another feature configuration).
        """
        from ..features import FeatureConfig

        config = config or FeatureConfig()
        seqs = cached_map(
            self.sources,
            functools.partial(_mel, config=config),
            config.cache_key(),
            ids=self.ids,
            sr=config.sr,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
            on_error=on_error,
            progress=progress,
            description=f"features ({self.name})",
            what="input sequence",
        )
        return self._require_length(seqs, min_length, on_error) if min_length else seqs

    def _require_length(self, seqs: CachedResults, min_length: int, on_error: str) -> CachedResults:
        """``seqs`` without songs shorter than ``min_length`` vectors (raise or warn naming them)."""
        sources = self.sources
        short = {}
        for i, s in zip(seqs.indices, seqs):
            if len(s) < min_length:
                short[int(i)] = (
                    f"{sources[i].label}: song {self.ids[i]}: {len(s)} input vectors, fewer than "
                    f"min_length={min_length} (one training crop); use longer clips or a smaller crop"
                )
        if not short:
            return seqs
        if on_error == "raise":
            first = min(short)
            raise ValueError(short[first] + (f" ({len(short)} such songs in all)" if len(short) > 1 else ""))
        warnings.warn(
            f"skipped {len(short)} of {len(self)} songs (input sequence):\n" + "\n".join(f"  {m}" for m in short.values()),
            UnreadableAudioWarning,
            stacklevel=3,
        )
        kept = [(i, s) for i, s in zip(seqs.indices, seqs) if int(i) not in short]
        errors = {**seqs.errors, **{str(self.ids[i]): m for i, m in short.items()}}
        return CachedResults([s for _, s in kept], indices=[i for i, _ in kept], errors=errors)

    def drop_unreadable(
        self,
        config=None,
        cache_dir: str | os.PathLike | None = None,
        n_jobs: int | None = 1,
        progress: bool = True,
    ) -> Dataset:
        """The data set without songs whose features cannot be computed (warning lists them).

        Fills the feature cache on the way, so a following :meth:`sequences` call with
        the same ``config`` is a read and aligned with the returned data set.
        """
        seqs = self.sequences(config, cache_dir=cache_dir, n_jobs=n_jobs, on_error="skip", progress=progress)
        return self if len(seqs) == len(self) else self.subset(seqs.indices)

    # ------------------------------------------------------------------ summary
    def durations(self) -> np.ndarray:
        """Duration of every song in seconds (file headers; NaN where a header is unreadable)."""
        if self.clips is not None:
            return np.array([c.duration for c in self.clips], dtype=float)
        import soundfile as sf

        out = np.full(len(self), np.nan)
        for i, p in enumerate(self.paths):
            try:
                out[i] = sf.info(str(p)).duration
            except Exception:
                try:
                    import librosa

                    out[i] = librosa.get_duration(path=str(p))
                except Exception:
                    pass
        return out

    def describe(self) -> str:
        """A human-readable summary: songs, duration, targets, class balance."""
        lines = [f"{self.name}: {len(self)} songs, {len(self.target_names)} targets ({self.task})"]
        if self.root is not None:
            lines.append(f"root: {self.root}")
        d = self.durations()
        ok = np.isfinite(d)
        if self.clips is not None:
            sr = self.clips[0].sr if self.clips else 0
            opts = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
            lines.append(f"audio: synthesised on demand at {sr} Hz" + (f" ({opts})" if opts else ""))
        else:
            lines.append(f"audio: {len(self.paths)} files")
        if ok.any():
            lines.append(
                f"duration: {d[ok].sum() / 3600:.2f} h in all, {d[ok].min():.1f}–{d[ok].max():.1f} s per song "
                f"(mean {d[ok].mean():.1f} s)"
            )
        if (~ok).any():
            bad = [str(self.paths[i]) for i in np.flatnonzero(~ok)]
            lines.append(f"unreadable headers: {len(bad)} (first: {bad[0]})")
        lines.append(f"groups (for grouped cross-validation): {len(np.unique(self.groups))}")
        if self.task == "classification":
            lines.append("classes:")
            for c in self.classes or []:
                k = int(np.sum(self.labels == c))
                lines.append(f"  {c:<18} {k:5d}  ({100 * k / max(len(self), 1):.1f} %)")
            lines.append(f"annotation matrix: {', '.join(self.target_names)} (corner coding ±1)")
        else:
            lines.append("targets (mean ± sd, min–max):")
            for j, t in enumerate(self.target_names):
                a = self.annotations[:, j]
                lines.append(f"  {t:<18} {a.mean():.3f} ± {a.std():.3f}  [{a.min():.3f}, {a.max():.3f}]")
        if self.metadata is not None and "genre" in self.metadata.columns:
            counts = self.metadata["genre"].value_counts(sort=False)
            lines.append("genres: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
        if self.metadata is not None and "n_respondents" in self.metadata.columns:
            r = self.metadata["n_respondents"]
            lines.append(f"respondents per song: {r.min()}–{r.max()} (median {r.median():g})")
        return "\n".join(lines)


def slug(name: str) -> str:
    """Folder-safe form of a dataset name or path (``results/<slug>/``, ``figures/<slug>/``,
    ``runs/<slug>/``): one path component, never ``.`` or ``..``."""
    text = str(name)
    if "/" in text or "\\" in text or text in (".", ".."):
        text = Path(text).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "dataset"


# ---------------------------------------------------------------------- loading
def emotify_root_from_env() -> Path | None:
    """``$SEMGRU_EMOTIFY_ROOT`` if set, else ``None``."""
    env = os.environ.get("SEMGRU_EMOTIFY_ROOT")
    return Path(env).expanduser() if env else None


def _call(loader: Callable, name: str, options: dict):
    params = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        accepted = ", ".join(p for p in params if p not in ("root",))
        raise TypeError(f"{name}: unknown options {unknown}; accepted: {accepted}")
    return loader(**options)


def _synthetic(name: str, maker: Callable, options: dict) -> Dataset:
    made = _call(maker, name, options)
    sig = inspect.signature(maker).parameters
    used = {k: options.get(k, sig[k].default) for k in ("n_songs", "duration", "seed")}
    width = max(4, len(str(len(made.clips) - 1)))
    return Dataset(
        name=name,
        ids=np.array([f"clip{i:0{width}d}" for i in range(len(made.clips))]),
        annotations=made.annotations,
        target_names=made.target_names,
        task="classification" if made.labels is not None else "regression",
        groups=made.metadata["artist"].to_numpy(),
        group_by="artist",
        labels=made.labels,
        classes=None if made.labels is None else [c for c in QUADRANT_CLASSES if c in set(made.labels)],
        clips=made.clips,
        metadata=made.metadata,
        options={**used, **options},
    )


def load_dataset(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None, **options) -> Dataset:
    """Load a data set by name, or detect it from a path.

    Parameters
    ----------
    name_or_path : str or path
        One of :data:`DATASETS`, or a path: a folder with ``data.csv`` and
        ``emotifymusic/`` is read as Emotify, a CSV file or a folder of class folders as
        quadrant data.
    root : path, optional
        Where real data live. ``"emotify"``: the folder with ``data.csv`` (default
        ``$SEMGRU_EMOTIFY_ROOT``); ``"4q"``: the folder with the 4Q metadata CSV and
        ``Q1/ … Q4/``; ``"quadrants"``: a folder of class folders or a CSV
        ``path,label[,artist]``. Synthetic sets take no root.
    **options
        Passed to the loader:

        * ``synthetic-gems``: ``n_songs=200, duration=12.0, sr=22050, seed=0, noise=0.5,
          n_respondents=20, songs_per_artist=4, n_keys=3``
          (:func:`~semgru_keras.data.synthetic.make_synthetic_gems`);
        * ``synthetic-quadrants``: ``n_songs=200, duration=12.0, sr=22050, seed=0,
          noise=0.4, songs_per_artist=4, n_keys=3, balanced=True``
          (:func:`~semgru_keras.data.synthetic.make_synthetic_quadrants`);
        * ``emotify``, ``4q`` and ``quadrants``: ``on_missing="raise"`` or ``"skip"`` (songs
          whose audio file is missing); ``min_duration=5.0`` (seconds by the file header: one
          training crop) and ``on_invalid="raise"`` or ``"skip"`` (songs shorter than
          that, or with an all-zero annotation row); see
          :mod:`semgru_keras.data.validation`.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load_dataset("synthetic-gems", n_songs=8, seed=0)
    >>> len(ds), ds.task, ds.annotations.shape
    (8, 'regression', (8, 9))
    """
    from . import emotify, fourq, quadrants, synthetic

    name = str(name_or_path)
    if name in ("synthetic-gems", "synthetic-quadrants"):
        if root is not None:
            raise ValueError(f"{name} is synthesised by the package and takes no root (got root={str(root)!r})")
        maker = synthetic.make_synthetic_gems if name == "synthetic-gems" else synthetic.make_synthetic_quadrants
        return _synthetic(name, maker, options)
    if name in ("emotify", "4q", "quadrants"):
        if root is None:
            root = emotify_root_from_env() if name == "emotify" else None
            if root is None:
                from .sources import how_to_get

                hint = {
                    "emotify": f"(the folder with data.csv and emotifymusic/) or set $SEMGRU_EMOTIFY_ROOT; "
                               f"no copy yet? {how_to_get('emotify')}",
                    "4q": f"(the folder with {fourq.FOURQ_METADATA} and Q1/ … Q4/); no copy yet? {how_to_get('4q')}",
                    "quadrants": "(a folder of class folders or a CSV path,label)",
                }[name]
                raise ValueError(f"{name}: pass root=<path to the data> {hint}")
        loader = {"emotify": emotify.load_emotify, "4q": fourq.load_4q, "quadrants": quadrants.load_quadrants}[name]
        fields = _call(functools.partial(loader, root), name, options)
        return Dataset(**fields, options=dict(options))

    path = Path(name).expanduser()
    if not path.exists():
        raise ValueError(f"unknown data set {name!r}: expected one of {', '.join(DATASETS)} or an existing path")
    if root is not None:
        raise ValueError(f"{path}: give either a path as the name or root=, not both")
    if path.is_dir() and emotify.is_emotify_root(path):
        return load_dataset("emotify", root=path, **options)
    if fourq.is_4q_root(path):
        return load_dataset("4q", root=path, **options)
    if quadrants.is_quadrant_root(path):
        return load_dataset("quadrants", root=path, **options)
    raise ValueError(
        f"{path}: not a recognised data layout: expected an Emotify folder (data.csv + emotifymusic/), a 4Q folder "
        f"({fourq.FOURQ_METADATA} + Q1/ … Q4/), "
        f"a folder of class folders (happy/angry/sad/relaxed or Q1–Q4) or a CSV file path,label"
    )
