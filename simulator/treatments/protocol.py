"""The experiment protocol: the untreated cell at steady state, then the treatment from t = 0.

Every treated run in Crosstalk (dose-responses, combinations, arm comparisons, the command
line, the behaviour checks of the bundled model) goes through this one protocol:

1. **Equilibrate** the untreated cell: the steady state with its phenotype and parameter
   overrides but no drug (:func:`untreated_state`; cached), or take a start state given.
2. **Reset** the species the model's catalogue lists as ``reset_at_start`` (a tumour burden
   that grows without bound) to their model initial values: they are measured from the
   start of treatment.
3. **Treat** from ``t = 0``: drugs at constant concentrations, or on schedules through a
   derived model with dosing events and PK (:mod:`simulator.treatments.derive`).

The protocol knows no model's ids; what it resets comes from the model's catalogue.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace

from simulator.api import as_model, compile_model, simulate, steady_state
from simulator.conditions import as_mapping, phenotype_names, phenotype_overrides
from simulator.model import Model
from simulator.results import SteadyState, Trajectory
from simulator.treatments.derive import prepare
from simulator.treatments.schedule import Treatment

__all__ = ["untreated_state", "run_treatment", "reset_values", "with_reset"]

_STATES: OrderedDict = OrderedDict()
_STATES_LOCK = threading.Lock()
_MAX_STATES = 64


def reset_values(model: Model) -> dict:
    """The catalogue's reset-at-start species with their model initial values (id -> value,
    as ``initial=`` takes them: concentrations unless a species has only substance units)."""
    ids = model.catalog.reset_at_start
    return compile_model(model).system.init.value_of(ids) if ids else {}


def with_reset(model: Model, state: Mapping) -> dict:
    """``state`` (id -> value) with the reset-at-start species at their initial values."""
    out = dict(state)
    out.update({k: v for k, v in reset_values(model).items() if k in out})
    return out


def untreated_state(model, *, params: Mapping | None = None, phenotype=None,
                    options=None, cache: bool = True) -> tuple[dict, SteadyState]:
    """Steady state of the untreated cell, as the start state of a treatment (steps 1-2).

    The catalogue's ``reset_at_start`` species (the bundled model's ``tumor_burden``) are
    held fixed while the steady state is found and take their model initial values in the
    start state. Cached per model, parameter overrides and phenotype.

    Parameters
    ----------
    model : Model or str or Path
    params : dict, optional
        Parameter overrides (id -> value), e.g. the medium (``{"EGF": 0}``).
    phenotype : str or list of str, optional
    options : SolverOptions, optional
        Tolerances of the fallback integration.
    cache : bool
        Keep the result in the per-process cache of recent states (64); an ensemble's
        members, each seen once, pass False so as not to push out the states in use.

    Returns
    -------
    (dict, SteadyState)
        The start state (id -> value) and the steady state it came from (check
        ``converged``).
    """
    model = as_model(model)
    params = as_mapping("params", params, hint="; sim.run_treatment takes an ensemble")
    phen = phenotype_names(phenotype)
    key = (model.hash, tuple(sorted(phenotype_overrides(model, phen).items())),
           tuple(sorted((k, float(v)) for k, v in (params or {}).items())),
           model.catalog.reset_at_start, options)
    with _STATES_LOCK:
        hit = _STATES.get(key)
        if hit is not None:
            _STATES.move_to_end(key)
    if hit is None:
        ss = steady_state(model, params=dict(params or {}), phenotype=list(phen) or None,
                          options=options)
        hit = (with_reset(model, ss.state), ss)
        if not cache:
            return dict(hit[0]), hit[1]
        with _STATES_LOCK:
            _STATES[key] = hit
            while len(_STATES) > _MAX_STATES:
                _STATES.popitem(last=False)
    return dict(hit[0]), hit[1]


def run_treatment(model, treatment, t, *, phenotype=None, params: Mapping | None = None,
                  equilibrate: bool = True, initial: Mapping | None = None, reset: bool = True,
                  options=None, backend: str = "auto", on_failure: str = "raise") -> Trajectory:
    """Simulate a treatment by the protocol: untreated steady state, reset, treat from t = 0.

    Parameters
    ----------
    model : Model or str or Path
    treatment : Treatment or dict
        A :class:`~simulator.treatments.schedule.Treatment`, or drugs as ``{id: nM}``
        (constant from ``t = 0``; ``{}`` for the untreated control).
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
        An explicit start state instead (e.g. a ``SteadyState.state``, or the end of an
        earlier run).
    reset : bool
        Set the reset-at-start species to their initial values in an explicit ``initial``
        (True, the protocol); False continues them (a run that follows another).

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
    model = as_model(model)
    if not isinstance(treatment, Treatment):
        treatment = Treatment(treatment) if isinstance(treatment, Mapping) else treatment
    prep = prepare(model, treatment, phenotype=phenotype)
    equil = None
    if initial is None and equilibrate:
        initial, ss = untreated_state(model, params=params, phenotype=prep.phenotype,
                                      options=options)
        equil = {"converged": bool(ss.converged), "residual": float(ss.residual), "method": ss.method}
    elif initial is not None and reset:
        initial = with_reset(model, initial)
    traj = simulate(prep.model, t, params={**dict(params or {}), **prep.params},
                    drugs=prep.drugs, initial=initial, phenotype=list(prep.phenotype) or None,
                    options=options, backend=backend, on_failure=on_failure)
    prov = dict(traj.provenance, treatment=treatment.label, equilibration=equil,
                base_model_hash=model.hash)
    return replace(traj, provenance=prov)
