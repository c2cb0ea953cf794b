"""JupyterLab driven by Debian's Chromium through Playwright (never ``playwright install``): what
the browser test (tests/test_browser.py) and the newcomer's tour (tools/lab/tour.py) share.
Serving, opening a notebook, Run All, and reading a notebook's state from the page."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root in a container, on a machine whose network is closed (no background fetches)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LAB_CONFIG = Path(__file__).resolve().parent / "jupyter_lab_config.py"  # make lab's


def isolated_env(home: Path) -> dict:
    """The environment with Jupyter's config, settings, workspaces and runtime under ``home``: no
    restored layout or user setting of this machine changes what a first visit looks like."""
    return {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython")}


def serve_args() -> tuple[str, str, list[str]]:
    """The base URL, a token, and the options that serve there with it, headless."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    return f"http://127.0.0.1:{port}", token, [
        "--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True"]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
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


def stop(proc: subprocess.Popen) -> None:
    """End the server's whole process group (make, jupyter, its kernels)."""
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


def launch(pw):
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)


def open_notebook(page, base, token, name, kernel_timeout_ms: int = 90_000) -> None:
    """Open ``name`` (a path under the served folder) and wait until its kernel is up and idle."""
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    # the notebook in front (notebooks opened before are restored behind it, in their tabs)
    page.wait_for_function("([name]) => { const w = window.jupyterapp?.shell?.currentWidget;"
                           " return w?.context?.path === name && w?.sessionContext?.session?.kernel?.status === 'idle'"
                           " && w.node.querySelector('.jp-Cell') !== null; }", arg=[name], timeout=kernel_timeout_ms)
    page.wait_for_timeout(1500)  # the kernel's language_info arrives after it is idle


def dirty(page) -> bool:
    """The open notebook has unsaved changes."""
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty")


def run_all(page) -> None:
    """Run ▸ Run All Cells, through the menu as a user does."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def kernel_status(page) -> str:
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status")


def save(page) -> None:
    """File ▸ Save, as Ctrl+S does (JupyterLab's autosave would write the same outputs)."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=60_000)


# The open notebook's code cells as the page holds them: prompt ("[*]" while running), execution
# count, and outputs (kind, stream name or mime types, first line of text, and for a progress
# widget the text it shows now).
CELLS_JS = """() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map((cell, index) => {
    if (cell.model.type !== 'code') return {index, type: cell.model.type};
    const bars = [...cell.node.querySelectorAll('.widget-hbox')]
      .filter(box => box.querySelector('.widget-hprogress')).map(box => box.innerText.replace(/\\s+/g, ' ').trim());
    const outputs = cell.model.outputs.toJSON().map(o => ({
      kind: o.output_type, name: o.name || null, mimes: Object.keys(o.data || {}),
      text: String(o.text || (o.data && o.data['text/plain']) || o.evalue || '').split('\\n')[0].slice(0, 300)}));
    return {index, type: 'code', prompt: cell.promptNode ? cell.promptNode.textContent : '',
            count: cell.model.executionCount, source: cell.model.sharedModel.getSource().slice(0, 2000),
            bars, outputs};
  });
}"""


def cells(page) -> list[dict]:
    return page.evaluate(CELLS_JS)


def scroll_to(page, index: int) -> None:
    """Bring cell ``index`` into view (as a reader watching it run would), so its widgets render."""
    page.evaluate("([i]) => { const nb = window.jupyterapp.shell.currentWidget.content;"
                  " nb.scrollToItem ? nb.scrollToItem(i, 'center') : nb.widgets[i].node.scrollIntoView(); }", [index])
