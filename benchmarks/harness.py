"""The coordinator's side of the worker processes, and the interleaved training/embedding stages."""

from __future__ import annotations

import json
import os
import selectors
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .spec import EmbedSpec, TrainSpec, embedding_flops, training_flops_per_epoch

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Variant:
    """One thing to time: a Keras backend with settings, or the PyTorch twin."""

    name: str
    framework: str  # "keras" or "twin"
    backend: str | None = None  # KERAS_BACKEND
    reset_after: bool = False
    compile: dict = field(default_factory=dict)  # extra model.compile() settings
    train_kwargs: dict = field(default_factory=dict)  # extra train_model() keywords
    note: str = ""
    explore_keep_mask: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "framework": self.framework, "backend": self.backend,
                "reset_after": self.reset_after, "compile": dict(self.compile),
                "train_kwargs": dict(self.train_kwargs), "note": self.note,
                "explore_keep_mask": self.explore_keep_mask}

    @property
    def label(self) -> str:
        if self.framework == "twin":
            return "PyTorch twin (nn.GRU)"
        parts = [f"Keras/{self.backend}", "reset_after=True" if self.reset_after else "reset_after=False"]
        parts += [f"{k}={v}" for k, v in self.compile.items()]
        parts += [f"{k}={v}" for k, v in self.train_kwargs.items()]
        if self.explore_keep_mask:
            parts.append("training through the padding mask (diagnostic)")
        return ", ".join(parts)


class WorkerError(RuntimeError):
    pass


