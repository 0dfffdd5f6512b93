"""numba's disk cache for our compiled loops, keyed by every source that shapes them.

numba keys a cached function by its own file only (path, modification time, size). A loop
that calls or inlines numba code from another module (the RODAS5P tableau and dense output,
event location, the pointer intrinsic) would keep stale machine code when only that other
module changes. So every loop of ours is made with :func:`njit`: ``numba.njit(...,
cache=True)`` with the cache in a folder named by a digest of all the modules of ours that
hold numba code and that the loops import (:mod:`simulator.sources`). An edit to any
of them, or a new release, starts a fresh folder; nothing stale is ever loaded.
"""
from __future__ import annotations

import functools
import os
import threading
import warnings
from pathlib import Path

import numba
from numba.core import caching
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.core.runtime import rtsys

from simulator.sources import digest, import_closure

__all__ = ["njit", "njit_on_first_use", "Loop", "loops_digest", "loops_dir", "LOOP_ROOTS"]

#: the modules whose numba functions are entry points (everything they import is covered)
LOOP_ROOTS = ("simulator.solvers.compiled", "simulator.solvers.compiled_events",
              "simulator.solvers.lanes", "simulator.codegen.kernels")
_LOCK = threading.Lock()


@functools.cache
def loops_digest() -> str:
    """Hash of the modules that hold numba code among :data:`LOOP_ROOTS` and their imports."""
    return digest(import_closure(LOOP_ROOTS, numba_only=True))


def loops_dir() -> Path:
    """``$NUMBA_CACHE_DIR`` (else ``~/.cache/crosstalk/numba``) / ``loops-<digest>``."""
    base = numba.config.CACHE_DIR or os.environ.get("NUMBA_CACHE_DIR") or \
        str(Path.home() / ".cache" / "crosstalk" / "numba")
    return Path(base) / f"loops-{loops_digest()[:16]}"


def _loads_without_refresh() -> None:
    """Load our cached loops without numba's context refresh (once per process, ~0.3 s).

    Before it loads a function from its disk cache, numba refreshes its whole target context:
    it imports and installs every typing and lowering registry (numpy's linear algebra and
    scipy's BLAS among them). Machine code read from the cache needs none of that, only the
    runtime that allocates arrays. Compiling refreshes anyway (numba's ``CompilerBase``), so
    the refresh is only deferred to the first compilation, which a cached start never does.
    Only loads from :func:`loops_dir` are changed, and only on the numba this was written
    for (the methods it calls exist); elsewhere numba's own load runs."""
    original = caching.Cache.load_overload
    if getattr(original, "skips_refresh", False) or not all(
            hasattr(caching.Cache, name) for name in ("_load_overload", "cache_path",
                                                      "_guard_against_spurious_io_errors")):
        return
    ours = str(loops_dir())

    def load_overload(self, sig, target_context):
        if not str(self.cache_path).startswith(ours):
            return original(self, sig, target_context)
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    load_overload.skips_refresh = True
    caching.Cache.load_overload = load_overload


def njit(*args, **kwargs):
    """``numba.njit(*args, cache=True, **kwargs)``, cached in :func:`loops_dir`.

    numba fixes a function's cache folder when the function is made (and compiles one with a
    signature right away), so the folder is set only around that.
    """
    def decorate(fn):
        with _LOCK:
            _loads_without_refresh()
            old = numba.config.CACHE_DIR
            numba.config.CACHE_DIR = str(loops_dir())
            try:
                with warnings.catch_warnings():   # function-typed arguments are "experimental"
                    warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
                    return numba.njit(*args, cache=True, **kwargs)(fn)
            finally:
                numba.config.CACHE_DIR = old
    return decorate


class Loop:
    """A numba loop with a fixed signature, compiled (or read from the cache) on first use.

    With a signature numba compiles when the function is made; a loop made at module top
    would make ``import simulator`` wait for it (tens of seconds on a cold cache) even for
    ``crosstalk --help``. Calling a :class:`Loop`, or asking for its :attr:`entry_point`,
    makes it.
    """

    def __init__(self, fn, args, kwargs):
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._made = None
        self._lock = threading.Lock()
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    @property
    def dispatcher(self):
        """The numba dispatcher (made on first use)."""
        if self._made is None:
            with self._lock:
                if self._made is None:
                    made = njit(*self._args, **self._kwargs)(self._fn)
                    self._made = (made, next(iter(made.overloads.values())).entry_point)
        return self._made[0]

    @property
    def entry_point(self):
        """The compiled function itself: calling it skips numba's per-call type dispatch."""
        self.dispatcher
        return self._made[1]

    def __call__(self, *args):
        return self.dispatcher(*args)


def njit_on_first_use(signature, **kwargs):
    """Like :func:`njit` with a ``signature``, but compiled on first use (:class:`Loop`)."""
    def decorate(fn):
        return Loop(fn, (signature,), kwargs)
    return decorate
