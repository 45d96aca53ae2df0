"""Run the notebooks headlessly with papermill, one dataset at a time.

::

    python -m semgru_keras.run --dataset synthetic-gems              # quick demo settings
    python -m semgru_keras.run --dataset emotify --data-root PATH --full --publish
    python -m semgru_keras.run --all-demo                             # what `make demo` runs
    python -m semgru_keras.run --dataset synthetic-quadrants -p epochs 5 -p seed 1

Notebooks ``01``–``06`` run in order. Everything a run makes stays under ``runs/<dataset>/``
(git-ignored): the executed notebooks, their figures (``figures/``), the result tables
(``results.json``, ``comparison``/``summary`` ``.csv``/``.md``) and ``run.json``, which records
the command, Keras backend, machine, wall time of every notebook and a SHA-256 of every file
the run made. ``--publish`` (``make figures``) then replaces the committed set in
``figures/<dataset>/`` and ``results/<dataset>/`` as a whole: files of an earlier run that this
run did not make are removed, and every figure and Markdown table names the run that made it.
Only a complete run (all notebooks) can be published.

Before any kernel starts, the dataset, its data root and every ``-p`` parameter name are
checked; an unknown parameter is an error that lists the known ones. The first failing
notebook stops the run with the notebook and cell named.

Publishing guards what it replaces (:func:`check_publish`): a destination that holds a
published set (``results/<dataset>/results.json``) takes only a run with the same settings
(mode and ``-p`` parameters; after the run, the protocol settings in ``results.json``) on the
same data (number of songs and a checksum of their ids and annotations,
:func:`semgru_keras.results.data_identity`). Anything else goes to a new destination
(``--results-dir`` and ``--figures-dir``). The new set is staged beside the old one and
swapped in with interrupts held back, so a destination holds a complete old or new set.

Interrupts stop the run: SIGINT (Ctrl-C) and SIGTERM end it within seconds with exit
status 130 and 143, after shutting down the notebook's kernel and the workers it started;
nothing is published. (The notebooks run in a helper thread, so nbclient's own signal
handlers, which only restart its kernel, never see the signal.)

Backend: the notebooks take it as a parameter (``backend``, default ``"jax"``) and set
``KERAS_BACKEND`` before Keras is imported. The runner passes ``--backend``, else the choice of
:func:`semgru_keras.backends.choose_backend` (``$KERAS_BACKEND``; else a backend that can use a
visible NVIDIA GPU; else JAX, the fastest for the paper's model on a CPU, see ``benchmarks/``)
and prints the reason. ``-j N`` runs the outer folds in N worker processes (notebook parameter
``n_jobs``), ``--dask-scheduler ADDRESS`` on a Dask cluster's workers (:mod:`semgru_keras.parallel`);
the numbers are those of a sequential run. ``run.json`` gives the wall time of
every notebook and of every protocol stage (``stage_seconds``).

Long runs resume: notebook 05 saves every finished outer fold in ``runs/<dataset>/folds/``
(:mod:`semgru_keras.checkpoints`), so the same command after an interruption reads those folds
and computes only the rest, with the numbers of an uninterrupted run; a changed setting, data or
fold code never reuses a fold. ``--fresh`` computes every fold again; ``--log FILE`` copies
everything the run prints (the notebooks' per-fold progress lines too) to ``FILE``, for runs in
the background (``nohup python -m semgru_keras.run ... --log run.log &``).

Installed (``pip install .``), the runner reads the notebooks shipped inside the package
(``semgru_keras/notebooks``) unless ``--notebook-dir`` says otherwise, and writes under
``./runs``. The notebooks call :func:`settings` in their first code cells to turn the
papermill parameters into concrete values (``mode="quick"`` or ``"full"``).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import struct
import sys
import threading
import time
import weakref
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from . import console, presets
from .data import slug
from .backends import choose_backend, default_backend

__all__ = ["NOTEBOOKS", "DEMO_DATASETS", "MODES", "RunSettings", "RunError", "NotebookRunError", "RunInterrupted",
           "settings", "run_notebooks", "default_backend", "notebook_dir", "notebook_parameters", "check_run",
           "check_notebook_tools", "check_publish", "machine_record", "package_versions", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = (
    "01_features.ipynb",
    "02_model.ipynb",
    "03_loss.ipynb",
    "04_training.ipynb",
    "05_evaluation.ipynb",
    "06_your_music.ipynb",
)
DEMO_DATASETS = ("synthetic-gems", "synthetic-quadrants")
SYNTHETIC = DEMO_DATASETS
#: Parameters the runner sets itself (from --dataset, --data-root, --quick/--full, --backend).
RUNNER_PARAMETERS = ("dataset", "data_root", "mode", "output_dir", "backend")

#: Settings per mode (epochs, n_folds), defined in :data:`semgru_keras.presets.MODES`: "full" is the
#: paper's protocol (Section V-B); "quick" is the demo/test setting that runs on a laptop CPU in minutes.
MODES = presets.MODES


#: What a run leaves in ``runs/<dataset>/`` as tables (published to ``results/<dataset>/``).
RESULT_FILES = ("results.json", "comparison.csv", "comparison.md", "summary.csv", "summary.md", "confusion_*.csv")


def _in_checkout() -> bool:
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "notebooks").is_dir()


def project_root() -> Path:
    """The source checkout the package runs from, else the current folder (an installed package)."""
    return REPO_ROOT if _in_checkout() else Path.cwd()


def notebook_dir() -> Path:
    """The notebooks: ``notebooks/`` of the checkout, else the copy installed with the package."""
    return REPO_ROOT / "notebooks" if _in_checkout() else Path(__file__).resolve().parent / "notebooks"


NOTEBOOK_DIR = notebook_dir()


class RunError(ValueError):
    """A run that cannot start: bad dataset, data root or parameter (found before any kernel starts)."""


class NotebookRunError(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM ended the run (``signum``); kernels and their workers are shut down."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


#: Runner parameters that change how a run goes, not what it computes: never compared by :func:`check_publish`.
HOW_PARAMETERS = ("dataset", "data_root", "output_dir", "backend", "n_jobs", "scheduler", "resume")
#: Protocol settings in ``results.json`` that do not change the numbers.
HOW_SETTINGS = ("n_jobs", "verbose")


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
    ``output_dir`` defaults to ``runs/<dataset>`` (of the checkout, or of the current folder
    for an installed package). Figures are saved under ``<output_dir>/figures``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    preset = MODES[mode]
    out = Path(output_dir) if output_dir else project_root() / "runs" / slug(dataset)
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


def notebook_parameters(path: str | Path) -> list[str]:
    """Names assigned in the cell tagged ``parameters`` of notebook ``path`` (in order)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        return []
    source = cells[0]["source"]
    tree = ast.parse(source if isinstance(source, str) else "".join(source))
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


