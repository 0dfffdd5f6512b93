"""csymbol ``delay``: models whose math reads the past, on the scipy backend."""
from __future__ import annotations

import numpy as np
import pytest

from simulator import api
from simulator.api import load_model, simulate
from simulator.errors import UnsupportedFeatureError
from simulator.solvers.base import SolverOptions

TIGHT = SolverOptions(rtol=1e-9, atol=1e-12)

DDE = """model dde
  x' = -delay(x, 1)
  x = 1
end"""


def dde_solution(t):
    """x' = -x(t - 1), x = 1 for t <= 0: the method of steps, one polynomial per unit."""
    return np.select(
        [t <= 1, t <= 2],
        [1 - t, 1 - t + (t - 1) ** 2 / 2],
        1 - t + (t - 1) ** 2 / 2 - (t - 2) ** 3 / 6)


def test_delay_differential_equation_matches_method_of_steps():
    t = np.linspace(0, 3, 61)
    traj = simulate(load_model(DDE), t, options=TIGHT)
    np.testing.assert_allclose(traj["x"], dde_solution(t), rtol=1e-6, atol=1e-8)
    assert traj.provenance["backend"] == "scipy"      # "auto" picks the backend with delays


def test_rule_sees_the_rule_before_the_start_and_the_past_after():
    model = load_model("""model echo
  x := sin(time)
  y := delay(x, 0.5)
end""")
    t = np.linspace(0, 2, 21)
    traj = simulate(model, t, options=TIGHT)
    np.testing.assert_allclose(traj["y"], np.sin(t - 0.5), rtol=1e-9, atol=1e-12)


def test_history_spans_events_and_keeps_old_parameter_values():
    model = load_model("""model stepped
  k = 0
  y := delay(k, 0.5)
  at (time > 1): k = 1
end""")
    traj = simulate(model, [0, 1.2, 1.4, 1.6, 2.0])
    np.testing.assert_array_equal(traj["k"], [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(traj["y"], [0, 0, 0, 1, 1])


def test_time_dependent_initial_assignment_gives_the_history_and_overrides_replace_it():
    model = load_model("""model ia
  x = 1 + time
  const x
  y := delay(x, 1)
end""")
    np.testing.assert_allclose(simulate(model, [0, 0.5, 2])["y"], [0, 0.5, 1])
    np.testing.assert_allclose(simulate(model, [0, 0.5, 2], params={"x": 5})["y"], [5, 5, 5])


def test_compiled_backend_names_where_delay_is_used():
    with pytest.raises(UnsupportedFeatureError, match=r"rateRule for 'x'.*csymbol 'delay'"):
        simulate(load_model(DDE), 3, backend="compiled")


def test_compiled_refusal_comes_before_any_integration(monkeypatch):
    import simulator.solvers.driver as driver

    def no_run(*args, **kwargs):
        raise AssertionError("integration started")
    monkeypatch.setattr(driver, "run", no_run)
    model = load_model(DDE.replace("dde", "dde_refused"))
    with pytest.raises(UnsupportedFeatureError, match="delay"):
        simulate(model, 3, backend="compiled")
    assert api.compile_model(model).numpy.delayed is not None


def test_models_without_delay_record_no_history():
    cm = api.compile_model(load_model("model plain\n  x' = -x\n  x = 1\nend"))
    assert cm.numpy.delayed is None


def test_steady_state_and_sweeps_refuse_delay_models_by_name():
    model = load_model(DDE.replace("dde", "dde_steady"))
    with pytest.raises(UnsupportedFeatureError, match=r"rateRule for 'x'.*which steady_state"):
        api.steady_state(model)
    import simulator as sim
    with pytest.raises(UnsupportedFeatureError, match=r"rateRule for 'x'.*sweeps"):
        sim.sweep(model, [0.0, 1.0], params={}, progress=False)


def test_zero_delay_is_the_current_value():
    # delay(x, 0) is x: the history only holds accepted steps, so it must not be consulted
    model = load_model("model zero\n  x' = -delay(x, tau)\n  x = 1; tau = 0\nend")
    t = np.linspace(0.0, 3.0, 31)
    traj = simulate(model, t, options=SolverOptions(rtol=1e-8, atol=1e-12))
    np.testing.assert_allclose(traj["x"], np.exp(-t), rtol=1e-6)
    assert traj.stats["nsteps"] < 200


def test_negative_delay_is_a_failed_run_not_a_crash():
    from simulator.errors import IntegrationError
    model = load_model("model negative\n  x' = -delay(x, 1 - time)\n  x = 1\nend")
    traj = simulate(model, np.linspace(0, 3, 31), on_failure="return")
    assert not traj.success and "delays must be >= 0" in traj.message
    with pytest.raises(IntegrationError, match="delays must be >= 0"):
        simulate(model, np.linspace(0, 3, 31))


def test_compiled_method_on_a_delay_model_names_the_delay():
    with pytest.raises(UnsupportedFeatureError, match=r"rateRule for 'x'.*rodas5p"):
        simulate(load_model(DDE.replace("dde", "dde_method")), 3,
                 options=SolverOptions(method="rodas5p"))
