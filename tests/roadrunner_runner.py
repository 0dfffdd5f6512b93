"""The behaviour checks' runner contract (:mod:`simulator.bundled.behaviors`) implemented
with libroadrunner, the independent reference: the tests run every check on it and on
Crosstalk's own core (:class:`simulator.bundled.runner.CoreRunner`).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from simulator.bundled import MODEL_SBML
from simulator.io import antimony_to_sbml


class RoadRunnerRunner:
    """Runner contract implemented with libroadrunner.

    Parameters
    ----------
    path : str or Path, optional
        ``.ant`` or SBML file; the bundled ``er_crosstalk.xml`` by default.
    """

    def __init__(self, path: str | Path = MODEL_SBML):
        import roadrunner   # the reference simulator, a development dependency

        path = Path(path)
        sbml = antimony_to_sbml(path.read_text(), str(path)) if path.suffix == ".ant" \
            else path.read_text()
        self._sim = roadrunner.RoadRunner(sbml)
        self._ss = roadrunner.RoadRunner(sbml)
        self._ss.setBoundary("tumor_burden", True)
        for rr in (self._sim, self._ss):
            rr.integrator.relative_tolerance = 1e-7
            rr.integrator.absolute_tolerance = 1e-9
            rr.integrator.maximum_num_steps = 100000
            rr.integrator.maximum_bdf_order = 3  # BDF4-5 stall on the weakly damped ER modes
            for sid in rr.model.getFloatingSpeciesIds():  # no value-scaled tolerances
                rr.integrator.setIndividualTolerance(sid, 1e-9)
        model = self._sim.model
        self.species_ids = list(model.getFloatingSpeciesIds())
        self.observable_ids = list(self._sim.getAssignmentRuleIds())
        rules = set(self.observable_ids)
        self.parameters = {p: float(self._sim[p]) for p in model.getGlobalParameterIds()
                           if p not in rules}
        self.initial = {s: float(self._sim[f"init({s})"]) for s in self.species_ids}
        self._cache: dict = {}

    def _apply(self, rr, params: Mapping[str, float]) -> None:
        unknown = set(params) - set(self.parameters)
        if unknown:
            raise KeyError(f"not parameters of the model: {sorted(unknown)}")
        for pid, default in self.parameters.items():
            rr[pid] = float(params.get(pid, default))

    def _read(self, rr) -> dict[str, float]:
        out = {s: float(rr[s]) for s in self.species_ids if s != "tumor_burden"}
        out.update({o: float(rr[o]) for o in self.observable_ids})
        out["tumor_burden"] = 1.0
        return out

    def steady_state(self, params: Mapping[str, float] | None = None) -> dict[str, float]:
        params = dict(params or {})
        key = tuple(sorted(params.items()))
        if key in self._cache:
            return dict(self._cache[key])
        rr = self._ss
        self._apply(rr, params)
        for s, v in self.initial.items():
            rr[s] = v
        rr.simulate(0.0, 4e4, 3)  # slowest process: adaptation, tau ~ 30 d
        for _ in range(3):
            rates = np.abs(rr.getRatesOfChange())
            ids = rr.model.getFloatingSpeciesIds()
            scale = np.array([abs(rr[s]) for s in ids]) + 1e-6
            if np.max(rates / scale) < 1e-7:
                break
            rr.simulate(0.0, 1e5, 3)
        else:
            raise RuntimeError(f"no steady state under {params}")
        result = self._read(rr)
        self._cache[key] = result
        return dict(result)

    def simulate(self, params: Mapping[str, float] | None, t,
                 initial: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
        t = np.asarray(t, dtype=float)
        sel = ["time"] + self.species_ids + self.observable_ids
        init = dict(self.initial)
        if initial is not None:
            init.update({s: initial[s] for s in self.species_ids if s in initial})
        init["tumor_burden"] = 1.0
        rr = self._sim
        last = None
        for order in (3, 2, 1):  # BDF4-5 can stall on the weakly damped ER modes
            rr.resetAll()
            rr.integrator.maximum_bdf_order = order
            self._apply(rr, dict(params or {}))
            for s, v in init.items():
                rr[s] = max(float(v), 0.0)
            try:
                res = rr.simulate(times=list(t), selections=sel)
                break
            except RuntimeError as err:
                last = err
        else:
            raise RuntimeError(f"CVODE failed: {last}")
        arr = np.asarray(res)
        return {name: arr[:, i].copy() for i, name in enumerate(sel) if name != "time"} | {
            "time": arr[:, 0].copy()}
