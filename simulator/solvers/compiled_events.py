"""The event driver in compiled code: a whole run with events in one native call.

:func:`simulator.solvers.driver.run` is the reference event driver: Python around the
compiled integrator, one call per segment and per event. A dosing schedule has hundreds of
events per run, and a virtual trial thousands of runs, so there the Python around the
integrator is most of the time. This module runs the same loop in numba, for one member
(:func:`run_compiled`) or many in parallel (:func:`run_compiled_many`), for the events it
covers (:func:`covers`):

- no ``delay`` and no ``priority`` on any event, no ``==`` / ``!=`` relation in a
  trigger, no csymbol ``delay`` in the model, and every assignment's math compiled (the
  model's native ``event_values``).

Within that subset the semantics are the reference driver's, step for step: an event fires
when its trigger goes from false to true (``initialValue`` before the start); events fired
at the same time execute one at a time in the order they fired (ties: document order), the
triggers are re-checked after each execution, so one can fire another or, when not
persistent, cancel one fired but not yet executed; values are computed at trigger time or at
execution (``useValuesFromTriggerTime``); outputs at an event's time show the values after
it; each segment gets the integrator's step budget and resumes with the step it suggested.
More than :data:`MAX_EVENTS_AT_ONE_TIME` executions at one time is a failure
(:data:`FAIL_EVENTS`). Anything else runs the reference driver.
"""
from __future__ import annotations

import threading

import numpy as np
from numba import prange, types

from simulator.codegen.abi import DECOMP_FN, MODEL_FN, SOLVE_FN, TRIG_FN, data_pointer
from simulator.codegen.numba_cache import njit, njit_on_first_use
from simulator.solvers.compiled import (END, FAIL_INDEX, N_OUT, N_STATS, STAT_NAMES,
                                        atol_vector, check_parameters, contiguous,
                                        failure_message, integrate_member, member_workspace,
                                        one_item_per_thread)
from simulator.solvers.driver import RunResult

__all__ = ["covers", "too_many_events", "CompiledDriver", "EventTables", "run_compiled",
           "run_compiled_many", "FAIL_EVENTS", "MAX_EVENTS_AT_ONE_TIME", "N_TOTALS", "FIRED",
           "SEGMENTS"]

FAIL_EVENTS = -6
# the reference driver's limit; a literal here, since numba freezes it into the cached loop
# and the loops' cache key covers only modules with numba code (a test keeps them equal)
MAX_EVENTS_AT_ONE_TIME = 10_000
# totals: the integrator's STAT_NAMES summed over segments (n_out: rows filled;
# fail_index: of the failing segment), then events fired and segments run
FIRED, SEGMENTS = N_STATS, N_STATS + 1
N_TOTALS = N_STATS + 2

_F1 = types.float64[::1]
_F2 = types.float64[:, ::1]
_I1 = types.int64[::1]
_U1 = types.uint8[::1]
_JIT = dict(error_model="numpy", nogil=True)


def too_many_events(t: float) -> str:
    """The failure message of :data:`FAIL_EVENTS` (the reference driver's words)."""
    return f"more than {MAX_EVENTS_AT_ONE_TIME} event executions at t = {t}"


def covers(system, fns) -> str | None:
    """None if the compiled driver runs ``system`` exactly, else why not (for a message)."""
    if system.n_states == 0:
        return "the model has no state to integrate"
    if fns.event_values is None and system.events:
        return "an event assignment has no native form"
    if fns.n_event_values != sum(len(ev.assignments) for ev in system.events):
        return "an event assignment has no native form"
    if np.any(fns.switch_equal):
        return "a trigger uses == or !="
    for ev in system.events:
        if ev.delay is not None:
            return f"event '{ev.id}' has a delay"
        if ev.priority is not None:
            return f"event '{ev.id}' has a priority"
    return None


