"""The compiled stiff integrator: RODAS5P in numba, one run or many members in parallel.

One generic integrator is compiled once (and cached on disk by numba); each model only
compiles its own small functions (:mod:`simulator.codegen.jit`), which reach the integrator
as first-class function values (:mod:`simulator.codegen.abi`). A whole run — steps,
step-size control, dense output, event location — stays in compiled code, and the step loop
allocates nothing: work arrays are passed in.

Method
------
RODAS5P (Steinebach 2023; coefficients and continuous extension in
:mod:`simulator.solvers.rodas5p`): an 8-stage, order 5(4), L-stable, stiffly accurate
Rosenbrock method for
``(I/(gamma h) - J) k_i = f(t + c_i h, y + sum_j a_ij k_j) + sum_j (c_ij/h) k_j + h d_i f_t``,
with an embedded order-4 error estimate (the last stage), a continuous extension of order 4
for dense output, and Gustafsson's predictive step-size controller as in Hairer's ``rodas.f``.
It replaced RODAS4 (6 stages, order 4(3)): on the bundled model at rtol 1e-6 it needs about
half the steps (133 against 248 per ensemble member), each ~20 % dearer, and is more accurate
(docs/performance.md). RODAS5 (Di Marzo 1993) was as fast, but its error estimate does not
see a jump of f between c_5 = 0.46 and 1 (piecewise rates; SBML cases 00193, 00277); in
RODAS5P that window is (0.98, 1). The Jacobian is evaluated once per step and kept over
rejected attempts at the same point; the linear systems use the model's unrolled sparse LU
(:mod:`simulator.codegen.llvm`).

Events
------
After each accepted step the first trigger change in it, if any, is located on the dense
output (:mod:`simulator.solvers.event_location`). A model without events pays nothing; one
with events pays one ``switches`` call per step and ~2-12 per relation crossing.

References
----------
E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed., Springer 1996,
doi:10.1007/978-3-642-05221-7.
G. Steinebach, Construction of Rosenbrock-Wanner method Rodas5P and numerical benchmarks
within the Julia Differential Equations package, BIT Numer. Math. 63, 27 (2023),
doi:10.1007/s10543-023-00967-x.
"""
from __future__ import annotations

import contextlib
import math
import threading
from types import SimpleNamespace

import numba
import numpy as np
from numba import prange, types

from simulator.codegen.abi import DECOMP_FN, MODEL_FN, SOLVE_FN, TRIG_FN, data_pointer
from simulator.codegen.jit import NativeFunctions, compile_native
from simulator.codegen.kernels import evaluate_outputs
from simulator.codegen.numba_cache import njit, njit_on_first_use
from simulator.errors import InvalidValueError
from simulator.solvers.base import Segment, Segmenter, SolverOptions
from simulator.solvers.event_location import N_SW, first_change
from simulator.solvers.rodas5p import RODAS5P, dense

# --- the method's coefficients (rodas5p.py), frozen into the compiled stepper as constants
_GAMMA = RODAS5P.gamma
_A = RODAS5P.A           # stage inputs
_C = RODAS5P.C           # couplings of earlier stages
_TIMES = RODAS5P.c       # stage times
_D = RODAS5P.d           # coefficients of h f_t
_H = RODAS5P.H           # dense output
_EXPO = 1.0 / (RODAS5P.embedded_order + 1)     # step-size exponent

# --- status codes and layout of the small output arrays ---------------------------------
END, ROOT = 0, 1
FAIL_MAX_STEPS, FAIL_STEP_SIZE, FAIL_NONFINITE, FAIL_SINGULAR, FAIL_START = -1, -2, -3, -4, -5
STAT_NAMES = ("nfev", "njev", "nsteps", "naccepted", "nrejected", "nlu", "n_out",
              "fail_index", "nsingular")
_NFEV, _NJEV, _NSTEPS, _NACC, _NREJ, _NLU, N_OUT, FAIL_INDEX, _NSING = range(9)
N_STATS = len(STAT_NAMES)
N_WORK = 18            # rows of the float work array, see integrate_member

_F1 = types.float64[::1]
_I1 = types.int64[::1]
_U1 = types.uint8[::1]

_JIT = dict(error_model="numpy", nogil=True)   # cached: see codegen/numba_cache


@njit(**_JIT)
def member_workspace(n, nnz, njac, n_ev, n_sw, n_pq):
    """Zeroed work arrays of one member's integration, as :func:`integrate_member` takes
    them: ``(work, lu, jnz, tb, sw, stats, fres)``; every thread of a parallel loop and
    every thread of a single-run backend makes its own. ``fres`` holds the stop time, the
    suggested next step, then the ``n_pq`` values ``rhs_step`` and ``jac_step`` read
    (``NativeFunctions.n_pq``)."""
    return (np.zeros((N_WORK, n)), np.zeros(nnz), np.zeros(njac),
            np.zeros((2, n_ev), dtype=np.uint8), np.zeros((N_SW, n_sw)),
            np.zeros(N_STATS, dtype=np.int64), np.zeros(2 + n_pq))


