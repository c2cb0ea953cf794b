"""JupyterLab for the tutorial (``make lab``; the browser test serves with it too)."""
import os

c = get_config()  # noqa: F821 - traitlets hands it to a config file

c.ServerApp.allow_root = os.geteuid() == 0  # containers and cloud notebooks run as root
c.LabApp.default_url = "/lab/tree/README.md"
# overrides.json beside this file: markdown (notebooks/README.md) opens rendered, not as text, no
# toast asks about Jupyter's news feed on the first visit (the tutorial needs no network), and the
# file browser shows no "Modified" column, so the narrow panel does not cut the notebooks' names
c.LabApp.app_settings_dir = os.path.dirname(os.path.abspath(__file__))
# One kernel in the launcher: the tutorial's, which runs the installed ladkit.
c.KernelSpecManager.allowed_kernelspecs = {"ladkit"}
c.KernelSpecManager.ensure_native_kernel = False
# Each notebook once in the file browser: its py:percent twin is hidden (jupytext keeps the two in
# step on every save, so the text is never stale).
c.ContentsManager.hide_globs = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*~", "*.py", ".ipynb_checkpoints"]
