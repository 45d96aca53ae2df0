"""Build the shipped model: the paper's recipe trained on every song of Emotify and 4Q.

::

    python -m semgru_keras.pretrain --emotify ../shared/data/emotify --4q ../shared/data/4q
    python -m semgru_keras.pretrain --card-only            # rewrite MODEL_CARD.md from results/

The recipe is the one whose cross-validated scores are in ``results/`` (the protocol's
:class:`~semgru_keras.evaluation.EvaluationConfig` defaults, Section V-B), applied to all
songs instead of nine tenths of them:

1. a Semantic Embedding GRU (100–50 units, N(0, 0.01) weights, 100 epochs of random
   100-vector crops in batches of 100, Adadelta 1.0 / ρ 0.9, seed 0) learns features from the
   Emotify songs' GEMS annotations;
2. an RBF SVR per emotion on those features, its C, γ and ε chosen by the protocol's inner
   grid search (:func:`semgru_keras.evaluation._svm_search`, 3 folds, R²);
3. the same GRU recipe on 4Q (valence–arousal corners as annotations) and an RBF SVM for the
   quadrant (C and γ by inner grid search, accuracy), with one-vs-rest Platt probabilities
   fitted on inner-cross-validated decision values
   (``CalibratedClassifierCV(method="sigmoid", ensemble=False)``).

Everything is seeded, so the same command on the same CPU and Keras backend gives the same
model. The result goes to ``semgru_keras/models/`` (:meth:`~semgru_keras.pretrained.Pretrained.save`)
with ``MODEL_CARD.md`` written from the ``results/`` tables: scores are read, never typed in.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import DATASETS, Dataset, load_dataset
from .embedder import SemanticEmbedder
from .protocol import EvaluationConfig, _splitter, _svm_search, _use_groups, class_vectors_for
from .features import FeatureConfig
from .pretrained import MODEL_DIR, QUADRANT_ORDER, Pretrained, RBFClassifier, RBFRegressor, TrainingSongs

__all__ = ["RECIPE", "build_pretrained", "train_gems", "train_quadrants", "read_cv_scores", "write_model_card", "main"]

#: The recipe: the protocol's settings (Section V-B); n_folds/systems are unused here.
RECIPE = EvaluationConfig()

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED_COMMAND = ("python -m semgru_keras.pretrain --emotify ../shared/data/emotify --4q ../shared/data/4q")

#: Where the data of each model come from, and under which terms (for the model card).
LICENCES = {
    "emotify": (
        "Emotify (Aljanaki, Wiering & Veltkamp, *Studying emotion induced by music through a crowdsourcing "
        "game*, Information Processing & Management 52(1), 2016): 400 excerpts by Magnatune artists, whose "
        "audio is licensed under Creative Commons BY-NC-SA-family licences (non-commercial); annotations "
        "from the Emotify game. The model is derived from this data: **non-commercial use only**, with "
        "attribution to the authors above and to Magnatune."
    ),
    "4q": (
        "4Q audio emotion dataset (Panda, Malheiro & Paiva, *Novel audio features for music emotion "
        "recognition*, IEEE Transactions on Affective Computing 11(4), 2020): 900 clips of about 30 s, 225 "
        "per quadrant, from AllMusic; distributed by the authors for **research and teaching use only**."
    ),
    "synthetic": (
        "Synthetic clips made by `semgru_keras.data.synthetic` (no licence restrictions). A model trained on "
        "them is a demonstration/test artefact: its scores say nothing about real music."
    ),
}


def _titles(ds: Dataset) -> np.ndarray:
    """Readable names of a data set's songs for the neighbour lists."""
    meta = ds.metadata
    cols = set(meta.columns) if meta is not None else set()
    lower = {c.lower(): c for c in cols}
    if {"artist", "title"} <= set(lower):
        return np.array([f"{a} – {t}" for a, t in zip(meta[lower["artist"]], meta[lower["title"]])])
    if ds.name == "emotify" and {"genre", "path"} <= cols:
        return np.array([f"{g} {Path(p).name} (Emotify track {i})" for g, p, i in zip(meta["genre"], meta["path"], ds.ids)])
    if ds.is_synthetic and {"mode", "tempo_bpm"} <= cols:
        return np.array([f"{i} ({m}, {t:.0f} BPM)" for i, m, t in zip(ds.ids, meta["mode"], meta["tempo_bpm"])])
    return np.asarray(ds.ids).astype(str)