@njit(**_JIT, inline="always")
def _first_nonfinite(x):
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return i
    return -1


@njit(**_JIT, inline="always")
def initial_trial(y, f0, atol, rtol, hmax):
    """A trial first step ``h0`` and the scaled norm of ``f`` at the start (Hairer & Wanner
    I, II.4, as scipy's ``select_initial_step``); ``y``, ``f0`` may be strided views."""
    n = y.shape[0]
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol[i] + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    d0 = math.sqrt(d0 / n)
    d1 = math.sqrt(d1 / n)
    if d0 < 1e-5 or d1 < 1e-5:
        h0 = 1e-6
    else:
        h0 = 0.01 * d0 / d1
    return min(h0, hmax), d1


@njit(**_JIT, inline="always")
def initial_step(y, f0, fs, atol, rtol, h0, d1, hmax):
    """The first step from the trial step ``h0`` (:func:`initial_trial`) and ``fs``, ``f`` at
    ``y + h0 f0``: the norm of its change over ``h0`` bounds the step."""
    n = y.shape[0]
    d2 = 0.0
    for i in range(n):
        sc = atol[i] + rtol * abs(y[i])
        d2 += ((fs[i] - f0[i]) / sc) ** 2
    dm = max(d1, math.sqrt(d2 / n) / h0)
    if not math.isfinite(dm):
        h1 = h0 * 1e-3
    elif dm <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / dm) ** _EXPO
    return min(100.0 * h0, h1, hmax)


