"""Result objects: :class:`Trajectory` (one run) and :class:`SteadyState`, with provenance."""
from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from simulator.errors import InvalidValueError, unknown_id
from simulator.version import __version__


def provenance(model_hash: str, **options) -> dict:
    """What produced a result: model hash, package version, options, time and platform."""
    return {
        "model_hash": model_hash,
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        **options,
    }


@dataclass(frozen=True)
class Trajectory:
    """A simulated time course.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times (model time units; hours for the bundled model).
    y : ndarray, shape (n_t, n_states)
        State variables in time-major order (species held as amounts).
    state_ids : tuple of str
    ids : tuple of str
        Every readable id: species (their SBML value: concentration unless
        hasOnlySubstanceUnits), compartments, parameters, rule targets, reactions (rates).
    values : ndarray, shape (n_t, len(ids))
        Computed on first use (a run that reads only ``y`` never pays for them).
    params : dict
        Parameter values used (id -> value at the start).
    success, message, stats, provenance
        ``stats`` has ``nfev``, ``njev``, ``nsteps``; ``provenance`` the model hash,
        solver options and package version.
    sensitivities : ndarray, shape (n_t, len(ids), len(sensitivity_params)), or None
        ``d value / d parameter`` from forward sensitivities, when the run asked for them
        (``simulate(..., sensitivities=[...])``); see :meth:`sensitivity`.
    sensitivity_params : tuple of str
    """

    t: np.ndarray
    y: np.ndarray
    state_ids: tuple[str, ...]
    ids: tuple[str, ...]
    _values: np.ndarray | None = field(repr=False)
    params: dict
    species_compartment: dict = field(default_factory=dict, repr=False)
    amount_valued: dict = field(default_factory=dict, repr=False)
    success: bool = True
    _message: str = ""
    _stats: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    model_id: str = ""
    sensitivities: np.ndarray | None = field(default=None, repr=False)
    sensitivity_params: tuple[str, ...] = ()
    # () -> (values, ids with a non-finite value): the outputs, computed on first use
    _outputs: object = field(default=None, repr=False, compare=False)

    def _evaluated(self):
        if self._outputs is not None:
            values, nonfinite = self._outputs()
            message = self._message
            if nonfinite:
                message = (message + "; " if message else "") + (
                    "the model's own math gives non-finite values for "
                    + ", ".join(nonfinite[:10]))
            object.__setattr__(self, "_values", values)
            object.__setattr__(self, "_message", message)
            object.__setattr__(self, "_stats", dict(self._stats, nonfinite_outputs=nonfinite))
            object.__setattr__(self, "_outputs", None)
        return self

    @property
    def values(self) -> np.ndarray:
        return self._evaluated()._values

    @property
    def message(self) -> str:
        """Why the run failed, and which outputs the model's math makes non-finite."""
        return self._evaluated()._message

    @property
    def stats(self) -> dict:
        """Integrator counts (``nfev``, ``njev``, ``nsteps``, ...), ``n_events`` and
        ``nonfinite_outputs``."""
        return self._evaluated()._stats

    def __getstate__(self):
        return dict(self._evaluated().__dict__)

    @cached_property
    def _index(self) -> dict:
        return {k: i for i, k in enumerate(self.ids)}

    def sensitivity(self, key: str, param: str) -> np.ndarray:
        """``d key / d param`` over time, shape (n_t,), from forward sensitivities."""
        if self.sensitivities is None:
            raise InvalidValueError("this trajectory has no sensitivities; simulate with "
                                    "sensitivities=[parameter ids]")
        if param not in self.sensitivity_params:
            raise unknown_id("sensitivity parameter", param, self.sensitivity_params,
                             model=self.model_id)
        return self.sensitivities[:, self._column(key), self.sensitivity_params.index(param)]

    def __getitem__(self, key: str) -> np.ndarray:
        """Values of one id over time, shape (n_t,)."""
        i = self._index.get(key)
        if i is None:
            raise unknown_id("readout", key, self.ids, model=self.model_id)
        return self.values[:, i]

    def _column(self, key: str) -> int:
        if key not in self._index:
            raise unknown_id("readout", key, self.ids, model=self.model_id)
        return self._index[key]

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def amount(self, species: str) -> np.ndarray:
        """Amount of ``species`` over time (concentration × compartment size)."""
        self._species(species)
        v = self[species]
        return v if self.amount_valued[species] else v * self[self.species_compartment[species]]

    def concentration(self, species: str) -> np.ndarray:
        """Concentration of ``species`` over time (amount / compartment size)."""
        self._species(species)
        v = self[species]
        return v / self[self.species_compartment[species]] if self.amount_valued[species] else v

    def _species(self, s: str):
        if s not in self.species_compartment:
            raise unknown_id("species", s, self.species_compartment, model=self.model_id)

    def to_frame(self, ids=None):
        """Tidy DataFrame: one row per (time, id) with columns ``time``, ``id``, ``value``."""
        import pandas as pd     # ~0.3 s to import: loaded when a table is asked for
        ids = list(self.ids if ids is None else ids)
        cols = [self._column(i) for i in ids]
        n_t = len(self.t)
        return pd.DataFrame({
            "time": np.tile(self.t, len(ids)),
            "id": np.repeat(ids, n_t),
            "value": np.concatenate([self.values[:, c] for c in cols]) if ids else np.empty(0),
        })

    def to_wide(self, ids=None):
        """Wide DataFrame indexed by time, one column per id."""
        import pandas as pd
        ids = list(self.ids if ids is None else ids)
        return pd.DataFrame({i: self[i] for i in ids}, index=pd.Index(self.t, name="time"))


@dataclass(frozen=True)
class SteadyState:
    """A steady state found by :func:`simulator.steady_state`.

    Attributes
    ----------
    converged : bool
        True when ``max |dy/dt| / max(1, |y|)`` fell below the tolerance.
    residual : float
        That scaled residual: how far the point is from steady.
    method : str
        ``"newton"``, ``"integration"`` or ``"integration+newton"``.
    state : dict
        species/state id -> value (SBML value: concentration unless hasOnlySubstanceUnits),
        usable as ``simulate(..., initial=ss.state)``.
    """

    converged: bool
    residual: float
    method: str
    ids: tuple[str, ...]
    values: np.ndarray
    state: dict
    y: np.ndarray
    params: dict
    t: float = 0.0
    message: str = ""
    provenance: dict = field(default_factory=dict)
    model_id: str = ""

    def __getitem__(self, key: str) -> float:
        try:
            return float(self.values[self.ids.index(key)])
        except ValueError:
            raise unknown_id("readout", key, self.ids, model=self.model_id) from None
