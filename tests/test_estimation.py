"""PEtab objectives built from scratch: likelihood terms against petab's own functions,
priors against scipy.stats, gradients against analytic solutions and finite differences,
and bad tables refused naming file, row and column."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from petab.v1.calculate import calculate_single_llh

import simulator as sim
from simulator.errors import PetabError, UnsupportedFeatureError
from simulator.estimation import figures, likelihood
from simulator.io.antimony import antimony_to_sbml

DECAY = """model decay
  compartment C = 1
  species A in C, B in C
  R1: A -> B; k1*A*C
  A = a0; B = 0; k1 = 0.3; a0 = 2
end"""


def write_problem(folder: Path, *, model=DECAY, conditions=None, observables=None,
                  measurements=None, parameters=None) -> Path:
    """A PEtab v1 problem in ``folder``; tables given as lists of dicts (defaults: one
    condition, ``obs_a = scale * A`` with sigma 0.1, k1 and scale estimated)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.xml").write_text(antimony_to_sbml(model, "<test>"))
    conditions = conditions or [{"conditionId": "c0"}]
    observables = observables or [{"observableId": "obs_a",
                                   "observableFormula": "observableParameter1_obs_a * A",
                                   "noiseFormula": "0.1"}]
    times = [0.5, 1.0, 2.0, 4.0]
    measurements = measurements or [
        {"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
         "measurement": 2 * np.exp(-0.3 * t) * 1.5 + 0.01 * (-1) ** k,
         "observableParameters": "scale"} for k, t in enumerate(times)]
    parameters = parameters or default_parameters()
    for name, rows in (("conditions", conditions), ("observables", observables),
                       ("measurements", measurements), ("parameters", parameters)):
        pd.DataFrame(rows).to_csv(folder / f"{name}.tsv", sep="\t", index=False)
    (folder / "problem.yaml").write_text(
        "format_version: 1\nparameter_file: parameters.tsv\nproblems:\n"
        "- sbml_files: [model.xml]\n  condition_files: [conditions.tsv]\n"
        "  measurement_files: [measurements.tsv]\n  observable_files: [observables.tsv]\n")
    return folder / "problem.yaml"


def default_parameters(**k1_columns) -> list[dict]:
    """The default parameter table (k1 on log10, scale linear, both estimated), with extra
    columns for k1 (priors)."""
    return [{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 1e-3,
             "upperBound": 10, "nominalValue": 0.3, "estimate": 1, **k1_columns},
            {"parameterId": "scale", "parameterScale": "lin", "lowerBound": 0.1,
             "upperBound": 10, "nominalValue": 1.5, "estimate": 1}]


