"""The Semantic Embedding loss (paper, Section IV, Eqs. 12–13).

For a batch of song features ``F`` (batch, d) and annotations ``A`` (batch, k), let
``F′`` and ``A′`` be their row-L2-normalised copies. Then ``F′F′ᵀ`` and ``A′A′ᵀ`` hold the
cosine similarities (Eq. 12) of every pair of songs, and the loss is

    L(F, A) = ‖F′F′ᵀ − A′A′ᵀ‖_F                                            (Eq. 13)

so training pulls the geometry of the feature space towards that of the annotation
space; ``d`` and ``k`` need not be equal.

Two options, off by default (the default is Eq. 13 exactly), give the Gram targets used
elsewhere in the literature; they are variants of the extended recipe (issue 16), not
the paper's:

* ``center=True`` subtracts the batch's mean row from ``F`` and from ``A`` before the row
  normalisation, so the Gram matrices hold correlations between songs' deviations from
  the batch mean (a correlation / CKA-style Gram): a feature shared by every song of the
  batch no longer counts as similarity.
* ``clip_negative=True`` sets negative cosines to zero in both Gram matrices before the
  difference, as DINOv3's Gram loss does: dissimilar songs must not point the same way,
  but how far apart they point is free. Emotify's annotation cosines are never negative,
  so there only the features' are clipped.

:data:`GRAM_VARIANTS` names them (``"cosine"`` = Eq. 13) and :func:`gram_loss` builds one.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["CosineGramLoss", "GRAM_VARIANTS", "cosine_gram", "gram_loss", "safe_l2_normalize"]

#: Named Gram targets: name → options of :class:`CosineGramLoss` (``"cosine"``: the paper's Eq. 13).
GRAM_VARIANTS: dict[str, dict[str, bool]] = {
    "cosine": {},
    "centered": {"center": True},
    "relu": {"clip_negative": True},
}


def safe_l2_normalize(x, epsilon: float = 1e-12):
    """Row-wise ``x / ‖x‖`` with finite values and gradients for all-zero rows.

    ``keras.ops.normalize`` differentiates to ~1e7 at a zero row, and clamping the norm
    alone still gives a gradient of ``1/sqrt(epsilon)``. Rows whose squared norm is at
    most ``epsilon`` are mapped to zero with a zero gradient (the direction of a zero
    vector is undefined); ``rsqrt`` only ever sees values above ``epsilon``.
    """
    x = ops.convert_to_tensor(x)  # NumPy input too: torch cannot multiply an ndarray by a tensor
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    nonzero = squared_norm > epsilon
    safe = ops.where(nonzero, squared_norm, 1.0)
    return ops.where(nonzero, x * ops.rsqrt(safe), 0.0)


def cosine_gram(x, epsilon: float = 1e-12, center: bool = False, clip_negative: bool = False):
    """Cosine-similarity (Gram) matrix ``X′X′ᵀ`` of the rows of ``x`` (Eq. 12), (batch, batch).

    ``center`` subtracts the mean row first (a correlation Gram); ``clip_negative`` sets
    negative entries to zero. Both off: Eq. 12.
    """
    if center:
        x = ops.convert_to_tensor(x)
        x = x - ops.mean(x, axis=0, keepdims=True)
    x = safe_l2_normalize(x, epsilon)
    gram = ops.matmul(x, ops.transpose(x))
    return ops.relu(gram) if clip_negative else gram


@keras.saving.register_keras_serializable(package="semgru_keras")
class CosineGramLoss(keras.losses.Loss):
    """Frobenius distance between the cosine-Gram matrices of features and annotations (Eq. 13).

    Parameters
    ----------
    squared : bool
        Return ``‖·‖_F²`` instead of ``‖·‖_F`` (smoother at the minimum; same minimiser).
    center : bool
        Subtract the batch's mean row from features and annotations before the row
        normalisation (a correlation Gram; not the paper's).
    clip_negative : bool
        Set negative cosines to zero in both Gram matrices (as DINOv3's Gram loss; not the
        paper's).
    epsilon : float
        Floor of squared norms, for zero rows and for the square root at the minimum.
    reduction, name, dtype
        As for any ``keras.losses.Loss``. The loss of a batch is one scalar, which every
        reduction leaves as it is.

    Notes
    -----
    ``y_true`` is the annotation matrix ``A`` (batch, k) and ``y_pred`` the feature
    matrix ``F`` (batch, d). The value is exactly 0 when the two Gram matrices are equal,
    and the gradient there is 0 rather than NaN (the square root is only taken of
    values above ``epsilon``). A batch of one song always scores 0.

    Examples
    --------
    >>> import numpy as np
    >>> loss = CosineGramLoss()
    >>> a = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> f = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    >>> float(loss(a, f))
    0.0
    """

    def __init__(
        self,
        squared: bool = False,
        epsilon: float = 1e-12,
        center: bool = False,
        clip_negative: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "cosine_gram",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.squared = bool(squared)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.clip_negative = bool(clip_negative)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        options = dict(center=self.center, clip_negative=self.clip_negative)
        diff = cosine_gram(y_pred, self.epsilon, **options) - cosine_gram(y_true, self.epsilon, **options)
        squared_norm = ops.sum(ops.square(diff))
        if self.squared:
            return squared_norm
        # sqrt has an infinite slope at 0: take it only where the value is safely positive.
        positive = squared_norm > self.epsilon
        return ops.where(positive, ops.sqrt(ops.where(positive, squared_norm, 1.0)), 0.0)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(squared=self.squared, epsilon=self.epsilon, center=self.center,
                      clip_negative=self.clip_negative)
        return config


def gram_loss(gram: str = "cosine", **kwargs) -> CosineGramLoss:
    """The :class:`CosineGramLoss` of a named Gram target (:data:`GRAM_VARIANTS`)."""
    if gram not in GRAM_VARIANTS:
        raise ValueError(f"unknown gram {gram!r}; choose from {sorted(GRAM_VARIANTS)}")
    return CosineGramLoss(**GRAM_VARIANTS[gram], **kwargs)
