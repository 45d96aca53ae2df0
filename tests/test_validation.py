"""No silent wrong results in the data layer (issue 11): every bad input is an error naming its song and file.

Each test reproduces one case of the issue: Emotify ids outside their genre, truncated and
too-short audio, all-zero annotations, sequences shorter than a crop, grouping holes.
"""

import numpy as np
import pytest
import soundfile as sf
from test_data_emotify import REAL, ROWS, _write_emotify

from semgru_keras.data import Dataset, UnreadableAudioWarning, load_dataset
from semgru_keras.data.validation import MIN_DURATION, check_decoded_duration
from semgru_keras.features import AudioError

SR = 8000
needs_mp3 = pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile cannot write MP3 here")


def _tone(path, seconds, freq=300.0, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(t))).astype("float32"), SR, format=fmt)
    return path


# ----------------------------------------------------------------------------- 1. Emotify ids and genres
@pytest.mark.parametrize(
    "track, genre, why",
    [
        (150, "classical", r"track id 150 outside genre 'classical'"),  # would read classical/50.mp3
        (0, "classical", r"track id 0 outside genre 'classical'"),
        (401, "pop", r"track id 401 outside genre 'pop'"),
        (5, "jazz", r"unknown genre 'jazz'"),
        (5, "", r"empty genre"),
    ],
)
def test_emotify_track_id_must_lie_in_its_genre_range(tmp_path, track, genre, why):
    root = _write_emotify(tmp_path / "e")
    rows = list(ROWS) + [(track, genre, *ROWS[0][2:])]
    lines = (root / "data.csv").read_text().splitlines()[:1] + [",".join(map(str, r)) for r in rows]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    line = len(rows) + 1
    with pytest.raises(ValueError, match=rf"data\.csv: line {line} \(track id {track}\): {why}.*classical 1–100, rock 101–200, electronic 201–300, pop 301–400"):
        load_dataset("emotify", root=root)


