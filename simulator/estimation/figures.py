"""Figures of a calibration: the waterfall of the starts, the fit against the data,
profile likelihoods, and MCMC traces and marginals. matplotlib only; each function takes
what the estimation verbs return and returns the matplotlib Figure."""
from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from simulator.plot import pyplot

__all__ = ["waterfall", "fit", "profiles", "trace", "marginals"]


def waterfall(result, ax=None, reference: float | None = None,
              reference_label: str = "best known"):
    """The starts' final ``nllh`` in increasing order, relative to the best (log scale):
    a plateau at the left is the same optimum found by many starts. ``reference`` (an
    nllh, e.g. the best value published for the problem) is drawn as a dashed line, and
    the starts within 0.1 of it are counted in the title."""
    plt = pyplot()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.0, 4.0))
    starts = result.starts
    ok = starts[~starts["failed"]]
    values = ok["nllh"].to_numpy(dtype=float)
    best = values.min() if values.size else np.nan
    floor = best if reference is None else min(best, reference)
    ax.plot(np.arange(1, values.size + 1), values - floor + 1.0, "o-", ms=4)
    ax.set_yscale("log")
    ax.set_xlabel("start (sorted by final value)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("nllh - " + ("best nllh" if reference is None else
                               f"min(best, {reference_label})") + " + 1")
    n_fail = int(starts["failed"].sum())
    hits = result.starts_within(best)
    title = (f"{result.problem.path.stem}: best nllh {best:.6g}, reached by {hits} of "
             f"{len(starts)} starts" + (f" ({n_fail} failed)" if n_fail else ""))
    if reference is not None:
        ax.axhline(reference - floor + 1.0, color="C3", ls="--", lw=1,
                   label=f"{reference_label}: {reference:.6g}")
        ax.legend(fontsize=8, loc="lower right")
        title += (f"\n{result.starts_within(reference)} within 0.1 of the "
                  f"{reference_label} value")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def _steady_state_panel(ax, table, data, rows_):
    """An observable measured only at steady state (``time = inf``, e.g. a dose
    response): data (o) and simulation (x) per condition, in the order of the table."""
    ids = list(dict.fromkeys(table.loc[rows_, "simulationConditionId"]))
    where = {cid: i for i, cid in enumerate(ids)}
    pos = table.loc[rows_, "simulationConditionId"].map(where).to_numpy()
    ax.plot(pos, data.loc[rows_, "measurement"].to_numpy(), "o", ms=3.5, mfc="none",
            color="C0", label="data")
    ax.plot(pos, table.loc[rows_, "simulation"].to_numpy(), "x", ms=5, color="C3",
            label="fit")
    ax.set_xticks(range(len(ids)))
    ax.set_xticklabels(ids, rotation=90, fontsize=5 if len(ids) > 12 else 7)
    ax.set_xlabel("condition (steady state)")
    ax.legend(fontsize=7)


