"""Command line of the grading route (run from the repository root)::

    python -m grading build [--out runs/grading]            # student notebooks + autograders (make student)
    python -m grading grade PATH... [--out runs/grading]    # grade notebooks or folders of them (make grade)
    python -m grading check [--out DIR] [--record FILE]     # solutions full marks, untouched students none
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from semgru_keras.run import machine_record

from .route import DEFAULT_OUT, GradingError, build, check, cpu_seconds, find_submissions, grade, write_grades


def _load() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "student notebooks and autograders from notebooks/solutions/"),
                       ("grade", "grade student notebooks (files or folders) with otter run"),
                       ("check", "build, then grade the worked solutions and the untouched student notebooks")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
        if name == "grade":
            sub.add_argument("paths", nargs="+", type=Path, help="notebooks, or folders searched for *.ipynb")
            sub.add_argument("--csv", type=Path, help="where to write the grades (default: OUT/grades.csv)")
        if name == "check":
            sub.add_argument("--record", type=Path, help="also write the record (points, seconds, machine) as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for a in build(args.out):
                print(f"{a.name}: {a.student}  (autograder {a.autograder.name})")
            return 0
        if args.command == "grade":
            grades = grade(find_submissions(args.paths), args.out)
            path = write_grades(grades, args.csv or args.out / "grades.csv")
            for g in grades:
                print(f"{g.score:5g} / {g.total:<5g} {g.assignment:15s} {g.submission}")
            print(f"grades written to {path}")
            return 0
        load_before, started = _load(), time.perf_counter()
        cpu = cpu_seconds()
        record = check(args.out)
        used = cpu_seconds() - cpu
        record.update(command="python -m grading check", wall_seconds=round(time.perf_counter() - started, 1),
                      cpu_seconds=round(used, 1),
                      load_average_before=load_before, load_average_after=_load(), date=time.strftime("%Y-%m-%d"),
                      machine=machine_record())
        for name, n in record["notebooks"].items():
            print(f"{name:15s} solution {n['solution_score']:g}/{n['possible']:g} ({n['solution_seconds']:.0f} s, "
                  f"CPU {n['solution_cpu_seconds']:.0f} s), untouched student {n['student_score']:g}/{n['possible']:g} "
                  f"({n['student_seconds']:.0f} s, CPU {n['student_cpu_seconds']:.0f} s)")
        if args.record:
            args.record.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for problem in record["problems"]:
            print("PROBLEM:", problem, file=sys.stderr)
        return 1 if record["problems"] else 0
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
