"""``python -m benchmarks.gpu``: the GPU path in one bounded command, recorded step by step.

Steps (each printed with a timestamp; the JSON record is rewritten after every one, so a
run cut short still leaves what it measured):

1. **visible** — ``nvidia-smi`` (GPU name, driver, CUDA version, memory), the backend
   :func:`semgru_keras.backends.choose_backend` picks and why, the installed backends that
   have CUDA support, versions.
2. **install** — optional, each ``pip install`` bounded in time (``--install SPEC``; by
   default, with a GPU visible, ``jax[cuda12]`` / ``tensorflow[and-cuda]`` for a backend
   that is installed without CUDA support); ``--no-install`` skips it.
3. **training** — seconds per epoch at Emotify scale (:class:`benchmarks.spec.TrainSpec`:
   360 songs × 100-vector crops × 160, batch 100, cosine-Gram loss, Adadelta) through the
   package's own ``train_model`` for Keras/TensorFlow and Keras/JAX, each with
   ``reset_after=True`` (the cuDNN form) and ``False`` (the paper's form), and for the
   PyTorch twin on CUDA; the worker processes and their interleaving are those of
   ``python -m benchmarks`` (:mod:`benchmarks.harness`). A backend without CUDA support
   is skipped with the reason (a CPU figure is no GPU figure).
4. **protocol** — the full Table I protocol (:func:`semgru_keras.evaluation.cross_validate_dataset`:
   10 folds, 100 epochs, all seven systems) on the real Emotify data (``--data-root``)
   with the fastest Keras variant of step 3, in a fresh process. After the feature
   extraction it estimates the cross-validation's time from the measured epoch
   (:func:`estimate_protocol_s`) and does not start what would not end within the budget.
5. **compare** — the protocol's numbers against the committed CPU run
   (``results/emotify/results.json``): per-system fold-averaged scores and the agreement of
   the per-song predictions (:func:`compare_with_reference`).

``--budget-s`` (default 540 s = 9 min) bounds the whole command: a step that would not
fit is not started, and a watchdog ends whatever runs at the deadline; the record then
says ``"status": "stopped-at-budget"`` (exit code 3). ``--dry-run`` runs the same steps on
the CPU with tiny settings (synthetic data, a few songs, epochs and folds), in seconds; the
test suite runs it (``tests/test_benchmark_gpu.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
SCHEMA_VERSION = 1
STEPS = ("visible", "install", "training", "protocol", "compare")
DEFAULT_BUDGET_S = 540.0
DEFAULT_DATA_ROOT = ROOT.parent / "shared" / "data" / "emotify"
DEFAULT_REFERENCE = ROOT / "results" / "emotify" / "results.json"
#: The committed CPU protocol run whose per-fold stage times give the fixed (non-training) part
#: of a fold in :func:`estimate_protocol_s`.
CPU_PROTOCOL_RECORD = HERE / "results" / "2026-11-26-vm-protocol-emotify.json"
#: Exit codes: the whole run done; stopped by the budget (partial record); an error.
EXIT_DONE, EXIT_FAILED, EXIT_BUDGET = 0, 1, 3
#: Seconds before the deadline at which the watchdog stops everything and writes the record.
GRACE_S = 5.0
#: What the record lists as versions (package metadata only; nothing is imported).
GPU_PACKAGES = ("keras", "tensorflow", "jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda13-plugin", "torch",
                "nvidia-cudnn-cu12", "nvidia-cudnn-cu13", "numpy", "scikit-learn", "librosa", "soundfile")


# ---- the clock, the record and the watchdog ---------------------------------------------------


class Budget:
    """Seconds left of ``seconds`` from now, on the monotonic clock."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds, self.clock = float(seconds), clock
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()


