"""RECIST 1.1 on hand-made lesion series, and survival statistics against a known truth."""
import numpy as np
import pytest

from simulator.trials import recist, survival

DAYS = np.array([42.0, 84, 126, 168, 210])


def test_progression_needs_20_percent_over_nadir_and_5_mm():
    # nadir 40 at scan 2; 48 is +20% and +8 mm -> PD at scan 3
    sld = np.array([[50, 40, 48, 60, 70.0]])
    assert recist.progression(sld, 50.0).tolist() == [2]
    # small lesion: +20% but only +3 mm -> no PD; +5 mm later -> PD
    sld = np.array([[15, 15, 18, 19, 20.0]])
    assert recist.progression(sld, 15.0).tolist() == [4]
    # nadir includes baseline: growth from baseline 30 -> 36 (20%, 6 mm) is PD at once
    assert recist.progression(np.array([[36, 20, 20, 20, 20.0]]), 30.0).tolist() == [0]
    # 19.9% is not enough
    assert recist.progression(np.array([[30, 35.9, 35.9, 35.9, 35.9]]), 30.0).tolist() == [-1]


def test_best_response_categories_and_benefit():
    sld = np.array([
        [30, 20, 0.5, 0.5, 0.5],     # CR
        [40, 34, 34, 34, 34],        # -32% -> PR
        [50, 48, 47, 49, 50],        # SD for 30 weeks -> benefit
        [50, 48, 70, 70, 70],        # SD then PD at 12 weeks -> no benefit
        [70, 80, 90, 90, 90],        # PD at first scan
    ], float)
    base = np.array([50, 50, 50, 50, 50.0])
    best, benefit = recist.best_response(sld, base, DAYS)
    assert best.tolist() == ["CR", "PR", "SD", "SD", "PD"]
    assert benefit.tolist() == [True, True, True, False, False]


def test_confirmation_and_censoring():
    sld = np.array([[30, 40, 40, 40, 40.0]])          # PR once, then back: unconfirmed
    assert recist.best_response(sld, [50.0], DAYS, confirm=True)[0].tolist() == ["SD"]
    assert recist.best_response(sld, [50.0], DAYS, confirm=False)[0].tolist() == ["PR"]
    # progression at scan 4 (168 d), but dropout at 150 d: censored at the last scan seen
    sld = np.array([[50, 50, 50, 70, 80.0]])
    out = recist.assess(sld, [50.0], DAYS, [150.0])
    assert out["event"].tolist() == [False] and out["time_days"].tolist() == [126.0]
    out = recist.assess(sld, [50.0], DAYS, [1000.0])
    assert out["event"].tolist() == [True] and out["time_days"].tolist() == [168.0]
    assert recist.scan_times(3, 6).tolist() == [42.0, 84.0]


def test_diameter_is_cube_root_of_volume():
    assert recist.diameter(8.0, 10.0) == pytest.approx(20.0)
    assert recist.diameter(np.array([[1.0, 1.728]]), np.array([50.0])).ravel() == \
        pytest.approx([50.0, 60.0])


def test_km_and_cox_recover_a_known_hazard_ratio():
    # exponential PFS, control median 6 months, true HR 0.6, censoring at 24 months;
    # truth known without lifelines: median = ln2 / rate
    rng = np.random.default_rng(1)
    n = 1500
    lam0, hr = np.log(2) / 6.0, 0.6
    t0 = rng.exponential(1 / lam0, n)
    t1 = rng.exponential(1 / (lam0 * hr), n)
    t = np.concatenate([t0, t1])
    e = t < 24.0
    t = np.minimum(t, 24.0)
    g = np.repeat([0, 1], n)
    est, lo, hi, p = survival.hazard_ratio(t, e, g)
    assert lo < hr < hi and hi - lo < 0.2 and p < 1e-10
    m, mlo, mhi = survival.median_pfs(t[:n], e[:n])
    assert mlo < 6.0 < mhi
    m1, lo1, hi1 = survival.median_pfs(t[n:], e[n:])
    assert lo1 < 6.0 / hr < hi1
    # no difference: HR covers 1 and p is large
    est, lo, hi, p = survival.hazard_ratio(t0.clip(max=24), t0 < 24,
                                           rng.permutation(np.repeat([0, 1], n // 2)))
    assert lo < 1 < hi and p > 0.01
