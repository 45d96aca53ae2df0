"""The shipped model: load it and predict the emotions of your own music.

:func:`load_pretrained` reads the model that ``python -m semgru_keras.pretrain`` builds
(``semgru_keras/models/``; how it was trained is in its ``MODEL_CARD.md``) and returns a
:class:`Pretrained`, whose :meth:`~Pretrained.predict` takes audio files::

    import semgru_keras as sk
    model = sk.load_pretrained()
    for song in model.predict(["my_song.mp3"]):
        print(song.source, song.gems, song.quadrant, song.similar[:2])

What is inside (the paper's full system, Fig. 1, twice):

* **GEMS.** A Semantic Embedding GRU trained on the Emotify songs (Eqs. 7–13) and one RBF
  SVR per GEMS emotion on its learned features. A score is on Emotify's scale: the expected
  fraction of listeners who would tag the song with that emotion.
* **Quadrant.** The same recipe on the 4Q set (valence–arousal corners as annotations,
  Section V-A) and an RBF SVM for the four quadrants, with Platt-calibrated one-vs-rest
  probabilities.
* **Neighbours.** The training songs' learned features, to list the most similar training
  songs by cosine similarity.

Nothing is unpickled. The GRUs are ``.keras`` files (a JSON config and HDF5 weights); the
SVR/SVM are plain arrays in ``.npz`` files read with ``allow_pickle=False`` (support vectors,
dual coefficients, intercepts, γ, the standardisation statistics), and their decision
functions are re-implemented here in NumPy; the tests check them against scikit-learn.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .features import AudioError, FeatureConfig, file_sequence

__all__ = [
    "MODEL_DIR",
    "FORMAT_VERSION",
    "AUDIO_SUFFIXES",
    "RBFRegressor",
    "RBFClassifier",
    "TrainingSongs",
    "SongPrediction",
    "Pretrained",
    "load_pretrained",
    "expand_paths",
    "rbf_kernel",
    "QUADRANT_ORDER",
]

#: Where the shipped model lives (package data).
MODEL_DIR = Path(__file__).resolve().parent / "models"
#: Version of the on-disk layout written by :meth:`Pretrained.save`.
FORMAT_VERSION = 1
#: File suffixes picked up when a folder is given to :meth:`Pretrained.predict`.
AUDIO_SUFFIXES: tuple[str, ...] = (".mp3", ".wav", ".ogg", ".opus", ".flac", ".m4a", ".aif", ".aiff", ".au")

#: Display order of the quadrants (Q1–Q4); other class names follow.
QUADRANT_ORDER: tuple[str, ...] = ("happy", "angry", "sad", "relaxed")

_INFO = "pretrained.json"
_GEMS_MODEL, _GEMS_ARRAYS = "gems_embedder.keras", "gems.npz"
_QUAD_MODEL, _QUAD_ARRAYS = "quadrant_embedder.keras", "quadrant.npz"


def rbf_kernel(X: np.ndarray, Y: np.ndarray, gamma: float) -> np.ndarray:
    """``K[i, j] = exp(−γ ‖x_i − y_j‖²)`` in float64 (differences, not the expanded square)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    out = np.empty((len(X), len(Y)))
    for start in range(0, len(X), 64):  # bounded memory for many songs
        diff = X[start : start + 64, None, :] - Y[None, :, :]
        out[start : start + 64] = np.exp(-gamma * np.einsum("ijk,ijk->ij", diff, diff))
    return out


def _standardise(X, mean, scale) -> np.ndarray:
    return (np.asarray(X, dtype=np.float64) - mean) / scale