class Record:
    """The run's JSON record, rewritten atomically after every change that matters."""

    def __init__(self, path: Path, data: dict):
        self.path, self.data = Path(path), data
        self.lock = threading.RLock()

    def save(self) -> None:
        with self.lock:
            self.data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, default=_json_default) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def _finite(x) -> float | None:
    """A float for JSON, ``None`` for NaN/inf/None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class Run:
    """What every step shares: budget, record, printing, and the child processes to stop."""

    def __init__(self, record: Record, budget: Budget):
        self.record, self.budget = record, budget
        self.children: list = []  # subprocess.Popen objects and harness.Worker objects
        self.current_step: str | None = None
        self.stopped = threading.Event()
        self._timer: threading.Timer | None = None

    def say(self, message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} (+{self.budget.elapsed():6.1f} s) {message}", flush=True)

    # -- steps --
    @contextlib.contextmanager
    def step(self, name: str):
        entry = {"name": name, "status": "running", "started_s": round(self.budget.elapsed(), 2)}
        with self.record.lock:
            self.record.data["steps"].append(entry)
            self.record.save()
        self.current_step = name
        self.say(f"[{name}] ...")
        t0 = time.perf_counter()
        try:
            yield entry
        except Exception as exc:  # a step's failure is recorded; the next steps decide what they can do
            import traceback

            entry["status"] = "failed"
            entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["traceback"] = traceback.format_exc()[-4000:]
            self.say(f"[{name}] failed: {entry['error']}")
        else:
            if entry["status"] == "running":
                entry["status"] = "done"
        finally:
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            with self.record.lock:
                self.record.data["elapsed_s"] = round(self.budget.elapsed(), 2)
                self.record.save()
            self.say(f"[{name}] {entry['status']} in {entry['seconds']:.1f} s"
                     + (f": {entry['reason']}" if entry.get("reason") else ""))
            self.current_step = None

    def skip(self, entry: dict, reason: str, budget: bool = False) -> None:
        entry["status"] = "stopped-at-budget" if budget else "skipped"
        entry["reason"] = reason
        if budget:
            self.record.data["status"] = "stopped-at-budget"

    # -- the watchdog --
    def arm(self) -> None:
        delay = max(0.0, self.budget.remaining() - GRACE_S)
        self._timer = threading.Timer(delay, self._deadline)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _deadline(self) -> None:
        """At the deadline: stop every child, write the record, leave (exit code 3)."""
        self.stopped.set()
        with self.record.lock:
            data = self.record.data
            data["status"] = "stopped-at-budget"
            data["stopped"] = {"at_s": round(self.budget.elapsed(), 2), "during": self.current_step,
                               "reason": f"the {self.budget.seconds:.0f} s budget ran out"}
            for entry in data["steps"]:
                if entry.get("status") == "running":
                    entry["status"] = "stopped-at-budget"
            data["elapsed_s"] = round(self.budget.elapsed(), 2)
            self.stop_children()
            self.record.save()
        self.say(f"! budget of {self.budget.seconds:.0f} s reached during {self.current_step}: "
                 f"stopped; partial record {self.record.path}")
        sys.stdout.flush()
        os._exit(EXIT_BUDGET)

    def stop_children(self) -> None:
        for child in list(self.children):
            proc = getattr(child, "proc", child)  # a harness.Worker or a Popen
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    if getattr(proc, "gpu_session", False):  # the protocol process and its fold workers
                        os.killpg(proc.pid, 9)
                    else:
                        proc.kill()


# ---- step 1: what is visible -----------------------------------------------------------------


def parse_nvidia_smi_query(text: str) -> list[dict]:
    """Rows of ``nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap
    --format=csv,noheader,nounits`` as dicts."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0]:
            continue
        memory = parts[2]
        gpus.append({"name": parts[0], "driver_version": parts[1],
                     "memory_total_mib": int(memory) if memory.isdigit() else memory,
                     "compute_capability": parts[3]})
    return gpus


def parse_cuda_version(text: str) -> str | None:
    """The ``CUDA Version: X.Y`` of plain ``nvidia-smi``'s header (the driver's CUDA)."""
    m = re.search(r"CUDA Version:\s*([0-9.]+)", text)
    return m.group(1) if m else None


