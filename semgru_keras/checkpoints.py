"""Resumable protocol runs: every finished outer fold is saved, and a rerun reads it back.

A run of the paper's protocol on a real data set takes half an hour to two hours on two
CPU cores. :func:`~semgru_keras.protocol.cross_validate` (``checkpoint_dir=``) therefore
writes each outer fold, as soon as it is finished, to ``<checkpoint_dir>/<key>/fold-NN.json``:
the fold's out-of-fold predictions, its chosen SVR/SVM parameters, its wall times and the
learned features of its held-out songs. Running the same command again reads the finished
folds instead of computing them and computes only the rest, so an interrupted run (Ctrl-C,
SIGTERM, a session that ended) resumes where it stopped. Folds are seeded (fold ``f`` uses
``seed + f``), so the resumed run's results equal an uninterrupted run's (same seed, same
backend) except for the wall-clock total.

The key. A fold is reused only when everything that decides its numbers is the same:

``protocol``
    the :class:`~semgru_keras.protocol.EvaluationConfig` (all of it but ``n_jobs`` and
    ``verbose``, which change speed and chatter, not numbers);
``data``
    a SHA-256 over the inputs themselves — input sequences, hand-crafted features,
    targets, groups, song ids — and the outer folds made from them (so a changed song, a
    changed feature setting or new feature code never reuses a fold);
``code``
    a SHA-256 over the source of the code that computes a fold (the losses, model,
    training, estimator and protocol functions named in :data:`FOLD_CODE`), the Keras
    backend and the versions of the libraries whose numerics matter.

The key's digest names the folder, so a run with another key starts a folder of its own;
when the checkpoint folder already holds folds made under another key, a message names
what differs (e.g. ``protocol.epochs: 100 → 30``) and those folds are left alone. Files are
JSON (no pickle), written to a temporary name and renamed, so a fold file is complete or
absent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .results import _from_json, _to_json

__all__ = ["FOLD_CODE", "FoldStore", "fold_key", "code_key", "array_digest", "key_differences"]

#: The code that decides a fold's numbers (see the module docstring): whole modules, and the
#: protocol's fold functions (``module:name,name``; the rest of protocol.py — fold assignment,
#: progress, recording — changes no fold's numbers: the folds themselves are part of the key).
#: Compared as syntax trees without docstrings, so an edit of prose reuses the folds and an
#: edit of code does not.
FOLD_CODE: tuple[str, ...] = (
    "semgru_keras.losses",
    "semgru_keras.model",
    "semgru_keras.training",
    "semgru_keras.embedder",
    "semgru_keras.baselines",
    "semgru_keras.presets",
    "semgru_keras.protocol:_fold_outputs,fit_predict_svm,_svm_search,_splitter,_plain_params,class_vectors_for",
)
#: Settings of EvaluationConfig that do not change a fold's numbers.
_NOT_NUMERIC = ("n_jobs", "verbose")
#: Libraries whose versions are part of the key.
_LIBRARIES = ("keras", "numpy", "scikit-learn", "jax", "jaxlib", "tensorflow", "torch")


def array_digest(arrays: Sequence | None) -> str:
    """SHA-256 over arrays (their dtype, shape and bytes), in order; ``"none"`` for ``None``."""
    if arrays is None:
        return "none"
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a) if not isinstance(a, np.ndarray) else a)
        if a.dtype.kind == "O":
            a = a.astype(str)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _code_digest(names: Sequence[str] = FOLD_CODE) -> str:
    """SHA-256 over the syntax trees (docstrings left out) of modules or of named functions in them."""
    import ast
    import importlib.util

    h = hashlib.sha256()
    for name in names:
        module, _, functions = name.partition(":")
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.origin:
            raise ValueError(f"checkpoints: cannot find the source of module {module}")
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        nodes = [tree]
        if functions:
            wanted = functions.split(",")
            found = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            missing = [f for f in wanted if f not in found]
            if missing:
                raise ValueError(f"checkpoints: {module} has no {', '.join(missing)}")
            nodes = [found[f] for f in wanted]
        for node in nodes:
            for sub in ast.walk(node):  # drop docstrings: prose is not code
                body = getattr(sub, "body", None)
                if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                        and isinstance(getattr(body[0], "value", None), ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    sub.body = body[1:] or [ast.Pass()]
            h.update(name.encode())
            h.update(ast.dump(node, annotate_fields=False).encode())
    return h.hexdigest()


def _versions() -> dict:
    from importlib import metadata

    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def fold_key(config, *, task: str, y, folds, sequences=None, handcrafted: Mapping | None = None, groups=None,
             ids=None, class_vectors: Mapping | None = None, backend: str | None = None) -> dict:
    """The key of a protocol run's folds (see the module docstring); JSON-friendly."""
    protocol = {k: v for k, v in config.to_dict().items() if k not in _NOT_NUMERIC}
    data = {
        "task": task,
        "n_songs": int(len(y)),
        "targets": array_digest([y]),
        "folds": array_digest([folds]),
        "groups": array_digest(None if groups is None else [groups]),
        "ids": array_digest(None if ids is None else [np.asarray(ids).astype(str)]),
        "sequences": array_digest(sequences),
        "handcrafted": "none" if handcrafted is None else
        {g: array_digest([h]) for g, h in sorted(handcrafted.items())},
        "class_vectors": None if class_vectors is None else {str(k): list(map(float, v))
                                                            for k, v in class_vectors.items()},
    }
    return {"protocol": protocol, "data": data, "code": code_key(backend=backend)}


