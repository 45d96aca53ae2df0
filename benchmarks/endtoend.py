"""End-to-end stage: wall time of the papermill runs on the demo data, and their feature share.

``python -m semgru_keras.run --dataset NAME --quick|--full`` runs in a subprocess with its
own runs/figures folders and its own feature cache (``$SEMGRU_CACHE_DIR`` in a temporary
folder), so the benchmark never touches ``runs/``, ``figures/`` or ``.cache/``:

1. quick run, cold cache (features computed and cached);
2. quick run again, warm cache: the issue's "second run" (feature share should be < 5 %);
3. full run, warm cache (not with ``--quick``).

Time spent in feature extraction: every notebook kernel gets an IPython start-up file
(``$IPYTHONDIR`` in the temporary folder) that times each call of
``semgru_keras.data.cache.cached_map`` — the one function through which ``Dataset.sequences``
and ``Dataset.map_audio`` (hand-crafted features) compute or read features — and appends it
to a log; the share is their sum over the run's wall time. (The per-cell papermill durations of
cells that call the feature path are recorded too, as a cross-check; they are an upper bound.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURE_CALL = re.compile(r"\.sequences\(|drop_unreadable\(|file_sequence\(|mel_sequence\(")


def available() -> str | None:
    """``None`` when the end-to-end stage can run, else why not."""
    if importlib.util.find_spec("semgru_keras.run") is None:
        return "semgru_keras.run is missing"
    if importlib.util.find_spec("papermill") is None:
        return "papermill is not installed (pip install -e .[notebooks])"
    try:
        from semgru_keras.run import NOTEBOOK_DIR, NOTEBOOKS
    except Exception as exc:  # noqa: BLE001
        return f"semgru_keras.run does not import ({type(exc).__name__}: {exc})"
    missing = [nb for nb in NOTEBOOKS if not (Path(NOTEBOOK_DIR) / nb).is_file()]
    if missing:
        return f"notebooks not written yet: {', '.join(missing)}"
    return None


def cell_times(run_dir: Path) -> dict:
    """Per-notebook total cell time and the time of the feature-extraction cells."""
    out = {"notebooks": {}, "total_s": 0.0, "feature_s": 0.0, "feature_cells": []}
    for path in sorted(run_dir.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        total = feature = 0.0
        for i, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            duration = (cell.get("metadata", {}).get("papermill", {}) or {}).get("duration") or 0.0
            total += duration
            source = "".join(cell.get("source", []))
            if FEATURE_CALL.search(source):
                feature += duration
                out["feature_cells"].append({"notebook": path.name, "cell": i, "s": duration})
        out["notebooks"][path.name] = {"cells_s": total, "feature_s": feature}
        out["total_s"] += total
        out["feature_s"] += feature
    return out


STARTUP = r"""
# Written by benchmarks/endtoend.py: time every feature-cache call of the notebook kernel.
import importlib.abc, importlib.util, json, os, sys, time

_LOG = os.environ.get("SEMGRU_BENCH_FEATURE_LOG")
_TARGETS = {"semgru_keras.data.cache", "semgru_keras.data.dataset"}


def _wrap(module):
    func = getattr(module, "cached_map", None)
    if func is None or getattr(func, "_bench_timed", False):
        return

    def cached_map(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            key = kwargs.get("key", args[2] if len(args) > 2 else "")
            with open(_LOG, "a") as f:
                f.write(json.dumps({"key": str(key)[:80], "s": time.perf_counter() - started}) + "\n")

    cached_map._bench_timed = True
    module.cached_map = cached_map


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _TARGETS:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        inner = spec.loader

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                inner.exec_module(module)
                _wrap(module)

        spec.loader = _Loader()
        return spec


if _LOG:
    sys.meta_path.insert(0, _Finder())
"""


def _feature_log(path: Path) -> dict:
    calls = []
    if path.is_file():
        calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {"feature_calls": calls, "feature_s": float(sum(c["s"] for c in calls))}


def _run(dataset: str, mode: str, tmp: Path, cache: Path, tag: str, timeout: float, say,
         backend: str | None = None) -> dict:
    runs, figures = tmp / f"runs-{tag}", tmp / f"figures-{tag}"
    ipython = tmp / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-semgru-bench.py").write_text(STARTUP)
    log = tmp / f"features-{_slug(dataset)}-{mode}-{tag}.jsonl"
    log.unlink(missing_ok=True)
    env = dict(os.environ, SEMGRU_CACHE_DIR=str(cache), TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1",
               IPYTHONDIR=str(ipython), SEMGRU_BENCH_FEATURE_LOG=str(log))
    if backend:
        env["KERAS_BACKEND"] = backend
        tag = f"{tag}, {backend}"
        runs, figures = tmp / f"runs-{tag.replace(', ', '-')}", tmp / f"figures-{tag.replace(', ', '-')}"
    cmd = [sys.executable, "-m", "semgru_keras.run", "--dataset", dataset, f"--{mode}",
           "--runs-dir", str(runs), "--figures-dir", str(figures), "--results-dir", str(runs) + "-results"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    row = {"dataset": dataset, "mode": mode, "run": tag, "wall_s": wall, "returncode": proc.returncode,
           "keras_backend": env.get("KERAS_BACKEND") or _runner_default(),
           "command": " ".join(["python", "-m", "semgru_keras.run", "--dataset", dataset, f"--{mode}"])}
    if proc.returncode != 0:
        row["error"] = (proc.stdout[-1500:] + proc.stderr[-1500:]).strip()
        say(f"  ! {dataset} {mode} ({tag}) failed after {wall:.0f} s:\n{row['error'][-800:]}")
        return row
    cells = cell_times(runs / _slug(dataset))
    row["cells"] = cells
    row.update(_feature_log(log))
    if not row["feature_calls"]:
        row["feature_note"] = "no cached_map calls were logged; the share falls back to the feature cells"
        row["feature_s"] = cells["feature_s"]
    row["feature_share_of_wall"] = row["feature_s"] / wall if wall else None
    say(f"  {dataset} --{mode} ({tag}): {wall:.1f} s wall, feature extraction {row['feature_s']:.1f} s "
        f"({100 * row['feature_share_of_wall']:.1f} %) in {len(row['feature_calls'])} calls")
    return row


def _slug(dataset: str) -> str:
    from semgru_keras.run import slug

    return slug(dataset)


def _runner_default() -> str:
    """The backend ``semgru_keras.run`` picks when ``KERAS_BACKEND`` is unset."""
    from semgru_keras.run import default_backend

    return default_backend()


def run_endtoend(quick: bool, datasets, say, timeout: float = 4 * 3600.0, backends=()) -> dict:
    """Cold and warm quick runs (and a full run unless ``quick``) per dataset under the
    environment's backend; then one warm quick run per extra ``backends`` entry."""
    why = available()
    if why:
        say(f"  end to end: not available yet ({why})")
        return {"status": f"not available yet: {why}"}
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="semgru-bench-e2e-"))
    try:
        for dataset in datasets:
            cache = tmp / f"cache-{_slug(dataset)}"
            rows.append(_run(dataset, "quick", tmp, cache, "cold-cache", timeout, say))
            rows.append(_run(dataset, "quick", tmp, cache, "warm-cache", timeout, say))
            for backend in backends:
                rows.append(_run(dataset, "quick", tmp, cache, "warm-cache", timeout, say, backend=backend))
            if not quick:
                rows.append(_run(dataset, "full", tmp, cache, "warm-cache", timeout, say))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"status": "ok", "rows": rows}
