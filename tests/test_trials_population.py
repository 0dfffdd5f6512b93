"""Between-tumour draws of the virtual population: log-normal and logit-normal parameters."""
import math

import numpy as np
from scipy import stats

import simulator as sim
from simulator.trials.population import VARIED, varied_value


def test_log_normal_draws_scale_the_cell_states_value():
    scale, sd = VARIED["ER_synthesis"]
    assert scale == "log"
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(varied_value("ER_synthesis", 0.2, z), 0.2 * np.exp(sd * z))


def test_a_fraction_stays_a_fraction_and_its_median_is_the_models_value():
    g0 = {p.id: p.value for p in sim.load_model().parameters}["g_basal"]
    z = np.linspace(-8, 8, 161)
    g = varied_value("g_basal", g0, z)
    assert ((g > 0) & (g < 1)).all() and (np.diff(g) > 0).all()
    assert math.isclose(float(varied_value("g_basal", g0, 0.0)), g0)
    # the documented spread: 20% of tumours with g_basal > 0.65 (rapalog-insensitive,
    # Noh 2004: 3 of 15 lines), computed from the normal law, not from the code's formula
    _, sd = VARIED["g_basal"]
    above = stats.norm.sf((math.log(0.65 / 0.35) - math.log(g0 / (1 - g0))) / sd)
    assert 0.15 < above < 0.25


def test_primary_resistance_is_progression_within_six_months_of_the_prior_therapy():
    """Hand-made lesions of one cell state (kappa 1, so the path is log V): 20% on the sum of
    diameters above the nadir (V x 1.728) within months 1-6 of the patient's own prior
    therapy is primary resistance; later, smaller or after the therapy stopped is not."""
    from simulator.trials.engine import _progressed_early
    v = np.array([
        [1.0, 0.8, 0.7, 0.7, 1.25, 1.3, 1.3],    # nadir 0.7, then x1.79 at month 4: primary
        [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6],     # +60% volume (+17% diameter): not yet
        [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],     # responds: secondary if it progresses later
        [1.0, 0.8, 0.7, 0.7, 1.25, 1.3, 1.3],    # as the first, but only 3 months of therapy
    ])
    path = np.log(v)[:, None, :]
    got = _progressed_early(np.zeros((4, 1)), np.ones(4), path, np.array([12, 12, 12, 3]))
    assert got.tolist() == [True, False, False, False]
    # a minor subclone (1%) that grows 300-fold drives the lesion: primary
    two = np.log(np.stack([np.full(7, 0.9), 300.0 ** (np.arange(7) / 6)]))[None]
    logw = np.log(np.array([[0.99, 0.01]]))
    assert _progressed_early(logw, np.ones(1), two, np.array([6])).tolist() == [True]


def test_stratified_draws_cover_the_normal_law_evenly():
    from simulator.trials.population import stratified_normal
    rng = np.random.default_rng(0)
    z = stratified_normal(rng, 8)
    # one draw per octile of the normal law, each at its stratum's median
    np.testing.assert_allclose(np.sort(stats.norm.cdf(z)), (np.arange(8) + 0.5) / 8)
    assert stratified_normal(rng, 1).tolist() == [0.0]
    assert not np.array_equal(stratified_normal(rng, 8), stratified_normal(rng, 8))
