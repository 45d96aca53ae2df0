"""Feature-extraction stage: audio seconds processed per wall second.

Three paths, each on the same generated one-minute, 44.1 kHz mono signals:

* ``mel_sequence``: the in-memory signal → the (n, 160) input sequence (one process);
* ``file_sequence``: WAV / MP3 file → decode → input sequence, over every file, with 1 and
  ``N`` joblib worker processes (no cache);
* the cached path users run, ``Dataset.sequences(config, cache_dir, n_jobs)`` of
  :mod:`semgru_keras.data` on a folder of those files: a *cold* call (decode, compute,
  write the cache) and a *warm* call (read it back), with 1 and ``N`` workers. Skipped
  with a clear line when the data layer is not installed.

Optionally, real Emotify MP3 files (``$SEMGRU_EMOTIFY_ROOT`` or ``../shared/data/emotify``,
read in place, never copied) go through the uncached file path as well.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100


def music_like_signal(seconds: float, seed: int, sr: int = SR) -> np.ndarray:
    """A deterministic stand-in for a song: chords of harmonic tones changing every 0.5 s,
    a decaying envelope per chord, a little noise; peak ≈ 0.5. Feature extraction and MP3
    decoding cost do not depend on what the music is."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n, dtype=np.float64)
    hop = int(0.5 * sr)
    env = np.exp(-3.0 * np.arange(hop) / sr)
    for start in range(0, n, hop):
        stop = min(n, start + hop)
        seg = t[start:stop]
        for f0 in 110.0 * 2 ** (rng.integers(0, 36, 3) / 12):
            for k in range(1, 6):
                y[start:stop] += env[: stop - start] * np.sin(2 * np.pi * f0 * k * seg) / (k * k)
    y += 0.01 * rng.standard_normal(n)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def write_files(folder: Path, n_files: int, seconds: float) -> dict[str, list[Path]]:
    """``n_files`` WAV (16-bit) and MP3 copies of distinct signals, in quadrant class folders
    (the layout :func:`semgru_keras.data.load_dataset` reads as a quadrant data set)."""
    import soundfile as sf

    classes = ("happy", "angry", "sad", "relaxed")
    out: dict[str, list[Path]] = {"wav": [], "mp3": []}
    for i in range(n_files):
        y = music_like_signal(seconds, seed=i)
        for fmt in ("wav", "mp3"):
            path = folder / fmt / classes[i % 4] / f"song{i:03d}.{fmt}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "wav":
                sf.write(path, y, SR, subtype="PCM_16")
            else:
                sf.write(path, y, SR, format="MP3")
            out[fmt].append(path)
    return out


def _duration(paths) -> float:
    import soundfile as sf

    return float(sum(sf.info(str(p)).duration for p in paths))


def _time(fn, repeats: int = 1) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _file_sequences(paths, n_jobs: int) -> None:
    from joblib import Parallel, delayed

    from semgru_keras.features import file_sequence

    if n_jobs == 1:
        for p in paths:
            file_sequence(p)
    else:
        Parallel(n_jobs=n_jobs)(delayed(file_sequence)(p) for p in paths)


def _emotify_files(limit: int) -> list[Path]:
    roots = [os.environ.get("SEMGRU_EMOTIFY_ROOT"), Path(__file__).resolve().parents[2] / "shared" / "data" / "emotify"]
    for root in roots:
        if root and (Path(root) / "emotifymusic").is_dir():
            files = sorted((Path(root) / "emotifymusic").rglob("*.mp3"))
            # a spread over the four genres
            return files[:: max(1, len(files) // limit)][:limit]
    return []


def run_features(quick: bool, n_workers: int, say) -> dict:
    from semgru_keras.features import mel_sequence

    n_files = max(2 * n_workers, 4) if quick else max(4 * n_workers, 8)
    seconds = 60.0
    repeats = 2 if quick else 3
    result: dict = {"n_files": n_files, "seconds_per_file": seconds, "sample_rate": SR, "n_workers": n_workers,
                    "rows": []}
    tmp = Path(tempfile.mkdtemp(prefix="semgru-bench-features-"))
    try:
        say(f"  writing {n_files} WAV + {n_files} MP3 files of {seconds:.0f} s ...")
        files = write_files(tmp / "audio", n_files, seconds)
        audio_s = {fmt: _duration(paths) for fmt, paths in files.items()}

        def add(path_name, fmt, jobs, walls, audio_seconds, **extra):
            med = float(np.median(walls))
            row = {"path": path_name, "input": fmt, "n_jobs": jobs, "wall_s": walls, "median_wall_s": med,
                   "audio_s": audio_seconds, "audio_s_per_s": audio_seconds / med, **extra}
            result["rows"].append(row)
            say(f"  {path_name:<28} {fmt:<4} n_jobs={jobs}: {row['audio_s_per_s']:8.1f} audio s / s")

        y = music_like_signal(seconds, seed=0)
        mel_sequence(y, SR)  # imports, filter-bank cache
        add("mel_sequence (in memory)", "pcm", 1, _time(lambda: mel_sequence(y, SR), repeats + 2), seconds)

        for fmt in ("wav", "mp3"):
            for jobs in sorted({1, n_workers}):
                if jobs > 1:  # start the loky pool outside the timing
                    _file_sequences(files[fmt][:jobs], jobs)
                add("file_sequence (no cache)", fmt, jobs,
                    _time(lambda: _file_sequences(files[fmt], jobs), repeats), audio_s[fmt])

        real = _emotify_files(n_files)
        if real:
            for jobs in sorted({1, n_workers}):
                add("file_sequence (no cache)", "emotify-mp3", jobs, _time(lambda: _file_sequences(real, jobs), 1),
                    _duration(real), files=[str(p) for p in real])
        else:
            result["emotify"] = "not available (no ../shared/data/emotify or $SEMGRU_EMOTIFY_ROOT)"

        try:
            from semgru_keras.data import load_dataset  # noqa: F401
        except ImportError as exc:
            result["cached"] = f"not available yet ({exc})"
            say(f"  cached path: not available yet ({exc})")
        else:
            _cached_rows(files, tmp, audio_s, n_workers, add, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _cached_rows(files, tmp: Path, audio_s: dict, n_workers: int, add, say) -> None:
    """``load_dataset(folder).sequences(cache_dir=…, n_jobs=…)``: cold (fresh cache), then warm."""
    from semgru_keras.data import load_dataset

    for fmt in ("wav", "mp3"):
        root = tmp / "audio" / fmt
        for jobs in sorted({1, n_workers}):
            cache = tmp / f"cache-{fmt}-{jobs}"
            ds = load_dataset(root)
            if len(ds) != len(files[fmt]):
                raise RuntimeError(f"{root}: load_dataset found {len(ds)} songs, expected {len(files[fmt])}")
            cold = _time(lambda: ds.sequences(cache_dir=cache, n_jobs=jobs, progress=False), 1)
            add("Dataset.sequences, cold", fmt, jobs, cold, audio_s[fmt])
            warm = _time(lambda: load_dataset(root).sequences(cache_dir=cache, n_jobs=jobs, progress=False), 3)
            add("Dataset.sequences, warm", fmt, jobs, warm, audio_s[fmt])
