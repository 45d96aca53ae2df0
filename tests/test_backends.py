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
