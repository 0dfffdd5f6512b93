"""Parameter ensembles through the single-run verbs: ``sim.simulate`` and
``sim.run_treatment`` with ``params`` holding one parameter set per member.

A calibration's posterior (``SamplingResult.ensemble()``: a DataFrame, one row per member)
or a list of parameter dicts is an ensemble; members are numbered by their position (row
order), the DataFrame's own index is not kept. ``simulate`` hands the ensemble to
:func:`sweep` as it stands (every member from the same initial values). ``run_treatment``
keeps the experiment protocol per member: each member's own untreated steady state, then
the treatment from t = 0, as :func:`simulator.treatments.run_treatment` does for one cell.
A member whose steady state cannot be computed is not run: it is reported in
``Ensemble.failures`` with its parameters (status
:data:`~simulator.ensemble.chunks.NO_STEADY_STATE`) and the others are kept. A dict of
parameter values is one run, passed through unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from simulator import api
from simulator.ensemble.chunks import NO_STEADY_STATE
from simulator.ensemble.result import Ensemble
from simulator.ensemble.sweep import sweep
from simulator.errors import IntegrationError, InvalidValueError
from simulator.solvers.compiled import METHOD_NAMES
from simulator.treatments import protocol
from simulator.treatments.derive import prepare
from simulator.treatments.schedule import Treatment

__all__ = ["simulate", "run_treatment", "is_ensemble", "member_dicts"]


def is_ensemble(params) -> bool:
    """Whether ``params`` holds several parameter sets: a DataFrame (one row per member)
    or a list/tuple of dicts."""
    if isinstance(params, pd.DataFrame):
        return True
    return isinstance(params, (list, tuple)) and bool(params) and \
        all(isinstance(m, Mapping) for m in params)


def member_dicts(params) -> list[dict]:
    """The ensemble as one ``{id: float}`` per member, in row order; a value that is not a
    finite number is an error naming the member and the id."""
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
            try:
                member[k] = float(v)
            except (TypeError, ValueError):
                member[k] = float("nan")
            if not np.isfinite(member[k]):
                raise InvalidValueError(f"ensemble member {i}: {k} = {v!r} is not a finite "
                                        "number")
        out.append(member)
    return out


def simulate(model, t, *, params=None, initial=None, drugs=None, phenotype=None,
             t0: float = 0.0, options=None, backend: str = "auto", on_failure=None,
             sensitivities=None, progress: bool = False):
    """:func:`simulator.api.simulate` (its parameters are below), or with an ensemble in
    ``params`` a :func:`sweep` of its members: an :class:`Ensemble` of readouts per member
    over ``t``, all from the same initial values.

    ``on_failure``: one run raises by default (``"return"``: a Trajectory up to the
    failure); an ensemble records failed members in ``.failures`` with their parameters
    and keeps the rest by default (``"raise"``: the first failure raises). An ensemble runs
    on the compiled ensemble integrator (``backend="auto"``, no ``sensitivities``);
    ``progress`` shows its progress bar.
    """
    if not is_ensemble(params):
        return api.simulate(model, t, params=params, initial=initial, drugs=drugs,
                            phenotype=phenotype, t0=t0, options=options, backend=backend,
                            on_failure=on_failure or "raise", sensitivities=sensitivities)
    _check_ensemble_options(backend, sensitivities, on_failure, options)
    return sweep(model, t, params=member_dicts(params), drugs=drugs, phenotype=phenotype,
                 initial=initial, options=options, t0=t0, progress=progress,
                 on_failure=on_failure or "record")


simulate.__doc__ += "\n    Single run (simulator.api.simulate)\n    " + "-" * 35 + "\n" + \
    (api.simulate.__doc__ or "")


def run_treatment(model, treatment, t, *, phenotype=None, params=None,
                  equilibrate: bool = True, initial=None, reset: bool = True, options=None,
                  backend: str = "auto", on_failure=None, progress: bool = False):
    """:func:`simulator.treatments.run_treatment` (its parameters are below), or with an
    ensemble in ``params`` the protocol for each member: its own untreated steady state
    (phenotype and member parameters, no drugs), then ``treatment`` from t = 0.

    Returns an :class:`Ensemble` whose ``params`` are the members' parameters;
    ``provenance["equilibration"]`` holds, per member, whether its steady state converged
    (None where it failed). ``on_failure`` and ``progress`` as in :func:`simulate`.
    """
    if not is_ensemble(params):
        return protocol.run_treatment(model, treatment, t, phenotype=phenotype, params=params,
                                      equilibrate=equilibrate, initial=initial, reset=reset,
                                      options=options, backend=backend,
                                      on_failure=on_failure or "raise")
    _check_ensemble_options(backend, None, on_failure, options)
    if initial is not None or not equilibrate:
        raise InvalidValueError("an ensemble starts each member from its own untreated "
                                "steady state (equilibrate=True, no initial); for one shared "
                                "start of constant drugs use sim.simulate(model, t, "
                                "params=ensemble, initial=...)")
    model = api.as_model(model)
    if not isinstance(treatment, Treatment):
        treatment = Treatment(treatment) if isinstance(treatment, Mapping) else treatment
    prep = prepare(model, treatment, phenotype=phenotype)
    members = member_dicts(params)
    states, failed, converged = {}, {}, []
    for i, member in enumerate(members):
        try:
            states[i], ss = protocol.untreated_state(model, params=member,
                                                     phenotype=prep.phenotype, options=options,
                                                     cache=False)
        except IntegrationError as err:
            if on_failure == "raise":
                raise
            failed[i] = f"untreated steady state failed: {err}"
            converged.append(None)
        else:
            converged.append(bool(ss.converged))
    if not states:
        raise IntegrationError(f"no member of the ensemble has an untreated steady state; "
                               f"member 0: {failed[0]}")
    run = sorted(states)
    start = {k: np.array([states[i][k] for i in run]) for k in states[run[0]]}
    ens = sweep(prep.model, t, params=[{**members[i], **prep.params} for i in run],
                drugs=prep.drugs or None, phenotype=list(prep.phenotype) or None,
                initial=start, options=options, progress=progress,
                on_failure=on_failure or "record")
    prov = dict(ens.provenance, treatment=treatment.label, base_model_hash=model.hash,
                equilibration=converged)
    return _on_all_members(replace(ens, provenance=prov), run, members, failed)


def _check_ensemble_options(backend, sensitivities, on_failure, options) -> None:
    """Refuse, before any run, what an ensemble cannot do."""
    if on_failure not in (None, "raise", "record"):
        raise InvalidValueError(f"on_failure of an ensemble must be 'record' (the default) "
                                f"or 'raise', got {on_failure!r}")
    if backend != "auto":
        raise InvalidValueError(f"backend={backend!r}: an ensemble runs on the compiled "
                                "ensemble integrator (backend='auto')")
    if sensitivities is not None:
        raise InvalidValueError("sensitivities are computed for one run: simulate the "
                                "ensemble's members one by one")
    if options is not None and options.method not in METHOD_NAMES:
        raise InvalidValueError(f"an ensemble runs on the compiled Rosenbrock backend; "
                                f"SolverOptions.method {options.method!r} is not available "
                                "(use 'auto')")


def _on_all_members(ens: Ensemble, run: list, members: list[dict], failed: dict) -> Ensemble:
    """``ens``, a sweep of the members ``run`` (positions), laid out over all ``members``:
    those in ``failed`` (position -> reason) NaN, unsuccessful and listed in ``failures``;
    ``params``, ``failures`` and ``fallbacks`` hold the members' own parameters (not the
    start states the sweep was given), by member position."""
    n = len(members)
    run = np.asarray(run)
    values = np.full((n, *ens.values.shape[1:]), np.nan)
    values[run] = ens.values
    success = np.zeros(n, dtype=bool)
    success[run] = ens.success
    nsteps = np.zeros(n, dtype=ens.nsteps.dtype)
    nsteps[run] = ens.nsteps
    fell_back = np.zeros(n, dtype=bool)
    if ens.fell_back is not None:
        fell_back[run] = ens.fell_back
    params = pd.DataFrame(members).rename_axis("member")
    ids = list(params.columns)

    def own(table, extra):
        if table is None or not len(table):
            return []
        return [{"member": int(run[j]), **members[run[j]], **{c: r[c] for c in extra}}
                for j, r in zip(table["member"], table.to_dict("records"))]

    fail = own(ens.failures, ["status", "reason"]) + [
        {"member": i, **members[i], "status": NO_STEADY_STATE, "reason": why}
        for i, why in failed.items()]
    failures = pd.DataFrame(fail, columns=["member", *ids, "status", "reason"])
    failures = failures.sort_values("member", ignore_index=True)
    fallbacks = pd.DataFrame(own(ens.fallbacks, ["reason"]), columns=["member", *ids, "reason"])
    prov = dict(ens.provenance, n_failed=int((~success).sum()), n_members=n)
    return replace(ens, values=values, success=success, nsteps=nsteps, params=params,
                   failures=failures, fell_back=fell_back, fallbacks=fallbacks,
                   provenance=prov)
