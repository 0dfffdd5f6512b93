"""The behaviour-check runner contract (see :mod:`simulator.behaviors`) on Crosstalk's own core.

:class:`CoreRunner` lets the atlas run the very checks the tests run on libroadrunner, but
through :func:`simulator.steady_state` and :func:`simulator.simulate`.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulator.errors import IntegrationError, UnknownIdError, suggest

#: species that grows without bound and feeds back on nothing (excluded from steady states)
_UNBOUNDED = ("tumor_burden",)


class CoreRunner:
    """Runner contract of :mod:`simulator.behaviors` implemented with Crosstalk's core.

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
    Steady states hold ``tumor_burden`` at 0 (so its exponential growth does not count
    against convergence) and report it as 1; simulations restart it at 1, as the
    contract asks. Steady states are cached by their parameter overrides.
    """

    def __init__(self, model=None):
        from simulator.api import load_model
        self.model = model if model is not None else load_model()
        rules = set(self.model.assignment_rule_ids)
        self.parameters = {p.id: float(p.value) for p in self.model.parameters
                           if p.id not in rules and p.value is not None}
        self.species_ids = list(self.model.species_ids)
        self.observable_ids = [r for r in self.model.assignment_rule_ids]
        self._cache: dict = {}

    def _params(self, params: Mapping[str, float] | None) -> dict[str, float]:
        params = dict(params or {})
        for k in params:
            if k not in self.parameters:
                raise UnknownIdError(f"'{k}' is not a settable parameter of model "
                                     f"'{self.model.id}'{suggest(k, self.parameters)}")
        return params

    def _read(self, ss) -> dict[str, float]:
        wanted = set(self.species_ids) | set(self.observable_ids)
        out = {k: float(v) for k, v in zip(ss.ids, ss.values) if k in wanted}
        for k in _UNBOUNDED:
            if k in out:
                out[k] = 1.0
        return out

    def steady_state(self, params: Mapping[str, float] | None = None) -> dict[str, float]:
        """Species and observables at steady state under ``params`` (id -> float)."""
        from simulator.api import steady_state
        params = self._params(params)
        key = tuple(sorted(params.items()))
        if key not in self._cache:
            hold = {k: 0.0 for k in _UNBOUNDED if k in self.species_ids}
            ss = steady_state(self.model, params=params, initial=hold)
            if not ss.converged:
                raise IntegrationError(f"no steady state of model '{self.model.id}' under "
                                       f"{params}: {ss.message}", params=params)
            self._cache[key] = self._read(ss)
        return dict(self._cache[key])

    def simulate(self, params: Mapping[str, float] | None, t,
                 initial: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        """Id -> values over ``t`` (hours), from ``initial`` with ``tumor_burden`` = 1."""
        from simulator.api import simulate
        params = self._params(params)
        t = np.asarray(t, dtype=float)
        init = {}
        if initial is not None:
            init = {s: max(float(initial[s]), 0.0) for s in self.species_ids if s in initial}
        for k in _UNBOUNDED:
            if k in self.species_ids:
                init[k] = 1.0
        traj = simulate(self.model, t, params=params, initial=init)
        out = {k: np.array(traj[k]) for k in (*self.species_ids, *self.observable_ids)}
        out["time"] = np.array(traj.t)
        return out
