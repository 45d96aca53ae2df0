"""The paper's training protocol (Section V-B) and full-length embedding.

Each epoch, every training song contributes one random crop of ``crop_length`` input
vectors (100 ≈ 5 s); songs are shuffled into batches of ``batch_size`` (100) and the
network minimises the cosine-Gram loss (Eq. 13) with Adadelta (ρ = 0.9).

Learning rate: Zeiler's Adadelta (the paper's reference [29]) has no learning rate, i.e.
a step of 1.0 times the adaptive update, with ε = 1e-6. ``keras.optimizers.Adadelta``
defaults to ``learning_rate=0.001, rho=0.95``, which barely moves the weights; we pass
``learning_rate=1.0, rho=0.9, epsilon=1e-6`` explicitly.

The defaults below are the paper's, from :data:`semgru_keras.presets.PAPER`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import keras
import numpy as np

from .losses import CosineGramLoss
from .model import without_padding_mask
from .presets import PAPER

__all__ = [
    "CropSequence",
    "EpochProgress",
    "adadelta",
    "check_sequences",
    "set_random_seed",
    "input_statistics",
    "pad_sequences",
    "train_model",
    "embed",
    "predict_sequences",
    "save_history",
    "save_model",
    "load_history",
]


def adadelta(learning_rate: float = PAPER.learning_rate, rho: float = PAPER.rho, epsilon: float = 1e-6) -> keras.optimizers.Optimizer:
    """Adadelta as in Zeiler (2012) and the paper: step 1.0, ρ = 0.9, ε = 1e-6."""
    return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=rho, epsilon=epsilon)


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras' global seed generator (and PyTorch on the torch backend).

    What ``keras.utils.set_random_seed`` does, without importing TensorFlow on the JAX and
    torch backends (Keras imports it whenever it is installed, and its import prints
    absl/oneDNN/CUDA lines into every notebook). On the TensorFlow backend it is
    ``keras.utils.set_random_seed`` itself.
    """
    if not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    try:  # the two globals keras.utils.set_random_seed resets (keras/src/utils/rng_utils.py)
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils

        names = (rng_utils.GLOBAL_RANDOM_SEED, seed_generator.GLOBAL_SEED_GENERATOR)
    except (ImportError, AttributeError):  # a Keras whose internals moved: correct, only noisier
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(names[0], seed)
    global_state.set_global_attribute(names[1], None)  # recreated from the seed on first use
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


class EpochProgress(keras.callbacks.Callback):
    """One ``tqdm`` bar over the epochs of ``fit`` with the latest losses (``tqdm.auto``: a
    widget in Jupyter, text elsewhere)."""

    def __init__(self, desc: str = "epochs"):
        super().__init__()
        self.desc = desc
        self.bar = None

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.params.get("epochs"), desc=self.desc, unit="epoch")

    def on_epoch_end(self, epoch, logs=None):
        losses = {k: f"{float(v):.3f}" for k, v in (logs or {}).items() if k.endswith("loss")}
        self.bar.set_postfix(losses, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def _name(i: int, ids=None) -> str:
    return f"song {ids[i]!r}" if ids is not None else f"sequence {i}"


def check_sequences(sequences: Sequence[np.ndarray], min_length: int, ids=None) -> list[np.ndarray]:
    """Sequences as float32 ``(time, dim)`` arrays; ``ValueError`` naming the song (or index) otherwise.

    Rules: 2-D, at least ``min_length`` vectors, finite, and not all zero (an all-zero
    vector is padding to the model, so an all-zero song would have no vector to average).
    """
    out = []
    for i, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.float32)
        if seq.ndim != 2:
            raise ValueError(f"{_name(i, ids)}: expected a (time, features) array, got shape {seq.shape}")
        if seq.shape[0] < min_length:
            raise ValueError(
                f"{_name(i, ids)}: {seq.shape[0]} vectors, shorter than a crop of {min_length}; "
                "use longer clips or a smaller crop_length"
            )
        bad = np.flatnonzero(~np.all(np.isfinite(seq), axis=1))
        if bad.size:
            raise ValueError(
                f"{_name(i, ids)}: the input sequence contains NaN or infinite values "
                f"(vectors {bad[:5].tolist()}{' …' if bad.size > 5 else ''})"
            )
        if not np.any(seq):
            raise ValueError(
                f"{_name(i, ids)}: every value of the input sequence is zero; an all-zero vector is padding "
                "to the model, so the song would have no features"
            )
        out.append(seq)
    return out


def _check_targets(targets: np.ndarray, cosine: bool, ids=None) -> None:
    """Refuse training sets with nothing to learn: one song, or every target row alike.

    For the cosine-Gram loss (Eq. 13) rows that point the same way are alike (every
    cosine is 1, e.g. a single class); for other losses, equal rows.
    """
    n = len(targets)
    if n < 2:
        only = f" ({_name(0, ids)})" if n else ""
        raise ValueError(f"training needs at least 2 songs, got {n}{only}: the loss of one song is always 0")
    t = targets.astype(np.float64)
    if cosine:
        norms = np.linalg.norm(t, axis=1, keepdims=True)
        t = t / np.where(norms > 0, norms, 1.0)
    if np.allclose(t, t[:1], rtol=0, atol=1e-6):
        if cosine:
            raise ValueError(
                f"all {n} training targets point the same way (every cosine similarity is 1, e.g. a single "
                "class): nothing to learn, the cosine-Gram loss is 0 from the start"
            )
        raise ValueError(f"all {n} training targets are equal (e.g. a single class): nothing to learn but a constant")


