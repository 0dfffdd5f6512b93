"""Posterior sampling through pyPESTO: ``sample(result) -> SamplingResult``.

The chain is pyPESTO's (``pypesto.sample.sample``): its adaptive Metropolis sampler, or
its adaptive parallel tempering with adaptive Metropolis inside each chain. Nothing here
re-implements a sampler. What Crosstalk adds around it:

- **the posterior**: the problem's negative log-likelihood plus its objective priors
  (``problem.nllh(x, prior=True)``), on the estimation scale, within the parameter table's
  bounds (pyPESTO rejects proposals outside them without evaluating). The priors are also
  given to pyPESTO on their own, so parallel tempering tempers the likelihood only.
- **the first proposal**: pyPESTO's adaptive Metropolis starts from the identity
  covariance and adapts it; here it starts from the inverse Hessian of the posterior at
  the best fit (its Laplace approximation, scaled by ``2.38**2 / n``), so the chain mixes
  from its first steps.
- **failures**: a proposal whose simulation fails has posterior density 0. The objective
  returns ``inf`` for it (pyPESTO rejects it) and counts it; the count and the first
  reason are in :attr:`SamplingResult.failures` and :attr:`SamplingResult.failure`.
  A proposal outside the support of an objective prior is rejected the same way, and
  counted apart (``outside_prior``).
- **the seed**: pyPESTO's samplers draw from numpy's global generator; ``sample`` seeds
  it for the run and restores its state afterwards.
- **diagnostics**: the burn-in from Geweke's test (``pypesto.sample.geweke_test``) unless
  given, the effective sample size after it (``pypesto.sample.effective_sample_size``)
  and the acceptance rate of the chain.
- **an ensemble**: :meth:`SamplingResult.ensemble` gives the samples as model parameter
  values, a table :func:`simulator.sweep` takes as ``params=``, for prediction bands.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pypesto
import pypesto.sample

from simulator.errors import InvalidValueError
from simulator.estimation import figures, likelihood
from simulator.estimation.calibration import CalibrationResult, quiet_logger
from simulator.estimation.options import MIN_GEWEKE_SAMPLES, PROPOSALS, SAMPLERS
from simulator.estimation.problem import CalibrationProblem

__all__ = ["sample", "SamplingResult", "SAMPLERS", "PROPOSALS", "MIN_GEWEKE_SAMPLES"]




class _Posterior:
    """``x -> -log posterior`` (nllh with the objective priors, value only) for pyPESTO's
    samplers; ``inf`` where the simulation fails or a prior's density is 0, counted.

    pyPESTO copies objectives (``Problem`` and parallel tempering deep-copy them); the
    copies are this object, so every chain counts into one place."""

    def __init__(self, problem: CalibrationProblem):
        self.problem = problem
        self.evaluations = 0
        self.failures = 0
        self.outside_prior = 0
        self.failure = ""            # the first failure's reason

    def __call__(self, x):
        self.evaluations += 1
        if not np.isfinite(self.problem.prior_nllh(x)[0]):
            self.outside_prior += 1
            return np.inf
        value = self.problem.nllh(x, prior=True)
        if not np.isfinite(value):
            self.failures += 1
            if not self.failure:
                self.failure = (f"at x = {np.asarray(x).tolist()}: "
                                f"{self.problem.last_failure or f'the objective is {value!r}'}")
            return np.inf
        return float(value)

    def __deepcopy__(self, memo):
        return self


class _Prior:
    """``x -> -log prior`` (the objective priors alone), for pyPESTO's tempering."""

    def __init__(self, problem: CalibrationProblem):
        self.problem = problem

    def __call__(self, x):
        value = self.problem.prior_nllh(x)[0]
        return float(value) if np.isfinite(value) else np.inf

    def __deepcopy__(self, memo):
        return self


