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
- :mod:`semgru_keras.pretrained` — the shipped model: ``load_pretrained().predict(paths)``
"""

import os as _os

# TensorFlow prints C++ log lines at import; they clutter notebooks and break nbval.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from . import data  # noqa: E402
from .embedder import QUADRANT_CORNERS, SemanticEmbedder, annotation_matrix  # noqa: E402
from .features import AudioError, FeatureConfig, file_sequence, load_audio, mel_sequence  # noqa: E402
from .losses import CosineGramLoss  # noqa: E402
from .model import build_feature_model, build_standard_gru  # noqa: E402
from .training import CropSequence, embed, train_model  # noqa: E402
from .pretrained import load_pretrained  # noqa: E402

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
    "load_pretrained",
    "mel_sequence",
    "train_model",
]
