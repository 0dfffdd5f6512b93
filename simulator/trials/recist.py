"""RECIST 1.1 on the sum of longest diameters, as trials read scans. Pure functions.

A lesion's diameter goes as its volume to the 1/3 power (a sphere); the sum of longest
diameters (SLD) of a patient's target lesions is treated as one diameter here.

* **Progression (PD)**: SLD >= 1.2 x the smallest SLD so far (the nadir, baseline
  included) *and* at least 5 mm above it.
* **Complete response (CR)**: the lesions have gone (SLD below ``cr_mm``, default 1 mm,
  under any scan's resolution).
* **Partial response (PR)**: SLD at least 30% below baseline.
* **Stable disease (SD)**: neither, at a scan before progression.
* The best overall response is the best category at any scan before progression
  (``confirm=True``: CR/PR only if the next scan, >= 4 weeks later, still meets it).
* **ORR** = CR + PR; **clinical benefit rate** = CR + PR + SD lasting >= 24 weeks.

Censoring: a patient without progression is censored at the last scan before dropout or
the data cutoff (scans after either are not seen).

References
----------
Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised RECIST
guideline (version 1.1). Eur J Cancer 2009;45:228-247. doi:10.1016/j.ejca.2008.10.026
"""
from __future__ import annotations

import numpy as np

__all__ = ["diameter", "scan_times", "progression", "best_response", "assess",
           "CATEGORIES", "PD_RELATIVE", "PD_ABSOLUTE_MM", "PR_RELATIVE"]

PD_RELATIVE = 0.20
PD_ABSOLUTE_MM = 5.0
PR_RELATIVE = 0.30
CATEGORIES = ("CR", "PR", "SD", "PD", "NE")


def diameter(volume_ratio, baseline_mm):
    """SLD (mm) of a tumour whose volume is ``volume_ratio`` times baseline."""
    base = np.asarray(baseline_mm, float)
    ratio = np.cbrt(np.asarray(volume_ratio, float))
    return base[..., None] * ratio if base.ndim else float(base) * ratio


def scan_times(months: float, every_weeks: float) -> np.ndarray:
    """Scan days after randomisation: every ``every_weeks`` weeks up to ``months`` (30.44 d)."""
    step = every_weeks * 7.0
    end = months * 30.4375
    return step * np.arange(1, int(np.floor(end / step + 1e-9)) + 1)


def progression(sld, baseline_mm, *, relative: float = PD_RELATIVE,
                absolute_mm: float = PD_ABSOLUTE_MM):
    """Index of the first scan meeting PD, or -1 (per row).

    Parameters
    ----------
    sld : array_like, shape (n_patients, n_scans) or (n_scans,)
        SLD at each scan, mm.
    baseline_mm : float or array_like, shape (n_patients,)
    """
    sld = np.atleast_2d(np.asarray(sld, float))
    base = np.broadcast_to(np.asarray(baseline_mm, float), sld.shape[:1])
    prev = np.concatenate([base[:, None], sld[:, :-1]], axis=1)
    nadir = np.minimum.accumulate(prev, axis=1)        # smallest before each scan, baseline in
    pd = (sld >= (1.0 + relative) * nadir) & (sld - nadir >= absolute_mm)
    first = np.where(pd.any(axis=1), pd.argmax(axis=1), -1)
    return first


def _category(sld, base, cr_mm):
    cat = np.full(sld.shape, 2, dtype=np.int8)         # SD
    cat[sld <= (1.0 - PR_RELATIVE) * base[:, None]] = 1
    cat[sld < cr_mm] = 0
    return cat


