"""Verify a copy of a real data set against the record of the authors' distribution.

``python -m semgru_keras.data check NAME --root PATH`` runs :func:`check_copy` and prints its
report: one line per folder with its file count, one per annotation file with its SHA-256,
a summary of the decoded audio (durations, sample rates, channels, bit rates), a note when
the audio is a re-encoded copy (not an error), and one line per problem with its fix. The
exit status is 1 when there is a problem.

What counts as a problem
------------------------
* the root, an audio folder, an annotation file or an audio file is missing; an audio
  file that does not belong (Emotify: ``<genre>/<n>.mp3`` with n = 1-100; 4Q: the song ids
  of the metadata CSV, in their quadrant's folder);
* an annotation file whose SHA-256 differs from the original's (edited, or another
  version);
* an audio file that libsndfile cannot decode to the end, that decodes to less than its
  header declares (cut off: :func:`~semgru_keras.data.validation.check_decoded_duration`),
  or that is shorter than one training crop (:data:`~semgru_keras.data.validation.MIN_DURATION`).

A copy whose audio was converted (another format, bit rate or channel count than the
authors' files) but is otherwise complete is reported as a *re-encoded copy*: the loaders
read it, and the features differ a little from the originals'.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .quadrants import AUDIO_EXTENSIONS
from .sources import DataSource, get_source
from .validation import MIN_DURATION, check_decoded_duration

__all__ = ["AudioInfo", "Problem", "CheckReport", "sha256_file", "inspect_audio", "expected_files", "check_copy"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class AudioInfo:
    """What decoding one file found (``error`` set when it failed)."""

    path: str
    error: str | None = None
    format: str = ""
    subtype: str = ""
    channels: int = 0
    samplerate: int = 0
    duration: float = 0.0
    kbps: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def kind(self) -> str:
        """e.g. ``"mono MP3"``, ``"stereo OGG/OPUS"``."""
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}-channel")
        fmt = self.format if self.subtype in ("", "MPEG_LAYER_III") else f"{self.format}/{self.subtype}"
        return f"{layout} {fmt}"


def inspect_audio(path: str | os.PathLike) -> AudioInfo:
    """Decode ``path`` to the end with soundfile (the package's reader) and describe it.

    The whole file is decoded, block by block, so a file that breaks off part-way fails
    here as it would in feature extraction.
    """
    import soundfile as sf

    path = str(path)
    try:
        with sf.SoundFile(path) as f:
            fmt, subtype, channels, sr = f.format, f.subtype, f.channels, f.samplerate
            n = 0  # SoundFile.blocks() trusts the header's frame count: read until the decoder stops
            while len(block := f.read(1 << 16, dtype="float32")):
                n += len(block)
    except Exception as exc:  # libsndfile raises several types; keep the message
        return AudioInfo(path, error=f"cannot be decoded ({type(exc).__name__}: {exc})")
    duration = n / sr if sr else 0.0
    try:
        check_decoded_duration(path, n, sr)
    except ValueError as exc:
        return AudioInfo(path, error=str(exc).removeprefix(f"{path}: "), format=fmt, subtype=subtype,
                         channels=channels, samplerate=sr, duration=duration)
    kbps = os.path.getsize(path) * 8 / duration / 1000 if duration else 0.0
    return AudioInfo(path, None, fmt, subtype, channels, sr, duration, kbps)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a copy: where, what, and how to fix it."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"problem: {self.where}: {self.what}. Fix: {self.fix}"


@dataclass
class CheckReport:
    """The result of :func:`check_copy`: information lines, notes (not errors) and problems."""

    source: DataSource
    root: Path
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    audio: list[AudioInfo] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        if not self.ok:
            verdict = f"{len(self.problems)} problem(s) in the {self.source.name} copy at {self.root}"
        else:
            verdict = f"complete: the {self.source.name} copy at {self.root} has every file of the authors' distribution"
            if any(n.startswith("re-encoded copy") for n in self.notes):
                verdict += ", as a re-encoded copy"
        out = [f"{self.source.name}: checking {self.root}", *self.lines]
        out += [f"note: {n}" for n in self.notes]
        out += [str(p) for p in self.problems]
        out.append(verdict)
        return "\n".join(out)


def _archive_hint(source: DataSource) -> str:
    archives = [d for d in source.downloads if d.unpack_into is not None]
    where = f"{archives[0].filename} ({archives[0].url})" if archives else source.page
    return f"unpack it again from {where}, or run python -m semgru_keras.data download {source.name} --to PATH"


def expected_files(source: DataSource, root: Path) -> dict[str, set[str]] | None:
    """Audio folder → expected file stems, or ``None`` where the copy cannot say (a missing CSV).

    Emotify: ``1 … N`` in each genre folder. 4Q: the metadata CSV's song ids, by quadrant.
    """
    if source.name == "emotify":
        return {folder: {str(i) for i in range(1, n + 1)} for folder, n in source.folders.items()}
    if source.name == "4q":
        import pandas as pd

        from .fourq import FOURQ_METADATA

        try:
            frame = pd.read_csv(root / FOURQ_METADATA, dtype=str, keep_default_na=False)
            songs = frame["Song"].str.strip()
            quadrants = frame["Quadrant"].str.strip().str.upper()
        except Exception:  # missing or unreadable: its own problem line says so
            return None
        return {folder: set(songs[quadrants == folder]) for folder in source.folders}
    return None


def _check_annotations(report: CheckReport) -> None:
    source, root = report.source, report.root
    by_name = {d.filename: d for d in source.downloads}
    for rel, digest in source.annotation_sha256.items():
        path = root / rel
        got = by_name.get(Path(rel).name)
        fetch = f"download it again from {got.url}" if got and got.unpack_into is None else _archive_hint(source)
        if not path.is_file():
            report.problems.append(Problem(str(path), "annotation file missing", fetch))
            continue
        actual = sha256_file(path)
        if actual == digest:
            report.lines.append(f"{rel}: SHA-256 {actual[:12]}… matches the original")
        else:
            report.problems.append(Problem(
                str(path),
                f"SHA-256 {actual[:12]}… differs from the original's {digest[:12]}… (edited, or another version)",
                f"{fetch}; the results in this repository were computed from the original",
            ))


def _check_folders(report: CheckReport) -> list[Path]:
    """Count the audio files per folder, name the missing and the unexpected ones; return the files present."""
    source, root = report.source, report.root
    expected = expected_files(source, root)
    fixed_suffix = source.name == "emotify"  # the Emotify reader opens <genre>/<n>.mp3 by name
    present: list[Path] = []
    for folder, count in source.folders.items():
        where = root / folder
        if not where.is_dir():
            report.problems.append(Problem(str(where), f"folder missing ({count} audio files expected)",
                                           _archive_hint(source)))
            continue
        files = sorted(p for p in where.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS)
        present += files
        report.lines.append(f"{folder}/: {len(files)} audio files (expected {count})")
        if expected is None:
            continue
        want = expected.get(folder, set())
        have = {(p.name if fixed_suffix else p.stem): p for p in files}
        want_names = {f"{s}.mp3" for s in want} if fixed_suffix else want
        for name in sorted(want_names - set(have), key=_natural):
            shown = name if fixed_suffix else f"{name}.mp3"
            report.problems.append(Problem(str(where / shown), "audio file missing", _archive_hint(source)))
        for name in sorted(set(have) - want_names, key=_natural):
            report.problems.append(Problem(
                str(have[name]), "not part of the data set (no such song in this folder of the authors' distribution)",
                "remove it, or move it to the folder its song belongs to"))
    return present


def _natural(name: str):
    stem = name.split(".")[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def _decode_all(report: CheckReport, files: list[Path], n_jobs: int, progress: bool) -> None:
    if n_jobs == 1:
        items = files
        if progress:
            from tqdm.auto import tqdm

            items = tqdm(files, desc="decoding", unit="file")
        infos = [inspect_audio(p) for p in items]
    else:
        from joblib import Parallel, delayed

        infos = Parallel(n_jobs=n_jobs)(delayed(inspect_audio)(p) for p in files)
    report.audio = infos
    for info in infos:
        if not info.ok:
            report.problems.append(Problem(info.path, info.error, f"replace the file: {_archive_hint(report.source)}"))
        elif info.duration < MIN_DURATION:
            report.problems.append(Problem(
                info.path, f"{info.duration:.2f} s long, shorter than one training crop ({MIN_DURATION:g} s)",
                f"replace the file: {_archive_hint(report.source)}"))
    good = [i for i in infos if i.ok]
    report.lines.append(f"audio: {len(good)} of {len(infos)} files decode to the end")
    if not good:
        return
    d = np.array([i.duration for i in good])
    rates = Counter(i.samplerate for i in good)
    kinds = Counter(i.kind for i in good)
    report.lines += [
        f"duration: {d.min():.1f}–{d.max():.1f} s (median {np.median(d):.1f} s), {d.sum() / 3600:.2f} h in all",
        "sample rates: " + ", ".join(f"{r} Hz ({n})" for r, n in sorted(rates.items(), key=lambda kv: -kv[1])),
        "encoding: " + ", ".join(f"{k} ({n})" for k, n in kinds.most_common()),
    ]
    _note_reencodes(report, good)


def _is_original(info: AudioInfo, audio) -> bool:
    if info.format != audio.format:
        return False
    if audio.channels is not None and info.channels != audio.channels:
        return False
    return audio.min_kbps is None or info.kbps >= audio.min_kbps


def _note_reencodes(report: CheckReport, infos: list[AudioInfo]) -> None:
    audio = report.source.audio
    converted = [i for i in infos if not _is_original(i, audio)]
    if not converted:
        return
    parts = []
    for kind, group in sorted(Counter(i.kind for i in converted).items(), key=lambda kv: -kv[1]):
        kbps = np.array([i.kbps for i in converted if i.kind == kind])
        parts.append(f"{group} {kind} at {kbps.min():.0f}–{kbps.max():.0f} kbps (median {np.median(kbps):.0f})")
    share = "all" if len(converted) == len(infos) else f"{len(converted)} of {len(infos)}"
    report.notes.append(
        f"re-encoded copy: {share} audio files differ from the authors' {audio.description}: {'; '.join(parts)}. "
        "Not an error: the loaders read it; features differ a little from the originals', so numbers computed "
        "on it are close to, not identical with, numbers from the original audio"
    )


def check_copy(
    name_or_source: str | DataSource,
    root: str | os.PathLike,
    decode: bool = True,
    n_jobs: int = 1,
    progress: bool = False,
) -> CheckReport:
    """Check a copy of ``"emotify"`` or ``"4q"`` (or of any :class:`DataSource`) at ``root``.

    Parameters
    ----------
    name_or_source : str or DataSource
        The data set's name in :data:`~semgru_keras.data.sources.SOURCES`, or a record.
    root : path
        The folder the loader reads (``load_dataset(name, root=root)``).
    decode : bool
        Decode every audio file to the end (a few minutes for the 1,300 real files on one
        core); ``False`` checks the layout and the annotation files only.
    n_jobs : int
        Parallel decoding workers (joblib; -1: all cores).
    progress : bool
        A progress bar while decoding (one worker only).

    Returns
    -------
    CheckReport
        ``.ok`` is False when there is a problem; ``.format()`` is the printed report.
    """
    source = get_source(name_or_source) if isinstance(name_or_source, str) else name_or_source
    root = Path(root).expanduser()
    report = CheckReport(source, root)
    if not root.is_dir():
        report.problems.append(Problem(
            str(root), "folder not found",
            f"pass the folder that holds {next(iter(source.annotation_sha256))}, or fetch the data: "
            f"python -m semgru_keras.data download {source.name} --to {root}"))
        return report
    expected = [*source.annotation_sha256, *source.folders]
    if not any((root / rel).exists() for rel in expected):
        first = next(iter(source.annotation_sha256))
        below = sorted(p.parent for p in root.glob(f"*/{first}"))
        fix = (f"pass --root {below[0]}" if below else
               f"pass the folder that holds {first}, or fetch the data: "
               f"python -m semgru_keras.data download {source.name} --to {root}")
        report.problems.append(Problem(str(root), f"none of {', '.join(expected)} is here", fix))
        return report
    _check_annotations(report)
    files = _check_folders(report)
    if decode:
        _decode_all(report, files, n_jobs, progress)
    else:
        report.lines.append("audio: not decoded (--no-decode)")
    return report
