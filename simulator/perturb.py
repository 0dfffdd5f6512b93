"""Treatments: drugs, doses, schedules and phenotypes turned into a runnable experiment.

A drug is a parameter of the model (free concentration at the target, nM); a phenotype
is a named set of parameter overrides (see :mod:`simulator.catalog`). A :class:`Treatment`
holds drugs, each as a :class:`Dose` (a concentration in nM, or a clinical dose in mg that
a one-compartment :class:`PK` model turns into nM) on a :class:`Schedule`.

Anything but a constant concentration from ``t = 0`` needs time-dependent drug levels.
Those are written into a *derived* model: the SBML of the original plus new parameters
(ids starting ``xt_``), rate rules (drug in the body) and events (doses, exposure windows),
built with libsbml from our own ids and numbers and loaded like any model (own hash,
cache and pickling). The original :class:`~simulator.model.Model` is never mutated. The
derived model is built once per schedule structure; the dose itself is a parameter
(``xt_<drug>_amount``), so a dose-response reuses one compiled model.

Experiments start from the steady state of the untreated cell (phenotype included) at
``t = 0``; schedules count hours from there (``Schedule(start=T)`` adds a drug at ``T``).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from simulator.errors import PerturbationError, suggest
from simulator.model import Model

__all__ = ["Schedule", "Dose", "PK", "Treatment", "PreparedTreatment", "treatment_overrides",
           "prepare", "derive_model", "untreated_state", "run_treatment", "RESET_AT_START"]

UNITS = ("nM", "mg")
#: Species reset to their model initial value at the start of an experiment (not taken from
#: the steady state): ``tumor_burden`` grows without bound, it starts at 1.
RESET_AT_START = ("tumor_burden",)


# ============================================================================ schedules

def _num(name: str, value, *, positive: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise PerturbationError(f"schedule {name} must be a number of hours, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PerturbationError(f"schedule {name} must be a number of hours, got {value!r}") from None
    if not math.isfinite(v):
        raise PerturbationError(f"schedule {name} must be finite, got {value!r}")
    if v < 0 or (positive and v == 0):
        raise PerturbationError(
            f"schedule {name} must be {'> 0' if positive else '>= 0'} hours, got {value!r}")
    return v


@dataclass(frozen=True)
class Schedule:
    """When a drug is given. Times in hours; ``t = 0`` is the end of pre-equilibration.

    Build one with a constructor: :meth:`continuous`, :meth:`every` / :meth:`daily`,
    :meth:`at`, :meth:`loading` or :meth:`intermittent`.

    Attributes
    ----------
    kind : {"continuous", "doses", "intermittent"}
        ``continuous``: constant exposure from ``start`` (to ``stop``), for concentrations.
        ``doses``: single administrations (through PK, for doses in mg) at ``start + times``,
        then every ``interval`` hours. ``intermittent``: exposure windows of ``on`` hours every
        ``interval`` hours (a concentration during the window, or doses in mg every
        ``dose_every`` hours inside it).
    start : float
        Hours after ``t = 0`` at which the schedule begins.
    stop : float, optional
        Absolute time after which no dose is given and exposure windows end.
    times : tuple of float
        ``doses``: administration times relative to ``start`` (strictly increasing).
    interval : float, optional
        ``doses``: maintenance interval after the last of ``times`` (or from ``start``);
        ``intermittent``: the cycle length.
    on : float, optional
        ``intermittent``: length of each exposure window (< ``interval``).
    dose_every : float
        ``intermittent`` with doses in mg: interval between doses inside a window.

    Raises
    ------
    PerturbationError
        Negative, zero or non-finite times, repeated or unsorted dose times, windows that
        overlap themselves (``on >= interval``), ``stop <= start``.

    Examples
    --------
    >>> Schedule.loading([0, 14 * 24, 28 * 24], then_every=28 * 24).administrations(1500.0)
    array([   0.,  336.,  672., 1344.])
    >>> Schedule.intermittent(on=5 * 24, every=14 * 24).windows(400.0)
    [(0.0, 120.0), (336.0, 400.0)]
    """

    kind: Literal["continuous", "doses", "intermittent"] = "continuous"
    start: float = 0.0
    stop: float | None = None
    times: tuple = ()
    interval: float | None = None
    on: float | None = None
    dose_every: float = 24.0

    def __post_init__(self):
        if self.kind not in ("continuous", "doses", "intermittent"):
            raise PerturbationError(
                f"schedule kind must be 'continuous', 'doses' or 'intermittent', got {self.kind!r}")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("start", _num("start", self.start))
        set_("stop", _num("stop", self.stop, allow_none=True))
        set_("interval", _num("interval", self.interval, positive=True, allow_none=True))
        set_("on", _num("window (on)", self.on, positive=True, allow_none=True))
        set_("dose_every", _num("dose_every", self.dose_every, positive=True))
        if isinstance(self.times, (str, bytes)) or not isinstance(self.times, Iterable):
            raise PerturbationError(f"schedule times must be a sequence of hours, got {self.times!r}")
        times = tuple(_num("time", t) for t in self.times)
        set_("times", times)
        if self.stop is not None and self.stop <= self.start:
            raise PerturbationError(
                f"schedule stop ({self.stop:g} h) must come after its start ({self.start:g} h)")
        if self.kind == "continuous":
            if times or self.interval is not None or self.on is not None:
                raise PerturbationError("a continuous schedule takes only start and stop")
        elif self.kind == "doses":
            if not times and self.interval is None:
                raise PerturbationError(
                    "a dosing schedule needs dose times or an interval; got neither (an empty "
                    "dose list)")
            if self.on is not None:
                raise PerturbationError("a dosing schedule has no exposure window (on); use "
                                        "Schedule.intermittent")
            dup = [t for a, t in zip(times, times[1:]) if t <= a]
            if dup:
                raise PerturbationError(
                    f"dose times {list(times)} overlap themselves: they must be strictly "
                    f"increasing (a dose at {dup[0]:g} h repeats or precedes an earlier one)")
        else:
            if self.on is None or self.interval is None:
                raise PerturbationError("an intermittent schedule needs on (window length) and "
                                        "every (cycle length)")
            if times:
                raise PerturbationError("an intermittent schedule takes no dose times")
            if self.on >= self.interval:
                raise PerturbationError(
                    f"intermittent windows of {self.on:g} h repeated every {self.interval:g} h "
                    f"overlap themselves; 'on' must be shorter than 'every' (use "
                    f"Schedule.continuous for uninterrupted exposure)")

    # ------------------------------------------------------------- constructors
    @classmethod
    def continuous(cls, *, start: float = 0.0, stop: float | None = None) -> Schedule:
        """Constant exposure from ``start`` (e.g. a drug added at T after equilibration)."""
        return cls("continuous", start=start, stop=stop)

    @classmethod
    def every(cls, interval: float, *, start: float = 0.0, n: int | None = None,
              stop: float | None = None) -> Schedule:
        """A dose every ``interval`` hours from ``start`` (``n`` doses, or until ``stop``)."""
        interval = _num("interval (every)", interval, positive=True)
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise PerturbationError(f"number of doses n must be an integer >= 1, got {n!r}")
            last = _num("start", start) + (int(n) - 1) * interval
            stop = last + 0.5 * interval if stop is None else min(stop, last + 0.5 * interval)
        return cls("doses", start=start, stop=stop, interval=interval)

    @classmethod
    def daily(cls, *, start: float = 0.0, n: int | None = None,
              stop: float | None = None) -> Schedule:
        """A dose every 24 h (e.g. letrozole 2.5 mg daily)."""
        return cls.every(24.0, start=start, n=n, stop=stop)

    @classmethod
    def at(cls, times, *, start: float = 0.0) -> Schedule:
        """Single doses at ``start + times`` (hours, strictly increasing)."""
        return cls("doses", start=start, times=tuple(np.atleast_1d(times).tolist())
                   if not isinstance(times, (str, bytes)) else times)

    @classmethod
    def loading(cls, times, then_every: float, *, start: float = 0.0,
                stop: float | None = None) -> Schedule:
        """Loading doses at ``start + times``, then maintenance every ``then_every`` hours.

        Fulvestrant 500 mg on days 1, 15 and 29, then every 28 days::

            Schedule.loading([0, 14 * 24, 28 * 24], then_every=28 * 24)
        """
        if isinstance(times, (str, bytes)):
            raise PerturbationError(f"loading times must be a sequence of hours, got {times!r}")
        return cls("doses", start=start, stop=stop, times=tuple(np.atleast_1d(times).tolist()),
                   interval=then_every)

    @classmethod
    def intermittent(cls, on: float, every: float, *, start: float = 0.0,
                     stop: float | None = None, dose_every: float = 24.0) -> Schedule:
        """Windows of ``on`` hours every ``every`` hours (temsirolimus 5 days every 2 weeks:
        ``Schedule.intermittent(on=5 * 24, every=14 * 24)``)."""
        return cls("intermittent", start=start, stop=stop, on=on, interval=every,
                   dose_every=dose_every)

    # ------------------------------------------------------------- inspection
    def administrations(self, until: float) -> np.ndarray:
        """Absolute times of the doses given up to ``until`` (doses in mg)."""
        until = float(until)
        out: list[float] = []
        stop = np.inf if self.stop is None else self.stop
        if self.kind == "continuous":
            return np.array([self.start]) if self.start <= until else np.empty(0)
        if self.kind == "doses":
            out = [self.start + t for t in self.times]
            if self.interval is not None:
                first = self.start + (self.times[-1] + self.interval if self.times else 0.0)
                out += list(first + self.interval * np.arange(max(0, int((until - first) // self.interval) + 1)))
        else:
            for k in range(max(0, int((until - self.start) // self.interval) + 1)):
                w0 = self.start + k * self.interval
                out += [w0 + j * self.dose_every for j in range(self._per_window())]
        return np.array([t for t in out if t <= until + 1e-9 and t < stop], dtype=float)

    def windows(self, until: float) -> list[tuple[float, float]]:
        """Exposure windows ``(on, off)`` up to ``until`` (concentrations)."""
        stop = np.inf if self.stop is None else self.stop
        end = min(float(until), stop)
        if self.kind == "continuous":
            return [(self.start, end)] if self.start < end else []
        if self.kind != "intermittent":
            raise PerturbationError("a dosing schedule has no exposure windows; see administrations()")
        out = []
        for k in range(max(0, int((end - self.start) // self.interval) + 1)):
            w0 = self.start + k * self.interval
            if w0 < end:
                out.append((w0, min(w0 + self.on, end)))
        return out

    def _per_window(self) -> int:
        return max(1, math.ceil(self.on / self.dose_every - 1e-9))

    @property
    def label(self) -> str:
        """Short human-readable text, e.g. ``"q24h"``, ``"5d on / 14d"``."""
        h = lambda x: f"{x / 24:g}d" if x >= 48 and x % 24 == 0 else f"{x:g}h"  # noqa: E731
        start = f" from {h(self.start)}" if self.start else ""
        if self.kind == "continuous":
            return "continuous" + start + (f" to {h(self.stop)}" if self.stop else "")
        if self.kind == "intermittent":
            return f"{h(self.on)} on / {h(self.interval)}" + start
        if self.times and self.interval:
            return f"loading at {', '.join(h(t) for t in self.times)}, then q{h(self.interval)}" + start
        if self.times:
            return f"at {', '.join(h(t) for t in self.times)}" + start
        return f"q{h(self.interval)}" + start


# ============================================================================ PK

@dataclass(frozen=True)
class PK:
    """One-compartment pharmacokinetics of a drug, instantaneous absorption by default.

    ``A' = -ke A`` (mg in the body), each dose adds ``F * dose``; the drug's model
    parameter is ``C = A / V`` converted to nM with the molar mass. With ``ka_per_h``, a
    depot ``G`` (``G' = -ka G``) feeds ``A`` (first-order absorption).

    Attributes
    ----------
    F : float
        Bioavailable fraction (0, 1].
    V_L : float
        Volume of distribution, L (``V_F_L`` in ``models/drugs.toml``).
    t_half_h : float
        Elimination half-life, h.
    MW_g_mol : float
        Molar mass, g/mol.
    ka_per_h : float, optional
        First-order absorption rate; None for instantaneous absorption.
    source : str
        Where the numbers come from.

    Notes
    -----
    :math:`k_e = \\ln 2 / t_{1/2}`, :math:`CL = k_e V`, and at steady state of a dose
    :math:`D` every :math:`\\tau` the average concentration is
    :math:`\\bar C_{ss} = F D / (CL\\,\\tau)` (mg/L; ×10⁶/MW for nM), whatever ``ka``.
    """

    F: float
    V_L: float
    t_half_h: float
    MW_g_mol: float
    ka_per_h: float | None = None
    source: str = ""

    def __post_init__(self):
        for k in ("F", "V_L", "t_half_h", "MW_g_mol") + (("ka_per_h",) if self.ka_per_h is not None else ()):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(v) or v <= 0:
                raise PerturbationError(f"PK parameter {k} must be a finite number > 0, got {v!r}")
            object.__setattr__(self, k, float(v))
        if self.F > 1:
            raise PerturbationError(f"PK bioavailability F must be in (0, 1], got {self.F}")

    @property
    def ke(self) -> float:
        """Elimination rate constant, 1/h."""
        return math.log(2.0) / self.t_half_h

    @property
    def clearance_L_h(self) -> float:
        return self.ke * self.V_L

    @property
    def nM_per_mg(self) -> float:
        """Concentration (nM) of 1 mg in the body: ``1e6 / (V * MW)``."""
        return 1e6 / (self.V_L * self.MW_g_mol)

    def css_average_nM(self, dose_mg: float, tau_h: float) -> float:
        """Average steady-state concentration of ``dose_mg`` every ``tau_h`` hours (nM)."""
        return self.F * dose_mg / (self.clearance_L_h * tau_h) * 1e6 / self.MW_g_mol

    @classmethod
    def for_drug(cls, drug: str) -> PK:
        """PK of a drug of the bundled model, from ``models/drugs.toml``."""
        entry = _catalog_entry(drug)
        pk = entry.get("pk")
        if not isinstance(pk, dict):
            raise PerturbationError(f"drug '{drug}' has no [pk] entry in models/drugs.toml; give "
                                    f"Dose(..., pk=PK(F=..., V_L=..., t_half_h=..., MW_g_mol=...))")
        try:
            return cls(F=pk["F"], V_L=pk["V_F_L"], t_half_h=pk["t_half_h"], MW_g_mol=pk["MW_g_mol"],
                       ka_per_h=pk.get("ka_per_h"), source=str(entry.get("pk_source", "")))
        except KeyError as err:
            raise PerturbationError(f"drug '{drug}': PK entry in models/drugs.toml lacks {err}") from None


def _catalog() -> dict:
    import tomllib

    from simulator.catalog import DRUGS_TOML
    try:
        with open(DRUGS_TOML, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _catalog_entry(drug: str) -> dict:
    table = _catalog()
    if drug not in table:
        raise PerturbationError(
            f"drug '{drug}' is not in models/drugs.toml{suggest(drug, table)}, so its PK is "
            f"unknown; give Dose(..., pk=PK(...)) or a concentration in nM")
    return table[drug]


# ============================================================================ doses, treatments

@dataclass(frozen=True)
class Dose:
    """One drug's dose and schedule.

    Attributes
    ----------
    amount : float
        Concentration at the target (``unit="nM"``) or administered dose (``unit="mg"``).
    unit : {"nM", "mg"}
    schedule : Schedule
        Default: continuous from ``t = 0``. Doses in mg need a dosing schedule.
    pk : PK, optional
        For doses in mg; default from ``models/drugs.toml``.
    """

    amount: float
    unit: str = "nM"
    schedule: Schedule = field(default_factory=Schedule)
    pk: PK | None = None

    def __post_init__(self):
        a = self.amount
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)):
            raise PerturbationError(f"dose must be a number ({self.unit}), got {a!r}")
        if not math.isfinite(a) or a < 0:
            raise PerturbationError(f"dose must be a finite amount >= 0 {self.unit}, got {a!r}")
        object.__setattr__(self, "amount", float(a))
        if self.unit not in UNITS:
            raise PerturbationError(f"dose unit must be 'nM' or 'mg', got {self.unit!r}")
        if not isinstance(self.schedule, Schedule):
            raise PerturbationError(f"schedule must be a Schedule, got {type(self.schedule).__name__}")
        if self.pk is not None and not isinstance(self.pk, PK):
            raise PerturbationError(f"pk must be a PK, got {type(self.pk).__name__}")
        if self.unit == "mg" and self.schedule.kind == "continuous":
            raise PerturbationError(
                "a dose in mg needs a dosing schedule (Schedule.daily(), .every(), .loading(), "
                ".at() or .intermittent()); for constant exposure give a concentration in nM")
        if self.unit == "nM" and self.schedule.kind == "doses":
            raise PerturbationError(
                "single administrations (Schedule.every/daily/at/loading) need a dose in mg, "
                "which PK turns into exposure; for a concentration in nM use "
                "Schedule.continuous or Schedule.intermittent")

    @property
    def constant(self) -> bool:
        """True for a constant concentration from ``t = 0`` (a plain parameter override)."""
        s = self.schedule
        return self.unit == "nM" and s.kind == "continuous" and s.start == 0 and s.stop is None

    @property
    def label(self) -> str:
        text = f"{self.amount:g} {self.unit}"
        return text if self.constant else f"{text} {self.schedule.label}"


def _as_dose(drug: str, spec) -> Dose:
    if isinstance(spec, Dose):
        return spec
    if isinstance(spec, tuple):
        if not 1 <= len(spec) <= 3:
            raise PerturbationError(f"drug '{drug}': give a dose as amount, (amount, unit) or "
                                    f"(amount, unit, Schedule); got {spec!r}")
        return Dose(*spec)
    return Dose(spec)


@dataclass(frozen=True)
class Treatment:
    """Drugs (each a :class:`Dose`) and phenotypes applied to a cell.

    Parameters
    ----------
    drugs : mapping of str to (float or Dose or tuple)
        Drug id -> nM (constant from ``t = 0``), a :class:`Dose`, or ``(amount, unit)`` /
        ``(amount, unit, Schedule)``.
    phenotype : str or sequence of str
        Phenotypes of the treated cell; they combine with the ``phenotype=`` of the run
        (that one first).
    name : str
        Label for plots and tables.

    Examples
    --------
    >>> tr = Treatment({"letrozole": (2.5, "mg", Schedule.daily()), "everolimus": 5.0})
    >>> tr.label
    'letrozole 2.5 mg q24h + everolimus 5 nM'
    """

    drugs: Mapping = field(default_factory=dict)
    phenotype: tuple = ()
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.drugs, Mapping):
            raise PerturbationError(f"drugs must be a mapping of drug id to dose, got {type(self.drugs).__name__}")
        doses = {}
        for k, v in self.drugs.items():
            if not isinstance(k, str):
                raise PerturbationError(f"drug ids must be strings, got {k!r}")
            doses[k] = _as_dose(k, v)
        object.__setattr__(self, "drugs", doses)
        object.__setattr__(self, "phenotype", _phenotypes(self.phenotype))

    @classmethod
    def clinical(cls, *drugs: str, phenotype=(), start: float = 0.0, name: str = "") -> Treatment:
        """Each drug at its label dose (mg) and interval from ``models/drugs.toml``."""
        out = {}
        for d in drugs:
            pk = _catalog_entry(d).get("pk", {})
            if "dose_mg" not in pk or "tau_h" not in pk:
                raise PerturbationError(f"drug '{d}' has no clinical dose_mg / tau_h in models/drugs.toml")
            out[d] = Dose(pk["dose_mg"], "mg", Schedule.every(pk["tau_h"], start=start))
        return cls(out, phenotype=phenotype, name=name)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        parts = [f"{d} {dose.label}" for d, dose in self.drugs.items()]
        text = " + ".join(parts) or "untreated"
        return text + (f" [{', '.join(self.phenotype)}]" if self.phenotype else "")

    def validate(self, model: Model) -> None:
        """Check drugs and phenotypes against ``model`` (before any simulation).

        Raises
        ------
        PerturbationError
            Unknown drug (valid names listed, with a "did you mean"), a drug that a rule
            defines, or an unknown phenotype.
        """
        for d in self.drugs:
            _check_drug(model, d)
        if self.phenotype:
            _phenotype_overrides(model, self.phenotype)


def _phenotypes(phenotype) -> tuple:
    if phenotype is None:
        return ()
    if isinstance(phenotype, str):
        return (phenotype,)
    try:
        out = tuple(phenotype)
    except TypeError:
        raise PerturbationError(f"phenotype must be a name or a list of names, got {phenotype!r}") from None
    bad = [p for p in out if not isinstance(p, str)]
    if bad:
        raise PerturbationError(f"phenotype names must be strings, got {bad[0]!r}")
    return out


# ============================================================================ overrides

def treatment_overrides(model: Model, *, drugs: dict | None = None, phenotype=None) -> dict:
    """Parameter overrides for ``drugs`` (id -> nM) and ``phenotype`` (name or list of names).

    Raises
    ------
    PerturbationError
        Unknown drug or phenotype (valid names listed), or a dose that is not a finite
        number >= 0.
    """
    out: dict[str, float] = {}
    names = _phenotypes(phenotype)
    if names:
        out.update(_phenotype_overrides(model, names))
    for name, dose in (drugs or {}).items():
        _check_drug(model, name)
        if isinstance(dose, bool):
            raise PerturbationError(f"dose of '{name}' must be a number (nM), got {dose!r}")
        try:
            value = float(dose)
        except (TypeError, ValueError):
            raise PerturbationError(f"dose of '{name}' must be a number (nM), got {dose!r}") from None
        if not np.isfinite(value) or value < 0:
            raise PerturbationError(f"dose of '{name}' must be a finite concentration >= 0 nM, got {dose!r}")
        out[name] = value
    return out


def _phenotype_overrides(model: Model, names) -> dict:
    from simulator.catalog import load_phenotype_overrides
    base = {p.id: p.value for p in model.parameters}
    return load_phenotype_overrides(list(names), base)


def _check_drug(model: Model, name: str) -> None:
    params = model.global_parameter_ids
    if name in params and name not in model.rule_variables:
        return
    known = _drug_names(model)
    pool = known or sorted(params)
    if name in params:
        raise PerturbationError(f"'{name}' of model '{model.id}' is computed by a rule, so it "
                                f"cannot be set as a drug")
    listing = f"valid drugs: {', '.join(known)}" if known else \
        "this model has no drug catalogue, so any parameter can act as a drug"
    raise PerturbationError(f"drug '{name}' is not a drug parameter of model '{model.id}'"
                            f"{suggest(name, pool)}; {listing}")


def _drug_names(model: Model) -> list[str]:
    params = set(model.parameter_ids)
    return [n for n in _catalog() if n in params]


# ============================================================================ derived model

@dataclass(frozen=True)
class PreparedTreatment:
    """A treatment made runnable on a model.

    Attributes
    ----------
    model : Model
        The original model, or the derived one with the schedules' events and PK.
    params : dict
        Parameter values to pass: constant drugs (id -> nM) and dose amounts of scheduled
        drugs (``xt_<drug>_amount`` -> nM or mg).
    phenotype : tuple of str
    dose_ids : dict
        Drug -> the parameter that holds its dose (the drug itself for constant drugs).
    """

    model: Model
    params: dict
    phenotype: tuple
    dose_ids: dict


_DERIVED: OrderedDict = OrderedDict()
_MAX_DERIVED = 32


def prepare(model: Model, treatment: Treatment, *, phenotype=None) -> PreparedTreatment:
    """Validate ``treatment`` on ``model`` and build (or fetch) the derived model it needs."""
    if not isinstance(treatment, Treatment):
        raise PerturbationError(f"treatment must be a Treatment, got {type(treatment).__name__}")
    phen = _phenotypes(phenotype) + tuple(p for p in treatment.phenotype
                                          if p not in _phenotypes(phenotype))
    treatment.validate(model)
    if phen:
        _phenotype_overrides(model, phen)
    scheduled = {d: dose for d, dose in treatment.drugs.items() if not dose.constant}
    derived, ids = derive_model(model, scheduled) if scheduled else (model, {})
    params, dose_ids = {}, {}
    for d, dose in treatment.drugs.items():
        pid = d if dose.constant else ids[d]
        params[pid] = dose.amount
        dose_ids[d] = pid
    return PreparedTreatment(derived, params, phen, dose_ids)


def derive_model(model: Model, scheduled: Mapping[str, Dose]) -> tuple[Model, dict]:
    """The model with scheduled drugs as events / PK (built once per schedule structure).

    Returns
    -------
    (Model, dict)
        The derived model, and drug -> id of its dose parameter (``xt_<drug>_amount``,
        default 0: set it through ``params``).
    """
    items = []
    for d in sorted(scheduled):
        dose = scheduled[d]
        _check_drug(model, d)
        pk = None
        if dose.unit == "mg":
            pk = dose.pk or PK.for_drug(d)
        items.append((d, dose.unit, dose.schedule, pk))
    key = (model.hash, tuple(items))
    hit = _DERIVED.get(key)
    if hit is None:
        hit = _build_derived(model, items)
        _DERIVED[key] = hit
        while len(_DERIVED) > _MAX_DERIVED:
            _DERIVED.popitem(last=False)
    else:
        _DERIVED.move_to_end(key)
    return hit


def _f(x: float) -> str:
    """A float literal for generated formulas (repr round-trips exactly)."""
    x = float(x)
    if not math.isfinite(x):
        raise PerturbationError(f"internal: non-finite number {x} in a generated formula")
    return repr(x)


class _Sbml:
    """Edit an SBML document with libsbml, with ids and formulas we generate."""

    def __init__(self, model: Model):
        import libsbml
        self.lib = libsbml
        self.doc = libsbml.readSBMLFromString(model.sbml)
        if self.doc.getModel() is None:
            raise PerturbationError(f"model '{model.id}' has no SBML text to derive a schedule from")
        if (self.doc.getLevel(), self.doc.getVersion()) < (3, 1):
            self.doc.setLevelAndVersion(3, 2, False)
        self.m = self.doc.getModel()
        self.n_events = 0

    def fresh(self, base: str) -> str:
        sid = base
        while self.m.getElementBySId(sid) is not None:
            sid += "_"
        return sid

    def param(self, base: str, value: float, constant: bool) -> str:
        sid = self.fresh(base)
        p = self.m.createParameter()
        self._ok(p.setId(sid), sid)
        p.setValue(float(value))
        p.setConstant(constant)
        return sid

    def math(self, formula: str):
        ast = self.lib.parseL3Formula(formula)
        if ast is None:  # only our own formulas reach here
            raise PerturbationError(f"internal: could not build formula {formula!r}: "
                                    f"{self.lib.getLastParseL3Error()}")
        return ast

    def rate_rule(self, var: str, formula: str):
        r = self.m.createRateRule()
        r.setVariable(var)
        r.setMath(self.math(formula))

    def assignment_rule(self, var: str, formula: str):
        r = self.m.createAssignmentRule()
        r.setVariable(var)
        r.setMath(self.math(formula))

    def event(self, base: str, trigger: str, assignments: list[tuple[str, str]]):
        ev = self.m.createEvent()
        ev.setId(self.fresh(base))
        ev.setUseValuesFromTriggerTime(True)
        trig = ev.createTrigger()
        trig.setInitialValue(False)   # a trigger true at t = 0 fires at t = 0
        trig.setPersistent(True)
        trig.setMath(self.math(trigger))
        for var, formula in assignments:
            ea = ev.createEventAssignment()
            ea.setVariable(var)
            ea.setMath(self.math(formula))
        self.n_events += 1

    def stream(self, name: str, first: float, period: float | None, stop: float | None,
               action: list[tuple[str, str]]):
        """Fire ``action`` at ``first`` and then every ``period`` hours while before ``stop``."""
        if stop is not None and first >= stop:
            return
        if period is None:
            self.event(f"{name}_at", f"time >= {_f(first)}", action)
            return
        nxt = self.param(f"{name}_next", first, constant=False)
        trig = f"time >= {nxt}" + (f" && {nxt} < {_f(stop)}" if stop is not None else "")
        self.event(name, trig, action + [(nxt, f"{nxt} + {_f(period)}")])

    def _ok(self, code, what):
        if code != self.lib.LIBSBML_OPERATION_SUCCESS:
            raise PerturbationError(f"internal: could not create SBML element '{what}' (code {code})")

    def text(self) -> str:
        return self.lib.writeSBMLToString(self.doc)


def _build_derived(model: Model, items) -> tuple[Model, dict]:
    from simulator.io import load
    s = _Sbml(model)
    ids = {}
    for drug, unit, sch, pk in items:
        p = s.m.getParameter(drug)
        if p is None:
            raise PerturbationError(f"drug '{drug}' is not a global parameter of model '{model.id}'")
        if s.m.getInitialAssignment(drug) is not None:
            s.m.removeInitialAssignment(drug)
        p.setConstant(False)
        amount = s.param(f"xt_{drug}_amount", 0.0, constant=True)
        ids[drug] = amount
        tag = f"xt_{drug}"
        if unit == "nM":
            p.setValue(0.0)
            on, off = [(drug, amount)], [(drug, "0")]
            if sch.kind == "continuous":
                s.stream(f"{tag}_on", sch.start, None, None, on)
            else:
                s.stream(f"{tag}_on", sch.start, sch.interval, sch.stop, on)
                s.stream(f"{tag}_off", sch.start + sch.on, sch.interval, sch.stop, off)
            if sch.stop is not None:
                s.stream(f"{tag}_stop", sch.stop, None, None, off)
            continue
        # dose in mg through one-compartment PK
        central = s.param(f"{tag}_central_mg", 0.0, constant=False)
        ke = s.param(f"{tag}_ke", pk.ke, constant=True)
        conv = s.param(f"{tag}_nM_per_mg", pk.nM_per_mg, constant=True)
        F = s.param(f"{tag}_F", pk.F, constant=True)
        if pk.ka_per_h is not None:
            depot = s.param(f"{tag}_depot_mg", 0.0, constant=False)
            ka = s.param(f"{tag}_ka", pk.ka_per_h, constant=True)
            s.rate_rule(depot, f"-{ka} * {depot}")
            s.rate_rule(central, f"{ka} * {depot} - {ke} * {central}")
            target = depot
        else:
            s.rate_rule(central, f"-{ke} * {central}")
            target = central
        s.assignment_rule(drug, f"{central} * {conv}")
        give = [(target, f"{target} + {F} * {amount}")]
        if sch.kind == "doses":
            for k, t in enumerate(sch.times):
                s.stream(f"{tag}_dose{k}", sch.start + t, None, sch.stop, give)
            if sch.interval is not None:
                first = sch.start + (sch.times[-1] + sch.interval if sch.times else 0.0)
                s.stream(f"{tag}_maint", first, sch.interval, sch.stop, give)
        else:  # intermittent: doses every dose_every inside each window
            for j in range(sch._per_window()):
                s.stream(f"{tag}_win{j}", sch.start + j * sch.dose_every, sch.interval, sch.stop, give)
    derived = load(s.text())
    return derived, ids


# ============================================================================ running

_STATES: OrderedDict = OrderedDict()
_MAX_STATES = 64


def untreated_state(model: Model, *, params: Mapping | None = None, phenotype=None,
                    options=None, backend: str = "auto"):
    """Steady state of the untreated cell, as a start state for an experiment.

    The species in :data:`RESET_AT_START` (``tumor_burden``) take their model initial
    value instead. Cached per model, parameters and phenotype.

    Returns
    -------
    (dict, SteadyState)
        The start state (id -> value) and the steady state it came from (check
        ``converged``).
    """
    from simulator.api import steady_state
    phen = _phenotypes(phenotype)
    key = (model.hash, tuple(sorted((k, float(v)) for k, v in (params or {}).items())), phen,
           options, backend)
    hit = _STATES.get(key)
    if hit is not None:
        _STATES.move_to_end(key)
        return dict(hit[0]), hit[1]
    ss = steady_state(model, params=dict(params or {}), phenotype=list(phen) or None,
                      options=options)
    state = dict(ss.state)
    species = {sp.id: sp for sp in model.species}
    for sid in RESET_AT_START:
        if sid in state and sid in species:
            sp = species[sid]
            v = sp.initial_concentration if sp.initial_concentration is not None else sp.initial_amount
            if v is not None:
                state[sid] = float(v)
    _STATES[key] = (state, ss)
    while len(_STATES) > _MAX_STATES:
        _STATES.popitem(last=False)
    return dict(state), ss


def run_treatment(model, treatment: Treatment, t, *, phenotype=None, params: Mapping | None = None,
                  equilibrate: bool = True, initial: Mapping | None = None, options=None,
                  backend: str = "auto", on_failure: str = "raise"):
    """Simulate a treatment, starting from the untreated steady state.

    Parameters
    ----------
    model : Model or str or Path
    treatment : Treatment
    t : array_like or float
        Output times (h) from ``t = 0``, the start of treatment.
    phenotype : str or list of str, optional
        The cell's phenotype (combined with ``treatment.phenotype``).
    params : dict, optional
        Other parameter overrides (id -> value), kept during equilibration too.
    equilibrate : bool
        Start from the steady state of the untreated cell (phenotype and ``params``
        applied, no drugs); False: from the model's initial values.
    initial : dict, optional
        An explicit start state (overrides ``equilibrate``).

    Returns
    -------
    Trajectory
        ``provenance["treatment"]`` is the treatment's label, ``provenance["equilibration"]``
        the steady state's convergence. Scheduled drugs show as their drug id (nM).

    Raises
    ------
    PerturbationError
        Unknown drug or phenotype, bad dose or schedule (before any simulation).
    IntegrationError
        If the run fails and ``on_failure="raise"``.

    Examples
    --------
    >>> tr = Treatment({"fulvestrant": Dose(500, "mg",
    ...                 Schedule.loading([0, 336, 672], then_every=672))})
    >>> traj = run_treatment(load_model(), tr, np.linspace(0, 2000, 201))  # doctest: +SKIP
    """
    from simulator.api import _as_model, simulate
    model = _as_model(model)
    prep = prepare(model, treatment, phenotype=phenotype)
    equil = None
    if initial is None and equilibrate:
        initial, ss = untreated_state(model, params=params, phenotype=prep.phenotype,
                                      options=options, backend=backend)
        equil = {"converged": bool(ss.converged), "residual": float(ss.residual), "method": ss.method}
    traj = simulate(prep.model, t, params={**dict(params or {}), **prep.params},
                    initial=initial, phenotype=list(prep.phenotype) or None, options=options,
                    backend=backend, on_failure=on_failure)
    prov = dict(traj.provenance, treatment=treatment.label, equilibration=equil,
                base_model_hash=model.hash)
    return replace(traj, provenance=prov)