@njit(**_JIT)
def integrate_member(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep,
               t0, y0, p, t_out, t_end, trig0,
               rtol, atol, h_init, h_max, max_steps,
               y_out, work, lu, jnz, tb, sw, stats, fres):
    """Integrate one member; see :func:`integrate_one` for the arguments. Returns status."""
    n = y0.shape[0]
    n_ev = trig0.shape[0]
    n_t = t_out.shape[0]
    # the parameters as rhs and jac read them: p, a flag, the derived parameters (filled by
    # the first call, codegen/llvm.py); copied per segment, as events change p between them
    # (the callers check that p has the model's n_params values and fres 2 + n_pq)
    m = p.shape[0]
    pq = fres[2:]
    for j in range(m):
        pq[j] = p[j]
    pq[m] = 0.0
    y, ynew, f0, fs, fx, yold, yd = work[0], work[1], work[2], work[3], work[4], work[5], work[6]
    q1, q2, q3 = work[7], work[8], work[9]
    k1, k2, k3, k4 = work[10], work[11], work[12], work[13]
    k5, k6, k7, k8 = work[14], work[15], work[16], work[17]
    tcur = tb[0]
    for j in range(stats.shape[0]):
        stats[j] = 0
    stats[FAIL_INDEX] = -1
    fres[0] = t0
    fres[1] = 0.0
    for i in range(n):
        y[i] = y0[i]
        fx[i] = 0.0
    k_out = 0
    span = t_end - t0
    if span <= 0.0:
        while k_out < n_t and t_out[k_out] <= t0:
            for i in range(n):
                y_out[k_out, i] = y[i]
            k_out += 1
        stats[N_OUT] = k_out
        return END
    hmax = span if h_max <= 0.0 else min(h_max, span)
    uround = 2.220446049250313e-16

    # f at the start; its finiteness is a precondition
    rhs(t0, data_pointer(y), data_pointer(pq), data_pointer(f0))
    stats[_NFEV] += 1
    bad = _first_nonfinite(f0)
    if bad >= 0:
        stats[FAIL_INDEX] = bad
        stats[N_OUT] = k_out
        return FAIL_START

    # initial step (Hairer & Wanner I, II.4 / scipy select_initial_step)
    if h_init > 0.0:
        h = min(h_init, hmax)
    else:
        h0, d1 = initial_trial(y, f0, atol, rtol, hmax)
        for i in range(n):
            ynew[i] = y[i] + h0 * f0[i]
        rhs(t0 + h0, data_pointer(ynew), data_pointer(pq), data_pointer(fs))
        stats[_NFEV] += 1
        h = initial_step(y, f0, fs, atol, rtol, h0, d1, hmax)

    for e in range(n_ev):
        tcur[e] = trig0[e]
    tnow = tb[1]
    # switches (lhs - rhs of the relations in the triggers) at the step start and end, a
    # probe, and the roots found in a step (sorted)
    n_sw = sw.shape[1] if n_ev > 0 else 0
    swa, swb = sw[0], sw[1]
    if n_sw > 0:
        switches(t0, data_pointer(y), data_pointer(pq), data_pointer(swa))

    t = t0
    reject = False
    last_nonfinite = False
    n_accept = 0
    n_sing = 0
    hacc = 0.0
    erracc = 1.0
    attempts = 0
    jac_ok = False          # J (and f_t) are those at (t, y): kept over rejected attempts
    while True:
        if attempts >= max_steps:
            stats[N_OUT] = k_out
            fres[0] = t
            return FAIL_MAX_STEPS
        attempts += 1
        stats[_NSTEPS] = attempts
        if h > hmax:
            h = hmax
        last = False
        if t + 1.0001 * h >= t_end:
            h = t_end - t
            last = True
        if 0.1 * h <= abs(t) * uround or h <= 0.0:
            stats[N_OUT] = k_out
            fres[0] = t
            return FAIL_NONFINITE if last_nonfinite else FAIL_STEP_SIZE

        if not jac_ok:
            jac(t, data_pointer(y), data_pointer(pq), data_pointer(jnz))
            stats[_NJEV] += 1
            if time_dep:
                dfdt(t, data_pointer(y), data_pointer(pq), data_pointer(fx))
            jac_ok = True
        if decomp(1.0 / (_GAMMA * h), data_pointer(jnz), data_pointer(lu)) != 0:
            n_sing += 1
            stats[_NSING] = n_sing
            if n_sing > 20:
                stats[N_OUT] = k_out
                fres[0] = t
                return FAIL_SINGULAR
            h *= 0.25
            reject = True
            continue
        stats[_NLU] += 1
        ih = 1.0 / h
        hd1, hd2, hd3, hd4, hd5 = h * _D[0], h * _D[1], h * _D[2], h * _D[3], h * _D[4]
        # stage 1
        for i in range(n):
            k1[i] = f0[i] + hd1 * fx[i]
        solve(data_pointer(lu), data_pointer(k1))
        # stage 2
        for i in range(n):
            ynew[i] = y[i] + _A[1, 0] * k1[i]
        rhs(t + _TIMES[1] * h, data_pointer(ynew), data_pointer(pq), data_pointer(k2))
        for i in range(n):
            k2[i] += ih * (_C[1, 0] * k1[i]) + hd2 * fx[i]
        solve(data_pointer(lu), data_pointer(k2))
        # stage 3
        for i in range(n):
            ynew[i] = y[i] + _A[2, 0] * k1[i] + _A[2, 1] * k2[i]
        rhs(t + _TIMES[2] * h, data_pointer(ynew), data_pointer(pq), data_pointer(k3))
        for i in range(n):
            k3[i] += ih * (_C[2, 0] * k1[i] + _C[2, 1] * k2[i]) + hd3 * fx[i]
        solve(data_pointer(lu), data_pointer(k3))
        # stage 4
        for i in range(n):
            ynew[i] = y[i] + _A[3, 0] * k1[i] + _A[3, 1] * k2[i] + _A[3, 2] * k3[i]
        rhs(t + _TIMES[3] * h, data_pointer(ynew), data_pointer(pq), data_pointer(k4))
        for i in range(n):
            k4[i] += (ih * (_C[3, 0] * k1[i] + _C[3, 1] * k2[i] + _C[3, 2] * k3[i])
                      + hd4 * fx[i])
        solve(data_pointer(lu), data_pointer(k4))
        # stage 5
        for i in range(n):
            ynew[i] = (y[i] + _A[4, 0] * k1[i] + _A[4, 1] * k2[i] + _A[4, 2] * k3[i]
                       + _A[4, 3] * k4[i])
        rhs(t + _TIMES[4] * h, data_pointer(ynew), data_pointer(pq), data_pointer(k5))
        for i in range(n):
            k5[i] += (ih * (_C[4, 0] * k1[i] + _C[4, 1] * k2[i] + _C[4, 2] * k3[i]
                            + _C[4, 3] * k4[i])
                      + hd5 * fx[i])
        solve(data_pointer(lu), data_pointer(k5))
        # stages 6-8 are at t + h (c_i = 1) with d_i = 0, and stages 7 and 8 add the previous
        # stage to the previous input (rows 7 and 8 of A; all checked in tests/test_rodas5p.py)
        # stage 6
        for i in range(n):
            ynew[i] = (y[i] + _A[5, 0] * k1[i] + _A[5, 1] * k2[i] + _A[5, 2] * k3[i]
                       + _A[5, 3] * k4[i] + _A[5, 4] * k5[i])
        rhs(t + h, data_pointer(ynew), data_pointer(pq), data_pointer(k6))
        for i in range(n):
            k6[i] += ih * (_C[5, 0] * k1[i] + _C[5, 1] * k2[i] + _C[5, 2] * k3[i]
                           + _C[5, 3] * k4[i] + _C[5, 4] * k5[i])
        solve(data_pointer(lu), data_pointer(k6))
        # stage 7: input = stage 6 input + k6
        for i in range(n):
            ynew[i] += k6[i]
        rhs(t + h, data_pointer(ynew), data_pointer(pq), data_pointer(k7))
        for i in range(n):
            k7[i] += ih * (_C[6, 0] * k1[i] + _C[6, 1] * k2[i] + _C[6, 2] * k3[i]
                           + _C[6, 3] * k4[i] + _C[6, 4] * k5[i] + _C[6, 5] * k6[i])
        solve(data_pointer(lu), data_pointer(k7))
        # stage 8: input = embedded order-4 solution = stage 7 input + k7
        for i in range(n):
            ynew[i] += k7[i]
        rhs(t + h, data_pointer(ynew), data_pointer(pq), data_pointer(k8))
        for i in range(n):
            k8[i] += ih * (_C[7, 0] * k1[i] + _C[7, 1] * k2[i] + _C[7, 2] * k3[i]
                           + _C[7, 3] * k4[i] + _C[7, 4] * k5[i] + _C[7, 5] * k6[i]
                           + _C[7, 6] * k7[i])
        solve(data_pointer(lu), data_pointer(k8))
        stats[_NFEV] += 7

        # new solution (order 5) and error estimate k8 (its difference to the order-4 one)
        err = 0.0
        worst = 0.0
        iworst = 0
        bad = -1
        for i in range(n):
            yn = ynew[i] + k8[i]
            ynew[i] = yn
            if not math.isfinite(yn):
                if bad < 0:
                    bad = i
            sk = atol[i] + rtol * max(abs(y[i]), abs(yn))
            ei = (k8[i] / sk) ** 2
            err += ei
            if ei > worst:
                worst = ei
                iworst = i
        if bad >= 0:
            stats[FAIL_INDEX] = bad
            last_nonfinite = True
            stats[_NREJ] += 1
            reject = True
            h *= 0.25
            continue
        err = math.sqrt(err / n)
        if not math.isfinite(err):
            stats[_NREJ] += 1
            reject = True
            h *= 0.25
            continue
        fac = max(1.0 / 6.0, min(5.0, err ** _EXPO / 0.9))
        hnew = h / fac
        if err > 1.0:
            reject = True
            stats[FAIL_INDEX] = iworst
            stats[_NREJ] += 1
            h = hnew
            continue

        # ---- accepted
        n_accept += 1
        last_nonfinite = False
        jac_ok = False
        stats[FAIL_INDEX] = iworst        # the state limiting the step, named if h underflows
        if n_accept > 1:
            facgus = (hacc / h) * (err * err / erracc) ** _EXPO / 0.9
            facgus = max(1.0 / 6.0, min(5.0, facgus))
            fac = max(fac, facgus)
            hnew = h / fac
        hacc = h
        erracc = max(1e-2, err)
        t_new = t_end if last else t + h
        for i in range(n):
            yold[i] = y[i]
            y[i] = ynew[i]
        stats[_NACC] = n_accept
        # the dense-output coefficients, only if this step has an output or a trigger check
        if n_ev > 0 or (k_out < n_t and t_out[k_out] < t_new):
            for i in range(n):
                q1[i] = (_H[0, 0] * k1[i] + _H[0, 1] * k2[i] + _H[0, 2] * k3[i]
                         + _H[0, 3] * k4[i] + _H[0, 4] * k5[i] + _H[0, 5] * k6[i]
                         + _H[0, 6] * k7[i] + _H[0, 7] * k8[i])
                q2[i] = (_H[1, 0] * k1[i] + _H[1, 1] * k2[i] + _H[1, 2] * k3[i]
                         + _H[1, 3] * k4[i] + _H[1, 4] * k5[i] + _H[1, 5] * k6[i]
                         + _H[1, 6] * k7[i] + _H[1, 7] * k8[i])
                q3[i] = (_H[2, 0] * k1[i] + _H[2, 1] * k2[i] + _H[2, 2] * k3[i]
                         + _H[2, 3] * k4[i] + _H[2, 4] * k5[i] + _H[2, 5] * k6[i]
                         + _H[2, 6] * k7[i] + _H[2, 7] * k8[i])

        # ---- events: the first trigger change in (t, t_new], on the dense output
        if n_ev > 0:
            found, thi = first_change(trig, switches, n_sw, t, h, t_new, yold, y, q1, q2, q3,
                                      pq, yd, tcur, tnow, sw, eqsw)
            if found:
                while k_out < n_t and t_out[k_out] < thi:
                    dense((t_out[k_out] - t) / h, yold, y, q1, q2, q3, yd)
                    for i in range(n):
                        y_out[k_out, i] = yd[i]
                    k_out += 1
                if thi < t_new:
                    dense((thi - t) / h, yold, y, q1, q2, q3, yd)
                    for i in range(n):
                        y[i] = yd[i]
                stats[N_OUT] = k_out
                fres[0] = thi
                fres[1] = h
                return ROOT

            for k in range(n_sw):
                swa[k] = swb[k]

        # ---- outputs in (t, t_new]
        while k_out < n_t and t_out[k_out] <= t_new:
            if t_out[k_out] >= t_new:
                for i in range(n):
                    y_out[k_out, i] = y[i]
            else:
                dense((t_out[k_out] - t) / h, yold, y, q1, q2, q3, yd)
                for i in range(n):
                    y_out[k_out, i] = yd[i]
            k_out += 1
        if last:
            stats[N_OUT] = k_out
            fres[0] = t_end
            fres[1] = hnew
            return END
        t = t_new
        rhs(t, data_pointer(y), data_pointer(pq), data_pointer(f0))
        stats[_NFEV] += 1
        bad = _first_nonfinite(f0)
        if bad >= 0:
            stats[FAIL_INDEX] = bad
            stats[N_OUT] = k_out
            fres[0] = t
            return FAIL_NONFINITE
        if reject:
            hnew = min(hnew, h)
        reject = False
        h = hnew