class EventTables:
    """The events of a system as arrays for the compiled driver.

    ``offsets[i]:offsets[i+1]`` are event i's assignments in ``event_values``' output;
    ``kind`` (0: state, 1: parameter) and ``index`` where each is written; ``pcols`` the
    parameters any event assigns (recorded per output row); ``initial``, ``persistent``,
    ``from_trigger`` per event."""

    def __init__(self, system):
        evs = system.events
        self.n_events = len(evs)
        self.offsets = np.zeros(len(evs) + 1, dtype=np.int64)
        kinds, index = [], []
        for i, ev in enumerate(evs):
            for kind, idx, _ in ev.assignments:
                kinds.append(0 if kind == "y" else 1)
                index.append(int(idx))
            self.offsets[i + 1] = len(kinds)
        self.kind = np.array(kinds, dtype=np.uint8)
        self.index = np.array(index, dtype=np.int64)
        self.pcols = np.array(sorted({j for k, j in zip(kinds, index) if k == 1}), dtype=np.int64)
        self.initial = np.array([ev.initial_value for ev in evs], dtype=np.uint8)
        self.persistent = np.array([ev.persistent for ev in evs], dtype=np.uint8)
        self.from_trigger = np.array([ev.use_values_from_trigger_time for ev in evs],
                                     dtype=np.uint8)
        # 1: the assigned values are scaled by factors computed at execution (a species'
        # concentration times its compartment's size then)
        self.scaled = np.array([bool(ev.factors) for ev in evs], dtype=np.uint8)
        self.n_assignments = len(kinds)
        widths = np.diff(self.offsets)
        self.width = int(widths.max()) if widths.size else 0
        self.capacity = 2 * len(evs) + 8          # events fired, not yet executed


@njit(**_JIT)
def _execute_due(trig, evals, t, y, p, state, cur, offsets, kind, index, persistent,
                 from_trigger, scaled, evbuf, pend_ev, pend_vals, npend, totals):
    """Fire and execute every event due at ``t`` (no delays: all fired ones are due).
    Returns 0, or FAIL_EVENTS on too many executions (or a full queue)."""
    n_ev = state.shape[0]
    cap = pend_ev.shape[0]
    for _ in range(MAX_EVENTS_AT_ONE_TIME):
        if n_ev > 0:
            trig(t, data_pointer(y), data_pointer(p), data_pointer(cur))
        have = False
        for i in range(n_ev):
            c = cur[i] != 0
            if c == (state[i] != 0):
                continue
            if c:
                if npend[0] >= cap:
                    return FAIL_EVENTS
                q = npend[0]
                pend_ev[q] = i
                if from_trigger[i]:
                    if not have:
                        evals(t, data_pointer(y), data_pointer(p), data_pointer(evbuf))
                        have = True
                    for a in range(offsets[i], offsets[i + 1]):
                        pend_vals[q, a - offsets[i]] = evbuf[a]
                npend[0] = q + 1
            elif not persistent[i]:          # a trigger gone false cancels it
                w = 0
                for r in range(npend[0]):
                    if pend_ev[r] != i:
                        if w != r:
                            pend_ev[w] = pend_ev[r]
                            for a in range(pend_vals.shape[1]):
                                pend_vals[w, a] = pend_vals[r, a]
                        w += 1
                npend[0] = w
            state[i] = cur[i]
        if npend[0] == 0:
            return 0
        e = pend_ev[0]
        o0 = offsets[e]
        n_a = offsets[offsets.shape[0] - 1]
        if not from_trigger[e] or scaled[e]:
            evals(t, data_pointer(y), data_pointer(p), data_pointer(evbuf))
        if not from_trigger[e]:
            for a in range(o0, offsets[e + 1]):
                pend_vals[0, a - o0] = evbuf[a]
        for a in range(o0, offsets[e + 1]):
            v = pend_vals[0, a - o0]
            if scaled[e]:
                v *= evbuf[n_a + a]
            if kind[a] == 0:
                y[index[a]] = v
            else:
                p[index[a]] = v
        for r in range(1, npend[0]):
            pend_ev[r - 1] = pend_ev[r]
            for a in range(pend_vals.shape[1]):
                pend_vals[r - 1, a] = pend_vals[r, a]
        npend[0] -= 1
        totals[FIRED] += 1
    return FAIL_EVENTS


