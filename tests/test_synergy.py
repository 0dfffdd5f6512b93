"""Synergy reference models against hand-computed values and known properties."""
import numpy as np
import pytest

from simulator.analysis.hill import hill
from simulator.analysis.synergy import bliss, hsa, loewe, synergy, zip_delta
from simulator.errors import InvalidValueError

D = np.array([0, 1, 3, 10, 30, 100.0])


def E(x, ic50=10.0, h=1.0, top=100.0):
    """% inhibition of a single drug: 4PL from 0 to ``top``."""
    return hill(x, 0.0, top, ic50, h)


def grid2(d=D):
    return np.meshgrid(d, d, indexing="ij")


# ---------------------------------------------------------------- hand-computed

def test_bliss_2x2_by_hand():
    r = bliss([[0, 20], [30, 60]])
    # expected 30 + 20 - 30 * 20 / 100 = 44; excess 60 - 44 = 16
    assert r.expected[1, 1] == pytest.approx(44.0)
    assert r.matrix[1, 1] == pytest.approx(16.0)
    assert r.score == pytest.approx(16.0) and r.n_cells == 1 and r.n_excluded == 0
    assert np.all(r.matrix[0, :] == 0) and np.all(r.matrix[:, 0] == 0)
    frac = bliss([[0, 0.2], [0.3, 0.6]], scale=1.0)      # fractional effect
    assert frac.score == pytest.approx(0.16)


def test_bliss_and_hsa_3x3_by_hand():
    y = np.array([[0, 10, 40], [20, 30, 50], [60, 70, 65.0]])
    # Bliss: (1,1) 30-28=2, (1,2) 50-52=-2, (2,1) 70-64=6, (2,2) 65-76=-11
    b = bliss(y)
    np.testing.assert_allclose(b.matrix[1:, 1:], [[2, -2], [6, -11]])
    assert b.score == pytest.approx(-1.25)
    # HSA: max of the monotherapies: (1,1) 30-20, (1,2) 50-40, (2,1) 70-60, (2,2) 65-60
    h = hsa(y)
    np.testing.assert_allclose(h.matrix[1:, 1:], [[10, 10], [10, 5]])
    assert h.score == pytest.approx(8.75)


def test_three_drug_bliss_and_hsa_by_hand():
    y = np.zeros((2, 2, 2))
    y[1, 0, 0], y[0, 1, 0], y[0, 0, 1] = 20, 30, 50
    y[1, 1, 0], y[1, 0, 1], y[0, 1, 1], y[1, 1, 1] = 50, 60, 65, 80
    b = bliss(y)
    assert b.matrix[1, 1, 0] == pytest.approx(50 - 44)          # 20 + 30 - 6
    assert b.matrix[0, 1, 1] == pytest.approx(65 - 65)          # 30 + 50 - 15
    assert b.matrix[1, 1, 1] == pytest.approx(80 - 72)          # 100 (1 - .8 .7 .5)
    assert b.n_cells == 4 and b.score == pytest.approx((6 + 0 + 0 + 8) / 4)  # (1,0,1): 60-60
    h = hsa(y)
    assert h.matrix[1, 1, 1] == pytest.approx(30.0)


# ---------------------------------------------------------------- known properties

def test_two_identical_drugs_loewe_zero_bliss_negative():
    """Sham combination: drug A with itself gives E(a + b).

    Loewe is 0 by construction. Bliss is negative for a Hill slope of 1: the
    survival S(x) = m / (x + m) obeys S(a + b) >= S(a) S(b) (equivalent to ab >= 0),
    so the observed inhibition is below the Bliss expectation at every cell.
    """
    A, B = grid2()
    r = synergy(E(A + B), [D, D])
    np.testing.assert_allclose(r.loewe.matrix, 0.0, atol=1e-6)
    assert np.all(r.bliss.matrix[1:, 1:] < 0) and r.bliss.score < -1
    # the sign of Bliss depends on the slope: steep (h = 2) shams look synergistic
    # at low doses (E(2) = 3.85 % > Bliss of 2 x E(1) = 1.98 %)
    r2 = bliss(E(A + B, h=2.0))
    assert r2.matrix[1, 1] > 0


