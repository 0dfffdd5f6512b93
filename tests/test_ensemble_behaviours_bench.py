"""benchmarks/ensemble_behaviours.py: each ensemble member's HER2-amplified cell, and the
problem its chain starts from."""
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from benchmarks.ensemble_behaviours import PHENOTYPE, member_catalogue, problem_at_fit
from simulator.bundled.behaviors import PerturbedRunner, cell
from simulator.bundled.runner import CoreRunner
from simulator.estimation.likelihood import from_linear

FIT = resources.files("simulator") / "models" / "data" / "ccle_viability" / "fitted.tsv"


@pytest.fixture(scope="module")
def runner():
    return CoreRunner()


def test_a_member_gives_the_amplified_cell_its_own_expression_levels(runner):
    member = PerturbedRunner(runner, {}, phenotypes=member_catalogue(
        {"ER_synthesis": 0.37, "IRS1_expression": 0.2}))
    amp = cell(member, PHENOTYPE)
    assert amp["ER_synthesis"] == 0.37 and amp["IRS1_expression"] == 0.2
    assert amp["HER2_synthesis"] == cell(runner, PHENOTYPE)["HER2_synthesis"] == 20.0
    # the shipped amplified cell and every other cell are untouched
    assert cell(runner, PHENOTYPE)["ER_synthesis"] == pytest.approx(0.204)
    assert cell(member, "PTEN_loss") == cell(runner, "PTEN_loss")
    assert cell(member) == {}


def test_the_chain_starts_from_the_stored_fit(tmp_path):
    problem = problem_at_fit(tmp_path)
    stored = pd.read_csv(FIT, sep="\t", index_col="parameterId")
    expected = from_linear(np.array(problem.scales),
                           stored.loc[list(problem.parameter_ids), "nominalValue"].to_numpy())
    np.testing.assert_allclose(problem.x_nominal, expected)
    assert stored.loc["BT474_ER_synthesis", "nominalValue"] == pytest.approx(0.2047, abs=1e-4)
    assert np.isfinite(problem.nllh())
