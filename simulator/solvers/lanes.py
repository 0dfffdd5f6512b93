"""Ensemble members in lock-step lanes: RODAS5P on :data:`LANES` members at once.

:func:`simulator.solvers.compiled.integrate_member` integrates one member; a step costs
8 right-hand sides, one Jacobian, one LU and 8 solves of straight-line model code, ~80 % of
the step. Here each numba thread runs :data:`LANES` members side by side, one per lane of
the model's vector functions (:func:`simulator.codegen.llvm.generate_lanes`): one call
evaluates the right-hand side of all of them, on AVX-512 in the time of ~2-3 scalar calls.

The lanes share the instruction stream, not the step control. Each lane keeps its own time,
step size, error estimate, Gustafsson history, accept/reject decision, outputs and step
budget, exactly as :func:`integrate_member` does; a lane that rejects its step simply takes
the next attempt with a smaller step while the others go on. So a member's steps are the
ones it would take alone, and its result differs from the one-member integrator only by the
rounding of the vector functions (libmvec's ``pow``/``exp`` are within 4 ulp). A lane whose
member ends (or fails) takes the next member of its work item at once. The step's own
vector arithmetic (stage inputs and right-hand sides, error sums, dense-output
coefficients) runs in generated kernels too: as numba loops over the lanes, LLVM turned the
per-lane coefficients into gathers and the loop cost as much as the model. Models with
events, and very large ones, stay on the one-member integrator (:func:`suits`).

Arrays are lane-major: ``y[i * W + l]`` is state ``i`` of lane ``l``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange, types

from simulator.codegen.abi import LANE_DECOMP_FN, LANES_FN, SOLVE_FN, data_pointer
from simulator.codegen.jit import LaneFunctions, NativeFunctions
from simulator.codegen.llvm import LANES
from simulator.codegen.numba_cache import njit, njit_on_first_use
from simulator.solvers.compiled import (END, FAIL_INDEX, FAIL_MAX_STEPS, FAIL_NONFINITE,
                                        FAIL_SINGULAR, FAIL_START, FAIL_STEP_SIZE, N_OUT,
                                        N_STATS, STAT_NAMES, atol_vector, check_parameters,
                                        initial_step, initial_trial, many_arrays,
                                        one_item_per_thread)
from simulator.solvers.rodas5p import RODAS5P, dense

# the method's coefficients, frozen into the compiled loop as constants (as in compiled.py)
_GAMMA = RODAS5P.gamma
_TIMES, _D = RODAS5P.c, RODAS5P.d
_EXPO = 1.0 / (RODAS5P.embedded_order + 1)
# the coefficients as the lane kernels read them (codegen/llvm.py, _lane_kernels): a row of
# A or C, then the number of terms at index 8; H flat
_AJ = np.hstack([RODAS5P.A, np.arange(8.0)[:, None]])
_CJ = np.hstack([RODAS5P.C, np.arange(8.0)[:, None]])
_HF = np.ascontiguousarray(RODAS5P.H).reshape(-1)
_NFEV, _NJEV, _NSTEPS, _NACC, _NREJ, _NLU, _NSING = (
    STAT_NAMES.index(s) for s in ("nfev", "njev", "nsteps", "naccepted", "nrejected", "nlu",
                                  "nsingular"))
_JIT = dict(error_model="numpy", nogil=True, fastmath={"contract"})
W = LANES
_UROUND = 2.220446049250313e-16


@njit(**_JIT, inline="always")
def _first_nonfinite(x, n, l):
    """The first of the ``n`` states of lane ``l`` in ``x`` that is not finite, or -1."""
    for i in range(n):
        if not math.isfinite(x[i * W + l]):
            return i
    return -1


@njit(**_JIT)
def _finish(l, m, code, t_stop, h_next, member, y, stats, status, STATS, FRES, Y_stop):
    """Record lane ``l``'s member ``m`` as ended with ``code`` and free the lane."""
    status[m] = code
    for j in range(N_STATS):
        STATS[m, j] = stats[l, j]
    FRES[m, 0] = t_stop
    FRES[m, 1] = h_next
    for i in range(Y_stop.shape[1]):
        Y_stop[m, i] = y[i * W + l]
    member[l] = -1


