"""The install lists agree, and the README's commands are the ones CI runs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[=<>!~\[ ]", req.strip(), maxsplit=1)[0].lower()


def _requirements() -> set[str]:
    """Every requirement of pyproject.toml, the extras' included (``ladkit[...]`` expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = set(project["dependencies"])
    for group in extras.values():
        for req in group:
            if _name(req) == "ladkit":
                reqs |= {r for extra in req.split("[")[1].rstrip("]").split(",") for r in extras[extra]}
            else:
                reqs.add(req)
    return reqs


def test_pyproject_has_lower_bounds_and_constraints_the_exact_pins():
    reqs = _requirements()
    assert all(">=" in r and "==" not in r for r in reqs), [r for r in reqs if ">=" not in r]
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert {_name(r) for r in reqs} == set(pins), "every requirement pinned once in constraints.txt, nothing else"
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


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