def _sequences(ds: Dataset, feature_config: FeatureConfig, cache_dir, n_jobs: int, progress: bool):
    return list(ds.sequences(config=feature_config, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress))


def _embedder(config: EvaluationConfig, class_vectors=None) -> SemanticEmbedder:
    return SemanticEmbedder(class_vectors=class_vectors, embed_length=config.embed_length, gram=config.gram,
                            **config.network_params(config.seed))


def _inner_groups(ds: Dataset, config: EvaluationConfig):
    """Groups for the inner searches (``config.inner_folds`` folds over every song), decided by the protocol's rule."""
    grouped = _use_groups(ds.groups, len(ds), config.inner_folds, config.use_groups)
    return np.asarray(ds.groups) if grouped else None


def train_gems(ds: Dataset, sequences: Sequence[np.ndarray], config: EvaluationConfig = RECIPE):
    """GRU on the GEMS annotations + one RBF SVR per emotion (the protocol's search) on all songs.

    Returns ``(embedder, heads, features, chosen_params)``.
    """
    if ds.task != "regression":
        raise ValueError(f"{ds.name}: the GEMS model needs GEMS annotations (a regression data set), got {ds.task}")
    embedder = _embedder(config).fit(sequences, ds.annotations)
    features = embedder.transform(sequences)
    groups = _inner_groups(ds, config)
    heads, params = [], []
    for j, emotion in enumerate(ds.target_names):
        search = _svm_search("regression", config.svr_grid, config.inner_folds, config.seed, groups is not None,
                             config.n_jobs)
        search.fit(np.asarray(features, dtype=np.float64), ds.annotations[:, j].astype(np.float64), groups=groups)
        heads.append(RBFRegressor.from_sklearn(search.best_estimator_))
        params.append({"emotion": emotion, **_plain(search.best_params_), "inner_r2": float(search.best_score_)})
    return embedder, heads, features, params


def train_quadrants(ds: Dataset, sequences: Sequence[np.ndarray], config: EvaluationConfig = RECIPE):
    """GRU on the quadrant corners + a calibrated RBF SVM (the protocol's search) on all songs.

    Returns ``(embedder, head, features, chosen_params, calibrated)``; ``calibrated`` is the fitted
    scikit-learn object that ``head`` reproduces.
    """
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV

    if ds.task != "classification":
        raise ValueError(f"{ds.name}: the quadrant model needs class labels, got a {ds.task} data set")
    labels = np.asarray(ds.labels)
    embedder = _embedder(config, class_vectors_for(ds.classes, config.class_coding)).fit(sequences, labels)
    features = np.asarray(embedder.transform(sequences), dtype=np.float64)
    groups = _inner_groups(ds, config)
    search = _svm_search("classification", config.svc_grid, config.inner_folds, config.seed, groups is not None,
                         config.n_jobs)
    search.fit(features, labels, groups=groups)
    # Platt scaling on decision values of the same inner folds (grouped like the search).
    splits = list(_splitter(True, config.inner_folds, config.seed, groups is not None).split(features, labels, groups))
    calibrated = CalibratedClassifierCV(clone(search.best_estimator_), method="sigmoid", ensemble=False, cv=splits)
    calibrated.fit(features, labels)
    head = RBFClassifier.from_sklearn(calibrated)
    params = {**_plain(search.best_params_), "inner_accuracy": float(search.best_score_)}
    return embedder, head, features.astype(np.float32), params, calibrated


