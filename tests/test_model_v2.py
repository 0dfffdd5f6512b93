"""The bundled model's v2 additions (issue 11, part 1), through the public API only.

Cell cycle: cyclin D1-CDK4/6 and E2F-induced cyclin E1-CDK2 phosphorylate Rb; E2F released
from hypophosphorylated Rb drives proliferation. Drugs: CDK4/6 inhibitors (palbociclib,
ribociclib, abemaciclib), the AKT inhibitor capivasertib, the dual PI3K/mTOR inhibitor
dactolisib, the mTOR kinase inhibitor AZD8055 and the MEK inhibitor trametinib.
Phenotypes: RB1_loss and CCNE1_high (CDK4/6-inhibitor resistance).

Every check compares a drug with its control or with another drug through the experiment
protocol (untreated steady state, treat from t = 0), so each can fail if a mechanism is
wired wrongly. Doses are in vitro-like free concentrations (nM).
"""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim

T = np.array([0.0, 1.0, 4.0, 24.0, 72.0])
PALBO = 300.0        # ~27 x the CDK4 IC50; in vitro range (Fry 2004)
LET = 100.0
CELL_CYCLE = ("pRb", "pRb_fraction", "E2F_activity", "cyclinE", "CDK46_activity",
              "CDK2_activity", "proliferation", "growth_rate")


@pytest.fixture(scope="module")
def model():
    return sim.load_model()


def at(model, drugs, hours, *, phenotype=None, params=None):
    """Readouts (dict of float) after ``hours`` of ``drugs`` from the untreated steady state."""
    t = np.array([0.0, hours])
    traj = sim.run_treatment(model, drugs, t, phenotype=phenotype, params=params)
    return {k: float(traj[k][-1]) for k in traj.ids}


def baseline(model, *, phenotype=None, params=None):
    return at(model, {}, 1e-6, phenotype=phenotype, params=params)


def prolif_inhibition(model, drugs, *, phenotype=None, hours=72.0):
    """1 - proliferation(drugs) / proliferation(control) after ``hours``."""
    p0 = at(model, {}, hours, phenotype=phenotype)["proliferation"]
    return 1.0 - at(model, drugs, hours, phenotype=phenotype)["proliferation"] / p0


# --------------------------------------------------------------------------- the module
def test_new_ids_are_public(model):
    readable = set(model.species_ids) | set(model.assignment_rule_ids)
    assert set(CELL_CYCLE) | {"Akt_kinase", "Rb_hypo", "E2F_free", "E2F_released"} <= readable
    drugs = {"palbociclib", "ribociclib", "abemaciclib", "capivasertib", "dactolisib",
             "azd8055", "trametinib"}
    assert drugs <= set(sim.drugs().index)
    assert {"RB1_loss", "CCNE1_high"} <= set(sim.phenotypes().index)


def test_parental_cell_cycle_runs_through_rb_and_e2f(model):
    """Proliferation follows E2F, E2F follows the share of Rb released: no E2F, no division."""
    ss = baseline(model)
    assert 0.2 < ss["pRb_fraction"] < 0.7 and 0.1 < ss["E2F_activity"] < 0.8
    # CDK2 carries a minority of Rb phosphorylation in the parental cell (CDK4/6 dependence)
    assert ss["CDK46_activity"] > 2 * 0.5 * ss["CDK2_activity"]
    no_e2f = at(model, {}, 72.0, params={"K_E2F": 50.0})
    assert no_e2f["proliferation"] < 0.01 * ss["proliferation"]


def test_palbociclib_lowers_prb_e2f_and_proliferation_with_an_ai(model):
    ctl = baseline(model)
    ai = at(model, {"letrozole": LET}, 72.0)
    combo = at(model, {"letrozole": LET, "palbociclib": PALBO}, 72.0)
    early = at(model, {"letrozole": LET, "palbociclib": PALBO}, 24.0)
    # the AI alone lowers pRb through less cyclin D1; palbociclib on top blocks CDK4/6
    assert ai["pRb_fraction"] < ctl["pRb_fraction"]
    assert combo["CDK46_activity"] < 0.1 * ai["CDK46_activity"]
    assert combo["pRb_fraction"] < 0.5 * ai["pRb_fraction"]
    assert early["pRb_fraction"] < 0.5 * ctl["pRb_fraction"]       # within a day
    assert combo["E2F_activity"] < 0.1 * ai["E2F_activity"]
    assert combo["cyclinE"] < 0.8 * ai["cyclinE"]                     # E2F target falls
    assert combo["proliferation"] < 0.1 * ai["proliferation"]
    assert combo["growth_rate"] < ai["growth_rate"] - 0.1
    # cyclin D1 itself is upstream of the drug: not lowered by palbociclib
    alone = at(model, {"palbociclib": PALBO}, 72.0)
    assert alone["cyclinD1"] == pytest.approx(ctl["cyclinD1"], rel=0.05)


