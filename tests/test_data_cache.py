"""The feature cache: computed once, read afterwards; keyed by config and content; errors name files."""

import json
import re
import shutil
import warnings

import joblib
import numpy as np
import pytest
import soundfile as sf

import semgru_keras.features as features
import semgru_keras.data.cache as cache_module
from semgru_keras.data import CachedResults, CacheWarning, UnreadableAudioWarning, clear_cache, load_dataset
from semgru_keras.data.cache import CACHE_VERSION, default_cache_dir, entry_path, read_entry, write_entry
from semgru_keras.features import AudioError, FeatureConfig

SR = 8000


def _wav(path, freq=440.0, seconds=5.0, silent=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    y = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, y.astype("float32"), SR)
    return path


@pytest.fixture
def folders(tmp_path):
    root = tmp_path / "data"
    for i, cls in enumerate(("happy", "angry", "sad", "relaxed")):
        _wav(root / cls / f"s{i}.wav", 200 + 100 * i)
    return root


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_second_call_reads_the_cache(folders, cache, monkeypatch):
    ds = load_dataset("quadrants", root=folders)
    first = ds.sequences(cache_dir=cache, progress=False)
    assert isinstance(first, CachedResults) and len(first) == 4
    np.testing.assert_array_equal(first.indices, np.arange(4))

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached sequence")

    monkeypatch.setattr(features, "mel_sequence", fail)
    second = ds.sequences(cache_dir=cache, progress=False)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # a new configuration is a new key
    with pytest.raises(RuntimeError, match=r"s\d\.wav: input sequence failed \(AssertionError: recomputed"):
        ds.sequences(FeatureConfig(deltas=False), cache_dir=cache, progress=False)


def test_map_audio_counts_calls_and_keys_by_content(folders, cache, tmp_path):
    calls = []

    def rms(y, sr):
        calls.append(1)
        return {"rms": float(np.sqrt(np.mean(y**2))), "sr": sr}

    ds = load_dataset("quadrants", root=folders)
    out = ds.map_audio(rms, key="rms-v1", cache_dir=cache, progress=False)
    assert len(calls) == 4 and out[0]["sr"] == SR
    again = ds.map_audio(rms, key="rms-v1", cache_dir=cache, progress=False)
    assert len(calls) == 4 and again == out
    # the key is the content, not the path: a moved copy is a hit ...
    moved = tmp_path / "moved"
    shutil.copytree(folders, moved)
    load_dataset("quadrants", root=moved).map_audio(rms, key="rms-v1", cache_dir=cache, progress=False)
    assert len(calls) == 4
    # ... an edited file is a miss, and so are another key and another rate
    _wav(moved / "sad" / "s2.wav", 999)
    load_dataset("quadrants", root=moved).map_audio(rms, key="rms-v1", cache_dir=cache, progress=False)
    assert len(calls) == 5
    ds.map_audio(rms, key="rms-v2", cache_dir=cache, progress=False)
    assert len(calls) == 9
    ds.map_audio(rms, key="rms-v2", sr=4000, cache_dir=cache, progress=False)
    assert len(calls) == 13


def test_synthetic_clips_are_cached_by_parameters_and_seed(cache):
    calls = []

    def length(y, sr):
        calls.append(1)
        return len(y)

    ds = load_dataset("synthetic-gems", n_songs=3, duration=1.0, seed=0)
    assert ds.map_audio(length, "len", cache_dir=cache, progress=False) == [22050] * 3
    load_dataset("synthetic-gems", n_songs=3, duration=1.0, seed=0).map_audio(length, "len", cache_dir=cache, progress=False)
    assert len(calls) == 3
    load_dataset("synthetic-gems", n_songs=3, duration=1.0, seed=1).map_audio(length, "len", cache_dir=cache, progress=False)
    assert len(calls) == 6
    # the same clips at another default rate are other audio
    other = load_dataset("synthetic-gems", n_songs=3, duration=1.0, seed=0, sr=16000)
    assert other.map_audio(length, "len", cache_dir=cache, progress=False) == [16000] * 3


