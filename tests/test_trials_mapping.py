"""The lesion mapping: from a cell state's proliferation and apoptosis to a lesion's growth."""
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import simulator as sim
from simulator.trials.engine import lesion_days
from simulator.trials.kinetics import IN_VIVO, LOST, PRODUCED, LesionMapping, with_fate_integrals
from simulator.treatments.protocol import untreated_state
from simulator.trials.population import DOUBLING_SD

DAY = 24.0
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run():
    """The bundled model with its fate integrals, 30 days of fulvestrant 100 nM (growth slows,
    apoptosis rises), and the untreated parental rates."""
    model = sim.load_model()
    aug = with_fate_integrals(model)
    state, _ = untreated_state(model)
    ref = sim.simulate(model, [0.0, 1.0], initial=state)
    t = np.linspace(0.0, 30 * DAY, 1441)
    tr = sim.simulate(aug, t, drugs={"fulvestrant": 100.0},
                      initial={k: v for k, v in state.items() if k in aug.species_ids})
    return tr, t / DAY, float(ref["proliferation"][0]), float(ref["apoptosis"][0])


def _trapezoid(y, t):
    return np.concatenate([[0.0], np.cumsum((y[1:] + y[:-1]) / 2 * np.diff(t))])


def test_the_trial_copy_integrates_proliferation_and_apoptosis_and_holds_the_burden(run):
    tr, days, _, _ = run
    # the trapezoid on a half-hour grid, against the integrated states
    np.testing.assert_allclose(tr[PRODUCED], _trapezoid(tr["proliferation"], days),
                               rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(tr[LOST], _trapezoid(tr["apoptosis"], days), rtol=1e-3, atol=1e-3)
    assert np.all(tr["tumor_burden"] == tr["tumor_burden"][0])


def test_the_culture_mapping_is_the_cultures_net_growth(run):
    """θ = a_u, ψ = 1 gives Λ = ∫(P − A) / (P_u − A_u): the mapping used before."""
    tr, days, p_u, a_u = run
    lam = LesionMapping.culture(p_u, a_u).burden(tr[PRODUCED], tr[LOST], days, p_u, a_u)
    expected = _trapezoid(tr["growth_rate"], days) / (p_u - a_u)
    np.testing.assert_allclose(lam, expected, rtol=1e-3, atol=5e-3)
    # under fulvestrant the culture's apoptosis outruns its proliferation: it shrinks
    assert lam[-1] < 0


def test_the_in_vivo_default_counts_production_only(run):
    """IN_VIVO (θ = 0, ψ = 0): Λ = ∫P / P_u; the oestrogen-free rise of apoptosis does not
    count (IMPACT: endocrine therapy does not raise apoptosis in patients), and Λ never falls."""
    tr, days, p_u, a_u = run
    assert IN_VIVO.threshold == 0.0 and IN_VIVO.apoptosis_weight == 0.0
    lam = IN_VIVO.burden(tr[PRODUCED], tr[LOST], days, p_u, a_u)
    np.testing.assert_allclose(lam, _trapezoid(tr["proliferation"], days) / p_u,
                               rtol=1e-3, atol=5e-3)
    assert np.all(np.diff(lam) > 0)
    assert tr["apoptosis"][-1] > 1.3 * a_u            # the culture's death rate did rise


@settings(max_examples=60, deadline=None)
@given(theta=st.floats(0.0, 0.99), psi=st.floats(0.0, 5.0),
       p_u=st.floats(0.01, 2.0), a_share=st.floats(0.0, 0.9), x=st.floats(0.0, 2.0))
def test_untreated_grows_one_unit_a_day_and_the_threshold_stops_growth(theta, psi, p_u, a_share,
                                                                       x):
    a_u = a_share * p_u
    m = LesionMapping(theta, psi)
    t = np.array([0.0, 10.0, 50.0])
    np.testing.assert_allclose(m.burden(p_u * t, a_u * t, t, p_u, a_u), t, rtol=1e-9, atol=1e-9)
    # constant relative proliferation x, parental apoptosis: slope (x - θ) / (1 - θ)
    slope = m.burden(x * p_u * t, a_u * t, t, p_u, a_u)[-1] / t[-1]
    assert math.isclose(slope, (x - theta) / (1 - theta), rel_tol=1e-9, abs_tol=1e-9)
    # more apoptosis never helps the lesion
    more = m.burden(x * p_u * t, 2 * a_u * t + 0.1 * t, t, p_u, a_u)[-1]
    assert more <= slope * t[-1] + 1e-9


@pytest.mark.parametrize("per_hours", [1.0, 24.0, 168.0])
def test_lambda_is_in_days_whatever_the_rates_time_unit(per_hours):
    """Rates per hour, per day or per week: an untreated lesion's Λ grows one day per day and
    half as fast at half the proliferation (θ = 0)."""
    p_u, a_u = 0.3, 0.1                           # per rate unit (per_hours model hours)
    t_h = np.array([0.0, 24.0, 240.0])
    produced = p_u * t_h / per_hours              # the integrals' rate x (rate time unit)
    lam = lesion_days(IN_VIVO, produced, a_u * t_h / per_hours, t_h, per_hours, p_u, a_u)
    np.testing.assert_allclose(lam, t_h / 24.0, rtol=1e-12)
    half = lesion_days(IN_VIVO, produced / 2, a_u * t_h / per_hours, t_h, per_hours, p_u, a_u)
    np.testing.assert_allclose(half, t_h / 48.0, rtol=1e-12)


@pytest.mark.parametrize("p_u, a_u", [(0.0, 0.0), (-1.0, 0.0), (float("nan"), 0.1),
                                      (0.3, -0.1), (0.3, float("inf"))])
def test_bad_parental_rates_are_a_clear_error_not_a_nan(p_u, a_u):
    with pytest.raises(sim.InvalidValueError, match="lesion mapping: the parental"):
        IN_VIVO.burden(np.ones(3), np.ones(3), np.arange(3.0), p_u, a_u)


def test_the_culture_mapping_needs_net_growth():
    with pytest.raises(sim.InvalidValueError, match="P_u = 0.1, A_u = 0.2"):
        LesionMapping.culture(0.1, 0.2)


@pytest.mark.parametrize("kw", [dict(threshold=1.0), dict(threshold=-0.1), dict(threshold=True),
                                dict(threshold=float("nan")), dict(threshold=0.2,
                                                                   apoptosis_weight=-1.0),
                                dict(threshold=0.2, apoptosis_weight=float("inf"))])
def test_a_bad_mapping_is_a_clear_error(kw):
    with pytest.raises(sim.InvalidValueError, match="lesion mapping"):
        LesionMapping(**kw)


def test_weighing_apoptosis_without_a_death_readout_is_refused():
    with pytest.raises(sim.InvalidValueError, match="loss_readout is None"):
        sim.virtual_trial(sim.load_model(), ROOT / "simulator/models/trials/bolero2.toml",
                          patients=2, loss_readout=None, mapping=LesionMapping(0.1, 1.0),
                          progress=False)


def test_a_missing_fate_readout_is_named():
    with pytest.raises(sim.PerturbationError, match="no cell-death readout 'dying'"):
        with_fate_integrals(sim.load_model(), loss="dying")


def test_the_doubling_time_spread_is_weedon_fekjaers():
    """5% of tumours grew 10 -> 20 mm in under 1.2 months, 5% took over 6.3 years
    (Weedon-Fekjaer, Breast Cancer Res 2008;10:R41): the 95th/5th percentile ratio of the
    doubling time is 63, and the mean of 1.7 years follows from the median."""
    q = stats.norm.ppf(0.95)
    assert math.isclose(math.exp(2 * q * DOUBLING_SD), 75.6 / 1.2, rel_tol=0.02)
    median_months = math.sqrt(1.2 * 75.6)
    assert math.isclose(median_months * math.exp(DOUBLING_SD ** 2 / 2) / 12, 1.7, rel_tol=0.05)
