"""Forward sensitivities of a compiled model: the machinery shared by
``simulate(..., sensitivities=[...])`` and the PEtab gradients.

- :class:`SensitivityIntegrator`: the model augmented with its sensitivity equations
  (:func:`simulator.forward_sensitivities.augment`) on the model's backend, its code built
  once per model and set of directions (and cached on disk like the model's own).
- :class:`OutputJacobian`: ``d out / dy`` and ``d out / dp`` of outputs, generated
  symbolically (only the structurally nonzero entries printed).
- :func:`initial_derivatives`: ``dy0/dq`` and ``dp/dq`` of the initial-value map for
  overrides ``q`` (initial assignments and compartment conversions included). The map is
  algebraic; it is differentiated by central differences, exact for the affine maps that
  overrides make and O(h^2) through nonlinear initial assignments.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import sympy

from simulator.codegen.common import SymbolMap
from simulator.codegen.numpy_fns import compile_numpy
from simulator.forward_sensitivities import Augmented, augment
from simulator.numeric import MODULES
from simulator.solvers.base import SolverOptions
from simulator.solvers.compiled import CompiledSegmenter
from simulator.solvers.driver import RunResult, run
from simulator.solvers.scipy_backend import ScipySegmenter
from simulator.system import OdeSystem

__all__ = ["SensitivityIntegrator", "OutputJacobian", "initial_derivatives", "REL_STEP"]

#: relative step of the central differences of the initial-value map
REL_STEP = 1e-6


def initial_derivatives(values, base: dict, names) -> tuple:
    """``(y0, p, dy0 (n, k), dp (m, k))``: ``values(overrides) -> (y0, p)`` at ``base`` and
    its derivatives by the overrides ``names`` (each must be in ``base``)."""
    y0, p = values(base)
    dy0 = np.zeros((y0.size, len(names)))
    dp = np.zeros((p.size, len(names)))
    for i, name in enumerate(names):
        v = base[name]
        h = REL_STEP * max(abs(v), 1e-8)
        up = values(dict(base, **{name: v + h}))
        down = values(dict(base, **{name: v - h}))
        dy0[:, i] = (up[0] - down[0]) / (2 * h)
        dp[:, i] = (up[1] - down[1]) / (2 * h)
    return y0, p, dy0, dp


class SensitivityIntegrator:
    """``system`` with ``m`` sensitivity directions whose forcing uses the ``(parameter
    index, direction)`` entries ``pairs`` of ``D``; ``backend`` "compiled" or "scipy"."""

    def __init__(self, system: OdeSystem, pairs, m: int, backend: str,
                 options: SolverOptions):
        self.augmented: Augmented = augment(system, pairs, m)
        self.backend = backend
        self.options = options

    @cached_property
    def _functions(self):
        aug = self.augmented.system
        fns = compile_numpy(aug)
        if self.backend == "compiled" and aug.n_states:
            return fns, CompiledSegmenter(aug, self.options)
        return fns, ScipySegmenter(fns, self.options)

    def run(self, y0, p, S0, D, t_out, t0: float = 0.0) -> tuple[RunResult, np.ndarray,
                                                                 np.ndarray]:
        """``(result, y (n_t, n), S (n_t, n, m))`` from ``y0``, ``p``, ``S0 (n, m)`` and
        ``D (n_params, m)``."""
        aug = self.augmented
        fns, seg = self._functions
        res = run(fns, seg, aug.state(y0, S0), aug.parameters(p, D), t_out, t0=t0)
        Y, S = aug.split(res.y)
        return res, Y, S


class OutputJacobian:
    """Every output's derivatives by the states and by the parameters ``p_cols``, as one
    generated function: ``self(t, Y, p) -> (n_t, n_outputs, n + len(p_cols))``. Only the
    structurally nonzero entries are printed."""

    def __init__(self, system: OdeSystem, output_ids, p_cols):
        self.n_out = len(output_ids)
        self.width = system.n_states + len(p_cols)
        smap = SymbolMap.of(system)
        wrt = (*system.y, *(system.p[k] for k in p_cols))
        entries, exprs = [], []
        for r, oid in enumerate(output_ids):
            e = system.outputs[oid]
            free = e.free_symbols if isinstance(e, sympy.Basic) else set()
            for c, v in enumerate(wrt):
                if v in free:
                    d = sympy.diff(e, v)
                    if d != 0:
                        entries.append((r, c))
                        exprs.append(smap.rename(d, f"output '{oid}'"))
        self.rows = np.array([r for r, _ in entries], dtype=np.int64)
        self.cols = np.array([c for _, c in entries], dtype=np.int64)
        self._f = sympy.lambdify((smap.t, list(smap.y), list(smap.p)), exprs,
                                 modules=MODULES, cse=True) if exprs else None

    def __call__(self, t, Y, p) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        out = np.zeros((t.size, self.n_out, self.width))
        if self._f is None:
            return out
        with np.errstate(all="ignore"):
            vals = self._f(t, list(Y.T), list(p))
        for k, v in enumerate(vals):
            out[:, self.rows[k], self.cols[k]] = v
        return out
