"""One chunk of a sweep: the unit of work an executor runs and a store keeps.

A :class:`ChunkTask` carries the model (pickled as its SBML text, rebuilt once per process),
the members' conditions, the output times and readouts. :func:`run_chunk` solves it in the
process it runs in with the compiled ensemble integrator: every member with its own step
size and error control, members in parallel over the cores in small dynamic chunks. A model
without events (and of moderate size, :func:`simulator.solvers.lanes.suits`) runs its
members eight at a time on the vector lanes
(:func:`simulator.solvers.lanes.integrate_many_lanes`), however few there are, so that a
member's result never depends on how the sweep was cut into chunks; other models one at a
time (:func:`simulator.solvers.compiled.integrate_many`).

Events
------
Models with events keep exact SBML semantics. Where the compiled event driver covers the
events (:mod:`simulator.solvers.compiled_events`: no delays, priorities or ``==`` triggers,
e.g. every dosing schedule), all members run through it in parallel, events included
(:func:`~simulator.solvers.compiled_events.run_compiled_many`). Otherwise all members first
run through ``integrate_many``, which stops a member at its first trigger change. Members
that never see a trigger change (and whose triggers at the start equal their
``initialValue``) fire no event, so their result is final. Every other member is re-run
from the start by the event driver (:func:`simulator.solvers.driver.run`) with the compiled
single-run backend.

Failures
--------
A member whose initial values are not finite, whose integration fails, or whose readouts
turn non-finite gets a non-zero status and a reason; its values are NaN.

Fallback to the reference integrator
------------------------------------
With ``ChunkTask.fallback`` set (a scipy method, Radau by default in sweeps), a member the
compiled integrator fails on (any integrator status < 0, also through the event driver) is
run again from the start by the event driver on the scipy backend with those options. If
that succeeds, the failure was the compiled integrator's: the member keeps the reference
result, ``ChunkResult.fallback`` is True and its ``reason`` keeps why the compiled run
failed (its status is 0). If the reference fails too, the model itself fails there: status
:data:`MODEL_FAILURE`, and the reason gives both failures, the time and the states that
went non-finite or ran away.

Status codes
------------
``0`` ok; ``-1 .. -5`` the compiled integrator's failures (without a fallback,
:func:`simulator.solvers.compiled.failure_message`); :data:`BAD_START` (-100) non-finite
initial values or parameters; :data:`BAD_READOUT` (-101) a non-finite readout;
:data:`EVENT_FAIL` (-102) the event driver failed (without a fallback); :data:`WORKER_LOST`
(-103) the worker running the chunk was lost on every try; :data:`MODEL_FAILURE` (-104) the
compiled and the reference integrator both failed; :data:`NO_STEADY_STATE` (-105) the
member's untreated steady state could not be computed, so it was not run
(:func:`simulator.ensemble.members.run_treatment`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numba
import numpy as np

from simulator.api import compile_model
from simulator.codegen.common import SymbolMap
from simulator.codegen.jit import compile_expressions, compile_lanes, compile_native
from simulator.codegen.numpy_fns import lambdify
from simulator.codegen.kernels import fill_members, fill_outputs
from simulator.errors import ModelError
from simulator.io.limits import too_deep
from simulator.model import Model, as_number
from simulator.semantics import refuse_delays
from simulator.solvers.base import SolverOptions
from simulator.solvers.compiled import STAT_NAMES, failure_message, integrate_many
from simulator.solvers.lanes import integrate_many_lanes, lane_chunk, suits
from simulator.solvers.compiled_events import (FAIL_EVENTS, EventTables, covers,
                                               run_compiled_many, too_many_events)
from simulator.solvers.driver import run
from simulator.solvers.scipy_backend import ScipySegmenter

__all__ = ["ChunkTask", "ChunkResult", "run_chunk", "lost_chunk", "prepared", "BAD_START",
           "BAD_READOUT", "EVENT_FAIL", "WORKER_LOST", "MODEL_FAILURE"]


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of a sweep: members ``start .. start + len(values)``.

    ``groups`` are ``(overrides, rows)``: treatment overrides (id -> value) shared by the
    members at ``rows`` (indices into this chunk); ``ids``/``values`` the per-member
    columns, which take precedence. ``fallback``: options of the scipy reference
    integrator for members the compiled one fails on, or None (see the module docstring).
    """

    model: Model
    index: int
    start: int
    ids: tuple
    values: np.ndarray
    groups: tuple
    t_out: np.ndarray
    t0: float
    readouts: tuple
    options: SolverOptions
    fallback: SolverOptions | None = None
    threads: int | None = None