@njit(**_JIT)
def integrate_lanes(rhs, jac, dfdt, derive, decomp, solve, stage_in, stage_k, dense_q,
                    error_sum, time_dep, first, last_m,
                    nnz, njac, n_pq, t0, Y0, P, t_out, t_end, rtol, atol, h_init, h_max,
                    max_steps, Y_out, Y_stop, status, STATS, FRES):
    """Integrate members ``first .. last_m - 1`` (rows of ``Y0``, ``P``) on :data:`LANES`
    lanes, refilling a lane as soon as its member ends. Arguments and outputs as
    :func:`simulator.solvers.compiled.integrate_many` (no events)."""
    n = Y0.shape[1]
    m_par = P.shape[1]
    n_t = t_out.shape[0]
    y = np.zeros(n * W)
    ynew = np.zeros(n * W)
    f0 = np.zeros(n * W)
    fs = np.zeros(n * W)
    ks = np.zeros((9, n * W))               # the stages, then df/dt (the kernels read it)
    fx = ks[8]
    q = np.zeros((3, n * W))
    pq = np.zeros(n_pq * W)
    jnz = np.zeros(njac * W)
    lu = np.zeros(nnz * W)
    tl = np.zeros(W)
    g = np.zeros(2 * W)                      # 1/h, then h d_s, of each lane (stage_k)
    eaux = np.zeros(n + 1 + 3 * W)           # atol, rtol, then error_sum's results
    for i in range(n):
        eaux[i] = atol[i]
    eaux[n] = rtol
    nw = n * W
    cl = np.ones(W)
    h0 = np.zeros(W)                         # a new member's trial first step
    d1 = np.zeros(W)                         # ... and its scaled norm of f
    member = np.full(W, -1, dtype=np.int64)
    stats = np.zeros((W, N_STATS), dtype=np.int64)
    t = np.full(W, t0)
    h = np.ones(W)
    hnew = np.ones(W)
    tnew = np.zeros(W)
    hacc = np.zeros(W)
    erracc = np.ones(W)
    n_accept = np.zeros(W, dtype=np.int64)
    n_sing = np.zeros(W, dtype=np.int64)
    k_out = np.zeros(W, dtype=np.int64)
    reject = np.zeros(W, dtype=np.bool_)
    last_nonfinite = np.zeros(W, dtype=np.bool_)
    jac_ok = np.zeros(W, dtype=np.bool_)
    last = np.zeros(W, dtype=np.bool_)
    live = np.zeros(W, dtype=np.bool_)       # takes part in this attempt
    fresh = np.zeros(W, dtype=np.bool_)      # took a new member, needs f0 and a first step
    accepted = np.zeros(W, dtype=np.bool_)
    span = t_end - t0
    hmax = span if h_max <= 0.0 else min(h_max, span)
    next_m = first

    while True:
        # ---- idle lanes take the next members
        any_fresh = False
        for l in range(W):
            if member[l] < 0 and next_m < last_m:
                m = next_m
                next_m += 1
                member[l] = m
                for j in range(N_STATS):
                    stats[l, j] = 0
                stats[l, FAIL_INDEX] = -1
                for i in range(n):
                    y[i * W + l] = Y0[m, i]
                    fx[i * W + l] = 0.0
                for j in range(m_par):
                    pq[j * W + l] = P[m, j]
                t[l] = t0
                hacc[l] = 0.0
                erracc[l] = 1.0
                n_accept[l] = 0
                n_sing[l] = 0
                k_out[l] = 0
                reject[l] = False
                last_nonfinite[l] = False
                jac_ok[l] = False
                fresh[l] = True
                any_fresh = True
                if span <= 0.0:
                    while k_out[l] < n_t and t_out[k_out[l]] <= t0:
                        for i in range(n):
                            Y_out[m, k_out[l], i] = y[i * W + l]
                        k_out[l] += 1
                    stats[l, N_OUT] = k_out[l]
                    fresh[l] = False
                    _finish(l, m, END, t0, 0.0, member, y, stats, status, STATS, FRES,
                            Y_stop)
        if any_fresh:
            derive(data_pointer(tl), data_pointer(y), data_pointer(pq), data_pointer(pq[(m_par + 1) * W:]))
            for l in range(W):
                tl[l] = t[l]
            rhs(data_pointer(tl), data_pointer(y), data_pointer(pq), data_pointer(f0))
            # first steps (Hairer & Wanner I, II.4), as integrate_member
            for l in range(W):
                if not fresh[l]:
                    for i in range(n):
                        ynew[i * W + l] = y[i * W + l]
                    continue
                stats[l, _NFEV] += 1
                bad = _first_nonfinite(f0, n, l)
                if bad >= 0:
                    stats[l, FAIL_INDEX] = bad
                    stats[l, N_OUT] = 0
                    fresh[l] = False
                    _finish(l, member[l], FAIL_START, t0, 0.0, member, y, stats, status,
                            STATS, FRES, Y_stop)
                    continue
                if h_init > 0.0:
                    h[l] = min(h_init, hmax)
                    for i in range(n):
                        ynew[i * W + l] = y[i * W + l]
                    continue
                h0[l], d1[l] = initial_trial(y[l::W], f0[l::W], atol, rtol, hmax)
                tl[l] = t[l] + h0[l]
                for i in range(n):
                    ynew[i * W + l] = y[i * W + l] + h0[l] * f0[i * W + l]
            need = False
            for l in range(W):
                if fresh[l] and h_init <= 0.0:
                    need = True
            if need:
                rhs(data_pointer(tl), data_pointer(ynew), data_pointer(pq), data_pointer(fs))
                for l in range(W):
                    if fresh[l] and h_init <= 0.0:
                        stats[l, _NFEV] += 1
                        h[l] = initial_step(y[l::W], f0[l::W], fs[l::W], atol, rtol, h0[l],
                                            d1[l], hmax)
            for l in range(W):
                fresh[l] = False

        # ---- checks before the attempt, per lane
        n_live = 0
        for l in range(W):
            live[l] = False
            m = member[l]
            if m < 0:
                continue
            if stats[l, _NSTEPS] >= max_steps:
                stats[l, N_OUT] = k_out[l]
                _finish(l, m, FAIL_MAX_STEPS, t[l], 0.0, member, y, stats, status, STATS,
                        FRES, Y_stop)
                continue
            stats[l, _NSTEPS] += 1
            if h[l] > hmax:
                h[l] = hmax
            last[l] = False
            if t[l] + 1.0001 * h[l] >= t_end:
                h[l] = t_end - t[l]
                last[l] = True
            if 0.1 * h[l] <= abs(t[l]) * _UROUND or h[l] <= 0.0:
                stats[l, N_OUT] = k_out[l]
                code = FAIL_NONFINITE if last_nonfinite[l] else FAIL_STEP_SIZE
                _finish(l, m, code, t[l], 0.0, member, y, stats, status, STATS, FRES, Y_stop)
                continue
            live[l] = True
            n_live += 1
        if n_live == 0:
            if next_m >= last_m:
                return
            continue

        # ---- Jacobian and LU of every lane (a lane that rejected recomputes the same J)
        for l in range(W):
            tl[l] = t[l]
            if live[l]:
                if not jac_ok[l]:
                    stats[l, _NJEV] += 1
                    jac_ok[l] = True
                cl[l] = 1.0 / (_GAMMA * h[l])
            else:
                cl[l] = 1.0
        jac(data_pointer(tl), data_pointer(y), data_pointer(pq), data_pointer(jnz))
        if time_dep:
            dfdt(data_pointer(tl), data_pointer(y), data_pointer(pq), data_pointer(fx))
        mask = decomp(data_pointer(cl), data_pointer(jnz), data_pointer(lu))
        for l in range(W):
            if live[l] and (mask >> l) & 1:
                live[l] = False
                n_sing[l] += 1
                stats[l, _NSING] = n_sing[l]
                if n_sing[l] > 20:
                    stats[l, N_OUT] = k_out[l]
                    _finish(l, member[l], FAIL_SINGULAR, t[l], 0.0, member, y, stats,
                            status, STATS, FRES, Y_stop)
                    continue
                h[l] *= 0.25
                reject[l] = True
            elif live[l]:
                stats[l, _NLU] += 1
            g[l] = 1.0 / h[l]

        # ---- the eight stages, every lane at once: the model's functions and its unrolled
        # lane kernels (stage inputs, stage right-hand sides, error sums)
        k1 = ks[0]
        for x in range(nw):
            k1[x] = f0[x]
        if time_dep:
            for i in range(n):
                for l in range(W):
                    k1[i * W + l] += h[l] * _D[0] * fx[i * W + l]
        solve(data_pointer(lu), data_pointer(k1))
        for s in range(1, 8):
            if s <= 5:
                stage_in(data_pointer(ynew), data_pointer(y), data_pointer(_AJ[s]),
                         data_pointer(ks))
            else:                            # rows 7 and 8: the previous input plus a stage
                kp = ks[s - 1]
                for x in range(nw):
                    ynew[x] += kp[x]
            for l in range(W):
                tl[l] = t[l] + _TIMES[s] * h[l]
                g[W + l] = h[l] * _D[s]
            rhs(data_pointer(tl), data_pointer(ynew), data_pointer(pq), data_pointer(ks[s]))
            stage_k(data_pointer(ks[s]), data_pointer(ks), data_pointer(_CJ[s]),
                    data_pointer(g))
            solve(data_pointer(lu), data_pointer(ks[s]))

        # ---- the new solution (order 5) and each lane's sum of squared scaled errors (NaN
        # where a new state is not finite), its largest term and that term's state
        error_sum(data_pointer(ynew), data_pointer(ks), data_pointer(y), data_pointer(eaux))

        # ---- per lane: error, accept or reject, outputs
        any_accepted = False
        any_dense = False
        for l in range(W):
            accepted[l] = False
            if not live[l]:
                continue
            m = member[l]
            stats[l, _NFEV] += 7
            err = eaux[n + 1 + l]
            iworst = int(eaux[n + 1 + 2 * W + l])
            if not math.isfinite(err):
                bad = _first_nonfinite(ynew, n, l)
                if bad >= 0:
                    stats[l, FAIL_INDEX] = bad
                    last_nonfinite[l] = True
                    stats[l, _NREJ] += 1
                    reject[l] = True
                    h[l] *= 0.25
                    continue
            err = math.sqrt(err / n)
            if not math.isfinite(err):
                stats[l, _NREJ] += 1
                reject[l] = True
                h[l] *= 0.25
                continue
            fac = max(1.0 / 6.0, min(5.0, err ** _EXPO / 0.9))
            hn = h[l] / fac
            if err > 1.0:
                reject[l] = True
                stats[l, FAIL_INDEX] = iworst
                stats[l, _NREJ] += 1
                h[l] = hn
                continue
            # accepted
            n_accept[l] += 1
            last_nonfinite[l] = False
            jac_ok[l] = False
            stats[l, FAIL_INDEX] = iworst
            if n_accept[l] > 1:
                facgus = (hacc[l] / h[l]) * (err * err / erracc[l]) ** _EXPO / 0.9
                facgus = max(1.0 / 6.0, min(5.0, facgus))
                fac = max(fac, facgus)
                hn = h[l] / fac
            hacc[l] = h[l]
            erracc[l] = max(1e-2, err)
            tnew[l] = t_end if last[l] else t[l] + h[l]
            stats[l, _NACC] = n_accept[l]
            if reject[l]:
                hn = min(hn, h[l])
            hnew[l] = hn
            accepted[l] = True
            any_accepted = True
            if k_out[l] < n_t and t_out[k_out[l]] < tnew[l]:
                any_dense = True

        # ---- outputs of the lanes that moved on: the dense-output coefficients of every
        # lane at once, then each lane's output times
        if any_dense:
            dense_q(data_pointer(q), data_pointer(ks), data_pointer(_HF), data_pointer(_HF))
        q1, q2, q3 = q[0], q[1], q[2]
        for l in range(W):
            if not accepted[l]:
                continue
            m = member[l]
            t_new = tnew[l]
            while k_out[l] < n_t and t_out[k_out[l]] <= t_new:
                k = k_out[l]
                if t_out[k] >= t_new:
                    for i in range(n):
                        Y_out[m, k, i] = ynew[i * W + l]
                else:
                    dense((t_out[k] - t[l]) / h[l], y[l::W], ynew[l::W], q1[l::W],
                          q2[l::W], q3[l::W], Y_out[m, k])
                k_out[l] += 1
        # the new states: all lanes at once when every lane that tried moved on (idle lanes
        # hold nothing), else lane by lane
        n_tried = 0
        n_moved = 0
        for l in range(W):
            n_tried += live[l]
            n_moved += accepted[l]
        if n_moved == n_tried:
            for x in range(nw):
                y[x] = ynew[x]
        else:
            for l in range(W):
                if accepted[l]:
                    for i in range(n):
                        y[i * W + l] = ynew[i * W + l]
        for l in range(W):
            if not accepted[l]:
                continue
            if last[l]:
                stats[l, N_OUT] = k_out[l]
                accepted[l] = False
                _finish(l, member[l], END, t_end, hnew[l], member, y, stats, status, STATS,
                        FRES, Y_stop)
                continue
            t[l] = tnew[l]
            reject[l] = False

        # ---- f at the new points of the lanes that moved on (f0 and fs swap when all did)
        if any_accepted:
            for l in range(W):
                tl[l] = t[l]
            rhs(data_pointer(tl), data_pointer(y), data_pointer(pq), data_pointer(fs))
            if n_moved == n_tried:
                f0, fs = fs, f0
            else:
                for l in range(W):
                    if accepted[l]:
                        for i in range(n):
                            f0[i * W + l] = fs[i * W + l]
            chk = 0.0
            for x in range(nw):
                chk += f0[x] * 0.0           # NaN if any value is not finite
            for l in range(W):
                if not accepted[l]:
                    continue
                stats[l, _NFEV] += 1
                h[l] = hnew[l]
                if math.isfinite(chk):
                    continue
                bad = _first_nonfinite(f0, n, l)
                if bad >= 0:
                    stats[l, FAIL_INDEX] = bad
                    stats[l, N_OUT] = k_out[l]
                    _finish(l, member[l], FAIL_NONFINITE, t[l], 0.0, member, y, stats,
                            status, STATS, FRES, Y_stop)


