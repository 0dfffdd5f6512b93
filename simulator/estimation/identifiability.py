"""Which parameters a fit's data determine: standard errors from the Fisher information.

At a fit ``x`` the inverse of the Fisher information approximates the covariance of the
estimate (Wald / Laplace approximation; exact for linear models with Gaussian noise,
local otherwise: profiles, :func:`simulator.estimation.calibration.profile`, are the
rigorous check and cost one optimisation per point, which a 100-parameter problem cannot
afford for every parameter). Computed twice: from the data alone, and with the objective
priors (the posterior). A parameter is

``data``
    determined by the data: the data-only 95 % half-width is at most ``width`` on its
    estimation scale (0.5 is a factor 3.2 on log10, 1.65 on ln; on a linear scale it is
    relative to the estimate);
``data+prior``
    not by the data alone, but the data narrow its prior by at least a fifth;
``prior``
    its posterior is about its prior: the data say little about it;
``none``
    not by the data, and it has no prior of its own with a standard deviation on the
    estimation scale (normal priors only; its posterior error may still be finite through
    other parameters' priors).

Directions of the data-only information with eigenvalues below ``rcond`` times the largest
are flat: every parameter with a share above 1e-3 of that flat subspace gets an infinite
data-only error.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InvalidValueError

COLUMNS = ["parameterId", "scale", "estimate", "se_data", "se_posterior", "prior_sd",
           "identified_by"]


def _standard_errors(fim: np.ndarray, rcond: float) -> np.ndarray:
    """Square roots of the pseudo-inverse's diagonal; infinite for parameters in flat
    directions."""
    values, vectors = np.linalg.eigh((fim + fim.T) / 2)
    top = max(values.max(), 0.0)
    if top == 0.0:
        return np.full(fim.shape[0], np.inf)
    flat = values <= rcond * top
    inverse = (vectors[:, ~flat] / values[~flat]) @ vectors[:, ~flat].T
    se = np.sqrt(np.clip(np.diag(inverse), 0.0, None))
    # a parameter's share of the flat subspace (basis-independent; a flat direction spread
    # over many parameters still counts for each of them)
    in_flat = np.linalg.norm(vectors[:, flat], axis=1) > 1e-3
    se[in_flat] = np.inf
    return se


def fisher_identifiability(problem, x, *, width: float = 0.5,
                           rcond: float = 1e-10) -> pd.DataFrame:
    """One row per estimated parameter of ``problem`` at ``x`` (estimation scale), with
    the standard errors on the estimation scale and the verdict (module docstring)."""
    x = np.asarray(x, dtype=float)
    value, _, data_fim = problem.nllh(x, fisher=True, prior=False)
    if not np.isfinite(value):
        raise InvalidValueError(f"the objective cannot be evaluated at x: "
                                f"{problem.last_failure}")
    _, _, full_fim = problem.nllh(x, fisher=True)
    se_data = _standard_errors(data_fim, rcond)
    se_post = _standard_errors(full_fim, rcond)
    prior_sd = np.full(x.size, np.nan)
    for i, sd in problem.prior_sds().items():
        prior_sd[i] = sd
    rows = []
    for i, (pid, scale) in enumerate(zip(problem.parameter_ids, problem.scales)):
        reach = width if scale != "lin" else width * max(abs(x[i]), 1e-12)
        if 1.96 * se_data[i] <= reach:
            verdict = "data"
        elif np.isfinite(prior_sd[i]) and se_post[i] <= 0.8 * prior_sd[i]:
            verdict = "data+prior"
        elif np.isfinite(prior_sd[i]):
            verdict = "prior"
        else:
            verdict = "none"
        rows.append([pid, scale, x[i], se_data[i], se_post[i], prior_sd[i], verdict])
    return pd.DataFrame(rows, columns=COLUMNS)
