"""semgru-keras: Semantic Embedding GRU music emotion recognition in Keras 3.

Jakubik & Kwaśnicka (2017), "Music Emotion Analysis Using Semantic Embedding Recurrent
Neural Networks", INISTA 2017. Modules, in the order of the paper and the notebooks:

- :mod:`semgru_keras.features` — audio → 160-dim log-mel input sequences (Section V-B)
- :mod:`semgru_keras.model` — stacked GRUs + masked mean over time; standard-GRU baseline
- :mod:`semgru_keras.losses` — the cosine-Gram loss (Eq. 13)
- :mod:`semgru_keras.training` — random-crop Adadelta training, full-length embedding
- :mod:`semgru_keras.embedder` — ``SemanticEmbedder``, a scikit-learn transformer
- :mod:`semgru_keras.data` — built-in synthetic sets, Emotify, 4-quadrant folders, feature cache
- :mod:`semgru_keras.evaluation` — the paper's 10-fold protocol, baselines, Tables I/II
"""

import os as _os

# TensorFlow prints C++ log lines at import; they clutter notebooks and break nbval.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from . import data  # noqa: E402  (the data layer imports neither Keras nor matplotlib)

# Everything else is imported on first use (PEP 562), so that `python -m semgru_keras.run` and the
# feature-cache workers never import Keras: Keras picks its backend at import, and on TensorFlow
# (or with TensorFlow merely installed) that import prints absl/oneDNN lines.
_LAZY = {
    "QUADRANT_CORNERS": "embedder", "SemanticEmbedder": "embedder", "annotation_matrix": "embedder",
    "AudioError": "features", "FeatureConfig": "features", "file_sequence": "features",
    "load_audio": "features", "mel_sequence": "features",
    "CosineGramLoss": "losses",
    "build_feature_model": "model", "build_standard_gru": "model",
    "CropSequence": "training", "embed": "training", "train_model": "training",
}
_SUBMODULES = ("baselines", "embedder", "evaluation", "features", "handcrafted", "losses", "metrics", "model",
               "plots", "report", "run", "training")


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
    "QUADRANT_CORNERS",
    "SemanticEmbedder",
    "annotation_matrix",
    "build_feature_model",
    "build_standard_gru",
    "embed",
    "file_sequence",
    "load_audio",
    "mel_sequence",
    "train_model",
]
