"""The memoised differentiator against sympy's own ``diff`` on the bundled model and on the
special rules (symbolic powers at 0, |u|, piecewise-constant functions)."""
from __future__ import annotations

import numpy as np
import sympy

import simulator as sim
from simulator.api import compile_model
from simulator.derivatives import Differentiator, _sympy_gradient, jacobian_entries


def test_bundled_jacobian_matches_sympy_diff_at_random_points():
    s = compile_model(sim.load_model()).system
    rows, cols, exprs = jacobian_entries(s.rhs, s.y)
    diff = Differentiator()
    ref = [_sympy_gradient(s.rhs[r], [s.y[c]])[0] for r, c in zip(rows, cols)]
    args = (s.t, list(s.y), list(s.p))
    ours = sympy.lambdify(args, exprs, "numpy")
    theirs = sympy.lambdify(args, ref, "numpy")
    rng = np.random.default_rng(0)
    for _ in range(3):
        y = s.y_default * np.exp(rng.normal(0, 0.3, s.n_states)) + 0.01
        p = s.p_default * np.exp(rng.normal(0, 0.1, s.n_params))
        np.testing.assert_allclose(ours(1.0, y, p), theirs(1.0, y, p), rtol=1e-9, atol=1e-12)
    # the structure is the same too: every nonzero sympy finds, we find
    assert all(d != 0 for d in exprs) and len(exprs) == len(ref)
    assert diff(s.rhs[0], s.t) == 0


def test_special_rules():
    x, h, k = sympy.symbols("x h k", real=True)
    d = Differentiator()
    assert d(x ** h, x) == h * x ** (h - 1)                 # finite at x = 0 for h >= 1
    assert d(sympy.Abs(k * x), x) == k * sympy.sign(k * x)
    assert d(sympy.floor(x) + sympy.ceiling(2 * x), x) == 0
    pw = sympy.Piecewise((x ** 2, x > 1), (3 * x, True))
    assert d(pw, x) == sympy.Piecewise((2 * x, x > 1), (3, True))
    assert d(sympy.Mod(x, 3), x) == 1                        # through the general path
    e = sympy.exp(k * x) * sympy.log(x) + sympy.sin(x) ** 2
    assert sympy.simplify(d(e, x) - sympy.diff(e, x)) == 0