def input_statistics(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and variance over every vector of every sequence."""
    stacked = np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences], axis=0)
    return stacked.mean(axis=0).astype("float32"), np.maximum(stacked.var(axis=0), 1e-8).astype("float32")


class CropSequence(keras.utils.PyDataset):
    """Batches of random fixed-length crops, redrawn every epoch (seeded).

    Parameters
    ----------
    sequences : sequence of arrays (time_i, dim)
        Full-length input sequences; each must have at least ``crop_length`` vectors.
    targets : array (n, k)
        One row per song (annotations for the Semantic Embedding loss, or targets).
    crop_length, batch_size : int
        Vectors per crop (paper: 100) and songs per batch (paper: 100).
    crops_per_song : int
        Crops of every song per epoch (paper: 1). With ``k`` > 1 the epoch holds ``k·n``
        crops, shuffled together into batches, so a batch may hold two crops of one song
        (their annotations are identical: the loss asks for similar features).
    seed : int
        Seed of the per-epoch shuffling and crop positions.
    min_batch : int
        A last batch smaller than this is merged into the previous one (the Gram loss of
        a single song is always 0).
    ids : sequence, optional
        Song names used in error messages.
    """

    def __init__(
        self,
        sequences,
        targets,
        crop_length: int = PAPER.crop_length,
        batch_size: int = PAPER.batch_size,
        seed: int = PAPER.seed,
        min_batch: int = 2,
        ids=None,
        crops_per_song: int = PAPER.crops_per_song,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sequences = check_sequences(sequences, crop_length, ids)
        self.targets = np.asarray(targets, dtype=np.float32)
        if self.targets.ndim == 1:
            self.targets = self.targets[:, None]
        if len(self.targets) != len(self.sequences):
            raise ValueError(f"{len(self.sequences)} sequences but {len(self.targets)} target rows")
        bad = np.flatnonzero(~np.all(np.isfinite(self.targets), axis=1))
        if bad.size:
            raise ValueError(f"{_name(int(bad[0]), ids)}: its target row contains NaN or infinite values ({bad.size} such rows)")
        self.crop_length = int(crop_length)
        self.batch_size = int(batch_size)
        self.min_batch = int(min_batch)
        self.crops_per_song = int(crops_per_song)
        if self.crops_per_song < 1:
            raise ValueError(f"crops_per_song must be at least 1, got {crops_per_song}")
        self.rng = np.random.default_rng(seed)
        n = len(self.sequences) * self.crops_per_song
        n_batches = max(1, math.ceil(n / self.batch_size))
        if n_batches > 1 and n - (n_batches - 1) * self.batch_size < self.min_batch:
            n_batches -= 1
        self._n_batches = n_batches
        self.on_epoch_end()

    def __len__(self) -> int:
        return self._n_batches

    def on_epoch_end(self) -> None:
        """Draw a new order of the epoch's crops and a new start for every crop.

        Crop ``c`` is of song ``c mod n``; with one crop per song the draws are the
        paper protocol's (a song order, then one start per song).
        """
        n = len(self.sequences)
        self.order = self.rng.permutation(n * self.crops_per_song)
        self.starts = np.array(
            [self.rng.integers(0, len(s) - self.crop_length + 1)
             for _ in range(self.crops_per_song) for s in self.sequences]
        )

    def _batch_indices(self, idx: int) -> np.ndarray:
        stop = None if idx == self._n_batches - 1 else (idx + 1) * self.batch_size
        return self.order[idx * self.batch_size : stop]

    def __getitem__(self, idx: int):
        crops = self._batch_indices(idx)
        songs = crops % len(self.sequences)
        x = np.stack(
            [self.sequences[i][self.starts[c] : self.starts[c] + self.crop_length] for c, i in zip(crops, songs)]
        )
        return x, self.targets[songs]


def train_model(
    model: keras.Model,
    sequences,
    targets,
    *,
    loss: keras.losses.Loss | str | None = None,
    epochs: int = PAPER.epochs,
    batch_size: int = PAPER.batch_size,
    crop_length: int = PAPER.crop_length,
    crops_per_song: int = PAPER.crops_per_song,
    learning_rate: float = PAPER.learning_rate,
    rho: float = PAPER.rho,
    seed: int = PAPER.seed,
    validation: tuple | None = None,
    callbacks=None,
    verbose: int | str = PAPER.verbose,
    ids=None,
    jit_compile: bool | str = "auto",
    optimizer: keras.optimizers.Optimizer | None = None,
    progress: bool = False,
) -> keras.callbacks.History:
    """Train ``model`` with the paper's protocol and return the Keras ``History``.

    ``loss`` defaults to :class:`CosineGramLoss` (the Semantic Embedding GRU); pass
    ``"mse"`` for the standard GRU baseline (Eq. 14). ``validation`` is an optional
    ``(sequences, targets)`` pair, cropped the same way with a fixed seed (one crop per
    song). ``crops_per_song`` > 1 draws that many crops of every song per epoch.

    Speed: crops contain no padding, so the model is trained through
    :func:`~semgru_keras.model.without_padding_mask` (same weights, no mask). That matters
    most on TensorFlow, whose masked GRU runs about five times slower on a CPU (see
    ``benchmarks/``). ``jit_compile`` goes to ``Model.compile``; Keras' ``"auto"`` uses XLA
    on JAX and on TensorFlow with a GPU, and leaves it off for TensorFlow on a CPU, where
    it is slower for this model. ``optimizer`` replaces the paper's
    ``adadelta(learning_rate, rho)`` (for experiments, e.g. another ε).
    ``progress=True`` shows one bar over the epochs (:class:`EpochProgress`).

    Raises ``ValueError`` (naming the song when ``ids`` are given, else its index) for a
    sequence that is shorter than ``crop_length``, not finite or all zero, a target row
    that is not finite, fewer than 2 songs, or targets that leave nothing to learn (all
    rows equal; for the cosine-Gram loss, all rows pointing the same way, e.g. one class).
    """
    set_random_seed(seed)
    data = CropSequence(sequences, targets, crop_length, batch_size, seed=seed, ids=ids, crops_per_song=crops_per_song)
    _check_targets(data.targets, cosine=loss is None or isinstance(loss, CosineGramLoss), ids=ids)
    val = None
    if validation is not None:
        val = CropSequence(*validation, crop_length=crop_length, batch_size=batch_size, seed=seed + 1)
    trainable = without_padding_mask(model)
    trainable.compile(optimizer=optimizer or adadelta(learning_rate, rho), loss=loss or CosineGramLoss(), jit_compile=jit_compile)
    callbacks = list(callbacks or []) + ([EpochProgress()] if progress else [])
    return trainable.fit(data, epochs=epochs, validation_data=val, callbacks=callbacks, verbose=verbose)


def pad_sequences(sequences: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """Zero-pad (at the end) a list of ``(time_i, dim)`` arrays into ``(n, length, dim)``."""
    length = length or max(len(s) for s in sequences)
    dim = np.asarray(sequences[0]).shape[1]
    out = np.zeros((len(sequences), length, dim), dtype=np.float32)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = s[:length]
    return out


def predict_sequences(
    model: keras.Model, sequences: Sequence[np.ndarray], batch_size: int = 32, pad_multiple: int = 100
) -> np.ndarray:
    """Run ``model`` on full-length sequences in length-sorted, zero-padded batches.

    Sorting by length keeps padding small; lengths are rounded up to ``pad_multiple`` so
    only a few distinct shapes are compiled. Rows come back in the input order.
    A sequence that is empty, not finite or all zero raises ``ValueError`` naming its index.
    """
    sequences = check_sequences(sequences, 1)
    if not sequences:
        raise ValueError("no sequences to embed")
    order = np.argsort([len(s) for s in sequences], kind="stable")
    out = [None] * len(sequences)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        longest = max(len(sequences[i]) for i in chunk)
        length = int(math.ceil(longest / pad_multiple) * pad_multiple)
        result = model.predict_on_batch(pad_sequences([sequences[i] for i in chunk], length))
        for row, i in zip(np.asarray(result), chunk):
            out[i] = row
    return np.stack(out)


def embed(model: keras.Model, sequences: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """Full-length song features ``F`` (n, d) from a trained feature model (Eq. 11)."""
    return predict_sequences(model, sequences, batch_size=batch_size)


def save_model(model: keras.Model, path) -> None:
    """``model.save(path)`` (a ``.keras`` file) without importing TensorFlow on the JAX and torch backends.

    Keras' serialiser asks whether TensorFlow is available (to test for ``tf.TensorShape``
    objects), which imports TensorFlow whenever it is installed, and that import prints
    absl/oneDNN/CUDA lines. A model of another backend holds no TensorFlow objects, so for the
    duration of the save Keras is told that TensorFlow is unavailable, unless it is imported.
    """
    import sys

    try:
        from keras.src.utils.module_utils import tensorflow as lazy_tf

        skip = (keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules
                and lazy_tf._available is None)
    except (ImportError, AttributeError):  # a Keras whose internals moved: correct, only noisier
        lazy_tf, skip = None, False
    if skip:
        lazy_tf._available = False
    try:
        model.save(path)
    finally:
        if skip:
            lazy_tf._available = None


def save_history(history: dict, path) -> None:
    """Write a Keras ``History.history`` dict as JSON (floats per epoch)."""
    import json
    from pathlib import Path

    clean = {key: [float(v) for v in values] for key, values in history.items()}
    Path(path).write_text(json.dumps(clean, indent=1))


def load_history(path) -> dict:
    """Read a history written by :func:`save_history`."""
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text())
