"""Experiments beside the paper's protocol: one a-priori setting changed at a time (see each module)."""

from __future__ import annotations

import argparse


def selected_variants(parser: argparse.ArgumentParser, only: str | None, variants) -> list[str]:
    """The variants named by ``--only a,b`` (all when ``None``); a parser error names unknown ones."""
    names = only.split(",") if only else list(variants)
    unknown = set(names) - set(variants)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(variants)}")
    return names


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--log FILE`` and ``--fresh``, shared by the experiment commands (long runs that resume)."""
    parser.add_argument("--log", metavar="FILE",
                        help="also write everything the command prints (a progress line per fold) to FILE, for runs "
                             "in the background")
    parser.add_argument("--fresh", action="store_true",
                        help="compute every fold and variant again instead of resuming from what an earlier run saved")
