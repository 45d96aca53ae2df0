"""``python -m benchmarks [--quick]``: every stage, side by side, in one run (see README.md here)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import shlex
import tempfile
import time
from pathlib import Path

# Inherited by every worker and joblib process: keep TensorFlow's C++ start-up lines quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
BACKENDS = ("tensorflow", "jax", "torch")
STAGES = ("training", "embedding", "features", "e2e", "protocol")


def explore_variants(backends):
    """Diagnostics, not package settings: what the padding mask and per-step dispatch cost."""
    from .harness import Variant

    if "jax" not in backends:
        return []
    return [Variant("jax-masked", "keras", "jax", explore_keep_mask=True,
                    note="trains the masked model itself, as before without_padding_mask (diagnostic)"),
            Variant("jax-spe4", "keras", "jax", compile={"steps_per_execution": 4},
                    note="steps_per_execution=4, i.e. one call per epoch (diagnostic)")]


def training_variants(backends, quick: bool):
    """Every installed backend in both GRU forms, with the package's defaults (``train_model``:
    no padding mask for crops, Keras' ``jit_compile="auto"``, i.e. XLA on JAX but not for
    TensorFlow on a CPU); TensorFlow also with XLA (``jit_compile=True``). The twin is
    ``reset_after=True`` by nature."""
    from .harness import Variant

    out = [Variant("twin", "twin", reset_after=True)]
    for b in backends:
        for ra in (False, True):
            suffix = "-ra" if ra else ""
            if quick and ra and b != "jax":
                continue  # --quick: the cuDNN form only where it is a contender (JAX)
            out.append(Variant(f"{b}{suffix}", "keras", b, reset_after=ra))
            if b == "tensorflow":
                out.append(Variant(f"{b}-xla{suffix}", "keras", b, reset_after=ra,
                                   train_kwargs={"jit_compile": True}))
    return out


#: Keras/torch runs a CPU GRU as a Python loop over time steps (≈ 1 song/s at 2,400 steps):
#: it embeds one batch, once, so that the stage stays minutes long.
SLOW_EMBEDDING = {"torch": {"n_songs": 32, "rounds": 1}}


def embedding_variant_names(backends, quick: bool) -> list[str]:
    """Embedding: the paper's form on every backend, JAX also in the cuDNN form, and the twin."""
    names = ["twin"] + list(backends)
    if "jax" in backends:
        names.append("jax-ra")
    return names


def installed_backends(wanted) -> tuple[list[str], dict]:
    have, missing = [], {}
    for b in wanted:
        if importlib.util.find_spec(b) is None:
            missing[b] = f"{b} is not installed" + (" (make bench installs it: pip install -e .[bench])"
                                                     if b == "torch" else "")
        else:
            have.append(b)
    return have, missing


def acceptance(results: dict, quick: bool, all_stages: bool = True) -> list[dict]:
    from .spec import PAPER_SECONDS_PER_EPOCH

    checks = []
    tr = results.get("training") or {}
    keras = {k: v for k, v in (tr.get("variants") or {}).items()
             if v.get("variant", {}).get("framework") == "keras" and v.get("median_s_per_epoch")}
    if keras:
        best_name, best = min(keras.items(), key=lambda kv: kv[1]["median_s_per_epoch"])
        ratio = best.get("ratio_to_twin")
        checks.append({"check": "best Keras training epoch ≤ 1.0 × the PyTorch twin",
                       "value": f"{best['label']}: {_fmt(ratio, '{:.2f}×')}",
                       "passed": None if ratio is None else ratio <= 1.0})
        checks.append({"check": f"best Keras training epoch < the paper's {PAPER_SECONDS_PER_EPOCH:.1f} s (GTX 970)",
                       "value": f"{best['median_s_per_epoch']:.3f} s",
                       "passed": best["median_s_per_epoch"] < PAPER_SECONDS_PER_EPOCH})
        best_ratio = min((v["ratio_to_twin"] for v in keras.values() if v.get("ratio_to_twin")), default=None)
        if best_ratio is not None and ratio is not None and best_ratio < ratio:
            checks.append({"check": "lowest Keras/twin ratio of any variant", "value": f"{best_ratio:.2f}×",
                           "passed": best_ratio <= 1.0})
    e2e = results.get("endtoend") or {}
    warm = [r for r in e2e.get("rows", []) if str(r.get("run", "")).startswith("warm-cache")
            and r.get("feature_share_of_wall") is not None]
    if warm:
        worst = max(warm, key=lambda r: r["feature_share_of_wall"])
        checks.append({"check": "second papermill run (warm cache): < 5 % of its time in feature extraction",
                       "value": f"{100 * worst['feature_share_of_wall']:.1f} % ({worst['dataset']})",
                       "passed": worst["feature_share_of_wall"] < 0.05})
    protocol = results.get("protocol") or {}
    if protocol.get("runs"):
        checks.append({"check": "protocol in worker processes gives the sequential predictions",
                       "value": str(protocol["same_predictions"]), "passed": protocol["same_predictions"]})
        if "Table I" in protocol.get("workload", ""):
            wall = protocol["runs"][-1]["protocol_s"]
            checks.append({"check": "full Table I protocol ≤ 15 minutes (warm cache)", "value": f"{wall / 60:.1f} min",
                           "passed": wall <= 900})
    if quick and all_stages:
        checks.append({"check": "quick benchmark < 5 minutes", "value": f"{results['wall_s']:.0f} s",
                       "passed": results["wall_s"] < 300})
    return checks


