"""Dose-response experiments: one drug across doses, a readout at a time or over a window.

Each dose is a run of the treatment by the experiment protocol (untreated steady state, then
treatment; :func:`simulator.treatments.protocol.run_treatment`); the control (dose 0) is
always run. A run that
fails stays in the table with ``success=False`` and its message, and is left out of the
Hill fit: never a silent NaN.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from simulator import plot
from simulator.analysis.hill import FitError, fit_hill
from simulator.api import as_model, check_readouts
from simulator.conditions import as_mapping
from simulator.ensemble.members import is_ensemble, member_dicts
from simulator.errors import IntegrationError, InvalidValueError, PerturbationError
from simulator.results import provenance
from simulator.treatments.derive import prepare
from simulator.treatments.protocol import run_treatment, untreated_state
from simulator.treatments.schedule import Dose, Schedule, Treatment

__all__ = ["dose_response", "DoseResponse", "EnsembleDoseResponse", "NORMALIZE",
           "one_parameter_set"]

NORMALIZE = ("none", "percent_of_control", "inhibition")
_WINDOW_POINTS = 41


# ------------------------------------------------------------------ shared with combination

@dataclass(frozen=True)
class Readout:
    """What is measured: ``id`` at ``at_time``, or its time average over ``window``."""

    id: str
    at_time: float | None = None
    window: tuple | None = None

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id:
            raise InvalidValueError(f"readout must be a species or observable id, got {self.id!r}")
        if (self.at_time is None) == (self.window is None):
            raise InvalidValueError(
                "give the readout time: at_time=<hours> for a value at one time, or "
                "window=(t1, t2) for its average over a window (exactly one of them)")
        if self.at_time is not None:
            t = _hours("at_time", self.at_time)
            object.__setattr__(self, "at_time", t)
        else:
            try:
                t1, t2 = self.window
            except (TypeError, ValueError):
                raise InvalidValueError(f"window must be (t1, t2) in hours, got {self.window!r}") from None
            t1, t2 = _hours("window start", t1), _hours("window end", t2)
            if t2 <= t1:
                raise InvalidValueError(f"window end ({t2:g} h) must come after its start ({t1:g} h)")
            object.__setattr__(self, "window", (t1, t2))

    def times(self) -> np.ndarray:
        """Output times to simulate (from ``t = 0``)."""
        if self.at_time is not None:
            return np.array([0.0, self.at_time]) if self.at_time > 0 else np.array([0.0])
        return np.unique(np.concatenate([[0.0], np.linspace(*self.window, _WINDOW_POINTS)]))

    def value(self, traj) -> float:
        y = traj[self.id]
        if self.at_time is not None:
            return float(y[-1])
        t1, t2 = self.window
        sel = (traj.t >= t1) & (traj.t <= t2)
        return float(np.trapezoid(y[sel], traj.t[sel]) / (t2 - t1))

    @property
    def label(self) -> str:
        if self.at_time is not None:
            return f"{self.id} at {self.at_time:g} h"
        return f"{self.id}, mean over {self.window[0]:g}-{self.window[1]:g} h"


def _hours(name, v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InvalidValueError(f"{name} must be a number of hours, got {v!r}") from None
    if not np.isfinite(v) or v < 0:
        raise InvalidValueError(f"{name} must be a finite time >= 0 h, got {v!r}")
    return v


def check_doses(drug: str, doses) -> np.ndarray:
    """Doses as a 1-D float array: non-empty, finite, >= 0.

    Raises
    ------
    PerturbationError
    """
    if isinstance(doses, (str, bytes)):
        raise PerturbationError(f"doses of '{drug}' must be numbers, got {doses!r}")
    try:
        arr = np.asarray(doses, dtype=float)
    except (TypeError, ValueError):
        raise PerturbationError(f"doses of '{drug}' must be numbers, got {doses!r}") from None
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise PerturbationError(f"doses of '{drug}' must be a 1-D list, got shape {arr.shape}")
    if arr.size == 0:
        raise PerturbationError(f"the dose list of '{drug}' is empty; give at least one dose")
    bad = arr[~np.isfinite(arr) | (arr < 0)]
    if bad.size:
        raise PerturbationError(f"doses of '{drug}' must be finite and >= 0; got {bad[0]!r}")
    return arr


def background_doses(drugs) -> dict:
    """Background drugs: id -> nM (constant), or a Dose / (amount, unit[, Schedule])."""
    if drugs is None:
        return {}
    if not isinstance(drugs, Mapping):
        raise PerturbationError(f"drugs must be a mapping of drug id to dose, got {type(drugs).__name__}")
    return dict(drugs)


def measure(model, treatment: Treatment, readout: Readout, *, phenotype, params, equilibrate,
            options, backend):
    """One run of ``treatment`` by the protocol, read out: ``(value, success, message)``
    (failures reported, never raised)."""
    try:
        traj = run_treatment(model, treatment, readout.times(), phenotype=phenotype,
                             params=params, equilibrate=equilibrate, options=options,
                             backend=backend, on_failure="return")
    except IntegrationError as err:
        return np.nan, False, str(err)
    if not traj.success:
        return np.nan, False, traj.message or "integration failed"
    value = readout.value(traj)
    if not np.isfinite(value):
        return np.nan, False, f"readout '{readout.id}' is not finite ({value})"
    return value, True, ""


def equilibration_note(model, *, params, phenotype, equilibrate, options):
    """A note when the untreated steady state did not converge, or None."""
    if not equilibrate:
        return None
    _, ss = untreated_state(model, params=params, phenotype=phenotype, options=options)
    return None if ss.converged else (
        f"the untreated steady state did not converge (residual {ss.residual:.2g}, "
        f"{ss.method}); runs start from the closest state found")


def one_parameter_set(params, verb: str, ensembles: bool = False) -> dict:
    """``params`` as one dict of overrides; anything else is an error saying what
    ``verb`` takes (``ensembles``: it also takes an ensemble)."""
    if is_ensemble(params) and not ensembles:
        raise InvalidValueError(f"{verb} takes one parameter set (a dict); for an ensemble "
                                f"call it per member, or use sim.dose_response, "
                                f"sim.run_treatment or sim.simulate, which take one")
    also = "; or give an ensemble (a DataFrame, one row per member)" if ensembles else ""
    return dict(as_mapping(f"{verb}: params", params, hint=also))


def progress_bar(iterable, total, enabled, desc):
    if not enabled:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False)


# ------------------------------------------------------------------ result

@dataclass(frozen=True, eq=False)
class DoseResponse:
    """A dose-response experiment (see :func:`dose_response`).

    Attributes
    ----------
    drug, readout : str
    unit : {"nM", "mg"}
        Unit of ``doses``.
    doses : ndarray, shape (n,)
        Ascending, starting with 0 (the control).
    values : ndarray, shape (n,)
        Raw readout per dose (NaN only where ``success`` is False).
    response : ndarray, shape (n,)
        ``values`` after ``normalize`` (what is fitted).
    success : ndarray of bool, shape (n,)
    messages : tuple of str
        Why a dose failed ("" where it succeeded).
    control : float
        Readout of the untreated control (dose 0).
    normalize : str
    fit : HillFit or None
        The 4-parameter Hill fit of ``response`` on the successful doses; None with
        ``notes`` saying why if it could not be made.
    at_time, window
        When the readout was taken.
    notes : tuple of str
    provenance : dict
    """

    drug: str
    readout: str
    unit: str
    doses: np.ndarray
    values: np.ndarray
    response: np.ndarray
    success: np.ndarray
    messages: tuple
    control: float
    normalize: str
    fit: object
    at_time: float | None = None
    window: tuple | None = None
    phenotype: tuple = ()
    notes: tuple = ()
    provenance: dict = field(default_factory=dict)

    @property
    def ic50(self) -> float:
        """IC50 (EC50) of the fit in the dose unit; NaN without a usable fit."""
        return float(self.fit.ic50) if self.fit is not None and self.fit.converged else float("nan")

    @property
    def table(self):
        """Tidy DataFrame: one row per dose with ``drug, dose, unit, readout, value,
        response, success, message``."""
        return pd.DataFrame({
            "drug": self.drug, "dose": self.doses, "unit": self.unit, "readout": self.readout,
            "value": self.values, "response": self.response, "success": self.success,
            "message": list(self.messages),
        })

    @property
    def failures(self):
        """Rows of :attr:`table` whose run failed, with their doses and messages."""
        tab = self.table
        return tab[~tab["success"]].reset_index(drop=True)

    def summary(self) -> dict:
        """IC50, Emax, Hill slope and their confidence intervals (NaN without a fit)."""
        f = self.fit
        nan = float("nan")
        if f is None:
            return {"ic50": nan, "emax": nan, "slope": nan, "bottom": nan, "top": nan,
                    "converged": False}
        out = {"ic50": f.ic50, "emax": f.emax, "slope": f.slope, "bottom": f.bottom,
               "top": f.top, "converged": f.converged}
        for k in ("ic50", "slope", "bottom", "top"):
            lo, hi = f.ci.get(k, (nan, nan))
            out[f"{k}_ci_low"], out[f"{k}_ci_high"] = lo, hi
        return out

    def plot(self, ax=None, **kwargs):
        """Plot the points and the fitted curve; returns the Axes."""
        return plot.dose_response(self, ax=ax, **kwargs)


@dataclass(frozen=True, eq=False)
class EnsembleDoseResponse:
    """A dose-response experiment over a parameter ensemble (``dose_response(...,
    params=<ensemble>)``): each member's own :class:`DoseResponse`, and the prediction band
    they span.

    Attributes
    ----------
    members : tuple of DoseResponse or None
        One per member, in order; None where the member failed (see ``failures``).
    params : pandas.DataFrame
        The members' parameters, one row each (index ``member``).
    failures : pandas.DataFrame
        ``member``, its parameters and ``reason``, for members whose experiment failed as a
        whole (e.g. the control run); failed single doses stay in that member's table.
    """

    members: tuple
    params: object
    failures: object

    @property
    def _done(self) -> list:
        return [m for m in self.members if m is not None]

    @property
    def doses(self) -> np.ndarray:
        return self._done[0].doses

    @property
    def table(self):
        """Every member's :attr:`DoseResponse.table`, with a ``member`` column."""
        return pd.concat([m.table.assign(member=i) for i, m in enumerate(self.members)
                          if m is not None], ignore_index=True)

    @property
    def ic50(self):
        """Each member's fitted IC50 (Series by member; NaN without a fit or for a failed
        member)."""
        return pd.Series([m.ic50 if m is not None else float("nan") for m in self.members],
                         index=pd.RangeIndex(len(self.members), name="member"), name="ic50")

    def band(self, quantiles=(0.025, 0.5, 0.975)):
        """Quantiles of the response over the members at each dose (failed runs left
        out): a DataFrame indexed by dose, one column per quantile."""
        tab = self.table[lambda t: t["success"]]
        return tab.groupby("dose")["response"].quantile(list(quantiles)).unstack()

    def summary(self) -> dict:
        """Members run and failed, and the IC50's median and central 95 % over the members
        with a fit."""
        ic = self.ic50.dropna()
        nan = float("nan")
        q = ic.quantile([0.025, 0.5, 0.975]) if len(ic) else pd.Series([nan] * 3)
        return {"members": len(self.members), "failed": len(self.failures),
                "with_fit": len(ic), "ic50_median": float(q.iloc[1]),
                "ic50_low": float(q.iloc[0]), "ic50_high": float(q.iloc[2])}

    def plot(self, ax=None, **kwargs):
        """The median response and the central 95 % band over the members; returns the
        Axes."""
        return plot.dose_response_band(self, ax=ax, **kwargs)


