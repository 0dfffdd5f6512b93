"""The flattened symbolic ODE system: the contract between SBML semantics and the solvers.

:mod:`simulator.semantics` turns a :class:`~simulator.model.Model` into an :class:`OdeSystem`;
:mod:`simulator.codegen` turns an ``OdeSystem`` into numpy and numba functions; the solvers
only see arrays. Every expression here is a sympy expression in the symbols ``t``, ``y``
(state variables) and ``p`` (quantities that are constant between events). Assignment rules
are already substituted in, so ``rhs`` is a pure function ``f(t, y, p)``.

State variables are species *amounts* (for species changed by reactions), and the values of
species, compartments and parameters that rate rules change. ``p`` holds everything else
that events may change, plus the constants (species in ``p`` are held as amounts too).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np
import sympy


@dataclass(frozen=True)
class EventSpec:
    """One SBML event, in (t, y, p).

    ``assignments`` are ``(kind, index, expr)`` with kind ``"y"`` or ``"p"``: the value of
    ``expr`` (evaluated at trigger time or at execution time, see
    ``use_values_from_trigger_time``), times ``factors[k]`` (always evaluated at execution
    time; all 1 when empty), is written to ``y[index]`` or ``p[index]``. A factor is e.g.
    the compartment size that turns an assigned concentration into the amount held: a
    delayed event assigns the concentration computed at trigger time, at the size in force
    when it executes.
    """

    id: str
    trigger: sympy.Basic                      # boolean expression
    assignments: tuple[tuple[str, int, sympy.Expr], ...]
    initial_value: bool = True
    persistent: bool = True
    delay: sympy.Expr | None = None
    priority: sympy.Expr | None = None
    use_values_from_trigger_time: bool = True
    factors: tuple[sympy.Expr, ...] = ()


@dataclass(frozen=True)
class OdeSystem:
    """A model as ``dy/dt = rhs(t, y, p)`` plus events, outputs and initial values.

    Attributes
    ----------
    state_ids : ids of the state variables, in order (species ids mean amounts)
    y : state symbols, same order
    param_ids : ids of the entries of ``p`` (global parameters, ``"R1.k"`` local ones,
        constant compartments, boundary/constant species, stoichiometries, ...)
    p : parameter symbols, same order
    p_default : numeric values of ``p`` at the model's defaults (after initial assignments)
    y_default : numeric initial state at the model's defaults
    init : how initial values are computed from ids (see :mod:`simulator.semantics`):
        ``init.values(overrides, t0) -> (y0, p)`` honours SBML initial assignments and rules.
    rhs : ``dy/dt`` per state
    outputs : every readable id -> its value as SBML means it (species: concentration unless
        hasOnlySubstanceUnits; compartments: size; parameters and rule targets: value)
    species_amount : species id -> amount expression
    species_compartment : species id -> compartment id
    events : the events, in document order
    jacobian : ``(rows, cols, exprs)``, the structurally nonzero entries of ``d rhs / d y``,
        or a callable returning them on first use, where a builder knows them cheaper than
        differentiating ``rhs`` (the sensitivity system,
        :mod:`simulator.forward_sensitivities`); None: differentiate ``rhs``
    lu_blocks : ``m > 0`` when the Jacobian is block lower triangular with ``m + 1`` equal
        diagonal blocks of size ``n_states / (m + 1)`` and nonzero blocks only in the first
        block column (the sensitivity system): the linear algebra factors one diagonal block
        and shares its LU
    """

    model_id: str
    model_hash: str
    t: sympy.Symbol
    state_ids: tuple[str, ...]
    y: tuple[sympy.Symbol, ...]
    param_ids: tuple[str, ...]
    p: tuple[sympy.Symbol, ...]
    p_default: np.ndarray
    y_default: np.ndarray
    rhs: tuple[sympy.Expr, ...]
    outputs: dict[str, sympy.Expr] = field(default_factory=dict)
    species_amount: dict[str, sympy.Expr] = field(default_factory=dict)
    species_compartment: dict[str, str] = field(default_factory=dict)
    events: tuple[EventSpec, ...] = ()
    init: object = field(default=None, repr=False, compare=False)
    jacobian: object = field(default=None, repr=False, compare=False)
    lu_blocks: int = 0

    @property
    def n_states(self) -> int:
        return len(self.y)

    @property
    def n_params(self) -> int:
        return len(self.p)

    def dynamics_symbols(self) -> set:
        """Every symbol the dynamics read: rates, event triggers, assignments and factors
        (a parameter outside this set cannot change any state)."""
        used = set()
        for e in self.rhs:
            used |= e.free_symbols
        for ev in self.events:
            for e in (ev.trigger, *(a for _, _, a in ev.assignments), *ev.factors):
                used |= getattr(e, "free_symbols", set())
        return used

    def used_params(self) -> np.ndarray:
        """Indices of the parameters that rates or event triggers use: the ones that must
        have finite values before a run starts."""
        used = set()
        for e in (*self.rhs, *(ev.trigger for ev in self.events)):
            used |= e.free_symbols
        return np.array([j for j, s in enumerate(self.p) if s in used], dtype=np.int64)


def is_model_hash(h) -> bool:
    """Whether ``h`` is an SBML document's SHA-256 (what keys cached machine code), not a
    hand-built system's label."""
    return isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h)


def with_states_held(system: OdeSystem, held) -> OdeSystem:
    """``system`` with the states in ``held`` constant (rate 0) and without events: the
    system a steady-state search integrates towards equilibrium. Its hash names the held
    states, so its compiled code is cached apart from the model's own."""
    hold = set(held)
    rhs = tuple(sympy.S.Zero if sid in hold else e for sid, e in zip(system.state_ids, system.rhs))
    tag = f"{system.model_hash} held {sorted(hold)} without events"
    # a hand-built system (no SBML hash) stays keyed by its expressions
    model_hash = hashlib.sha256(tag.encode()).hexdigest() if is_model_hash(system.model_hash) \
        else tag
    return replace(system, rhs=rhs, events=(), jacobian=None, model_hash=model_hash)