def best_response(sld, baseline_mm, scan_days, *, observed=None, confirm: bool = False,
                  cr_mm: float = 1.0, sd_min_days: float = 6 * 7 - 7, cbr_days: float = 24 * 7):
    """Best overall response per patient, and clinical benefit.

    Parameters
    ----------
    sld : array_like, shape (n_patients, n_scans)
    baseline_mm : array_like, shape (n_patients,)
    scan_days : array_like, shape (n_scans,)
    observed : array_like of bool, shape (n_patients, n_scans), optional
        Scans that happen (before dropout and cutoff); default all.
    confirm : bool
        CR/PR need the next observed scan (>= 4 weeks later) to meet it too.
    sd_min_days : float
        SD counts only at a scan at least this long after randomisation (RECIST: >= 6-8 weeks,
        minus the scan window).

    Returns
    -------
    (ndarray of str, ndarray of bool)
        Best response in ``CATEGORIES`` ("NE": no evaluable scan) and clinical benefit.
    """
    sld = np.atleast_2d(np.asarray(sld, float))
    n, m = sld.shape
    base = np.broadcast_to(np.asarray(baseline_mm, float), (n,)).astype(float)
    days = np.asarray(scan_days, float)
    obs = np.ones_like(sld, bool) if observed is None else np.atleast_2d(np.asarray(observed, bool))
    first_pd = progression(sld, base)
    before = np.arange(m)[None, :] < np.where(first_pd < 0, m, first_pd)[:, None]
    valid = obs & before
    cat = _category(sld, base, cr_mm)
    if confirm:
        nxt = np.concatenate([cat[:, 1:], np.full((n, 1), 9, np.int8)], axis=1)
        nobs = np.concatenate([valid[:, 1:], np.zeros((n, 1), bool)], axis=1)
        ok = nobs & (nxt <= np.maximum(cat, 1)) & (np.concatenate(
            [days[1:] - days[:-1], [0.0]])[None, :] >= 28 - 1e-9)
        cat = np.where((cat <= 1) & ~ok, 2, cat)
    cat = np.where(valid, cat, 9)
    cat = np.where((cat == 2) & (days[None, :] < sd_min_days), 9, cat)
    best = cat.min(axis=1)
    pd_seen = (first_pd >= 0) & obs[np.arange(n), np.maximum(first_pd, 0)]
    out = np.array(["CR", "PR", "SD"] + ["NE"] * 7, dtype=object)[np.minimum(best, 9)]
    out = np.where((best == 9) & pd_seen, "PD", out)
    # clinical benefit: CR/PR, or no progression seen for >= 24 weeks
    pd_day = np.where(first_pd >= 0, days[np.maximum(first_pd, 0)], np.inf)
    last_obs = np.where(obs.any(axis=1), days[np.where(obs, np.arange(m), -1).max(axis=1)], 0.0)
    stable_long = np.minimum(pd_day, np.where(pd_seen, np.inf, last_obs + 1e-9)) >= cbr_days
    benefit = (best <= 1) | (stable_long & (best <= 2))
    return out.astype(str), benefit


def assess(sld, baseline_mm, scan_days, end_days, *, confirm: bool = False):
    """PFS by RECIST: event time (days), event flag, best response, clinical benefit.

    Parameters
    ----------
    sld : array_like, shape (n_patients, n_scans)
    baseline_mm : array_like, shape (n_patients,)
    scan_days : array_like, shape (n_scans,)
    end_days : array_like, shape (n_patients,)
        End of observation (dropout or data cutoff, whichever first); scans after it are
        not seen.

    Returns
    -------
    dict of arrays
        ``time_days`` (scan of progression, else the last scan seen, 0 if none), ``event``,
        ``best_response``, ``benefit``.
    """
    sld = np.atleast_2d(np.asarray(sld, float))
    n, m = sld.shape
    days = np.asarray(scan_days, float)
    end = np.broadcast_to(np.asarray(end_days, float), (n,))
    obs = days[None, :] <= end[:, None] + 1e-9
    first = progression(sld, baseline_mm)
    seen = (first >= 0) & obs[np.arange(n), np.maximum(first, 0)]
    last = np.where(obs.any(axis=1), days[np.where(obs, np.arange(m), 0).max(axis=1)], 0.0)
    t = np.where(seen, days[np.maximum(first, 0)], last)
    best, benefit = best_response(sld, baseline_mm, days, observed=obs, confirm=confirm)
    return {"time_days": t, "event": seen, "best_response": best, "benefit": benefit}
