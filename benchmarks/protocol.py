"""The protocol stage: the whole cross-validation, folds one after another vs in worker processes.

Users wait for the protocol, not for one epoch. This stage runs the same protocol twice
on the same machine, each in a fresh process, from a warm feature cache: with
``n_jobs=1`` (the folds in sequence) and with ``n_jobs=<cores>`` (the folds in joblib
worker processes, :mod:`semgru_keras.parallel`); it records both wall times, each
stage's time and whether the two runs gave the same predictions.

Workloads: ``--protocol-data PATH`` (an Emotify folder) runs the paper's full Table I
protocol (10 folds, 100 epochs, all three systems); without it, the quick protocol on
the built-in ``synthetic-gems`` set (3 folds, 30 epochs). Run alone::

    python -m benchmarks --stages protocol --protocol-data ../shared/data/emotify
    python -m benchmarks.protocol --n-jobs 2 --out /tmp/p2.json      # one run (what the stage calls)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one_run(n_jobs: int, data_root: str | None, out: Path) -> None:
    """One protocol run in this process: extraction (cache) first, then the timed cross-validation."""
    from semgru_keras.data import load_dataset
    from semgru_keras.evaluation import EvaluationConfig, cross_validate_dataset

    if data_root:
        ds, config = load_dataset("emotify", root=data_root), EvaluationConfig()
    else:
        ds, config = load_dataset("synthetic-gems", n_songs=200, seed=0), EvaluationConfig.quick()
    t0 = time.perf_counter()
    ds.sequences(progress=False, n_jobs=n_jobs)  # warm the cache outside the timed part
    from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features

    ds.map_audio(handcrafted_features, key=HANDCRAFTED_KEY, progress=False, n_jobs=n_jobs)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = cross_validate_dataset(ds, config, n_jobs=n_jobs, progress=False)
    wall = time.perf_counter() - t0
    results.save(out.with_suffix(".results.json"))
    out.write_text(json.dumps({
        "n_jobs": n_jobs,
        "dataset": ds.name,
        "n_songs": len(ds),
        "config": {"n_folds": config.n_folds, "epochs": config.epochs},
        "cache_warmup_s": warm,
        "protocol_s": wall,
        "stage_seconds": results.stage_seconds,
        "scores": {s: results.score(s) for s in results.systems},
    }))


def run_protocol(quick: bool, cores: int, say, data_root: str | None = None) -> dict:
    """Both runs, each in a fresh interpreter (same backend, same machine), and their comparison."""
    import numpy as np

    from semgru_keras.evaluation import CVResults

    tmp = Path(tempfile.mkdtemp(prefix="semgru-bench-protocol-"))
    env = dict(os.environ)
    env.setdefault("KERAS_BACKEND", "jax")
    runs = {}
    for n_jobs in (1, max(2, cores)):
        out = tmp / f"jobs{n_jobs}.json"
        say(f"  protocol with n_jobs={n_jobs} ({'Table I, full' if data_root else 'synthetic-gems, quick'}) ...")
        cmd = [sys.executable, "-m", "benchmarks.protocol", "--n-jobs", str(n_jobs), "--out", str(out)]
        if data_root:
            cmd += ["--data-root", data_root]
        subprocess.run(cmd, check=True, env=env, cwd=Path(__file__).resolve().parents[1])
        runs[n_jobs] = json.loads(out.read_text())
        say(f"    {runs[n_jobs]['protocol_s']:.1f} s")
    seq, par = (CVResults.load(tmp / f"jobs{n}.results.json") for n in runs)
    same = all(np.array_equal(seq.predictions[s], par.predictions[s]) for s in seq.systems)
    first, last = runs[min(runs)], runs[max(runs)]
    return {
        "workload": "Table I protocol on Emotify" if data_root else "quick protocol on synthetic-gems",
        "backend": env["KERAS_BACKEND"],
        "runs": list(runs.values()),
        "speedup": first["protocol_s"] / last["protocol_s"],
        "same_predictions": bool(same),
    }


def compare_runs(sequential: str | Path, parallel: str | Path, timing_reference: str | Path | None = None) -> dict:
    """Compare two saved protocol runs (``results.json`` of the runner or of ``evaluate``):
    per-system equality of the predictions, the protocol's wall time and its stages.

    For runs made apart (e.g. two full runner runs), ``timing_reference`` may name a third
    ``results.json`` whose wall time stands for the sequential one (a run that had the
    machine to itself); the record says which file each figure comes from.
    """
    import numpy as np

    from semgru_keras.results import CVResults
    from semgru_keras.run import machine_record

    seq, par = CVResults.load(sequential), CVResults.load(parallel)
    if list(seq.ids) != list(par.ids) or not np.array_equal(seq.folds, par.folds):
        raise SystemExit("the two runs differ in songs or folds: nothing to compare")
    systems = {}
    for system in seq.systems:
        a, b = np.asarray(seq.predictions[system]), np.asarray(par.predictions[system])
        systems[system] = {"identical": bool(np.array_equal(a, b)),
                           "max_abs_difference": float(np.max(np.abs(a.astype(float) - b.astype(float)))),
                           "score_sequential": seq.score(system), "score_parallel": par.score(system)}
    timing = CVResults.load(timing_reference) if timing_reference else seq
    stages = {system: {stage: round(float(np.sum(v)), 1) for stage, v in per.items()}
              for system, per in par.stage_seconds.items()}
    return {
        "workload": f"the full protocol on {par.name} ({len(par.y_true)} songs, {par.n_folds} folds)",
        "sequential_results": str(sequential),
        "parallel_results": str(parallel),
        "timing_reference": str(timing_reference or sequential),
        "sequential_protocol_s": round(float(timing.wall_seconds), 1),
        "parallel_protocol_s": round(float(par.wall_seconds), 1),
        "speedup": round(float(timing.wall_seconds) / float(par.wall_seconds), 2),
        "parallel_stage_seconds": stages,
        "systems": systems,
        "machine": machine_record(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.protocol", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--data-root", help="Emotify folder: the full Table I protocol (default: quick synthetic)")
    parser.add_argument("--compare", nargs=2, metavar=("SEQUENTIAL", "PARALLEL"),
                        help="instead of running: compare two saved results.json files")
    parser.add_argument("--timing-reference", help="with --compare: the results.json whose wall time is the sequential one")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.compare:
        record = compare_runs(*args.compare, timing_reference=args.timing_reference)
        record["command"] = " ".join(["python -m benchmarks.protocol", *(argv if argv is not None else sys.argv[1:])])
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return 0
    _one_run(args.n_jobs, args.data_root, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
