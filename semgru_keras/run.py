"""Run the notebooks headlessly with papermill, one dataset at a time.

::

    python -m semgru_keras.run --dataset synthetic-gems              # quick demo settings
    python -m semgru_keras.run --dataset emotify --data-root PATH --full
    python -m semgru_keras.run --all-demo                             # what `make demo` runs
    python -m semgru_keras.run --dataset synthetic-quadrants -p epochs 5 -p seed 1

Notebooks ``01``–``06`` run in order; executed copies go to ``runs/<dataset>/`` (git-ignored),
the figures they save are copied to ``figures/<dataset>/`` and the result tables
(``results.json``, ``comparison``/``summary`` ``.csv``/``.md``) to ``results/<dataset>/``, with
``run.json`` recording the command, Keras backend, machine and wall time of every notebook.
The first failing notebook stops the run with the notebook and cell named.

Backend: the notebooks' kernels inherit ``KERAS_BACKEND``. Unless it is set (or ``--backend``
is given), the runner picks JAX where it is installed, the fastest backend for the paper's
model on a CPU (``benchmarks/``); otherwise Keras' default.

The notebooks call :func:`settings` in their first code cell to turn the papermill
parameters into concrete values (``mode="quick"`` or ``"full"``).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["NOTEBOOKS", "DEMO_DATASETS", "MODES", "RunSettings", "settings", "run_notebooks", "default_backend",
           "machine_record", "package_versions", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = (
    "01_features.ipynb",
    "02_model.ipynb",
    "03_loss.ipynb",
    "04_training.ipynb",
    "05_evaluation.ipynb",
    "06_your_music.ipynb",
)
DEMO_DATASETS = ("synthetic-gems", "synthetic-quadrants")

#: Settings per mode. "full" is the paper's protocol (Section V-B); "quick" is the
#: demo/test setting that runs on a laptop CPU in minutes.
MODES: dict[str, dict] = {
    "quick": {"epochs": 30, "n_folds": 3},
    "full": {"epochs": 100, "n_folds": 10},
}


#: What a run leaves in ``results/<dataset>/`` besides ``run.json``.
RESULT_FILES = ("results.json", "comparison.csv", "comparison.md", "summary.csv", "summary.md", "confusion_*.csv")


def default_backend() -> str:
    """``$KERAS_BACKEND`` if set, else ``"jax"`` where JAX is installed, else ``"tensorflow"``."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    return "jax" if importlib.util.find_spec("jax") is not None else "tensorflow"


