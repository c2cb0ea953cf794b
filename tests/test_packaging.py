"""The install lists agree, and the README's commands are the ones CI runs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[=<>!~\[ ]", req.strip(), maxsplit=1)[0].lower()


def _requirements() -> set[str]:
    """Every requirement of pyproject.toml, the extras' included (an extra naming others,
    ``ladkit[...]``, adds nothing of its own)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for group in project["optional-dependencies"].values():
        reqs |= {req for req in group if _name(req) != "ladkit"}
    return reqs


def _extras_closure(project: dict, extra: str) -> set[str]:
    """The package names an extra installs, the extras it names included."""
    names = set()
    for req in project["optional-dependencies"][extra]:
        if _name(req) == "ladkit":
            for inner in req.split("[")[1].rstrip("]").split(","):
                names |= _extras_closure(project, inner)
        else:
            names.add(_name(req))
    return names


# What a lean `pip install ladkit` lacks: the extras' packages (as import names)
EXTRA_MODULES = ("pandas", "matplotlib", "seaborn", "tabulate", "tensorboard", "papermill", "ipykernel", "psutil",
                 "ipywidgets", "IPython", "jupyterlab", "jupytext", "submitit", "segmentation_models_pytorch", "nbformat")


def test_the_core_install_is_lean_and_the_extras_add_the_rest():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    assert core == {"torch", "torchvision", "numpy", "pillow", "simplejpeg", "scipy", "pyyaml", "tqdm"}
    assert {"pandas", "seaborn", "matplotlib", "tabulate"} <= _extras_closure(project, "study")
    assert {"papermill", "psutil", "pandas"} <= _extras_closure(project, "sweep")
    assert {"jupyterlab", "ipywidgets", "papermill", "tensorboard"} <= _extras_closure(project, "notebooks")
    assert _extras_closure(project, "dev") >= set().union(*(_extras_closure(project, e) for e in
                                                            project["optional-dependencies"] if e != "dev"))


def test_the_core_trains_and_evaluates_with_no_extra_importable(tmp_path):
    """With every extra's package made unimportable, the library imports and the CLI trains,
    evaluates and makes data (log.jsonl without tb/, one line saying so); `ladkit demo` names the
    extra it needs."""
    import subprocess
    import sys

    blocker = (
        "import sys, importlib.abc\n"
        f"BLOCKED = {EXTRA_MODULES!r}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib.util\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] in BLOCKED else _find(name, *a)\n"
        "import ladkit, ladkit.config, ladkit.data, ladkit.models, ladkit.jobs, ladkit.evaluate, ladkit.engine\n"
        "from ladkit.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    run = lambda *args: subprocess.run([sys.executable, "-c", blocker, *args], capture_output=True, text=True,  # noqa: E731
                                       cwd=tmp_path, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    made = run("make-synthetic", "--out", "data", "--num-train", "16", "--num-val", "8", "--num-test", "8", "--size", "32")
    assert made.returncode == 0, made.stderr
    trained = run("train", "--job", "lad-teacher", "out_dir=run", "data_root=data", "model=fcn", "iters=2",
                  "crop_size=32", "batch_size=4", "progress=false")
    assert trained.returncode == 0, trained.stderr
    assert "tensorboard is not installed, so runs log to log.jsonl only" in trained.stderr
    assert (tmp_path / "run" / "log.jsonl").exists() and not (tmp_path / "run" / "tb").exists()
    scored = run("evaluate", "run/best.pt", "noise_levels=[0.02]")
    assert scored.returncode == 0 and "with label (fixed codes, noise std 0.02): mIoU" in scored.stdout, scored.stderr
    demo = run("demo", "--quick")
    assert demo.returncode == 2
    assert demo.stderr.strip() == ("ladkit: error: `ladkit demo` needs pandas, which a lean install leaves out: "
                                   "pip install 'ladkit[study]'")


def test_pyproject_has_lower_bounds_and_constraints_pins_they_admit():
    from packaging.requirements import Requirement

    reqs = _requirements()
    assert all(">=" in r and "==" not in r for r in reqs), [r for r in reqs if ">=" not in r]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert {_name(r) for r in reqs} == set(pins), "every requirement pinned once in constraints.txt, nothing else"
    # A pin its requirement refuses (a lower bound raised past it) makes `make`'s pip install fail to resolve
    refused = [f"{r} refuses =={pins[_name(r)]}" for r in reqs if pins[_name(r)] not in Requirement(r).specifier]
    assert not refused, refused
    import subprocess  # what make would run to install (a dry run), not what the Makefile's text holds

    dry = subprocess.run(["make", "-n", "-B", ".venv/.ladkit-installed"], cwd=ROOT, capture_output=True, text=True)
    install = [line for line in dry.stdout.splitlines() if "pip install" in line]
    assert dry.returncode == 0 and len(install) == 1 and "-c constraints.txt" in install[0] and "'.[dev]'" in install[0]


def test_environment_yml_installs_what_make_installs():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-c constraints.txt", "-e .[dev]"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make demo" in readme
    assert re.search(r"^\s*make test\b", ci, re.M)
