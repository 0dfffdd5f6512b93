"""Hill curve and its fit: hand values, exact recovery, CIs against an independent formula."""
import numpy as np
import pytest
from scipy import stats

import simulator.analysis.hill as hill_mod
from simulator.analysis.hill import FitError, HillFit, fit_hill, hill
from simulator.errors import InvalidValueError

DOSES = np.array([0, 0, 0.3, 1, 3, 10, 30, 100, 300, 1000.0])


def test_hill_at_ic50_is_midpoint_and_dose_zero_is_bottom():
    assert hill(7.0, 10.0, 90.0, 7.0, 2.3) == pytest.approx(50.0)
    assert hill(0.0, 10.0, 90.0, 7.0, 2.3) == 10.0
    assert hill(0.0, 10.0, 90.0, 7.0, -2.3) == 90.0      # negative slope starts at top
    # slope 1 by hand: 0 + 100 / (1 + 10 / 30) = 75
    assert hill(30.0, 0.0, 100.0, 10.0, 1.0) == pytest.approx(75.0)
    assert np.all(np.isfinite(hill(np.array([0.0, 1e-300, 1e300]), 0, 1, 1.0, 3.0)))


@pytest.mark.parametrize("b, t, ic50, h", [(0.0, 100.0, 12.0, 1.0), (5.0, 95.0, 3.3, 2.5),
                                           (100.0, 20.0, 40.0, 0.7)])
def test_fit_recovers_noiseless_parameters(b, t, ic50, h):
    fit = fit_hill(DOSES, hill(DOSES, b, t, ic50, h))
    assert fit.converged and fit.ci_method == "covariance"
    got = np.array([fit.bottom, fit.top, fit.ic50, fit.slope])
    np.testing.assert_allclose(got, [b, t, ic50, h], rtol=1e-6, atol=1e-6)
    assert fit.emax == pytest.approx(t - b, abs=1e-6)
    assert fit.predict(ic50) == pytest.approx((b + t) / 2, abs=1e-6)


def test_controls_set_bottom_not_the_log_axis():
    # only controls pin the bottom: doses start far above IC50
    x = np.array([0, 0, 0, 30, 100, 300, 1000.0])
    y = hill(x, 2.0, 80.0, 20.0, 1.2)
    fit = fit_hill(x, y)
    assert fit.bottom == pytest.approx(2.0, abs=1e-6)
    assert fit.ic50 == pytest.approx(20.0, rel=1e-5)


def test_confidence_intervals_match_independent_covariance():
    rng = np.random.default_rng(3)
    y = hill(DOSES, 0.0, 100.0, 10.0, 1.5) + rng.normal(0, 4.0, DOSES.size)
    fit = fit_hill(DOSES, y)
    # independent reference: Jacobian by central differences, s^2 (J^T J)^-1
    theta = np.array([fit.bottom, fit.top, np.log10(fit.ic50), fit.slope])

    def f(p):
        return hill(DOSES, p[0], p[1], 10 ** p[2], p[3])

    J = np.empty((DOSES.size, 4))
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-6 * max(1.0, abs(theta[i]))
        J[:, i] = (f(theta + e) - f(theta - e)) / (2 * e[i])
    dof = DOSES.size - 4
    s2 = np.sum((y - f(theta)) ** 2) / dof
    se = np.sqrt(np.diag(s2 * np.linalg.inv(J.T @ J)))
    tq = stats.t.ppf(0.975, dof)
    lo, hi = fit.ci["slope"]
    assert hi - fit.slope == pytest.approx(tq * se[3], rel=1e-3)
    lo, hi = fit.ci["ic50"]                      # symmetric in log10, so geometric mean
    assert np.log10(hi / fit.ic50) == pytest.approx(tq * se[2], rel=1e-3)
    assert np.sqrt(lo * hi) == pytest.approx(fit.ic50, rel=1e-9)
    for k, true in (("bottom", 0.0), ("top", 100.0), ("ic50", 10.0), ("slope", 1.5)):
        assert fit.ci[k][0] < true < fit.ci[k][1]


def test_flat_responses_raise_or_flag():
    y = np.full(DOSES.size, 42.0)
    with pytest.raises(FitError, match="flat"):
        fit_hill(DOSES, y)
    fit = fit_hill(DOSES, y, on_failure="return")
    assert isinstance(fit, HillFit) and not fit.converged and "flat" in fit.message
    assert np.all(fit.predict([0.0, 5.0, 1e6]) == 42.0)   # constant, never NaN


@pytest.mark.parametrize("x, y, match", [
    ([0, 1, 2, -3], [0, 1, 2, 3], "dose #3"),
    ([0, 1, 2, 3], [0, np.nan, 2, 3], "response #1"),
    ([0, 1, 2], [0, 1], "same length"),
    ([0, 0, 0, 5], [0, 1, 2, 3], "distinct positive"),
])
def test_bad_input_is_a_typed_error(x, y, match):
    with pytest.raises(InvalidValueError, match=match):
        fit_hill(x, y)


def test_direction_constraint_and_fixed_asymptotes():
    y = hill(DOSES, 100.0, 0.0, 10.0, 1.0)        # falling data
    up = fit_hill(DOSES, y, increasing=True, intervals=False)
    assert up.top >= up.bottom and "constraint is active" in up.message
    # both asymptotes fixed (ZIP line fits): the slope sign carries the direction
    fit = fit_hill(DOSES[2:], y[2:], bottom=0.0, top=100.0)
    assert fit.slope == pytest.approx(-1.0, rel=1e-6)
    assert fit.ic50 == pytest.approx(10.0, rel=1e-6)
    assert fit.ci["bottom"] == (0.0, 0.0) and fit.fixed == ("bottom", "top")


def test_singular_covariance_falls_back_to_bootstrap(monkeypatch):
    def singular(jac, rss, dof):
        return np.full((jac.shape[1],) * 2, np.inf)

    monkeypatch.setattr(hill_mod, "_covariance", singular)
    rng = np.random.default_rng(0)
    y = hill(DOSES, 0.0, 100.0, 10.0, 1.5) + rng.normal(0, 3.0, DOSES.size)
    a = fit_hill(DOSES, y, n_boot=60, seed=0)
    b = fit_hill(DOSES, y, n_boot=60, seed=0)
    assert a.ci_method == "bootstrap" and "bootstrap" in a.message
    assert a.ci == b.ci                           # seeded: reproducible
    assert a.ci["ic50"][0] < a.ic50 < a.ci["ic50"][1]


def test_flat_tol_treats_solver_noise_as_flat():
    y = 50.0 + 1e-8 * np.sin(np.arange(DOSES.size))       # simulated "no effect"
    fit = fit_hill(DOSES, y, flat_tol=1e-4, on_failure="return")
    assert fit.flat and not fit.converged and "flat" in fit.message
