"""Algebraic rules and fast reactions as an equivalent explicit system, or why not.

:func:`make_explicit` returns a :class:`~simulator.model.Model` without algebraic rules and
without fast reactions, whose assignment rules, rate rules and reactions mean the same, so
that :mod:`simulator.semantics` (and everything after it) only meets explicit constructs.

Algebraic rules (SBML L3v2 section 4.9.4)
    Each rule ``0 = f(...)`` determines one variable that nothing else determines: not
    constant, not the target of an assignment or rate rule or of an event assignment, and
    not a species whose amount reactions change. Rules and such variables are matched by
    augmenting paths (a variable without an initial value is preferred, then one without an
    initial assignment), rules that depend on each other are solved jointly (strongly
    connected blocks) with :func:`sympy.solve`, and each solution becomes an assignment rule.
    A unique explicit solution is required; otherwise :class:`UnsupportedFeatureError`
    names the rule and the variable. Rules that determine no variable, or more rules than
    variables, are a :class:`ModelImportError`. A rule without math (legal in SBML L3v2)
    means nothing and is dropped; the importer warned about it.

Fast reactions (SBML L3v1 section 4.11.3)
    Fast reactions are in rapid equilibrium: their rates are 0 at all times. The species
    they change (the fast species) are replaced by the conserved combinations of amounts
    ``w = L A`` of the fast subsystem (``L`` spans the left null space of the fast
    stoichiometry), which become new state variables moved only by the slow reactions;
    the fast species' amounts are solved from ``L A = w`` and ``v_fast(A) = 0`` in closed
    form and become assignment rules. Otherwise :class:`UnsupportedFeatureError` names the
    reactions.

    Events. Stoichiometries (times conversion factors) may change at events, not
    continuously: ``L`` then changes with them. An event that sets a fast species or a
    symbol of ``L`` sets ``w`` to ``L A`` as the event leaves them (the species re-equilibrate
    at once). A fast reaction whose rate has a factor that only events change and that may
    be 0 (``k1 (A - B/K)`` with ``k1 = 0`` until an event) is off while it is 0: the fast
    species are then states of their own (``_fast_frozen_<id>``, moved by the slow
    reactions) that events set to the current amounts; when it is not 0 the equilibrium
    holds. Refused: such a factor in a group of linked fast reactions, and a delayed event
    using its trigger-time values that touches a fast group (the other amounts would be
    needed at execution time).

All math here is sympy built from the SBML AST by the importer; nothing is parsed from text.
"""
from __future__ import annotations

import dataclasses

import sympy

from simulator.errors import ModelImportError, UnsupportedFeatureError
from simulator.model import (TIME, AlgebraicRule, AssignmentRule, EventAssignment,
                             InitialAssignment, Model, Parameter, RateOf, RateRule, Reaction)

__all__ = ["make_explicit"]

_MAX_DEPTH = 50


def make_explicit(model: Model) -> Model:
    """``model`` with its algebraic rules and fast reactions made explicit.

    Parameters
    ----------
    model : Model

    Returns
    -------
    Model
        ``model`` itself when it has neither; otherwise a new model (same id, source and
        SBML text) whose algebraic rules are assignment rules and whose fast reactions are
        replaced as described in the module notes.

    Raises
    ------
    UnsupportedFeatureError
        A rule or a fast subsystem that has no unique closed-form solution.
    ModelImportError
        Algebraic rules that determine no variable, or more rules than variables.
    """
    if any(isinstance(r, AlgebraicRule) and r.math is None for r in model.rules):
        model = dataclasses.replace(model, rules=tuple(   # a rule without math means nothing
            r for r in model.rules if not (isinstance(r, AlgebraicRule) and r.math is None)))
    if any(isinstance(r, AlgebraicRule) for r in model.rules):
        model = _Algebraic(model).explicit()
    if any(r.fast for r in model.reactions):
        model = _Fast(model).explicit()
    return model


# ---------------------------------------------------------------------------------------
# shared helpers


def _where(rule: AlgebraicRule, expr=None) -> str:
    line = f", line {rule.line}" if rule.line else ""
    shown = rule.math if expr is None else expr
    return f"algebraic rule{line} (0 = {shown})"


