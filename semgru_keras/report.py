"""Tables and figures of a cross-validation run, beside the paper's published numbers.

- :func:`comparison_table` — a DataFrame shaped like Table I (Pearson's r per emotion,
  regression) or Table II (accuracy per feature set, classification); our numbers come
  with 95 % bootstrap intervals, the paper's are copied from the paper into columns whose
  names start with ``published`` (they are *not* recomputed, and for any dataset other
  than the paper's they are another dataset's numbers, which the label says).
- :func:`write_tables` — that table and a per-system summary as CSV (numbers) and
  Markdown (formatted, with intervals).
- Figures (matplotlib, one function each, every one returns its ``Figure``):
  :func:`plot_per_target`, :func:`plot_scores`, :func:`plot_confusion`,
  :func:`plot_fold_projection` (drawn by :func:`semgru_keras.plots.plot_projection`);
  :func:`save_figures` writes them as PNG.

Only this module and :mod:`semgru_keras.plots` (which picks the matplotlib backend) import matplotlib.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .plots import plot_projection  # first: it picks the matplotlib backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .results import CI_HIGH, CI_LOW, CVResults, grouping_line, system_label  # noqa: E402
from .vocabulary import GEMS_EMOTIONS  # noqa: E402

__all__ = [
    "PUBLISHED_TABLE_I",
    "PUBLISHED_TABLE_II",
    "table_kind",
    "comparison_table",
    "to_markdown",
    "write_tables",
    "plot_per_target",
    "plot_scores",
    "plot_confusion",
    "plot_fold_projection",
    "save_figures",
]


#: Table I of the paper (Pearson's r on Emotify, 10-fold CV), as published.
PUBLISHED_TABLE_I = pd.DataFrame(
    {
        "MIRtoolbox features + SVR [17]": [0.16, 0.43, 0.57, 0.45, 0.50, 0.56, 0.66, 0.46, 0.42, 0.47],
        "Autoencoder + SVR [18]": [0.29, 0.50, 0.54, 0.50, 0.56, 0.53, 0.53, 0.48, 0.33, 0.47],
        "Standard GRU": [0.28, 0.47, 0.50, 0.50, 0.51, 0.49, 0.63, 0.46, 0.38, 0.47],
        "Semantic Embedding GRU + SVR": [0.29, 0.53, 0.53, 0.54, 0.56, 0.56, 0.66, 0.50, 0.42, 0.51],
    },
    index=pd.Index([*GEMS_EMOTIONS, "average"], name="emotion"),
)

#: Table II of the paper (accuracy on Last.fm, 4 quadrant classes, 10-fold CV), as published.
PUBLISHED_TABLE_II = pd.DataFrame(
    {
        "accuracy": [0.372, 0.375, 0.475, 0.519, 0.540, 0.501, 0.542],
        "vector size": [7, 5, 10, 32, 49, 50, 50],
    },
    index=pd.Index(
        [
            "Dynamic Features + SVM [27]",
            "Rhythm Features + SVM [27]",
            "Harmonic Features + SVM [27]",
            "Spectral Features + SVM [27]",
            "Combined Best Features + SVM [27]",
            "Standard GRU",
            "Semantic Embedding GRU + SVM",
        ],
        name="published row",
    ),
)

#: Our system → the published row it is compared with (Table II).
_TABLE_II_ROWS = {
    "handcrafted_dynamics": "Dynamic Features + SVM [27]",
    "handcrafted_rhythm": "Rhythm Features + SVM [27]",
    "handcrafted_harmony": "Harmonic Features + SVM [27]",
    "handcrafted_timbre": "Spectral Features + SVM [27]",
    "handcrafted_combined": "Combined Best Features + SVM [27]",
    "standard_gru": "Standard GRU",
    "semgru": "Semantic Embedding GRU + SVM",
}
#: Our system → the published column of Table I it is compared with.
_TABLE_I_COLUMNS = {
    "handcrafted_combined": "MIRtoolbox features + SVR [17]",
    "standard_gru": "Standard GRU",
    "semgru": "Semantic Embedding GRU + SVR",
}
_TABLE_I_SYSTEMS = ("handcrafted_combined", "standard_gru", "semgru")
_COLORS = {"semgru": "#1f77b4", "standard_gru": "#ff7f0e", "handcrafted_combined": "#2ca02c"}


def _canonical(name: str) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _pretty(name: str) -> str:
    return str(name).replace("_", " ").capitalize()


def table_kind(results: CVResults) -> str:
    """``"table1"`` (the nine GEMS emotions), ``"table2"`` (classes) or ``"regression"`` (other targets)."""
    if results.task == "classification":
        return "table2"
    if sorted(_canonical(t) for t in results.target_names) == sorted(GEMS_EMOTIONS):
        return "table1"
    return "regression"


def _is_paper_dataset(results: CVResults, kind: str) -> bool:
    name = results.name.lower()
    return ("emotify" in name and "synthetic" not in name and "shuffled" not in name) if kind == "table1" else False


def _published_prefix(results: CVResults, kind: str) -> str:
    if kind == "table1":
        if _is_paper_dataset(results, kind):
            return "published (paper, Emotify)"
        return "published (paper, Emotify — not this dataset)"
    return "published (paper, Last.fm — not this dataset)"


def comparison_table(
    results: CVResults, systems: Sequence[str] | None = None, n_boot: int | None = None, seed: int | None = None
) -> pd.DataFrame:
    """Our results beside the paper's, shaped like Table I or Table II.

    Regression (Table I): one row per target and an ``Average`` row; per system a column
    ``ours: <system>`` with Pearson's r (per held-out fold, averaged over folds) and two
    columns with its 95 % bootstrap interval; then the paper's four columns
    (``published ...``) when the targets are the nine GEMS emotions.

    Classification (Table II): one row per system; accuracy (averaged over folds) with its
    95 % bootstrap interval, the std over folds, the vector size, then the paper's row
    name, accuracy and vector size (``published ...``; the paper's set is Last.fm, which is
    not distributed).

    Parameters
    ----------
    results : CVResults
    systems : sequence of str, optional
        System keys to show (default: Table I's three systems / all systems for Table II, in
        the paper's row order).
    n_boot, seed : int, optional
        Bootstrap settings (default: those of the run).

    Returns
    -------
    pandas.DataFrame
        Numbers only (formatting is :func:`to_markdown`'s job).
    """
    kind = table_kind(results)
    prefix = _published_prefix(results, kind)
    if kind == "table2":
        rows = []
        paper_order = [k for k in _TABLE_II_ROWS if k in results.predictions]
        for system in systems or paper_order + [k for k in results.systems if k not in paper_order]:
            low, high = results.ci(system, n_boot=n_boot, seed=seed)
            folds = results.fold_scores(system)
            published = _TABLE_II_ROWS.get(system)
            rows.append(
                {
                    "system": system_label(system, results.task),
                    "ours: accuracy": results.score(system),
                    "ours: accuracy" + CI_LOW: low,
                    "ours: accuracy" + CI_HIGH: high,
                    "ours: std over folds": float(np.std(folds, ddof=1)) if len(folds) > 1 else np.nan,
                    "ours: vector size": results.n_features.get(system),
                    f"{prefix}: row": published or "",
                    f"{prefix}: accuracy": PUBLISHED_TABLE_II.loc[published, "accuracy"] if published else np.nan,
                    f"{prefix}: vector size": PUBLISHED_TABLE_II.loc[published, "vector size"] if published else np.nan,
                }
            )
        return pd.DataFrame(rows).set_index("system")

    systems = [s for s in (systems or _TABLE_I_SYSTEMS) if s in results.predictions] or results.systems
    names = [_canonical(t) for t in results.target_names]
    index = pd.Index([_pretty(t) for t in results.target_names] + ["Average"], name="emotion")
    table = pd.DataFrame(index=index)
    for system in systems:
        col = f"ours: {system_label(system, results.task)}"
        r = results.per_target(system)
        low, high = results.ci(system, per_target=True, n_boot=n_boot, seed=seed)
        mlow, mhigh = results.ci(system, n_boot=n_boot, seed=seed)
        table[col] = [*r, results.score(system)]
        table[col + CI_LOW] = [*low, mlow]
        table[col + CI_HIGH] = [*high, mhigh]
    if kind == "table1":
        order = [*names, "average"]
        for pub in PUBLISHED_TABLE_I.columns:
            table[f"{prefix}: {pub}"] = PUBLISHED_TABLE_I.loc[order, pub].to_numpy()
    return table


def _format_number(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and float(value).is_integer() and abs(value) >= 2):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (GitHub Markdown) of ``table``; a value and its CI columns are merged as
    ``value [low, high]``. Needs no ``tabulate``."""
    columns = list(table.columns)
    out = pd.DataFrame(index=table.index)
    skip = set()
    for col in columns:
        if col in skip:
            continue
        if col + CI_LOW in columns and col + CI_HIGH in columns:
            skip |= {col + CI_LOW, col + CI_HIGH}
            out[col + " [95% CI]"] = [
                f"{_format_number(v, digits)} [{_format_number(lo, 2)}, {_format_number(hi, 2)}]"
                for v, lo, hi in zip(table[col], table[col + CI_LOW], table[col + CI_HIGH])
            ]
        else:
            out[col] = [_format_number(v, digits) for v in table[col]]

    def cell(text) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    header = [table.index.name or ""] + list(out.columns)
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(["---"] + ["--:"] * len(out.columns)) + "|"]
    for idx, row in out.iterrows():
        lines.append("| " + " | ".join([cell(idx)] + [cell(v) for v in row]) + " |")
    return "\n".join(lines) + "\n"


def _protocol_note(results: CVResults) -> str:
    c = results.config
    units = "–".join(str(u) for u in c.get("units", []))
    grouping = grouping_line(results.grouping)
    return (
        f"Dataset `{results.name}` ({len(results.folds)} songs, {results.task}); {results.n_folds}-fold cross-validation "
        f"(seed {c.get('seed')}), GRUs {units}, {c.get('epochs')} epochs, crops of {c.get('crop_length')} vectors, "
        f"batches of {c.get('batch_size')}; SVR/SVM parameters chosen by {c.get('inner_folds')}-fold inner search on "
        f"the training folds. Our numbers are the {results.metric_name} on each held-out fold, averaged over folds, "
        f"with a 95 % bootstrap interval (songs resampled within folds, {c.get('n_boot')} resamples). Columns named *published* are copied from Jakubik & Kwaśnicka "
        f"(2017), not recomputed; where they say *not this dataset* they belong to another dataset and are shown for "
        f"orientation only. Wall time {results.wall_seconds:.0f} s."
        + (f" {grouping}" if grouping else "")
    )


def write_tables(results: CVResults, out_dir: str | os.PathLike, n_boot: int | None = None) -> dict[str, Path]:
    """Write ``comparison.csv/.md``, ``summary.csv/.md`` (and ``confusion_<system>.csv``) to ``out_dir``.

    Returns the written paths by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    kind = table_kind(results)
    title = {"table1": "Table I", "table2": "Table II", "regression": "Per-target correlation"}[kind]
    note = _protocol_note(results)
    for name, table, heading in (
        ("comparison", comparison_table(results, n_boot=n_boot), f"{title}: {results.name}"),
        ("summary", results.summary(n_boot=n_boot), f"Summary per system: {results.name}"),
    ):
        paths[f"{name}.csv"] = out / f"{name}.csv"
        table.to_csv(paths[f"{name}.csv"])
        paths[f"{name}.md"] = out / f"{name}.md"
        paths[f"{name}.md"].write_text(f"## {heading}\n\n{note}\n\n{to_markdown(table)}", encoding="utf-8")
    if results.task == "classification":
        for system in results.systems:
            cm = pd.DataFrame(
                results.confusion(system),
                index=pd.Index([str(c) for c in results.classes], name="true \\ predicted"),
                columns=[str(c) for c in results.classes],
            )
            paths[f"confusion_{system}.csv"] = out / f"confusion_{system}.csv"
            cm.to_csv(paths[f"confusion_{system}.csv"])
    return paths


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


def plot_per_target(results: CVResults, systems: Sequence[str] | None = None, published: bool = True) -> plt.Figure:
    """Pearson's r per emotion for each system (95 % bootstrap whiskers) beside the paper's Table I."""
    if results.task != "regression":
        raise ValueError("per-target correlations are defined for regression only")
    table = comparison_table(results, systems)
    kind = table_kind(results)
    ours = [c for c in table.columns if c.startswith("ours: ") and not c.endswith((CI_LOW, CI_HIGH))]
    keys = [s for s in (systems or _TABLE_I_SYSTEMS) if s in results.predictions] or results.systems
    pubs = [_TABLE_I_COLUMNS.get(k) for k in keys] if (published and kind == "table1") else []
    prefix = _published_prefix(results, kind)
    n_bars = len(ours) + sum(p is not None for p in pubs)
    width = 0.8 / max(n_bars, 1)
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(9.0, 1.15 * len(table) + 2.5), 4.8), constrained_layout=True)
    bar = 0
    for key, col in zip(keys, ours):
        color = _COLORS.get(key, None)
        values = table[col].to_numpy(dtype=float)
        err = np.abs(np.vstack([values - table[col + CI_LOW], table[col + CI_HIGH] - values]))
        ax.bar(x - 0.4 + width * (bar + 0.5), values, width, yerr=err, capsize=2, color=color,
               label=col, error_kw={"lw": 0.8})
        bar += 1
    for key, pub in zip(keys, pubs):
        if pub is None:
            continue
        ax.bar(x - 0.4 + width * (bar + 0.5), table[f"{prefix}: {pub}"], width, color="white",
               edgecolor=_COLORS.get(key, "0.4"), hatch="///", lw=1.0, label=f"{prefix}: {pub}")
        bar += 1
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axvline(len(table) - 1.5, color="0.6", lw=0.8, ls=":")
    ax.set_xticks(x, table.index, rotation=30, ha="right")
    ax.set(ylabel="Pearson's r (mean over test folds)",
           title=f"Per-emotion correlation, {results.name} ({results.n_folds}-fold CV)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_scores(results: CVResults, published: bool = True) -> plt.Figure:
    """Every system's score (mean r or accuracy, averaged over folds) with its 95 % interval, beside the paper's."""
    kind = table_kind(results)
    systems = results.systems
    values = np.array([results.score(s) for s in systems])
    cis = np.array([results.ci(s) for s in systems], dtype=float)
    labels = [system_label(s, results.task) for s in systems]
    y = np.arange(len(systems))[::-1]
    fig, ax = plt.subplots(figsize=(8.5, 0.55 * len(systems) + 1.6), constrained_layout=True)
    colors = [_COLORS.get(s, "#7f7f7f") for s in systems]
    ax.barh(y, values, height=0.6, color=colors, xerr=np.abs(np.vstack([values - cis[:, 0], cis[:, 1] - values])),
            capsize=3, label="ours: mean over test folds, 95% bootstrap CI")
    if published and kind in ("table1", "table2"):
        pub = []
        for s in systems:
            if kind == "table2" and s in _TABLE_II_ROWS:
                pub.append(PUBLISHED_TABLE_II.loc[_TABLE_II_ROWS[s], "accuracy"])
            elif kind == "table1" and s in _TABLE_I_COLUMNS:
                pub.append(PUBLISHED_TABLE_I.loc["average", _TABLE_I_COLUMNS[s]])
            else:
                pub.append(np.nan)
        ax.plot(pub, y, "D", color="black", ms=7, mfc="white", mew=1.5, ls="none",
                label=_published_prefix(results, kind))
    if results.task == "classification":
        _, counts = np.unique(results.y_true, return_counts=True)
        ax.axvline(counts.max() / counts.sum(), color="0.4", ls="--", lw=1, label="chance (majority class)")
        metric = "accuracy (mean over test folds)"
    else:
        ax.axvline(0, color="0.4", lw=1)
        metric = "Pearson's r, mean over targets and test folds"
    ax.set_yticks(y, labels)
    ax.set(xlabel=metric, title=f"{results.name}: {results.n_folds}-fold cross-validation")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def plot_confusion(results: CVResults, systems: Sequence[str] | None = None) -> plt.Figure:
    """Confusion matrices (counts and row percentages) of the pooled out-of-fold predictions."""
    if results.task != "classification":
        raise ValueError("a confusion matrix needs classes")
    systems = [s for s in (systems or ("semgru", "standard_gru", "handcrafted_combined")) if s in results.predictions]
    systems = systems or results.systems[:1]
    k = len(results.classes)
    fig, axes = plt.subplots(1, len(systems), figsize=(0.9 * k * len(systems) + 1.6 * len(systems) + 0.8, 0.9 * k + 1.8),
                             constrained_layout=True, squeeze=False)
    names = [str(c) for c in results.classes]
    for ax, system in zip(axes[0], systems):
        cm = results.confusion(system)
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{cm[i, j]}\n{100 * share[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.55 else "black")
        ax.set_xticks(range(k), names, rotation=30, ha="right")
        ax.set_yticks(range(k), names)
        ax.set(xlabel="predicted", ylabel="true",
               title=f"{system_label(system, results.task)}\npooled accuracy {results.score(system, pooled=True):.3f}")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="share of the true class")
    fig.suptitle(f"Confusion matrices, {results.name} ({results.n_folds}-fold CV, all test folds pooled)")
    return fig


def plot_fold_projection(results: CVResults, color_by: str = "auto") -> plt.Figure:
    """2-D PCA of the Semantic Embedding GRU's learned features in one cross-validation fold.

    The PCA is fitted on the features of that fold's training songs (small dots); the fold's
    held-out songs (large, outlined) are placed in the same plane by the same model
    (:func:`semgru_keras.plots.plot_projection`, unstandardised). Colour: the class, or for
    regression the dominant target (largest annotation).
    """
    if results.projection is None or results.embedding is None:
        raise ValueError("these results hold no learned features (was 'semgru' run?)")
    fold = int(results.projection["fold"])
    train = np.asarray(results.projection["train_index"])
    test = np.flatnonzero(results.folds == fold)
    if color_by == "auto":
        color_by = "class" if results.task == "classification" else "dominant"
    if color_by == "class":
        labels = np.asarray(results.y_true).astype(str)
        names = [str(c) for c in results.classes]
        legend_title = "class"
    else:
        dominant = np.argmax(np.asarray(results.y_true, dtype=float), axis=1)
        names = [_pretty(t) for t in results.target_names]
        labels = np.array(names)[dominant]
        legend_title = "dominant emotion"
    return plot_projection(
        results.embedding[test], labels[test],
        f"Learned features (Semantic Embedding GRU), fold {fold + 1} of {results.n_folds}, {results.name}",
        train_features=results.projection["train_features"], train_labels=labels[train], names=names,
        legend_title=legend_title, standardize=False,
    )


def save_figures(results: CVResults, out_dir: str | os.PathLike, dpi: int = 120) -> dict[str, Path]:
    """Write the run's figures as PNG into ``out_dir`` (e.g. ``figures/<dataset>/``); returns paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"scores": lambda: plot_scores(results)}
    if results.task == "regression":
        figures["per_emotion" if table_kind(results) == "table1" else "per_target"] = lambda: plot_per_target(results)
    else:
        figures["confusion"] = lambda: plot_confusion(results)
    if results.projection is not None and results.embedding is not None:
        figures["projection"] = lambda: plot_fold_projection(results)
    paths = {}
    for name, make in figures.items():
        fig = make()
        paths[name] = out / f"{name}.png"
        fig.savefig(paths[name], dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return paths
