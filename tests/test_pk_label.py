"""The catalogue's clinical PK against published concentrations, and the unbound drug.

Each drug with a label regimen in ``simulator/models/drugs.toml`` is dosed in mg through the
real PK path (catalogue -> :class:`PK` -> derived model with dosing events) on a probe model
that holds only the drug parameters, until steady state. The model parameter is the unbound
concentration ``fu * C_total``; dividing by the catalogue's ``fu`` gives the total, which is
compared with the published steady-state value typed below from the cited source (not read
from the catalogue). Tolerance ±35%: one-compartment PK against population means that vary
30–50% between patients. The PK math is checked too: F applied twice (abemaciclib, F = 0.45),
an apparent V/F with F, or a lost fu each move a drug outside the band or raise.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import simulator as sim
from simulator.catalog import Catalog
from simulator.treatments.schedule import PK

TOL = 0.35

# drug -> [(quantity, published value in ng/mL (total; blood for temsirolimus/everolimus),
#           source)]; "cavg" = AUC_tau / tau at steady state.
LABEL = {
    "tamoxifen": [("cavg", 150.0, "Nolvadex PI: ~300 ng/mL at 40 mg/day, dose-proportional")],
    "fulvestrant": [("cmax", 28.0, "Faslodex US label, 500 mg monthly at steady state"),
                    ("cmin", 12.2, "Faslodex US label, 500 mg monthly at steady state")],
    "letrozole": [("cavg", 0.999 * 2.5e3 / (2.21 * 24.0),
                   "Sioufi 1997: F 99.9%, i.v. CL 2.21 L/h -> F*D/(CL*tau)")],
    "lapatinib": [("cmax", 2430.0, "Tykerb label / Tyverb SmPC: Cmax,ss 2.43 ug/mL at 1250 mg"),
                  ("cavg", 36200.0 / 24.0, "Tykerb label: AUC,ss 36.2 ug*h/mL at 1250 mg")],
    "trastuzumab": [("cmax", 179000.0, "Herceptin label: q3w Cmax,ss 179 ug/mL (MBC)"),
                    ("cmin", 44200.0, "Herceptin label: q3w Cmin,ss 44.2 ug/mL (MBC)"),
                    ("cavg", 1736000.0 / 21.0, "Herceptin label: AUC(0-21d),ss 1736 ug*day/mL")],
    "everolimus": [("cmin", 15.4, "SWOG S0931 PK: mean trough 15.4 ng/mL in women, 10 mg/day")],
    "temsirolimus": [("cavg", 1627.0 / 168.0, "Torisel label: single-dose blood AUC 1627 ng*h/mL")],
    "palbociclib": [("cavg", 125e3 / (63.1 * 24.0), "Ibrance label: CL/F 63.1 L/h")],
    "ribociclib": [("cavg", 600e3 / (25.5 * 24.0), "Kisqali label: CL/F 25.5 L/h")],
    "abemaciclib": [("cavg", 0.45 * 150e3 / (26.0 * 12.0),
                     "Verzenio label F 0.45; systemic CL 26 L/h (CPT PSP 2020;9:523)")],
    "trametinib": [("cmax", 22.2, "Mekinist SmPC: Cmax 22.2 ng/mL at 2 mg daily"),
                   # trough 12.1 ng/mL (SmPC) is not reproduced: one compartment with the
                   # 11-day terminal t1/2 gives 18 ng/mL (+49%); docs/model.md says so
                   ("cavg", 370.0 / 24.0, "Mekinist SmPC: AUC(0-tau) 370 ng*h/mL")],
    "erlotinib": [("cavg", 150e3 / (3.95 * 24.0),
                   "Lu 2006, Clin Pharmacol Ther 80:136: population CL/F 3.95 L/h")],
    # mouse AUC(0-24) 2575 ng*h/mL is "approx. 34 fold the AUC in postmenopausal patients at
    # the recommended clinical dose" (also 5667 ~75-fold, rat 1418 19-fold, 2318 31-fold):
    # patients ~75 ng*h/mL. Cmax (~18-21 ng/mL single dose) is not reproduced by one
    # compartment and not tested; docs/model.md says so
    "exemestane": [("cavg", 2575.0 / 34.0 / 24.0,
                    "Aromasin US label 13.1: patient AUC(0-24) = mouse 2575 / 34 ng*h/mL")],
    # healthy Chinese men, single dose: AUC(0-inf) 443 and 429 ng*h/mL (two tablets); linear PK
    # (Arimidex SmPC), so AUC_tau at steady state = single-dose AUC(0-inf). No absolute
    # steady-state level in women was found in the stored sources
    "anastrozole": [("cavg", 0.5 * (443.0 + 429.0) / 24.0,
                     "Yuan et al., Acta Pharmacol Sin: single 1 mg AUC(0-inf) 443/429 ng*h/mL")],
    # continuous 400 mg BID stands for the dosing days of 4-on/3-off (steady state on days 3-4);
    # label Cmax 1371 ng/mL is not tested (one compartment, instantaneous absorption)
    "capivasertib": [("cavg", 8069.0 / 12.0,
                      "Truqap label: steady-state AUC 8069 h*ng/mL per 12 h interval, 400 mg BID")],
    "gefitinib": [("cmin", 173.9,
                   "Sci Rep 2015;5:12675: median Ctrough 173.9 ng/mL, 87 NSCLC pts, 250 mg/day"),
                  ("cavg", 0.6 * 250e3 / (35.7 * 24.0),
                   "Iressa label: F 60%, i.v. clearance 595 mL/min -> F*D/(CL*tau)")],
}
# drugs that have label PK in the catalogue but no cited unbound fraction: mg is refused
NO_FU = ("buparlisib", "taselisib")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return sim.load_model().catalog


def _probe(catalog, drugs):
    """A model with only the drug parameters (and one inert species), with the catalogue."""
    body = "\n".join(f"  {d} = 0" for d in drugs)
    text = f"model pk_probe\n  x = 1\n  R: x -> ; 0 * x\n{body}\nend\n"
    return sim.load_model(text, catalog=Catalog(drugs=catalog.drugs, source=catalog.source))


def _steady(catalog, drug):
    """Total concentration (ng/mL) over the last dosing interval at steady state."""
    pk_entry = catalog.drug(drug)["pk"]
    pk = PK.for_drug(drug, catalog)
    dose, tau = pk_entry["dose_mg"], pk_entry["tau_h"]
    t_end = tau * math.ceil(10.0 * max(pk.t_half_h, math.log(2) / (pk.ka_per_h or 1e9)) / tau + 2)
    t = np.concatenate([[0.0], np.linspace(t_end - tau, t_end, 401)])
    model = _probe(catalog, [drug])
    tr = sim.Treatment({drug: sim.Dose(dose, "mg", sim.Schedule.every(tau))})
    traj = sim.run_treatment(model, tr, t, equilibrate=False)
    free_nM = traj[drug][1:]
    total = free_nM / pk.fu * pk.MW_g_mol / 1e3          # nM -> ng/mL
    # last interval: doses at t_end - tau (included) and t_end (excluded: the event fires at it)
    body = total[:-1]
    return {"cmax": body.max(), "cmin": body.min(), "cavg": np.trapezoid(total, t[1:]) / tau}, pk


@pytest.mark.parametrize("drug", sorted(LABEL))
def test_steady_state_matches_the_label(catalog, drug):
    got, pk = _steady(catalog, drug)
    for quantity, published, source in LABEL[drug]:
        ratio = got[quantity] / published
        assert abs(ratio - 1) <= TOL, (f"{drug} {quantity}: simulated {got[quantity]:.4g} ng/mL, "
                                       f"published {published:.4g} ({source})")
    # the closed form of the same PK agrees with the simulated one
    entry = catalog.drug(drug)["pk"]
    ss = pk.steady_state_nM(entry["dose_mg"], entry["tau_h"])
    conv = pk.MW_g_mol / 1e3
    assert got["cavg"] == pytest.approx(ss["cavg"] * conv, rel=0.02)
    assert got["cmax"] == pytest.approx(ss["cmax"] * conv, rel=0.02)


def test_the_cell_sees_the_unbound_concentration(catalog):
    """The drug parameter is fu x total; the average total is F D / (CL tau)."""
    got, pk = _steady(catalog, "lapatinib")
    assert pk.fu == 0.01 and pk.F == 1.0          # apparent V/F: F is not applied again
    model = _probe(catalog, ["lapatinib"])
    t = np.linspace(0.0, 24.0 * 12, 289)
    tr = sim.Treatment({"lapatinib": sim.Dose(1250.0, "mg", sim.Schedule.daily())})
    free = sim.run_treatment(model, tr, t, equilibrate=False)["lapatinib"]
    last = t >= 24.0 * 11
    cavg_total = pk.css_average_nM(1250.0, 24.0)
    assert np.trapezoid(free[last], t[last]) / 24.0 == pytest.approx(0.01 * cavg_total, rel=0.03)


def test_apparent_volume_with_bioavailability_is_refused(catalog):
    bad = dict(catalog.drugs)
    bad["alpelisib"] = {**bad["alpelisib"], "pk": {**bad["alpelisib"]["pk"], "F": 0.7}}
    with pytest.raises(sim.PerturbationError, match="alpelisib.*V_F_L.*already contains"):
        PK.for_drug("alpelisib", Catalog(drugs=bad, source="drugs.toml"))
    sysv = dict(bad)
    sysv["alpelisib"] = {**bad["alpelisib"], "pk": {k: v for k, v in bad["alpelisib"]["pk"].items()
                                                    if k != "V_F_L"} | {"V_L": 114.0}}
    assert PK.for_drug("alpelisib", Catalog(drugs=sysv)).F == 0.7


@pytest.mark.parametrize("drug", NO_FU)
def test_mg_doses_without_a_cited_unbound_fraction_are_refused(catalog, drug):
    model = _probe(catalog, [drug])
    tr = sim.Treatment.clinical(drug, catalog=catalog)
    with pytest.raises(sim.PerturbationError, match=f"'{drug}'.*no unbound fraction fu"):
        sim.run_treatment(model, tr, np.linspace(0, 48, 3), equilibrate=False)
    # a concentration in nM is unaffected
    traj = sim.run_treatment(model, {drug: 5.0}, np.linspace(0, 48, 3), equilibrate=False)
    assert np.allclose(traj[drug], 5.0)


def test_every_clinical_drug_has_a_cited_fu_or_is_refused(catalog):
    for drug, entry in catalog.drugs.items():
        pk = entry.get("pk", {})
        if "t_half_h" not in pk:
            continue                                   # no label PK at all (dactolisib, azd8055)
        if drug in NO_FU:
            assert "fu" not in pk and "not found" in entry["pk_source"], drug
        else:
            assert 0 < pk["fu"] <= 1, drug
            # alpelisib: no steady-state concentration found in the stored Piqray label text
            assert drug in LABEL or drug == "alpelisib", f"{drug}: no label check"