def _assignment_map(model: Model) -> dict[sympy.Symbol, sympy.Expr]:
    """Symbol -> math of every assignment rule (and L2 stoichiometryMath)."""
    out = {}
    for r in model.rules:
        if isinstance(r, AssignmentRule) and r.math is not None:
            out[sympy.Symbol(r.variable)] = r.math
    for rx in model.reactions:
        for sr in (*rx.reactants, *rx.products):
            if sr.id and sr.stoichiometry_math is not None:
                out.setdefault(sympy.Symbol(sr.id), sr.stoichiometry_math)
    for rx in model.reactions:
        out.setdefault(sympy.Symbol(rx.id), rx.rate if rx.rate is not None else sympy.Integer(0))
    return out


def _expand(expr, defs: dict, depth: int = 0):
    """``expr`` with assignment-rule targets and reaction ids replaced by their math, so
    that every symbol left is one that no explicit rule determines."""
    if depth > _MAX_DEPTH:
        raise ModelImportError("assignment rules form a cycle (found while solving an "
                               "algebraic rule)")
    plain, back = _opaque_rates(expr)  # rateOf(y) keeps its argument y
    mapping = {s: _expand(defs[s], defs, depth + 1) for s in plain.free_symbols if s in defs}
    return plain.xreplace(mapping).xreplace(back) if mapping else expr


def _opaque_rates(expr):
    """Replace each ``rateOf(x)`` by a dummy: (new expr, {dummy: rateOf(x)})."""
    back = {}
    mapping = {}
    for f in expr.atoms(RateOf):
        d = sympy.Dummy("rate")
        mapping[f] = d
        back[d] = f
    return (expr.xreplace(mapping) if mapping else expr), back


# Functions a solution may use: those SBML math itself produces (simulator.io.mathml), which
# both code generators print. sympy.solve may answer with others (LambertW, re, im, ...).
_PRINTABLE = frozenset({
    sympy.Abs, sympy.exp, sympy.log, sympy.floor, sympy.ceiling, sympy.factorial,
    sympy.sin, sympy.cos, sympy.tan, sympy.sec, sympy.csc, sympy.cot, sympy.sinh, sympy.cosh,
    sympy.tanh, sympy.sech, sympy.csch, sympy.coth, sympy.asin, sympy.acos, sympy.atan,
    sympy.asec, sympy.acsc, sympy.acot, sympy.asinh, sympy.acosh, sympy.atanh, sympy.asech,
    sympy.acsch, sympy.acoth, sympy.Piecewise, sympy.Min, sympy.Max, RateOf,
})


def _cleared(row):
    """A row of a left null space with symbolic entries, scaled to clear their
    denominators (``[1/n, 1]`` -> ``[1, n]``), so no stoichiometry divides."""
    if not row.free_symbols:
        return row
    dens = [sympy.fraction(sympy.together(x))[1] for x in row]
    scale = sympy.lcm_list(dens) if len(dens) > 1 else dens[0]
    return row.applyfunc(lambda x: sympy.cancel(x * scale))


def _functions(expr) -> set:
    return {type(f) for f in expr.atoms(sympy.Function)}


def _unique_solution(equations, unknowns):
    """The unique solution of ``equations = 0`` for ``unknowns`` as {unknown: expr}, or a
    string saying why there is none. A single equation that is piecewise in its unknown,
    under conditions free of it, is solved branch by branch."""
    if len(equations) == 1:
        folded = sympy.piecewise_fold(equations[0])
        if isinstance(folded, sympy.Piecewise) and not any(
                c.free_symbols & set(unknowns) for _, c in folded.args):
            pieces = []
            for e, c in folded.args:
                sol = _unique_solution([e], unknowns)
                if isinstance(sol, str):
                    return f"{sol} where {c}"
                pieces.append((sol[unknowns[0]], c))
            return {unknowns[0]: sympy.Piecewise(*pieces)}
    sols = _solutions(equations, unknowns)
    if isinstance(sols, str):
        return sols
    if len(sols) > 1:
        return f"it has {len(sols)} solutions"
    return sols[0]


