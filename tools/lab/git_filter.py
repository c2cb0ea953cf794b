"""Install nbstripout as this clone's git filter for notebooks (``make lab`` runs it): a notebook
saved with outputs in JupyterLab reaches a commit clean, and ``git status`` does not list it.
Cell ids are kept (``--keep-id``): the committed notebooks hold jupytext's, and renumbering them
would make every notebook differ from its commit."""

import subprocess
import sys


def main() -> int:
    if subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True).returncode != 0:
        return 0  # not a git checkout (an unpacked sdist): nothing to filter
    subprocess.run([sys.executable, "-m", "nbstripout", "--install"], check=True)
    subprocess.run(["git", "config", "filter.nbstripout.clean", f'"{sys.executable}" -m nbstripout --keep-id'], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
