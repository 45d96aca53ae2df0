"""The papermill runner: settings, checks before any kernel starts, publishing, failures that name notebook and cell."""

import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from semgru_keras import run as runner
from semgru_keras.run import (MODES, NOTEBOOKS, NotebookRunError, RunError, _value, check_run, default_backend,
                              main, notebook_parameters, run_notebooks, settings, slug)

REPO = Path(__file__).resolve().parents[1]
PARAMS = "dataset = 'x'\nmode = 'quick'\noutput_dir = None\ndata_root = None\nbackend = 'jax'\nseed = 0\nepochs = None\nn_jobs = 1\nscheduler = None"


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


@pytest.mark.parametrize("name", ["..", ".", "../..", "a/..", "/", "..."])
def test_a_dataset_name_never_leaves_the_runs_folder(name, tmp_path):
    """`--dataset ..` used to write runs/../ = the repository root."""
    folder = slug(name)
    assert folder not in ("", ".", "..") and "/" not in folder
    runs = tmp_path / "runs"
    assert (runs / folder).resolve().parent == runs.resolve()


def _notebook(path, *sources, tag_first=True):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if tag_first:
        nb.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(nb, path)


@pytest.fixture
def nbdir(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "a.ipynb", PARAMS, "print(dataset)")
    return folder


def test_the_notebooks_parameters_are_read_from_the_tagged_cell():
    names = notebook_parameters(REPO / "notebooks" / NOTEBOOKS[0])
    for key in ("dataset", "data_root", "mode", "seed", "epochs", "n_folds", "output_dir", "backend"):
        assert key in names


def test_unknown_parameter_is_an_error_listing_the_known_ones(nbdir, no_kernels, capsys):
    argv = ["--dataset", "synthetic-gems", "--notebook-dir", str(nbdir), "--notebooks", "a.ipynb"]
    assert main([*argv, "-p", "epoch", "5"]) == 2
    err = capsys.readouterr().err
    assert "-p epoch: unknown parameter" in err and "seed, epochs" in err
    with pytest.raises(RunError, match="-p epoch: unknown parameter; the notebooks know: seed, epochs"):
        run_notebooks("synthetic-gems", parameters={"epoch": 5}, notebooks=("a.ipynb",), notebook_dir=nbdir,
                      runs_dir=nbdir.parent / "runs")
    assert not (nbdir.parent / "runs").exists()


@pytest.mark.parametrize("parameters, message", [
    ({"epochs": "five"}, r"-p epochs 'five': expected an integer"),
    ({"epochs": 0}, r"-p epochs 0: expected an integer"),
    ({"seed": 1.5}, r"-p seed 1.5: expected an integer"),
    ({"dataset": "emotify"}, r"-p dataset: set by the runner, use --dataset"),
    ({"backend": "torch"}, r"-p backend: set by the runner, use --backend"),
    ({"n_jobs": 0}, r"-p n_jobs 0: expected a positive number of worker processes or -1"),
    ({"n_jobs": -2}, r"-p n_jobs -2: expected a positive number"),
    ({"n_jobs": "all"}, r"-p n_jobs 'all': expected a positive number"),
    ({"scheduler": "host"}, r"-p scheduler 'host': expected a Dask scheduler address"),
])
def test_bad_parameter_values_are_errors(parameters, message, nbdir, no_kernels):
    with pytest.raises(RunError, match=message):
        check_run("synthetic-gems", None, parameters, ("a.ipynb",), nbdir)


@pytest.mark.parametrize("dataset, data_root, message", [
    ("emotfy", None, r"unknown dataset 'emotfy': expected one of synthetic-gems, .*or an existing path"),
    ("..", None, r"not a recognised data layout"),
    ("emotify", None, r"--dataset emotify needs --data-root PATH"),
    ("emotify", "/no/such/folder", r"--data-root /no/such/folder: no such file or folder"),
    ("quadrants", None, r"--dataset quadrants needs --data-root PATH"),
    ("4q", None, r"--dataset 4q needs --data-root PATH"),
    ("synthetic-gems", "/tmp", r"synthetic-gems is synthesised by the package and takes no --data-root"),
])
def test_dataset_and_data_root_are_checked_before_any_kernel(dataset, data_root, message, nbdir, no_kernels,
                                                             monkeypatch, capsys):
    monkeypatch.delenv("SEMGRU_EMOTIFY_ROOT", raising=False)
    with pytest.raises(RunError, match=message):
        check_run(dataset, data_root, {}, ("a.ipynb",), nbdir)
    argv = ["--dataset", dataset, "--notebook-dir", str(nbdir), "--notebooks", "a.ipynb"]
    assert main(argv + (["--data-root", data_root] if data_root else [])) == 2
    assert "error:" in capsys.readouterr().err


def test_a_data_root_that_is_not_the_dataset_is_named(tmp_path, nbdir, no_kernels):
    (tmp_path / "songs").mkdir()
    with pytest.raises(RunError, match=rf"--data-root {tmp_path / 'songs'}: not a emotify folder: expected a folder with data.csv"):
        check_run("emotify", str(tmp_path / "songs"), {}, ("a.ipynb",), nbdir)


