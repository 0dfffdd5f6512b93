"""numpy functions generated from an OdeSystem: the scipy reference backend and post-processing.

Expressions are renamed to our identifiers (:class:`~simulator.codegen.common.SymbolMap`)
and printed by sympy's ``lambdify``; no model text reaches the generated source.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from simulator.codegen.common import (SymbolMap, equality_switches, trigger_relations,
                                      trigger_switches)
from simulator.derivatives import system_jacobian
from simulator.errors import UnsupportedFeatureError
from simulator.model import Delay, as_number
from simulator.numeric import MODULES
from simulator.system import OdeSystem

def lambdify(smap: SymbolMap, exprs, what: str, delayed: "DelayedValues | None" = None) -> Callable:
    """A numpy function of ``(t, y, p)`` for ``exprs``: renamed (and checked) now, printed on
    first call, so that a model loads without printing functions it never uses. With
    ``delayed``, each ``Delay`` node becomes a call to it (see :class:`DelayedValues`)."""
    renamed = smap.rename_all(exprs, what)
    if delayed is None:
        return _Lazy(lambda: sympy.lambdify((smap.t, list(smap.y), list(smap.p)), renamed,
                                            modules=MODULES, cse=True))
    renamed = [delayed.calls(e, what) for e in renamed]
    modules = [dict(MODULES[0], **{_DELAYED.__name__: delayed}), *MODULES[1:]]
    return _Lazy(lambda: sympy.lambdify((smap.t, list(smap.y), list(smap.p)), renamed,
                                        modules=modules, cse=True))


_DELAYED = sympy.Function("_delayed_")   # printed call: _delayed_(k, t, tau)


class DelayedValues:
    """The ``delay(x, tau)`` nodes of one system, evaluated on the run's recorded trajectory.

    Generated code calls ``self(k, t, tau, now)`` for node ``k`` (``now``: ``x`` at the
    current state); that asks the current :attr:`history` (set by the driver at the start of
    each run, per thread) for ``x`` at ``t - tau``, or returns ``now`` when ``tau == 0``
    (``delay(x, 0)`` is ``x``, SBML L3v2 §3.4.7; the history only knows accepted steps). ``x[k]`` and ``x_before[k]`` are numpy functions of ``(s, y, p)``: ``x``
    on the trajectory and before the start time. ``tau[k]`` gives the delay,
    ``tau_fixed[k]`` says whether it depends only on parameters (then it is constant within
    a segment and bounds the step size).
    """

    def __init__(self, smap: SymbolMap):
        self.smap = smap
        self.nodes: dict = {}
        self.x: list = []
        self.x_before: list = []
        self.tau: list = []
        self.tau_fixed: list[bool] = []
        self._local = threading.local()

    @property
    def history(self):
        return getattr(self._local, "history", None)

    @history.setter
    def history(self, value):
        self._local.history = value

    def calls(self, expr, what: str):
        """``expr`` (renamed) with every Delay node replaced by a call
        ``_delayed_(k, t, tau, now)``."""
        if not expr.has(Delay):
            return expr
        mapping = {}
        todo = [expr]
        while todo:
            e = todo.pop()
            if isinstance(e, Delay):
                mapping[e] = _DELAYED(sympy.Integer(self._node(e, what)), self.smap.t,
                                      self.calls(e.args[1], what),
                                      self.calls(as_number(e.args[0]), what))
            else:
                todo.extend(e.args)
        return expr.xreplace(mapping)

    def _node(self, d, what: str) -> int:
        k = self.nodes.get(d)
        if k is None:
            k = self.nodes[d] = len(self.x)
            x, tau = d.args[0], d.args[1]
            before = d.args[2] if len(d.args) > 2 else None
            bare = lambda e: lambdify(self.smap, [as_number(e)], f"delayed math in {what}", self)
            self.x.append(_First(bare(x)))
            self.x_before.append(_First(bare(before)) if before is not None else self.x[-1])
            self.tau.append(_First(bare(tau)))
            self.tau_fixed.append(tau.free_symbols <= set(self.smap.p))
        return k

    def __call__(self, k, t, tau, now):
        history = self.history
        if history is None:
            raise UnsupportedFeatureError(["csymbol 'delay' can only be evaluated during a "
                                           "simulation (it needs the trajectory's past)"])
        if any(type(a) is np.ndarray for a in (t, tau, now)):
            t, tau, now = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (t, tau, now)))
            return np.array([n if di == 0 else history.value(k, ti, di)
                             for ti, di, n in zip(t.ravel(), tau.ravel(), now.ravel())]
                            ).reshape(t.shape)
        if tau == 0:
            return float(now)
        return history.value(k, float(t), float(tau))

    def max_step(self, t, y, p) -> float | None:
        """The smallest positive delay that is constant over a segment with parameters ``p``."""
        taus = [float(self.tau[k](t, y, p)) for k, fixed in enumerate(self.tau_fixed) if fixed]
        taus = [d for d in taus if d > 0 and np.isfinite(d)]
        return min(taus) if taus else None


class _First:
    """The single value of a one-expression generated function."""

    __slots__ = ("f",)

    def __init__(self, f):
        self.f = f

    def __call__(self, t, y, p):
        return self.f(t, y, p)[0]


class _Lazy:
    def __init__(self, build):
        self._build, self._f = build, None

    def __call__(self, *args):
        if self._f is None:
            self._f = self._build()
        return self._f(*args)


@dataclass(frozen=True)
class NumpyFunctions:
    """Vectorisable numpy functions of one system.

    ``rhs(t, y, p) -> (n,)``; ``jac(t, y, p) -> (n, n)`` (built on first use); ``triggers(t, y, p) -> bool (n_ev,)``;
    ``outputs(t, Y, p) -> (n_t, n_outputs)`` for ``Y`` of shape (n_t, n); ``event_values[i](t, y, p)``
    -> the assigned values of event i; ``event_factors``, ``delays``, ``priorities`` likewise
    (None when absent; see :class:`~simulator.system.EventSpec`).
    ``delayed``: the csymbol ``delay`` nodes (None when the system has none).
    ``switches(t, y, p) -> (n_switches,)``: ``lhs - rhs`` of each relation inside the
    triggers; ``equalities``: the indices of those of ``==`` / ``!=`` relations;
    ``triggers_at_equality(t, y, p, forced)``: the triggers with the ``==`` (``!=``)
    relations of the switches ``forced`` taken as true (false), as at their root.
    """

    system: OdeSystem
    rhs: Callable
    jac: Callable
    triggers: Callable
    switches: Callable
    output_ids: tuple[str, ...]
    _outputs: Callable
    event_values: tuple
    delays: tuple
    priorities: tuple
    delayed: DelayedValues | None = None
    equalities: tuple = ()
    _at_equality: Callable | None = None
    event_factors: tuple = ()
    switches_many: Callable | None = None

    def switches_at(self, ts, Y, p) -> np.ndarray:
        """The switches at several times at once, ``(len(ts), n_switches)``, from the
        states ``Y`` of shape ``(n, len(ts))``: one vectorised call."""
        if self.switches_many is None:
            return np.array([self.switches(t, Y[:, k], p) for k, t in enumerate(ts)])
        return self.switches_many(ts, Y, p)

    def triggers_at_equality(self, t, y, p, forced) -> np.ndarray:
        """The triggers, bool ``(n_ev,)``, where the switches ``forced`` (indices of
        ``equalities``) are at their root: their ``==`` relations true, ``!=`` false."""
        flags = np.zeros(len(self.equalities))
        for k in forced:
            flags[self.equalities.index(k)] = 1.0
        return np.asarray(self._at_equality(t, y, np.concatenate([p, flags])), dtype=float) > 0.5

    def outputs(self, t, Y, p) -> np.ndarray:
        """Every output id evaluated on rows of ``Y`` (time-major), shape (n_t, n_outputs)."""
        t = np.asarray(t, dtype=float)
        Y = np.atleast_2d(np.asarray(Y, dtype=float))
        cols = self._outputs(t, list(Y.T), list(p)) if self.output_ids else []
        out = np.empty((len(t), len(self.output_ids)))
        for k, c in enumerate(cols):
            out[:, k] = c
        return out


class _LazyJacobian:
    """The analytic Jacobian ``J[i, j] = d rhs_i / d y_j``, differentiated on first use
    (the compiled backend builds its own; only Newton and the scipy backend need this)."""

    def __init__(self, system: OdeSystem, smap: SymbolMap, delayed=None):
        self.system, self.smap, self.delayed = system, smap, delayed
        self._f = None

    def _build(self):
        system, n = self.system, self.system.n_states
        entries = list(zip(*system_jacobian(system)))
        self.pattern = np.zeros((n, n), dtype=bool)
        self.rows = np.array([e[0] for e in entries], dtype=int)
        self.cols = np.array([e[1] for e in entries], dtype=int)
        self.pattern[self.rows, self.cols] = True
        self._f = lambdify(self.smap, [e[2] for e in entries], "Jacobian", self.delayed) if entries \
            else (lambda t, y, p: [])

    def __call__(self, t, y, p) -> np.ndarray:
        if self._f is None:
            self._build()
        n = self.system.n_states
        J = np.zeros((n, n))
        if len(self.rows):
            J[self.rows, self.cols] = np.asarray(self._f(t, y, p), dtype=float)
        return J


def compile_numpy(system: OdeSystem) -> NumpyFunctions:
    """Generate the numpy functions of ``system`` (no numba; fast to build)."""
    smap = SymbolMap.of(system)
    n = system.n_states
    delayed = DelayedValues(smap) if _has(system, Delay) else None
    rhs_raw = lambdify(smap, system.rhs, "rate of change", delayed)

    def rhs(t, y, p, _f=rhs_raw):
        return np.asarray(_f(t, y, p), dtype=float).reshape(n)

    jac = _LazyJacobian(system, smap, delayed)

    trig_raw = lambdify(smap, [as_number(ev.trigger) for ev in system.events], "event trigger", delayed) \
        if system.events else None

    def triggers(t, y, p):
        if trig_raw is None:
            return np.zeros(0, dtype=bool)
        return np.asarray(trig_raw(t, y, p), dtype=float) > 0.5

    sw = trigger_switches([ev.trigger for ev in system.events])
    sw_raw = lambdify(smap, sw, "event trigger", delayed) if sw else None

    def switches(t, y, p):
        """lhs - rhs of every relation in the triggers: sign changes bracket trigger flips."""
        if sw_raw is None:
            return np.zeros(0)
        with np.errstate(all="ignore"):
            return np.asarray(sw_raw(t, y, p), dtype=float).reshape(-1)

    def switches_many(ts, Y, p):
        if sw_raw is None:
            return np.zeros((len(ts), 0))
        with np.errstate(all="ignore"):
            cols = sw_raw(ts, list(Y), p)
        return np.array([np.broadcast_to(np.asarray(c, dtype=float), ts.shape)
                         for c in cols]).T

    equalities = equality_switches([ev.trigger for ev in system.events])
    at_equality = _triggers_at_equality(system, smap, equalities, delayed) if equalities else None

    out_ids = tuple(system.outputs)
    # the ~400 outputs are renamed on first use too (0.1 s on the bundled model): the
    # compiled outputs serve nearly every caller, and a sweep's reference integrator none
    out_raw = _Lazy(lambda: lambdify(smap, [as_number(system.outputs[k]) for k in out_ids],
                                      "output", delayed)) if out_ids else None

    values, factors, delays, prios = [], [], [], []
    for ev in system.events:
        exprs = [as_number(e) for _, _, e in ev.assignments]
        values.append(lambdify(smap, exprs, f"event '{ev.id}' assignment", delayed) if exprs else None)
        factors.append(lambdify(smap, list(ev.factors), f"event '{ev.id}' assignment", delayed)
                       if ev.factors else None)
        delays.append(lambdify(smap, [ev.delay], f"event '{ev.id}' delay", delayed) if ev.delay is not None else None)
        prios.append(lambdify(smap, [ev.priority], f"event '{ev.id}' priority", delayed) if ev.priority is not None else None)
    return NumpyFunctions(system, rhs, jac, triggers, switches, out_ids, out_raw,
                          tuple(values), tuple(delays), tuple(prios), delayed, equalities,
                          at_equality, tuple(factors), switches_many)


def _triggers_at_equality(system: OdeSystem, smap: SymbolMap, equalities, delayed):
    """A function of ``(t, y, [p, flags])``: the triggers with ``==`` relation ``k`` of
    ``equalities`` or-ed with ``flags[k]`` (a ``!=`` one and-ed with its negation)."""
    relations = trigger_relations([ev.trigger for ev in system.events])
    flags = [sympy.Dummy(f"at_root_{k}") for k in equalities]
    forced = {}
    for k, flag in zip(equalities, flags):
        r = relations[k]
        on = sympy.Gt(flag, sympy.Rational(1, 2))
        forced[r] = sympy.Or(r, on) if isinstance(r, sympy.Eq) else sympy.And(r, sympy.Not(on))
    extended = SymbolMap(smap.t, smap.y, smap.p + tuple(
        sympy.Symbol(f"p{len(smap.p) + j}", real=True) for j in range(len(flags))),
        {**smap.subs, **{f: sympy.Symbol(f"p{len(smap.p) + j}", real=True)
                         for j, f in enumerate(flags)}})
    return lambdify(extended, [as_number(ev.trigger.xreplace(forced)) for ev in system.events],
                    "event trigger", delayed)


def uses_delay(system: OdeSystem) -> bool:
    """Whether ``system`` uses the csymbol ``delay`` anywhere."""
    return _has(system, Delay)


def _has(system: OdeSystem, cls) -> bool:
    """True if any expression of ``system`` contains a ``cls`` node."""
    exprs = [*system.rhs, *system.outputs.values()]
    for ev in system.events:
        exprs += [ev.trigger, *(e for _, _, e in ev.assignments), *ev.factors]
        exprs += [e for e in (ev.delay, ev.priority) if e is not None]
    return any(isinstance(e, sympy.Basic) and e.has(cls) for e in exprs)