def _beyond_quadratic(equations, unknowns) -> str | None:
    """Why polynomial ``equations`` are not attempted, or None. sympy.solve can take minutes
    on cubic and higher systems (two coupled bindings give a cubic) and its closed forms
    there are not real-valued formulas; one quadratic plus linear equations is solved."""
    quadratic = 0
    for e in equations:
        try:
            degree = sympy.Poly(e, *unknowns).total_degree()
        except sympy.PolynomialError:
            continue              # not polynomial in the unknowns: sympy.solve decides
        if degree > 2:
            return f"it is a polynomial equation of degree {degree} in the unknowns"
        quadratic += degree == 2
    if quadratic > 1:
        return f"it couples {quadratic} quadratic equations (a polynomial of degree > 2)"
    return None


def _solutions(equations, unknowns):
    """Every real solution of ``equations = 0`` for ``unknowns``, each explicit and printable,
    as a list of {unknown: expr}; or a string saying why there is none."""
    allowed = _PRINTABLE.union(*(_functions(e) for e in equations))
    # SBML values are real: solve over the reals, and drop complex roots
    symbols = set(unknowns).union(*(e.free_symbols for e in equations))
    real = {u: sympy.Dummy(getattr(u, "name", "u"), real=True) for u in symbols}
    eqs = [e.xreplace(real) for e in equations]
    too_hard = _beyond_quadratic(eqs, [real[u] for u in unknowns])
    if too_hard:
        return too_hard
    try:
        sols = sympy.solve(eqs, [real[u] for u in unknowns], dict=True)
    except (NotImplementedError, ValueError, TypeError, RecursionError) as err:
        return f"sympy cannot solve it ({type(err).__name__})"
    back = {d: u for u, d in real.items()}
    sols = [s for s in sols if not any(v.has(sympy.I) for v in s.values())]
    if not sols:
        return "sympy finds no solution"
    out = []
    for sol in sols:
        one = {}
        for u in unknowns:
            value = sol.get(real[u])
            if value is None or value.free_symbols & {real[v] for v in unknowns}:
                return "the equations do not fix every unknown (they are not independent)"
            value = value.xreplace(back)
            if value.has(sympy.nan, sympy.zoo, sympy.I) or not _functions(value) <= allowed:
                return f"the solution {value} is not real or uses functions SBML math lacks"
            one[u] = value
        out.append(one)
    return out


# ---------------------------------------------------------------------------------------
# algebraic rules


class _Algebraic:
    def __init__(self, model: Model):
        self.m = model
        self.rules = [r for r in model.rules if isinstance(r, AlgebraicRule)]
        self.defs = _assignment_map(model)

    def candidates(self) -> dict[sympy.Symbol, tuple]:
        """Variables an algebraic rule may determine, with their preference key."""
        m = self.m
        taken = {r.variable for r in m.rules if not isinstance(r, AlgebraicRule)}
        taken |= {a.variable for e in m.events for a in e.assignments}
        in_reactions = {sr.species for r in m.reactions for sr in (*r.reactants, *r.products)}
        ia = {a.symbol for a in m.initial_assignments}
        out = {}
        order = 0

        def add(i, has_value):
            nonlocal order
            if i not in taken:
                out[sympy.Symbol(i)] = (i in ia, has_value, order)
            order += 1

        for c in m.compartments:
            if not c.constant:
                add(c.id, c.size is not None)
        for s in m.species:
            if not s.constant and not (s.id in in_reactions and not s.boundary_condition):
                add(s.id, s.initial_amount is not None or s.initial_concentration is not None)
        for p in m.parameters:
            if not p.constant:
                add(p.id, p.value is not None)
        for r in m.reactions:
            for sr in (*r.reactants, *r.products):
                if sr.id and not sr.constant and sr.stoichiometry_math is None:
                    add(sr.id, sr.stoichiometry is not None)
        return out

    def explicit(self) -> Model:
        problems, invalid = [], []
        exprs = []
        for rule in self.rules:   # none without math: make_explicit dropped those
            exprs.append(_expand(rule.math, self.defs))
        cand = self.candidates()
        options = []
        for rule, e in zip(self.rules, exprs):
            plain, _ = _opaque_rates(e)
            inside = set().union(*(f.free_symbols for f in e.atoms(RateOf))) if e.atoms(RateOf) else set()
            opts = sorted((s for s in plain.free_symbols if s in cand and s not in inside),
                          key=lambda s: cand[s])
            if not opts:
                invalid.append(f"{_where(rule)} determines no variable: every id in it is "
                               "constant, set by a rule, an event or reactions, or appears "
                               "only inside rateOf")
            options.append(opts)
        if invalid:
            raise ModelImportError(f"{self.m.source}: invalid model:\n  - " + "\n  - ".join(invalid))
        match = _match(options)
        unmatched = [_where(r) for i, r in enumerate(self.rules) if i not in match]
        if unmatched:
            raise ModelImportError(
                f"{self.m.source}: the algebraic rules over-determine model '{self.m.id}': "
                f"no variable is left for:\n  - " + "\n  - ".join(unmatched))
        ia = {a.symbol for a in self.m.initial_assignments}
        clash = [f"'{v.name}' ({_where(self.rules[i])})" for i, v in match.items() if v.name in ia]
        if clash:
            raise ModelImportError(
                f"{self.m.source}: model '{self.m.id}' sets the initial value of "
                + ", ".join(clash) + " both by an initial assignment and by an algebraic rule")
        solved = {}
        for block in _blocks(exprs, match):
            unknowns = [match[i] for i in block]
            eqs, back = [], {}
            for i in block:
                e, b = _opaque_rates(exprs[i])
                eqs.append(e)
                back.update(b)
            sol = _unique_solution(eqs, unknowns)
            if isinstance(sol, str):
                names = ", ".join(f"'{u.name}'" for u in unknowns)
                rules = "; ".join(_where(self.rules[i]) for i in block)
                problems.append(f"{rules} cannot be solved in closed form for {names}: {sol}")
                continue
            for i in block:
                solved[i] = sol[match[i]].xreplace(back)
        if problems:
            raise UnsupportedFeatureError(problems, source=self.m.source)
        rules = []
        for r in self.m.rules:
            if isinstance(r, AlgebraicRule):
                i = self.rules.index(r)
                rules.append(AssignmentRule(variable=match[i].name, math=solved[i], line=r.line))
            else:
                rules.append(r)
        return dataclasses.replace(self.m, rules=tuple(rules))


