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
    variables, are a :class:`ModelImportError`.

Fast reactions (SBML L3v1 section 4.11.3)
    Fast reactions are in rapid equilibrium: their rates are 0 at all times. The species
    they change (the fast species) are replaced by the conserved combinations of amounts
    ``w = L A`` of the fast subsystem (``L`` spans the left null space of the fast
    stoichiometry), which become new state variables moved only by the slow reactions;
    the fast species' amounts are solved from ``L A = w`` and ``v_fast(A) = 0`` in closed
    form and become assignment rules. Otherwise :class:`UnsupportedFeatureError` names the
    reactions.

All math here is sympy built from the SBML AST by the importer; nothing is parsed from text.
"""
from __future__ import annotations

import dataclasses

import sympy

from simulator.errors import ModelImportError, UnsupportedFeatureError
from simulator.model import (TIME, AlgebraicRule, AssignmentRule, InitialAssignment, Model,
                             Parameter, RateOf, RateRule, Reaction)

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
    if any(r.fast for r in model.reactions):
        model = _Fast(model).explicit()
    if any(isinstance(r, AlgebraicRule) for r in model.rules):
        model = _Algebraic(model).explicit()
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


# Functions a solution may use: those SBML math itself produces (simulator.mathml), which
# both code generators print. sympy.solve may answer with others (LambertW, re, im, ...).
_PRINTABLE = frozenset({
    sympy.Abs, sympy.exp, sympy.log, sympy.floor, sympy.ceiling, sympy.factorial,
    sympy.sin, sympy.cos, sympy.tan, sympy.sec, sympy.csc, sympy.cot, sympy.sinh, sympy.cosh,
    sympy.tanh, sympy.sech, sympy.csch, sympy.coth, sympy.asin, sympy.acos, sympy.atan,
    sympy.asec, sympy.acsc, sympy.acot, sympy.asinh, sympy.acosh, sympy.atanh, sympy.asech,
    sympy.acsch, sympy.acoth, sympy.Piecewise, sympy.Min, sympy.Max, RateOf,
})


def _functions(expr) -> set:
    return {type(f) for f in expr.atoms(sympy.Function)}


def _unique_solution(equations, unknowns):
    """The unique solution of ``equations = 0`` for ``unknowns`` as {unknown: expr}, or a
    string saying why there is none. A single equation that is piecewise in its unknown,
    under conditions free of it, is solved branch by branch."""
    allowed = _PRINTABLE.union(*(_functions(e) for e in equations))
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
    # SBML values are real: solve over the reals, and drop complex roots
    symbols = set(unknowns).union(*(e.free_symbols for e in equations))
    real = {u: sympy.Dummy(u.name, real=True) for u in symbols}
    eqs = [e.xreplace(real) for e in equations]
    try:
        sols = sympy.solve(eqs, [real[u] for u in unknowns], dict=True)
    except (NotImplementedError, ValueError, TypeError, RecursionError) as err:
        return f"sympy cannot solve it ({type(err).__name__})"
    back = {d: u for u, d in real.items()}
    sols = [s for s in sols if not any(v.has(sympy.I) for v in s.values())]
    real = {u: real[u] for u in unknowns}
    if not sols:
        return "sympy finds no solution"
    if len(sols) > 1:
        return f"it has {len(sols)} solutions"
    (sol,) = sols
    out = {}
    for u, d in real.items():
        value = sol.get(d)
        if value is None or value.free_symbols & set(real.values()):
            return "the rules do not fix it (they are not independent)"
        value = value.xreplace(back)
        if value.has(sympy.nan, sympy.zoo, sympy.I) or not _functions(value) <= allowed:
            return f"the solution {value} is not real or uses functions SBML math lacks"
        out[u] = value
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
        for rule in self.rules:
            if rule.math is None:
                invalid.append(f"{_where(rule, '')} has no math")
                exprs.append(None)
                continue
            exprs.append(_expand(rule.math, self.defs))
        if invalid:
            raise ModelImportError(f"{self.m.source}: invalid model:\n  - " + "\n  - ".join(invalid))
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
    def __init__(self, model: Model):
        self.m = model

    def explicit(self) -> Model:
        names = [r.id for r in self.m.reactions if r.fast]
        raise UnsupportedFeatureError(
            [f"reaction '{n}' is a fast reaction (fast=\"true\")" for n in names],
            source=self.m.source)
