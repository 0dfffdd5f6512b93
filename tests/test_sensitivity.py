"""Sobol' indices on the Ishigami function (analytic), Morris on a linear function."""
import sys

import numpy as np
import pytest

from simulator.ensemble.sampling import Range
from simulator.analysis.sensitivity import (analyze_morris, analyze_sobol, morris_design,
                                            sobol_design)
from simulator.errors import InvalidValueError

PI_RANGES = {f"x{i}": (-np.pi, np.pi) for i in (1, 2, 3)}


def ishigami(X, a=7.0, b=0.1):
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a=7.0, b=0.1):
    """Analytic indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    v1 = 0.5 * (1 + b * np.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = 8 * b ** 2 * np.pi ** 8 / 225
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


@pytest.fixture(scope="module")
def ishigami_result():
    design = sobol_design(PI_RANGES, 2048, seed=0)
    return design, analyze_sobol(design, ishigami(design.values), seed=0)


def test_ishigami_sobol_indices(ishigami_result):
    design, df = ishigami_result
    s1, st = ishigami_indices()
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=1e-3)   # the quoted values
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=1e-3)
    got = df.set_index("parameter").loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(got["S1"], s1, atol=0.04)
    np.testing.assert_allclose(got["ST"], st, atol=0.04)
    assert list(df["parameter"]) == ["x1", "x2", "x3"]               # ranked by ST
    assert len(design) == 2048 * 5 and np.all(got["ST_conf"] > 0)


def test_seed_zero_is_reproducible(ishigami_result):
    # SALib's analyze tests `if seed:`; seed=0 must still give identical CIs
    design, df = ishigami_result
    again = analyze_sobol(design, ishigami(design.values), seed=0)
    np.testing.assert_array_equal(df["S1_conf"], again["S1_conf"])
    other = analyze_sobol(design, ishigami(design.values), seed=1)
    assert not np.array_equal(df["S1_conf"], other["S1_conf"])
    np.testing.assert_array_equal(design.values, sobol_design(PI_RANGES, 2048, seed=0).values)


def test_morris_linear_function_exact():
    ranges = {"a": (0.0, 1.0), "b": (0.0, 2.0), "c": Range(1.0, 100.0, log=True)}
    d = morris_design(ranges, 10, seed=0)
    assert d.values.shape == (10 * 4, 3) and d.values[:, 2].min() >= 1.0
    y = 2 * d.values[:, 0] + 0.5 * d.values[:, 1] + 3 * np.log(d.values[:, 2])
    df = analyze_morris(d, y).set_index("parameter")
    # effects per full range: 2 * 1, 0.5 * 2, 3 * ln(100)
    np.testing.assert_allclose(df.loc[["a", "b", "c"], "mu_star"],
                               [2.0, 1.0, 3 * np.log(100)], rtol=1e-9)
    np.testing.assert_allclose(df["sigma"], 0.0, atol=1e-9)


def test_constant_or_bad_output_is_refused(ishigami_result):
    design, _ = ishigami_result
    with pytest.raises(InvalidValueError, match="constant"):
        analyze_sobol(design, np.full(len(design), 3.0))
    y = ishigami(design.values)
    y[7] = np.nan
    with pytest.raises(InvalidValueError, match="row 7"):
        analyze_sobol(design, y)
    with pytest.raises(InvalidValueError, match="one value per design row"):
        analyze_sobol(design, y[:10])
    with pytest.raises(InvalidValueError, match="Morris design"):
        analyze_morris(design, ishigami(design.values))
    with pytest.raises(InvalidValueError, match="power of 2"):
        sobol_design(PI_RANGES, 1000, seed=0)


def test_missing_salib_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "SALib", None)
    with pytest.raises(ImportError, match=r"crosstalk\[cluster\]"):
        sobol_design(PI_RANGES, 8, seed=0)
