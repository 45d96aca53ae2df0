"""4-quadrant data: class folders and path,label CSVs of generated WAVs."""

import numpy as np
import pytest
import soundfile as sf

from semgru_keras import QUADRANT_CORNERS
from semgru_keras.data import load_dataset
from semgru_keras.data.quadrants import canonical_class

SR = 8000


def _wav(path, freq=440.0, seconds=5.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32"), SR)
    return path


@pytest.fixture
def folders(tmp_path):
    root = tmp_path / "4q"
    _wav(root / "Q1" / "a.wav", 300)
    _wav(root / "Q1" / "sub" / "b.wav", 310)
    _wav(root / "angry" / "c.wav", 500)
    _wav(root / "SAD" / "d.wav", 200)
    _wav(root / "Relaxed" / "e.WAV", 250)
    (root / "notes").mkdir()  # a folder without audio is ignored
    (root / "notes" / "readme.txt").write_text("x")
    return root


def test_class_folders_map_to_corners(folders):
    ds = load_dataset("quadrants", root=folders)
    assert len(ds) == 5
    assert ds.task == "classification"
    assert ds.target_names == ["valence", "arousal"]
    assert ds.classes == ["happy", "angry", "sad", "relaxed"]
    by_id = dict(zip(ds.ids, ds.labels))
    assert by_id == {"Q1/a": "happy", "Q1/sub/b": "happy", "angry/c": "angry", "SAD/d": "sad", "Relaxed/e": "relaxed"}
    for label, row in zip(ds.labels, ds.annotations):
        assert tuple(row) == QUADRANT_CORNERS[label]
    np.testing.assert_array_equal(ds.targets, ds.labels)
    np.testing.assert_array_equal(ds.groups, ds.ids)  # no artists: each file its own group
    y, sr = ds.audio(0)
    assert sr == SR and y.dtype == np.float32


def test_corner_coding_is_the_papers():
    assert QUADRANT_CORNERS == {"happy": (1, 1), "angry": (-1, 1), "sad": (-1, -1), "relaxed": (1, -1)}
    assert [canonical_class(n) for n in ("q1", "Q2", "sAd", "RELAXED")] == ["happy", "angry", "sad", "relaxed"]


def test_unknown_class_folder_lists_known_names(folders):
    _wav(folders / "euphoric" / "x.wav")
    with pytest.raises(ValueError, match=r"euphoric.*unknown quadrant class.*happy.*q1.*relaxed"):
        load_dataset("quadrants", root=folders)


def test_csv_with_artists_and_relative_paths(folders, tmp_path):
    csv = folders / "labels.csv"
    csv.write_text("path,label,artist\nQ1/a.wav,Happy,A1\nangry/c.wav, q2 ,A1\nSAD/d.wav,sad,A2\n")
    ds = load_dataset("quadrants", root=csv)
    assert ds.labels.tolist() == ["happy", "angry", "sad"]
    assert ds.groups.tolist() == ["A1", "A1", "A2"]
    assert ds.classes == ["happy", "angry", "sad"]
    # a CSV as the name is detected too
    assert len(load_dataset(str(csv))) == 3


def test_csv_errors_name_the_file_and_line(folders):
    csv = folders / "bad.csv"
    csv.write_text("path,label\nQ1/a.wav,happy\nangry/c.wav,furious\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: unknown quadrant class 'furious'"):
        load_dataset("quadrants", root=csv)
    csv.write_text("path,label\nQ1/a.wav,happy\nnowhere.wav,sad\n")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.wav: audio file not found"):
        load_dataset("quadrants", root=csv)
    with pytest.warns(UserWarning, match=r"nowhere\.wav"):
        assert len(load_dataset("quadrants", root=csv, on_missing="skip")) == 1
    csv.write_text("file,class\nQ1/a.wav,happy\n")
    with pytest.raises(ValueError, match=r"bad\.csv: missing columns"):
        load_dataset("quadrants", root=csv)


def test_folder_detection_and_empty_root(folders, tmp_path):
    assert load_dataset(str(folders)).name == "quadrants"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="not a recognised data layout"):
        load_dataset(str(empty))
    with pytest.raises(FileNotFoundError, match="no audio files"):
        load_dataset("quadrants", root=empty)


def test_sequences_of_quadrant_files(folders, tmp_path):
    ds = load_dataset("quadrants", root=folders)
    seqs = ds.sequences(cache_dir=tmp_path / "cache", progress=False)
    assert len(seqs) == 5 and all(s.shape == (100, 160) for s in seqs)  # 5 s -> 200 frames -> 100 vectors
