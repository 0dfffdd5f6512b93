"""The reference backend: scipy's LSODA / BDF / Radau stepped one step at a time.

Stepping by hand (``OdeSolver.step``) gives us dense output for the requested times and lets
event triggers of any boolean form be located by bisection, which ``solve_ivp(events=)``
(continuous root functions only) cannot do.
"""
from __future__ import annotations

import numpy as np

from simulator.codegen.numpy_fns import NumpyFunctions
from simulator.errors import IntegrationError, InvalidValueError
from simulator.solvers.base import Segment, Segmenter, SolverOptions

_SAMPLES = 8     # switch samples per step (as the compiled backend's trigger samples)

# SolverOptions.method values this backend runs ("auto" and "scipy" mean LSODA), each the
# name of its scipy.integrate class (scipy loads when a segmenter is built: a compiled run
# never needs it)
METHODS = ("LSODA", "BDF", "Radau", "RK45", "DOP853")


class ScipySegmenter(Segmenter):
    """Integrate segments with a scipy ``OdeSolver``; see :mod:`simulator.solvers.base`.

    ``native`` (the model's :class:`~simulator.codegen.jit.NativeFunctions`), when given,
    supplies the rate of change and the Jacobian instead of the numpy functions: ~50x
    cheaper per call, and no Jacobian to differentiate and print. The sweeps' fallback uses
    it: what it checks is the integrator, and scipy's stays independent of ours."""

    name = "scipy"

    def __init__(self, fns: NumpyFunctions, options: SolverOptions = SolverOptions(), *,
                 native=None):
        method = "LSODA" if options.method in ("auto", "scipy") else options.method
        if method not in METHODS:
            raise InvalidValueError(f"unknown scipy method '{method}'; choose one of {sorted(METHODS)}")
        from scipy import integrate    # heavy (~0.15 s), and only this backend uses it
        self.solver_class = getattr(integrate, method)
        self.fns = fns
        self.options = options
        self.method = method
        self.n = fns.system.n_states
        self.native = native

    def integrate(self, t0, y0, p, t_out, t_end, trig0) -> Segment:
        fns, opt = self.fns, self.options
        n = self.n
        p = np.asarray(p, dtype=float)
        stats = {"nfev": 0, "njev": 0, "nsteps": 0}
        if n == 0:  # nothing to integrate; a dummy state lets the solver carry time
            fun = lambda t, y: np.zeros(1)
            jac = lambda t, y: np.zeros((1, 1))
            y_start = np.zeros(1)
        elif self.native is not None:
            fun = lambda t, y: self.native.rhs_py(t, y, p)
            jac = lambda t, y: self.native.jac_py(t, y, p)
            y_start = np.asarray(y0, dtype=float)
        else:
            fun = lambda t, y: fns.rhs(t, y, p)
            jac = lambda t, y: fns.jac(t, y, p)
            y_start = np.asarray(y0, dtype=float)
        real = (lambda y: y[:n])
        t_out = np.asarray(t_out, dtype=float)
        y_out = np.empty((len(t_out), n))
        k = 0
        watch = len(trig0) > 0
        if t_end <= t0:
            while k < len(t_out) and t_out[k] <= t0:
                y_out[k] = real(y_start)
                k += 1
            return Segment("end", t0, real(y_start).copy(), k, y_out[:k], stats=stats)
        kw = dict(rtol=opt.rtol, atol=opt.atol)
        if self.method in ("LSODA", "BDF", "Radau"):
            kw["jac"] = jac
        if opt.first_step:
            kw["first_step"] = min(opt.first_step, t_end - t0)
        if opt.max_step:
            kw["max_step"] = opt.max_step
        delayed = getattr(fns, "delayed", None)
        history = delayed.history if delayed is not None else None
        if history is not None:
            p_past = p.copy()   # the driver changes p in place at events; the past keeps this one
            history.point(t0, y_start, p_past)
            tau = delayed.max_step(t0, y_start[:n], p)
            if tau is not None:  # no step jumps over a delay: lookups stay in the recorded past
                kw["max_step"] = min(kw.get("max_step", np.inf), tau)
        with np.errstate(all="ignore"):
            solver = self.solver_class(fun, t0, y_start, t_end, **kw)
            while solver.status == "running":
                if stats["nsteps"] >= opt.max_steps:
                    return self._fail(f"more than {opt.max_steps} steps", solver, k, y_out, stats)
                try:
                    msg = solver.step()
                except IntegrationError as err:  # the model's math refused a trial point
                    return self._fail(str(err), solver, k, y_out, stats)
                except ValueError as err:  # LAPACK refuses a non-finite Jacobian (BDF, Radau)
                    if "infs or NaNs" not in str(err):
                        raise
                    return self._fail(f"the Jacobian became non-finite near t = {solver.t:g}",
                                      solver, k, y_out, stats)
                stats["nsteps"] += 1
                if solver.status == "failed":
                    return self._fail(msg or "step failed", solver, k, y_out, stats)
                if not np.all(np.isfinite(solver.y)):
                    return self._fail("non-finite state", solver, k, y_out, stats)
                t_a, t_b = solver.t_old, solver.t
                dense = solver.dense_output()
                if history is not None:
                    history.step(t_a, t_b, dense, solver.y, p_past)
                t_stop, equal = self._first_flip(dense, t_a, t_b, p, trig0) if watch \
                    else (None, ())
                if t_stop is not None:
                    if history is not None:
                        history.cut(t_stop)
                    while k < len(t_out) and t_out[k] < t_stop:
                        y_out[k] = real(dense(t_out[k]))
                        k += 1
                    y_stop = real(dense(t_stop)).copy()
                    self._count(solver, stats)
                    return Segment("root", t_stop, y_stop, k, y_out[:k], stats=stats,
                                   equal=equal)
                while k < len(t_out) and t_out[k] <= t_b:
                    y_out[k] = real(dense(t_out[k])) if t_out[k] < t_b else real(solver.y)
                    k += 1
        self._count(solver, stats)
        return Segment("end", float(solver.t), real(solver.y).copy(), k, y_out[:k], stats=stats)

    def _first_flip(self, dense, t_a, t_b, p, trig0):
        """Earliest time in (t_a, t_b] at which a trigger differs from ``trig0``, or an
        ``==`` / ``!=`` relation reaches its root: ``(t, equal)`` with ``equal`` the switches
        of such relations at their root there; ``(None, ())`` when neither happens.

        The switches (``lhs - rhs`` of the relations inside the triggers) are sampled at
        every eighth of the step, and the triggers checked just past each sign change
        (located by bisection), so a trigger that is true only inside one step is not
        missed, nor one true only between two samples (as on the compiled backend)."""
        fns, n = self.fns, self.n
        flipped = lambda t: np.any(fns.triggers(t, dense(t)[:n], p) != trig0)
        switch = lambda t: fns.switches(t, dense(t)[:n], p)
        ts = np.linspace(t_a, t_b, _SAMPLES + 1)
        ts[-1] = t_b
        values = fns.switches_at(ts, dense(ts)[:n], p)
        candidates, roots = [], {}
        for t_lo, t_hi, s_lo, s_hi in zip(ts[:-1], ts[1:], values[:-1], values[1:]):
            for i in np.flatnonzero(np.sign(s_lo) != np.sign(s_hi)):
                sign_lo = np.sign(s_lo[i])
                lo, hi = _bracket(lambda t: np.sign(switch(t)[i]) != sign_lo, t_lo, t_hi)
                candidates.append(hi)
                if i in fns.equalities and sign_lo != 0 and i not in roots and \
                        abs(switch(lo)[i]) + abs(switch(hi)[i]) \
                        <= 0.5 * (abs(s_lo[i]) + abs(s_hi[i])):
                    roots[i] = hi        # a continuous crossing, not a jump over 0
        t_eq = min(roots.values(), default=np.inf)
        t_prev = t_a
        for t_c in sorted(candidates) + [t_b]:
            if flipped(t_c):
                t_flip = _bisect(flipped, t_prev, t_c)
                return t_flip, _at(roots, t_flip)
            if t_c >= t_eq:
                return t_eq, _at(roots, t_eq)
            t_prev = t_c
        return None, ()

    def _fail(self, message, solver, k, y_out, stats):
        self._count(solver, stats)
        y = np.asarray(solver.y[: self.n], dtype=float).copy()
        return Segment("fail", float(solver.t), y, k, y_out[:k], message=message, stats=stats)

    @staticmethod
    def _count(solver, stats):
        stats["nfev"] += int(getattr(solver, "nfev", 0))
        stats["njev"] += int(getattr(solver, "njev", 0))


def _bracket(changed, t_a: float, t_b: float) -> tuple[float, float]:
    """``(lo, hi)`` within ~1e-12 relative, ``changed(hi)`` true and ``changed(lo)`` false
    (or ``lo == t_a``), for ``changed`` false at ``t_a`` and true at ``t_b``."""
    tol = 1e-12 * max(1.0, abs(t_b))
    for _ in range(200):
        if t_b - t_a <= tol:
            break
        mid = 0.5 * (t_a + t_b)
        if changed(mid):
            t_b = mid
        else:
            t_a = mid
    return t_a, t_b


def _bisect(changed, t_a: float, t_b: float) -> float:
    """Smallest t in (t_a, t_b] (to ~1e-12 relative) at which ``changed(t)`` is true."""
    return _bracket(changed, t_a, t_b)[1]


def _at(roots: dict, t: float) -> tuple:
    """The switches of ``roots`` (index -> root time) whose root is at ``t``."""
    tol = 1e-10 * max(1.0, abs(t))
    return tuple(sorted(int(i) for i, r in roots.items() if abs(r - t) <= tol))
