"""Table II on real audio: the numbers in the 4Q write-ups are those of the committed results file,
and the committed run kept every artist in one fold."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from semgru_keras.results import CI_HIGH, CI_LOW, CVResults

ROOT = Path(__file__).resolve().parents[1]
FOURQ = ROOT / "results" / "4q"
SYSTEMS = ("semgru", "standard_gru", "handcrafted_combined")

pytestmark = pytest.mark.skipif(not (FOURQ / "results.json").is_file(), reason="no committed 4Q results")


@pytest.fixture(scope="module")
def results():
    return CVResults.load(FOURQ / "results.json")


@pytest.fixture(scope="module")
def summary(results):
    return results.summary()


def _fmt(value, low, high):
    return f"{value:.3f} [{low:.2f}, {high:.2f}]"


def test_the_run_is_the_papers_protocol_on_all_900_clips(results):
    assert results.task == "classification" and len(results.y_true) == 900 and results.n_folds == 10
    assert sorted(results.classes) == ["angry", "happy", "relaxed", "sad"]
    assert all(np.sum(results.y_true == c) == 225 for c in results.classes)
    assert results.config["epochs"] == 100 and results.config["batch_size"] == 100
    assert results.config["crop_length"] == 100 and list(results.config["units"]) == [100, 50]
    record = json.loads((FOURQ / "run.json").read_text())
    assert record["command"].startswith("python -m semgru_keras.run --dataset 4q") and "--full" in record["command"]
    assert record["mode"] == "full"


def test_write_up_numbers_come_from_results_json(results, summary):
    text = (FOURQ / "README.md").read_text(encoding="utf-8")
    for system in results.systems:
        row = summary.iloc[results.systems.index(system)]
        acc = _fmt(row["accuracy"], row["accuracy" + CI_LOW], row["accuracy" + CI_HIGH])
        f1 = _fmt(row["macro-F1"], row["macro-F1" + CI_LOW], row["macro-F1" + CI_HIGH])
        assert acc in text, (system, acc)
        assert f1 in text, (system, f1)
    # the paired per-fold comparisons quoted in the reading
    for a, b in (("semgru", "handcrafted_combined"), ("semgru", "handcrafted_timbre"), ("semgru", "standard_gru")):
        diff = results.fold_scores(a) - results.fold_scores(b)
        quoted = f"{diff.mean():+.3f}".replace("-", "−") + f" ({int((diff > 0).sum())}/10 folds)"
        assert quoted in text, (a, b, quoted)
    # the confusion matrices shown are the results file's
    for system in SYSTEMS:
        for true_class, counts in zip(results.classes, results.confusion(system)):
            assert f"| {true_class} | " + " | ".join(str(int(c)) for c in counts) + " |" in text, (system, true_class)


def test_headline_in_the_readme_comes_from_results_json(results):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for system in SYSTEMS:
        assert f"**{results.score(system):.3f}**" in readme, system


def test_no_artist_in_two_folds_of_the_committed_run(results):
    """The artist of every clip from the authors' metadata: each artist's clips lie in one fold."""
    root = Path(os.environ.get("SEMGRU_4Q_ROOT", ROOT.parent / "shared" / "data" / "4q"))
    metadata = root / "panda_dataset_taffc_metadata.csv"
    if not metadata.is_file():
        pytest.skip("the 4Q metadata is not present here")
    with open(metadata, newline="", encoding="utf-8") as f:
        artist = {row["Song"]: row["Artist"].strip() for row in csv.DictReader(f)}
    folds: dict[str, set] = {}
    for song, fold in zip(results.ids, results.folds):
        if artist[str(song)]:
            folds.setdefault(artist[str(song)], set()).add(int(fold))
    assert len(folds) > 600
    shared = {a: f for a, f in folds.items() if len(f) > 1}
    assert not shared, list(shared.items())[:5]


def test_time_section_comes_from_the_run_record():
    record = json.loads((FOURQ / "run.json").read_text())
    text = " ".join((FOURQ / "README.md").read_text(encoding="utf-8").split("## Time", 1)[1].split())
    total = divmod(round(record["total_seconds"]), 60)
    protocol = divmod(round(record["notebook_seconds"]["05_evaluation.ipynb"]), 60)
    assert f"took {total[0]} min {total[1]} s with `-j 2`" in text and "-j 2" in record["command"]
    assert f"{protocol[0]} min {protocol[1]} s;" in text
    assert f"{round(record['stage_seconds']['extraction']['handcrafted'])} s of it" in text
    train = [record["stage_seconds"][s]["train"] for s in ("semgru", "standard_gru")]
    assert f"({round(train[0])} s and {round(train[1])} s)" in text
