"""SBML semantics: turn a :class:`~simulator.model.Model` into an :class:`~simulator.system.OdeSystem`.

The rules applied (SBML L3v2 specification, sections 4.5-4.11):

* Reactions change species **amounts**: ``dA_s/dt = cf_s * sum_r stoich(r, s) * v_r`` with
  ``v_r`` the kinetic law (amount/time) and ``cf_s`` the species' (or the model's) conversion
  factor. A species symbol in math means its concentration ``A_s / V`` unless the species
  has only substance units (or lives in a 0-D compartment), when it means the amount.
* A compartment whose size changes keeps the amounts of the species in it (their
  concentrations change); a rate rule on a species changes its value (concentration or
  amount, as its symbol means).
* Assignment rules hold at all times and are substituted into every expression; initial
  assignments and assignment rules hold together at the start time.
* ``rateOf(x)`` is the time derivative of ``x``'s value along the flow, built by the chain
  rule from the right-hand side.
* A reaction id in math means that reaction's rate; a species reference id means its
  stoichiometry.
* ``delay(x, tau)`` (csymbol) stays a :class:`~simulator.model.Delay` node whose arguments
  are written in ``(t, y, p)`` like everything else; the solver evaluates ``x`` on the
  recorded trajectory at ``t - tau``. Before the start time every quantity takes its initial
  value as computed at that earlier time (an initial assignment ``sin(time)`` gives a sine
  history), so ``rateOf`` of a state or parameter is 0 there and of a rule target its
  rule's rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy

from simulator.constraints import make_explicit
from simulator.errors import (
    InvalidValueError, ModelImportError, UnknownIdError, UnsupportedFeatureError, unknown_id,
)
from simulator.initial_values import Initializer
from simulator.model import (
    CANONICAL, TIME, AlgebraicRule, AssignmentRule, Delay, Model, RateOf, RateRule,
    SpeciesReference, outermost_delays,
)
from simulator.sources import closure_digest
from simulator.symbolic_store import fetch, keep
from simulator.symbolic_store import key as store_key
from simulator.system import EventSpec, OdeSystem


def build_system(model: Model) -> OdeSystem:
    """Flatten ``model`` into the symbolic system the solvers integrate (algebraic rules and
    fast reactions are first made explicit by :func:`simulator.constraints.make_explicit`).

    The system is kept on disk by the model's SBML hash and the sources that read and build
    it (:mod:`simulator.symbolic_store`): a second process loads it instead of building it."""
    k = store_key(model.hash, closure_digest(("simulator.io.loader", "simulator.semantics")))
    system = fetch("system", k)
    if system is None:
        builder = _Builder(make_explicit(model))
        builder.before_start = _fast_initial_values(model, builder)
        system = builder.build()
        keep("system", k, system)
    return system


def _fast_initial_values(model: Model, b: "_Builder") -> dict:
    """Species that fast reactions hold at equilibrium, with their initial values (model
    symbols): before the start time the equilibrium does not hold yet, so ``delay`` reads
    these instead (SBML test 01539)."""
    if not any(r.fast for r in model.reactions):
        return {}
    fast = {sr.species for r in model.reactions if r.fast for sr in (*r.reactants, *r.products)}
    ruled = {r.variable for r in model.rules if isinstance(r, AssignmentRule)}
    ia = {a.symbol: a.math for a in model.initial_assignments if a.math is not None}
    out = {}
    for s in model.species:
        if s.id not in fast or s.id in ruled or s.id not in b.ar:
            continue
        value = ia.get(s.id, b.species_initial(s))
        if value is not None:
            out[s.id] = value
    return out


@dataclass(frozen=True)
class _Held:
    """Where a quantity lives: ``kind`` is "y", "p" or "rule"; ``amount`` if held as amount."""

    kind: str
    index: int = -1
    amount: bool = False


class _Builder:
    def __init__(self, model: Model):
        self.m = model
        self.t = sympy.Symbol("t", real=True)
        self.comps = {c.id: c for c in model.compartments}
        self.species = {s.id: s for s in model.species}
        self.params = {p.id: p for p in model.parameters}
        self.reactions = {r.id: r for r in model.reactions}
        self.local = {k: v for r in model.reactions for k, v in r.local_parameters}
        self.srefs: dict[str, SpeciesReference] = {}
        # species -> (reaction, sign, reference) of every reaction that changes it, in model
        # order: one pass over the reactions, not one per species
        self.changed_by: dict[str, list] = {}
        for r in model.reactions:
            for sign, group in ((-1, r.reactants), (1, r.products)):
                for sr in group:
                    self.changed_by.setdefault(sr.species, []).append((r, sign, sr))
            for sr in (*r.reactants, *r.products):
                if sr.id:
                    self.srefs[sr.id] = sr
        self.ar = {r.variable: r.math for r in model.rules if isinstance(r, AssignmentRule) and r.math is not None}
        self.rr = {r.variable: r.math for r in model.rules if isinstance(r, RateRule) and r.math is not None}
        self.ia = {a.symbol: a.math for a in model.initial_assignments if a.math is not None}
        for sid, sr in self.srefs.items():  # SBML L2 stoichiometryMath acts as an assignment rule
            if sr.stoichiometry_math is not None and sid not in self.ar:
                self.ar[sid] = sr.stoichiometry_math
        if any(isinstance(r, AlgebraicRule) for r in model.rules) or any(r.fast for r in model.reactions):
            raise ModelImportError(f"model '{model.id}' still has algebraic rules or fast reactions: "
                                   "build it with build_system, which makes them explicit")
        self.before_start: dict[str, sympy.Expr] = {}   # id -> value before the start, if not its rule
        self._val: dict[sympy.Symbol, sympy.Expr] = {}
        self._rhs_cache: dict[int, sympy.Expr] = {}
        self._in_progress: dict = {}   # what is being resolved, in order (a cycle's path)

    # --- where each quantity lives -------------------------------------------------
    def _layout(self):
        in_reactions = set()
        for r in self.m.reactions:
            for sr in (*r.reactants, *r.products):
                in_reactions.add(sr.species)
        self.state_ids: list[str] = []
        self.param_ids: list[str] = []
        self.held: dict[str, _Held] = {}

        def add_state(i, amount=False):
            self.held[i] = _Held("y", len(self.state_ids), amount)
            self.state_ids.append(i)

        def add_param(i, amount=False):
            self.held[i] = _Held("p", len(self.param_ids), amount)
            self.param_ids.append(i)

        for s in self.m.species:
            if s.id in self.ar:
                self.held[s.id] = _Held("rule")
            elif s.id in self.rr:
                add_state(s.id)
            elif s.id in in_reactions and not s.boundary_condition and not s.constant:
                add_state(s.id, amount=True)
            else:
                add_param(s.id, amount=True)
        for group in (self.comps, self.params, self.srefs):
            for i in group:
                if i in self.ar:
                    self.held[i] = _Held("rule")
                elif i in self.rr:
                    add_state(i)
                else:
                    add_param(i)
        for i in self.local:
            add_param(i)
        self.y = tuple(sympy.Dummy(f"y_{i}") for i in self.state_ids)
        self.p = tuple(sympy.Dummy(f"p_{i}") for i in self.param_ids)

    def _symbol(self, i: str) -> sympy.Symbol:
        h = self.held[i]
        return self.y[h.index] if h.kind == "y" else self.p[h.index]

    def _is_amount_valued(self, s) -> bool:
        comp = self.comps.get(s.compartment)
        return s.has_only_substance_units or (comp is not None and comp.spatial_dimensions == 0)

    # --- values of model symbols in (t, y, p) ---------------------------------------
    def val(self, sym: sympy.Symbol) -> sympy.Expr:
        if sym == TIME:
            return self.t
        if sym in self._val:
            return self._val[sym]
        name = sym.name
        self._enter(sym)
        try:
            out = self._value(name)
        finally:
            self._in_progress.pop(sym)
        self._val[sym] = out
        return out

    def _enter(self, key) -> None:
        """Mark ``key`` (a model symbol, or ``("rhs", i)`` for the rate of state ``i``) as
        being resolved; if it already is, its definition depends on itself: raise
        ModelImportError naming the ids around the cycle."""
        if key in self._in_progress:
            keys = list(self._in_progress)
            path = keys[keys.index(key):] + [key]
            shown = " -> ".join(f"rateOf('{self.state_ids[k[1]]}')" if isinstance(k, tuple)
                                else f"'{k.name}'" for k in path)
            if any(isinstance(k, tuple) for k in path):
                raise ModelImportError(f"rateOf in model '{self.m.id}' forms a cycle: {shown} "
                                       "(a rate that depends on itself)")
            raise ModelImportError(f"assignment rules of model '{self.m.id}' form a cycle "
                                   f"through '{key.name}': {shown}")
        self._in_progress[key] = None

    def _value(self, name: str) -> sympy.Expr:
        if name in self.reactions:
            rate = self.reactions[name].rate
            return self.resolve(rate) if rate is not None else sympy.Integer(0)
        if name not in self.held:
            raise ModelImportError(f"math in model '{self.m.id}' ({self.m.source}) refers to undefined id '{name}'")
        h = self.held[name]
        if h.kind == "rule":
            return self.resolve(self.ar[name])
        q = self._symbol(name)
        s = self.species.get(name)
        if s is not None and h.amount and not self._is_amount_valued(s):
            return q / self.val(sympy.Symbol(s.compartment))
        return q

    def resolve(self, expr) -> sympy.Expr:
        """``expr`` (model symbols) as an expression in t, y, p."""
        if expr is None:
            return sympy.Integer(0)
        delayed = {}
        if expr.has(Delay):  # delayed math is resolved on its own, then put back
            holes = {d: sympy.Dummy("delayed") for d in outermost_delays(expr)}
            for d, hole in holes.items():
                x, tau = d.args[0], d.args[1]
                args = [self.resolve(x), self.resolve(tau)]
                x_before = _before_start(self, x)
                if x_before != x:
                    args.append(self.resolve(x_before))
                delayed[hole] = Delay(*args)
            expr = expr.xreplace(holes)
        mapping = {}
        for f in expr.atoms(RateOf):
            mapping[f] = self.rate_of(f.args[0])
        for s in expr.free_symbols:
            if s not in delayed:
                mapping[s] = self.val(s)
        out = expr.xreplace(mapping)
        return out.xreplace(delayed) if delayed else out

    def rate_of(self, arg) -> sympy.Expr:
        """d(value of ``arg``)/dt along the flow (csymbol rateOf)."""
        if not isinstance(arg, sympy.Symbol):
            raise ModelImportError(f"rateOf in model '{self.m.id}' must be applied to an id, got {arg}")
        name = arg.name
        if name in self.held and self.held[name].kind == "y" and not self.held[name].amount:
            return self.rhs_of(self.held[name].index)
        v = self.val(arg)
        if v.has(Delay):
            raise UnsupportedFeatureError([f"rateOf('{name}') in model '{self.m.id}': the rate of a "
                                           "value that uses csymbol 'delay' is not supported"])
        total = sympy.diff(v, self.t)
        for j, yj in enumerate(self.y):
            if yj in v.free_symbols:
                total += sympy.diff(v, yj) * self.rhs_of(j)
        return total

    def stoich(self, sr: SpeciesReference) -> sympy.Expr:
        if sr.stoichiometry_math is not None:
            return self.resolve(sr.stoichiometry_math)
        if sr.id:
            return self.val(sympy.Symbol(sr.id))
        return sympy.Float(1.0 if sr.stoichiometry is None else sr.stoichiometry)

    def rhs_of(self, i: int) -> sympy.Expr:
        if i in self._rhs_cache:
            return self._rhs_cache[i]
        key = ("rhs", i)
        self._enter(key)
        try:
            name = self.state_ids[i]
            if name in self.rr:
                out = self.resolve(self.rr[name])
            else:
                # only the reactions that change it (a rate may use rateOf of others),
                # summed once: adding term by term re-flattens the sum each time
                out = _sum([_scaled(sign * self.stoich(sr), self.val(sympy.Symbol(r.id)))
                            for r, sign, sr in self.changed_by.get(name, ())])
                s = self.species[name]
                cf = s.conversion_factor or self.m.conversion_factor
                if cf:
                    out = out * self.val(sympy.Symbol(cf))
        finally:
            self._in_progress.pop(key)
        self._rhs_cache[i] = out
        return out

    # --- events ----------------------------------------------------------------------
    def _event_target(self, name: str, math) -> tuple[str, int, sympy.Expr, sympy.Expr]:
        """``(kind, index, value, factor)``: the assignment's math as a value (at trigger
        or execution time) and the factor taken at execution time (the compartment size
        that turns an assigned concentration into the amount held)."""
        if name not in self.held:
            raise ModelImportError(f"an event of model '{self.m.id}' assigns to undefined id '{name}'")
        h = self.held[name]
        if h.kind == "rule":
            raise ModelImportError(f"an event of model '{self.m.id}' assigns to '{name}', which an assignment rule defines")
        value, factor = self.resolve(math), sympy.Integer(1)
        s = self.species.get(name)
        if s is not None and h.amount and not self._is_amount_valued(s):
            factor = self.val(sympy.Symbol(s.compartment))
        return (h.kind, h.index, value, factor)

    def _volume_corrected(self, ev, assigns: list) -> list:
        """When an event resizes a compartment, species held as concentrations (rate-rule
        species) keep their amounts: ``c_new = c_old * V_old / V_new``, with ``c_old * V_old``
        at execution time and ``V_new`` the assigned size; a concentration the same event
        assigns is taken at the old volume, like every assignment (SBML L3v2 4.11)."""
        targets = {a.variable: k for k, a in enumerate(a for a in ev.assignments if a.math is not None)}
        for a in ev.assignments:
            if a.math is None or a.variable not in self.comps:
                continue
            V_old, V_new = self.val(sympy.Symbol(a.variable)), self.resolve(a.math)
            for s in self.m.species:
                h = self.held.get(s.id)
                if (s.compartment != a.variable or h is None or h.kind == "rule" or h.amount
                        or self._is_amount_valued(s)):
                    continue
                if s.id in targets:
                    kind, index, value, factor = assigns[targets[s.id]]
                    assigns[targets[s.id]] = (kind, index, value / V_new, factor * V_old)
                else:
                    assigns.append((h.kind, h.index, 1 / V_new, self._symbol(s.id) * V_old))
        return assigns

    def _events(self) -> tuple[EventSpec, ...]:
        out = []
        for ev in self.m.events:
            if ev.trigger is None:
                continue
            assigns = [self._event_target(a.variable, a.math) for a in ev.assignments if a.math is not None]
            assigns = self._volume_corrected(ev, assigns)
            factors = tuple(f for *_, f in assigns)
            out.append(EventSpec(
                id=ev.id or f"event{len(out)}",
                trigger=self.resolve(ev.trigger),
                assignments=tuple((kind, index, value) for kind, index, value, _ in assigns),
                initial_value=ev.initial_value,
                persistent=ev.persistent,
                delay=self.resolve(ev.delay) if ev.delay is not None else None,
                priority=self.resolve(ev.priority) if ev.priority is not None else None,
                use_values_from_trigger_time=ev.use_values_from_trigger_time,
                factors=() if all(f == 1 for f in factors) else factors,
            ))
        return tuple(out)

    # --- initial values ------------------------------------------------------------
    def species_initial(self, s) -> sympy.Expr | None:
        """Species ``s``'s initial value from its attributes (model symbols), as its symbol
        means it (amount or concentration), or None when it has neither."""
        V = sympy.Symbol(s.compartment)
        amount_valued = self._is_amount_valued(s)
        if s.initial_concentration is not None:
            c = sympy.Float(s.initial_concentration)
            return c * V if amount_valued else c
        if s.initial_amount is not None:
            a = sympy.Float(s.initial_amount)
            return a if amount_valued else a / V
        return None

    def _initial_exprs(self) -> dict:
        """Every id's initial-value expression in model symbols (attribute, initial
        assignment or assignment rule), ``rateOf`` and ``delay`` resolved for the start."""
        m = self.m
        exprs: dict[str, sympy.Expr] = {}
        for c in m.compartments:
            exprs[c.id] = sympy.Float(1.0 if c.size is None else c.size)
        for p in m.parameters:
            exprs[p.id] = sympy.Float(np.nan if p.value is None else p.value)
        for i, v in self.local.items():
            exprs[i] = sympy.Float(np.nan if v is None else v)
        for i, sr in self.srefs.items():
            exprs[i] = sympy.Float(1.0 if sr.stoichiometry is None else sr.stoichiometry)
        for s in m.species:
            value = self.species_initial(s)
            exprs[s.id] = sympy.Float(np.nan) if value is None else value
        for r in m.reactions:
            exprs[r.id] = r.rate if r.rate is not None else sympy.Integer(0)
        exprs.update(self.ar)
        exprs.update(self.ia)
        for k, e in exprs.items():
            if e.has(Delay):
                e = exprs[k] = _with_prestart(self, e)
            if e.atoms(RateOf):
                exprs[k] = _initial_rates(self, e)
        return exprs

    def _initializer(self) -> Initializer:
        amount_valued = {s.id: self._is_amount_valued(s) for s in self.m.species}
        converted = {i: self.species[i].compartment for i, h in self.held.items()
                     if i in self.species and h.amount and not amount_valued[i]}
        return Initializer(
            model_id=self.m.id, state_ids=tuple(self.state_ids), param_ids=tuple(self.param_ids),
            exprs=self._initial_exprs(), amount_valued=amount_valued, converted=converted,
            compartments=frozenset(self.comps),
            settable=frozenset(self.comps) | frozenset(self.species) | frozenset(self.params)
            | frozenset(self.srefs) | frozenset(self.local),
            rule_ids=frozenset(self.ar))

    # --- build ---------------------------------------------------------------------
    def build(self) -> OdeSystem:
        self._layout()
        rhs = tuple(self.rhs_of(i) for i in range(len(self.y)))
        outputs = {}
        for group in (self.comps, self.species, self.params, self.srefs, self.reactions):
            for i in group:
                outputs[i] = self.val(sympy.Symbol(i))
        amounts = {}
        for s in self.m.species:
            h = self.held[s.id]
            if h.amount:
                amounts[s.id] = self._symbol(s.id)
            elif self._is_amount_valued(s):
                amounts[s.id] = outputs[s.id]
            else:
                amounts[s.id] = outputs[s.id] * outputs[s.compartment]
        events = self._events()
        init = self._initializer()
        y0, p0 = init.values({}, 0.0)
        return OdeSystem(
            model_id=self.m.id, model_hash=self.m.hash, t=self.t,
            state_ids=tuple(self.state_ids), y=self.y,
            param_ids=tuple(self.param_ids), p=self.p,
            p_default=p0, y_default=y0, rhs=rhs, outputs=outputs,
            species_amount=amounts,
            species_compartment={s.id: s.compartment for s in self.m.species},
            events=events, init=init,
        )


def _scaled(coefficient, rate):
    """``coefficient * rate`` for a stoichiometric term. A numeric coefficient is merged
    into the rate's own, so a long product of factors is not flattened and sorted again
    for every species it changes (most of the build time of a model with hundreds of
    reactions)."""
    if not (isinstance(coefficient, sympy.Number) and isinstance(rate, sympy.Mul)):
        return coefficient * rate
    c, rest = rate.as_coeff_Mul()
    c = coefficient * c
    if c == 0 or not c.is_finite:
        return coefficient * rate
    if c == 1 and not isinstance(c, sympy.Float):
        return rest
    if not isinstance(rest, sympy.Mul):
        return c * rest
    return sympy.Mul._from_args((c, *rest.args), rest.is_commutative)


def _sum(terms: list):
    """``Add(*terms)`` for a species' stoichiometric terms. When they are distinct products
    and symbols with distinct non-numeric parts (nothing to collect or cancel), the sum is
    assembled in sympy's canonical order without ``Add.flatten``, whose assumption queries on
    every term cost more than the rest of building the right-hand side."""
    parts = [t.as_coeff_Mul()[1] if isinstance(t, sympy.Mul) else t for t in terms]
    if (len(terms) < 2 or len(set(parts)) < len(parts)
            or not all(isinstance(t, (sympy.Mul, sympy.Symbol)) for t in terms)
            or any(isinstance(a, sympy.Add) or not a.is_commutative for a in parts)):
        return sympy.Add(*terms)
    return sympy.Add._from_args(sorted(terms, key=CANONICAL), True)


def _replace_rates(b: _Builder, expr, rate_of, depth: int = 0):
    """``expr`` with every ``rateOf(x)`` replaced by ``rate_of(name of x)``, itself resolved
    the same way (a rate may use other rates)."""
    if depth > 20:
        raise ModelImportError(f"rateOf in model '{b.m.id}' nests too deeply")
    mapping = {}
    for f in expr.atoms(RateOf):
        x = f.args[0]
        if not isinstance(x, sympy.Symbol):
            raise ModelImportError(f"rateOf in model '{b.m.id}' must be applied to an id, got {x}")
        mapping[f] = _replace_rates(b, rate_of(x.name), rate_of, depth + 1)
    return expr.xreplace(mapping) if mapping else expr


def _initial_rates(b: _Builder, expr):
    """Replace ``rateOf(x)`` by the rate of ``x`` written in model symbols, so that initial
    assignments can use it (evaluated with the other initial values)."""
    return _replace_rates(b, expr, lambda name: _rate_in_model_symbols(b, name))


def _chain_rule_rate(e):
    """d e / dt in model symbols: ``de/dtime + sum_s de/ds rateOf(s)``."""
    out = sympy.diff(e, TIME) if TIME in e.free_symbols else sympy.Integer(0)
    for s in e.free_symbols - {TIME}:
        out += sympy.diff(e, s) * RateOf(s)
    return out


def _rate_in_model_symbols(b: _Builder, name: str):
    if name in b.rr:
        return b.rr[name]
    if name in b.ar:
        return _chain_rule_rate(b.ar[name])
    h = b.held.get(name)
    s = b.species.get(name)
    if h is None or s is None or h.kind != "y" or not h.amount:
        return sympy.Integer(0)
    total = sympy.Integer(0)
    for r in b.m.reactions:
        rate = r.rate if r.rate is not None else sympy.Integer(0)
        for sign, refs in ((-1, r.reactants), (1, r.products)):
            for sr in refs:
                if sr.species == name:
                    st = (sr.stoichiometry_math if sr.stoichiometry_math is not None
                          else sympy.Symbol(sr.id) if sr.id
                          else sympy.Float(1.0 if sr.stoichiometry is None else sr.stoichiometry))
                    total += sign * st * rate
    cf = s.conversion_factor or b.m.conversion_factor
    if cf:
        total = total * sympy.Symbol(cf)
    if b._is_amount_valued(s):
        return total
    V = sympy.Symbol(s.compartment)
    return total / V - sympy.Symbol(name) * RateOf(V) / V


def _before_start(b, expr):
    """``expr`` (model symbols) as evaluated before the start time (see :func:`_prestart_rates`);
    species that fast reactions equilibrate take their initial values there."""
    if b.before_start:
        held = {s: b.before_start[s.name] for s in expr.free_symbols if s.name in b.before_start}
        expr = expr.xreplace(held) if held else expr
    return _prestart_rates(b, expr)


def _prestart_rates(b, expr):
    """``expr`` (model symbols) as evaluated before the start time: ``rateOf`` of a state or
    parameter is 0 (its history is its initial value) and of an assignment rule's target
    the rule's rate by the chain rule."""
    return _replace_rates(b, expr, lambda name: _chain_rule_rate(b.ar[name]) if name in b.ar
                          else sympy.Integer(0))


