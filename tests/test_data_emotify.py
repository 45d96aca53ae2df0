"""The Emotify reader: aggregation of data.csv in the real format, file layout, errors.

Checks marked ``emotify`` run only where the real data set is present
(``$SEMGRU_EMOTIFY_ROOT`` or ``../shared/data/emotify`` next to the repository).
"""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.data import EMOTIFY_EMOTIONS, EMOTIFY_MEANS, load_dataset
from semgru_keras.data.emotify import emotify_path, read_emotify_annotations

HEADER = (
    "track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power, "
    "joyful_activation, tension, sadness, mood, liked, disliked, age, gender, mother tongue"
)
#            track genre       am so te no ca po jo te sa mood liked disliked age gender tongue
ROWS = [
    (1, "classical", 0, 1, 0, 0, 0, 0, 1, 1, 0, 3, 1, 0, 21, 1, "English"),
    (1, "classical", 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 0, 1, 41, 1, "Dutch"),
    (1, "classical", 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 32, 0, "Spanish"),  # tagged nothing
    (1, "classical", 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 32, 0, "Spanish"),
    (2, "classical", 1, 0, 1, 0, 0, 0, 0, 0, 0, 2, 1, 0, 25, 0, "English"),
    (2, "classical", 0, 0, 1, 0, 1, 0, 0, 0, 0, 4, 0, 0, 30, 1, "Russian"),
    (101, "rock", 0, 0, 0, 0, 0, 1, 1, 1, 0, 5, 1, 0, 19, 1, "English"),
    (305, "pop", 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 44, 0, "Dutch"),
    (305, "pop", 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 23, 1, "English"),
]


def _write_emotify(root: Path, rows=ROWS, audio=True, skip=()):
    root.mkdir(parents=True, exist_ok=True)
    lines = [HEADER] + [",".join(str(v) for v in r) for r in rows]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    sr = 8000
    t = np.arange(5 * sr) / sr  # 5 s: one training crop, the shortest clip loaders accept
    for k, (track, genre) in enumerate(sorted({(r[0], r[1]) for r in rows})):
        path = root / "emotifymusic" / genre / f"{(track - 1) % 100 + 1}.mp3"
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio and track not in skip:
            # real MP3 where libsndfile can write it (≥ 1.1); else WAV bytes, which the reader sniffs
            fmt = "MP3" if "MP3" in sf.available_formats() else "WAV"
            sf.write(path, (0.2 * np.sin(2 * np.pi * (220 + 50 * k) * t)).astype("float32"), sr, format=fmt)
    return root


@pytest.fixture
def emotify_root(tmp_path):
    return _write_emotify(tmp_path / "emotify")


def test_fractions_per_song_count_respondents_without_tags(emotify_root):
    ds = load_dataset("emotify", root=emotify_root)
    assert ds.ids.tolist() == ["1", "2", "101", "305"]
    assert ds.target_names == list(EMOTIFY_EMOTIONS)
    assert ds.task == "regression" and ds.labels is None
    assert ds.annotations.dtype == np.float32 and ds.annotations.shape == (4, 9)
    col = {e: j for j, e in enumerate(EMOTIFY_EMOTIONS)}
    # Track 1: 4 respondents, one of whom tagged nothing.
    a1 = ds.annotations[0]
    assert a1[col["solemnity"]] == pytest.approx(0.25)
    assert a1[col["nostalgia"]] == pytest.approx(0.25)
    assert a1[col["calmness"]] == pytest.approx(0.25)
    assert a1[col["amazement"]] == 0.0
    assert ds.annotations[1, col["tenderness"]] == pytest.approx(1.0)
    assert ds.annotations[3, col["joyful_activation"]] == pytest.approx(1.0)
    assert ds.metadata["n_respondents"].tolist() == [4, 2, 1, 2]
    assert ds.metadata["genre"].tolist() == ["classical", "classical", "rock", "pop"]
    np.testing.assert_array_equal(ds.groups, [1, 2, 101, 305])


def test_file_layout_follows_track_ids(emotify_root):
    ds = load_dataset("emotify", root=emotify_root)
    rel = [p.relative_to(emotify_root).as_posix() for p in ds.paths]
    assert rel == ["emotifymusic/classical/1.mp3", "emotifymusic/classical/2.mp3", "emotifymusic/rock/1.mp3", "emotifymusic/pop/5.mp3"]
    assert emotify_path("r", 400, "pop") == Path("r/emotifymusic/pop/100.mp3")
    y, sr = ds.audio(2)
    assert sr == 8000 and y.ndim == 1 and y.dtype == np.float32


def test_leading_space_header_is_read(emotify_root):
    songs = read_emotify_annotations(emotify_root / "data.csv")
    assert "joyful_activation" in songs.columns and songs.index.name == "track id"


def test_path_as_name_detects_emotify(emotify_root):
    ds = load_dataset(str(emotify_root))
    assert ds.name == "emotify" and len(ds) == 4


def test_missing_audio_names_the_file(tmp_path):
    root = _write_emotify(tmp_path / "e", skip=(101,))
    with pytest.raises(FileNotFoundError, match=r"rock[/\\]1\.mp3.*track 101"):
        load_dataset("emotify", root=root)
    with pytest.warns(UserWarning, match=r"rock[/\\]1\.mp3"):
        ds = load_dataset("emotify", root=root, on_missing="skip")
    assert ds.ids.tolist() == ["1", "2", "305"]


def test_bad_csv_is_named(tmp_path):
    root = _write_emotify(tmp_path / "e")
    (root / "data.csv").write_text("track id, genre, amazement\n1, classical, 1\n")
    with pytest.raises(ValueError, match=r"data\.csv: missing columns"):
        load_dataset("emotify", root=root)
    rows = [list(ROWS[0])]
    rows[0][4] = 2  # not 0/1
    _write_emotify(root, rows=[tuple(r) for r in rows])
    with pytest.raises(ValueError, match=r"data\.csv: emotion columns must be 0 or 1.*lines \[2\]"):
        load_dataset("emotify", root=root)


def test_emotify_needs_a_root(monkeypatch):
    monkeypatch.delenv("SEMGRU_EMOTIFY_ROOT", raising=False)
    with pytest.raises(ValueError, match="SEMGRU_EMOTIFY_ROOT"):
        load_dataset("emotify")


# ----------------------------------------------------------------------------- real data
def _real_root() -> Path | None:
    env = os.environ.get("SEMGRU_EMOTIFY_ROOT")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emotify")
    for c in candidates:
        if (c / "data.csv").is_file() and (c / "emotifymusic").is_dir():
            return c
    return None


REAL = _real_root()
needs_real = pytest.mark.skipif(REAL is None, reason="the Emotify data set is not present")


@pytest.mark.emotify
@needs_real
def test_real_emotify_matches_published_means():
    ds = load_dataset("emotify", root=REAL)
    assert ds.annotations.shape == (400, 9)
    assert len(np.unique(ds.groups)) == 400
    means = ds.annotations.mean(axis=0)
    for j, name in enumerate(ds.target_names):
        assert means[j] == pytest.approx(EMOTIFY_MEANS[name], abs=0.01), name
    assert ds.metadata["genre"].value_counts().to_dict() == {g: 100 for g in ("classical", "rock", "electronic", "pop")}
    assert all(p.is_file() for p in ds.paths)


@pytest.mark.emotify
@needs_real
def test_real_emotify_features_of_one_song(tmp_path):
    ds = load_dataset("emotify", root=REAL).subset([0])
    (seq,) = ds.sequences(cache_dir=tmp_path, progress=False)
    assert seq.shape[1] == 160 and seq.shape[0] > 500
