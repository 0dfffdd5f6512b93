"""The HER2-amplified cell's lapatinib dose response against BT-474's (issue 11).

Issue 11 asks for a ``HER2_amplified`` phenotype that is BT-474-like, with its lapatinib
growth IC50 in the measured range. The measured range comes from the bundled PEtab
problem ``ccle_viability`` (CCLE viability of BT-474 and ZR-75-1, Froehlich et al. 2018,
Cell Syst 7:567), package data, so no shared folder is needed.

The model's viability is the assay's: tumour burden after 72 h of drug over the untreated
burden after 72 h, both from the untreated steady state. Concentrations are taken as the
free drug, as everywhere in the model.

The phenotype's ER and IRS-1 expression are fitted to these curves (``crosstalk calibrate
simulator/models/data/ccle_viability/ccle_viability.yaml``); the fit is stored beside the
problem (``fitted.tsv``) and the tests check that the phenotype holds its values and that
they are a stationary point of the problem. With them the IC50 lands in the measured
bracket; the kill at micromolar lapatinib (BT-474 keeps 4%) is still out of reach
(docs/model.md, "What the model cannot say") and stays a strict expected failure, so a
model change that meets it is noticed.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.bundled.fitted import fitted_values
from simulator.estimation.likelihood import from_linear

HOURS = np.array([0.0, 72.0])
DOSES_NM = (80.0, 250.0, 800.0, 2530.0)
NO_KILL = ("The model's largest death rate (0.42/day) and the ER and ERK drive left under "
           "lapatinib keep the amplified cell's 72-h viability near 0.3 at 2.53 uM "
           "(docs/model.md, 'What the model cannot say')")
FIT = resources.files("simulator") / "models" / "data" / "ccle_viability"


@pytest.fixture(scope="module")
def model():
    return sim.load_model()


@pytest.fixture(scope="module")
def measured() -> pd.DataFrame:
    """CCLE lapatinib viability per cell line and dose (nM), from the bundled problem."""
    table = pd.read_csv(FIT / "measurements.tsv", sep="\t")
    parts = table["simulationConditionId"].str.extract(
        r"(?P<cell>[A-Z0-9]+)_lapatinib_(?P<dose>[0-9p]+)nM")
    table = pd.concat([table, parts], axis=1).dropna(subset=["dose"])
    table["dose"] = table["dose"].str.replace("p", ".").astype(float)
    assert len(table) == 16, "the problem's 8 lapatinib doses for each of 2 cell lines"
    return table.pivot(index="dose", columns="cell", values="measurement")


def burden(model, drugs: dict, phenotype) -> float:
    """Tumour burden after 72 h of ``drugs`` from the untreated steady state."""
    return float(sim.run_treatment(model, drugs, HOURS, phenotype=phenotype)["tumor_burden"][-1])


CONTROLS: dict = {}


def viability(model, nM: float, phenotype) -> float:
    """72-h tumour burden under ``nM`` lapatinib relative to the untreated burden (the
    untreated run once per phenotype)."""
    key = tuple(phenotype or ())
    if key not in CONTROLS:
        CONTROLS[key] = burden(model, {}, phenotype)
    return burden(model, {"lapatinib": nM}, phenotype) / CONTROLS[key]


def ic50_bracket(curve: pd.Series) -> tuple[float, float]:
    """The two doses between which viability first falls below 0.5."""
    below = curve.index[curve.to_numpy() < 0.5]
    assert len(below), "the curve never falls below 0.5"
    upper = float(below[0])
    lower = float(curve.index[curve.index < upper].max())
    return lower, upper


def test_measured_bt474_ic50_bracket(measured):
    """The target itself: BT-474 falls below half between 80 and 250 nM, ZR-75-1 never."""
    assert ic50_bracket(measured["BT474"]) == (80.0, 250.0)
    assert (measured["ZR751"] > 0.5).all()


def test_her2_amplified_lapatinib_ic50_in_the_measured_range(model, measured):
    lower, upper = ic50_bracket(measured["BT474"])
    assert viability(model, lower, ["HER2_amplified"]) > 0.5
    assert viability(model, upper, ["HER2_amplified"]) < 0.5


@pytest.mark.xfail(strict=True, reason=NO_KILL)
def test_her2_amplified_cells_die_at_micromolar_lapatinib(model):
    """BT-474 keeps 4% at 2.53 uM and 20% at 8 uM; 0.25 allows for the assay's noise."""
    assert viability(model, 2530.0, ["HER2_amplified"]) < 0.25


@pytest.mark.parametrize("phenotype", [None, ["PTEN_loss"]], ids=["parental", "ZR-75-1-like"])
def test_lapatinib_spares_non_amplified_cells(model, phenotype):
    """ZR-75-1 keeps 82% at 2.53 uM; MCF-7, like the parental cell, is not HER2-driven."""
    assert viability(model, 2530.0, phenotype) > 0.6


def test_amplified_cell_is_the_more_lapatinib_sensitive(model):
    for nM in DOSES_NM:
        amplified = viability(model, nM, ["HER2_amplified"])
        assert amplified < viability(model, nM, None) - 0.1, nM


# --------------------------------------------------------------------------- the fit
def stored_fit() -> dict:
    """The stored fit's estimated values (linear), ``{parameterId: value}``."""
    return fitted_values(Path(str(FIT / "fitted.tsv")))


def test_phenotype_holds_the_fitted_expression(model):
    """HER2_amplified's ER and IRS-1 levels are the stored fit's (parental level 1)."""
    fit = stored_fit()
    applied = model.catalog.apply_phenotypes(
        ["HER2_amplified"], {"ER_synthesis": 1.0, "IRS1_expression": 1.0, "HER2_synthesis": 1.0})
    for pid in ("ER_synthesis", "IRS1_expression"):
        assert applied[pid] == pytest.approx(fit[f"BT474_{pid}"], rel=5e-3), pid


def test_stored_fit_is_a_stationary_point():
    """The gradient of the problem's nllh at the stored fit vanishes in every estimated
    parameter off its bounds, and points out of the box at a bound (a constrained
    optimum), so the stored values are what the calibration converges to."""
    problem = sim.load_petab(str(FIT / "ccle_viability.yaml"))
    fit = stored_fit()
    x = from_linear(np.array(problem.scales), np.array([fit[p] for p in problem.parameter_ids]))
    value, grad = problem.nllh(x, gradient=True)
    assert np.isfinite(value)
    lower, upper = problem.bounds.T
    for pid, xi, g, lo, hi in zip(problem.parameter_ids, x, grad, lower, upper):
        if np.isclose(xi, lo, atol=1e-3):
            assert g > 0, pid
        elif np.isclose(xi, hi, atol=1e-3):
            assert g < 0, pid
        else:
            assert abs(g) < 1e-2, (pid, g)


def test_joint_problem_starts_from_the_shipped_bt474():
    """The joint calibration problem starts BT-474's expression at the phenotype's fitted
    values (its time courses use the phenotype), not at the parental level."""
    joint = pd.read_csv(FIT.parent / "er_crosstalk_mcf7" / "parameters.tsv", sep="\t")
    nominal = joint.set_index("parameterId")["nominalValue"]
    fit = stored_fit()
    for pid in ("BT474_ER_synthesis", "BT474_IRS1_expression"):
        assert nominal[pid] == pytest.approx(fit[pid], rel=5e-3), pid
