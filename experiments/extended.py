"""Beyond the paper (issue 16): variants of the recipe, each against the paper's protocol and hand-crafted features.

::

    python -m experiments.extended --dataset emotify --data-root PATH     # every variant
    python -m experiments.extended --dataset 4q --data-root PATH -j 2
    python -m experiments.extended --dataset emotify --data-root PATH --only fusion,relu_gram
    python -m experiments.extended --dataset emotify --table              # rebuild the table from saved runs

The paper's protocol (``semgru_keras.evaluation``, ``results/<dataset>/results.json``) stays the
headline of Tables I and II. Each variant below is that protocol — the same outer folds, seeds
(fold ``f``: ``seed + f``), inner SVR/SVM search and every other setting, read from
``results/<dataset>/results.json``'s own config — with *one* change. The changes and their
hypotheses were written down before any of them was run on real data:

=============  ===========================================================================
variant        hypothesis under test
=============  ===========================================================================
fusion         learned and hand-crafted features carry partly different information (the
               paper separates representation learning from the classifier): the 50
               learned features of the fold's SE-GRU next to the 98 hand-crafted ones, each
               standardised on the training songs, under the same inner search, beat both
               alone. System ``fusion`` of :mod:`semgru_keras.protocol`; no second training.
centered_gram  Emotify's annotations are all non-negative, so every pair of songs has a
               high annotation cosine (mean 0.62 over pairs, none negative): Eq. 13's target
               is dominated by the direction all songs share. Centring features and
               annotations on the batch mean before the cosines (a correlation / CKA-style
               Gram) makes the target the songs' differences, which is what the SVR needs.
relu_gram      Eq. 13 pushes a negative feature cosine up to the (non-negative) annotation
               cosine as hard as it corrects any other error; zeroing negative cosines in
               both Gram matrices (as DINOv3's Gram loss) only asks dissimilar songs not to
               point the same way and frees the rest of the geometry.
crops_4        one 5 s crop per song per epoch gives few gradient steps (4 per epoch on
               Emotify); four random crops per song per epoch give four times the steps and
               views of every song in the same 100 epochs (training costs ≈ 4×).
seeds_5        the learned features depend on the network's seed; five networks per fold
               (seeds ``seed + f`` … ``seed + f + 4``), their features side by side (250
               values: unrelated feature bases are concatenated, never averaged), give the
               SVR/SVM a less seed-dependent input (training costs ≈ 5×).
=============  ===========================================================================

Every variant is reported, with its score, 95 % bootstrap interval, and its paired difference
per fold (mean Δ and the number of folds it is better on) against the paper protocol's SE-GRU
and against all hand-crafted features + SVR/SVM (``handcrafted_combined``), both from
``results/<dataset>/results.json`` on the same ten folds (a run whose folds differ is refused).
None is promoted to "the extended recipe" by these runs: choosing the best of five on the same
ten test folds would be tuning on them. A recipe is promoted only by a choice made inside each
outer fold (inner cross-validation on its training songs) or fixed before running; neither is
built yet. Five variants compared over ten shared folds, with no correction for the five
comparisons: a single Δ of the size of the folds' spread is not evidence.

Results: ``results/<dataset>/extended/<variant>.json`` (:class:`~semgru_keras.results.CVResults`)
and the table ``results/<dataset>/extended.{csv,md}``.

Long runs resume (hours on two cores): every finished outer fold of a variant is saved in
``results/<dataset>/extended/partial/<variant>/`` (:mod:`semgru_keras.checkpoints`; committed
with the repository when a session ends mid-run, so the next one continues), and a variant whose
results file exists with the protocol's folds is not run again. The same command after an
interruption therefore continues where it stopped, with the numbers of an uninterrupted run;
``--fresh`` recomputes everything, ``--log FILE`` keeps what it prints. The fusion run trains the paper's SE-GRU
and the hand-crafted systems again; its rows for them must repeat the protocol's numbers
(Δ ≈ 0 on the same backend, up to floating-point differences between processes with other thread
counts), a check that the comparison is paired.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from experiments import add_run_options, selected_variants

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
DATASETS = ("emotify", "4q")

#: name → (hypothesis in one line, EvaluationConfig overrides, the system that carries the variant).
#: Systems default to ``("semgru",)``; everything not named is the paper protocol's run's setting.
VARIANTS: dict[str, tuple[str, dict, str]] = {
    "fusion": ("learned + hand-crafted features side by side, one inner SVR/SVM search",
               {"systems": ("semgru", "handcrafted", "fusion")}, "fusion"),
    "centered_gram": ("cosine Gram of batch-centred features and annotations (correlation / CKA-style)",
                      {"gram": "centered"}, "semgru"),
    "relu_gram": ("negative cosines set to 0 in both Gram matrices (DINOv3's Gram loss)",
                  {"gram": "relu"}, "semgru"),
    "crops_4": ("four random crops per song per epoch instead of one", {"crops_per_song": 4}, "semgru"),
    "seeds_5": ("five SE-GRUs per fold (seeds seed+f … seed+f+4), features concatenated",
                {"n_seeds": 5}, "semgru"),
}
#: The paper protocol's systems every variant is compared with (keys of ``results.json``).
REFERENCES: dict[str, str] = {"semgru": "paper SE-GRU", "handcrafted_combined": "hand-crafted"}


def variant_config(base_config: Mapping, name: str):
    """The paper protocol's config of ``results.json`` with variant ``name``'s one change.

    The inner searches run in one process (``n_jobs=1``): the outer folds are the parallel
    work (``-j``); the results do not depend on either.
    """
    from semgru_keras.protocol import EvaluationConfig

    _, overrides, _ = VARIANTS[name]
    return dataclasses.replace(EvaluationConfig.from_dict(base_config),
                               **{"systems": ("semgru",), "n_jobs": 1, "verbose": 0, **overrides})


def _load_base(dataset: str, out: Path = RESULTS):
    from semgru_keras.results import CVResults

    path = out / dataset / "results.json"
    if not path.is_file():
        raise SystemExit(f"{path}: run the paper's protocol on {dataset} first "
                         f"(python -m semgru_keras.run --dataset {dataset} ...)")
    return CVResults.load(path)


def run_variant(dataset: str, name: str, data_root: str, cache_dir: str | None = None, n_jobs: int = -1,
                out: Path = RESULTS, resume: bool = True) -> Path:
    """Cross-validate one variant on the protocol run's folds and save its ``CVResults``.

    Refuses (before training) when the data set's songs or the folds would differ from
    ``results/<dataset>/results.json``'s. With ``resume``, a variant already saved with those
    folds is not run again, and the folds of an interrupted run (``extended/partial/<name>/``)
    are read back instead of computed; the partial folder is removed once the variant is saved.
    """
    from semgru_keras.data import load_dataset
    from semgru_keras.evaluation import cross_validate_dataset, fold_groups
    from semgru_keras.protocol import make_folds
    from semgru_keras.results import CVResults

    base = _load_base(dataset, out)
    config = variant_config(base.config, name)
    path = out / dataset / "extended" / f"{name}.json"
    if resume and path.is_file():
        done = CVResults.load(path)
        if np.array_equal(done.folds, base.folds) and done.config == {**done.config, **config.to_dict()}:
            print(f"{dataset} {name}: already saved in {path} with the protocol's folds and settings (--fresh runs "
                  "it again)", flush=True)
            return path
    ds = load_dataset(dataset, root=data_root)
    if [str(i) for i in ds.ids] != [str(i) for i in base.ids]:
        raise SystemExit(f"{dataset}: the data set's songs differ from {out / dataset / 'results.json'}; "
                         "rerun the protocol first")
    groups, _ = fold_groups(ds, config, cache_dir=cache_dir, progress=False)  # artists + duplicate recordings
    folds = make_folds(np.asarray(ds.targets), config.n_folds, config.seed, groups=groups,
                       use_groups=config.use_groups)
    if not np.array_equal(folds, base.folds):
        raise SystemExit(f"{name}: its folds would differ from {out / dataset / 'results.json'}'s; "
                         "rerun the protocol first")
    partial = out / dataset / "extended" / "partial" / name
    started = time.perf_counter()
    results = cross_validate_dataset(ds, config, cache_dir=cache_dir, n_jobs=n_jobs, progress=True,
                                     checkpoint_dir=partial if resume else None)
    path = results.save(path)
    if resume:  # the variant's record is its results file now
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
        if partial.parent.is_dir() and not any(partial.parent.iterdir()):
            partial.parent.rmdir()
    system = VARIANTS[name][2]
    print(f"{dataset} {name}: {results.score(system):.3f} ({results.metric_name}) "
          f"in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _paired(run, system: str, base, reference: str) -> tuple[float, str]:
    """Mean over folds of ``run[system] − base[reference]`` and "folds better k/n"."""
    diff = run.fold_scores(system) - base.fold_scores(reference)
    return float(np.mean(diff)), f"{int(np.sum(diff > 0))}/{len(diff)}"


def comparison(base, runs: Mapping[str, object]) -> pd.DataFrame:
    """The table: the protocol's reference rows, then one row per saved variant run.

    Parameters
    ----------
    base : CVResults
        The paper protocol's run (``results/<dataset>/results.json``).
    runs : mapping of variant name to CVResults
        Saved variant runs (names of :data:`VARIANTS`); each must have the base's songs and
        folds, else ``ValueError``.

    Returns
    -------
    DataFrame
        Per row: the score (fold-averaged), its 95 % bootstrap interval and std over folds;
        for each reference system of :data:`REFERENCES`, the mean paired difference over the
        same folds and the folds on which the row is better (strictly). For the fusion run,
        its own SE-GRU and hand-crafted rows too: they repeat the protocol.
    """
    metric = base.metric_name
    entries = [(f"protocol: {label}", "the paper's protocol (results.json)", key, base)
               for key, label in REFERENCES.items()]
    for name, run in runs.items():
        what, _, system = VARIANTS[name]
        if [str(i) for i in run.ids] != [str(i) for i in base.ids] or not np.array_equal(run.folds, base.folds):
            raise ValueError(f"{name}: its songs or folds differ from the protocol run's; rerun it")
        entries.append((name, what, system, run))
        if name == "fusion":
            entries += [(f"fusion run: its {label}", "repeats the protocol (check: Δ ≈ 0, up to floating-point "
                        "differences between processes)", key, run)
                        for key, label in REFERENCES.items() if key in run.predictions]
    rows = []
    for row, what, system, res in entries:
        folds = res.fold_scores(system)
        low, high = res.ci(system)
        entry = {"variant": row, "what changes": what, "system": system, metric: res.score(system),
                 "95 % CI low": low, "95 % CI high": high, "std over folds": float(np.std(folds, ddof=1))}
        for key, label in REFERENCES.items():
            delta, better = (np.nan, "—") if res is base else _paired(res, system, base, key)
            entry[f"Δ vs {label}"] = delta
            entry[f"folds better than {label}"] = better
        # this row's cost: its training and SVR/SVM; fusion's includes the SE-GRU that made its features
        chain = [system] + (["semgru"] if system == "fusion" else [])
        seconds = np.sum([res.fit_seconds[key] for key in chain if key in res.fit_seconds], axis=0)
        entry["minutes per fold"] = float(np.mean(seconds) / 60) if np.size(seconds) else np.nan
        entry["vector size"] = res.n_features.get(system)
        rows.append(entry)
    return pd.DataFrame(rows).set_index("variant")


def table(dataset: str, out: Path = RESULTS) -> pd.DataFrame:
    """:func:`comparison` of the saved runs of ``dataset``."""
    from semgru_keras.results import CVResults

    base = _load_base(dataset, out)
    runs = {name: CVResults.load(out / dataset / "extended" / f"{name}.json")
            for name in VARIANTS if (out / dataset / "extended" / f"{name}.json").is_file()}
    return comparison(base, runs)


def write_table(dataset: str, out: Path = RESULTS) -> pd.DataFrame:
    """Write ``results/<dataset>/extended.{csv,md}`` and return the table."""
    from semgru_keras.report import to_markdown

    df = table(dataset, out)
    df.to_csv(out / dataset / "extended.csv")
    base = _load_base(dataset, out)
    note = (f"{base.name}, {len(base.ids)} songs, the {base.n_folds} outer folds of `results/{dataset}/results.json` "
            f"for every row; {base.metric_name} averaged over folds, 95 % bootstrap interval (songs resampled within "
            "folds). Δ = mean over the same folds of the paired difference to the protocol's SE-GRU / to all "
            "hand-crafted features + SVR/SVM; folds better = folds on which the row scores strictly higher. "
            "Variants and hypotheses were fixed before running (see `experiments/extended.py`); every one is "
            "reported and none is promoted: picking the best on these test folds would be tuning on them. "
            "Minutes per fold: the row's training and SVR/SVM search (fusion: with its SE-GRU's training), on "
            "whatever machine ran it, mean over folds (not a benchmark). "
            f"Command: `python -m experiments.extended --dataset {dataset} --data-root PATH`.")
    (out / dataset / "extended.md").write_text(f"## Beyond the paper: extended-recipe variants on {base.name}\n\n"
                                               f"{note}\n\n{to_markdown(df.round(3))}", encoding="utf-8")
    print(df.round(3).to_string())
    return df


def readme_rows(dataset: str, out: Path = RESULTS) -> list[str]:
    """The README's table rows for ``dataset``, from ``results/<dataset>/extended.csv`` (a test
    compares them with the README): the variants run so far, each with its score and interval and
    its paired difference to the protocol's SE-GRU and to all hand-crafted features."""
    df = pd.read_csv(out / dataset / "extended.csv", index_col="variant")
    metric = df.columns[2]
    rows = []
    for name in [n for n in VARIANTS if n in df.index]:
        r = df.loc[name]
        rows.append(f"| {dataset} | `{name}` | {r[metric]:.3f} [{r['95 % CI low']:.2f}, {r['95 % CI high']:.2f}] | "
                    f"{r['Δ vs paper SE-GRU']:+.3f} ({r['folds better than paper SE-GRU']}) | "
                    f"{r['Δ vs hand-crafted']:+.3f} ({r['folds better than hand-crafted']}) |")
    return rows


