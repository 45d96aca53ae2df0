"""The grading route: student notebooks and autograders from the worked solutions, grading with Otter.

The source is ``notebooks/solutions/NN_*_solutions.ipynb``: each is an Otter Assign master notebook
(raw cells ``# BEGIN QUESTION`` … ``# END QUESTION`` around every exercise, ``# SOLUTION`` markers in
the code, public and hidden test cells). Nothing generated is committed: :func:`build` runs
``otter assign`` on every master and writes, under ``out`` (default ``runs/grading/``, git-ignored)::

    student/NN_name_exercises.ipynb      what students get: answer cells, public checks
    autograder/NN_name.zip               Otter's autograder (all tests, hidden ones included)
    autograder/NN_name_exercises.ipynb   the worked solution as Otter sees it

:func:`grade` grades notebooks as ``otter run`` does (Otter's Python API, no Docker): each submission names its
assignment in its metadata (Otter writes it), which picks the autograder. :func:`check` is what CI
runs: the worked solutions must get every point and the untouched student notebooks none.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import otter.api
import otter.assign

__all__ = ["REPO", "SOLUTIONS", "DEFAULT_OUT", "Assignment", "Grade", "GradingError", "masters", "build",
           "find_submissions", "grade", "write_grades", "check", "cpu_seconds"]

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "notebooks" / "solutions"
DEFAULT_OUT = REPO / "runs" / "grading"

STUDENT_INTRO = """\
The exercises at the end of the lesson notebook `{lesson}`, with a cell for each answer.

* Replace every `...` in a code cell with your code. Keep the names the cell assigns (the checks read
  them) and the lines it gives you.
* Replace _Type your answer here, replacing this text._ with your answer in words.
* `grader.check("ex1")` (the cell under each answer) runs the public checks of exercise 1; grading
  runs hidden checks too. Run the notebook from the top ("Run All") before you hand it in: grading
  does the same in a fresh kernel.

The exercises use the package's small synthetic sets, so they need no data."""


class GradingError(RuntimeError):
    """A master notebook, a submission or an Otter run that cannot be used, with what to do."""


@dataclass(frozen=True)
class Assignment:
    """The files :func:`build` makes for one lesson (``name`` such as ``"01_features"``)."""

    name: str
    student: Path
    autograder: Path
    solution: Path


@dataclass
class Grade:
    """One graded notebook: points per autograded question (hidden tests included)."""

    submission: Path
    assignment: str
    questions: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def score(self) -> float:
        return float(sum(self.questions.values()))

    @property
    def total(self) -> float:
        return float(sum(self.possible.values()))


def masters(folder: Path = SOLUTIONS) -> list[Path]:
    """The Otter Assign master notebooks, one per lesson, in lesson order."""
    found = sorted(Path(folder).glob("[0-9][0-9]_*_solutions.ipynb"))
    if not found:
        raise GradingError(f"no NN_*_solutions.ipynb in {folder}")
    return found