def _plain(params: dict) -> dict:
    return {k.split("__")[-1]: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


def _spread(annotations: np.ndarray, names: Sequence[str]) -> dict:
    q = np.percentile(annotations, [10, 25, 50, 75, 90], axis=0)
    return {
        name: {"p10": float(q[0, j]), "p25": float(q[1, j]), "median": float(q[2, j]), "p75": float(q[3, j]),
               "p90": float(q[4, j]), "mean": float(annotations[:, j].mean()), "std": float(annotations[:, j].std())}
        for j, name in enumerate(names)
    }


def _describe(ds: Dataset, source: str) -> dict:
    kind = "synthetic" if ds.is_synthetic else source
    return {"dataset": ds.name, "source": source, "n_songs": len(ds), "licence": LICENCES.get(kind, ""),
            "options": {k: v for k, v in ds.options.items() if isinstance(v, (int, float, str, bool))}}


def build_pretrained(
    gems: Dataset,
    quadrants: Dataset | None = None,
    *,
    config: EvaluationConfig = RECIPE,
    feature_config: FeatureConfig | None = None,
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    results_dir: str | os.PathLike | None = None,
    sources: tuple[str, str] = ("emotify", "4q"),
    command: str | None = None,
) -> Pretrained:
    """Train the shipped model's recipe on ``gems`` (and ``quadrants``); return the :class:`Pretrained`.

    Parameters
    ----------
    gems, quadrants : Dataset
        GEMS-annotated songs (Emotify, or ``synthetic-gems`` for tests) and quadrant-labelled
        songs (4Q, or ``synthetic-quadrants``); ``quadrants=None`` builds a GEMS-only model.
    config : EvaluationConfig
        The recipe (default: the protocol's defaults, :data:`RECIPE`).
    feature_config : FeatureConfig, optional
        Input representation (default ``FeatureConfig()``); stored with the model.
    results_dir : path, optional
        Where ``<source>/summary.csv`` holds the recipe's cross-validated scores (for the card).
    sources : (str, str)
        Names of the real data sets the two parts come from, as in ``results/<name>/``.
    """
    import keras

    feature_config = feature_config or FeatureConfig()
    seqs = _sequences(gems, feature_config, cache_dir, n_jobs, progress)
    embedder, heads, features, gems_params = train_gems(gems, seqs, config)
    gems_songs = TrainingSongs(gems.name, gems.ids, _titles(gems), features, gems.annotations)
    info = {
        "format_version": None,  # set by save()
        "emotions": list(gems.target_names),
        "feature_config": feature_config.to_dict(),
        "recipe": {k: v for k, v in config.to_dict().items() if k not in ("systems", "feature_groups", "n_boot",
                                                                            "n_folds", "verbose", "n_jobs")},
        "heads": {"gems": gems_params},
        "training": {"gems": _describe(gems, sources[0])},
        "training_loss": {"gems": [float(embedder.history_["loss"][0]), float(embedder.history_["loss"][-1])]},
        "gems_spread": _spread(gems.annotations, gems.target_names),
        "command": command,
        "keras_backend": keras.backend.backend(),
        "versions": _versions(),
        "built": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M%z"),
    }
    quadrant_model = quadrant_head = quadrant_songs = None
    if quadrants is not None:
        qseqs = _sequences(quadrants, feature_config, cache_dir, n_jobs, progress)
        qembedder, quadrant_head, qfeatures, qparams, _ = train_quadrants(quadrants, qseqs, config)
        quadrant_model = qembedder.model_
        quadrant_songs = TrainingSongs(quadrants.name, quadrants.ids, _titles(quadrants), qfeatures, quadrants.labels)
        info["heads"]["quadrant"] = qparams
        info["training"]["quadrant"] = _describe(quadrants, sources[1])
        info["training_loss"]["quadrant"] = [float(qembedder.history_["loss"][0]), float(qembedder.history_["loss"][-1])]
        info["classes"] = [str(c) for c in quadrant_head.classes]
    parts = ["GEMS: " + _summary(gems, sources[0])]
    if quadrants is not None:
        parts.append("quadrant: " + _summary(quadrants, sources[1]))
    info["training"]["description"] = "; ".join(parts)
    info["cv_scores"] = read_cv_scores(results_dir, gems, quadrants, sources)
    return Pretrained(info, embedder.model_, heads, gems_songs, quadrant_model, quadrant_head, quadrant_songs)


def _summary(ds: Dataset, source: str) -> str:
    return f"{len(ds)} {'synthetic ' if ds.is_synthetic else ''}songs of {ds.name if ds.is_synthetic else source}"


def _versions() -> dict:
    from .run import package_versions

    return package_versions()


# --------------------------------------------------------------------------- scores and card
def _read_summary(folder: Path) -> dict | None:
    """The Semantic Embedding GRU row of ``folder/summary.csv`` (and per-target r from comparison.csv)."""
    import pandas as pd

    path = folder / "summary.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    rows = table[table["system"].astype(str).str.startswith("Semantic Embedding GRU")]
    if rows.empty:
        return None
    row = rows.iloc[0]
    metric = table.columns[1]
    score = {"file": _relative(path), "system": str(row["system"]), "metric": metric, "value": float(row[metric]),
             "ci_low": _maybe(row, metric + " — 95% CI low"), "ci_high": _maybe(row, metric + " — 95% CI high"),
             "std_over_folds": _maybe(row, "std over folds")}
    run = folder / "run.json"
    if run.is_file():
        record = json.loads(run.read_text(encoding="utf-8"))
        score["run"] = {k: record.get(k) for k in ("command", "started", "keras_backend")}
    comparison = folder / "comparison.csv"
    if comparison.is_file():
        comp = pd.read_csv(comparison, index_col=0)
        col = f"ours: {row['system']}"
        if col in comp.columns:
            score["per_target"] = {str(k): float(v) for k, v in comp[col].items()}
    return score


def _maybe(row, column):
    return float(row[column]) if column in row.index and np.isfinite(row[column]) else None


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def read_cv_scores(results_dir, gems: Dataset | None, quadrants: Dataset | None, sources=("emotify", "4q")) -> dict:
    """Cross-validated scores of the recipe for each part, or ``None`` where not measured.

    Only real data sets get scores (``results/<source>/summary.csv``); a model trained on
    synthetic data gets none.
    """
    results_dir = Path(results_dir) if results_dir is not None else REPO_ROOT / "results"
    out = {}
    for part, ds, source in (("gems", gems, sources[0]), ("quadrant", quadrants, sources[1])):
        if ds is None:
            continue
        out[part] = None if ds.is_synthetic else _read_summary(results_dir / source)
    return out


def _score_line(score: dict | None, training: dict) -> str:
    if score is None:
        if training["dataset"].startswith("synthetic"):
            return "not measured: trained on synthetic data (a test model)"
        return f"not yet measured (no `results/{training['source']}/summary.csv` when this card was written)"
    ci = ""
    if score.get("ci_low") is not None:
        ci = f" (95 % bootstrap interval {score['ci_low']:.2f}–{score['ci_high']:.2f}"
        ci += f", std over folds {score['std_over_folds']:.3f})" if score.get("std_over_folds") is not None else ")"
    run = score.get("run") or {}
    when = f", run `{run['command']}` ({run.get('started')})" if run.get("command") else ""
    return f"{score['metric']} **{score['value']:.3f}**{ci} — `{score['file']}`{when}"


def _overrides(recipe: dict) -> list[str]:
    """Card lines naming every setting that differs from the protocol's (:data:`RECIPE`)."""
    base = RECIPE.to_dict()
    changed = {k: v for k, v in recipe.items() if k in base and base[k] != v}
    if not changed:
        return []
    listing = ", ".join(f"`{k}={v}` (protocol: {base[k]})" for k, v in changed.items())
    return [f"**Not the protocol's recipe** — changed: {listing}. Scores of the protocol do not apply.", ""]


def _reading_note(score: dict) -> str:
    if not score:
        return ("How well this recipe predicts unseen songs has not been measured for the data it was trained on; "
                "treat its outputs as illustrations.")
    per = score.get("per_target") or {}
    worst = min(per, key=per.get) if per else None
    best = max(per, key=per.get) if per else None
    strength = ("clearly better than chance but far from perfectly" if score["value"] >= 0.3
                else "only a little better than chance")
    text = (f"How to read the GEMS scores: a cross-validated {score['metric']} of {score['value']:.2f} means the "
            f"model orders songs by an emotion {strength}, so read a score "
            "relative to the training songs' spread (notebook 06 shows it) more than as an exact fraction.")
    if worst and best and worst != best:
        text += f" Per emotion it ranges from {per[worst]:.2f} ({worst}) to {per[best]:.2f} ({best})."
    return text


def write_model_card(folder: str | os.PathLike, info: dict) -> Path:
    """Write ``MODEL_CARD.md`` from the model's ``pretrained.json`` contents."""
    folder = Path(folder)
    recipe = info["recipe"]
    training = info["training"]
    scores = info.get("cv_scores", {})
    units = "–".join(str(u) for u in recipe["units"])
    lines = [
        "# Model card: the shipped Semantic Embedding GRU models",
        "",
        "*Written by `python -m semgru_keras.pretrain` from `pretrained.json` and the `results/` tables; "
        "do not edit by hand.*",
        "",
        "## What it does",
        "",
        "`python -m semgru_keras.predict SONG…` (or `semgru_keras.load_pretrained().predict(paths)`) gives per song:",
        "",
        f"* **nine GEMS scores** ({', '.join(info['emotions'])}): the predicted fraction of listeners who would "
        "tag the song with each emotion, on the training annotations' scale (their means per emotion range from "
        f"{min(m['mean'] for m in info['gems_spread'].values()):.2f} to "
        f"{max(m['mean'] for m in info['gems_spread'].values()):.2f}). The SVR outputs are clipped to [0, 1].",
    ]
    if "quadrant" in training:
        classes = info.get("classes", [])
        classes = [c for c in QUADRANT_ORDER if c in classes] + [c for c in classes if c not in QUADRANT_ORDER]
        lines.append(f"* **the valence–arousal quadrant** ({', '.join(classes)}) by an SVM vote, with "
                     "one-vs-rest Platt-calibrated probabilities (in borderline cases the most probable quadrant can "
                     "differ from the vote);")
    lines += [
        "* **the five most similar training songs**, by cosine similarity of the learned features.",
        "",
        "The models learn from 5-second crops of 160-dim log-mel input vectors (Section V-B) and read whole songs at "
        "prediction time. They know only what their training songs and listeners knew: Western popular and "
        "classical excerpts, listeners of an online game (Emotify) and AllMusic mood tags (4Q).",
        "",
        "## Training data and licences",
        "",
        f"* GEMS model — {training['gems']['n_songs']} songs of `{training['gems']['dataset']}`. "
        + training["gems"].get("licence", ""),
    ]
    if "quadrant" in training:
        lines.append(f"* Quadrant model — {training['quadrant']['n_songs']} songs of `{training['quadrant']['dataset']}`. "
                     + training["quadrant"].get("licence", ""))
    fc = info["feature_config"]
    lines += [
        "",
        "## Recipe",
        "",
        "The settings of the cross-validation protocol whose scores are below (`EvaluationConfig` defaults, "
        "the paper's Section V-B), trained on **all** songs:",
        "",
        *_overrides(recipe),
        f"* input: {fc['n_mels']} mel bands, {fc['frame_seconds'] * 1e3:.0f} ms frames, {fc['hop_seconds'] * 1e3:.0f} ms hop, "
        f"pairs of frames with first differences (sample rate setting `sr={fc['sr']}`); standardised with the "
        "training songs' statistics inside the model;",
        f"* GRUs {units}, weights N(0, {recipe['init_stddev']}), `reset_after={recipe['reset_after']}` (Eqs. 7–10); "
        f"mean over time (Eq. 11); cosine-Gram loss (Eq. 13); {recipe['epochs']} epochs of random "
        f"{recipe['crop_length']}-vector crops in batches of {recipe['batch_size']}; Adadelta learning rate "
        f"{recipe['learning_rate']}, ρ {recipe['rho']}; seed {recipe['seed']};",
        f"* an RBF SVR per emotion on standardised features and targets; C, γ, ε by {recipe['inner_folds']}-fold "
        f"inner grid search (R²) over {recipe['svr_grid']}; chosen: "
        + "; ".join(f"{p['emotion']} C={p['C']}, γ={p['gamma']}, ε={p['epsilon']}" for p in info["heads"]["gems"]) + ".",
    ]
    if "quadrant" in info["heads"]:
        q = info["heads"]["quadrant"]
        lines.append(f"* quadrant: annotations are the valence–arousal corners (Section V-A); an RBF SVM, C and γ by "
                     f"{recipe['inner_folds']}-fold inner grid search (accuracy) over {recipe['svc_grid']}; chosen "
                     f"C={q['C']}, γ={q['gamma']}; Platt scaling on decision values of the same inner folds. "
                     f"Caveat: those inner folds use features of a GRU trained on all songs, the held-out fold "
                     f"included (inner accuracy {q['inner_accuracy']:.2f}, far above what unseen songs get), so the "
                     "probabilities are overconfident for new music: read them as a ranking of the quadrants.")
    lines += [
        "",
        f"Built {info.get('built')} with Keras backend `{info.get('keras_backend')}`, versions "
        + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()) + ".",
        "",
        "Rebuild (same seed, same CPU backend → the same predictions to 1e-4):",
        "",
        "```",
        f"KERAS_BACKEND={info.get('keras_backend')} {info.get('command') or DOCUMENTED_COMMAND}",
        "```",
        "",
        "## Cross-validated scores of this recipe",
        "",
        "The shipped model itself has no held-out songs left; these are the scores of the same recipe under the "
        "protocol's 10-fold cross-validation (each song predicted by a model that never saw it). They come from the "
        "run named, not from this build: if the package's features or recipe changed between that run and "
        f"{info.get('built')}, re-measure and rewrite this card (`python -m semgru_keras.pretrain --card-only`).",
        "",
        f"* GEMS — {_score_line(scores.get('gems'), training['gems'])}",
    ]
    gems_score = scores.get("gems") or {}
    if gems_score.get("per_target"):
        lines.append("  * per emotion: " + ", ".join(f"{k} {v:.2f}" for k, v in gems_score["per_target"].items()))
    if "quadrant" in training:
        lines.append(f"* quadrant — {_score_line(scores.get('quadrant'), training['quadrant'])}")
    lines += ["", _reading_note(gems_score), ""]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- command line
