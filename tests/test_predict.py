"""The shipped model and `python -m semgru_keras.predict`: scores, quadrant, neighbours, errors per file."""

import csv
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from semgru_keras import predict as cli
from semgru_keras.data.synthetic import make_synthetic_gems
from semgru_keras.features import AudioError
from semgru_keras.pretrained import MODEL_DIR, load_pretrained

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    return load_pretrained()


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """Two synthesised WAVs, a text file, and a folder holding one WAV and a text file."""
    folder = tmp_path_factory.mktemp("songs")
    made = make_synthetic_gems(n_songs=2, duration=8.0, seed=11)
    wavs = []
    for i, clip in enumerate(made.clips):
        y, sr = clip.render()
        wavs.append(folder / f"song{i}.wav")
        sf.write(wavs[-1], y, sr)
    text = folder / "notes.txt"
    text.write_text("not audio")
    album = folder / "album"
    album.mkdir()
    sf.write(album / "track.wav", made.clips[0].render()[0], made.clips[0].sr)
    (album / "cover.txt").write_text("not audio either")
    return {"wavs": wavs, "text": text, "album": album}


@pytest.fixture
def run(model, monkeypatch, capsys):
    """Call the CLI in-process with the already loaded shipped model."""
    monkeypatch.setattr(cli, "load_pretrained", lambda folder=None: model)

    def call(*args):
        code = cli.main([*map(str, args), "--no-progress"])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def test_shipped_model_is_small_and_declared_as_package_data():
    files = [p for p in MODEL_DIR.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"pretrained.json", "gems_embedder.keras", "gems.npz", "quadrant_embedder.keras", "quadrant.npz",
            "MODEL_CARD.md"} <= names
    assert sum(p.stat().st_size for p in files) < 5e6
    pyproject = (REPO / "pyproject.toml").read_text()
    for suffix in {p.suffix for p in files}:
        assert f'"models/*{suffix}"' in pyproject, f"{suffix} files are not package data"


def test_loading_the_shipped_model_executes_no_pickle(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_pretrained unpickled something")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    loaded = load_pretrained()
    assert len(loaded.emotions) == 9 and loaded.has_quadrant
    assert loaded.classes == ["happy", "angry", "sad", "relaxed"]


def test_card_scores_are_the_ones_in_results(model):
    """The shipped card's numbers are read from results/, and say 'not yet measured' where none exist."""
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    for part, source in (("gems", model.info["training"]["gems"]["source"]),
                         ("quadrant", model.info["training"]["quadrant"]["source"])):
        score = model.cv_scores.get(part)
        if model.info["training"][part]["dataset"].startswith("synthetic"):
            assert score is None
            continue
        if score is None:
            assert f"not yet measured (no `results/{source}/summary.csv`" in card
        else:
            import pandas as pd

            table = pd.read_csv(REPO / score["file"])
            value = table.loc[table["system"] == score["system"], score["metric"]].item()
            assert score["value"] == value and f"**{value:.3f}**" in card


def test_json_gives_nine_scores_in_range_a_quadrant_and_five_neighbours(run, songs, model):
    code, out, err = run(songs["wavs"][0], "--format", "json")
    assert code == 0, err
    (song,) = json.loads(out)["songs"]
    assert song["source"] == str(songs["wavs"][0]) and song["error"] is None
    scores = np.array([song["gems"][e] for e in model.emotions])
    assert scores.shape == (9,) and np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert song["quadrant"] in model.classes
    assert sum(song["quadrant_probabilities"].values()) == pytest.approx(1.0)
    assert len(song["similar"]) == 5
    sims = [s["similarity"] for s in song["similar"]]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1 + 1e-9 for s in sims)


def test_table_names_the_song_and_its_quadrant(run, songs):
    code, out, _ = run(songs["wavs"][1])
    assert code == 0
    assert str(songs["wavs"][1]) in out and "quadrant probabilities:" in out and "most similar" in out
    assert "results/" not in out  # an installed package has no results/ folder to point at


def test_non_audio_file_fails_with_its_name_and_a_non_zero_exit(run, songs):
    code, out, err = run(songs["text"])
    assert code == 1
    assert f"error: {songs['text']}" in err and out == ""


def test_a_mix_still_predicts_the_good_files(run, songs, tmp_path):
    missing = tmp_path / "missing.mp3"
    code, out, err = run(songs["wavs"][0], songs["text"], missing, songs["wavs"][1], "--format", "csv")
    assert code == 1
    assert str(songs["text"]) in err and str(missing) in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file"] for r in rows] == [str(songs["wavs"][0]), str(songs["text"]), str(missing), str(songs["wavs"][1])]
    good = [r for r in rows if not r["error"]]
    assert len(good) == 2 and all(0 <= float(r["sadness"]) <= 1 and r["quadrant"] for r in good)
    assert all(r["error"] and not r["quadrant"] for r in rows if r not in good)


def test_a_folder_is_searched_for_audio_files(run, songs):
    code, out, err = run(songs["album"], "--format", "json")
    assert code == 0, err
    assert [s["source"] for s in json.loads(out)["songs"]] == [str(songs["album"] / "track.wav")]


def test_a_folder_without_audio_is_an_error(run, songs, tmp_path):
    code, out, err = run(tmp_path, songs["wavs"][0], "--format", "json")
    assert code == 1 and f"error: {tmp_path}: folder holds no audio files" in err
    assert len(json.loads(out)["songs"]) == 1


def test_python_api_raises_naming_the_file_or_keeps_going(model, songs):
    with pytest.raises(AudioError, match="notes.txt"):
        model.predict([songs["wavs"][0], songs["text"]])
    results = model.predict([songs["text"], songs["wavs"][0]], on_error="keep")
    assert not results[0].ok and "notes.txt" in results[0].error
    assert results[1].ok and set(results[1].gems) == set(model.emotions)


@pytest.mark.slow
def test_module_command_on_a_synthesised_wav(songs, tmp_path):
    """The acceptance check as a user runs it: a fresh process, the shipped model, one WAV."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "semgru_keras.predict", str(songs["wavs"][0])], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    line = lines[next(i for i, text in enumerate(lines) if text.startswith("---")) + 1]  # first row of the table
    values = [float(v) for v in line.split()[1:10]]
    assert len(values) == 9 and all(0 <= v <= 1 for v in values)
    assert any(q in line for q in ("happy", "angry", "sad", "relaxed"))
