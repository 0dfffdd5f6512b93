"""Derived models: a model plus the events and PK that a treatment's schedules need.

A constant concentration from ``t = 0`` is a plain parameter override. Anything else needs
time-dependent drug levels, written into a *derived* model: the SBML of the original plus
new parameters (ids starting ``xt_``), rate rules (drug in the body) and events (doses,
exposure windows), built with libsbml from our own ids and numbers and loaded like any
model (own hash, cache and pickling; the original's catalogue). The original
:class:`~simulator.model.Model` is never mutated. A derived model is built once per schedule
structure; the dose itself is a parameter (``xt_<drug>_amount``), so a dose-response reuses
one compiled model.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import libsbml

from simulator.conditions import check_drug, phenotype_names, phenotype_overrides
from simulator.errors import PerturbationError
from simulator.io.loader import load
from simulator.model import Model
from simulator.treatments.schedule import PK, Dose, Treatment

__all__ = ["PreparedTreatment", "prepare", "derive_model"]


@dataclass(frozen=True)
class PreparedTreatment:
    """A treatment made runnable on a model.

    Attributes
    ----------
    model : Model
        The original model, or the derived one with the schedules' events and PK.
    drugs : dict
        The drugs at a constant concentration from ``t = 0`` (id -> nM), for ``drugs=``.
    params : dict
        The dose amounts of scheduled drugs (``xt_<drug>_amount`` -> nM or mg), for
        ``params=``.
    phenotype : tuple of str
    dose_ids : dict
        Drug -> the parameter that holds its dose (the drug itself for constant drugs).
    """

    model: Model
    drugs: dict
    params: dict
    phenotype: tuple
    dose_ids: dict


_DERIVED: OrderedDict = OrderedDict()
_DERIVED_LOCK = threading.Lock()
_MAX_DERIVED = 32


def prepare(model: Model, treatment: Treatment, *, phenotype=None) -> PreparedTreatment:
    """Validate ``treatment`` on ``model`` and build (or fetch) the derived model it needs."""
    if not isinstance(treatment, Treatment):
        raise PerturbationError(f"treatment must be a Treatment, got {type(treatment).__name__}")
    phen = phenotype_names(phenotype)
    phen += tuple(p for p in treatment.phenotype if p not in phen)
    treatment.validate(model)
    phenotype_overrides(model, phen)
    scheduled = {d: dose for d, dose in treatment.drugs.items() if not dose.constant}
    derived, ids = derive_model(model, scheduled) if scheduled else (model, {})
    drugs, params, dose_ids = {}, {}, {}
    for d, dose in treatment.drugs.items():
        pid = d if dose.constant else ids[d]
        (drugs if dose.constant else params)[pid] = dose.amount
        dose_ids[d] = pid
    return PreparedTreatment(derived, drugs, params, phen, dose_ids)


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
        check_drug(model, d)
        pk = None
        if dose.unit == "mg":
            pk = dose.pk or PK.for_drug(d, model.catalog)
        items.append((d, dose.unit, dose.schedule, pk))
    key = (model.hash, tuple(items))
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
        if hit is not None:
            _DERIVED.move_to_end(key)
    if hit is None:
        derived, ids = _build_derived(model, items)
        hit = (derived.with_catalog(model.catalog), ids)
        with _DERIVED_LOCK:
            _DERIVED[key] = hit
            while len(_DERIVED) > _MAX_DERIVED:
                _DERIVED.popitem(last=False)
    derived, ids = hit
    # the catalogue does not change the SBML: the cached model, with this model's catalogue
    return (derived if derived.catalog is model.catalog else
            derived.with_catalog(model.catalog)), ids


def _f(x: float) -> str:
    """A float literal for generated formulas (repr round-trips exactly)."""
    x = float(x)
    if not math.isfinite(x):
        raise PerturbationError(f"internal: non-finite number {x} in a generated formula")
    return repr(x)


class _Sbml:
    """Edit an SBML document with libsbml, with ids and formulas we generate."""

    def __init__(self, model: Model):
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
        fu = s.param(f"{tag}_fu", pk.fu, constant=True)
        if pk.ka_per_h is not None:
            depot = s.param(f"{tag}_depot_mg", 0.0, constant=False)
            ka = s.param(f"{tag}_ka", pk.ka_per_h, constant=True)
            s.rate_rule(depot, f"-{ka} * {depot}")
            s.rate_rule(central, f"{ka} * {depot} - {ke} * {central}")
            target = depot
        else:
            s.rate_rule(central, f"-{ke} * {central}")
            target = central
        # the cell sees the unbound concentration: fu x total
        s.assignment_rule(drug, f"{central} * {conv} * {fu}")
        give = [(target, f"{target} + {F} * {amount}")]
        if sch.kind == "doses":
            for k, t in enumerate(sch.times):
                s.stream(f"{tag}_dose{k}", sch.start + t, None, sch.stop, give)
            if sch.interval is not None:
                first = sch.start + (sch.times[-1] + sch.interval if sch.times else 0.0)
                s.stream(f"{tag}_maint", first, sch.interval, sch.stop, give)
        else:  # intermittent: doses every dose_every inside each window
            for j in range(sch.per_window()):
                s.stream(f"{tag}_win{j}", sch.start + j * sch.dose_every, sch.interval, sch.stop, give)
    derived = load(s.text())
    return derived, ids
