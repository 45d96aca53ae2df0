"""The 4Q set as its authors distribute it: Q1–Q4 folders + panda_dataset_taffc_metadata.csv."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.data import load_dataset
from semgru_keras.data.fourq import FOURQ_METADATA

SR = 8000
SECONDS = 5.5  # longer than one training crop (the loaders reject shorter clips)
HEADER = '"Song","Artist","Title","Quadrant","PQuad"\n'
ROWS = [
    ("MT01", "Ann", "One", "Q1"),
    ("MT02", "Ann", "Two", "Q2"),
    ("MT03", "Bob", "Three", "Q3"),
    ("MT04", "Cy", "Four", "Q4"),
    ("MT05", "Dee", "Five", "Q1"),
]


def _wav(path: Path, freq: float = 440.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * SECONDS)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype("float32"), SR)


def _csv(root: Path, rows) -> Path:
    text = HEADER + "".join(f'"{s}","{a}","{t}","{q}",0.75\n' for s, a, t, q in rows)
    path = root / FOURQ_METADATA
    path.write_text(text)
    return path


@pytest.fixture
def fourq(tmp_path):
    root = tmp_path / "4q"
    for i, (song, _, _, quadrant) in enumerate(ROWS):
        _wav(root / quadrant / f"{song}.wav", 200 + 50 * i)
    _csv(root, ROWS)
    return root


def test_reads_the_distribution_as_it_comes(fourq):
    ds = load_dataset("4q", root=fourq)
    assert ds.name == "4q"
    assert list(ds.ids) == [r[0] for r in ROWS]
    assert list(ds.labels) == ["happy", "angry", "sad", "relaxed", "happy"]
    assert list(ds.groups) == ["Ann", "Ann", "Bob", "Cy", "Dee"]  # folds group by artist
    assert ds.classes == ["happy", "angry", "sad", "relaxed"]
    np.testing.assert_array_equal(ds.annotations[1], [-1.0, 1.0])  # Q2 = angry = (−valence, +arousal)
    assert list(ds.metadata["title"]) == ["One", "Two", "Three", "Four", "Five"]
    assert load_dataset(fourq).name == "4q"  # a path is recognised as 4Q before generic class folders


def test_missing_csv_is_named(fourq):
    (fourq / FOURQ_METADATA).unlink()
    with pytest.raises(FileNotFoundError, match=FOURQ_METADATA):
        load_dataset("4q", root=fourq)


def test_clip_without_a_csv_row_is_named(fourq):
    _wav(fourq / "Q3" / "MT99.wav")
    with pytest.raises(ValueError, match=r"Q3/MT99\.wav.*no row"):
        load_dataset("4q", root=fourq)


def test_csv_row_without_a_clip_is_named_or_skipped(fourq):
    (fourq / "Q3" / "MT03.wav").unlink()
    with pytest.raises(FileNotFoundError, match=r"MT03 \(line 4, Q3\)"):
        load_dataset("4q", root=fourq)
    with pytest.warns(UserWarning, match="MT03"):
        ds = load_dataset("4q", root=fourq, on_missing="skip")
    assert "MT03" not in set(ds.ids) and len(ds) == 4


def test_quadrant_disagreeing_with_the_folder_is_named(fourq):
    rows = [r if r[0] != "MT04" else ("MT04", "Cy", "Four", "Q1") for r in ROWS]
    _csv(fourq, rows)
    with pytest.raises(ValueError, match=r"Q4/MT04\.wav.*folder Q4.*line 5 says Q1"):
        load_dataset("4q", root=fourq)


def test_a_song_in_two_folders_and_duplicate_rows_are_errors(fourq, tmp_path):
    _wav(fourq / "Q2" / "MT01.wav")
    with pytest.raises(ValueError, match="song MT01: two audio files"):
        load_dataset("4q", root=fourq)
    (fourq / "Q2" / "MT01.wav").unlink()
    _csv(fourq, ROWS + [ROWS[0]])
    with pytest.raises(ValueError, match=r"lines \[2, 7\]: song MT01 is listed more than once"):
        load_dataset("4q", root=fourq)


def test_unknown_quadrant_in_the_csv_names_the_line(fourq):
    _csv(fourq, [r if r[0] != "MT05" else ("MT05", "Dee", "Five", "Q7") for r in ROWS])
    with pytest.raises(ValueError, match=r"line 6 \(song MT05\): unknown quadrant class 'Q7'"):
        load_dataset("4q", root=fourq)


def test_blank_artists_become_groups_of_their_own(fourq):
    _csv(fourq, [(s, "" if s in ("MT03", "MT04") else a, t, q) for s, a, t, q in ROWS])
    with pytest.warns(UserWarning, match="blank Artist.*MT03, MT04"):
        ds = load_dataset("4q", root=fourq)
    assert ds.groups[2] != ds.groups[3]  # never one shared "blank" artist


# ---------------------------------------------------------------------- the real data, where present
def _real_root() -> Path | None:
    env = os.environ.get("SEMGRU_4Q_ROOT")
    for candidate in ([Path(env)] if env else []) + [Path(__file__).resolve().parents[2] / "shared" / "data" / "4q"]:
        if (candidate / FOURQ_METADATA).is_file():
            return candidate
    return None


@pytest.mark.skipif(_real_root() is None, reason="the 4Q data set is not present (../shared/data/4q or $SEMGRU_4Q_ROOT)")
def test_real_4q_set_and_artist_grouped_folds():
    from semgru_keras.evaluation import make_folds

    with pytest.warns(UserWarning, match="3 song"):  # the authors' CSV has three blank Artist cells
        ds = load_dataset("4q", root=_real_root())
    assert len(ds) == 900
    assert {c: int((ds.labels == c).sum()) for c in ds.classes} == {"happy": 225, "angry": 225, "sad": 225, "relaxed": 225}
    # 661 named artists (the "662" counted by pandas includes the blank one) + 3 songs grouped alone,
    # less four aliases ("Bob Marley" / "Bob Marley & the Wailers", ...) joined to their leader's group
    assert len(np.unique(ds.metadata["artist"])) == 664 and len(np.unique(ds.groups)) == 660
    for alias, leader in [("Bob Marley & the Wailers", "Bob Marley"), ("Xavier Cugat & His Orchestra", "Xavier Cugat"),
                          ("Charlie Poole & the North Carolina Ramblers", "Charlie Poole"),
                          ("Eddie Heywood and His Orchestra", "Eddie Heywood")]:
        assert set(ds.groups[ds.metadata["artist"] == alias]) == {leader}
    folds = make_folds(ds.labels, n_folds=10, seed=0, groups=ds.groups)
    for artist in np.unique(ds.groups):
        assert len(np.unique(folds[ds.groups == artist])) == 1, f"artist {artist} is in two folds"
    assert np.bincount(folds).min() >= 80  # stratified and grouped: about 90 songs per fold
