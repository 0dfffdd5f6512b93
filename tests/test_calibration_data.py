"""The bundled model's calibration problems (simulator/models/data/): the committed tables
are what the converter makes of ../shared/data, and each problem evaluates on the model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.bundled import MODELS_DIR, calibration_data

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = MODELS_DIR / "data"
PROBLEMS = sorted(DATA.glob("*/*.yaml"))


def test_problems_are_packaged():
    names = {p.stem for p in PROBLEMS}
    assert {"hpn_dream_mcf7", "hpn_dream_mcf7_held_out", "egf_hrg_time_courses",
            "ccle_viability"} <= names


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"needs the shared data folder {SHARED}")
def test_committed_tables_are_what_the_converter_makes(tmp_path):
    calibration_data.main(["--shared", str(SHARED), "--out", str(tmp_path)])
    for made in sorted(tmp_path.glob("*/*")):
        assert_committed(made, DATA / made.parent.name / made.name)


def assert_committed(made: Path, committed: Path) -> None:
    """``made`` equals the committed file (tables compared as tables)."""
    assert committed.is_file(), f"{committed} is not committed"
    if made.suffix == ".tsv":
        pd.testing.assert_frame_equal(pd.read_csv(made, sep="\t"),
                                      pd.read_csv(committed, sep="\t"))
    else:
        assert made.read_text() == committed.read_text()


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"needs the shared data folder {SHARED}")
def test_literal_lists_are_parsed_not_run():
    raw = calibration_data.read_biomass_observable(SHARED / "nakakuki2010-mcf7" / "observable.py")
    mek = raw["error_bars", "Phosphorylated_MEKc"]["EGF"]
    np.testing.assert_allclose(mek[1], 0.030 / np.sqrt(3))
    assert raw["experiments", "Phosphorylated_ERKc"]["HRG"][2] == 1.0


@pytest.mark.parametrize("name", ["hpn_dream_mcf7", "egf_hrg_time_courses", "ccle_viability"])
def test_problem_evaluates_on_the_bundled_model(name):
    problem = sim.load_petab(DATA / name / f"{name}.yaml")
    value = problem.nllh()
    assert np.isfinite(value), problem.last_failure
    # BT-474 is the HER2_amplified phenotype: its tumour burden is held while the
    # steady state is found (the catalogue beside the SBML file is attached)
    assert "tumor_burden" in problem.model.catalog.reset_at_start


def test_viability_problem_has_both_egfr_inhibitors_for_both_cell_lines():
    conditions = pd.read_csv(DATA / "ccle_viability" / "conditions.tsv", sep="\t")
    for drug in ("lapatinib", "erlotinib"):
        treated = conditions[conditions[drug] > 0]
        assert len(treated) == 16, drug              # 8 doses x BT-474, ZR-75-1
        other = "erlotinib" if drug == "lapatinib" else "lapatinib"
        assert (treated[other] == 0).all()
    assert set(conditions["conditionId"]) >= {"BT474_control", "ZR751_control"}


def test_measured_turnover_centres_the_receptor_priors():
    """kdp_RTK's prior sits at Kleiman 2011's few-second half-life; the activation rates'
    priors move with it by the same factor, so the prior keeps the model's phosphorylated
    fractions; every nominal value (the model's) lies inside its bounds."""
    values = {pid: 1.0 + i for i, pid in enumerate(calibration_data.KINETIC)}
    values["kdp_RTK"] = 30.0
    rows = {r["parameterId"]: r for r in calibration_data.kinetic_prior_rows(values)}
    assert set(rows) == set(calibration_data.KINETIC)

    def centre(pid):
        return 10 ** float(rows[pid]["objectivePriorParameters"].split(";")[0])

    assert centre("kdp_RTK") == pytest.approx(np.log(2) / 3.0 * 3600.0)
    assert rows["kdp_RTK"]["objectivePriorParameters"].endswith(";0.5")
    shift = centre("kdp_RTK") / 30.0
    for pid in calibration_data.MOVES_WITH_KDP:
        assert centre(pid) == pytest.approx(values[pid] * shift)
    assert centre("k_T308") == pytest.approx(values["k_T308"])
    for r in rows.values():
        assert r["lowerBound"] <= r["nominalValue"] <= r["upperBound"]
        assert r["upperBound"] / r["lowerBound"] == pytest.approx(1e4)


def test_a_fitted_model_keeps_the_priors_and_starts_inside_its_bounds():
    """Regenerated from a fitted model: priors and bounds stay where the fit had them (the
    values before any fit), and a fitted value written with 6 digits on its bound starts
    on the bound, not a hair outside (fides refuses a start outside)."""
    before = {pid: 1.0 + i for i, pid in enumerate(calibration_data.KINETIC)}
    before["kdp_RTK"] = np.log(2) / 3.0 * 3600.0          # the model has the measured value
    before["k_act_EGFR"], before["k_T308"] = 1.23456789, 2.34567121   # 6 digits round out
    fitted = dict(before)
    fitted["k_act_EGFR"] = float(f"{before['k_act_EGFR'] * 100:.6g}")  # on its upper bound
    fitted["k_T308"] = float(f"{before['k_T308'] / 100:.6g}")          # on its lower bound
    fitted["kdp_RTK"] = float(f"{before['kdp_RTK']:.6g}")
    rows = {r["parameterId"]: r for r in
            calibration_data.kinetic_prior_rows(fitted, priors={"k_act_EGFR": before["k_act_EGFR"],
                                                                "k_T308": before["k_T308"]})}
    for pid in ("k_act_EGFR", "k_T308"):
        centre = 10 ** float(rows[pid]["objectivePriorParameters"].split(";")[0])
        assert centre == pytest.approx(before[pid], rel=1e-8), pid   # 10 digits of log10
    for r in rows.values():
        assert r["lowerBound"] <= r["nominalValue"] <= r["upperBound"], r["parameterId"]
