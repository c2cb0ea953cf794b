"""JupyterLab in a real browser: every notebook opens clean (no unsaved changes once its kernel is
up); in 01_label_noising pick a teacher (its panel and mIoU appear), move the scale (the channel's
pixels change) and the noise std (the figure and the strip below follow), refresh the teacher list,
and save with the outputs: git, with the filter `make lab` installs, sees no change. 02 run with
Run All shows a progress bar per run.

Serves a temporary copy of the notebooks (with a tiny synthetic dataset) with JupyterLab on
localhost and drives Debian's Chromium through Playwright (never ``playwright install``). Skipped
when /usr/bin/chromium is missing, unless LADKIT_REQUIRE_BROWSER=1. A screenshot lands in
test-artifacts/ either way the test ends.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK = "01_label_noising.ipynb"


def _tool(name: str):
    """A module of tools/lab (the tour's helpers are the test's: one way to drive JupyterLab)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "lab" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser = _tool("browser")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _require_browser():
    if browser.CHROMIUM.exists():
        return
    message = f"{browser.CHROMIUM} not found (apt-get install -y chromium)"
    if os.environ.get("LADKIT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + "; LADKIT_REQUIRE_BROWSER=1 demands the browser test")
    pytest.skip(message + "; set LADKIT_REQUIRE_BROWSER=1 to make this a failure")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of the notebooks plus tiny data; yields (base url, token, served folder)."""
    _require_browser()
    from ladkit.data.synthetic_store import make_synthetic

    from ladkit.config import TeacherConfig
    from ladkit.engine import train

    root = tmp_path / "lab"
    root.mkdir()
    for nb in [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks").glob("*.py"), ROOT / "notebooks" / "README.md"]:
        shutil.copy(nb, root / nb.name)
    # a checkout as `make lab` leaves it: the notebooks committed, nbstripout as the git filter
    for name in (".gitattributes", ".gitignore"):
        shutil.copy(ROOT / name, root / name)
    _git(root, "init", "-q")
    subprocess.run([sys.executable, str(ROOT / "tools" / "lab" / "git_filter.py")], cwd=root, check=True)
    _git(root, "add", ".")
    _git(root, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "-m", "the tutorial")
    make_synthetic(root / "data" / "synthetic", num_train=16, num_val=8, num_test=8, size=48)
    train(TeacherConfig(out_dir=str(root / "runs" / "tiny_teacher"), data_root=str(root / "data" / "synthetic"),
                        model="fcn", backbone="resnet18_quarter", iters=2, crop_size=32, batch_size=4,
                        val_batch_size=4, val_every=0, progress=False, device="cpu"))
    env = {**browser.isolated_env(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    base, token, options = browser.serve_args()
    log = tmp_path / "jupyter.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(  # make lab's config: root allowed, one kernel, twins hidden, markdown rendered
            [sys.executable, "-m", "jupyter", "lab", *options, f"--ServerApp.root_dir={root}",
             f"--config={browser.LAB_CONFIG}"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        browser.wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token, root
    finally:
        browser.stop(proc)


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
    news = _get(base, token, "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    assert news["schema"]["properties"]["fetchNews"]["default"] == "false"  # no toast asks on the first visit
    # the file browser's narrow panel gives the names its whole width: no "Modified" column cuts them
    browser = _get(base, token, "/lab/api/settings/@jupyterlab/filebrowser-extension:browser")
    assert browser["schema"]["properties"]["showLastModifiedColumn"]["default"] is False


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
        idle = browser.kernel_status(page)
        now = page.evaluate("() => [...document.querySelectorAll('img.widget-image')].slice(0, 2).map(i => i.src)")
        if idle == "idle" and now == srcs:
            return
        srcs = now
    raise TimeoutError("the explorer kept re-rendering for two minutes")


def test_explorer_controls_rerender_what_they_name(lab):
    from playwright.sync_api import sync_playwright

    base, token, root = lab
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser_01_label_noising.png"
    dirty = {}
    with sync_playwright() as pw:
        chromium = browser.launch(pw)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            for name in ("00_quickstart.ipynb", "05_results.ipynb", NOTEBOOK):
                browser.open_notebook(page, base, token, name)
                dirty[name] = browser.dirty(page)
            browser.run_all(page)
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

            # the tour saved with its outputs (Ctrl+S, or JupyterLab's autosave): git sees no change
            browser.save(page)
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "browser_01_label_noising_failure.png"), full_page=True)
            raise
        finally:
            chromium.close()

    assert not any(dirty.values()), f"notebooks opened with unsaved changes: {dirty} (run `make notebooks`)"
    assert with_teacher[0][1] != start[0][1], "picking a teacher did not change the figure"
    assert scaled[0][1] != with_teacher[0][1] and scaled[1][1] != with_teacher[1][1], "the scale changed no pixels"
    assert (before, after) == ("0.03", "0.3"), f"noise std readout {before!r} -> {after!r}"
    assert noisier[0][1] != scaled[0][1], "the figure looks the same after moving the noise std"
    assert noisier[1][1] == scaled[1][1], "the strip shows fixed noise levels: moving the noise std must not change it"
    assert len(refreshed) == listed + 1 and refreshed[1].startswith("later_teacher"), refreshed
    assert shot.stat().st_size > 10_000
    saved = nbformat.read(root / NOTEBOOK, as_version=4)
    assert any(c.get("outputs") for c in saved.cells if c.cell_type == "code"), "the save wrote no outputs"
    assert _git(root, "diff", "--stat") == "", "a notebook saved with outputs shows as a change (make lab's filter)"
    _git(root, "add", ".")
    assert _git(root, "diff", "--cached", "--stat") == "", "adding the saved tour stages a change"


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
        chromium = browser.launch(pw)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            browser.open_notebook(page, base, token, name)
            browser.run_all(page)
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
            chromium.close()
    assert bars == 2 and stderr == 0, (bars, stderr)
