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


def gradient(expr, variables) -> list:
    """``[d expr / d v for v in variables]`` in closed form, without the 0/0 forms above
    (``expr`` is prepared once for all variables)."""
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


def derivative(expr, var):
    """``d expr / d var`` (see :func:`gradient`)."""
    return gradient(expr, [var])[0]


def jacobian_entries(rhs, y) -> tuple[list, list, list]:
    """The structurally nonzero entries of ``d rhs_i / d y_j``: ``(rows, cols, exprs)``."""
    rows, cols, exprs = [], [], []
    for i, f in enumerate(rhs):
        free = f.free_symbols
        js = [j for j, yj in enumerate(y) if yj in free]
        for j, d in zip(js, gradient(f, [y[j] for j in js])):
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
