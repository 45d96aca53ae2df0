"""The papermill runner: settings, parameters, and failures that name notebook and cell."""

import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from semgru_keras.run import MODES, NotebookRunError, _value, default_backend, run_notebooks, settings, slug


def test_settings_follow_the_mode(tmp_path):
    quick = settings("synthetic-gems", output_dir=tmp_path / "q")
    full = settings("emotify", data_root="/data/emotify", mode="full", output_dir=tmp_path / "f")
    assert (quick.epochs, quick.n_folds) == (MODES["quick"]["epochs"], MODES["quick"]["n_folds"])
    assert (full.epochs, full.n_folds) == (100, 10)
    assert settings("synthetic-gems", epochs=3, output_dir=tmp_path).epochs == 3
    assert quick.figure_path("x").parent == tmp_path / "q" / "figures"
    with pytest.raises(ValueError, match="mode"):
        settings(mode="slow")


def test_slug_and_parameter_values():
    assert slug("synthetic-gems") == "synthetic-gems"
    assert slug("/data/my songs/4Q") == "4Q"
    assert _value("5") == 5 and _value("None") is None and _value("emotify") == "emotify"


def _notebook(path, *sources, tag_first=True):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if tag_first:
        nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)


@pytest.mark.slow
def test_runner_executes_in_order_and_names_the_failing_cell(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    _notebook(nbdir / "a.ipynb", "dataset = 'x'\nmode = 'quick'\noutput_dir = None\ndata_root = None",
              "import os, pathlib\nfig = pathlib.Path(output_dir, 'figures'); fig.mkdir(exist_ok=True)\n"
              "(fig / 'a.png').write_bytes(b'png')\n"
              "pathlib.Path(output_dir, 'summary.md').write_text(os.environ['KERAS_BACKEND'])")
    _notebook(nbdir / "b.ipynb", "dataset = 'x'\nmode = 'quick'\noutput_dir = None\ndata_root = None",
              "print('fine')", "raise ValueError('broken on purpose')")
    _notebook(nbdir / "c.ipynb", "x = 1")
    kwargs = dict(runs_dir=tmp_path / "runs", figures_dir=tmp_path / "figs", results_dir=tmp_path / "res",
                  notebook_dir=nbdir)
    before = os.environ.get("KERAS_BACKEND")
    run_dir = run_notebooks("demo", notebooks=("a.ipynb",), backend="torch", **kwargs)
    assert os.environ.get("KERAS_BACKEND") == before  # restored after the run
    assert (run_dir / "a.ipynb").is_file()
    assert (tmp_path / "figs" / "demo" / "a.png").read_bytes() == b"png"
    # the kernel saw the chosen backend; tables and a record of the run land in results/<dataset>
    assert (tmp_path / "res" / "demo" / "summary.md").read_text() == "torch"
    record = json.loads((tmp_path / "res" / "demo" / "run.json").read_text())
    assert record["keras_backend"] == "torch" and record["machine"]["cores"] >= 1
    assert set(record["notebook_seconds"]) == {"a.ipynb"}
    with pytest.raises(NotebookRunError, match=r"b\.ipynb failed in cell \[4\] \(ValueError: broken on purpose\).*raise ValueError"):
        run_notebooks("demo", notebooks=("a.ipynb", "b.ipynb", "c.ipynb"), **kwargs)
    assert not (run_dir / "c.ipynb").exists()


def test_default_backend_prefers_the_environment_then_jax(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert default_backend() == "torch"
    monkeypatch.delenv("KERAS_BACKEND")
    assert default_backend() in ("jax", "tensorflow")
