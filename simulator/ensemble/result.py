"""The result of a sweep: readouts of many members over time, with their conditions and
failures (:class:`Ensemble`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from simulator.errors import InvalidValueError, unknown_id

__all__ = ["Ensemble"]


@dataclass(frozen=True, eq=False)
class Ensemble:
    """The results of a sweep.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times.
    readouts : tuple of str
        Readout ids, the last axis of ``values``.
    values : ndarray, shape (n_members, n_t, n_readouts)
        Readout values; NaN for failed members (see ``success`` and ``failures``).
    params : pandas.DataFrame
        One row per member (index ``member``), one column per varied parameter or drug;
        a ``phenotype`` column when phenotypes differ between members.
    success : ndarray of bool, shape (n_members,)
    failures : pandas.DataFrame
        One row per failed member: ``member``, its parameters, ``status``, ``reason``.
        Status codes are those of :mod:`simulator.ensemble.chunks`, e.g. -104 (a model
        failure: the reference integrator fails too) and -103 (its worker was lost).
    nsteps : ndarray of int, shape (n_members,)
        Integrator steps per member (compiled and reference runs together).
    provenance : dict
        Model hash, package version, options, times, readouts, sizes; counts ``n_failed``,
        ``n_model_failures``, ``n_fell_back``.
    fell_back : ndarray of bool, shape (n_members,)
        Members the compiled integrator failed on and the reference integrator solved
        (their values come from it).
    fallbacks : pandas.DataFrame
        One row per such member: ``member``, its parameters, ``reason`` (why the compiled
        run failed).
    """

    t: np.ndarray
    readouts: tuple
    values: np.ndarray
    params: object
    success: np.ndarray
    failures: object
    nsteps: np.ndarray
    provenance: dict = field(default_factory=dict)
    model_id: str = ""
    fell_back: np.ndarray | None = None
    fallbacks: object = None

    def __post_init__(self):
        if self.fell_back is None:
            object.__setattr__(self, "fell_back", np.zeros(len(self), dtype=bool))
        if self.fallbacks is None:
            object.__setattr__(self, "fallbacks", pd.DataFrame({"member": [], "reason": []}))

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_members(self) -> int:
        return len(self)

    def __getitem__(self, key: str) -> np.ndarray:
        """Values of one readout, shape (n_members, n_t), for any number of members."""
        try:
            k = self.readouts.index(key)
        except ValueError:
            raise unknown_id("readout", key, self.readouts, model=self.model_id) from None
        return self.values[:, :, k]

    def __contains__(self, key) -> bool:
        return key in self.readouts

    def at(self, time: float) -> pd.DataFrame:
        """Readouts at one output time: DataFrame (members × readouts), params joined."""
        hit = np.flatnonzero(np.isclose(self.t, time, rtol=1e-12, atol=0.0))
        if hit.size == 0:
            raise InvalidValueError(f"time {time} is not an output time of this ensemble "
                                    f"(output times {self.t[0]:g} .. {self.t[-1]:g}, {len(self.t)} points)")
        df = pd.DataFrame(self.values[:, hit[0], :], columns=list(self.readouts),
                          index=self.params.index)
        return self.params.join(df)

    @cached_property
    def table(self):
        """Tidy DataFrame: one row per (successful member, time, readout).

        Columns ``member``, the varied parameters, ``time``, ``id``, ``value``.
        """
        ok = np.flatnonzero(self.success)
        n_t, n_r = len(self.t), len(self.readouts)
        reps = n_t * n_r
        members = np.repeat(ok, reps)
        df = pd.DataFrame({"member": members})
        prm = self.params.iloc[ok]
        for c in prm.columns:
            df[c] = np.repeat(prm[c].to_numpy(), reps)
        df["time"] = np.tile(np.repeat(self.t, n_r), len(ok))
        df["id"] = np.tile(np.array(self.readouts, dtype=object), len(ok) * n_t)
        df["value"] = self.values[ok].reshape(-1)
        return df
