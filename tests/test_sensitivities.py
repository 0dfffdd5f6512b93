"""simulate(..., sensitivities=[...]): forward sensitivities against analytic solutions,
finite differences of simulate itself and the other backend; refusals by name."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim

DECAY = """model decay
  compartment C = 1
  species A in C, B in C
  R1: A -> B; k1*A*C
  A = a0; B = 0; k1 = 0.3; a0 = 2
  obs := 3*A + k1
end"""
TIGHT = sim.SolverOptions(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "scipy"])
def test_sensitivities_match_the_analytic_solution(backend):
    t = np.linspace(0, 4, 9)
    tr = sim.simulate(sim.load_model(DECAY), t, sensitivities=["k1", "a0"], options=TIGHT,
                      backend=backend)
    assert tr.sensitivities.shape == (t.size, len(tr.ids), 2)
    A = 2 * np.exp(-0.3 * t)
    np.testing.assert_allclose(tr["A"], A, rtol=1e-8)
    np.testing.assert_allclose(tr.sensitivity("A", "k1"), -t * A, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(tr.sensitivity("A", "a0"), A / 2, rtol=1e-7)   # initial value
    np.testing.assert_allclose(tr.sensitivity("B", "a0"), 1 - A / 2, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(tr.sensitivity("obs", "k1"), 3 * (-t * A) + 1, rtol=1e-7)
    np.testing.assert_allclose(tr.sensitivity("k1", "k1"), 1.0)


def test_sensitivities_match_finite_differences_on_the_bundled_model():
    model = sim.load_model()
    t = np.array([0.0, 1.0, 6.0, 24.0])
    drugs = {"alpelisib": 5.0}
    tr = sim.simulate(model, t, drugs=drugs, sensitivities=["IC50_alpelisib_a"],
                      options=TIGHT)
    h = 1e-4 * 4.6
    up = sim.simulate(model, t, drugs=drugs, params={"IC50_alpelisib_a": 4.6 + h},
                      options=TIGHT)
    down = sim.simulate(model, t, drugs=drugs, params={"IC50_alpelisib_a": 4.6 - h},
                        options=TIGHT)
    for readout in ("pAkt_S473", "pS6", "PIP3"):
        fd = (up[readout] - down[readout]) / (2 * h)
        np.testing.assert_allclose(tr.sensitivity(readout, "IC50_alpelisib_a"), fd,
                                   rtol=1e-4, atol=1e-7 * np.abs(up[readout]).max())


def test_sensitivity_errors_are_named():
    model = sim.load_model(DECAY)
    with pytest.raises(sim.UnknownIdError, match="nope"):
        sim.simulate(model, [0, 1], sensitivities=["nope"])
    tr = sim.simulate(model, [0, 1], sensitivities=["k1"])
    with pytest.raises(sim.UnknownIdError, match="'a0'.*computed for"):
        tr.sensitivity("A", "a0")
    with pytest.raises(sim.InvalidValueError, match="no sensitivities"):
        sim.simulate(model, [0, 1]).sensitivity("A", "k1")
    delayed = sim.load_model(DECAY.replace("end", "  E1: at 0.2 after time > 0.5: A = 1\nend"))
    with pytest.raises(sim.UnsupportedFeatureError, match="event 'E1'.*delayed"):
        sim.simulate(delayed, [0, 1], sensitivities=["k1"])
    sets_k = sim.load_model(DECAY.replace("end", "  E1: at time > 0.5: k1 = A\nend"))
    with pytest.raises(sim.UnsupportedFeatureError, match="event 'E1' assigns parameter 'k1'"):
        sim.simulate(sets_k, [0, 1], sensitivities=["k1"])
    switch = sim.load_model(DECAY.replace("k1*A*C", "piecewise(k1, A > 1, 0)*A*C"))
    with pytest.raises(sim.UnsupportedFeatureError, match="state 'A' decides when"):
        sim.simulate(switch, [0, 1], sensitivities=["k1"])


@pytest.mark.parametrize("backend", ["compiled", "scipy"])
def test_sensitivities_jump_at_an_event_at_a_moving_time(backend):
    """``A = A + d`` at ``time > te``: A = a0 e^(-k t) + d e^(-k (t - te)) after it."""
    model = sim.load_model(DECAY.replace("end", "  te = 1; d = 1\n"
                                         "  E1: at time > te: A = A + d\nend"))
    t = np.array([0.0, 0.5, 1.5, 2.0, 4.0])
    tr = sim.simulate(model, t, sensitivities=["k1", "a0", "d", "te"], options=TIGHT,
                      backend=backend)
    k, a0, d, te = 0.3, 2.0, 1.0, 1.0
    after = (t > te).astype(float)
    late = d * np.exp(-k * (t - te)) * after
    np.testing.assert_allclose(tr["A"], a0 * np.exp(-k * t) + late, rtol=1e-8)
    expected = {"k1": -t * a0 * np.exp(-k * t) - (t - te) * late,
                "a0": np.exp(-k * t), "d": late / d, "te": k * late}
    for p, ds in expected.items():
        np.testing.assert_allclose(tr.sensitivity("A", p), ds, rtol=1e-6, atol=1e-9,
                                   err_msg=p)
        np.testing.assert_allclose(tr.sensitivity("B", p),
                                   (p in ("a0", "d")) * np.where(p == "d", after, 1.0) - ds,
                                   rtol=1e-6, atol=1e-9, err_msg=p)


@pytest.mark.parametrize("backend", ["compiled", "scipy"])
def test_sensitivities_jump_at_a_state_triggered_event(backend):
    """``A = 2`` whenever A falls below 1: A = 2^(n+1) e^(-k t) between resets, so
    dA/dk = -t A even though each reset time moves with k."""
    model = sim.load_model(DECAY.replace("end", "  E1: at A < 1: A = 2\nend"))
    t = np.array([0.5, 1.0, 3.0, 4.0, 6.0, 8.0])      # resets at multiples of ln 2 / 0.3
    tr = sim.simulate(model, t, sensitivities=["k1"], options=TIGHT, backend=backend)
    n = np.floor(0.3 * t / np.log(2))
    np.testing.assert_allclose(tr["A"], 2 ** (n + 1) * np.exp(-0.3 * t), rtol=1e-7)
    np.testing.assert_allclose(tr.sensitivity("A", "k1"), -t * tr["A"], rtol=1e-6)
    np.testing.assert_allclose(tr.sensitivity("B", "k1"), t * tr["A"], rtol=1e-6)