#: What the runner needs beyond the package's own dependencies: the ``notebooks`` extra.
NOTEBOOK_TOOLS = ("papermill", "ipykernel", "nbformat")


def check_notebook_tools() -> None:
    """Raise :class:`RunError` naming the ``notebooks`` extra when papermill or the kernel is not installed."""
    import importlib.util

    missing = [m for m in NOTEBOOK_TOOLS if importlib.util.find_spec(m) is None]
    if missing:
        raise RunError(
            f"the notebook runner needs the package's `notebooks` extra (missing here: {', '.join(missing)}): "
            "pip install 'semgru-keras[notebooks]' (in a checkout: pip install -e '.[notebooks]')"
        )


def check_run(dataset: str, data_root: str | None, parameters: dict, notebooks=NOTEBOOKS,
              notebook_dir: str | Path | None = None) -> list[str]:
    """Check a run before any kernel starts; return the notebooks' parameter names.

    Raises :class:`RunError` for a missing notebook, an unknown dataset, a data root that is
    missing or not needed, a ``-p`` name no notebook knows (the message lists the known ones),
    a ``-p`` that should be a runner option, or a value of the wrong kind.
    """
    from .data import DATASETS
    from .data.emotify import is_emotify_root
    from .data.fourq import is_4q_root
    from .data.quadrants import is_quadrant_root

    check_notebook_tools()
    folder = Path(notebook_dir) if notebook_dir else NOTEBOOK_DIR
    known: list[str] = []
    for name in notebooks:
        path = folder / name
        if not path.is_file():
            raise RunError(f"{path}: notebook not found (pass --notebook-dir to point at the notebooks)")
        known += [k for k in notebook_parameters(path) if k not in known]

    name = str(dataset)
    root = None if data_root in (None, "") else Path(data_root).expanduser()
    if name in SYNTHETIC:
        if root is not None:
            raise RunError(f"{name} is synthesised by the package and takes no --data-root (got {data_root!r})")
    elif name in ("emotify", "4q", "quadrants"):
        if root is None and name == "emotify" and os.environ.get("SEMGRU_EMOTIFY_ROOT"):
            root = Path(os.environ["SEMGRU_EMOTIFY_ROOT"]).expanduser()
        if root is None:
            raise RunError(f"--dataset {name} needs --data-root PATH"
                           + (" (or $SEMGRU_EMOTIFY_ROOT)" if name == "emotify" else ""))
        if not root.exists():
            raise RunError(f"--data-root {root}: no such file or folder")
        ok = {"emotify": is_emotify_root, "4q": is_4q_root, "quadrants": is_quadrant_root}[name](root)
        if not ok:
            layout = {"emotify": "a folder with data.csv and emotifymusic/",
                      "4q": "the 4Q distribution: Q1/ ... Q4/ and panda_dataset_taffc_metadata.csv",
                      "quadrants": "a folder of class folders (happy/angry/sad/relaxed or Q1-Q4) or a CSV path,label"}[name]
            raise RunError(f"--data-root {root}: not a {name} folder: expected {layout}")
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise RunError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)} or an existing path")
        if root is not None:
            raise RunError(f"--dataset {name} is a path: give either a path or --data-root, not both")
        if not ((path.is_dir() and (is_emotify_root(path) or is_4q_root(path))) or is_quadrant_root(path)):
            raise RunError(f"--dataset {path}: not a recognised data layout: expected an Emotify folder "
                           "(data.csv + emotifymusic/), a folder of class folders or a CSV file path,label")

    for key, value in parameters.items():
        if key in RUNNER_PARAMETERS:
            flag = {"dataset": "--dataset", "data_root": "--data-root", "mode": "--quick/--full",
                    "output_dir": "--runs-dir", "backend": "--backend"}[key]
            raise RunError(f"-p {key}: set by the runner, use {flag} instead")
        if known and key not in known:
            settable = [k for k in known if k not in RUNNER_PARAMETERS]
            raise RunError(f"-p {key}: unknown parameter; the notebooks know: {', '.join(settable)}")
        if key == "seed" and (not isinstance(value, int) or isinstance(value, bool)):
            raise RunError(f"-p seed {value!r}: expected an integer")
        if key in ("epochs", "n_folds") and value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "epochs" else 2)):
            raise RunError(f"-p {key} {value!r}: expected an integer ≥ {1 if key == 'epochs' else 2} or None")
        if key == "scheduler" and value is not None and not (isinstance(value, str) and "://" in value):
            raise RunError(f"-p scheduler {value!r}: expected a Dask scheduler address such as tcp://host:8786")
        if key == "n_jobs" and (not isinstance(value, int) or isinstance(value, bool) or value == 0 or value < -1):
            raise RunError(f"-p n_jobs {value!r}: expected a positive number of worker processes or -1 (all cores)")
    return known