def _match(options: list[list]) -> dict[int, sympy.Symbol]:
    """Maximum matching of rules (by index) to variables, trying each rule's options in
    order (Kuhn's augmenting paths)."""
    owner: dict = {}

    def augment(i, seen):
        for v in options[i]:
            if v in seen:
                continue
            seen.add(v)
            if v not in owner or augment(owner[v], seen):
                owner[v] = i
                return True
        return False

    for i in range(len(options)):
        augment(i, set())
    return {i: v for v, i in owner.items()}


def _blocks(exprs, match) -> list[list[int]]:
    """Rules grouped into strongly connected blocks (rule i uses rule j's variable), in an
    order where a block only uses variables of earlier blocks (Tarjan)."""
    by_var = {v: i for i, v in match.items()}
    edges = {i: sorted({by_var[s] for s in exprs[i].free_symbols if s in by_var} - {i})
             for i in match}
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(i):
        index[i] = low[i] = counter[0]
        counter[0] += 1
        stack.append(i)
        on.add(i)
        for j in edges[i]:
            if j not in index:
                visit(j)
                low[i] = min(low[i], low[j])
            elif j in on:
                low[i] = min(low[i], index[j])
        if low[i] == index[i]:
            block = []
            while True:
                j = stack.pop()
                on.discard(j)
                block.append(j)
                if j == i:
                    break
            out.append(sorted(block))

    for i in sorted(match):
        if i not in index:
            visit(i)
    return out


# ---------------------------------------------------------------------------------------
# fast reactions