_ONE_SIG = types.int64(
    MODEL_FN, MODEL_FN, MODEL_FN, TRIG_FN, MODEL_FN, _U1, DECOMP_FN, SOLVE_FN, types.boolean,
    types.float64, _F1, _F1, _F1, types.float64, _U1,
    types.float64, _F1, types.float64, types.float64, types.int64,
    types.float64[:, ::1], types.float64[:, ::1], _F1, _F1, types.uint8[:, ::1],
    types.float64[:, ::1], _I1, _F1)


@njit_on_first_use(_ONE_SIG, **_JIT)
def integrate_one(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep,
                  t0, y0, p, t_out, t_end, trig0,
                  rtol, atol, h_init, h_max, max_steps,
                  y_out, work, lu, jnz, tb, sw, stats, fres):
    """Integrate one member from ``t0`` to ``t_end`` or the first trigger change.

    Parameters
    ----------
    rhs, jac, dfdt, trig, switches, decomp, solve : the model's compiled functions
        (:class:`~simulator.codegen.jit.NativeFunctions`; ``rhs_step`` and ``jac_step`` as
        ``rhs`` and ``jac``)
    eqsw (n_switches,) uint8 : 1 for the switches of ``==`` / ``!=`` relations, whose roots
        end the segment too (status ROOT; their times are left in ``sw[4]``)
    time_dep : whether ``dfdt`` is needed
    t0, y0 (n,), p (m,) : start
    t_out (n_t,) : sorted output times, all ``>= t0``; t_end : end of the segment
    trig0 (n_ev,) uint8 : trigger values at the start
    rtol : relative tolerance; atol (n,) : absolute tolerances
    h_init : first step (``<= 0``: chosen automatically); h_max : largest step (``<= 0``: none)
    max_steps : budget of attempted steps
    y_out (n_t, n) : filled for ``stats[6]`` leading rows
    work (N_WORK, n), lu (lu_nnz,), jnz (n_jac,), tb (2, n_ev) uint8,
    sw (N_SW, n_switches) : work arrays; on return ``work[0]`` holds the state at ``fres[0]``
        and ``sw[4]`` the root times of ``==`` / ``!=`` switches in the last step (else -1)
    stats (N_STATS,) int64 : see ``STAT_NAMES``; fres (2 + n_pq,) : ``t_stop``, suggested
        next step, then the parameter buffer of ``rhs_step`` and ``jac_step``

    Returns
    -------
    status : END (0), ROOT (1), or a negative FAIL_* code
    """
    return integrate_member(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, t0, y0, p,
                      t_out, t_end, trig0, rtol, atol, h_init, h_max, max_steps, y_out, work, lu, jnz,
                      tb, sw, stats, fres)


