"""combination: hand-computed synergy through the full simulation path, failures, bad input."""
import numpy as np
import pytest

import simulator as sim
from simulator.errors import InvalidValueError, PerturbationError, UnknownIdError

# y = 1 - 0.01 a - 0.02 b - 0.001 a b: at a = b = 10, inhibition 10, 20 and 40 %
LINEAR = """
model lin
  compartment c = 1
  a = 0; b = 0; c3 = 0
  X = 1
  R: X -> ; X
  y := 1 - 0.01*a - 0.02*b - 0.001*a*b
  indep := 1/(1 + a/5)/(1 + b/20)/(1 + c3/2)
end
"""

# two "drugs" acting on the same target: a sham combination
SAME = """
model same
  compartment c = 1
  a = 0; b = 0
  K = 10; n = 1
  X = 1
  R1: -> X; 1/(1 + ((a + b)/K)^n)
  R2: X -> ; X
end
"""

BLOW = """
model blow
  compartment c = 1
  a = 0; b = 0
  X = 1
  R: -> X; (a + b)*X^2
  y := 1/(1 + X)
end
"""


@pytest.fixture(scope="module")
def lin():
    return sim.load_model(LINEAR)


def test_bliss_and_hsa_2x2_hand_computed(lin):
    combo = sim.combination(lin, ("a", [10.0]), ("b", [10.0]), readout="y", at_time=1.0,
                            methods=("bliss", "hsa"))
    np.testing.assert_allclose(combo.response, [[0, 20], [10, 40]], atol=1e-9)
    # Bliss: E = 10 + 20 - 10 * 20 / 100 = 28 -> excess 12; HSA: max(10, 20) -> excess 20
    assert combo.bliss.matrix[1, 1] == pytest.approx(12.0, abs=1e-9)
    assert combo.bliss.score == pytest.approx(12.0, abs=1e-9)
    assert combo.hsa.score == pytest.approx(20.0, abs=1e-9)
    assert combo.loewe is None and combo.zip is None
    assert combo.control == pytest.approx(1.0)
    tab = combo.table
    assert list(tab.columns[:2]) == ["a", "b"] and len(tab) == 4
    assert tab["success"].all() and combo.failures.empty


def test_identical_drugs_loewe_zero():
    model = sim.load_model(SAME)
    doses = [1, 3, 10, 30, 100]
    combo = sim.combination(model, ("a", doses), ("b", doses), readout="X", at_time=30.0)
    assert abs(combo.loewe.score) < 0.05
    assert np.abs(combo.loewe.matrix).max() < 0.1
    # with n = 1, Bliss calls the sham combination antagonistic in every cell:
    # K^2 / ((K + a)(K + b)) < K / (K + a + b), so the Bliss expectation exceeds the observed
    combos = combo.bliss.matrix[1:, 1:]
    assert (combos < 0).all() and combo.bliss.score < -1.0
    assert set(combo.summary) == {"bliss", "loewe", "hsa", "zip"}


def test_three_drug_bliss_independent(lin):
    combo = sim.combination(lin, ("a", [5.0]), ("b", [20.0]), ("c3", [2.0]), readout="indep",
                            at_time=1.0, methods=("bliss", "hsa"))
    assert combo.response.shape == (2, 2, 2)
    # independent actions multiply: each alone 50 %, together 1 - 0.5^k
    assert combo.response[1, 1, 1] == pytest.approx(87.5, abs=1e-9)
    assert abs(combo.bliss.score) < 1e-9
    assert len(combo.table) == 8


def test_failed_cells_are_masked_and_listed():
    model = sim.load_model(BLOW)
    # X' = (a + b) X^2 blows up at t = 1 / (a + b): cells with a = 1 fail before t = 2
    combo = sim.combination(model, ("a", [0.1, 1.0]), ("b", [0.1]), readout="y", at_time=2.0,
                            equilibrate=False, methods=("bliss", "hsa"))
    expected_failed = np.array([[False, False], [False, False], [True, True]])
    np.testing.assert_array_equal(combo.failed, expected_failed)
    np.testing.assert_array_equal(np.ma.getmaskarray(combo.response), expected_failed)
    fails = combo.failures
    assert list(fails["a"]) == [1.0, 1.0] and list(fails["b"]) == [0.0, 0.1]
    assert all(m for m in fails["message"])
    assert any("2 of 6 cells failed" in n for n in combo.notes)
    # the surviving combination cell is scored; the one with a failed partner is excluded
    assert combo.bliss.n_cells == 1 and combo.bliss.n_excluded == 1
    assert np.ma.getmaskarray(combo.bliss.matrix)[2, 1]
    y = lambda s: 1 / (1 + 1 / (1 - 2 * s))  # noqa: E731  X(2) = 1 / (1 - 2 s)
    inh = lambda s: 100 * (1 - y(s) / 0.5)   # noqa: E731
    assert combo.response[1, 1] == pytest.approx(inh(0.2), rel=1e-5)


@pytest.mark.parametrize("pairs, kwargs, err, match", [
    ((("a", [1.0]),), {}, PerturbationError, "two or three"),
    ((("a", [1.0]), ("a", [2.0])), {}, PerturbationError, "once"),
    ((("a", [1.0, 1.0]), ("b", [1.0])), {}, PerturbationError, "repeat"),
    ((("a", [-1.0]), ("b", [1.0])), {}, PerturbationError, "finite and >= 0"),
    ((("a", []), ("b", [1.0])), {}, PerturbationError, "empty"),
    ((("aa", [1.0]), ("b", [1.0])), {}, PerturbationError, "did you mean"),
    ((("a", [1.0]), ("b", [1.0])), {"readout": "Y"}, UnknownIdError, "did you mean 'y'"),
    ((("a", [1.0]), ("b", [1.0])), {"methods": ("blis",)}, InvalidValueError, "unknown synergy"),
    ((("a", [1.0]), ("b", [1.0])), {"drugs": {"a": 1.0}}, PerturbationError, "background"),
    ((("a", [1.0]), ("b", [1.0])), {"params": {"X": 0.0}}, sim.UnknownIdError, "species"),
])
def test_bad_input(lin, pairs, kwargs, err, match):
    args = dict(readout="y", at_time=1.0)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        sim.combination(lin, *pairs, **args)


def test_nonpositive_control_is_an_error():
    model = sim.load_model(LINEAR.replace("y := 1 -", "y := 0 -"))
    with pytest.raises(InvalidValueError, match="positive control readout"):
        sim.combination(model, ("a", [1.0]), ("b", [1.0]), readout="y", at_time=1.0)


def test_bundled_letrozole_everolimus_matrix():
    model = sim.load_model()
    combo = sim.combination(model, ("letrozole", [10.0, 100.0]), ("everolimus", [1.0, 10.0]),
                            readout="growth_rate", at_time=72.0, methods=("bliss", "hsa"))
    assert combo.response.shape == (3, 3) and not combo.failed.any()
    assert combo.response[0, 0] == 0.0
    # each drug alone inhibits growth; together more than the stronger one alone
    assert combo.response[2, 0] > 0 and combo.response[0, 2] > 0
    assert combo.response[2, 2] > max(combo.response[2, 0], combo.response[0, 2])
    assert np.isfinite(combo.bliss.score)