def finite_differences(f, x, h=1e-5):
    g = np.zeros(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# --- likelihood terms ------------------------------------------------------------------
@pytest.mark.parametrize("noise", ["normal", "laplace"])
@pytest.mark.parametrize("scale", ["lin", "log", "log10"])
def test_noise_terms_match_petab(noise, scale):
    m, y, sigma = np.array([0.7, 2.0, 5.0]), np.array([0.9, 1.5, 5.5]), np.array([0.2, 1.0, 3.0])
    ours, dy, ds = likelihood.noise_nllh(noise, scale, m, y, sigma)
    ref = [-calculate_single_llh(a, b, scale, noise, c) for a, b, c in zip(m, y, sigma)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    h = 1e-6
    up = likelihood.noise_nllh(noise, scale, m, y + h, sigma)[0]
    down = likelihood.noise_nllh(noise, scale, m, y - h, sigma)[0]
    np.testing.assert_allclose(dy, (up - down) / (2 * h), rtol=1e-6)
    up = likelihood.noise_nllh(noise, scale, m, y, sigma + h)[0]
    down = likelihood.noise_nllh(noise, scale, m, y, sigma - h)[0]
    np.testing.assert_allclose(ds, (up - down) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind,a,b,dist", [
    ("normal", 1.0, 0.5, scipy.stats.norm(1.0, 0.5)),
    ("laplace", 1.0, 0.5, scipy.stats.laplace(1.0, 0.5)),
    ("logNormal", 0.2, 0.5, scipy.stats.lognorm(0.5, scale=np.exp(0.2))),
    ("uniform", 0.5, 3.0, scipy.stats.uniform(0.5, 2.5)),
])
def test_priors_match_scipy_densities(kind, a, b, dist):
    value = 1.3
    nllh, grad = likelihood.prior_nllh(kind, a, b, np.log10(value), value, value * np.log(10))
    assert nllh == pytest.approx(-dist.logpdf(value), rel=1e-12)
    h = 1e-6
    x = np.log10(value)
    up = likelihood.prior_nllh(kind, a, b, x + h, 10 ** (x + h), 0)[0]
    down = likelihood.prior_nllh(kind, a, b, x - h, 10 ** (x - h), 0)[0]
    assert grad == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_priors_on_the_parameter_scale_and_in_the_objective(tmp_path):
    path = write_problem(tmp_path, parameters=default_parameters(
        objectivePriorType="parameterScaleNormal", objectivePriorParameters="-0.5;0.2"))
    problem = sim.load_petab(path)
    x = problem.x_nominal
    prior = -scipy.stats.norm(-0.5, 0.2).logpdf(x[0])
    assert problem.nllh(x) == pytest.approx(problem.nllh(x, prior=False) + prior, rel=1e-12)
    _, g = problem.nllh(x, gradient=True)
    np.testing.assert_allclose(g, finite_differences(problem.nllh, x), rtol=1e-5)


# --- gradients -------------------------------------------------------------------------
def test_gradient_matches_the_analytic_solution(tmp_path):
    # A = a0 exp(-k1 t), y = scale A: d nllh / d k1 = sum r/sigma * scale * (-t A), and
    # d/dx = d/dk1 * k1 ln 10 on the log10 scale
    problem = sim.load_petab(write_problem(tmp_path))
    x = np.array([np.log10(0.4), 1.2])
    k1, scale = 0.4, 1.2
    df = problem.tables.measurements
    t, m = df["time"].to_numpy(), df["measurement"].to_numpy()
    A = 2 * np.exp(-k1 * t)
    r = (scale * A - m) / 0.1
    expected = 0.5 * np.log(2 * np.pi * 0.01) * t.size + 0.5 * np.sum(r ** 2)
    grad = [np.sum(r / 0.1 * scale * (-t * A)) * k1 * np.log(10), np.sum(r / 0.1 * A)]
    value, g = problem.nllh(x, gradient=True)
    assert value == pytest.approx(expected, rel=1e-7)
    np.testing.assert_allclose(g, grad, rtol=1e-6)
    res, J = problem.residuals(x, jacobian=True)
    np.testing.assert_allclose(res, r, rtol=1e-7)
    np.testing.assert_allclose(J, np.column_stack([r * 0 + scale * (-t * A) / 0.1 * k1 * np.log(10),
                                                   A / 0.1]), rtol=1e-6)


def test_gradient_through_initial_values_preequilibration_and_steady_state(tmp_path):
    # production and decay: A' = p0 - k1 A, A* = p0 / k1. Pre-equilibrated under p0 = pre,
    # then simulated under p0 = post: A(t) = post/k1 + (pre - post)/k1 exp(-k1 t), B (a
    # parameter-set initial value) decays
    model = """model m
  compartment C = 1
  species A in C, B in C
  R1: -> A; p0*C
  R2: A -> ; k1*A*C
  R3: B -> ; k2*B*C
  A = 0; B = b0; p0 = 1; k1 = 0.5; k2 = 0.2; b0 = 1
end"""
    rows = [{"observableId": o, "preequilibrationConditionId": "pre",
             "simulationConditionId": "post", "time": t, "measurement": 1.0 + 0.1 * t}
            for o in ("obs_a", "obs_b") for t in (0.0, 1.0, 3.0, np.inf)]
    path = write_problem(
        tmp_path, model=model,
        conditions=[{"conditionId": "pre", "p0": "p_pre", "B": 0.0},
                    {"conditionId": "post", "p0": "p_post", "B": "b_start"}],
        observables=[{"observableId": "obs_a", "observableFormula": "A", "noiseFormula": "0.2"},
                     {"observableId": "obs_b", "observableFormula": "B", "noiseFormula": "0.2"}],
        measurements=rows,
        parameters=[{"parameterId": pid, "parameterScale": "log10", "lowerBound": 1e-3,
                     "upperBound": 100, "nominalValue": v, "estimate": 1}
                    for pid, v in (("k1", 0.5), ("k2", 0.2), ("p_pre", 1.0), ("p_post", 2.0),
                                   ("b_start", 1.5))])
    problem = sim.load_petab(path)
    x = problem.x_nominal
    k1, k2, pre, post, b = 0.5, 0.2, 1.0, 2.0, 1.5
    t = np.array([0.0, 1.0, 3.0, np.inf])
    with np.errstate(all="ignore"):
        A = np.where(np.isinf(t), post / k1, post / k1 + (pre - post) / k1 * np.exp(-k1 * t))
        B = np.where(np.isinf(t), 0.0, b * np.exp(-k2 * t))
    sim_table = problem.simulate(x)
    np.testing.assert_allclose(sim_table["simulation"], np.concatenate([A, B]), rtol=1e-7,
                               atol=1e-9)
    value, g = problem.nllh(x, gradient=True)
    np.testing.assert_allclose(g, finite_differences(problem.nllh, x), rtol=1e-5, atol=1e-7)


def test_fit_figure_draws_steady_state_data(tmp_path):
    """A dose response read at steady state (time = inf) gets a panel with every data
    point and its fit; steady-state points of a time course sit at its right edge."""
    model = """model m
  compartment C = 1
  species A in C
  R1: -> A; p0*C
  R2: A -> ; k1*A*C
  A = 0; p0 = 1; k1 = 0.5
end"""
    doses = (0.5, 1.0, 2.0, 4.0)
    conditions = [{"conditionId": f"d{k}", "p0": d} for k, d in enumerate(doses)]
    rows = [{"observableId": "dose_response", "simulationConditionId": f"d{k}",
             "time": np.inf, "measurement": d / 0.5} for k, d in enumerate(doses)]
    rows += [{"observableId": "course", "simulationConditionId": "d0", "time": t,
              "measurement": 1.0} for t in (1.0, 2.0, np.inf)]
    path = write_problem(
        tmp_path, model=model, conditions=conditions, measurements=rows,
        observables=[{"observableId": o, "observableFormula": "A", "noiseFormula": "0.1"}
                     for o in ("dose_response", "course")],
        parameters=[{"parameterId": "k1", "parameterScale": "log10", "lowerBound": 1e-3,
                     "upperBound": 10, "nominalValue": 0.5, "estimate": 1}])
    problem = sim.load_petab(path)
    fig = figures.fit(problem, problem.x_nominal)
    steady, course = fig.axes[:2]
    drawn = [line for line in steady.get_lines() if len(line.get_xdata())]
    assert [len(line.get_xdata()) for line in drawn] == [4, 4]      # data and fit
    np.testing.assert_allclose(drawn[1].get_ydata(), np.array(doses) / 0.5)
    assert [t.get_text() for t in steady.get_xticklabels()] == ["d0", "d1", "d2", "d3"]
    marks = [line for line in course.get_lines() if line.get_marker() == "o"]
    assert len(marks) == 1 and len(marks[0].get_xdata()) == 3    # every data point drawn
    x_data = marks[0].get_xdata()
    assert np.isfinite(x_data).all() and x_data[-1] > 2.0        # the inf one at the edge
    edge = [line for line in course.get_lines() if line.get_linestyle() == ":"]
    assert len(edge) == 1 and edge[0].get_xdata()[0] == x_data[-1]
    assert course.get_xlim()[1] > x_data[-1]
    assert course.get_legend() is not None     # the condition legend, on a time panel


def test_gradient_across_an_event_matches_finite_differences(tmp_path):
    model = DECAY.replace("end", "  E1: at time > 1: A = A + k1\nend")
    problem = sim.load_petab(write_problem(tmp_path / "event", model=model))
    x = problem.x_nominal + 0.1
    value, g = problem.nllh(x, gradient=True)
    np.testing.assert_allclose(g, finite_differences(problem.nllh, x), rtol=1e-5, atol=1e-7)
    delayed = DECAY.replace("end", "  E1: at 0.5 after time > 1: A = A + 1\nend")
    problem = sim.load_petab(write_problem(tmp_path / "delayed", model=delayed))
    assert np.isfinite(problem.nllh())
    with pytest.raises(UnsupportedFeatureError, match="event 'E1'.*delayed"):
        problem.nllh(gradient=True)


# --- failures and bad input --------------------------------------------------------------
def test_failed_simulation_is_nan_with_the_reason_or_raises_when_strict(tmp_path):
    problem = sim.load_petab(write_problem(tmp_path, model=DECAY.replace(
        "k1*A*C", "-k1*A*A*A*C")))             # blows up in finite time for k1 large
    x = np.array([np.log10(10.0), 1.0])
    assert np.isnan(problem.nllh(x))
    assert "failed" in problem.last_failure
    v, g = problem.nllh(x, gradient=True)
    assert np.isnan(v) and np.isnan(g).all()
    with pytest.raises(sim.IntegrationError):
        problem.nllh(x, strict=True)


def _bad(tmp_path, **tables):
    with pytest.raises(PetabError) as info:
        sim.load_petab(write_problem(tmp_path, **tables))
    return str(info.value)


def test_unknown_id_in_an_observable_formula_is_named(tmp_path):
    msg = _bad(tmp_path, observables=[{"observableId": "obs_a",
                                       "observableFormula": "observableParameter1_obs_a * Q",
                                       "noiseFormula": "0.1"}])
    assert "observables.tsv row 'obs_a' column observableFormula" in msg and "'Q'" in msg


def test_measurement_of_an_undefined_observable_is_named(tmp_path):
    rows = [{"observableId": "obs_x", "simulationConditionId": "c0", "time": 1.0,
             "measurement": 1.0, "observableParameters": "scale"}]
    msg = _bad(tmp_path, measurements=rows)
    assert "obs_x" in msg


def test_non_positive_measurement_under_a_log_transformation_is_named(tmp_path):
    obs = [{"observableId": "obs_a", "observableFormula": "observableParameter1_obs_a * A",
            "noiseFormula": "0.1", "observableTransformation": "log"}]
    rows = [{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
             "measurement": v, "observableParameters": "scale"}
            for t, v in ((1.0, 1.0), (2.0, -0.5))]
    msg = _bad(tmp_path, observables=obs, measurements=rows)
    assert "measurements.tsv line 3 column measurement" in msg and "log" in msg


def test_malformed_tables_are_petab_errors(tmp_path):
    path = write_problem(tmp_path)
    df = pd.read_csv(tmp_path / "measurements.tsv", sep="\t").drop(columns=["time"])
    df.to_csv(tmp_path / "measurements.tsv", sep="\t", index=False)
    with pytest.raises(PetabError, match="time"):
        sim.load_petab(path)
    with pytest.raises(PetabError, match="no such file"):
        sim.load_petab(tmp_path / "nope.yaml")
    (tmp_path / "broken.yaml").write_text("format_version: 1\nproblems: [\n")
    with pytest.raises(PetabError, match="not valid YAML"):
        sim.load_petab(tmp_path / "broken.yaml")


def test_unparsable_formula_and_unknown_condition_target_are_named(tmp_path):
    msg = _bad(tmp_path / "a", observables=[{"observableId": "obs_a",
                                             "observableFormula": "A +* 2",
                                             "noiseFormula": "0.1"}])
    assert "column observableFormula" in msg and "cannot parse" in msg
    msg = _bad(tmp_path / "b", conditions=[{"conditionId": "c0", "nope": 1.0}])
    assert "column nope" in msg


JUNK = ["", "nan", "inf", "-1", "0", "x y", "k1;k1", "obs_a", "1e400", "((", "scale", "log",
        "laplace", "c0", "A", "1;2;3"]


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(table=st.sampled_from(["conditions", "observables", "measurements", "parameters"]),
       row=st.integers(0, 3), column=st.integers(0, 7), junk=st.sampled_from(JUNK))
def test_any_junk_cell_gives_a_result_or_a_typed_error(tmp_path_factory, table, row, column,
                                                       junk):
    folder = tmp_path_factory.mktemp("junk")
    path = write_problem(folder)
    df = pd.read_csv(folder / f"{table}.tsv", sep="\t", dtype=str, keep_default_na=False)
    if table == "conditions":
        df["k1"] = "0.3"
    df.iloc[row % len(df), column % df.shape[1]] = junk
    df.to_csv(folder / f"{table}.tsv", sep="\t", index=False)
    try:
        problem = sim.load_petab(path)
    except sim.SimulatorError:
        return
    value = problem.nllh()
    assert np.isfinite(value) or problem.last_failure


# --- Fisher information ----------------------------------------------------------------
def test_fisher_information_is_gauss_newton_when_the_noise_is_fixed(tmp_path):
    problem = sim.load_petab(write_problem(tmp_path))
    x = np.array([np.log10(0.4), 1.2])
    value, g, fim = problem.nllh(x, fisher=True)
    assert (value, *g) == pytest.approx((problem.nllh(x), *problem.nllh(x, gradient=True)[1]))
    _, J = problem.residuals(x, jacobian=True)
    np.testing.assert_allclose(fim, J.T @ J, rtol=1e-10)


@pytest.mark.parametrize("noise", ["normal", "laplace"])
def test_fisher_information_with_estimated_noise_is_the_hessian_at_the_optimum(tmp_path, noise):
    # y = scale * A with A known (k1 fixed) and sigma estimated on log10: at the maximum
    # likelihood point the expected information equals the Hessian (normal noise: the
    # cross term vanishes, d2/dsigma2 = 2N/sigma^2; checked by differences of the gradient)
    params = [dict(p, estimate=0) if p["parameterId"] == "k1" else p
              for p in default_parameters()]
    params.append({"parameterId": "sigma", "parameterScale": "log10", "lowerBound": 1e-4,
                   "upperBound": 10, "nominalValue": 0.05, "estimate": 1})
    observables = [{"observableId": "obs_a", "observableFormula": "observableParameter1_obs_a * A",
                    "noiseFormula": "noiseParameter1_obs_a", "noiseDistribution": noise}]
    times = [0.5, 1.0, 2.0, 3.0, 4.0]
    measurements = [{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
                     "measurement": 3 * np.exp(-0.3 * t) * (1 + 0.03 * np.sin(3 * k)),
                     "observableParameters": "scale", "noiseParameters": "sigma"}
                    for k, t in enumerate(times)]
    problem = sim.load_petab(write_problem(tmp_path, observables=observables,
                                           measurements=measurements, parameters=params))
    A = 2 * np.exp(-0.3 * np.array(times))
    m = np.array([row["measurement"] for row in measurements])
    scale = m @ A / (A @ A)
    if noise == "normal":
        sigma = np.sqrt(np.mean((m - scale * A) ** 2))
    else:  # Laplace: sigma's optimum at this scale (the scale's nllh is not smooth)
        sigma = np.mean(np.abs(m - scale * A))
    x = np.array([scale, np.log10(sigma)])
    _, g, fim = problem.nllh(x, fisher=True)
    assert np.abs(g if noise == "normal" else g[1]).max() < 1e-4
    hessian = np.column_stack([
        (problem.nllh(x + e, gradient=True)[1] - problem.nllh(x - e, gradient=True)[1]) / 2e-5
        for e in np.eye(2) * 1e-5])
    if noise == "normal":
        np.testing.assert_allclose(fim, hessian, rtol=1e-4, atol=1e-6 * np.abs(hessian).max())
    else:  # the Laplace nllh is not smooth in scale; its sigma information is exact
        assert fim[1, 1] == pytest.approx(hessian[1, 1], rel=1e-4)
    assert np.linalg.eigvalsh(fim).min() >= 0


def test_dense_simulation_passes_through_the_simulated_measurements(tmp_path):
    # two override sets (scale 1.5 and 3) for one observable: two curves, each equal to
    # problem.simulate at its own measurement times and to the analytic solution between
    times = [0.5, 1.0, 2.0, 4.0]
    measurements = [{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
                     "measurement": 1.0, "observableParameters": s}
                    for s in ("scale", "3") for t in times]
    problem = sim.load_petab(write_problem(tmp_path, measurements=measurements))
    dense = problem.simulate_dense(n_points=50)
    table = problem.simulate()
    curves = np.split(dense, np.flatnonzero(np.diff(dense["time"].to_numpy()) < 0) + 1)
    assert len(curves) == 2
    for curve, s, rows in zip(curves, (1.5, 3.0), (table.iloc[:4], table.iloc[4:])):
        t = curve["time"].to_numpy()
        assert t[0] == 0 and t[-1] == 4.0 and len(t) == 50 + 3  # 0.5, 1 and 2 added
        np.testing.assert_allclose(curve["simulation"], s * 2 * np.exp(-0.3 * t), rtol=1e-5)
        at = curve.set_index("time").loc[times, "simulation"].to_numpy()
        np.testing.assert_allclose(at, rows["simulation"].to_numpy(), rtol=1e-9)
