"""Compiled loops that evaluate a model's native functions (its ``outputs``, or the
readouts of a sweep) on every output row: one run, or many members in parallel.

They take the model's function as a value (:mod:`simulator.codegen.abi`), so numba compiles
each loop once, cached on disk, for all models.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types

from simulator.codegen.abi import LANES_FN, MODEL_FN, data_pointer
from simulator.codegen.llvm import LANES
from simulator.codegen.numba_cache import njit_on_first_use

_SIG = types.void(MODEL_FN, types.float64[::1], types.float64[:, ::1],
                  types.float64[:, ::1], types.float64[:, ::1], types.uint8[::1])


@njit_on_first_use(_SIG, nogil=True)
def _fill(fn, t, Y, P, out, bad):
    for k in range(t.shape[0]):
        fn(t[k], data_pointer(Y[k]), data_pointer(P[k]), data_pointer(out[k]))
        for j in range(out.shape[1]):
            if not math.isfinite(out[k, j]):
                bad[j] = 1


def fill_outputs(fn, t, Y, P, out, bad) -> None:
    """``out[k] = outputs(t[k], Y[k], P[k])``; ``bad[j] = 1`` where output j is not finite.

    Calls the compiled entry point directly (fixed signature, no per-call type dispatch).
    """
    _fill.entry_point(fn, t, Y, P, out, bad)


def evaluate_outputs(fns, t, Y, P) -> tuple[np.ndarray, np.ndarray]:
    """Every output of a model on rows ``(t[k], Y[k], P[k])``: values ``(n_t, n_outputs)``
    and a per-output flag of any non-finite value.

    ``fns`` are the model's compiled functions
    (:class:`~simulator.codegen.jit.NativeFunctions`) with native outputs (``n_outputs > 0``).
    """
    t = np.ascontiguousarray(t, dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    P = np.ascontiguousarray(P, dtype=np.float64)
    out = np.empty((len(t), fns.n_outputs))
    bad = np.zeros(fns.n_outputs, dtype=np.uint8)
    fill_outputs(fns.outputs, t, Y, P, out, bad)
    return out, bad.astype(bool)


_LANES_SIG = types.void(LANES_FN, types.float64[::1],
                        types.float64[:, :, ::1], types.float64[:, ::1], types.int64[::1],
                        types.float64[:, :, ::1], types.uint8[::1])


@njit_on_first_use(_LANES_SIG, parallel=True, nogil=True)
def _fill_many_lanes(fn, t, Y, P, rows, out, bad):
    W = LANES
    n_t, n, m, r = t.shape[0], Y.shape[2], P.shape[1], out.shape[2]
    for i in numba.prange(rows.shape[0]):
        g = rows[i]
        if g < 0:
            continue
        tl = np.empty(W)
        yl = np.empty(n * W)
        pl = np.empty(m * W)
        ol = np.empty(r * W)
        for j in range(m):
            for l in range(W):
                pl[j * W + l] = P[i, j]
        for k0 in range(0, n_t, W):
            for l in range(W):
                k = min(k0 + l, n_t - 1)         # past the end: the last row again
                tl[l] = t[k]
                for s in range(n):
                    yl[s * W + l] = Y[g, k, s]
            fn(data_pointer(tl), data_pointer(yl), data_pointer(pl), data_pointer(ol))
            for l in range(min(W, n_t - k0)):
                for j in range(r):
                    v = ol[j * W + l]
                    out[i, k0 + l, j] = v
                    if not math.isfinite(v):
                        bad[i] = 1


def fill_members(fn, t, Y, P, rows, out) -> np.ndarray:
    """Readouts of many members in parallel: ``out[i, k] = fn(t[k], Y[rows[i], k], P[i])``
    for every ``rows[i] >= 0`` (others untouched), ``fn`` on
    :data:`~simulator.codegen.llvm.LANES` output times of a member at once
    (``compile_expressions(..., lanes=True)``). Returns a per-member flag of any non-finite
    value."""
    bad = np.zeros(rows.shape[0], dtype=np.uint8)
    _fill_many_lanes(fn, t, Y, P, np.ascontiguousarray(rows, dtype=np.int64), out, bad)
    return bad.astype(bool)