class _Fast:
    """Rapid equilibrium of the fast reactions, as conserved moieties plus assignment rules."""

    PREFIX = "_fast_moiety_"

    def __init__(self, model: Model):
        self.m = model
        self.fast = [r for r in model.reactions if r.fast]
        self.defs = _assignment_map(model)
        self.species = {s.id: s for s in model.species}
        self.comps = {c.id: c for c in model.compartments}
        self.params = {p.id: p for p in model.parameters}
        self.event_targets = {a.variable for e in model.events for a in e.assignments}
        self.srefs = {sr.id: sr for r in model.reactions for sr in (*r.reactants, *r.products)
                      if sr.id}
        self.local = {k: v for r in model.reactions for k, v in r.local_parameters}
        self.problems: list[str] = []

    # --- helpers ---------------------------------------------------------------------
    def _problem(self, rids, why: str) -> None:
        names = ", ".join(f"'{r}'" for r in rids)
        self.problems.append(f"fast reaction(s) {names}: {why}")

    def _amount_valued(self, s) -> bool:
        c = self.comps.get(s.compartment)
        return s.has_only_substance_units or (c is not None and c.spatial_dimensions == 0)

    def _piecewise_constant(self, expr) -> bool:
        """True if only events change ``expr``: numbers and ids of parameters, compartments,
        species references and local parameters that no rule determines."""
        ruled = {r.variable for r in self.m.rules}
        for sym in expr.free_symbols:
            name = sym.name
            if sym == TIME or name in ruled or not (
                    name in self.params or name in self.comps or name in self.srefs
                    or name in self.local):
                return False
        return not expr.atoms(RateOf)

    def _stoich(self, sr) -> sympy.Expr:
        if sr.stoichiometry_math is not None:
            return sr.stoichiometry_math
        if sr.id:
            return sympy.Symbol(sr.id)
        return sympy.Float(1.0 if sr.stoichiometry is None else sr.stoichiometry)

    def _cf(self, sid: str):
        s = self.species[sid]
        cf = s.conversion_factor or self.m.conversion_factor
        return sympy.Symbol(cf) if cf else sympy.Integer(1)

    def _changes(self, r: Reaction) -> dict[str, sympy.Expr]:
        """Species whose amount ``r`` changes -> net stoichiometry (model symbols)."""
        out: dict[str, sympy.Expr] = {}
        for sign, refs in ((-1, r.reactants), (1, r.products)):
            for sr in refs:
                s = self.species.get(sr.species)
                if s is None or s.boundary_condition or s.constant:
                    continue
                out[sr.species] = out.get(sr.species, sympy.Integer(0)) + sign * self._stoich(sr)
        return out

    def _components(self, changes) -> list[list[int]]:
        """Fast reactions grouped by the fast species they change or their rates read."""
        parent = list(range(len(self.fast)))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        owner: dict[str, int] = {}
        fast_species = set().union(*(set(c) for c in changes))
        for i, r in enumerate(self.fast):
            rate = _expand(r.rate if r.rate is not None else sympy.Integer(0), self.defs)
            # linked through fast species only: a shared parameter does not couple equilibria
            touched = set(changes[i]) | ({s.name for s in rate.free_symbols} & fast_species)
            for sid in touched:
                if sid in owner:
                    parent[find(i)] = find(owner[sid])
                else:
                    owner[sid] = i
        groups: dict[int, list[int]] = {}
        for i in range(len(self.fast)):
            groups.setdefault(find(i), []).append(i)
        return list(groups.values())

    # --- the transform -----------------------------------------------------------------
    def explicit(self) -> Model:
        m = self.m
        # a fast reaction whose rate is identically 0 moves nothing, fast or slow
        zero = {r.id for r in self.fast
                if _expand(r.rate if r.rate is not None else sympy.Integer(0), self.defs) == 0}
        if zero:
            m = self.m = dataclasses.replace(m, reactions=tuple(
                dataclasses.replace(r, fast=False) if r.id in zero else r for r in m.reactions))
            self.fast = [r for r in m.reactions if r.fast]
            if not self.fast:
                return m
        changes = []
        for r in self.fast:
            ch = self._changes(r)
            changes.append(ch)
            for sid, n in ch.items():
                st = _expand(n * self._cf(sid), self.defs)
                if not self._piecewise_constant(st):
                    self._problem([r.id], f"the stoichiometry of '{sid}' (times its conversion "
                                          "factor) is not constant between events")
        fast_species = {sid for ch in changes for sid in ch}
        if self.problems:
            raise UnsupportedFeatureError(self.problems, source=m.source)
        taken = set(m.compartment_ids) | set(m.species_ids) | set(m.parameter_ids) \
            | {r.id for r in m.reactions}
        new_params, new_rules, new_ias = [], [], []
        groups = []       # (rids, sids, moieties [(wid, L)], gate, frozen {sid: uid})
        counter = 0
        for comp in self._components(changes):
            rids = [self.fast[i].id for i in comp]
            sids = sorted({sid for i in comp for sid in changes[i]},
                          key=lambda s: m.species_ids.index(s))
            N = sympy.Matrix([[changes[i].get(sid, sympy.Integer(0)) * self._cf(sid) for i in comp]
                              for sid in sids])
            N = N.applyfunc(lambda x: _expand(x, self.defs))
            moieties = [v.T for v in N.T.nullspace()]
            moieties = [_cleared(sympy.Matrix([[sympy.nsimplify(x) if x.is_Float else x
                                                for x in row]])) for row in moieties]
            ws = []
            for L in moieties:
                counter += 1
                wid = f"{self.PREFIX}{counter}"
                while wid in taken:
                    wid = "_" + wid
                taken.add(wid)
                ws.append((wid, L))
            solved = self._solve(comp, rids, sids, N, ws)
            if solved is None:
                continue
            sol, gate = solved
            frozen = {}
            if gate is not None:   # while the gate is 0 the species are states of their own
                for sid in sids:
                    uid = f"_fast_frozen_{sid}"
                    while uid in taken:
                        uid = "_" + uid
                    taken.add(uid)
                    frozen[sid] = uid
                    new_params.append(Parameter(id=uid, value=None, constant=False,
                                                name=f"amount of '{sid}' while fast reaction(s) "
                                                     + ", ".join(rids) + " are off"))
                    new_ias.append(InitialAssignment(symbol=uid, math=self._initial_amount(sid)))
                    unit = sympy.Matrix([[sympy.Integer(1) if s2 == sid else sympy.Integer(0)
                                          for s2 in sids]])
                    new_rules.append(RateRule(variable=uid, math=sympy.Piecewise(
                        (self._slow_rate(unit, sids), sympy.Eq(gate, 0)), (sympy.Integer(0), True))))
            groups.append((rids, sids, ws, gate, frozen))
            for wid, L in ws:
                new_params.append(Parameter(id=wid, value=None, constant=False,
                                            name="conserved moiety of fast reactions "
                                                 + ", ".join(rids)))
                new_ias.append(InitialAssignment(symbol=wid, math=sum(
                    (L[j] * self._initial_amount(sid) for j, sid in enumerate(sids)),
                    sympy.Integer(0))))
                new_rules.append(RateRule(variable=wid, math=self._slow_rate(L, sids)))
            for sid in sids:
                s = self.species[sid]
                amount = sol[sid]
                if gate is not None:
                    amount = sympy.Piecewise((amount, sympy.Ne(gate, 0)),
                                             (sympy.Symbol(frozen[sid]), True))
                value = amount if self._amount_valued(s) else amount / sympy.Symbol(s.compartment)
                new_rules.append(AssignmentRule(variable=sid, math=value, line=s.line))
        events = tuple(self._event(e, groups) for e in m.events)
        if self.problems:
            raise UnsupportedFeatureError(self.problems, source=m.source)
        # the fast species are now rule-held, so the fast reactions move nothing; their
        # species references stay (their ids may be used in math)
        reactions = tuple(dataclasses.replace(r, fast=False) if r.fast else r
                          for r in m.reactions)
        ias = tuple(a for a in m.initial_assignments if a.symbol not in fast_species)
        return dataclasses.replace(
            m, reactions=reactions, parameters=m.parameters + tuple(new_params),
            initial_assignments=ias + tuple(new_ias), rules=m.rules + tuple(new_rules),
            events=events)

    def _event(self, e, groups):
        """Event ``e`` in the explicit model. The fast species are rule-held there, so an
        assignment to one becomes a new value of its group's conserved moieties
        ``w = L A`` (with ``A`` and ``L`` as the event leaves them); an event that changes
        ``L`` does the same, and one that changes a group's gate (or its species) sets the
        amounts the species keep while the gate is 0. All from the values before the
        event, like every assignment."""
        assigned = {a.variable: a.math for a in e.assignments if a.math is not None}
        subs = {sympy.Symbol(k): v for k, v in assigned.items()}
        kept = [a for a in e.assignments if a.variable not in self.species
                or a.variable not in {sid for _, sids, *_ in groups for sid in sids}]
        extra = []
        for rids, sids, ws, gate, frozen in groups:
            moiety_symbols = set().union(*(L.free_symbols for _, L in ws)) if ws else set()
            gate_symbols = gate.free_symbols if gate is not None else set()
            moved = [sid for sid in sids if sid in assigned]
            restoich = sorted(k for k in assigned if sympy.Symbol(k) in moiety_symbols)
            regate = sorted(k for k in assigned if sympy.Symbol(k) in gate_symbols)
            if not (moved or restoich or (regate and frozen)):
                continue
            if e.delay is not None and e.use_values_from_trigger_time:
                what = ", ".join(f"'{k}'" for k in moved + restoich + regate)
                self._problem(rids, f"event '{e.id}' has a delay and uses the values from its "
                                    f"trigger time to set {what}: the amounts of the other "
                                    "species would be needed from its execution time")
                continue
            after = {}          # amounts after the event, from the values before it
            for sid in sids:
                s = self.species[sid]
                V = sympy.Symbol(s.compartment)
                value = assigned[sid] if sid in assigned else sympy.Symbol(sid)
                after[sid] = value if self._amount_valued(s) else value * V
            if moved or restoich:
                for wid, L in ws:
                    L_after = L.xreplace(subs)
                    extra.append(EventAssignment(variable=wid, math=sum(
                        (L_after[j] * after[sid] for j, sid in enumerate(sids)), sympy.Integer(0))))
            for sid, uid in frozen.items():
                extra.append(EventAssignment(variable=uid, math=after[sid]))
        if not extra and len(kept) == len(e.assignments):
            return e
        return dataclasses.replace(e, assignments=tuple(kept) + tuple(extra))

    def _initial_amount(self, sid: str) -> sympy.Expr:
        s = self.species[sid]
        V = sympy.Symbol(s.compartment)
        amount_valued = self._amount_valued(s)
        ia = {a.symbol: a.math for a in self.m.initial_assignments}
        if sid in ia and ia[sid] is not None:
            return ia[sid] if amount_valued else ia[sid] * V
        if s.initial_concentration is not None:
            c = sympy.Float(s.initial_concentration)
            return c * V
        if s.initial_amount is not None:
            return sympy.Float(s.initial_amount)
        return sympy.nan

    def _slow_rate(self, L, sids) -> sympy.Expr:
        """d(L . A)/dt from the slow reactions (reaction ids stand for their rates)."""
        total = sympy.Integer(0)
        for r in self.m.reactions:
            if r.fast:
                continue
            for sign, refs in ((-1, r.reactants), (1, r.products)):
                for sr in refs:
                    if sr.species in sids:
                        j = sids.index(sr.species)
                        total += L[j] * self._cf(sr.species) * sign * self._stoich(sr) \
                            * sympy.Symbol(r.id)
        return total

    def _solve(self, comp, rids, sids, N, ws):
        """``(amounts, gate)``: the fast species' amounts at equilibrium (model symbols and
        the moiety ids), and the product of the rate's factors that are constant between
        events and may be 0 (None when there are none; while it is 0 the reaction is off
        and the amounts are not these); or None (problem noted)."""
        amounts = {sid: sympy.Dummy(f"A_{sid}") for sid in sids}
        to_amounts = {}
        for sid in sids:
            s = self.species[sid]
            a = amounts[sid]
            to_amounts[sympy.Symbol(sid)] = a if self._amount_valued(s) else a / sympy.Symbol(s.compartment)
        rates = []
        gates = []        # factors, constant between events, that may be 0: the reaction is off
        unknown = set(amounts.values())
        for i in comp:
            r = self.fast[i]
            v = _expand(r.rate if r.rate is not None else sympy.Integer(0), self.defs)
            plain, back = _opaque_rates(v)
            if back and any(f.free_symbols & set(to_amounts) for f in back.values()):
                self._problem(rids, "its rate uses rateOf of a fast species")
                return None
            v = plain.xreplace(to_amounts).xreplace(back)
            coeff, factors = sympy.factor_terms(v).as_coeff_mul()
            rest = []
            for f in factors:
                if not (f.free_symbols & unknown) and self._may_vanish(f):
                    if f.is_number or not self._piecewise_constant(f) or len(comp) > 1:
                        why = ("it is one of several linked fast reactions" if len(comp) > 1
                               and self._piecewise_constant(f) and not f.is_number
                               else "it is not constant between events")
                        self._problem([r.id], f"its rate has the factor {f}, which may vanish "
                                              f"and leave the equilibrium undetermined ({why})")
                        return None
                    gates.append(f)
                else:
                    rest.append(f)
            if gates:   # while the gate is not 0, the rest of the rate is 0 at equilibrium
                v = coeff * sympy.Mul(*rest)
            rates.append(v)
        gate = sympy.Mul(*gates) if gates else None
        dynamics = [v * gate for v in rates] if gates else None   # its sign decides stability
        conserved = [sum((L[j] * amounts[sid] for j, sid in enumerate(sids)), sympy.Integer(0))
                     - sympy.Symbol(wid) for wid, L in ws]
        # a rate piecewise under conditions free of the fast species: solve branch by branch
        for k, v in enumerate(rates):
            folded = sympy.piecewise_fold(v)
            if isinstance(folded, sympy.Piecewise) and not any(
                    c.free_symbols & unknown for _, c in folded.args):
                pieces = []
                for e, c in folded.args:
                    branch = rates[:k] + [e] + rates[k + 1:]
                    got = self._equilibrium(rids, sids, N, amounts, branch, conserved,
                                            [v * gate for v in branch] if gates else None)
                    if got is None:
                        return None
                    pieces.append((got, c))
                return ({sid: sympy.Piecewise(*[(g[sid], c) for g, c in pieces]) for sid in sids},
                        gate)
        got = self._equilibrium(rids, sids, N, amounts, rates, conserved, dynamics)
        return None if got is None else (got, gate)

    def _equilibrium(self, rids, sids, N, amounts, rates, conserved, dynamics=None):
        """The fast species' amounts where ``rates`` are 0 on the ``conserved`` totals; of
        several roots the one stable under ``dynamics`` (default: ``rates``)."""
        sols = _solutions(list(rates) + list(conserved), list(amounts.values()))
        if isinstance(sols, str):
            self._problem(rids, f"the equilibrium cannot be solved in closed form: {sols}")
            return None
        if len(sols) > 1:
            chosen = self._stable(sols, dynamics or rates, amounts, sids, N)
            if chosen is None:
                self._problem(rids, f"the equilibrium has {len(sols)} solutions and no "
                                    "stability test picks one")
                return None
        else:
            chosen = {sid: sols[0][amounts[sid]] for sid in sids}
        return chosen

    def _may_vanish(self, f) -> bool:
        """Whether the factor ``f`` of a fast rate may be 0 over a stretch of time (then the
        equilibrium is undetermined). Factors that move continuously (time, rate rules,
        species) vanish at instants only."""
        if f.is_number:
            return bool(f == 0)
        rate_ruled = {r.variable for r in self.m.rules if isinstance(r, RateRule)}
        ia = {a.symbol: a.math for a in self.m.initial_assignments}
        values = {}
        for sym in f.free_symbols:
            name = sym.name
            if sym == TIME or name in rate_ruled or name in self.species:
                return False
            p, c, sr = self.params.get(name), self.comps.get(name), self.srefs.get(name)
            v = (p.value if p is not None else c.size if c is not None
                 else sr.stoichiometry if sr is not None else self.local.get(name))
            if name in ia:  # an initial assignment of numbers (and time: SBML starts at 0)
                e = ia[name].xreplace({TIME: sympy.Integer(0)}) if ia[name] is not None else None
                v = e if e is not None and e.is_number else None
            if v is None or name in self.event_targets:  # nothing else moves a parameter
                return True
            values[sym] = v
        try:
            return bool(f.xreplace(values) == 0)
        except TypeError:
            return True

    def _stable(self, sols, rates, amounts, sids, N):
        """Pick, branch by branch, the root that is stable under the fast dynamics:
        ``J = dv/dA . N`` with negative eigenvalues (one or two fast reactions)."""
        n = len(rates)
        if n > 2:
            return None
        A = [amounts[sid] for sid in sids]
        dv = sympy.Matrix([[sympy.diff(v, a) for a in A] for v in rates])
        pieces = []
        for sol in sols:
            J = (dv * N).xreplace(sol)
            if n == 1:
                cond = J[0, 0] < 0
            else:
                cond = sympy.And(J.trace() < 0, J.det() > 0)
            if cond is sympy.false:
                continue
            pieces.append((sol, cond))
        if not pieces:
            return None
        if len(pieces) == 1:
            return {sid: pieces[0][0][amounts[sid]] for sid in sids}
        return {sid: sympy.Piecewise(*[(sol[amounts[sid]], cond) for sol, cond in pieces[:-1]],
                                     (pieces[-1][0][amounts[sid]], True))
                for sid in sids}
