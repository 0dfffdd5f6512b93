"""Read SBML (Level 2 and 3) into the immutable :class:`~simulator.model.Model`.

The importer records what the file says; it derives nothing (defaults for unset values are
the semantics layer's business, so unset values stay ``None``). It checks, and reports all at
once:

- reader errors from libsbml (malformed XML, invalid SBML) -> :class:`ModelImportError`
  naming the source and line;
- constructs we do not simulate (required SBML packages other than ``comp``, which is
  flattened first by :mod:`simulator.io.comp`; unknown MathML) -> :class:`UnsupportedFeatureError`;
- ids used in math or as targets that name nothing -> :class:`ModelImportError`;
- NaN, infinite or negative sizes and initial values of compartments and species, and
  non-finite stoichiometries -> :class:`InvalidValueError`.

An algebraic rule without math (legal in SBML L3v2, where it means nothing) is recorded and
a :class:`ModelWarning` says it will be ignored, naming its position and line.

Encodings beyond those of :mod:`simulator.model` and :mod:`simulator.io.mathml`:

- ``Reaction.local_parameters``: ``(("R1.k", value), ...)``; ``value`` is ``None`` when
  the local parameter has no value attribute.
- ``SpeciesReference.stoichiometry``: the value, ``None`` when unset (SBML L3, or L2 with
  ``stoichiometryMath``); L2 ``denominator`` is divided in. ``constant`` is False for an
  L2 reference with ``stoichiometryMath``.
- ``Event.id``: the event's id, or ``"event#<n>"`` (1-based position) when it has none.
- ``Compartment.spatial_dimensions``: 3.0 when an L3 compartment leaves it unset.
- ``Model.annotations``: ``("sbml_level", "3")``, ``("sbml_version", "2")``, and the
  model's L3 unit attributes where set (``time_units``, ``substance_units``,
  ``volume_units``, ``extent_units``: unit ids as written, not resolved).
"""
from __future__ import annotations

import copyreg
import hashlib
import math
import os
import threading
from dataclasses import fields, replace
from pathlib import Path

import libsbml

from simulator.catalog import Catalog
from simulator.errors import (InvalidValueError, ModelImportError, ModelWarning,
                              UnsupportedFeatureError, suggest, warn)
from simulator.io.comp import flatten_comp, uses_comp
from simulator.io.limits import (DEFAULT_LIMITS, ImportLimits, check_sbml_text, check_size,
                                 external_files, file_size)
from simulator.io.mathml import FunctionDefinition, MathConverter
from simulator.model import (AlgebraicRule, AssignmentRule, Compartment, Event,
                             EventAssignment, InitialAssignment, Model, Parameter, RateRule,
                             Reaction, Species, SpeciesReference)
from simulator.sources import closure_digest
from simulator.symbolic_store import fetch, keep
from simulator.symbolic_store import key as store_key

__all__ = ["read_sbml_file", "read_sbml_string", "rebuild_model"]

# Packages whose presence does not change the ODE semantics when they are not required.
_IGNORABLE_PACKAGES = {"layout", "render", "groups", "l3v2extendedmath", "annot", "req"}
# Packages that change what the model means even when not required.
_MEANINGFUL_PACKAGES = {"fbc": "flux balance constraints"}
_MAX_READER_ERRORS = 10
# Consistency errors about units only: they do not change the numbers.
_IGNORED_ERRORS = {libsbml.InvalidUnitIdSyntax, libsbml.DanglingUnitReference}


def read_sbml_file(path: str | os.PathLike, limits: ImportLimits = DEFAULT_LIMITS) -> Model:
    """Read an SBML file.

    Parameters
    ----------
    path : str or path-like
        The ``.xml`` / ``.sbml`` file.
    limits : ImportLimits
        Size and nesting limits, checked before libsbml reads the file
        (:mod:`simulator.io.limits`).

    Returns
    -------
    Model

    Raises
    ------
    ModelImportError
        The file is missing, unreadable, malformed or inconsistent.
    UnsupportedFeatureError
        The model uses constructs Crosstalk does not simulate (all listed at once).
    InvalidValueError
        A size or initial value is NaN, infinite or negative.
    """
    path = os.fspath(path)
    check_size(file_size(path), path, limits)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError as err:
        raise ModelImportError(f"SBML file '{path}' does not exist") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ModelImportError(f"cannot read SBML file '{path}': {err}") from err
    return read_sbml_string(text, source=path, limits=limits)