def test_cdk46_inhibitors_follow_their_potencies(model):
    """At 10 nM abemaciclib (CDK4 IC50 2 nM) lowers pRb more than palbociclib (11 nM) and
    ribociclib (10 nM on CDK4 but 39 nM on CDK6); at saturating doses all three converge."""
    low = {d: at(model, {d: 10.0}, 24.0)["pRb_fraction"]
           for d in ("abemaciclib", "palbociclib", "ribociclib")}
    assert low["abemaciclib"] < 0.8 * low["palbociclib"]
    assert low["abemaciclib"] < 0.8 * low["ribociclib"]
    high = [at(model, {d: 3000.0}, 24.0)["pRb_fraction"]
            for d in ("abemaciclib", "palbociclib", "ribociclib")]
    assert max(high) - min(high) < 0.01


def test_rb1_loss_and_ccne1_high_blunt_palbociclib(model):
    i_par = prolif_inhibition(model, {"palbociclib": PALBO})
    i_rb = prolif_inhibition(model, {"palbociclib": PALBO}, phenotype="RB1_loss")
    i_ccne = prolif_inhibition(model, {"palbociclib": PALBO}, phenotype="CCNE1_high")
    assert i_par > 0.9
    assert abs(i_rb) < 0.02                    # no Rb: nothing for CDK4/6 to release
    assert i_ccne < 0.6 * i_par                # cyclin E-CDK2 keeps Rb phosphorylated
    rb = baseline(model, phenotype="RB1_loss")
    assert rb["pRb"] == pytest.approx(0.0, abs=1e-6) and rb["E2F_activity"] > 0.8
    ccne = at(model, {"letrozole": LET, "palbociclib": PALBO}, 72.0, phenotype="CCNE1_high")
    par = at(model, {"letrozole": LET, "palbociclib": PALBO}, 72.0)
    assert ccne["CDK2_activity"] > 5 * par["CDK2_activity"]
    assert ccne["pRb_fraction"] > 3 * par["pRb_fraction"]
    assert ccne["growth_rate"] > par["growth_rate"] + 0.2


def test_palbociclib_arrest_is_reversible(model):
    """The E2F -> cyclin E -> CDK2 -> Rb loop does not lock the cell in arrest: after a
    3-day pulse, pRb and proliferation return to the untreated level."""
    pulse = sim.Treatment({"palbociclib": sim.Dose(PALBO, "nM", sim.Schedule.continuous(stop=72.0))})
    traj = sim.run_treatment(model, pulse, np.array([0.0, 72.0, 240.0]))
    ss = baseline(model)
    assert traj["E2F_activity"][1] < 0.1 * ss["E2F_activity"]
    assert traj["pRb_fraction"][-1] == pytest.approx(ss["pRb_fraction"], rel=0.02)
    assert traj["proliferation"][-1] == pytest.approx(ss["proliferation"], rel=0.02)


# --------------------------------------------------------------------------- capivasertib
def test_capivasertib_blocks_akt_substrates_and_raises_pakt(model):
    ss = baseline(model)
    cap = at(model, {"capivasertib": 1000.0}, 4.0)
    assert cap["Akt_kinase"] < 0.1 * ss["Akt_kinase"]
    # downstream of Akt: TSC2 (PRAS40-like Akt substrate), mTORC1 -> S6K1 -> S6, FOXO export
    assert cap["TSC2_p"] < 0.5 * ss["TSC2_p"]
    assert cap["pS6K1"] < 0.7 * ss["pS6K1"] and cap["pS6"] < 0.8 * ss["pS6"]
    assert cap["FOXO_nuclear"] > 1.5 * ss["FOXO_nuclear"]
    # phosphorylated Akt rises (paradoxical hyperphosphorylation), for two reasons:
    # S6K1 -| IRS-1 relieved (and FOXO-driven HER3/IGF-1R), so PI3K output rises; and the
    # drug-bound Akt's phospho-sites are shielded from phosphatases (Lin 2012)
    assert cap["IRS1_pY"] > 1.5 * ss["IRS1_pY"] and cap["PIP3"] > ss["PIP3"]
    assert cap["pAkt_S473"] > 2 * ss["pAkt_S473"] and cap["pAkt_T308"] > 1.3 * ss["pAkt_T308"]
    feedback_only = at(model, {"capivasertib": 1000.0}, 4.0, params={"AKTi_protection": 0.0})
    assert ss["pAkt_S473"] < feedback_only["pAkt_S473"] < 0.6 * cap["pAkt_S473"]
    # the rise needs PI3K to make PIP3 (Okuzumi 2009: abolished by PI3K inhibitors)
    with_pi3ki = at(model, {"capivasertib": 1000.0, "alpelisib": 1000.0}, 4.0)
    assert with_pi3ki["pAkt_S473"] < ss["pAkt_S473"]
    # Akt -| Raf relieved: ERK rises (AKT-inhibitor-induced MAPK activation)
    assert cap["pERK"] > ss["pERK"]


