"""What is measured: the paper's Emotify-scale workload, its synthetic inputs and its FLOPs.

Everything here is plain NumPy so that the coordinator, the Keras workers (any backend)
and the PyTorch twin all build *the same* inputs from the same seeds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: The paper's reference (Section V-B): 100 epochs at Emotify scale took ≈ 4.5 min on a
#: GTX 970, i.e. ≈ 2.7 s per epoch.
PAPER_GPU = "NVIDIA GTX 970 (paper, Section V-B)"
PAPER_SECONDS_PER_EPOCH = 4.5 * 60 / 100


@dataclass(frozen=True)
class TrainSpec:
    """One training epoch at Emotify scale (360 training songs of the 400, one fold of ten)."""

    n_songs: int = 360
    crop_length: int = 100
    input_dim: int = 160
    batch_size: int = 100
    units: tuple = (100, 50)
    n_targets: int = 9  # Emotify's nine GEMS emotions
    min_song_vectors: int = 600  # 30 s
    max_song_vectors: int = 1200  # 60 s

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EmbedSpec:
    """Full-length embedding: ``n_songs`` one-minute songs of ``length`` vectors."""

    n_songs: int = 400
    length: int = 2400  # the figure for one minute of audio
    input_dim: int = 160
    batch_size: int = 32  # semgru_keras.training.embed's default
    units: tuple = (100, 50)

    def to_dict(self) -> dict:
        return asdict(self)


def training_data(spec: TrainSpec, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Song sequences of 30–60 s (standard-normal values: speed does not depend on them)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(spec.min_song_vectors, spec.max_song_vectors + 1, spec.n_songs)
    sequences = [rng.standard_normal((int(n), spec.input_dim), dtype=np.float32) for n in lengths]
    targets = rng.random((spec.n_songs, spec.n_targets), dtype=np.float32) + 0.01
    return sequences, targets


def embedding_data(spec: EmbedSpec, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((spec.length, spec.input_dim), dtype=np.float32) for _ in range(spec.n_songs)]


def gru_flops_per_step(input_dim: int, units) -> int:
    """Multiply-add FLOPs (2 per MAC) of one time step of one song through the stacked GRUs.

    A GRU layer of ``h`` units on ``d`` inputs does three gate projections of the input
    (``d × 3h``) and of the state (``h × 3h``): ``2·3h·(d + h)`` FLOPs per step, the same for
    both ``reset_after`` forms. Element-wise gate arithmetic (O(h)) is left out.
    """
    flops, d = 0, int(input_dim)
    for h in units:
        flops += 2 * 3 * int(h) * (d + int(h))
        d = int(h)
    return flops


def training_flops_per_epoch(spec: TrainSpec) -> float:
    """Forward + backward FLOPs of one epoch: backward ≈ 2 × forward (gradients wrt
    activations and wrt weights), so 3 × the forward matmuls; the loss (a 100 × 100 Gram
    matrix per batch) and Adadelta's O(parameters) update are negligible."""
    return 3.0 * gru_flops_per_step(spec.input_dim, spec.units) * spec.crop_length * spec.n_songs


def embedding_flops(spec: EmbedSpec) -> float:
    """Forward-only FLOPs of embedding every song at full length."""
    return float(gru_flops_per_step(spec.input_dim, spec.units)) * spec.length * spec.n_songs
