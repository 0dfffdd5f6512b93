"""Figures of a calibration: the waterfall of the starts, the fit against the data, and
profile likelihoods. matplotlib only; each function takes what the estimation verbs return
and returns the matplotlib Figure."""
from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from simulator.plot import pyplot

__all__ = ["waterfall", "fit", "profiles"]


def waterfall(result, ax=None):
    """The starts' final ``nllh`` in increasing order, relative to the best (log scale):
    a plateau at the left is the same optimum found by many starts."""
    plt = pyplot()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.0, 4.0))
    starts = result.starts
    ok = starts[~starts["failed"]]
    values = ok["nllh"].to_numpy(dtype=float)
    best = values.min() if values.size else np.nan
    ax.plot(np.arange(1, values.size + 1), values - best + 1.0, "o-", ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("start (sorted by final value)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("nllh - best nllh + 1")
    n_fail = int(starts["failed"].sum())
    hits = int(np.sum(values - best < 0.1))
    ax.set_title(f"{result.problem.path.stem}: best nllh {best:.4g}, reached by {hits} of "
                 f"{len(starts)} starts" + (f" ({n_fail} failed)" if n_fail else ""),
                 fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def fit(problem, x):
    """Measurements (points) and simulation (lines) at ``x``, one panel per observable,
    one colour per simulation condition."""
    plt = pyplot()
    table = problem.simulate(x)
    data = problem.tables.measurements
    observables = list(dict.fromkeys(table["observableId"]))
    n = len(observables)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    conditions = list(dict.fromkeys(table["simulationConditionId"]))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, oid in enumerate(observables):
        ax = axes[k // cols][k % cols]
        for c, cid in enumerate(conditions):
            rows_ = (table["observableId"] == oid) & (table["simulationConditionId"] == cid)
            if not rows_.any():
                continue
            t = table.loc[rows_, "time"].to_numpy(dtype=float)
            order = np.argsort(t)
            color = colors[c % len(colors)]
            ax.plot(t[order], table.loc[rows_, "simulation"].to_numpy()[order], "-",
                    color=color, label=cid if len(conditions) <= 8 else None)
            ax.plot(t, data.loc[rows_, "measurement"].to_numpy(), "o", ms=3, color=color)
        ax.set_title(oid, fontsize=9)
        ax.set_xlabel("time")
        if k == 0 and len(conditions) <= 8:
            ax.legend(fontsize=7, title="condition (lines: fit, points: data)",
                      title_fontsize=7)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.tight_layout()
    return fig


def profiles(result):
    """Likelihood ratio along each profile, with the confidence threshold and interval."""
    plt = pyplot()
    names = list(result.profiles)
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    threshold = np.exp(-chi2.ppf(result.confidence, 1) / 2)
    intervals = result.intervals.set_index("parameter")
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        df = result.profiles[name]
        ax.plot(df["x"], df["ratio"], "-")
        ax.axhline(threshold, color="grey", ls="--", lw=0.8)
        lo, hi = intervals.loc[name, "lower"], intervals.loc[name, "upper"]
        ax.axvspan(lo, hi, color="C1", alpha=0.15)
        ax.axvline(intervals.loc[name, "best"], color="C3", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"{intervals.loc[name, 'scale']} value")
        ax.set_ylim(0, 1.05)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(f"profile likelihoods ({int(100 * result.confidence)}% intervals shaded)",
                 fontsize=10)
    fig.tight_layout()
    return fig
