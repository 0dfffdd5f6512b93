"""SBML math (a libsbml ``ASTNode``) to sympy, node by node, through a whitelist.

No string from a model reaches ``eval``, ``sympify`` or ``parse_expr``: every sympy object
is built from an AST node whose type is listed in :data:`_HANDLERS`. Anything else is
collected as unsupported and reported all at once by the importer.

Encodings
---------
names                    ``Symbol(id)``; a local parameter ``k`` of reaction ``R``
                         is ``Symbol("R.k")``
csymbol time             :data:`simulator.model.TIME`
csymbol avogadro         ``Float(AVOGADRO)``
csymbol rateOf           ``RateOf(x)``
csymbol delay            ``Delay(x, tau)``: the value of ``x`` at time ``t - tau``
function definitions     expanded inline: the body is converted with each argument name
                         bound to the (converted) argument expression
boolean used as number   ``Piecewise((1, b), (0, True))`` (``true``/``false`` -> 1/0)
number used as boolean   ``Ne(x, 0)`` (a numeric constant folds to ``true``/``false``)
piecewise                ``Piecewise(..., (otherwise, True))``; without ``otherwise`` the
                         last piece is ``(nan, True)`` (SBML leaves the value undefined)
quotient(a, b)           truncation of ``a/b`` toward zero, as a Piecewise of floor/ceiling
rem(a, b)                ``a - b*quotient(a, b)`` (C ``fmod``: sign of the dividend)
implies(a, b)            ``Or(Not(a), b)``

Operations whose arguments are all numbers are folded with IEEE double semantics (numpy),
so ``1/0`` is ``oo``, ``0/0`` and ``sqrt(-1)`` are ``nan`` and ``log(0)`` is ``-oo``; sympy
would give ``zoo``, complex numbers or raise.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import GeneratorType

import libsbml
import numpy as np
import sympy

from simulator.model import (AVOGADRO, TIME, Delay, RateOf, as_boolean, as_number, is_boolean,
                             product_of)

__all__ = ["FunctionDefinition", "MathConverter"]

_MAX_CALL_DEPTH = 64


# ---------------------------------------------------------------------------------------
# numeric folding with IEEE semantics


def _is_numeric(expr: sympy.Basic) -> bool:
    return bool(expr.is_Number) or isinstance(expr, sympy.NumberSymbol)


def _to_sympy_number(value: float) -> sympy.Expr:
    if math.isnan(value):
        return sympy.nan
    if math.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    return sympy.Float(value)


def _float(value: float) -> sympy.Expr:
    """A double from the file as a sympy number (inf, -inf and NaN included).

    Integral values become ``Integer`` (``x**2``, not ``x**2.0``); SBML has real
    semantics and sympy divides integers exactly, so the numbers do not change.
    """
    value = float(value)
    negative_zero = value == 0 and math.copysign(1.0, value) < 0
    if value.is_integer() and abs(value) < 2.0**53 and not negative_zero:
        return sympy.Integer(int(value))
    return _to_sympy_number(value)


def _representable(number: sympy.Expr) -> bool:
    """False for exact results outside the double range (e.g. the Integer 10**400)."""
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False


def _ieee(np_fn: Callable, args: Sequence[sympy.Expr]) -> sympy.Expr:
    vals = [float(a) for a in args]
    try:
        with np.errstate(all="ignore"):
            out = np_fn(*vals)
    except (ValueError, OverflowError, ZeroDivisionError):
        out = math.nan                                  # math.gamma domain errors and the like
    if isinstance(out, complex):
        out = out.real if out.imag == 0 else math.nan
    return _to_sympy_number(float(out))


def _apply(sym_fn: Callable, np_fn: Callable | None, args: Sequence[sympy.Basic]) -> sympy.Basic:
    """``sym_fn(*args)``, folded with ``np_fn`` when every argument is a number."""
    if np_fn is not None and args and all(_is_numeric(a) for a in args):
        try:
            result = sym_fn(*args)
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            result = None
        if result is not None and (result.is_Rational or result.is_Float) and result.is_finite \
                and _representable(result):
            return result
        return _ieee(np_fn, args)
    try:
        return sym_fn(*args)
    except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
        # e.g. a comparison with nan; keep the expression unevaluated for the numeric code
        return sym_fn(*args, evaluate=False)


def _product(*args, evaluate: bool = True):
    """``Mul(*args)`` (:func:`~simulator.model.product_of` when evaluated)."""
    return product_of(args) if evaluate else sympy.Mul(*args, evaluate=False)


def _exact_pow(a, b):
    """``Pow`` that refuses exact powers too large to build (``10**(10**10)``)."""
    if _is_numeric(a) and _is_numeric(b) and abs(float(b)) > 64:
        raise ArithmeticError("left to floating point")
    return sympy.Pow(a, b)


def _exact_factorial(x):
    if _is_numeric(x) and float(x) > 170:
        raise ArithmeticError("left to floating point")
    return sympy.factorial(x)


def _div(a, b):
    return sympy.Mul(a, sympy.Pow(b, -1))


def _trunc(q):
    return sympy.Piecewise((sympy.floor(q), q >= 0), (sympy.ceiling(q), True))


def _quotient(a, b):
    return _trunc(_div(a, b))


def _rem(a, b):
    return a - b * _trunc(_div(a, b))


def _np_fact(x):
    if math.isnan(x) or (x < 0 and x == math.floor(x)):
        return math.nan
    if x == math.inf:
        return math.inf
    try:
        return math.gamma(x + 1.0)
    except OverflowError:
        return math.inf


# type -> (sympy builder, numpy fold) for the plain numeric functions of one argument
_UNARY: dict[int, tuple[Callable, Callable]] = {
    libsbml.AST_FUNCTION_ABS: (sympy.Abs, abs),
    libsbml.AST_FUNCTION_EXP: (sympy.exp, np.exp),
    libsbml.AST_FUNCTION_LN: (sympy.log, np.log),
    libsbml.AST_FUNCTION_FLOOR: (sympy.floor, np.floor),
    libsbml.AST_FUNCTION_CEILING: (sympy.ceiling, np.ceil),
    libsbml.AST_FUNCTION_FACTORIAL: (_exact_factorial, _np_fact),
    libsbml.AST_FUNCTION_SIN: (sympy.sin, np.sin),
    libsbml.AST_FUNCTION_COS: (sympy.cos, np.cos),
    libsbml.AST_FUNCTION_TAN: (sympy.tan, np.tan),
    libsbml.AST_FUNCTION_SEC: (sympy.sec, lambda x: 1.0 / np.cos(x)),
    libsbml.AST_FUNCTION_CSC: (sympy.csc, lambda x: 1.0 / np.sin(x)),
    libsbml.AST_FUNCTION_COT: (sympy.cot, lambda x: 1.0 / np.tan(x)),
    libsbml.AST_FUNCTION_SINH: (sympy.sinh, np.sinh),
    libsbml.AST_FUNCTION_COSH: (sympy.cosh, np.cosh),
    libsbml.AST_FUNCTION_TANH: (sympy.tanh, np.tanh),
    libsbml.AST_FUNCTION_SECH: (sympy.sech, lambda x: 1.0 / np.cosh(x)),
    libsbml.AST_FUNCTION_CSCH: (sympy.csch, lambda x: 1.0 / np.sinh(x)),
    libsbml.AST_FUNCTION_COTH: (sympy.coth, lambda x: 1.0 / np.tanh(x)),
    libsbml.AST_FUNCTION_ARCSIN: (sympy.asin, np.arcsin),
    libsbml.AST_FUNCTION_ARCCOS: (sympy.acos, np.arccos),
    libsbml.AST_FUNCTION_ARCTAN: (sympy.atan, np.arctan),
    libsbml.AST_FUNCTION_ARCSEC: (sympy.asec, lambda x: np.arccos(1.0 / x)),
    libsbml.AST_FUNCTION_ARCCSC: (sympy.acsc, lambda x: np.arcsin(1.0 / x)),
    libsbml.AST_FUNCTION_ARCCOT: (sympy.acot, lambda x: np.arctan(1.0 / x)),
    libsbml.AST_FUNCTION_ARCSINH: (sympy.asinh, np.arcsinh),
    libsbml.AST_FUNCTION_ARCCOSH: (sympy.acosh, np.arccosh),
    libsbml.AST_FUNCTION_ARCTANH: (sympy.atanh, np.arctanh),
    libsbml.AST_FUNCTION_ARCSECH: (sympy.asech, lambda x: np.arccosh(1.0 / x)),
    libsbml.AST_FUNCTION_ARCCSCH: (sympy.acsch, lambda x: np.arcsinh(1.0 / x)),
    libsbml.AST_FUNCTION_ARCCOTH: (sympy.acoth, lambda x: np.arctanh(1.0 / x)),
}

_RELATIONAL: dict[int, Callable] = {
    libsbml.AST_RELATIONAL_EQ: sympy.Eq,
    libsbml.AST_RELATIONAL_NEQ: sympy.Ne,
    libsbml.AST_RELATIONAL_LT: sympy.Lt,
    libsbml.AST_RELATIONAL_LEQ: sympy.Le,
    libsbml.AST_RELATIONAL_GT: sympy.Gt,
    libsbml.AST_RELATIONAL_GEQ: sympy.Ge,
}
_RELATIONAL_NP: dict[int, Callable] = {
    libsbml.AST_RELATIONAL_EQ: lambda a, b: a == b,
    libsbml.AST_RELATIONAL_NEQ: lambda a, b: a != b,
    libsbml.AST_RELATIONAL_LT: lambda a, b: a < b,
    libsbml.AST_RELATIONAL_LEQ: lambda a, b: a <= b,
    libsbml.AST_RELATIONAL_GT: lambda a, b: a > b,
    libsbml.AST_RELATIONAL_GEQ: lambda a, b: a >= b,
}

_UNSUPPORTED_NAMES = {
    libsbml.AST_LAMBDA: "a lambda outside a function definition",
    libsbml.AST_CSYMBOL_FUNCTION: "an unknown csymbol function",
}


# ---------------------------------------------------------------------------------------
# the converter


class FunctionDefinition:
    """A user function: argument names and the body AST (owned by the libsbml document)."""

    __slots__ = ("id", "args", "body")

    def __init__(self, id: str, args: Sequence[str], body: libsbml.ASTNode | None):
        self.id = id
        self.args = tuple(args)
        self.body = body


class MathConverter:
    """Convert libsbml ASTs of one model to sympy; collect problems instead of raising.

    Parameters
    ----------
    functions : mapping of function id -> :class:`FunctionDefinition`
    defined : set of str, optional
        Every id math may name (species, compartments, parameters, reactions, species
        references). Names outside it are recorded in :attr:`undefined`. ``None`` skips
        the check.

    Attributes
    ----------
    unsupported : list of str
        ``"<where>: <what>"`` for every unsupported construct met.
    undefined : list of tuple (where, name, local ids)
        Names that are not defined in the model (with the local parameter ids in scope,
        for "did you mean" suggestions).
    invalid : list of str
        Other malformed math (wrong number of arguments, recursive functions, ...).
    """

    def __init__(self, functions: Mapping[str, FunctionDefinition] | None = None,
                 defined: set[str] | frozenset[str] | None = None):
        self.functions = dict(functions or {})
        self.defined = defined
        self.unsupported: list[str] = []
        self.undefined: list[tuple[str, str, tuple[str, ...]]] = []
        self.invalid: list[str] = []

    # public -------------------------------------------------------------------------

    def number(self, ast: libsbml.ASTNode | None, *, where: str,
               local: Mapping[str, str] | None = None) -> sympy.Expr | None:
        """Convert math whose value is a number (rates, rules, assignments, delays)."""
        if ast is None:
            return None
        return as_number(self._convert(ast, _Scope(where, local, {}, 0)))

    def boolean(self, ast: libsbml.ASTNode | None, *, where: str,
                local: Mapping[str, str] | None = None) -> sympy.Basic | None:
        """Convert math whose value is a boolean (event triggers)."""
        if ast is None:
            return None
        return as_boolean(self._convert(ast, _Scope(where, local, {}, 0)))

    # internals ----------------------------------------------------------------------

    # Handlers are generators: ``value = yield (child, scope)`` asks the driver in
    # :meth:`_convert` to convert a child, so deep math never recurses on Python's stack.

    def _num(self, node, scope):
        return as_number((yield (node, scope)))

    def _bool(self, node, scope):
        return as_boolean((yield (node, scope)))

    def _children(self, node) -> list:
        return [node.getChild(i) for i in range(node.getNumChildren())]

    def _nums(self, node, scope):
        out = []
        for c in self._children(node):
            out.append(as_number((yield (c, scope))))
        return out

    def _bools(self, node, scope):
        out = []
        for c in self._children(node):
            out.append(as_boolean((yield (c, scope))))
        return out

    def _arity(self, node, scope, *allowed: int) -> bool:
        n = node.getNumChildren()
        if n in allowed:
            return True
        name = node.getName() or libsbml.formulaToL3String(node) or str(node.getType())
        self.invalid.append(
            f"{scope.where}: '{name}' takes {' or '.join(map(str, allowed))} "
            f"argument(s), got {n}")
        return False

    def _convert(self, node: libsbml.ASTNode, scope: "_Scope") -> sympy.Basic:
        """Convert ``node`` without recursion: a stack of handler generators, each asking
        for its children's values (``yield (child, scope)``) and returning its own."""
        stack: list = []
        pending = (node, scope)
        value = None
        while True:
            if pending is not None:
                out = self._start(*pending)
                pending = None
                if isinstance(out, GeneratorType):
                    stack.append(out)
                    value = None
                elif not stack:
                    return out
                else:
                    value = out
            try:
                pending = stack[-1].send(value)
            except StopIteration as done:
                stack.pop()
                if not stack:
                    return done.value
                value = done.value

    def _start(self, node: libsbml.ASTNode, scope: "_Scope"):
        """A leaf's value, or the generator of a node with children."""
        handler = _HANDLERS.get(node.getType())
        if handler is None:
            what = _UNSUPPORTED_NAMES.get(node.getType())
            if what is None:
                name = node.getName() or f"AST type {node.getType()}"
                what = f"MathML element '{name}'"
            self.unsupported.append(f"{scope.where} uses {what}, which is not supported")
            return sympy.nan
        return handler(self, node, scope)

    # leaves

    def _integer(self, node, scope):
        return sympy.Integer(node.getInteger())

    def _real(self, node, scope):
        return _float(node.getReal())

    def _rational(self, node, scope):
        num, den = node.getNumerator(), node.getDenominator()
        if den == 0:
            return _ieee(lambda a, b: a / b, [sympy.Integer(num), sympy.Integer(den)])
        return sympy.Rational(num, den)

    def _name(self, node, scope):
        name = node.getName()
        if name in scope.env:
            return scope.env[name]
        if scope.local and name in scope.local:
            return sympy.Symbol(scope.local[name])
        if self.defined is not None and name not in self.defined:
            if name in self.functions:
                self.invalid.append(f"{scope.where}: function '{name}' is used without arguments")
            else:
                self.undefined.append((scope.where, name, tuple(scope.local or ())))
        return sympy.Symbol(name)

    def _time(self, node, scope):
        return TIME

    def _avogadro(self, node, scope):
        return sympy.Float(AVOGADRO)

    def _constant(self, node, scope):
        return {
            libsbml.AST_CONSTANT_E: sympy.E,
            libsbml.AST_CONSTANT_PI: sympy.pi,
            libsbml.AST_CONSTANT_TRUE: sympy.true,
            libsbml.AST_CONSTANT_FALSE: sympy.false,
        }[node.getType()]

    # arithmetic

    def _plus(self, node, scope):
        args = (yield from self._nums(node, scope))
        if not args:
            return sympy.Integer(0)
        return _apply(sympy.Add, lambda *v: sum(v), args) if len(args) > 1 else args[0]

    def _times(self, node, scope):
        args = (yield from self._nums(node, scope))
        if not args:
            return sympy.Integer(1)
        return _apply(_product, lambda *v: math.prod(v), args) if len(args) > 1 else args[0]

    def _minus(self, node, scope):
        if not self._arity(node, scope, 1, 2):
            return sympy.nan
        args = (yield from self._nums(node, scope))
        if len(args) == 1:
            return _apply(lambda a: -a, lambda a: -a, args)
        return _apply(lambda a, b: a - b, lambda a, b: a - b, args)

    def _divide(self, node, scope):
        if not self._arity(node, scope, 2):
            return sympy.nan
        a, b = (yield from self._nums(node, scope))
        if _is_numeric(b) and b.is_zero and not _is_numeric(a):
            # x/0: IEEE gives +-inf or nan by the sign of x; sympy would give zoo*x
            return sympy.Mul(a, sympy.oo)
        return _apply(_div, lambda x, y: np.float64(x) / np.float64(y), [a, b])

    def _power(self, node, scope):
        if not self._arity(node, scope, 2):
            return sympy.nan
        a, b = (yield from self._nums(node, scope))
        return _apply(_exact_pow, lambda x, y: np.power(np.float64(x), np.float64(y)), [a, b])

    def _root(self, node, scope):
        if not self._arity(node, scope, 1, 2):
            return sympy.nan
        args = (yield from self._nums(node, scope))
        degree, x = (sympy.Integer(2), args[0]) if len(args) == 1 else args
        exponent = _apply(lambda d: sympy.Pow(d, -1), lambda d: 1.0 / np.float64(d), [degree])
        return _apply(_exact_pow, lambda x_, e: np.power(np.float64(x_), np.float64(e)),
                      [x, exponent])

    def _log(self, node, scope):
        if not self._arity(node, scope, 1, 2):
            return sympy.nan
        args = (yield from self._nums(node, scope))
        base, x = (sympy.Integer(10), args[0]) if len(args) == 1 else args
        return _apply(lambda x_, b: sympy.log(x_, b),
                      lambda x_, b: np.log(np.float64(x_)) / np.log(np.float64(b)), [x, base])

    def _unary(self, node, scope):
        if not self._arity(node, scope, 1):
            return sympy.nan
        sym_fn, np_fn = _UNARY[node.getType()]
        return _apply(sym_fn, np_fn, (yield from self._nums(node, scope)))

    def _minmax(self, node, scope):
        args = (yield from self._nums(node, scope))
        if not args:
            self.invalid.append(f"{scope.where}: '{node.getName()}' needs at least one argument")
            return sympy.nan
        if len(args) == 1:
            return args[0]
        is_max = node.getType() == libsbml.AST_FUNCTION_MAX
        sym_fn = sympy.Max if is_max else sympy.Min
        np_fn = (lambda *v: max(v) if not any(map(math.isnan, v)) else math.nan) if is_max \
            else (lambda *v: min(v) if not any(map(math.isnan, v)) else math.nan)
        return _apply(sym_fn, np_fn, args)

    def _quotient_rem(self, node, scope):
        if not self._arity(node, scope, 2):
            return sympy.nan
        args = (yield from self._nums(node, scope))
        if node.getType() == libsbml.AST_FUNCTION_QUOTIENT:
            return _apply(_quotient, lambda a, b: np.trunc(np.float64(a) / np.float64(b)), args)
        return _apply(_rem, lambda a, b: np.fmod(np.float64(a), np.float64(b)), args)

    # logic

    def _relational(self, node, scope):
        args = (yield from self._nums(node, scope))
        t = node.getType()
        if len(args) < 2:
            return sympy.true
        sym_fn, np_fn = _RELATIONAL[t], _RELATIONAL_NP[t]

        def rel(a, b):
            if _is_numeric(a) and _is_numeric(b):
                with np.errstate(all="ignore"):
                    return sympy.true if np_fn(float(a), float(b)) else sympy.false
            return _apply(sym_fn, None, [a, b])

        pairs = [rel(a, b) for a, b in zip(args, args[1:])]
        return pairs[0] if len(pairs) == 1 else sympy.And(*pairs)

    def _and(self, node, scope):
        args = (yield from self._bools(node, scope))
        return sympy.And(*args) if args else sympy.true

    def _or(self, node, scope):
        args = (yield from self._bools(node, scope))
        return sympy.Or(*args) if args else sympy.false

    def _xor(self, node, scope):
        args = (yield from self._bools(node, scope))
        return sympy.Xor(*args) if args else sympy.false

    def _not(self, node, scope):
        if not self._arity(node, scope, 1):
            return sympy.false
        return sympy.Not((yield from self._bool(node.getChild(0), scope)))

    def _implies(self, node, scope):
        if not self._arity(node, scope, 2):
            return sympy.false
        a, b = (yield from self._bools(node, scope))
        return sympy.Or(sympy.Not(a), b)

    def _piecewise(self, node, scope):
        children = self._children(node)
        pieces = []
        for i in range(0, len(children) - 1, 2):
            value = yield from self._num(children[i], scope)
            condition = yield from self._bool(children[i + 1], scope)
            pieces.append((value, condition))
        otherwise = (yield from self._num(children[-1], scope)) if len(children) % 2 else sympy.nan
        pieces.append((otherwise, sympy.true))
        try:
            return sympy.Piecewise(*pieces)
        except (TypeError, ValueError):
            return sympy.Piecewise(*pieces, evaluate=False)

    # csymbols and calls

    def _rate_of(self, node, scope):
        if not self._arity(node, scope, 1):
            return sympy.nan
        return RateOf((yield (node.getChild(0), scope)))

    def _delay(self, node, scope):
        if not self._arity(node, scope, 2):
            return sympy.nan
        x, tau = (yield from self._nums(node, scope))
        return Delay(x, tau)

    def _call(self, node, scope):
        name = node.getName()
        fd = self.functions.get(name)
        if fd is None:
            if self.defined is None or name not in self.defined:
                self.undefined.append((scope.where, name, ()))
            else:
                self.invalid.append(f"{scope.where}: '{name}' is called but is not a function")
            return sympy.nan
        if fd.body is None:
            self.invalid.append(f"function '{name}' (used in {scope.where}) has no math")
            return sympy.nan
        if node.getNumChildren() != len(fd.args):
            self.invalid.append(
                f"{scope.where}: function '{name}' takes {len(fd.args)} argument(s), "
                f"got {node.getNumChildren()}")
            return sympy.nan
        if scope.depth >= _MAX_CALL_DEPTH:
            self.invalid.append(f"{scope.where}: function '{name}' calls itself (recursion)")
            return sympy.nan
        args = []
        for c in self._children(node):
            args.append((yield (c, scope)))
        inner = _Scope(f"{scope.where} (via function '{name}')", None,
                       dict(zip(fd.args, args)), scope.depth + 1)
        return (yield (fd.body, inner))


