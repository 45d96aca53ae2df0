"""The speed numbers in the READMEs are the numbers in the committed benchmark results file.

``benchmarks/README.md`` holds the tables (``python -m benchmarks.report`` of the file it names);
the top-level ``README.md`` a short summary of them.
"""

import json
import re
from pathlib import Path

import pytest

from benchmarks.report import render
from benchmarks.spec import PAPER_SECONDS_PER_EPOCH

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BENCH_README = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
NAMED = re.search(r"`python -m benchmarks\.report (benchmarks/results/[^`\s]+\.json)`", BENCH_README)

pytestmark = pytest.mark.skipif(NAMED is None or not (ROOT / NAMED.group(1)).is_file(),
                                reason="benchmarks/README.md names no committed results file")


def _results() -> dict:
    return json.loads((ROOT / NAMED.group(1)).read_text())


def test_benchmark_tables_are_the_report_of_the_committed_file():
    results = _results()
    lines = [line for line in render(results).splitlines() if line.strip()]
    # the machine line quotes the command as recorded; the README quotes it as typed (with its '')
    machine = lines.pop(0)
    assert machine.split(" Command: ")[0] in BENCH_README
    missing = [line for line in lines if line not in BENCH_README.splitlines()]
    assert not missing, missing


def test_readme_speed_summary_comes_from_the_committed_file():
    results = _results()
    best = results["training"]["variants"]["jax"]
    assert best["label"] == "Keras/jax, reset_after=False"
    s = best["median_s_per_epoch"]
    summary = " ".join(README.split("## Performance", 1)[1].split("\n## ", 1)[0].split())
    assert f"{results['machine']['usable_cores']}-core CPU machine" in summary
    assert f"takes {s:.3f} s (Keras/JAX), {PAPER_SECONDS_PER_EPOCH / s:.1f}× faster" in summary
    assert f"paper's {PAPER_SECONDS_PER_EPOCH:.1f} s" in summary
    assert f"{best['ratio_to_twin']:.2f}× a hand-written PyTorch twin" in summary
    assert "benchmarks/README.md" in summary


def test_readme_demo_time_comes_from_the_committed_file():
    results = _results()
    rows = results["endtoend"]["rows"]
    cold = {r["dataset"]: r["wall_s"] for r in rows if r["mode"] == "quick" and r["run"] == "cold-cache"}
    text = " ".join(README.split("## Two commands", 1)[1].split("\n## ", 1)[0].split())
    assert (f"`make demo` runs both built-in datasets in {cold['synthetic-gems']:.0f} s + "
            f"{cold['synthetic-quadrants']:.0f} s on {results['machine']['usable_cores']} CPU cores") in text


def test_protocol_section_is_the_committed_protocol_record():
    path = ROOT / "benchmarks" / "results" / "2026-11-26-vm-protocol-emotify.json"
    record = json.loads(path.read_text())
    section = BENCH_README.split("## The whole protocol", 1)[1]
    assert f"| {record['sequential_protocol_s']:.1f} s |" in section
    assert f"| {record['parallel_protocol_s']:.1f} s |" in section
    assert f"| {record['speedup']:.2f}× |" in section
    identical = [s for s, v in record["systems"].items() if v["identical"]]
    assert {"semgru", "standard_gru"} <= set(identical)
    worst = max(v["max_abs_difference"] for v in record["systems"].values())
    assert f"at most {worst:.0e}".replace("e-04", "e-4") in section
    minutes, seconds = divmod(round(record["parallel_protocol_s"]), 60)
    assert f"({minutes} min {seconds} s)" in section
    # the top README's one-line summary
    assert (f"takes {round(record['sequential_protocol_s'] / 60)} min with the folds in sequence and "
            f"{round(record['parallel_protocol_s'] / 60)} min with `-j 2`") in " ".join(README.split())
