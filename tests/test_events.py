"""SBML event semantics of the driver (simulator.solvers.driver) on both backends: triggers
on ``==`` / ``!=``, and delays with persistence, useValuesFromTriggerTime and priorities,
against hand-computed values and libroadrunner."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.solvers.base import SolverOptions
from tests.conftest import roadrunner_trajectory

BACKENDS = ["scipy", "compiled"]
TIGHT = SolverOptions(rtol=1e-10, atol=1e-14)
T = np.linspace(0.0, 10.0, 11)
HALF = np.log(2.0) / 0.3             # S1 = 4 exp(-0.3 t) reaches 2 here

DECAY = "model m\n  J: S1 -> ; k*S1\n  S1 = 4; k = 0.3; x = 0; tx = 0\n{events}\nend"


def _run(text, backend, t=T):
    return sim.simulate(sim.load_model(text), t, options=TIGHT, backend=backend)


# --- triggers on == and != --------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_time_equality_fires_at_that_time_off_the_output_grid(backend):
    tr = _run("model m\n  x = 0; tx = 0\n  E: at time == 5.37: x = x + 1, tx = time\nend", backend)
    np.testing.assert_array_equal(tr["x"], np.where(T >= 5.37, 1.0, 0.0))
    assert tr["tx"][-1] == pytest.approx(5.37, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_equality_on_the_output_grid_matches_libroadrunner(backend):
    # libroadrunner fires it when an output time lands on it (only then: off the grid, or
    # for a species crossing a value, it misses the instant)
    text = "model m\n  x = 0\n  E: at time == 5: x = x + 1\nend"
    ref = roadrunner_trajectory(text, T, ["x"])
    np.testing.assert_array_equal(_run(text, backend)["x"], ref["x"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_species_equality_fires_at_the_crossing_and_again_after_a_reset(backend):
    tr = _run(DECAY.format(events="  E: at S1 == 2: x = x + 1, tx = time"), backend)
    np.testing.assert_array_equal(tr["x"], np.where(T >= HALF, 1.0, 0.0))
    assert tr["tx"][-1] == pytest.approx(HALF, rel=1e-9)
    # the event puts S1 back to 4: it crosses 2 again every HALF
    tr = _run(DECAY.format(events="  E: at S1 == 2: S1 = 4, x = x + 1, tx = time"), backend)
    np.testing.assert_array_equal(tr["x"], np.floor(T / HALF))
    assert tr["tx"][-1] == pytest.approx(4 * HALF, rel=1e-8)
    np.testing.assert_allclose(tr["S1"], 4 * np.exp(-0.3 * (T % HALF)), rtol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inequality_is_false_only_at_the_crossing_so_fires_just_after(backend):
    # t0=false: true at the start fires once; at the crossing it is false for an instant
    tr = _run(DECAY.format(events="  E: at S1 != 2, t0=false: x = x + 1, tx = time"), backend)
    np.testing.assert_array_equal(tr["x"], np.where(T >= HALF, 2.0, 1.0))
    assert tr["tx"][-1] == pytest.approx(HALF, rel=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equality_with_a_delay_needs_persistence(backend):
    # true only at the instant: a persistent event executes a delay later, with the values
    # of the trigger time; a non-persistent one is cancelled when the trigger goes false
    persistent = _run(DECAY.format(
        events="  E: at 1 after S1 == 2, persistent=true: x = x + 1, tx = time, s = S1"),
        backend)
    np.testing.assert_array_equal(persistent["x"], np.where(T >= HALF + 1, 1.0, 0.0))
    assert persistent["tx"][-1] == pytest.approx(HALF, rel=1e-9)
    assert persistent["s"][-1] == pytest.approx(2.0, rel=1e-9)
    transient = _run(DECAY.format(
        events="  E: at 1 after S1 == 2, persistent=false: x = x + 1"), backend)
    np.testing.assert_array_equal(transient["x"], 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equality_that_holds_on_parameters_and_a_jump_across_the_value(backend):
    # a parameter set by an event is exactly equal (no root involved); a value that jumps
    # over 0.5 (never equal to it) fires nothing
    text = """model m
  k2 = 0; x = 0; z = 0
  y := piecewise(0, time < 3, 1)
  E1: at time > 2: k2 = 2
  E2: at k2 == 2: x = x + 1
  E3: at y == 0.5: z = z + 1
  E4: at floor(time) == 2.5: z = z + 1
end"""
    tr = _run(text, backend)
    np.testing.assert_array_equal(tr["x"], np.where(T >= 2, 1.0, 0.0))   # rows at an event show its result
    np.testing.assert_array_equal(tr["z"], 0.0)


def test_equality_triggers_in_a_sweep_follow_the_driver():
    # the ensemble integrator stops a member at the crossing, the driver re-runs it
    ks = np.array([0.3, 0.5, 1.0])
    ens = sim.sweep(sim.load_model(DECAY.format(events="  E: at S1 == 2: S1 = 4")), T,
                    params={"k": ks}, readouts="S1", progress=False)
    for i, k in enumerate(ks):
        period = np.log(2.0) / k
        np.testing.assert_allclose(ens["S1"][i], 4 * np.exp(-k * (T % period)), rtol=1e-5)