# ------------------------------------------------------------------ verb

def dose_response(model, drug: str, doses, *, readout: str, at_time: float | None = None,
                  window: tuple | None = None, phenotype=None, drugs: Mapping | None = None,
                  params: Mapping | None = None, unit: str = "nM",
                  schedule: Schedule | None = None, pk=None, normalize: str = "none",
                  equilibrate: bool = True, fit: bool = True, options=None,
                  backend: str = "auto", progress: bool = False) -> DoseResponse:
    """Run one drug across doses and fit a 4-parameter Hill curve to a readout.

    Parameters
    ----------
    model : Model or str or Path
    drug : str
        Drug id (a parameter of the model, e.g. ``"everolimus"``).
    doses : array_like, shape (n,)
        Doses (``unit``), finite and >= 0. Dose 0 (the control) is added if missing.
    readout : str
        Species or observable id, e.g. ``"pS6"``.
    at_time : float, optional
        Hours after treatment start at which the readout is taken.
    window : (float, float), optional
        Instead of ``at_time``: average the readout over this window (trapezoid rule).
    phenotype : str or list of str, optional
    drugs : dict, optional
        Background drugs given with every dose (id -> nM, or a :class:`~simulator.treatments.schedule.Dose`).
    params : dict, optional
        Other parameter overrides, applied during equilibration too.
    unit : {"nM", "mg"}
        ``"mg"`` gives doses through PK on ``schedule``.
    schedule : Schedule, optional
        Default continuous (nM) or daily (mg).
    pk : PK, optional
        For doses in mg: the drug's PK (default from the model's catalogue).
    normalize : {"none", "percent_of_control", "inhibition"}
        What is fitted: the raw readout, ``100 * v / v0``, or % inhibition
        ``100 * (1 - v / v0)`` (``v0``: control).

    Returns
    -------
    DoseResponse

    Other Parameters
    ----------------
    equilibrate : bool
        Start each run from the untreated steady state (default) or the model's initial values.
    fit : bool
        Fit the Hill curve (with confidence intervals).
    options, backend
        Passed to :func:`simulator.simulate`.
    progress : bool
        Show a tqdm progress bar.

    Raises
    ------
    PerturbationError
        Unknown drug or phenotype (valid names listed), negative / non-finite / empty doses.
    UnknownIdError
        Unknown readout (with a "did you mean").
    InvalidValueError
        Neither or both of ``at_time`` / ``window``; a normalization with a control of 0.
    IntegrationError
        If the control run fails (nothing could be normalized or compared).

    Notes
    -----
    The curve is :math:`f(x) = b + (t - b) / (1 + (\\mathrm{IC50}/x)^h)`
    (:func:`simulator.analysis.hill.fit_hill`); ``fit.emax = top - bottom`` is negative
    for a falling readout.

    Examples
    --------
    >>> dr = dose_response(load_model(), "everolimus", [0.1, 1, 10, 100],
    ...                    readout="pS6", at_time=24.0)  # doctest: +SKIP
    >>> dr.fit.ic50, dr.table  # doctest: +SKIP
    """
    model = as_model(model)
    if is_ensemble(params):
        return _over_members(model, drug, doses, params, progress, dict(
            readout=readout, at_time=at_time, window=window, phenotype=phenotype,
            drugs=drugs, unit=unit, schedule=schedule, pk=pk, normalize=normalize,
            equilibrate=equilibrate, fit=fit, options=options, backend=backend))
    user = one_parameter_set(params, "dose_response", ensembles=True)
    if normalize not in NORMALIZE:
        raise InvalidValueError(f"normalize must be one of {list(NORMALIZE)}, got {normalize!r}")
    ro = Readout(readout, at_time, window)
    arr = check_doses(drug, doses)
    if schedule is None:
        schedule = Schedule.daily() if unit == "mg" else Schedule.continuous()
    dose0 = Dose(0.0, unit, schedule, pk=pk)
    background = background_doses(drugs)
    if drug in background:
        raise PerturbationError(f"drug '{drug}' is both the tested drug and a background drug")
    treatment = Treatment({**background, drug: dose0})
    prep = prepare(model, treatment, phenotype=phenotype)
    check_readouts(prep.model, [readout])
    grid = np.unique(np.concatenate([[0.0], arr]))
    note = equilibration_note(model, params=user, phenotype=prep.phenotype,
                              equilibrate=equilibrate, options=options)
    values = np.full(grid.size, np.nan)
    ok = np.zeros(grid.size, dtype=bool)
    msgs = [""] * grid.size
    for i in progress_bar(range(grid.size), grid.size, progress, f"{drug} doses"):
        cell = Treatment({**background, drug: Dose(float(grid[i]), unit, schedule, pk=pk)})
        values[i], ok[i], msgs[i] = measure(model, cell, ro, phenotype=prep.phenotype,
                                            params=user, equilibrate=equilibrate,
                                            options=options, backend=backend)
    if not ok[0]:
        raise IntegrationError(f"the control run (no {drug}) failed: {msgs[0]}")
    control = float(values[0])
    if normalize == "none":
        response = values.copy()
    else:
        if control == 0:
            raise InvalidValueError(
                f"cannot normalize to the control: {readout} is 0 without {drug}; use "
                f"normalize='none'")
        frac = values / control
        response = 100.0 * frac if normalize == "percent_of_control" else 100.0 * (1.0 - frac)
    notes = [n for n in (note,) if n]
    n_fail = int((~ok).sum())
    if n_fail:
        failed = ", ".join(f"{d:g}" for d in grid[~ok])
        notes.append(f"{n_fail} of {grid.size} runs failed (doses {failed} {unit}); left out of the fit")
    hill = None
    if fit:
        scale = float(np.nanmax(np.abs(response[ok]))) if ok.any() else 1.0
        try:
            hill = fit_hill(grid[ok], response[ok], on_failure="return",
                            flat_tol=1e-6 * max(1.0, scale))
            if not hill.converged:
                notes.append(f"Hill fit: {hill.message}")
        except (InvalidValueError, FitError) as err:
            notes.append(f"no Hill fit: {err}")
    prov = provenance(model.hash, drug=drug, doses=grid.tolist(), unit=unit,
                      schedule=schedule.label, readout=ro.label, phenotype=list(prep.phenotype),
                      background={d: v.label for d, v in treatment.drugs.items() if d != drug},
                      params=user, equilibrate=equilibrate, normalize=normalize)
    return DoseResponse(drug=drug, readout=readout, unit=unit, doses=grid, values=values,
                        response=response, success=ok, messages=tuple(msgs), control=control,
                        normalize=normalize, fit=hill, at_time=ro.at_time, window=ro.window,
                        phenotype=prep.phenotype, notes=tuple(notes), provenance=prov)


def _over_members(model, drug, doses, params, progress, options: dict) -> EnsembleDoseResponse:
    """:func:`dose_response` for each member of the ensemble ``params``; a member whose
    experiment fails is recorded with its parameters and the rest kept."""
    members = member_dicts(params)
    results, failed = [], []
    for i in progress_bar(range(len(members)), len(members), progress, "members"):
        try:       # a wrong experiment (id, dose, drug) raises at once, for every member
            results.append(dose_response(model, drug, doses, params=members[i], **options))
        except IntegrationError as err:
            results.append(None)
            failed.append({"member": i, **members[i], "reason": str(err)})
    table = pd.DataFrame(members).rename_axis("member")
    if all(r is None for r in results):
        raise IntegrationError(f"the experiment failed for every member of the ensemble; "
                               f"member 0: {failed[0]['reason']}")
    return EnsembleDoseResponse(members=tuple(results), params=table,
                                failures=pd.DataFrame(failed, columns=["member", *table.columns,
                                                                       "reason"]))