def _published(dest: Path) -> tuple[dict | None, dict | None]:
    """The ``run.json`` and ``results.json`` of a published set (``None`` where absent)."""
    def read(name):
        path = dest / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    return read("run.json"), read("results.json")


def _identity(results: dict) -> dict:
    """The identity of the data a ``results.json`` evaluated, computed from its song ids and targets
    (as its ``data`` records it; older records have no ``data``)."""
    from .results import CVResults

    return CVResults.from_dict(results).identity()


def _differences(ours: dict, theirs: dict, ignore=()) -> list[str]:
    keys = sorted((set(ours) | set(theirs)) - set(ignore))
    return [f"{k}: {ours.get(k)!r} here, {theirs.get(k)!r} published" for k in keys if ours.get(k) != theirs.get(k)]


def _refuse(dest: Path, why: str) -> RunError:
    return RunError(f"--publish would replace the set published in {dest} with {why}; publish to a new "
                    f"destination (--results-dir DIR --figures-dir DIR), or rerun with the published settings and data")


def check_publish(dataset: str, data_root: str | None, mode: str, parameters: dict,
                  results_dir: str | Path | None, figures_dir: str | Path | None = None) -> None:
    """Refuse, before any kernel starts, to publish over a set made with other settings or data.

    The destination ``results_dir/<dataset>`` is compared with this run: the mode and every
    ``-p`` parameter but those in :data:`HOW_PARAMETERS` against its ``run.json``, and the
    data set (loaded here) against the identity in its ``results.json``. A destination
    without ``results.json`` is new and takes any run. Figures published without tables
    (``figures_dir`` only) may only go to a folder without figures.

    Raises
    ------
    RunError
        Naming the destination and every difference.
    """
    name = slug(dataset)
    if results_dir is None:
        if figures_dir is not None and any((Path(figures_dir) / name).glob("*.png")):
            raise RunError(f"--figures-dir {figures_dir}: {Path(figures_dir) / name} holds published figures, and "
                           "figures without their tables cannot be checked: add --results-dir, or name a new folder")
        return
    dest = Path(results_dir) / name
    run, results = _published(dest)
    if results is None:
        return
    if run is not None:
        theirs = {"mode": run.get("mode"), **(run.get("parameters") or {})}
        ours = {**parameters, "mode": mode}
        diff = _differences(ours, theirs, ignore=HOW_PARAMETERS)
        if diff:
            raise _refuse(dest, "a run of other settings (" + "; ".join(diff) + ")")
    from .data import load_dataset
    from .results import data_identity

    try:
        ds = load_dataset(dataset, root=data_root)
    except Exception as exc:  # the run itself would fail the same way; name it now
        raise RunError(f"{dataset}: cannot load the data set to compare it with {dest}: {exc}") from exc
    diff = _differences(data_identity(ds.ids, ds.targets), _identity(results))
    if diff:
        raise _refuse(dest, "a run on other data (" + "; ".join(diff) + ")")


