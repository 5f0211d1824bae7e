"""Notebook 1's tau slider in a real browser: JupyterLab + Debian's Chromium, driven by Playwright.

nbval has no widget manager, so it can only check that the slider *exists*. This test checks that it *works* where
people use it: it starts JupyterLab on a free loopback port with private config, runtime, data, settings and
workspace folders, opens a copy of ``notebooks/01_soft_advantage.ipynb`` (the committed file is never touched),
runs every cell, checks that the figure is there before any interaction, moves the slider (by typing into its
readout, then by dragging its handle) and waits for the figure's image to change each time. The server is stopped
through its own process id.

It needs Debian's Chromium (``apt-get install -y chromium``) and the ``playwright`` Python package; Playwright's own
browser download is never used. Without them the test is skipped, saying why. About half a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO

NOTEBOOK = REPO / "notebooks" / "01_soft_advantage.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # needed as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

if not CHROMIUM.is_file():
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium); "
        "the real-browser check of the notebook slider needs it",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed")
pytest.importorskip("ipywidgets", reason="ipywidgets is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_env() -> dict[str, str]:
    """The pinned notebook environment (CPU, offline, quiet) that notebooks/execute.py uses."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_notebooks_execute", REPO / "notebooks" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.NOTEBOOK_ENV)


@pytest.fixture()
def jupyterlab(tmp_path):
    """A private JupyterLab server over a copy of notebook 1; yields ``(base_url, token)``."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    dirs = {name: tmp_path / name for name in ("config", "runtime", "data", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    # Open notebooks with the default kernel instead of asking "Select Kernel".
    tracker = dirs["settings"] / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"autoStartDefaultKernel": True}))

    env = dict(os.environ)
    env.update(notebook_env())
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    port, token = free_port(), secrets.token_hex(16)
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={port}", "--port-retries=0", f"--ServerApp.root_dir={work}",
            f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.open_browser=False",
        ],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield base, token
    finally:
        # Stop the server we started, by its own pid; it shuts its kernels down on SIGTERM.
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        log.close()
    assert NOTEBOOK.is_file()


def figure_src(page) -> str:
    return page.eval_on_selector(".jp-Cell:has(.widget-slider) .jp-OutputArea-output img", "img => img.src")


def wait_for_new_figure(page, before: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        src = figure_src(page)
        if src and src != before:
            return src
        page.wait_for_timeout(200)
    raise AssertionError("the figure did not change after moving the tau slider")


def test_tau_slider_redraws_the_figure_in_jupyterlab(jupyterlab):
    base, token = jupyterlab
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            # Wait for the kernel, then run every cell through JupyterLab's own command.
            page.wait_for_function(
                "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                " return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.connectionStatus === 'connected'); }",
                timeout=60_000,
            )
            # Clear the stored outputs first, so that everything checked below comes from this run.
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
            page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output img').length === 0")
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

            # The slider is rendered as a live widget, and its figure is there before any interaction.
            page.wait_for_selector(".jp-Cell .widget-slider .noUi-handle", timeout=120_000)
            page.wait_for_selector(".jp-Cell:has(.widget-slider) .jp-OutputArea-output img", timeout=60_000)
            first = figure_src(page)
            assert first.startswith("data:image/png")
            readout = page.locator(".jp-Cell .widget-slider .widget-readout").first
            readout.scroll_into_view_if_needed()
            assert readout.text_content().strip() == "0.50"

            # 1) type a value into the readout
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("2.50")
            page.keyboard.press("Enter")
            second = wait_for_new_figure(page, first)
            assert readout.text_content().strip() == "2.50"

            # 2) drag the handle to the left end of the track
            handle = page.locator(".jp-Cell .widget-slider .noUi-handle").first
            track = page.locator(".jp-Cell .widget-slider .noUi-target").first
            hb, tb = handle.bounding_box(), track.bounding_box()
            page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
            page.mouse.down()
            page.mouse.move(tb["x"] + 2, hb["y"] + hb["height"] / 2, steps=12)
            page.mouse.up()
            wait_for_new_figure(page, second)
            assert float(readout.text_content().strip()) < 0.5

            # Running every cell left no error and nothing on stderr.
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
            assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count() == 0
        finally:
            browser.close()
