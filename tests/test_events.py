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


# --- delays with persistence, useValuesFromTriggerTime and priorities -------------------

def _windows(start, period, n):
    return start + period * np.arange(n)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("from_trigger", [True, False])
def test_delayed_event_that_retriggers_while_pending(backend, persistent, from_trigger):
    # sin(2t) > 0.5 is true on (pi/12, 5pi/12) + k pi; the delay (4) outlasts both the
    # window and the period, so a second instance is pending before the first executes.
    # Not persistent: each instance is cancelled when its window closes. Persistent: each
    # executes 4 after its trigger t_k. From trigger time values, instance k sees x, z as
    # they were at t_k: x = 0, 0, 1 (instance 1 executes only at t_1 + 4 > t_2), z = 0, 0,
    # t_1; from execution time values, x = 0, 1, 2 and z = t_1 + 4, then + t_2 + 4.
    text = f"""model m
  x = 0; y = 0; z = 0; A = 0; A' = 1
  E: at 4 after sin(2*time) > 0.5, persistent={str(persistent).lower()}, fromTrigger={str(from_trigger).lower()}: x = x + 1, y = A, z = z + A
end"""
    t = np.linspace(0.0, 12.0, 61)
    tr = _run(text, backend, t)
    t1, t2, t3 = _windows(np.pi / 12, np.pi, 3)
    if not persistent:
        for i in ("x", "y", "z"):
            np.testing.assert_array_equal(tr[i], 0.0)
        return
    after = [1.0, 1.0, 2.0] if from_trigger else [1.0, 2.0, 3.0]   # instances 1, 2, 3
    x = np.select([t >= t3 + 4, t >= t2 + 4, t >= t1 + 4], after[::-1], 0.0)
    np.testing.assert_array_equal(tr["x"], x)
    if from_trigger:
        y, z = t3, t1 + t3
    else:
        y, z = t3 + 4, (t1 + 4) + (t2 + 4) + (t3 + 4)
    assert (tr["y"][-1], tr["z"][-1]) == (pytest.approx(y, rel=1e-9), pytest.approx(z, rel=1e-9))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("from_trigger", [True, False])
def test_retriggering_within_one_solver_step_is_not_missed(backend, from_trigger):
    # windows of 1.05 (sin(2t) > 0.5), delay 1 < window: executes at each window start + 1;
    # nothing else bounds the steps of A' = 1, so the scipy backend once stepped over the
    # third window (its triggers were checked at step ends only)
    text = f"""model m
  x = 0; y = 0; A = 0; A' = 1
  E: at 1 after sin(2*time) > 0.5, fromTrigger={str(from_trigger).lower()}: x = x + 1, y = A
end"""
    tr = _run(text, backend)
    done = _windows(np.pi / 12, np.pi, 4) + 1
    np.testing.assert_array_equal(tr["x"], [(done <= ti).sum() for ti in T])
    assert tr["y"][-1] == pytest.approx(done[2] - (1 if from_trigger else 0), rel=1e-9)