@njit(**_JIT)
def _record(k, y, p, pcols, Y_out, P_out):
    for i in range(y.shape[0]):
        Y_out[k, i] = y[i]
    for c in range(pcols.shape[0]):
        P_out[k, c] = p[pcols[c]]


@njit(**_JIT)
def _run(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, evals,
         offsets, kind, index, persistent, from_trigger, scaled, pcols,
         t0, y, p, t_out, state, rtol, atol, first_step, h_max, max_steps,
         Y_out, P_out, work, lu, jnz, tb, sw, stats, totals, fres, cur, evbuf, pend_ev,
         pend_vals, npend):
    """One run from ``t0`` (state ``y``, parameters ``p``, trigger values ``state``, all
    updated in place) through every time in ``t_out``. Returns 0 or a negative status; on
    failure ``fres[0]`` is the time and ``y`` the state there."""
    n = y.shape[0]
    n_ev = state.shape[0]
    n_out = t_out.shape[0]
    for j in range(totals.shape[0]):
        totals[j] = 0
    totals[FAIL_INDEX] = -1
    npend[0] = 0
    t = t0
    fres[0] = t
    k = 0
    if n_ev > 0:
        s = _execute_due(trig, evals, t, y, p, state, cur, offsets, kind, index, persistent,
                         from_trigger, scaled, evbuf, pend_ev, pend_vals, npend, totals)
        if s < 0:
            return s
    while k < n_out and t_out[k] <= t:
        _record(k, y, p, pcols, Y_out, P_out)
        k += 1
    t_final = t_out[n_out - 1] if n_out > 0 else t
    h_init = first_step
    while t < t_final or k < n_out:
        if totals[SEGMENTS] >= max_steps:
            totals[N_OUT] = k
            return -1                                    # FAIL_MAX_STEPS
        status = integrate_member(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep,
                            t, y, p, t_out[k:], t_final, state, rtol, atol, h_init, h_max,
                            max_steps, Y_out[k:], work, lu, jnz, tb, sw, stats, fres)
        totals[SEGMENTS] += 1
        for j in range(N_STATS):
            if j != N_OUT and j != FAIL_INDEX:
                totals[j] += stats[j]
        n_seg = stats[N_OUT]
        for r in range(k, k + n_seg):
            for c in range(pcols.shape[0]):
                P_out[r, c] = p[pcols[c]]
        k_start = k
        k += n_seg
        for i in range(n):
            y[i] = work[0, i]
        if status < 0:
            totals[FAIL_INDEX] = stats[FAIL_INDEX]
            totals[N_OUT] = k
            return status
        t = fres[0]
        h_init = first_step if first_step > 0.0 else fres[1]
        if n_ev > 0:
            before = totals[FIRED]
            s = _execute_due(trig, evals, t, y, p, state, cur, offsets, kind, index,
                             persistent, from_trigger, scaled, evbuf, pend_ev, pend_vals,
                             npend, totals)
            if s < 0:
                totals[N_OUT] = k
                fres[0] = t
                return s
            if totals[FIRED] != before:
                tol = 1e-9 * max(1.0, abs(t))
                for r in range(k_start, k):
                    if abs(t_out[r] - t) <= tol:
                        _record(r, y, p, pcols, Y_out, P_out)
        while k < n_out and t_out[k] <= t:
            _record(k, y, p, pcols, Y_out, P_out)
            k += 1
        if status == END and t >= t_final and k >= n_out:
            break
    totals[N_OUT] = k
    fres[0] = t
    return 0