@dataclass
class RBFRegressor:
    """NumPy form of ``TransformedTargetRegressor(make_pipeline(StandardScaler(), SVR("rbf")), StandardScaler())``.

    ``predict(x) = y_mean + y_scale · (Σ_s α_s exp(−γ‖z − s‖²) + b)`` with ``z = (x − x_mean) / x_scale``.
    """

    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    gamma: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_scale: float

    _FIELDS = ("support_vectors", "dual_coef", "intercept", "gamma", "x_mean", "x_scale", "y_mean", "y_scale")

    @classmethod
    def from_sklearn(cls, estimator) -> RBFRegressor:
        """Copy the arrays of a fitted regressor of the form above (as the protocol's search builds it)."""
        pipeline = estimator.regressor_
        scaler, svr = pipeline.steps[0][1], pipeline.steps[-1][1]
        if getattr(svr, "kernel", None) != "rbf":
            raise ValueError(f"expected an RBF SVR, got {svr!r}")
        target = estimator.transformer_
        return cls(
            support_vectors=np.asarray(svr.support_vectors_, dtype=np.float64),
            dual_coef=np.asarray(svr.dual_coef_, dtype=np.float64).ravel(),
            intercept=float(np.ravel(svr.intercept_)[0]),
            gamma=float(svr._gamma),  # the resolved value of gamma="scale"
            x_mean=np.asarray(scaler.mean_, dtype=np.float64),
            x_scale=np.asarray(scaler.scale_, dtype=np.float64),
            y_mean=float(np.ravel(target.mean_)[0]),
            y_scale=float(np.ravel(target.scale_)[0]),
        )

    def predict(self, X) -> np.ndarray:
        """Predictions for the rows of ``X`` (learned features), shape ``(n,)``."""
        K = rbf_kernel(_standardise(X, self.x_mean, self.x_scale), self.support_vectors, self.gamma)
        return self.y_mean + self.y_scale * (K @ self.dual_coef + self.intercept)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{name}": np.asarray(getattr(self, name)) for name in self._FIELDS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> RBFRegressor:
        values = {name: np.asarray(arrays[f"{prefix}{name}"], dtype=np.float64) for name in cls._FIELDS}
        for name in ("intercept", "gamma", "y_mean", "y_scale"):
            values[name] = float(values[name])
        return cls(**values)


