"""Parameter-only subexpressions computed once per run: the split keeps every value, leaves
conditions alone, and the integrator recomputes them after an event changes a parameter."""
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator as sim
from simulator.api import compile_model
from simulator.codegen.hoist import hoist_parameters
from simulator.ensemble.sampling import Samples
from simulator.model import Delay
from simulator.solvers.compiled import CompiledSegmenter

x, y = sympy.symbols("x y")
k1, k2, k3 = sympy.symbols("k1 k2 k3")
PARAMS = {k1, k2, k3}
# x decays at k1 / (k2 + 1), a derived parameter of two inputs
DECAY = """
    model m
      compartment c = 1; species x in c = 1
      J: x -> ; k1 / (k2 + 1) * x
      k1 = 1; k2 = 1
    end"""


def _value(e, values):
    return float(e.xreplace(values))


def _restored(h, values):
    """The hoisted lists evaluated with each derived parameter computed from its
    expression."""
    derived = {s: sympy.Float(_value(d, values)) for s, d in zip(h.symbols, h.derived)}
    return [[_value(e.xreplace(derived), values) for e in exprs] for exprs in h.lists]


def test_a_rate_law_keeps_its_states_and_loses_its_parameter_arithmetic():
    h = hoist_parameters([[k1 * x * y / (k2 + k3)]], PARAMS)
    (rate,), = h.lists
    assert len(h.derived) == 1 and h.derived[0].free_symbols == PARAMS
    assert rate.free_symbols == {x, y, h.symbols[0]}


def test_shared_subexpressions_give_one_derived_parameter_across_lists():
    h = hoist_parameters([[x / k2, y / k2], [-x / k2**2]], PARAMS)
    assert sum(1 for d in h.derived if d == 1 / k2) == 1


def test_lone_parameters_numbers_and_conditions_are_not_replaced():
    pw = sympy.Piecewise((x, y > k1 * k2), (k3, True))
    h = hoist_parameters([[k1 * x, 2 * x, pw]], PARAMS)
    assert h.lists[0][0] == k1 * x and h.lists[0][1] == 2 * x
    cond = h.lists[0][2].args[0].cond
    assert isinstance(cond, sympy.core.relational.Relational)      # still a condition,
    assert k1 not in cond.free_symbols and len(h.derived) == 1     # with k1*k2 derived


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.1, 10.0), min_size=5, max_size=5))
def test_every_value_is_kept(v):
    exprs = [k1 * x * y / (k2 + k3) - x / k2, sympy.exp(-k1 / k3) * x**k2 / (x**k2 + k3**k2),
             sympy.Piecewise((x * k1 / k2, x > k3), (y / k3, True)), k1 / k2 + k3,
             sympy.sqrt(k1) * sympy.log(x + k2)]
    values = dict(zip([x, y, k1, k2, k3], v))
    h = hoist_parameters([exprs], PARAMS)
    got = _restored(h, values)[0]
    want = [_value(e, values) for e in exprs]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "scipy"])
def test_an_event_that_changes_a_parameter_changes_the_derived_values(backend):
    model = sim.load_model("""
        model m
          compartment c = 1; species x in c = 1
          J: x -> ; k1 / k2 * x
          k1 = 1; k2 = 2
          E: at time >= 1: k1 = 4
        end""")
    traj = sim.simulate(model, [0.0, 1.0, 2.0], backend=backend,
                        options=sim.SolverOptions(rtol=1e-10, atol=1e-14))
    np.testing.assert_allclose(traj["x"], [1.0, math.exp(-0.5), math.exp(-0.5 - 2.0)],
                               rtol=1e-7)


def test_a_sweep_over_a_derived_parameters_inputs_matches_single_runs():
    model = sim.load_model(DECAY)
    t = np.linspace(0.0, 3.0, 4)
    k1s = np.array([0.5, 1.0, 2.0])
    ens = sim.sweep(model, t, samples=Samples(["k1"], k1s[:, None]), readouts=["x"],
                    progress=False)
    np.testing.assert_allclose(ens.values[:, :, 0], np.exp(-np.outer(k1s / 2.0, t)),
                               rtol=1e-6)


def test_delay_is_never_constant_and_min_max_keep_their_order():
    mx = sympy.Max(x, k1 * k2)
    h = hoist_parameters([[Delay(k1, k2) * x, mx]], PARAMS)
    assert h.lists[0][0] == Delay(k1, k2) * x
    assert h.lists[0][1] is mx and not h.derived


def test_a_parameter_vector_of_another_length_is_refused():
    model = sim.load_model(DECAY)
    system = compile_model(model).system
    seg = CompiledSegmenter(system)
    p = np.asarray(system.p_default, float)
    ok = seg.integrate(0.0, system.y_default, p, [1.0], 1.0, [])
    assert ok.y_out[0, 0] == pytest.approx(math.exp(-0.5), rel=1e-5)
    with pytest.raises(ValueError, match="parameters"):
        seg.integrate(0.0, system.y_default, np.append(p, 1.0), [1.0], 1.0, [])