_F1 = types.float64[::1]
_LANES_SIG = types.void(
    LANES_FN, LANES_FN, LANES_FN, LANES_FN, LANE_DECOMP_FN, SOLVE_FN,
    LANES_FN, LANES_FN, LANES_FN, LANES_FN, types.boolean,
    types.int64, types.int64, types.int64, types.int64,
    types.float64, types.float64[:, ::1], types.float64[:, ::1], _F1, types.float64,
    types.float64, _F1, types.float64, types.float64, types.int64,
    types.float64[:, :, ::1], types.float64[:, ::1], types.int64[::1], types.int64[:, ::1],
    types.float64[:, ::1])


@njit_on_first_use(_LANES_SIG, parallel=True, **_JIT)
def _integrate_lanes_many(rhs, jac, dfdt, derive, decomp, solve, stage_in, stage_k, dense_q,
                          error_sum, time_dep, chunk, nnz, njac,
                          n_pq, t0, Y0, P, t_out, t_end, rtol, atol, h_init, h_max, max_steps,
                          Y_out, Y_stop, status, STATS, FRES):
    N = Y0.shape[0]
    n_chunks = (N + chunk - 1) // chunk
    for c in prange(n_chunks):
        integrate_lanes(rhs, jac, dfdt, derive, decomp, solve, stage_in, stage_k, dense_q,
                        error_sum, time_dep, c * chunk,
                        min(N, (c + 1) * chunk), nnz, njac, n_pq, t0, Y0, P, t_out, t_end,
                        rtol, atol, h_init, h_max, max_steps, Y_out, Y_stop, status, STATS,
                        FRES)


