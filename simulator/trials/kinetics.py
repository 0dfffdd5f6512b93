"""From the cell model's fate rates to the growth of a patient's tumour.

The cell model reports a proliferation rate ``P(t)`` and an apoptosis rate ``A(t)`` (the
bundled model's ``proliferation`` and ``apoptosis``, per day). Each trial simulation carries
their integrals as two extra states, ``xt_produced`` and ``xt_lost`` (``d/dt = rate /
hours-per-unit``), added to the model here with libsbml (the model is never mutated; a new
one is loaded). The catalogue's ``reset_at_start`` species (the bundled model's
``tumor_burden``, which grows without bound and feeds back on nothing) are held fixed in
that copy: the lesion is computed from the integrals, and over years of follow-up a fast
clone's burden would overflow a double.

A patient's lesion volume is a mixture of cell states ``c`` with fractions ``w_c``::

    V(t) / V(0) = Σ_c w_c exp(ln 2 / T_d · Λ_c(t))

with ``T_d`` the patient's untreated volume doubling time and ``Λ_c(t)`` (days) the time
integral of the cell state's in-vivo growth rate relative to the untreated parental cell's,
given by a :class:`LesionMapping` of its proliferation and apoptosis::

    Λ(t) = ∫ [x(s) − θ − ψ (a(s) − a_u)] ds / (1 − θ),   x = P / P_u,  a = A / P_u

``P_u``, ``A_u`` are the untreated parental cell's rates, so Λ grows at one unit per day
untreated. ``θ`` (the *threshold*) is the relative proliferation at which a lesion stops
growing: in vivo most cell production is lost (the cell-loss factor φ, Steel 1967), and a
share of that loss follows production (cells born into a crowded, hypoxic tumour die at the
rate they are made). With loss ``φ·P_u·(c·x + 1 − c)`` the lesion's net rate is
proportional to ``x − θ`` with ``θ = φ(1 − c)/(1 − φc)``: one number, 0 when all loss is
coupled (a proliferation cut only slows growth), φ when none is. ``ψ`` weighs the cell
model's own apoptosis above the parental rate: in patients, endocrine therapy cuts Ki67 but
does not raise apoptosis (IMPACT, Dowsett et al., Clin Cancer Res 2005;11:951s), so the
in-vivo default is 0. ``LesionMapping.culture`` is the culture's own net rate
(``θ = a_u``, ``ψ = 1``: ``Λ ∝ ∫(P − A)``), the mapping used before.

The signalling and adaptation dynamics (hours to weeks) keep their own time; only the
lesion's growth is scaled to the clinic.
"""
from __future__ import annotations

import math
import numbers
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass

import libsbml
import numpy as np

from simulator.errors import InvalidValueError, PerturbationError
from simulator.io.loader import load
from simulator.model import Model

__all__ = ["with_fate_integrals", "PRODUCED", "LOST", "LesionMapping", "IN_VIVO"]

PRODUCED = "xt_produced"
LOST = "xt_lost"
_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class LesionMapping:
    """How a cell state's proliferation and apoptosis become a lesion's growth.

    Attributes
    ----------
    threshold : float
        θ in [0, 1): the proliferation, relative to the untreated parental cell's, below
        which a lesion shrinks.
    apoptosis_weight : float
        ψ ≥ 0: the weight of the cell model's apoptosis above the parental rate.
    source : str
        Where the values come from.
    """

    threshold: float
    apoptosis_weight: float = 0.0
    source: str = ""

    def __post_init__(self):
        th, psi = self.threshold, self.apoptosis_weight
        if not (_real(th) and 0.0 <= th < 1.0):
            raise InvalidValueError(f"lesion mapping threshold must be in [0, 1), got {th!r}")
        if not (_real(psi) and psi >= 0.0):
            raise InvalidValueError(f"lesion mapping apoptosis_weight must be a finite number "
                                    f">= 0, got {psi!r}")

    @classmethod
    def in_vivo(cls) -> LesionMapping:
        """The default, :data:`IN_VIVO`."""
        return IN_VIVO

    @classmethod
    def culture(cls, p_u: float, a_u: float) -> LesionMapping:
        """The culture's net growth ``P − A`` scaled to the clinic (the mapping before):
        ``θ = A_u / P_u``, ``ψ = 1``, from the parental rates ``p_u > a_u >= 0``."""
        _check_rates(p_u, a_u)
        if not a_u < p_u:
            raise InvalidValueError(f"lesion mapping: the culture's net growth needs the "
                                    f"parental proliferation rate above its apoptosis rate, "
                                    f"got P_u = {p_u!r}, A_u = {a_u!r}")
        return cls(threshold=a_u / p_u, apoptosis_weight=1.0, source="culture net growth")

    def burden(self, produced, lost, t, p_u: float, a_u: float) -> np.ndarray:
        """Λ from the integrals of ``P`` and ``A`` over ``t`` (the rates' own time unit;
        the integrals are rate × time, ``P_u`` and ``A_u`` rates in that unit), in that time
        unit; arrays broadcast."""
        _check_rates(p_u, a_u)
        t = np.asarray(t, dtype=float)
        x = np.asarray(produced, dtype=float) / p_u - self.threshold * t
        if self.apoptosis_weight:
            x = x - self.apoptosis_weight * (np.asarray(lost, dtype=float) - a_u * t) / p_u
        return x / (1.0 - self.threshold)

    def as_dict(self) -> dict:
        return asdict(self)


