"""numpy functions generated from an OdeSystem: the scipy reference backend and post-processing.

Expressions are renamed to our identifiers (:class:`~simulator.codegen.common.SymbolMap`)
and printed by sympy's ``lambdify``; no model text reaches the generated source.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from simulator.codegen.common import SymbolMap
from simulator.codegen.derivatives import jacobian_entries
from simulator.system import OdeSystem

def _select(condlist, choicelist, default=np.nan):
    """``numpy.select`` (how lambdify prints Piecewise), fast for scalars, and accepting
    plain booleans for array inputs."""
    if not any(type(x) is np.ndarray and x.ndim for x in (*condlist, *choicelist)):
        for c, v in zip(condlist, choicelist):
            if c:
                return v
        return default
    arrays = np.broadcast_arrays(*condlist, *choicelist, default)
    k = len(condlist)
    return np.select([a.astype(bool) for a in arrays[:k]], arrays[k:2 * k], default=arrays[-1])


_MODULES = [{"factorial": lambda x: _factorial(x), "select": _select}, "numpy", "scipy"]


def _factorial(x):
    from scipy.special import gamma
    return gamma(np.asarray(x, dtype=float) + 1.0)


def _lambdify(smap: SymbolMap, exprs, what: str) -> Callable:
    """A numpy function of ``(t, y, p)`` for ``exprs``: renamed (and checked) now, printed on
    first call, so that a model loads without printing functions it never uses."""
    renamed = [smap.rename(e, what) for e in exprs]
    return _Lazy(lambda: sympy.lambdify((smap.t, list(smap.y), list(smap.p)), renamed,
                                        modules=_MODULES, cse=True))


class _Lazy:
    def __init__(self, build):
        self._build, self._f = build, None

    def __call__(self, *args):
        if self._f is None:
            self._f = self._build()
        return self._f(*args)


def _as_bool_expr(e):
    """Booleans as 0/1 numbers so numpy can evaluate them on arrays."""
    if is_boolean(e):
        return sympy.Piecewise((1.0, e), (0.0, True))
    return e


def is_boolean(e) -> bool:
    """True for relations, logical functions and true/false (not for plain symbols)."""
    from sympy.logic.boolalg import BooleanAtom, BooleanFunction
    return isinstance(e, (sympy.core.relational.Relational, BooleanFunction, BooleanAtom))


@dataclass(frozen=True)
class NumpyFunctions:
    """Vectorisable numpy functions of one system.

    ``rhs(t, y, p) -> (n,)``; ``jac(t, y, p) -> (n, n)`` (built on first use); ``triggers(t, y, p) -> bool (n_ev,)``;
    ``outputs(t, Y, p) -> (n_t, n_outputs)`` for ``Y`` of shape (n_t, n); ``event_values[i](t, y, p)``
    -> the assigned values of event i; ``delays``/``priorities`` likewise (None when absent).
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

    def outputs(self, t, Y, p) -> np.ndarray:
        """Every output id evaluated on rows of ``Y`` (time-major), shape (n_t, n_outputs)."""
        t = np.asarray(t, dtype=float)
        Y = np.atleast_2d(np.asarray(Y, dtype=float))
        cols = self._outputs(t, list(Y.T), list(p)) if self.output_ids else []
        out = np.empty((len(t), len(self.output_ids)))
        for k, c in enumerate(cols):
            out[:, k] = c
        return out


def _relations(expr) -> list:
    """The numeric relations (<, <=, >, >=, ==, !=) inside a boolean expression."""
    from sympy.core.relational import Relational
    return [r for r in sympy.preorder_traversal(expr) if isinstance(r, Relational)]


class _LazyJacobian:
    """The analytic Jacobian ``J[i, j] = d rhs_i / d y_j``, differentiated on first use
    (the compiled backend builds its own; only Newton and the scipy backend need this)."""

    def __init__(self, system: OdeSystem, smap: SymbolMap):
        self.system, self.smap = system, smap
        self._f = None

    def _build(self):
        system, n = self.system, self.system.n_states
        entries = list(zip(*jacobian_entries(system.rhs, system.y)))
        self.pattern = np.zeros((n, n), dtype=bool)
        self.rows = np.array([e[0] for e in entries], dtype=int)
        self.cols = np.array([e[1] for e in entries], dtype=int)
        self.pattern[self.rows, self.cols] = True
        self._f = _lambdify(self.smap, [e[2] for e in entries], "Jacobian") if entries else (lambda t, y, p: [])

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
    rhs_raw = _lambdify(smap, system.rhs, "rate of change")

    def rhs(t, y, p, _f=rhs_raw):
        return np.asarray(_f(t, y, p), dtype=float).reshape(n)

    jac = _LazyJacobian(system, smap)

    trig_raw = _lambdify(smap, [_as_bool_expr(ev.trigger) for ev in system.events], "event trigger") \
        if system.events else None

    def triggers(t, y, p):
        if trig_raw is None:
            return np.zeros(0, dtype=bool)
        return np.asarray(trig_raw(t, y, p), dtype=float) > 0.5

    relations = []
    for ev in system.events:
        for r in _relations(ev.trigger):
            if r not in relations:
                relations.append(r)
    sw_raw = _lambdify(smap, [r.lhs - r.rhs for r in relations], "event trigger") if relations else None

    def switches(t, y, p):
        """lhs - rhs of every relation in the triggers: sign changes bracket trigger flips."""
        if sw_raw is None:
            return np.zeros(0)
        with np.errstate(all="ignore"):
            return np.asarray(sw_raw(t, y, p), dtype=float).reshape(-1)

    out_ids = tuple(system.outputs)
    out_raw = _lambdify(smap, [_as_bool_expr(system.outputs[k]) for k in out_ids], "output") if out_ids else None

    values, delays, prios = [], [], []
    for ev in system.events:
        exprs = [_as_bool_expr(e) for _, _, e in ev.assignments]
        values.append(_lambdify(smap, exprs, f"event '{ev.id}' assignment") if exprs else None)
        delays.append(_lambdify(smap, [ev.delay], f"event '{ev.id}' delay") if ev.delay is not None else None)
        prios.append(_lambdify(smap, [ev.priority], f"event '{ev.id}' priority") if ev.priority is not None else None)
    return NumpyFunctions(system, rhs, jac, triggers, switches, out_ids, out_raw,
                          tuple(values), tuple(delays), tuple(prios))