@dataclass(frozen=True)
class ChunkResult:
    index: int
    start: int
    values: np.ndarray      # (c, n_t, n_r)
    status: np.ndarray      # (c,) int64: 0 ok, < 0 a failure (the module's status codes)
    reason: list            # (c,) str: why it failed, or why the compiled run fell back; else ""
    nsteps: np.ndarray      # (c,) int64
    fallback: np.ndarray    # (c,) bool: solved by the reference integrator


BAD_START, BAD_READOUT, EVENT_FAIL, WORKER_LOST, MODEL_FAILURE = -100, -101, -102, -103, -104
NO_STEADY_STATE = -105


class Prepared:
    """What a process needs to run chunks of one model: system, native code, readout fns."""

    def __init__(self, model: Model):
        refuse_delays(model, "the compiled ensemble solver behind sweeps")
        system = compile_model(model).system
        self.model = model
        self.system = system
        with too_deep(f"model '{model.id}': native code generation"):
            self.fns = compile_native(system, wait=True)   # members agree to the bit
        self._readouts: dict[tuple, object] = {}
        self._references: dict = {}          # options -> the fallback's scipy backend
        self._lock = threading.Lock()
        self.used_params = system.used_params()
        # the events as the compiled event driver's tables, where it covers them
        self.event_tables = (EventTables(system)
                             if system.events and covers(system, self.fns) is None else None)

    def lanes(self):
        """The step functions over lanes (:func:`~simulator.codegen.jit.compile_lanes`),
        compiled on the first sweep that uses them."""
        with too_deep(f"model '{self.model.id}': native code generation"):
            return compile_lanes(self.system)

    def native_readouts(self, readouts: tuple, *, lanes: bool = False):
        """A native ``f(t, y, p, out)`` computing ``readouts`` (built once per tuple; with
        ``lanes``, on eight output rows at once), or None when their math has no native form
        (then :meth:`readout_fn` is used)."""
        key = ("native", lanes, readouts)
        with self._lock:
            if key not in self._readouts:
                try:
                    self._readouts[key] = compile_expressions(
                        self.system, [self.system.outputs[r] for r in readouts], lanes=lanes)
                except ModelError:
                    self._readouts[key] = None
            return self._readouts[key]

    def readout_fn(self, readouts: tuple):
        """A numpy function of ``(t, ys, ps)`` giving the columns of ``readouts``."""
        with self._lock:
            f = self._readouts.get(readouts)
            if f is None:
                smap = SymbolMap.of(self.system)
                exprs = [as_number(self.system.outputs[r]) for r in readouts]
                f = lambdify(smap, exprs, "readout")
                self._readouts[readouts] = f
            return f


_PREPARED: dict[str, Prepared] = {}
_PREP_LOCK = threading.Lock()


def prepared(model: Model) -> Prepared:
    """The per-process compiled form of ``model`` (built once per model hash)."""
    with _PREP_LOCK:
        hit = _PREPARED.get(model.hash)
        if hit is None:
            hit = Prepared(model)
            _PREPARED[model.hash] = hit
        return hit


_BUFFERS = threading.local()


