"""A plain PyTorch twin of the Semantic Embedding GRU, written only for the benchmark.

Same workload as ``semgru_keras.train_model`` at Emotify scale: two stacked GRUs (100 → 50),
the mean over time, the cosine-Gram loss (Eq. 13, with the same safe normalisation and safe
square root as :class:`semgru_keras.losses.CosineGramLoss`), Adadelta (step 1.0, ρ = 0.9,
ε = 1e-6), weights ~ N(0, 0.01) and zero biases, and per epoch one random 100-vector crop
per song in shuffled batches of 100 (the last batch of 60).

It is what someone would write by hand in PyTorch: ``torch.nn.GRU`` (the cuDNN/oneDNN
form, i.e. Keras' ``reset_after=True``), no padding mask (crops never need one), NumPy
batching in the training loop. It imports nothing from Keras or ``semgru_keras``.
``device="cuda"`` puts the model and each batch on the GPU (``benchmarks/gpu.py``); every
epoch still ends with the batch losses read back, so its wall time includes the GPU's work.
"""

from __future__ import annotations

import numpy as np
import torch


class TwinGRU(torch.nn.Module):
    """``torch.nn.GRU`` × 2 → mean over time."""

    def __init__(self, input_dim: int = 160, units=(100, 50), init_stddev: float = 0.01, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        layers, d = [], input_dim
        for h in units:
            layers.append(torch.nn.GRU(d, h, batch_first=True))
            d = h
        self.grus = torch.nn.ModuleList(layers)
        for name, p in self.named_parameters():
            if "weight" in name:
                torch.nn.init.normal_(p, 0.0, init_stddev)
            else:
                torch.nn.init.zeros_(p)

    def forward(self, x):
        for gru in self.grus:
            x, _ = gru(x)
        return x.mean(dim=1)


def safe_l2_normalize(x, epsilon: float = 1e-12):
    squared = (x * x).sum(dim=-1, keepdim=True)
    nonzero = squared > epsilon
    safe = torch.where(nonzero, squared, torch.ones_like(squared))
    return torch.where(nonzero, x * torch.rsqrt(safe), torch.zeros_like(x))


def cosine_gram_loss(features, annotations, epsilon: float = 1e-12):
    """‖F′F′ᵀ − A′A′ᵀ‖_F, as ``CosineGramLoss()``."""
    f = safe_l2_normalize(features, epsilon)
    a = safe_l2_normalize(annotations, epsilon)
    diff = f @ f.T - a @ a.T
    squared = (diff * diff).sum()
    positive = squared > epsilon
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), torch.zeros_like(squared))


class TwinTrainer:
    """Epoch-by-epoch training of :class:`TwinGRU` with the paper's crop protocol."""

    def __init__(self, sequences, targets, *, crop_length=100, batch_size=100, units=(100, 50), seed=0,
                 device: str = "cpu"):
        self.device = torch.device(device)
        self.sequences = [np.asarray(s, dtype=np.float32) for s in sequences]
        self.targets = torch.from_numpy(np.asarray(targets, dtype=np.float32)).to(self.device)
        self.crop_length, self.batch_size = int(crop_length), int(batch_size)
        self.rng = np.random.default_rng(seed)
        self.model = TwinGRU(self.sequences[0].shape[1], units, seed=seed).to(self.device)
        self.optimizer = torch.optim.Adadelta(self.model.parameters(), lr=1.0, rho=0.9, eps=1e-6)
        n = len(self.sequences)
        n_batches = max(1, -(-n // self.batch_size))
        if n_batches > 1 and n - (n_batches - 1) * self.batch_size < 2:
            n_batches -= 1  # as CropSequence: never a last batch of one song
        self.n_batches = n_batches

    def epoch(self) -> float:
        """One epoch; returns the mean batch loss."""
        n = len(self.sequences)
        order = self.rng.permutation(n)
        starts = [int(self.rng.integers(0, len(s) - self.crop_length + 1)) for s in self.sequences]
        self.model.train()
        total = 0.0
        for b in range(self.n_batches):
            stop = None if b == self.n_batches - 1 else (b + 1) * self.batch_size
            songs = order[b * self.batch_size : stop]
            x = torch.from_numpy(
                np.stack([self.sequences[i][starts[i] : starts[i] + self.crop_length] for i in songs])
            ).to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss = cosine_gram_loss(self.model(x), self.targets[torch.from_numpy(songs).to(self.device)])
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
        return total / self.n_batches


def embed(model: TwinGRU, sequences, batch_size: int = 32) -> np.ndarray:
    """Features of equal-length songs in batches (the benchmark's songs need no padding)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(sequences), batch_size):
            x = torch.from_numpy(np.stack(sequences[start : start + batch_size])).to(device)
            out.append(model(x).cpu().numpy())
    return np.concatenate(out)
