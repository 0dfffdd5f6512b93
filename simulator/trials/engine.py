"""The virtual trial: cell states simulated through the ensemble engine, patients built on them.

1. **Cell states** (:mod:`simulator.trials.population`): every (prior therapy, phenotypes,
   between-tumour draw) a patient can have, each equilibrated untreated (the model's
   steady state), then run through the **prior therapy** (months at its clinical dose,
   through the PK layer) and then through **each arm's regimen** over the follow-up. Each
   of these runs is one member of a :func:`simulator.sweep` (executors, progress,
   checkpoint store and resume are the ensemble engine's).
2. **Patients** (vectorised, analytic): a patient's lesion is a mixture of its cell states,
   ``V(t)/V(0) = Σ w_c exp(ln 2 / T_d · Λ_c(t))``, ``Λ_c`` from the cell state's
   proliferation and apoptosis by a lesion mapping (:mod:`simulator.trials.kinetics`), with
   fractions at randomisation set by the prior therapy (the clones that grew on it are
   enriched).
   Eligibility after a prior therapy: the lesion was growing at its end (progressed on it).
3. **Endpoints**: RECIST 1.1 at the trial's scans (:mod:`simulator.trials.recist`),
   censoring at dropout and data cutoff; KM, Cox and log-rank by lifelines
   (:mod:`simulator.trials.survival`).
4. **Calibration on the control arm only**: the population's median untreated doubling time
   is chosen (on a grid) so that the control arm's median PFS meets the published one; the
   other arms are then predictions.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.api import as_model, simulate
from simulator.ensemble import sweep
from simulator.errors import InvalidValueError, TrialError
from simulator.treatments.derive import prepare
from simulator.treatments.protocol import untreated_state
from simulator.treatments.schedule import Dose, Schedule, Treatment
from simulator.trials import recist, survival
from simulator.trials.kinetics import IN_VIVO, LOST, PRODUCED, LesionMapping, with_fate_integrals
from simulator.trials.population import (CLEARANCE_SD, DOUBLING_SD, PRIOR_MONTHS_SD, VARIED,
                                         Bank, build_bank, cell_states, label, sample_patients,
                                         varied_value)
from simulator.trials.result import TrialResult
from simulator.trials.schema import PRIORS, Trial
from simulator.version import __version__

__all__ = ["virtual_trial", "DOUBLING_GRID_DAYS"]

DAY = 24.0
MONTH_DAYS = 30.4375
DOUBLING_GRID_DAYS = np.geomspace(15.0, 1500.0, 61)
TINY_BURDEN = 1e-200      # reset-at-start species start here in trial runs (never overflow)
EARLY_MONTHS = 6          # progression this early on the prior therapy = primary resistance
POOL_FACTOR = 6           # candidates per enrolled patient, first try
MAX_POOL_FACTOR = 96      # ... and at most (x4 per try)
MAX_LOG_VOLUME = math.log(1e30)   # lesion volumes are capped here (a double would overflow)


def _stage_store(store, name):
    return None if store is None else str(Path(store) / name)


def _param_base(model, phen, ids):
    """Values of ``ids`` with the phenotypes applied (parameter defaults otherwise)."""
    base = {p.id: p.value for p in model.parameters}
    changed = model.catalog.apply_phenotypes(phen, base) if phen else {}
    return {k: float(changed.get(k, base[k])) for k in ids}


def _run_stage(model, bank: Bank, rows, regimen, t_h, starts, *, store, name, executor,
               progress, chunk_size, readouts, free_fraction=None, bioavailability=None):
    """One sweep: cell states ``rows`` under ``regimen`` ((drug, mg, Schedule), ...)."""
    treatment = Treatment({d: Dose(mg, "mg", sch) for d, mg, sch in regimen})
    prep = prepare(model, treatment)
    derived = prep.model
    pids = set(derived.parameter_ids)
    params = dict(prep.params)
    for p in bank.z:
        params[p] = np.empty(len(rows))
    for d, _, _ in regimen:
        ke = f"xt_{d}_ke"
        if ke not in pids:
            raise TrialError(f"internal: derived model lacks '{ke}'")
        params[ke] = np.empty(len(rows))
    ke0 = {d: _ke(derived, d) for d, _, _ in regimen}
    for d, f in (free_fraction or {}).items():      # the arm's unbound fraction replaces the catalogue's fu
        params[f"xt_{d}_fu"] = float(f)
    for d, f in (bioavailability or {}).items():    # the arm's route replaces the catalogue's F
        params[f"xt_{d}_F"] = float(f)
    phen = np.empty(len(rows), dtype=object)
    for j, r in enumerate(rows):
        u = bank.units[r]
        phen[j] = u.phenotype or None
        base = _param_base(model, u.phenotype, list(bank.z))
        for p, z in bank.z.items():
            params[p][j] = varied_value(p, base[p], z[u.draw])
        for d, _, _ in regimen:
            # clearance CL = ke V: a patient's clearance factor scales ke
            params[f"xt_{d}_ke"][j] = ke0[d] * bank.clearance[d][u.draw]
    initial = {k: np.array([s[k] for s in starts]) for k in starts[0]}
    return sweep(derived, t_h, params=params, phenotype=phen, initial=initial,
                 readouts=readouts, executor=executor, store=_stage_store(store, name),
                 progress=progress, chunk_size=chunk_size, on_failure="record")


def _param(model, pid):
    for p in model.parameters:
        if p.id == pid:
            return float(p.value)
    raise TrialError(f"internal: the derived model has no parameter '{pid}'")


def _ke(model, drug):
    return _param(model, f"xt_{drug}_ke")


def _fresh(state: dict, reset) -> dict:
    """``state`` at the start of a stage: the reset-at-start species at a tiny burden, the
    fate integrals at 0."""
    for k in reset:
        if k in state:
            state[k] = TINY_BURDEN
    state[PRODUCED] = state[LOST] = 0.0
    return state


def lesion_days(mapping, produced, lost, t_h, per_hours, p_u, a_u):
    """Λ in days from the fate integrals (rate × rate time unit, ``per_hours`` model hours
    per unit) at model times ``t_h`` (hours from the stage's start)."""
    t = np.asarray(t_h, dtype=float) / per_hours
    return mapping.burden(produced, lost, t, p_u, a_u) * (per_hours / DAY)


def _start_states(model, aug, bank: Bank, rows):
    """Untreated steady state of each cell state, with the fate integrals at 0."""
    species = [s.id for s in aug.species]
    out = []
    reset = set(model.catalog.reset_at_start)
    for r in rows:
        u = bank.units[r]
        base = _param_base(model, u.phenotype, list(bank.z))
        prm = {p: float(varied_value(p, base[p], z[u.draw])) for p, z in bank.z.items()}
        state, ss = untreated_state(model, params=prm, phenotype=list(u.phenotype) or None)
        s = {k: float(state[k]) for k in species if k in state}
        out.append(_fresh(s, reset))
    return out


def virtual_trial(model, trial, patients: int = 500, seed: int = 0, executor=None, store=None,
                  progress: bool = True, *, draws: int = 8, calibrate: bool = True,
                  chunk_size: int = 16, mapping: LesionMapping | None = None,
                  production_readout: str = "proliferation",
                  loss_readout: str | None = "apoptosis", per_hours: float = 24.0,
                  confirm: bool = False) -> TrialResult:
    """Run a virtual clinical trial.

    Parameters
    ----------
    model : Model or str or Path
        The mechanistic model (with a catalogue of drugs with PK and phenotypes).
    trial : Trial or str or Path
        A trial definition or its TOML file.
    patients : int
        Patients **per arm** (1:1 randomisation).
    seed : int
        Seeds everything random (draws, patients); the same seed gives the same result on
        every executor.
    executor, store, progress
        As :func:`simulator.sweep`: where the cell-state runs go, a checkpoint directory
        (one sub-store per stage; a killed trial resumes from it), a progress bar.
    draws : int
        Between-tumour parameter draws per cell state (each simulated once).
    calibrate : bool
        Fit the population's median untreated doubling time to the control arm's published
        median PFS (else ``population.doubling_days``).
    chunk_size : int
        Cell states per chunk of work / checkpoint file.
    mapping : LesionMapping, optional
        How proliferation and apoptosis become a lesion's growth (default
        :data:`simulator.trials.kinetics.IN_VIVO`: growth in proportion to proliferation,
        no apoptosis; ``LesionMapping.culture(...)`` is the culture's own net growth).
    production_readout, loss_readout, per_hours
        The model's proliferation and cell-death rates and their time unit in model hours.
    confirm : bool
        RECIST confirmation of responses (non-randomised trials).

    Returns
    -------
    TrialResult
    """
    t_start = time.perf_counter()
    model = as_model(model)
    if not isinstance(trial, Trial):
        trial = Trial.from_toml(trial, catalog=model.catalog)
    if isinstance(patients, bool) or not isinstance(patients, (int, np.integer)) or patients < 1:
        raise InvalidValueError(f"patients must be a positive integer (per arm), got {patients!r}")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise InvalidValueError(f"draws must be a positive integer, got {draws!r}")
    if mapping is None:
        mapping = IN_VIVO
    elif not isinstance(mapping, LesionMapping):
        raise InvalidValueError(f"mapping must be a LesionMapping, got {type(mapping).__name__}")
    if loss_readout is None and mapping.apoptosis_weight:
        raise InvalidValueError(f"the lesion mapping weighs apoptosis "
                                f"({mapping.apoptosis_weight!r}) but loss_readout is None")
    if isinstance(per_hours, bool) or not isinstance(per_hours, (int, float)) \
            or not math.isfinite(per_hours) or per_hours <= 0:
        raise InvalidValueError(f"per_hours must be a positive number of model time units per "
                                f"unit of the rates, got {per_hours!r}")
    rng = np.random.default_rng(seed)
    aug = with_fate_integrals(model, production_readout, loss_readout, per_hours)
    p_u, a_u = _reference_rates(model, production_readout, loss_readout)

    def burden(values, col, t_h):
        """Λ (days) of each run (rows of ``values``) at model times ``t_h``."""
        return lesion_days(mapping, values[..., col[PRODUCED]], values[..., col[LOST]], t_h,
                           per_hours, p_u, a_u)

    drugs_used = {d for a in trial.arms.values() for d in a.drugs}
    drugs_used |= {d for p in trial.population.prior for d, _, _ in PRIORS[p]}
    bank = build_bank(trial, drugs_used, int(draws), rng)
    bank.parental = _param_base(model, (), list(bank.z))
    n_units = len(bank.units)

    # ---- 1. cell states: untreated, prior therapy, arms
    all_rows = list(range(n_units))
    starts = _start_states(model, aug, bank, all_rows)
    prior_L = np.zeros(n_units)            # Λ accumulated during prior therapy
    prior_slope = np.zeros(n_units)        # per day, over its last month
    prior_path = np.zeros((n_units, EARLY_MONTHS + 1))   # Λ, months 0..6 of it
    stats = {"n_cell_states": n_units, "stages": {}}
    for prior in trial.population.prior:
        rows = [i for i, u in enumerate(bank.units) if u.prior == prior]
        if not PRIORS[prior]:
            continue
        regimen = tuple((d, mg, Schedule.every(every * DAY)) for d, mg, every in PRIORS[prior])
        m_max = int(bank.prior_months.max())
        t_h = np.arange(0, m_max + 1) * MONTH_DAYS * DAY
        species = [k for k in starts[0]]
        t0 = time.perf_counter()
        ens = _run_stage(aug, bank, rows, regimen, t_h, [starts[r] for r in rows], store=store,
                         name=f"prior-{prior}", executor=executor, progress=progress,
                         chunk_size=chunk_size, readouts=species)
        stats["stages"][f"prior-{prior}"] = {"members": len(rows),
                                             "seconds": time.perf_counter() - t0}
        _check(ens, f"prior therapy {prior}")
        col = {k: j for j, k in enumerate(ens.readouts)}
        lam = burden(ens.values, col, t_h)                    # (rows, months + 1)
        for j, r in enumerate(rows):
            m = int(bank.prior_months[bank.units[r].draw])
            vals = ens.values[j, m]
            s = {k: float(vals[col[k]]) for k in species}
            prior_L[r] = lam[j, m]
            early = lam[j, :EARLY_MONTHS + 1]
            prior_path[r, :early.size] = early
            prior_slope[r] = (lam[j, m] - lam[j, m - 1]) / MONTH_DAYS
            starts[r] = _fresh(s, model.catalog.reset_at_start)

    scan_days = recist.scan_times(trial.months, trial.scan_every_weeks)
    grid_days = np.union1d(np.arange(0.0, trial.months * MONTH_DAYS + 1e-9, 7.0), scan_days)
    L = {}
    for an, arm in trial.arms.items():
        t0 = time.perf_counter()
        ens = _run_stage(aug, bank, all_rows, arm.regimen, grid_days * DAY, starts, store=store,
                         name=f"arm-{an}", executor=executor, progress=progress,
                         chunk_size=chunk_size, readouts=[PRODUCED, LOST],
                         free_fraction=arm.free_fraction,
                         bioavailability=arm.bioavailability)
        stats["stages"][f"arm-{an}"] = {"members": n_units, "seconds": time.perf_counter() - t0}
        _check(ens, f"arm {an}")
        L[an] = burden(ens.values, {PRODUCED: 0, LOST: 1}, grid_days * DAY)   # (n_units, n_grid)

    # ---- 2-4. patients, calibrated on the control arm
    # candidates until enough are eligible (after a prior therapy only those who progressed
    # on it): a population whose tumours rarely progress needs a larger pool
    factor = POOL_FACTOR
    while True:
        pool = sample_patients(trial, bank, factor * int(patients) * len(trial.arms), rng)
        try:
            tab, traj, fit, td_med = _calibrated_patients(
                trial, bank, pool, L, (prior_L, prior_slope, prior_path), int(patients),
                grid_days, scan_days, confirm, seed, calibrate)
            break
        except _FewEligible as few:
            if factor >= MAX_POOL_FACTOR:
                raise TrialError(
                    f"trial {trial.name}: only {few.eligible} of {few.need} virtual patients "
                    f"(from {len(pool['draw'])} candidates) progressed on their prior therapy "
                    f"(eligibility); the population's prior or phenotypes admit too few") from None
            factor *= 4
    prov = {"version": __version__, "model_hash": model.hash, "model_id": model.id,
            "trial": trial.name, "trial_file": trial.path, "source": trial.source,
            "seed": int(seed), "patients_per_arm": int(patients), "draws": int(draws),
            "calibration": fit, "doubling_days_median": float(td_med),
            "mapping": mapping.as_dict(),
            "reference_rates": {"production": p_u, "loss": a_u, "per_hours": per_hours},
            "readouts": {"production": production_readout, "loss": loss_readout},
            "candidates": len(pool["draw"]), "seconds": time.perf_counter() - t_start, **stats,
            "variability": {"logit_sd": {p: sd for p, (sc, sd) in VARIED.items() if sc == "logit"},
                            "log_sd": {**{p: sd for p, (sc, sd) in VARIED.items() if sc == "log"},
                                       "clearance": CLEARANCE_SD, "prior_months": PRIOR_MONTHS_SD,
                                       "doubling_time": DOUBLING_SD}}}
    return TrialResult(trial=trial, patients=tab, scan_days=scan_days, grid_days=grid_days,
                       sld=traj, provenance=prov)


def _log_volume(logw, kappa, lam):
    """``log Σ_c w_c exp(κ Λ_c(t))``, a lesion's log volume relative to its start, from its
    cell states' log fractions ``logw`` (n, S), ``kappa`` (n,) (ln 2 / T_d) and ``lam``
    (n, S, T) (Λ, days); returns (n, T)."""
    x = logw[:, :, None] + kappa[:, None, None] * lam
    mx = x.max(axis=1)
    return mx + np.log(np.exp(x - mx[:, None, :]).sum(axis=1))


def _progressed_early(logw0, kappa, path, months):
    """Primary resistance: the lesion progressed within the first ``EARLY_MONTHS`` of the
    prior therapy (monthly, sum of diameters 20% above its nadir so far; TAMRAD's
    definition), not after a response or stable disease.

    ``logw0`` (n, S) log fractions at the start of the prior therapy, ``kappa`` (n,),
    ``path`` (n, S, EARLY_MONTHS + 1) Λ of each cell state, ``months`` (n,) the
    patient's months of prior therapy."""
    log_v = _log_volume(logw0, kappa, path)                              # (n, months)
    nadir = np.minimum.accumulate(log_v, axis=1)
    grown = log_v >= nadir + 3.0 * math.log(1.2)
    within = np.arange(log_v.shape[1])[None, :] <= np.minimum(months, EARLY_MONTHS)[:, None]
    return (grown & within).any(axis=1)


class _FewEligible(Exception):
    """Fewer candidates progressed on their prior therapy than the trial enrols."""

    def __init__(self, eligible: int, need: int):
        super().__init__(eligible, need)
        self.eligible, self.need = eligible, need


def _calibrated_patients(trial, bank, pool, L, prior, n_per_arm, grid_days, scan_days,
                         confirm, seed, calibrate):
    """The patient table and lesion trajectories, with the control arm calibrated.

    Returns ``(table, trajectories, fit or None, median doubling time in days)``."""
    states = _state_arrays([cell_states(bank, pool, i) for i in range(len(pool["draw"]))])
    published = trial.published.median_pfs_months.get("control")
    td_med = trial.population.doubling_days
    fit = None
    if calibrate and published:
        # the control arm's KM median PFS nearest the published one (on the log scale). Scans
        # make KM a step function, so the median can only sit on a scan day: among equally
        # near medians, the KM PFS at the published median nearest 50%, then the doubling
        # time nearest the default
        best = None
        for td in DOUBLING_GRID_DAYS:
            tab = _patients(trial, bank, pool, states, L, prior, td, n_per_arm,
                            grid_days, scan_days, confirm, arms=("control",), seed=seed)
            km = survival.kaplan_meier(tab["pfs_months"], tab["event"])
            med = float(km.median_survival_time_)
            s_pub = float(km.survival_function_at_times([published]).iloc[0])
            off = abs(math.log(med / published)) if math.isfinite(med) and med > 0 else math.inf
            key = (round(off, 3), round(abs(s_pub - 0.5), 3), abs(math.log(td / td_med)))
            if best is None or key < best[0]:
                best = (key, td, tab, s_pub, med)
        med = best[4]
        fit = {"parameter": "median untreated volume doubling time (days)",
               "value": float(best[1]),
               "control_median_fitted": float(med) if math.isfinite(med) else None,
               "control_median_published": float(published),
               "control_pfs_at_published_median": float(best[3]),
               "objective": "|log(KM median of the control arm / published median)|, then "
                            "|KM PFS at the published median - 0.5|",
               "grid_days": [float(DOUBLING_GRID_DAYS[0]), float(DOUBLING_GRID_DAYS[-1])]}
        td_med = best[1]
    tab, traj = _patients(trial, bank, pool, states, L, prior, td_med, n_per_arm,
                          grid_days, scan_days, confirm, arms=tuple(trial.arms), seed=seed,
                          trajectories=True)
    return tab, traj, fit, td_med


def _state_arrays(states):
    """Per-patient cell-state rows as padded arrays: rows, valid, is-subclone (n, S)."""
    S = max(len(x) for x in states)
    R = np.zeros((len(states), S), dtype=np.int64)
    valid = np.zeros((len(states), S), dtype=bool)
    sub = np.zeros((len(states), S), dtype=bool)
    for i, x in enumerate(states):
        for k, (r, is_sub) in enumerate(x):
            R[i, k], valid[i, k], sub[i, k] = r, True, is_sub
    return R, valid, sub


def _check(ens, what):
    if not np.all(ens.success):
        bad = ens.failures
        raise TrialError(f"{len(bad)} cell-state run(s) of {what} failed: "
                         f"{bad['reason'].iloc[0] if len(bad) else ''}")


def _reference_rates(model, production, loss) -> tuple:
    """Untreated proliferation and cell-death rates of the parental cell (per readout time
    unit); the death rate is 0 without a ``loss`` readout."""
    state, _ = untreated_state(model)
    tr = simulate(model, [0.0, 1.0], initial=state)
    p_u = float(tr[production][0])
    a_u = float(tr[loss][0]) if loss is not None else 0.0
    if not (math.isfinite(p_u) and p_u > 0.0):
        raise TrialError(f"model '{model.id}': the untreated parental cell's '{production}' "
                         f"is {p_u!r}; the lesion mapping needs a positive proliferation rate")
    if not (math.isfinite(a_u) and a_u >= 0.0):
        raise TrialError(f"model '{model.id}': the untreated parental cell's '{loss}' is "
                         f"{a_u!r}; the lesion mapping needs a finite death rate >= 0")
    return p_u, a_u


def _patients(trial, bank, pool, states, L, prior, td_med, n_per_arm, grid_days,
              scan_days, confirm, *, arms, seed, trajectories=False):
    """Lesions, eligibility, RECIST and the tidy patient table for ``td_med``.

    ``prior`` is (Λ at its end, slope over its last month, Λ over its first months) of each
    cell state's prior therapy."""
    prior_L, prior_slope, prior_path = prior
    R, valid, sub = states                                    # (n_pool, S) each
    td = td_med * np.exp(pool["doubling_z"])
    kappa = math.log(2.0) / td                               # per day of Λ
    f = pool["subclone_fraction"][:, None]
    n_sub = sub.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        logw0 = np.where(valid, np.log(np.where(sub, f, 1.0 - f * n_sub)), -np.inf)
    lw = logw0 + kappa[:, None] * prior_L[R]
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)                         # fractions at randomisation
    # eligibility: after a prior therapy, the lesion grew over its last month
    ok = (pool["prior"] == "none") | ((w * prior_slope[R]).sum(axis=1) > 0.0)
    eligible = np.flatnonzero(ok)
    need = n_per_arm * len(trial.arms)
    chosen = eligible[:need]
    if chosen.size < need:
        raise _FewEligible(int(chosen.size), need)
    arm_names = list(trial.arms)
    arm_of = np.repeat(np.arange(len(arm_names)), n_per_arm)
    arm_of = arm_of[np.random.default_rng([seed, 1]).permutation(need)]
    keep = np.isin(arm_of, [arm_names.index(a) for a in arms])
    chosen, arm_of = chosen[keep], arm_of[keep]
    n = chosen.size
    scan_idx = np.searchsorted(grid_days, scan_days)
    vol = np.empty((n, grid_days.size))
    for a in range(len(arm_names)):
        j = np.flatnonzero(arm_of == a)
        if not j.size:
            continue
        i = chosen[j]
        with np.errstate(divide="ignore"):
            logw = np.log(w[i])
        # V(t)/V(0), at most 1e30 (a lesion that grew that much progressed long before)
        log_v = _log_volume(logw, kappa[i], L[arm_names[a]][R[i]])
        vol[j] = np.exp(np.minimum(log_v, MAX_LOG_VOLUME))
    primary = _progressed_early(logw0[chosen], kappa[chosen], prior_path[R[chosen]],
                                bank.prior_months[pool["draw"][chosen]])
    sld0 = pool["sld_mm"][chosen]
    sld = sld0[:, None] * np.cbrt(vol)
    end = np.minimum(pool["dropout_days"][chosen],
                     trial.months * MONTH_DAYS - pool["accrual_days"][chosen])
    res = recist.assess(sld[:, scan_idx], sld0, scan_days, end, confirm=confirm)
    bank_units = bank.units
    tab = pd.DataFrame({
        "patient": np.arange(n),
        "arm": np.array(arm_names, dtype=object)[arm_of],
        "prior": pool["prior"][chosen],
        "prior_months": [float(bank.prior_months[pool["draw"][i]])
                         if pool["prior"][i] != "none" else 0.0 for i in chosen],
        "phenotypes": [label(bank_units[R[i, 0]].phenotype) for i in chosen],
        "subclones": ["+".join(bank_units[R[i, k]].phenotype[-1]
                               for k in np.flatnonzero(sub[i])) for i in chosen],
        "resistant_fraction_at_start": (w[chosen] * sub[chosen]).sum(axis=1),
        "prior_resistance": np.where(pool["prior"][chosen] == "none", "",
                                     np.where(primary, "primary", "secondary")),
        "draw": pool["draw"][chosen],
        **{f"{p}_factor": varied_value(p, bank.parental[p], bank.z[p][pool["draw"][chosen]])
           / bank.parental[p] for p in bank.z},   # the draw as a factor on the parental value
        **{f"clearance_{d}": bank.clearance[d][pool["draw"][chosen]] for d in bank.clearance},
        "doubling_days": td[chosen],
        "baseline_sld_mm": sld0,
        "subclone_fraction": pool["subclone_fraction"][chosen],
        "dropout_months": pool["dropout_days"][chosen] / MONTH_DAYS,
        "pfs_months": res["time_days"] / MONTH_DAYS,
        "event": res["event"],
        "best_response": res["best_response"],
        "clinical_benefit": res["benefit"],
    })
    return (tab, sld) if trajectories else tab
