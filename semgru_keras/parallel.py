"""Independent work (the protocol's outer folds) in worker processes, through joblib.

The ten outer folds of the protocol do not depend on each other, so
:func:`~semgru_keras.evaluation.cross_validate` hands them to :class:`joblib.Parallel`.
joblib's default backend (loky) runs them in local worker processes; any other joblib
backend runs them elsewhere, e.g. on a Dask cluster::

    import joblib
    from dask.distributed import Client

    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=4))
    with joblib.parallel_config(backend="dask"):
        evaluate("emotify", root="…/emotify", n_jobs=10)

which is what ``evaluate(..., scheduler="tcp://scheduler:8786")`` (:func:`on_cluster`) and the
runner's ``--dask-scheduler`` do; from a shell, with a cluster started by ``dask scheduler`` and
``dask worker tcp://scheduler:8786 --nthreads 1`` on each machine::

    python -m semgru_keras.run --dataset emotify --data-root /shared/emotify --full \
        -j 10 --dask-scheduler tcp://scheduler:8786

The feature extraction goes to the cluster too (it uses joblib as well). The workers need
the package, the data root and the feature cache at the same paths as the client (a shared
file system), and one thread each (``--nthreads 1``): a fold's networks are small.

No scheduler of our own: this module only prepares each worker before the work starts.
A worker uses the parent's Keras backend (``KERAS_BACKEND``) and its share of the CPU
threads: with ``threads=1`` XLA (JAX, TensorFlow's XLA) runs single-threaded, TensorFlow's
and PyTorch's thread pools get one thread, and BLAS/OpenMP pools are limited to one too.
The settings take effect because XLA and the thread pools start lazily, at a worker's
first computation.

Results do not depend on where a fold runs: each fold seeds its networks with
``seed + fold`` (:func:`keras.utils.set_random_seed`), and on a CPU the computations give
the same numbers in any process (a test compares per-fold predictions of the sequential
and the parallel run).

Workers are bounded and die with their parent. :func:`resolve_jobs` never starts more local
workers than there are cores or tasks (a Dask cluster's workers are not counted against the
local cores). Every local worker process watches the process that started it
(:func:`die_with_parent`): when that parent ends — killed, even with ``SIGKILL``, which
runs no clean-up — the worker ends within a second instead of finishing a fold nobody
will collect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["WorkerSetup", "on_cluster", "resolve_jobs", "run_in_worker", "guarded", "die_with_parent"]


@contextlib.contextmanager
def on_cluster(scheduler: str | None):
    """Within the block, joblib work (folds, feature extraction) runs on the Dask cluster at
    ``scheduler`` (an address such as ``"tcp://host:8786"``); ``None`` changes nothing.

    Raises ``ImportError`` naming the extra to install when ``dask.distributed`` is missing.
    """
    if not scheduler:
        yield None
        return
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise ImportError("a Dask scheduler needs dask.distributed: pip install 'semgru-keras[cluster]'") from exc
    import joblib

    with Client(scheduler) as client, joblib.parallel_config(backend="dask"):
        yield client


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs before its first computation."""

    backend: str
    threads: int = 1
    parent: int = field(default_factory=os.getpid)  #: the process that hands out the work


def _local_backend() -> bool:
    """Whether joblib's active backend runs workers on this machine (not a Dask or Ray cluster)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return type(backend).__name__ in ("LokyBackend", "MultiprocessingBackend", "ThreadingBackend",
                                      "SequentialBackend")


def resolve_jobs(n_jobs: int | None, n_tasks: int) -> int:
    """Worker count for ``n_tasks`` independent tasks: joblib's convention (``-1``: all cores), capped at
    ``n_tasks`` and, for local workers, at the cores this process may use (``--jobs 1000`` on 2 cores: 2)."""
    import joblib

    if n_jobs is None or n_jobs == 0:
        return 1
    cores = joblib.cpu_count()
    if n_jobs < 0:
        n_jobs = max(1, cores + 1 + n_jobs)
    if _local_backend():
        n_jobs = min(int(n_jobs), cores)
    return max(1, min(int(n_jobs), int(n_tasks)))


_WATCHED: tuple[int, int] | None = None  # (this process, the parent it watches)


def die_with_parent(parent: int, interval: float = 0.5) -> bool:
    """In a worker process started by ``parent``: end this process (``SIGKILL``) soon after ``parent`` ends.

    A daemon thread checks every ``interval`` seconds whether this process still has
    ``parent`` as its parent (an orphan is adopted by another process). Does nothing, and
    returns ``False``, where ``parent`` is not this process's parent: a thread of ``parent``
    itself, or a Dask worker, whose life its cluster manages.
    """
    global _WATCHED
    me = os.getpid()
    if os.getppid() != parent or parent == me:
        return False
    if _WATCHED == (me, parent):
        return True
    _WATCHED = (me, parent)

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(me, signal.SIGKILL)  # nothing to clean up that the parent could still want

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    return True


def guarded(parent: int, func: Callable, *args, **kwargs) -> Any:
    """``func(*args, **kwargs)`` in a worker that ends with ``parent`` (:func:`die_with_parent`)."""
    die_with_parent(parent)
    return func(*args, **kwargs)


def _limit_threads(threads: int) -> None:
    threads = max(1, int(threads))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


def run_in_worker(setup: WorkerSetup, func: Callable, *args, **kwargs) -> Any:
    """Call ``func(*args, **kwargs)`` after preparing this process as ``setup`` says.

    Raises
    ------
    RuntimeError
        If Keras in this worker runs another backend than the parent's (set
        ``KERAS_BACKEND`` before starting the workers, e.g. in the cluster's environment).
    """
    die_with_parent(setup.parent)
    _limit_threads(setup.threads)
    os.environ["KERAS_BACKEND"] = setup.backend  # the parent's, whatever the worker inherited
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    if keras.backend.backend() != setup.backend:
        raise RuntimeError(
            f"worker process {os.getpid()} runs Keras on {keras.backend.backend()!r} but the parent uses "
            f"{setup.backend!r}: set KERAS_BACKEND={setup.backend} in the workers' environment"
        )
    if setup.backend == "torch":
        import torch

        torch.set_num_threads(max(1, int(setup.threads)))
    return func(*args, **kwargs)