def delay_uses(model: Model) -> list[str]:
    """Where ``model`` uses the csymbol ``delay``: one ``"<element>"`` string per use site."""
    def has(e):
        return e is not None and e.has(Delay)
    out = []
    for r in model.rules:
        if has(r.math):
            kind = type(r).__name__
            out.append(f"{kind[0].lower()}{kind[1:]}" + (f" for '{r.variable}'" if hasattr(r, "variable") else ""))
    for a in model.initial_assignments:
        if has(a.math):
            out.append(f"initialAssignment to '{a.symbol}'")
    for r in model.reactions:
        if has(r.rate):
            out.append(f"reaction '{r.id}' (kineticLaw)")
        for sr in (*r.reactants, *r.products):
            if has(sr.stoichiometry_math):
                out.append(f"reaction '{r.id}' (stoichiometryMath of '{sr.species}')")
    for ev in model.events:
        parts = [n for n, e in (("trigger", ev.trigger), ("delay", ev.delay), ("priority", ev.priority))
                 if has(e)]
        parts += [f"assignment to '{a.variable}'" for a in ev.assignments if has(a.math)]
        if parts:
            out.append(f"event '{ev.id}' ({', '.join(parts)})")
    return out


def refuse_delays(model: Model, what: str) -> None:
    """Raise UnsupportedFeatureError naming every use of the csymbol ``delay`` in ``model``
    (if any), because ``what`` (e.g. "the compiled backend") cannot handle it."""
    uses = delay_uses(model)
    if uses:
        raise UnsupportedFeatureError([f"{w} uses csymbol 'delay', which {what} does not handle"
                                       for w in uses], source=model.source)


def _with_prestart(b, expr):
    """Each outermost ``Delay(x, tau)`` of ``expr`` with its third argument, ``x`` as
    evaluated before the start time (see :func:`_prestart_rates`), where that differs."""
    mapping = {}
    for d in outermost_delays(expr):
        x = d.args[0]
        x_before = _before_start(b, x) if len(d.args) == 2 else x
        if x_before != x:
            mapping[d] = Delay(x, d.args[1], x_before)
    return expr.xreplace(mapping) if mapping else expr