def _check_results(run_dir: Path, dest: Path) -> None:
    """After the run: its ``results.json`` against the published one (protocol settings, data identity)."""
    _, published = _published(dest)
    if published is None:
        return
    ours = run_dir / "results.json"
    if not ours.is_file():
        raise _refuse(dest, f"a run that made no results.json ({run_dir})")
    results = json.loads(ours.read_text(encoding="utf-8"))
    mine, theirs = results.get("config") or {}, published.get("config") or {}
    shared = set(mine) & set(theirs)  # a setting newer than the published record is not compared
    diff = _differences({k: mine[k] for k in shared}, {k: theirs[k] for k in shared}, ignore=HOW_SETTINGS)
    if diff:
        raise _refuse(dest, "results of other protocol settings (" + "; ".join(diff) + ")")
    diff = _differences(_identity(results), _identity(published))
    if diff:
        raise _refuse(dest, "results on other data (" + "; ".join(diff) + ")")


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
    notebook_dir: str | Path | None = None,
    backend: str | None = None,
    progress: bool = True,
) -> Path:
    """Execute ``notebooks`` in order for one dataset; return the run folder ``runs_dir/<dataset>``.

    Everything the run makes stays in the run folder, listed with checksums in its
    ``run.json``. With ``figures_dir`` and ``results_dir`` (``--publish``), the run's figures
    and tables then replace those in ``figures_dir/<dataset>`` and ``results_dir/<dataset>`` as
    a whole. ``backend`` (default :func:`default_backend`) goes to the notebooks as the
    ``backend`` parameter and as ``KERAS_BACKEND``.

    Raises
    ------
    RunError
        Before any kernel starts (see :func:`check_run`).
    NotebookRunError
        Naming the notebook and the failing cell; later notebooks are not run and nothing
        is published.
    """
    parameters = dict(parameters or {})
    folder = Path(notebook_dir) if notebook_dir else NOTEBOOK_DIR
    known = check_run(dataset, data_root, parameters, notebooks, folder)
    if mode not in MODES:
        raise RunError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    publish = figures_dir is not None or results_dir is not None
    if publish:
        check_publish(dataset, data_root, mode, parameters, results_dir, figures_dir)
    import papermill as pm

    name = slug(dataset)
    base = (Path(runs_dir) if runs_dir else project_root() / "runs").resolve()
    run_dir = (base / name).resolve()
    if run_dir.parent != base:  # slug() makes this impossible; a guard, not a hope
        raise RunError(f"{dataset!r}: the run folder {run_dir} would lie outside {base}")
    run_dir.mkdir(parents=True, exist_ok=True)
    if backend:
        why = "set by --backend"
    else:
        backend, why = choose_backend()
    params = {"dataset": str(dataset), "data_root": data_root, "mode": mode, "output_dir": str(run_dir)}
    if not known or "backend" in known:
        params["backend"] = backend
    params.update(parameters)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run_id = f"{name}-{time.strftime('%Y%m%dT%H%M%S')}"
    record = {
        "run": run_id,
        "command": " ".join(["python -m semgru_keras.run", *sys.argv[1:]]) if sys.argv[1:] else None,
        "dataset": str(dataset),
        "data_root": data_root,
        "mode": mode,
        "notebooks": list(notebooks),
        "parameters": {k: v for k, v in params.items() if k not in ("output_dir",)},
        "keras_backend": backend,
        "backend_reason": why,
        "machine": machine_record(),
        "versions": package_versions(),
        "started": started_at,
        "notebook_seconds": {},
    }
    figures = run_dir / "figures"
    if publish:  # a published set holds only what this run made
        _remove(_run_files(run_dir))
    where = f"executed notebooks, figures ({figures.name}/) and tables -> {run_dir}"
    print(f"[{name}] Keras backend: {backend} ({why})", flush=True)
    print(f"[{name}] {len(notebooks)} notebooks on {backend}, {mode} mode; {where}", flush=True)
    run_started, wall_started = time.perf_counter(), time.time()
    saved_env = {key: os.environ.get(key) for key in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["KERAS_BACKEND"] = backend  # papermill's kernels inherit the environment
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        for i, notebook in enumerate(notebooks, 1):
            source = folder / notebook
            target = run_dir / notebook
            started = time.perf_counter()
            print(f"[{name}] ({i}/{len(notebooks)}) {notebook} ...", flush=True)
            try:
                declared = notebook_parameters(source)  # a notebook gets only the parameters it declares
                _in_helper_thread(
                    pm.execute_notebook,
                    str(source),
                    str(target),
                    parameters={k: v for k, v in params.items() if not declared or k in declared},
                    kernel_name=kernel_name,
                    cwd=str(folder),
                    progress_bar=progress,
                    log_output=log_output,
                    kernel_manager_class=_ipc_kernel_manager(),
                )
            except pm.PapermillExecutionError as exc:
                first_line = next((line for line in str(exc.source).splitlines() if line.strip()), "")
                raise NotebookRunError(
                    f"{notebook} failed in cell [{exc.exec_count}] ({exc.ename}: {exc.evalue}); "
                    f"the cell starts with {first_line!r}; the executed copy with the traceback is {target}"
                ) from exc
            seconds = time.perf_counter() - started
            record["notebook_seconds"][notebook] = round(seconds, 1)
            print(f"[{name}] ({i}/{len(notebooks)}) {notebook} done in {seconds:.1f} s -> {target}", flush=True)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    record["total_seconds"] = round(time.perf_counter() - run_started, 1)
    stages = _stage_seconds(run_dir / "results.json", wall_started)
    if stages:
        record["stage_seconds"] = stages
    made = [p for p in _run_files(run_dir) if p.stat().st_mtime >= wall_started - 1.0]
    record["files"] = {str(p.relative_to(run_dir)): _sha256(p) for p in made}
    older = [str(p.relative_to(run_dir)) for p in _run_files(run_dir) if p not in made]
    if older:
        record["files_from_earlier_runs"] = older
    grouping = _grouping(run_dir / "results.json", wall_started)
    if grouping:
        record["grouping"] = grouping
        print(f"[{name}] {grouping}", flush=True)
    (run_dir / "run.json").write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"[{name}] {len(made)} figures and tables, listed in {run_dir / 'run.json'}", flush=True)
    if publish:
        _publish(run_dir, record, Path(figures_dir) if figures_dir else None,
                 Path(results_dir) if results_dir else None)
    return run_dir


