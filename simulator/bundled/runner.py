"""The behaviour checks' runner contract (see :mod:`simulator.bundled.behaviors`) on
Crosstalk's own core.

:class:`CoreRunner` lets the atlas run the very checks the tests also run on libroadrunner,
through the experiment protocol (:mod:`simulator.treatments.protocol`): untreated steady
state, reset-at-start species back to their initial values, treatment from t = 0.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulator.api import load_model
from simulator.errors import IntegrationError, UnknownIdError, suggest
from simulator.treatments.protocol import reset_values, run_treatment, untreated_state


class CoreRunner:
    """Runner contract of :mod:`simulator.bundled.behaviors` implemented with Crosstalk's core.

    Parameters
    ----------
    model : Model, optional
        The model; the bundled ER crosstalk model by default.

    Attributes
    ----------
    parameters : dict
        Settable parameter values (id -> value): drugs, inputs and kinetic constants.
    species_ids, observable_ids : list of str

    Notes
    -----
    Steady states hold the catalogue's reset-at-start species (``tumor_burden``) fixed, so
    its exponential growth does not count against convergence, and report them at their
    initial value; simulations restart them there, as the contract asks.
    """

    def __init__(self, model=None):
        self.model = model if model is not None else load_model()
        rules = set(self.model.assignment_rule_ids)
        self.parameters = {p.id: float(p.value) for p in self.model.parameters
                           if p.id not in rules and p.value is not None}
        self.species_ids = list(self.model.species_ids)
        self.observable_ids = list(self.model.assignment_rule_ids)
        self._reset = reset_values(self.model)

    def _params(self, params: Mapping[str, float] | None) -> dict[str, float]:
        params = dict(params or {})
        for k in params:
            if k not in self.parameters:
                raise UnknownIdError(f"'{k}' is not a settable parameter of model "
                                     f"'{self.model.id}'{suggest(k, self.parameters)}")
        return params

    def steady_state(self, params: Mapping[str, float] | None = None) -> dict[str, float]:
        """Species and observables (id -> float) of the untreated cell under ``params``."""
        params = self._params(params)
        _, ss = untreated_state(self.model, params=params)
        if not ss.converged:
            raise IntegrationError(f"no steady state of model '{self.model.id}' under "
                                   f"{params}: {ss.message}", params=params)
        wanted = set(self.species_ids) | set(self.observable_ids)
        out = {k: float(v) for k, v in zip(ss.ids, ss.values) if k in wanted}
        out.update({k: v for k, v in self._reset.items() if k in out})
        return out

    def simulate(self, params: Mapping[str, float] | None, t,
                 initial: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        """Id -> values over ``t`` (hours) from ``initial`` (species clipped at 0), or from
        the model's initial values; reset-at-start species start at their initial value."""
        params = self._params(params)
        t = np.asarray(t, dtype=float)
        start = None
        if initial is not None:
            start = {s: max(float(initial[s]), 0.0) for s in self.species_ids if s in initial}
        traj = run_treatment(self.model, {}, t, params=params, initial=start, equilibrate=False)
        out = {k: np.array(traj[k]) for k in (*self.species_ids, *self.observable_ids)}
        out["time"] = np.array(traj.t)
        return out