_MANY_SIG = types.void(
    MODEL_FN, MODEL_FN, MODEL_FN, TRIG_FN, MODEL_FN, _U1, DECOMP_FN, SOLVE_FN, types.boolean,
    types.int64, types.int64, types.int64, types.int64, types.int64,
    types.float64, types.float64[:, ::1], types.float64[:, ::1], _F1, types.float64,
    types.uint8[:, ::1],
    types.float64, _F1, types.float64, types.float64, types.int64,
    types.float64[:, :, ::1], types.float64[:, ::1], types.int64[::1], types.int64[:, ::1],
    types.float64[:, ::1])


@njit_on_first_use(_MANY_SIG, parallel=True, **_JIT)
def _integrate_many(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, chunk, nnz,
                    njac, n_sw, n_pq,
                    t0, Y0, P, t_out, t_end, TRIG0,
                    rtol, atol, h_init, h_max, max_steps,
                    Y_out, Y_stop, status, STATS, FRES):
    N = Y0.shape[0]
    n = Y0.shape[1]
    n_chunks = (N + chunk - 1) // chunk
    n_ev = TRIG0.shape[1]
    for c in prange(n_chunks):
        # per thread: the shared rows of STATS and FRES are written once, not every step
        work, lu, jnz, tb, sw, stats, fres = member_workspace(n, nnz, njac, n_ev, n_sw, n_pq)
        for m in range(c * chunk, min(N, (c + 1) * chunk)):
            status[m] = integrate_member(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, t0,
                                   Y0[m], P[m], t_out, t_end, TRIG0[m], rtol, atol, h_init,
                                   h_max, max_steps, Y_out[m], work, lu, jnz, tb, sw, stats,
                                   fres)
            for j in range(stats.shape[0]):
                STATS[m, j] = stats[j]
            FRES[m, 0] = fres[0]
            FRES[m, 1] = fres[1]
            for i in range(n):
                Y_stop[m, i] = work[0, i]


