"""Observable and noise formulas of a PEtab problem: parsed, checked and made numeric.

Formulas are text from a file, so they are parsed by petab's grammar-based parser
(:func:`petab.v1.math.sympify_petab`, an ANTLR grammar that builds sympy trees), never by
``eval`` or ``sympify``. The tree's symbols are renamed to identifiers we create (``a0``,
``a1``, ...) before sympy prints a numpy function, so no text of the file reaches generated
source.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy
from petab.v1.math import sympify_petab

from simulator.numeric import MODULES

__all__ = ["Formula", "parse_formula"]


@dataclass(frozen=True)
class Formula:
    """A parsed formula: ``expr`` in the file's symbols, ``names`` its free symbols (sorted),
    ``numeric(*values)`` its value from the values of ``names`` in that order (arrays
    broadcast)."""

    expr: sympy.Expr
    names: tuple[str, ...]
    numeric: Callable
    _partials: dict = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, values: dict) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.numeric(*(values[n] for n in self.names)), dtype=float)

    def partial(self, name: str) -> "Formula":
        """The formula's partial derivative by ``name`` (same argument names), built once."""
        if name not in self._partials:
            self._partials[name] = _numeric(
                sympy.diff(self.expr, sympy.Symbol(name, real=True)), self.names)
        return self._partials[name]


def parse_formula(text, where: str) -> Formula:
    """``text`` (a number or a formula) parsed into a :class:`Formula`.

    Raises ``ValueError`` with ``where`` (file, row, column) when the grammar refuses it."""
    if isinstance(text, (int, float, np.number)) and not isinstance(text, bool):
        if not np.isfinite(text):
            raise ValueError(f"{where}: the value {text!r} is not a finite number")
        return _numeric(sympy.Float(float(text)), ())
    try:
        expr = sympify_petab(str(text))
    except Exception as e:           # the parser's own errors carry no position we can map
        raise ValueError(f"{where}: cannot parse {str(text)!r}: {e}") from None
    if isinstance(expr, sympy.logic.boolalg.Boolean) and not isinstance(expr, sympy.Expr):
        raise ValueError(f"{where}: {str(text)!r} is a condition, not a number")
    # one real symbol per name (the parser may make them with other assumptions)
    names = tuple(sorted({s.name for s in expr.free_symbols}))
    expr = expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols})
    return _numeric(expr, names)


def _numeric(expr, names) -> Formula:
    ours = [sympy.Symbol(f"a{i}", real=True) for i in range(len(names))]
    renamed = expr.xreplace(dict(zip((sympy.Symbol(n, real=True) for n in names), ours)))
    fn = sympy.lambdify(ours, renamed, modules=MODULES)
    return Formula(expr, tuple(names), fn)
