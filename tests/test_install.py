"""The package as a user gets it: the wheel, installed into a fresh venv, used from a folder outside the checkout.

Builds the wheel from the repository's files, installs it into a new virtual environment (its
dependencies come from the package index, or pip's cache), and from a temporary folder:

* without the ``notebooks`` extra, the runner stops with one line naming the extra (no traceback)
  and ``predict`` works on an MP3;
* with ``[notebooks]``, the runner runs a notebook of the shipped copy into ``./runs``.

Slow (minutes: the install), and the one test that needs the package index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "semgru_keras", "notebooks")


def _run(cmd, cwd, env, timeout=1800):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in SOURCES:
        path = REPO / name
        (shutil.copytree(path, src / name, ignore=ignore) if path.is_dir() else shutil.copy2(path, src / name))
    dist = tmp_path_factory.mktemp("dist")
    code, out, err = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, src], src, None)
    assert code == 0, err[-3000:]
    (built,) = dist.glob("semgru_keras-*.whl")
    return built


def test_wheel_ships_notebooks_and_model_but_no_repository_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("semgru_keras/notebooks/01_features") for n in names)
    assert any(n.startswith("semgru_keras/models/") and n.endswith(".keras") for n in names)
    assert not any(n.startswith(("results/", "figures/", "tests/")) or "/solutions/" in n for n in names)


def test_fresh_venv_runner_and_predict_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND", "VIRTUAL_ENV")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", SEMGRU_CACHE_DIR=str(tmp_path / "cache"), MPLBACKEND="Agg")

    code, _, err = _run([python, "-m", "pip", "install", "--quiet", wheel], work, env)
    assert code == 0, err[-3000:]
    code, out, err = _run([python, "-m", "semgru_keras.run", "--dataset", "synthetic-gems", "--quick"], work, env)
    assert code == 2, out + err
    assert "needs the package's `notebooks` extra" in err and "semgru-keras[notebooks]" in err
    assert "Traceback" not in err

    song = work / "song.mp3"
    t = np.arange(10 * 22050) / 22050
    sf.write(song, (0.3 * np.sin(2 * np.pi * 330 * t) * np.sin(2 * np.pi * 0.7 * t)).astype("float32"), 22050,
             format="MP3" if "MP3" in sf.available_formats() else "WAV")
    code, out, err = _run([python, "-m", "semgru_keras.predict", song.name, "--no-progress"], work, env)
    assert code == 0, err[-3000:]
    assert "song.mp3" in out and "quadrant probabilities:" in out
    assert "results/" not in out  # the installed package has no results/ folder to point at

    code, _, err = _run([python, "-m", "pip", "install", "--quiet", f"{wheel}[notebooks]"], work, env)
    assert code == 0, err[-3000:]
    code, out, err = _run([python, "-m", "semgru_keras.run", "--dataset", "synthetic-gems", "--quick",
                           "--notebooks", "01_features.ipynb", "--no-progress"], work, env)
    assert code == 0, out[-2000:] + err[-3000:]
    assert (work / "runs" / "synthetic-gems" / "01_features.ipynb").is_file()
    code, out, _ = _run([python, "-c", "from semgru_keras.run import NOTEBOOK_DIR; print(NOTEBOOK_DIR)"], work, env)
    assert Path(out.strip()).is_relative_to(venv)  # the notebooks shipped in the wheel, not a checkout's
