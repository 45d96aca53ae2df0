"""Which Keras backend a run uses, chosen before Keras is imported.

Rule (:func:`choose_backend`), first match wins:

1. ``$KERAS_BACKEND`` if set: the user decided.
2. A visible NVIDIA GPU (``nvidia-smi -L`` lists one): the first installed backend that
   can use it — JAX with a CUDA plugin, TensorFlow with NVIDIA's CUDA wheels
   (``tensorflow[and-cuda]``, as in ``environment.yml``), PyTorch built with CUDA.
   There, ``reset_after=True`` (the cuDNN form of the GRU) is the fast one; the paper's
   ``reset_after=False`` runs without cuDNN.
3. No GPU: JAX where installed (the fastest CPU backend for this model, see
   ``benchmarks/``), else TensorFlow (Keras' default).

Nothing here imports a framework except PyTorch's small version check, so calling it
costs milliseconds and prints nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess

__all__ = ["BACKENDS", "choose_backend", "default_backend", "gpu_names"]

#: The Keras 3 backends the package is tested on.
BACKENDS: tuple[str, ...] = ("jax", "tensorflow", "torch")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs ``nvidia-smi -L`` lists (empty without a driver or GPU)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split(":", 1)[1].split("(")[0].strip() for line in out.splitlines() if line.startswith("GPU ")]


def _cuda_backends() -> list[str]:
    """Installed backends that have CUDA support, in order of preference."""
    out = []
    if _installed("jax") and any(_installed(m) for m in ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_plugins.xla_cuda12")):
        out.append("jax")
    if _installed("tensorflow") and any(_installed(m) for m in ("nvidia.cudnn", "nvidia.cuda_runtime")):
        out.append("tensorflow")
    if _installed("torch"):
        try:
            import torch

            if torch.version.cuda:
                out.append("torch")
        except Exception:  # noqa: BLE001 - a broken torch is no GPU backend
            pass
    return out


def choose_backend(gpus: list[str] | None = None) -> tuple[str, str]:
    """``(backend, reason)`` by the rule in the module docstring; ``gpus`` overrides detection (tests)."""
    env = os.environ.get("KERAS_BACKEND")
    if env:
        return env, "set by KERAS_BACKEND"
    gpus = gpu_names() if gpus is None else gpus
    if gpus:
        usable = _cuda_backends()
        if usable:
            return usable[0], f"{gpus[0]} is visible and {usable[0]} is installed with CUDA (use reset_after=True for cuDNN)"
        fallback = "jax" if _installed("jax") else "tensorflow"
        return fallback, (f"{gpus[0]} is visible but no installed backend has CUDA support "
                          f"(install tensorflow[and-cuda] or jax[cuda12]); running on the CPU")
    if _installed("jax"):
        return "jax", "no GPU; JAX is the fastest CPU backend for this model (benchmarks/)"
    return "tensorflow", "no GPU and no JAX; Keras' default"


def default_backend() -> str:
    """The backend :func:`choose_backend` picks."""
    return choose_backend()[0]
