"""Figures for the notebooks (matplotlib; each function returns its ``Figure``).

The teaching figures of notebooks 01–04 and the feature projection (:func:`plot_projection`).
The figures of a cross-validation run (per-emotion bars, scores, confusion matrices, the
projection of one fold) live in :mod:`semgru_keras.report`, which draws its projection with
:func:`plot_projection`. Importing this module picks a headless matplotlib backend unless a
notebook already plots inline.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

if matplotlib.get_backend().lower() not in {"module://matplotlib_inline.backend_inline", "inline"}:
    matplotlib.use("Agg")  # headless unless a notebook already chose inline plotting

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .features import FeatureConfig  # noqa: E402

__all__ = [
    "plot_audio_and_input",
    "plot_masked_mean",
    "plot_gram_matrices",
    "plot_loss_landscape",
    "plot_history",
    "plot_projection",
    "plot_annotations",
    "toy_loss_landscape",
    "save",
]


def save(fig: plt.Figure, path) -> None:
    """Save ``fig`` as a PNG at 120 dpi with a tight bounding box."""
    fig.savefig(path, dpi=120, bbox_inches="tight")


def plot_audio_and_input(
    y: np.ndarray, sr: int, sequence: np.ndarray, config: FeatureConfig | None = None, title: str = ""
) -> plt.Figure:
    """Waveform, the 40-band log-mel spectrogram, and the 160-value input vectors (Sec. V-B)."""
    config = config or FeatureConfig()
    n_mels = config.n_mels
    p = config.frames_per_vector
    fig, axes = plt.subplots(3, 1, figsize=(10, 8.5), constrained_layout=True,
                             gridspec_kw={"height_ratios": [1, 1.4, 1.6]})
    t = np.arange(len(y)) / sr
    axes[0].plot(t, y, lw=0.4, color="0.2")
    axes[0].set(xlabel="time (s)", ylabel="amplitude", title=f"Waveform {title}".strip(), xlim=(0, t[-1]))

    frames = sequence[:, : p * n_mels].reshape(len(sequence) * p, n_mels)  # undo the pairing
    hop = config.hop_seconds
    im = axes[1].imshow(frames.T, origin="lower", aspect="auto", cmap="magma",
                        extent=(0, len(frames) * hop, 0, n_mels))
    axes[1].set(xlabel="time (s)", ylabel="mel band", title=f"Log mel spectrogram: {n_mels} bands, "
                f"{config.frame_seconds * 1e3:.0f} ms frames, {hop * 1e3:.0f} ms hop")
    fig.colorbar(im, ax=axes[1], label="dB")

    show = sequence[: min(len(sequence), 120)]
    z = (show - show.mean(axis=0)) / (show.std(axis=0) + 1e-6)  # one scale for dB values and deltas
    im = axes[2].imshow(z.T, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="nearest")
    for k in range(1, sequence.shape[1] // n_mels):
        axes[2].axhline(k * n_mels - 0.5, color="black", lw=1)
    labels = [f"frame {j + 1}" for j in range(p)] + ([f"Δ frame {j + 1}" for j in range(p)] if config.deltas else [])
    axes[2].set_yticks([n_mels * (j + 0.5) for j in range(len(labels))], labels)
    axes[2].set(xlabel=f"input vector (one per {config.vector_seconds * 1e3:.0f} ms)",
                title=f"The GRU's input: {len(sequence)} vectors × {sequence.shape[1]} values (first {len(show)} shown)")
    fig.colorbar(im, ax=axes[2], label="z-score per value")
    return fig


def plot_masked_mean(outputs: np.ndarray, length: int, feature: np.ndarray, units: Sequence[int] = (0, 1, 2)) -> plt.Figure:
    """Outputs of the last GRU over time for one padded song, the masked steps, and their mean (Eq. 11)."""
    fig, ax = plt.subplots(figsize=(10, 3.8), constrained_layout=True)
    steps = np.arange(len(outputs))
    colors = plt.cm.tab10(np.arange(len(units)))
    for u, c in zip(units, colors):
        ax.plot(steps[:length], outputs[:length, u], color=c, lw=1, label=f"unit {u}: $h_t$")
        ax.hlines(feature[u], 0, length - 1, color=c, ls="--", lw=1.5, label=f"unit {u}: $f_i$ (mean)")
    ax.axvspan(length - 0.5, len(outputs) - 0.5, color="0.85", label="padding (masked)")
    ax.set(xlabel="time step (input vector)", ylabel="GRU output",
           title="Eq. 11: the song feature is the mean of the last GRU's outputs over the song's own steps",
           xlim=(0, len(outputs) - 1))
    ax.legend(ncol=2, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_gram_matrices(matrices: Sequence[np.ndarray], titles: Sequence[str], order: np.ndarray | None = None,
                       suptitle: str = "") -> plt.Figure:
    """Cosine-Gram matrices side by side on one colour scale [−1, 1] (Eqs. 12–13)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 4.0), constrained_layout=True)
    axes = np.atleast_1d(axes)
    for ax, m, title in zip(axes, matrices, titles):
        if order is not None:
            m = m[np.ix_(order, order)]
        im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
        ax.set(title=title, xlabel="song", ylabel="song")
    fig.colorbar(im, ax=axes.tolist(), shrink=0.85, label="cosine similarity")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_loss_landscape(angles: np.ndarray, losses: np.ndarray, best: tuple[float, float] | None = None,
                        title: str = "") -> plt.Figure:
    """Loss over a 2-D grid of two songs' feature angles (a toy view of Eq. 13)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.6), constrained_layout=True)
    deg = np.degrees(angles)
    cs = ax.contourf(deg, deg, losses, levels=20, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="L(F, A)")
    if best is not None:
        ax.plot(*np.degrees(best), marker="*", color="red", ms=14, ls="none", label="minimum")
        ax.legend(loc="upper right")
    ax.set(xlabel="angle of song 2's feature (degrees)", ylabel="angle of song 3's feature (degrees)",
           title=title or "Cosine-Gram loss on a toy example")
    return fig


def plot_history(history: dict, title: str = "Training loss") -> plt.Figure:
    """Loss per epoch (and validation loss when present) from a Keras history dict."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], style, label=key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def toy_loss_landscape(annotations: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Eq. 13 for three songs whose 2-D features sit at angles ``(0, θ₂, θ₃)``, on a grid.

    Returns ``L[i, j]`` for ``θ₂ = angles[j]``, ``θ₃ = angles[i]`` (NumPy, vectorised over the
    grid; the loss only depends on the features' directions, so unit vectors suffice).
    """
    a = np.asarray(annotations, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    target = a @ a.T
    t2, t3 = np.meshgrid(angles, angles)
    theta = np.stack([np.zeros_like(t2), t2, t3], axis=-1)  # (grid, grid, 3)
    gram = np.cos(theta[..., :, None] - theta[..., None, :])  # cosines between unit 2-D vectors
    return np.sqrt(np.sum((gram - target) ** 2, axis=(-1, -2)))


def plot_projection(
    features: np.ndarray,
    labels: Sequence,
    title: str = "Learned features (PCA)",
    *,
    train_features: np.ndarray | None = None,
    train_labels: Sequence | None = None,
    names: Sequence[str] | None = None,
    legend_title: str | None = None,
    standardize: bool = True,
) -> plt.Figure:
    """2-D PCA projection of song features, one colour per label (class or dominant emotion).

    The PCA is fitted on ``features``, or, when ``train_features`` are given, on those: the
    training songs are then drawn as small dots (coloured by ``train_labels``) and
    ``features`` (e.g. a fold's held-out songs) as large outlined ones, placed in the same
    plane by the same model. ``standardize`` scales every feature to unit variance (with the
    fitted songs' statistics) first. ``names`` fixes the order of the labels (their colours);
    default sorted. The legend counts the songs of ``features`` per label.
    """
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    fitted = features if train_features is None else train_features
    pca = PCA(n_components=2)
    model = make_pipeline(StandardScaler(), pca) if standardize else pca
    model.fit(np.asarray(fitted, dtype=np.float64))
    xy = model.transform(np.asarray(features, dtype=np.float64))
    if train_features is not None:
        train_xy = model.transform(np.asarray(train_features, dtype=np.float64))
        train_labels = np.asarray(train_labels)
    if names is None:
        names = sorted(set(labels.tolist()) | (set(train_labels.tolist()) if train_features is not None else set()))
    fig, ax = plt.subplots(figsize=(7.5, 5.5), constrained_layout=True)
    colors = plt.cm.tab10(np.arange(len(names)) % 10)
    for name, color in zip(names, colors):
        pick = labels == name
        if train_features is None:
            ax.scatter(*xy[pick].T, s=22, color=color, alpha=0.8, label=f"{name} ({pick.sum()})")
            continue
        background = train_labels == name
        if not (pick.any() or background.any()):
            continue
        ax.scatter(*train_xy[background].T, s=16, color=color, alpha=0.5, lw=0)
        ax.scatter(*xy[pick].T, s=55, color=color, edgecolor="black", lw=0.8, label=f"{name} ({pick.sum()})")
    if train_features is not None:
        ax.scatter([], [], s=16, color="0.5", alpha=0.5, label="(small: training songs)")
        ax.scatter([], [], s=55, color="0.5", edgecolor="black", label="(large: held-out songs)")
    ratio = pca.explained_variance_ratio_
    ax.set(xlabel=f"PC 1 ({100 * ratio[0]:.0f}% of variance)", ylabel=f"PC 2 ({100 * ratio[1]:.0f}% of variance)",
           title=title)
    ax.legend(title=legend_title, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return fig


def plot_annotations(annotations: np.ndarray, target_names: Sequence[str], labels=None, title: str = "Annotations") -> plt.Figure:
    """Distribution of each annotation dimension (box plots), or class counts for labelled data."""
    fig, ax = plt.subplots(figsize=(8, 3.8), constrained_layout=True)
    if labels is not None:
        names, counts = np.unique(np.asarray(labels), return_counts=True)
        ax.bar(names, counts, color=plt.cm.tab10(np.arange(len(names)) % 10))
        ax.set(xlabel="class", ylabel="songs", title=title)
    else:
        ax.boxplot(np.asarray(annotations), tick_labels=list(target_names), showmeans=True)
        ax.set(ylabel="fraction of listeners", title=title)
        ax.tick_params(axis="x", rotation=30)
    ax.grid(axis="y", alpha=0.3)
    return fig