def _stage_seconds(results_json: Path, since: float) -> dict | None:
    """Per-stage wall times of the protocol (``CVResults.stage_seconds``: extraction, each
    system's training, embedding, SVR/SVM search and prediction, the per-fold times summed over
    folds; report), read from the run's ``results.json`` if this run wrote it."""
    if not results_json.is_file() or results_json.stat().st_mtime < since - 1.0:
        return None
    stages = json.loads(results_json.read_text(encoding="utf-8")).get("stage_seconds")
    if not stages:
        return None
    return {system: {stage: round(float(sum(sec) if isinstance(sec, list) else sec), 1) for stage, sec in per.items()}
            for system, per in stages.items()}


def _grouping(results_json: Path, since: float) -> str | None:
    """The folds' grouping and the duplicate recordings found, in words, from this run's ``results.json``."""
    if not results_json.is_file() or results_json.stat().st_mtime < since - 1.0:
        return None
    from .results import grouping_line

    return grouping_line(json.loads(results_json.read_text(encoding="utf-8")).get("grouping") or {}) or None


_KERNELS: weakref.WeakSet = weakref.WeakSet()  # the kernel managers of this process's notebooks


def _ipc_kernel_manager():
    """A kernel manager that talks to its kernel over local IPC sockets (a TCP kernel without
    encryption prints a warning for every notebook), known to :func:`_shutdown_kernels`."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)
            _KERNELS.add(self)

    return IPCKernelManager


def _shutdown_kernels(grace: float = 3.0) -> None:
    """End every running kernel of this process and the workers it started: jupyter_client starts a
    kernel in a session of its own, so its process group holds the kernel and its joblib workers."""
    groups = []
    for km in list(_KERNELS):
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is None or process.poll() is not None:
            continue
        try:
            pgid = os.getpgid(process.pid)
        except OSError:
            continue
        groups.append((pgid, process) if pgid != os.getpgid(0) else (None, process))  # never our own group
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid, process in groups:
            with contextlib.suppress(OSError):
                os.killpg(pgid, sig) if pgid is not None else process.send_signal(sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(pgid, process) for pgid, process in groups):
            time.sleep(0.05)
        if not any(_group_alive(pgid, process) for pgid, process in groups):
            return


def _group_alive(pgid: int | None, process) -> bool:
    if process.poll() is None:
        return True
    if pgid is None:
        return False
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


def _in_helper_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in a helper thread while this (main) thread waits for it.

    Signal handlers run in the main thread only: here they are ours (SIGINT's
    ``KeyboardInterrupt``, :func:`_interrupts_end_the_run`), not nbclient's, which it
    installs only when it runs in the main thread. On any exception while waiting, the
    kernels are shut down before it propagates.
    """
    if threading.current_thread() is not threading.main_thread():
        return func(*args, **kwargs)
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    helper = threading.Thread(target=target, name="notebook", daemon=True)
    helper.start()
    try:
        while helper.is_alive():
            helper.join(0.25)
    except BaseException:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})  # a second Ctrl-C waits
        try:
            _shutdown_kernels()
            helper.join(5.0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@contextlib.contextmanager
def _interrupts_end_the_run():
    """Within the block, SIGINT and SIGTERM raise :class:`RunInterrupted` in the main thread."""
    def stop(signum, frame):
        raise RunInterrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_files(run_dir: Path) -> list[Path]:
    """The figures and tables in a run folder (what a run publishes)."""
    tables = [p for pattern in RESULT_FILES for p in sorted(run_dir.glob(pattern))]
    return sorted((run_dir / "figures").glob("*.png")) + tables


def _remove(paths) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp(path: Path, note: str) -> None:
    """Write into a published file which run made it: a PNG text chunk or a Markdown comment."""
    if path.suffix == ".png":
        data = path.read_bytes()
        end = 8 + 4 + 4 + 13 + 4  # signature, then the IHDR chunk (always first, 13 bytes of data)
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            raise ValueError(f"{path}: not a PNG file")
        text = b"Source\x00" + note.encode("latin-1", "replace")
        chunk = struct.pack(">I", len(text)) + b"tEXt" + text
        chunk += struct.pack(">I", zlib.crc32(b"tEXt" + text) & 0xFFFFFFFF)
        path.write_bytes(data[:end] + chunk + data[end:])
    elif path.suffix == ".md":
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + f"\n\n<!-- {note} -->\n", encoding="utf-8")


