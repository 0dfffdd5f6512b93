"""From the cell model's fate rates to the growth of a patient's tumour.

The cell model reports a net growth rate ``g(t)`` (the bundled model's ``growth_rate``,
proliferation minus apoptosis, per day). Its integral is the log of a cell state's
population: ``L(t) = ∫ g dt``. Each trial simulation carries that integral as one extra
state, ``xt_log_burden`` (``d/dt = g / hours-per-unit``), added to the model here with
libsbml (the model is never mutated; a new one is loaded). The catalogue's
``reset_at_start`` species (the bundled model's ``tumor_burden``, which grows without bound
and feeds back on nothing) are held fixed in that copy: the log burden replaces them, and
over years of follow-up a fast clone's burden would overflow a double.

A patient's lesion volume is a mixture of cell states ``c`` with fractions ``w_c``::

    V(t) / V(0) = Σ_c w_c exp(κ L_c(t))

``κ`` maps the culture time scale onto the clinic: MCF-7-like cells in the model double in
about 2.5 days untreated, ER+ metastatic lesions in months. Most of a tumour's cell
production is lost (cell-loss factor, Steel 1967) and only a fraction cycles, so the net
in-vivo rate is a small multiple of the in-vitro one, κ = ln 2 / (T_d · g_ref), with
``g_ref`` the untreated parental growth rate of the model and ``T_d`` the patient's
untreated volume doubling time (log-normal between patients; docs/trials.md). The signalling
and adaptation dynamics (hours to weeks) keep their own time; only net growth is scaled.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import libsbml

from simulator.errors import PerturbationError
from simulator.io.loader import load
from simulator.model import Model

__all__ = ["with_log_burden", "LOG_BURDEN"]

LOG_BURDEN = "xt_log_burden"
_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def with_log_burden(model: Model, readout: str = "growth_rate", per_hours: float = 24.0) -> Model:
    """``model`` plus a state ``xt_log_burden`` with ``d/dt = readout / per_hours``.

    Parameters
    ----------
    model : Model
    readout : str
        A net growth rate of the model (a parameter, rule target or species).
    per_hours : float
        Model time units per unit of the readout's rate (24: a rate per day, time in hours).
    """
    hold = tuple(model.catalog.reset_at_start)
    key = (model.hash, readout, float(per_hours), hold)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit if hit.catalog is model.catalog else hit.with_catalog(model.catalog)
    doc = libsbml.readSBMLFromString(model.sbml)
    m = doc.getModel()
    if m is None:
        raise PerturbationError(f"model '{model.id}' has no SBML text")
    if m.getElementBySId(readout) is None:
        raise PerturbationError(f"model '{model.id}' has no growth readout '{readout}'")
    if (doc.getLevel(), doc.getVersion()) < (3, 1):
        doc.setLevelAndVersion(3, 2, False)
        m = doc.getModel()
    if m.getElementBySId(LOG_BURDEN) is not None:
        raise PerturbationError(f"model '{model.id}' already has an element '{LOG_BURDEN}'")
    p = m.createParameter()
    p.setId(LOG_BURDEN)
    p.setValue(0.0)
    p.setConstant(False)
    r = m.createRateRule()
    r.setVariable(LOG_BURDEN)
    r.setMath(libsbml.parseL3Formula(f"{readout} / {float(per_hours)!r}"))
    for sid in hold:
        # the catalogue's unbounded burden readouts (they feed back on nothing): held fixed,
        # since the log burden replaces them; over years a fast clone's would overflow
        sp = m.getSpecies(sid)
        if sp is not None:
            sp.setBoundaryCondition(True)
    out = load(libsbml.writeSBMLToString(doc)).with_catalog(model.catalog)
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return out
