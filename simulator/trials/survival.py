"""Survival statistics of a trial, all through lifelines (none written by hand here).

* Kaplan-Meier per arm (``KaplanMeierFitter``): median with its 95% CI
  (``lifelines.utils.median_survival_times`` of the confidence band).
* Cox proportional hazards (``CoxPHFitter``) on the arm indicator: HR of the experimental
  arm against control with its 95% CI.
* Log-rank test (``logrank_test``): p.

lifelines is imported inside the functions (heavy: autograd, formulaic).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["kaplan_meier", "median_pfs", "hazard_ratio"]


def kaplan_meier(time, event, label: str = ""):
    """A fitted ``lifelines.KaplanMeierFitter``."""
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter(label=label or None)
    km.fit(np.asarray(time, float), np.asarray(event, bool))
    return km


def median_pfs(time, event) -> tuple[float, float, float]:
    """Median (lower, upper 95% CI) of KM survival; ``inf`` where not reached."""
    from lifelines.utils import median_survival_times

    km = kaplan_meier(time, event)
    med = float(km.median_survival_time_)
    ci = median_survival_times(km.confidence_interval_)
    lo, hi = (float(v) for v in np.asarray(ci, float).ravel()[:2])
    return med, lo, hi


def hazard_ratio(time, event, group) -> tuple[float, float, float, float]:
    """Cox HR of ``group == 1`` vs ``group == 0``, its 95% CI, and the log-rank p.

    Parameters
    ----------
    time, event, group : array_like, shape (n,)

    Returns
    -------
    (hr, lower, upper, p)
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    time = np.asarray(time, float)
    event = np.asarray(event, bool)
    group = np.asarray(group, int)
    a, b = group == 0, group == 1
    if not event.any() or not a.any() or not b.any():
        return math.nan, math.nan, math.nan, math.nan
    lr = logrank_test(time[a], time[b], event_observed_A=event[a], event_observed_B=event[b])
    df = pd.DataFrame({"T": time, "E": event.astype(int), "arm": group})
    cph = CoxPHFitter()
    cph.fit(df, duration_col="T", event_col="E")
    hr = float(np.exp(cph.params_["arm"]))
    ci = cph.confidence_intervals_.loc["arm"]
    return hr, float(np.exp(ci.iloc[0])), float(np.exp(ci.iloc[1])), float(lr.p_value)
