"""The bundled ER crosstalk model: files in sync, catalogue complete, 15 published behaviours.

Behaviours run on Crosstalk's own core (CoreRunner) and, as the independent reference, on
libroadrunner (RoadRunnerRunner): the same checks take any runner with ``parameters``,
``steady_state`` and ``simulate``.
"""
import csv
import tomllib

import numpy as np
import pandas as pd
import pytest

from simulator.bundled import (MODEL_ANT, MODEL_SBML, PARAMETERS_CSV, PHENOTYPES_TOML,
                               behaviors, tables)
from simulator.bundled.runner import CoreRunner
from simulator.io import antimony_to_sbml
from simulator.errors import PerturbationError
from tests.roadrunner_runner import RoadRunnerRunner

PUBLIC_IDS = """E2 ER_total ER_activity pER EGFR_total HER2_total HER3_total IGF1R_total pEGFR
pHER2 pHER3 pIGF1R IRS1_pS PIP3 pAkt_T308 pAkt_S473 mTORC1_active mTORC2_active pS6K1 pS6
p4EBP1 FOXO_nuclear pERK cyclinD1 proliferation apoptosis growth_rate tumor_burden
pRb E2F_activity cyclinE CDK46_activity CDK2_activity pRb_fraction Akt_kinase""".split()
DRUGS = """tamoxifen fulvestrant letrozole anastrozole exemestane lapatinib trastuzumab gefitinib
everolimus temsirolimus alpelisib buparlisib taselisib palbociclib ribociclib abemaciclib
capivasertib dactolisib azd8055 trametinib erlotinib""".split()
INPUTS = ["androstenedione", "EGF", "HRG", "IGF1"]
PHENOTYPES = """HER2_amplified PTEN_loss PIK3CA_mutant ESR1_mutant AKT_myr LTED CYP2D6_poor
ER_low RB1_loss CCNE1_high""".split()


@pytest.fixture(scope="module")
def runner():
    pytest.importorskip("roadrunner")  # the reference simulator (dev extra)
    return RoadRunnerRunner(MODEL_SBML)


@pytest.fixture(scope="module")
def core_runner():
    return CoreRunner()


def _checks():
    """Every behaviour; a known limit of the model must keep failing (strict xfail), so a
    change that mends it is noticed and the limit taken off the list."""
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=why))
            if (why := behaviors.KNOWN_FAILURES.get(name)) else name
            for name in behaviors.BEHAVIORS]


@pytest.mark.parametrize("name", _checks())
def test_behavior_on_our_core(core_runner, name):
    result = behaviors.BEHAVIORS[name](core_runner)
    assert result.passed, result.detail
    assert not result.data.empty


@pytest.mark.parametrize("name", _checks())
def test_behavior_on_libroadrunner(runner, name):
    result = behaviors.BEHAVIORS[name](runner)
    assert result.passed, result.detail
    assert not result.data.empty


def test_public_ids_exist(runner):
    readable = set(runner.species_ids) | set(runner.observable_ids)
    assert set(PUBLIC_IDS) - readable == set()
    assert set(DRUGS + INPUTS) - set(runner.parameters) == set()


def test_default_state_is_a_steady_state(runner):
    """The initial values in the .ant are the parental steady state (tumor_burden aside)."""
    ss = runner.steady_state({})
    traj = runner.simulate({}, np.array([0.0, 1000.0]), None)
    for sid in runner.species_ids:
        if sid == "tumor_burden":
            continue
        assert traj[sid][0] == pytest.approx(ss[sid], rel=0.02, abs=1e-6), sid
    assert traj["tumor_burden"][-1] > 1.0  # the parental cell grows


def test_parameter_table_matches_model(runner):
    with open(PARAMETERS_CSV, newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate rows"
    assert set(ids) == set(runner.parameters), (
        f"missing: {sorted(set(runner.parameters) - set(ids))}, "
        f"stale: {sorted(set(ids) - set(runner.parameters))}")
    for r in rows:
        assert r["unit"] and r["source"], r["id"]
        assert float(r["value"]) == pytest.approx(runner.parameters[r["id"]]), r["id"]


def test_sbml_in_sync_with_antimony():
    assert antimony_to_sbml(MODEL_ANT.read_text(), str(MODEL_ANT)) == MODEL_SBML.read_text(), (
        "run `python -m simulator.bundled.tables --write-sbml`")


def test_drugs_table_complete():
    """Every drug has its target, potency, dose and sources; its PK numbers are complete,
    or its sources say they were not found (investigational drugs without a label)."""
    table = tables.drugs()
    assert set(table.index) == set(DRUGS)
    for col in ("target", "mechanism", "potency_nM", "potency_source", "exposure_source",
                "pk_dose_mg", "pk_tau_h", "pk_MW_g_mol", "pk_source"):
        assert table[col].notna().all(), col
    assert (table["potency_nM"] > 0).all()
    # the volume is the apparent V/F (no F) or the systemic V with F, never both
    volume = table["pk_V_F_L"].fillna(table["pk_V_L"])
    assert not (table["pk_V_F_L"].notna() & table["pk_F"].notna()).any()
    assert (table["pk_V_L"].notna() == table["pk_F"].notna()).all()
    pk = ["clinical_exposure_nM", "pk_t_half_h"]
    complete = table[pk].notna().all(axis=1) & volume.notna()
    assert (table.loc[complete, pk] > 0).all().all() and (volume[complete] > 0).all()
    for drug in table.index[~complete]:
        assert table.loc[drug, pk].isna().all() and pd.isna(volume[drug]), drug  # all or nothing
        for col in ("exposure_source", "pk_source"):
            assert "not found" in table.loc[drug, col], (drug, col)
    assert set(table.index[~complete]) == {"dactolisib", "azd8055"}


def test_phenotypes_name_real_parameters(runner):
    with open(PHENOTYPES_TOML, "rb") as fh:
        data = tomllib.load(fh)
    assert set(data) == set(PHENOTYPES)
    for name, entry in data.items():
        assert entry["description"] and entry["source"], name
        assert set(entry["overrides"]) <= set(runner.parameters), name
    assert set(tables.phenotypes().index) == set(PHENOTYPES)


def test_phenotypes_combine_in_order():
    base = {"HER2_synthesis": 1.0, "ER_synthesis": 2.0, "PTEN_activity": 1.0,
            "IRS1_expression": 1.0}
    out = behaviors.catalog().apply_phenotypes(["HER2_amplified", "ER_low", "PTEN_loss"], base)
    # HER2_amplified scales ER by its fitted 0.204, ER_low by 0.2: the scales multiply
    assert out == {"HER2_synthesis": 20.0, "ER_synthesis": pytest.approx(2.0 * 0.204 * 0.2),
                   "PTEN_activity": 0.1, "IRS1_expression": 0.01}
    assert base["ER_synthesis"] == 2.0  # inputs are not mutated


def test_unknown_phenotype_suggests():
    with pytest.raises(PerturbationError, match=r"'HER2_amplifed'.*did you mean 'HER2_amplified'"):
        behaviors.catalog().apply_phenotypes(["HER2_amplifed"], {"HER2_synthesis": 1.0})


def test_long_run_integrates(runner):
    """Six months under letrozole: finite, positive burden, no integrator failure."""
    ss = runner.steady_state({})
    t = np.linspace(0.0, 180 * 24.0, 181)
    traj = runner.simulate({"letrozole": 100.0}, t, ss)
    assert np.all(np.isfinite(traj["tumor_burden"])) and traj["tumor_burden"][-1] > 0
