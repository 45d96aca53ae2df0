"""Stored notebooks as JupyterLab and the runner read them; the jax path never imports TensorFlow.

Clean (no outputs), canonical nbformat JSON (what JupyterLab writes, so opening a notebook does not mark
it modified), one `parameters` cell with the runner's parameters and backend, test markers as cell tags,
checks as asserts, one import style (`import semgru_keras as sk`), and a solutions notebook for every lesson.
"""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from semgru_keras.run import NOTEBOOKS, notebook_parameters

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SOLUTIONS = NOTEBOOK_DIR / "solutions"
ALL = [NOTEBOOK_DIR / n for n in NOTEBOOKS] + sorted(SOLUTIONS.glob("*.ipynb"))


def test_runner_knows_every_notebook():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_notebook_is_stored_clean_and_canonical(path):
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert text == nbformat.writes(nb) + "\n", f"{path.name} is not stored as nbformat writes it"
    assert nb.metadata["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    assert {"codemirror_mode", "file_extension", "mimetype", "name", "pygments_lexer"} <= set(nb.metadata["language_info"])
    assert all(c.get("id") for c in nb.cells), f"{path.name}: cells without ids"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} is stored with outputs"
    assert not [c.id for c in code if "NBVAL" in c.source], "test markers belong in cell tags, not comments"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert code[0] is tagged[0], "the parameters come first"
    assert 'backend = "jax"' in tagged[0].source  # the runner's default
    # the backend is set before anything imports Keras
    first_import = next(i for i, c in enumerate(code) if re.search(r"^(import keras|import semgru_keras)", c.source, re.M))
    assert any('os.environ["KERAS_BACKEND"] = backend' in c.source for c in code[:first_import])
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_one_import_style(path):
    """`import semgru_keras as sk` once; the package's modules and names are spelled `sk.plots.save`, `sk.run.settings`."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    imports = re.findall(r"^\s*(?:import|from)\s+semgru_keras\b.*$", code, re.M)
    assert [line.strip() for line in imports] == ["import semgru_keras as sk"], imports


RUNNER_PARAMETERS = ["dataset", "data_root", "mode", "seed", "epochs", "n_folds", "output_dir", "backend"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_lessons_take_the_runner_parameters(name):
    """The runner's parameters first, in its order; a notebook's own ones (05's n_jobs, 06's audio_path) after."""
    names = notebook_parameters(NOTEBOOK_DIR / name)
    assert names[:len(RUNNER_PARAMETERS)] == RUNNER_PARAMETERS
    assert len(set(names)) == len(names), f"{name}: a parameter assigned twice"
    source = (NOTEBOOK_DIR / name).read_text(encoding="utf-8")
    assert "shared/data" not in source, "a development-only path in a notebook"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_exercise_has_a_solution(name):
    lesson = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    last = lesson.cells[-1].source
    exercises = re.findall(r"^(\d+)\. ", last.split("**Exercises**")[1], re.M)
    solution_path = SOLUTIONS / name.replace(".ipynb", "_solutions.ipynb")
    assert f"solutions/{solution_path.name}" in last, "the lesson links its solutions"
    solutions = nbformat.read(solution_path, as_version=4)
    headings = [c.source for c in solutions.cells if c.cell_type == "markdown" and c.source.startswith("## Exercise")]
    assert [h.split("·")[0].split()[-1] for h in headings] == exercises
    asserts = [c for c in solutions.cells if c.cell_type == "code" and "assert " in c.source]
    assert len(asserts) >= len(exercises), "every solution checks what it shows"


def test_the_jax_path_never_imports_tensorflow():
    """Seeding, training (with progress), saving and the runner leave TensorFlow unimported on JAX:
    its import prints absl/oneDNN/CUDA lines into every notebook."""
    code = """
import os, sys, tempfile
os.environ["KERAS_BACKEND"] = "jax"
import semgru_keras.run
assert "keras" not in sys.modules, "the runner imports Keras"
import numpy as np, keras, semgru_keras as sk
sk.training.set_random_seed(3)
seqs = [np.random.default_rng(i).random((60, 160)).astype("float32") for i in range(4)]
model = sk.build_feature_model(units=(4, 2), seed=0)
sk.train_model(model, seqs, np.random.default_rng(0).random((4, 3)), epochs=1, batch_size=4, crop_length=50, progress=True)
sk.training.save_model(model, os.path.join(tempfile.mkdtemp(), "m.keras"))
print("tensorflow" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
    for banner in ("absl", "oneDNN", "cuda drivers", "TqdmWarning"):
        assert banner not in out.stderr


def test_seeding_matches_keras():
    """`set_random_seed` draws what `keras.utils.set_random_seed` draws (same backend)."""
    import keras
    import numpy as np

    from semgru_keras.training import set_random_seed

    set_random_seed(11)
    ours = keras.ops.convert_to_numpy(keras.random.uniform((5,))), np.random.rand(3)
    keras.utils.set_random_seed(11)
    theirs = keras.ops.convert_to_numpy(keras.random.uniform((5,))), np.random.rand(3)
    assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
    with pytest.raises(ValueError, match="seed must be an integer"):
        set_random_seed(1.5)



@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_papermill_reads_every_parameter(path):
    """papermill parses each parameter line (its help and type); a line it cannot parse is skipped
    with a warning ('Unable to parse line ...') and drops out of `papermill --help-notebook`."""
    from papermill.inspection import inspect_notebook

    from semgru_keras.run import notebook_parameters

    assert list(inspect_notebook(str(path))) == notebook_parameters(path)
