"""Multistart calibration and profiles through pyPESTO on small problems with known
answers: parameters recovered inside their profile intervals, stores that resume, failed
starts reported with the reason, and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main
from tests.test_estimation import DECAY, default_parameters, write_problem


@pytest.fixture(scope="module")
def decay(tmp_path_factory):
    return sim.load_petab(write_problem(tmp_path_factory.mktemp("decay")))


@pytest.fixture(scope="module")
def fitted(decay):
    return sim.calibrate(decay, n_starts=4, seed=0, progress=False)


def test_calibration_recovers_the_parameters_within_their_profile_intervals(decay, fitted):
    # data: 1.5 * 2 exp(-0.3 t) with +-0.01 alternating; k1 estimated on log10
    assert fitted.best_nllh == pytest.approx(decay.nllh(fitted.best_x), rel=1e-9)
    assert fitted.best_nllh <= decay.nllh() + 1e-6
    ok = fitted.starts[~fitted.starts["failed"]]
    assert len(ok) == 4 and (ok["nllh"] - fitted.best_nllh < 1e-3).all()
    prof = sim.profile(fitted)
    iv = prof.intervals.set_index("parameter")
    truth = {"k1": np.log10(0.3), "scale": 1.5}
    for pid, value in truth.items():
        assert iv.loc[pid, "lower"] < value < iv.loc[pid, "upper"], (pid, iv.loc[pid])
        assert iv.loc[pid, "lower"] < iv.loc[pid, "best"] < iv.loc[pid, "upper"]
    # the 95% interval of scale is about +-1.96 sigma of a linear least-squares estimate
    width = iv.loc["scale", "upper"] - iv.loc["scale", "lower"]
    assert 0.05 < width < 1.0


def test_least_squares_reaches_the_same_optimum_and_reports_the_nllh(decay, fitted):
    ls = sim.calibrate(decay, n_starts=2, seed=0, optimizer="least_squares", progress=False)
    assert ls.best_nllh == pytest.approx(fitted.best_nllh, abs=1e-4)
    np.testing.assert_allclose(ls.best_x, fitted.best_x, rtol=1e-3)


def test_store_resumes_and_refuses_another_calibration(decay, tmp_path):
    store = tmp_path / "starts"
    first = sim.calibrate(decay, n_starts=3, seed=2, progress=False, store=store)
    assert len(list(store.glob("start-*.json"))) == 3
    (store / "start-00001.json").unlink()         # as if killed before start 1 finished
    again = sim.calibrate(decay, n_starts=3, seed=2, progress=False, store=store)
    assert again.provenance["resumed_starts"] == 2
    pd.testing.assert_series_equal(first.starts["start"], again.starts["start"])
    np.testing.assert_allclose(first.starts["nllh"], again.starts["nllh"], rtol=1e-8)
    with pytest.raises(sim.StoreError, match="seed"):
        sim.calibrate(decay, n_starts=3, seed=3, progress=False, store=store)


def test_failed_starts_are_reported_with_the_reason_and_the_rest_kept(tmp_path):
    # A' = +k1 A^3 blows up in finite time 1/(8 k1): large k1 cannot be simulated to t = 4
    problem = sim.load_petab(write_problem(tmp_path, model=DECAY.replace(
        "k1*A*C", "-k1*A*A*A*C")))
    result = sim.calibrate(problem, n_starts=8, seed=1, progress=False)
    failed = result.starts[result.starts["failed"]]
    assert 0 < len(failed) < 8
    assert failed["message"].str.contains("integration of model 'decay' failed").all()
    assert np.isfinite(result.best_nllh)


def test_start_points_follow_initialization_priors_and_bounds(tmp_path):
    path = write_problem(tmp_path, parameters=default_parameters(
        initializationPriorType="parameterScaleNormal", initializationPriorParameters="-0.5;0.01"))
    problem = sim.load_petab(path)
    X = sim.estimation.calibration.start_points(problem, 200, seed=0)
    assert abs(X[:, 0].mean() + 0.5) < 0.01 and X[:, 0].std() < 0.02
    assert (X[:, 1] >= 0.1).all() and (X[:, 1] <= 10).all() and X[:, 1].std() > 2
    np.testing.assert_array_equal(X, sim.estimation.calibration.start_points(problem, 200, 0))


def test_cli_calibrate_writes_the_fit(tmp_path):
    path = write_problem(tmp_path / "problem")
    out = tmp_path / "fit"
    assert main(["calibrate", str(path), "--starts", "2", "--seed", "0", "--out", str(out),
                 "--sbml", "--quiet"]) == 0
    for name in ("starts.tsv", "parameters_fitted.tsv", "waterfall.png", "fit.png",
                 "provenance.json", "model_fitted.xml"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "parameters_fitted.tsv", sep="\t", index_col=0)
    assert table.loc["k1", "nominalValue"] == pytest.approx(0.3, rel=0.05)
    refit = sim.load_model(out / "model_fitted.xml")
    k1 = next(p for p in refit.parameters if p.id == "k1")
    assert k1.value == pytest.approx(table.loc["k1", "nominalValue"])
    record = json.loads((out / "provenance.json").read_text())
    assert record["calibration"]["n_starts"] == 2


@pytest.mark.parametrize("argv", [["calibrate", "nope.yaml"],
                                  ["calibrate", "x.yaml", "--starts", "0"],
                                  ["calibrate", "x.yaml", "--optimizer", "newton"]])
def test_cli_calibrate_bad_arguments_exit_2(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:       # argparse's own usage errors
        code = e.code
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_malformed_initialization_prior_is_named_at_load(tmp_path):
    path = write_problem(tmp_path, parameters=default_parameters(
        initializationPriorType="normal", initializationPriorParameters="1;x"))
    with pytest.raises(sim.PetabError, match="row 'k1' column initializationPriorParameters"):
        sim.load_petab(path)