def test_a_4q_root_needs_the_authors_metadata_csv(tmp_path, nbdir, no_kernels):
    for q in ("Q1", "Q2", "Q3", "Q4"):
        (tmp_path / q).mkdir()
    with pytest.raises(RunError, match=r"not a 4q folder: expected the 4Q distribution: Q1/ ... Q4/ and "
                                       r"panda_dataset_taffc_metadata.csv"):
        check_run("4q", str(tmp_path), {}, ("a.ipynb",), nbdir)
    (tmp_path / "panda_dataset_taffc_metadata.csv").write_text("Song,Quadrant,Artist\n")
    assert "n_jobs" in check_run("4q", str(tmp_path), {"n_jobs": 2}, ("a.ipynb",), nbdir)


def test_jobs_option_becomes_the_n_jobs_parameter(nbdir, no_kernels, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(runner, "run_notebooks", lambda dataset, **kw: seen.update(kw["parameters"]))
    assert main(["--dataset", "synthetic-gems", "--notebook-dir", str(nbdir), "--notebooks", "a.ipynb", "-j", "2"]) == 0
    assert seen == {"n_jobs": 2}
    assert main(["--dataset", "synthetic-gems", "--notebook-dir", str(nbdir), "--notebooks", "a.ipynb", "-j", "4",
                 "--dask-scheduler", "tcp://10.0.0.1:8786"]) == 0
    assert seen == {"n_jobs": 4, "scheduler": "tcp://10.0.0.1:8786"}
    with pytest.raises(SystemExit):
        main(["--dataset", "synthetic-gems", "--notebook-dir", str(nbdir), "--notebooks", "a.ipynb", "-j", "0"])
    assert "--jobs 0: expected a positive number" in capsys.readouterr().err


def test_run_record_takes_the_protocol_stage_times(tmp_path):
    results = tmp_path / "results.json"
    # as CVResults.save writes them: one time per fold (per stage), one for extraction
    results.write_text(json.dumps({"stage_seconds": {"semgru": {"train": [12.345, 10.0], "svm": [1.0, 0.5]},
                                                     "extraction": {"input_sequences": [3.21]}}}))
    assert runner._stage_seconds(results, since=0.0) == {"semgru": {"train": 22.3, "svm": 1.5},
                                                         "extraction": {"input_sequences": 3.2}}
    # a results file older than the run is not this run's
    assert runner._stage_seconds(results, since=results.stat().st_mtime + 60) is None
    assert runner._stage_seconds(tmp_path / "none.json", since=0.0) is None


def test_missing_notebook_is_named_before_any_kernel(nbdir, no_kernels):
    with pytest.raises(RunError, match=r"zz\.ipynb: notebook not found \(pass --notebook-dir"):
        check_run("synthetic-gems", None, {}, ("a.ipynb", "zz.ipynb"), nbdir)


def test_publishing_needs_a_complete_run(capsys):
    with pytest.raises(SystemExit):
        main(["--dataset", "synthetic-gems", "--publish", "--notebooks", NOTEBOOKS[0]])
    assert "complete run" in capsys.readouterr().err


def _png(width=1, height=1) -> bytes:
    """A minimal valid PNG (one grey pixel)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")


def _maker(files: dict) -> str:
    """A notebook cell that writes ``files`` (name -> bytes) into the run folder."""
    return ("import pathlib\nout = pathlib.Path(output_dir); (out / 'figures').mkdir(exist_ok=True)\n"
            f"for name, data in {files!r}.items():\n    (out / name).write_bytes(data)")


@pytest.mark.slow
def test_a_published_set_replaces_the_previous_one_as_a_whole(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    kwargs = dict(runs_dir=tmp_path / "runs", figures_dir=tmp_path / "figs", results_dir=tmp_path / "res",
                  notebook_dir=nbdir, notebooks=("m.ipynb",), progress=False)
    _notebook(nbdir / "m.ipynb", PARAMS, _maker({"figures/a.png": _png(), "figures/b.png": _png(2),
                                                 "summary.md": b"| x |\n", "confusion_svm.csv": b"a,b\n"}))
    run_notebooks("synthetic-gems", **kwargs)
    assert sorted(p.name for p in (tmp_path / "figs" / "synthetic-gems").iterdir()) == ["a.png", "b.png"]
    # a second run that makes fewer files, with other parameters
    _notebook(nbdir / "m.ipynb", PARAMS, _maker({"figures/a.png": _png(3), "summary.md": b"| y |\n"}))
    run_dir = run_notebooks("synthetic-gems", parameters={"seed": 7}, **kwargs)
    figures = tmp_path / "figs" / "synthetic-gems"
    results = tmp_path / "res" / "synthetic-gems"
    assert sorted(p.name for p in figures.iterdir()) == ["a.png"]  # b.png of the first run is gone
    assert sorted(p.name for p in results.iterdir()) == ["run.json", "summary.md"]  # so is its confusion table
    record = json.loads((results / "run.json").read_text())
    assert record["parameters"]["seed"] == 7 and record["notebooks"] == ["m.ipynb"]
    # every file says which run made it: PNG text chunk, Markdown comment, checksums in run.json
    assert f"run {record['run']}".encode() in (figures / "a.png").read_bytes()
    assert (figures / "a.png").read_bytes().startswith(b"\x89PNG")
    assert f"run {record['run']}" in (results / "summary.md").read_text()
    import hashlib
    assert record["published"] == {
        "summary.md": hashlib.sha256((results / "summary.md").read_bytes()).hexdigest(),
        "figures/a.png": hashlib.sha256((figures / "a.png").read_bytes()).hexdigest(),
    }
    assert set(json.loads((run_dir / "run.json").read_text())["files"]) == {"figures/a.png", "summary.md"}


@pytest.mark.slow
def test_without_publishing_a_run_writes_only_under_runs(tmp_path, monkeypatch):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    _notebook(nbdir / "m.ipynb", PARAMS, _maker({"figures/a.png": _png(), "summary.md": b"x"}))
    monkeypatch.setattr(runner, "project_root", lambda: tmp_path / "project")
    run_dir = run_notebooks("synthetic-gems", notebook_dir=nbdir, notebooks=("m.ipynb",), progress=False)
    assert run_dir == (tmp_path / "project" / "runs" / "synthetic-gems").resolve()
    assert sorted(str(p.relative_to(tmp_path / "project")) for p in (tmp_path / "project").rglob("*") if p.is_file()) == [
        "runs/synthetic-gems/figures/a.png", "runs/synthetic-gems/m.ipynb", "runs/synthetic-gems/run.json", "runs/synthetic-gems/summary.md"]


@pytest.mark.slow
def test_runner_executes_in_order_and_names_the_failing_cell(tmp_path):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    _notebook(nbdir / "a.ipynb", PARAMS,
              "import os, pathlib\nfig = pathlib.Path(output_dir, 'figures'); fig.mkdir(exist_ok=True)\n"
              f"(fig / 'a.png').write_bytes({_png()!r})\n"
              "pathlib.Path(output_dir, 'summary.md').write_text(os.environ['KERAS_BACKEND'] + ' ' + backend)")
    _notebook(nbdir / "b.ipynb", PARAMS, "print('fine')", "raise ValueError('broken on purpose')")
    _notebook(nbdir / "c.ipynb", PARAMS)
    kwargs = dict(runs_dir=tmp_path / "runs", figures_dir=tmp_path / "figs", results_dir=tmp_path / "res",
                  notebook_dir=nbdir, progress=False)
    before = os.environ.get("KERAS_BACKEND")
    run_dir = run_notebooks("synthetic-gems", notebooks=("a.ipynb",), backend="torch", **kwargs)
    assert os.environ.get("KERAS_BACKEND") == before  # restored after the run
    assert (run_dir / "a.ipynb").is_file()
    assert (tmp_path / "figs" / "synthetic-gems" / "a.png").read_bytes().startswith(b"\x89PNG")
    # the kernel saw the chosen backend, as environment and as the notebook's parameter
    assert (tmp_path / "res" / "synthetic-gems" / "summary.md").read_text().startswith("torch torch")
    record = json.loads((tmp_path / "res" / "synthetic-gems" / "run.json").read_text())
    assert record["keras_backend"] == "torch" and record["machine"]["cores"] >= 1
    assert set(record["notebook_seconds"]) == {"a.ipynb"}
    with pytest.raises(NotebookRunError, match=r"b\.ipynb failed in cell \[4\] \(ValueError: broken on purpose\).*raise ValueError"):
        run_notebooks("synthetic-gems", notebooks=("a.ipynb", "b.ipynb", "c.ipynb"), **kwargs)
    assert not (run_dir / "c.ipynb").exists()
    # a failed run publishes nothing: the previous set stays as it was
    assert json.loads((tmp_path / "res" / "synthetic-gems" / "run.json").read_text()) == record
    assert (tmp_path / "figs" / "synthetic-gems" / "a.png").is_file()


def test_default_backend_prefers_the_environment_then_jax(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert default_backend() == "torch"
    monkeypatch.delenv("KERAS_BACKEND")
    assert default_backend() in ("jax", "tensorflow")


@pytest.mark.slow
def test_the_wheel_ships_the_notebooks(tmp_path):
    """After `pip install .` the runner reads the notebooks installed inside the package."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("semgru_keras-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for nb in NOTEBOOKS:
        assert f"semgru_keras/notebooks/{nb}" in names
    assert not any(name.startswith("semgru_keras/notebooks/solutions/") for name in names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    import tomllib

    from packaging.specifiers import SpecifierSet

    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["requires-python"]
    shipped = next(line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Python:"))
    assert SpecifierSet(shipped) == SpecifierSet(declared)  # the wheel says what pyproject.toml says
    assert {"3.11", "3.12", "3.13"} <= {v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if v in SpecifierSet(declared)}
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names)


def test_without_the_notebooks_extra_the_runner_names_it(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "papermill" else real(name, *a))
    assert main(["--dataset", "synthetic-gems", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the notebook runner needs the package's `notebooks` extra (missing here: papermill)")
    assert "pip install 'semgru-keras[notebooks]'" in err and "Traceback" not in err
