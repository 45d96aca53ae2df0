"""The notebooks as a student meets them: JupyterLab in a real (headless) browser.

JupyterLab runs on copies of notebooks 01 and 03 in a temporary folder; the system's Chromium (Debian
package ``chromium``), driven by ``playwright``, opens each one, checks that it is not marked modified
once its kernel is idle (a notebook stored in a non-canonical form is), runs all cells from the Run
menu, checks that the figures render as images, saves, and reads the saved file: no error output and
no TensorFlow/absl banners. Skipped with the reason where no browser, playwright or JupyterLab is
installed (``.ci/run`` installs Chromium).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BANNERS = ("absl", "oneDNN", "cuda drivers", "TqdmWarning", "Traceback")
#: notebook -> figures it shows
NOTEBOOKS = {"01_features.ipynb": 2, "03_loss.ipynb": 2}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (Debian: apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary folder holding copies of the notebooks."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the `notebooks` extra)")
    root = tmp_path_factory.mktemp("lab")
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source = params.source.replace("output_dir = None", f"output_dir = {str(root / 'run')!r}")
        nbformat.write(nb, root / name)
    settings = root / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    tracker = root / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)  # render every cell (JupyterLab 4 renders only the visible ones by default)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), "semgru-browser-test"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               IPYTHONDIR=str(root / "ipython"), KERAS_BACKEND="jax")
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--KernelManager.transport=ipc",
         "--allow-root",
         f"--LabApp.user_settings_dir={root / 'settings'}", f"--LabApp.workspaces_dir={root / 'workspaces'}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"JupyterLab exited: {(root / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield {"url": url, "token": token, "root": root}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    console = (root / "server.log").read_text()
    assert "without encryption" not in console, "the kernels talk over unencrypted TCP"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the `test` extra)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"])
        yield chromium
        chromium.close()


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_student_runs_the_notebook_in_jupyterlab(name, lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    workspace = name.split(".")[0]  # a fresh workspace: only this notebook open
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab['token']}")
    idle = ".jp-Notebook-ExecutionIndicator[data-status='idle']:visible"
    page.wait_for_selector(idle, timeout=90_000)  # the kernel started and is idle
    page.wait_for_timeout(3000)
    tab = page.locator(".lm-TabBar-tab.jp-mod-current").first
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), f"{name} is marked modified right after opening"

    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    deadline = time.monotonic() + 300
    while True:  # until the saved notebook has run every code cell
        page.wait_for_timeout(2000)
        if page.locator(idle).count():
            page.keyboard.press("Control+s")
            page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")
            saved = nbformat.read(lab["root"] / name, as_version=4)
            code = [c for c in saved.cells if c.cell_type == "code"]
            if all(c.execution_count for c in code) or any(o.output_type == "error" for c in code for o in c.outputs):
                break  # done, or stopped at an error (reported below)
        assert time.monotonic() < deadline, f"{name}: cells still running after 300 s"
    images = page.locator(".jp-OutputArea-output img").count()
    assert images >= NOTEBOOKS[name], f"{name}: {images} figures rendered, expected {NOTEBOOKS[name]}"
    page.close()
    saved = nbformat.read(lab["root"] / name, as_version=4)
    outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors}"
    text = json.dumps(outputs)
    assert not [b for b in BANNERS if b in text], f"{name}: outputs contain {[b for b in BANNERS if b in text]}"
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= NOTEBOOKS[name]