class NotebookRunError(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


@dataclass(frozen=True)
class RunSettings:
    """Concrete settings of one notebook run (see :func:`settings`)."""

    dataset: str
    data_root: str | None
    mode: str
    seed: int
    epochs: int
    n_folds: int
    output_dir: Path
    figures_dir: Path

    def figure_path(self, name: str) -> Path:
        """Where a notebook saves figure ``name`` (PNG)."""
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        return self.figures_dir / f"{name}.png"

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def slug(dataset: str) -> str:
    """Folder-safe name of a dataset name or path."""
    name = Path(str(dataset)).name if ("/" in str(dataset) or "\\" in str(dataset)) else str(dataset)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "dataset"


def settings(
    dataset: str = "synthetic-gems",
    data_root: str | None = None,
    mode: str = "quick",
    seed: int = 0,
    epochs: int | None = None,
    n_folds: int | None = None,
    output_dir: str | None = None,
) -> RunSettings:
    """Resolve a notebook's papermill parameters into concrete settings.

    ``epochs`` and ``n_folds`` default to the values of ``mode`` (:data:`MODES`);
    ``output_dir`` defaults to ``runs/<dataset>`` in the repository. Figures are saved
    under ``<output_dir>/figures``; the runner copies them to ``figures/<dataset>/``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    preset = MODES[mode]
    out = Path(output_dir) if output_dir else REPO_ROOT / "runs" / slug(dataset)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    return RunSettings(
        dataset=str(dataset),
        data_root=None if data_root in (None, "") else str(data_root),
        mode=mode,
        seed=int(seed),
        epochs=int(epochs if epochs is not None else preset["epochs"]),
        n_folds=int(n_folds if n_folds is not None else preset["n_folds"]),
        output_dir=out,
        figures_dir=out / "figures",
    )


def run_notebooks(
    dataset: str,
    data_root: str | None = None,
    mode: str = "quick",
    parameters: dict | None = None,
    runs_dir: str | Path | None = None,
    figures_dir: str | Path | None = None,
    results_dir: str | Path | None = None,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    kernel_name: str = "python3",
    log_output: bool = False,
    notebook_dir: str | Path = NOTEBOOK_DIR,
    backend: str | None = None,
) -> Path:
    """Execute ``notebooks`` in order for one dataset; return the run folder.

    ``backend`` (default :func:`default_backend`) is exported as ``KERAS_BACKEND`` to the
    kernels. Figures are copied to ``figures_dir/<dataset>`` and result tables to
    ``results_dir/<dataset>`` (defaults: the repository's ``figures/`` and ``results/``).

    Raises
    ------
    NotebookRunError
        Naming the notebook and the failing cell; later notebooks are not run.
    """
    import papermill as pm

    name = slug(dataset)
    run_dir = (Path(runs_dir) if runs_dir else REPO_ROOT / "runs") / name
    run_dir.mkdir(parents=True, exist_ok=True)
    params = {"dataset": str(dataset), "data_root": data_root, "mode": mode, "output_dir": str(run_dir.resolve())}
    params.update(parameters or {})
    backend = backend or default_backend()
    record = {
        "command": " ".join(["python -m semgru_keras.run", *sys.argv[1:]]) if sys.argv[1:] else None,
        "dataset": str(dataset),
        "data_root": data_root,
        "mode": mode,
        "parameters": {k: v for k, v in params.items() if k not in ("output_dir",)},
        "keras_backend": backend,
        "machine": machine_record(),
        "versions": package_versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "notebook_seconds": {},
    }
    run_started = time.perf_counter()
    saved_env = {key: os.environ.get(key) for key in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["KERAS_BACKEND"] = backend  # papermill's kernels inherit the environment
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        for notebook in notebooks:
            source = Path(notebook_dir) / notebook
            if not source.is_file():
                raise NotebookRunError(f"{source}: notebook not found")
            target = run_dir / notebook
            started = time.perf_counter()
            print(f"[{name}] {notebook} ...", flush=True)
            try:
                pm.execute_notebook(
                    str(source),
                    str(target),
                    parameters=params,
                    kernel_name=kernel_name,
                    cwd=str(notebook_dir),
                    progress_bar=False,
                    log_output=log_output,
                )
            except pm.PapermillExecutionError as exc:
                first_line = next((line for line in str(exc.source).splitlines() if line.strip()), "")
                raise NotebookRunError(
                    f"{notebook} failed in cell [{exc.exec_count}] ({exc.ename}: {exc.evalue}); "
                    f"the cell starts with {first_line!r}; the executed copy with the traceback is {target}"
                ) from exc
            seconds = time.perf_counter() - started
            record["notebook_seconds"][notebook] = round(seconds, 1)
            print(f"[{name}] {notebook} done in {seconds:.1f} s", flush=True)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    record["total_seconds"] = round(time.perf_counter() - run_started, 1)
    produced = run_dir / "figures"
    if produced.is_dir():
        dest = (Path(figures_dir) if figures_dir else REPO_ROOT / "figures") / name
        dest.mkdir(parents=True, exist_ok=True)
        for png in sorted(produced.glob("*.png")):
            shutil.copy2(png, dest / png.name)
        print(f"[{name}] figures copied to {dest}", flush=True)
    tables = [p for pattern in RESULT_FILES for p in sorted(run_dir.glob(pattern))]
    if tables:
        dest = (Path(results_dir) if results_dir else REPO_ROOT / "results") / name
        dest.mkdir(parents=True, exist_ok=True)
        for path in tables:
            shutil.copy2(path, dest / path.name)
        (dest / "run.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
        print(f"[{name}] results copied to {dest}", flush=True)
    return run_dir


#: Libraries whose versions shape the numbers of a run.
VERSIONED = ("keras", "tensorflow", "jax", "torch", "scikit-learn", "librosa", "numpy")


def package_versions(names=VERSIONED) -> dict:
    """Installed versions of ``names`` (read from package metadata, nothing is imported)."""
    from importlib import metadata

    out = {}
    for dist in names:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine_record() -> dict:
    """CPU model, usable cores, memory (GiB), platform and Python version, for the record of a run
    (and of a benchmark: ``benchmarks/machine.py`` builds on it)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "memory_gib": memory, "platform": platform.platform(),
            "python": platform.python_version()}


def _value(text: str):
    """Parse a ``-p key value`` value as a Python literal where possible, else keep the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semgru_keras.run", description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", help="dataset name (synthetic-gems, synthetic-quadrants, emotify, quadrants) or path")
    which.add_argument("--all-demo", action="store_true", help=f"run every built-in dataset: {', '.join(DEMO_DATASETS)}")
    parser.add_argument("--data-root", help="folder of a real dataset (Emotify: the folder with data.csv)")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="mode", action="store_const", const="quick", help="demo settings (default)")
    speed.add_argument("--full", dest="mode", action="store_const", const="full", help="the paper's: 100 epochs, 10 folds")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="extra notebook parameter, e.g. -p epochs 5 (repeatable)")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), help="subset of notebooks to run, in order")
    parser.add_argument("--runs-dir", help="where executed notebooks go (default: runs/)")
    parser.add_argument("--figures-dir", help="where figures are copied (default: figures/)")
    parser.add_argument("--results-dir", help="where result tables are copied (default: results/)")
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"),
                        help="KERAS_BACKEND of the notebooks (default: $KERAS_BACKEND, else jax if installed)")
    args = parser.parse_args(argv)
    datasets = DEMO_DATASETS if args.all_demo else (args.dataset,)
    parameters = {key: _value(value) for key, value in args.parameter}
    started = time.perf_counter()
    for dataset in datasets:
        try:
            run_notebooks(
                dataset,
                data_root=args.data_root,
                mode=args.mode or "quick",
                parameters=parameters,
                runs_dir=args.runs_dir,
                figures_dir=args.figures_dir,
                results_dir=args.results_dir,
                notebooks=tuple(args.notebooks),
                backend=args.backend,
            )
        except NotebookRunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"all done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