class _Scope:
    __slots__ = ("where", "local", "env", "depth")

    def __init__(self, where: str, local: Mapping[str, str] | None,
                 env: dict[str, sympy.Basic], depth: int):
        self.where = where          # "reaction 'R1' (kineticLaw)", for messages
        self.local = local          # local parameter id -> "R1.k"
        self.env = env              # function argument name -> expression
        self.depth = depth


_HANDLERS: dict[int, Callable] = {
    libsbml.AST_INTEGER: MathConverter._integer,
    libsbml.AST_REAL: MathConverter._real,
    libsbml.AST_REAL_E: MathConverter._real,
    libsbml.AST_RATIONAL: MathConverter._rational,
    libsbml.AST_NAME: MathConverter._name,
    libsbml.AST_NAME_TIME: MathConverter._time,
    libsbml.AST_NAME_AVOGADRO: MathConverter._avogadro,
    libsbml.AST_CONSTANT_E: MathConverter._constant,
    libsbml.AST_CONSTANT_PI: MathConverter._constant,
    libsbml.AST_CONSTANT_TRUE: MathConverter._constant,
    libsbml.AST_CONSTANT_FALSE: MathConverter._constant,
    libsbml.AST_PLUS: MathConverter._plus,
    libsbml.AST_MINUS: MathConverter._minus,
    libsbml.AST_TIMES: MathConverter._times,
    libsbml.AST_DIVIDE: MathConverter._divide,
    libsbml.AST_POWER: MathConverter._power,
    libsbml.AST_FUNCTION_POWER: MathConverter._power,
    libsbml.AST_FUNCTION_ROOT: MathConverter._root,
    libsbml.AST_FUNCTION_LOG: MathConverter._log,
    libsbml.AST_FUNCTION_MAX: MathConverter._minmax,
    libsbml.AST_FUNCTION_MIN: MathConverter._minmax,
    libsbml.AST_FUNCTION_QUOTIENT: MathConverter._quotient_rem,
    libsbml.AST_FUNCTION_REM: MathConverter._quotient_rem,
    libsbml.AST_FUNCTION_PIECEWISE: MathConverter._piecewise,
    libsbml.AST_LOGICAL_AND: MathConverter._and,
    libsbml.AST_LOGICAL_OR: MathConverter._or,
    libsbml.AST_LOGICAL_XOR: MathConverter._xor,
    libsbml.AST_LOGICAL_NOT: MathConverter._not,
    libsbml.AST_LOGICAL_IMPLIES: MathConverter._implies,
    libsbml.AST_FUNCTION_RATE_OF: MathConverter._rate_of,
    libsbml.AST_FUNCTION_DELAY: MathConverter._delay,
    libsbml.AST_FUNCTION: MathConverter._call,
    **{t: MathConverter._relational for t in _RELATIONAL},
    **{t: MathConverter._unary for t in _UNARY},
}
