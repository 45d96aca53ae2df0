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