@dataclass
class RBFClassifier:
    """NumPy form of an RBF ``SVC`` after a ``StandardScaler``, with calibrated probabilities.

    :meth:`predict` is the SVC's one-vs-one vote (as ``SVC.predict``); :meth:`predict_proba`
    is ``CalibratedClassifierCV(method="sigmoid", ensemble=False)``'s: a sigmoid
    ``1 / (1 + exp(a_c f_c + b_c))`` per class of the one-vs-rest decision value ``f_c``,
    normalised to sum to one.
    """

    support_vectors: np.ndarray
    dual_coef: np.ndarray  # (n_classes − 1, n_sv), libsvm's layout
    intercept: np.ndarray  # (n_pairs,)
    n_support: np.ndarray  # (n_classes,)
    gamma: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    calib_a: np.ndarray  # (n_classes,)
    calib_b: np.ndarray
    classes: np.ndarray

    _FIELDS = ("support_vectors", "dual_coef", "intercept", "n_support", "gamma", "x_mean", "x_scale",
               "calib_a", "calib_b", "classes")

    @classmethod
    def from_sklearn(cls, calibrated) -> RBFClassifier:
        """Copy a fitted ``CalibratedClassifierCV(make_pipeline(StandardScaler(), SVC("rbf")),
        method="sigmoid", ensemble=False)``."""
        if len(calibrated.calibrated_classifiers_) != 1 or calibrated.method != "sigmoid":
            raise ValueError("expected CalibratedClassifierCV(method='sigmoid', ensemble=False)")
        inner = calibrated.calibrated_classifiers_[0]
        pipeline = inner.estimator
        scaler, svc = pipeline.steps[0][1], pipeline.steps[-1][1]
        if getattr(svc, "kernel", None) != "rbf" or len(svc.classes_) < 3:
            raise ValueError(f"expected an RBF SVC with at least 3 classes, got {svc!r} with {svc.classes_}")
        return cls(
            support_vectors=np.asarray(svc.support_vectors_, dtype=np.float64),
            dual_coef=np.asarray(svc.dual_coef_, dtype=np.float64),
            intercept=np.asarray(svc.intercept_, dtype=np.float64),
            n_support=np.asarray(svc.n_support_, dtype=np.int64),
            gamma=float(svc._gamma),
            x_mean=np.asarray(scaler.mean_, dtype=np.float64),
            x_scale=np.asarray(scaler.scale_, dtype=np.float64),
            calib_a=np.array([c.a_ for c in inner.calibrators], dtype=np.float64),
            calib_b=np.array([c.b_ for c in inner.calibrators], dtype=np.float64),
            classes=np.asarray(svc.classes_).astype(str),
        )

    def decision_ovo(self, X) -> np.ndarray:
        """One-vs-one decision values, ``(n, n_pairs)`` in libsvm's pair order; > 0 favours the first class."""
        K = rbf_kernel(_standardise(X, self.x_mean, self.x_scale), self.support_vectors, self.gamma)
        starts = np.concatenate([[0], np.cumsum(self.n_support)])
        k = len(self.classes)
        out = np.empty((len(K), k * (k - 1) // 2))
        p = 0
        for i in range(k):
            si = slice(starts[i], starts[i + 1])
            for j in range(i + 1, k):
                sj = slice(starts[j], starts[j + 1])
                out[:, p] = K[:, si] @ self.dual_coef[j - 1, si] + K[:, sj] @ self.dual_coef[i, sj] + self.intercept[p]
                p += 1
        return out

    def decision_ovr(self, X) -> np.ndarray:
        """scikit-learn's one-vs-rest decision values: votes plus confidences squashed into (−⅓, ⅓)."""
        dec = self.decision_ovo(X)
        k = len(self.classes)
        votes = np.zeros((len(dec), k))
        confidence = np.zeros((len(dec), k))
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                confidence[:, i] += dec[:, p]
                confidence[:, j] -= dec[:, p]
                votes[:, i] += dec[:, p] >= 0
                votes[:, j] += dec[:, p] < 0
                p += 1
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def predict(self, X) -> np.ndarray:
        """The class with most one-vs-one votes (ties: the earlier class), as libsvm decides."""
        dec = self.decision_ovo(X)
        k = len(self.classes)
        votes = np.zeros((len(dec), k), dtype=np.int64)
        p = 0
        for i in range(k):
            for j in range(i + 1, k):
                votes[:, i] += dec[:, p] > 0
                votes[:, j] += dec[:, p] <= 0
                p += 1
        return self.classes[np.argmax(votes, axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities, ``(n, n_classes)``, columns in :attr:`classes` order."""
        f = self.decision_ovr(X)
        proba = 1.0 / (1.0 + np.exp(self.calib_a * f + self.calib_b))
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / len(self.classes))
        return np.divide(proba, total, out=uniform, where=total != 0)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{name}": np.asarray(getattr(self, name)) for name in self._FIELDS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> RBFClassifier:
        values = {name: np.asarray(arrays[f"{prefix}{name}"]) for name in cls._FIELDS}
        for name in ("support_vectors", "dual_coef", "intercept", "x_mean", "x_scale", "calib_a", "calib_b"):
            values[name] = values[name].astype(np.float64)
        values["gamma"] = float(values["gamma"])
        values["n_support"] = values["n_support"].astype(np.int64)
        values["classes"] = values["classes"].astype(str)
        return cls(**values)


@dataclass
class TrainingSongs:
    """The songs a model was trained on: ids, readable titles, learned features and targets."""

    dataset: str
    ids: np.ndarray
    titles: np.ndarray
    features: np.ndarray  # (n, d) learned features (Eq. 11)
    targets: np.ndarray  # GEMS fractions (n, 9) or quadrant labels (n,)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "train_ids": np.asarray(self.ids).astype(str),
            "train_titles": np.asarray(self.titles).astype(str),
            "train_features": np.asarray(self.features, dtype=np.float32),
            "train_targets": np.asarray(self.targets) if np.asarray(self.targets).dtype.kind in "fiu"
            else np.asarray(self.targets).astype(str),
        }

    @classmethod
    def from_arrays(cls, dataset: str, arrays: Mapping[str, np.ndarray]) -> TrainingSongs:
        return cls(dataset, arrays["train_ids"].astype(str), arrays["train_titles"].astype(str),
                   np.asarray(arrays["train_features"], dtype=np.float32), np.asarray(arrays["train_targets"]))

    def nearest(self, features: np.ndarray, k: int = 5) -> list[list[dict]]:
        """The ``k`` training songs most similar to each row of ``features`` (cosine similarity)."""
        def unit(a):
            a = np.asarray(a, dtype=np.float64)
            return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

        sims = unit(np.atleast_2d(features)) @ unit(self.features).T
        out = []
        for row in sims:
            top = np.argsort(-row, kind="stable")[:k]
            out.append([{"id": str(self.ids[i]), "title": str(self.titles[i]), "dataset": self.dataset,
                         "similarity": float(row[i])} for i in top])
        return out


@dataclass
class SongPrediction:
    """What :meth:`Pretrained.predict` says about one song (or why it could not).

    Attributes
    ----------
    source : str
        The file (or the name given to :meth:`Pretrained.predict_sequences`).
    gems : dict
        Emotion → expected fraction of listeners tagging it (Emotify's scale), clipped to [0, 1].
    gems_unclipped : dict
        The SVR outputs before clipping (they can stray slightly outside [0, 1]).
    quadrant : str or None
        The quadrant SVM's vote (happy, angry, sad, relaxed); ``None`` without a quadrant model.
    quadrant_probabilities : dict
        Quadrant → calibrated probability.
    similar : list of dict
        The most similar training songs in the GEMS model's feature space
        (``id``, ``title``, ``dataset``, ``similarity``).
    similar_quadrant : list of dict
        The same in the quadrant model's feature space (4Q songs).
    features : ndarray or None
        The song's learned GEMS-model feature (Eq. 11).
    error : str or None
        Why the song got no prediction (its other fields are then empty).
    """

    source: str
    gems: dict = field(default_factory=dict)
    gems_unclipped: dict = field(default_factory=dict)
    quadrant: str | None = None
    quadrant_probabilities: dict = field(default_factory=dict)
    similar: list = field(default_factory=list)
    similar_quadrant: list = field(default_factory=list)
    features: np.ndarray | None = None
    quadrant_features: np.ndarray | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        """JSON-friendly form (no feature arrays)."""
        return {
            "source": self.source,
            "gems": self.gems,
            "quadrant": self.quadrant,
            "quadrant_probabilities": self.quadrant_probabilities,
            "similar": self.similar,
            "similar_quadrant": self.similar_quadrant,
            "error": self.error,
        }


def expand_paths(paths: Iterable[str | os.PathLike], suffixes: Sequence[str] = AUDIO_SUFFIXES) -> list[Path]:
    """Files as given, and the audio files (by suffix, recursively, sorted) inside folders.

    A path that does not exist is kept, so that prediction reports it as an error.
    """
    out: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                          and not f.name.startswith("."))
        else:
            out.append(p)
    return out


class Pretrained:
    """A trained Semantic Embedding GRU + SVR (GEMS) and, optionally, GRU + SVM (quadrant).

    Built by :func:`semgru_keras.pretrain.build_pretrained`, written by :meth:`save`, read by
    :func:`load_pretrained`.

    Parameters
    ----------
    info : dict
        Everything that is not an array: recipe, data, versions, scores (``pretrained.json``).
    gems_model : keras.Model
        The GEMS feature model.
    gems_heads : list of RBFRegressor
        One per emotion, in ``info["emotions"]`` order.
    gems_songs : TrainingSongs
        Emotify (training) songs with their learned features and annotations.
    quadrant_model, quadrant_head, quadrant_songs : optional
        The same for the quadrant model.
    """

    def __init__(self, info: dict, gems_model, gems_heads: Sequence[RBFRegressor], gems_songs: TrainingSongs,
                 quadrant_model=None, quadrant_head: RBFClassifier | None = None,
                 quadrant_songs: TrainingSongs | None = None):
        self.info = dict(info)
        self.gems_model = gems_model
        self.gems_heads = list(gems_heads)
        self.gems_songs = gems_songs
        self.quadrant_model = quadrant_model
        self.quadrant_head = quadrant_head
        self.quadrant_songs = quadrant_songs
        if len(self.gems_heads) != len(self.emotions):
            raise ValueError(f"{len(self.gems_heads)} SVR heads for {len(self.emotions)} emotions")

    def __repr__(self) -> str:
        quad = f", quadrants {list(self.classes)}" if self.has_quadrant else ""
        return (f"Pretrained(GEMS from {len(self.gems_songs.ids)} {self.gems_songs.dataset} songs{quad}; "
                f"trained on {self.info.get('training', {}).get('description', '?')})")

    # ------------------------------------------------------------------ properties
    @property
    def emotions(self) -> list[str]:
        return list(self.info["emotions"])

    @property
    def classes(self) -> list[str]:
        """Quadrant classes in display order (Q1–Q4)."""
        if self.quadrant_head is None:
            return []
        own = [str(c) for c in self.quadrant_head.classes]
        return [c for c in QUADRANT_ORDER if c in own] + [c for c in own if c not in QUADRANT_ORDER]

    @property
    def has_quadrant(self) -> bool:
        return self.quadrant_model is not None and self.quadrant_head is not None

    @property
    def feature_config(self) -> FeatureConfig:
        """The input representation the GRUs were trained with (used for every prediction)."""
        stored = dict(self.info["feature_config"])
        known = set(FeatureConfig.__dataclass_fields__)
        unknown = sorted(set(stored) - known)
        if unknown:
            raise ValueError(f"the model was trained with feature settings {unknown} that this version of "
                             f"semgru_keras does not know; rebuild it (python -m semgru_keras.pretrain)")
        return FeatureConfig(**stored)

    @property
    def cv_scores(self) -> dict:
        """Cross-validated scores of this recipe (from ``results/``), as stored when the model was built."""
        return dict(self.info.get("cv_scores", {}))

    # ------------------------------------------------------------------ prediction
    def sequences(self, paths: Sequence[str | os.PathLike], progress: bool = False):
        """Input sequences of ``paths``; returns ``(sequences, errors)`` with ``None`` where a file failed
        and ``errors[i]`` the message naming it."""
        config = self.feature_config
        seqs: list[np.ndarray | None] = []
        errors: dict[int, str] = {}
        iterator = paths
        if progress:
            from tqdm import tqdm

            iterator = tqdm(paths, desc="reading audio", unit="file")
        for i, path in enumerate(iterator):
            try:
                if Path(path).is_dir():
                    raise AudioError(f"{path}: is a folder with no audio files ({', '.join(AUDIO_SUFFIXES)})")
                seqs.append(file_sequence(path, config))
            except (AudioError, OSError) as exc:
                message = str(exc)
                if str(path) not in message:
                    message = f"{path}: {message}"
                seqs.append(None)
                errors[i] = message
        return seqs, errors

    def predict(self, paths, *, on_error: str = "raise", progress: bool = False, k: int = 5) -> list[SongPrediction]:
        """Predict every audio file in ``paths`` (files, or folders searched for audio files).

        Parameters
        ----------
        paths : path or list of paths
        on_error : {"raise", "keep"}
            ``"raise"``: the first unreadable file raises :class:`~semgru_keras.features.AudioError`
            (or ``FileNotFoundError``) naming it. ``"keep"``: such files come back as predictions with
            ``error`` set, and the others are still predicted.
        progress : bool
            A tqdm bar (on stderr) while reading the audio.
        k : int
            Number of similar training songs to list.
        """
        if on_error not in ("raise", "keep"):
            raise ValueError(f"on_error must be 'raise' or 'keep', got {on_error!r}")
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        files = expand_paths(paths)
        if not files:
            raise FileNotFoundError(f"no audio files in {[str(p) for p in paths]} (looked for {', '.join(AUDIO_SUFFIXES)})")
        seqs, errors = self.sequences(files, progress=progress)
        if errors and on_error == "raise":
            first = min(errors)
            cls = FileNotFoundError if not Path(files[first]).exists() else AudioError
            raise cls(errors[first])
        good = [i for i in range(len(files)) if i not in errors]
        results = [SongPrediction(source=str(f), error=errors.get(i)) for i, f in enumerate(files)]
        if good:
            for i, pred in zip(good, self.predict_sequences([seqs[i] for i in good], [str(files[i]) for i in good], k=k)):
                results[i] = pred
        return results

    def predict_sequences(self, sequences: Sequence[np.ndarray], names: Sequence[str] | None = None,
                          k: int = 5) -> list[SongPrediction]:
        """Predictions from input sequences (``(t_i, 160)`` arrays, as :func:`~semgru_keras.features.file_sequence` gives)."""
        from .training import embed

        names = [f"song {i}" for i in range(len(sequences))] if names is None else list(names)
        features = embed(self.gems_model, sequences)
        raw = np.stack([head.predict(features) for head in self.gems_heads], axis=1)
        clipped = np.clip(raw, 0.0, 1.0)
        similar = self.gems_songs.nearest(features, k)
        out = []
        for i, name in enumerate(names):
            out.append(SongPrediction(
                source=name,
                gems={e: float(v) for e, v in zip(self.emotions, clipped[i])},
                gems_unclipped={e: float(v) for e, v in zip(self.emotions, raw[i])},
                similar=similar[i],
                features=features[i],
            ))
        if self.has_quadrant:
            qf = embed(self.quadrant_model, sequences)
            labels = self.quadrant_head.predict(qf)
            proba = self.quadrant_head.predict_proba(qf)
            qsimilar = self.quadrant_songs.nearest(qf, k) if self.quadrant_songs is not None else [[]] * len(names)
            for i, pred in enumerate(out):
                pred.quadrant = str(labels[i])
                column = {str(c): j for j, c in enumerate(self.quadrant_head.classes)}
                pred.quadrant_probabilities = {c: float(proba[i, column[c]]) for c in self.classes}
                pred.similar_quadrant = qsimilar[i]
                pred.quadrant_features = qf[i]
        return out

    # ------------------------------------------------------------------ storage
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the model to ``folder``: ``pretrained.json``, ``.keras`` files and ``.npz`` arrays."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        info = dict(self.info, format_version=FORMAT_VERSION)
        self.gems_model.save(folder / _GEMS_MODEL)
        arrays = self.gems_songs.to_arrays()
        for j, head in enumerate(self.gems_heads):
            arrays.update(head.to_arrays(f"svr{j}_"))
        np.savez_compressed(folder / _GEMS_ARRAYS, **arrays)
        if self.has_quadrant:
            self.quadrant_model.save(folder / _QUAD_MODEL)
            arrays = self.quadrant_head.to_arrays("svc_")
            if self.quadrant_songs is not None:
                arrays.update(self.quadrant_songs.to_arrays())
            np.savez_compressed(folder / _QUAD_ARRAYS, **arrays)
        else:
            for name in (_QUAD_MODEL, _QUAD_ARRAYS):
                (folder / name).unlink(missing_ok=True)
        (folder / _INFO).write_text(json.dumps(info, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        return folder


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def load_pretrained(folder: str | os.PathLike | None = None) -> Pretrained:
    """Load the shipped model (or one written by :meth:`Pretrained.save` to ``folder``).

    Reads JSON, ``.keras`` files (``safe_mode``: no code is deserialised) and ``.npz`` arrays
    with ``allow_pickle=False``; nothing is unpickled.

    Raises
    ------
    FileNotFoundError
        Naming the missing file and how to build it.
    """
    import keras

    from . import losses  # noqa: F401  (registers the package's Keras objects)

    folder = Path(folder) if folder is not None else MODEL_DIR
    info_path = folder / _INFO
    if not info_path.is_file():
        raise FileNotFoundError(f"{info_path}: no pretrained model here; build one with "
                                f"python -m semgru_keras.pretrain --emotify PATH --4q PATH --out {folder}")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{info_path}: format version {info.get('format_version')}, this code reads "
                         f"{FORMAT_VERSION}; rebuild the model with python -m semgru_keras.pretrain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optimizer-state notes: the models are loaded for inference only
        gems_model = keras.saving.load_model(folder / _GEMS_MODEL, compile=False, safe_mode=True)
        quad_path = folder / _QUAD_MODEL
        quadrant_model = (keras.saving.load_model(quad_path, compile=False, safe_mode=True)
                          if quad_path.is_file() else None)
    arrays = _read_arrays(folder / _GEMS_ARRAYS)
    heads = [RBFRegressor.from_arrays(arrays, f"svr{j}_") for j in range(len(info["emotions"]))]
    gems_songs = TrainingSongs.from_arrays(info["training"]["gems"]["dataset"], arrays)
    quadrant_head = quadrant_songs = None
    if quadrant_model is not None:
        arrays = _read_arrays(folder / _QUAD_ARRAYS)
        quadrant_head = RBFClassifier.from_arrays(arrays, "svc_")
        if "train_features" in arrays:
            quadrant_songs = TrainingSongs.from_arrays(info["training"]["quadrant"]["dataset"], arrays)
    return Pretrained(info, gems_model, heads, gems_songs, quadrant_model, quadrant_head, quadrant_songs)
