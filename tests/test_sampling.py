"""Samplers: shapes, bounds, seeds (0 is valid), stratification, validation."""
import warnings

import numpy as np
import pytest

from simulator.ensemble.sampling import Range, grid, latin_hypercube, log_uniform, sobol
from simulator.errors import InvalidValueError

RANGES = {"k_lin": (2.0, 5.0), "k_log": Range(1e-3, 1e1, log=True)}


def test_grid_is_full_factorial_first_id_slowest():
    ids, v = grid({"a": [1.0, 2.0], "b": [10.0, 20.0, 30.0]})
    assert ids == ("a", "b") and v.shape == (6, 2)
    assert v.tolist() == [[1, 10], [1, 20], [1, 30], [2, 10], [2, 20], [2, 30]]
    assert grid({"a": 3.0}).values.shape == (1, 1)


@pytest.mark.parametrize("sampler", [latin_hypercube, sobol])
def test_shapes_bounds_and_seeds(sampler):
    s0 = sampler(RANGES, 64, seed=0)
    assert s0.ids == ("k_lin", "k_log") and s0.values.shape == (64, 2)
    assert np.all((s0.values[:, 0] >= 2) & (s0.values[:, 0] <= 5))
    assert np.all((s0.values[:, 1] >= 1e-3) & (s0.values[:, 1] <= 1e1))
    np.testing.assert_array_equal(s0.values, sampler(RANGES, 64, seed=0).values)
    assert not np.allclose(s0.values, sampler(RANGES, 64, seed=1).values)
    # log range: about half of the points below the geometric midpoint 0.1
    assert 0.35 < np.mean(s0.values[:, 1] < 0.1) < 0.65


def test_lhs_one_point_per_stratum():
    n = 50
    v = latin_hypercube(RANGES, n, seed=0).values
    u_lin = (v[:, 0] - 2.0) / 3.0
    u_log = (np.log(v[:, 1]) - np.log(1e-3)) / (np.log(1e1) - np.log(1e-3))
    for u in (u_lin, u_log):
        assert sorted(np.floor(u * n).astype(int)) == list(range(n))


def test_sobol_power_of_two():
    with pytest.raises(InvalidValueError, match="n=64 or n=128"):
        sobol(RANGES, 100, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sobol(RANGES, 100, seed=0, balance=False).values.shape == (100, 2)
    # balanced: each half of [0, 1) holds exactly half of a 2^m scrambled sequence
    u = (sobol({"x": (0.0, 1.0)}, 32, seed=3).values[:, 0])
    assert np.sum(u < 0.5) == 16


def test_log_uniform_fold():
    ids, v = log_uniform({"k1": 1.0, "k2": 50.0}, 3.0, 4000, seed=0)
    assert v.shape == (4000, 2)
    assert np.all((v[:, 1] >= 50 / 3) & (v[:, 1] <= 150))
    assert np.mean(np.log(v[:, 1] / 50.0)) == pytest.approx(0.0, abs=0.05)
    assert not np.allclose(v, log_uniform({"k1": 1.0, "k2": 50.0}, 3.0, 4000, seed=1).values)


@pytest.mark.parametrize("call, match", [
    (lambda: latin_hypercube({"kf": (5.0, 1.0)}, 4, seed=0), "'kf': low"),
    (lambda: latin_hypercube({"kf": 5.0}, 4, seed=0), "'kf': range must be"),
    (lambda: sobol({"kd": (0.0, 1.0, True)}, 4, seed=0), "'kd': a log-scale range"),
    (lambda: latin_hypercube({"kf": (0.0, np.inf)}, 4, seed=0), "'kf': high must be a finite"),
    (lambda: log_uniform({"k_deg": -1.0}, 3.0, 4, seed=0), "'k_deg'"),
    (lambda: log_uniform({"k": 1.0}, 1.0, 4, seed=0), "fold"),
    (lambda: latin_hypercube(RANGES, 4, seed=None), "seed"),
    (lambda: latin_hypercube(RANGES, 4, seed=True), "seed"),
    (lambda: latin_hypercube(RANGES, 0, seed=0), "n must be"),
    (lambda: grid({"k": []}), "'k'"),
    (lambda: grid({"k": [1.0, np.nan]}), "'k'"),
])
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(InvalidValueError, match=match):
        call()


def test_range_validates_itself():
    with pytest.raises(InvalidValueError, match="low > 0"):
        Range(0.0, 1.0, log=True)
    r = Range(0.1, 10.0, log=True)
    np.testing.assert_allclose(r.from_unit([0.0, 0.5, 1.0]), [0.1, 1.0, 10.0])
