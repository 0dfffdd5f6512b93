"""Multistart calibration and profile likelihoods through pyPESTO.

The objective (:class:`~simulator.estimation.problem.CalibrationProblem`) is handed to
pyPESTO as a ``pypesto.Objective`` (value and gradient; residuals and their Jacobian for
least squares). pyPESTO runs the multistart (``pypesto.optimize.minimize``) and the
profiles (``pypesto.profile.parameter_profile``) with fides' trust-region optimiser or
scipy's ``least_squares``; nothing here re-implements either.

What Crosstalk adds around them:

- **start points**, seeded: the ``initializationPriorType`` of each parameter where the
  table gives one, else uniform within the bounds on the estimation scale;
- **executors**: the starts run through :func:`simulator.ensemble.executors.run_chunks`
  (this process, a process pool or a Dask cluster), wrapped as a pyPESTO engine;
- **a store**: a folder where every finished start is written as it ends, so a killed
  calibration resumes with the starts it had not finished (:class:`StartStore`);
- **failures**: a start whose first point cannot be simulated, or whose worker is lost, is
  marked failed in :attr:`CalibrationResult.starts` with the reason; the others are kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cloudpickle
import fides
import libsbml
import numpy as np
import pandas as pd
import pypesto
import pypesto.engine
import pypesto.optimize
import pypesto.profile
from pypesto.result import OptimizerResult
from tqdm import tqdm

from simulator.ensemble.executors import run_chunks
from simulator.errors import IntegrationError, InvalidValueError, StoreError
from simulator.estimation import figures, goodness, likelihood
from simulator.estimation.options import HEARTBEAT_SECONDS, OPTIMIZERS
from simulator.estimation.problem import CalibrationProblem

__all__ = ["calibrate", "profile", "CalibrationResult", "ProfileResult", "pypesto_problem",
           "start_points", "OPTIMIZERS"]

# fides' Hessian approximation: BFGS (the default, as in the optimizer benchmark of Grein et
# al. 2026), or the Fisher information first and BFGS updates after 20 iterations without
# a trust-region change (fides.HybridFixed, pyPESTO's default for AMICI objectives)
HESSIANS = {"fides": fides.BFGS, "fides-fim": fides.HybridFixed}
# fides stops when the objective changes by less than 1e-10 in an accepted step (its default,
# 1e-8 + 1e-8·|f|, stopped most Zheng_PNAS2012 starts with a projected gradient norm of
# 0.5-0.8, far from a stationary point), when the gradient vanishes, when the trust region
# collapses, or at max_iterations
FIDES_OPTIONS = {fides.Options.FATOL: 1e-10, fides.Options.FRTOL: 0.0}


class _Value:
    """``x -> (nllh, gradient)`` for pyPESTO, or ``(nllh, gradient, Fisher information)``
    with ``fisher`` (the objective's Hessian for fides-fim); picklable: holds the
    problem."""

    def __init__(self, problem: CalibrationProblem, fisher: bool = False,
                 heartbeat: float | None = None):
        self.problem = problem
        self.fisher = fisher
        self.heartbeat = heartbeat     # seconds between progress lines (None: silent)
        self.calls, self.best, self.t0, self.last = 0, np.inf, None, None

    def __call__(self, x):
        out = self.problem.nllh(x, gradient=True, fisher=self.fisher)
        if self.heartbeat is not None:
            self._beat(float(out[0]))
        return out

    def _beat(self, value: float) -> None:
        """A line on stderr every ``heartbeat`` seconds: a one-start fit of a large
        problem otherwise says nothing for an hour."""
        now = time.time()
        if self.t0 is None:
            self.t0 = self.last = now
        self.calls += 1
        if np.isfinite(value):
            self.best = min(self.best, value)
        if now - self.last >= self.heartbeat:
            self.last = now
            tqdm.write(f"  {self.calls} evaluations, best nllh so far {self.best:.6g} "
                       f"({(now - self.t0) / 60:.1f} min)", file=sys.stderr)


class _Residuals:
    """``x -> (residuals, Jacobian)`` for pyPESTO's least-squares optimisers."""

    def __init__(self, problem: CalibrationProblem):
        self.problem = problem

    def __call__(self, x):
        return self.problem.residuals(x, jacobian=True)


def pypesto_problem(problem: CalibrationProblem, x_guesses=None, fisher: bool = False,
                    heartbeat: float | None = None) -> pypesto.Problem:
    """``problem`` as a ``pypesto.Problem`` on the estimation scale, with its bounds; with
    ``fisher``, the objective also gives the Fisher information as its Hessian (computed
    only then: BFGS and least squares do not use it); ``heartbeat`` seconds between
    progress lines on stderr (None: none)."""
    objective = pypesto.Objective(fun=_Value(problem, fisher, heartbeat), grad=True, hess=fisher,
                                  res=_Residuals(problem), sres=True,
                                  x_names=list(problem.parameter_ids))
    return pypesto.Problem(objective, lb=problem.bounds[:, 0], ub=problem.bounds[:, 1],
                           x_names=list(problem.parameter_ids),
                           x_scales=list(problem.scales),
                           x_guesses=None if x_guesses is None else np.atleast_2d(x_guesses))


def _optimizer(name: str, max_iterations: int):
    if name in HESSIANS:
        return pypesto.optimize.FidesOptimizer(
            hessian_update=HESSIANS[name](), verbose=0,
            options={fides.Options.MAXITER: max_iterations, **FIDES_OPTIONS})
    if name == "least_squares":
        return pypesto.optimize.ScipyOptimizer(method="ls_trf",
                                               options={"max_nfev": max_iterations})
    raise InvalidValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")


def start_points(problem: CalibrationProblem, n_starts: int, seed: int) -> np.ndarray:
    """``(n_starts, n)`` start points on the estimation scale: each parameter's
    initialization prior where the table has one, else uniform within its bounds; drawn
    from ``numpy.random.default_rng(seed)``, clipped to the bounds."""
    rng = np.random.default_rng(seed)
    lo, hi = problem.bounds[:, 0], problem.bounds[:, 1]
    X = lo + rng.uniform(size=(n_starts, lo.size)) * (hi - lo)
    scales = np.array(problem.scales)
    for k, kind, a, b in problem.initialization_priors:
        X[:, k] = _draw(kind, a, b, scales[k], rng, n_starts)
    return np.clip(X, lo, hi)


def _draw(kind, a, b, scale, rng, n):
    """Draws of one initialization prior, on the estimation scale."""
    base, on_scale = likelihood.prior_base(kind)
    if base == "uniform":
        v = rng.uniform(a, b, n)
    elif base == "normal":
        v = rng.normal(a, b, n)
    elif base == "laplace":
        v = rng.laplace(a, b, n)
    elif base == "logNormal":
        v = np.exp(rng.normal(a, b, n))
    elif base == "logLaplace":
        v = np.exp(rng.laplace(a, b, n))
    else:
        raise InvalidValueError(f"unknown initialization prior {kind!r}")
    return v if on_scale else likelihood.from_linear(np.full(n, scale), v)


# --- the store -------------------------------------------------------------------------
class StartStore:
    """A folder of finished starts (``start-<id>.json``) and the calibration they belong
    to (``calibration.json``: problem tables' digest, seed, start count, optimizer)."""

    def __init__(self, path: str | os.PathLike, fingerprint: dict):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            meta = self.path / "calibration.json"
            if meta.exists():
                old = json.loads(meta.read_text())
                if old != fingerprint:
                    diff = sorted(k for k in set(old) | set(fingerprint)
                                  if old.get(k) != fingerprint.get(k))
                    raise StoreError(f"store {self.path} holds another calibration (differs "
                                     f"in {', '.join(diff)}); use a new folder")
            else:
                _write(meta, fingerprint)
        except OSError as e:
            raise StoreError(f"store {self.path} cannot be used: {e}") from None

    def finished(self) -> dict[int, dict]:
        out = {}
        for f in self.path.glob("start-*.json"):
            try:
                rec = json.loads(f.read_text())
                out[int(rec["start"])] = rec
            except (ValueError, KeyError):
                continue                 # a damaged record: that start runs again
        return out

    def write(self, record: dict) -> None:
        try:
            _write(self.path / f"start-{record['start']:05d}.json", record)
        except OSError as e:
            raise StoreError(f"store {self.path} cannot be written: {e}") from None


def _write(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _record(start: int, res: OptimizerResult, x0) -> dict:
    ok = res.fval is not None and np.isfinite(res.fval) and res.x is not None
    return {"start": start, "nllh": float(res.fval) if ok else None,
            "x": [float(v) for v in res.x] if ok else None,
            "x0": [float(v) for v in x0],
            "evaluations": int(res.n_fval or 0), "gradients": int(res.n_grad or 0),
            "time": float(res.time or 0.0), "exitflag": int(res.exitflag or 0),
            "message": str(res.message or ""), "failed": not ok}


# --- the engine ------------------------------------------------------------------------
def _execute(task):
    """One start in a worker."""
    try:
        return task.execute()
    except Exception as e:     # a start must not end the calibration
        return OptimizerResult(id=task.id, x0=task.x0, fval=np.inf,
                               message=f"{type(e).__name__}: {e}", exitflag=-99)


class _Engine(pypesto.engine.Engine):
    """pyPESTO engine on our executors; writes each finished start to the store."""

    def __init__(self, executor, on_result):
        super().__init__()
        self.executor = executor
        self.on_result = on_result

    def execute(self, tasks, progress_bar=None):
        def lost(task, reason):
            return OptimizerResult(id=task.id, x0=task.x0, fval=np.inf, exitflag=-103,
                                   message=f"worker lost: {reason}")
        x0s = {t.id: t.x0 for t in tasks}
        return _run_counted(_execute, tasks, self.executor, lost, "starts", progress_bar,
                            on_each=lambda res: self.on_result(res, x0s[res.id]))


def _run_counted(fn, items, executor, on_lost, desc, progress_bar, on_each=None) -> list:
    """``fn`` over ``items`` on ``executor`` (:func:`run_chunks`), counted on a progress bar;
    ``on_each`` sees each result as it arrives."""
    results = []
    with tqdm(total=len(items), disable=not progress_bar, desc=desc) as bar:
        for res in run_chunks(fn, items, executor, on_lost=on_lost):
            if on_each is not None:
                on_each(res)
            results.append(res)
            bar.update(1)
    return results


def _run_profile_task(packed: bytes):
    """One half-profile (one parameter, one direction) in a worker; the task comes
    cloudpickled, as it holds pyPESTO's local next-guess function."""
    return cloudpickle.loads(packed).execute()


class _ProfileEngine(pypesto.engine.Engine):
    """pyPESTO engine running profile tasks (each parameter down and up) on our executors."""

    def __init__(self, executor):
        super().__init__()
        self.executor = executor

    def execute(self, tasks, progress_bar=None):
        def lost(packed, reason):
            task = cloudpickle.loads(packed)
            raise IntegrationError(f"the profile of parameter {task.i_par} "
                                   f"({'down' if task.par_direction < 0 else 'up'}): its "
                                   f"worker was lost: {reason}")
        packed = [cloudpickle.dumps(task) for task in tasks]
        return _run_counted(_run_profile_task, packed, self.executor, lost, "profiles",
                            progress_bar)


# --- results ---------------------------------------------------------------------------
@dataclass
class CalibrationResult:
    """A multistart calibration: ``starts`` (one row per start, best first: start, nllh,
    evaluations, gradients, time, exitflag, message, failed, x0, x), ``best_x``,
    ``best_nllh``, and the problem."""

    problem: CalibrationProblem
    starts: pd.DataFrame
    optimizer: str
    seed: int
    provenance: dict = field(default_factory=dict)

    @property
    def best(self) -> pd.Series:
        ok = self.starts[~self.starts["failed"]]
        if ok.empty:
            raise InvalidValueError("every start failed; see .starts['message']")
        return ok.iloc[0]

    @property
    def best_x(self) -> np.ndarray:
        return np.asarray(self.best["x"], dtype=float)

    @property
    def best_nllh(self) -> float:
        return float(self.best["nllh"])

    def starts_within(self, nllh: float, tol: float = 0.1) -> int:
        """How many finished starts ended within ``tol`` above ``nllh`` (or below it)."""
        ok = self.starts.loc[~self.starts["failed"], "nllh"].to_numpy(dtype=float)
        return int(np.sum(ok - nllh < tol))

    def parameter_table(self) -> pd.DataFrame:
        """The problem's parameter table with the best fit as ``nominalValue`` (linear
        scale, as PEtab writes it)."""
        table = self.problem.tables.parameters.copy()
        values = likelihood.to_linear(np.array(self.problem.scales), self.best_x)
        for pid, v in zip(self.problem.parameter_ids, values):
            table.loc[pid, "nominalValue"] = v
        return table

    def write_parameter_table(self, path: str | os.PathLike) -> None:
        """The best fit as a PEtab parameter table (TSV)."""
        self.parameter_table().to_csv(path, sep="\t")

    def write_sbml(self, path: str | os.PathLike) -> list[str]:
        """A copy of the problem's SBML model with the fitted values of its own parameters
        (the estimated ids that are global model parameters); returns those ids. Edited
        through libsbml's document, not as text."""
        doc = libsbml.readSBMLFromFile(str(self.problem.tables.sbml_file))
        model = doc.getModel()
        values = likelihood.to_linear(np.array(self.problem.scales), self.best_x)
        changed = []
        for pid, v in zip(self.problem.parameter_ids, values):
            par = model.getParameter(pid)
            if par is not None:
                par.setValue(float(v))
                changed.append(pid)
        if not libsbml.writeSBMLToFile(doc, str(path)):
            raise StoreError(f"cannot write the fitted model to {path}")
        return changed

    def plot_waterfall(self, ax=None, reference: float | None = None,
                       reference_label: str = "best known"):
        """Sorted final objective values of the starts (pyPESTO's waterfall), with an
        optional reference nllh (e.g. the best value published for the problem)."""
        return figures.waterfall(self, ax=ax, reference=reference,
                                 reference_label=reference_label)

    def plot_fit(self, x=None, problem: CalibrationProblem | None = None):
        """Data and simulation at the best fit (or ``x``), one panel per observable, by
        condition; of ``problem`` when given (a prediction, ``x`` on its scale)."""
        if x is None:
            x = self.best_x if problem is None else self.x_for(problem)
        return figures.fit(problem or self.problem, x)

    def x_for(self, problem: CalibrationProblem) -> np.ndarray:
        """The best fit on ``problem``'s estimation scale, for predicting another problem
        that shares this one's parameters (held-out data): each parameter ``problem``
        estimates takes the fitted value of the same id. An id this fit did not estimate is
        an error naming it."""
        check_predictable(self.problem, problem)
        fitted = dict(zip(self.problem.parameter_ids,
                          likelihood.to_linear(np.array(self.problem.scales), self.best_x)))
        values = np.array([fitted[pid] for pid in problem.parameter_ids], dtype=float)
        return likelihood.from_linear(np.array(problem.scales), values)

    def goodness_of_fit(self, problem: CalibrationProblem | None = None) -> pd.DataFrame:
        """Per-observable R², NRMSE and χ²/n (:mod:`.goodness`) of the best fit on its own
        data, or, with ``problem``, of the prediction of that problem's data at the fitted
        values (:meth:`x_for`)."""
        if problem is None:
            return goodness.goodness_of_fit(self.problem, self.best_x)
        return goodness.goodness_of_fit(problem, self.x_for(problem))

    def __repr__(self):
        n_ok = int((~self.starts["failed"]).sum())
        best = f"{self.best_nllh:.6g}" if n_ok else "none"
        return (f"CalibrationResult({len(self.starts)} starts, {n_ok} finished, best nllh "
                f"{best}, optimizer {self.optimizer})")


def check_predictable(fitted: CalibrationProblem, problem: CalibrationProblem) -> None:
    """Raise :class:`InvalidValueError` unless a fit of ``fitted`` determines ``problem``:
    naming the parameters ``problem`` estimates that the fit does not (it has no value for
    them), and the model parameters the fit estimates that ``problem`` does not (``problem``
    would be predicted at its own values of them, not the fitted ones)."""
    def listed(ids):
        return f"{', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"

    known = set(fitted.parameter_ids)
    missing = [pid for pid in problem.parameter_ids if pid not in known]
    if missing:
        raise InvalidValueError(
            f"{problem.path.name} estimates {len(missing)} parameter(s) a fit of "
            f"{fitted.path.name} does not: {listed(missing)}")
    theirs, model_ids = set(problem.parameter_ids), set(fitted.model_parameter_ids)
    ignored = [pid for pid in fitted.parameter_ids if pid in model_ids and pid not in theirs]
    if ignored:
        raise InvalidValueError(
            f"a fit of {fitted.path.name} estimates {len(ignored)} model parameter(s) "
            f"{problem.path.name} does not estimate, so its prediction would not use them: "
            f"{listed(ignored)}; give {problem.path.name} the fit's parameter table")


def calibrate(problem: CalibrationProblem, n_starts: int = 50, seed: int = 0,
              optimizer: str = "fides", executor=None, progress: bool = True,
              store: str | os.PathLike | None = None, max_iterations: int = 1000,
              from_nominal: bool = False, heartbeat: float | None | str = "auto"
              ) -> CalibrationResult:
    """Multistart local optimisation of ``problem`` through pyPESTO.

    Parameters
    ----------
    n_starts, seed
        Start points from :func:`start_points`.
    optimizer : {"fides", "fides-fim", "least_squares"}
        fides' trust region with BFGS updates on value and gradient; the same starting
        from the Fisher information (``fides.HybridFixed``); or scipy's ``least_squares``
        (trust region reflective) on residuals and their Jacobian.
    executor : None, "processes" or dask.distributed.Client
        Where the starts run (see :mod:`simulator.ensemble.executors`).
    store : path, optional
        Folder for finished starts; a calibration started again with the same store skips
        them.
    from_nominal : bool
        Start 0 is the parameter table's nominal point (e.g. a model's literature values),
        the others are drawn as usual.
    heartbeat : float, None or "auto"
        Seconds between progress lines on stderr (evaluations, best nllh) of starts run in
        this process; "auto": every :data:`HEARTBEAT_SECONDS` with ``progress``, else none.
        Plain lines, so they also suit a log file.
    """
    if not isinstance(n_starts, (int, np.integer)) or n_starts < 1:
        raise InvalidValueError(f"n_starts must be a positive integer, got {n_starts!r}")
    opt = _optimizer(optimizer, max_iterations)
    X0 = start_points(problem, n_starts, seed)
    if from_nominal:
        X0[0] = problem.x_nominal
    saved = None
    if store is not None:
        saved = StartStore(store, _fingerprint(problem, n_starts, seed, optimizer,
                                               max_iterations, from_nominal))
    records = dict(saved.finished()) if saved is not None else {}
    todo = [i for i in range(n_starts) if i not in records]
    started = time.time()

    def on_result(res, x0):
        rec = _record(int(res.id), res, x0)
        if not rec["failed"] and optimizer == "least_squares":
            # pyPESTO reports the least-squares cost (chi2 / 2); the table holds the nllh
            rec["nllh"] = float(problem.nllh(np.asarray(rec["x"])))
        if rec["failed"] and not np.isfinite(problem.nllh(x0)) and problem.last_failure:
            rec["message"] += f" At the start point: {problem.last_failure}"
        records[rec["start"]] = rec
        if saved is not None:
            saved.write(rec)
    if todo:
        # in-process starts report their progress (workers stay quiet: their lines would
        # interleave; the starts bar counts them)
        if heartbeat == "auto":
            heartbeat = HEARTBEAT_SECONDS if progress else None
        pp = pypesto_problem(problem, X0[todo], fisher=optimizer == "fides-fim",
                             heartbeat=heartbeat if executor is None else None)
        with quiet_logger("pypesto.optimize.optimizer"):
            pypesto.optimize.minimize(pp, optimizer=opt, n_starts=len(todo),
                                      ids=[str(i) for i in todo],
                                      engine=_Engine(executor, on_result), progress_bar=progress)
    starts = pd.DataFrame([records[i] for i in sorted(records)])
    starts = starts.sort_values("nllh", na_position="last", kind="stable").reset_index(drop=True)
    return CalibrationResult(problem, starts, optimizer, seed, provenance={
        "problem": str(problem.path), "n_starts": n_starts, "seed": seed,
        "optimizer": optimizer, "max_iterations": max_iterations,
        "from_nominal": from_nominal, "resumed_starts": n_starts - len(todo), "seconds": round(time.time() - started, 3),
        "pypesto": pypesto.__version__, "fides": fides.__version__,
        "rtol": problem.options.rtol, "atol": problem.options.atol})


@contextlib.contextmanager
def quiet_logger(name: str, level: int = logging.CRITICAL):
    """Raise logger ``name`` to ``level`` for the block: pyPESTO logs a traceback for every
    start that fails (the starts table holds the reason instead), and warnings the results
    already report (Geweke's test, its choice of temperatures)."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def _fingerprint(problem, n_starts, seed, optimizer, max_iterations,
                 from_nominal: bool = False) -> dict:
    t = problem.tables
    d = hashlib.sha256()
    for df in (t.conditions, t.observables, t.measurements, t.parameters):
        d.update(df.to_csv(sep="\t").encode())
    d.update(problem.model.hash.encode())
    out = {"problem": d.hexdigest()[:16], "n_starts": n_starts, "seed": seed,
           "optimizer": optimizer, "max_iterations": max_iterations}
    if optimizer in HESSIANS:
        out["stop"] = {str(k.value): v for k, v in FIDES_OPTIONS.items()}
    if from_nominal:
        out["from_nominal"] = True
    return out


# --- profiles --------------------------------------------------------------------------
@dataclass
class ProfileResult:
    """Profile likelihoods: per parameter the path ``x`` (estimation scale) and the
    likelihood ratio, and the confidence interval at ``confidence``."""

    result: CalibrationResult
    profiles: dict           # parameter id -> DataFrame(x, ratio, nllh)
    intervals: pd.DataFrame  # parameter, best, lower, upper (estimation scale)
    confidence: float

    def plot(self):
        return figures.profiles(self)


def profile(result: CalibrationResult, parameters=None, *, confidence: float = 0.95,
            optimizer: str = "fides", max_iterations: int = 200, executor=None,
            progress: bool = False) -> ProfileResult:
    """Profile likelihoods around ``result``'s best fit (pyPESTO's
    ``parameter_profile``), with confidence intervals from the chi-square threshold
    ``exp(-chi2_1(confidence) / 2)`` on the likelihood ratio.

    ``optimizer`` re-fits the other parameters at each step (:data:`OPTIMIZERS`, at most
    ``max_iterations`` each). ``"fides-fim"`` suits a fit with flat directions, e.g. a
    parameter at its bound: BFGS wanders along them until ``max_iterations`` at every
    step, where the Fisher information's steps converge in a few."""
    if optimizer not in OPTIMIZERS or optimizer == "least_squares":
        raise InvalidValueError(f"profile optimizer {optimizer!r}: use 'fides' or 'fides-fim'")
    problem = result.problem
    ids = list(problem.parameter_ids)
    names = ids if parameters is None else list(parameters)
    unknown = [p for p in names if p not in ids]
    if unknown:
        raise InvalidValueError(f"cannot profile {', '.join(map(repr, unknown))}: not an "
                                f"estimated parameter (estimated: {', '.join(ids)})")
    pp = pypesto_problem(problem, fisher=optimizer == "fides-fim")
    opt_result = pypesto.Result(pp)
    ok = result.starts[~result.starts["failed"]]
    opt_result.optimize_result.append([
        OptimizerResult(id=str(r.start), x=np.asarray(r.x), fval=float(r.nllh),
                        x0=np.asarray(r.x0)) for r in ok.itertuples()])
    pypesto.profile.parameter_profile(
        pp, opt_result, optimizer=_optimizer(optimizer, max_iterations),
        profile_index=[ids.index(p) for p in names], progress_bar=progress,
        engine=_ProfileEngine(executor) if executor is not None else None)
    ratio = pypesto.profile.chi2_quantile_to_ratio(confidence)
    profiles, rows = {}, []
    for name in names:
        k = ids.index(name)
        prof = opt_result.profile_result.list[0][k]
        df = pd.DataFrame({"x": prof.x_path[k], "ratio": prof.ratio_path,
                           "nllh": prof.fval_path}).sort_values("x").reset_index(drop=True)
        profiles[name] = df
        lower, upper = pypesto.profile.calculate_approximate_ci(
            prof.x_path[k], prof.ratio_path, ratio)
        rows.append({"parameter": name, "best": float(result.best_x[k]),
                     "lower": float(lower), "upper": float(upper),
                     "scale": problem.scales[k]})
    return ProfileResult(result, profiles, pd.DataFrame(rows), confidence)