def test_parallel_path_keeps_order(folders, cache):
    ds = load_dataset("quadrants", root=folders)
    with joblib.parallel_config(backend="threading"):  # the n_jobs > 1 code path, without process start-up
        par = ds.sequences(cache_dir=cache, n_jobs=2, progress=False)
    ser = ds.sequences(cache_dir=cache / "other", n_jobs=1, progress=False)
    for a, b in zip(par, ser):
        np.testing.assert_array_equal(a, b)


def test_corrupt_file_error_names_it(folders, cache):
    bad = folders / "sad" / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    ds = load_dataset("quadrants", root=folders)
    with pytest.raises(AudioError, match=r"broken\.wav: cannot decode audio"):
        ds.sequences(cache_dir=cache, progress=False)


def test_silent_file_error_names_it(folders, cache):
    _wav(folders / "relaxed" / "quiet.wav", silent=True)
    ds = load_dataset("quadrants", root=folders)
    with pytest.raises(AudioError, match=r"quiet\.wav: the signal is silent"):
        ds.sequences(cache_dir=cache, progress=False)


def test_missing_file_error_names_it(folders, cache):
    ds = load_dataset("quadrants", root=folders)
    ds.paths[1].unlink()
    with pytest.raises(FileNotFoundError, match=f"{ds.paths[1].name}: audio file not found"):
        ds.sequences(cache_dir=cache, progress=False)


def test_skip_warns_lists_and_keeps_alignment(folders, cache):
    (folders / "sad" / "broken.wav").write_bytes(b"garbage")
    _wav(folders / "relaxed" / "quiet.wav", silent=True)
    ds = load_dataset("quadrants", root=folders)
    with pytest.warns(UnreadableAudioWarning, match=r"skipped 2 of 6 songs \(input sequence\)(.|\n)*quiet\.wav: the signal is silent(.|\n)*broken\.wav: cannot decode"):
        seqs = ds.sequences(cache_dir=cache, on_error="skip", progress=False)
    assert len(seqs) == 4
    kept = ds.subset(seqs.indices)
    assert "sad/broken" not in kept.ids and "relaxed/quiet" not in kept.ids
    assert set(seqs.errors) == {"sad/broken", "relaxed/quiet"}
    with pytest.warns(UnreadableAudioWarning):
        clean = ds.drop_unreadable(cache_dir=cache, progress=False)
    np.testing.assert_array_equal(clean.ids, kept.ids)
    assert len(clean.sequences(cache_dir=cache, progress=False)) == len(clean)  # aligned, no error


def test_errors_are_not_cached(folders, cache):
    path = _wav(folders / "sad" / "later.wav", silent=True)
    ds = load_dataset("quadrants", root=folders)
    with pytest.raises(AudioError):
        ds.sequences(cache_dir=cache, progress=False)
    _wav(path, 330)  # fixed
    assert len(ds.sequences(cache_dir=cache, progress=False)) == 5


def test_errors_of_other_computations_name_the_file(folders, cache):
    ds = load_dataset("quadrants", root=folders)

    def broken(y, sr):
        raise KeyError("oops")

    with pytest.raises(RuntimeError, match=r"s\d\.wav: boom failed \(KeyError: 'oops'\)"):
        ds.map_audio(broken, key="boom", cache_dir=cache, progress=False)
    with pytest.raises(ValueError, match="on_error"):
        ds.map_audio(broken, key="boom", cache_dir=cache, on_error="ignore")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMGRU_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SEMGRU_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == (".cache", "semgru_keras")


