"""JupyterLab in a real browser: every notebook opens clean (no unsaved changes once its kernel is
up); in 01_label_noising pick a teacher (its panel and mIoU appear), move the scale (the channel's
pixels change) and the noise std (the figure and the strip below follow).

Serves a temporary copy of the notebooks (with a tiny synthetic dataset) with JupyterLab on
localhost and drives Debian's Chromium through Playwright (never ``playwright install``). Skipped
when /usr/bin/chromium is missing, unless LADKIT_REQUIRE_BROWSER=1. A screenshot lands in
test-artifacts/ either way the test ends.
"""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOK = "01_label_noising.ipynb"
LAB_CONFIG = ROOT / "tools" / "lab" / "jupyter_lab_config.py"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _require_browser():
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found (apt-get install -y chromium)"
    if os.environ.get("LADKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; LADKIT_REQUIRE_BROWSER=1 demands the browser test")
    pytest.skip(message + "; set LADKIT_REQUIRE_BROWSER=1 to make this a failure")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the notebooks plus tiny data; yields (base url, token, served folder)."""
    _require_browser()
    from ladkit.data.synthetic import make_synthetic

    from ladkit.config import TeacherConfig
    from ladkit.engine import train

    root = tmp_path / "lab"
    root.mkdir()
    for nb in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks").glob("*.py"), ROOT / "notebooks" / "README.md"]:
        shutil.copy(nb, root / nb.name)
    make_synthetic(root / "data" / "synthetic", num_train=16, num_val=8, num_test=8, size=48)
    train(TeacherConfig(out_dir=str(root / "runs" / "tiny_teacher"), data_root=str(root / "data" / "synthetic"),
                        model="fcn", backbone="resnet18_quarter", iters=2, crop_size=32, batch_size=4,
                        val_batch_size=4, val_every=0, progress=False, device="cpu"))
    home = tmp_path / "home"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython"), "OMP_NUM_THREADS": "1"}
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyter.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--ServerApp.port_retries=0", "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True",
             f"--config={LAB_CONFIG}"],  # make lab's: root allowed, one kernel, twins hidden, markdown rendered
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        _stop(proc)


def _get(base, token, path) -> dict:
    import json

    with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=10) as response:
        return json.load(response)


def test_lab_offers_one_kernel_lists_each_notebook_once_and_renders_markdown(lab):
    """What `make lab` serves (tools/lab): the launcher's only kernel is ladkit's, the file browser
    lists no .py twin, and markdown opens in the rendered viewer."""
    base, token, _ = lab
    assert set(_get(base, token, "/api/kernelspecs")["kernelspecs"]) == {"ladkit"}
    names = {item["name"] for item in _get(base, token, "/api/contents")["content"]}
    assert "01_label_noising.ipynb" in names and "README.md" in names and not any(n.endswith(".py") for n in names)
    docmanager = _get(base, token, "/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    # overrides.json sets the schema's default (what the viewer uses unless the user set their own)
    assert docmanager["schema"]["properties"]["defaultViewers"]["default"]["markdown"] == "Markdown Preview"


def _images(page) -> list:
    """(src, on-screen PNG) of the explorer's figure and of the noise strip below it."""
    out = []
    for i in range(2):
        image = page.locator("img.widget-image").nth(i)
        image.scroll_into_view_if_needed()
        out.append((image.get_attribute("src"), image.screenshot()))
    return out


def _slider(page, label):
    return page.locator(f".widget-slider:has(.widget-label:text-is('{label}'))").first


def _wait_rerendered(page, before_src, index=0):
    """Until the image has changed and every render the keypresses queued is done (the kernel
    idle and both images unchanged for a second)."""
    page.wait_for_function(
        "([before, i]) => { const img = document.querySelectorAll('img.widget-image')[i];"
        " return img && img.src !== before && img.complete && img.naturalWidth > 0; }",
        arg=[before_src, index], timeout=60_000)
    srcs = None
    for _ in range(120):
        page.wait_for_timeout(1000)
        idle = page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status")
        now = page.evaluate("() => [...document.querySelectorAll('img.widget-image')].slice(0, 2).map(i => i.src)")
        if idle == "idle" and now == srcs:
            return
        srcs = now
    raise TimeoutError("the explorer kept re-rendering for two minutes")


def _open(page, base, token, name):
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.wait_for_function("() => { const w = window.jupyterapp?.shell?.currentWidget;"
                           " return w?.sessionContext?.session?.kernel?.status === 'idle'; }", timeout=90_000)
    page.wait_for_timeout(1500)  # the kernel's language_info arrives after it is idle


def _dirty(page) -> bool:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")