# A model with a larger Jacobian keeps the one-member integrator in sweeps: its lane code
# would take seconds to compile on first use (Lang_PLOSComputBiol2024, 1,175 nonzeros:
# 8.5 s, against 6 s for its scalar code), more than a sweep of a few hundred members saves.
MAX_JACOBIAN = 1000


def suits(fns: NativeFunctions) -> bool:
    """Whether sweeps of the model of ``fns`` run on lanes: no events, and a Jacobian of at
    most :data:`MAX_JACOBIAN` nonzeros. Decided per model, never per chunk, so that a
    member's result does not depend on how a sweep is cut."""
    return fns.n_events == 0 and fns.n_states > 0 and fns.n_jac <= MAX_JACOBIAN


def lane_chunk(n_members: int, n_threads: int) -> int:
    """Members per work item, a multiple of :data:`LANES`: up to four items per thread, so
    that the threads finish together, but at least eight members per lane where there are
    enough (a lane that waits for its item's last member idles, so few members per lane
    waste most of an item), and at most 256."""
    threads = max(1, n_threads)
    items = max(threads, min(4 * threads, n_members // (8 * W)))
    per = -(-n_members // items)
    return int(min(256, max(W, -(-per // W) * W)))


def integrate_many_lanes(fns: NativeFunctions, lanes: LaneFunctions, t0: float, Y0, P, t_out,
                        t_end: float, *, rtol: float = 1e-6, atol=1e-12,
                        first_step: float = 0.0, max_step: float = 0.0,
                        max_steps: int = 500_000, chunk: int = 64, y_out=None) -> dict:
    """:func:`simulator.solvers.compiled.integrate_many` for a model without events, on
    :data:`LANES` lanes per thread (``lanes``: :func:`simulator.codegen.jit.compile_lanes`
    of the same system). Work items of ``chunk`` members go dynamically to numba's
    threads. Arguments and result as ``integrate_many``'s; every status is END or a
    failure.

    Raises
    ------
    ValueError
        The model has events, or as :func:`~simulator.solvers.compiled.many_arrays`.
    """
    if fns.n_events:
        raise ValueError("the lane integrator runs models without events")
    Y0, P, t_out, Y_out, Y_stop, status, STATS, FRES = many_arrays(fns, t0, Y0, P, t_out,
                                                                   y_out)
    check_parameters(fns, P.shape[1])
    with one_item_per_thread():
        _integrate_lanes_many(lanes.rhs, lanes.jac, lanes.dfdt, lanes.derive, lanes.decomp,
                              lanes.solve, lanes.stage_in, lanes.stage_k, lanes.dense_q,
                              lanes.error_sum, fns.time_dependent, int(chunk), lanes.lu_nnz,
                              lanes.n_jac, lanes.n_pq, float(t0), Y0, P, t_out, float(t_end),
                              float(rtol), atol_vector(atol, Y0.shape[1]), float(first_step),
                              float(max_step), int(max_steps), Y_out, Y_stop, status, STATS,
                              FRES)
    return {"status": status, "y_out": Y_out, "t_stop": FRES[:, 0].copy(), "y_stop": Y_stop,
            "stats": STATS}
