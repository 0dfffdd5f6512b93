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
import contextlib
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["import_closure", "digest", "read_source", "cache_dir", "write_atomic", "closure_digest",
           "PACKAGE_DIR"]

PACKAGE_DIR = Path(__file__).resolve().parent


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
    numba compiles (it imports numba, or our numba decorator). Parsing is most of the
    cost of a cached start, so what the parse found is kept on disk by the hash of the
    module's name and bytes (``import_scans.json`` in :func:`cache_dir`); which of the
    names are modules is looked up afresh."""
    data = read_source(path)
    key = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
    stored = _stored_scans()
    if key not in stored:
        stored[key] = _parse_imports(name, path, data)
        _UNSAVED.add(key)
    bases, members, numba = stored[key]
    found = set(bases)
    found.update(f"{b}.{m}" for b, m in members if _module_file(f"{b}.{m}") is not None)
    return frozenset(found), bool(numba)


def cache_dir() -> Path:
    """Where generated code and its bookkeeping live: ``$CROSSTALK_CACHE_DIR``, else
    beside numba's cache, else ``~/.cache/crosstalk/models``."""
    env = os.environ.get("CROSSTALK_CACHE_DIR")
    if env:
        return Path(env)
    nb = os.environ.get("NUMBA_CACHE_DIR")
    if nb:
        return Path(nb) / "crosstalk_models"
    return Path.home() / ".cache" / "crosstalk" / "models"


#: keys parsed in this process and not yet on disk (written once per closure)
_UNSAVED: set[str] = set()


@functools.cache
def _stored_scans() -> dict:
    try:
        data = json.loads((cache_dir() / "import_scans.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and len(data) < 5000 else {}


def write_atomic(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (a temporary file beside it, then renamed), so
    a reader in another process never sees half of it.

    Raises
    ------
    OSError
        The file cannot be written; no temporary file is left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save_scans(stored: dict) -> None:
    """Write the scans atomically; a cache that cannot be written is only slower."""
    try:
        write_atomic(cache_dir() / "import_scans.json", json.dumps(stored).encode())
    except OSError:
        pass


def _parse_imports(name: str, path: Path, data: bytes) -> tuple[list, list, bool]:
    """``(modules imported, (package, name) pairs imported from our packages, numba?)``."""
    tree = ast.parse(data, filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    bases: set[str] = set()
    members: set[tuple[str, str]] = set()
    numba = False
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            bases.update(a.name for a in node.names if _ours(a.name))
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
                bases.add(base)
                members.update((base, a.name) for a in node.names)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return sorted(bases), sorted(members), numba


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
    if _UNSAVED:
        _save_scans(_stored_scans())
        _UNSAVED.clear()
    return tuple(sorted(seen.values()))


def digest(paths) -> str:
    """sha256 of the files' package-relative names and bytes."""
    d = hashlib.sha256()
    for path in paths:
        data = read_source(path)
        d.update(f"{path.relative_to(PACKAGE_DIR).as_posix()} {len(data)}\n".encode() + data)
    return d.hexdigest()


@functools.cache
def closure_digest(roots: tuple[str, ...]) -> str:
    """:func:`digest` of :func:`import_closure` of ``roots``, once per process: the part of a
    cache key that changes when any source shaping the cached object does."""
    return digest(import_closure(roots))
