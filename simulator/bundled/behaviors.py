"""Published behaviours the bundled ER crosstalk model must reproduce (issue 3).

Each check is a plain function ``check(runner) -> BehaviorResult``. A *runner* is any
object with

``runner.parameters``
    dict of the model's settable parameter values (id -> value), the base on which
    drugs and phenotypes are applied;
``runner.steady_state(params) -> dict``
    species and observables (id -> float) at steady state under ``params`` (overrides
    of ``runner.parameters``); ``tumor_burden`` is excluded from the steady-state
    condition and returned as 1;
``runner.simulate(params, t, initial) -> dict``
    id -> array over the output times ``t`` (hours), starting from ``initial`` (a
    ``steady_state`` result, or ``None`` for the model's initial values), with
    ``tumor_burden`` reset to 1 at ``t[0]``.

An experiment is: equilibrate the untreated cell (its phenotype and medium), then add
drugs at t = 0 and simulate (the protocol of :mod:`simulator.treatments.protocol`).
:class:`~simulator.bundled.runner.CoreRunner` implements the contract with Crosstalk's own
core; the tests implement it with libroadrunner, the reference simulator
(``tests/roadrunner_runner.py``), and run the same checks on both.

Thresholds carry margins: the checks should hold under random x/÷1.5 perturbations of
the kinetic parameters in most draws (``benchmarks/robustness.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.api import load_model
from simulator.catalog import Catalog

# default exposures (nM) used by the checks: clinical-range free concentrations
TAM = 300.0          # tamoxifen parent (20 mg/day Css ~ 300 nM), endoxifen ~ 30 nM
FULV = 100.0
LET = 100.0
ANA = 100.0
EXE = 100.0
LAP = 1000.0
TZ = 100.0           # ~15 ug/mL
EVE = 20.0
ALP = 1000.0
BUP = 1000.0
T_ASSAY = 72.0       # h, growth-rate read-out time of short assays


@dataclass(frozen=True)
class BehaviorResult:
    """Outcome of one behaviour check.

    Attributes
    ----------
    name : str
        Behaviour id, e.g. ``"b03_everolimus_feedback"``.
    passed : bool
        Whether every criterion holds.
    detail : str
        The measured numbers and criteria, one clause each.
    data : pandas.DataFrame
        Tidy numbers for a figure (condition, readout, value or time series).
    criteria : tuple of bool
        Whether each criterion held, in the order of ``detail``'s clauses.
    """

    name: str
    passed: bool
    detail: str
    data: pd.DataFrame = field(repr=False)
    criteria: tuple[bool, ...] = ()


# --------------------------------------------------------------------------- runners
class PerturbedRunner:
    """Wrap a runner so that every call sees some parameters changed (robustness runs)
    and, with ``phenotypes``, the checks' cells take their phenotypes from that catalogue
    (a calibrated ensemble member's phenotype values)."""

    def __init__(self, runner, overrides: Mapping[str, float],
                 phenotypes: Catalog | None = None):
        self._runner = runner
        self.overrides = dict(overrides)
        self.parameters = {**runner.parameters, **self.overrides}
        self.phenotype_catalog = phenotypes

    def steady_state(self, params=None):
        return self._runner.steady_state({**self.overrides, **dict(params or {})})

    def simulate(self, params, t, initial=None):
        return self._runner.simulate({**self.overrides, **dict(params or {})}, t, initial)


# --------------------------------------------------------------------------- helpers
def catalog() -> Catalog:
    """The bundled model's catalogue (its phenotypes define the checks' cells)."""
    return load_model().catalog


def cell(runner, *phenotypes: str, **params: float) -> dict[str, float]:
    """Parameter overrides of an untreated cell: phenotypes (from the runner's own
    catalogue where it carries one) then explicit parameters."""
    phenotype_catalog = getattr(runner, "phenotype_catalog", None) or catalog()
    out = phenotype_catalog.apply_phenotypes(phenotypes, runner.parameters)
    out.update(params)
    return out


def treat(runner, cond: Mapping[str, float], drugs: Mapping[str, float] | None = None,
          t_end: float = T_ASSAY, n: int = 25, initial=None) -> dict[str, np.ndarray]:
    """Equilibrate the untreated cell ``cond``, then simulate with ``drugs`` from t = 0."""
    ss = runner.steady_state(cond) if initial is None else initial
    t = np.linspace(0.0, t_end, n)
    return runner.simulate({**cond, **dict(drugs or {})}, t, ss)


def growth(runner, cond, drugs=None, t_end: float = T_ASSAY, initial=None) -> float:
    """growth_rate (per day) after ``t_end`` hours of treatment."""
    return float(treat(runner, cond, drugs, t_end, 5, initial)["growth_rate"][-1])


def inhibition(runner, cond, drugs, t_end: float = T_ASSAY) -> float:
    """Fractional growth-rate inhibition, 1 - g(drug)/g(control)."""
    g0 = growth(runner, cond, None, t_end)
    return 1.0 - growth(runner, cond, drugs, t_end) / g0


def end_state(runner, cond, drugs, t_end) -> dict[str, float]:
    """State after ``t_end`` hours of ``drugs`` from the equilibrated ``cond``."""
    traj = treat(runner, cond, drugs, t_end, 3)
    return {k: float(v[-1]) for k, v in traj.items()}


def relative_ic50(doses, inhibitions) -> float:
    """Dose reaching half of the inhibition at the highest dose (log interpolation)."""
    doses = np.asarray(doses, float)
    inh = np.asarray(inhibitions, float)
    half = inh[-1] / 2.0
    return _crossing(doses, inh, half)


def absolute_ic50(doses, inhibitions) -> float:
    """Dose reaching 50% growth inhibition (inf if never reached)."""
    return _crossing(np.asarray(doses, float), np.asarray(inhibitions, float), 0.5)


def _crossing(doses, inh, level) -> float:
    above = np.nonzero(inh >= level)[0]
    if len(above) == 0:
        return float("inf")
    i = above[0]
    if i == 0:
        return float(doses[0])
    x0, x1 = np.log(doses[i - 1]), np.log(doses[i])
    y0, y1 = inh[i - 1], inh[i]
    return float(np.exp(x0 + (level - y0) * (x1 - x0) / (y1 - y0)))


def bliss_excess(g0: float, ga: float, gb: float, gab: float) -> float:
    """Bliss excess on fractional growth inhibition (positive = synergy)."""
    ea, eb, eab = 1 - ga / g0, 1 - gb / g0, 1 - gab / g0
    return eab - (ea + eb - ea * eb)


def _result(name: str, criteria: list[tuple[str, bool]], rows: list[dict]) -> BehaviorResult:
    passed = all(ok for _, ok in criteria)
    detail = "; ".join(f"[{'ok' if ok else 'FAIL'}] {text}" for text, ok in criteria)
    return BehaviorResult(name, passed, detail, pd.DataFrame(rows),
                          tuple(bool(ok) for _, ok in criteria))


def _rows(**values) -> list[dict]:
    return [{"condition": k, "value": float(v)} for k, v in values.items()]


# --------------------------------------------------------------------------- behaviours
def b01_e2_and_er(runner) -> BehaviorResult:
    """E2 raises ER_activity and growth; fulvestrant lowers ER_total, tamoxifen does not;
    fulvestrant's maximal growth inhibition is at least tamoxifen's."""
    par = cell(runner)
    ss = runner.steady_state(par)
    dep = end_state(runner, par, {"androstenedione": 0.0}, T_ASSAY)
    g0, g_dep = growth(runner, par), dep["growth_rate"]
    er_f = end_state(runner, par, {"fulvestrant": FULV}, T_ASSAY)["ER_total"]
    er_t = end_state(runner, par, {"tamoxifen": TAM}, T_ASSAY)["ER_total"]
    inh_f = inhibition(runner, par, {"fulvestrant": 1000.0})
    inh_t = inhibition(runner, par, {"tamoxifen": 10000.0})
    crit = [
        (f"ER_activity with E2 {ss['ER_activity']:.3g} > 2 x without {dep['ER_activity']:.3g}",
         ss["ER_activity"] > 2 * dep["ER_activity"]),
        (f"growth with E2 {g0:.3g} > without {g_dep:.3g} + 0.2|g|", g0 > g_dep + 0.2 * abs(g0)),
        (f"fulvestrant ER_total {er_f:.3g} < 0.5 x baseline {ss['ER_total']:.3g}",
         er_f < 0.5 * ss["ER_total"]),
        (f"tamoxifen ER_total {er_t:.3g} >= 0.9 x baseline", er_t >= 0.9 * ss["ER_total"]),
        (f"max inhibition fulvestrant {inh_f:.3g} >= tamoxifen {inh_t:.3g}", inh_f >= inh_t - 0.02),
    ]
    return _result("b01_e2_and_er", crit, _rows(
        ER_activity_E2=ss["ER_activity"], ER_activity_noE2=dep["ER_activity"], growth_E2=g0,
        growth_noE2=g_dep, ER_total_ctrl=ss["ER_total"], ER_total_fulv=er_f, ER_total_tam=er_t,
        inh_fulv_max=inh_f, inh_tam_max=inh_t))


def b02_her2_tamoxifen(runner) -> BehaviorResult:
    """HER2_amplified: tamoxifen inhibits growth much less; lapatinib or trastuzumab restores."""
    par, amp = cell(runner), cell(runner, "HER2_amplified")
    i_par = inhibition(runner, par, {"tamoxifen": TAM})
    i_amp = inhibition(runner, amp, {"tamoxifen": TAM})
    i_lap = inhibition(runner, amp, {"tamoxifen": TAM, "lapatinib": LAP})
    i_tz = inhibition(runner, amp, {"tamoxifen": TAM, "trastuzumab": TZ})
    crit = [
        (f"inhibition HER2amp {i_amp:.3g} < 0.5 x parental {i_par:.3g}", i_amp < 0.5 * i_par),
        (f"tam+lapatinib {i_lap:.3g} >= 0.8 x parental tam", i_lap >= 0.8 * i_par),
        (f"tam+trastuzumab {i_tz:.3g} >= 0.8 x parental tam", i_tz >= 0.8 * i_par),
    ]
    return _result("b02_her2_tamoxifen", crit, _rows(
        parental_tam=i_par, her2amp_tam=i_amp, her2amp_tam_lapatinib=i_lap,
        her2amp_tam_trastuzumab=i_tz))


def b03_everolimus_feedback(runner) -> BehaviorResult:
    """Everolimus: pS6 falls >= 80% while pAkt_S473 rises (1-24 h); alpelisib or no
    IGF-1 abolishes the rise."""
    par = cell(runner)
    t = np.linspace(0, 24, 49)
    win = t >= 1.0
    ss = runner.steady_state(par)
    eve = runner.simulate({**par, "everolimus": EVE}, t, ss)
    combo = runner.simulate({**par, "everolimus": EVE, "alpelisib": ALP}, t, ss)
    noigf = cell(runner, IGF1=0.0)
    ss0 = runner.steady_state(noigf)
    eve0 = runner.simulate({**noigf, "everolimus": EVE}, t, ss0)
    s6 = eve["pS6"][win].max() / ss["pS6"]
    rise = eve["pAkt_S473"][win].max() / ss["pAkt_S473"]
    rise_alp = combo["pAkt_S473"][win].max() / ss["pAkt_S473"]
    rise_noigf = eve0["pAkt_S473"][win].max() / ss0["pAkt_S473"]
    crit = [
        (f"pS6 (1-24 h) <= {s6:.3g} of baseline, needs <= 0.2", s6 <= 0.2),
        (f"pAkt_S473 peak {rise:.3g} x baseline, needs >= 1.15", rise >= 1.15),
        (f"with alpelisib peak {rise_alp:.3g} x, needs <= 1.0", rise_alp <= 1.0),
        (f"without IGF-1 peak {rise_noigf:.3g} x, needs < 1 + (rise-1)/3",
         rise_noigf < 1 + (rise - 1) / 3),
    ]
    rows = [{"condition": c, "time": tt, "pAkt_S473": a / b, "pS6": s / d}
            for c, tr, base in (("everolimus", eve, ss), ("everolimus+alpelisib", combo, ss),
                                ("everolimus, IGF1=0", eve0, ss0))
            for tt, a, s, b, d in zip(t, tr["pAkt_S473"], tr["pS6"],
                                      [base["pAkt_S473"]] * len(t), [base["pS6"]] * len(t))]
    return _result("b03_everolimus_feedback", crit, rows)


def b04_pi3ki_vs_everolimus(runner) -> BehaviorResult:
    """A PI3K inhibitor lowers pAkt_T308 and pAkt_S473; everolimus does not lower S473."""
    par = cell(runner)
    ss = runner.steady_state(par)
    alp = end_state(runner, par, {"alpelisib": ALP}, 24.0)
    bup = end_state(runner, par, {"buparlisib": BUP}, 24.0)
    eve = end_state(runner, par, {"everolimus": EVE}, 24.0)
    r = {k: v / ss[k] for k, v in (("pAkt_T308", alp["pAkt_T308"]), ("pAkt_S473", alp["pAkt_S473"]))}
    rb = {k: bup[k] / ss[k] for k in ("pAkt_T308", "pAkt_S473")}
    re = eve["pAkt_S473"] / ss["pAkt_S473"]
    crit = [
        (f"alpelisib T308 {r['pAkt_T308']:.3g}, S473 {r['pAkt_S473']:.3g} x baseline, need < 0.7",
         max(r.values()) < 0.7),
        (f"buparlisib T308 {rb['pAkt_T308']:.3g}, S473 {rb['pAkt_S473']:.3g}, need < 0.7",
         max(rb.values()) < 0.7),
        (f"everolimus S473 {re:.3g} x baseline, need >= 0.95", re >= 0.95),
    ]
    return _result("b04_pi3ki_vs_everolimus", crit, _rows(
        alpelisib_T308=r["pAkt_T308"], alpelisib_S473=r["pAkt_S473"],
        buparlisib_T308=rb["pAkt_T308"], buparlisib_S473=rb["pAkt_S473"], everolimus_S473=re))


def b05_estrogen_deprivation(runner) -> BehaviorResult:
    """Months of letrozole or E2 = 0 raise EGFR, HER2, IGF-1R and pERK; growth falls then
    recovers."""
    par = cell(runner)
    ss = runner.steady_state(par)
    t = np.linspace(0, 180 * 24, 361)
    crit, rows = [], []
    for label, drugs in (("letrozole", {"letrozole": LET}), ("E2=0", {"androstenedione": 0.0})):
        tr = runner.simulate({**par, **drugs}, t, ss)
        ups = {k: tr[k][-1] / ss[k] for k in ("EGFR_total", "HER2_total", "IGF1R_total", "pERK")}
        g = tr["growth_rate"]
        g0, early = ss["growth_rate"], g[t <= 14 * 24]
        gmin = early.min()
        recovered = (g[-1] - gmin) / (g0 - gmin) if g0 > gmin else 0.0
        crit += [
            (f"{label}: " + ", ".join(f"{k} x{v:.3g}" for k, v in ups.items()) + " (need >= 1.2)",
             min(ups.values()) >= 1.2),
            (f"{label}: growth {g0:.3g} -> min {gmin:.3g} (need fall >= 30%)",
             gmin <= g0 - 0.3 * abs(g0)),
            (f"{label}: recovers {recovered:.0%} of the fall by 6 months (need >= 30%)",
             recovered >= 0.3),
        ]
        rows += [{"condition": label, "time": tt, "growth_rate": gg, "HER2_total": h, "pERK": e}
                 for tt, gg, h, e in zip(t, g, tr["HER2_total"], tr["pERK"])]
    return _result("b05_estrogen_deprivation", crit, rows)


def b06_esr1_mutant(runner) -> BehaviorResult:
    """ESR1_mutant: ER_activity stays high without E2; AIs lose effect; fulvestrant IC50
    shifts right with maximal inhibition kept."""
    par, mut = cell(runner), cell(runner, "ESR1_mutant")
    ss = runner.steady_state(par)
    mut0 = end_state(runner, mut, {"androstenedione": 0.0}, T_ASSAY)
    par0 = end_state(runner, par, {"androstenedione": 0.0}, T_ASSAY)
    i_par = inhibition(runner, par, {"letrozole": LET})
    i_mut = inhibition(runner, mut, {"letrozole": LET})
    doses = np.array([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 1000])
    ip = [inhibition(runner, par, {"fulvestrant": d}) for d in doses]
    im = [inhibition(runner, mut, {"fulvestrant": d}) for d in doses]
    ic_p, ic_m = relative_ic50(doses, ip), relative_ic50(doses, im)
    crit = [
        (f"ER_activity without E2: mutant {mut0['ER_activity']:.3g} >= 0.5 x parental with E2 "
         f"{ss['ER_activity']:.3g} and >= 3 x parental without {par0['ER_activity']:.3g}",
         mut0["ER_activity"] >= 0.5 * ss["ER_activity"]
         and mut0["ER_activity"] >= 3 * par0["ER_activity"]),
        (f"letrozole inhibition mutant {i_mut:.3g} < 0.5 x parental {i_par:.3g}", i_mut < 0.5 * i_par),
        (f"fulvestrant IC50 mutant {ic_m:.3g} >= 2 x parental {ic_p:.3g} nM", ic_m >= 2 * ic_p),
        (f"fulvestrant max inhibition mutant {im[-1]:.3g} >= 0.8 x parental {ip[-1]:.3g}",
         im[-1] >= 0.8 * ip[-1]),
    ]
    rows = [{"condition": c, "dose": d, "inhibition": v}
            for c, vals in (("parental", ip), ("ESR1_mutant", im)) for d, v in zip(doses, vals)]
    return _result("b06_esr1_mutant", crit, rows)


def b07_akt_myr(runner) -> BehaviorResult:
    """AKT_myr: pER rises, tamoxifen's effect falls, everolimus restores it; everolimus +
    letrozole has positive Bliss excess on growth."""
    par, myr = cell(runner), cell(runner, "AKT_myr")
    per_p, per_m = runner.steady_state(par)["pER"], runner.steady_state(myr)["pER"]
    i_par = inhibition(runner, par, {"tamoxifen": TAM})
    i_myr = inhibition(runner, myr, {"tamoxifen": TAM})
    g0 = growth(runner, myr)
    g_e = growth(runner, myr, {"everolimus": EVE})
    g_te = growth(runner, myr, {"everolimus": EVE, "tamoxifen": TAM})
    i_tam_on_eve = (g_e - g_te) / g0
    g_l = growth(runner, myr, {"letrozole": LET})
    g_el = growth(runner, myr, {"everolimus": EVE, "letrozole": LET})
    bliss = bliss_excess(g0, g_e, g_l, g_el)
    crit = [
        (f"pER AKT_myr {per_m:.3g} >= 1.2 x parental {per_p:.3g}", per_m >= 1.2 * per_p),
        (f"tamoxifen inhibition AKT_myr {i_myr:.3g} < 0.7 x parental {i_par:.3g}",
         i_myr < 0.7 * i_par),
        (f"tamoxifen on top of everolimus {i_tam_on_eve:.3g} >= 1.3 x alone {i_myr:.3g}",
         i_tam_on_eve >= 1.3 * i_myr),
        (f"everolimus + letrozole Bliss excess {bliss:.3g} > 0.02", bliss > 0.02),
    ]
    return _result("b07_akt_myr", crit, _rows(
        pER_parental=per_p, pER_myr=per_m, inh_tam_parental=i_par, inh_tam_myr=i_myr,
        inh_tam_on_everolimus_myr=i_tam_on_eve, bliss_eve_let_myr=bliss))


def b08_pten_loss(runner) -> BehaviorResult:
    """PTEN_loss: basal pAkt rises; trastuzumab and tamoxifen lose effect."""
    par, pten = cell(runner), cell(runner, "PTEN_loss")
    sp, sl = runner.steady_state(par), runner.steady_state(pten)
    amp, amp_pten = cell(runner, "HER2_amplified"), cell(runner, "HER2_amplified", "PTEN_loss")
    i_tz, i_tz_l = (inhibition(runner, c, {"trastuzumab": TZ}) for c in (amp, amp_pten))
    i_t, i_t_l = (inhibition(runner, c, {"tamoxifen": TAM}) for c in (par, pten))
    rT, rS = sl["pAkt_T308"] / sp["pAkt_T308"], sl["pAkt_S473"] / sp["pAkt_S473"]
    crit = [
        (f"pAkt T308 x{rT:.3g}, S473 x{rS:.3g} (need >= 1.3)", min(rT, rS) >= 1.3),
        (f"trastuzumab inhibition (HER2amp) {i_tz:.3g} -> with PTEN loss {i_tz_l:.3g} (need < 0.7x)",
         i_tz_l < 0.7 * i_tz),
        (f"tamoxifen inhibition {i_t:.3g} -> with PTEN loss {i_t_l:.3g} (need < 0.85x)",
         i_t_l < 0.85 * i_t),
    ]
    return _result("b08_pten_loss", crit, _rows(
        pAkt_T308_ratio=rT, pAkt_S473_ratio=rS, inh_tz_her2amp=i_tz, inh_tz_her2amp_pten=i_tz_l,
        inh_tam=i_t, inh_tam_pten=i_t_l))


def b09_pik3ca_mutant(runner) -> BehaviorResult:
    """PIK3CA_mutant: pAkt high without ligand; alpelisib's growth IC50 is lower."""
    wt0 = cell(runner, EGF=0.0, HRG=0.0, IGF1=0.0)
    mu0 = cell(runner, "PIK3CA_mutant", EGF=0.0, HRG=0.0, IGF1=0.0)
    ref = runner.steady_state(cell(runner))["pAkt_S473"]
    a_wt, a_mu = runner.steady_state(wt0)["pAkt_S473"], runner.steady_state(mu0)["pAkt_S473"]
    doses = np.array([1, 3, 10, 30, 100, 300, 1000, 3000, 10000])
    wt, mu = cell(runner), cell(runner, "PIK3CA_mutant")
    iw = [inhibition(runner, wt, {"alpelisib": d}) for d in doses]
    im = [inhibition(runner, mu, {"alpelisib": d}) for d in doses]
    ic_w, ic_m = absolute_ic50(doses, iw), absolute_ic50(doses, im)
    crit = [
        (f"no ligand: pAkt_S473 mutant {a_mu:.3g} >= 2 x WT {a_wt:.3g} and >= 0.8 x WT with "
         f"serum {ref:.3g}", a_mu >= 2 * a_wt and a_mu >= 0.8 * ref),
        (f"alpelisib GI50 mutant {ic_m:.3g} nM < WT {ic_w:.3g} nM / 1.5",
         np.isfinite(ic_m) and ic_m < ic_w / 1.5),
    ]
    rows = [{"condition": c, "dose": d, "inhibition": v}
            for c, vals in (("WT", iw), ("PIK3CA_mutant", im)) for d, v in zip(doses, vals)]
    return _result("b09_pik3ca_mutant", crit, rows)


def b10_her2_repression(runner) -> BehaviorResult:
    """E2 lowers HER2_total compared with E2 = 0, at steady state."""
    h_e2 = runner.steady_state(cell(runner))["HER2_total"]
    h_0 = runner.steady_state(cell(runner, androstenedione=0.0))["HER2_total"]
    crit = [(f"HER2_total with E2 {h_e2:.3g} < 0.8 x without {h_0:.3g}", h_e2 < 0.8 * h_0)]
    return _result("b10_her2_repression", crit, _rows(HER2_total_E2=h_e2, HER2_total_noE2=h_0))


def b11_ligand_independent_er(runner) -> BehaviorResult:
    """With E2 = 0, EGF or IGF-1 raises ER_activity; lapatinib or a PI3K inhibitor blocks it."""
    starved = cell(runner, androstenedione=0.0, EGF=0.0, HRG=0.0, IGF1=0.0)
    init = end_state(runner, cell(runner), starved, T_ASSAY)  # 3 days stripped, serum-free

    def er(**drugs):
        t = np.array([0.0, 12.0, 24.0])
        return float(runner.simulate({**starved, **drugs}, t, init)["ER_activity"][-1])

    base = er()
    egf, igf = er(EGF=10.0), er(IGF1=10.0)
    egf_lap, igf_pi = er(EGF=10.0, lapatinib=LAP), er(IGF1=10.0, alpelisib=ALP)
    crit = [
        (f"EGF: ER_activity {egf:.3g} >= 1.2 x starved {base:.3g}", egf >= 1.2 * base),
        (f"IGF-1: ER_activity {igf:.3g} >= 1.2 x starved", igf >= 1.2 * base),
        (f"lapatinib leaves {(egf_lap - base) / (egf - base):.0%} of the EGF rise (need < 50%)",
         (egf_lap - base) < 0.5 * (egf - base)),
        (f"alpelisib leaves {(igf_pi - base) / (igf - base):.0%} of the IGF-1 rise (need < 50%)",
         (igf_pi - base) < 0.5 * (igf - base)),
    ]
    return _result("b11_ligand_independent_er", crit, _rows(
        starved=base, EGF=egf, IGF1=igf, EGF_lapatinib=egf_lap, IGF1_alpelisib=igf_pi))


def b12_nongenomic_e2(runner) -> BehaviorResult:
    """E2 raises pAkt within 5-15 minutes; fulvestrant blocks it."""
    dep = cell(runner, androstenedione=0.0)
    init = end_state(runner, cell(runner), dep, T_ASSAY)
    t = np.array([0.0, 5, 10, 15]) / 60.0
    e2 = runner.simulate({**dep, "E2_medium": 1.0}, t, init)
    ctl = runner.simulate(dep, t, init)
    ful = runner.simulate({**dep, "E2_medium": 1.0, "fulvestrant": FULV}, t, init)
    base = ctl["pAkt_S473"][1:]
    r_e2 = float(np.max(e2["pAkt_S473"][1:] / base))
    r_f = float(np.max(ful["pAkt_S473"][1:] / base))
    crit = [
        (f"E2 1 nM: pAkt_S473 x{r_e2:.3g} within 5-15 min (need >= 1.1)", r_e2 >= 1.1),
        (f"with fulvestrant x{r_f:.3g} (need rise < 30% of E2's)", r_f - 1 < 0.3 * (r_e2 - 1)),
    ]
    rows = [{"condition": c, "time_min": tt * 60, "pAkt_S473": v}
            for c, tr in (("control", ctl), ("E2", e2), ("E2+fulvestrant", ful))
            for tt, v in zip(t, tr["pAkt_S473"])]
    return _result("b12_nongenomic_e2", crit, rows)


def b13_trial_analogues(runner) -> BehaviorResult:
    """EGF30008, TAnDEM and BOLERO-2 at the cell level."""
    par, amp, lted = cell(runner), cell(runner, "HER2_amplified"), cell(runner, "LTED")
    crit, vals = [], {}
    for trial, ai, add in (("EGF30008", {"letrozole": LET}, {"lapatinib": LAP}),
                           ("TAnDEM", {"anastrozole": ANA}, {"trastuzumab": TZ})):
        gain = {}
        for name, c in (("HER2amp", amp), ("parental", par)):
            gain[name] = inhibition(runner, c, {**ai, **add}) - inhibition(runner, c, ai)
            vals[f"{trial}_gain_{name}"] = gain[name]
        crit.append((f"{trial}: combination gain HER2amp {gain['HER2amp']:.3g} >= 0.2 and "
                     f"parental {gain['parental']:.3g} < half of it",
                     gain["HER2amp"] >= 0.2 and gain["parental"] < 0.5 * gain["HER2amp"]))
    g0 = growth(runner, lted)
    g_x = growth(runner, lted, {"exemestane": EXE})
    g_xe = growth(runner, lted, {"exemestane": EXE, "everolimus": EVE})
    vals.update(BOLERO2_exemestane=g_x / g0, BOLERO2_exemestane_everolimus=g_xe / g0)
    crit.append((f"BOLERO-2 (LTED): growth exemestane {g_x:.3g} -> + everolimus {g_xe:.3g} "
                 f"(need lower by >= 0.15 g0 = {0.15 * g0:.3g})", g_xe <= g_x - 0.15 * abs(g0)))
    return _result("b13_trial_analogues", crit, _rows(**vals))


def b14_cyp2d6_poor(runner) -> BehaviorResult:
    """CYP2D6_poor: less endoxifen, lower ER occupancy, weaker growth suppression."""
    em, pm = cell(runner), cell(runner, "CYP2D6_poor")
    s_em = end_state(runner, em, {"tamoxifen": TAM}, T_ASSAY)
    s_pm = end_state(runner, pm, {"tamoxifen": TAM}, T_ASSAY)
    i_em = inhibition(runner, em, {"tamoxifen": TAM})
    i_pm = inhibition(runner, pm, {"tamoxifen": TAM})
    o_em, o_pm = s_em["ER_tamoxifen_occupancy"], s_pm["ER_tamoxifen_occupancy"]
    crit = [
        (f"endoxifen {s_pm['endoxifen']:.3g} < 0.4 x {s_em['endoxifen']:.3g} nM",
         s_pm["endoxifen"] < 0.4 * s_em["endoxifen"]),
        (f"ER occupancy {o_pm:.3g} < {o_em:.3g} - 0.05", o_pm < o_em - 0.05),
        (f"growth inhibition {i_pm:.3g} < 0.85 x {i_em:.3g}", i_pm < 0.85 * i_em),
    ]
    return _result("b14_cyp2d6_poor", crit, _rows(
        endoxifen_EM=s_em["endoxifen"], endoxifen_PM=s_pm["endoxifen"], occupancy_EM=o_em,
        occupancy_PM=o_pm, inhibition_EM=i_em, inhibition_PM=i_pm))


def b15_lted_fulvestrant_pi3k(runner) -> BehaviorResult:
    """LTED: fulvestrant + a PI3K inhibitor beats either alone."""
    lted = cell(runner, "LTED")
    g0 = growth(runner, lted)
    g_f = growth(runner, lted, {"fulvestrant": FULV})
    g_p = growth(runner, lted, {"buparlisib": BUP})
    g_fp = growth(runner, lted, {"fulvestrant": FULV, "buparlisib": BUP})
    crit = [(f"growth fulvestrant {g_f:.3g}, buparlisib {g_p:.3g}, both {g_fp:.3g} "
             f"(need < best single - 0.1 g0 = {0.1 * g0:.3g})", g_fp < min(g_f, g_p) - 0.1 * abs(g0))]
    return _result("b15_lted_fulvestrant_pi3k", crit, _rows(
        control=g0, fulvestrant=g_f, buparlisib=g_p, combination=g_fp))


BEHAVIORS: dict[str, Callable] = {f.__name__: f for f in (
    b01_e2_and_er, b02_her2_tamoxifen, b03_everolimus_feedback, b04_pi3ki_vs_everolimus,
    b05_estrogen_deprivation, b06_esr1_mutant, b07_akt_myr, b08_pten_loss, b09_pik3ca_mutant,
    b10_her2_repression, b11_ligand_independent_er, b12_nongenomic_e2, b13_trial_analogues,
    b14_cyp2d6_poor, b15_lted_fulvestrant_pi3k)}


#: Behaviours the model is known not to reproduce, with the reason (docs/model.md,
#: "Robustness"). They are run and reported as failing, never hidden by a looser criterion;
#: the atlas and the tests tell them from a new failure.
KNOWN_FAILURES = {
    "b07_akt_myr": (
        "the original criterion measures tamoxifen's effect on top of everolimus against "
        "untreated growth; everolimus alone removes about two thirds of the AKT_myr cells' "
        "growth (proliferation scales with pS6 in the model), so what is left for tamoxifen "
        "to remove is smaller than 1.3x its effect alone, although tamoxifen then removes a "
        "larger share of the remaining growth than it does alone"),
}


def run_all(runner) -> list[BehaviorResult]:
    """Run every behaviour check on ``runner``; a failing model raises nothing."""
    return [check(runner) for check in BEHAVIORS.values()]
