"""A PEtab v1 problem as an objective: ``load_petab(yaml) -> CalibrationProblem``.

What the tables mean, in the order the objective applies it:

1. **Parameters** (parameter table): estimated ones come from ``x`` on their scale
   (``lin``/``log``/``log10``), the others are their ``nominalValue``. An id that is a model
   parameter or compartment sets it in every condition.
2. **Conditions** (condition table): each column sets a model parameter, compartment or
   species initial value (concentration unless the species has only substance units) to a
   number or to a parameter table id; ``NaN`` keeps the model's own value.
3. **Experiments**: the measurement table's ``(preequilibrationConditionId,
   simulationConditionId)`` pairs. With pre-equilibration the model is brought to steady
   state under the first condition (states the model's catalogue resets at the start of a
   treatment, like the bundled model's ``tumor_burden``, are held; a catalogue file beside
   the SBML file, with its name and ``.toml``, is attached); the simulation then starts from that state, with the
   species the second condition sets (not ``NaN``) reset to its values, and runs with its
   parameters. ``time = inf`` measures at the steady state of the simulation condition.
4. **Observables**: ``observableFormula`` and ``noiseFormula`` in model ids, parameter table
   ids and the placeholders ``observableParameter{n}_{id}`` / ``noiseParameter{n}_{id}``,
   which each measurement row fills (numbers or parameter ids, ``;``-separated).
5. **Likelihood**: normal or Laplace noise on the ``lin``/``log``/``log10`` scale
   (:mod:`simulator.estimation.likelihood`), plus objective priors where asked.

Every check happens at load time and names file, row and column (:class:`PetabError`); a
simulation that fails while evaluating gives ``nan`` with the reason in
:attr:`CalibrationProblem.last_failure`, or raises where asked.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from simulator import api
from simulator.errors import (IntegrationError, InvalidValueError, PetabError, SimulatorError,
                              UnsupportedFeatureError)
from simulator.estimation import likelihood
from simulator.estimation.formulas import Formula, parse_formula
from simulator.estimation.gradient import Sensitivities
from simulator.estimation.tables import Tables, lint, read_tables
from simulator.model import Model
from simulator.solvers.base import SolverOptions

__all__ = ["load_petab", "CalibrationProblem", "PETAB_OPTIONS", "example_problem"]

#: integrator settings of a PEtab objective (tighter than a plain simulation's: the
#: benchmark references are computed at rtol = atol = 1e-8)
PETAB_OPTIONS = SolverOptions(rtol=1e-9, atol=1e-12)

_PLACEHOLDER = re.compile(r"^(observable|noise)Parameter(\d+)_(.+)$")


@dataclass(frozen=True)
class _Observable:
    id: str
    formula: Formula
    noise: Formula
    transform: str
    distribution: str
    n_obs: int        # placeholders observableParameter1..n of this observable
    n_noise: int


@dataclass
class _Experiment:
    """Measurements of one (preequilibration, simulation) condition pair."""

    preeq: str | None
    sim: str
    rows: np.ndarray                 # measurement row indices
    t_out: np.ndarray                # finite output times (starting at 0)
    t_index: np.ndarray              # per row: index into t_out, -1 for steady state


@dataclass
class CalibrationProblem:
    """A PEtab problem ready to evaluate: :meth:`nllh`, :meth:`residuals`, :meth:`chi2`,
    :meth:`simulate`, on the estimation scale of :attr:`parameter_ids`.

    Attributes
    ----------
    parameter_ids : tuple of str
        The estimated parameters, in the order of ``x``.
    x_nominal : ndarray
        Their nominal values on the estimation scale.
    bounds : ndarray, shape (n, 2)
        Lower and upper bounds on the estimation scale.
    scales : tuple of str
    model : Model
    options : SolverOptions
    last_failure : str
        Why the last evaluation gave ``nan`` (empty when it did not).
    """

    path: Path
    model: Model
    tables: Tables
    parameter_ids: tuple
    x_nominal: np.ndarray
    bounds: np.ndarray
    scales: tuple
    options: SolverOptions = PETAB_OPTIONS
    last_failure: str = ""
    _all_ids: tuple = ()
    _all_scales: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _all_nominal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _estimated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    _model_params: tuple = ()        # parameter table ids that are model parameters
    _conditions: dict = field(default_factory=dict)
    _observables: tuple = ()
    _obs_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    _measured: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _overrides: tuple = ()           # per row: (observable entries, noise entries)
    _experiments: tuple = ()
    _priors: tuple = ()              # (index into estimated, kind, a, b)
    initialization_priors: tuple = ()   # the same, for start points
    _sens: dict = field(default_factory=dict, repr=False)

    # --- parameters ---------------------------------------------------------------------
    def _theta(self, x) -> dict:
        """Every parameter table id -> its linear value, ``x`` on the estimation scale."""
        full = self._all_nominal.copy()
        if x is not None:
            x = np.asarray(x, dtype=float).reshape(-1)
            if x.size != len(self.parameter_ids):
                raise ValueError(f"x has {x.size} entries; the problem estimates "
                                 f"{len(self.parameter_ids)} ({', '.join(self.parameter_ids)})")
            full[self._estimated] = x
        values = likelihood.to_linear(self._all_scales, full)
        return dict(zip(self._all_ids, values.tolist()))

    def model_parameters(self, x=None, *, condition: str | None = None) -> dict:
        """The model parameters the problem sets at ``x`` (estimation scale; nominal when
        None), linear scale: every parameter table id that is a model parameter or
        compartment (set in every condition; estimated ones from ``x``, fixed ones at their
        nominal value). With ``condition``, also the model parameters that condition's row
        sets to a parameter table id (its numeric entries, such as drug doses, and the
        species initial values it sets are left to the caller)."""
        theta = self._theta(x)
        params = {k: theta[k] for k in self._model_params}
        if condition is not None:
            if condition not in self._conditions:
                raise InvalidValueError(
                    f"condition {condition!r} is not in the condition table of "
                    f"{self.path.name} (conditions: {', '.join(self._conditions)})")
            for target, (kind, entry) in self._conditions[condition].items():
                if kind == "parameter" and isinstance(entry, str):
                    params[target] = theta[entry]
        return params

    def _resolve(self, entry, theta: dict) -> float:
        return theta[entry] if isinstance(entry, str) else entry

    def condition(self, cid: str, theta: dict) -> tuple[dict, dict]:
        """(params, initial) that condition ``cid`` sets, with the parameter table's model
        parameters first."""
        params = {k: theta[k] for k in self._model_params}
        initial = {}
        for target, (kind, entry) in self._conditions.get(cid, {}).items():
            value = self._resolve(entry, theta)
            (initial if kind == "species" else params)[target] = value
        return params, initial

    # --- simulation ---------------------------------------------------------------------
    def preequilibrate(self, exp: _Experiment, theta: dict):
        """The steady state of the experiment's pre-equilibration condition."""
        params, initial = self.condition(exp.preeq, theta)
        ss = api.steady_state(self.model, params=params, initial=initial, options=self.options,
                              stable=False)
        if not ss.converged:
            raise IntegrationError(f"pre-equilibration under condition '{exp.preeq}' did "
                                   f"not reach a steady state: {ss.message}")
        return ss

    def reset_species(self, cid: str) -> set:
        """The initial values condition ``cid`` sets (reset after pre-equilibration)."""
        return {k for k, (kind, _) in self._conditions.get(cid, {}).items()
                if kind == "species"}

    def _run(self, exp: _Experiment, theta: dict):
        """``(values(id) -> array over the experiment's rows, params)`` of one experiment."""
        params, initial = self.condition(exp.sim, theta)
        if exp.preeq is not None:
            initial = dict(self.preequilibrate(exp, theta).state, **initial)
        traj = api.simulate(self.model, exp.t_out, params=params, initial=initial,
                            options=self.options)
        steady = None
        if (exp.t_index < 0).any():
            steady = api.steady_state(self.model, params=params, initial=initial,
                                      options=self.options, stable=False)
            if not steady.converged:
                raise IntegrationError(f"condition '{exp.sim}' has measurements at time inf "
                                       f"but reaches no steady state: {steady.message}")
        rows_finite = exp.t_index >= 0

        def values(name: str) -> np.ndarray:
            out = np.empty(exp.t_index.size)
            out[rows_finite] = traj[name][exp.t_index[rows_finite]]
            if steady is not None:
                out[~rows_finite] = steady[name]
            return out
        return values, traj.params

    def _simulated(self, theta: dict, sens=None):
        """``(y, sigma, dy, dsigma)`` per measurement row; the derivatives by the estimated
        parameters (linear scale, ``(rows, n_est)``) only with ``sens`` (else None)."""
        n, n_est = self._measured.size, len(self.parameter_ids)
        y, sigma = np.full(n, np.nan), np.full(n, np.nan)
        dy = np.zeros((n, n_est)) if sens is not None else None
        dsigma = np.zeros((n, n_est)) if sens is not None else None
        est = {pid: k for k, pid in enumerate(self.parameter_ids)}
        for exp in self._experiments:
            if sens is None:
                values, model_params = self._run(exp, theta)
                derivatives = None
            else:
                values, derivatives = sens.experiment(exp, theta)
                model_params = set(self._model_params) | set(sens.system.param_ids)
            cache: dict = {}
            for o, obs in enumerate(self._observables):
                mine = self._obs_index[exp.rows] == o
                if not mine.any():
                    continue
                rows = exp.rows[mine]
                for formula, out, dout in ((obs.formula, y, dy), (obs.noise, sigma, dsigma)):
                    args, dargs = {}, {}
                    for name in formula.names:
                        args[name], dargs[name] = self._symbol(
                            name, obs, rows, mine, theta, model_params, values, derivatives,
                            cache, est)
                    out[rows] = formula(args)
                    if dout is not None:
                        for name in formula.names:
                            if dargs[name] is not None:
                                partial = np.broadcast_to(formula.partial(name)(args), rows.shape)
                                dout[rows] += partial[:, None] * dargs[name]
        return y, sigma, dy, dsigma

    def _symbol(self, name, obs, rows, mine, theta, model_params, values, derivatives,
                cache, est):
        """A formula symbol's values over ``rows`` and (with ``derivatives``) its derivative
        by the estimated parameters, ``(rows, n_est)`` or None when it is 0."""
        n_est = len(est)
        m = _PLACEHOLDER.match(name)
        if m and m.group(3) == obs.id:
            k = int(m.group(2)) - 1
            entries = [self._overrides[r][0 if m.group(1) == "observable" else 1][k]
                       for r in rows]
            vals = np.array([self._resolve(e, theta) for e in entries], dtype=float)
            d = None
            if derivatives is not None and any(isinstance(e, str) and e in est for e in entries):
                d = np.zeros((rows.size, n_est))
                for r, e in enumerate(entries):
                    if isinstance(e, str) and e in est:
                        d[r, est[e]] = 1.0
            return vals, d
        if name == "time" and name not in model_params and name not in theta:
            return self._times[rows], None
        if name in theta and name not in model_params:
            d = None
            if derivatives is not None and name in est:
                d = np.zeros((rows.size, n_est))
                d[:, est[name]] = 1.0
            return theta[name], d
        if name not in cache:
            cache[name] = (values(name), derivatives(name) if derivatives is not None else None)
        v, d = cache[name]
        return v[mine], (d[mine] if d is not None else None)

    def sensitivities(self, backend: str = "auto") -> Sensitivities:
        """The gradient machinery (forward sensitivities), built on first use."""
        if backend not in self._sens:
            self._sens[backend] = Sensitivities(self, backend)
        return self._sens[backend]

    def _evaluate(self, x, strict: bool, gradient: bool = False):
        """``(theta, y, sigma, dy, dsigma)`` (derivatives by the estimation-scale ``x``, or
        None), or ``None`` with :attr:`last_failure` set."""
        theta = self._theta(x)
        self.last_failure = ""
        try:
            y, sigma, dy, dsigma = self._simulated(
                theta, self.sensitivities() if gradient else None)
        except (IntegrationError, SimulatorError) as e:
            if strict or isinstance(e, UnsupportedFeatureError):
                raise
            self.last_failure = str(e)
            return None
        bad = ~(np.isfinite(y) & np.isfinite(sigma) & (sigma > 0))
        if gradient:
            bad |= ~(np.isfinite(dy).all(axis=1) & np.isfinite(dsigma).all(axis=1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            f, line = self.tables.origin[i]
            what = ("simulation" if not np.isfinite(y[i]) else "noise (sigma)"
                    if not (np.isfinite(sigma[i]) and sigma[i] > 0) else "gradient")
            value = {"simulation": y[i], "noise (sigma)": sigma[i]}.get(what, "not finite")
            msg = (f"{f} line {line}: the {what} of observable "
                   f"'{self._observables[self._obs_index[i]].id}' is {value!r} "
                   f"({int(bad.sum())} row(s) affected)")
            if strict:
                raise IntegrationError(msg)
            self.last_failure = msg
            return None
        if gradient:
            x_full = self.x_nominal if x is None else np.asarray(x, dtype=float)
            scale = likelihood.linear_derivative(np.array(self.scales), x_full)
            dy, dsigma = dy * scale, dsigma * scale
        return theta, y, sigma, dy, dsigma

    # --- objective ----------------------------------------------------------------------
    def nllh(self, x=None, *, gradient: bool = False, fisher: bool = False,
             prior: bool = True, strict: bool = False):
        """The negative log-likelihood at ``x`` (estimation scale; nominal when None), with
        the objective priors' negative log densities when ``prior``.

        ``gradient=True`` returns ``(nllh, gradient by x)`` from forward sensitivities;
        ``fisher=True`` adds the expected Fisher information matrix (a positive
        semi-definite Hessian approximation, from the same sensitivities):
        ``(nllh, gradient, fim)``. A failed simulation gives ``nan`` (and ``nan``
        derivatives; the reason in :attr:`last_failure`), or raises with ``strict=True``.
        """
        gradient = gradient or fisher
        got = self._evaluate(x, strict, gradient)
        n_est = len(self.parameter_ids)
        if got is None:
            nan = np.full(n_est, np.nan)
            return ((np.nan, nan, np.full((n_est, n_est), np.nan)) if fisher else
                    (np.nan, nan) if gradient else np.nan)
        theta, y, sigma, dy, dsigma = got
        total, grad = 0.0, np.zeros(n_est)
        fim = np.zeros((n_est, n_est)) if fisher else None
        with np.errstate(all="ignore"):
            for o, obs in enumerate(self._observables):
                rows = self._obs_index == o
                value, d_y, d_s = likelihood.noise_nllh(obs.distribution, obs.transform,
                                                        self._measured[rows], y[rows],
                                                        sigma[rows])
                total += float(value.sum())
                if gradient:
                    grad += d_y @ dy[rows] + d_s @ dsigma[rows]
                if fisher:
                    w_y, w_s = likelihood.fisher_weights(obs.distribution, obs.transform,
                                                         y[rows], sigma[rows])
                    a, b = w_y[:, None] * dy[rows], w_s[:, None] * dsigma[rows]
                    fim += a.T @ a + b.T @ b
        if prior and self._priors:
            p_value, p_grad = self.prior_nllh(x)
            total += p_value
            grad += p_grad
            if fisher:
                fim += self._prior_fisher(x)
        if not (np.isfinite(total) and np.isfinite(grad).all()):
            # e.g. a simulated value <= 0 under a log transformation: never a silent NaN
            msg = (f"the objective is {total!r} at x = {np.asarray(x if x is not None else self.x_nominal).tolist()}"
                   " (a simulated value outside its transformation's domain, or a prior's "
                   "density of 0)")
            if strict:
                raise InvalidValueError(msg)
            self.last_failure = msg
            total = np.nan
            grad = np.full(n_est, np.nan)
        if fisher:
            if not (np.isfinite(total) and np.isfinite(fim).all()):
                fim = np.full((n_est, n_est), np.nan)
            return total, grad, fim
        return (total, grad) if gradient else total

    @property
    def observable_transforms(self) -> dict[str, str]:
        """Observable id -> its transformation (``lin``, ``log`` or ``log10``)."""
        return {obs.id: obs.transform for obs in self._observables}

    @property
    def model_parameter_ids(self) -> tuple:
        """The parameter table ids that are parameters (or compartments) of the model."""
        return tuple(self._model_params)

    def prior_sds(self) -> dict[int, float]:
        """Index of an estimated parameter -> the standard deviation of its objective
        prior on the estimation scale, for the normal priors that have one there
        (``parameterScaleNormal``, or ``normal`` on a linear-scale parameter)."""
        out = {}
        for i, kind, _, b in self._priors:
            if kind == "parameterScaleNormal" or (kind == "normal"
                                                  and self.scales[i] == "lin"):
                out[i] = float(b)
        return out

    @property
    def has_priors(self) -> bool:
        """Whether the parameter table gives objective priors."""
        return bool(self._priors)

    def _on_scales(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, linear values, d value / d x)`` at ``x`` (nominal when None)."""
        x = self.x_nominal if x is None else np.asarray(x, dtype=float)
        scales = np.array(self.scales)
        return x, likelihood.to_linear(scales, x), likelihood.linear_derivative(scales, x)

    def prior_nllh(self, x=None) -> tuple[float, np.ndarray]:
        """The objective priors' negative log density at ``x`` and its gradient."""
        x, values, dvalues = self._on_scales(x)
        total, grad = 0.0, np.zeros(x.size)
        for i, kind, a, b in self._priors:
            v, g = likelihood.prior_nllh(kind, a, b, x[i], values[i], dvalues[i])
            total += v
            grad[i] += g
        return total, grad

    def _prior_fisher(self, x=None) -> np.ndarray:
        """The priors' expected Fisher information (diagonal) at ``x``."""
        x, values, dvalues = self._on_scales(x)
        out = np.zeros((x.size, x.size))
        for i, kind, _a, b in self._priors:
            out[i, i] += likelihood.prior_fisher(kind, b, values[i], dvalues[i])
        return out

    def residuals(self, x=None, *, jacobian: bool = False, strict: bool = False):
        """Weighted residuals ``(h(y) - h(m)) / sigma``, one per measurement row; with
        ``jacobian=True`` also their Jacobian by ``x``, ``(rows, n_est)``."""
        got = self._evaluate(x, strict, jacobian)
        n, n_est = self._measured.size, len(self.parameter_ids)
        if got is None:
            r = np.full(n, np.nan)
            return (r, np.full((n, n_est), np.nan)) if jacobian else r
        _, y, sigma, dy, dsigma = got
        r = np.empty(n)
        J = np.zeros((n, n_est)) if jacobian else None
        for o, obs in enumerate(self._observables):
            rows = self._obs_index == o
            r[rows], r_y, r_s = likelihood.residuals(obs.transform, self._measured[rows],
                                                     y[rows], sigma[rows])
            if jacobian:
                J[rows] = r_y[:, None] * dy[rows] + r_s[:, None] * dsigma[rows]
        return (r, J) if jacobian else r

    def chi2(self, x=None, *, strict: bool = False) -> float:
        """Sum of squared weighted residuals."""
        return float(np.sum(self.residuals(x, strict=strict) ** 2))

    def simulate(self, x=None, *, strict: bool = True) -> pd.DataFrame:
        """The measurement table with a ``simulation`` column in place of ``measurement``
        (PEtab's simulation table)."""
        got = self._evaluate(x, strict)
        y = got[1] if got is not None else np.full(self._measured.size, np.nan)
        df = self.tables.measurements.copy()
        df = df.rename(columns={"measurement": "simulation"})
        df["simulation"] = y
        return df

    def simulate_dense(self, x=None, n_points: int = 200) -> pd.DataFrame:
        """Observables on a dense time grid, for plotting fits as curves rather than as
        lines between the data times: per experiment and observable (and per set of
        observable/noise overrides it is measured with), ``n_points`` times from 0 to its
        last finite measurement time, plus the measurement times themselves. Columns
        ``observableId``, ``simulationConditionId``, ``preequilibrationConditionId``,
        ``time``, ``simulation``. Steady-state (``inf``) rows are left out."""
        theta = self._theta(x)
        obs_index, times, overrides, experiments, labels = [], [], [], [], []
        for exp in self._experiments:
            finite = exp.rows[exp.t_index >= 0]
            if finite.size == 0:
                continue
            grid = np.unique(np.concatenate([np.linspace(0.0, exp.t_out.max(), n_points),
                                             exp.t_out]))
            first = {}
            for r in finite:
                first.setdefault((int(self._obs_index[r]), repr(self._overrides[r])), r)
            start = len(times)
            for (o, _), r in first.items():
                obs_index += [o] * grid.size
                times += list(grid)
                overrides += [self._overrides[r]] * grid.size
                labels += [(self._observables[o].id, exp.sim, exp.preeq or "")] * grid.size
            rows = np.arange(start, len(times))
            experiments.append(_Experiment(exp.preeq, exp.sim, rows, grid,
                                           np.tile(np.arange(grid.size), len(first))))
        dense = replace(self, _obs_index=np.array(obs_index, dtype=int),
                        _measured=np.zeros(len(times)), _times=np.array(times),
                        _overrides=tuple(overrides), _experiments=tuple(experiments))
        y = dense._simulated(theta)[0]
        table = pd.DataFrame(labels, columns=["observableId", "simulationConditionId",
                                              "preequilibrationConditionId"])
        table["time"] = times
        table["simulation"] = y
        return table

    def __deepcopy__(self, memo):
        """The problem itself: it holds no state an evaluation changes but caches (pyPESTO
        deep-copies its objective)."""
        return self

    def __reduce__(self):
        """Pickled as its YAML path and options: a worker process reads the tables again
        (the model's compiled code comes from the disk cache)."""
        return (load_petab, (self.path,), {"options": self.options})

    def __setstate__(self, state):
        self.options = state["options"]

    def __repr__(self):
        return (f"CalibrationProblem({self.path.name}: model '{self.model.id}', "
                f"{len(self.parameter_ids)} estimated parameters, {self._measured.size} "
                f"measurements in {len(self._experiments)} experiment(s))")


def example_problem() -> Path:
    """The YAML of the bundled model's example PEtab problem: synthetic phospho-S6 and
    phospho-Akt data under everolimus and alpelisib, four kinetic parameters to recover
    (``simulator/models/petab/er_crosstalk_example``, written by
    ``simulator.estimation.example``)."""
    return Path(str(resources.files("simulator") / "models" / "petab" /
                    "er_crosstalk_example" / "er_crosstalk_example.yaml"))


# --- building --------------------------------------------------------------------------
def load_petab(path: str | os.PathLike, *, options: SolverOptions | None = None
               ) -> CalibrationProblem:
    """Load the PEtab v1 problem whose YAML file is ``path``.

    Raises
    ------
    PetabError
        Malformed or inconsistent tables (every problem found, each naming file, row and
        column).
    UnsupportedFeatureError
        PEtab features Crosstalk does not evaluate, naming table, row and column.
    ModelImportError
        The SBML model cannot be read.
    """
    tables = read_tables(path)
    catalog = Path(tables.sbml_file).with_suffix(".toml")
    model = api.load_model(tables.sbml_file, catalog=catalog if catalog.is_file() else None)
    try:
        return _Builder(tables, model).build(options or PETAB_OPTIONS)
    except (KeyError, ValueError, TypeError) as e:
        if isinstance(e, SimulatorError):
            raise
        lint(tables)             # names what is wrong where it can
        raise PetabError([f"a table cannot be read: {type(e).__name__}: {e}"],
                         source=str(tables.path)) from None


class _Builder:
    def __init__(self, tables: Tables, model: Model):
        self.t = tables
        self.model = model
        self.cm = api.compile_model(model)
        self.problems: list[str] = []
        self.unsupported: list[str] = []
        system = self.cm.system
        self.species = set(system.species_compartment)
        self.initial = self.species | set(system.state_ids)   # set as initial values
        self.outputs = set(self.cm.output_ids)
        self.settable = set(system.param_ids)

    def build(self, options) -> CalibrationProblem:
        t = self.t
        par = t.parameters
        ids = tuple(str(i) for i in par.index)
        scales = par["parameterScale"].astype(str).to_numpy()
        estimate = par["estimate"].astype(int).to_numpy().astype(bool)
        nominal = par["nominalValue"].astype(float).to_numpy() if "nominalValue" in par \
            else np.full(len(ids), np.nan)
        bad_nominal = [ids[i] for i in np.flatnonzero(~np.isfinite(nominal))]
        for pid in bad_nominal:
            if not estimate[ids.index(pid)]:
                self.problems.append(f"{t.files['parameters']} row '{pid}' column nominalValue: "
                                     "a fixed parameter needs a finite nominal value")
        nominal_scaled = likelihood.from_linear(scales, nominal)
        lower = likelihood.from_linear(scales, par["lowerBound"].astype(float).to_numpy())
        upper = likelihood.from_linear(scales, par["upperBound"].astype(float).to_numpy())
        estimated = np.flatnonzero(estimate)
        theta_ids = set(ids)
        model_params = tuple(k for k in ids if k in self.outputs and k not in self.species
                             and k in self.settable)
        conditions = self._conditions(theta_ids)
        observables = self._observables(theta_ids)
        obs_index, measured, times, overrides, experiments = self._measurements(
            observables, theta_ids, conditions)
        priors = self._priors(ids, estimated)
        initialization = self._priors(ids, estimated, "initializationPrior")
        if self.problems:
            raise PetabError(self.problems, source=str(t.path))
        lint(t)
        if self.unsupported:
            raise UnsupportedFeatureError(self.unsupported, source=str(t.path))
        return CalibrationProblem(
            path=t.path, model=self.model, tables=t,
            parameter_ids=tuple(ids[i] for i in estimated),
            x_nominal=nominal_scaled[estimated], bounds=np.column_stack(
                [lower[estimated], upper[estimated]]),
            scales=tuple(scales[estimated]), options=options, _all_ids=ids,
            _all_scales=scales, _all_nominal=nominal_scaled, _estimated=estimated,
            _model_params=model_params, _conditions=conditions, _observables=observables,
            _obs_index=obs_index, _measured=measured, _times=times, _overrides=overrides,
            _experiments=experiments, _priors=priors, initialization_priors=initialization)

    def _entry(self, value, theta_ids, where):
        """A table cell that is a number or a parameter table id: float, id, or None (NaN)."""
        if isinstance(value, str):
            v = value.strip()
            try:
                return float(v) if v.lower() != "nan" else None
            except ValueError:
                if v not in theta_ids:
                    self.problems.append(f"{where}: '{v}' is neither a number nor a parameter "
                                         "of the parameter table")
                return v
        v = float(value)
        return None if np.isnan(v) else v

    def _conditions(self, theta_ids) -> dict:
        t = self.t
        out = {}
        for cid, row in t.conditions.iterrows():
            entries = {}
            for col, value in row.items():
                if col == "conditionName":
                    continue
                where = f"{t.files['conditions']} row '{cid}' column {col}"
                entry = self._entry(value, theta_ids, where)
                if entry is None:
                    continue
                if col in self.initial:
                    entries[col] = ("species", entry)
                elif col in self.settable:
                    entries[col] = ("parameter", entry)
                elif col in self.outputs:
                    self.unsupported.append(f"{where}: '{col}' is set by a rule of the model; "
                                            "the condition table cannot set it")
                else:
                    self.problems.append(f"{where}: '{col}' is not a parameter, species or "
                                         f"compartment of model '{self.model.id}'")
            out[str(cid)] = entries
        return out

    def _observables(self, theta_ids) -> tuple:
        t = self.t
        out = []
        for oid, row in t.observables.iterrows():
            where = f"{t.files['observables']} row '{oid}'"
            try:
                formula = parse_formula(row["observableFormula"], f"{where} column observableFormula")
                noise = parse_formula(row.get("noiseFormula", 1), f"{where} column noiseFormula")
            except ValueError as e:
                self.problems.append(str(e))
                continue
            transform = str(row.get("observableTransformation", "lin") or "lin")
            transform = "lin" if transform == "nan" else transform
            dist = str(row.get("noiseDistribution", "normal") or "normal")
            dist = "normal" if dist == "nan" else dist
            if transform not in likelihood.TRANSFORMS:
                self.problems.append(f"{where} column observableTransformation: {transform!r} "
                                     "is not lin, log or log10")
            if dist not in likelihood.NOISE:
                self.unsupported.append(f"{where} column noiseDistribution: {dist!r} (normal "
                                        "and laplace are supported)")
            counts = {"observable": 0, "noise": 0}
            for col, f in (("observableFormula", formula), ("noiseFormula", noise)):
                for name in f.names:
                    m = _PLACEHOLDER.match(name)
                    if m and m.group(3) == str(oid):
                        counts[m.group(1)] = max(counts[m.group(1)], int(m.group(2)))
                    elif name not in self.outputs and name not in theta_ids and name != "time":
                        self.problems.append(f"{where} column {col}: '{name}' is not an id of "
                                             f"model '{self.model.id}', nor a parameter of the "
                                             "parameter table, nor a placeholder of this "
                                             "observable")
            out.append(_Observable(str(oid), formula, noise, transform, dist,
                                   counts["observable"], counts["noise"]))
        return tuple(out)

    def _split(self, value, n, theta_ids, where) -> tuple:
        if n == 0:
            return ()
        if value is None or (isinstance(value, float) and np.isnan(value)):
            self.problems.append(f"{where}: the observable needs {n} value(s) here, none given")
            return (np.nan,) * n
        parts = str(value).split(";") if isinstance(value, str) else [value]
        if len(parts) != n:
            self.problems.append(f"{where}: {len(parts)} value(s) given, the observable has "
                                 f"{n} placeholder(s)")
            return (np.nan,) * n
        out = []
        for part in parts:
            e = self._entry(part, theta_ids, where)
            out.append(np.nan if e is None else e)
        return tuple(out)

    def _measurements(self, observables, theta_ids, conditions):
        t = self.t
        df = t.measurements
        by_id = {o.id: k for k, o in enumerate(observables)}
        n = len(df)
        obs_index = np.zeros(n, dtype=int)
        measured = df["measurement"].astype(float).to_numpy()
        times = df["time"].astype(float).to_numpy()
        overrides = []
        pre_col = "preequilibrationConditionId" in df
        groups: dict = {}
        for i, row in enumerate(df.itertuples(index=False)):
            f, line = t.origin[i]
            where = f"{f} line {line}"
            r = row._asdict()
            oid = str(r["observableId"])
            if oid not in by_id:
                self.problems.append(f"{where} column observableId: '{oid}' is not in the "
                                     "observable table")
                overrides.append(((), ()))
                continue
            o = observables[by_id[oid]]
            obs_index[i] = by_id[oid]
            overrides.append((
                self._split(r.get("observableParameters"), o.n_obs, theta_ids,
                            f"{where} column observableParameters"),
                self._split(r.get("noiseParameters"), o.n_noise, theta_ids,
                            f"{where} column noiseParameters")))
            if o.transform != "lin" and not measured[i] > 0:
                self.problems.append(f"{where} column measurement: {measured[i]!r} under the "
                                     f"{o.transform} transformation of observable '{oid}' (it "
                                     "must be positive)")
            if np.isnan(times[i]) or times[i] < 0:
                self.problems.append(f"{where} column time: {times[i]!r} is not a time >= 0 "
                                     "(or inf for steady state)")
            pre = r.get("preequilibrationConditionId") if pre_col else None
            pre = None if pre is None or (isinstance(pre, float) and np.isnan(pre)) or pre == "" \
                else str(pre)
            sim_c = str(r["simulationConditionId"])
            for cid, col in ((pre, "preequilibrationConditionId"),
                             (sim_c, "simulationConditionId")):
                if cid is not None and cid not in conditions:
                    self.problems.append(f"{where} column {col}: '{cid}' is not in the "
                                         "condition table")
            groups.setdefault((pre, sim_c), []).append(i)
        experiments = []
        for (pre, sim_c), rows in groups.items():
            rows = np.array(rows, dtype=int)
            ts = times[rows]
            finite = np.unique(ts[np.isfinite(ts)])
            t_out = np.unique(np.concatenate([[0.0], finite]))
            t_index = np.where(np.isfinite(ts), np.searchsorted(t_out, np.where(
                np.isfinite(ts), ts, 0.0)), -1)
            experiments.append(_Experiment(pre, sim_c, rows, t_out, t_index))
        return obs_index, measured, times, tuple(overrides), tuple(experiments)

    def _priors(self, ids, estimated, column: str = "objectivePrior") -> tuple:
        """``(index into estimated, kind, a, b)`` of the ``{column}Type`` and
        ``{column}Parameters`` columns (objective or initialization priors)."""
        par = self.t.parameters
        if f"{column}Type" not in par:
            return ()
        out = []
        for k, i in enumerate(estimated):
            kind = par[f"{column}Type"].iloc[i]
            if not isinstance(kind, str) or not kind or kind == "nan":
                continue
            where = f"{self.t.files['parameters']} row '{ids[i]}'"
            if kind not in likelihood.PRIORS:
                self.unsupported.append(f"{where} column {column}Type: {kind!r}")
                continue
            raw = par[f"{column}Parameters"].iloc[i] \
                if f"{column}Parameters" in par else None
            try:
                a, b = (float(v) for v in str(raw).split(";"))
            except ValueError:
                self.problems.append(f"{where} column {column}Parameters: {raw!r} is not "
                                     "two numbers separated by ';'")
                continue
            out.append((k, kind, a, b))
        return tuple(out)
