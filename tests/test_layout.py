"""The package keeps the map of :mod:`theory.bodies`: layers, no upward import, no cycle, names by body."""

from __future__ import annotations

import ast
import pathlib

import pytest

import theory
from theory.bodies import BODIES, LAYERS, layer_of

ROOT = pathlib.Path(theory.__file__).resolve().parent
REPO = ROOT.parent
ORDER = {name: i for i, name in enumerate(LAYERS)}


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The package modules an import statement loads (a name imported from a package may be a submodule)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "theory"]
    package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "theory":
        return []
    subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    # names that are not submodules come from the target's own namespace
    return subs + ([target] if len(subs) < len(node.names) else [])


def _imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(t for t in _resolve(module, node) if t != module)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_module_has_a_layer():
    missing = []
    for m in MODULES:
        try:
            layer_of(m)
        except KeyError:
            missing.append(m)
    assert not missing, missing


def test_no_module_imports_from_a_higher_layer():
    upward = [(m, t) for m, targets in GRAPH.items() for t in targets
              if t in MODULES and ORDER[layer_of(t)] > ORDER[layer_of(m)]]
    assert not upward, upward


def test_no_import_cycle():
    # every import counts, also one inside a function: a cycle is a cycle whenever it is taken
    state: dict[str, int] = {}
    cycles = []

    def visit(m, path):
        state[m] = 1
        for t in sorted(GRAPH[m]):
            if t not in GRAPH:
                continue
            if state.get(t) == 1:
                cycles.append(path[path.index(t):] + [t])
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_no_private_name_is_imported_from_another_module():
    found = []
    for m, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (node.level or node.module.startswith("theory")):
                if node.module.split(".")[-1].startswith("_"):
                    continue  # a private module exists to be shared
                found += [f"{m}: {a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, found


@pytest.mark.parametrize("body", list(BODIES.values()), ids=list(BODIES))
def test_each_body_lists_modules_that_exist_and_has_its_page_and_notebook(body):
    for m in body.formulas + body.models + body.simulators:
        assert m in MODULES, m
    assert layer_of(body.formulas[0]) == "formulas"
    assert all(layer_of(m) == "simulators" for m in body.simulators)
    assert (REPO / body.page).exists() and (REPO / body.notebook).exists()
    assert body.checks() and body.figures(), body.name


def test_every_check_and_figure_belongs_to_a_body():
    from theory import checks, figures

    names = list(checks.registry()) + list(figures.registry())
    assert all(n.split(".")[0] in BODIES for n in names), [n for n in names if n.split(".")[0] not in BODIES]


def test_the_layer_test_sees_an_upward_import():
    # the rule has teeth: a formula module that imported a simulator would be flagged
    assert ORDER[layer_of("theory.simulators.escape")] > ORDER[layer_of("theory.kramers")]
    node = ast.parse("from .simulators import escape").body[0]
    assert "theory.simulators.escape" in _resolve("theory.kramers", node)