def _run_text(cmd: list[str], timeout: float = 20.0) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def visible() -> dict:
    """GPUs by ``nvidia-smi``, the backend ``backends.py`` chooses and why, and versions."""
    from semgru_keras import backends

    from .machine import machine_info
    from semgru_keras.run import package_versions

    exe = shutil.which("nvidia-smi")
    out: dict = {"nvidia_smi": exe, "gpus": [], "cuda_driver_version": None}
    if exe:
        out["gpus"] = parse_nvidia_smi_query(_run_text(
            [exe, "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader,nounits"]))
        out["cuda_driver_version"] = parse_cuda_version(_run_text([exe]))
    out["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpu_names = backends.gpu_names()
    backend, reason = backends.choose_backend(gpu_names)
    out["backend_choice"] = {"backend": backend, "reason": reason, "keras_backend_env": os.environ.get("KERAS_BACKEND")}
    out["cuda_backends"] = backends._cuda_backends() if gpu_names else []
    out["installed"] = {m: importlib.util.find_spec(m) is not None for m in ("keras", "tensorflow", "jax", "torch")}
    out["machine"] = machine_info()
    out["versions"] = package_versions(GPU_PACKAGES)
    return out


def visible_step(run: Run, entry: dict, args) -> dict:
    seen = visible()
    run.record.data["device"] = seen
    for gpu in seen["gpus"]:
        run.say(f"  GPU {gpu['name']}, driver {gpu['driver_version']}, CUDA {seen['cuda_driver_version']}, "
                f"{gpu['memory_total_mib']} MiB")
    if not seen["gpus"]:
        run.say("  no GPU visible" + (" (dry run: CPU)" if args.dry_run else ""))
    choice = seen["backend_choice"]
    run.say(f"  backends.py chooses {choice['backend']}: {choice['reason']}")
    run.say(f"  installed: {seen['installed']}; with CUDA: {seen['cuda_backends'] or 'none'}")
    return seen


# ---- step 2: bounded installs ----------------------------------------------------------------


def auto_installs(seen: dict) -> list[str]:
    """With a GPU visible: the CUDA build of each installed Keras backend that lacks CUDA support."""
    if not seen.get("gpus"):
        return []
    cuda = set(seen.get("cuda_backends") or [])
    installed = seen.get("installed") or {}
    specs = []
    if installed.get("jax") and "jax" not in cuda:
        specs.append("jax[cuda12]")
    if "tensorflow" not in cuda:
        specs.append("tensorflow[and-cuda]")
    return specs


def bounded_install(command: list[str], timeout_s: float) -> dict:
    """Run one install command for at most ``timeout_s`` seconds (its process group is killed then)."""
    t0 = time.perf_counter()
    entry = {"command": shlex.join(command), "timeout_s": round(timeout_s, 1)}
    if timeout_s <= 0:
        return {**entry, "status": "skipped", "reason": "no time left in the budget", "seconds": 0.0}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
        status = "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        status = "timeout"
    importlib.invalidate_caches()
    return {**entry, "status": status, "returncode": proc.returncode, "seconds": round(time.perf_counter() - t0, 2),
            "output_tail": (output or "")[-1500:]}


def pip_command(spec: str) -> list[str]:
    """``pip install`` that gives up fast where no package index can be reached."""
    return [sys.executable, "-m", "pip", "install", "--quiet", "--retries", "1", "--timeout", "15", spec]


def install_step(run: Run, entry: dict, args, seen: dict) -> dict:
    """``--install`` specs (or :func:`auto_installs` on a GPU run), each bounded; returns ``seen`` updated."""
    if args.no_install:
        run.skip(entry, "--no-install")
        return seen
    specs = args.install or ([] if args.dry_run else auto_installs(seen))
    if not specs:
        run.skip(entry, "nothing to install")
        return seen
    for spec in specs:
        timeout = min(args.install_timeout_s, run.budget.remaining() - GRACE_S - 120.0)  # two minutes stay for the rest
        run.say(f"  pip install {spec} (at most {max(0.0, timeout):.0f} s) ...")
        result = {"spec": spec, **bounded_install(pip_command(spec), timeout)}
        run.record.data["installs"].append(result)
        run.say(f"  {spec}: {result['status']} in {result.get('seconds', 0):.0f} s")
        run.record.save()
    after = {k: v for k, v in visible().items() if k in ("cuda_backends", "installed", "versions")}
    run.record.data["device"]["after_install"] = after
    run.say(f"  now installed: {after['installed']}; with CUDA: {after['cuda_backends'] or 'none'}")
    return {**seen, **after}


# ---- step 3: the training epoch --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that differs between a GPU run and the dry run."""

    dry_run: bool
    train_spec: object  # benchmarks.spec.TrainSpec
    rounds: int
    epochs_per_rep: int
    protocol: dict  # dataset and EvaluationConfig overrides for the protocol child


def settings(dry_run: bool, rounds: int | None = None, epochs_per_rep: int | None = None) -> Settings:
    from .spec import TrainSpec

    if dry_run:
        spec = TrainSpec(n_songs=24, crop_length=10, batch_size=8, min_song_vectors=20, max_song_vectors=40)
        # 20 songs of 3 s with 20-vector crops, 2 folds not grouped by synthetic artist (too few for inner folds)
        protocol = {"dataset": "synthetic-gems", "dataset_options": {"n_songs": 20, "duration": 3.0, "seed": 0},
                    "quick": True,
                    "config": {"n_folds": 2, "epochs": 2, "crop_length": 20, "n_boot": 20, "use_groups": False}}
        return Settings(True, spec, rounds or 2, epochs_per_rep or 1, protocol)
    protocol = {"dataset": "emotify", "dataset_options": {}, "quick": False, "config": {}}
    return Settings(False, TrainSpec(), rounds or 3, epochs_per_rep or 3, protocol)


def plan_variants(dry_run: bool, installed: dict, cuda_backends, wanted=None) -> tuple[list, dict]:
    """The variants to time and, for the others, why not.

    Keras/TensorFlow and Keras/JAX in both GRU forms, and the PyTorch twin (on CUDA). On a GPU
    run a framework without CUDA support is skipped; the dry run times everything installed on the CPU.
    """
    from .harness import Variant

    variants, skipped = [], {}
    cuda = set(cuda_backends or [])
    for backend in ("tensorflow", "jax"):
        for reset_after in (True, False):
            name = f"{backend}{'-ra' if reset_after else ''}"
            if not installed.get("keras"):
                skipped[name] = "keras is not installed"
            elif not installed.get(backend):
                skipped[name] = f"{backend} is not installed"
            elif not dry_run and backend not in cuda:
                skipped[name] = (f"{backend} is installed without CUDA support"
                                 f" ({'jax[cuda12]' if backend == 'jax' else 'tensorflow[and-cuda]'} installs it)")
            else:
                form = "the cuDNN form" if reset_after else "the paper's form (Eqs. 9-10)"
                variants.append(Variant(name, "keras", backend, reset_after=reset_after, note=form))
    if not installed.get("torch"):
        skipped["twin"] = "torch is not installed"
    elif not dry_run and "torch" not in cuda:
        skipped["twin"] = "torch is installed without CUDA support"
    else:
        device = "cpu" if dry_run else "cuda"
        variants.append(Variant("twin", "twin", reset_after=True, train_kwargs={"device": device},
                                note=f"torch.nn.GRU on {device}"))
    if wanted:
        keep = set(wanted)
        for v in variants:
            if v.name not in keep:
                skipped[v.name] = "not asked for (--variants)"
        variants = [v for v in variants if v.name in keep]
    return variants, skipped


def on_gpu(devices) -> bool:
    """Whether a worker's reported devices include a GPU."""
    return any(str(d).lower().startswith(("gpu", "cuda")) for d in devices or [])


def fastest_keras(variants: dict, require_gpu: bool) -> str | None:
    """Name of the Keras variant with the shortest median epoch (on a GPU where asked)."""
    timed = {name: v for name, v in variants.items()
             if v.get("variant", {}).get("framework") == "keras" and v.get("median_s_per_epoch")
             and (v.get("on_gpu") or not require_gpu)}
    if not timed:
        return None
    return min(timed, key=lambda n: timed[n]["median_s_per_epoch"])


def training_step(run: Run, entry: dict, opts: Settings, args, seen: dict) -> dict | None:
    from . import harness

    if run.budget.remaining() < (5.0 if opts.dry_run else 30.0) + GRACE_S:  # worker start-up at least
        run.skip(entry, f"{run.budget.remaining():.0f} s left", budget=True)
        return None
    variants, skipped = plan_variants(opts.dry_run, seen["installed"], seen.get("cuda_backends"),
                                      [v.strip() for v in args.variants.split(",")] if args.variants else None)
    out: dict = {"spec": opts.train_spec.to_dict(), "skipped": skipped, "variants": {}}
    run.record.data["training"] = out
    for name, why in skipped.items():
        run.say(f"  - {name}: skipped ({why})")
    if not variants:
        run.skip(entry, "nothing to time: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        return out
    # Several processes share one GPU: take memory as needed, not all of it up front.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    log_dir = Path(tempfile.mkdtemp(prefix="semgru-gpu-logs-"))
    out["log_dir"] = str(log_dir)
    run.say(f"  starting {len(variants)} workers: {', '.join(v.name for v in variants)}")
    workers, failures = harness.start_workers(variants, log_dir, run.say)
    run.children.extend(workers)
    if failures:
        out["worker_failures"] = failures
    try:
        for w in workers:
            run.say(f"  {w.variant.name}: {w.info.get('framework')} on {w.info.get('devices') or ['cpu']}")
        run.record.save()
        training = harness.run_training(workers, opts.train_spec, opts.rounds, opts.epochs_per_rep,
                                        warmup_epochs=1, say=run.say)
        harness.add_ratios(training)
    finally:
        for w in workers:
            w.close()
    for w in workers:
        res = training["variants"].get(w.variant.name, {})
        devices = w.info.get("devices") or (["cuda"] if w.info.get("cuda") and w.variant.framework == "twin"
                                            and not opts.dry_run else ["cpu"])
        res.update({"devices": devices, "on_gpu": on_gpu(devices), "versions": w.info.get("versions")})
    out.update({k: v for k, v in training.items() if k != "spec"})
    out["fastest_keras"] = fastest_keras(out["variants"], require_gpu=not opts.dry_run)
    timed = {n: v["median_s_per_epoch"] for n, v in out["variants"].items() if v.get("median_s_per_epoch")}
    out["fastest"] = min(timed, key=timed.get) if timed else None
    for name, s in sorted(timed.items(), key=lambda kv: kv[1]):
        run.say(f"  {name:16s} {s:.4f} s/epoch" + ("" if out["variants"][name]["on_gpu"] else "  (CPU)"))
    return out


# ---- step 4: the protocol --------------------------------------------------------------------


def fixed_seconds_per_fold(record_path: Path = CPU_PROTOCOL_RECORD) -> float:
    """A fold's time outside GRU training (embedding, SVR/SVM searches, prediction), from the
    committed CPU protocol record (its folds ran in one-thread worker processes)."""
    record = json.loads(Path(record_path).read_text())
    stages = record["parallel_stage_seconds"]
    n_folds = int(re.search(r"(\d+) folds", record["workload"]).group(1))
    total = sum(seconds for system, per in stages.items() if system not in ("extraction", "report")
                for stage, seconds in per.items() if stage != "train")
    return total / n_folds


def estimate_protocol_s(epoch_s: float, *, n_songs: int, spec_songs: int, n_folds: int, epochs: int,
                        crops_per_song: int = 1, gru_systems: int = 2, n_workers: int = 1,
                        fixed_per_fold_s: float = 0.0, compile_s: float = 0.0) -> float:
    """Cross-validation time from the measured epoch: deliberately on the safe side.

    Every fold trains ``gru_systems`` networks (SE-GRU, standard GRU) for ``epochs`` epochs on
    ``(n_folds − 1) / n_folds`` of the songs; an epoch of ``spec_songs`` songs took ``epoch_s``,
    and building and compiling a network ``compile_s`` (the first epoch's extra time). The GPU
    is counted as serving the networks of parallel folds one after another (no overlap); the
    CPU part of a fold (``fixed_per_fold_s``) and the compilations run in ``n_workers``
    processes side by side.
    """
    train_songs = n_songs * (n_folds - 1) / n_folds
    per_network = epochs * crops_per_song * epoch_s * train_songs / spec_songs
    waves = math.ceil(n_folds / max(1, n_workers))
    return n_folds * gru_systems * per_network + waves * (fixed_per_fold_s + gru_systems * compile_s)


def protocol_settings(opts: Settings, reset_after: bool) -> dict:
    """``n_folds``, ``epochs``, ``crops_per_song`` and the overrides of the protocol's
    :class:`~semgru_keras.protocol.EvaluationConfig` (built in the protocol process: the
    coordinator never imports Keras)."""
    from semgru_keras.presets import MODES, PAPER

    overrides = dict(opts.protocol["config"], reset_after=reset_after)
    mode = MODES["quick" if opts.protocol["quick"] else "full"]
    return {"quick": opts.protocol["quick"], "overrides": overrides,
            "n_folds": overrides.get("n_folds", mode["n_folds"]), "epochs": overrides.get("epochs", mode["epochs"]),
            "crops_per_song": overrides.get("crops_per_song", PAPER.crops_per_song)}


def protocol_step(run: Run, entry: dict, opts: Settings, args, training: dict | None, results_path: Path) -> dict:
    out: dict = {}
    run.record.data["protocol"] = out
    variants = (training or {}).get("variants") or {}
    name = args.protocol_variant or (training or {}).get("fastest_keras")
    if not name or name not in variants or not variants[name].get("median_s_per_epoch"):
        run.skip(entry, f"no Keras variant was timed{' on the GPU' if not opts.dry_run else ''}, "
                        "so there is no backend to run it with" if not args.protocol_variant
                 else f"variant {name!r} was not timed")
        return out
    chosen = variants[name]
    backend, reset_after = chosen["variant"]["backend"], bool(chosen["variant"]["reset_after"])
    if not opts.dry_run and not (Path(args.data_root) / "data.csv").is_file():
        run.skip(entry, f"no Emotify data at {args.data_root} (data.csv missing): give --data-root")
        return out
    from .machine import usable_cores

    settings_ = protocol_settings(opts, reset_after)
    n_jobs = args.n_jobs or (1 if opts.dry_run else min(usable_cores(), settings_["n_folds"]))
    fixed = args.fixed_per_fold_s if args.fixed_per_fold_s is not None else (
        1.0 if opts.dry_run else fixed_seconds_per_fold())
    first = (chosen.get("warmup_epoch_s") or [chosen["median_s_per_epoch"]])[0]
    compile_s = max(0.0, first - chosen["median_s_per_epoch"])
    out.update({"variant": name, "label": chosen.get("label"), "backend": backend, "reset_after": reset_after,
                "epoch_s": chosen["median_s_per_epoch"], "compile_s": round(compile_s, 2), "n_jobs": n_jobs, "fixed_per_fold_s": round(fixed, 2),
                "data_root": None if opts.dry_run else str(args.data_root), "dataset": opts.protocol["dataset"],
                "config_overrides": settings_["overrides"], "results_file": str(results_path)})
    child_spec = {
        "backend": backend, "dataset": opts.protocol["dataset"], "root": out["data_root"],
        "dataset_options": opts.protocol["dataset_options"], "quick": settings_["quick"],
        "config_overrides": settings_["overrides"], "n_jobs": n_jobs,
        "epoch_s": chosen["median_s_per_epoch"], "spec_songs": opts.train_spec.n_songs, "fixed_per_fold_s": fixed,
        "compile_s": compile_s,
        "deadline_unix": time.time() + run.budget.remaining() - GRACE_S - 5.0, "results": str(results_path),
    }
    # A first look before any work: the training part alone must fit (extraction not counted yet).
    n_songs_guess = 400 if not opts.dry_run else opts.protocol["dataset_options"]["n_songs"]
    guess = estimate_protocol_s(chosen["median_s_per_epoch"], n_songs=n_songs_guess, spec_songs=opts.train_spec.n_songs,
                                n_folds=settings_["n_folds"], epochs=settings_["epochs"],
                                crops_per_song=settings_["crops_per_song"], n_workers=n_jobs, fixed_per_fold_s=fixed,
                                compile_s=compile_s)
    out["estimate_before_start_s"] = round(guess, 1)
    left = run.budget.remaining() - GRACE_S
    if guess > left:
        run.skip(entry, f"estimated {guess:.0f} s for the cross-validation alone, {left:.0f} s left", budget=True)
        return out
    run.say(f"  {name} ({out['label']}), {n_jobs} fold processes; estimated {guess:.0f} s, {left:.0f} s left")
    spec_path = results_path.with_name(results_path.stem + ".child.json")
    status_path = results_path.with_name(results_path.stem + ".status.json")
    child_spec["status"] = str(status_path)
    spec_path.write_text(json.dumps(child_spec))
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.gpu", "--child-protocol", str(spec_path)],
                            cwd=ROOT, env=env, start_new_session=True)
    proc.gpu_session = True  # its own process group: stopping it stops its fold workers too
    run.children.append(proc)
    try:
        rc = proc.wait(timeout=max(1.0, run.budget.remaining() - GRACE_S))
    except subprocess.TimeoutExpired:  # the watchdog normally comes first
        os.killpg(proc.pid, 9)
        rc = proc.wait()
    status = json.loads(status_path.read_text()) if status_path.is_file() else {}
    out.update(status)
    out["returncode"] = rc
    with contextlib.suppress(OSError):
        spec_path.unlink()
        status_path.unlink()
    if status.get("status") == "skipped":
        run.skip(entry, status.get("reason", "skipped by the protocol process"), budget=True)
    elif rc != 0 or status.get("status") != "done":
        raise RuntimeError(f"the protocol process ended with {rc} ({status.get('status', 'no status')})")
    return out


def run_protocol_child(spec_path: str) -> int:
    """The protocol in this (fresh) process: extraction, estimate, cross-validation, summary."""
    spec = json.loads(Path(spec_path).read_text())
    status_path = Path(spec["status"])
    started = time.perf_counter()

    def write(**status):
        status_path.write_text(json.dumps(status, default=_json_default))

    def say(message):
        print(f"{time.strftime('%H:%M:%S')}   protocol: {message}", flush=True)

    os.environ["KERAS_BACKEND"] = spec["backend"]
    import keras
    import numpy as np

    from semgru_keras.data import load_dataset
    from semgru_keras.evaluation import EvaluationConfig, cross_validate_dataset
    from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features

    from .worker import backend_devices

    devices = backend_devices(keras.backend.backend())
    say(f"Keras {keras.__version__} on {keras.backend.backend()} ({devices})")
    overrides = spec["config_overrides"]
    config = EvaluationConfig.quick(**overrides) if spec["quick"] else EvaluationConfig(**overrides)
    n_jobs = int(spec["n_jobs"])
    ds = load_dataset(spec["dataset"], root=spec.get("root"), **spec.get("dataset_options", {}))
    t0 = time.perf_counter()
    ds.sequences(progress=False, n_jobs=n_jobs, min_length=config.crop_length)
    ds.map_audio(handcrafted_features, key=HANDCRAFTED_KEY, progress=False, n_jobs=n_jobs)
    extraction = time.perf_counter() - t0
    estimate = estimate_protocol_s(spec["epoch_s"], n_songs=len(ds), spec_songs=spec["spec_songs"],
                                   n_folds=config.n_folds, epochs=config.epochs, crops_per_song=config.crops_per_song,
                                   n_workers=n_jobs, fixed_per_fold_s=spec["fixed_per_fold_s"],
                                   compile_s=spec["compile_s"])
    left = spec["deadline_unix"] - time.time()
    common = {"keras_backend": keras.backend.backend(), "devices": devices, "n_songs": len(ds),
              "extraction_s": round(extraction, 2), "estimate_s": round(estimate, 1), "left_at_start_s": round(left, 1)}
    say(f"{len(ds)} songs, features in {extraction:.1f} s; cross-validation estimated {estimate:.0f} s, {left:.0f} s left")
    if estimate > left:
        write(status="skipped", reason=f"estimated {estimate:.0f} s for the cross-validation, {left:.0f} s left", **common)
        return 0
    write(status="running", **common)
    t0 = time.perf_counter()
    results = cross_validate_dataset(ds, config, n_jobs=n_jobs, progress=False)
    protocol_s = time.perf_counter() - t0
    results.save(spec["results"])
    stages = {system: {stage: round(float(np.sum(v)), 2) for stage, v in per.items()}
              for system, per in results.stage_seconds.items()}
    scores = {s: _finite(results.score(s)) for s in results.systems}
    say(f"cross-validation {protocol_s:.1f} s: " + ", ".join(f"{s} {v:.3f}" for s, v in scores.items() if v is not None))
    write(status="done", config=config.to_dict(), protocol_s=round(protocol_s, 2), wall_seconds=round(results.wall_seconds, 2),
          metric=results.metric_name, scores=scores, stage_seconds=stages,
          seconds_per_fold={s: round(float(np.mean(v)), 2) for s, v in results.fit_seconds.items()},
          child_s=round(time.perf_counter() - started, 2), **common)
    return 0


# ---- step 5: comparison with the committed CPU run -------------------------------------------


def _pearson(a, b) -> float | None:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return _finite(np.corrcoef(a, b)[0, 1])


def compare_with_reference(run_results, reference) -> dict:
    """The protocol's numbers against a reference run of the same songs (:class:`CVResults` both).

    Per system present in both: the fold-averaged score of each run and their difference,
    and the agreement of the out-of-fold predictions, song by song — Pearson r between the
    two runs' predictions over songs for each target (and their mean), the mean and lowest
    r over songs between the two prediction vectors of a song, and the largest absolute
    difference (regression); the share of songs given the same class (classification).
    Songs are matched by id.
    """
    import numpy as np

    ids_run, ids_ref = [str(i) for i in run_results.ids], [str(i) for i in reference.ids]
    if sorted(ids_run) != sorted(ids_ref):
        raise ValueError(f"the runs hold different songs ({len(ids_run)} vs {len(ids_ref)}; "
                         f"{len(set(ids_run) ^ set(ids_ref))} differ)")
    position = {i: k for k, i in enumerate(ids_ref)}
    order = np.array([position[i] for i in ids_run])
    out = {"n_songs": len(ids_run), "metric": run_results.metric_name,
           "same_folds": bool(np.array_equal(np.asarray(run_results.folds), np.asarray(reference.folds)[order])),
           "same_targets": bool(np.allclose(np.asarray(run_results.y_true, dtype=float),
                                            np.asarray(reference.y_true, dtype=float)[order]))
           if run_results.task == "regression" else bool(np.array_equal(run_results.y_true, reference.y_true[order])),
           "reset_after": {"run": run_results.config.get("reset_after"), "reference": reference.config.get("reset_after")},
           "systems": {}}
    for system in run_results.systems:
        if system not in reference.predictions:
            continue
        a = np.asarray(run_results.predictions[system])
        b = np.asarray(reference.predictions[system])[order]
        score_run, score_ref = _finite(run_results.score(system)), _finite(reference.score(system))
        row = {"score_run": score_run, "score_reference": score_ref,
               "difference": None if score_run is None or score_ref is None else score_run - score_ref}
        if run_results.task == "regression":
            a2, b2 = a.reshape(len(a), -1).astype(float), b.reshape(len(b), -1).astype(float)
            per_target = [_pearson(a2[:, j], b2[:, j]) for j in range(a2.shape[1])]
            per_song = [r for r in (_pearson(a2[i], b2[i]) for i in range(len(a2))) if r is not None]
            valid = [r for r in per_target if r is not None]
            row.update({
                "per_target_r": dict(zip(run_results.target_names, per_target)),
                "mean_per_target_r": _finite(np.mean(valid)) if valid else None,
                "per_song_r_mean": _finite(np.mean(per_song)) if per_song else None,
                "per_song_r_min": _finite(np.min(per_song)) if per_song else None,
                "max_abs_difference": _finite(np.max(np.abs(a2 - b2))),
                "identical": bool(np.array_equal(a2, b2)),
            })
        else:
            row.update({"same_class_share": float(np.mean(a == b)), "identical": bool(np.array_equal(a, b))})
        out["systems"][system] = row
    return out


def compare_step(run: Run, entry: dict, opts: Settings, args, results_path: Path) -> dict:
    out: dict = {}
    run.record.data["comparison"] = out
    if not results_path.is_file():
        run.skip(entry, "the protocol produced no results")
        return out
    from semgru_keras.results import CVResults

    mine = CVResults.load(results_path)
    if args.reference:
        reference_path = Path(args.reference)
    elif opts.dry_run:
        reference_path = results_path  # synthetic data have no CPU record: the path is exercised on itself
    else:
        reference_path = DEFAULT_REFERENCE
    out["reference"] = str(reference_path)
    if opts.dry_run and reference_path == results_path:
        out["note"] = "dry run: compared with itself (no CPU record exists for the synthetic set)"
    if not reference_path.is_file():
        run.skip(entry, f"no reference results at {reference_path}")
        return out
    reference = CVResults.load(reference_path)
    try:
        out.update(compare_with_reference(mine, reference))
    except ValueError as exc:
        run.skip(entry, f"{reference_path} is another data set: {exc}")
        return out
    for system, row in out["systems"].items():
        run.say(f"  {system:22s} run {row['score_run']:.3f}  reference {row['score_reference']:.3f}  "
                + (f"per-target r {row['mean_per_target_r']:.3f}" if row.get("mean_per_target_r") is not None else ""))
    return out


# ---- the command -----------------------------------------------------------------------------


def default_output(dry_run: bool, gpus: list[dict]) -> Path:
    if dry_run:
        return ROOT / "runs" / "gpu-dry-run.json"
    name = gpus[0]["name"] if gpus else "no-gpu"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-").lower()
    return HERE / "results" / f"{time.strftime('%Y-%m-%d')}-gpu-{slug}.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU with tiny settings")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S,
                        help=f"the whole command's time, installs included (default {DEFAULT_BUDGET_S:.0f})")
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT), help="Emotify folder (data.csv, emotifymusic/)")
    parser.add_argument("--reference", help=f"CPU results.json to compare with (default {DEFAULT_REFERENCE.relative_to(ROOT)})")
    parser.add_argument("--out", help="the record (default benchmarks/results/<date>-gpu-<gpu>.json; "
                                      "dry run: runs/gpu-dry-run.json); the protocol's results go beside it")
    parser.add_argument("--install", action="append", metavar="SPEC",
                        help="pip install SPEC first, bounded in time (repeatable; default: the CUDA builds of "
                             "installed backends that lack them, with a GPU visible)")
    parser.add_argument("--no-install", action="store_true", help="install nothing")
    parser.add_argument("--install-timeout-s", type=float, default=180.0, help="at most this long per install")
    parser.add_argument("--variants", help="only these training variants (tensorflow-ra,tensorflow,jax-ra,jax,twin)")
    parser.add_argument("--rounds", type=int, help="interleaved repetitions (default 3; dry run 2)")
    parser.add_argument("--epochs-per-rep", type=int, help="epochs per repetition (default 3; dry run 1)")
    parser.add_argument("--protocol-variant", help="run the protocol with this variant, not the fastest Keras one")
    parser.add_argument("--n-jobs", type=int, help="fold processes of the protocol (default min(cores, 10); dry run 1)")
    parser.add_argument("--fixed-per-fold-s", type=float,
                        help="a fold's time outside GRU training, for the estimate (default: from the committed "
                             "CPU protocol record)")
    parser.add_argument("--child-protocol", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child_protocol:
        return run_protocol_child(args.child_protocol)
    budget = Budget(args.budget_s)
    command = "python -m benchmarks.gpu" + (" " + shlex.join(argv if argv is not None else sys.argv[1:])).rstrip()
    data = {"schema_version": SCHEMA_VERSION, "command": command, "dry_run": bool(args.dry_run), "status": "running",
            "budget_s": budget.seconds, "elapsed_s": 0.0, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "steps": [], "device": {}, "installs": [], "training": {}, "protocol": {}, "comparison": {}}
    # The record's path depends on the GPU's name: look before the first write.
    from semgru_keras.backends import gpu_names

    out = Path(args.out) if args.out else default_output(args.dry_run, [{"name": n} for n in gpu_names()])
    results_path = out.with_name(out.stem + ".results.json")
    record = Record(out, data)
    run = Run(record, budget)
    run.say(f"semgru-keras GPU benchmark{' (dry run, CPU, tiny settings)' if args.dry_run else ''}; "
            f"budget {budget.seconds:.0f} s; record {out}")
    record.save()
    run.arm()
    opts = settings(args.dry_run, args.rounds, args.epochs_per_rep)
    state: dict = {"seen": {"installed": {}, "cuda_backends": []}, "training": None}
    steps = {
        "visible": lambda entry: state.update(seen=visible_step(run, entry, args)),
        "install": lambda entry: state.update(seen=install_step(run, entry, args, state["seen"])),
        "training": lambda entry: state.update(training=training_step(run, entry, opts, args, state["seen"])),
        "protocol": lambda entry: protocol_step(run, entry, opts, args, state["training"], results_path),
        "compare": lambda entry: compare_step(run, entry, opts, args, results_path),
    }
    try:
        for name in STEPS:
            if data["status"] == "stopped-at-budget":
                data["steps"].append({"name": name, "status": "not-started", "reason": "the budget stopped the run"})
                continue
            with run.step(name) as entry:
                steps[name](entry)
    except BaseException:  # e.g. Ctrl-C: the protocol process runs in its own session
        run.stop_children()
        raise
    finally:
        run.disarm()
    with record.lock:
        if data["status"] == "running":
            failed = [s["name"] for s in data["steps"] if s["status"] == "failed"]
            data["status"] = "failed" if failed else "complete"
        data["elapsed_s"] = round(budget.elapsed(), 2)
        record.save()
    run.say(f"{data['status']}: {out}")
    return {"complete": EXIT_DONE, "stopped-at-budget": EXIT_BUDGET}.get(data["status"], EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
