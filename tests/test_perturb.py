"""Treatments and schedules: validation, PK against analytic formulas, event timing."""
import math

import numpy as np
import pytest

import simulator as sim
from simulator.errors import PerturbationError
from simulator.conditions import overrides
from simulator.treatments.derive import derive_model, prepare
from simulator.treatments.protocol import run_treatment
from simulator.treatments.schedule import PK, Dose, Schedule, Treatment

TOY = """
model toy
  compartment c = 1
  drug = 0
  k = 0.5
  X = 0
  R1: -> X; drug
  R2: X -> ; k*X
end
"""


@pytest.fixture(scope="module")
def toy():
    return sim.load_model(TOY)


PK_TOY = PK(F=0.5, V_L=10.0, t_half_h=12.0, MW_g_mol=500.0)


def _bolus(t, dose_times, pk, dose_mg):
    """Analytic one-compartment concentration (nM) after instantaneous doses."""
    c = np.zeros_like(t)
    for td in dose_times:
        c += np.where(t >= td, pk.F * dose_mg * np.exp(-pk.ke * (t - td)), 0.0)
    return c * 1e6 / (pk.V_L * pk.MW_g_mol)


def _depot(t, dose_times, pk, dose_mg):
    """Analytic unbound concentration (nM, fu x total) after doses into a first-order depot."""
    ka, ke = pk.ka_per_h, pk.ke
    c = np.zeros_like(t)
    for td in dose_times:
        dt = np.maximum(t - td, 0.0)
        c += np.where(t >= td, ka / (ka - ke) * (np.exp(-ke * dt) - np.exp(-ka * dt)), 0.0)
    return pk.fu * pk.F * dose_mg * c * 1e6 / (pk.V_L * pk.MW_g_mol)


def _close(y, ref, rtol=1e-5, atol=1e-8):
    err = np.abs(y - ref) / (atol + rtol * np.abs(ref))
    assert err.max() < 5, f"max scaled error {err.max():.3g}"


# ---------------------------------------------------------------- schedules

def test_schedule_times():
    fulv = Schedule.loading([0, 14 * 24, 28 * 24], then_every=28 * 24)
    np.testing.assert_allclose(fulv.administrations(3000.0), [0, 336, 672, 1344, 2016, 2688])
    tem = Schedule.intermittent(on=5 * 24, every=14 * 24)
    assert tem.windows(700.0) == [(0.0, 120.0), (336.0, 456.0), (672.0, 700.0)]
    # doses in mg on an intermittent schedule: daily inside each 5-day window
    np.testing.assert_allclose(tem.administrations(400.0), [0, 24, 48, 72, 96, 336, 360, 384])
    np.testing.assert_allclose(Schedule.daily(start=12.0, n=3).administrations(1000.0), [12, 36, 60])
    assert Schedule.continuous(start=48.0).windows(100.0) == [(48.0, 100.0)]


@pytest.mark.parametrize("make, match", [
    (lambda: Schedule.intermittent(on=400, every=336), "overlap themselves"),
    (lambda: Schedule.intermittent(on=336, every=336), "overlap themselves"),
    (lambda: Schedule.at([0, 24, 24]), "overlap themselves"),
    (lambda: Schedule.loading([0, 336, 100], then_every=672), "strictly increasing"),
    (lambda: Schedule.at([]), "empty dose list"),
    (lambda: Schedule.at([-1.0, 3.0]), ">= 0"),
    (lambda: Schedule.every(0.0), "> 0"),
    (lambda: Schedule.every(float("nan")), "finite"),
    (lambda: Schedule.continuous(start=10, stop=5), "after its start"),
    (lambda: Schedule.every(24, n=0), "integer >= 1"),
])
def test_bad_schedules(make, match):
    with pytest.raises(PerturbationError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: Dose(-1.0), "finite amount >= 0"),
    (lambda: Dose(float("inf")), "finite amount >= 0"),
    (lambda: Dose("ten"), "must be a number"),
    (lambda: Dose(1.0, "mM"), "unit must be 'nM' or 'mg'"),
    (lambda: Dose(2.5, "mg"), "needs a dosing schedule"),
    (lambda: Dose(2.5, "nM", Schedule.daily()), "need a dose in mg"),
])
def test_bad_doses(make, match):
    with pytest.raises(PerturbationError, match=match):
        make()