def _buffer(shape) -> np.ndarray:
    """A float64 work array of ``shape``, reused between chunks of this thread."""
    size = int(np.prod(shape))
    buf = getattr(_BUFFERS, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _BUFFERS.buf = buf
    return buf[:size].reshape(shape)


def _readouts(prep, readouts, t_out, Y_out, P, row, ok, out) -> np.ndarray:
    """Fill ``out[ok]`` with the readouts of members ``ok`` (states ``Y_out[row[m]]``) and
    return which of them have a non-finite value. Native and parallel when possible."""
    fn = prep.native_readouts(readouts, lanes=True)
    if fn is not None:
        rows = np.full(len(row), -1, dtype=np.int64)
        rows[ok] = row[ok]
        return fill_members(fn, t_out, Y_out, P, rows, out)[ok]
    f = prep.readout_fn(readouts)
    Yk = Y_out if ok.size == Y_out.shape[0] else Y_out[row[ok]]
    ys = [Yk[:, :, i] for i in range(prep.system.n_states)]
    ps = [P[ok, j:j + 1] for j in range(prep.system.n_params)]
    with np.errstate(all="ignore"):
        cols = f(t_out, ys, ps)
    for r, col in enumerate(cols):
        out[ok, :, r] = np.broadcast_to(np.asarray(col, dtype=float), (ok.size, len(t_out)))
    return ~np.isfinite(out[ok]).all(axis=(1, 2))


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Solve one chunk (in this process); see :class:`ChunkTask`."""
    prep = prepared(task.model)
    system, fns = prep.system, prep.fns
    c = task.values.shape[0]
    n_t, n_r = len(task.t_out), len(task.readouts)
    opts = task.options
    Y0 = np.empty((c, system.n_states))
    P = np.empty((c, system.n_params))
    for overrides, rows in task.groups:
        rows = np.asarray(rows, dtype=int)
        shared = {k: v for k, v in overrides.items() if k not in task.ids}
        Y0[rows], P[rows] = system.init.values_many(shared, task.ids, task.values[rows], task.t0)
    status = np.zeros(c, dtype=np.int64)
    reason = [""] * c
    nsteps = np.zeros(c, dtype=np.int64)
    fallback = np.zeros(c, dtype=bool)
    driven: dict[int, np.ndarray] = {}    # member -> parameters in force at each output time
    bad_y = ~np.isfinite(Y0)
    bad_p = ~np.isfinite(P[:, prep.used_params]) if prep.used_params.size else np.zeros((c, 0), bool)
    bad = bad_y.any(axis=1) | bad_p.any(axis=1)
    for m in np.flatnonzero(bad):
        names = [system.state_ids[i] for i in np.flatnonzero(bad_y[m])]
        names += [system.param_ids[prep.used_params[j]] for j in np.flatnonzero(bad_p[m])]
        status[m] = BAD_START
        reason[m] = (f"initial value of {', '.join(repr(x) for x in names[:5])} is not a finite "
                     f"number")
    good = np.flatnonzero(~bad)
    t_out = np.ascontiguousarray(task.t_out, dtype=float)
    t_end = float(t_out[-1])
    # member m's states are Y_out[row[m]]: a reused buffer, no copy when all start well
    Y_out = _buffer((good.size, n_t, system.n_states))
    row = np.full(c, -1, dtype=np.int64)
    row[good] = np.arange(good.size)
    if good.size:
        old = numba.get_num_threads()
        if task.threads:
            numba.set_num_threads(min(task.threads, numba.config.NUMBA_NUM_THREADS))
        compiled_events = prep.event_tables is not None   # events run in compiled code
        try:
            if compiled_events:
                res = run_compiled_many(fns, prep.event_tables, task.t0, Y0[good], P[good],
                                        t_out, rtol=opts.rtol, atol=opts.atol,
                                        first_step=opts.first_step or 0.0,
                                        max_step=opts.max_step or 0.0,
                                        max_steps=opts.max_steps, y_out=Y_out)
            elif suits(fns):
                res = integrate_many_lanes(fns, prep.lanes(), task.t0, Y0[good], P[good],
                                           t_out, t_end, rtol=opts.rtol, atol=opts.atol,
                                           first_step=opts.first_step or 0.0,
                                           max_step=opts.max_step or 0.0,
                                           max_steps=opts.max_steps,
                                           chunk=lane_chunk(good.size, numba.get_num_threads()),
                                           y_out=Y_out)
            elif system.n_states:
                res = integrate_many(fns, task.t0, Y0[good], P[good], t_out, t_end,
                                     rtol=opts.rtol, atol=opts.atol,
                                     first_step=opts.first_step or 0.0,
                                     max_step=opts.max_step or 0.0, max_steps=opts.max_steps,
                                     y_out=Y_out)
            else:     # nothing to integrate: every member reaches the end (events below)
                res = _no_states(good.size, t_end)
        finally:
            numba.set_num_threads(old)
        st = res["totals"] if compiled_events else res["stats"]
        i_steps = STAT_NAMES.index("nsteps")
        i_fail = STAT_NAMES.index("fail_index")
        i_out = STAT_NAMES.index("n_out")
        nsteps[good] = st[:, i_steps]
        trig_start_ok = np.ones(good.size, dtype=bool)
        if system.events and not compiled_events:
            init_vals = np.array([ev.initial_value for ev in system.events], dtype=bool)
            for g, m in enumerate(good):
                trig_start_ok[g] = np.array_equal(fns.triggers_py(task.t0, Y0[m], P[m]), init_vals)
        for g, m in enumerate(good):
            s = int(res["status"][g])
            run = None
            if compiled_events:
                if s < 0:
                    status[m] = EVENT_FAIL if s == FAIL_EVENTS else s
                    reason[m] = (too_many_events(float(res["t_stop"][g]))
                                 if s == FAIL_EVENTS else
                                 failure_message(s, float(res["t_stop"][g]), system.state_ids,
                                                 int(st[g, i_fail]), opts.max_steps))
                elif prep.event_tables.pcols.size:
                    driven[m] = _params_from(res["p_out"][g], P[m], prep.event_tables.pcols)
            elif system.events and (s == 1 or not trig_start_ok[g] or not system.n_states):
                s, msg, y_out, ns, run = _run_driver(task.model, opts, "compiled", Y0[m], P[m],
                                                     t_out, task.t0)
                Y_out[row[m]] = y_out
                nsteps[m] = ns
                if s < 0:
                    status[m] = EVENT_FAIL
                    reason[m] = msg
            elif s < 0:
                status[m] = s
                reason[m] = failure_message(s, float(res["t_stop"][g]), system.state_ids,
                                            int(st[g, i_fail]), opts.max_steps)
            if status[m] < 0 and task.fallback is not None:
                # without events the reference takes over at the last output ours reached
                kept = 0 if system.events else max(0, int(st[g, i_out]) - 1)
                run = _fall_back(task, m, Y0[m], P[m], t_out, Y_out[row[m]], status, reason,
                                 nsteps, fallback, kept)
            if status[m] == 0 and run is not None and system.events:
                driven[m] = _params_by_row(run, P[m], len(t_out))   # events may change them
    out = np.full((c, n_t, n_r), np.nan)
    ok = np.flatnonzero(status == 0)
    if ok.size and n_r:
        nonfinite = np.zeros(ok.size, dtype=bool)
        batch = np.array([m not in driven for m in ok], dtype=bool)
        if batch.any():
            nonfinite[batch] = _readouts(prep, tuple(task.readouts), t_out, Y_out, P, row,
                                         ok[batch], out)
        for k in np.flatnonzero(~batch):
            m = ok[k]
            out[m] = _readouts_by_row(prep, tuple(task.readouts), t_out, Y_out[row[m]],
                                      driven[m])
            nonfinite[k] = not np.isfinite(out[m]).all()
        for m in ok[nonfinite]:
            bad_r = [task.readouts[r] for r in range(n_r) if not np.isfinite(out[m, :, r]).all()]
            k_t = int(np.flatnonzero(~np.isfinite(out[m]).all(axis=1))[0])
            status[m] = BAD_READOUT
            reason[m] = (f"readout {', '.join(repr(b) for b in bad_r)} is not finite at "
                         f"t = {t_out[k_t]:g}")
            out[m] = np.nan
    out[status != 0] = np.nan
    return ChunkResult(task.index, task.start, out, status, reason, nsteps, fallback)


def lost_chunk(task: ChunkTask, why: str) -> ChunkResult:
    """The result of a chunk given up because its worker was lost: every member failed
    with status :data:`WORKER_LOST` and the reason ``why``."""
    c = task.values.shape[0]
    return ChunkResult(task.index, task.start,
                       np.full((c, len(task.t_out), len(task.readouts)), np.nan),
                       np.full(c, WORKER_LOST, dtype=np.int64),
                       [f"chunk {task.index} (members {task.start}..{task.start + c - 1}) not "
                        f"solved: {why}"] * c,
                       np.zeros(c, dtype=np.int64), np.zeros(c, dtype=bool))


def _fall_back(task, m, y0, p, t_out, y_row, status, reason, nsteps, fallback, kept=0):
    """Member ``m`` failed on the compiled integrator: run it with the reference one;
    returns that run (a ``RunResult``) when it succeeds, else None.

    With ``kept = k > 0`` (a model without events), the reference starts from output row
    ``k`` of ours (``y_row[k]`` at ``t_out[k]``, before our failure) rather than from the
    start: the stretch ours did solve needs no second opinion, and a failing member's
    reference run (~0.5 ms a step in scipy) was most of a sweep's time when a few of its
    members blow up."""
    ref = task.fallback
    ours = reason[m]
    start, t_start = (y_row[kept].copy(), float(t_out[kept])) if kept else (y0, task.t0)
    s, msg, y, ns, res = _run_reference(task.model, ref, start, p, t_out[kept:], t_start)
    nsteps[m] += ns
    since = f" (the reference from t = {t_start:g}, where ours had reached)" if kept else ""
    if s == 0:
        y_row[kept:] = y
        status[m] = 0
        fallback[m] = True
        reason[m] = f"compiled integrator: {ours}{since}"
        return res
    system = prepared(task.model).system
    status[m] = MODEL_FAILURE
    reason[m] = (f"model failure: {ours}; the reference integrator (scipy {ref.method}, rtol "
                 f"{ref.rtol:g}, atol {ref.atol:g}) fails too{since}: {msg}"
                 f"{_runaway(system.state_ids, y0, res.y_fail)}")


def _runaway(state_ids, y0, y_fail) -> str:
    """The states that went non-finite at a failure, else the three that moved farthest
    from their start (relative to it)."""
    if y_fail is None or len(y_fail) != len(state_ids):
        return ""
    y_fail = np.asarray(y_fail, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y_fail))
    if bad.size:
        return "; non-finite there: " + ", ".join(repr(state_ids[i]) for i in bad[:5])
    scale = max(float(np.mean(np.abs(y0))), 1e-300)   # a typical size of the states
    move = np.abs(y_fail - y0) / (np.abs(y0) + scale)
    far = np.argsort(-move)[:3]
    return "; running away there: " + ", ".join(f"'{state_ids[i]}' = {y_fail[i]:.4g} (from "
                                                f"{y0[i]:.4g})" for i in far)


def _run_driver(model, opts, backend, y0, p, t_out, t0):
    """One member through the event driver on ``backend`` ("compiled" or "scipy"):
    ``(status 0 or -1, message, y (n_t, n_states) NaN past a failure, nsteps, RunResult)``."""
    cm = compile_model(model)
    return _driver_outcome(cm.run(opts, backend, y0, p, t_out, t0=t0), len(t_out),
                           cm.system.n_states)


def _driver_outcome(res, n_t: int, n_states: int):
    """A driver's ``RunResult`` as ``(status, message, y, nsteps, res)`` (see
    :func:`_run_driver`)."""
    y = np.full((n_t, n_states), np.nan)
    y[:len(res.y)] = res.y
    ns = int(res.stats.get("nsteps", 0))
    if res.success:
        return 0, "", y, ns, res
    return -1, f"{res.message} (t = {res.t_fail:g})", y, ns, res


def _params_from(p_rec, p, pcols) -> np.ndarray:
    """The parameters in force at each output time ``(n_t, m)`` from the compiled driver's
    record of the columns ``pcols`` that events assign."""
    ps = np.empty((p_rec.shape[0], len(p)))
    ps[:] = p
    ps[:, pcols] = p_rec
    return ps


def _run_reference(model, opts, y0, p, t_out, t0):
    """As :func:`_run_driver` on the scipy backend, with the model's native rate of change
    and Jacobian (:class:`~simulator.solvers.scipy_backend.ScipySegmenter`)."""
    prep, numpy_fns = prepared(model), compile_model(model).numpy
    with prep._lock:
        seg = prep._references.get(opts)
        if seg is None:
            seg = prep._references[opts] = ScipySegmenter(numpy_fns, opts, native=prep.fns)
    return _driver_outcome(run(numpy_fns, seg, y0, p, t_out, t0=t0), len(t_out),
                           prep.system.n_states)


def _no_states(n: int, t_end: float) -> dict:
    """What ``integrate_many`` reports for members of a system without states."""
    return {"status": np.zeros(n, dtype=np.int64), "t_stop": np.full(n, t_end),
            "stats": np.zeros((n, len(STAT_NAMES)), dtype=np.int64)}


def _params_by_row(run, p, n_t: int) -> np.ndarray:
    """The parameters in force at each output time of a driver run ``(n_t, m)``."""
    ps = np.array(np.broadcast_to(p, (n_t, len(p))))
    ps[:len(run.p)] = run.p
    return ps


def _readouts_by_row(prep, readouts, t_out, Y, P_rows) -> np.ndarray:
    """The readouts of one member whose parameters change over time (events), row by row:
    ``(n_t, n_readouts)``."""
    fn = prep.native_readouts(readouts)
    out = np.empty((len(t_out), len(readouts)))
    if fn is not None:
        fill_outputs(fn, np.ascontiguousarray(t_out), np.ascontiguousarray(Y),
                     np.ascontiguousarray(P_rows), out, np.zeros(len(readouts), np.uint8))
        return out
    f = prep.readout_fn(readouts)
    with np.errstate(all="ignore"):
        cols = f(t_out, [Y[:, i] for i in range(Y.shape[1])],
                 [P_rows[:, j] for j in range(P_rows.shape[1])])
    for r, col in enumerate(cols):
        out[:, r] = np.broadcast_to(np.asarray(col, dtype=float), len(t_out))
    return out
