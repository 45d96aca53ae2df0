"""Tables from a results file: ``python -m benchmarks.report benchmarks/results/<file>.json``.

The same function prints the table at the end of a benchmark run, so the
tables in benchmarks/README.md can be regenerated from the committed results file at any time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .spec import PAPER_GPU, PAPER_SECONDS_PER_EPOCH


def _f(x, fmt="{:.3f}", none="—"):
    return none if x is None else fmt.format(x)


def _table(header: list[str], rows: list[list[str]]) -> str:
    # a blank line first: a Markdown table must not continue the paragraph above it
    lines = ["", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(results: dict) -> str:
    """Markdown: machine line, training, embedding, features, end to end, acceptance."""
    m = results.get("machine", {})
    v = m.get("versions", {})
    out = []
    cores = m.get("usable_cores")
    out.append(
        f"Machine: {m.get('cpu', '?')}, {cores} usable core{'s' if cores != 1 else ''}, "
        f"{m.get('memory_gib', '?')} GiB RAM, {m.get('os', '?')}; Python {v.get('python', '?')}, Keras {v.get('keras', '?')}, "
        f"TensorFlow {v.get('tensorflow', '—')}, JAX {v.get('jax', '—')}, PyTorch {v.get('torch', '—')}. "
        f"Load average at start {m.get('load_average_at_start')}, at end {results.get('load_average_at_end')}. "
        f"Command: `{results.get('command', '?')}` ({'quick' if results.get('quick') else 'full'}; "
        f"{results.get('wall_s', 0):.0f} s in all)."
    )
    floor = results.get("floor", {})
    peak = floor.get("peak_flops_per_s")
    if peak:
        rates = ", ".join(f"{k} {r / 1e9:.0f}" for k, r in sorted(floor.get("matmul_flops_per_s", {}).items()))
        out.append(f"\nCompute floor: measured float32 matmul rate (2048², GFLOP/s): {rates}; the floor uses the best, "
                   f"{peak / 1e9:.0f} GFLOP/s.")

    tr = results.get("training")
    if isinstance(tr, dict) and tr.get("variants"):
        flops = tr["flops_per_epoch"]
        out.append(
            f"\n**Training** — seconds per epoch at Emotify scale ({tr['spec']['n_songs']} songs × "
            f"{tr['spec']['crop_length']}-vector crops × {tr['spec']['input_dim']}, batch {tr['spec']['batch_size']}, "
            f"GRU {'→'.join(str(u) for u in tr['spec']['units'])}, cosine-Gram loss, Adadelta); median of "
            f"{tr['rounds']} interleaved repetitions of {tr['epochs_per_rep']} epochs; × twin = median over rounds of "
            f"the ratio to the PyTorch twin's repetition in the same round. One epoch = {flops / 1e9:.1f} GFLOP; "
            f"floor = {flops / 1e9:.1f} GFLOP at the best matmul rate{f' = {flops / peak:.3f} s' if peak else ''}."
        )
        rows = []
        for name, r in sorted(tr["variants"].items(), key=lambda kv: kv[1].get("median_s_per_epoch") or 1e9):
            if r.get("median_s_per_epoch") is None:
                rows.append([r.get("label", name), "failed", "", "", "", "", ""])
                continue
            s = r["median_s_per_epoch"]
            rows.append([
                r.get("label", name),
                _f(s),
                _f(r.get("ratio_to_twin"), "{:.2f}×", "1 (reference)" if r["variant"]["framework"] == "twin" else "—"),
                f"{PAPER_SECONDS_PER_EPOCH / s:.1f}× faster",
                _f(flops / s / 1e9, "{:.1f}"),
                _f((flops / peak) / s * 100 if peak else None, "{:.0f} %"),
                _f(r["warmup_epoch_s"][0] if r.get("warmup_epoch_s") else None, "{:.1f}"),
            ])
        out.append(_table(["variant", "s / epoch", "× twin", f"vs paper's {PAPER_SECONDS_PER_EPOCH:.1f} s (GTX 970)",
                           "GFLOP/s", "of floor", "1st epoch s (compile)"], rows))

    em = results.get("embedding")
    if isinstance(em, dict) and em.get("variants"):
        sp = em["spec"]
        out.append(
            f"\n**Embedding** — full-length features of {sp['n_songs']} songs × {sp['length']} vectors "
            f"(one minute), batches of {sp['batch_size']}; median of {em['rounds']} interleaved passes; "
            f"{em['flops'] / 1e9:.0f} GFLOP per pass."
        )
        rows = []
        for name, r in sorted(em["variants"].items(), key=lambda kv: -(kv[1].get("songs_per_s") or 0)):
            if not r.get("songs_per_s"):
                rows.append([r.get("label", name), "failed: " + str(r.get("error", ""))[:60], "", "", ""])
                continue
            n = r.get("n_songs", sp["n_songs"])
            all_s = r.get("seconds_for_all_songs", r["median_wall_s"])
            rows.append([r.get("label", name) + ("" if n == sp["n_songs"] else f" ({n} songs, {len(r['wall_s'])} pass)"),
                         _f(r["songs_per_s"], "{:.1f}"), _f(all_s, "{:.2f}"), _f(r["gflop_per_s"], "{:.1f}"),
                         _f(em["flops"] / peak / all_s * 100 if peak else None, "{:.0f} %")])
        out.append(_table(["variant", "songs / s", f"s for {sp['n_songs']} songs", "GFLOP/s", "of floor"], rows))

    fe = results.get("features")
    if isinstance(fe, dict) and fe.get("rows"):
        out.append(
            f"\n**Feature extraction** — {fe['n_files']} generated one-minute 44.1 kHz mono songs; audio seconds "
            f"processed per wall second (median of repetitions); {fe['n_workers']} = all usable cores."
        )
        rows = [[r["path"], r["input"], str(r["n_jobs"]), _f(r["audio_s_per_s"], "{:.0f}")] for r in fe["rows"]]
        out.append(_table(["path", "input", "workers", "audio s / s"], rows))
        for key in ("cached", "emotify"):
            if isinstance(fe.get(key), str):
                out.append(f"\n{key}: {fe[key]}")
    elif isinstance(fe, dict) and fe.get("status"):
        out.append(f"\n**Feature extraction**: {fe['status']}")

    e2e = results.get("endtoend")
    if isinstance(e2e, dict) and e2e.get("rows"):
        out.append("\n**End to end** — `python -m semgru_keras.run` (all notebooks, papermill), own feature cache.")
        rows = []
        for r in e2e["rows"]:
            share = r.get("feature_share_of_wall")
            rows.append([r["dataset"], f"--{r['mode']}", r["run"], r.get("keras_backend", "—").split(" ")[0], _f(r["wall_s"], "{:.0f}"),
                         "failed" if r.get("error") else _f(r.get("feature_s"), "{:.1f}"),
                         _f(share * 100 if share is not None else None, "{:.1f} %")])
        out.append(_table(["dataset", "mode", "run", "backend", "wall s", "feature extraction s", "feature share"], rows))
    elif isinstance(e2e, dict) and e2e.get("status"):
        out.append(f"\n**End to end**: {e2e['status']}")

    protocol = results.get("protocol")
    if isinstance(protocol, dict) and protocol.get("runs"):
        out.append(f"\n**Protocol** — {protocol['workload']} ({protocol['backend']}), from a warm feature cache, each run "
                   f"in a fresh process; same predictions: {protocol['same_predictions']}; speed-up "
                   f"{protocol['speedup']:.2f}×.\n")
        out.append("| folds run | wall time | SE-GRU train (s, all folds) | standard GRU train (s) | SVR/SVM searches (s) |")
        out.append("|---|---:|---:|---:|---:|")
        for r in protocol["runs"]:
            st = r.get("stage_seconds", {})
            svm = sum(sum(v.get("svm", [])) for v in st.values() if isinstance(v, dict))
            label = "in sequence" if r["n_jobs"] == 1 else f"in {r['n_jobs']} worker processes"
            out.append(f"| {label} | {r['protocol_s'] / 60:.1f} min | {sum(st.get('semgru', {}).get('train', [])):.0f} | "
                       f"{sum(st.get('standard_gru', {}).get('train', [])):.0f} | {svm:.0f} |")

    acc = results.get("acceptance")
    if acc:
        out.append("\n**Acceptance** (issue #6, on this machine):")
        for item in acc:
            mark = {True: "yes", False: "NO", None: "n/a"}[item["passed"]]
            out.append(f"- {item['check']}: {item['value']} — {mark}")
    out.append(f"\nReference: {PAPER_GPU}: ≈ 4.5 min per 100 epochs, ≈ {PAPER_SECONDS_PER_EPOCH:.1f} s per epoch.")
    return "\n".join(out)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        files = sorted((Path(__file__).parent / "results").glob("*.json"))
        if not files:
            print("usage: python -m benchmarks.report RESULTS.json", file=sys.stderr)
            return 2
        argv = [str(files[-1])]
    print(render(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
