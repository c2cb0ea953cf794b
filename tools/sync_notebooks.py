"""Re-pair every notebook after an edit of its text (``make notebooks``): ``jupytext --sync`` each
``notebooks/**/*.py``, drop outputs, and stamp the ``ladkit`` kernel's own ``language_info`` so
JupyterLab opens the notebooks clean (it rewrites that field on kernel start and then asks to save)."""

import subprocess
import sys
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "ladkit"


def kernel_language_info(name: str = KERNEL) -> dict:
    manager, client = start_new_kernel(kernel_name=name)
    try:
        return client.kernel_info(reply=True)["content"]["language_info"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


FIELDS_START = "# every config field (ladkit.sweep.config_fields(), written by tools/sync_notebooks.py); None: the job's default\n"


def runner_field_lines() -> str:
    """The runner's config-field parameters, one ``name = None`` per field of ladkit's configs."""
    from ladkit.sweep import config_fields

    return "".join(f"{name} = None\n" for name in config_fields())


def write_runner_fields(path: Path = NOTEBOOKS / "runners" / "run_point.py") -> None:
    """Rewrite the field block of the runner's parameters cell (from FIELDS_START to the cell's
    end) from the config classes: a new config field needs no hand edit."""
    text = path.read_text()
    start = text.index(FIELDS_START) + len(FIELDS_START)
    end = text.index("\n# %%", start) + 1  # the cell ends at the next cell marker
    path.write_text(text[:start] + runner_field_lines() + "\n" + text[end:].lstrip("\n"))


def main() -> int:
    write_runner_fields()
    texts = sorted(p for p in NOTEBOOKS.rglob("*.py") if ".ipynb_checkpoints" not in p.parts)
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "-q", *map(str, texts)], check=True)
    language = kernel_language_info()
    for text in texts:
        path = text.with_suffix(".ipynb")
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata["language_info"] = language
        nbformat.write(nb, path)
        print("synced", path.relative_to(NOTEBOOKS.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