def test_unknown_drug_and_phenotype(toy):
    with pytest.raises(PerturbationError, match="did you mean 'drug'"):
        run_treatment(toy, Treatment({"drgu": 1.0}), [0, 1], equilibrate=False)
    with pytest.raises(PerturbationError, match="did you mean 'HER2_amplified'.*valid phenotypes"):
        prepare(sim.load_model(), Treatment({"tamoxifen": 1.0}, phenotype="HER2_amplifed"))
    with pytest.raises(PerturbationError, match=r"not defined in the model's catalogue \(valid "
                                                r"phenotypes: none\)"):
        prepare(toy, Treatment({"drug": 1.0}, phenotype="HER2_amplified"))
    with pytest.raises(PerturbationError, match="finite concentration >= 0"):
        overrides(toy, sim.api.compile_model(toy).system, drugs={"drug": -3})


def test_bundled_unknown_drug_lists_valid_names():
    model = sim.load_model()
    with pytest.raises(PerturbationError, match="did you mean 'everolimus'.*valid drugs: .*letrozole"):
        prepare(model, Treatment({"everolimu": 1.0}))


def test_treatment_label_and_tuples():
    tr = Treatment({"letrozole": (2.5, "mg", Schedule.daily()), "everolimus": 5.0},
                   phenotype="LTED")
    assert tr.label == "letrozole 2.5 mg q24h + everolimus 5 nM [LTED]"
    assert tr.drugs["everolimus"].constant and not tr.drugs["letrozole"].constant
    clin = Treatment.clinical("letrozole", catalog=sim.load_model())
    assert clin.drugs["letrozole"].amount == 2.5 and clin.drugs["letrozole"].schedule.interval == 24.0


# ---------------------------------------------------------------- PK

def test_css_average_hand_computed():
    # letrozole in simulator/models/drugs.toml: F 0.99, V 130 L, t1/2 48 h, MW 285.3, 2.5 mg daily
    pk = PK(F=0.99, V_L=130.0, t_half_h=48.0, MW_g_mol=285.3)
    # CL = 0.693147 * 130 / 48 = 1.877274 L/h; Css = 0.99 * 2.5 / (1.877274 * 24) = 0.0549334 mg/L
    assert pk.clearance_L_h == pytest.approx(1.877274, rel=1e-6)
    assert pk.css_average_nM(2.5, 24.0) == pytest.approx(0.0549334 / 285.3 * 1e6, rel=1e-5)
    assert pk.css_average_nM(2.5, 24.0) == pytest.approx(192.546, rel=1e-5)


def test_pk_daily_doses_match_superposition(toy):
    tr = Treatment({"drug": Dose(100.0, "mg", Schedule.every(24.0, n=3), pk=PK_TOY)})
    t = np.linspace(0, 96, 193)
    traj = run_treatment(toy, tr, t, equilibrate=False)
    _close(traj["drug"], _bolus(t, [0, 24, 48], PK_TOY, 100.0))
    assert traj.stats["n_events"] == 3


def test_pk_average_over_interval_reaches_css(toy):
    pk = PK(F=0.8, V_L=50.0, t_half_h=6.0, MW_g_mol=400.0)
    tr = Treatment({"drug": Dose(10.0, "mg", Schedule.every(12.0), pk=pk)})
    # after 20 half-lives, one dosing interval [240, 252): the dose at 252 is left out
    t = np.linspace(240.0, 252.0 - 1e-9, 481)
    traj = run_treatment(toy, tr, np.concatenate([[0.0], t]), equilibrate=False)
    avg = np.trapezoid(traj["drug"][1:], t) / (t[-1] - t[0])
    assert avg == pytest.approx(pk.css_average_nM(10.0, 12.0), rel=1e-3)


def test_fulvestrant_loading_schedule_events(toy):
    pk = PK(F=1.0, V_L=280.0, t_half_h=960.0, MW_g_mol=606.8)
    sch = Schedule.loading([0, 336, 672], then_every=672)
    tr = Treatment({"drug": Dose(500.0, "mg", sch, pk=pk)})
    t = np.linspace(0, 2100, 211)
    traj = run_treatment(toy, tr, t, equilibrate=False)
    _close(traj["drug"], _bolus(t, [0, 336, 672, 1344, 2016], pk, 500.0))


