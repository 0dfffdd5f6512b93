"""Our own identifiers for generated code.

Model ids never reach generated source: every symbol of an expression is replaced by one we
create (``t``, ``y0..``, ``p0..``) before printing, and anything else is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy

from simulator.errors import ModelError
from simulator.system import OdeSystem


@dataclass(frozen=True)
class SymbolMap:
    """Maps system symbols to generated names; ``xreplace`` an expression with ``subs``."""

    t: sympy.Symbol
    y: tuple[sympy.Symbol, ...]
    p: tuple[sympy.Symbol, ...]
    subs: dict

    @classmethod
    def of(cls, system: OdeSystem) -> "SymbolMap":
        t = sympy.Symbol("t", real=True)
        y = tuple(sympy.Symbol(f"y{i}", real=True) for i in range(system.n_states))
        p = tuple(sympy.Symbol(f"p{j}", real=True) for j in range(system.n_params))
        subs = {system.t: t}
        subs.update(zip(system.y, y))
        subs.update(zip(system.p, p))
        return cls(t, y, p, subs)

    def rename(self, expr, what: str = "expression"):
        """Return ``expr`` in generated names; raise if a foreign symbol remains."""
        return self.rename_all([expr], what)[0]

    def rename_all(self, exprs, what="expression") -> list:
        """:meth:`rename` for many expressions sharing subexpressions (assignment rules
        substituted into many rates, a sensitivity system's Jacobian): each distinct node is
        rebuilt once. ``what`` names the expressions in errors: one name, or one per
        expression."""
        exprs = list(exprs)
        names = [what] * len(exprs) if isinstance(what, str) else list(what)
        memo: dict = {}
        allowed = {self.t, *self.y, *self.p}
        foreign: list = []

        def walk(e):
            r = memo.get(e)
            if r is None:
                if e in self.subs:
                    r = self.subs[e]
                elif not e.args:
                    r = e
                    if isinstance(e, sympy.Symbol) and e not in allowed:
                        foreign.append(str(e))
                else:
                    args = tuple(walk(a) for a in e.args)
                    r = e if args == e.args else e.func(*args)
                memo[e] = r
            return r

        out = []
        for e, name in zip(exprs, names):
            if isinstance(e, bool):
                e = sympy.true if e else sympy.false
            elif not isinstance(e, sympy.Basic):
                e = sympy.Float(float(e))
            out.append(walk(e))
            if foreign:
                raise ModelError(f"{name} refers to undefined symbol(s) "
                                 f"{', '.join(sorted(set(foreign)))}")
        return out


def trigger_relations(triggers) -> list:
    """Every distinct relation inside ``triggers``, in order of first appearance (preorder
    over ``args``), an order that does not depend on the hash seed, so that cached code
    matches. Pass the triggers in the system's own symbols."""
    relations: list = []
    todo = list(reversed(triggers))
    while todo:
        e = todo.pop()
        if isinstance(e, sympy.core.relational.Relational):
            if e not in relations:
                relations.append(e)
        elif isinstance(e, sympy.Basic):
            todo.extend(reversed(e.args))
    return relations


def trigger_switches(triggers) -> list:
    """``lhs - rhs`` of every relation of :func:`trigger_relations`: shared by both
    backends' ``switches``.

    Between two consecutive roots of these functions every trigger (a logical function of
    the relations) is constant, so a trigger flip is found by checking the triggers just
    after each root."""
    return [r.lhs - r.rhs for r in trigger_relations(triggers)]


def equality_switches(triggers) -> tuple[int, ...]:
    """Indices (into :func:`trigger_switches`) of the ``==`` and ``!=`` relations: true (or
    false) only at the instant their switch crosses zero, which floating point never lands
    on, so the backends stop at those roots and the event driver evaluates the triggers
    there as at equality."""
    return tuple(k for k, r in enumerate(trigger_relations(triggers))
                 if isinstance(r, (sympy.Eq, sympy.Ne)))