@dataclass
class SamplingResult:
    """An MCMC sample of a calibration problem's posterior.

    Attributes
    ----------
    result : CalibrationResult
        The calibration whose best fit started the chain.
    trace : DataFrame, shape (n_samples + 1, n_estimated + 1)
        The whole chain at temperature 1 (the start point first), one column per estimated
        parameter on its estimation scale and ``nlpost``, the negative log posterior.
    burn_in : int
        Index of the first sample kept (Geweke's test, or as given); ``len(trace)`` when
        the test finds no converged stretch.
    effective_sample_size : float or None
        Of the samples after the burn-in (pyPESTO: ``N / (1 + tau)``, ``tau`` the largest
        integrated autocorrelation time); None when fewer than 2 are left after the burn-in.
    acceptance : float
        Fraction of the chain's steps that moved it.
    failures : int
        Proposals whose simulation failed (each rejected); ``failure`` the first reason.
    outside_prior : int
        Proposals outside an objective prior's support (rejected).
    seconds : float
        Wall time of :func:`sample`, the first proposal's Hessian included.
    """

    result: CalibrationResult
    trace: pd.DataFrame
    burn_in: int
    effective_sample_size: float | None
    acceptance: float
    failures: int
    failure: str
    outside_prior: int
    sampler: str
    seed: int
    seconds: float
    provenance: dict = field(default_factory=dict)

    @property
    def problem(self) -> CalibrationProblem:
        return self.result.problem

    @property
    def converged(self) -> bool:
        """Whether Geweke's test (or the given burn-in) leaves samples."""
        return self.burn_in < len(self.trace)

    @property
    def samples(self) -> pd.DataFrame:
        """The samples after the burn-in, estimation scale (index: position in the chain)."""
        return self.trace.iloc[self.burn_in:][list(self.problem.parameter_ids)]

    @property
    def linear_samples(self) -> pd.DataFrame:
        """:attr:`samples` on the linear scale (what the PEtab tables write)."""
        s = self.samples
        return pd.DataFrame(likelihood.to_linear(np.array(self.problem.scales), s.to_numpy()),
                            index=s.index, columns=s.columns)

    def summary(self) -> pd.DataFrame:
        """Per parameter (estimation scale): the best fit, the posterior mean, sd, and the
        2.5 %, 50 % and 97.5 % quantiles of the samples."""
        s = self._kept()
        q = s.quantile([0.025, 0.5, 0.975])
        return pd.DataFrame({"scale": list(self.problem.scales),
                             "best": self.result.best_x, "mean": s.mean(), "sd": s.std(),
                             "q2.5": q.loc[0.025], "median": q.loc[0.5],
                             "q97.5": q.loc[0.975]}, index=s.columns)

    def ensemble(self, n: int | None = None, *, condition: str | None = None) -> pd.DataFrame:
        """The samples as model parameter values: one row per sample, one column per model
        parameter id, linear scale; ``sim.sweep(model, t, params=table)`` simulates them.

        The columns are what the problem sets in the model
        (:meth:`CalibrationProblem.model_parameters`): every parameter table id that is a
        model parameter (estimated ones from the sample, fixed ones at their nominal
        value). Estimated parameters that are not model parameters (observable scales,
        noise levels) have no column. A parameter that reaches the model only through a
        condition's row of the condition table gets its column with ``condition=``.

        Parameters
        ----------
        n : int, optional
            That many samples, evenly spaced along the chain after the burn-in (thinned);
            default all of them.
        condition : str, optional
            A condition id: also the model parameters its row sets to a parameter id.

        Raises
        ------
        InvalidValueError
            No samples after the burn-in, ``n`` not between 1 and their number, or an
            unknown condition.
        """
        s = self._kept()
        if n is None:
            rows = np.arange(len(s))
        else:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not \
                    1 <= n <= len(s):
                raise InvalidValueError(f"n must be an integer from 1 to {len(s)} (the samples "
                                        f"after the burn-in), got {n!r}")
            rows = np.unique(np.round(np.linspace(0, len(s) - 1, n)).astype(int))
        X = s.to_numpy()[rows]
        table = pd.DataFrame([self.problem.model_parameters(x, condition=condition) for x in X],
                             index=s.index[rows])
        table.index.name = "sample"
        return table

    def plot_trace(self):
        """Each parameter and the negative log posterior along the chain, burn-in shaded."""
        return figures.trace(self)

    def plot_marginals(self):
        """Histograms of each parameter's samples after the burn-in, with the best fit."""
        return figures.marginals(self)

    def _kept(self) -> pd.DataFrame:
        if not self.converged:
            raise InvalidValueError(
                f"no samples after the burn-in: Geweke's test finds no converged stretch in "
                f"the {len(self.trace)} samples; sample longer, or give burn_in=")
        return self.samples

    def __repr__(self):
        ess = (f"{self.effective_sample_size:.0f}" if self.effective_sample_size is not None
               else "n/a")
        return (f"SamplingResult({self.sampler}, {len(self.trace) - 1} samples, burn-in "
                f"{self.burn_in}, effective sample size {ess}, acceptance "
                f"{self.acceptance:.2f}, {self.failures} failed evaluations, "
                f"{self.seconds:.1f} s)")


