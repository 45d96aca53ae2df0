"""``python -m benchmarks.gpu``: its pieces, its budget stop and its dry run (so that the GPU
command cannot rot while no GPU is at hand)."""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import gpu
from semgru_keras.results import CVResults

ROOT = Path(__file__).resolve().parents[1]
HAVE_TORCH = importlib.util.find_spec("torch") is not None

#: Keys every record has from its first write on (the schema the README describes).
RECORD_KEYS = {"schema_version", "command", "dry_run", "status", "budget_s", "elapsed_s", "started", "updated",
               "steps", "device", "installs", "training", "protocol", "comparison"}


def _run(args, tmp_path, timeout):
    env = dict(os.environ, SEMGRU_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc, time.perf_counter() - t0


# ---- pieces --------------------------------------------------------------------------------


def test_nvidia_smi_output_is_parsed():
    query = "NVIDIA H100 80GB HBM3, 580.159.04, 81559, 9.0\n\nNVIDIA H200, 580.159.03, 143771, 9.0\n"
    gpus = gpu.parse_nvidia_smi_query(query)
    assert gpus == [
        {"name": "NVIDIA H100 80GB HBM3", "driver_version": "580.159.04", "memory_total_mib": 81559,
         "compute_capability": "9.0"},
        {"name": "NVIDIA H200", "driver_version": "580.159.03", "memory_total_mib": 143771,
         "compute_capability": "9.0"},
    ]
    assert gpu.parse_cuda_version("| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0  |") == "13.0"
    assert gpu.parse_cuda_version("no driver") is None


def test_variants_on_a_gpu_skip_backends_without_cuda_and_put_the_twin_on_cuda():
    installed = {"keras": True, "tensorflow": True, "jax": True, "torch": True}
    variants, skipped = gpu.plan_variants(False, installed, ["jax", "torch"])
    assert [v.name for v in variants] == ["jax-ra", "jax", "twin"]
    assert {v.name: v.reset_after for v in variants} == {"jax-ra": True, "jax": False, "twin": True}
    assert variants[-1].train_kwargs == {"device": "cuda"}
    assert set(skipped) == {"tensorflow-ra", "tensorflow"}
    assert "without CUDA support" in skipped["tensorflow"] and "tensorflow[and-cuda]" in skipped["tensorflow"]


def test_variants_of_the_dry_run_are_every_installed_one_on_the_cpu():
    installed = {"keras": True, "tensorflow": True, "jax": False, "torch": True}
    variants, skipped = gpu.plan_variants(True, installed, [])
    assert [v.name for v in variants] == ["tensorflow-ra", "tensorflow", "twin"]
    assert variants[-1].train_kwargs == {"device": "cpu"}
    assert skipped == {"jax-ra": "jax is not installed", "jax": "jax is not installed"}
    variants, skipped = gpu.plan_variants(True, {"keras": False, "torch": False}, [], wanted=["twin"])
    assert variants == [] and skipped["twin"] == "torch is not installed"
    assert skipped["jax"] == "keras is not installed"


def test_the_fastest_keras_variant_on_a_gpu_is_chosen_for_the_protocol():
    variants = {
        "twin": {"variant": {"framework": "twin"}, "median_s_per_epoch": 0.01, "on_gpu": True},
        "jax": {"variant": {"framework": "keras"}, "median_s_per_epoch": 0.20, "on_gpu": True},
        "jax-ra": {"variant": {"framework": "keras"}, "median_s_per_epoch": 0.10, "on_gpu": True},
        "tensorflow": {"variant": {"framework": "keras"}, "median_s_per_epoch": 0.05, "on_gpu": False},
        "tensorflow-ra": {"variant": {"framework": "keras"}, "median_s_per_epoch": None, "on_gpu": True},
    }
    assert gpu.fastest_keras(variants, require_gpu=True) == "jax-ra"
    assert gpu.fastest_keras(variants, require_gpu=False) == "tensorflow"
    assert gpu.fastest_keras({"twin": variants["twin"]}, require_gpu=False) is None
    assert gpu.on_gpu(["gpu:/physical_device:GPU:0"]) and gpu.on_gpu(["cuda:NVIDIA H100"])
    assert not gpu.on_gpu(["cpu", "cpu:cpu"])


def test_protocol_estimate_scales_with_the_epoch_and_counts_parallel_folds_in_waves():
    kw = dict(n_songs=400, spec_songs=360, n_folds=10, epochs=100, n_workers=10, fixed_per_fold_s=50.0)
    one = gpu.estimate_protocol_s(0.1, **kw)
    # 10 folds × 2 networks × 100 epochs × 0.1 s × (360 training songs / 360), plus one wave of fixed work
    assert one == pytest.approx(10 * 2 * 100 * 0.1 * 1.0 + 50.0)
    assert gpu.estimate_protocol_s(0.2, **kw) - 50.0 == pytest.approx(2 * (one - 50.0))
    assert gpu.estimate_protocol_s(0.1, **{**kw, "n_workers": 3}) == pytest.approx(one - 50.0 + 4 * 50.0)
    # compiling two networks per fold, once per wave of parallel folds
    assert gpu.estimate_protocol_s(0.1, **kw, compile_s=6.0) == pytest.approx(one + 2 * 6.0)


def test_fixed_part_of_a_fold_comes_from_the_committed_cpu_protocol_record():
    record = json.loads(gpu.CPU_PROTOCOL_RECORD.read_text())
    fixed = gpu.fixed_seconds_per_fold()
    assert 0 < fixed < record["parallel_protocol_s"] / 10
    train = sum(per.get("train", 0.0) for per in record["parallel_stage_seconds"].values())
    assert fixed < train / 10  # the two networks' training dominates a CPU fold


def test_install_is_bounded_in_time():
    slow = gpu.bounded_install([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=1.0)
    assert slow["status"] == "timeout" and slow["seconds"] < 10
    failed = gpu.bounded_install([sys.executable, "-c", "raise SystemExit(4)"], timeout_s=30.0)
    assert failed["status"] == "failed" and failed["returncode"] == 4
    assert gpu.bounded_install([sys.executable, "-c", "print('ok')"], timeout_s=30.0)["status"] == "ok"
    assert gpu.bounded_install(["true"], timeout_s=0)["status"] == "skipped"
    assert gpu.pip_command("jax[cuda12]")[-1] == "jax[cuda12]"


def test_installs_are_proposed_only_for_a_visible_gpu():
    seen = {"gpus": [{"name": "GPU"}], "cuda_backends": ["torch"], "installed": {"jax": True, "tensorflow": False}}
    assert gpu.auto_installs(seen) == ["jax[cuda12]", "tensorflow[and-cuda]"]
    assert gpu.auto_installs({**seen, "cuda_backends": ["jax", "tensorflow"]}) == []
    assert gpu.auto_installs({**seen, "gpus": []}) == []


def _results(ids, predictions, y, folds, reset_after=False):
    return CVResults(name="demo", task="regression", target_names=["a", "b", "c"], classes=None,
                     ids=np.asarray(ids), y_true=y, folds=np.asarray(folds), predictions=predictions,
                     config={"reset_after": reset_after})


def test_comparison_matches_songs_by_id_and_measures_agreement():
    rng = np.random.default_rng(0)
    n = 40
    y = rng.random((n, 3))
    folds = np.arange(n) % 4
    p = {"semgru": y + 0.3 * rng.standard_normal((n, 3)), "handcrafted_combined": y + 0.2 * rng.standard_normal((n, 3))}
    ids = np.array([f"s{i}" for i in range(n)])
    reference = _results(ids, p, y, folds)
    order = rng.permutation(n)  # the same run, songs in another order: identical once matched by id
    same = _results(ids[order], {k: v[order] for k, v in p.items()}, y[order], folds[order])
    out = gpu.compare_with_reference(same, reference)
    assert out["same_folds"] and out["same_targets"] and out["n_songs"] == n
    for system, row in out["systems"].items():
        assert row["identical"] and row["difference"] == pytest.approx(0.0)
        assert row["mean_per_target_r"] == pytest.approx(1.0) and row["per_song_r_min"] == pytest.approx(1.0)
        assert row["score_run"] == pytest.approx(reference.score(system))
    noisy = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in p.items()}
    out = gpu.compare_with_reference(_results(ids, noisy, y, folds, reset_after=True), reference)
    row = out["systems"]["semgru"]
    assert not row["identical"] and 0 < row["mean_per_target_r"] < 0.99
    assert row["max_abs_difference"] == pytest.approx(np.max(np.abs(noisy["semgru"] - p["semgru"])))
    assert row["difference"] == pytest.approx(row["score_run"] - row["score_reference"])
    assert out["reset_after"] == {"run": True, "reference": False}
    with pytest.raises(ValueError, match="different songs"):
        gpu.compare_with_reference(_results(np.array([f"t{i}" for i in range(n)]), p, y, folds), reference)


def test_protocol_that_would_not_fit_is_not_started(tmp_path):
    args = gpu.parse_args(["--dry-run", "--fixed-per-fold-s", "1e6"])
    record = gpu.Record(tmp_path / "r.json", {"status": "running", "steps": []})
    run = gpu.Run(record, gpu.Budget(60))
    training = {"fastest_keras": "jax", "variants": {"jax": {
        "variant": {"framework": "keras", "backend": "jax", "reset_after": False}, "median_s_per_epoch": 0.01,
        "label": "Keras/jax, reset_after=False"}}}
    entry = {"name": "protocol", "status": "running"}
    out = gpu.protocol_step(run, entry, gpu.settings(True), args, training, tmp_path / "r.results.json")
    assert entry["status"] == "stopped-at-budget" and "estimated" in entry["reason"]
    assert record.data["status"] == "stopped-at-budget"
    assert out["estimate_before_start_s"] > 60 and not (tmp_path / "r.results.json").exists()


def test_protocol_without_data_is_skipped_with_the_reason(tmp_path):
    args = gpu.parse_args(["--data-root", str(tmp_path / "nowhere")])
    run = gpu.Run(gpu.Record(tmp_path / "r.json", {"status": "running", "steps": []}), gpu.Budget(60))
    training = {"fastest_keras": "jax", "variants": {"jax": {
        "variant": {"framework": "keras", "backend": "jax", "reset_after": False}, "median_s_per_epoch": 0.01}}}
    entry = {"name": "protocol", "status": "running"}
    gpu.protocol_step(run, entry, gpu.settings(False), args, training, tmp_path / "r.results.json")
    assert entry["status"] == "skipped" and "no Emotify data" in entry["reason"]
    entry = {"name": "protocol", "status": "running"}
    gpu.protocol_step(run, entry, gpu.settings(False), args, {"variants": {}}, tmp_path / "r.results.json")
    assert entry["status"] == "skipped" and "no Keras variant" in entry["reason"]


# ---- the command ---------------------------------------------------------------------------


def test_budget_stop_writes_the_partial_record(tmp_path):
    out = tmp_path / "stopped.json"
    budget = 20.0
    proc, wall = _run(["--dry-run", "--budget-s", str(budget), "--variants", "jax", "--rounds", "1000",
                       "--epochs-per-rep", "50", "--out", str(out)], tmp_path, timeout=120)
    assert proc.returncode == gpu.EXIT_BUDGET, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert wall < budget + 20  # the watchdog ended it, not the rounds
    record = json.loads(out.read_text())
    assert RECORD_KEYS <= set(record)
    assert record["status"] == "stopped-at-budget"
    assert record["stopped"]["during"] == "training" and record["stopped"]["at_s"] <= budget
    steps = {s["name"]: s["status"] for s in record["steps"]}
    assert steps == {"visible": "done", "install": "skipped", "training": "stopped-at-budget"}
    assert "budget of 20 s reached during training" in proc.stdout


@pytest.mark.slow
def test_dry_run_runs_every_step_and_writes_the_record(tmp_path):
    out = tmp_path / "dry.json"
    variants = "jax,twin" if HAVE_TORCH else "jax"
    # a generous budget: a busy machine must not fail this test (the budget stop has its own)
    proc, _ = _run(["--dry-run", "--variants", variants, "--budget-s", "1500", "--out", str(out)], tmp_path,
                   timeout=1600)
    assert proc.returncode == gpu.EXIT_DONE, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert RECORD_KEYS <= set(record)
    assert record["status"] == "complete" and record["dry_run"] is True
    assert [s["name"] for s in record["steps"]] == list(gpu.STEPS)
    assert {s["name"]: s["status"] for s in record["steps"]}["install"] == "skipped"
    assert all(s["status"] in ("done", "skipped") for s in record["steps"])
    assert record["elapsed_s"] < record["budget_s"]
    # what is visible
    assert record["device"]["backend_choice"]["backend"] and record["device"]["backend_choice"]["reason"]
    assert "versions" in record["device"] and "gpus" in record["device"]
    # the training epoch, per variant
    timed = record["training"]["variants"]
    assert set(timed) == set(variants.split(","))
    for name, v in timed.items():
        assert v["median_s_per_epoch"] > 0 and len(v["seconds_per_epoch"]) == 2, name
        assert v["on_gpu"] is False and v["devices"]
    assert record["training"]["fastest_keras"] == "jax"
    not_asked = {"tensorflow", "tensorflow-ra", "jax-ra"} | (set() if HAVE_TORCH else {"twin"})
    assert set(record["training"]["skipped"]) == not_asked
    # the protocol, with the fastest Keras variant, and its saved results
    protocol = record["protocol"]
    assert protocol["status"] == "done" and protocol["variant"] == "jax" and protocol["keras_backend"] == "jax"
    assert protocol["config"]["n_folds"] == 2 and protocol["config"]["epochs"] == 2
    assert protocol["protocol_s"] > 0 and protocol["extraction_s"] >= 0 and protocol["estimate_s"] > 0
    results = CVResults.load(protocol["results_file"])
    assert len(results.ids) == protocol["n_songs"] == 20
    assert protocol["scores"] == pytest.approx({s: results.score(s) for s in results.systems})
    assert len(protocol["scores"]) == 7
    # the comparison (the dry run compares its results with themselves: agreement must be perfect)
    comparison = record["comparison"]
    assert set(comparison["systems"]) == set(results.systems)
    for row in comparison["systems"].values():
        assert row["identical"] and row["difference"] == 0.0
    assert "itself" in comparison["note"]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert all(line[2] == ":" and line[5] == ":" for line in lines if "[" in line and "] " in line)


def test_readme_says_whether_the_gpu_path_has_run():
    records = [p for p in (ROOT / "benchmarks" / "results").glob("*-gpu-*.json") if not p.name.endswith(".results.json")]
    section = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8").split("## The GPU path", 1)[1]
    if records:
        assert "not yet run on a GPU" not in section, f"{records[0].name} exists: say what it measured"
    else:
        assert "**It has not yet run on a GPU.**" in section
