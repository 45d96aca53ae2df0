"""Which songs must share a fold: artist aliases, identical and re-encoded copies of one recording."""

import io
import json

import numpy as np
import pytest
import soundfile as sf

from semgru_keras.data import load_dataset
from semgru_keras.data.grouping import (
    artist_key,
    canonical_artists,
    chromaprint_status,
    find_duplicates,
    fingerprint,
    match_fingerprints,
    merge_groups,
)

HAS_CHROMAPRINT, CHROMAPRINT = chromaprint_status()
needs_chromaprint = pytest.mark.skipif(not HAS_CHROMAPRINT, reason=CHROMAPRINT)

# The four aliases in 4Q's metadata (shared/NOTES.md): one act credited with and without its band.
FOURQ_ALIASES = [
    ("Bob Marley", "Bob Marley & the Wailers"),
    ("Charlie Poole", "Charlie Poole & the North Carolina Ramblers"),
    ("Eddie Heywood", "Eddie Heywood and His Orchestra"),
    ("Xavier Cugat", "Xavier Cugat & His Orchestra"),
]


def test_artist_aliases_of_4q_are_one_group_and_other_credits_keep_theirs():
    for leader, alias in FOURQ_ALIASES:
        assert artist_key(alias) == artist_key(leader) == leader.casefold()
    # other backing-band and featuring forms; duos and bands named with "&" stay as they are
    assert artist_key("Ella Fitzgerald with Her Trio") == artist_key("  ELLA   fitzgerald ") == "ella fitzgerald"
    assert artist_key("Prince and the Revolution") == artist_key("Prince feat. Chaka Khan") == "prince"
    for name in ("Simon & Garfunkel", "Earth; Wind & Fire", "Brooks & Dunn", "The The"):
        assert artist_key(name) == name.casefold()
    credits = [a for pair in FOURQ_ALIASES for a in pair] + ["Gladys Knight & the Pips", "Brooks & Dunn"]
    groups = canonical_artists(credits)
    assert list(groups) == [leader for leader, _ in FOURQ_ALIASES for _ in (0, 1)] + credits[-2:]
    assert len(np.unique(groups)) == 6


def test_merge_groups_is_the_union_of_artists_and_duplicates():
    groups = np.array(["a", "a", "b", "c", "d", "e"])
    assert merge_groups(groups, []) is groups  # nothing joined: the same array
    merged = merge_groups(groups, [[1, 2], [3, 4, 5]])  # b's song duplicates one of a's; c, d, e one recording
    assert list(merged) == ["a", "a", "a", "c", "c", "c"]
    ints = merge_groups(np.array([7, 3, 5]), [[0, 2]])
    assert list(ints) == [5, 3, 5] and ints.dtype == np.array([7]).dtype


def _quadrant_folder(root, copies):
    """A quadrants folder of synthetic clips (WAV) plus ``copies``: (source index, file name, transform),
    each in its original's class folder."""
    ds = load_dataset("synthetic-quadrants", n_songs=12, duration=8.0, seed=0)
    for i in range(len(ds)):
        y, sr = ds.audio(i)
        path = root / ds.labels[i] / f"{ds.ids[i]}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, y, sr)
    for i, name, transform in copies:
        y, sr = ds.audio(i)
        path = root / ds.labels[i] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        transform(path, y, sr)
    return ds


def _vorbis_quieter(path, y, sr):
    sf.write(path, 0.3 * y, sr, format="OGG", subtype="VORBIS")


@needs_chromaprint
def test_fingerprints_find_reencoded_copies_and_nothing_else():
    ds = load_dataset("synthetic-quadrants", n_songs=16, duration=12.0, seed=0)
    prints = [fingerprint(*ds.audio(i)) for i in range(len(ds))]
    assert match_fingerprints(prints) == []  # 16 different clips: no pair
    y, sr = ds.audio(3)
    buf = io.BytesIO()
    sf.write(buf, 0.3 * y, sr, format="OGG", subtype="VORBIS")
    buf.seek(0)
    copy = fingerprint(*sf.read(buf, dtype="float32"))
    pairs = match_fingerprints(prints + [copy, fingerprint(y[sr:], sr)])
    assert [(i, j) for i, j, *_ in pairs] == [(3, 16), (3, 17), (16, 17)]
    assert all(ber < 0.1 for _, _, ber, _ in pairs)


@needs_chromaprint
def test_duplicate_recordings_are_found_grouped_and_counted(tmp_path):
    """Property 1 (issue 23): no recording in two folds. An identical copy under another name and a
    re-encoded copy (Ogg Vorbis at a third of the level) of two clips are found, their songs are
    put in the originals' groups, and the run says how many it found."""
    from semgru_keras.evaluation import EvaluationConfig, cross_validate_dataset
    from semgru_keras.results import CVResults

    root = tmp_path / "quadrants"
    synth = _quadrant_folder(root, [
        (2, "same_bytes.wav", lambda p, y, sr: sf.write(p, y, sr)),
        (5, "reencoded.ogg", _vorbis_quieter),
    ])
    ds = load_dataset("quadrants", root=root)
    index = {i: k for k, i in enumerate(ds.ids)}
    dups = find_duplicates(ds, cache_dir=tmp_path / "cache", progress=False)
    found = sorted(sorted(ds.ids[s]) for s in dups.sets)
    originals = [f"{synth.labels[k]}/{synth.ids[k]}" for k in (2, 5)]
    copies = [f"{synth.labels[k]}/{name}" for k, name in ((2, "same_bytes"), (5, "reencoded"))]
    assert found == sorted(sorted(pair) for pair in zip(originals, copies))
    assert dups.method == "content+fingerprint" and dups.n_songs == 4

    config = EvaluationConfig.quick(n_folds=3, systems=("handcrafted",), feature_groups=("dynamics",), n_boot=10)
    results = cross_validate_dataset(ds, config, cache_dir=tmp_path / "cache", progress=False)
    for original, copy in zip(originals, copies):
        assert results.folds[index[original]] == results.folds[index[copy]], f"{copy} and {original} in two folds"
    saved = CVResults.load(results.save(tmp_path / "results.json"))
    assert saved.grouping["grouped"] is True
    assert saved.grouping["duplicates"]["n_sets"] == 2 and saved.grouping["duplicates"]["n_songs"] == 4
    assert saved.grouping["by"] == "song + duplicate recordings" and saved.data == {"name": "quadrants", **saved.identity()}


def test_duplicates_command_names_the_songs(tmp_path, capsys):
    from semgru_keras.data.__main__ import main

    root = tmp_path / "q"
    t = np.arange(6 * 8000) / 8000
    for i, cls in enumerate(("happy", "angry", "sad")):
        (root / cls).mkdir(parents=True)
        sf.write(root / cls / f"s{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 100 * i) * t)).astype("float32"), 8000)
    (root / "sad" / "copy.wav").write_bytes((root / "happy" / "s0.wav").read_bytes())
    assert main(["duplicates", str(root), "--method", "content", "--cache-dir", str(tmp_path / "c"), "--no-progress",
                 "--json", str(tmp_path / "d.json")]) == 0
    out = capsys.readouterr().out
    assert "1 recording(s) found under several names, 2 songs" in out and "happy/s0 (happy/s0) = sad/copy" in out
    assert "groups (song): 4 -> 3" in out
    assert json.loads((tmp_path / "d.json").read_text())["sets"] == [["happy/s0", "sad/copy"]]
