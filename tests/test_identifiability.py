"""Fisher-information identifiability: standard errors equal (JᵀJ)⁻¹ of the weighted
residuals, a product of two parameters is flat (infinite errors, verdict 'none') unless
a prior pins one of them, and the verdicts follow the data-only and posterior widths."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.estimation.identifiability import _standard_errors, fisher_identifiability
from tests.test_estimation import default_parameters, write_problem

A0 = {"parameterId": "a0", "parameterScale": "log10", "lowerBound": 0.1, "upperBound": 10,
      "nominalValue": 2, "estimate": 1}


def test_standard_errors_are_the_inverse_of_jtj(tmp_path):
    problem = sim.load_petab(write_problem(tmp_path))
    x = problem.x_nominal
    table = fisher_identifiability(problem, x)
    _, J = problem.residuals(x, jacobian=True)
    expected = np.sqrt(np.diag(np.linalg.inv(J.T @ J)))
    np.testing.assert_allclose(table["se_data"], expected, rtol=1e-6)
    np.testing.assert_allclose(table["se_posterior"], expected, rtol=1e-6)   # no priors
    assert list(table["identified_by"]) == ["data", "data"]
    assert table["prior_sd"].isna().all()


def test_a_product_of_parameters_is_flat_unless_a_prior_pins_one(tmp_path):
    flat = sim.load_petab(write_problem(tmp_path / "flat",
                                        parameters=default_parameters() + [A0]))
    table = fisher_identifiability(flat, flat.x_nominal).set_index("parameterId")
    assert table.loc["k1", "identified_by"] == "data"          # the decay rate is seen
    for pid in ("scale", "a0"):                                 # only scale * a0 is
        assert np.isinf(table.loc[pid, "se_data"]) and table.loc[pid, "identified_by"] == "none"
    prior = dict(A0, objectivePriorType="parameterScaleNormal",
                 objectivePriorParameters=f"{np.log10(2)};0.2")
    pinned = sim.load_petab(write_problem(tmp_path / "pinned",
                                          parameters=default_parameters() + [prior]))
    table = fisher_identifiability(pinned, pinned.x_nominal).set_index("parameterId")
    assert table.loc["a0", "prior_sd"] == 0.2
    assert table.loc["a0", "se_posterior"] == pytest.approx(0.2, rel=1e-6)  # data add nothing
    assert table.loc["a0", "identified_by"] == "prior"
    # through a0's prior, scale is now determined as well (its error is finite)
    assert np.isfinite(table.loc["scale", "se_posterior"])
    assert table.loc["scale", "identified_by"] == "none"        # no prior of its own


def test_a_flat_direction_spread_over_many_parameters_leaves_each_unidentified():
    n = 120
    v = np.ones(n) / np.sqrt(n)                 # only a joint shift of all leaves f flat
    fim = np.eye(n) - np.outer(v, v)
    assert np.isinf(_standard_errors(fim, 1e-10)).all()
    assert np.isfinite(_standard_errors(np.eye(n), 1e-10)).all()
