"""Compiled loops that evaluate a model's native functions (its ``outputs``, or the
readouts of a sweep) on every output row: one run, or many members in parallel.

Kept apart from :mod:`simulator.codegen.numba_fns` (which only generates and loads model
code) so that numba compiles this generic loop once, cached on disk, for all models.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types

from simulator.codegen.numba_fns import SIG_MODEL
from simulator.solvers.compiled import _ptr

_SIG = types.void(types.FunctionType(SIG_MODEL), types.float64[::1], types.float64[:, ::1],
                  types.float64[:, ::1], types.float64[:, ::1], types.uint8[::1])


@numba.njit(_SIG, cache=True, nogil=True)
def _fill(fn, t, Y, P, out, bad):
    for k in range(t.shape[0]):
        fn(t[k], _ptr(Y[k]), _ptr(P[k]), _ptr(out[k]))
        for j in range(out.shape[1]):
            if not math.isfinite(out[k, j]):
                bad[j] = 1


_ENTRY = None


def fill_outputs(fn, t, Y, P, out, bad) -> None:
    """``out[k] = outputs(t[k], Y[k], P[k])``; ``bad[j] = 1`` where output j is not finite.

    Calls the compiled entry point directly (fixed signature, no per-call type dispatch).
    """
    global _ENTRY
    if _ENTRY is None:
        _ENTRY = next(iter(_fill.overloads.values())).entry_point
    _ENTRY(fn, t, Y, P, out, bad)


_MANY_SIG = types.void(types.FunctionType(SIG_MODEL), types.float64[::1],
                       types.float64[:, :, ::1], types.float64[:, ::1], types.int64[::1],
                       types.float64[:, :, ::1], types.uint8[::1])


@numba.njit(_MANY_SIG, parallel=True, cache=True, nogil=True)
def _fill_many(fn, t, Y, P, rows, out, bad):
    for i in numba.prange(rows.shape[0]):
        g = rows[i]
        if g < 0:
            continue
        for k in range(t.shape[0]):
            fn(t[k], _ptr(Y[g, k]), _ptr(P[i]), _ptr(out[i, k]))
            for j in range(out.shape[2]):
                if not math.isfinite(out[i, k, j]):
                    bad[i] = 1


def fill_members(fn, t, Y, P, rows, out) -> np.ndarray:
    """Readouts of many members in parallel: ``out[i, k] = fn(t[k], Y[rows[i], k], P[i])``
    for every ``rows[i] >= 0`` (others untouched). Returns a per-member flag of any
    non-finite value."""
    bad = np.zeros(rows.shape[0], dtype=np.uint8)
    _fill_many(fn, t, Y, P, np.ascontiguousarray(rows, dtype=np.int64), out, bad)
    return bad.astype(bool)