# --------------------------------------------------------------------------- mTOR kinase
def test_azd8055_blocks_mtorc2_unlike_everolimus(model):
    ss = baseline(model)
    azd = at(model, {"azd8055": 100.0}, 24.0)
    eve = at(model, {"everolimus": 20.0}, 24.0)
    assert azd["pAkt_S473"] < 0.1 * ss["pAkt_S473"]           # mTORC2 blocked
    assert eve["pAkt_S473"] >= 0.95 * ss["pAkt_S473"]         # rapalog spares mTORC2
    # both block S6K1; only the kinase inhibitor blocks the rapalog-resistant 4E-BP1 sites
    assert azd["pS6"] < 0.2 * ss["pS6"] and eve["pS6"] < 0.2 * ss["pS6"]
    assert azd["p4EBP1"] < 0.1 * ss["p4EBP1"]
    assert eve["p4EBP1"] > 0.5 * ss["p4EBP1"]
    # mTOR kinase inhibition relieves S6K1 -| IRS-1 too: PIP3 and T308 rise (the
    # feedback-driven T308 rephosphorylation of Rodrik-Outmezguine 2011)
    assert azd["PIP3"] > ss["PIP3"] and azd["pAkt_T308"] > ss["pAkt_T308"]
    # lower cap-dependent translation of cyclin D1 than with everolimus
    assert azd["cyclinD1"] < eve["cyclinD1"]


def test_dactolisib_blocks_pi3k_and_mtorc1(model):
    ss = baseline(model)
    dac = at(model, {"dactolisib": 500.0}, 24.0)
    alp = at(model, {"alpelisib": 1000.0}, 24.0)
    eve = at(model, {"everolimus": 20.0}, 24.0)
    # PI3K readouts: PIP3 and both Akt sites fall (a rapalog raises them)
    assert dac["PIP3"] < 0.2 * ss["PIP3"] and eve["PIP3"] > ss["PIP3"]
    assert dac["pAkt_T308"] < 0.5 * ss["pAkt_T308"]
    assert dac["pAkt_S473"] < 0.1 * ss["pAkt_S473"]
    # mTORC1 readouts: blocked directly, more than by a PI3K inhibitor alone
    assert dac["pS6K1"] < 0.1 * ss["pS6K1"] and dac["p4EBP1"] < 0.1 * ss["p4EBP1"]
    assert dac["pS6"] < 0.5 * alp["pS6"] and dac["p4EBP1"] < 0.5 * alp["p4EBP1"]


# --------------------------------------------------------------------------- trametinib
def test_trametinib_lowers_perk_and_relieves_erk_feedback(model):
    ss = baseline(model)
    tra = at(model, {"trametinib": 10.0}, 4.0)
    assert tra["pERK"] < 0.1 * ss["pERK"]
    assert tra["pMEK"] < ss["pMEK"]              # trametinib also blocks MEK activation
    # ERK -| SOS released: Ras and Raf rise
    assert tra["SOS_p"] < 0.2 * ss["SOS_p"]
    assert tra["RasGTP"] > 1.5 * ss["RasGTP"] and tra["Raf_active"] > 1.5 * ss["Raf_active"]
    # ERK drives cyclin D1 transcription (AP-1) and ER S118: both lower
    later = at(model, {"trametinib": 10.0}, 24.0)
    assert later["cycD_mRNA"] < ss["cycD_mRNA"] and later["pER"] < ss["pER"]
    # mTORC1 hardly depends on ERK here (TSC2 is mainly an Akt target)
    assert later["pS6"] > 0.8 * ss["pS6"]


