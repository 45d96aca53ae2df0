"""semgru-keras: Semantic Embedding GRU music emotion recognition in Keras 3.

Jakubik & Kwaśnicka (2017), "Music Emotion Analysis Using Semantic Embedding Recurrent
Neural Networks", INISTA 2017. Modules, bottom layer first (each imports only from above it):

- :mod:`~semgru_keras.vocabulary` — GEMS emotions, quadrant classes/aliases/corners, Emotify means
- :mod:`~semgru_keras.presets` — the paper's training hyperparameters (``TrainingSettings``, ``PAPER``), quick/full ``MODES``
- :mod:`~semgru_keras.data` — synthetic sets, Emotify, 4Q, quadrant folders, validation, feature cache
- :mod:`~semgru_keras.features` — audio → 160-dim log-mel input sequences (Section V-B)
- :mod:`~semgru_keras.handcrafted` — the librosa hand-crafted baseline features (Table II rows [27])
- :mod:`~semgru_keras.model` — stacked GRUs + masked mean over time; the standard GRU (Eq. 14)
- :mod:`~semgru_keras.losses` — the cosine-Gram loss (Eq. 13)
- :mod:`~semgru_keras.metrics` — Pearson r per emotion, accuracy, macro-F1, bootstrap intervals
- :mod:`~semgru_keras.training` — random-crop Adadelta training, full-length embedding
- :mod:`~semgru_keras.embedder`, :mod:`~semgru_keras.baselines` — scikit-learn estimators
- :mod:`~semgru_keras.backends`, :mod:`~semgru_keras.parallel` — backend choice, fold workers
- :mod:`~semgru_keras.protocol` — the paper's 10-fold protocol with inner SVR/SVM search
- :mod:`~semgru_keras.results` — ``CVResults`` and its JSON file
- :mod:`~semgru_keras.report`, :mod:`~semgru_keras.plots` — tables and figures (matplotlib lives here)
- :mod:`~semgru_keras.evaluation` — ``evaluate()``: protocol → results → report in one call
- :mod:`~semgru_keras.run` — the papermill runner (``python -m semgru_keras.run``)
- :mod:`~semgru_keras.pretrained` — the shipped model: ``load_pretrained().predict(paths)``
"""

import os as _os

# TensorFlow prints C++ log lines at import; they clutter notebooks and break nbval.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from . import data  # noqa: E402  (the data layer imports neither Keras nor matplotlib)
from .vocabulary import GEMS_EMOTIONS, QUADRANT_CLASSES, QUADRANT_CORNERS  # noqa: E402  (no Keras either)

# Everything else is imported on first use (PEP 562), so that `python -m semgru_keras.run` and the
# feature-cache workers never import Keras: Keras picks its backend at import, and on TensorFlow
# (or with TensorFlow merely installed) that import prints absl/oneDNN lines.
_LAZY = {
    "SemanticEmbedder": "embedder", "annotation_matrix": "embedder",
    "AudioError": "features", "FeatureConfig": "features", "file_sequence": "features",
    "load_audio": "features", "mel_sequence": "features",
    "CosineGramLoss": "losses",
    "build_feature_model": "model", "build_standard_gru": "model",
    "CropSequence": "training", "embed": "training", "train_model": "training",
    "load_pretrained": "pretrained",
}
_SUBMODULES = ("backends", "baselines", "embedder", "evaluation", "features", "handcrafted", "losses", "metrics",
               "model", "parallel", "plots", "presets", "pretrained", "protocol", "report", "results", "run", "training", "vocabulary")


def __getattr__(name):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "data",
    "CosineGramLoss",
    "CropSequence",
    "FeatureConfig",
    "GEMS_EMOTIONS",
    "QUADRANT_CLASSES",
    "QUADRANT_CORNERS",
    "SemanticEmbedder",
    "annotation_matrix",
    "build_feature_model",
    "build_standard_gru",
    "embed",
    "file_sequence",
    "load_audio",
    "load_pretrained",
    "mel_sequence",
    "train_model",
]