# ----------------------------------------------------------------------------------------
# Python side


@contextlib.contextmanager
def one_item_per_thread():
    """numba hands out a parallel loop's iterations one at a time inside this block (our
    loops' iterations are work items of several members, of very different cost)."""
    old = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(old)


def check_parameters(fns: NativeFunctions, width: int, fres=None) -> None:
    """The step loop's model functions read the model's ``n_params`` parameters and, from
    ``fres``, ``2 + n_pq`` values (:func:`member_workspace`); a parameter vector of another
    length, or a smaller ``fres``, would read or write the wrong values.

    Raises
    ------
    ValueError
        Either does not fit.
    """
    if width != fns.n_params:
        raise ValueError(f"the model has {fns.n_params} parameters; got {width} values")
    if fres is not None and fres.shape[0] < 2 + fns.n_pq:
        raise ValueError(f"fres must hold {2 + fns.n_pq} values (member_workspace), "
                         f"got {fres.shape[0]}")


def contiguous(a, dtype=np.float64):
    return np.ascontiguousarray(a, dtype=dtype)


def atol_vector(atol, n):
    return np.array(np.broadcast_to(np.asarray(atol, dtype=np.float64), (n,)), order="C")


def many_arrays(fns: NativeFunctions, t0: float, Y0, P, t_out, y_out=None) -> tuple:
    """The checked inputs of an ensemble integration and its output arrays:
    ``(Y0, P, t_out, Y_out, Y_stop, status, STATS, FRES)`` (see :func:`integrate_many`).

    Raises
    ------
    ValueError
        A shape does not fit the model, ``t_out`` is not sorted from ``t0``, or ``y_out``
        is not a C-contiguous float64 array of the outputs' shape.
    """
    Y0 = contiguous(np.atleast_2d(Y0))
    P = contiguous(np.atleast_2d(P))
    N, n = Y0.shape
    if P.shape != (N, fns.n_params):
        raise ValueError(f"P must have shape ({N}, {fns.n_params}), got {P.shape}")
    if n != fns.n_states:
        raise ValueError(f"Y0 must have {fns.n_states} columns, got {n}")
    t_out = contiguous(np.atleast_1d(t_out))
    if t_out.size and (np.any(np.diff(t_out) < 0) or t_out[0] < t0):
        raise ValueError("t_out must be sorted and >= t0")
    if y_out is None:
        Y_out = np.full((N, len(t_out), n), np.nan)
    else:
        Y_out = y_out
        if Y_out.shape != (N, len(t_out), n) or Y_out.dtype != np.float64 \
                or not Y_out.flags.c_contiguous:
            raise ValueError(f"y_out must be a C-contiguous float64 array of shape "
                             f"{(N, len(t_out), n)}")
    return (Y0, P, t_out, Y_out, np.empty((N, n)), np.empty(N, dtype=np.int64),
            np.zeros((N, N_STATS), dtype=np.int64), np.zeros((N, 2)))