_ONE_SIG = types.int64(
    MODEL_FN, MODEL_FN, MODEL_FN, TRIG_FN, MODEL_FN, _U1, DECOMP_FN, SOLVE_FN, types.boolean,
    MODEL_FN, _I1, _U1, _I1, _U1, _U1, _U1, _I1,
    types.float64, _F1, _F1, _F1, _U1, types.float64, _F1, types.float64, types.float64,
    types.int64,
    _F2, _F2, _F2, _F1, _F1, types.uint8[:, ::1], _F2, _I1, _I1, _F1, _U1, _F1, _I1, _F2, _I1)


@njit_on_first_use(_ONE_SIG, **_JIT)
def _run_one(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, evals,
             offsets, kind, index, persistent, from_trigger, scaled, pcols,
             t0, y, p, t_out, state, rtol, atol, first_step, h_max, max_steps,
             Y_out, P_out, work, lu, jnz, tb, sw, stats, totals, fres, cur, evbuf, pend_ev,
             pend_vals, npend):
    return _run(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, evals,
                offsets, kind, index, persistent, from_trigger, scaled, pcols,
                t0, y, p, t_out, state, rtol, atol, first_step, h_max, max_steps,
                Y_out, P_out, work, lu, jnz, tb, sw, stats, totals, fres, cur, evbuf, pend_ev,
                pend_vals, npend)


_MANY_SIG = types.void(
    MODEL_FN, MODEL_FN, MODEL_FN, TRIG_FN, MODEL_FN, _U1, DECOMP_FN, SOLVE_FN, types.boolean,
    MODEL_FN, _I1, _U1, _I1, _U1, _U1, _U1, _I1,
    types.int64, types.int64, types.int64, types.int64, types.int64, types.int64, types.int64,
    types.float64, _F2, _F2, _F1, types.uint8[:, ::1], types.float64, _F1, types.float64,
    types.float64, types.int64,
    types.float64[:, :, ::1], types.float64[:, :, ::1], _I1, types.int64[:, ::1], _F2, _F2)


@njit_on_first_use(_MANY_SIG, parallel=True, **_JIT)
def _run_many(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep, evals,
              offsets, kind, index, persistent, from_trigger, scaled, pcols,
              chunk, nnz, njac, n_sw, n_evv, cap, n_pq,
              t0, Y0, P, t_out, STATE0, rtol, atol, first_step, h_max, max_steps,
              Y_out, P_out, status, TOTALS, FRES, Y_stop):
    N = Y0.shape[0]
    n = Y0.shape[1]
    n_ev = STATE0.shape[1]
    width = 1
    for e in range(n_ev):
        width = max(width, offsets[e + 1] - offsets[e])
    n_chunks = (N + chunk - 1) // chunk
    for c in prange(n_chunks):
        work, lu, jnz, tb, sw, stats, fres = member_workspace(n, nnz, njac, n_ev, n_sw, n_pq)
        totals = np.empty(N_TOTALS, dtype=np.int64)
        cur = np.empty(n_ev, dtype=np.uint8)
        evbuf = np.empty(max(1, n_evv))
        pend_ev = np.empty(cap, dtype=np.int64)
        pend_vals = np.empty((cap, width))
        npend = np.empty(1, dtype=np.int64)
        y = np.empty(n)
        p = np.empty(P.shape[1])
        state = np.empty(n_ev, dtype=np.uint8)
        for m in range(c * chunk, min(N, (c + 1) * chunk)):
            for i in range(n):
                y[i] = Y0[m, i]
            for j in range(p.shape[0]):
                p[j] = P[m, j]
            for e in range(n_ev):
                state[e] = STATE0[m, e]
            status[m] = _run(rhs, jac, dfdt, trig, switches, eqsw, decomp, solve, time_dep,
                             evals, offsets, kind, index, persistent, from_trigger, scaled, pcols,
                             t0, y, p, t_out, state, rtol, atol, first_step, h_max, max_steps,
                             Y_out[m], P_out[m], work, lu, jnz, tb, sw, stats, totals, fres,
                             cur, evbuf, pend_ev, pend_vals, npend)
            for j in range(N_TOTALS):
                TOTALS[m, j] = totals[j]
            FRES[m, 0] = fres[0]
            for i in range(n):
                Y_stop[m, i] = y[i]


