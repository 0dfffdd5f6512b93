"""The immutable intermediate representation of a model (the "IR").

It mirrors SBML closely: what the importer read, nothing derived. Math is held as sympy
expressions built node by node from the SBML AST (see :mod:`simulator.io.mathml`); a symbol's
name is the SBML id it refers to. Compiling never mutates a :class:`Model`.

Special symbols
---------------
``TIME``                 the csymbol time
``RateOf(x)``            the csymbol rateOf applied to the symbol ``x``
``Delay(x, tau)``        the csymbol delay: the value of ``x`` at time ``t - tau``
local parameters         ``Symbol("R1.k")`` (reaction id, dot, local id: a dot cannot occur
                         in an SBML id, so names never clash)
species references       ``Symbol(<speciesReference id>)`` where math uses a reference's id
avogadro                 replaced by its value, :data:`AVOGADRO`

A :class:`Model` may carry a :class:`~simulator.catalog.Catalog`: what experiments need to
know about it (drugs, phenotypes, readouts reset at treatment start). Pickling (to sweep
workers) is registered by the importer, :mod:`simulator.io`, which rebuilds a model from its
SBML text.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property

import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom, BooleanFunction

from simulator.catalog import Catalog

TIME = sympy.Symbol("_time_", real=True)
AVOGADRO = 6.02214179e23  # the value SBML Level 3 defines


class RateOf(sympy.Function):
    """Unevaluated csymbol ``rateOf(x)``: the time derivative of ``x``."""

    nargs = 1


class Delay(sympy.Function):
    """csymbol ``delay(x, tau)``: the value of the expression ``x`` at time ``t - tau``.

    In a model's math the arguments are model symbols; in an
    :class:`~simulator.system.OdeSystem` they are written in ``(t, y, p)`` and a third
    argument may give ``x`` as it is evaluated before the start time (where ``rateOf`` of a
    quantity follows its initial value, see :mod:`simulator.semantics`). A delayed value does
    not depend on the current state: its derivative with respect to any symbol is 0.
    """

    nargs = (2, 3)

    @classmethod
    def eval(cls, x, tau, *before):
        if x.is_Number and all(b == x for b in before):   # a constant's past value is itself
            return x
        return None

    def _eval_derivative(self, s):
        return sympy.Integer(0)


def outermost_delays(expr: sympy.Basic) -> list:
    """The ``Delay`` nodes of ``expr`` that are not inside another one, in a fixed order."""
    out, todo = [], [expr]
    while todo:
        e = todo.pop()
        if isinstance(e, Delay):
            out.append(e)
        else:
            todo.extend(e.args)
    return list(dict.fromkeys(out))


def is_boolean(expr: sympy.Basic) -> bool:
    """True if ``expr`` is a sympy boolean (relational, logical operator, true/false).

    ``Symbol`` subclasses sympy's ``Boolean`` too, so a plain isinstance check would be wrong.
    """
    return isinstance(expr, (Relational, BooleanAtom, BooleanFunction))


def as_number(expr: sympy.Basic) -> sympy.Expr:
    """A boolean used where a number is expected: true -> 1, false -> 0."""
    if isinstance(expr, BooleanAtom):
        return sympy.Integer(1) if expr is sympy.true else sympy.Integer(0)
    if is_boolean(expr):
        return sympy.Piecewise((sympy.Integer(1), expr), (sympy.Integer(0), True))
    return expr


#: sort key of sympy's canonical argument order (``Basic.compare``)
CANONICAL = functools.cmp_to_key(sympy.Basic.compare)


def product_of(args) -> sympy.Expr:
    """``Mul(*args)``. For the common rate-law case, distinct symbols and powers of distinct
    symbols with numeric exponents times at most one number (also when some of them come
    as products already, as nested binary math gives them), the product is assembled in
    sympy's canonical order without ``Mul.flatten``, whose assumption queries dominate the
    import of a model with hundreds of reactions; anything else goes through ``Mul``."""
    args = list(args)
    number, factors, bases = None, [], set()
    for a in (x for arg in args for x in (arg.args if isinstance(arg, sympy.Mul) else (arg,))):
        if isinstance(a, sympy.Number):
            if number is not None or a == 0 or not a.is_finite:
                return sympy.Mul(*args)
            number = a
            continue
        base = a
        if isinstance(a, sympy.Pow):
            if not (isinstance(a.exp, sympy.Number) and a.exp.is_finite and a.exp != 0):
                return sympy.Mul(*args)
            base = a.base
        if not isinstance(base, sympy.Symbol) or not base.is_commutative or base in bases:
            return sympy.Mul(*args)
        bases.add(base)
        factors.append(a)
    if len(factors) < 2:
        return sympy.Mul(*args)
    factors.sort(key=CANONICAL)
    if number is not None and (number != 1 or isinstance(number, sympy.Float)):
        factors.insert(0, number)
    return sympy.Mul._from_args(factors, True)


def as_boolean(expr: sympy.Basic) -> sympy.Basic:
    """A number used where a boolean is expected: true iff non-zero."""
    if is_boolean(expr):
        return expr
    if expr.is_Number:
        return sympy.false if expr.is_zero else sympy.true
    return sympy.Ne(expr, 0)


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
    annotations: tuple[tuple[str, str], ...] = ()  # free metadata, e.g. (("sbml_level", "3"),)
    catalog: Catalog = field(default_factory=Catalog, compare=False)  # drugs, phenotypes, ...

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

    def with_catalog(self, catalog: Catalog) -> "Model":
        """The same model with ``catalog`` attached (the model itself is not changed)."""
        new = replace(self, catalog=catalog)
        if "hash" in self.__dict__:          # same SBML, same hash: no need to hash it again
            new.__dict__["hash"] = self.__dict__["hash"]
        return new
