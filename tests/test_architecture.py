"""The package's import graph, read with ``ast`` from simulator/: the design in docs/design.md.

* no import cycles among simulator's modules, counting imports inside functions;
* imports of our own modules sit at module top; only optional heavy dependencies load
  lazily inside functions;
* no module imports (or reaches for) a ``_private`` name of another module;
* every import goes to the same layer or a lower one, and every module has a layer.
"""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simulator"

# bottom to top; a module may import from its own layer and the layers below (the module
# map in docs/design.md). A name ending in "." is a package prefix.
LAYERS = [
    ("contracts", ["simulator.version", "simulator.lazy", "simulator.sources",
                   "simulator.cache_limit",
                   "simulator.errors", "simulator.catalog", "simulator.model", "simulator.system",
                   "simulator.results", "simulator.symbolic_store"]),
    ("import", ["simulator.io."]),
    ("meaning", ["simulator.numeric", "simulator.constraints", "simulator.initial_values",
                 "simulator.semantics", "simulator.derivatives",
                 "simulator.forward_sensitivities"]),
    ("code", ["simulator.codegen."]),
    ("integrate", ["simulator.solvers."]),
    ("conditions", ["simulator.conditions"]),
    ("verbs", ["simulator.api", "simulator.sensitivities"]),
    ("experiments", ["simulator.treatments."]),
    ("many runs", ["simulator.ensemble."]),
    ("analysis", ["simulator.analysis.", "simulator.plot"]),
    ("estimation", ["simulator.estimation."]),
    ("trials", ["simulator.trials."]),
    ("presentation", ["simulator.bundled.", "simulator.lab.", "simulator.warmup",
                      "simulator.cli", "simulator"]),
]
# third-party modules that may be imported inside a function: optional or heavy to load
LAZY = {"matplotlib", "pyarrow", "dask", "distributed", "SALib", "roadrunner", "threadpoolctl",
        "panel", "bokeh", "lifelines", "pandas", "scipy"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    for rank, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or (name.endswith(".") and
                                  (module.startswith(name) or module == name[:-1])):
                return rank
    raise AssertionError(f"module {module} has no layer in tests/test_architecture.py LAYERS "
                         f"(and docs/design.md's module map)")


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not MODULES[module].name == "__init__.py":
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list:
    """``(target module, imported name or None, line, at module top)`` of every import."""
    return _imports_in(module, MODULES[module])


@cache
def _imports_in(module: str, path: Path) -> list:
    return list(_walk_imports(module, ast.parse(path.read_text())))


def _walk_imports(module: str, tree: ast.Module):
    top = set(map(id, tree.body))
    for node in tree.body:    # `if TYPE_CHECKING:`-free code: top means a statement of the body
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno, id(node) in top
                else:
                    yield base, alias.name, node.lineno, id(node) in top


def _graph() -> dict:
    return {m: {t for t, _, _, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}


def test_the_walk_sees_the_package():
    assert {"simulator", "simulator.api", "simulator.conditions", "simulator.io.sbml",
            "simulator.treatments.protocol", "simulator.ensemble.sweep"} <= set(MODULES)
    assert "simulator.conditions" in _graph()["simulator.api"]


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):                                    # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_own_modules_are_imported_at_module_top():
    late = [f"{m}:{line} imports {t}" for m in MODULES for t, _, line, top in _imports(m)
            if not top and (t == "simulator" or t.startswith("simulator."))]
    assert not late, "\n".join(late)


def test_only_optional_heavy_dependencies_load_lazily():
    late = [f"{m}:{line} imports {t}" for m in MODULES for t, _, line, top in _imports(m)
            if not top and t.split(".")[0] not in LAZY and not t.startswith("simulator")]
    assert not late, "\n".join(late)


def test_no_private_names_across_modules():
    bad = []
    for m in MODULES:
        tree = ast.parse(MODULES[m].read_text())
        aliases = {}                                 # local name -> our module it names
        for t, name, line, _ in _imports(m):
            if t.startswith("simulator") and name and name.startswith("_") \
                    and not name.startswith("__"):
                bad.append(f"{m}:{line} imports {t}.{name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("simulator"):
                        aliases[a.asname or a.name.split(".")[0]] = a.asname and a.name
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(m, node)
                for a in node.names:
                    if f"{base}.{a.name}" in MODULES:
                        aliases[a.asname or a.name] = f"{base}.{a.name}"
        for node in ast.walk(tree):
            base = _dotted(node.value) if isinstance(node, ast.Attribute) else None
            if base and base.split(".")[0] in aliases and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                bad.append(f"{m}:{node.lineno} uses {base}.{node.attr}")
    assert not bad, "\n".join(bad)


def _dotted(node) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


# the only modules that import by name at run time, and why
DYNAMIC_IMPORTS = {"simulator.bundled.atlas": "the experiments are scripts the atlas runs by "
                                              "name (simulator.experiments.<name>)",
                   "simulator.lazy": "public names load their modules on first use (PEP 562), "
                                     "so that import simulator stays fast"}


def test_no_imports_by_name_but_the_atlas_experiments():
    found = []
    for m in MODULES:
        for node in ast.walk(ast.parse(MODULES[m].read_text())):
            if isinstance(node, ast.Call) and (_dotted(node.func) or "").split(".")[-1] in \
                    ("import_module", "__import__") and m not in DYNAMIC_IMPORTS:
                found.append(f"{m}:{node.lineno}")
    assert not found, found


def test_imports_flow_down_the_layers():
    up = []
    graph = _graph()
    for m in MODULES:
        for t in graph[m]:
            if _layer(t) > _layer(m):
                up.append(f"{m} ({LAYERS[_layer(m)][0]}) imports {t} ({LAYERS[_layer(t)][0]})")
    assert not up, "\n".join(up)


@pytest.mark.parametrize("source", [
    "from simulator import api\n",
    "def f():\n    from simulator.api import simulate\n",
    "from simulator.api import _initial\n",
    "import simulator.api\nx = simulator.api._CACHE\n",
])
def test_the_checks_can_fail(tmp_path, monkeypatch, source):
    """errors.py importing from api (a cycle, upwards; late or private as written) is caught."""
    monkeypatch.setitem(MODULES, "simulator.errors", tmp_path / "errors.py")
    (tmp_path / "errors.py").write_text(source)
    assert _graph()["simulator.errors"] == {"simulator.api"}
    with pytest.raises(AssertionError, match="import cycles"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match=r"simulator.errors \(contracts\) imports"):
        test_imports_flow_down_the_layers()
    if "def f" in source:
        with pytest.raises(AssertionError, match="errors:2 imports simulator.api"):
            test_own_modules_are_imported_at_module_top()
    if "_initial" in source:
        with pytest.raises(AssertionError, match="imports simulator.api._initial"):
            test_no_private_names_across_modules()
    if "_CACHE" in source:
        with pytest.raises(AssertionError, match="uses simulator.api._CACHE"):
            test_no_private_names_across_modules()