# ----------------------------------------------------------------------------- 2. audio length
@needs_mp3
def test_truncated_mp3_is_an_error_naming_the_file(tmp_path):
    full = _tone(tmp_path / "full.mp3", 10.0, fmt="MP3")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 4])
    assert sf.info(str(cut)).duration == pytest.approx(10.0, abs=0.1)  # the header still says 10 s
    root = tmp_path / "q"
    (root / "sad").mkdir(parents=True)
    cut.rename(root / "sad" / "cut.mp3")
    ds = load_dataset("quadrants", root=root)  # 10 s by its header: passes the load-time length rule
    with pytest.raises(AudioError, match=r"sad/cut\.mp3: truncated audio: decoded \d\.\d\d s but the header declares 10\.\d\d s"):
        ds.sequences(cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(AudioError, match=r"cut\.mp3: truncated"):
        ds.audio(0)
    with pytest.warns(UnreadableAudioWarning, match=r"cut\.mp3: truncated audio"):
        assert len(ds.sequences(cache_dir=tmp_path / "cache", progress=False, on_error="skip")) == 0
    check_decoded_duration(full, 10 * SR, SR)  # the whole file passes


def test_decoded_duration_tolerance(tmp_path):
    path = _tone(tmp_path / "a.wav", 40.0)
    check_decoded_duration(path, int(39.1 * SR), SR)  # 0.9 s short of 40 s: within min(1 s, 5 %)
    with pytest.raises(AudioError, match=r"a\.wav: truncated audio: decoded 38\.80 s but the header declares 40\.00 s"):
        check_decoded_duration(path, int(38.8 * SR), SR)


def test_clip_shorter_than_one_crop_is_rejected_at_load(tmp_path):
    root = tmp_path / "q"
    _tone(root / "happy" / "long.wav", 6.0)
    _tone(root / "sad" / "short.wav", 0.2)
    with pytest.raises(ValueError, match=r"sad/short\.wav: song sad/short \(listed in .*\): 0\.20 s long by its header, shorter than min_duration=5 s"):
        load_dataset("quadrants", root=root)
    with pytest.warns(UserWarning, match=r"skipped 1 invalid songs:\n  song sad/short \(.*short\.wav\): 0\.20 s"):
        ds = load_dataset("quadrants", root=root, on_invalid="skip")
    assert ds.ids.tolist() == ["happy/long"]
    assert len(load_dataset("quadrants", root=root, min_duration=None)) == 2  # the rule can be turned off
    assert MIN_DURATION == 100 * 0.050


def test_short_emotify_song_names_track_and_file(tmp_path):
    root = _write_emotify(tmp_path / "e")
    _tone(root / "emotifymusic" / "rock" / "1.mp3", 1.0, fmt="WAV")  # a WAV under .mp3 is sniffed
    with pytest.raises(ValueError, match=r"rock/1\.mp3: song 101 \(listed in .*data\.csv\): 1\.00 s long"):
        load_dataset("emotify", root=root)


def test_sequences_shorter_than_a_crop_name_song_and_file(tmp_path):
    ds = load_dataset("synthetic-gems", n_songs=3, duration=2.0, seed=0)  # 40 vectors each
    with pytest.raises(ValueError, match=r"synthetic clip clip0000: song clip0000: 40 input vectors, fewer than min_length=100"):
        ds.sequences(cache_dir=tmp_path, progress=False, min_length=100)
    with pytest.warns(UnreadableAudioWarning, match=r"skipped 3 of 3 songs"):
        none = ds.sequences(cache_dir=tmp_path, progress=False, min_length=100, on_error="skip")
    assert len(none) == 0 and set(none.errors) == set(ds.ids)
    assert len(ds.sequences(cache_dir=tmp_path, progress=False, min_length=40)) == 3


# ----------------------------------------------------------------------------- 4/5. annotations
def test_all_zero_annotation_row_is_rejected_at_load_naming_the_song(tmp_path):
    nothing = (2, "classical", 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 30, 1, "Dutch")
    rows = [r for r in ROWS if r[0] != 2] + [nothing, nothing]  # track 2: nobody tagged anything
    root = _write_emotify(tmp_path / "e", rows=rows)
    with pytest.raises(ValueError, match=r"classical/2\.mp3: song 2 \(listed in .*data\.csv\): annotation row is all zero"):
        load_dataset("emotify", root=root)
    with pytest.warns(UserWarning, match=r"song 2 .*all zero"):
        ds = load_dataset("emotify", root=root, on_invalid="skip")
    assert "2" not in ds.ids


@pytest.mark.parametrize("bad, rule", [(0.0, "all zero"), (np.nan, "NaN or infinite")])
def test_dataset_rejects_unusable_annotations_naming_the_song(bad, rule):
    annotations = np.array([[0.2, 0.1], [bad, bad if bad == 0 else 0.3]])
    with pytest.raises(ValueError, match=rf"x: 1 songs with unusable annotations: song b \(b\.wav\): annotation.*{rule}"):
        Dataset("x", ids=["a", "b"], annotations=annotations, target_names=["p", "q"], task="regression",
                groups=[0, 1], paths=["a.wav", "b.wav"])


# ----------------------------------------------------------------------------- 6. groups
def test_blank_artists_are_each_their_own_group(tmp_path):
    root = tmp_path / "q"
    for name in ("a", "b", "c", "d"):
        _tone(root / "happy" / f"{name}.wav", 5.0)
    csv = root / "list.csv"
    csv.write_text("path,label,artist\nhappy/a.wav,happy,X\nhappy/b.wav,happy,\nhappy/c.wav,happy, \nhappy/d.wav,happy,X\n")
    with pytest.warns(UserWarning, match=r"list\.csv: 2 rows have a blank artist \(first: happy/b\)"):
        ds = load_dataset("quadrants", root=csv)
    assert ds.groups.tolist() == ["X", "song:happy/b", "song:happy/c", "X"]


def test_same_file_name_in_two_class_folders_is_two_groups(tmp_path):
    root = tmp_path / "q"
    _tone(root / "happy" / "track01.wav", 5.0, 300)
    _tone(root / "sad" / "track01.wav", 5.0, 200)
    _tone(root / "sad" / "other" / "track01.wav", 5.0, 250)
    ds = load_dataset("quadrants", root=root)
    assert len(set(ds.groups)) == 3
    csv = root / "list.csv"
    csv.write_text("path,label\nhappy/track01.wav,happy\nsad/track01.wav,sad\n")
    assert len(set(load_dataset("quadrants", root=csv).groups)) == 2


@pytest.mark.emotify
@pytest.mark.skipif(REAL is None, reason="the Emotify data set is not present")
def test_real_emotify_passes_the_rules():
    """Emotify as shipped: all 400 songs are longer than a crop; header and decoded durations agree."""
    ds = load_dataset("emotify", root=REAL)
    assert len(ds) == 400
    declared = ds.durations()
    for i in (0, 399):
        y, sr = ds.audio(i)  # raises if cut off
        assert len(y) / sr == pytest.approx(declared[i], abs=0.05)