def _load(value: str, kind: str, synthetic_songs: int | None, synthetic_seconds: float | None) -> tuple[Dataset, str]:
    synthetic = {"gems": "synthetic-gems", "quadrant": "synthetic-quadrants"}[kind]
    if value == synthetic:
        opts = {}
        if synthetic_songs:
            opts["n_songs"] = synthetic_songs
        if synthetic_seconds:
            opts["duration"] = synthetic_seconds
        return load_dataset(value, **opts), value
    if kind == "gems":
        return load_dataset("emotify", root=value), "emotify"
    name = "4q" if "4q" in DATASETS else "quadrants"  # the dedicated 4Q loader reads artists and titles
    return load_dataset(name, root=value), "4q"


#: Options that change where things are read or written, not the model: left out of the recorded command.
_NOT_RECORDED = {"--out": 1, "--results-dir": 1, "--cache-dir": 1, "--n-jobs": 1, "--no-progress": 0}


def _recorded_command(argv: Sequence[str]) -> str:
    kept, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in _NOT_RECORDED:
            skip = _NOT_RECORDED[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    return " ".join(["python -m semgru_keras.pretrain", *kept])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semgru_keras.pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--emotify", metavar="PATH", help="Emotify folder (data.csv + emotifymusic/), or 'synthetic-gems'")
    parser.add_argument("--4q", dest="fourq", metavar="PATH",
                        help="4Q folder (Q1/ … Q4/), or 'synthetic-quadrants'; omit for a GEMS-only model")
    parser.add_argument("--out", default=str(MODEL_DIR), help=f"output folder (default: {MODEL_DIR})")
    parser.add_argument("--results-dir", default=str(REPO_ROOT / "results"),
                        help="where <dataset>/summary.csv holds the recipe's cross-validated scores")
    parser.add_argument("--card-only", action="store_true",
                        help="only re-read the scores and rewrite MODEL_CARD.md of the model in --out")
    parser.add_argument("--cache-dir", help="feature cache (default: semgru_keras' cache folder)")
    parser.add_argument("--n-jobs", type=int, default=1, help="processes for feature extraction")
    parser.add_argument("--epochs", type=int, help=f"override the recipe's {RECIPE.epochs} epochs (tests only)")
    parser.add_argument("--quick-grids", action="store_true", help="small SVR/SVM grids (tests only)")
    parser.add_argument("--synthetic-songs", type=int, help="songs per synthetic set")
    parser.add_argument("--synthetic-seconds", type=float, help="seconds per synthetic clip")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    if args.card_only:
        from .pretrained import load_pretrained

        model = load_pretrained(args.out)
        info = model.info
        results = Path(args.results_dir)
        for part, source_key in (("gems", "gems"), ("quadrant", "quadrant")):
            training = info["training"].get(source_key)
            if training is None:
                continue
            synthetic = training["dataset"].startswith("synthetic")
            info.setdefault("cv_scores", {})[part] = None if synthetic else _read_summary(results / training["source"])
        model.info = info
        (Path(args.out) / "pretrained.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        print(f"rewrote {write_model_card(args.out, info)}")
        return 0
    if not args.emotify:
        parser.error("--emotify is required (a path, or 'synthetic-gems')")
    config = RECIPE
    overrides = {}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.quick_grids:
        quick = EvaluationConfig.quick()
        overrides.update(svr_grid=quick.svr_grid, svc_grid=quick.svc_grid)
    if overrides:
        config = dataclasses.replace(config, **overrides)
    gems, gems_source = _load(args.emotify, "gems", args.synthetic_songs, args.synthetic_seconds)
    quadrants, quad_source = (None, "4q")
    if args.fourq:
        quadrants, quad_source = _load(args.fourq, "quadrant", args.synthetic_songs, args.synthetic_seconds)
    command = _recorded_command(argv if argv is not None else sys.argv[1:])
    model = build_pretrained(gems, quadrants, config=config, cache_dir=args.cache_dir, n_jobs=args.n_jobs,
                             progress=not args.no_progress, results_dir=args.results_dir,
                             sources=(gems_source, quad_source), command=command)
    out = model.save(args.out)
    card = write_model_card(out, model.info)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"saved the model to {out} ({size / 1e6:.1f} MB) and {card.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
