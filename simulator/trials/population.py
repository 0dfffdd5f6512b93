"""Virtual patients: the cell states a population's tumours are made of, and the patients.

A tumour is a mixture of **cell states**, each a run of the mechanistic model:

* the **main clone**: the parental cell with the patient's clonal phenotypes (each drawn with
  its prevalence in the trial population, e.g. PIK3CA_mutant 0.4; HER2_amplified 1 in a HER2+
  trial) and host traits (CYP2D6 poor metaboliser, ~8% of patients, where tamoxifen is given);
* a **resistant subclone** per *subclonal* phenotype the patient carries (default
  ``ESR1_mutant``, acquired under aromatase inhibitors): the main clone's phenotypes plus
  that one, at a small initial fraction;
* the **adaptive state** is not a separate clone: every cell state carries the model's slow
  adaptation (LTED escape) variable, set by the simulated prior therapy.

Between-tumour variability (one *draw* per cell-state bank entry; log-normal around the
cell state's value, or logit-normal for a fraction; the draws of each parameter are
stratified, one per equally probable stratum, see :func:`stratified_normal`):

* ``ER_synthesis`` (sd 0.3 on the log scale): ER protein varies several-fold between ER+
  tumours (Allred/H-scores); it sets how much of growth is estrogen-driven;
* ``k_adapt`` (sd 0.5): how fast a tumour adapts to estrogen deprivation (months to
  escape vary widely between patients' secondary resistance);
* ``HER2_synthesis`` (sd 0.5): HER2 protein spans IHC 0 to 2+ among non-amplified tumours
  and the amplification level varies between amplified ones; it sets the HER2 drive and
  what an anti-HER2 drug can take away;
* ``PTEN_activity`` (sd 0.5): PTEN protein is reduced in a share of ER+ tumours without
  a loss-of-function event; it sets PI3K pathway output;
* ``g_basal`` (sd 1.75 on the logit scale): the share of proliferation that does not need
  mTORC1-S6K. Rapamycin blocks S6K and 4E-BP1 phosphorylation in every breast cancer line
  but slows proliferation in only 12 of 15 (Noh 2004, Clin Cancer Res 10:1013,
  PMID 14871980); the spread puts 20% of tumours where a rapalog inhibits proliferation by
  less than 30% (g_basal > 0.65 around the model's 0.3);
* PK clearance of each drug (sd 0.3, CV ~30%, typical of oral targeted agents);
* months of prior therapy (sd 0.5 around the population's median).

Each distinct (prior, phenotypes, draw) cell state is simulated once and shared by every
patient who has it; the patients' own continuous traits (untreated doubling time, baseline
lesion size, subclone fraction, dropout, accrual) act analytically on the lesion
(:mod:`simulator.trials.kinetics`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["Unit", "Bank", "build_bank", "sample_patients", "CYP2D6_POOR_FRACTION",
           "VARIED", "varied_value", "stratified_normal"]

CYP2D6_POOR_FRACTION = 0.08     # Europeans ~7-10% poor metabolisers (Bradford 2002)
# parameter -> (scale, sd): "log" is log-normal around the cell state's value, "logit" is
# normal on the logit scale (a fraction in (0, 1))
VARIED = {"ER_synthesis": ("log", 0.3), "k_adapt": ("log", 0.5), "HER2_synthesis": ("log", 0.5),
          "PTEN_activity": ("log", 0.5), "g_basal": ("logit", 1.75)}
CLEARANCE_SD = 0.3
PRIOR_MONTHS_SD = 0.5
# log-sd of the untreated volume doubling time between patients: Weedon-Fekjaer et al.
# (Breast Cancer Res 2008;10:R41, 395,188 screened women) found 10 -> 20 mm (three volume
# doublings) took under 1.2 months in 5% of tumours, over 6.3 years in 5%, 1.7 years on
# average: a log-normal with sd ln(63)/(2 * 1.645) = 1.26, whose mean (1.7 y) matches theirs
DOUBLING_SD = 1.26
SUBCLONE_SD = 1.0
SLD_SD = 0.5


@dataclass(frozen=True)
class Unit:
    """One simulated cell state: prior therapy, phenotypes, between-tumour draw."""

    prior: str
    phenotype: tuple
    draw: int


@dataclass
class Bank:
    """The cell states of a trial and the draws behind them."""

    units: list
    index: dict                 # Unit -> row
    z: dict                     # parameter -> array (n_draws,) of standard normal deviates
    clearance: dict             # drug -> array (n_draws,)
    prior_months: np.ndarray    # (n_draws,) whole months
    clonal: tuple               # phenotypes drawn per patient as clonal
    subclonal: tuple
    host: tuple                 # host traits (CYP2D6_poor) drawn per patient
    prevalence: dict
    parental: dict = field(default_factory=dict)   # varied parameter -> the model's value


def build_bank(trial, drugs_used: set, n_draws: int, rng: np.random.Generator) -> Bank:
    """Every cell state the trial's patients can have, with ``n_draws`` draws each."""
    pop = trial.population
    prev = dict(pop.phenotypes)
    if "tamoxifen" in drugs_used and "CYP2D6_poor" not in prev:
        prev["CYP2D6_poor"] = CYP2D6_POOR_FRACTION
    host = tuple(p for p in ("CYP2D6_poor",) if prev.get(p, 0) > 0)
    subclonal = tuple(p for p in pop.subclonal if prev.get(p, 0) > 0)
    clonal = tuple(p for p in prev if p not in subclonal and p not in host and prev[p] > 0)
    z = {k: stratified_normal(rng, n_draws) for k in VARIED}
    clearance = {d: np.exp(CLEARANCE_SD * stratified_normal(rng, n_draws))
                 for d in sorted(drugs_used)}
    months = np.maximum(1, np.round(pop.prior_months *
                                    np.exp(PRIOR_MONTHS_SD * stratified_normal(rng, n_draws))))
    units = []
    for prior in pop.prior:
        for bits in itertools.product(*[(False, True) if prev[p] < 1 else (True,)
                                        for p in clonal + host]):
            base = tuple(p for p, b in zip(clonal + host, bits) if b)
            for clone in (None,) + subclonal:
                phen = base + ((clone,) if clone else ())
                for k in range(n_draws):
                    units.append(Unit(prior, phen, k))
    return Bank(units=units, index={u: i for i, u in enumerate(units)}, z=z,
                clearance=clearance, prior_months=months, clonal=clonal, subclonal=subclonal,
                host=host, prevalence=prev)


