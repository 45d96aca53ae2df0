"""Resumable protocol runs (issue 24): finished folds are saved, read back, and never reused wrongly.

Small settings (24 songs of 6 s, 3 folds, 2 epochs, one hand-crafted group) so that the cost
is Keras start-up, not training. The subprocess test interrupts a real run with SIGTERM after
its first fold and resumes it with the same command.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from semgru_keras.checkpoints import FoldStore, array_digest, key_differences
from semgru_keras.data import load_dataset
from semgru_keras.evaluation import EvaluationConfig, cross_validate
from semgru_keras.handcrafted import HANDCRAFTED_KEY, handcrafted_features, stack_features

CONFIG = EvaluationConfig.quick(epochs=2, n_boot=50, feature_groups=("timbre",), systems=("semgru", "handcrafted"))
#: Fields of results.json that are wall-clock times (they differ between any two runs).
TIMINGS = ("wall_seconds", "fit_seconds", "stage_seconds")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    ds = load_dataset("synthetic-quadrants", n_songs=24, duration=6.0, seed=3)
    sequences = list(ds.sequences(cache_dir=cache, progress=False))
    handcrafted = stack_features(ds.map_audio(handcrafted_features, HANDCRAFTED_KEY, cache_dir=cache, progress=False))
    return ds, sequences, handcrafted


def _run(small, config=CONFIG, labels=None, **kwargs):
    ds, sequences, handcrafted = small
    return cross_validate(sequences, ds.labels if labels is None else labels, handcrafted=handcrafted, config=config,
                          task="classification", classes=ds.classes, groups=ds.groups, ids=ds.ids, **kwargs)


def _record(results) -> dict:
    d = results.to_dict()
    return {k: v for k, v in d.items() if k not in TIMINGS}


@pytest.fixture(scope="module")
def uninterrupted(small):
    return _run(small, progress=False)


@pytest.mark.slow
def test_a_resumed_run_equals_an_uninterrupted_one(small, uninterrupted, tmp_path, capsys):
    first = _run(small, progress=False, checkpoint_dir=tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert sorted(p.name for p in folder.glob("fold-*.json")) == ["fold-00.json", "fold-01.json", "fold-02.json"]
    assert _record(first) == _record(uninterrupted)
    # as if interrupted after the first fold: folds 2 and 3 are computed again, fold 1 is read
    for name in ("fold-01.json", "fold-02.json"):
        (folder / name).unlink()
    saved = json.loads((folder / "fold-00.json").read_text())
    resumed = _run(small, progress=True, checkpoint_dir=tmp_path)
    out = capsys.readouterr()
    assert "resuming: folds 1 of 3" in out.out + out.err
    assert "fold 3/3 done" in out.out + out.err and "left" in out.out + out.err
    assert _record(resumed) == _record(uninterrupted)
    # the resumed fold kept its own record (its timings come from the run that computed it)
    assert json.loads((folder / "fold-00.json").read_text()) == saved
    assert resumed.fit_seconds["semgru"][0] == first.fit_seconds["semgru"][0]


@pytest.mark.slow
def test_a_changed_setting_or_changed_data_never_reuses_a_fold(small, tmp_path, capsys):
    _run(small, progress=False, checkpoint_dir=tmp_path)
    capsys.readouterr()
    other = _run(small, config=EvaluationConfig(**{**CONFIG.to_dict(), "epochs": 1}), progress=False,
                 checkpoint_dir=tmp_path)
    said = capsys.readouterr().out
    assert "not reused" in said and "protocol.epochs: 2 → 1" in said
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2  # a folder of its own
    assert other.config["epochs"] == 1
    ds = small[0]
    labels = np.array(ds.labels).copy()
    labels[[0, 1]] = labels[[1, 0]] if labels[0] != labels[1] else labels[[0, 2]]
    _run(small, labels=labels, progress=False, checkpoint_dir=tmp_path)
    said = capsys.readouterr().out
    assert "data.targets" in said
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 3


def test_a_fold_file_under_another_key_is_refused(tmp_path):
    store = FoldStore(tmp_path, {"protocol": {"epochs": 1}})
    store.save({"fold": 0, "test": np.arange(3), "values": np.array([0.5, 1.5])})
    assert store.done() == [0]
    out = store.load(0)
    assert np.array_equal(out["test"], np.arange(3)) and out["test"].dtype == np.arange(3).dtype
    other = FoldStore(tmp_path, {"protocol": {"epochs": 2}}, say=lambda m: None)
    (other.path).mkdir(parents=True)
    (other.path / "fold-00.json").write_text((store.path / "fold-00.json").read_text())
    with pytest.raises(ValueError, match="another key"):
        other.load(0)


def test_digests_and_differences():
    a = np.arange(6, dtype=np.float32)
    assert array_digest([a]) == array_digest([a.copy()])
    assert array_digest([a]) != array_digest([a.astype(np.float64)])
    assert array_digest([a]) != array_digest([a.reshape(2, 3)])
    assert key_differences({"p": {"e": 1, "s": 0}}, {"p": {"e": 2, "s": 0}}) == ["p.e: 1 → 2"]


SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from semgru_keras.data import load_dataset
    from semgru_keras.evaluation import EvaluationConfig, evaluate
    out, cache, checkpoints, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if delay:  # slow every fold after the first down, so that the test can interrupt between folds
        import time, semgru_keras.protocol as p
        fold = p._fold_outputs
        p._fold_outputs = lambda f, *a: (time.sleep(delay) if f > 0 else None, fold(f, *a))[1]
    ds = load_dataset("synthetic-quadrants", n_songs=24, duration=6.0, seed=3)
    config = EvaluationConfig.quick(epochs=2, n_boot=50, feature_groups=("timbre",), systems=("semgru", "handcrafted"))
    evaluate(ds, config=config, results_dir=out, figures_dir=None, cache_dir=cache, progress=True,
             checkpoint_dir=None if checkpoints == "-" else checkpoints)
""")