# ----------------------------------------------------------------------------- entries: plain arrays, checksummed
class _Planted:
    """A pickle whose loading would create a marker file (arbitrary code execution)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _entries(cache):
    return sorted(cache.glob("v*/*/*.npz"))


def test_a_planted_pickle_never_executes(folders, cache, tmp_path):
    import pickle

    ds = load_dataset("quadrants", root=folders)
    first = ds.sequences(cache_dir=cache, progress=False)
    marker = tmp_path / "pwned"
    target = _entries(cache)[0]
    target.write_bytes(pickle.dumps(_Planted(marker)))
    legacy = cache / "joblib" / "semgru_keras" / "data" / "cache" / "_compute" / "abc" / "output.pkl"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(pickle.dumps(_Planted(marker)))  # where joblib's cache used to look
    with pytest.warns(CacheWarning, match=rf"{target.name}: unreadable cache entry.*pickled.*recomputing it \(input sequence of .*s\d\.wav\)"):
        again = ds.sequences(cache_dir=cache, progress=False)
    assert not marker.exists()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: read without a warning
        ds.sequences(cache_dir=cache, progress=False)
    assert not marker.exists()


def test_flipped_bytes_are_detected_and_recomputed(folders, cache, monkeypatch):
    ds = load_dataset("quadrants", root=folders)
    first = ds.sequences(cache_dir=cache, progress=False)
    for entry in _entries(cache):  # 64 flipped bytes in the middle of the array data
        data = bytearray(entry.read_bytes())
        mid = len(data) // 2
        data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
        entry.write_bytes(bytes(data))
    calls = []
    real = features.mel_sequence
    monkeypatch.setattr(features, "mel_sequence", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.warns(CacheWarning) as caught:
        again = ds.sequences(cache_dir=cache, progress=False)
    assert len(calls) == 4 and len(caught) == 4
    assert all(re.search(r"\.npz: (checksum mismatch|unreadable cache entry)", str(w.message)) for w in caught)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_the_key_is_an_explicit_version_not_source_code(folders, cache, monkeypatch):
    calls = []

    def rms(y, sr):
        """One docstring."""
        calls.append(1)
        return np.sqrt(np.mean(y**2))

    def rms_edited(y, sr):
        """Another docstring, other code: same key, so the cache still answers."""
        calls.append(1)
        return -1.0

    ds = load_dataset("quadrants", root=folders)
    out = ds.map_audio(rms, "rms", cache_dir=cache, progress=False)
    assert ds.map_audio(rms_edited, "rms", cache_dir=cache, progress=False) == out and len(calls) == 4
    content = ds.sources[0].content_id()
    assert entry_path(cache, "rms", None, content).is_file()
    assert json.loads((entry_path(cache, "rms", None, content).parent / "key.json").read_text())["key"] == "rms"
    monkeypatch.setattr(cache_module, "CACHE_VERSION", CACHE_VERSION + 1)  # a format change is a bump
    ds.map_audio(rms, "rms", cache_dir=cache, progress=False)
    assert len(calls) == 8
    clear_cache(cache)
    assert not _entries(cache)


def test_dict_results_round_trip_as_plain_arrays(tmp_path):
    value = {"dynamics": np.arange(7, dtype=np.float32), "tempo": 120.5, "n": 3, "name": "x", "flag": True,
             "np": np.float32(0.25)}
    path = tmp_path / "e.npz"
    write_entry(path, value)
    back = read_entry(path)
    assert back.keys() == value.keys() and back["name"] == "x" and back["n"] == 3 and type(back["n"]) is int
    assert back["flag"] is True and back["np"].dtype == np.float32
    np.testing.assert_array_equal(back["dynamics"], value["dynamics"])
    assert back["dynamics"].dtype == np.float32
    with np.load(path, allow_pickle=False) as z:  # nothing in the file needs pickle
        assert all(z[name].dtype != object for name in z.files)
    with pytest.raises(TypeError, match="object array"):
        write_entry(path, np.array([None, 1], dtype=object))
    with pytest.raises(TypeError, match="cannot cache a result of type list"):
        write_entry(path, [1, 2])


def test_handcrafted_features_are_cached(folders, cache):
    from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features

    ds = load_dataset("quadrants", root=folders).subset([0])
    (first,) = ds.map_audio(handcrafted_features, HANDCRAFTED_KEY, cache_dir=cache, progress=False)
    (again,) = ds.map_audio(handcrafted_features, HANDCRAFTED_KEY, cache_dir=cache, progress=False)
    assert list(first) == list(again) == ["dynamics", "rhythm", "harmony", "timbre"]
    for g in first:
        np.testing.assert_array_equal(first[g], again[g])


def test_concurrent_writers_leave_one_complete_entry(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "v" / "e.npz"
    values = [np.full((200, 160), k, dtype=np.float32) for k in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda v: write_entry(path, v), values))
    back = read_entry(path)
    assert back.shape == (200, 160) and len(np.unique(back)) == 1  # one writer's whole array
    assert [p.name for p in path.parent.iterdir()] == ["e.npz"]  # no temporary files left
    path.write_bytes(path.read_bytes()[:1000])  # a cut-off entry (e.g. a full disk) is refused
    with pytest.raises(ValueError, match=r"e\.npz: unreadable cache entry"):
        read_entry(path)


# ---------------------------------------------------------------------- a speed-up, never a point of failure
def _read_only(folder, monkeypatch):
    """Make ``folder`` read-only: permission bits, and (root ignores them) refused writes inside it."""
    import errno
    import os
    import tempfile
    from pathlib import Path

    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() != 0:
        return

    def inside(path) -> bool:
        return Path(path).resolve().is_relative_to(folder.resolve())

    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    mkstemp, write_text, mkdir = tempfile.mkstemp, Path.write_text, Path.mkdir
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: refuse(dir) if inside(dir) else mkstemp(*a, dir=dir, **k))
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: refuse(self) if inside(self) else write_text(self, *a, **k))
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: refuse(self) if inside(self) and not self.is_dir()
                        else mkdir(self, *a, **k))


def test_cache_is_a_speed_up_never_a_point_of_failure(folders, tmp_path, monkeypatch):
    """Property 5 (issue 23): a cache that cannot be written (here: its folder would lie under a
    file; then a read-only copy) costs only speed — results are computed, one warning names the
    folder; a read-only cache without key.json is read; entries follow the process's umask."""
    import os

    def peak(y, sr):
        calls.append(1)
        return float(np.abs(y).max())

    ds = load_dataset("quadrants", root=folders)
    calls = []
    expected = [peak(*ds.audio(i)) for i in range(len(ds))]

    blocked = tmp_path / "a-file" / "cache"
    (tmp_path / "a-file").write_text("not a folder")
    calls = []
    with pytest.warns(CacheWarning) as caught:
        assert list(ds.map_audio(peak, key="peak", cache_dir=blocked, progress=False)) == expected
    assert len(calls) == 4 and len(caught) == 1 and str(blocked) in str(caught[0].message)

    shared = tmp_path / "shared"
    old = os.umask(0o002)  # a group-shared cache
    try:
        assert list(ds.map_audio(peak, key="peak", cache_dir=shared, progress=False)) == expected
    finally:
        os.umask(old)
    assert {p.stat().st_mode & 0o777 for p in shared.rglob("*.npz")} == {0o664}

    for note in shared.rglob("key.json"):
        note.unlink()
    _read_only(shared, monkeypatch)
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reading needs neither key.json nor a warning
        assert list(ds.map_audio(peak, key="peak", cache_dir=shared, progress=False)) == expected
    assert calls == []
    with pytest.warns(CacheWarning, match=str(shared)):  # a new computation: computed, not stored
        assert len(ds.map_audio(peak, key="peak-v2", cache_dir=shared, progress=False)) == 4
    assert calls == [1] * 4
    for path in [shared, *shared.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