def read_sbml_string(text: str, source: str = "<string>",
                     limits: ImportLimits = DEFAULT_LIMITS) -> Model:
    """Read SBML text; see :func:`read_sbml_file` (``source`` names it in messages).

    A model read once is kept on disk by the hash of its text and of the importer's
    sources (:mod:`simulator.symbolic_store`), with the limits it was checked against,
    unless it names external files (they may change) or its reading warned (the warning is
    due again); the next read loads it, and skips the check of the limits when they are no
    tighter than those (limits only loosen with larger values)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as err:      # e.g. a lone surrogate in a Python string
        raise ModelImportError(f"{source}: character {err.start} of the SBML text cannot be "
                               f"encoded as UTF-8 ({err.reason})") from None
    k = store_key(hashlib.sha256(data).hexdigest(), closure_digest(("simulator.io.sbml",)))
    stored = fetch("model", k)
    kept = stored[0] if isinstance(stored, tuple) and len(stored) == 2 and \
        isinstance(stored[0], Model) and isinstance(stored[1], ImportLimits) else None
    if kept is not None and _no_tighter(limits, stored[1]):
        check_size(len(data), source, limits)
        return replace(kept, source=source)
    refs = check_sbml_text(text, source, limits)
    if refs:
        origin = Path(source) if os.path.isfile(source) else Path.cwd() / "<string>"
        external_files(origin, refs, limits)
        return _read(text, source)[0]
    if kept is not None:
        return replace(kept, source=source)
    model, warned = _read(text, source)
    if not warned:
        keep("model", k, (model, limits))
    return model


def _no_tighter(limits: ImportLimits, than: ImportLimits) -> bool:
    return all(getattr(limits, f.name) >= getattr(than, f.name) for f in fields(ImportLimits))


def _read(text: str, source: str) -> tuple[Model, bool]:
    """The model, and whether reading it warned."""
    doc = libsbml.readSBMLFromString(text)
    unsupported = _check_reader_errors(doc, source)
    if doc.getLevel() == 1:
        # SBML L1 is upgraded by libsbml; its semantics are a subset of L2's.
        if not doc.setLevelAndVersion(2, 4, False):
            unsupported.append("SBML Level 1 document that libsbml cannot convert to Level 2")
    model = doc.getModel()
    if model is None:
        if unsupported:
            raise UnsupportedFeatureError(unsupported, source=source)
        raise ModelImportError(f"{source}: the SBML document has no <model> element")
    unsupported += _check_packages(doc, model)
    if uses_comp(doc):
        try:
            text = flatten_comp(doc, source)  # the Model keeps the flat SBML
        except ModelImportError:
            if unsupported:  # packages we do not simulate may be why flattening failed
                raise UnsupportedFeatureError(unsupported, source=source) from None
            raise
        model = doc.getModel()
        # packages that came in with external model files count too
        unsupported += [u for u in _check_packages(doc, model) if u not in unsupported]
    reader = _Reader(doc, model, text, source, unsupported)
    return reader.read(), reader.warned


# ---------------------------------------------------------------------------------------


def _check_reader_errors(doc: libsbml.SBMLDocument, source: str) -> list[str]:
    """Raise ModelImportError for reader errors; return unknown required packages."""
    errors, unsupported = [], []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() < libsbml.LIBSBML_SEV_ERROR:
            continue
        if err.getErrorId() == libsbml.MissingXMLEncoding:
            continue  # '<?xml version="1.0"?>' without encoding: XML allows it (UTF-8)
        if err.getErrorId() == libsbml.RequiredPackagePresent:
            unsupported.append(f"SBML package: {err.getMessage().strip()}")
            continue
        errors.append(_located(err, source))
    _raise_if_any(errors, "invalid SBML")
    return unsupported


def _check_consistency(doc: libsbml.SBMLDocument, source: str) -> None:
    """libsbml's validation of the core model (identifiers, math, overdetermination).

    Units, modelling-practice and SBO checks are off, unit-id errors (10311, 10313) are
    ignored (they do not change the numbers) and so are package errors (ids >= 100000:
    packages are either ignored or reported as unsupported before this runs). Algebraic
    rules without math are left out of the check (libsbml counts them as equations in its
    overdetermination test, but they constrain nothing).
    """
    model = doc.getModel()
    empty = [i for i in range(model.getNumRules())
             if model.getRule(i).isAlgebraic() and not model.getRule(i).isSetMath()]
    if empty:
        doc = doc.clone()
        for i in reversed(empty):
            doc.getModel().removeRule(i)
    for category in (libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, libsbml.LIBSBML_CAT_MODELING_PRACTICE,
                     libsbml.LIBSBML_CAT_SBO_CONSISTENCY):
        doc.setConsistencyChecks(category, False)
    doc.getErrorLog().clearLog()
    doc.checkConsistency()
    errors = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        eid = err.getErrorId()
        if err.getSeverity() < libsbml.LIBSBML_SEV_ERROR or eid in _IGNORED_ERRORS \
                or eid >= 100000:
            continue
        errors.append(_located(err, source))
    _raise_if_any(errors, "inconsistent SBML")


def _located(err, source: str) -> str:
    """A libsbml error as ``file:line: message``."""
    line = f":{err.getLine()}" if err.getLine() else ""
    return f"{source}{line}: {err.getMessage().strip()}"


def _raise_if_any(errors: list[str], heading: str) -> None:
    """Raise one ModelImportError listing the first errors (and how many more)."""
    if errors:
        more = len(errors) - _MAX_READER_ERRORS
        shown = errors[:_MAX_READER_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise ModelImportError(f"{heading}:\n  " + "\n  ".join(shown))


def _check_packages(doc: libsbml.SBMLDocument, model: libsbml.Model) -> list[str]:
    problems = []
    for i in range(doc.getNumPlugins()):
        name = doc.getPlugin(i).getPackageName()
        required = doc.getPackageRequired(name)
        if name == "comp":
            continue  # flattened by simulator.io.comp before the model is read
        if name in _MEANINGFUL_PACKAGES:
            problems.append(f"SBML package '{name}' ({_MEANINGFUL_PACKAGES[name]})")
        elif required and name not in _IGNORABLE_PACKAGES:
            problems.append(f"SBML package '{name}' (required=\"true\")")
    return problems


def _line(element) -> int | None:
    line = element.getLine()
    return line or None


def _at(element) -> str:
    line = _line(element)
    return f", line {line}" if line else ""


class _Reader:
    """One pass over a libsbml Model, collecting problems; :meth:`read` raises or returns."""

    def __init__(self, doc, model, text, source, unsupported):
        self.doc, self.m, self.text, self.source = doc, model, text, source
        self.level, self.version = doc.getLevel(), doc.getVersion()
        self.unsupported: list[str] = list(unsupported)
        self.invalid_values: list[str] = []
        self.bad_refs: list[str] = []
        self.warned = False

    # -----------------------------------------------------------------------------

    def read(self) -> Model:
        m = self.m
        self.compartment_ids = {c.getId() for c in m.getListOfCompartments()}
        self.species_ids = {s.getId() for s in m.getListOfSpecies()}
        self.parameter_ids = {p.getId() for p in m.getListOfParameters()}
        self.reaction_ids = {r.getId() for r in m.getListOfReactions()}
        self.sref_ids = {sr.getId() for r in m.getListOfReactions()
                         for lst in (r.getListOfReactants(), r.getListOfProducts())
                         for sr in lst if sr.isSetId()}
        self.assignable = self.compartment_ids | self.species_ids | self.parameter_ids \
            | self.sref_ids
        defined = frozenset(self.assignable | self.reaction_ids)
        self.math = MathConverter(self._functions(), defined)

        compartments = tuple(self._compartment(c) for c in m.getListOfCompartments())
        species = tuple(self._species(s) for s in m.getListOfSpecies())
        parameters = tuple(self._parameter(p) for p in m.getListOfParameters())
        reactions = tuple(self._reaction(r) for r in m.getListOfReactions())
        initial_assignments = tuple(self._initial_assignment(a)
                                    for a in m.getListOfInitialAssignments())
        rules = tuple(self._rule(r, k) for k, r in enumerate(m.getListOfRules()))
        events = tuple(self._event(e, i) for i, e in enumerate(m.getListOfEvents()))
        model_cf = m.getConversionFactor() if m.isSetConversionFactor() else None
        if model_cf is not None and model_cf not in self.parameter_ids:
            self.bad_refs.append(f"model conversionFactor '{model_cf}' is not a parameter"
                                 + suggest(model_cf, self.parameter_ids))
        self._raise_problems()
        _check_consistency(self.doc, self.source)
        return Model(
            id=m.getId(),
            compartments=compartments,
            species=species,
            parameters=parameters,
            reactions=reactions,
            initial_assignments=initial_assignments,
            rules=rules,
            events=events,
            conversion_factor=model_cf,
            name=m.getName(),
            source=self.source,
            sbml=self.text,
            annotations=self._annotations(),
        )

    def _annotations(self) -> tuple[tuple[str, str], ...]:
        out = [("sbml_level", str(self.level)), ("sbml_version", str(self.version))]
        if self.level >= 3:
            m = self.m
            for key, is_set, get in (
                    ("time_units", m.isSetTimeUnits, m.getTimeUnits),
                    ("substance_units", m.isSetSubstanceUnits, m.getSubstanceUnits),
                    ("volume_units", m.isSetVolumeUnits, m.getVolumeUnits),
                    ("extent_units", m.isSetExtentUnits, m.getExtentUnits)):
                if is_set():
                    out.append((key, get()))
        return tuple(out)

    def _raise_problems(self) -> None:
        conv = self.math
        unsupported = self.unsupported + conv.unsupported
        if unsupported:
            raise UnsupportedFeatureError(_unique(unsupported), source=self.source)
        refs = list(self.bad_refs)
        for where, name, local in conv.undefined:
            refs.append(f"{where} uses '{name}', which is not a species, compartment, "
                        f"parameter, reaction or species reference"
                        + suggest(name, self.assignable | self.reaction_ids | set(local)))
        refs += conv.invalid
        if refs:
            refs = _unique(refs)
            raise ModelImportError(f"{self.source}: invalid model:\n  - " + "\n  - ".join(refs))
        if self.invalid_values:
            raise InvalidValueError(f"{self.source}: invalid value(s):\n  - "
                                    + "\n  - ".join(self.invalid_values))

    # -----------------------------------------------------------------------------

    def _functions(self) -> dict[str, FunctionDefinition]:
        out = {}
        for fd in self.m.getListOfFunctionDefinitions():
            args = [fd.getArgument(i).getName() for i in range(fd.getNumArguments())]
            out[fd.getId()] = FunctionDefinition(fd.getId(), args, fd.getBody())
        return out

    def _check_value(self, kind: str, eid: str, attr: str, value, element,
                     *, negative_ok: bool = False) -> None:
        if value is None:
            return
        if math.isnan(value) or math.isinf(value):
            self.invalid_values.append(f"{kind} '{eid}' has {attr}={value}{_at(element)}; "
                                       f"expected a finite number")
        elif value < 0 and not negative_ok:
            self.invalid_values.append(f"{kind} '{eid}' has negative {attr}={value}"
                                       f"{_at(element)}; expected a value >= 0")

    def _compartment(self, c) -> Compartment:
        size = c.getSize() if c.isSetSize() else None
        self._check_value("compartment", c.getId(), "size", size, c)
        if self.level < 3:
            dims = float(c.getSpatialDimensions())
        else:
            dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else 3.0
        return Compartment(id=c.getId(), size=size, constant=c.getConstant(),
                           spatial_dimensions=dims, name=c.getName(), line=_line(c))

    def _species(self, s) -> Species:
        sid = s.getId()
        amount = s.getInitialAmount() if s.isSetInitialAmount() else None
        conc = s.getInitialConcentration() if s.isSetInitialConcentration() else None
        self._check_value("species", sid, "initialAmount", amount, s)
        self._check_value("species", sid, "initialConcentration", conc, s)
        if s.getCompartment() not in self.compartment_ids:
            self.bad_refs.append(f"species '{sid}'{_at(s)} is in compartment "
                                 f"'{s.getCompartment()}', which does not exist"
                                 + suggest(s.getCompartment(), self.compartment_ids))
        cf = s.getConversionFactor() if s.isSetConversionFactor() else None
        if cf is not None and cf not in self.parameter_ids:
            self.bad_refs.append(f"species '{sid}'{_at(s)} has conversionFactor '{cf}', "
                                 f"which is not a parameter" + suggest(cf, self.parameter_ids))
        return Species(
            id=sid, compartment=s.getCompartment(), initial_amount=amount,
            initial_concentration=conc,
            has_only_substance_units=s.getHasOnlySubstanceUnits(),
            boundary_condition=s.getBoundaryCondition(), constant=s.getConstant(),
            conversion_factor=cf, name=s.getName(), line=_line(s))

    def _parameter(self, p) -> Parameter:
        value = p.getValue() if p.isSetValue() else None
        # NaN and +-INF are legal parameter values in SBML (test suite case 00951).
        return Parameter(id=p.getId(), value=value, constant=p.getConstant(),
                         name=p.getName(), units=p.getUnits(), line=_line(p))

    def _species_reference(self, sr, rid: str, role: str) -> SpeciesReference:
        species = sr.getSpecies()
        if species not in self.species_ids:
            self.bad_refs.append(f"reaction '{rid}'{_at(sr)} has {role} '{species}', which "
                                 f"is not a species" + suggest(species, self.species_ids))
        stoich_math = None
        if self.level < 3:
            if sr.isSetStoichiometryMath() and sr.getStoichiometryMath().isSetMath():
                stoich_math = self.math.number(
                    sr.getStoichiometryMath().getMath(),
                    where=f"reaction '{rid}' ({role} '{species}' stoichiometryMath{_at(sr)})")
                stoich, constant = None, False
            else:
                stoich = sr.getStoichiometry()
                den = sr.getDenominator()
                if den != 1:
                    stoich = stoich / den
                constant = True
        else:
            stoich = sr.getStoichiometry() if sr.isSetStoichiometry() else None
            constant = sr.getConstant()
        if stoich is not None and not math.isfinite(stoich):
            self.invalid_values.append(f"reaction '{rid}' {role} '{species}' has "
                                       f"stoichiometry={stoich}{_at(sr)}; expected a finite "
                                       f"number")
        return SpeciesReference(species=species, stoichiometry=stoich,
                                id=sr.getId() if sr.isSetId() else None, constant=constant,
                                stoichiometry_math=stoich_math)

    def _reaction(self, r) -> Reaction:
        rid = r.getId()
        reactants = tuple(self._species_reference(sr, rid, "reactant")
                          for sr in r.getListOfReactants())
        products = tuple(self._species_reference(sr, rid, "product")
                         for sr in r.getListOfProducts())
        modifiers = []
        for mod in r.getListOfModifiers():
            if mod.getSpecies() not in self.species_ids:
                self.bad_refs.append(f"reaction '{rid}'{_at(mod)} has modifier "
                                     f"'{mod.getSpecies()}', which is not a species"
                                     + suggest(mod.getSpecies(), self.species_ids))
            modifiers.append(mod.getSpecies())
        fast = bool(r.isSetFast() and r.getFast())  # made explicit by simulator.constraints
        rate, local_params = None, ()
        if r.isSetKineticLaw():
            kl = r.getKineticLaw()
            plist = kl.getListOfLocalParameters() if self.level >= 3 \
                else kl.getListOfParameters()
            local = {p.getId(): f"{rid}.{p.getId()}" for p in plist}
            local_params = tuple((f"{rid}.{p.getId()}", p.getValue() if p.isSetValue() else None)
                                 for p in plist)
            if kl.isSetMath():
                rate = self.math.number(kl.getMath(), local=local,
                                        where=f"reaction '{rid}' (kineticLaw{_at(kl)})")
        return Reaction(id=rid, reactants=reactants, products=products,
                        modifiers=tuple(modifiers), rate=rate, local_parameters=local_params,
                        reversible=r.getReversible(), fast=fast, name=r.getName(),
                        line=_line(r))

    def _target(self, kind: str, variable: str, element) -> None:
        if variable not in self.assignable:
            self.bad_refs.append(f"{kind}{_at(element)} sets '{variable}', which is not a "
                                 f"species, compartment, parameter or species reference"
                                 + suggest(variable, self.assignable))

    def _initial_assignment(self, a) -> InitialAssignment:
        sym = a.getSymbol()
        self._target(f"initialAssignment to '{sym}'", sym, a)
        math_ = self.math.number(a.getMath() if a.isSetMath() else None,
                                 where=f"initialAssignment to '{sym}'{_at(a)}")
        return InitialAssignment(symbol=sym, math=math_, line=_line(a))

    def _rule(self, r, index: int):
        ast = r.getMath() if r.isSetMath() else None
        if r.isAlgebraic() and ast is None:
            line = _line(r)
            rid = f" '{r.getId()}'" if r.isSetId() else ""
            self.warned = True
            warn(f"model '{self.m.getId()}' ({self.source}" + (f", line {line}" if line else "")
                 + f"): algebraic rule{rid} {index + 1} of the listOfRules has no math; it "
                 "constrains nothing and is ignored", ModelWarning)
        if r.isAlgebraic():  # solved for its variable by simulator.constraints
            return AlgebraicRule(math=self.math.number(ast, where=f"algebraic rule{_at(r)}"),
                                 line=_line(r))
        var = r.getVariable()
        kind = "assignmentRule" if r.isAssignment() else "rateRule"
        self._target(f"{kind} for '{var}'", var, r)
        math_ = self.math.number(ast, where=f"{kind} for '{var}'{_at(r)}")
        if r.isAssignment():
            return AssignmentRule(variable=var, math=math_, line=_line(r))
        return RateRule(variable=var, math=math_, line=_line(r))

    def _event(self, e, index: int) -> Event:
        eid = e.getId() if e.isSetId() else f"event#{index + 1}"
        where = f"event '{eid}'"
        trigger, initial_value, persistent = None, True, True
        if e.isSetTrigger():
            trig = e.getTrigger()
            if trig.isSetMath():
                trigger = self.math.boolean(trig.getMath(), where=f"{where} (trigger{_at(trig)})")
            if self.level >= 3:
                initial_value, persistent = trig.getInitialValue(), trig.getPersistent()
        delay = priority = None
        if e.isSetDelay() and e.getDelay().isSetMath():
            delay = self.math.number(e.getDelay().getMath(), where=f"{where} (delay)")
        if e.isSetPriority() and e.getPriority().isSetMath():
            priority = self.math.number(e.getPriority().getMath(), where=f"{where} (priority)")
        assignments = []
        for ea in e.getListOfEventAssignments():
            var = ea.getVariable()
            self._target(f"{where} eventAssignment", var, ea)
            assignments.append(EventAssignment(
                variable=var,
                math=self.math.number(ea.getMath() if ea.isSetMath() else None,
                                      where=f"{where} (assignment to '{var}'{_at(ea)})")))
        return Event(id=eid, trigger=trigger, assignments=tuple(assignments),
                     initial_value=initial_value, persistent=persistent, delay=delay,
                     priority=priority,
                     use_values_from_trigger_time=e.getUseValuesFromTriggerTime(),
                     line=_line(e))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------------------
# pickling: a model travels as its SBML text and is rebuilt once per process and hash
# (registered here, where every Model is made)

_REBUILT: dict[str, Model] = {}
_REBUILT_LOCK = threading.Lock()


def rebuild_model(model_hash: str, sbml: str, source: str, catalog: Catalog) -> Model:
    """The model pickled by :func:`_reduce_model`: read from SBML once per process."""
    with _REBUILT_LOCK:
        base = _REBUILT.get(model_hash)
        if base is None:
            base = _REBUILT[model_hash] = read_sbml_string(sbml, source)
    return base.with_catalog(catalog)


def _reduce_model(model: Model):
    return rebuild_model, (model.hash, model.sbml, model.source, model.catalog)


copyreg.pickle(Model, _reduce_model)
