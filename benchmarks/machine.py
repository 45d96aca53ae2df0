"""What the benchmark ran on: CPU, cores, memory, load, versions, and the measured matmul rate."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import time

from semgru_keras.run import machine_record, package_versions

PACKAGES = ("semgru-keras", "keras", "tensorflow", "jax", "jaxlib", "torch", "numpy", "scipy", "librosa",
            "soundfile", "joblib", "papermill")


def _physical_cores() -> int | None:
    try:
        import psutil

        return psutil.cpu_count(logical=False)
    except Exception:  # noqa: BLE001
        return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def usable_cores() -> int:
    return machine_record()["cores"] or 1


def _gpus() -> list[str]:
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except Exception:  # noqa: BLE001
        return []


def versions() -> dict:
    return {"python": platform.python_version(), **package_versions(PACKAGES)}


def machine_info() -> dict:
    """The package's run record (``semgru_keras.run.machine_record``) plus what a benchmark adds."""
    base = machine_record()
    return {
        "host": socket.gethostname(),
        "cpu": base["cpu"],
        "logical_cores": os.cpu_count(),
        "usable_cores": base["cores"],
        "physical_cores": _physical_cores(),
        "memory_gib": base["memory_gib"],
        "os": f"{platform.system()} {platform.release()}",
        "gpus": _gpus(),
        "python_executable": sys.executable,
        "versions": versions(),
        "load_average_at_start": load_average(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def numpy_matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` float32 GEMM rate of NumPy's BLAS, FLOP/s."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best