def test_first_order_absorption(toy):
    pk = PK(F=1.0, V_L=10.0, t_half_h=10.0, MW_g_mol=1e6 / 10.0, ka_per_h=1.0)  # 1 mg -> 1 nM
    tr = Treatment({"drug": Dose(1.0, "mg", Schedule.at([0.0]), pk=pk)})
    t = np.linspace(0, 20, 41)
    traj = run_treatment(toy, tr, t, equilibrate=False)
    ka, ke = 1.0, pk.ke
    _close(traj["drug"], ka / (ka - ke) * (np.exp(-ke * t) - np.exp(-ka * t)))


# ---------------------------------------------------------------- windows, start times

def test_intermittent_windows_drive_analytic_response(toy):
    L, k = 2.0, 0.5
    tr = Treatment({"drug": Dose(L, "nM", Schedule.intermittent(on=10, every=30, start=5))})
    t = np.linspace(0, 60, 121)
    traj = run_treatment(toy, tr, t, equilibrate=False)
    on = ((t >= 5) & (t < 15)) | ((t >= 35) & (t < 45))
    np.testing.assert_array_equal(traj["drug"], np.where(on, L, 0.0))
    x15 = L / k * (1 - math.exp(-k * 10))
    ref = np.select([t < 5, t <= 15, t < 35],
                    [0.0, L / k * (1 - np.exp(-k * (t - 5))), x15 * np.exp(-k * (t - 15))],
                    default=0.0)
    sel = t < 35
    _close(traj["X"][sel], ref[sel])


def test_drug_added_at_time_T_after_equilibration(toy):
    model = toy
    base = Treatment({"drug": Dose(1.0, "nM", Schedule.continuous(start=10.0))})
    t = np.linspace(0, 20, 41)
    # pre-equilibrate with drug = 4 as a parameter (X* = 8); the scheduled drug replaces it
    traj = run_treatment(model, Treatment({}), t, params={"drug": 4.0})
    np.testing.assert_allclose(traj["X"], 8.0, rtol=1e-8)
    traj = run_treatment(model, base, t)
    # untreated steady state X = 0; the drug starts at t = 10
    ref = np.where(t < 10, 0.0, 1.0 / 0.5 * (1 - np.exp(-0.5 * (t - 10))))
    _close(traj["X"], ref)
    assert traj.provenance["equilibration"]["converged"]


def test_model_not_mutated_and_derived_model_reused(toy):
    h = toy.hash
    d1 = Dose(1.0, "nM", Schedule.intermittent(on=1, every=2))
    d2 = Dose(7.0, "nM", Schedule.intermittent(on=1, every=2))
    m1, ids1 = derive_model(toy, {"drug": d1})
    m2, ids2 = derive_model(toy, {"drug": d2})
    assert m1 is m2 and ids1 == ids2 == {"drug": "xt_drug_amount"}
    assert toy.hash == h and all(p.constant for p in toy.parameters if p.id == "drug")
    assert m1.hash != h
    p1, p2 = prepare(toy, Treatment({"drug": d1})), prepare(toy, Treatment({"drug": d2}))
    assert p1.params == {"xt_drug_amount": 1.0} and p2.params == {"xt_drug_amount": 7.0}


# ---------------------------------------------------------------- bundled model

def test_bundled_fulvestrant_loading_lowers_er():
    model = sim.load_model()
    tr = Treatment({"fulvestrant": Dose(500.0, "mg", Schedule.loading([0, 336, 672], then_every=672))})
    t = np.linspace(0, 1400, 141)
    traj = run_treatment(model, tr, t)
    pk = PK.for_drug("fulvestrant", model.catalog)
    # the catalogue's i.m. depot (ka) and unbound fraction: the cell sees fu x total
    assert pk.ka_per_h is not None and pk.fu == 0.01
    _close(traj["fulvestrant"], _depot(t, [0, 336, 672, 1344], pk, 500.0))
    assert traj["ER_total"][-1] < 0.5 * traj["ER_total"][0]
    assert traj["tumor_burden"][0] == 1.0
