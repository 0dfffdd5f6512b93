"""Goodness of fit: how well a parameter vector explains a PEtab problem's measurements.

Per observable, on the scale its noise model compares data and simulation (the observable
transformation ``lin``/``log``/``log10``): the coefficient of determination R² =
1 − SS_res/SS_tot, the root-mean-square error normalised by the range of the data (NRMSE),
and the mean squared weighted residual (χ²/n: about 1 when normal noise is right, about 2
for Laplace noise, whose residual is |y − m|/b).
The same function scores a fit on its training data and a prediction on held-out data
(a second problem evaluated at the fitted parameters): `crosstalk calibrate --predict`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InvalidValueError
from . import likelihood

COLUMNS = ["observableId", "n", "r2", "nrmse", "chi2_per_point"]


def scores(measured, simulated) -> tuple[float, float]:
    """``(R², NRMSE)`` of ``simulated`` against ``measured`` (1-D, same length).

    R² is NaN when the data do not vary (no variance to explain); NRMSE is NaN then too
    (no range to normalise by)."""
    m = np.asarray(measured, dtype=float)
    y = np.asarray(simulated, dtype=float)
    if m.shape != y.shape or m.ndim != 1:
        raise InvalidValueError(f"measured and simulated must be 1-D of one length, got "
                                f"shapes {m.shape} and {y.shape}")
    if m.size == 0:
        return float("nan"), float("nan")
    ss_res = float(np.sum((m - y) ** 2))
    ss_tot = float(np.sum((m - m.mean()) ** 2))
    span = float(m.max() - m.min())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    nrmse = np.sqrt(ss_res / m.size) / span if span > 0 else float("nan")
    return r2, float(nrmse)


def goodness_of_fit(problem, x=None) -> pd.DataFrame:
    """One row per observable of ``problem`` (and a last row ``all``: the pooled count and
    χ²/n, the median R² and NRMSE over observables) at ``x`` (estimation scale; nominal
    when None). A failed simulation raises the problem's integration error (strict)."""
    table = problem.simulate(x, strict=True)
    measured = problem.tables.measurements["measurement"].to_numpy(dtype=float)
    simulated = table["simulation"].to_numpy(dtype=float)
    weighted = problem.residuals(x, strict=True)
    transforms = problem.observable_transforms
    ids = table["observableId"].to_numpy()
    rows = []
    for oid in dict.fromkeys(ids):
        mine = ids == oid
        kind = transforms[oid]
        h_sim = likelihood.transform(kind, simulated[mine])
        if not np.isfinite(h_sim).all():
            bad = int(np.flatnonzero(~np.isfinite(h_sim))[0])
            raise InvalidValueError(
                f"observable {oid!r}: the simulated value {simulated[mine][bad]!r} (its "
                f"measurement row {int(np.flatnonzero(mine)[bad]) + 1} of the measurement "
                f"table) is outside the domain of its {kind} transformation")
        r2, nrmse = scores(likelihood.transform(kind, measured[mine]), h_sim)
        rows.append([oid, int(mine.sum()), r2, nrmse, float(np.mean(weighted[mine] ** 2))])
    out = pd.DataFrame(rows, columns=COLUMNS)
    pooled = ["all", int(out["n"].sum()), float(out["r2"].median()),
              float(out["nrmse"].median()), float(np.mean(weighted ** 2))]
    return pd.concat([out, pd.DataFrame([pooled], columns=COLUMNS)], ignore_index=True)
