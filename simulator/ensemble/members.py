"""Parameter ensembles through the single-run verbs: ``sim.simulate`` and
``sim.run_treatment`` with ``params`` holding one parameter set per member.

A calibration's posterior (``SamplingResult.ensemble()``: a DataFrame, one row per member)
or a list of parameter dicts is an ensemble. ``simulate`` hands it to :func:`sweep` as it
stands (every member from the same initial values). ``run_treatment`` keeps the experiment
protocol per member: each member's own untreated steady state, then the treatment from
t = 0, as :func:`simulator.treatments.run_treatment` does for one cell; a member whose
steady state cannot be computed is reported in ``Ensemble.failures`` with its parameters
(status :data:`NO_STEADY_STATE`) and the others are kept. A dict of parameter values is
one run, passed through unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from simulator import api
from simulator.api import as_model
from simulator.ensemble.result import Ensemble
from simulator.ensemble.sweep import sweep
from simulator.errors import InvalidValueError, SimulatorError
from simulator.treatments import protocol
from simulator.treatments.derive import prepare
from simulator.treatments.schedule import Treatment

__all__ = ["simulate", "run_treatment", "is_ensemble", "member_dicts", "NO_STEADY_STATE"]

# Ensemble.failures status of a member whose untreated steady state failed (the sweep's own
# codes run from -100 to -104, simulator.ensemble.chunks)
NO_STEADY_STATE = -105


def is_ensemble(params) -> bool:
    """Whether ``params`` holds several parameter sets: a DataFrame (one row per member)
    or a list/tuple of dicts."""
    if isinstance(params, pd.DataFrame):
        return True
    return isinstance(params, (list, tuple)) and bool(params) and \
        all(isinstance(m, Mapping) for m in params)


def member_dicts(params) -> list[dict]:
    """The ensemble as one ``{id: float}`` per member, ids checked to be names."""
    rows = params.to_dict("records") if isinstance(params, pd.DataFrame) else list(params)
    if not rows:
        raise InvalidValueError("the parameter ensemble has no members")
    out = []
    for i, row in enumerate(rows):
        member = {}
        for k, v in row.items():
            if not isinstance(k, str):
                raise InvalidValueError(f"ensemble member {i}: parameter id {k!r} is not a "
                                        "string")
            member[k] = float(v)
            if not np.isfinite(member[k]):
                raise InvalidValueError(f"ensemble member {i}: {k} = {v!r} is not finite; "
                                        "give a finite number")
        out.append(member)
    return out


def simulate(model, t, *, params=None, initial=None, drugs=None, phenotype=None,
             t0: float = 0.0, options=None, backend: str = "auto", on_failure=None,
             sensitivities=None, progress: bool = False):
    """:func:`simulator.api.simulate`, or with an ensemble in ``params`` a :func:`sweep` of
    its members (an :class:`Ensemble`: readouts per member over ``t``).

    ``on_failure``: one run raises by default (``"return"``: a Trajectory up to the
    failure); an ensemble records failed members in ``.failures`` with their parameters
    and keeps the rest by default (``"raise"``: the first failure raises).

    An ensemble runs on the compiled ensemble integrator; ``backend`` must be ``"auto"``
    and ``sensitivities`` are refused (run the members one by one for them).
    """
    if not is_ensemble(params):
        return api.simulate(model, t, params=params, initial=initial, drugs=drugs,
                            phenotype=phenotype, t0=t0, options=options, backend=backend,
                            on_failure=on_failure or "raise", sensitivities=sensitivities)
    _check_ensemble_options(backend, sensitivities, on_failure)
    return sweep(model, t, params=member_dicts(params), drugs=drugs, phenotype=phenotype,
                 initial=initial, options=options, t0=t0, progress=progress,
                 on_failure=on_failure or "record")


def run_treatment(model, treatment, t, *, phenotype=None, params=None,
                  equilibrate: bool = True, initial=None, reset: bool = True, options=None,
                  backend: str = "auto", on_failure=None, progress: bool = False):
    """:func:`simulator.treatments.run_treatment`, or with an ensemble in ``params`` the
    protocol for each member: its own untreated steady state (phenotype and member
    parameters, no drugs), then ``treatment`` from t = 0. Returns an :class:`Ensemble`
    whose ``provenance["equilibration"]`` counts the members whose steady state converged;
    ``on_failure`` as in :func:`simulate`.
    """
    if not is_ensemble(params):
        return protocol.run_treatment(model, treatment, t, phenotype=phenotype, params=params,
                                      equilibrate=equilibrate, initial=initial, reset=reset,
                                      options=options, backend=backend,
                                      on_failure=on_failure or "raise")
    _check_ensemble_options(backend, None, on_failure)
    if initial is not None or not equilibrate:
        raise InvalidValueError("an ensemble starts each member from its own untreated "
                                "steady state; for one shared start state use "
                                "sim.simulate(model, t, params=ensemble, initial=...)")
    model = as_model(model)
    if not isinstance(treatment, Treatment):
        treatment = Treatment(treatment) if isinstance(treatment, Mapping) else treatment
    prep = prepare(model, treatment, phenotype=phenotype)
    members = member_dicts(params)
    states, failed, converged = [], {}, 0
    for i, member in enumerate(members):
        try:
            state, ss = protocol.untreated_state(model, params=member,
                                                 phenotype=prep.phenotype, options=options)
        except SimulatorError as err:
            if on_failure == "raise":
                raise
            failed[i] = f"untreated steady state failed: {err}"
            state = None
        else:
            converged += bool(ss.converged)
        states.append(state)
    ok = [s for s in states if s is not None]
    if not ok:
        raise InvalidValueError("no member of the ensemble has an untreated steady state; "
                                f"the first failed with: {failed.get(0, '')}")
    start = {k: np.array([(s if s is not None else ok[0])[k] for s in states])
             for k in ok[0]}
    ens = sweep(prep.model, t, params=[{**m, **prep.params} for m in members],
                drugs=prep.drugs or None, phenotype=list(prep.phenotype) or None,
                initial=start, options=options, progress=progress,
                on_failure=on_failure or "record")
    prov = dict(ens.provenance, treatment=treatment.label, base_model_hash=model.hash,
                equilibration={"members": len(members), "converged": converged,
                               "failed": len(failed)})
    return _mark_failed(replace(ens, provenance=prov), failed, members)


def _check_ensemble_options(backend, sensitivities, on_failure) -> None:
    if on_failure not in (None, "raise", "record"):
        raise InvalidValueError(f"on_failure of an ensemble must be 'record' (the default) "
                                f"or 'raise', got {on_failure!r}")
    if backend != "auto":
        raise InvalidValueError(f"backend={backend!r}: an ensemble runs on the compiled "
                                "ensemble integrator (backend='auto')")
    if sensitivities is not None:
        raise InvalidValueError("sensitivities are computed for one run: simulate the "
                                "ensemble's members one by one")


def _mark_failed(ens: Ensemble, failed: dict, members: list[dict]) -> Ensemble:
    """``ens`` with the members of ``failed`` (index -> reason) set to NaN, unsuccessful
    and listed in ``failures`` with their parameters."""
    if not failed:
        return ens
    idx = np.array(sorted(failed))
    values = ens.values.copy()
    values[idx] = np.nan
    success = ens.success.copy()
    success[idx] = False
    rows = pd.DataFrame([{"member": int(i), **members[i], "status": NO_STEADY_STATE,
                          "reason": failed[i]} for i in idx])
    failures = pd.concat([ens.failures, rows], ignore_index=True) \
        if len(ens.failures) else rows
    prov = dict(ens.provenance, n_failed=int((~success).sum()))
    return replace(ens, values=values, success=success, failures=failures, provenance=prov)