def test_explorer_controls_rerender_what_they_name(lab):
    from playwright.sync_api import sync_playwright

    base, token, root = lab
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser_01_label_noising.png"
    dirty = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            for name in ("00_quickstart.ipynb", "05_results.ipynb", NOTEBOOK):
                _open(page, base, token, name)
                dirty[name] = _dirty(page)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.locator("img.widget-image").nth(1).wait_for(state="visible", timeout=120_000)
            page.wait_for_function("() => [...document.querySelectorAll('img.widget-image')].slice(0, 2)"
                                   ".every(i => i.naturalWidth > 0)", timeout=60_000)
            start = _images(page)

            # pick the teacher: its prediction panel and its mIoU on the sample appear
            page.locator(".widget-dropdown:has(label:text-is('teacher')) select").select_option(index=1)
            _wait_rerendered(page, start[0][0])
            page.get_by_text("teacher mIoU on this sample").wait_for()
            with_teacher = _images(page)

            # the scale: the channel's colours change (fixed colour limits), the strip too
            handle = _slider(page, "scale").locator(".noUi-handle").first
            handle.focus()
            for _ in range(10):
                handle.press("ArrowRight")
            _wait_rerendered(page, with_teacher[1][0], index=1)
            scaled = _images(page)

            # the noise std: the figure follows, readouts stay in one format
            readout = _slider(page, "noise std").locator(".widget-readout").first
            before = readout.inner_text()
            handle = _slider(page, "noise std").locator(".noUi-handle").first
            handle.focus()
            for _ in range(4):  # 0.03 -> 0.05 -> 0.1 -> 0.2 -> 0.3
                handle.press("ArrowRight")
            _wait_rerendered(page, scaled[0][0])
            after = readout.inner_text()
            noisier = _images(page)

            # a teacher trained after the explorer started: refresh lists it
            menu = page.locator(".widget-dropdown:has(label:text-is('teacher')) select")
            listed = menu.locator("option").count()
            from ladkit.config import TeacherConfig
            from ladkit.engine import train

            train(TeacherConfig(out_dir=str(root / "runs" / "later_teacher"), data_root=str(root / "data" / "synthetic"),
                                model="fcn", backbone="resnet18_quarter", iters=2, crop_size=32, batch_size=4,
                                val_batch_size=4, val_every=0, progress=False, device="cpu"))
            page.locator("button", has_text="refresh").first.click()
            page.wait_for_function("([n]) => document.querySelector('.widget-dropdown select').options.length > n",
                                   arg=[listed], timeout=30_000)
            refreshed = menu.locator("option").all_inner_texts()
            page.screenshot(path=str(shot), full_page=True)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "browser_01_label_noising_failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    assert not any(dirty.values()), f"notebooks opened with unsaved changes: {dirty} (run `make notebooks`)"
    assert with_teacher[0][1] != start[0][1], "picking a teacher did not change the figure"
    assert scaled[0][1] != with_teacher[0][1] and scaled[1][1] != with_teacher[1][1], "the scale changed no pixels"
    assert (before, after) == ("0.03", "0.3"), f"noise std readout {before!r} -> {after!r}"
    assert noisier[0][1] != scaled[0][1], "the figure looks the same after moving the noise std"
    assert noisier[1][1] == scaled[1][1], "the strip shows fixed noise levels: moving the noise std must not change it"
    assert len(refreshed) == listed + 1 and refreshed[1].startswith("later_teacher"), refreshed
    assert shot.stat().st_size > 10_000


def test_training_shows_a_progress_bar_per_run(lab, tmp_path):
    """02 (tiny parameters injected, as papermill would) run with Run All in JupyterLab: a
    progress widget per run appears in the training cell's output, and no stderr box."""
    import papermill
    from playwright.sync_api import sync_playwright

    base, token, root = lab
    name = "02_tiny.ipynb"
    nb = papermill.parameterize.parameterize_notebook(
        papermill.iorw.load_notebook_node(str(root / "02_teacher_training.ipynb")),
        {"data_root": "data/synthetic", "out_dir": "runs/tutorial_tiny", "iters": 2, "crop_size": 32, "batch_size": 4,
         "val_batch_size": 4, "val_every": 0, "model": "fcn", "backbone": "resnet18_quarter", "workers": 1,
         "noise_levels": [0.02], "num_samples": 1, "device": "cpu"})
    papermill.iorw.write_ipynb(nb, str(root / name))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            _open(page, base, token, name)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            page.locator(".jp-OutputArea .widget-hprogress").first.wait_for(state="attached", timeout=120_000)
            page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea .widget-hprogress').length >= 2"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                                   " === 'idle'", timeout=150_000)
            bars = page.locator(".jp-OutputArea .widget-hprogress").count()
            stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
            page.screenshot(path=str(ARTIFACTS / "browser_02_progress.png"), full_page=True)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser_02_progress_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert bars == 2 and stderr == 0, (bars, stderr)
