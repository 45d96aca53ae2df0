"""A scikit-learn front to the feature learner: ``SemanticEmbedder``.

``make_pipeline(SemanticEmbedder(), StandardScaler(), SVR(kernel="rbf"))`` is the
paper's full system (Fig. 1, right): the GRU learns features from the training songs
only, and the SVR/SVM is fitted on those features. Because it is an ordinary
transformer, ``cross_val_predict`` refits it inside every fold, so no test-fold song
ever reaches the feature learner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .losses import gram_loss
from .model import build_feature_model
from .presets import PAPER, TrainingSettings
from .training import check_sequences, embed, input_statistics, train_model
from .vocabulary import QUADRANT_CORNERS

__all__ = ["SemanticEmbedder", "QUADRANT_CORNERS", "annotation_matrix"]



def annotation_matrix(y, class_vectors: Mapping | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Turn targets into the annotation matrix ``A`` of Eq. 13.

    Returns ``(A, classes)``: a 2-D numeric ``y`` is used as it is (``classes`` is
    ``None``); a 1-D array of labels becomes one-hot rows over ``classes`` (sorted), or
    the rows of ``class_vectors[label]`` when a mapping such as :data:`QUADRANT_CORNERS`
    is given.
    """
    y = np.asarray(y)
    if y.ndim == 2:
        a = y.astype(np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("annotations contain NaN or infinite values")
        zero = np.flatnonzero(~np.any(a != 0, axis=1))
        if zero.size:
            raise ValueError(
                f"{zero.size} annotation rows are all zero (rows {zero[:10].tolist()}...): "
                "their cosine similarity is undefined"
            )
        return a, None
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D labels or a 2-D annotation matrix, got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise ValueError(
            "a single real-valued target has no useful cosine geometry (every cosine is ±1); "
            "pass the full annotation matrix (n_songs, n_targets) or class labels"
        )
    classes = np.unique(y)
    if class_vectors is None:
        return (y[:, None] == classes[None, :]).astype(np.float32), classes
    missing = [c for c in classes if c not in class_vectors]
    if missing:
        raise ValueError(f"no vector for classes {missing}; class_vectors knows {sorted(class_vectors)}")
    return np.array([class_vectors[c] for c in y], dtype=np.float32), classes


class SemanticEmbedder(TransformerMixin, BaseEstimator):
    """Learn song features with the Semantic Embedding GRU (scikit-learn transformer).

    ``SemanticEmbedder(**settings.to_dict())`` builds one from a
    :class:`~semgru_keras.presets.TrainingSettings`.

    Parameters
    ----------
    units, epochs, batch_size, crop_length, crops_per_song, learning_rate, rho, init_stddev, reset_after, standardize
        The training settings, defaults the paper's: see
        :class:`~semgru_keras.presets.TrainingSettings`. The output has ``units[-1]``
        features; with ``standardize`` the training songs' input statistics are stored in
        the model.
    class_vectors : mapping, optional
        For class labels: label → annotation vector (e.g. :data:`QUADRANT_CORNERS`);
        default one-hot.
    gram : {"cosine", "centered", "relu"}
        The Gram target of the loss (:data:`~semgru_keras.losses.GRAM_VARIANTS`):
        ``"cosine"`` is the paper's Eq. 13; the others are variants of the extended recipe.
    embed_length : int or None
        ``None`` (default, the paper's Eq. 11 over the whole song): ``transform`` reads
        every input vector of a song. An integer ``k`` reads only the middle ``k`` vectors
        (e.g. ``crop_length``, to embed exactly what training saw: a 5 s excerpt).
    seed : int
        Seeds weights, crops and shuffling; the same seed repeats a CPU run exactly.
    verbose : int
        Keras ``fit`` verbosity (0 silent, 2 one line per epoch).

    Attributes
    ----------
    model_ : keras.Model
        The trained feature model.
    history_ : dict
        Per-epoch loss values.
    classes_ : ndarray or None
        Class labels seen in ``fit`` (``None`` for annotation matrices).
    n_train_ : int
        Number of songs the model was trained on.
    """

    def __init__(
        self,
        units: Sequence[int] = PAPER.units,
        epochs: int = PAPER.epochs,
        batch_size: int = PAPER.batch_size,
        crop_length: int = PAPER.crop_length,
        crops_per_song: int = PAPER.crops_per_song,
        learning_rate: float = PAPER.learning_rate,
        rho: float = PAPER.rho,
        init_stddev: float | None = PAPER.init_stddev,
        reset_after: bool = PAPER.reset_after,
        standardize: bool = PAPER.standardize,
        class_vectors: Mapping | None = None,
        gram: str = "cosine",
        embed_length: int | None = None,
        seed: int = PAPER.seed,
        verbose: int = PAPER.verbose,
    ):
        self.units = units
        self.epochs = epochs
        self.batch_size = batch_size
        self.crop_length = crop_length
        self.crops_per_song = crops_per_song
        self.learning_rate = learning_rate
        self.rho = rho
        self.init_stddev = init_stddev
        self.reset_after = reset_after
        self.standardize = standardize
        self.class_vectors = class_vectors
        self.gram = gram
        self.embed_length = embed_length
        self.seed = seed
        self.verbose = verbose

    def fit(self, X, y):
        """Train the feature learner on sequences ``X`` with annotations derived from ``y``.

        Raises ``ValueError`` for fewer than 2 songs or classes, annotations that are not
        finite or all zero, and sequences that are shorter than ``crop_length``, not
        finite or all zero (naming the sequence's index); see
        :func:`~semgru_keras.training.train_model`.
        """
        X = list(X)
        annotations, self.classes_ = annotation_matrix(y, self.class_vectors)
        if len(annotations) != len(X):
            raise ValueError(f"{len(X)} sequences but {len(annotations)} targets")
        if self.classes_ is not None and len(self.classes_) < 2:
            raise ValueError(f"y holds a single class {self.classes_.tolist()}: the feature learner needs at least 2")
        loss = gram_loss(self.gram)  # an unknown name fails before any work
        settings = TrainingSettings.from_mapping(self.get_params())
        mean, variance = input_statistics(X) if settings.standardize else (None, None)
        self.model_ = build_feature_model(input_dim=np.asarray(X[0]).shape[1], input_mean=mean,
                                          input_variance=variance, **settings.model_params())
        history = train_model(self.model_, X, annotations, loss=loss, **settings.fit_params())
        self.history_ = dict(history.history)
        self.n_features_out_ = int(settings.units[-1])
        self.n_train_ = len(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Learned features, shape ``(n_songs, units[-1])``: of the full songs, or of their
        middle ``embed_length`` vectors.

        A sequence that is empty, not finite or all zero raises ``ValueError`` naming its
        index (it would give NaN features).
        """
        check_is_fitted(self, "model_")
        X = check_sequences(list(X), 1)
        if self.embed_length is not None:
            k = int(self.embed_length)
            starts = [max(0, (len(s) - k) // 2) for s in X]
            X = [np.asarray(s)[start : start + k] for s, start in zip(X, starts)]
        return embed(self.model_, X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "model_")
        return np.array([f"semgru{i}" for i in range(self.n_features_out_)], dtype=object)
