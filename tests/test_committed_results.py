"""The README's Emotify numbers are the numbers in the committed results files."""

import json
from pathlib import Path

import pytest

from semgru_keras.evaluation import CVResults

ROOT = Path(__file__).resolve().parents[1]
EMOTIFY = ROOT / "results" / "emotify"
README = (ROOT / "README.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.skipif(not (EMOTIFY / "results.json").is_file(), reason="no committed Emotify results")


def test_table_one_means_in_readme_come_from_results_json():
    results = CVResults.load(EMOTIFY / "results.json")
    assert results.n_folds == 10 and len(results.y_true) == 400
    assert results.config["epochs"] == 100 and results.config["batch_size"] == 100
    for system in ("semgru", "standard_gru", "handcrafted_combined"):
        assert f"**{results.score(system):.3f}**" in README, system
    per_emotion = results.per_target("semgru")
    for name, r in zip(results.target_names, per_emotion):
        row = next(line for line in README.splitlines() if line.startswith(f"| {name.replace('_', ' ')} |"))
        assert row.split("|")[2].strip().startswith(f"{r:.2f} "), (name, row)


def test_experiment_rows_in_readme_come_from_their_files():
    base = CVResults.load(EMOTIFY / "results.json")
    for path in sorted((EMOTIFY / "experiments").glob("*.json")):
        res = CVResults.load(path)
        system = "standard_gru" if "standard_gru" in res.predictions else "semgru"
        row = next(line for line in README.splitlines() if line.startswith(f"| `{path.stem}` |"))
        assert f"| {res.score(system):.3f} [" in row, (path.stem, row)
        delta = (res.fold_scores(system) - base.fold_scores(system)).mean()
        assert f"{delta:+.3f}".replace("-", "−") in row, (path.stem, row)


def test_run_record_names_the_command_and_machine():
    record = json.loads((EMOTIFY / "run.json").read_text())
    assert record["command"].startswith("python -m semgru_keras.run --dataset emotify")
    assert record["mode"] == "full" and record["machine"]["cores"] >= 1