def stratified_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` standard normal deviates, one from each of ``n`` equally probable strata (their
    medians), in random order: a Latin hypercube across the varied parameters. A few draws
    then cover each parameter's spread evenly, where independent draws can all fall on one
    side (with three, a trial's HR moved several-fold with the seed). One draw is the median."""
    return stats.norm.ppf((rng.permutation(n) + 0.5) / n)


def varied_value(param: str, base: float, z):
    """The between-tumour draw ``z`` (standard normal) of ``param`` around ``base``."""
    scale, sd = VARIED[param]
    if scale == "log":
        return base * np.exp(sd * np.asarray(z))
    b = min(max(float(base), 1e-9), 1.0 - 1e-9)
    return 1.0 / (1.0 + np.exp(-(math.log(b / (1.0 - b)) + sd * np.asarray(z))))


def sample_patients(trial, bank: Bank, n: int, rng: np.random.Generator) -> dict:
    """``n`` candidate patients (traits only; which cell states, which draw)."""
    pop = trial.population
    priors = list(pop.prior)
    pp = np.array([pop.prior[p] for p in priors])
    out = {
        "prior": np.array(priors, dtype=object)[rng.choice(len(priors), n, p=pp / pp.sum())],
        "draw": rng.integers(0, len(bank.prior_months), n),
        "doubling_z": rng.normal(0.0, DOUBLING_SD, n),
        "sld_mm": np.clip(pop.baseline_sld_mm * np.exp(rng.normal(0.0, SLD_SD, n)), 10.0, 300.0),
        "subclone_fraction": np.minimum(0.5, pop.subclone_fraction *
                                        np.exp(rng.normal(0.0, SUBCLONE_SD, n))),
        "dropout_days": rng.exponential(365.25 / pop.dropout_per_year, n)
        if pop.dropout_per_year > 0 else np.full(n, np.inf),
        "accrual_days": rng.uniform(0.0, pop.accrual_months * 30.4375, n),
    }
    for p in bank.clonal + bank.host + bank.subclonal:
        out[p] = rng.random(n) < bank.prevalence[p]
    return out


def cell_states(bank: Bank, pts: dict, i: int) -> list:
    """(unit row, is_subclone) for patient ``i``: the main clone first."""
    base = tuple(p for p in bank.clonal + bank.host if pts[p][i])
    prior, k = pts["prior"][i], int(pts["draw"][i])
    rows = [(bank.index[Unit(prior, base, k)], False)]
    for s in bank.subclonal:
        if pts[s][i]:
            rows.append((bank.index[Unit(prior, base + (s,), k)], True))
    return rows


def label(phen: tuple) -> str:
    return "+".join(phen) if phen else "parental"


def lognormal_median(values) -> float:
    v = np.asarray(values, float)
    return float(math.exp(np.mean(np.log(v)))) if v.size else math.nan
