"""Symbolic derivatives for generated Jacobians: ``sympy.diff`` with rules that keep them
finite where the function itself is.

sympy differentiates ``x**h`` (symbolic ``h``) as ``h*x**h/x``, which is 0/0 at ``x = 0``
although the derivative there is finite for ``h >= 1`` (a Hill term with its ligand at
zero, the usual start of a drug experiment). Here powers with a non-numeric exponent are
differentiated as ``h*x**(h - 1)``. Functions that are constant almost everywhere (floor,
ceiling, sign, Heaviside, and ``x mod c`` in ``x``) get their almost-everywhere derivatives.
``|u|`` is differentiated as ``sign(u) u'`` (model quantities are real; sympy, not knowing
that, writes re/im derivatives no printer can print).
"""
from __future__ import annotations

import sympy


class _Power(sympy.Function):
    """``b**e`` during differentiation (no evaluation, so sympy keeps the form we give)."""

    nargs = 2

    def fdiff(self, argindex=1):
        b, e = self.args
        if argindex == 1:
            return e * _Power(b, e - 1)
        return _Power(b, e) * sympy.log(b)


class _Abs(sympy.Function):
    """``|u|`` during differentiation, as a function of a real argument."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sympy.sign(self.args[0])


def _is_symbolic_power(e) -> bool:
    return e.is_Pow and not e.exp.is_Number


def _sympy_gradient(expr, variables) -> list:
    """``sympy.diff`` with the rules of the module docstring (the general path)."""
    free = expr.free_symbols
    wrapped = any(_is_symbolic_power(a) for a in expr.atoms(sympy.Pow))
    if wrapped:
        expr = expr.replace(_is_symbolic_power, lambda e: _Power(*e.args))
    absolute = expr.has(sympy.Abs)
    if absolute:
        expr = expr.replace(lambda e: isinstance(e, sympy.Abs), lambda e: _Abs(e.args[0]))
    out = []
    for v in variables:
        if v not in free:
            out.append(sympy.Integer(0))
            continue
        d = sympy.diff(expr, v)
        if wrapped:
            d = d.replace(lambda e: isinstance(e, _Power), lambda e: sympy.Pow(*e.args))
        if absolute:
            d = d.replace(lambda e: isinstance(e, _Abs), lambda e: sympy.Abs(e.args[0]))
        out.append(_almost_everywhere(d))
    return out


_ZERO, _ONE = sympy.Integer(0), sympy.Integer(1)
_FLAT = (sympy.floor, sympy.ceiling, sympy.sign, sympy.Heaviside)


class Differentiator:
    """Derivatives of expressions that share subexpressions, each node differentiated once
    per variable (memoised over every expression given to one instance).

    sympy's ``diff`` walks a tree: an assignment rule substituted into many rates is
    differentiated again at every occurrence, and ``free_symbols`` is recomputed at every
    node. Here both are memoised, so a Jacobian costs about one pass over the distinct
    nodes per variable. The rules are those of the module docstring (powers with a symbolic
    exponent as ``h*x**(h - 1)``, ``|u|`` as ``sign(u) u'``, piecewise-constant functions
    0); any other node goes through :func:`_sympy_gradient`.
    """

    def __init__(self):
        self._free: dict = {}
        self._memo: dict = {}

    def free(self, e) -> frozenset:
        r = self._free.get(e)
        if r is None:
            if e.is_Symbol:
                r = frozenset((e,))
            elif not e.args:
                r = frozenset()
            else:
                r = frozenset().union(*(self.free(a) for a in e.args))
            self._free[e] = r
        return r

    def __call__(self, e, v):
        """``d e / d v``."""
        if v not in self.free(e):
            return _ZERO
        key = (e, v)
        r = self._memo.get(key)
        if r is None:
            r = self._rule(e, v)
            self._memo[key] = r
        return r

    def _rule(self, e, v):
        if e == v:
            return _ONE
        if e.is_Add:
            return sympy.Add(*(self(a, v) for a in e.args))
        if e.is_Mul:
            args = e.args
            terms = []
            for i, a in enumerate(args):
                if v in self.free(a):
                    terms.append(sympy.Mul(*args[:i], self(a, v), *args[i + 1:]))
            return sympy.Add(*terms)
        if e.is_Pow:
            b, x = e.args
            out = []
            if v in self.free(b):
                out.append(x * sympy.Pow(b, x - 1) * self(b, v))
            if v in self.free(x):
                out.append(e * sympy.log(b) * self(x, v))
            return sympy.Add(*out)
        if isinstance(e, sympy.exp):
            return e * self(e.args[0], v)
        if isinstance(e, sympy.log) and len(e.args) == 1:
            return self(e.args[0], v) / e.args[0]
        if isinstance(e, sympy.Abs):
            return sympy.sign(e.args[0]) * self(e.args[0], v)
        if isinstance(e, _FLAT):
            return _ZERO
        if isinstance(e, sympy.Piecewise):
            return sympy.Piecewise(*((self(x, v), c) for x, c in e.args))
        if isinstance(e, (sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh,
                          sympy.tanh, sympy.asin, sympy.acos, sympy.atan)):
            return e.fdiff(1) * self(e.args[0], v)
        return _sympy_gradient(e, [v])[0]


def gradient(expr, variables, differentiator: Differentiator | None = None) -> list:
    """``[d expr / d v for v in variables]`` in closed form, without the 0/0 forms above.
    Pass one ``differentiator`` for many expressions to share their common parts."""
    d = differentiator or Differentiator()
    return [d(expr, v) for v in variables]


def derivative(expr, var):
    """``d expr / d var`` (see :func:`gradient`)."""
    return gradient(expr, [var])[0]


def jacobian_entries(rhs, y) -> tuple[list, list, list]:
    """The structurally nonzero entries of ``d rhs_i / d y_j``: ``(rows, cols, exprs)``."""
    rows, cols, exprs = [], [], []
    diff = Differentiator()
    for i, f in enumerate(rhs):
        free = diff.free(f)
        js = [j for j, yj in enumerate(y) if yj in free]
        for j, d in zip(js, gradient(f, [y[j] for j in js], diff)):
            if d != 0:
                rows.append(i)
                cols.append(j)
                exprs.append(d)
    return rows, cols, exprs


def _almost_everywhere(e):
    """Derivatives of piecewise-constant functions: 0 (and 1 for ``x mod c`` in ``x``)."""
    if not e.atoms(sympy.Derivative, sympy.Subs, sympy.DiracDelta):
        return e
    rep = {}
    for d in e.atoms(sympy.Derivative):
        if isinstance(d.expr, (sympy.floor, sympy.ceiling, sympy.sign, sympy.Heaviside)):
            rep[d] = sympy.Integer(0)
        elif (isinstance(d.expr, sympy.Mod) and d.variables == (d.expr.args[0],)
              and not d.expr.args[1].has(d.expr.args[0])):
            rep[d] = sympy.Integer(1)
    rep.update({s: sympy.Integer(0) for s in e.atoms(sympy.Subs)
                if isinstance(s.expr, sympy.Derivative)
                and isinstance(s.expr.expr, (sympy.floor, sympy.ceiling, sympy.sign,
                                             sympy.Heaviside))})
    e = e.xreplace(rep) if rep else e
    deltas = list(e.atoms(sympy.DiracDelta))
    e = e.xreplace({d: sympy.Integer(0) for d in deltas}) if deltas else e
    subs = [x for x in e.atoms(sympy.Subs) if not x.expr.has(sympy.Derivative)]
    return e.xreplace({x: x.doit() for x in subs}) if subs else e


def system_jacobian(system) -> tuple[list, list, list]:
    """The Jacobian entries of an :class:`~simulator.system.OdeSystem`: the ones its builder
    gave (``system.jacobian``, or what that callable returns), else :func:`jacobian_entries` of its rates."""
    given = system.jacobian() if callable(system.jacobian) else system.jacobian
    if given is not None:
        return tuple(list(a) for a in given)
    return jacobian_entries(system.rhs, system.y)