def _work(fns, tables: EventTables):
    work, lu, jnz, tb, sw, stats, fres = member_workspace(
        fns.n_states, fns.lu_nnz, fns.n_jac, fns.n_events, fns.n_switches, fns.n_pq)
    return dict(work=work, lu=lu, jnz=jnz, tb=tb, sw=sw, stats=stats, fres=fres,
                totals=np.zeros(N_TOTALS, dtype=np.int64),
                cur=np.zeros(fns.n_events, dtype=np.uint8),
                evbuf=np.zeros(max(1, 2 * fns.n_event_values)),
                pend_ev=np.zeros(tables.capacity, dtype=np.int64),
                pend_vals=np.zeros((tables.capacity, max(1, tables.width))),
                npend=np.zeros(1, dtype=np.int64))


def _functions(fns):
    evals = fns.event_values if fns.event_values is not None else fns.switches
    return (fns.rhs_step, fns.jac_step, fns.dfdt, fns.triggers, fns.switches,
            contiguous(fns.switch_equal, np.uint8), fns.decomp, fns.solve,
            fns.time_dependent, evals)


def _tables(tables: EventTables):
    return (tables.offsets, tables.kind, tables.index, tables.persistent, tables.from_trigger,
            tables.scaled, tables.pcols)


def run_compiled(fns, tables: EventTables, t0: float, y0, p, t_out, *, rtol: float,
                 atol, first_step: float = 0.0, max_step: float = 0.0,
                 max_steps: int = 500_000, work: dict | None = None):
    """One run with events in compiled code (see the module docstring for what it covers).

    Returns ``(status, Y (n_out, n), P_rec (n_out, len(pcols)), totals, t_stop, y_stop)``:
    ``Y`` and ``P_rec`` hold the rows filled (``totals[N_OUT]``), ``P_rec`` the parameters
    ``tables.pcols`` in force at each; on failure ``t_stop``/``y_stop`` are where it failed.
    ``work`` (from a previous call on the same functions) is reused when given."""
    t_out = contiguous(np.atleast_1d(t_out))
    y = np.array(y0, dtype=np.float64)
    p = np.array(p, dtype=np.float64)
    n_t = len(t_out)
    Y = np.empty((n_t, fns.n_states))
    P_rec = np.empty((n_t, len(tables.pcols)))
    w = work if work is not None else _work(fns, tables)
    check_parameters(fns, p.shape[0], w["fres"])
    state = tables.initial.copy()
    status = _run_one.entry_point(
        *_functions(fns), *_tables(tables), float(t0), y, p, t_out, state, float(rtol),
        atol_vector(atol, fns.n_states), float(first_step), float(max_step), int(max_steps),
        Y, P_rec, w["work"], w["lu"], w["jnz"], w["tb"], w["sw"], w["stats"], w["totals"],
        w["fres"], w["cur"], w["evbuf"], w["pend_ev"], w["pend_vals"], w["npend"])
    totals = w["totals"].copy()
    k = int(totals[N_OUT])
    return int(status), Y[:k], P_rec[:k], totals, float(w["fres"][0]), y


