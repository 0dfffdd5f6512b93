"""SBML event semantics on top of any :class:`~simulator.solvers.base.Segmenter`.

An event fires when its trigger goes from false to true (at the start time, the trigger
counts as having been ``initialValue`` before). A fired event is scheduled at
``t + delay``; its assignments are computed then or at trigger time
(``useValuesFromTriggerTime``). Events due at the same time execute one at a time, highest
priority first (ties: the one triggered first), and triggers are re-checked after each
execution, so an event can trigger another or, if not persistent, cancel a pending one.
Outputs at an event's time show the values after the event.

A trigger built on ``==`` (``!=``) can be true (false) only at the instant its relation
holds, the root of ``lhs - rhs``, which floating point never lands on. The backends stop
there (``Segment.equal``); the driver evaluates the triggers as at equality, fires and
executes what is due at that instant, then evaluates them as just after it (so a
non-persistent delayed event triggered only at the instant is cancelled, as SBML says).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.codegen.numpy_fns import NumpyFunctions
from simulator.solvers.base import Segmenter
from simulator.solvers.history import History

MAX_EVENTS_AT_ONE_TIME = 10_000


@dataclass
class RunResult:
    t: np.ndarray
    y: np.ndarray          # (n_t, n_states)
    p: np.ndarray          # (n_t, n_params): parameters in force at each output time
    success: bool
    message: str = ""
    t_fail: float | None = None
    y_fail: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    n_events: int = 0


@dataclass
class _Pending:
    time: float
    event: int
    values: np.ndarray | None
    seq: int


def run(fns: NumpyFunctions, segmenter: Segmenter, y0, p, t_out, *, t0: float,
        seed: int = 0, before_start=None) -> RunResult:
    """Integrate from ``t0`` through every time in ``t_out`` (sorted, >= t0) with events.

    ``seed`` drives the random order of simultaneous events of equal priority. For systems
    with csymbol ``delay``, the run records its trajectory in a
    :class:`~simulator.solvers.history.History` (left in place after the run, for the
    outputs); ``before_start(s) -> (y, p)`` gives the values before ``t0`` (default: the
    initial ones)."""
    rng = None                       # made on first tie: a generator costs ~20 us per run
    system = fns.system
    events = system.events
    t_out = np.asarray(t_out, dtype=float)
    n_out = len(t_out)
    y = np.array(y0, dtype=float)
    p = np.array(p, dtype=float)
    Y = np.empty((n_out, system.n_states))
    P = np.empty((n_out, system.n_params))
    stats = {"nfev": 0, "njev": 0, "nsteps": 0, "nsegments": 0}
    state = np.array([ev.initial_value for ev in events], dtype=bool)
    pending: list[_Pending] = []
    counter = {"seq": 0, "fired": 0}
    t = float(t0)
    segmenter.begin_run()

    def scalar(f, t, y, p):
        return float(np.asarray(f(t, y, p), dtype=float).reshape(-1)[0])

    def transitions(t, y, p, forced=()):
        cur = fns.triggers_at_equality(t, y, p, forced) if forced else fns.triggers(t, y, p)
        for i in np.flatnonzero(cur != state):
            ev = events[i]
            if cur[i]:
                delay = scalar(fns.delays[i], t, y, p) if fns.delays[i] is not None else 0.0
                vals = None
                if ev.use_values_from_trigger_time:
                    vals = _values(fns, i, t, y, p)
                pending.append(_Pending(t + delay, i, vals, counter["seq"]))
                counter["seq"] += 1
            elif not ev.persistent:
                pending[:] = [q for q in pending if q.event != i]
            state[i] = cur[i]

    def execute_due(t, y, p, forced=()):
        """Fire and execute what is due at ``t``. ``forced``: switches of ``==`` / ``!=``
        relations at their root (the instant they hold), as long as no assignment moves
        them."""
        at_root = fns.switches(t, y, p) if forced else None
        for _ in range(MAX_EVENTS_AT_ONE_TIME):
            if forced:
                now = fns.switches(t, y, p)
                forced = tuple(k for k in forced if now[k] == at_root[k])
            transitions(t, y, p, forced)
            tol = 1e-12 * max(1.0, abs(t))
            due = [q for q in pending if q.time <= t + tol]
            if not due:
                return
            def prio(q):
                f = fns.priorities[q.event]
                return scalar(f, t, y, p) if f is not None else -np.inf
            prios = [prio(q) for q in due]
            top = max(prios)
            tied = [q for q, pr in zip(due, prios) if pr == top]
            if len(tied) > 1 and np.isfinite(top):
                nonlocal rng
                rng = rng or np.random.default_rng(seed)
                q = tied[rng.integers(len(tied))]   # equal priorities: random order (SBML L3 4.11.6)
            else:
                q = min(tied, key=lambda q: q.seq)
            pending.remove(q)
            vals = q.values if q.values is not None else _values(fns, q.event, t, y, p)
            factors = fns.event_factors[q.event] if fns.event_factors else None
            if factors is not None:   # e.g. the compartment size now, for a concentration
                with np.errstate(all="ignore"):
                    vals = vals * np.asarray(factors(t, y, p), dtype=float).reshape(-1)
            for (kind, idx, _), v in zip(events[q.event].assignments, vals):
                (y if kind == "y" else p)[idx] = v
            counter["fired"] += 1
        raise RuntimeError(f"more than {MAX_EVENTS_AT_ONE_TIME} event executions at t = {t}")

    history = None
    if getattr(fns, "delayed", None) is not None:
        y_init, p_init = y.copy(), p.copy()
        history = History(fns.delayed, t, system.n_states,
                          before_start or (lambda s: (y_init, p_init)))
        history.point(t, y, p)
        fns.delayed.history = history
    k = 0
    if events:
        execute_due(t, y, p)
        if history is not None and counter["fired"]:
            history.point(t, y, p)
    while k < n_out and t_out[k] <= t:
        Y[k], P[k] = y, p
        k += 1
    t_final = float(t_out[-1]) if n_out else t
    while t < t_final or (k < n_out):
        t_next = min((q.time for q in pending), default=np.inf)
        t_end = min(t_final, t_next)
        seg = segmenter.integrate(t, y, p, t_out[k:], t_end, state.copy())
        stats["nsegments"] += 1
        for key, v in seg.stats.items():
            stats[key] = stats.get(key, 0) + v
        Y[k:k + seg.n_out] = seg.y_out
        P[k:k + seg.n_out] = p
        k_seg_start, k = k, k + seg.n_out
        if seg.status == "fail":
            return RunResult(t_out[:k], Y[:k], P[:k], False, seg.message, seg.t_stop, seg.y_stop, stats, counter["fired"])
        t, y = float(seg.t_stop), np.array(seg.y_stop, dtype=float)
        if events:
            fired_before = counter["fired"]
            try:
                if seg.equal:   # the instant of an == / != relation, then just after it
                    execute_due(t, y, p, seg.equal)
                execute_due(t, y, p)
            except RuntimeError as err:
                return RunResult(t_out[:k], Y[:k], P[:k], False, str(err), t, y, stats, counter["fired"])
            if counter["fired"] != fired_before:
                if history is not None:
                    history.point(t, y, p)
                tol = 1e-9 * max(1.0, abs(t))
                for j in range(k_seg_start, k):
                    if abs(t_out[j] - t) <= tol:
                        Y[j], P[j] = y, p
        while k < n_out and t_out[k] <= t:
            Y[k], P[k] = y, p
            k += 1
        if seg.status == "end" and t >= t_final and k >= n_out:
            break
    return RunResult(t_out, Y, P, True, "", stats=stats, n_events=counter["fired"])


def _values(fns: NumpyFunctions, i: int, t, y, p) -> np.ndarray:
    f = fns.event_values[i]
    if f is None:
        return np.zeros(0)
    with np.errstate(all="ignore"):
        return np.asarray(f(t, y, p), dtype=float).reshape(-1)
