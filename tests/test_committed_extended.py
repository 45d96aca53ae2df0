"""The README's extended-recipe section is the committed tables (issue 24).

Every row of the section's table is what ``experiments.extended.readme_rows`` makes from
``results/<dataset>/extended.csv``, and every decimal number in the section is in one of those rows.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
HEADING = "## Beyond the paper: the extended recipe"
DATASETS = [d for d in ("emotify", "4q") if (ROOT / "results" / d / "extended.csv").is_file()]

pytestmark = pytest.mark.skipif(not DATASETS, reason="no committed extended-recipe tables")


def _section() -> str:
    lines = README.splitlines()
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start + 1:end])


def test_readme_rows_are_the_committed_tables():
    from experiments.extended import readme_rows

    section = _section()
    table = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    expected = [row for d in DATASETS for row in readme_rows(d)]
    assert table == expected
    numbers = set(re.findall(r"[+-]?\d+\.\d+", section))
    in_rows = set(re.findall(r"[+-]?\d+\.\d+", "\n".join(expected)))
    assert numbers <= in_rows, f"numbers in the section not from a results table: {numbers - in_rows}"


def test_partial_folds_belong_to_variants_not_yet_saved():
    """A variant's partial folds are removed when its results file is written (an interrupted run
    leaves them for the next session to resume)."""
    for d in DATASETS:
        partial = ROOT / "results" / d / "extended" / "partial"
        for folder in partial.glob("*/") if partial.is_dir() else []:
            assert not (partial.parent / f"{folder.name}.json").is_file(), folder
