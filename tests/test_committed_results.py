"""The Emotify numbers in the READMEs are the numbers in the committed results files.

``results/emotify/README.md`` holds the per-emotion table and the experiments; the top-level
``README.md`` holds the headline (the three systems' mean r beside the paper's).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from semgru_keras.report import PUBLISHED_TABLE_I
from semgru_keras.results import CVResults

ROOT = Path(__file__).resolve().parents[1]
EMOTIFY = ROOT / "results" / "emotify"
README = (ROOT / "README.md").read_text(encoding="utf-8")
EMOTIFY_README = (EMOTIFY / "README.md").read_text(encoding="utf-8") if (EMOTIFY / "README.md").is_file() else ""
SYSTEMS = {"semgru": "Semantic Embedding GRU + SVR", "standard_gru": "Standard GRU",
           "handcrafted_combined": "MIRtoolbox features + SVR [17]"}  # ours → the paper's Table I column

pytestmark = pytest.mark.skipif(not (EMOTIFY / "results.json").is_file(), reason="no committed Emotify results")


def _section(text: str, heading: str) -> str:
    """The lines under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    lines = text.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("#") and len(lines[i].split(" ")[0]) <= len(level)), len(lines))
    return "\n".join(lines[start + 1:end])


def test_table_one_means_in_emotify_readme_come_from_results_json():
    results = CVResults.load(EMOTIFY / "results.json")
    assert results.n_folds == 10 and len(results.y_true) == 400
    assert results.config["epochs"] == 100 and results.config["batch_size"] == 100
    for system in SYSTEMS:
        assert f"**{results.score(system):.3f}**" in EMOTIFY_README, system
    per_emotion = results.per_target("semgru")
    for name, r in zip(results.target_names, per_emotion):
        row = next(line for line in EMOTIFY_README.splitlines() if line.startswith(f"| {name.replace('_', ' ')} |"))
        assert row.split("|")[2].strip().startswith(f"{r:.2f} "), (name, row)


def test_experiment_rows_in_emotify_readme_come_from_their_files():
    # the experiments ran with the earlier features; they are paired with the protocol run of that time
    base = CVResults.load(EMOTIFY / "archive" / "file-rate-features" / "results.json")
    for path in sorted((EMOTIFY / "experiments").glob("*.json")):
        res = CVResults.load(path)
        system = "standard_gru" if "standard_gru" in res.predictions else "semgru"
        row = next(line for line in EMOTIFY_README.splitlines() if line.startswith(f"| `{path.stem}` |"))
        assert f"| {res.score(system):.3f} [" in row, (path.stem, row)
        delta = (res.fold_scores(system) - base.fold_scores(system)).mean()
        assert f"{delta:+.3f}".replace("-", "−") in row, (path.stem, row)


def test_neighbours_paragraph_comes_from_neighbours_json():
    record = json.loads((EMOTIFY / "neighbours.json").read_text())
    text = _section(EMOTIFY_README, "## Songs that feel alike")
    assert f"each of the {record['held_out_songs']} held-out songs to its {record['k']} nearest" in text
    assert f"similarity of {record['mean_annotation_cosine_of_neighbours']:.2f} to the query's, against " \
           f"{record['mean_annotation_cosine_of_random_songs']:.2f}" in text.replace("\n", " ")
    assert f"win for {record['queries_whose_neighbours_beat_random']:.0%} ".replace("%", " %") in text
    assert f"{record['same_genre_share_of_neighbours']:.0%} ".replace("%", " %") in text
    assert f"against {record['genre_share_by_chance']:.0%} ".replace("%", " %") in text


def test_readme_headline_comes_from_results_json():
    """Every decimal number in the top README's Table I section is one of ours (mean r, interval)
    or the paper's mean for the same system, in that system's row, or a setting of the run."""
    results = CVResults.load(EMOTIFY / "results.json")
    section = _section(README, "## Table I on real Emotify data")
    assert "results/emotify/README.md" in section
    c = results.config
    flat = " ".join(section.split())
    assert f"({c['n_folds']} folds, {c['epochs']} epochs," in flat and f"all {len(results.y_true)} Emotify songs" in flat
    assert f"N(0, {c['init_stddev']}) weights" in section
    checked = {f"{c['init_stddev']}"}
    for system, column in SYSTEMS.items():
        low, high = results.ci(system)
        ours = f"**{results.score(system):.3f}** [{low:.2f}, {high:.2f}]"
        paper = f"{PUBLISHED_TABLE_I.loc['average', column]:.2f}"
        row = next((line for line in section.splitlines() if ours in line), None)
        assert row is not None, (system, ours)
        assert row.rstrip(" |").rsplit("|", 1)[1].strip().strip("*") == paper, (system, row)
        checked |= {f"{results.score(system):.3f}", f"{low:.2f}", f"{high:.2f}", paper}
    numbers = set(re.findall(r"\d+\.\d+", section))
    assert numbers <= checked, f"numbers in the README's Table I section not from a results file: {numbers - checked}"


def test_run_record_names_the_command_and_machine():
    record = json.loads((EMOTIFY / "run.json").read_text())
    assert record["command"].startswith("python -m semgru_keras.run --dataset emotify")
    assert record["mode"] == "full" and record["machine"]["cores"] >= 1
    minutes, seconds = divmod(round(record.get("wall_seconds_with_startup", record["total_seconds"])), 60)
    assert f"It ran in **{minutes} min {seconds} s on {record['machine']['cores']} CPU cores**" in EMOTIFY_README


def test_standard_gru_account_comes_from_its_files():
    """The standard-GRU hypotheses table in results/emotify/README.md (issue 10) is its JSON files'."""
    from semgru_keras.metrics import bootstrap_ci, mean_pearson

    base = CVResults.load(EMOTIFY / "results.json")
    y = np.asarray(base.y_true, dtype=np.float64)
    folds = [np.flatnonzero(base.folds == f) for f in range(base.n_folds)]
    reference = None
    for name in ("paper", "epochs_300", "epsilon_1e-10", "minmax_targets", "keras_init"):
        record = json.loads((EMOTIFY / "standard_gru" / f"{name}.json").read_text())
        assert record["folds"] == base.folds.tolist(), name  # the run's folds
        pred = np.asarray(record["whole"], dtype=np.float64)
        scores = np.array([mean_pearson(y[i], pred[i]) for i in folds])
        if name == "paper":  # the protocol's standard GRU, repeated bit for bit
            np.testing.assert_array_equal(pred.astype(np.float32),
                                          np.asarray(base.predictions["standard_gru"], dtype=np.float32))
            reference = scores
        low, high = bootstrap_ci(mean_pearson, y, pred, n_boot=1000, seed=0, folds=base.folds)
        spread = np.nanmean(np.std(pred, axis=0) / np.std(y, axis=0))
        loss = np.mean([curve[-1] / m for curve, m in zip(record["loss"], record["mean_predictor_mse"])])
        row = next(line for line in EMOTIFY_README.splitlines() if line.startswith(f"| `{name}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == f"{scores.mean():.3f} [{low:.2f}, {high:.2f}]", (name, cells[2])
        if name != "paper":
            diff = scores - reference
            assert cells[3] == (f"{diff.mean():+.3f}".replace("-", "−") + f" ({int((diff > 0).sum())}/10)"), (name, cells[3])
        assert cells[4] == f"{spread:.3f}" and cells[5] == f"{loss:.3f}", (name, cells[4:])
