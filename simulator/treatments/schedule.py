"""What a treatment is: drugs, each a dose on a schedule, with PK for clinical doses.

A drug is a parameter of the model (free concentration at the target, nM); a phenotype is a
named set of parameter overrides from the model's catalogue (:mod:`simulator.catalog`). A
:class:`Treatment` holds drugs, each as a :class:`Dose` (a concentration in nM, or a
clinical dose in mg that a one-compartment :class:`PK` model turns into nM) on a
:class:`Schedule`. These are value objects, checked on construction; how a treatment runs
is :mod:`simulator.treatments.derive` (the dosing events) and
:mod:`simulator.treatments.protocol` (untreated steady state, then treatment).

Schedules count hours from ``t = 0``, the end of pre-equilibration (``Schedule(start=T)``
adds a drug at ``T``).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from simulator.catalog import Catalog
from simulator.conditions import check_dose, check_drug, phenotype_names, phenotype_overrides
from simulator.errors import PerturbationError
from simulator.model import Model

__all__ = ["Schedule", "Dose", "PK", "Treatment", "UNITS"]

UNITS = ("nM", "mg")


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
                out += [w0 + j * self.dose_every for j in range(self.per_window())]
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

    def per_window(self) -> int:
        """Doses given in one exposure window (intermittent schedules of doses in mg)."""
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


@dataclass(frozen=True)
class PK:
    """One-compartment pharmacokinetics of a drug, instantaneous absorption by default.

    ``A' = -ke A`` (mg in the body), each dose adds ``F * dose``; the total concentration is
    ``C = A / V`` (converted to nM with the molar mass) and the drug's model parameter, the
    concentration that acts on the cell, is the unbound one, ``fu * C``. With ``ka_per_h``,
    a depot ``G`` (``G' = -ka G``) feeds ``A`` (first-order absorption).

    Attributes
    ----------
    F : float
        Bioavailable fraction (0, 1]. With an *apparent* volume (V/F of an oral dose) F is
        already in the volume: give ``F=1`` (a catalogue gives ``V_F_L`` without ``F``).
    V_L : float
        Volume of distribution, L: the systemic volume with its ``F``, or the apparent
        V/F with ``F=1``.
    t_half_h : float
        Elimination half-life, h.
    MW_g_mol : float
        Molar mass, g/mol.
    ka_per_h : float, optional
        First-order absorption rate; None for instantaneous absorption.
    fu : float
        Unbound fraction (0, 1] of the concentration ``C`` (plasma protein binding; for a
        whole-blood concentration, the unbound share of the blood level). The cell model
        sees ``fu * C``. Default 1: ``C`` is taken as the free concentration.
    source : str
        Where the numbers come from.

    Notes
    -----
    :math:`k_e = \\ln 2 / t_{1/2}`, :math:`CL = k_e V`, and at steady state of a dose
    :math:`D` every :math:`\\tau` the average total concentration is
    :math:`\\bar C_{ss} = F D / (CL\\,\\tau)` (mg/L; ×10⁶/MW for nM), whatever ``ka``.
    """

    F: float
    V_L: float
    t_half_h: float
    MW_g_mol: float
    ka_per_h: float | None = None
    fu: float = 1.0
    source: str = ""

    def __post_init__(self):
        for k in ("F", "V_L", "t_half_h", "MW_g_mol", "fu") + (("ka_per_h",) if self.ka_per_h is not None else ()):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(v) or v <= 0:
                raise PerturbationError(f"PK parameter {k} must be a finite number > 0, got {v!r}")
            object.__setattr__(self, k, float(v))
        if self.F > 1:
            raise PerturbationError(f"PK bioavailability F must be in (0, 1], got {self.F}")
        if self.fu > 1:
            raise PerturbationError(f"PK unbound fraction fu must be in (0, 1], got {self.fu}")

    @property
    def ke(self) -> float:
        """Elimination rate constant, 1/h."""
        return math.log(2.0) / self.t_half_h

    @property
    def clearance_L_h(self) -> float:
        return self.ke * self.V_L

    @property
    def nM_per_mg(self) -> float:
        """Total concentration (nM) of 1 mg in the body: ``1e6 / (V * MW)``."""
        return 1e6 / (self.V_L * self.MW_g_mol)

    def css_average_nM(self, dose_mg: float, tau_h: float) -> float:
        """Average steady-state total concentration of ``dose_mg`` every ``tau_h`` hours (nM)."""
        return self.F * dose_mg / (self.clearance_L_h * tau_h) * 1e6 / self.MW_g_mol

    def steady_state_nM(self, dose_mg: float, tau_h: float, n: int = 2001) -> dict:
        """Total concentration over one dosing interval at steady state (closed form).

        Returns
        -------
        dict
            ``cmax``, ``cmin`` and ``cavg`` (nM, total; multiply by ``fu`` for the unbound
            ones), for ``dose_mg`` every ``tau_h`` hours, by superposition of the one-compartment
            solution (bolus, or first-order absorption with ``ka_per_h``).
        """
        t = np.linspace(0.0, tau_h, n)
        ke, c0 = self.ke, self.F * dose_mg * self.nM_per_mg
        if self.ka_per_h is None:
            c = c0 * np.exp(-ke * t) / (1.0 - math.exp(-ke * tau_h))
        else:
            ka = self.ka_per_h
            if abs(ka - ke) < 1e-12 * ke:
                raise PerturbationError("PK with ka == ke has no closed-form steady state here")
            c = c0 * ka / (ka - ke) * (np.exp(-ke * t) / (1.0 - math.exp(-ke * tau_h))
                                      - np.exp(-ka * t) / (1.0 - math.exp(-ka * tau_h)))
        return {"cmax": float(c.max()), "cmin": float(c.min()),
                "cavg": self.css_average_nM(dose_mg, tau_h)}

    @classmethod
    def for_drug(cls, drug: str, catalog: Catalog) -> PK:
        """PK of ``drug`` from its catalogue entry.

        The entry's ``pk`` table gives ``t_half_h``, ``MW_g_mol``, the unbound fraction
        ``fu`` and the volume in one of two ways: ``V_F_L``, the apparent volume of an oral
        dose (V/F, which already contains the bioavailability, so no ``F``), or ``V_L``
        with ``F`` (systemic volume and absolute bioavailability; intravenous or
        intramuscular drugs: ``F = 1``). Optional: ``ka_per_h``.

        Raises
        ------
        PerturbationError
            The drug is not in the catalogue; its entry has no complete ``pk`` table; it
            gives both ``V_F_L`` and ``F`` (bioavailability counted twice) or neither
            volume; or it has no unbound fraction ``fu`` (a clinical dose acts through the
            unbound concentration, so the drug cannot be dosed in mg without it).
        """
        entry = catalog.drug(drug)
        pk = entry.get("pk")
        where = f"drug '{drug}': the pk entry of its catalogue{catalog.where}"
        if not isinstance(pk, dict):
            raise PerturbationError(f"drug '{drug}' has no [pk] entry in its catalogue"
                                    f"{catalog.where}; give Dose(..., pk=PK(F=..., V_L=..., "
                                    f"t_half_h=..., MW_g_mol=..., fu=...))")
        if "V_F_L" in pk and ("F" in pk or "V_L" in pk):
            raise PerturbationError(
                f"{where} gives the apparent volume V_F_L (= V/F, which already contains the "
                f"bioavailability) together with {'F' if 'F' in pk else 'V_L'}; give either "
                f"V_F_L alone or the systemic volume V_L with F")
        if "V_L" in pk and "F" not in pk:
            raise PerturbationError(f"{where} gives the systemic volume V_L without the "
                                    f"bioavailability F (use F = 1 for i.v. or i.m. doses)")
        missing = [k for k in ("t_half_h", "MW_g_mol") if k not in pk]
        if "V_F_L" not in pk and "V_L" not in pk:
            missing.insert(0, "V_F_L (or V_L with F)")
        if missing:
            raise PerturbationError(f"{where} lacks {', '.join(repr(m) for m in missing)}")
        if "fu" not in pk:
            raise PerturbationError(
                f"{where} has no unbound fraction fu: a dose in mg acts on the cell through "
                f"the unbound concentration fu x C_total, and no plasma protein binding is "
                f"cited for this drug; give the drug in nM, or a cited fu in the catalogue "
                f"(or Dose(..., pk=PK(..., fu=...)))")
        V, F = (pk["V_F_L"], 1.0) if "V_F_L" in pk else (pk["V_L"], pk["F"])
        return cls(F=F, V_L=V, t_half_h=pk["t_half_h"], MW_g_mol=pk["MW_g_mol"],
                   ka_per_h=pk.get("ka_per_h"), fu=pk["fu"],
                   source=str(entry.get("pk_source", "")))


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
        For doses in mg; default from the model's catalogue (:meth:`PK.for_drug`).
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
    """A Dose from what :class:`Treatment` accepts; a number is a concentration, checked by
    the rule every verb uses (:func:`simulator.conditions.check_dose`)."""
    if isinstance(spec, Dose):
        return spec
    if not isinstance(spec, tuple):
        return Dose(check_dose(drug, spec))
    if not 1 <= len(spec) <= 3:
        raise PerturbationError(f"drug '{drug}': give a dose as amount, (amount, unit) or "
                                f"(amount, unit, Schedule); got {spec!r}")
    try:
        return Dose(*spec)
    except PerturbationError as err:
        raise PerturbationError(f"drug '{drug}': {err}") from None


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
        object.__setattr__(self, "phenotype", phenotype_names(self.phenotype))

    @classmethod
    def clinical(cls, *drugs: str, catalog, phenotype=(), start: float = 0.0,
                 name: str = "") -> Treatment:
        """Each drug at its label dose (mg) and interval from a catalogue (``pk.dose_mg``,
        ``pk.tau_h``), e.g. ``Treatment.clinical("letrozole", catalog=model)``.

        Parameters
        ----------
        *drugs : str
        catalog : Catalog or Model
            The catalogue, or a model whose catalogue it is.
        """
        if isinstance(catalog, Model):
            catalog = catalog.catalog
        if not isinstance(catalog, Catalog):
            raise PerturbationError(f"catalog must be a Catalog or a Model, got "
                                    f"{type(catalog).__name__}")
        out = {}
        for d in drugs:
            pk = catalog.drug(d).get("pk", {})
            if "dose_mg" not in pk or "tau_h" not in pk:
                raise PerturbationError(f"drug '{d}' has no clinical dose_mg / tau_h in its "
                                        f"catalogue{catalog.where}")
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
            check_drug(model, d)
        phenotype_overrides(model, self.phenotype)
