"""Steady states: damped Newton on the analytic Jacobian with conservation laws held fixed,
falling back to integration (which also polishes a Newton start that went astray).

Conserved moieties are the left null space of the Jacobian: vectors ``l`` with
``l @ J(y) = 0`` at several points. Newton then solves the square system
``[Q f(y); L (y - y0)] = 0`` where ``L`` spans the conservation laws and ``Q`` its complement.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from simulator.codegen.numpy_fns import NumpyFunctions
from simulator.numeric import small_linear_algebra
from simulator.results import SteadyState, provenance
from simulator.solvers.scipy_backend import ScipySegmenter


def conservation_laws(jac, y0, p, rng=None) -> np.ndarray:
    """Rows spanning the left null space of J at three nearby points, shape (m, n)."""
    n = len(y0)
    if n == 0:
        return np.zeros((0, 0))
    rng = np.random.default_rng(0) if rng is None else rng
    with np.errstate(all="ignore"):
        mats = [jac(0.0, y0, p)]
        for _ in range(2):
            y = np.abs(y0) * np.exp(rng.normal(0.0, 0.3, n)) + rng.uniform(0.01, 1.0, n)
            mats.append(jac(0.0, y, p))
    stack = np.hstack(mats)
    if not np.all(np.isfinite(stack)):
        return np.zeros((0, n))
    u, s, _ = np.linalg.svd(stack)
    scale = s[0] if s.size and s[0] > 0 else 1.0
    rank = int(np.sum(s > 1e-10 * scale))
    return u[:, rank:].T


#: Newton gives up when its merit has not halved in this many iterations, all of them
#: damped steps (integration, the fallback, takes over): a stalled search otherwise runs
#: to ``max_iter`` with line searches of up to 30 rate evaluations each
STALL_WINDOW = 10


def _residual(f, y) -> float:
    return float(np.max(np.abs(f) / np.maximum(1.0, np.abs(y)))) if len(y) else 0.0


def _merit(f, y) -> float:
    """The line search's merit: the scaled residual's 2-norm, which a Newton step
    decreases (its max-norm need not)."""
    return float(np.linalg.norm(f / np.maximum(1.0, np.abs(y)))) if len(y) else 0.0


def repels(fns, y, p, L) -> bool:
    """Whether the steady state ``y`` is unstable: the Jacobian restricted to the states the
    conservation laws ``L`` leave free has an eigenvalue with a positive real part. A
    simulation leaves it (unless it starts exactly on it, or on an invariant set through
    it)."""
    Q = _complement(L, len(y))
    if Q.shape[0] == 0:
        return False
    ev = np.linalg.eigvals(Q @ fns.jac(0.0, y, p) @ Q.T)
    if not np.all(np.isfinite(ev)):
        return False
    return bool(np.max(ev.real) > 1e-9 * max(1.0, float(np.max(np.abs(ev)))))


def newton(fns, y0, p, L, *, tol, max_iter=50):
    """Damped Newton on ``[Q f; L (y - y0)]``; returns (y, converged, residual)."""
    n = len(y0)
    y = y0.copy()
    target = L @ y0
    Q = _complement(L, n)
    merits: list[float] = []
    steps: list[float] = []          # the step length each line search took
    for _ in range(max_iter):
        f = fns.rhs(0.0, y, p)
        res = _residual(f, y)
        if not np.isfinite(res):
            return y, False, np.inf
        if res < tol:
            return y, True, res
        J = fns.jac(0.0, y, p)
        A = np.vstack([Q @ J, L])
        b = -np.concatenate([Q @ f, L @ y - target])
        try:
            dy = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:
            dy = np.linalg.lstsq(A, b, rcond=None)[0]
        lam = 1.0
        merit = _merit(f, y)
        if len(merits) >= STALL_WINDOW and merit > 0.5 * merits[-STALL_WINDOW] \
                and max(steps[-STALL_WINDOW:]) < 1.0:
            return y, False, res          # stalled: damped steps that go nowhere
        merits.append(merit)
        for _ in range(30):
            y_new = y + lam * dy
            f_new = fns.rhs(0.0, y_new, p)
            if np.all(np.isfinite(f_new)) and _merit(f_new, y_new) < (1 - 1e-4 * lam) * merit \
                    and np.all(y_new >= -1e-9 * np.maximum(1.0, np.abs(y))):
                break
            lam *= 0.5
        else:
            return y, False, res
        steps.append(lam)
        y = y_new
    f = fns.rhs(0.0, y, p)
    res = _residual(f, y)
    return y, res < tol, res


def _near(a, b, rtol=1e-6) -> bool:
    return bool(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)), initial=0.0) < rtol)


def _complement(L, n):
    if L.shape[0] == 0:
        return np.eye(n)
    _, _, vt = np.linalg.svd(L)
    return vt[L.shape[0]:]


class _Frozen:
    """The system with some states held fixed (their rate of change set to zero)."""

    def __init__(self, fns, frozen: np.ndarray):
        self.fns, self.keep = fns, ~frozen
        self.system = fns.system

    def rhs(self, t, y, p):
        return self.fns.rhs(t, y, p) * self.keep

    def jac(self, t, y, p):
        return self.fns.jac(t, y, p) * self.keep[:, None]

    def triggers(self, t, y, p):
        return np.zeros(0, dtype=bool)


class _Native:
    """The held system's compiled rate and dense Jacobian, for Newton and the
    conservation-law search when the relaxation is compiled (~50x cheaper per call than the
    numpy functions)."""

    def __init__(self, native, system):
        self.native, self.system = native, system

    def rhs(self, t, y, p):
        return self.native.rhs_py(t, y, p)

    def jac(self, t, y, p):
        return self.native.jac_py(t, y, p)


def relaxation_options(options):
    """The settings the integration fallback runs with: ``options`` at rtol 1e-8 at most,
    with no step-size bounds (the fallback's horizons grow fourfold up to ``max_time``)."""
    return replace(options, rtol=min(options.rtol, 1e-8), first_step=None, max_step=None)


def find_steady_state(numpy_fns: NumpyFunctions, y0, p, *, tol, max_time, options,
                      exclude=(), overrides=None, relax=None, stable=True) -> SteadyState:
    """Newton from ``(y0, p)``, with integration as the fallback; see
    :func:`simulator.steady_state`. States in ``exclude`` are held at their value in ``y0``.

    ``relax`` integrates the fallback: a segmenter of the system with ``exclude`` held and
    no events (the compiled one, :meth:`simulator.api.CompiledModel.relaxation`); None
    integrates the numpy functions with scipy's LSODA.

    With ``stable``, a Newton root that :func:`repels` is refused (integration takes
    over) unless the integration has already reached it; without, any root is taken, as
    AMICI's Newton-first search takes it (PEtab pre-equilibration)."""
    with small_linear_algebra():
        return _find_steady_state(numpy_fns, y0, p, tol=tol, max_time=max_time,
                                  options=options, exclude=exclude, overrides=overrides,
                                  relax=relax, stable=stable)


def _find_steady_state(numpy_fns: NumpyFunctions, y0, p, *, tol, max_time, options,
                       exclude=(), overrides=None, relax=None, stable=True) -> SteadyState:
    system = numpy_fns.system
    frozen = np.array([sid in set(exclude) for sid in system.state_ids], dtype=bool)
    native = getattr(relax, "fns", None)
    fns = _Native(native, system) if native is not None else _Frozen(numpy_fns, frozen)
    L = conservation_laws(fns.jac, y0, p)
    with np.errstate(all="ignore"):
        y, ok, res = newton(fns, y0, p, L, tol=tol)
        refused = ok and stable and repels(fns, y, p, L)
    ok = ok and not refused
    method = "newton"
    message = ""
    if not ok:
        method = "integration"
        seg = relax if relax is not None else ScipySegmenter(
            fns, replace(relaxation_options(options), method="LSODA"))
        seg.begin_run()
        y_cur, t = y0.copy(), 0.0
        horizon = 10.0
        no_events = np.zeros(0, dtype=bool)
        while t < max_time:
            out = seg.integrate(t, y_cur, p, np.zeros(0), t + horizon, no_events)
            if out.status == "fail":
                message = f"integration failed at t = {out.t_stop:g}: {out.message}"
                break
            y_cur, t = out.y_stop.copy(), t + horizon
            res = _residual(fns.rhs(t, y_cur, p), y_cur)
            if res < tol:
                ok = True
                break
            with np.errstate(all="ignore"):
                y_try, ok_try, res_try = newton(fns, y_cur, p, L, tol=tol)
                if ok_try and stable and not _near(y_try, y_cur) and repels(fns, y_try, p, L):
                    refused, ok_try = True, False
            if ok_try:
                y, ok, res, method = y_try, True, res_try, "integration+newton"
                break
            horizon *= 4.0
        if ok and method == "integration":
            y = y_cur
        elif not ok:
            y = y_cur
            message = message or f"no steady state within t = {max_time:g} (residual {res:.3g})"
            if refused:
                message += ("; Newton found a root that is unstable (an eigenvalue with a "
                            "positive real part), which a simulation leaves: stable=False "
                            "accepts it")
    with np.errstate(all="ignore"):
        values = numpy_fns.outputs(np.array([0.0]), y[None, :], list(p))[0]
    ids = numpy_fns.output_ids
    vals = dict(zip(ids, values))
    state = {sid: float(vals.get(sid, np.nan)) for sid in system.state_ids}
    return SteadyState(
        converged=bool(ok), residual=float(res), method=method, ids=ids, values=values, state=state,
        y=y, params={k: float(v) for k, v in zip(system.param_ids, p)}, message=message,
        provenance=provenance(system.model_hash, tol=tol, exclude=list(exclude),
                              overrides=overrides),
        model_id=system.model_id,
    )
