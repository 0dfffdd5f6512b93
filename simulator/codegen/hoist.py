"""Parameter-only subexpressions, split off so that a run computes them once.

A rate law divides by its Michaelis constants, a Hill term raises its threshold to its
exponent, a compartment's size divides every concentration change in it: expressions of
parameters alone, which the right-hand side and the Jacobian recompute at every call, ~8
calls a step. On the bundled model 182 of the right-hand side's 212 divisions have such a
divisor, and 30 % of its arithmetic (the Jacobian's: 37 %) involves parameters only. This
module replaces each maximal parameter-only subexpression of an expression list by a new
symbol and collects the replaced expressions (the *derived parameters*), which the
generated code computes once per integration segment (:mod:`simulator.codegen.llvm`,
``derive``).

The split is structural: the same nodes, regrouped without sympy's evaluation. Within a sum
or a product the parameter-only terms or factors are grouped into one derived parameter
(``k*E*S/Km`` reads ``q*E*S`` with ``q = k/Km``), which reassociates that sum or product:
results may differ from the unsplit expression by rounding. Boolean nodes (relations,
conditions) are never replaced, only the numbers inside them. ``delay`` and ``rateOf``
are never constant (an event may change a parameter within the delay), and ``min``/``max``
are left whole: rebuilding them would reorder their arguments, and with them which NaN
the generated code passes on.
"""
from __future__ import annotations

import sympy
from sympy.core.operations import LatticeOp

from simulator.model import Delay, RateOf

__all__ = ["Hoisted", "hoist_parameters"]


class Hoisted:
    """The result of :func:`hoist_parameters`: ``lists`` (the expression lists with derived
    parameters in place), ``symbols`` and ``derived`` (each new symbol and the parameter-only
    expression it stands for, in order)."""

    def __init__(self, lists, symbols, derived):
        self.lists = lists
        self.symbols = symbols
        self.derived = derived


class _Hoister:
    def __init__(self, params: set):
        self.params = params
        self.by_expr: dict = {}
        self.symbols: list = []
        self.derived: list = []
        self.memo: dict = {}

    def symbol(self, e):
        s = self.by_expr.get(e)
        if s is None:
            s = sympy.Dummy(f"q{len(self.derived)}")
            self.by_expr[e] = s
            self.symbols.append(s)
            self.derived.append(e)
        return s

    def top(self, e):
        new, const = self.walk(e)
        return self.symbol(e) if const and _replaceable(e) else new

    def walk(self, e):
        """``(e with its maximal parameter-only parts replaced, whether e is
        parameter-only)``."""
        r = self.memo.get(e)
        if r is None:
            r = self._walk(e)
            self.memo[e] = r
        return r

    def _walk(self, e):
        if e.is_Atom:
            return e, bool(e in self.params or (isinstance(e, sympy.Expr) and e.is_number))
        if isinstance(e, (Delay, RateOf)):
            return e, False
        if isinstance(e, LatticeOp):                 # Min, Max: kept whole
            return e, all(self.walk(a)[1] for a in e.args)
        parts = [self.walk(a) for a in e.args]
        numeric = isinstance(e, sympy.Expr) and not e.is_Boolean
        if numeric and all(c for _, c in parts):
            return e, True
        const = [a for a, (_, c) in zip(e.args, parts) if c]
        if numeric and isinstance(e, (sympy.Add, sympy.Mul)) and (
                len(const) > 1 or (const and _replaceable(const[0]))):
            args = [new for new, c in parts if not c]
            args.append(self.symbol(_rebuild(e.func, const)))
        else:
            args = [self.symbol(a) if c and _replaceable(a) else new
                    for a, (new, c) in zip(e.args, parts)]
        if len(args) == len(e.args) and all(x is y for x, y in zip(args, e.args)):
            return e, False
        return _rebuild(e.func, args), False


def _replaceable(e) -> bool:
    """A parameter-only node worth a derived parameter: a numeric expression that is not a
    single symbol or number."""
    return isinstance(e, sympy.Expr) and not e.is_Atom and not e.is_Boolean


def _rebuild(func, args):
    """``func(*args)`` without sympy's evaluation where the class allows it."""
    try:
        return func(*args, evaluate=False)
    except TypeError:
        return func(*args)


def hoist_parameters(lists, params) -> Hoisted:
    """Replace the maximal parameter-only subexpressions of every expression in ``lists``
    (lists of sympy expressions) by new symbols, shared across the lists; ``params`` are
    the symbols constant within a run."""
    h = _Hoister(set(params))
    new = [[h.top(e) for e in exprs] for exprs in lists]
    return Hoisted(new, h.symbols, h.derived)
