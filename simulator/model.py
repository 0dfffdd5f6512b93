"""The immutable intermediate representation of a model (the "IR").

It mirrors SBML closely: what the importer read, nothing derived. Math is held as sympy
expressions built node by node from the SBML AST (see :mod:`simulator.mathml`); a symbol's
name is the SBML id it refers to. Compiling never mutates a :class:`Model`.

Special symbols
---------------
``TIME``                 the csymbol time
``RateOf(x)``            the csymbol rateOf applied to the symbol ``x``
local parameters         ``Symbol("R1.k")`` (reaction id, dot, local id: a dot cannot occur
                         in an SBML id, so names never clash)
species references       ``Symbol(<speciesReference id>)`` where math uses a reference's id
avogadro                 replaced by its value, :data:`AVOGADRO`
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import sympy

TIME = sympy.Symbol("_time_", real=True)
AVOGADRO = 6.02214179e23  # the value SBML Level 3 defines


class RateOf(sympy.Function):
    """Unevaluated csymbol ``rateOf(x)``: the time derivative of ``x``."""

    nargs = 1


@dataclass(frozen=True)
class Compartment:
    id: str
    size: float | None
    constant: bool = True
    spatial_dimensions: float = 3.0
    name: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Species:
    id: str
    compartment: str
    initial_amount: float | None = None
    initial_concentration: float | None = None
    has_only_substance_units: bool = False
    boundary_condition: bool = False
    constant: bool = False
    conversion_factor: str | None = None
    name: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Parameter:
    id: str
    value: float | None
    constant: bool = True
    name: str = ""
    units: str = ""
    line: int | None = None


@dataclass(frozen=True)
class SpeciesReference:
    """A reactant or product. ``stoichiometry`` is None when only ``stoichiometry_math``
    (SBML L2) or rules / initial assignments on ``id`` (SBML L3) give it."""

    species: str
    stoichiometry: float | None = 1.0
    id: str | None = None
    constant: bool = True
    stoichiometry_math: sympy.Expr | None = None


@dataclass(frozen=True)
class Reaction:
    id: str
    reactants: tuple[SpeciesReference, ...]
    products: tuple[SpeciesReference, ...]
    modifiers: tuple[str, ...] = ()
    rate: sympy.Expr | None = None        # kinetic law, extensive (amount / time); None = no math
    local_parameters: tuple[tuple[str, float | None], ...] = ()   # (("R1.k", 0.1), ...)
    reversible: bool = False
    fast: bool = False
    name: str = ""
    line: int | None = None


@dataclass(frozen=True)
class InitialAssignment:
    symbol: str
    math: sympy.Expr | None
    line: int | None = None


@dataclass(frozen=True)
class AssignmentRule:
    variable: str
    math: sympy.Expr | None
    line: int | None = None


@dataclass(frozen=True)
class RateRule:
    variable: str
    math: sympy.Expr | None
    line: int | None = None


@dataclass(frozen=True)
class AlgebraicRule:
    math: sympy.Expr | None
    line: int | None = None


@dataclass(frozen=True)
class EventAssignment:
    variable: str
    math: sympy.Expr | None


@dataclass(frozen=True)
class Event:
    id: str
    trigger: sympy.Expr | None                 # boolean expression
    assignments: tuple[EventAssignment, ...] = ()
    initial_value: bool = True
    persistent: bool = True
    delay: sympy.Expr | None = None
    priority: sympy.Expr | None = None
    use_values_from_trigger_time: bool = True
    line: int | None = None


@dataclass(frozen=True)
class Model:
    """An SBML model as read, immutable. Build one with :func:`simulator.load_model`."""

    id: str
    compartments: tuple[Compartment, ...] = ()
    species: tuple[Species, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    initial_assignments: tuple[InitialAssignment, ...] = ()
    rules: tuple[AssignmentRule | RateRule | AlgebraicRule, ...] = ()
    events: tuple[Event, ...] = ()
    conversion_factor: str | None = None      # model-wide species conversion factor
    name: str = ""
    source: str = "<string>"                  # file path, or "<string>"
    sbml: str = field(default="", repr=False)  # the SBML text it came from (hashing, pickling)
    annotations: tuple[tuple[str, str], ...] = ()  # free metadata, e.g. (("phenotypes", path),)

    @cached_property
    def hash(self) -> str:
        """sha256 of the SBML text: identifies the model in caches and provenance."""
        return hashlib.sha256(self.sbml.encode()).hexdigest()

    @property
    def species_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.species)

    @property
    def parameter_ids(self) -> tuple[str, ...]:
        """Global parameters, then local parameters as ``"reaction.local"``."""
        local = tuple(k for r in self.reactions for k, _ in r.local_parameters)
        return tuple(p.id for p in self.parameters) + local

    @property
    def compartment_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.compartments)

    @cached_property
    def rule_variables(self) -> frozenset[str]:
        """Ids set by an assignment or rate rule (they cannot be set from outside)."""
        return frozenset(r.variable for r in self.rules if not isinstance(r, AlgebraicRule))

    @cached_property
    def global_parameter_ids(self) -> frozenset[str]:
        """Ids of the model's global parameters, as a set for membership tests."""
        return frozenset(p.id for p in self.parameters)

    @property
    def assignment_rule_ids(self) -> tuple[str, ...]:
        return tuple(r.variable for r in self.rules if isinstance(r, AssignmentRule))

    def __reduce__(self):
        # Pickle as SBML text: cheap to send to workers, rebuilt by the importer there.
        from simulator.io.sbml import read_sbml_string
        return (read_sbml_string, (self.sbml, self.source))