def test_loewe_matches_analytic_additive_surface():
    # slope 1, same Emax: Loewe's isobole gives u = a/ma + b/mb, E = 100 u / (1 + u)
    A, B = grid2()
    u = A / 10.0 + B / 40.0
    y = 100 * u / (1 + u)
    r = loewe(y, [D, D])
    np.testing.assert_allclose(r.expected, y, rtol=1e-6, atol=1e-6)
    assert abs(r.score) < 1e-5 and "fallback" not in r.message


def test_loewe_fallback_for_a_partial_drug():
    # drug B reaches 40 % at most; cells beyond that have no Loewe root and use
    # SynergyFinder's fallback max_i f_i(a + b)
    A, B = grid2()
    y = 100 * (1 - (1 - E(A) / 100) * (1 - E(B, 5.0, 1.0, top=40.0) / 100))
    r = loewe(y, [D, D])
    assert "fallback" in r.message
    assert r.expected[5, 1] == pytest.approx(E(100.0 + 1.0), rel=1e-5)
    assert np.all(np.isfinite(r.matrix.data))


def test_zip_is_zero_on_an_independent_surface():
    A, B = grid2()
    y = 100 * (1 - (1 - E(A, 10, 1.0) / 100) * (1 - E(B, 30, 2.0) / 100))
    r = synergy(y, [D, D])
    np.testing.assert_allclose(r.zip.matrix, 0.0, atol=1e-5)
    np.testing.assert_allclose(r.bliss.matrix, 0.0, atol=1e-9)
    assert r.loewe.score != pytest.approx(0.0, abs=1e-3)   # a different reference


def test_zip_positive_for_a_potency_shift():
    # B makes A three times as potent: the ZIP delta must be positive
    A, B = grid2()
    shift = 1 + 2 * (B > 0)
    y = 100 * (1 - (1 - E(A * shift) / 100) * (1 - E(B, 30) / 100))
    assert zip_delta(y, [D, D]).score > 5


def test_three_drug_loewe_and_zip():
    A, B, C = np.meshgrid(D, D, D, indexing="ij")
    r = synergy(E(A + B + C), [D, D, D], methods=("loewe",))
    np.testing.assert_allclose(r.loewe.matrix, 0.0, atol=1e-5)
    assert r.bliss is None and r.loewe.n_cells == 6 ** 3 - 1 - 3 * 5
    ind = 100 * (1 - (1 - E(A) / 100) * (1 - E(B, 30, 2.0) / 100) * (1 - E(C, 3, 1.5) / 100))
    np.testing.assert_allclose(zip_delta(ind, [D, D, D]).matrix, 0.0, atol=1e-5)


# ---------------------------------------------------------------- failed cells, bad input

def test_failed_cells_are_masked_and_excluded():
    y = np.array([[0, 10, 40], [20, 30, 50], [60, 70, np.nan]])
    failed = np.isnan(y)
    b = bliss(y, failed=failed)
    assert b.n_cells == 3 and b.n_excluded == 1
    assert b.score == pytest.approx((2 - 2 + 6) / 3)
    assert b.matrix.mask[2, 2] and not np.isnan(b.matrix.data).any()
    # a failed monotherapy excludes its partners from Bliss, not from Loewe
    A, B = grid2()
    y = E(A + B)
    failed = np.zeros(y.shape, bool)
    failed[0, 3] = True
    r = synergy(y, [D, D], failed=failed)
    assert r.bliss.n_excluded == 5 and r.bliss.excluded[1:, 3].all()
    assert r.loewe.n_excluded == 0
    np.testing.assert_allclose(r.loewe.matrix, 0.0, atol=1e-6)
    df = r.to_frame(["A", "B"])
    assert df.shape == (36, 12) and df["failed"].sum() == 1


def test_undeclared_nan_and_bad_doses_are_errors():
    with pytest.raises(InvalidValueError, match=r"cell \(1, 1\).*failed="):
        bliss([[0, 20], [30, np.nan]])
    with pytest.raises(InvalidValueError, match="start at 0"):
        loewe(np.zeros((3, 3)), [[1, 2, 3], [0, 1, 2]])
    with pytest.raises(InvalidValueError, match="bliss"):   # too small for a 4PL fit
        synergy([[0, 20], [30, 60]], [[0, 1], [0, 1]])
    with pytest.raises(InvalidValueError, match="unknown synergy"):
        synergy([[0, 20], [30, 60]], None, methods=("blis",))
    with pytest.raises(InvalidValueError, match="none of the 1"):
        bliss([[0, 20], [30, 60]], failed=np.array([[False, False], [False, True]]))
