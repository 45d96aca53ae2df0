"""One benchmark worker process: a Keras backend (``KERAS_BACKEND``) or the PyTorch twin.

Keras fixes its backend at import, so the coordinator (``python -m benchmarks``) starts one
``python -m benchmarks.worker`` per variant and drives them all over pipes, one at a time,
in round robin, so that repetitions of every variant are interleaved in time and see the
same machine load. The protocol is one JSON object per line: commands on stdin, replies on
the original stdout (everything the frameworks print is sent to stderr, i.e. to the log).

Commands (``op``)
-----------------
``info``        versions, thread counts
``matmul``      the framework's float32 GEMM rate, FLOP/s (``n``: matrix size)
``train``       build the model and start training through the package's own path:
                ``semgru_keras.training.train_model`` (a ``CropSequence`` and ``model.fit``)
                for Keras, :class:`benchmarks.twin.TwinTrainer` for the twin. After
                ``warmup_epochs`` it replies ``warm`` and then waits *between epochs* for
``epochs``      run ``n`` more epochs, reply with their wall times
``stop``        end training (``model.stop_training``)
``embed_setup`` build a model and the full-length songs, compile every batch shape
``embed``       embed every song once (``semgru_keras.training.embed`` / the twin's loop)
``quit``
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time


class Channel:
    """JSON lines on the original stdout; frameworks' own prints go to stderr."""

    def __init__(self):
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, **message) -> None:
        self._out.write(json.dumps(message) + "\n")
        self._out.flush()

    def recv(self) -> dict:
        line = sys.stdin.readline()
        if not line:
            return {"op": "quit"}
        return json.loads(line)