def integrate_many(fns: NativeFunctions, t0: float, Y0, P, t_out, t_end: float, *,
                   rtol: float = 1e-6, atol=1e-12, trig0=None, first_step: float = 0.0,
                   max_step: float = 0.0, max_steps: int = 500_000, chunk: int = 4,
                   y_out=None):
    """Integrate many members (rows of ``Y0`` and ``P``) in parallel, each with its own steps.

    Members run on numba's threads in chunks of ``chunk`` handed out dynamically, so that a
    few stiff members do not hold up the rest. Each member stops at ``t_end``, at the first
    change of a trigger (status ROOT; apply the event and call again for those members), or
    on failure (negative status; its other members are unaffected).

    Parameters
    ----------
    fns : compiled functions of the system (:func:`simulator.codegen.jit.compile_native`)
    t0 : start time, shared
    Y0 : array, shape (N, n_states); P : array, shape (N, n_params)
    t_out : array, shape (n_t,), sorted, ``>= t0``; t_end : end time
    rtol, atol : tolerances (atol scalar or (n_states,))
    trig0 : bool array (N, n_events) of trigger values at the start; default: evaluated
    first_step, max_step : step bounds (0: automatic / none)
    max_steps : attempted-step budget per member
    chunk : members per work item
    y_out : array (N, n_t, n_states), optional
        Where to write the outputs (C-contiguous float64; reused buffers avoid page faults on
        big ensembles). Rows beyond a member's ``n_out`` are then left as they were.

    Returns
    -------
    dict with ``status`` (N,) int64, ``y_out`` (N, n_t, n_states) — rows beyond
    ``stats[:, 6]`` (``n_out``) are not filled and hold NaN —, ``t_stop`` (N,), ``y_stop``
    (N, n_states), ``stats`` (N, N_STATS) int64 with columns ``STAT_NAMES``.
    """
    Y0, P, t_out, Y_out, Y_stop, status, STATS, FRES = many_arrays(fns, t0, Y0, P, t_out,
                                                                   y_out)
    N, n = Y0.shape
    if trig0 is None:
        trig0 = np.empty((N, fns.n_events), dtype=np.uint8)
        for m in range(N if fns.n_events else 0):
            trig0[m] = fns.triggers_py(float(t0), Y0[m], P[m])
    trig0 = contiguous(trig0, np.uint8).reshape(N, fns.n_events)
    with one_item_per_thread():
        _integrate_many(fns.rhs_step, fns.jac_step, fns.dfdt, fns.triggers, fns.switches,
                        contiguous(fns.switch_equal, np.uint8), fns.decomp, fns.solve, fns.time_dependent, int(chunk), fns.lu_nnz, fns.n_jac,
                        fns.n_switches, fns.n_pq, float(t0), Y0, P, t_out, float(t_end),
                        trig0, float(rtol), atol_vector(atol, n), float(first_step),
                        float(max_step), int(max_steps), Y_out, Y_stop, status, STATS, FRES)
    return {"status": status, "y_out": Y_out, "t_stop": FRES[:, 0].copy(), "y_stop": Y_stop,
            "stats": STATS}


def failure_message(status: int, t: float, state_ids, fail_index: int, max_steps: int) -> str:
    """A sentence for a negative status, naming the state where one is known."""
    sid = (f"'{state_ids[fail_index]}'" if 0 <= fail_index < len(state_ids) else None)
    if status == FAIL_START:
        return (f"the rate of change of {sid} is not finite at the start (t = {t:g}); "
                f"check its initial value and the parameters it depends on")
    if status == FAIL_NONFINITE:
        who = f"state {sid}" if sid else "a state"
        return (f"{who} became non-finite (NaN or infinite) near t = {t:.6g}; the model "
                f"blows up there")
    if status == FAIL_STEP_SIZE:
        near = f", limited by state {sid}" if sid else ""
        return (f"step size became too small at t = {t:.6g}{near} (the solution may blow up "
                f"or be singular there, or the tolerances are too strict)")
    if status == FAIL_MAX_STEPS:
        return f"more than {max_steps} steps were needed before t = {t:.6g} (max_steps)"
    if status == FAIL_SINGULAR:
        return (f"the Rosenbrock matrix I/(gamma h) - J stayed singular at t = {t:.6g} "
                f"(a zero pivot in the sparse LU)")
    return f"integration failed with status {status} at t = {t:.6g}"


METHOD_NAMES = ("auto", "rodas", "rodas5p")    # SolverOptions.method values this backend runs