def _evaluate(tmp_path, out, checkpoints, delay=0.0, **popen):
    script = tmp_path / "run_protocol.py"
    script.write_text(SCRIPT)
    repo = str(Path(__file__).resolve().parents[1])  # this checkout's package, not another installed one
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    args = [sys.executable, str(script), str(out), str(tmp_path / "cache"), str(checkpoints), str(delay)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


@pytest.mark.slow
def test_sigterm_after_the_first_fold_then_the_same_command_resumes(tmp_path):
    plain = _evaluate(tmp_path, tmp_path / "plain", "-")
    assert plain.wait(timeout=600) == 0, plain.stdout.read()
    checkpoints = tmp_path / "folds"
    run = _evaluate(tmp_path, tmp_path / "resumed", checkpoints, delay=60.0)
    deadline = time.monotonic() + 600
    while not list(checkpoints.glob("*/fold-00.json")):
        assert run.poll() is None, run.stdout.read()
        assert time.monotonic() < deadline, "no fold was saved in 10 minutes"
        time.sleep(0.5)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) != 0
    assert [p.name for p in checkpoints.glob("*/fold-*.json")] == ["fold-00.json"]
    assert not (tmp_path / "resumed" / "synthetic-quadrants" / "results.json").exists()
    again = _evaluate(tmp_path, tmp_path / "resumed", checkpoints)
    log = again.communicate(timeout=600)[0]
    assert again.returncode == 0, log
    assert "resuming: folds 1 of 3" in log
    a, b = (json.loads((tmp_path / d / "synthetic-quadrants" / "results.json").read_text())
            for d in ("plain", "resumed"))
    assert {k: v for k, v in a.items() if k not in TIMINGS} == {k: v for k, v in b.items() if k not in TIMINGS}


def test_prose_edits_keep_the_code_digest_and_code_edits_change_it(tmp_path, monkeypatch):
    from semgru_keras.checkpoints import _code_digest

    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "foldcode_probe.py"
    source = 'def fold(x):\n    """Eq. 13."""\n    return x + 1\n\n\ndef other():\n    return 0\n'
    module.write_text(source)
    before = _code_digest(["foldcode_probe:fold"])
    module.write_text(source.replace("Eq. 13.", "The paper's Eq. 13, reworded.").replace("return 0", "return 1")
                      + "# a comment\n")
    assert _code_digest(["foldcode_probe:fold"]) == before  # docstring, comment, another function
    assert _code_digest(["foldcode_probe"]) != _code_digest(["foldcode_probe:fold"])
    module.write_text(source.replace("x + 1", "x + 2"))
    assert _code_digest(["foldcode_probe:fold"]) != before
    with pytest.raises(ValueError, match="has no missing"):
        _code_digest(["foldcode_probe:missing"])


def test_log_file_keeps_what_a_command_prints(tmp_path, capsys):
    from semgru_keras.console import tee_output
    from semgru_keras.run import main

    log = tmp_path / "logs" / "run.log"
    with tee_output(log, "a command"):
        print("fold 1/10 done")
        print("a warning", file=sys.stderr)
    out = capsys.readouterr()
    assert "fold 1/10 done" in out.out and "a warning" in out.err  # the terminal still shows it
    text = log.read_text()
    assert "a command" in text and "fold 1/10 done" in text and "a warning" in text
    # the runner's own errors land in the log too (found before any kernel starts)
    assert main(["--dataset", "no-such-set", "--log", str(log)]) == 2
    assert "unknown dataset 'no-such-set'" in log.read_text()
