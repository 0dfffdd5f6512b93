"""The compiled event driver (simulator.solvers.compiled_events) against the reference
driver (simulator.solvers.driver.run) on the same compiled integrator, and against values
worked out by hand: it must give the same run, event for event."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.api import compile_model
from simulator.solvers import compiled_events, driver
from simulator.solvers.base import SolverOptions
from simulator.solvers.compiled_events import CompiledDriver, covers
from simulator.solvers.driver import run
from simulator.treatments.derive import prepare
from simulator.treatments.schedule import Dose, Schedule, Treatment

OPTS = SolverOptions(rtol=1e-8, atol=1e-12)


def _both(model, t, params=None):
    """(compiled driver's run, reference driver's run) of ``model``."""
    cm = compile_model(model)
    y0, p = cm.system.init.values(params or {}, 0.0)
    seg = cm.segmenter(OPTS, "compiled")
    driver = CompiledDriver(seg)
    assert driver.reason is None, driver.reason
    return driver.run(y0, p, t, t0=0.0), run(cm.numpy, seg, y0, p, t, t0=0.0)


def _same(a, b):
    assert a.success == b.success, (a.message, b.message)
    assert a.n_events == b.n_events
    np.testing.assert_array_equal(a.t, b.t)
    np.testing.assert_allclose(a.y, b.y, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(a.p, b.p)


def test_a_dosing_schedule_runs_as_the_reference_driver_runs_it():
    """Daily oral lapatinib and monthly fulvestrant on the bundled model: 60 days, 64 doses."""
    tr = Treatment({"lapatinib": Dose(1250, "mg", Schedule.daily()),
                    "fulvestrant": Dose(500, "mg", Schedule.every(24 * 28))})
    prep = prepare(sim.load_model(), tr)
    a, b = _both(prep.model, np.linspace(0, 24 * 60, 121), dict(prep.params))
    assert a.n_events == 64
    _same(a, b)
    assert a.stats["nsteps"] == b.stats["nsteps"]


def test_simultaneous_events_execute_in_firing_order_and_cancel_a_non_persistent_one():
    """At t = 1 both fire; A (first in the document) sets x = 5, which makes B's trigger
    false: B is not persistent, so it is cancelled, and y stays 0. C, persistent, fires with
    B and still executes; it reads x after A (values at execution: x = 5)."""
    text = """model m
      J: S -> ; S
      S = 1; x = 0; y = 0; z = 0
      A: at time >= 1: x = 5
      B: at (time >= 1 && x < 1), persistent=false: y = 1
      C: at (time >= 1 && x < 1), persistent=true, fromTrigger=false: z = x + 1
    end"""
    a, b = _both(sim.load_model(text), np.array([0.0, 1.0, 2.0]))
    _same(a, b)
    ids = compile_model(sim.load_model(text)).system.param_ids
    last = dict(zip(ids, a.p[-1]))
    assert (last["x"], last["y"], last["z"]) == (5.0, 0.0, 6.0)


def test_values_from_trigger_time_are_those_before_earlier_events_execute():
    text = """model m
      J: S -> ; S
      S = 1; x = 0; z = 0
      A: at time >= 1: x = 5
      C: at time >= 1, fromTrigger=true: z = x + 1
    end"""
    a, b = _both(sim.load_model(text), np.array([0.0, 2.0]))
    _same(a, b)
    ids = compile_model(sim.load_model(text)).system.param_ids
    assert dict(zip(ids, a.p[-1]))["z"] == 1.0


def test_state_events_on_a_decay_match_the_closed_form():
    """S decays at rate 1 and is reset to 1 whenever it falls below 0.5: resets every ln 2."""
    text = """model m
      J: S -> ; S
      S = 1; n = 0
      E: at S < 0.5: S = 1, n = n + 1
    end"""
    t = np.linspace(0, 10, 51)
    a, b = _both(sim.load_model(text), t)
    _same(a, b)
    assert a.n_events == int(10 / np.log(2))
    np.testing.assert_allclose(a.y[:, 0], np.exp(-(t % np.log(2))), rtol=1e-6)


def test_events_that_trigger_each_other_forever_fail_with_the_reference_message():
    text = """model m
      x = -1
      E0: at time >= 0.5: x = 1
      E1: at x > 0: x = -1
      E2: at x < 0: x = 1
      J: S -> ; S
      S = 1
    end"""
    a, b = _both(sim.load_model(text), np.array([0.0, 1.0]))
    assert not a.success and not b.success
    assert a.message == b.message and "more than 10000 event executions" in a.message
    assert a.t_fail == b.t_fail == pytest.approx(0.5, abs=1e-9)
    assert compiled_events.MAX_EVENTS_AT_ONE_TIME == driver.MAX_EVENTS_AT_ONE_TIME


@pytest.mark.parametrize("event, why", [
    ("E: at time >= 1, priority=1: x = 1", "priority"),
    ("E: at 0.5 after time >= 1: x = 1", "delay"),
    ("E: at time == 1: x = 1", "=="),
])
def test_what_the_compiled_driver_does_not_cover_goes_to_the_reference_driver(event, why):
    model = sim.load_model(f"model m\n  J: S -> ; S\n  S = 1; x = 0\n  {event}\nend")
    cm = compile_model(model)
    reason = covers(cm.system, cm.segmenter(OPTS, "compiled").fns)
    assert reason is not None and why in reason
    tr = sim.simulate(model, [0.0, 2.0], options=OPTS, backend="compiled")
    assert tr["x"][-1] == 1.0


def test_simulate_and_sweep_of_a_schedule_agree_with_the_reference_driver():
    """The public verbs take the compiled driver; the sweep's members match single runs."""
    tr = Treatment({"everolimus": Dose(10, "mg", Schedule.daily())})
    prep = prepare(sim.load_model(), tr)
    t = np.linspace(0, 24 * 10, 41)
    one = sim.simulate(prep.model, t, params=dict(prep.params), options=OPTS)
    a, b = _both(prep.model, t, dict(prep.params))
    _same(a, b)
    np.testing.assert_allclose(one.y, b.y, rtol=1e-12, atol=1e-15)
    params = dict(prep.params)
    params["xt_everolimus_amount"] = np.array([5.0, 10.0])
    ens = sim.sweep(prep.model, t, params=params, readouts=["pS6"], options=OPTS,
                    progress=False)
    np.testing.assert_allclose(ens["pS6"][1], one["pS6"], rtol=1e-10)
    # a sweep of one member with events (its event state was once a read-only view)
    one_member = {**params, "xt_everolimus_amount": np.array([10.0])}
    ens1 = sim.sweep(prep.model, t, params=one_member, readouts=["pS6"], options=OPTS,
                     progress=False)
    np.testing.assert_allclose(ens1["pS6"][0], one["pS6"], rtol=1e-10)
