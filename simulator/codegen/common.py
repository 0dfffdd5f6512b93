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
        if isinstance(expr, bool):
            expr = sympy.true if expr else sympy.false
        elif not isinstance(expr, sympy.Basic):
            expr = sympy.Float(float(expr))
        out = expr.xreplace(self.subs)
        allowed = {self.t, *self.y, *self.p}
        foreign = [s for s in out.free_symbols if s not in allowed]
        if foreign:
            names = ", ".join(sorted(str(s) for s in foreign))
            raise ModelError(f"{what} refers to undefined symbol(s) {names}")
        return out
