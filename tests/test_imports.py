"""The library's import graph runs one way, and LAYERS states its real order: each module sits
exactly one layer above the highest module it imports (docs/internals.md "What is inside" draws the same
layers). Imports inside functions count too (a lazy import is still a dependency)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ladkit"
# From the bottom up; a module imports only modules of lower layers.
LAYERS = [
    {"constants", "files", "runtime", "runlog", "models"},  # import no other ladkit module
    {"checkpoint", "data", "noising", "losses", "metrics", "supervisor"},
    {"config", "runs"},  # config names the data and model registries to check a config's names
    {"jobs", "evaluate", "run_folders"},
    {"engine", "plots", "results"},
    {"study", "widgets"},
    {"sweep", "demo"},  # the sweep's point runner trains and scores a run as the study does
    {"cli"},
]


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """ladkit modules ``path`` imports, anywhere in the file."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ladkit")}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, *(node.module.split(".") if node.module else [])])
            if name.startswith("ladkit"):
                found.add(name)
                found |= {f"{name}.{a.name}" for a in node.names if (PACKAGE.parent / f"{name}.{a.name}".replace(".", "/")).with_suffix(".py").exists()}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def test_no_import_cycle():
    graph, state, stack = _graph(), {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_imports_run_one_way():
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    wrong = []
    for m, deps in _graph().items():
        a = _top(m)
        for d in deps:
            b = _top(d)
            if a in layer and b in layer and a != b and layer[b] >= layer[a]:
                wrong.append(f"{m} imports {d}")
    assert not wrong, "imports against the layer order: " + "; ".join(sorted(wrong))


def test_layers_are_the_graphs_own():
    """Each module one layer above its highest import: no layer stated looser than the code."""
    edges = {}
    for m, deps in _graph().items():
        edges.setdefault(_top(m), set()).update(_top(d) for d in deps)
    edges = {a: bs - {a, "__init__"} for a, bs in edges.items() if a != "__init__"}
    depth = {}

    def level(name):
        if name not in depth:
            depth[name] = 1 + max((level(b) for b in edges.get(name, ())), default=-1)
        return depth[name]

    computed = {}
    for name in edges:
        computed.setdefault(level(name), set()).add(name)
    assert [computed[i] for i in sorted(computed)] == LAYERS


def test_every_module_has_a_layer():
    tops = {_top(m) for m in _graph()} - {"__init__"}
    assert tops <= set().union(*LAYERS), f"put {sorted(tops - set().union(*LAYERS))} in a layer of LAYERS"
