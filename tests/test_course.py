"""notebooks/COURSE.md: every time it gives comes from a committed record; every notebook has its
objectives, prerequisites and place in the 90-minute plan."""

import json
import re
from pathlib import Path

import pytest

from semgru_keras.run import NOTEBOOKS

REPO = Path(__file__).resolve().parents[1]
COURSE = REPO / "notebooks" / "COURSE.md"
BENCHMARK = REPO / "benchmarks" / "results" / "2026-11-25-vm.json"
GRADING = REPO / "grading" / "timings.json"


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def seconds(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def expected_rows() -> list[str]:
    """The rows of COURSE.md's table of measured times, rendered from the records its footnotes name."""
    runs = {(r["dataset"], r["mode"], r["run"]): r for r in read(BENCHMARK)["endtoend"]["rows"]}
    quick, full = runs[("synthetic-gems", "quick", "cold-cache")], runs[("synthetic-gems", "full", "warm-cache")]
    emotify, fourq = read(REPO / "results" / "emotify" / "run.json"), read(REPO / "results" / "4q" / "run.json")
    grading = read(GRADING)
    rows = []
    for notebook in NOTEBOOKS:
        name = notebook.removesuffix(".ipynb")
        g = grading["notebooks"][name]
        cells = [seconds(run["cells"]["notebooks"].get(notebook, {}).get("cells_s")) for run in (quick, full)]
        cells += [seconds(run["notebook_seconds"].get(notebook)) for run in (emotify, fourq)]
        cells += [f"{g['solution_seconds']:.0f} / {g['solution_cpu_seconds']:.0f}",
                  f"{g['student_seconds']:.0f} / {g['student_cpu_seconds']:.0f}"]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    total = [seconds(quick["wall_s"]), seconds(full["wall_s"]), seconds(emotify["total_seconds"]),
             seconds(fourq["total_seconds"]), f"{grading['wall_seconds']:.0f} / {grading['cpu_seconds']:.0f}"]
    rows.append("| **all, wall clock** | " + " | ".join(f"**{t}**" for t in total) + " | |")
    return rows


def test_the_table_of_times_is_the_records():
    text = COURSE.read_text(encoding="utf-8")
    table = text.split("## Measured times", 1)[1].split("\n## ", 1)[0]
    body = [line for line in table.splitlines() if line.startswith("| `") or line.startswith("| **all")]
    assert body == expected_rows()


def test_the_grading_record_says_how_it_was_measured():
    record = read(GRADING)
    assert record["problems"] == [] and record["command"] == "python -m grading check"
    text = COURSE.read_text(encoding="utf-8")
    for field in ("load_average_before", "load_average_after"):
        assert record[field].split()[0] in text, f"COURSE.md should quote the record's {field}"
    assert record["date"] in text and str(record["machine"]["cores"]) + "-core" in text
    for name, n in record["notebooks"].items():
        assert n["solution_score"] == n["possible"] > 0 and n["student_score"] == 0, name


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_has_objectives_prerequisites_and_a_place_in_the_plan(notebook):
    text = COURSE.read_text(encoding="utf-8")
    name = notebook.removesuffix(".ipynb")
    section = text.split(f"### `{name}`", 1)
    assert len(section) == 2, f"COURSE.md has no section for {name}"
    body = section[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    assert "Before:" in body and "After it, participants can" in body
    plan = text.split("## 90 minutes in class", 1)[1].split("\n## ", 1)[0]
    homework = text.split("## Homework", 1)[1].split("\n## ", 1)[0]
    in_class = re.search(rf"^\| [0-9–]+ \| `{name}` \|", plan, re.M)
    assert in_class or re.search(rf"^- `{name}`", homework, re.M), f"{name} is neither in the 90-minute plan nor homework"