COMPARTMENT_CHANGES_BEFORE_EXECUTION = {
    # C grows (rate rule): S (a concentration, amount held) is 5 at execution, at C(2) = 2
    "growing": ("""model m
  compartment C = 1; C' = 0.5
  species S in C, R in C
  J: R -> ; k*R*C
  S = 1; R = 1; k = 0.1
  E: at 1 after time > 1, fromTrigger=true: S = 5, R = 3
end""", ["S", "R", "C"]),
    # another event resizes C before the delayed one executes
    "resized": ("""model m
  compartment C = 1
  species S in C
  S = 2
  E0: at time > 1.5: C = 3
  E: at 1 after time > 1, fromTrigger=true: S = 5
end""", ["S", "C"]),
    # a species held as a concentration (rate rule) keeps its amount at the execution time
    "rate_rule_species": ("""model m
  compartment C = 1; C' = 0.5
  species S in C
  S' = -0.1*S
  S = 2
  E: at 1 after time > 1, fromTrigger=true: C = 4
end""", ["S", "C"]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(COMPARTMENT_CHANGES_BEFORE_EXECUTION))
def test_trigger_time_concentration_is_assigned_at_the_execution_time_size(backend, case):
    text, ids = COMPARTMENT_CHANGES_BEFORE_EXECUTION[case]
    t = np.linspace(0.0, 5.01, 11)
    tr = _run(text, backend, t)
    ref = roadrunner_trajectory(text, t, ids)
    for i in ids:
        np.testing.assert_allclose(tr[i], ref[i], rtol=1e-7, atol=1e-10, err_msg=i)
    if case == "resized":      # by hand: 5 from t = 2 on, whatever C was at trigger time
        np.testing.assert_array_equal(tr["S"][t >= 2.1], 5.0)
    if case == "rate_rule_species":   # S(2) = 2 exp(-0.2) at C = 2, diluted to C = 4
        s = np.where(t >= 2, 2 * np.exp(-0.1 * t) * 2 / 4, 2 * np.exp(-0.1 * t))
        np.testing.assert_allclose(tr["S"], s, rtol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("from_trigger, first, expected", [
    (True, "E1", 6.0),    # 1 + 5 computed at trigger time, a concentration at the new size
    (False, "E1", 5.5),   # 0.5 (diluted by E1) + 5
    (True, "E2", 3.0),    # 6 at size 1, then diluted to size 2
    (False, "E2", 3.0),
])
def test_priorities_order_simultaneous_events_and_the_values_they_see(backend, from_trigger,
                                                                      first, expected):
    p1, p2 = (2, 1) if first == "E1" else (1, 2)
    text = f"""model m
  compartment C = 1
  species S in C
  S = 1
  E1: at time > 2, priority={p1}: C = 2
  E2: at time > 2, priority={p2}, fromTrigger={str(from_trigger).lower()}: S = S + 5
end"""
    assert _run(text, backend)["S"][-1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("from_trigger, x, y", [(True, 0.0, 1000.0), (False, 4.0, 5012.0)])
def test_delayed_events_triggered_at_different_times_execute_together_by_priority(
        backend, from_trigger, x, y):
    # all three execute at t = 3.1: E1 (priority 2), E2 (1), E3 (0). From trigger time
    # values (x = 1, y = 0 for all three): E3 last sets x = 0, y = 1000. From execution
    # time values: x = 2, y = 1; x = 5, y = 12; x = 4, y = 5012.
    u = str(from_trigger).lower()
    text = f"""model m
  x = 1; y = 0
  E1: at 1 after time > 2.1, priority=2, fromTrigger={u}: x = 2*x, y = y + x
  E2: at 0.4 after time > 2.7, priority=1, fromTrigger={u}: x = x + 3, y = y*10 + x
  E3: at 2.2 after time >= 0.9, priority=0, fromTrigger={u}: x = x - 1, y = y + 1000*x
end"""
    tr = _run(text, backend)
    assert (tr["x"][-1], tr["y"][-1]) == (x, y)
    assert (tr["x"][3], tr["y"][3]) == (1.0, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p1, p2, persistent, x", [
    (10, 1, False, 0.0),   # E1 first turns E2's trigger false: E2 is cancelled
    (1, 10, False, 1.0),   # E2 first
    (10, 1, True, 1.0),    # persistent: executes although its trigger is false by then
])
def test_a_non_persistent_event_is_cancelled_by_one_executing_just_before_it(
        backend, p1, p2, persistent, x):
    text = f"""model m
  flag = 1; x = 0
  E1: at 1 after time > 2, priority={p1}: flag = 0
  E2: at 1 after time > 2 && flag > 0, priority={p2}, persistent={str(persistent).lower()}: x = 1
end"""
    tr = _run(text, backend)
    assert tr["x"][-1] == x and tr["flag"][-1] == 0