def run_compiled_many(fns, tables: EventTables, t0: float, Y0, P, t_out, *, rtol: float,
                      atol, first_step: float = 0.0, max_step: float = 0.0,
                      max_steps: int = 500_000, chunk: int = 1, y_out=None):
    """Many members with events in parallel (numba threads, dynamic chunks of ``chunk``).

    Returns a dict with ``status`` (N,), ``y_out`` (N, n_t, n) (rows past a failure left
    as they were), ``p_out`` (N, n_t, len(pcols)), ``totals`` (N, N_TOTALS), ``t_stop`` (N,)
    and ``y_stop`` (N, n)."""
    Y0 = contiguous(np.atleast_2d(Y0))
    P = contiguous(np.atleast_2d(P))
    check_parameters(fns, P.shape[1])
    N, n = Y0.shape
    t_out = contiguous(np.atleast_1d(t_out))
    n_t = len(t_out)
    Y_out = np.full((N, n_t, n), np.nan) if y_out is None else y_out
    P_out = np.empty((N, n_t, len(tables.pcols)))
    status = np.zeros(N, dtype=np.int64)
    TOTALS = np.zeros((N, N_TOTALS), dtype=np.int64)
    FRES = np.zeros((N, 2))
    Y_stop = np.empty((N, n))
    # a writable copy per member (a broadcast view of one member is read-only and contiguous)
    STATE0 = np.repeat(tables.initial[None, :], N, axis=0)
    with one_item_per_thread():
        _run_many(*_functions(fns), *_tables(tables), int(chunk), fns.lu_nnz, fns.n_jac,
                  fns.n_switches, max(1, 2 * fns.n_event_values), tables.capacity, fns.n_pq,
                  float(t0), Y0,
                  P, t_out, STATE0, float(rtol), atol_vector(atol, n), float(first_step),
                  float(max_step), int(max_steps), Y_out, P_out, status, TOTALS, FRES, Y_stop)
    return {"status": status, "y_out": Y_out, "p_out": P_out, "totals": TOTALS,
            "t_stop": FRES[:, 0].copy(), "y_stop": Y_stop}


class CompiledDriver:
    """The compiled event driver for one :class:`~simulator.solvers.compiled.CompiledSegmenter`
    (its functions and options), giving what :func:`simulator.solvers.driver.run` gives.

    ``reason`` is None when it covers the system (:func:`covers`), else why not; then
    :meth:`run` must not be called."""

    def __init__(self, segmenter):
        self.system = segmenter.system
        self.fns = segmenter.fns
        self.options = segmenter.options
        self.reason = covers(self.system, self.fns)
        self.tables = EventTables(self.system)
        self._local = threading.local()

    def run(self, y0, p, t_out, *, t0: float) -> RunResult:
        """One run from ``t0`` through ``t_out`` (sorted, >= t0), as a ``RunResult``."""
        w = getattr(self._local, "work", None)
        if w is None:
            w = self._local.work = _work(self.fns, self.tables)
        o = self.options
        status, Y, P_rec, totals, t_stop, y_stop = run_compiled(
            self.fns, self.tables, t0, y0, p, t_out, rtol=o.rtol, atol=o.atol,
            first_step=o.first_step or 0.0, max_step=o.max_step or 0.0,
            max_steps=o.max_steps, work=w)
        k = len(Y)
        if self.tables.pcols.size:
            P = np.empty((k, self.fns.n_params))
            P[:] = p
            P[:, self.tables.pcols] = P_rec
        else:       # no event changes a parameter: one row, read-only, no copy
            P = np.broadcast_to(np.asarray(p, dtype=float), (k, self.fns.n_params))
        stats = {name: int(totals[i]) for i, name in enumerate(STAT_NAMES)
                 if name not in ("n_out", "fail_index")}
        stats["nsegments"] = int(totals[SEGMENTS])
        n_fired = int(totals[FIRED])
        t_out = np.asarray(t_out, dtype=float)
        if status == 0:
            return RunResult(t_out, Y, P, True, "", stats=stats, n_events=n_fired)
        if status == FAIL_EVENTS:
            msg = too_many_events(t_stop)
        else:
            msg = failure_message(status, t_stop, self.system.state_ids,
                                  int(totals[FAIL_INDEX]), o.max_steps)
            stats["fail_index"] = int(totals[FAIL_INDEX])
        return RunResult(t_out[:k], Y, P, False, msg, t_stop, y_stop, stats, n_fired)