class Worker:
    """A ``python -m benchmarks.worker`` process driven over JSON lines."""

    def __init__(self, variant: Variant, log_dir: Path, threads: int | None = None):
        self.variant = variant
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env["PYTHONUNBUFFERED"] = "1"
        if variant.backend:
            env["KERAS_BACKEND"] = variant.backend
        if threads:
            # Pin every framework's intra-op pool (OpenMP/oneDNN for torch and TF's CPU
            # kernels, Eigen for XLA); the worker also calls the frameworks' own setters.
            n = str(int(threads))
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                        "TF_NUM_INTRAOP_THREADS", "BENCH_THREADS"):
                env[var] = n
            env["TF_NUM_INTEROP_THREADS"] = "1"
            if int(threads) == 1:
                env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                    " intra_op_parallelism_threads=1").strip()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{variant.name}.log"
        self._log = open(self.log_path, "w")
        args = [sys.executable, "-m", "benchmarks.worker", "twin" if variant.framework == "twin" else "keras"]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=False)
        self._buffer = b""
        self.info: dict = {}

    def send(self, **command) -> None:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def recv(self, timeout: float = 900.0) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise WorkerError(f"{self.variant.name}: no reply in {timeout:.0f} s (log: {self.log_path})")
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(remaining):
                    continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerError(f"{self.variant.name}: worker exited (rc={self.proc.poll()}); "
                                  f"last log lines:\n{self.log_tail()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        if message.get("event") == "error":
            raise WorkerError(f"{self.variant.name}: {message.get('message')} (log: {self.log_path})")
        return message

    def request(self, expect: str, timeout: float = 900.0, **command) -> dict:
        self.send(**command)
        reply = self.recv(timeout)
        if reply.get("event") != expect:
            raise WorkerError(f"{self.variant.name}: expected {expect!r}, got {reply}")
        return reply

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(op="quit")
                self.proc.wait(timeout=30)
            except Exception:
                self.kill()
        self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_workers(variants: list[Variant], log_dir: Path, say, threads: int | None = None
                  ) -> tuple[list[Worker], list[dict]]:
    """Start every worker (imports run in parallel); drop the ones that fail, and say why."""
    workers, failures = [], []
    for v in variants:
        workers.append(Worker(v, log_dir, threads))
    ready = []
    for w in workers:
        try:
            w.info = w.recv(timeout=300)
            ready.append(w)
        except WorkerError as exc:
            say(f"  ! {w.variant.name} did not start: {exc}")
            failures.append({"variant": w.variant.name, "error": str(exc)})
            w.kill()
    return ready, failures


def _median(xs):
    return statistics.median(xs) if xs else None


def run_training(workers: list[Worker], spec: TrainSpec, rounds: int, epochs_per_rep: int, warmup_epochs: int,
                 say) -> dict:
    """Warm every variant up (compile + ``warmup_epochs``), then ``rounds`` round-robin repetitions
    of ``epochs_per_rep`` epochs each; the order rotates every round."""
    results: dict[str, dict] = {}
    active = []
    for w in workers:
        say(f"  warming up {w.variant.name} ...")
        try:
            reply = w.request("warm", timeout=900, op="train", variant=w.variant.to_dict(), spec=spec.to_dict(),
                              warmup_epochs=warmup_epochs)
        except WorkerError as exc:
            say(f"  ! {w.variant.name}: {exc}")
            results[w.variant.name] = {"error": str(exc)}
            continue
        results[w.variant.name] = {"variant": w.variant.to_dict(), "label": w.variant.label, "build_s": reply["build_s"],
                                   "warmup_epoch_s": reply["warmup_epoch_s"], "jit_compile": reply.get("jit_compile"),
                                   "reps": []}
        active.append(w)
    for r in range(rounds):
        order = active[r % len(active):] + active[: r % len(active)] if active else []
        for w in order:
            try:
                reply = w.request("rep", timeout=900, op="epochs", n=epochs_per_rep)
            except WorkerError as exc:
                say(f"  ! {w.variant.name}: {exc}")
                results[w.variant.name]["error"] = str(exc)
                active.remove(w)
                continue
            results[w.variant.name]["reps"].append({"round": r, "epoch_s": reply["epoch_s"], "wall_s": reply["wall_s"],
                                                    "cpu_s": reply.get("cpu_s"), "loss": reply.get("loss")})
        say(f"  round {r + 1}/{rounds} (s/epoch, wall|cpu): " + ", ".join(
            f"{w.variant.name} {results[w.variant.name]['reps'][-1]['wall_s'] / epochs_per_rep:.3f}"
            f"|{results[w.variant.name]['reps'][-1]['cpu_s'] / epochs_per_rep:.3f}"
            for w in active if results[w.variant.name]["reps"]))
    for w in active:
        try:
            w.request("stopped", timeout=300, op="stop")
        except WorkerError as exc:
            say(f"  ! {w.variant.name}: {exc}")
    flops = training_flops_per_epoch(spec)
    for name, res in results.items():
        reps = res.get("reps") or []
        per_epoch = [rep["wall_s"] / len(rep["epoch_s"]) for rep in reps]
        res["seconds_per_epoch"] = per_epoch
        res["median_s_per_epoch"] = _median(per_epoch)
        cpu = [rep["cpu_s"] / len(rep["epoch_s"]) for rep in reps if rep.get("cpu_s") is not None]
        res["cpu_seconds_per_epoch"] = cpu
        res["median_cpu_s_per_epoch"] = _median(cpu)
        res["gflop_per_s"] = flops / res["median_s_per_epoch"] / 1e9 if per_epoch else None
    return {"spec": spec.to_dict(), "flops_per_epoch": flops, "rounds": rounds, "epochs_per_rep": epochs_per_rep,
            "warmup_epochs": warmup_epochs, "variants": results}


def add_ratios(training: dict, twin: str = "twin") -> None:
    """Keras/twin ratio per variant: the median over rounds of (variant rep / twin rep of the same round)."""
    variants = training["variants"]
    base = variants.get(twin)
    if not base or not base.get("reps"):
        return
    twin_by_round = {rep["round"]: rep["wall_s"] / len(rep["epoch_s"]) for rep in base["reps"]}
    for name, res in variants.items():
        if name == twin or not res.get("reps"):
            continue
        ratios = [rep["wall_s"] / len(rep["epoch_s"]) / twin_by_round[rep["round"]]
                  for rep in res["reps"] if rep["round"] in twin_by_round]
        res["ratio_to_twin_per_round"] = ratios
        res["ratio_to_twin"] = _median(ratios)


def run_embedding(workers: list[Worker], spec: EmbedSpec, rounds: int, say, overrides=None) -> dict:
    """``rounds`` interleaved passes over every song per variant. ``overrides`` maps a variant
    name to fewer ``n_songs`` / ``rounds`` for variants too slow for the full pass."""
    from dataclasses import replace

    overrides = overrides or {}
    results: dict[str, dict] = {}
    active, specs, n_rounds = [], {}, {}
    for w in workers:
        o = overrides.get(w.variant.name, {})
        specs[w.variant.name] = replace(spec, n_songs=min(spec.n_songs, o.get("n_songs", spec.n_songs)))
        n_rounds[w.variant.name] = min(rounds, o.get("rounds", rounds))
        say(f"  embedding setup {w.variant.name} ...")
        try:
            reply = w.request("embed_ready", timeout=900, op="embed_setup", variant=w.variant.to_dict(),
                              spec=specs[w.variant.name].to_dict())
        except WorkerError as exc:
            say(f"  ! {w.variant.name}: {exc}")
            results[w.variant.name] = {"error": str(exc)}
            continue
        results[w.variant.name] = {"variant": w.variant.to_dict(), "label": w.variant.label,
                                   "setup_s": reply["setup_s"], "n_songs": specs[w.variant.name].n_songs, "wall_s": []}
        active.append(w)
    for r in range(rounds):
        order = active[r % len(active):] + active[: r % len(active)] if active else []
        for w in order:
            if r >= n_rounds[w.variant.name]:
                continue
            try:
                reply = w.request("embed", timeout=900, op="embed")
            except WorkerError as exc:
                say(f"  ! {w.variant.name}: {exc}")
                results[w.variant.name]["error"] = str(exc)
                active.remove(w)
                continue
            results[w.variant.name]["wall_s"].append(reply["wall_s"])
            results[w.variant.name].setdefault("cpu_s", []).append(reply.get("cpu_s"))
        say(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{w.variant.name} {specs[w.variant.name].n_songs / results[w.variant.name]['wall_s'][-1]:.1f} songs/s"
            for w in active if len(results[w.variant.name]["wall_s"]) == r + 1))
    flops = embedding_flops(spec)
    for name, res in results.items():
        if res.get("wall_s"):
            med = _median(res["wall_s"])
            n = res["n_songs"]
            res["median_wall_s"] = med
            res["songs_per_s"] = n / med
            res["seconds_for_all_songs"] = spec.n_songs * med / n
            res["gflop_per_s"] = flops * n / spec.n_songs / med / 1e9
    return {"spec": spec.to_dict(), "flops": flops, "rounds": rounds, "variants": results}


def matmul_rates(workers: list[Worker], say, n: int = 2048) -> dict:
    """Each framework's own float32 GEMM rate (one worker per framework/backend)."""
    rates, seen = {}, set()
    for w in workers:
        key = w.variant.backend or w.variant.framework
        if key in seen:
            continue
        seen.add(key)
        try:
            rates[w.info.get("framework", key)] = w.request("matmul", timeout=300, op="matmul", n=n)["flops_per_s"]
        except WorkerError as exc:
            say(f"  ! matmul in {w.variant.name}: {exc}")
    return rates