@contextlib.contextmanager
def _kernel_environment():
    """Kernels that Otter starts import this checkout's package (``PYTHONPATH``) and stay quiet;
    the environment is restored afterwards (``otter run`` also prepends to ``PATH``)."""
    saved = dict(os.environ)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [saved.get("PYTHONPATH")])])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children: the kernels and whatever
    they ran. Unlike wall time it hardly depends on what else the machine is doing."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _student_version(path: Path, name: str) -> None:
    """Give the student notebook its own title and instructions (the master's speak of solutions)."""
    nb = nbformat.read(path, as_version=4)
    title = next((c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# Solutions · ")), None)
    if title is None:
        raise GradingError(f"{path.name}: no markdown cell starting '# Solutions · ' to turn into the exercises' title")
    heading = title.source.splitlines()[0].replace("# Solutions · ", "# Exercises · ", 1)
    title.source = heading + "\n\n" + STUDENT_INTRO.format(lesson=f"{name}.ipynb")
    nbformat.write(nb, path)


def build(out: Path = DEFAULT_OUT, sources: Sequence[Path] | None = None) -> list[Assignment]:
    """Run ``otter assign`` on every master; write student notebooks and autograders under ``out``."""
    out = Path(out)
    built = []
    for master in sources or masters():
        name = master.name.removesuffix("_solutions.ipynb")
        with tempfile.TemporaryDirectory(prefix="semgru_assign_") as tmp:
            # the master's file name becomes the student notebook's, and Otter's init cell names it
            src = Path(tmp) / f"{name}_exercises.ipynb"
            shutil.copy(master, src)
            dist = Path(tmp) / "dist"
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    otter.assign.main(str(src), str(dist), no_pdfs=True, no_run_tests=True)
            except Exception as error:  # Otter raises several types for a malformed master
                raise GradingError(f"otter assign on {master.name}: {error}") from error
            zips = sorted((dist / "autograder").glob("*.zip"))
            if len(zips) != 1:
                raise GradingError(f"otter assign on {master.name} made {len(zips)} autograder zips, expected one")
            student = nbformat.read(dist / "student" / src.name, as_version=4)
            assigned = student.metadata.get("otter", {}).get("assignment_name")
            if assigned != name:
                raise GradingError(f"{master.name}: its ASSIGNMENT CONFIG cell says name: {assigned!r}; "
                                   f"it must be {name!r} (the file name without _solutions.ipynb)")
            assignment = Assignment(name, out / "student" / src.name, out / "autograder" / f"{name}.zip",
                                    out / "autograder" / src.name)
            for path in (assignment.student, assignment.autograder):
                path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(dist / "student" / src.name, assignment.student)
            shutil.copy(zips[0], assignment.autograder)
            shutil.copy(dist / "autograder" / src.name, assignment.solution)
            _student_version(assignment.student, name)
        built.append(assignment)
    return built


def find_submissions(paths: Iterable[Path]) -> list[Path]:
    """Notebooks named directly or found (recursively) in folders; checkpoints skipped."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise GradingError(f"{path}: neither a notebook (.ipynb) nor a folder")
    if not found:
        raise GradingError("no notebooks to grade in " + ", ".join(map(str, paths)))
    return found


def _assignment_name(submission: Path) -> str:
    try:
        nb = nbformat.read(submission, as_version=4)
    except Exception as error:  # nbformat raises several types for a damaged file
        raise GradingError(f"{submission}: not a readable notebook ({error})") from error
    name = nb.metadata.get("otter", {}).get("assignment_name")
    if not name:
        raise GradingError(f"{submission}: no Otter assignment name in its metadata; grade notebooks made by "
                           "`make student` (runs/grading/student/), not the lessons or the solutions masters")
    return name


def grade(submissions: Iterable[Path], out: Path = DEFAULT_OUT, *, debug: bool = False) -> list[Grade]:
    """Grade notebooks with ``otter run`` (all tests, hidden ones included) against ``out/autograder``.

    ``debug=True`` stops at the first cell that raises (Otter's ``--debug``); by default a cell that
    raises costs only the points its checks then miss, as for a student.
    """
    grades = []
    for submission in map(Path, submissions):
        name = _assignment_name(submission)
        autograder = Path(out) / "autograder" / f"{name}.zip"
        if not autograder.is_file():
            raise GradingError(f"{submission}: no autograder {autograder} for assignment {name!r}; run `make student`")
        started, cpu = time.perf_counter(), cpu_seconds()
        try:
            with _kernel_environment():
                results = otter.api.grade_submission(str(submission.resolve()), str(autograder.resolve()),
                                                     quiet=True, debug=debug)
        except Exception as error:  # with debug=True, the error of the first cell that raised
            raise GradingError(f"otter run on {submission}: {type(error).__name__}: {error}") from error
        if results.has_catastrophic_failure():
            raise GradingError(f"otter run on {submission} could not grade it: {results.catastrophic_error}")
        scored = {name: results.get_result(name) for name in results.test_files}
        grades.append(Grade(submission, name, {q: float(t.score) for q, t in scored.items()},
                            {q: float(t.possible) for q, t in scored.items()},
                            round(time.perf_counter() - started, 1), round(cpu_seconds() - cpu, 1)))
    return grades


def write_grades(grades: Sequence[Grade], path: Path) -> Path:
    """One row per notebook: assignment, points, possible points, seconds, points per question."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "assignment", "score", "possible", "seconds", "questions"])
        for g in grades:
            detail = "; ".join(f"{q} {g.questions[q]:g}/{g.possible[q]:g}" for q in g.possible)
            writer.writerow([g.submission, g.assignment, f"{g.score:g}", f"{g.total:g}", f"{g.seconds:.1f}", detail])
    return path


def check(out: Path = DEFAULT_OUT, assignments: Sequence[Assignment] | None = None) -> dict:
    """Grade every worked solution and every untouched student notebook (built first unless given).

    Returns a record (JSON-ready) with each notebook's points and seconds and the list of
    ``problems``: a solution short of full marks, or a student notebook with any point.
    """
    assignments = list(assignments or build(out))
    solutions = grade([a.solution for a in assignments], out, debug=True)  # a solution cell that raises is a bug
    students = grade([a.student for a in assignments], out)
    problems = [f"{g.assignment}: the worked solution scored {g.score:g} of {g.total:g}"
                for g in solutions if g.total == 0 or g.score != g.total]
    problems += [f"{g.assignment}: the untouched student notebook scored {g.score:g} of {g.total:g}"
                 for g in students if g.score != 0]
    notebooks = {}
    for a, s, u in zip(assignments, solutions, students):
        notebooks[a.name] = {"possible": s.total, "solution_score": s.score, "student_score": u.score,
                             "solution_seconds": s.seconds, "student_seconds": u.seconds,
                             "solution_cpu_seconds": s.cpu_seconds, "student_cpu_seconds": u.cpu_seconds,
                             "questions": {q: s.possible[q] for q in s.possible}}
    return {"notebooks": notebooks, "problems": problems}
