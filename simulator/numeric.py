"""Numbers from sympy expressions: the numpy functions every numeric evaluation prints to.

One table of functions (:data:`MODULES`) serves sympy's ``lambdify`` wherever an expression
becomes a numpy function: the scipy backend (:mod:`simulator.codegen.numpy_fns`) and initial
values (:mod:`simulator.semantics`). Symbols are renamed to identifiers we create before
printing, so no model id reaches generated source.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np
import sympy
from threadpoolctl import ThreadpoolController

from simulator.model import TIME, as_number

__all__ = ["MODULES", "numeric_function", "select", "small_linear_algebra"]


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@contextlib.contextmanager
def small_linear_algebra():
    """BLAS on one thread inside: our matrices (Jacobians, conservation laws) are small,
    and BLAS threads that spin beside numba's (or another process's) make an SVD of a
    42 x 126 matrix take 200 ms instead of 2 ms on two cores."""
    with _blas().limit(limits=1, user_api="blas"):
        yield


def select(condlist, choicelist, default=np.nan):
    """``numpy.select`` (how lambdify prints Piecewise), fast for scalars, and accepting
    plain booleans for array inputs."""
    if not any(type(x) is np.ndarray and x.ndim for x in (*condlist, *choicelist)):
        for c, v in zip(condlist, choicelist):
            if c:
                return v
        return default
    arrays = np.broadcast_arrays(*condlist, *choicelist, default)
    k = len(condlist)
    return np.select([a.astype(bool) for a in arrays[:k]], arrays[k:2 * k], default=arrays[-1])


def factorial(x):
    """``x!`` as ``gamma(x + 1)``, for real arguments (SBML's factorial)."""
    from scipy.special import gamma    # scipy.special costs ~0.1 s to import; rarely used
    return gamma(np.asarray(x, dtype=float) + 1.0)


#: lambdify's ``modules``: our overrides first, then numpy and scipy
MODULES = [{"factorial": factorial, "select": select}, "numpy", "scipy"]
#: the same without scipy, for math that numpy prints alone: lambdify imports every module
#: it is given, and scipy.special costs ~0.3 s of a process's first initial values
NUMPY_MODULES = MODULES[:2]
_NUMPY_FUNCTIONS = (sympy.Piecewise, sympy.exp, sympy.log, sympy.floor, sympy.ceiling,
                    sympy.Abs, sympy.sin, sympy.cos, sympy.tan, sympy.asin, sympy.acos,
                    sympy.atan, sympy.sinh, sympy.cosh, sympy.tanh, sympy.Min, sympy.Max)


def _identity(x):
    return x


def _constant(value: float):
    return lambda *args: value


def _argument(i: int):
    return lambda *args: args[i]


def _sum(terms):
    def f(*args):
        total = terms[0](*args)
        for g in terms[1:]:
            total = total + g(*args)
        return total
    return f


def _product(factors):
    def f(*args):
        total = factors[0](*args)
        for g in factors[1:]:
            total = total * g(*args)
        return total
    return f


def _unary(fn, inner):
    return lambda *args: fn(inner(*args))


def _power(base, exponent):
    return lambda *args: base(*args) ** exponent(*args)


def _arithmetic(expr, index: dict):
    """A numpy function of the arguments (by ``index``) for expressions made of numbers,
    symbols, sums, products, powers, ``exp`` and ``log`` alone (most initial values: a
    product of parameters), composed without printing or compiling source; None for
    anything else, which :func:`sympy.lambdify` then prints."""
    if isinstance(expr, sympy.Number):
        return _constant(float(expr))
    if isinstance(expr, sympy.Symbol):
        return _argument(index[expr])
    parts = [_arithmetic(a, index) for a in expr.args]
    if any(p is None for p in parts) or not parts:
        return None
    if isinstance(expr, sympy.Add):
        return _sum(parts)
    if isinstance(expr, sympy.Mul):
        return _product(parts)
    if isinstance(expr, sympy.Pow):
        if expr.exp == sympy.S.Half:
            return _unary(np.sqrt, parts[0])
        return _power(*parts)
    if isinstance(expr, sympy.exp):
        return _unary(np.exp, parts[0])
    if isinstance(expr, sympy.log) and len(parts) == 1:
        return _unary(np.log, parts[0])
    return None


def numeric_function(expr: sympy.Basic):
    """Argument ids (None for time) and a numpy function of ``expr`` (a boolean gives 1/0).

    Arithmetic is composed from closures (:func:`_arithmetic`); anything else is printed by
    ``lambdify``, with symbols renamed to ``a0, a1, ...`` first: no model id reaches the
    source.
    """
    if isinstance(expr, sympy.Number):   # most initial values: no code to print
        value = float(expr)
        return [], lambda: value
    if isinstance(expr, sympy.Symbol):
        return [None if expr == TIME else expr.name], _identity
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    composed = _arithmetic(expr, {s: i for i, s in enumerate(syms)})
    if composed is not None:
        return [None if s == TIME else s.name for s in syms], composed
    ours = [sympy.Symbol(f"a{i}") for i in range(len(syms))]
    renamed = as_number(expr.xreplace(dict(zip(syms, ours))))
    plain = all(isinstance(f, _NUMPY_FUNCTIONS) for f in renamed.atoms(sympy.Function))
    f = sympy.lambdify(ours, renamed, modules=NUMPY_MODULES if plain else MODULES)
    return [None if s == TIME else s.name for s in syms], f
