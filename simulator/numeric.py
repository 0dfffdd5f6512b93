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
from scipy.special import gamma
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
    return gamma(np.asarray(x, dtype=float) + 1.0)


#: lambdify's ``modules``: our overrides first, then numpy and scipy
MODULES = [{"factorial": factorial, "select": select}, "numpy", "scipy"]


def _identity(x):
    return x


def numeric_function(expr: sympy.Basic):
    """Argument ids (None for time) and a numpy function of ``expr`` (a boolean gives 1/0).

    Symbols are renamed to ``a0, a1, ...`` before printing: no model id reaches the source.
    """
    if isinstance(expr, sympy.Number):   # most initial values: no code to print
        value = float(expr)
        return [], lambda: value
    if isinstance(expr, sympy.Symbol):
        return [None if expr == TIME else expr.name], _identity
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    ours = [sympy.Symbol(f"a{i}") for i in range(len(syms))]
    renamed = as_number(expr.xreplace(dict(zip(syms, ours))))
    f = sympy.lambdify(ours, renamed, modules=MODULES)
    return [None if s == TIME else s.name for s in syms], f
