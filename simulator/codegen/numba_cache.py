"""numba's disk cache for our compiled loops, keyed by every source that shapes them.

numba keys a cached function by its own file only (path, modification time, size). A loop
that calls or inlines numba code from another module (the RODAS5P tableau and dense output,
event location, the pointer intrinsic) would keep stale machine code when only that other
module changes. So every loop of ours is made with :func:`njit`: ``numba.njit(...,
cache=True)`` with the cache in a folder named by a digest of all the modules of ours that
hold numba code and that the loops import (:mod:`simulator.codegen.sources`). An edit to any
of them, or a new release, starts a fresh folder; nothing stale is ever loaded.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numba

from simulator.codegen.sources import digest, import_closure

__all__ = ["njit", "loops_digest", "cache_dir", "LOOP_ROOTS"]

#: the modules whose numba functions are entry points (everything they import is covered)
LOOP_ROOTS = ("simulator.solvers.compiled", "simulator.codegen.kernels")
_LOCK = threading.Lock()


@functools.cache
def loops_digest() -> str:
    """Hash of the modules that hold numba code among :data:`LOOP_ROOTS` and their imports."""
    return digest(import_closure(LOOP_ROOTS, numba_only=True))


def cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR`` (else ``~/.cache/crosstalk/numba``) / ``loops-<digest>``."""
    base = numba.config.CACHE_DIR or os.environ.get("NUMBA_CACHE_DIR") or \
        str(Path.home() / ".cache" / "crosstalk" / "numba")
    return Path(base) / f"loops-{loops_digest()[:16]}"


def njit(*args, **kwargs):
    """``numba.njit(*args, cache=True, **kwargs)``, cached in :func:`cache_dir`.

    numba fixes a function's cache folder when the function is made (and compiles one with a
    signature right away), so the folder is set only around that.
    """
    def decorate(fn):
        with _LOCK:
            old = numba.config.CACHE_DIR
            numba.config.CACHE_DIR = str(cache_dir())
            try:
                return numba.njit(*args, cache=True, **kwargs)(fn)
            finally:
                numba.config.CACHE_DIR = old
    return decorate
