"""The compiled loop that evaluates a model's native ``outputs`` function on every output row.

Kept apart from :mod:`simulator.codegen.numba_fns` (which only generates and loads model
code) so that numba compiles this generic loop once, cached on disk, for all models.
"""
from __future__ import annotations

import math

import numba
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