def _stage(dest: Path, replaced) -> Path:
    """A folder beside ``dest`` holding a copy of what ``dest`` keeps (everything but ``replaced(path)``)."""
    stage = dest.parent / f".{dest.name}.publishing-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    if dest.is_dir():
        kept = lambda folder, names: [n for n in names if Path(folder) == dest and replaced(dest / n)]  # noqa: E731
        shutil.copytree(dest, stage, ignore=kept)
    else:
        stage.mkdir(parents=True)
    return stage


def _swap(staged: list[tuple[Path, Path]]) -> None:
    """Put every staged folder in its destination's place, with SIGINT and SIGTERM held back meanwhile:
    all destinations get their new set, or (an error) all keep their old one."""
    held = {signal.SIGINT, signal.SIGTERM}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    done: list[tuple[Path, Path | None]] = []
    try:
        try:
            for dest, stage in staged:
                old = dest.parent / f".{dest.name}.replaced-{os.getpid()}"
                if dest.exists():
                    os.rename(dest, old)
                else:
                    old = None
                done.append((dest, old))
                os.rename(stage, dest)
        except BaseException:
            for dest, old in reversed(done):
                if old is not None and old.exists():
                    if dest.exists():
                        shutil.rmtree(dest)
                    os.rename(old, dest)
            raise
        for _, old in done:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _publish(run_dir: Path, record: dict, figures_dir: Path | None, results_dir: Path | None) -> None:
    """Replace the published figures and tables of the dataset with this run's, as a whole.

    The run's ``results.json`` is first checked against the published one (:func:`_check_results`);
    the new sets are then staged beside the destinations and swapped in (:func:`_swap`).
    """
    name = run_dir.name
    if results_dir is not None:
        _check_results(run_dir, results_dir / name)
    note = f"made by semgru_keras.run, run {record['run']} ({record['mode']} mode, {record['keras_backend']}); see run.json"
    staged: list[tuple[Path, Path]] = []
    published = {}
    try:
        if figures_dir is not None:
            stage = _stage(figures_dir / name, lambda p: p.suffix == ".png")
            staged.append((figures_dir / name, stage))
            for png in sorted((run_dir / "figures").glob("*.png")):
                shutil.copyfile(png, stage / png.name)
                _stamp(stage / png.name, note)
                published[f"figures/{png.name}"] = _sha256(stage / png.name)
        if results_dir is not None:
            tables = {n for pattern in (*RESULT_FILES, "run.json") for n in [p.name for p in run_dir.glob(pattern)]}
            stage = _stage(results_dir / name, lambda p: p.name == "run.json" or any(p.match(pat) for pat in RESULT_FILES))
            staged.append((results_dir / name, stage))
            for path in _run_files(run_dir):  # (cleared before the run: all made by it)
                if path.parent == run_dir and path.name in tables:
                    shutil.copyfile(path, stage / path.name)
                    _stamp(stage / path.name, note)
                    published[path.name] = _sha256(stage / path.name)
            out = dict(record, published=dict(sorted(published.items(), key=lambda kv: kv[0].startswith("figures/"))))
            (stage / "run.json").write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
        _swap(staged)
    finally:
        for _, stage in staged:
            if stage.exists():
                shutil.rmtree(stage, ignore_errors=True)
    if figures_dir is not None:
        print(f"[{name}] figures published to {figures_dir / name} (the previous set replaced whole)", flush=True)
    if results_dir is not None:
        print(f"[{name}] tables published to {results_dir / name} (the previous set replaced whole)", flush=True)


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
    which.add_argument("--dataset", help="dataset name (synthetic-gems, synthetic-quadrants, emotify, 4q, quadrants) or path")
    which.add_argument("--all-demo", action="store_true", help=f"run every built-in dataset: {', '.join(DEMO_DATASETS)}")
    parser.add_argument("--data-root", help="folder of a real dataset (Emotify: the folder with data.csv)")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="mode", action="store_const", const="quick", help="demo settings (default)")
    speed.add_argument("--full", dest="mode", action="store_const", const="full", help="the paper's: 100 epochs, 10 folds")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="notebook parameter, e.g. -p epochs 5 (repeatable; seed, epochs, n_folds)")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), help="subset of notebooks to run, in order")
    parser.add_argument("--notebook-dir", help=f"where the notebooks are (default: {NOTEBOOK_DIR})")
    parser.add_argument("--runs-dir", help="where a run's notebooks, figures and tables go (default: runs/)")
    parser.add_argument("--publish", action="store_true",
                        help="then replace figures/<dataset>/ and results/<dataset>/ with this run's set (needs all notebooks)")
    parser.add_argument("--figures-dir", help="publish figures here (--publish: figures/)")
    parser.add_argument("--results-dir", help="publish tables here (--publish: results/)")
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"),
                        help="KERAS_BACKEND of the notebooks (default: $KERAS_BACKEND, else jax if installed)")
    parser.add_argument("-j", "--jobs", type=int,
                        help="worker processes for the outer folds (notebook parameter n_jobs; -1: all cores; "
                             "the numbers are identical to a sequential run)")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run the folds and the feature extraction on this Dask cluster, e.g. tcp://host:8786 "
                             "(notebook parameter scheduler; with -j N; see semgru_keras.parallel)")
    parser.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    parser.add_argument("--log", metavar="FILE",
                        help="also write everything the run prints, the notebooks' output included (per-fold "
                             "progress lines with elapsed time and estimate), to FILE: for runs in the background")
    parser.add_argument("--fresh", action="store_true",
                        help="compute every fold again instead of reading the folds an interrupted run with the "
                             "same settings, data and code saved in runs/<dataset>/folds (notebook parameter resume)")
    args = parser.parse_args(argv)
    datasets = DEMO_DATASETS if args.all_demo else (args.dataset,)
    parameters = {key: _value(value) for key, value in args.parameter}
    if args.jobs is not None:
        if args.jobs == 0 or args.jobs < -1:
            parser.error(f"--jobs {args.jobs}: expected a positive number of workers or -1 (all cores)")
        parameters["n_jobs"] = args.jobs
    if args.dask_scheduler:
        parameters["scheduler"] = args.dask_scheduler
    if args.fresh:
        parameters["resume"] = False
    publish = args.publish or bool(args.figures_dir or args.results_dir)
    if publish and tuple(args.notebooks) != NOTEBOOKS:
        parser.error("publishing needs a complete run (all notebooks): a partial set would mix with an older one")
    figures_dir = args.figures_dir or (project_root() / "figures" if args.publish else None)
    results_dir = args.results_dir or (project_root() / "results" if args.publish else None)
    with console.tee_output(args.log, " ".join(["python -m semgru_keras.run", *(argv or sys.argv[1:])])):
        return _checked_run(args, datasets, parameters, publish, figures_dir, results_dir)


