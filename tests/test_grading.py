"""The grading route (grading/): student notebooks and autograders made by Otter from the worked
solutions; the solutions get every point, untouched student notebooks none.

Everything is generated into a temporary folder (nothing generated is committed)."""

import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from grading.route import GradingError, build, check, grade, masters
from semgru_keras.run import NOTEBOOKS

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "notebooks"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("grading")
    return out, {a.name: a for a in build(out)}


def exercises(lesson: str) -> list[str]:
    """The exercise numbers listed at the end of a lesson notebook."""
    last = nbformat.read(LESSONS / f"{lesson}.ipynb", as_version=4).cells[-1].source
    return re.findall(r"^(\d+)\. ", last.split("**Exercises**")[1], re.M)


def solution_lines(master: nbformat.NotebookNode) -> list[str]:
    """Code lines Otter must strip: `... # SOLUTION` lines and lines between BEGIN/END SOLUTION comments."""
    lines, inside = [], False
    for cell in master.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker.startswith("# BEGIN SOLUTION"):
                inside = True
            elif marker == "# END SOLUTION":
                inside = False
            elif inside or "# SOLUTION" in line:
                lines.append(line.split("# SOLUTION")[0].split("=", 1)[-1].strip())
    return [line for line in lines if len(line) > 12]  # short fragments (a bracket, `h`) say nothing


def hidden_tests(master: nbformat.NotebookNode) -> list[str]:
    return [c.source.split("# END TEST CONFIG", 1)[1].strip() for c in master.cells
            if c.cell_type == "code" and "hidden: true" in c.source]


def test_one_master_per_lesson_and_one_assignment_per_master(built):
    out, assignments = built
    assert [m.name for m in masters()] == [n.replace(".ipynb", "_solutions.ipynb") for n in NOTEBOOKS]
    assert sorted(assignments) == sorted(n.removesuffix(".ipynb") for n in NOTEBOOKS)
    for a in assignments.values():
        assert a.student.is_file() and a.autograder.is_file() and a.solution.is_file()
        assert a.student.parent == out / "student" and a.student.name == f"{a.name}_exercises.ipynb"


@pytest.mark.parametrize("lesson", [n.removesuffix(".ipynb") for n in NOTEBOOKS])
def test_every_exercise_is_a_graded_question_with_hidden_checks(built, lesson):
    _, assignments = built
    a = assignments[lesson]
    with zipfile.ZipFile(a.autograder) as z:
        tests = {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("tests/") and n.endswith(".py")}
    assert sorted(tests) == [f"ex{n}" for n in exercises(lesson)]
    for name, text in tests.items():
        assert "'hidden': True" in text and "'hidden': False" in text, f"{lesson} {name}: a public and a hidden check"
    student = nbformat.read(a.student, as_version=4)
    assert student.metadata["otter"]["assignment_name"] == lesson
    public = student.metadata["otter"]["tests"]
    assert sorted(public) == sorted(tests)
    assert not any(case["hidden"] for t in public.values() for s in t["suites"] for case in s["cases"])


@pytest.mark.parametrize("lesson", [n.removesuffix(".ipynb") for n in NOTEBOOKS])
def test_student_notebooks_hold_no_solution(built, lesson):
    _, assignments = built
    a = assignments[lesson]
    master = nbformat.read(REPO / "notebooks" / "solutions" / f"{lesson}_solutions.ipynb", as_version=4)
    text = a.student.read_text(encoding="utf-8")
    student = nbformat.reads(text, as_version=4)
    leaked = [line for line in solution_lines(master) if line in text]
    assert not leaked, f"solution code in the student notebook: {leaked[:3]}"
    assert not [t for t in hidden_tests(master) if t in text], "a hidden check in the student notebook"
    assert "**Answer.**" not in text and "# Solutions ·" not in text
    assert student.cells[1].source.startswith("# Exercises · ")
    answers = [c for c in student.cells if "otter_answer_cell" in c.metadata.get("tags", [])]
    n = len(exercises(lesson))
    assert sum(c.cell_type == "code" and "..." in c.source for c in answers) == n
    assert sum(c.cell_type == "markdown" and c.source.startswith("_Type your answer here") for c in answers) == n
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


def test_grading_names_a_notebook_it_cannot_grade(built, tmp_path):
    out, _ = built
    with pytest.raises(GradingError, match=r"01_features\.ipynb: no Otter assignment name.*make student"):
        grade([LESSONS / "01_features.ipynb"], out)
    with pytest.raises(GradingError, match="no autograder"):
        grade([built[1]["01_features"].student], tmp_path)


@pytest.mark.slow
def test_solutions_get_every_point_and_untouched_student_notebooks_none(built):
    """What CI checks: each worked solution runs without error (Otter's debug mode) and passes every
    check, hidden ones included; each student notebook as generated scores nothing."""
    out, assignments = built
    record = check(out, list(assignments.values()))
    print(json.dumps(record["notebooks"], indent=1))
    assert record["problems"] == []
    for lesson, n in record["notebooks"].items():
        assert n["possible"] == 2 * len(exercises(lesson)), lesson
        assert n["solution_score"] == n["possible"], lesson
        assert n["student_score"] == 0, lesson