def _fmt(x, fmt):
    return "—" if x is None else fmt.format(x)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and songs (< 5 minutes on 2 cores)")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma-separated subset of {','.join(STAGES)} (default: all; e2e is skipped with "
                             "--quick unless named here explicitly)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="Keras backends to time (default: all installed)")
    parser.add_argument("--variants", help="only these training variants (names as in the results, e.g. twin,jax)")
    parser.add_argument("--rounds", type=int, help="interleaved repetitions (default 5 quick, 7 full)")
    parser.add_argument("--epochs-per-rep", type=int, help="epochs per repetition (default 2 quick, 4 full)")
    parser.add_argument("--datasets", help="demo datasets of the end-to-end stage (default: all of semgru_keras.run's)")
    parser.add_argument("--e2e-backends", default="tensorflow",
                        help="extra KERAS_BACKENDs for one more warm quick papermill run each (default: tensorflow, "
                             "Keras' default, beside the runner's own choice; '' for none)")
    parser.add_argument("--protocol-data", default=os.environ.get("SEMGRU_EMOTIFY_ROOT"),
                        help="Emotify folder for the protocol stage: the full Table I protocol, sequential vs "
                             "parallel (default $SEMGRU_EMOTIFY_ROOT; without it, the quick synthetic protocol)")
    parser.add_argument("--explore", action="store_true", help="add diagnostic JAX variants (see README.md)")
    parser.add_argument("--threads", type=int, help="pin every framework to this many threads (default: theirs)")
    parser.add_argument("--output", help="results file (default benchmarks/results/<date>-<host>[-quick].json)")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    args = parser.parse_args(argv)

    from . import endtoend, features, harness, report
    from .machine import load_average, machine_info, numpy_matmul_rate, usable_cores
    from .spec import EmbedSpec, TrainSpec

    explicit_stages = args.stages != parser.get_default("stages")
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
    quick = args.quick
    rounds = args.rounds or (5 if quick else 7)
    epochs_per_rep = args.epochs_per_rep or (2 if quick else 4)
    cores = usable_cores()

    started = time.perf_counter()
    command = "python -m benchmarks" + (" " + shlex.join(argv if argv is not None else sys.argv[1:])).rstrip()
    say = lambda s: print(s, flush=True)  # noqa: E731
    machine = machine_info()
    say(f"semgru-keras benchmarks ({'quick' if quick else 'full'}) on {machine['cpu']}, {cores} usable cores, "
        f"{machine['memory_gib']} GiB; load average {machine['load_average_at_start']}")
    if machine["load_average_at_start"] and machine["load_average_at_start"][0] > 0.5 * cores:
        say("  ! the machine is busy: timings will be noisy (interleaving keeps the ratios fair)")
    results: dict = {"command": command, "quick": quick, "machine": machine, "threads": args.threads,
                     "stages": stages}
    log_dir = Path(tempfile.mkdtemp(prefix="semgru-bench-logs-"))
    results["log_dir"] = str(log_dir)

    backends, missing = installed_backends([b.strip() for b in args.backends.split(",") if b.strip()])
    if missing:
        results["backends_missing"] = missing
        for b, why in missing.items():
            say(f"  ! backend {b}: {why}")
    have_torch = importlib.util.find_spec("torch") is not None

    workers = []
    try:
        if "training" in stages or "embedding" in stages:
            variants = training_variants(backends, quick) + (explore_variants(backends) if args.explore else [])
            if not have_torch:
                variants = [v for v in variants if v.framework != "twin"]
                results["twin"] = "not available: torch is not installed (make bench installs it)"
                say("  ! PyTorch twin: torch is not installed (make bench installs it)")
            if args.variants:
                keep = {n.strip() for n in args.variants.split(",")}
                variants = [v for v in variants if v.name in keep]
            elif "training" not in stages:
                keep = set(embedding_variant_names(backends, quick))
                variants = [v for v in variants if v.name in keep]
            say(f"\n[training] starting {len(variants)} worker processes: {', '.join(v.name for v in variants)}")
            workers, failures = harness.start_workers(variants, log_dir, say, args.threads)
            if failures:
                results["worker_failures"] = failures
            results["frameworks"] = {w.variant.name: w.info for w in workers}
            if "training" in stages:
                spec = TrainSpec()
                training = harness.run_training(workers, spec, rounds, epochs_per_rep, warmup_epochs=1, say=say)
                harness.add_ratios(training)
                results["training"] = training
            say("\n[floor] matmul rates ...")
            rates = harness.matmul_rates(workers, say)
            rates["numpy"] = numpy_matmul_rate()
            results["floor"] = {"matmul_flops_per_s": rates, "peak_flops_per_s": max(rates.values()),
                                "matrix": 2048}
            say("  " + ", ".join(f"{k} {r / 1e9:.0f} GFLOP/s" for k, r in rates.items()))
            if "embedding" in stages:
                names = set(embedding_variant_names(backends, quick))
                for w in [w for w in workers if w.variant.name not in names]:
                    w.close()
                workers = [w for w in workers if w.variant.name in names]
                espec = EmbedSpec(n_songs=64) if quick else EmbedSpec()
                say(f"\n[embedding] {espec.n_songs} songs × {espec.length} vectors: "
                    f"{', '.join(w.variant.name for w in workers)}")
                results["embedding"] = harness.run_embedding(workers, espec, rounds=3, say=say,
                                                             overrides=SLOW_EMBEDDING)
            for w in workers:
                w.close()
            workers = []
        else:
            rates = {"numpy": numpy_matmul_rate()}
            results["floor"] = {"matmul_flops_per_s": rates, "peak_flops_per_s": max(rates.values()), "matrix": 2048}

        if "features" in stages:
            say(f"\n[features] 1 and {cores} worker processes ...")
            results["features"] = features.run_features(quick, cores, say)

        if "e2e" in stages:
            if quick and not explicit_stages:
                results["endtoend"] = {"status": "skipped with --quick (name it: --stages e2e)"}
                say("\n[end to end] skipped with --quick (run it with --stages e2e, or the full benchmark)")
            else:
                say("\n[end to end] papermill runs ...")
                datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else _demo_datasets()
                extra = [b.strip() for b in args.e2e_backends.split(",") if b.strip()
                         and b.strip() != endtoend._runner_default()
                         and importlib.util.find_spec(b.strip())]
                results["endtoend"] = endtoend.run_endtoend(quick, datasets, say, backends=extra)
        if "protocol" in stages:
            from .protocol import run_protocol

            say("\n[protocol] the whole cross-validation, folds in sequence vs in worker processes ...")
            results["protocol"] = run_protocol(quick, cores, say, data_root=args.protocol_data)
    finally:
        for w in workers:
            w.close()

    results["load_average_at_end"] = load_average()
    results["wall_s"] = time.perf_counter() - started
    results["acceptance"] = acceptance(results, quick, all_stages=not explicit_stages)
    say("\n" + report.render(results))
    if not args.no_save:
        out = Path(args.output) if args.output else default_output(machine["host"], quick)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1, default=str) + "\n")
        say(f"\nresults: {out}")
    return 0


def _demo_datasets():
    try:
        from semgru_keras.run import DEMO_DATASETS

        return DEMO_DATASETS
    except Exception:  # noqa: BLE001
        return ("synthetic-gems", "synthetic-quadrants")


def default_output(host: str, quick: bool) -> Path:
    host = re.sub(r"[^A-Za-z0-9_.-]+", "-", host).strip("-") or "host"
    return HERE / "results" / f"{time.strftime('%Y-%m-%d')}-{host}{'-quick' if quick else ''}.json"


if __name__ == "__main__":
    sys.exit(main())
