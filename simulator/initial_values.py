"""Initial values of an OdeSystem: attributes, initial assignments and assignment rules
holding together at the start time, with user overrides by id, for one run or many members.

Values are computed numerically in dependency order (each id's expression printed once to a
numpy function); with overrides, only the ids that depend on an overridden one are
recomputed. The many-member form evaluates the same expressions on arrays, one entry per
member, so a sweep of N members costs one pass, not N.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from simulator.errors import (InvalidValueError, ModelImportError, UnknownIdError,
                              UnsupportedFeatureError, unknown_id)
from simulator.model import TIME, Delay, RateOf, outermost_delays
from simulator.numeric import numeric_function

__all__ = ["Initializer"]


class _Deferred(Exception):
    """An initial value needs ``rateOf`` at the start time (only known after the fact)."""


class Initializer:
    """Initial values at the start time: attributes, initial assignments and assignment
    rules holding together (SBML L3v2 section 3.4.8), with user overrides by id.

    ``values(overrides, t0) -> (y0, p)``: ``overrides`` maps an id of a species (its value:
    concentration unless hasOnlySubstanceUnits), compartment, parameter, species reference or
    local parameter to a number that replaces its initial assignment or attribute.
    ``values_many`` does the same for many members at once, on arrays.

    Built by :mod:`simulator.semantics`: ``exprs`` maps every id to its initial-value
    expression in model symbols; ``converted`` maps the species held as amounts whose value
    is a concentration to their compartment.
    """

    def __init__(self, *, model_id: str, state_ids: tuple, param_ids: tuple, exprs: dict,
                 amount_valued: dict, converted: dict, compartments: frozenset,
                 settable: frozenset, rule_ids: frozenset):
        self.model_id = model_id
        self.state_ids = state_ids
        self.param_ids = param_ids
        self.exprs = exprs
        self.amount_valued = amount_valued
        self.converted = converted
        self.compartments = compartments
        self.settable = settable
        self.rule_ids = rule_ids
        self._compiled: dict[str, tuple] = {}
        self._plans: dict = {}                      # (overridden ids, t0) -> plan or None
        self._single_plans: dict = {}               # (id, other overrides, t0) -> plan
        self._by_expr: dict = {}                    # delayed math -> (argument ids, function)
        self._holes: dict[str, sympy.Basic] = {}    # "delay#i" argument -> its delay node
        self._base: dict[float, tuple] = {}         # t0 -> (values by id, y0, p)
        self._users: dict[str, set] | None = None
        self._state_index = {k: i for i, k in enumerate(self.state_ids)}
        self._param_index = {k: j for j, k in enumerate(self.param_ids)}
        self._converted_in: dict[str, list] = {}   # compartment -> its species held as amounts
        for k in (*self.state_ids, *self.param_ids):
            if k in converted:
                self._converted_in.setdefault(converted[k], []).append(k)

    _DEFINITION = ("model_id", "state_ids", "param_ids", "exprs", "amount_valued", "converted",
                   "compartments", "settable", "rule_ids")

    def __getstate__(self) -> dict:
        """The definition alone: the compiled functions and plans (closures) are rebuilt on
        first use (:mod:`simulator.symbolic_store` keeps initializers on disk)."""
        return {k: self.__dict__[k] for k in self._DEFINITION}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _dependents(self, changed, held=frozenset()) -> set:
        """Ids whose initial value depends (transitively) on any id in ``changed``, not
        through the ids ``held`` (overridden: they keep their value whatever they read)."""
        if self._users is None:
            users: dict[str, set] = {}
            for k, e in self.exprs.items():
                for s in e.free_symbols:
                    users.setdefault(s.name, set()).add(k)
            self._users = users
        out, todo = set(changed), list(changed)
        while todo:
            for u in self._users.get(todo.pop(), ()):
                if u not in out and u not in held:
                    out.add(u)
                    todo.append(u)
        return out

    def _function(self, k: str):
        """(argument ids, numeric function) of id ``k``'s initial expression, built once."""
        hit = self._compiled.get(k)
        if hit is None:
            e = self.exprs[k]
            hit = self._numeric(e) if not e.atoms(RateOf) else None
            self._compiled[k] = hit
        return hit

    @property
    def depends_on_time(self) -> bool:
        """True if some state's or parameter's initial value depends on the start time."""
        timed = {k for k, e in self.exprs.items() if TIME in e.free_symbols}
        return bool(self._dependents(timed) & (self._state_index.keys() | self._param_index.keys()))

    def before_start(self, overrides: dict, y0: np.ndarray, p: np.ndarray):
        """``f(s) -> (y, p)``: the values the model holds at a time ``s`` before the start
        (each quantity at its initial value as computed at ``s``), for ``delay``."""
        if not self.depends_on_time:
            return lambda s: (y0, p)
        overridden = self._checked(overrides)

        def at(s):
            value = self._valuer(overridden, float(s), {})
            with np.errstate(all="ignore"):
                return (np.array([self._amount(i, value) for i in self.state_ids], dtype=float),
                        np.array([self._amount(i, value) for i in self.param_ids], dtype=float))
        return at

    def values(self, overrides: dict, t0: float):
        """Initial ``(y0, p)`` at time ``t0`` with ``overrides`` (id -> value) applied.

        The defaults at each ``t0`` are computed once; with overrides, only the ids that
        depend on an overridden one are recomputed and patched into copies of them."""
        overridden = self._checked(overrides)
        base = self._base.get(t0)
        if base is None and t0 not in self._base and len(self._base) < 8:
            # the defaults first, even when every call overrides something (a PEtab
            # problem's conditions always do): later calls recompute only what changed
            base = self._base[t0] = self._defaults(t0)
        if base is None:
            return self._arrays(self._evaluate(self.exprs, overridden, t0, {}))
        default_vals, y0, p = base
        y0, p = y0.copy(), p.copy()
        if not overridden:
            return y0, p
        plan = self._plan(frozenset(overridden), t0)
        if plan is not None:
            return self._run_plan(plan, overridden, t0, default_vals, y0, p)
        stale = self._dependents(overridden)
        fresh = self._evaluate(stale, overridden, t0, {}, default_vals, stale)
        return self._patch(self._writes(stale), fresh, default_vals, y0, p)

    def _defaults(self, t0: float):
        """``(values by id, y0, p)`` without overrides, or None where the defaults cannot
        be computed on their own (an override may be what breaks a cycle or replaces a
        ``rateOf``): such models evaluate every call in full."""
        try:
            vals = self._evaluate(self.exprs, {}, t0, {})
        except (UnsupportedFeatureError, ModelImportError, InvalidValueError):
            return None
        return (vals, *self._arrays(vals))

    def _writes(self, stale) -> list:
        """``(state index, parameter index, id)`` of every held value that changes with
        the ids ``stale`` (species held as amounts change with their compartment too)."""
        touched = set(stale)
        for c in stale & self.compartments:
            touched.update(self._converted_in.get(c, ()))
        return [(self._state_index.get(k), self._param_index.get(k), k) for k in sorted(touched)]

    def _patch(self, writes, fresh: dict, defaults: dict, y0, p):
        """Write the held values of ``writes`` into ``y0`` and ``p``, reading ``fresh``
        values before the defaults."""
        def value(k):
            return fresh[k] if k in fresh else defaults[k]
        for i, j, k in writes:
            v = self._amount(k, value)
            if i is not None:
                y0[i] = v
            if j is not None:
                p[j] = v
        return y0, p

    def _plan(self, keys: frozenset, t0: float):
        """How to recompute the initial values that depend on the ids ``keys``: the stale
        ids in dependency order with their functions and argument ids, then where each
        changed value is written. Built once per set of overridden ids; None where the
        general path is needed (``rateOf`` or ``delay`` in an initial value)."""
        if (keys, t0) in self._plans:
            return self._plans[keys, t0]
        plan = None
        if not self._holes and len(self._plans) < 256:
            plan = self._ordered_plan(keys, self._dependents(keys))
        self._plans[keys, t0] = plan
        return plan

    def _ordered_plan(self, keys: frozenset, stale: set):
        """``(steps, writes)``: the ``stale`` ids a held value needs, in dependency order
        with their functions and argument ids (``keys`` are given, not computed), and where
        each changed value is written; None where an initial value needs ``rateOf``."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(k):             # dependencies first (cycles were refused by _evaluate)
            if k in seen or k in keys or k not in stale:
                return
            seen.add(k)
            fn = self._function(k)
            if fn is None:
                raise _Deferred(k)
            for n in fn[0]:
                if n is not None:
                    visit(n)
            order.append(k)
        # only what a held value needs: rule variables and rates that no state or
        # parameter holds are neither recomputed nor written
        writes = [w for w in self._writes(stale) if w[0] is not None or w[1] is not None]
        try:
            for _, _, k in writes:
                visit(k)
                if k in self.converted:
                    visit(self.converted[k])
            return [(k, *self._function(k)) for k in order], writes
        except (_Deferred, RecursionError):
            return None

    def _run_plan(self, plan, overridden, t0, defaults, y0, p):
        steps, writes = plan
        fresh = dict(overridden)
        with np.errstate(all="ignore"):
            for k, names, f in steps:
                args = [np.float64(t0 if n is None else fresh[n] if n in fresh else defaults[n])
                        for n in names]
                try:
                    fresh[k] = float(f(*args))
                except ZeroDivisionError:
                    fresh[k] = np.nan
            return self._patch(writes, fresh, defaults, y0, p)

    def jacobian(self, overrides: dict, ids, t0: float, rel_step: float):
        """``(y0, p, dy0 (n, k), dp (m, k))``: :meth:`values` at ``overrides`` and its
        derivatives by the overridden ids ``ids`` (central differences, step ``rel_step``
        relative to each value).

        Each difference recomputes only what depends on that one id (the other overrides
        held), from the values at ``overrides``: a PEtab gradient differences dozens of
        parameters per condition, most of which move one parameter and nothing else."""
        overridden = self._checked(overrides)
        vals = self._evaluate(self.exprs, overridden, t0, {})
        y0, p = self._arrays(vals)
        dy0 = np.zeros((y0.size, len(ids)))
        dp = np.zeros((p.size, len(ids)))
        fixed = frozenset(overridden)
        for j, k in enumerate(ids):
            v = overridden[k]
            h = rel_step * max(abs(v), 1e-8)
            plan = self._single_plan(k, fixed, t0)
            if plan is None:
                up = self.values(dict(overridden, **{k: v + h}), t0)
                down = self.values(dict(overridden, **{k: v - h}), t0)
            else:
                up = self._run_plan(plan, {k: v + h}, t0, vals, y0.copy(), p.copy())
                down = self._run_plan(plan, {k: v - h}, t0, vals, y0.copy(), p.copy())
            dy0[:, j] = (up[0] - down[0]) / (2 * h)
            dp[:, j] = (up[1] - down[1]) / (2 * h)
        return y0, p, dy0, dp

    def _single_plan(self, k: str, fixed: frozenset, t0: float):
        """:meth:`_plan` for a change of the one overridden id ``k`` while the ids
        ``fixed`` keep their overrides: what depends on ``k`` through ids not fixed."""
        key = (k, fixed, t0)
        if key in self._single_plans:
            return self._single_plans[key]
        plan = None
        if not self._holes:
            plan = self._ordered_plan(frozenset({k}), self._dependents({k}, held=fixed))
        if len(self._single_plans) < 4096:
            self._single_plans[key] = plan
        return plan

    def value_of(self, ids, t0: float = 0.0) -> dict:
        """The model's own initial values of ``ids`` at ``t0`` (no overrides), as SBML means
        them (a species: its concentration unless it has only substance units)."""
        return {k: float(v) for k, v in self._evaluate(ids, {}, t0, {}).items() if k in ids}

    def values_many(self, shared: dict, ids: Sequence[str], values: np.ndarray, t0: float):
        """Initial ``(Y0 (G, n), P (G, m))`` of G members at once.

        Member ``g`` gets what :meth:`values` gives for ``shared`` updated by
        ``dict(zip(ids, values[g]))``; the expressions are evaluated on arrays. Models whose
        initial values need ``rateOf`` or ``delay`` take one :meth:`values` call per member.
        """
        values = np.asarray(values, dtype=float)
        G = values.shape[0]
        overridden: dict[str, object] = dict(self._checked(shared))
        for j, k in enumerate(ids):
            self._checked({k: 0.0})             # the standard error naming a bad id
            overridden[k] = values[:, j]
        vals: dict[str, object] = {}

        def value(k):
            if k in vals:
                return vals[k]
            if k in overridden:
                vals[k] = overridden[k]
                return vals[k]
            fn = self._function(k) if k in self.exprs else None
            if fn is None:
                raise _Deferred(k)
            names, f = fn
            vals[k] = None  # cycle guard
            args = [np.float64(t0) if n is None else value(n) for n in names]
            if any(a is None for a in args):
                raise _Deferred(k)
            with np.errstate(all="ignore"):
                try:
                    r = np.asarray(f(*[a if isinstance(a, np.ndarray) else np.float64(a)
                                       for a in args]), dtype=float)
                except ZeroDivisionError:
                    r = np.asarray(np.nan)
            vals[k] = r if r.ndim else float(r)
            return vals[k]

        def column(i):
            with np.errstate(all="ignore"):
                v = self._amount(i, value)
            return np.broadcast_to(np.asarray(v, dtype=float), (G,))

        try:
            Y0 = np.empty((G, len(self.state_ids)))
            P = np.empty((G, len(self.param_ids)))
            for c, i in enumerate(self.state_ids):
                Y0[:, c] = column(i)
            for c, i in enumerate(self.param_ids):
                P[:, c] = column(i)
        except _Deferred:
            rows = [self.values({**shared, **dict(zip(ids, map(float, v)))}, t0) for v in values]
            return (np.array([r[0] for r in rows]).reshape(G, len(self.state_ids)),
                    np.array([r[1] for r in rows]).reshape(G, len(self.param_ids)))
        return Y0, P

    def _checked(self, overrides: dict) -> dict[str, float]:
        overridden: dict[str, float] = {}
        for k, v in overrides.items():
            if k in self.rule_ids:  # also what algebraic rules and fast equilibria determine
                raise UnknownIdError(f"'{k}' of model '{self.model_id}' is determined by a rule "
                                     "(an assignment or algebraic rule, or a fast reaction's "
                                     "equilibrium) and cannot be set; set the quantities it "
                                     "depends on instead")
            if k not in self.settable:
                raise unknown_id("initial value", k, self.settable, model=self.model_id)
            v = float(v)
            if not np.isfinite(v):
                raise InvalidValueError(f"value for '{k}' must be finite, got {v!r}")
            overridden[k] = v
        return overridden

    def _evaluate(self, keys, overridden, t0, vals, defaults=None, stale=()) -> dict:
        """Values of ``keys`` (and what they need) into ``vals``; ids outside ``stale`` are
        read from ``defaults`` when given."""
        value = self._valuer(overridden, t0, vals, defaults, stale)
        with np.errstate(all="ignore"):
            for k in keys:
                try:
                    value(k)
                except _Deferred as d:
                    if k in self._state_index or k in self._param_index:
                        raise UnsupportedFeatureError(
                            [f"initial value of '{k}' depends on rateOf('{d.args[0]}') at the start time"]) from None
        return vals

    def _delayed(self, names, overridden, t0, value) -> dict:
        """Values of the ``delay(x, tau)`` nodes among an expression's argument names: ``x``
        at ``t0 - tau``, with every quantity at its initial value computed at that time."""
        out = {}
        for n in names:
            d = self._holes.get(n) if n is not None else None
            if d is None:
                continue
            x, tau = d.args[0], d.args[1]
            tau_v = self._value_of(tau, value, t0, overridden)
            if not tau_v >= 0:
                raise InvalidValueError(f"model '{self.model_id}': delay {tau} is {tau_v} at the "
                                        f"start time {t0}; a delay must be a number >= 0")
            if tau_v == 0:
                out[n] = self._value_of(x, value, t0, overridden)
            else:
                s = t0 - tau_v
                out[n] = self._value_of(d.args[2] if len(d.args) > 2 else x,
                                        self._valuer(overridden, s, {}), s, overridden)
        return out

    def _value_of(self, expr, value, t0, overridden) -> float:
        hit = self._by_expr.get(expr)
        if hit is None:
            hit = self._by_expr[expr] = self._numeric(expr)
        names, f = hit
        delayed = self._delayed(names, overridden, t0, value) if self._holes else {}
        args = [np.float64(t0 if n is None else delayed[n] if n in delayed else value(n)) for n in names]
        return float(f(*args))

    def _numeric(self, expr):
        """``_numeric`` with each outermost delay node passed in as an argument."""
        if not expr.has(Delay):
            return numeric_function(expr)
        holes = {}
        for d in outermost_delays(expr):
            name = f"delay#{len(self._holes)}"
            self._holes[name] = d
            holes[d] = sympy.Symbol(name)
        return numeric_function(expr.xreplace(holes))

    def _valuer(self, overridden, t0, vals, defaults=None, stale=()):
        """The function ``value(id)`` that computes initial values at ``t0`` into ``vals``."""
        exprs = self.exprs
        visiting: set[str] = set()

        def value(k: str) -> float:
            if k in vals:
                return vals[k]
            if defaults is not None and k not in stale:
                return defaults[k]
            if k in visiting:
                raise ModelImportError(f"initial assignments / rules of model '{self.model_id}' "
                                       f"form a cycle through '{k}'")
            if k not in exprs:
                raise ModelImportError(f"initial value of model '{self.model_id}' refers to undefined id '{k}'")
            if k in overridden:
                vals[k] = overridden[k]
                return vals[k]
            fn = self._function(k)
            if fn is None:
                raise _Deferred(k)
            names, f = fn
            visiting.add(k)
            try:
                delayed = self._delayed(names, overridden, t0, value) if self._holes else {}
                args = [np.float64(t0 if n is None else delayed[n] if n in delayed else value(n))
                        for n in names]
                vals[k] = float(f(*args))
            except ZeroDivisionError:
                vals[k] = np.nan
            finally:
                visiting.discard(k)
            return vals[k]

        return value

    def _amount(self, i: str, value) -> float:
        """The held value of id ``i``: species kept as amounts are converted from concentration."""
        v = value(i)
        c = self.converted.get(i)
        return v if c is None else v * value(c)

    def _arrays(self, vals: dict):
        y0 = np.array([self._amount(i, vals.__getitem__) for i in self.state_ids], dtype=float)
        p = np.array([self._amount(i, vals.__getitem__) for i in self.param_ids], dtype=float)
        return y0, p