def code_key(extra: Sequence[str] = (), backend: str | None = None) -> dict:
    """The code part of a key: digest of the source files of :data:`FOLD_CODE` and of the
    modules named in ``extra``, the Keras backend and the library versions."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    return {"sources": _code_digest((*FOLD_CODE, *extra)), "backend": backend, "versions": _versions()}


def _digest(key: Mapping) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def key_differences(old: Mapping, new: Mapping, prefix: str = "") -> list[str]:
    """What differs between two keys, as ``"path: old → new"`` lines (nested keys joined by dots)."""
    lines = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k, "(absent)"), new.get(k, "(absent)")
        path = f"{prefix}{k}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            lines += key_differences(a, b, path + ".")
        elif a != b:
            short = [str(v)[:16] + ("…" if len(str(v)) > 16 else "") for v in (a, b)]
            lines.append(f"{path}: {short[0]} → {short[1]}")
    return lines


class FoldStore:
    """The finished folds of one protocol run, under ``directory/<digest of key>/``.

    Parameters
    ----------
    directory : path
        The run's checkpoint folder (created when needed).
    key : mapping
        What the folds' numbers depend on (:func:`fold_key`).
    say : callable
        Where messages go (default ``print``).
    """

    def __init__(self, directory: str | os.PathLike, key: Mapping, say: Callable[[str], None] = print):
        self.root = Path(directory)
        self.key = json.loads(json.dumps(key, default=str))
        self.path = self.root / _digest(self.key)
        self.say = say
        for other in sorted(self.root.glob("*/key.json")) if self.root.is_dir() else []:
            if other.parent == self.path or not any(other.parent.glob("fold-*.json")):
                continue
            try:
                diff = key_differences(json.loads(other.read_text(encoding="utf-8")), self.key)
            except (OSError, ValueError):
                diff = ["its key.json cannot be read"]
            n = len(list(other.parent.glob("fold-*.json")))
            say(f"checkpoints: {n} fold(s) in {other.parent} were made with other settings or data and are not "
                f"reused ({'; '.join(diff[:6])}{' …' if len(diff) > 6 else ''})")

    def _fold_path(self, f: int) -> Path:
        return self.path / f"fold-{f:02d}.json"

    def done(self) -> list[int]:
        """Folds already saved under this key."""
        if not self.path.is_dir():
            return []
        return sorted(int(p.stem.split("-")[1]) for p in self.path.glob("fold-*.json"))

    def load(self, f: int) -> dict:
        """Fold ``f``'s outputs as :func:`~semgru_keras.protocol._fold_outputs` returned them."""
        path = self._fold_path(f)
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("key") != _digest(self.key):
            raise ValueError(f"{path}: saved under another key ({record.get('key')}); delete it or the folder")
        out = _from_json(record["outputs"])
        if "systems" in out:  # the protocol's (predictions, parameters, seconds, stages) per system
            out["systems"] = {k: tuple(v) for k, v in out["systems"].items()}
        return out

    def save(self, out: Mapping) -> Path:
        """Write fold ``out["fold"]``'s outputs (atomically: a complete file or none)."""
        self.path.mkdir(parents=True, exist_ok=True)
        key_file = self.path / "key.json"
        if not key_file.is_file():
            _write(key_file, json.dumps(self.key, indent=1, sort_keys=True))
        record = {"key": _digest(self.key), "outputs": _to_json(dict(out))}
        path = self._fold_path(int(out["fold"]))
        _write(path, json.dumps(record))
        return path

    def clear(self) -> None:
        """Remove this key's folder (after the run's results are saved elsewhere)."""
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)
        if self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
