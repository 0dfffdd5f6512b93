"""Goodness of fit and held-out prediction: R² and NRMSE by hand, on the observable's
transformed scale, χ²/n against the problem's own χ², and `crosstalk calibrate --predict`
on a decay problem whose held-out data lie at times the fit never saw."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main
from simulator.estimation.goodness import goodness_of_fit, scores
from tests.test_estimation import default_parameters, write_problem


def test_scores_by_hand():
    r2, nrmse = scores([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert r2 == pytest.approx(1 - 1 / 2)                 # SS_res 1, SS_tot 2
    assert nrmse == pytest.approx(np.sqrt(1 / 3) / 2)     # range 2
    assert scores([1.0, 2.0], [1.0, 2.0]) == (1.0, 0.0)
    assert all(np.isnan(scores([2.0, 2.0], [1.0, 3.0])))  # nothing to explain
    with pytest.raises(sim.InvalidValueError, match="one length"):
        scores([1.0, 2.0], [1.0])


def held_out_measurements(times, noise=0.0):
    return [{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
             "measurement": 2 * np.exp(-0.3 * t) * 1.5 + noise * (-1) ** k,
             "observableParameters": "scale"} for k, t in enumerate(times)]


@pytest.mark.parametrize("transform", ["lin", "log10"])
def test_goodness_of_fit_is_computed_on_the_transformed_scale(tmp_path, transform):
    observables = [{"observableId": "obs_a", "observableFormula": "observableParameter1_obs_a * A",
                    "noiseFormula": "0.1", "observableTransformation": transform}]
    problem = sim.load_petab(write_problem(tmp_path, observables=observables))
    x = problem.x_nominal.copy()
    x[0] = np.log10(0.4)                    # a wrong rate: residuals both ways of zero
    table = goodness_of_fit(problem, x)
    m = problem.tables.measurements["measurement"].to_numpy(dtype=float)
    y = problem.simulate(x)["simulation"].to_numpy()
    h = np.log10 if transform == "log10" else (lambda v: v)
    r2, nrmse = scores(h(m), h(y))
    row = table.iloc[0]
    assert row["observableId"] == "obs_a" and row["n"] == 4
    assert row["r2"] == pytest.approx(r2) and row["nrmse"] == pytest.approx(nrmse)
    assert 0 < row["r2"] < 1
    assert table.iloc[-1]["observableId"] == "all"
    assert table.iloc[-1]["chi2_per_point"] * 4 == pytest.approx(problem.chi2(x))


def test_cli_calibrate_predicts_held_out_data(tmp_path):
    fit = write_problem(tmp_path / "fit")
    held = write_problem(tmp_path / "held", measurements=held_out_measurements([6.0, 8.0, 10.0]))
    out = tmp_path / "out"
    assert main(["calibrate", str(fit), "--starts", "2", "--seed", "0", "--predict", str(held),
                 "--out", str(out), "--quiet"]) == 0
    assert (out / "prediction_problem.png").is_file()
    table = pd.read_csv(out / "goodness_of_fit.tsv", sep="\t")
    assert list(table["data"]) == ["training", "training", "problem", "problem"]
    predicted = table[(table["data"] == "problem") & (table["observableId"] == "obs_a")].iloc[0]
    # the decay fitted on 0.5-4 h extrapolates to 6-10 h (the data are its exact values)
    assert predicted["r2"] > 0.99 and predicted["nrmse"] < 0.02


def test_prediction_needs_every_estimated_parameter_from_the_fit(tmp_path):
    fit = sim.load_petab(write_problem(tmp_path / "fit"))
    result = sim.calibrate(fit, n_starts=1, seed=0, progress=False)
    np.testing.assert_allclose(result.x_for(fit), result.best_x)
    extra = default_parameters() + [{"parameterId": "a0", "parameterScale": "lin",
                                     "lowerBound": 0.1, "upperBound": 10, "nominalValue": 2,
                                     "estimate": 1}]
    other = sim.load_petab(write_problem(tmp_path / "other", parameters=extra))
    with pytest.raises(sim.InvalidValueError, match="does not: a0"):
        result.goodness_of_fit(other)


def test_a_held_out_problem_must_use_every_fitted_model_parameter(tmp_path):
    fit = sim.load_petab(write_problem(tmp_path / "fit"))
    result = sim.calibrate(fit, n_starts=1, seed=0, progress=False)
    fixed = default_parameters()
    fixed[0] = dict(fixed[0], estimate=0)             # k1 fitted, but fixed in the other
    other = sim.load_petab(write_problem(tmp_path / "other", parameters=fixed[1:] + [
        dict(fixed[0])]))
    with pytest.raises(sim.InvalidValueError, match="would not use them: k1"):
        result.goodness_of_fit(other)
    # the figure of another problem is drawn at the fit mapped onto it
    swapped = sim.load_petab(write_problem(tmp_path / "swapped",
                                           parameters=default_parameters()[::-1]))
    assert result.plot_fit(problem=swapped) is not None
    np.testing.assert_allclose(result.x_for(swapped), result.best_x[::-1])


def test_a_simulation_outside_the_log_domain_is_an_error_not_nan(tmp_path):
    observables = [{"observableId": "obs_a",
                    "observableFormula": "observableParameter1_obs_a * A - 5",
                    "noiseFormula": "0.1", "observableTransformation": "log10"}]
    problem = sim.load_petab(write_problem(tmp_path, observables=observables))
    with pytest.raises(sim.InvalidValueError, match="obs_a"):
        goodness_of_fit(problem, problem.x_nominal)


def test_cli_refuses_predict_files_of_one_name(tmp_path, capsys):
    fit = write_problem(tmp_path / "fit")
    assert main(["calibrate", str(fit), "--predict", str(fit), "--predict", str(fit),
                 "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "distinct file names" in capsys.readouterr().err
