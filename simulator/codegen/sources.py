"""Which of the package's source files shape compiled code, for the keys of disk caches.

Two caches hold compiled code across processes: the machine code of each model
(:mod:`simulator.codegen.jit`) and numba's compiled loops, the integrator and the output
kernels (:mod:`simulator.codegen.numba_cache`). Each must be rebuilt when any source that
shaped it changes. The list of those sources is derived from the package, never kept by
hand: :func:`import_closure` follows the module-top ``simulator`` imports of some root
modules (read with ``ast``), and :func:`digest` hashes the files' bytes. A module that has
no source file is an error, not a silently disabled cache.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

__all__ = ["import_closure", "digest", "read_source", "PACKAGE_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def read_source(path: Path) -> bytes:
    """The bytes of a source file (one function, so that tests can simulate an edit)."""
    return path.read_bytes()


def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``simulator.x.y``), or None if there is none."""
    parts = name.split(".")[1:]
    package = PACKAGE_DIR.joinpath(*parts) / "__init__.py"
    if package.is_file():
        return package
    module = PACKAGE_DIR.joinpath(*parts[:-1], parts[-1] + ".py") if parts else None
    return module if module is not None and module.is_file() else None


def _ours(module: str) -> bool:
    return module == "simulator" or module.startswith("simulator.")


@functools.cache
def _scan(name: str, path: Path) -> tuple[frozenset, bool]:
    """Module ``name``'s ``simulator`` imports at module top, and whether it holds code that
    numba compiles (it imports numba, or our numba decorator)."""
    tree = ast.parse(read_source(path), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    numba = False
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
            numba |= any(a.name.split(".")[0] == "numba" for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:                       # relative: from the importer's package
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            numba |= base.split(".")[0] == "numba" or base == "simulator.codegen.numba_cache"
            if _ours(base):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names
                             if _module_file(f"{base}.{a.name}") is not None)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return frozenset(found), numba


@functools.cache
def import_closure(roots: tuple[str, ...], numba_only: bool = False) -> tuple[Path, ...]:
    """The source files of the modules ``roots`` and of every ``simulator`` module they
    import at module top, transitively (computed once per process).

    With ``numba_only``, only modules that hold numba code, followed only through such
    modules: a numba function can only call numba code its own module imports.

    Raises
    ------
    RuntimeError
        A module on the way has no source file (a cache would not see it change).
    """
    seen: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise RuntimeError(f"no source file for module '{name}' under {PACKAGE_DIR}: "
                               f"a cache key cannot cover it")
        imports, numba = _scan(name, path)
        if numba_only and not numba:
            continue
        seen[name] = path
        todo.extend(imports - seen.keys())
    return tuple(sorted(seen.values()))


def digest(paths) -> str:
    """sha256 of the files' package-relative names and bytes."""
    d = hashlib.sha256()
    for path in paths:
        data = read_source(path)
        d.update(f"{path.relative_to(PACKAGE_DIR).as_posix()} {len(data)}\n".encode() + data)
    return d.hexdigest()
