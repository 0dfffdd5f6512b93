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


def test_jacobian_equals_differences_of_the_whole_map():
    """``Initializer.jacobian`` recomputes only what depends on each id, the other overrides
    held: S is overridden, so only its amount follows ``c = a / 4``; T = S * a follows both."""
    model = sim.load_model(CHAIN)
    system = compile_model(model).system
    init = system.init
    base = {"a": 8.0, "S": 5.0, "k": 0.3}
    y0, p, dy0, dp = init.jacobian(base, ["a", "S", "k"], 0.0, 1e-6)
    ref_y, ref_p = init.values(base, 0.0)
    np.testing.assert_array_equal(y0, ref_y)
    np.testing.assert_array_equal(p, ref_p)
    for j, k in enumerate(["a", "S", "k"]):
        h = 1e-6 * base[k]
        up, down = (init.values(dict(base, **{k: base[k] + s * h}), 0.0) for s in (1, -1))
        np.testing.assert_allclose(dy0[:, j], (up[0] - down[0]) / (2 * h), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(dp[:, j], (up[1] - down[1]) / (2 * h), rtol=1e-7, atol=1e-9)
    amounts = dict(zip(system.state_ids, range(len(system.state_ids))))
    # S held as an amount: 5 * c = 5 * a / 4; T = S * a (concentration) * c = 5 a^2 / 4
    assert dy0[amounts["S"], 0] == pytest.approx(5 / 4, rel=1e-8)
    assert dy0[amounts["T"], 0] == pytest.approx(5 * 2 * 8.0 / 4, rel=1e-8)
    assert dy0[amounts["T"], 2] == 0.0


def test_overridden_calls_reuse_the_defaults():
    """Every PEtab condition overrides something; the defaults are computed once anyway,
    and a call recomputes only what its overrides reach (the plan)."""
    init = compile_model(sim.load_model(CHAIN)).system.init
    init._base.clear()
    y, _ = init.values({"a": 8.0}, 0.0)
    assert 0.0 in init._base and (frozenset({"a"}), 0.0) in init._plans
    assert y.tolist() == _general(init, {"a": 8.0})[0].tolist()