def sample(result: CalibrationResult, n_samples: int = 10_000, *, seed: int = 0,
           sampler: str = "adaptive_metropolis", burn_in: int | None = None,
           n_chains: int = 4, proposal: str = "hessian", progress: bool = False
           ) -> SamplingResult:
    """Sample the posterior of ``result``'s problem with pyPESTO, from its best fit.

    The posterior is the likelihood times the objective priors of the parameter table,
    within its bounds, on the estimation scale (a parameter without a prior has a flat one
    on that scale).

    Parameters
    ----------
    result : CalibrationResult
        From :func:`calibrate`; the chain starts at ``result.best_x``.
    n_samples : int
        Steps of the chain (each one evaluation of the objective per chain).
    seed : int
        Seeds numpy's global generator, which pyPESTO's samplers draw from (its state is
        restored afterwards).
    sampler : {"adaptive_metropolis", "parallel_tempering"}
        pyPESTO's ``AdaptiveMetropolisSampler``, or its ``AdaptiveParallelTemperingSampler``
        with ``n_chains`` adaptive Metropolis chains (``n_chains`` times the evaluations;
        the samples are those of the chain at temperature 1).
    burn_in : int, optional
        Samples to drop at the start; default from Geweke's test
        (``pypesto.sample.geweke_test``, which needs at least ``MIN_GEWEKE_SAMPLES``).
    n_chains : int
        Chains of parallel tempering (ignored by adaptive Metropolis).
    proposal : {"hessian", "identity"}
        The first proposal covariance, which pyPESTO then adapts to the chain:
        ``"hessian"``, ``2.38**2 / n`` times the inverse Hessian of the negative log
        posterior at the best fit (central differences of the exact gradient, ``2 n``
        gradients; the identity where that Hessian is not positive definite or cannot be
        evaluated), or pyPESTO's default, the identity on the estimation scale.
    progress : bool
        pyPESTO's progress bar.

    Raises
    ------
    InvalidValueError
        ``n_samples`` not a positive integer (or below ``MIN_GEWEKE_SAMPLES`` without
        ``burn_in``), an unknown sampler or proposal, ``burn_in`` outside
        ``0..n_samples``, fewer than 2 chains, or a start point where the posterior cannot
        be evaluated.
    """
    if not isinstance(result, CalibrationResult):
        raise InvalidValueError(f"sample takes the CalibrationResult of sim.calibrate, got "
                                f"{type(result).__name__}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or \
            n_samples < 1:
        raise InvalidValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if sampler not in SAMPLERS:
        raise InvalidValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    if burn_in is None and n_samples < MIN_GEWEKE_SAMPLES:
        raise InvalidValueError(f"Geweke's test needs at least {MIN_GEWEKE_SAMPLES} samples, "
                                f"got n_samples={n_samples}; sample more or give burn_in=")
    if burn_in is not None and (isinstance(burn_in, bool) or not isinstance(
            burn_in, (int, np.integer)) or not 0 <= burn_in <= n_samples):
        raise InvalidValueError(f"burn_in must be an integer from 0 to n_samples "
                                f"({n_samples}), got {burn_in!r}")
    if proposal not in PROPOSALS:
        raise InvalidValueError(f"unknown proposal {proposal!r}; use one of "
                                f"{', '.join(PROPOSALS)}")
    if sampler == "parallel_tempering" and (isinstance(n_chains, bool) or not isinstance(
            n_chains, (int, np.integer)) or n_chains < 2):
        raise InvalidValueError(f"parallel tempering needs n_chains >= 2, got {n_chains!r}")
    started = time.time()
    problem = result.problem
    x0 = np.asarray(result.best_x, dtype=float)
    posterior = _Posterior(problem)
    if not np.isfinite(posterior(x0)):
        why = posterior.failure or "it lies outside an objective prior's support"
        raise InvalidValueError(f"the posterior cannot be evaluated at the best fit: {why}")
    posterior.evaluations = posterior.failures = posterior.outside_prior = 0
    cov0 = _hessian_proposal(problem, x0) if proposal == "hessian" else None
    ids = list(problem.parameter_ids)
    pp = pypesto.Problem(
        pypesto.Objective(fun=posterior, x_names=ids), lb=problem.bounds[:, 0],
        ub=problem.bounds[:, 1], x_names=ids, x_scales=list(problem.scales),
        x_priors_defs=pypesto.Objective(fun=_Prior(problem)) if problem.has_priors else None,
        copy_objective=False, startpoint_method=pypesto.startpoint.UniformStartpoints())
    with _seeded(seed), quiet_logger("pypesto.sample", logging.ERROR):
        inner = pypesto.sample.AdaptiveMetropolisSampler(
            options={"show_progress": progress, "cov0": cov0})
        if sampler == "adaptive_metropolis":
            chain, start = inner, x0
        else:
            chain = pypesto.sample.AdaptiveParallelTemperingSampler(
                internal_sampler=inner, n_chains=int(n_chains),
                options={"show_progress": progress})
            start = [x0.copy() for _ in range(int(n_chains))]
        res = pypesto.sample.sample(pp, n_samples=int(n_samples), sampler=chain, x0=start,
                                    result=pypesto.Result(pp))
        seconds = time.time() - started
        if burn_in is not None:
            res.sample_result.burn_in = int(burn_in)
        cut = int(pypesto.sample.geweke_test(res))
        ess = None
        if res.sample_result.trace_x.shape[1] - cut >= 2:
            with np.errstate(all="ignore"):
                ess = pypesto.sample.effective_sample_size(res)
        if ess is not None and not np.isfinite(ess):
            ess = None
    X = np.asarray(res.sample_result.trace_x[0])
    trace = pd.DataFrame(X, columns=ids)
    trace["nlpost"] = np.asarray(res.sample_result.trace_neglogpost[0])
    trace.index.name = "iteration"
    moved = np.any(np.diff(X, axis=0) != 0, axis=1)
    acceptance = float(moved.mean()) if moved.size else 0.0
    return SamplingResult(
        result=result, trace=trace, burn_in=cut,
        effective_sample_size=None if ess is None else float(ess), acceptance=acceptance,
        failures=posterior.failures, failure=posterior.failure,
        outside_prior=posterior.outside_prior, sampler=sampler, seed=seed, seconds=seconds,
        provenance={"problem": str(problem.path), "sampler": sampler,
                    "n_samples": int(len(trace) - 1), "n_chains": 1 if sampler ==
                    "adaptive_metropolis" else int(n_chains), "seed": seed,
                    "proposal": proposal if proposal == "identity" or cov0 is not None
                    else "identity (the Hessian is not positive definite)",
                    "burn_in": cut, "burn_in_from": "given" if burn_in is not None else
                    "geweke", "effective_sample_size": None if ess is None else float(ess),
                    "acceptance": acceptance, "evaluations": posterior.evaluations,
                    "failures": posterior.failures, "outside_prior": posterior.outside_prior,
                    "seconds": round(seconds, 3), "pypesto": pypesto.__version__,
                    "start": x0.tolist()})


def _hessian_proposal(problem: CalibrationProblem, x: np.ndarray, h: float = 1e-4):
    """``2.38**2 / n`` times the inverse Hessian of the negative log posterior at ``x``
    (central differences of the gradient, estimation scale), or None (pyPESTO's identity)
    where a gradient fails or the Hessian is not positive definite."""
    n = x.size
    H = np.empty((n, n))
    for i in range(n):
        step = np.zeros(n)
        step[i] = h
        up = problem.nllh(x + step, gradient=True)[1]
        down = problem.nllh(x - step, gradient=True)[1]
        H[:, i] = (up - down) / (2 * h)
    H = (H + H.T) / 2
    if not np.isfinite(H).all():
        return None
    try:
        L = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None
    inv = np.linalg.inv(L)
    return 2.38 ** 2 / n * (inv.T @ inv)


@contextlib.contextmanager
def _seeded(seed: int):
    """numpy's global generator seeded with ``seed``, its former state restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