def _matmul_rate(framework: str, n: int = 2048, repeats: int = 5) -> float:
    """Best of ``repeats`` timings of an n×n float32 product in the framework's own op."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    if framework == "twin":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)

        def run():
            return torch.mm(ta, tb)

        sync = lambda r: r  # noqa: E731  (CPU: synchronous)
    else:
        from keras import ops

        ka, kb = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
        matmul = ops.matmul
        if os.environ.get("KERAS_BACKEND") == "jax":
            import jax

            matmul = jax.jit(lambda x, y: x @ y)

        def run():
            return matmul(ka, kb)

        sync = lambda r: ops.convert_to_numpy(r)  # noqa: E731
    sync(run())
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        sync(run())
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def backend_devices(backend: str) -> list[str]:
    """The devices the backend computes on (a GPU shows here only when its CUDA build works)."""
    try:
        if backend == "jax":
            import jax

            return [f"{d.platform}:{getattr(d, 'device_kind', d)}" for d in jax.devices()]
        if backend == "tensorflow":
            import tensorflow as tf

            return ["cpu"] + [f"gpu:{d.name}" for d in tf.config.list_physical_devices("GPU")]
        import torch

        return ["cpu"] + [f"cuda:{torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    except Exception as exc:  # noqa: BLE001 - report, never fail the worker's start
        return [f"unknown ({type(exc).__name__}: {exc})"]


class _KerasSide:
    """Everything that touches Keras: imported only in Keras workers."""

    def __init__(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        self.keras = keras

    def info(self) -> dict:
        keras = self.keras
        backend = keras.backend.backend()
        versions = {"keras": keras.__version__}
        module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
        versions[backend] = __import__(module).__version__
        if backend == "jax":
            import jaxlib

            versions["jaxlib"] = jaxlib.__version__
        threads = None
        if backend == "torch":
            import torch

            threads = torch.get_num_threads()
        return {"framework": f"keras-{backend}", "versions": versions, "torch_threads": threads,
                "devices": backend_devices(backend)}

    def build(self, variant: dict, spec):
        from semgru_keras.model import build_feature_model

        model = build_feature_model(
            input_dim=spec.input_dim,
            units=tuple(spec.units),
            reset_after=bool(variant.get("reset_after", False)),
            seed=0,
        )
        import semgru_keras.training as training

        make_view = training.__dict__.setdefault("_bench_original_view", training.without_padding_mask)
        if variant.get("explore_keep_mask"):
            make_view = lambda m: m  # noqa: E731  (diagnostic: train the masked model itself)
        overrides = variant.get("compile") or {}

        def view(m):
            # Benchmark-only: train_model's own path, with extra compile() settings where asked.
            v = make_view(m)
            if overrides:
                import functools

                object.__setattr__(v, "compile", functools.partial(type(v).compile, v, **overrides))
            return v

        training.without_padding_mask = view
        return model

    def train(self, chan: Channel, variant: dict, spec, warmup_epochs: int) -> None:
        from semgru_keras.training import train_model

        from .spec import training_data

        keras = self.keras
        t0 = time.perf_counter()
        sequences, targets = training_data(spec)
        model = self.build(variant, spec)
        build_s = time.perf_counter() - t0
        extra = dict(variant.get("train_kwargs") or {})

        class Interleave(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epoch_times: list[float] = []
                self.remaining = warmup_epochs
                self.started = time.perf_counter()
                self.mark = self.started
                self.warm = False

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                self.epoch_times.append(now - self.mark)
                self.mark = now
                self.remaining -= 1
                if self.remaining > 0:
                    return
                if not self.warm:
                    self.warm = True
                    chan.send(
                        event="warm",
                        build_s=build_s,
                        warmup_epoch_s=self.epoch_times,
                        loss=float((logs or {}).get("loss", float("nan"))),
                        jit_compile=str(getattr(self.model, "jit_compile", None)),
                    )
                else:
                    chan.send(event="rep", epoch_s=self.epoch_times, wall_s=now - self.started,
                              cpu_s=time.process_time() - self.cpu_started,
                              loss=float((logs or {}).get("loss", float("nan"))))
                command = chan.recv()
                if command.get("op") != "epochs":
                    self.model.stop_training = True
                    return
                self.remaining = int(command["n"])
                self.epoch_times = []
                self.cpu_started = time.process_time()
                self.started = self.mark = time.perf_counter()

        train_model(model, sequences, targets, epochs=10**6, batch_size=spec.batch_size,
                    crop_length=spec.crop_length, seed=0, callbacks=[Interleave()], verbose=0, **extra)
        chan.send(event="stopped")

    def embed_setup(self, variant: dict, spec) -> dict:
        from semgru_keras.training import embed

        from .spec import embedding_data

        t0 = time.perf_counter()
        self.songs = embedding_data(spec)
        self.model = self.build(variant, spec)
        self.batch_size = spec.batch_size
        # Compile every batch shape the timed pass will use (a full batch and the remainder).
        embed(self.model, self.songs[: spec.batch_size], batch_size=spec.batch_size)
        rest = len(self.songs) % spec.batch_size
        if rest:
            embed(self.model, self.songs[:rest], batch_size=spec.batch_size)
        return {"setup_s": time.perf_counter() - t0}

    def embed(self) -> None:
        from semgru_keras.training import embed

        out = embed(self.model, self.songs, batch_size=self.batch_size)
        assert out.shape[0] == len(self.songs)


class _TwinSide:
    def __init__(self):
        import torch

        self.torch = torch

    def info(self) -> dict:
        return {"framework": "pytorch-twin", "versions": {"torch": self.torch.__version__},
                "torch_threads": self.torch.get_num_threads(), "cuda": self.torch.cuda.is_available()}

    def train(self, chan: Channel, variant: dict, spec, warmup_epochs: int) -> None:
        from .spec import training_data
        from .twin import TwinTrainer

        t0 = time.perf_counter()
        sequences, targets = training_data(spec)
        device = (variant.get("train_kwargs") or {}).get("device", "cpu")  # "cuda": benchmarks/gpu.py
        trainer = TwinTrainer(sequences, targets, crop_length=spec.crop_length, batch_size=spec.batch_size,
                              units=tuple(spec.units), seed=0, device=device)
        build_s = time.perf_counter() - t0
        times = []
        for _ in range(warmup_epochs):
            t = time.perf_counter()
            loss = trainer.epoch()
            times.append(time.perf_counter() - t)
        chan.send(event="warm", build_s=build_s, warmup_epoch_s=times, loss=loss, jit_compile="eager")
        while True:
            command = chan.recv()
            if command.get("op") != "epochs":
                break
            times = []
            cpu_started = time.process_time()
            started = mark = time.perf_counter()
            for _ in range(int(command["n"])):
                loss = trainer.epoch()
                now = time.perf_counter()
                times.append(now - mark)
                mark = now
            chan.send(event="rep", epoch_s=times, wall_s=mark - started, cpu_s=time.process_time() - cpu_started,
                      loss=loss)
        chan.send(event="stopped")

    def embed_setup(self, variant: dict, spec) -> dict:
        from .spec import embedding_data
        from .twin import TwinGRU, embed

        t0 = time.perf_counter()
        self.songs = embedding_data(spec)
        self.model = TwinGRU(spec.input_dim, tuple(spec.units))
        self.batch_size = spec.batch_size
        embed(self.model, self.songs[: spec.batch_size], spec.batch_size)
        return {"setup_s": time.perf_counter() - t0}

    def embed(self) -> None:
        from .twin import embed

        out = embed(self.model, self.songs, self.batch_size)
        assert out.shape[0] == len(self.songs)


def _pin_threads() -> None:
    """Honour ``BENCH_THREADS`` (set by ``--threads``) in the frameworks' own setters."""
    n = os.environ.get("BENCH_THREADS")
    if not n:
        return
    n = int(n)
    if "torch" in sys.modules or os.environ.get("KERAS_BACKEND") == "torch" or sys.argv[1:2] == ["twin"]:
        import torch

        torch.set_num_threads(n)
        torch.set_num_interop_threads(1)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" and sys.argv[1:2] != ["twin"]:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def main() -> int:
    chan = Channel()
    _pin_threads()
    framework = sys.argv[1] if len(sys.argv) > 1 else "keras"
    side = _TwinSide() if framework == "twin" else _KerasSide()
    chan.send(event="ready", pid=os.getpid(), python=platform.python_version(), **side.info())
    from .spec import EmbedSpec, TrainSpec

    while True:
        command = chan.recv()
        op = command.get("op")
        try:
            if op == "quit":
                chan.send(event="bye")
                return 0
            if op == "matmul":
                chan.send(event="matmul", flops_per_s=_matmul_rate(framework, int(command.get("n", 2048))))
            elif op == "train":
                spec = TrainSpec(**{**command.get("spec", {}), "units": tuple(command.get("spec", {}).get("units", (100, 50)))})
                side.train(chan, command.get("variant", {}), spec, int(command.get("warmup_epochs", 1)))
            elif op == "embed_setup":
                spec = EmbedSpec(**{**command.get("spec", {}), "units": tuple(command.get("spec", {}).get("units", (100, 50)))})
                chan.send(event="embed_ready", **side.embed_setup(command.get("variant", {}), spec))
            elif op == "embed":
                c, t = time.process_time(), time.perf_counter()
                side.embed()
                chan.send(event="embed", wall_s=time.perf_counter() - t, cpu_s=time.process_time() - c)
            else:
                chan.send(event="error", message=f"unknown op {op!r}")
        except Exception as exc:  # report, let the coordinator decide
            import traceback

            traceback.print_exc()
            chan.send(event="error", message=f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