def fit(problem, x):
    """Measurements (points) and simulation (curves on a dense time grid, with the
    simulated value at each measurement as a small cross) at ``x``, one panel per
    observable, one colour per simulation condition. An observable measured only at
    steady state (``time = inf``) gets data and fit per condition instead; steady-state
    points of an observable that also has time points sit at the panel's right edge,
    marked ∞."""
    plt = pyplot()
    table = problem.simulate(x)
    dense = problem.simulate_dense(x)
    data = problem.tables.measurements
    observables = list(dict.fromkeys(table["observableId"]))
    n = len(observables)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    conditions = list(dict.fromkeys(table["simulationConditionId"]))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    times = table["time"].to_numpy(dtype=float)
    legend_drawn = False
    for k, oid in enumerate(observables):
        ax = axes[k // cols][k % cols]
        mine = (table["observableId"] == oid).to_numpy()
        if not np.isfinite(times[mine]).any():
            _steady_state_panel(ax, table, data, mine)
            ax.set_title(oid, fontsize=9)
            continue
        seen = times[mine & np.isfinite(times)]
        edge = 1.1 * seen.max() if seen.max() > 0 else 1.0
        for c, cid in enumerate(conditions):
            rows_ = mine & (table["simulationConditionId"] == cid).to_numpy()
            if not rows_.any():
                continue
            color = colors[c % len(colors)]
            curve = dense[(dense["observableId"] == oid) & (dense["simulationConditionId"] == cid)]
            label = cid if len(conditions) <= 8 else None
            for _, one in curve.groupby("preequilibrationConditionId", sort=False):
                # one curve per override set: a new one starts where time goes back to 0
                part = np.cumsum(np.r_[0, np.diff(one["time"].to_numpy()) < 0])
                for j in np.unique(part):
                    seg = one[part == j]
                    ax.plot(seg["time"], seg["simulation"], "-", lw=1.2, color=color,
                            label=label)
                    label = None
            t = np.where(np.isinf(times[rows_]), edge, times[rows_])
            ax.plot(t, table.loc[rows_, "simulation"].to_numpy(), "x", ms=3, color=color)
            ax.plot(t, data.loc[rows_, "measurement"].to_numpy(), "o", ms=3.5, color=color,
                    mfc="none")
        ax.set_title(oid, fontsize=9)
        ax.set_xlabel("time")
        # each panel spans its own data's times (an experiment's curve runs to the last
        # time of any of its observables)
        steady = mine & np.isinf(times)
        if steady.any():
            ax.axvline(edge, color="grey", lw=0.6, ls=":")
            ax.annotate("∞", (edge, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=8)
        if seen.max() > 0:
            ax.set_xlim(-0.02 * seen.max(), (1.15 if steady.any() else 1.05) * seen.max())
        if not legend_drawn and len(conditions) <= 8:
            ax.legend(fontsize=7, title="condition (curves: fit, o: data)",
                      title_fontsize=7)
            legend_drawn = True
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


def _grid(plt, n, width=3.4, height=2.6, cols=3):
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    return fig, [axes[k // cols][k % cols] for k in range(n)]


def trace(result):
    """Each estimated parameter (estimation scale) and the negative log posterior along
    the chain; the burn-in shaded grey."""
    plt = pyplot()
    problem = result.problem
    names = list(problem.parameter_ids) + ["nlpost"]
    fig, axes = _grid(plt, len(names), width=4.2, height=2.3, cols=2)
    it = result.trace.index.to_numpy()
    for ax, name in zip(axes, names):
        ax.plot(it, result.trace[name].to_numpy(), lw=0.6)
        if result.burn_in > 0:
            ax.axvspan(it[0], it[min(result.burn_in, len(it) - 1)], color="grey", alpha=0.2,
                       lw=0)
        if name == "nlpost":
            ax.set_title("negative log posterior", fontsize=9)
        else:
            k = problem.parameter_ids.index(name)
            ax.set_title(f"{name} ({problem.scales[k]})", fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
    ess = result.effective_sample_size
    fig.suptitle(f"{result.sampler}: {len(result.trace) - 1} samples, burn-in "
                 f"{result.burn_in} (shaded), ESS {'n/a' if ess is None else f'{ess:.0f}'}, "
                 f"acceptance {result.acceptance:.2f}, {result.failures} failed evaluations",
                 fontsize=9)
    fig.tight_layout()
    return fig


def marginals(result):
    """Histogram of each parameter's samples after the burn-in (estimation scale), with the
    best fit (red) and the central 95 % of the samples (shaded)."""
    plt = pyplot()
    problem = result.problem
    samples = result.samples
    names = list(problem.parameter_ids)
    fig, axes = _grid(plt, len(names))
    for k, (ax, name) in enumerate(zip(axes, names)):
        v = samples[name].to_numpy()
        if v.size:
            ax.hist(v, bins=min(40, max(5, v.size // 25)), density=True, color="C0",
                    alpha=0.7)
            lo, hi = np.quantile(v, [0.025, 0.975])
            ax.axvspan(lo, hi, color="C1", alpha=0.12, lw=0)
        ax.axvline(result.result.best_x[k], color="C3", lw=1.0)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"{problem.scales[k]} value", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"posterior marginals: {len(samples)} samples after a burn-in of "
                 f"{result.burn_in} (red: best fit, shaded: central 95 %)", fontsize=9)
    fig.tight_layout()
    return fig
