"""Command line: get and verify the real data sets, summarise a data set, fill its feature cache, find recordings under several names.

Usage::

    python -m semgru_keras.data sources [NAME]
    python -m semgru_keras.data download NAME --to PATH [--url URL ...] [--no-decode]
    python -m semgru_keras.data check NAME --root PATH [--no-decode] [--n-jobs N]
    python -m semgru_keras.data info NAME [--root PATH] [-o KEY=VALUE ...]
    python -m semgru_keras.data extract NAME [--root PATH] [--n-jobs N] [--cache-dir DIR]
                                        [--skip-errors] [-o KEY=VALUE ...]
    python -m semgru_keras.data duplicates NAME [--root PATH] [--n-jobs N] [--cache-dir DIR]
                                           [--method auto|fingerprint|content] [--json FILE]

``sources``, ``download`` and ``check`` take ``emotify`` or ``4q``
(:mod:`semgru_keras.data.sources`, :mod:`~semgru_keras.data.download`,
:mod:`~semgru_keras.data.check`); ``check`` and ``download`` exit with 1 when the copy has a
problem. For ``info`` and ``extract``, ``NAME`` is one of ``synthetic-gems``,
``synthetic-quadrants``, ``emotify``, ``4q``, ``quadrants`` or a path (layout detected);
``-o n_songs=50 -o seed=1`` passes loader options.
"""

from __future__ import annotations

import argparse
import sys
import time

from .dataset import DATASETS, load_dataset


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: option {pair!r} is not KEY=VALUE")
        k, v = pair.split("=", 1)
        out[k.strip().replace("-", "_")] = _value(v.strip())
    return out


def _real_data_commands(sub) -> None:
    from .sources import SOURCES

    names = list(SOURCES)
    p = sub.add_parser("sources", help="where the real data sets come from: URLs, size, licence, citation, layout")
    p.add_argument("name", nargs="?", choices=names, help="one data set (default: all)")
    p = sub.add_parser("check", help="verify a copy: file counts, annotation SHA-256, every audio file decodable")
    p.add_argument("name", choices=names)
    p.add_argument("--root", required=True, help="the copy's folder (what load_dataset(NAME, root=...) reads)")
    p.add_argument("--no-decode", action="store_true", help="check layout and annotation files only")
    p.add_argument("--n-jobs", type=int, default=1, help="parallel decoding workers (-1: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p = sub.add_parser("download", help="fetch the authors' files (resumable), unpack and check them")
    p.add_argument("name", choices=names)
    p.add_argument("--to", required=True, help="folder to fill (created); partial downloads resume from here")
    p.add_argument("--url", action="append", metavar="URL",
                   help="another address for a file (a mirror), one per file of the distribution, in order")
    p.add_argument("--no-decode", action="store_true", help="after unpacking, skip decoding the audio")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run_real_data_command(args) -> int:
    from .check import check_copy
    from .sources import SOURCES, describe_source

    if args.command == "sources":
        names = [args.name] if args.name else list(SOURCES)
        print("\n\n".join(describe_source(SOURCES[n]) for n in names))
        return 0
    if args.command == "download":
        from .download import DownloadError, download

        try:
            download(SOURCES[args.name], args.to, urls=args.url, progress=not args.no_progress)
        except DownloadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    root = args.root if args.command == "check" else args.to
    report = check_copy(SOURCES[args.name], root, decode=not args.no_decode,
                        n_jobs=getattr(args, "n_jobs", 1), progress=not args.no_progress)
    print(report.format())
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semgru_keras.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _real_data_commands(sub)
    for cmd, helptext in (("info", "print a summary of the data set"), ("extract", "compute and cache the input sequences"),
                          ("duplicates", "find songs that hold one recording (identical or re-encoded)")):
        p = sub.add_parser(cmd, help=helptext)
        p.add_argument("name", help=f"{', '.join(DATASETS)}, or a path")
        p.add_argument("--root", help="folder (or CSV) of a real data set")
        p.add_argument("-o", "--option", action="append", metavar="KEY=VALUE", help="loader option, e.g. n_songs=50")
        if cmd in ("extract", "duplicates"):
            p.add_argument("--n-jobs", type=int, default=1, help="parallel workers (-1: all cores)")
            p.add_argument("--cache-dir", help="cache folder (default $SEMGRU_CACHE_DIR or .cache/semgru_keras)")
            p.add_argument("--no-progress", action="store_true", help="no progress bar")
        if cmd == "extract":
            p.add_argument("--skip-errors", action="store_true", help="skip unreadable songs (listed) instead of failing")
        if cmd == "duplicates":
            p.add_argument("--method", default="fingerprint", choices=("auto", "fingerprint", "content"),
                           help="fingerprint (default): identical files and re-encoded copies; content: identical only")
            p.add_argument("--json", help="also write what was found to this JSON file")
    args = parser.parse_args(argv)
    if args.command in ("sources", "check", "download"):
        return _run_real_data_command(args)

    try:
        ds = load_dataset(args.name, root=args.root, **_options(args.option))
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "info":
        print(ds.describe())
        return 0

    from .cache import default_cache_dir

    cache_dir = args.cache_dir or default_cache_dir()
    if args.command == "duplicates":
        return _duplicates(ds, args, cache_dir)
    start = time.perf_counter()
    try:
        seqs = ds.sequences(
            cache_dir=cache_dir,
            n_jobs=args.n_jobs,
            on_error="skip" if args.skip_errors else "raise",
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    n_vec = sum(len(s) for s in seqs)
    print(
        f"{ds.name}: {len(seqs)} of {len(ds)} songs, {n_vec} input vectors of {seqs[0].shape[1] if seqs else 0} "
        f"values, in {elapsed:.1f} s; cache: {cache_dir}"
    )
    if seqs.errors:
        print(f"skipped {len(seqs.errors)} songs:", file=sys.stderr)
        for msg in seqs.errors.values():
            print(f"  {msg}", file=sys.stderr)
    return 0


def _duplicates(ds, args, cache_dir) -> int:
    import json

    from .grouping import find_duplicates, merge_groups

    try:
        found = find_duplicates(ds, args.method, cache_dir=cache_dir, n_jobs=args.n_jobs, progress=not args.no_progress)
    except (ImportError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{ds.name}: {found.describe()}")
    for pair in found.pairs:
        i, j = pair["songs"]
        how = pair["how"] + (f", {pair['bit_error_rate']:.1%} of the fingerprint bits differ over "
                             f"{pair['overlap_seconds']:.0f} s" if "bit_error_rate" in pair else "")
        print(f"  {ds.ids[i]} ({ds.groups[i]}) = {ds.ids[j]} ({ds.groups[j]}): {how}")
    merged = merge_groups(ds.groups, found.sets)
    print(f"groups ({ds.group_by}): {len(set(ds.groups.tolist()))} -> {len(set(merged.tolist()))} with the duplicates joined")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"dataset": ds.name, "songs": len(ds), **found.to_dict(ds.ids)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