class CompiledSegmenter(Segmenter):
    """The compiled RODAS5P backend for one :class:`~simulator.system.OdeSystem`.

    Implements the :class:`~simulator.solvers.base.Segmenter` contract. Construction
    generates and compiles the model's numba functions (cached on disk); the integrator
    itself is compiled once for all models.

    Parameters
    ----------
    system : the symbolic system
    options : tolerances and step bounds (``method`` one of ``METHOD_NAMES``)
    fns : already compiled functions (skips code generation)
    """

    name = "rodas5p"

    def __init__(self, system, options: SolverOptions = SolverOptions(), *,
                 fns: NativeFunctions | None = None):
        if options.method not in METHOD_NAMES:
            raise InvalidValueError(
                f"SolverOptions.method {options.method!r} is not the compiled backend's; "
                f"use 'rodas5p' (or 'auto')")
        self.system = system
        self.options = options
        self.fns = fns if fns is not None else compile_native(system)
        self._atol = atol_vector(options.atol, self.fns.n_states)
        self._local = threading.local()   # work arrays per thread: the kernel runs without the GIL

    def _buffers(self):
        """This thread's work arrays and resume point (made on first use)."""
        b = getattr(self._local, "b", None)
        if b is None:
            fns = self.fns
            work, lu, jnz, tb, sw, stats, fres = member_workspace(
                fns.n_states, fns.lu_nnz, fns.n_jac, fns.n_events, fns.n_switches, fns.n_pq)
            b = SimpleNamespace(work=work, lu=lu, jnz=jnz, tb=tb, sw=sw, stats=stats, fres=fres,
                                eqsw=contiguous(fns.switch_equal, np.uint8),
                                resume=(None, 0.0))   # (t_stop of the last segment, its next step)
            self._local.b = b
        return b

    def begin_run(self) -> None:
        """A new run starts: its first step size must not come from an earlier run."""
        self._buffers().resume = (None, 0.0)

    def outputs(self, t, Y, P):
        """The outputs through the model's native ``outputs`` function (see the base class)."""
        if not self.fns.n_outputs:
            return None
        return evaluate_outputs(self.fns, t, Y, P)

    def integrate(self, t0, y0, p, t_out, t_end, trig0) -> Segment:
        """Integrate one segment; see :mod:`simulator.solvers.base` for the contract."""
        fns, o = self.fns, self.options
        y0 = contiguous(y0)
        p = contiguous(p)
        t_out = contiguous(np.atleast_1d(t_out))
        trig0 = contiguous(np.atleast_1d(trig0), np.uint8).reshape(fns.n_events)
        if t_out.size and (t_out[0] < t0 or np.any(np.diff(t_out) < 0)):
            raise ValueError("t_out must be sorted and >= t0")
        y_out = np.empty((len(t_out), fns.n_states))
        b = self._buffers()
        check_parameters(fns, p.shape[0], b.fres)
        h_init = o.first_step or 0.0
        if not o.first_step and b.resume[0] == t0:
            h_init = b.resume[1]
        status = integrate_one.entry_point(
            fns.rhs_step, fns.jac_step, fns.dfdt, fns.triggers, fns.switches, b.eqsw,
            fns.decomp, fns.solve, fns.time_dependent, float(t0), y0, p, t_out, float(t_end),
            trig0, float(o.rtol), self._atol, float(h_init), float(o.max_step or 0.0),
            int(o.max_steps), y_out, b.work, b.lu, b.jnz, b.tb, b.sw, b.stats, b.fres)
        st = b.stats
        stats = {k: int(st[i]) for i, k in enumerate(STAT_NAMES) if k not in ("n_out", "fail_index")}
        t_stop = float(b.fres[0])
        n_out = int(st[N_OUT])
        if status >= 0:
            b.resume = (t_stop, float(b.fres[1]))
            equal = ()
            if status == ROOT and b.eqsw.any():   # == / != switches with their root here
                roots = b.sw[4]
                tol = 1e-10 * max(1.0, abs(t_stop))
                equal = tuple(int(k) for k in np.flatnonzero(
                    (b.eqsw != 0) & (roots >= 0.0) & (np.abs(roots - t_stop) <= tol)))
            return Segment(status="end" if status == END else "root", t_stop=t_stop,
                           y_stop=b.work[0].copy(), n_out=n_out, y_out=y_out[:n_out],
                           stats=stats, equal=equal)
        b.resume = (None, 0.0)
        msg = failure_message(int(status), t_stop, self.system.state_ids, int(st[FAIL_INDEX]),
                              o.max_steps)
        stats["fail_index"] = int(st[FAIL_INDEX])
        return Segment(status="fail", t_stop=t_stop, y_stop=b.work[0].copy(), n_out=n_out,
                       y_out=y_out[:n_out], message=msg, stats=stats)