def _checked_run(args, datasets, parameters, publish, figures_dir, results_dir) -> int:
    """Check every dataset (and the publish guard) before any kernel starts, then run them all."""
    try:  # every dataset is checked before the first kernel starts
        for dataset in datasets:
            check_run(dataset, args.data_root, parameters, tuple(args.notebooks), args.notebook_dir)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if publish:
        try:  # the guard's cheap part (settings, data identity) before any kernel starts
            for dataset in datasets:
                check_publish(dataset, args.data_root, args.mode or "quick", parameters, results_dir, figures_dir)
        except RunError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    with _interrupts_end_the_run():
        if args.log:  # the kernels' output (progress lines of every fold) through papermill's logger
            import logging

            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        try:
            return _run_all(args, datasets, parameters, figures_dir, results_dir, started)
        except (RunInterrupted, KeyboardInterrupt) as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            print(f"\n{exc or 'interrupted by SIGINT'}: kernels and workers shut down; the interrupted run "
                  "published nothing", file=sys.stderr, flush=True)
            return 128 + int(signum)


def _run_all(args, datasets, parameters, figures_dir, results_dir, started) -> int:
    for dataset in datasets:
        try:
            run_notebooks(
                dataset,
                data_root=args.data_root,
                mode=args.mode or "quick",
                parameters=parameters,
                runs_dir=args.runs_dir,
                figures_dir=figures_dir,
                results_dir=results_dir,
                notebooks=tuple(args.notebooks),
                notebook_dir=args.notebook_dir,
                backend=args.backend,
                progress=not args.no_progress,
                log_output=bool(args.log),
            )
        except (RunError, NotebookRunError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"all done in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