def main(argv=None) -> int:
    # as a command (not on import, where it would leak into e.g. joblib workers started later)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the fastest CPU backend (benchmarks/)
    parser = argparse.ArgumentParser(prog="python -m experiments.extended", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    parser.add_argument("--data-root", help="the data set's folder (Emotify: default $SEMGRU_EMOTIFY_ROOT)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    parser.add_argument("--cache-dir", help="feature cache (default: the package's)")
    parser.add_argument("-j", "--n-jobs", type=int, default=-1,
                        help="worker processes for the outer folds (default: all cores; the results do not change)")
    parser.add_argument("--table", action="store_true", help="only rebuild the table from saved runs")
    add_run_options(parser)
    args = parser.parse_args(argv)
    from semgru_keras.console import tee_output  # here: importing semgru_keras sets TF_CPP_MIN_LOG_LEVEL

    with tee_output(args.log):
        if not args.table:
            data_root = args.data_root or (os.environ.get("SEMGRU_EMOTIFY_ROOT") if args.dataset == "emotify" else None)
            if not data_root:
                parser.error("give --data-root")
            names = selected_variants(parser, args.only, VARIANTS)
            for name in names:
                run_variant(args.dataset, name, data_root, args.cache_dir, args.n_jobs, resume=not args.fresh)
                write_table(args.dataset)
        write_table(args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
