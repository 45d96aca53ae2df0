"""Issue 23: interrupts stop the runner and publish nothing (property 3); publishing guards what it
replaces (property 4); workers are bounded and die with the runner (property 6).

The signal tests run ``python -m semgru_keras.run`` on six stand-in notebooks whose first one
starts joblib workers through the feature cache (the path the real notebooks use) and sleeps,
then signal the runner and look for the kernel and the workers in ``/proc``.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from semgru_keras.parallel import resolve_jobs
from semgru_keras.results import CVResults
from semgru_keras.run import NOTEBOOKS, main

REPO = Path(__file__).resolve().parents[1]
PARAMS = "dataset = 'x'\nmode = 'quick'\noutput_dir = None\ndata_root = None"
WORKERS = min(2, joblib.cpu_count())  # what resolve_jobs grants the stand-in notebook's n_jobs=2
SLEEPER = f"""
import os, pathlib, time
from semgru_keras.data import load_dataset
marks = pathlib.Path(output_dir) / "pids"
marks.mkdir(parents=True, exist_ok=True)
(marks / f"kernel-{{os.getpid()}}").touch()

def nap(y, sr):
    (marks / f"worker-{{os.getpid()}}").touch()
    time.sleep(600)
    return 0.0

ds = load_dataset("synthetic-gems", n_songs=4, duration=1.0)
ds.map_audio(nap, key="nap", cache_dir=str(pathlib.Path(output_dir) / "cache"), n_jobs={WORKERS}, progress=False)
"""


def _notebooks(folder: Path, first: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(NOTEBOOKS):
        nb = new_notebook(cells=[new_code_cell(PARAMS), new_code_cell(first if i == 0 else "pass")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells[0].metadata["tags"] = ["parameters"]
        nbformat.write(nb, folder / name)
    return folder


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


def _run_and_signal(tmp_path: Path, sig: int) -> tuple[int | None, float, set[int], set[int], Path]:
    """Start the runner with ``--publish`` over an existing set, wait for its kernel and workers, send ``sig``.

    Returns (exit status or None, seconds to exit, the runner's descendants before the signal,
    those still alive 10 s after it, the published results folder).
    """
    nbdir = _notebooks(tmp_path / "nbs", SLEEPER)
    figures, results = tmp_path / "figs" / "synthetic-gems", tmp_path / "res" / "synthetic-gems"
    figures.mkdir(parents=True)
    results.mkdir(parents=True)
    (figures / "old.png").write_bytes(b"old figure")
    (results / "summary.md").write_text("old table")
    env = dict(os.environ, PYTHONPATH=str(REPO), SEMGRU_CACHE_DIR=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "semgru_keras.run", "--dataset", "synthetic-gems", "--notebook-dir", str(nbdir),
           "--runs-dir", str(tmp_path / "runs"), "--figures-dir", str(tmp_path / "figs"),
           "--results-dir", str(tmp_path / "res"), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marks = tmp_path / "runs" / "synthetic-gems" / "pids"
    family: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while len(list(marks.glob("worker-*"))) < WORKERS or not list(marks.glob("kernel-*")):
            assert proc.poll() is None, f"the runner ended early: {proc.communicate()[0][-3000:]}"
            assert time.monotonic() < deadline, "the workers did not start in 240 s"
            time.sleep(0.2)
        time.sleep(0.5)
        family = _descendants(proc.pid)
        assert {int(p.name.split("-")[1]) for p in marks.iterdir()} <= family
        sent = time.monotonic()
        proc.send_signal(sig)
        try:
            status = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            status = None
        seconds = time.monotonic() - sent
        while time.monotonic() < sent + 10 and any(_alive(p) for p in family):
            time.sleep(0.1)
        return status, seconds, family, {p for p in family if _alive(p)}, results
    finally:  # whatever is left (a failing run): nothing of this test outlives it, nothing else is touched
        for pid in family | _descendants(proc.pid) | {proc.pid}:
            try:
                if env["SEMGRU_CACHE_DIR"].encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()


@pytest.mark.slow  # a kernel and two workers start: 9–12 s per case here on 2 cores, 77–106 s at a load of 10
@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupts_stop_the_runner_shut_everything_down_and_publish_nothing(tmp_path, sig, status):
    """Property 3 (issue 23): Ctrl-C was ignored (the run went on and published); now SIGINT and SIGTERM
    end the runner within seconds with 130 / 143, the kernel and its workers are gone, nothing is published."""
    code, seconds, family, left, results = _run_and_signal(tmp_path, sig)
    assert code == status and seconds < 20, f"exit {code} after {seconds:.1f} s"
    assert len(family) >= 1 + WORKERS and not left, f"still running: {left}"
    assert (results / "summary.md").read_text() == "old table" and sorted(p.name for p in results.iterdir()) == [
        "summary.md"]
    assert (tmp_path / "figs" / "synthetic-gems" / "old.png").read_bytes() == b"old figure"
    assert not list((tmp_path / "res").glob(".*")) and not list((tmp_path / "figs").glob(".*"))  # no staging left


@pytest.mark.slow
def test_workers_are_bounded_and_die_with_the_runner(tmp_path):
    """Property 6 (issue 23): --jobs 1000 started 1000 extraction workers, and after kill -9 of the runner
    its joblib workers stayed 20 minutes; now workers are capped by cores and tasks, and a runner killed
    with SIGKILL (which runs no clean-up) leaves neither kernel nor worker behind. (SIGTERM: the test above.)"""
    assert resolve_jobs(1000, 4) == min(4, joblib.cpu_count())
    assert resolve_jobs(1000, 1) == 1
    _, _, family, left, _ = _run_and_signal(tmp_path, signal.SIGKILL)
    assert len(family) >= 1 + WORKERS and not left, f"still running 10 s after SIGKILL: {left}"


# ---------------------------------------------------------------------- publishing guards what it replaces
def _published_set(res: Path, mode: str, ids, targets, **config) -> Path:
    """A published set in ``res/synthetic-gems``: its run.json and a results.json of these songs."""
    dest = res / "synthetic-gems"
    dest.mkdir(parents=True)
    (dest / "run.json").write_text(json.dumps({"mode": mode, "parameters": {"dataset": "synthetic-gems", "mode": mode,
                                                                           "backend": "jax", "n_jobs": 2}}))
    y = np.asarray(targets, dtype=np.float64)
    CVResults(name="synthetic-gems", task="regression", target_names=[f"t{j}" for j in range(y.shape[1])], classes=None,
              ids=np.asarray(ids), y_true=y, folds=np.arange(len(y)) % 2,
              config={"epochs": 100, "n_folds": 10, "seed": 0, "n_jobs": 1, **config}).save(dest / "results.json")
    return dest


def test_publish_refuses_other_settings_or_other_data_unless_the_destination_is_new(tmp_path, no_kernels, capsys):
    """Property 4 (issue 23): --publish accepted a quick run, `-p epochs 1` or other data and replaced the
    committed tables; now it refuses, before any kernel (and again on the run's results.json), naming
    the differences, unless the destination is new."""
    from semgru_keras import run as runner
    from semgru_keras.data import load_dataset
    from semgru_keras.results import data_identity
    from semgru_keras.run import RunError, check_publish

    ds = load_dataset("synthetic-gems")
    res, figs = tmp_path / "res", tmp_path / "figs"
    dest = _published_set(res, "full", ds.ids, ds.targets)
    args = ["--dataset", "synthetic-gems", "--results-dir", str(res), "--figures-dir", str(figs)]

    assert main(args) == 2  # quick over full
    assert "mode: 'quick' here, 'full' published" in capsys.readouterr().err
    assert main([*args, "--full", "-p", "epochs", "1"]) == 2
    assert "epochs: 1 here, None published" in capsys.readouterr().err
    check_publish("synthetic-gems", None, "full", {"n_jobs": 4, "resume": False}, res)  # same settings and data
    check_publish("synthetic-gems", None, "quick", {"epochs": 1}, tmp_path / "new")  # a new destination

    other = tmp_path / "other"  # the same settings on other data (8 songs, as an 8-clip folder named like the set)
    _published_set(other, "full", ds.ids[:8], ds.targets[:8])
    with pytest.raises(RunError, match=r"other data \(annotations_sha256: .*; n_songs: 200 here, 8 published\)"):
        check_publish("synthetic-gems", None, "full", {}, other)

    # after the run: the protocol settings and data in its results.json against the published ones
    run_dir = tmp_path / "runs" / "synthetic-gems"
    run_dir.mkdir(parents=True)
    mine = CVResults.load(dest / "results.json")
    mine.config = dict(mine.config, epochs=1, n_jobs=8)
    mine.save(run_dir / "results.json")
    with pytest.raises(RunError, match=r"other protocol settings \(epochs: 1 here, 100 published\)"):
        runner._check_results(run_dir, dest)
    mine.config = dict(mine.config, epochs=100)  # n_jobs changes how, not what: not compared
    mine.save(run_dir / "results.json")
    runner._check_results(run_dir, dest)
    assert data_identity(mine.ids, mine.y_true) == mine.identity()
