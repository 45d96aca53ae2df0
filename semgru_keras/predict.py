"""Predict the emotions of your own music with the shipped model.

::

    python -m semgru_keras.predict song.mp3 another.wav my_album/
    python -m semgru_keras.predict my_album/ --format csv > emotions.csv
    python -m semgru_keras.predict song.mp3 --format json

Per song: the nine GEMS scores on Emotify's scale (the expected fraction of listeners who would
tag the song with each emotion, clipped to [0, 1]), the valence–arousal quadrant with its
probabilities, and the five most similar training songs (cosine similarity of the learned
features). A file that cannot be read gets an error line on stderr naming it; the others are
still predicted, and the exit status is 1 if any file failed. The model, its training data
and its cross-validated accuracy are described in ``semgru_keras/models/MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .pretrained import AUDIO_SUFFIXES, MODEL_DIR, Pretrained, SongPrediction, expand_paths, load_pretrained

__all__ = ["to_rows", "format_table", "format_csv", "format_json", "main"]

_SHORT = {"amazement": "amaze", "solemnity": "solemn", "tenderness": "tender", "nostalgia": "nostalg",
          "calmness": "calm", "power": "power", "joyful_activation": "joyful", "tension": "tension",
          "sadness": "sad"}


def to_rows(predictions: Sequence[SongPrediction], model: Pretrained, k: int = 5) -> list[dict]:
    """One flat dict per song (the CSV columns): scores, quadrant, probabilities, similar songs, error."""
    rows = []
    for p in predictions:
        row = {"file": p.source}
        for e in model.emotions:
            row[e] = p.gems.get(e, "")
        if model.has_quadrant:
            row["quadrant"] = p.quadrant or ""
            for c in model.classes:
                row[f"p_{c}"] = p.quadrant_probabilities.get(c, "")
        for i in range(k):
            s = p.similar[i] if i < len(p.similar) else {}
            row[f"similar_{i + 1}"] = s.get("title", "")
            row[f"similarity_{i + 1}"] = s.get("similarity", "")
        row["error"] = p.error or ""
        rows.append(row)
    return rows


def format_csv(predictions: Sequence[SongPrediction], model: Pretrained, k: int = 5) -> str:
    rows = to_rows(predictions, model, k)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (f"{v:.6f}" if isinstance(v, float) else v) for key, v in row.items()})
    return out.getvalue()


def format_json(predictions: Sequence[SongPrediction], model: Pretrained) -> str:
    songs = []
    for p in predictions:
        songs.append(p.to_dict())
    return json.dumps({"scale": _scale_note(), "songs": songs}, indent=1, ensure_ascii=False) + "\n"


def _scale_note() -> str:
    return ("GEMS scores: expected fraction of listeners who would tag the song with the emotion (Emotify's scale), "
            "clipped to [0, 1]; quadrant: the SVM's vote, probabilities Platt-calibrated one-vs-rest")


def _name(path: str, width: int = 28) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1):]


def format_table(predictions: Sequence[SongPrediction], model: Pretrained, k: int = 5) -> str:
    """The console table: one line of scores per song, then each song's quadrant and similar songs."""
    ok = [p for p in predictions if p.ok]
    if not ok:
        return ""
    width = min(28, max(len(p.source) for p in ok))
    head = f"{'song':<{width}} " + " ".join(f"{_SHORT.get(e, e[:7]):>7}" for e in model.emotions)
    if model.has_quadrant:
        head += "  quadrant"
    lines = [head, "-" * len(head)]
    for p in ok:
        line = f"{_name(p.source, width):<{width}} " + " ".join(f"{p.gems[e]:7.2f}" for e in model.emotions)
        if model.has_quadrant:
            line += f"  {p.quadrant} ({p.quadrant_probabilities[p.quadrant]:.2f})"
        lines.append(line)
    lines.append("")
    for p in ok:
        lines.append(f"{p.source}")
        if model.has_quadrant:
            lines.append("  quadrant probabilities: " + ", ".join(
                f"{c} {p.quadrant_probabilities[c]:.2f}" for c in model.classes))
        lines.append(f"  most similar {model.gems_songs.dataset} songs (cosine similarity of learned features):")
        for s in p.similar[:k]:
            lines.append(f"    {s['similarity']:.3f}  {s['title']}")
    lines += ["", _scale_note() + "."]
    gems = model.cv_scores.get("gems")
    if gems:
        lines.append(f"Cross-validated {gems['metric']} of this recipe: {gems['value']:.2f} (the model card says how it was measured).")
    lines.append(f"Model card: {MODEL_DIR / 'MODEL_CARD.md'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semgru_keras.predict", description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 if every file was predicted, 1 if any failed, 2 for usage errors.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files, or folders searched for audio files")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default table)")
    parser.add_argument("--model", help="folder of another model built by python -m semgru_keras.pretrain --out")
    parser.add_argument("-k", "--similar", type=int, default=5, help="similar training songs per song (default 5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    empty = [p for p in args.paths if Path(p).is_dir() and not expand_paths([p])]
    for folder in empty:
        print(f"error: {folder}: folder holds no audio files ({', '.join(AUDIO_SUFFIXES)})", file=sys.stderr)
    files = expand_paths(args.paths)
    if not files:
        return 1
    model = load_pretrained(args.model)
    predictions = model.predict(files, on_error="keep", progress=len(files) > 1 and not args.no_progress,
                                k=args.similar)
    failed = [p for p in predictions if not p.ok]
    for p in failed:
        print(f"error: {p.error}", file=sys.stderr)
    if len(failed) < len(predictions):
        if args.format == "csv":
            sys.stdout.write(format_csv(predictions, model, args.similar))
        elif args.format == "json":
            sys.stdout.write(format_json(predictions, model))
        else:
            sys.stdout.write(format_table(predictions, model, args.similar))
    if failed:
        print(f"{len(failed)} of {len(predictions)} files could not be read", file=sys.stderr)
    return 1 if failed or empty else 0


if __name__ == "__main__":
    sys.exit(main())
