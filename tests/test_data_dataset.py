"""The Dataset container, load_dataset's dispatch and the command line."""

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.data import Dataset, load_dataset
from semgru_keras.data.__main__ import main


@pytest.fixture
def small():
    return load_dataset("synthetic-quadrants", n_songs=8, duration=1.0, seed=0)


def test_subset_keeps_everything_aligned(small):
    sub = small.subset([5, 1, 2])
    assert isinstance(sub, Dataset) and len(sub) == 3
    np.testing.assert_array_equal(sub.ids, small.ids[[5, 1, 2]])
    np.testing.assert_array_equal(sub.annotations, small.annotations[[5, 1, 2]])
    np.testing.assert_array_equal(sub.labels, small.labels[[5, 1, 2]])
    np.testing.assert_array_equal(sub.groups, small.groups[[5, 1, 2]])
    assert sub.metadata["tempo_bpm"].tolist() == small.metadata["tempo_bpm"].iloc[[5, 1, 2]].tolist()
    np.testing.assert_array_equal(sub.audio(0)[0], small.audio(5)[0])
    mask = small.labels == "sad"
    assert set(small.subset(mask).labels) == {"sad"} and small.subset(mask).classes == ["sad"]
    with pytest.raises(IndexError):
        small.subset([8])


def test_to_frame_and_repr(small):
    frame = small.to_frame()
    assert list(frame.columns[:5]) == ["id", "group", "label", "valence", "arousal"]
    assert len(frame) == 8
    assert "synthetic-quadrants" in repr(small)


def test_dataset_validates_its_fields():
    with pytest.raises(ValueError, match="annotations must be"):
        Dataset("x", ids=["a", "b"], annotations=np.zeros((3, 2)), target_names=["p", "q"], task="regression",
                groups=[0, 1], paths=["a", "b"])
    with pytest.raises(ValueError, match="exactly one of paths"):
        Dataset("x", ids=["a"], annotations=np.zeros((1, 1)), target_names=["p"], task="regression", groups=[0])
    with pytest.raises(ValueError, match="needs labels"):
        Dataset("x", ids=["a"], annotations=np.zeros((1, 1)), target_names=["p"], task="classification",
                groups=[0], paths=["a"])


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown data set 'gems'.*synthetic-gems, synthetic-quadrants, emotify, 4q, quadrants"):
        load_dataset("gems")


def test_describe_has_the_summary(small):
    text = small.describe()
    assert "8 songs" in text and "classification" in text
    for c in ("happy", "angry", "sad", "relaxed"):
        assert c in text
    gems = load_dataset("synthetic-gems", n_songs=4, duration=1.0).describe()
    assert "joyful_activation" in gems and "mean ± sd" in gems and "0.00 h" in gems


def test_sequences_of_synthetic_clips(tmp_path):
    ds = load_dataset("synthetic-gems", n_songs=3, duration=2.0, seed=0)
    seqs = ds.sequences(cache_dir=tmp_path, progress=False)
    assert [s.shape for s in seqs] == [(40, 160)] * 3
    assert all(s.dtype == np.float32 and np.all(np.isfinite(s)) for s in seqs)


def test_cli_info_and_extract(tmp_path, capsys):
    assert main(["info", "synthetic-gems", "-o", "n_songs=4", "-o", "duration=1"]) == 0
    out = capsys.readouterr().out
    assert "synthetic-gems: 4 songs, 9 targets (regression)" in out
    args = ["extract", "synthetic-quadrants", "-o", "n_songs=4", "-o", "duration=1", "--cache-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert "4 of 4 songs, 80 input vectors of 160 values" in capsys.readouterr().out
    assert main(["info", "nothing-like-this"]) == 2
    assert "unknown data set" in capsys.readouterr().err


def test_cli_extract_reports_a_bad_file(tmp_path, capsys):
    root = tmp_path / "q"
    (root / "sad").mkdir(parents=True)
    sf.write(root / "sad" / "ok.wav", (0.1 * np.sin(np.arange(4000) * 0.1)).astype("float32"), 8000)
    (root / "sad" / "bad.wav").write_bytes(b"nonsense")
    cache = ["--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(["extract", str(root), *cache]) == 1
    assert "bad.wav: cannot decode audio" in capsys.readouterr().err
    with pytest.warns(UserWarning):
        assert main(["extract", str(root), "--skip-errors", *cache]) == 0
    captured = capsys.readouterr()
    assert "1 of 2 songs" in captured.out and "bad.wav" in captured.err
