"""Multistart calibration and profiles through pyPESTO on small problems with known
answers: parameters recovered inside their profile intervals, stores that resume, failed
starts reported with the reason, and the CLI."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main
from simulator.estimation import sampling
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


def test_profiles_with_the_fisher_information_give_the_same_intervals(fitted):
    bfgs = sim.profile(fitted).intervals.set_index("parameter")
    fim = sim.profile(fitted, optimizer="fides-fim", max_iterations=50).intervals \
        .set_index("parameter")
    np.testing.assert_allclose(fim[["lower", "upper"]], bfgs[["lower", "upper"]], atol=0.02)
    with pytest.raises(sim.InvalidValueError, match="'least_squares'"):
        sim.profile(fitted, optimizer="least_squares")
    pooled = sim.profile(fitted, optimizer="fides-fim", max_iterations=50,
                         executor="processes").intervals.set_index("parameter")
    np.testing.assert_allclose(pooled[["lower", "upper"]], fim[["lower", "upper"]], atol=1e-9)


def test_least_squares_reaches_the_same_optimum_and_reports_the_nllh(decay, fitted):
    ls = sim.calibrate(decay, n_starts=2, seed=0, optimizer="least_squares", progress=False)
    assert ls.best_nllh == pytest.approx(fitted.best_nllh, abs=1e-4)
    np.testing.assert_allclose(ls.best_x, fitted.best_x, rtol=1e-3)


def test_fides_from_the_fisher_information_reaches_the_same_optimum(decay, fitted):
    fim = sim.calibrate(decay, n_starts=2, seed=0, optimizer="fides-fim", progress=False)
    assert fim.best_nllh == pytest.approx(fitted.best_nllh, abs=1e-4)


def test_in_process_starts_report_progress_lines(decay, capsys):
    one = sim.calibrate(decay, n_starts=1, seed=0, progress=False, heartbeat=0.0)
    lines = [ln for ln in capsys.readouterr().err.splitlines()
             if "evaluations, best nllh so far" in ln]
    assert lines and lines[-1].strip().startswith(f"{len(lines)} evaluations")
    best = float(lines[-1].split("best nllh so far ")[1].split()[0])
    assert best == pytest.approx(one.best_nllh, rel=1e-5)
    sim.calibrate(decay, n_starts=1, seed=0, progress=False)        # "auto": none
    assert "evaluations, best nllh" not in capsys.readouterr().err


def test_waterfall_counts_the_starts_near_a_reference(fitted):
    best = fitted.best_nllh
    title = fitted.plot_waterfall(reference=best - 0.05).axes[0].get_title()
    assert "4 within 0.1 of the best known value" in title
    title = fitted.plot_waterfall(reference=best - 5).axes[0].get_title()
    assert "0 within 0.1 of the best known value" in title


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


def test_cli_calibrate_profiles_the_named_parameters(tmp_path, decay, fitted):
    path = write_problem(tmp_path / "problem")
    out = tmp_path / "fit"
    assert main(["calibrate", str(path), "--starts", "4", "--seed", "0", "--out", str(out),
                 "--profile", "k1", "--quiet"]) == 0
    paths = pd.read_csv(out / "profiles.tsv", sep="\t")
    assert set(paths["parameter"]) == {"k1"} and (paths["ratio"] <= 1 + 1e-9).all()
    cli = pd.read_csv(out / "profile_intervals.tsv", sep="\t").set_index("parameter")
    api = sim.profile(fitted, parameters=["k1"], optimizer="fides-fim").intervals \
        .set_index("parameter")
    np.testing.assert_allclose(cli.loc["k1", ["lower", "upper"]].astype(float),
                               api.loc["k1", ["lower", "upper"]].astype(float), atol=0.01)
    assert (out / "profiles.png").is_file()


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


# --- posterior sampling ----------------------------------------------------------------
def _linear_gaussian(folder, prior=(1.0, 0.1)):
    """obs = scale * A with A = 2 exp(-0.3 t) known (k1 fixed): the posterior of ``scale``
    under a normal prior is normal, with the analytic mean and sd returned."""
    sigma, times = 0.1, np.array([0.5, 1.0, 2.0, 4.0])
    a = 2 * np.exp(-0.3 * times)
    y = 1.5 * a + 0.01 * (-1.0) ** np.arange(times.size)
    rows = [{"observableId": "obs_a", "simulationConditionId": "c0", "time": t,
             "measurement": m, "observableParameters": "scale"} for t, m in zip(times, y)]
    m0, s0 = prior
    parameters = [
        {"parameterId": "k1", "parameterScale": "log10", "lowerBound": 1e-3,
         "upperBound": 10, "nominalValue": 0.3, "estimate": 0},
        {"parameterId": "scale", "parameterScale": "lin", "lowerBound": 0.1,
         "upperBound": 10, "nominalValue": 1.0, "estimate": 1,
         "objectivePriorType": "normal", "objectivePriorParameters": f"{m0};{s0}"}]
    problem = sim.load_petab(write_problem(folder, measurements=rows, parameters=parameters))
    precision = a @ a / sigma**2 + 1 / s0**2
    mean = (a @ y / sigma**2 + m0 / s0**2) / precision
    return problem, mean, precision ** -0.5


@pytest.fixture(scope="module")
def gaussian(tmp_path_factory):
    problem, mean, sd = _linear_gaussian(tmp_path_factory.mktemp("gaussian"))
    return sim.calibrate(problem, n_starts=1, seed=0, progress=False), mean, sd


@pytest.mark.parametrize("sampler,n,proposal", [("adaptive_metropolis", 6000, "hessian"),
                                                ("adaptive_metropolis", 6000, "identity"),
                                                ("parallel_tempering", 3000, "hessian")])
def test_sampling_recovers_an_analytic_posterior_with_its_prior(gaussian, sampler, n,
                                                                proposal):
    fit, mean, sd = gaussian
    # the prior N(1, 0.1) pulls the mean 1.8 posterior sd below the likelihood's optimum
    assert fit.best_x[0] == pytest.approx(mean, abs=1e-4)
    s = sim.sample(fit, n_samples=n, seed=0, sampler=sampler, proposal=proposal)
    assert s.provenance["proposal"] == proposal
    assert len(s.trace) == n + 1 and s.converged and s.failures == 0
    ess = s.effective_sample_size
    assert ess > 100, s
    v = s.samples["scale"].to_numpy()
    # Monte Carlo errors of the mean and sd: sd / sqrt(ESS), sd / sqrt(2 ESS); 4 of them
    assert abs(v.mean() - mean) < 4 * sd / np.sqrt(ess), (v.mean(), mean, ess)
    assert abs(v.std() / sd - 1) < 4 / np.sqrt(2 * ess), (v.std(), sd, ess)
    assert 0.05 < s.acceptance < 0.8
    np.testing.assert_allclose(s.linear_samples, s.samples)          # scale is linear


def test_first_proposal_is_the_scaled_inverse_hessian(gaussian):
    fit, mean, sd = gaussian
    cov0 = sampling._hessian_proposal(fit.problem, fit.best_x)
    np.testing.assert_allclose(cov0, [[2.38**2 * sd**2]], rtol=1e-5)


def test_sampling_is_seeded_and_leaves_numpy_global_state_alone(gaussian):
    fit = gaussian[0]
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = sim.sample(fit, n_samples=50, seed=1, burn_in=0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    b = sim.sample(fit, n_samples=50, seed=1, burn_in=0)
    c = sim.sample(fit, n_samples=50, seed=2, burn_in=0)
    pd.testing.assert_frame_equal(a.trace, b.trace)
    assert not a.trace.equals(c.trace)
    assert a.burn_in == 0 and len(a.samples) == 51


def test_failed_evaluations_are_rejected_and_counted(gaussian, monkeypatch):
    fit, mean, sd = gaussian
    problem = fit.problem
    cut = mean + 0.5 * sd
    nllh = type(problem).nllh

    def failing(self_or_x, *args, **kwargs):       # fails above `cut`, like a blow-up
        x = np.asarray(self_or_x)
        if x[0] > cut:
            problem.last_failure = "integration of model 'decay' failed (test)"
            return np.nan
        return nllh(problem, x, *args, **kwargs)
    monkeypatch.setattr(problem, "nllh", failing)
    s = sim.sample(fit, n_samples=400, seed=0, burn_in=0)
    assert s.failures > 10 and "failed (test)" in s.failure
    assert s.provenance["failures"] == s.failures
    assert (s.samples["scale"] <= cut).all() and np.isfinite(s.trace["nlpost"]).all()
    problem.last_failure = ""
    monkeypatch.setattr(problem, "nllh", lambda x, **kwargs: np.nan)
    with pytest.raises(sim.InvalidValueError, match="cannot be evaluated at the best fit"):
        sim.sample(fit, n_samples=100)


def test_ensemble_feeds_a_sweep_and_figures_are_written(decay, fitted, tmp_path):
    s = sim.sample(fitted, n_samples=300, seed=0, burn_in=50)
    assert list(s.samples.columns) == ["k1", "scale"] and len(s.samples) == 251
    ens = s.ensemble(20)
    # scale is an observable parameter, not a model parameter: only k1 reaches the model
    assert list(ens.columns) == ["k1"] and len(ens) == 20
    np.testing.assert_allclose(ens["k1"], 10 ** s.samples.loc[ens.index, "k1"])
    band = sim.sweep(decay.model, [0.0, 4.0], params=ens, readouts=["A"], progress=False)
    np.testing.assert_allclose(band["A"][:, -1], 2 * np.exp(-4 * ens["k1"].to_numpy()),
                               rtol=1e-5)
    summary = s.summary()
    assert (summary["q2.5"] < summary["mean"]).all() and (summary["mean"] < summary["q97.5"]).all()
    for name, fig in (("trace", s.plot_trace()), ("marginals", s.plot_marginals())):
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("kwargs,match", [
    ({"n_samples": 0}, "n_samples must be a positive integer"),
    ({"n_samples": -5}, "n_samples must be a positive integer"),
    ({"n_samples": 2.5}, "n_samples must be a positive integer"),
    ({"n_samples": 10}, "Geweke's test needs at least 20"),
    ({"n_samples": 100, "sampler": "nuts"}, "unknown sampler 'nuts'"),
    ({"n_samples": 100, "burn_in": 101}, "burn_in must be an integer from 0 to n_samples"),
    ({"n_samples": 100, "sampler": "parallel_tempering", "n_chains": 1}, "n_chains >= 2"),
    ({"n_samples": 100, "proposal": "fisher"}, "unknown proposal 'fisher'"),
])
def test_sampling_bad_input_is_a_typed_error(gaussian, kwargs, match):
    with pytest.raises(sim.InvalidValueError, match=match):
        sim.sample(gaussian[0], **kwargs)


def test_ensemble_bad_input_and_unconverged_chain(gaussian):
    s = sim.sample(gaussian[0], n_samples=30, seed=0, burn_in=30)
    with pytest.raises(sim.InvalidValueError, match="from 1 to 1"):
        s.ensemble(2)
    with pytest.raises(sim.InvalidValueError, match="condition 'nope'"):
        s.ensemble(condition="nope")
    stuck = dataclasses.replace(s, burn_in=len(s.trace))
    assert not stuck.converged
    with pytest.raises(sim.InvalidValueError, match="no samples after the burn-in"):
        stuck.ensemble()


def test_cli_calibrate_samples_the_posterior(tmp_path):
    path = write_problem(tmp_path / "problem")
    out = tmp_path / "fit"
    assert main(["calibrate", str(path), "--starts", "1", "--out", str(out), "--quiet",
                 "--sample", "200", "--burn-in", "20"]) == 0
    for name in ("samples.tsv", "trace.png", "marginals.png"):
        assert (out / name).is_file(), name
    chain = pd.read_csv(out / "samples.tsv", sep="\t")
    assert list(chain.columns) == ["iteration", "burn_in", "k1", "scale", "nlpost"]
    assert len(chain) == 201 and chain["burn_in"].sum() == 20
    record = json.loads((out / "provenance.json").read_text())
    assert record["sampling"]["burn_in"] == 20 and record["sampling"]["failures"] == 0


@pytest.mark.parametrize("argv,match", [
    (["--sample", "0"], "--sample must be at least 1"),
    (["--sample", "10"], "Geweke"),
    (["--burn-in", "5"], "go with --sample"),
    (["--profile", "k9"], "--profile k9: not an estimated parameter"),
    (["--executor", "processes", "--scheduler", "tcp://127.0.0.1:1"], "goes with the 'dask'"),
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot connect to the Dask scheduler"),
])
def test_cli_calibrate_bad_sampling_and_executor_options_exit_2(tmp_path, argv, match, capsys):
    path = write_problem(tmp_path / "problem")
    code = main(["calibrate", str(path), "--starts", "1", "--out", str(tmp_path / "fit"),
                 "--quiet", *argv])
    assert code == 2
    assert match in capsys.readouterr().err


# --- executors -------------------------------------------------------------------------
def test_calibration_on_a_dask_cluster_equals_in_process(decay):
    distributed = pytest.importorskip("distributed")
    here = sim.calibrate(decay, n_starts=2, seed=4, progress=False, max_iterations=5)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        there = sim.calibrate(decay, n_starts=2, seed=4, progress=False, max_iterations=5,
                              executor=client)
    assert not there.starts["failed"].any()
    pd.testing.assert_series_equal(here.starts["start"], there.starts["start"])
    np.testing.assert_allclose(np.stack(there.starts["x"]), np.stack(here.starts["x"]),
                               rtol=1e-8)


def test_from_nominal_starts_at_the_tables_values(decay):
    result = sim.calibrate(decay, n_starts=2, seed=0, progress=False, max_iterations=1,
                           from_nominal=True)
    x0 = {int(r.start): np.asarray(r.x0) for r in result.starts.itertuples()}
    np.testing.assert_allclose(x0[0], decay.x_nominal)
    np.testing.assert_allclose(x0[1], sim.estimation.calibration.start_points(decay, 2, 0)[1])
    assert result.provenance["from_nominal"] is True
