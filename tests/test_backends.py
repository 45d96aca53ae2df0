"""The package is backend-agnostic: loss and model tests also pass under JAX (and torch).

Keras fixes its backend at import, so each backend runs in a fresh interpreter.
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "semgru_keras"


def test_package_never_imports_tensorflow():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "tensorflow"]
    assert not offenders, offenders


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_loss_and_model_tests_pass_under(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:nbval",
         "tests/test_losses.py", "tests/test_model.py", "tests/test_training.py", "-k", "not cross_val"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_backend_choice_follows_the_environment_then_the_gpu(monkeypatch):
    from semgru_keras import backends

    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backends.choose_backend(gpus=["NVIDIA H100"]) == ("torch", "set by KERAS_BACKEND")
    monkeypatch.delenv("KERAS_BACKEND")
    # environment.yml on a GPU machine: tensorflow[and-cuda] and CPU-only jax -> TensorFlow, and it says why
    monkeypatch.setattr(backends, "_cuda_backends", lambda: ["tensorflow"])
    backend, reason = backends.choose_backend(gpus=["NVIDIA H100"])
    assert backend == "tensorflow" and "H100" in reason and "reset_after=True" in reason
    monkeypatch.setattr(backends, "_cuda_backends", lambda: [])
    backend, reason = backends.choose_backend(gpus=["NVIDIA H100"])
    assert "no installed backend has CUDA" in reason
    # no GPU: JAX where installed
    expected = "jax" if importlib.util.find_spec("jax") else "tensorflow"
    assert backends.choose_backend(gpus=[])[0] == expected
