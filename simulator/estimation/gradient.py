"""Exact gradients of a PEtab objective from forward sensitivities.

Per experiment (condition pair):

1. ``dp/dtheta`` and ``dy0/dtheta`` of the condition's initial values
   (:func:`simulator.sensitivities.initial_derivatives`).
2. Pre-equilibration and ``time = inf``: at the steady state ``f(y*, p) = 0`` with the
   conserved moieties ``L y* = L y0`` held, ``J S + (df/dp) D = 0`` and ``L S = L S0``
   (implicit function theorem, solved as one least-squares system).
3. Time courses: the model augmented with its sensitivities
   (:class:`simulator.sensitivities.SensitivityIntegrator`), on the model's backend.
4. Observables and noise: the chain rule through the outputs (``d out / dy``,
   ``d out / dp`` generated symbolically) and the formulas' own derivatives.

Only estimated parameters that reach the model (through ``p`` or ``y0``) become
directions of the ODE; the others enter through the formulas alone.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import sympy

from simulator import api, conditions
from simulator.codegen.common import SymbolMap
from simulator.errors import IntegrationError
from simulator.estimation import likelihood
from simulator.forward_sensitivities import parameter_jacobian
from simulator.numeric import MODULES, small_linear_algebra
from simulator.sensitivities import (REL_STEP, OutputJacobian, SensitivityIntegrator,
                                     initial_derivatives)
from simulator.solvers.newton import conservation_laws, find_steady_state

__all__ = ["Sensitivities"]


class Sensitivities:
    """The gradient machinery of one :class:`CalibrationProblem` (built on first use)."""

    def __init__(self, problem, backend: str = "auto"):
        self.pr = problem
        self.cm = api.compile_model(problem.model)
        self.system = self.cm.system
        self.backend = backend
        self.n_est = len(problem.parameter_ids)
        self.est_index = {pid: k for k, pid in enumerate(problem.parameter_ids)}

    # --- the initial-value map ---------------------------------------------------------
    def initial_derivatives(self, cid, theta, fixed_initial=None):
        """``(y0, p, dy0 (n, n_est), dp (n_params, n_est))`` of condition ``cid``.

        By the chain rule through the overrides: the condition's map from the estimated
        parameters to model overrides (cheap, differenced here), then the initial-value
        map's derivatives by the overrides that move (:meth:`Initializer.jacobian`,
        which recomputes only what depends on each)."""
        def overrides_at(th):
            params, initial = self.pr.condition(cid, th)
            if fixed_initial is not None:
                initial = dict(fixed_initial, **initial)
            return conditions.overrides(self.pr.model, self.system, params=params,
                                        initial=initial)
        names = list(self.pr.parameter_ids)
        touching = self.__dict__.get("_touching")     # known once the structure is built
        cols = range(len(names)) if touching is None else touching
        # the others (observable scales, offsets, noise) have zero columns: no differences
        ov = overrides_at(theta)
        d_ov: dict[str, np.ndarray] = {}
        for i in cols:
            name = names[i]
            v = theta[name]
            h = REL_STEP * max(abs(v), 1e-8)
            up = overrides_at(dict(theta, **{name: v + h}))
            down = overrides_at(dict(theta, **{name: v - h}))
            if up.keys() != ov.keys() or down.keys() != ov.keys():   # not a smooth map
                return self._differenced_composition(overrides_at, theta, names, cols)
            for k, u in up.items():
                if u != down[k]:
                    d_ov.setdefault(k, np.zeros(self.n_est))[i] = (u - down[k]) / (2 * h)
        keys = sorted(d_ov)
        y0, p, dy0_ov, dp_ov = self.system.init.jacobian(ov, keys, 0.0, REL_STEP)
        D = np.array([d_ov[k] for k in keys]).reshape(len(keys), self.n_est)
        return y0, p, dy0_ov @ D, dp_ov @ D

    def _differenced_composition(self, overrides_at, theta, names, cols):
        """The whole map differenced per estimated parameter (where an override appears
        or vanishes with a parameter's value)."""
        y0, p, dy0_t, dp_t = initial_derivatives(
            lambda th: self.system.init.values(overrides_at(th), 0.0), theta,
            [names[i] for i in cols])
        dy0 = np.zeros((y0.size, self.n_est))
        dp = np.zeros((p.size, self.n_est))
        dy0[:, list(cols)], dp[:, list(cols)] = dy0_t, dp_t
        return y0, p, dy0, dp

    # --- structure, built once ---------------------------------------------------------
    @cached_property
    def structure(self):
        """``(directions, pairs)``: estimated parameters that reach the model (indices into
        ``parameter_ids``), and the (parameter index, direction) entries of ``D`` that any
        condition makes nonzero (at the nominal point and at one point inside the bounds)."""
        pr = self.pr
        rng = np.random.default_rng(0)
        points = [pr.x_nominal]
        lo, hi = pr.bounds[:, 0], pr.bounds[:, 1]
        ok = np.isfinite(lo) & np.isfinite(hi)
        points.append(np.where(ok, lo + rng.uniform(0.3, 0.7, lo.size) * (hi - lo),
                               pr.x_nominal))
        cids = {c for e in pr._experiments for c in (e.preeq, e.sim) if c is not None}
        reach_y, reach_p = np.zeros(self.n_est, bool), np.zeros((self.system.n_params,
                                                                  self.n_est), bool)
        for x in points:
            theta = pr._theta(x)
            for cid in sorted(cids):
                _, _, dy0, dp = self.initial_derivatives(cid, theta)
                reach_y |= (dy0 != 0).any(axis=0)
                reach_p |= dp != 0
        # estimated parameters that move an initial value or a model parameter at all
        self._touching = np.flatnonzero(reach_y | reach_p.any(axis=0))
        used = self.system.dynamics_symbols()
        used_k = np.array([s in used for s in self.system.p])
        reach_p &= used_k[:, None]
        directions = np.flatnonzero(reach_y | reach_p.any(axis=0))
        col = {int(i): d for d, i in enumerate(directions)}
        pairs = [(int(k), col[int(i)]) for k, i in zip(*np.nonzero(reach_p))]
        self.rate_params = np.flatnonzero(reach_p.any(axis=1))   # p entries the rates see move
        return directions, pairs

    @cached_property
    def integrator(self) -> SensitivityIntegrator:
        directions, pairs = self.structure
        backend = self.backend
        if backend == "auto":
            backend = self.cm.backend_for(self.pr.options)
        return SensitivityIntegrator(self.system, pairs, len(directions), backend,
                                     self.pr.options)

    @cached_property
    def _dfdp(self):
        """numpy ``(df/dp) dp`` at a point for the steady states: only the columns of the
        parameters that some estimated parameter moves and the rates use."""
        self.structure
        ks = [int(k) for k in self.rate_params]
        smap = SymbolMap.of(self.system)
        exprs = [smap.rename(e, "sensitivity") for row in parameter_jacobian(self.system, ks)
                 for e in row]
        f = sympy.lambdify((smap.t, list(smap.y), list(smap.p)), exprs, modules=MODULES,
                           cse=True)
        n = self.system.n_states

        def times(t, y, p, dp):
            if not ks:
                return np.zeros((n, dp.shape[1]))
            with np.errstate(all="ignore"):
                M = np.array(f(t, y, p), dtype=float).reshape(n, len(ks))
            return M @ dp[ks]
        return times

    def conservation(self, y, p):
        """The conserved moieties of the free states (left null space of their Jacobian),
        found once per problem: they come from the stoichiometry, not the values."""
        if "_laws" not in self.__dict__:
            free = ~self.held

            def free_jacobian(t, y_free, pp):
                full = y.astype(float).copy()
                full[free] = y_free
                return self.cm.numpy.jac(t, full, pp)[np.ix_(free, free)]
            self._laws = (conservation_laws(free_jacobian, y[free], p) if free.any()
                          else np.zeros((0, 0)))
        return self._laws

    def output_jacobian(self, name: str) -> OutputJacobian:
        """``d name / d (y, p)`` over rows (:class:`OutputJacobian` of one output and every
        parameter), built once per output."""
        cache = self.__dict__.setdefault("_output_jacobians", {})
        if name not in cache:
            cache[name] = OutputJacobian(self.system, [name], range(self.system.n_params))
        return cache[name]

    # --- steady states -----------------------------------------------------------------
    @cached_property
    def held(self) -> np.ndarray:
        """States held at their value while a steady state is found (the catalogue's
        ``reset_at_start``), as a boolean mask."""
        held = set(self.pr.model.catalog.reset_at_start)
        return np.array([sid in held for sid in self.system.state_ids], dtype=bool)

    def steady_sensitivity(self, y, p, dp, S0):
        """``S`` at the steady state ``y`` of parameters ``p`` (implicit function theorem)
        with the conserved moieties held at ``L S0`` and the held states at ``S0``."""
        free = ~self.held
        J = self.cm.numpy.jac(0.0, y, p)
        rhs = -self._dfdp(0.0, y, p, dp)[free] - J[np.ix_(free, ~free)] @ S0[~free]
        Jf = J[np.ix_(free, free)]
        L = self.conservation(y, p)
        if L.size:
            A = np.vstack([Jf, L])
            b = np.vstack([rhs, L @ S0[free]])
        else:
            A, b = Jf, rhs
        S = S0.astype(float).copy()
        S[free], *_ = np.linalg.lstsq(A, b, rcond=None)
        return S

    # --- one experiment ----------------------------------------------------------------
    def experiment(self, exp, theta):
        """``(values(name), derivatives(name))``; see :meth:`_experiment`."""
        with small_linear_algebra():
            return self._experiment(exp, theta)

    def _experiment(self, exp, theta):
        """``(values(name), derivatives(name))`` over the experiment's rows: model output
        ``name`` and its derivative by the estimated parameters, ``(rows, n_est)``."""
        pr = self.pr
        directions, _ = self.structure
        if exp.preeq is not None:
            y0p, pp, dy0p, dpp = self.initial_derivatives(exp.preeq, theta)
            ss = pr.preequilibrate(exp, theta)
            S_pre = self.steady_sensitivity(ss.y, pp, dpp, dy0p)
            reset = pr.reset_species(exp.sim)
            y0, p, dy0, dp = self.initial_derivatives(exp.sim, theta, ss.state)
            keep = np.array([sid not in reset for sid in self.system.state_ids])
            dy0 = np.where(keep[:, None], S_pre, dy0)
        else:
            y0, p, dy0, dp = self.initial_derivatives(exp.sim, theta)
        res, Y, S = self.integrator.run(y0, p, dy0[:, directions], dp[:, directions],
                                        exp.t_out)
        if not res.success:
            raise IntegrationError(f"condition '{exp.sim}': the integration with "
                                   f"sensitivities failed at t = {res.t_fail:g}: {res.message}")
        t_rows = exp.t_out[np.maximum(exp.t_index, 0)]
        finite = exp.t_index >= 0
        Yr, Sr = Y[np.maximum(exp.t_index, 0)], S[np.maximum(exp.t_index, 0)]
        if (~finite).any():
            held = tuple(sid for sid, h in zip(self.system.state_ids, self.held) if h)
            ss = find_steady_state(self.cm.numpy, y0, p, tol=1e-9, max_time=1e7,
                                   options=pr.options, exclude=held,
                                   relax=self.cm.relaxation(held, pr.options), stable=False)
            if not ss.converged:
                raise IntegrationError(f"condition '{exp.sim}' has measurements at time inf "
                                       f"but reaches no steady state: {ss.message}")
            Yr[~finite] = ss.y
            Sr[~finite] = self.steady_sensitivity(ss.y, p, dp[:, directions],
                                                  dy0[:, directions])
        outputs = []                        # every output on the rows, computed once

        def values(name):
            if not outputs:
                with np.errstate(all="ignore"):
                    outputs.append(np.asarray(self.cm.numpy.outputs(
                        t_rows, Yr, list(np.broadcast_to(p, (t_rows.size, p.size)).T)),
                        dtype=float))
            return outputs[0][:, self.cm.output_ids.index(name)]

        def derivatives(name):
            J = self.output_jacobian(name)(t_rows, Yr, p)[:, 0]
            n = self.system.n_states
            dy, dpar = J[:, :n], J[:, n:]
            out = dpar @ dp                 # through p: every estimated parameter
            out[:, directions] += np.einsum("rj,rjd->rd", dy, Sr)   # through the states
            return out
        return values, derivatives