def _real(x) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _check_rates(p_u, a_u) -> None:
    if not (_real(p_u) and p_u > 0.0):
        raise InvalidValueError(f"lesion mapping: the parental proliferation rate P_u must be "
                                f"a positive number, got {p_u!r}")
    if not (_real(a_u) and a_u >= 0.0):
        raise InvalidValueError(f"lesion mapping: the parental apoptosis rate A_u must be a "
                                f"number >= 0, got {a_u!r}")


#: The default (docs/trials.md, "For a modeller: the mapping"): a lesion grows with its cells'
#: proliferation; its loss follows production, and therapy adds no apoptosis.
IN_VIVO = LesionMapping(
    threshold=0.0, apoptosis_weight=0.0,
    source="threshold 0: all in-vivo cell loss coupled to production (Steel's cell-loss "
           "factor); apoptosis weight 0: IMPACT (Dowsett et al., Clin Cancer Res "
           "2005;11:951s), endocrine therapy lowers Ki67 but does not raise apoptosis")


def _rate_over(rid: str, per_hours: float) -> libsbml.ASTNode:
    """The AST of ``rid / per_hours``, built from nodes (no formula text is parsed)."""
    div = libsbml.ASTNode(libsbml.AST_DIVIDE)
    name = libsbml.ASTNode(libsbml.AST_NAME)
    name.setName(rid)
    num = libsbml.ASTNode(libsbml.AST_REAL)
    num.setValue(per_hours)
    div.addChild(name)
    div.addChild(num)
    return div


def with_fate_integrals(model: Model, production: str = "proliferation",
                        loss: str | None = "apoptosis", per_hours: float = 24.0) -> Model:
    """``model`` plus states ``xt_produced`` and ``xt_lost``: ``d/dt = rate / per_hours``.

    Parameters
    ----------
    model : Model
    production, loss : str
        The model's proliferation and cell-death rates (parameters, rule targets or
        species). ``loss=None`` leaves ``xt_lost`` at 0 (a model with one net rate: pass it
        as ``production`` with a threshold of 0).
    per_hours : float
        Model time units per unit of the rates (24: rates per day, time in hours).
    """
    hold = tuple(model.catalog.reset_at_start)
    key = (model.hash, production, loss, float(per_hours), hold)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit if hit.catalog is model.catalog else hit.with_catalog(model.catalog)
    doc = libsbml.readSBMLFromString(model.sbml)
    m = doc.getModel()
    if m is None:
        raise PerturbationError(f"model '{model.id}' has no SBML text")
    for what, rid in (("proliferation", production), ("cell-death", loss)):
        if rid is not None and m.getElementBySId(rid) is None:
            raise PerturbationError(f"model '{model.id}' has no {what} readout '{rid}'")
    if (doc.getLevel(), doc.getVersion()) < (3, 1):
        doc.setLevelAndVersion(3, 2, False)
        m = doc.getModel()
    for sid, rid in ((PRODUCED, production), (LOST, loss)):
        if m.getElementBySId(sid) is not None:
            raise PerturbationError(f"model '{model.id}' already has an element '{sid}'")
        p = m.createParameter()
        p.setId(sid)
        p.setValue(0.0)
        p.setConstant(False)
        if rid is not None:
            r = m.createRateRule()
            r.setVariable(sid)
            r.setMath(_rate_over(rid, float(per_hours)))
    for sid in hold:
        # the catalogue's unbounded burden readouts (they feed back on nothing): held fixed,
        # since the lesion comes from the integrals; over years a fast clone's would overflow
        sp = m.getSpecies(sid)
        if sp is not None:
            sp.setBoundaryCondition(True)
    out = load(libsbml.writeSBMLToString(doc)).with_catalog(model.catalog)
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > 8:
            _CACHE.popitem(last=False)
    return out
