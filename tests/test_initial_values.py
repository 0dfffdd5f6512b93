"""Initial values with overrides: the precomputed plan (Initializer._plan) against the
general recursive evaluation, on the bundled model and on models whose initial
assignments chain through compartments, species and parameters."""
from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

import simulator as sim
from simulator.api import compile_model
from simulator.numeric import _arithmetic, numeric_function

CHAIN = """model m
  compartment c = 2
  species S in c, T in c
  a = 3; b := a * 2
  c := a / 4
  S = b + 1; T = S * a
  k = 0.1
  J: S -> T; k * S
end"""


def _general(init, overrides, t0=0.0):
    """The general path: no plan."""
    plan, init._plan = init._plan, lambda *args: None
    try:
        return init.values(overrides, t0)
    finally:
        del init._plan
        assert init._plan == plan


def _check(model, overrides):
    init = compile_model(model).system.init
    init.values({}, 0.0)                          # the defaults, cached
    assert init._plan(frozenset(overrides), 0.0) is not None
    y_plan, p_plan = init.values(overrides, 0.0)
    y_ref, p_ref = _general(init, overrides)
    np.testing.assert_array_equal(y_plan, y_ref)
    np.testing.assert_array_equal(p_plan, p_ref)
    return y_plan, p_plan


def test_a_chain_through_a_compartment_is_recomputed():
    model = sim.load_model(CHAIN)
    sys_ = compile_model(model).system
    y, p = _check(model, {"a": 8.0})
    # b = 16, c = 2 (a / 4), S = 17 (concentration) held as an amount in c: 34; T = 17 * 8
    amounts = dict(zip(sys_.state_ids, y))
    assert amounts["S"] == 34.0 and amounts["T"] == 17 * 8 * 2.0


_BUNDLED = sim.load_model()
_IDS = sorted(p.id for p in _BUNDLED.parameters if p.constant and p.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_IDS), st.floats(0.1, 10.0)), min_size=1,
                max_size=6))
def test_the_plan_gives_what_the_general_path_gives_on_the_bundled_model(changes):
    base = {p.id: p.value for p in _BUNDLED.parameters}
    _check(_BUNDLED, {k: base[k] * f for k, f in changes})


# --- numeric functions: arithmetic composed without printing, the rest through lambdify --
def test_composed_arithmetic_equals_lambdify_on_numbers_and_arrays():
    x, y, z = sympy.symbols("x y z")
    exprs = [x * y / z, 2.5 * x + y ** 2 - z, sympy.sqrt(x) * sympy.exp(-y), sympy.log(x * z) / y,
             (x + 1) ** -1.5, x ** y, -x]
    values = (np.float64(2.0), np.float64(0.5), np.float64(4.0))
    arrays = tuple(np.array([v, v * 3.0]) for v in values)
    for e in exprs:
        names, f = numeric_function(e)
        assert _arithmetic(e, {s: i for i, s in enumerate(sorted(e.free_symbols, key=str))})
        ref = sympy.lambdify(sorted(e.free_symbols, key=str), e, "numpy")
        by = dict(zip("xyz", values))
        assert f(*(by[n] for n in names)) == pytest.approx(ref(*(by[n] for n in names)), rel=1e-15)
        by = dict(zip("xyz", arrays))
        np.testing.assert_allclose(f(*(by[n] for n in names)), ref(*(by[n] for n in names)),
                                   rtol=1e-15)
    # what the closures do not cover still works, through lambdify
    names, f = numeric_function(sympy.Piecewise((x, y > 1), (z, True)))
    by = dict(zip("xyz", values))
    assert f(*(by[n] for n in names)) == 4.0
