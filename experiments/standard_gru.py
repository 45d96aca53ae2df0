"""Why the standard GRU (Eq. 14) stays near the mean prediction on Emotify (issue 10).

::

    python -m experiments.standard_gru --data-root PATH              # every variant (≈ 30 min on 2 cores)
    python -m experiments.standard_gru --data-root PATH --only paper,epochs_300
    python -m experiments.standard_gru --table                       # table + figures from saved runs

The paper reports mean r 0.47 for its standard GRU (Table I); the paper's protocol here
gives far less (``results/emotify/``). The hypotheses below were written down before any
of them was run; each changes *one* setting of the paper's and is run on the same ten
outer folds as ``results/emotify/results.json`` with the same seeds (fold ``f``: seed
``0 + f``). Nothing is chosen on test folds: every variant is reported.

=================  ===============================================================
variant            hypothesis under test
=================  ===============================================================
paper              the paper's setting (N(0, 0.01) weights, Adadelta 1.0/ρ 0.9/ε 1e-6,
                   100 epochs, targets as given); must repeat the protocol's numbers
epochs_300         training length: the loss is still falling at epoch 100
epsilon_1e-10      Adadelta's ε: with gradients far below √ε the first steps are
                   ≈ plain SGD with step √ε/√ε·g = g, tiny for tiny gradients; a
                   smaller ε lets the step adapt to the gradient's scale
minmax_targets     target scaling: Emotify's fractions fill only part of the sigmoid's
                   [0, 1]; scaling each emotion to [0, 1] with the training songs'
                   min/max gives the head a larger signal
keras_init         the N(0, 0.01) initialisation: with Keras' Glorot/orthogonal
                   initialisers the features are not tiny and the head is not flat
=================  ===============================================================

Every variant also reports a second prediction rule from the same trained network:
``crops`` averages the outputs over non-overlapping 100-vector crops (what the network was
trained on) instead of one pass over the whole song (the paper's rule). For every run the
per-epoch training loss, the loss of predicting the training mean, the spread of the
predictions (std of predictions / std of targets, per emotion) and how far each layer's
weights moved from their initial values are saved, so the account rests on measurements.
Results: ``results/emotify/standard_gru/<variant>.json``, the table
``results/emotify/standard_gru.{csv,md}`` and ``figures/emotify/standard_gru_*.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import add_run_options, selected_variants

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "emotify"
FIGURES = ROOT / "figures" / "emotify"

#: name → (hypothesis, changes to the paper's setting)
VARIANTS: dict[str, tuple[str, dict]] = {
    "paper": ("the paper's setting (repeats the protocol's standard GRU)", {}),
    "epochs_300": ("300 epochs instead of 100 (is the loss still falling?)", {"epochs": 300}),
    "epsilon_1e-10": ("Adadelta ε = 1e-10 instead of 1e-6 (steps adapt to tiny gradients)", {"epsilon": 1e-10}),
    "minmax_targets": ("each emotion scaled to [0, 1] by the training songs' min/max", {"scale_targets": True}),
    "keras_init": ("Keras' Glorot/orthogonal initialisers instead of N(0, 0.01)", {"init_stddev": None}),
}


def _fold(f: int, folds: np.ndarray, targets: np.ndarray, sequences: list, settings: dict) -> dict:
    """Train the standard GRU of one variant on fold ``f``'s training songs; predict the held-out ones."""
    import keras

    from semgru_keras.model import build_standard_gru
    from semgru_keras.training import adadelta, input_statistics, predict_sequences, train_model

    epochs = settings.get("epochs", 100)
    epsilon = settings.get("epsilon", 1e-6)
    init_stddev = settings.get("init_stddev", 0.01)
    scale = settings.get("scale_targets", False)
    seed = f  # the protocol's seed + fold, with seed 0
    train, test = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
    t = targets[train].astype(np.float64)
    lo, span = (t.min(axis=0), np.where(np.ptp(t, axis=0) > 0, np.ptp(t, axis=0), 1.0)) if scale else (0.0, 1.0)
    y_train = ((t - lo) / span).astype(np.float32)
    x_train = [sequences[i] for i in train]
    mean, variance = input_statistics(x_train)
    model = build_standard_gru(targets.shape[1], input_dim=x_train[0].shape[1], units=(100, 50),
                               init_stddev=init_stddev, reset_after=False, input_mean=mean,
                               input_variance=variance, seed=seed)
    before = [w.copy() for w in model.get_weights()]
    started = time.perf_counter()
    history = train_model(model, x_train, y_train, loss="mse", epochs=epochs, batch_size=100, crop_length=100,
                          seed=seed, optimizer=adadelta(1.0, 0.9, epsilon))
    seconds = time.perf_counter() - started
    moved = {}
    for w, w0, var in zip(model.get_weights(), before, model.weights):
        if w0.ndim >= 2:  # kernels only
            moved[var.path] = float(np.linalg.norm(w - w0) / max(np.linalg.norm(w0), 1e-12))
    whole = predict_sequences(model, [sequences[i] for i in test]).astype(np.float64) * span + lo
    crops = []
    for i in test:
        s = sequences[i]
        n = max(1, len(s) // 100)
        batch = np.stack([s[k * 100:(k + 1) * 100] for k in range(n)])
        crops.append(np.asarray(keras.ops.convert_to_numpy(model(batch, training=False))).mean(axis=0))
    crops = np.asarray(crops, dtype=np.float64) * span + lo
    return {
        "fold": f,
        "test": test,
        "whole": whole,
        "crops": crops,
        "loss": [float(v) for v in history.history["loss"]],
        "mean_predictor_mse": float(np.mean((y_train - y_train.mean(axis=0)) ** 2)),
        "weight_change": moved,
        "train_seconds": seconds,
    }


def run_variant(name: str, data_root: str, cache_dir: str | None, n_jobs: int, resume: bool = True) -> Path:
    """All ten folds of one variant (in ``n_jobs`` processes); saves a JSON file and returns its path.

    With ``resume``, every finished fold is saved in ``results/emotify/standard_gru/partial/<name>/``
    (:class:`~semgru_keras.checkpoints.FoldStore`, keyed by the variant's settings, the folds, the
    inputs and this fold code) and read back by a rerun; the folder goes once the variant is saved.
    """
    import joblib
    import keras

    from semgru_keras.checkpoints import FoldStore, array_digest, code_key
    from semgru_keras.data import load_dataset
    from semgru_keras.evaluation import CVResults
    from semgru_keras.parallel import WorkerSetup, resolve_jobs, run_in_worker

    base = CVResults.load(OUT / "results.json")
    ds = load_dataset("emotify", root=data_root)
    if list(ds.ids) != [str(i) for i in base.ids]:
        raise SystemExit("the data set's songs differ from results/emotify/results.json; rerun the protocol first")
    sequences = [np.asarray(s) for s in ds.sequences(cache_dir=cache_dir)]
    targets = np.asarray(ds.annotations, dtype=np.float64)
    _, settings = VARIANTS[name]
    n_folds = int(base.folds.max()) + 1
    partial = OUT / "standard_gru" / "partial" / name
    store = None
    if resume:
        key = {"variant": name, "settings": settings, "data": {"folds": array_digest([base.folds]),
               "targets": array_digest([targets]), "sequences": array_digest(sequences)},
               "code": code_key(extra=["experiments.standard_gru:_fold"])}
        store = FoldStore(partial, key)
    saved = store.done() if store is not None else []
    if saved:
        print(f"{name}: resuming, folds {', '.join(str(f + 1) for f in saved)} of {n_folds} read from {store.path}",
              flush=True)
    todo = [f for f in range(n_folds) if f not in saved]
    workers = resolve_jobs(n_jobs, max(1, len(todo)))
    setup = WorkerSetup(keras.backend.backend(), threads=max(1, joblib.cpu_count() // workers))
    started = time.perf_counter()
    outs = [store.load(f) for f in saved]
    for out in joblib.Parallel(n_jobs=workers, return_as="generator_unordered")(
            joblib.delayed(run_in_worker)(setup, _fold, f, base.folds, targets, sequences, settings) for f in todo):
        if store is not None:
            store.save(out)
        outs.append(out)
        elapsed = time.perf_counter() - started
        left = elapsed / (len(outs) - len(saved)) * (n_folds - len(outs))
        print(f"{name}: fold {out['fold'] + 1}/{n_folds} done; {len(outs)}/{n_folds} folds, {elapsed / 60:.1f} min "
              f"elapsed, about {left / 60:.1f} min left", flush=True)
    outs.sort(key=lambda o: o["fold"])
    whole = np.full(targets.shape, np.nan)
    crops = np.full(targets.shape, np.nan)
    for out in outs:
        whole[out["test"]] = out["whole"]
        crops[out["test"]] = out["crops"]
    record = {
        "variant": name,
        "hypothesis": VARIANTS[name][0],
        "settings": settings,
        "backend": keras.backend.backend(),
        "folds": base.folds.tolist(),
        "whole": whole.tolist(),
        "crops": crops.tolist(),
        "loss": [o["loss"] for o in outs],
        "mean_predictor_mse": [o["mean_predictor_mse"] for o in outs],
        "weight_change": [o["weight_change"] for o in outs],
        "train_seconds": [o["train_seconds"] for o in outs],
        "wall_seconds": time.perf_counter() - started,
    }
    path = OUT / "standard_gru" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record), encoding="utf-8")
    if store is not None:  # the variant's record is its JSON file now
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return path


def _load(name: str) -> dict | None:
    path = OUT / "standard_gru" / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def table() -> pd.DataFrame:
    """One row per variant and prediction rule: mean r, paired Δ to the paper's setting, loss, spread."""
    from semgru_keras.evaluation import CVResults
    from semgru_keras.metrics import bootstrap_ci, mean_pearson

    base = CVResults.load(OUT / "results.json")
    y = np.asarray(base.y_true, dtype=np.float64)
    folds = base.folds
    idx = [np.flatnonzero(folds == f) for f in range(int(folds.max()) + 1)]

    def per_fold(pred):
        return np.array([mean_pearson(y[i], pred[i]) for i in idx])

    reference = per_fold(np.asarray(base.predictions["standard_gru"], dtype=np.float64))
    rows = []
    for name in VARIANTS:
        rec = _load(name)
        if rec is None:
            continue
        if rec["folds"] != folds.tolist():
            raise SystemExit(f"{name}: its folds differ from results/emotify/results.json; rerun it")
        loss = np.array([v[-1] for v in rec["loss"]])
        loss_first = np.array([v[0] for v in rec["loss"]])
        mean_mse = np.array(rec["mean_predictor_mse"])
        tail = np.array([(v[-1] - v[-11]) / max(abs(v[-11]), 1e-12) for v in rec["loss"]])
        change = pd.DataFrame(rec["weight_change"]).mean()
        for rule in ("whole", "crops"):
            pred = np.asarray(rec[rule], dtype=np.float64)
            scores = per_fold(pred)
            diff = scores - reference
            low, high = bootstrap_ci(mean_pearson, y, pred, n_boot=1000, seed=0, folds=folds)
            spread = np.nanmean(np.std(pred, axis=0) / np.std(y, axis=0))
            rows.append({
                "variant": name if rule == "whole" else f"{name} (crops)",
                "what changes": rec["hypothesis"] + ("" if rule == "whole" else "; prediction averaged over 100-vector crops"),
                "mean r": float(scores.mean()),
                "95 % CI low": low,
                "95 % CI high": high,
                "Δ vs paper setting": float(diff.mean()),
                "folds better": f"{int(np.sum(diff > 0))}/{len(diff)}",
                "prediction spread": float(spread),
                "final loss / mean-predictor loss": float(np.mean(loss / mean_mse)),
                "loss change, last 10 epochs": float(np.mean(tail)),
                "first-epoch loss / mean-predictor loss": float(np.mean(loss_first / mean_mse)),
                "GRU 1 kernel moved": _moved(change, "gru_1/"),
                "GRU 2 kernel moved": _moved(change, "gru_2/"),
                "head kernel moved": _moved(change, "emotion/"),
                "train minutes per fold": float(np.mean(rec["train_seconds"]) / 60),
            })
    return pd.DataFrame(rows).set_index("variant")


def _moved(change: pd.Series, layer: str) -> float:
    """Mean relative change of a layer's input kernel (not the recurrent one)."""
    keys = [k for k in change.index if k.startswith(layer) and k.endswith("/kernel") and "recurrent" not in k]
    return float(change[keys[0]]) if keys else float("nan")


def figures() -> list[Path]:
    """Loss curves (mean over folds, relative to the mean predictor) and prediction spread per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from semgru_keras.evaluation import CVResults

    base = CVResults.load(OUT / "results.json")
    y = np.asarray(base.y_true, dtype=np.float64)
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in VARIANTS:
        rec = _load(name)
        if rec is None:
            continue
        n = min(len(v) for v in rec["loss"])
        curves = np.array([np.array(v[:n]) / m for v, m in zip(rec["loss"], rec["mean_predictor_mse"])])
        ax.plot(np.arange(1, n + 1), curves.mean(axis=0), label=name)
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="predicting the training mean")
    ax.set(xlabel="epoch", ylabel="training MSE / MSE of the mean predictor", yscale="log",
           title="Standard GRU on Emotify: training loss (mean over 10 folds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    loss_path = FIGURES / "standard_gru_loss.png"
    fig.savefig(loss_path, dpi=120)
    plt.close(fig)

    names = [n for n in VARIANTS if _load(n) is not None]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(len(names), 1)
    emotions = list(base.target_names)
    for k, name in enumerate(names):
        pred = np.asarray(_load(name)["whole"], dtype=np.float64)
        ax.bar(np.arange(len(emotions)) + k * width, np.std(pred, axis=0) / np.std(y, axis=0), width, label=name)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(emotions)) + 0.4 - width / 2, emotions, rotation=30, ha="right")
    ax.set(ylabel="std of predictions / std of targets", title="Standard GRU: spread of the held-out predictions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    spread_path = FIGURES / "standard_gru_spread.png"
    fig.savefig(spread_path, dpi=120)
    plt.close(fig)
    return [loss_path, spread_path]


def write_table() -> pd.DataFrame:
    from semgru_keras.report import to_markdown

    df = table()
    df.to_csv(OUT / "standard_gru.csv")
    note = ("Emotify, 400 songs, the ten folds of `results/emotify/results.json`; mean Pearson r over the nine "
            "emotions, averaged over folds, 95 % bootstrap interval; Δ = mean paired difference per fold to the "
            "protocol's standard GRU (the paper's setting). Prediction spread: std of the held-out predictions / "
            "std of the targets, averaged over emotions (1 = as varied as the truth). Loss ratios: training MSE "
            "(on 100-vector crops) over the MSE of predicting the training mean (1 = no better than the mean). "
            "Kernel moved: ‖W_end − W_0‖ / ‖W_0‖. Hypotheses fixed before running; none chosen on test folds. "
            "Command: `python -m experiments.standard_gru --data-root PATH`.")
    (OUT / "standard_gru.md").write_text(f"## The standard GRU on Emotify: hypotheses\n\n{note}\n\n"
                                         f"{to_markdown(df.round(3))}", encoding="utf-8")
    figures()
    print(df.round(3).to_string())
    return df


def main(argv=None) -> int:
    # as a command (not on import, where it would leak into e.g. joblib workers started later)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the fastest CPU backend (benchmarks/)
    parser = argparse.ArgumentParser(prog="python -m experiments.standard_gru", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", default=os.environ.get("SEMGRU_EMOTIFY_ROOT"),
                        help="the Emotify folder (data.csv + emotifymusic/); default $SEMGRU_EMOTIFY_ROOT")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    parser.add_argument("--cache-dir", help="feature cache (default: the package's)")
    parser.add_argument("-j", "--n-jobs", type=int, default=-1, help="worker processes for the folds (default: all cores)")
    parser.add_argument("--table", action="store_true", help="only rebuild the table and figures from saved runs")
    add_run_options(parser)
    args = parser.parse_args(argv)
    from semgru_keras.console import tee_output  # here: importing semgru_keras sets TF_CPP_MIN_LOG_LEVEL

    with tee_output(args.log):
        if not args.table:
            if not args.data_root:
                parser.error("give --data-root (or set SEMGRU_EMOTIFY_ROOT)")
            names = selected_variants(parser, args.only, VARIANTS)
            for name in names:
                started = time.perf_counter()
                run_variant(name, args.data_root, args.cache_dir, args.n_jobs, resume=not args.fresh)
                print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
                write_table()
        write_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
