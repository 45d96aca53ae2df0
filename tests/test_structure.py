"""Imports point one way: data → features/model/losses → training → protocol → report/plots → run.

The data layer and the features must not pull in Keras or matplotlib (directly or through
a package module that does), so that loading and checking data stays light.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "semgru_keras"

#: Package modules that import Keras or matplotlib at module level.
HEAVY_MODULES = {"embedder", "model", "training", "losses", "baselines", "evaluation", "report", "plots", "run",
                 "predict", "pretrained", "pretrain"}


def _imports(path: Path) -> list[str]:
    """Absolute names of every module imported by ``path`` (relative imports resolved in the package)."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    package = list(rel.parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names += [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return names


def test_data_layer_and_features_import_neither_keras_nor_matplotlib():
    files = sorted((PACKAGE / "data").glob("*.py")) + [PACKAGE / "features.py", PACKAGE / "vocabulary.py"]
    offenders = []
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            inner = name.split(".")[1] if name.startswith("semgru_keras.") and "." in name else None
            if top in ("keras", "matplotlib", "tensorflow", "jax", "torch") or inner in HEAVY_MODULES:
                offenders.append(f"{path.relative_to(PACKAGE)}: {name}")
    assert not offenders, offenders


def test_no_import_cycle_between_package_modules():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        mod = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        graph[mod] = {n for n in _imports(path) if n.startswith("semgru_keras")}
    modules = set(graph)

    def resolve(name):  # "semgru_keras.data.cache.cached_map" -> "semgru_keras.data.cache"
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    edges = {m: {resolve(n) for n in deps} - {m, "", "semgru_keras"} for m, deps in graph.items()}
    # a package's __init__ importing its own submodules is not a cycle
    edges = {m: {d for d in ds if not d.startswith(m + ".")} for m, ds in edges.items()}
    state, cycles = {}, []

    def visit(m, stack):
        state[m] = 1
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                cycles.append(" → ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_importing_the_experiments_leaves_the_environment_alone():
    """An experiment module used as a library must not set KERAS_BACKEND: joblib workers started later
    in the same process would inherit it and run another backend than the parent (seen in CI)."""
    code = ("import os, importlib; before = dict(os.environ)\n"
            "for m in ('experiments.emotify', 'experiments.extended', 'experiments.standard_gru'):\n"
            "    importlib.import_module(m)\n"
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    result = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