# --------------------------------------------------------------------------- catalogue PK
def test_clinical_doses_of_the_new_drugs(model):
    """Label doses through the catalogue's PK reach the stated average exposure (total; the
    drug parameter holds the unbound fu x total); drugs without label PK refuse mg doses
    with a typed error naming what is missing."""
    t = np.linspace(0.0, 14 * 24.0, 14 * 24 + 1)
    table = sim.drugs()
    for drug in ("palbociclib", "abemaciclib", "trametinib"):
        traj = sim.run_treatment(model, sim.Treatment.clinical(drug, catalog=model), t)
        last_week = traj[drug][t >= 7 * 24.0] / table.loc[drug, "pk_fu"]   # total
        if drug == "trametinib":      # t1/2 ~9 days: not at steady state after 2 weeks
            assert last_week.mean() < table.loc[drug, "clinical_exposure_nM"] * 1.3
        else:
            assert last_week.mean() == pytest.approx(table.loc[drug, "clinical_exposure_nM"],
                                                     rel=0.1)
    with pytest.raises(sim.PerturbationError, match="dactolisib.*lacks"):
        sim.run_treatment(model, sim.Treatment.clinical("dactolisib", catalog=model), t)


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("phenotype, drugs", [
    ("CCNE1_high", {"letrozole": LET, "palbociclib": PALBO, "capivasertib": 300.0}),
    (None, {"dactolisib": 200.0, "trametinib": 3.0, "azd8055": 10.0}),
])
def test_new_mechanisms_match_libroadrunner(model, phenotype, drugs):
    """The same runs on libroadrunner, the independent reference simulator."""
    pytest.importorskip("roadrunner")
    from tests.roadrunner_runner import RoadRunnerRunner
    rr = RoadRunnerRunner()
    cond = model.catalog.apply_phenotypes([phenotype] if phenotype else [], rr.parameters)
    t = np.linspace(0.0, 72.0, 7)
    ref = rr.simulate({**cond, **drugs}, t, rr.steady_state(cond))
    ours = sim.run_treatment(model, drugs, t, phenotype=phenotype)
    for k in ("pRb", "cyclinE", "E2F_activity", "pAkt_S473", "pS6", "pERK", "growth_rate",
              "tumor_burden"):
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-4, atol=1e-8, err_msg=k)


# --------------------------------------------------------------------------- erlotinib
def test_erlotinib_blocks_the_egfr_kinase_like_the_other_egfr_tkis(model):
    """Erlotinib lowers pEGFR of an EGF-stimulated cell through inh_EGFR_kinase (the term
    lapatinib and gefitinib share) and spares the HER2 kinase; at equal multiples of their
    EGFR IC50 (2 vs 33 nM) erlotinib and gefitinib give the same EGFR kinase inhibition."""
    egf = {"EGF": 10.0}                                  # stimulated, kept while equilibrating
    ctrl = at(model, {}, 2.0, params=egf)
    erl = at(model, {"erlotinib": 100.0}, 2.0, params=egf)
    assert erl["pEGFR"] < 0.3 * ctrl["pEGFR"]
    assert erl["inh_EGFR_kinase"] == pytest.approx(1 / (1 + 100.0 / 2.0))
    assert erl["inh_HER2_kinase"] == pytest.approx(1.0)
    gef = at(model, {"gefitinib": 100.0 * 33 / 2}, 2.0, params=egf)
    assert gef["inh_EGFR_kinase"] == pytest.approx(erl["inh_EGFR_kinase"])
    # pERK, downstream of EGFR, falls too; 1 nM (half the IC50) acts less than 100 nM
    low = at(model, {"erlotinib": 1.0}, 2.0, params=egf)
    assert erl["pERK"] < ctrl["pERK"]
    assert erl["pEGFR"] < low["pEGFR"] < ctrl["pEGFR"]


def test_erlotinib_label_dose_acts_through_the_unbound_drug(model):
    """150 mg daily: the cell sees fu x C_total (fu 0.07, ~250 nM), far above the 2 nM IC50."""
    t = np.linspace(0.0, 10 * 24.0, 241)
    traj = sim.run_treatment(model, sim.Treatment.clinical("erlotinib", catalog=model), t,
                             params={"EGF": 10.0})
    last = t >= 9 * 24.0
    free = np.trapezoid(traj["erlotinib"][last], t[last]) / 24.0
    assert free == pytest.approx(0.07 * sim.drugs().loc["erlotinib", "clinical_exposure_nM"],
                                 rel=0.1)
    assert traj["pEGFR"][-1] < 0.3 * traj["pEGFR"][0]
