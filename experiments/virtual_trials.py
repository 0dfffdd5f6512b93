"""Virtual trials: every bundled trial, its simulated hazard ratio next to the published one.

Each trial in ``simulator/models/trials/`` runs as ``sim.virtual_trial`` runs it (docs/trials.md):
virtual patients drawn from the trial's population, their tumours from the cell model under the
trial's regimens with label PK, RECIST progression on scan days. The control arm's median
PFS is fitted to the published one; the experimental arm is predicted. A trial the model
cannot run (a drug without a cited unbound fraction, e.g. BELLE-2's buparlisib) is listed
with the reason, never dropped silently.

The figure: a forest plot of simulated (95% CI) against published hazard ratios, and the
Kaplan-Meier curves of each trial. The atlas runs a small cohort (three between-tumour draws);
``benchmarks/trials.py`` (``make bench-trials``) runs 500 per arm with eight draws.

    python experiments/virtual_trials.py [--quick] [--patients N] [--out out/experiments]
"""
from __future__ import annotations

import argparse
import math
import re
import time
from importlib import resources
from pathlib import Path

import matplotlib
import pandas as pd
from lifelines import KaplanMeierFitter

import simulator as sim

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

NAME = "virtual_trials"
TRIALS = Path(str(resources.files("simulator") / "models" / "trials"))
# the twelve cohorts, then trials of today's drug classes (CDK4/6 and AKT inhibitors)
ORDER = ["tandem", "egf30008_her2pos", "egf30008_her2neg", "bolero2", "tamrad", "horizon",
         "s0226", "fact", "sofea", "solar1_mutant", "solar1_wildtype", "belle2",
         "capitello291", "paloma2", "paloma3"]
ARM_COLORS = {"control": "#555555", "experimental": "#c0392b"}
DRAWS = 3      # between-tumour draws per cell state in the atlas (the benchmark runs 8)


def row(name: str, res) -> dict:
    """One trial's line of the table: medians and HR, simulated and published, the checks."""
    pub = res.trial.published
    hr, lo, hi, p = res.hazard_ratio
    mc, me = res.median_pfs["control"][0], res.median_pfs["experimental"][0]
    ph = pub.hazard_ratio or (math.nan, math.nan, math.nan)
    phl, phh = (ph[1], ph[2]) if len(ph) == 3 else (math.nan, math.nan)
    pc, pe = pub.median_pfs_months.get("control", math.nan), \
        pub.median_pfs_months.get("experimental", math.nan)
    pub_sig = phh < 1 if math.isfinite(phh) else False
    sim_sig = hi < 1
    direction = (sim_sig == pub_sig) and (pub_sig or 0.8 <= hr <= 1.25)
    return {"trial": name, "endpoint": pub.endpoint,
            "control_sim": mc, "control_pub": pc,
            "control_within_25pct": abs(mc / pc - 1) <= 0.25 if math.isfinite(mc) else False,
            "exp_sim": me, "exp_pub": pe,
            "hr_sim": hr, "hr_lo": lo, "hr_hi": hi, "p_sim": p,
            "hr_pub": ph[0], "hr_pub_lo": phl, "hr_pub_hi": phh,
            "hr_in_pub_ci": bool(phl <= hr <= phh) if math.isfinite(phl) else False,
            "direction_ok": bool(direction),
            "doubling_days_fitted": res.provenance.get("doubling_days_median"),
            "seconds": res.provenance.get("seconds"), "refused": ""}


def forest(table: pd.DataFrame, ax) -> None:
    """Simulated (red) and published (grey) hazard ratios with 95% CIs, one row per trial;
    a refused trial shows why."""
    n = len(table)
    for i, r in enumerate(table.itertuples()):
        y = n - i
        if math.isfinite(r.hr_pub):
            ax.plot([r.hr_pub_lo, r.hr_pub_hi], [y + 0.15] * 2, color="0.4", lw=2)
            ax.plot([r.hr_pub], [y + 0.15], "s", color="0.2", ms=6,
                    label="published" if i == 0 else None)
        note = ""
        if r.refused:
            note = "not run: " + r.refused
        elif not math.isfinite(r.hr_sim):
            note = "simulated: no progression in either arm"
        elif not math.isfinite(r.hr_hi):
            note = "simulated: no progression on the experimental arm (HR -> 0)"
        if note:
            ax.text(0.0025, y - 0.15, note, fontsize=7, color="#c0392b", va="center")
            continue
        ax.plot([max(r.hr_lo, 0.002), min(r.hr_hi, 5.0)], [y - 0.15] * 2, color="#c0392b", lw=2)
        ax.plot([max(r.hr_sim, 0.002)], [y - 0.15], "o", color="#c0392b", ms=6,
                label="simulated" if i == 0 else None)
    ax.axvline(1.0, color="0.6", ls="--", lw=1)
    ax.set_yticks(range(n, 0, -1))
    ax.set_yticklabels(table["trial"])
    ax.set_xscale("log")
    ax.set_xlim(0.002, 5)
    ax.set_xticks([0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4])
    ax.set_xticklabels(["0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "2", "4"])
    ax.set_xlabel("hazard ratio, experimental vs control (95% CI)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def _reason(err: Exception) -> str:
    """The error's first two clauses, without file paths: short enough for the plot."""
    text = re.sub(r"\s*\([^)]*\)", "", str(err))
    return ":".join(text.split(":")[:2])


def _km(ax, name: str, res) -> None:
    """Kaplan-Meier curves per arm, the published medians dashed."""
    pub = res.trial.published
    for arm in res.arms:
        d = res.patients[res.patients["arm"] == arm]
        color = ARM_COLORS.get(arm, "#2874a6")
        KaplanMeierFitter().fit(d["pfs_months"], d["event"], label=arm).plot_survival_function(
            ax=ax, ci_show=False, color=color, lw=1.5)
        if arm in pub.median_pfs_months:
            ax.axvline(pub.median_pfs_months[arm], color=color, ls="--", lw=0.8)
    hr = res.hazard_ratio[0]
    ax.set_title(f"{name}: HR {hr:.2f}" + (f" (pub {pub.hazard_ratio[0]:g})"
                                          if pub.hazard_ratio else ""), fontsize=8)
    ax.set_xlim(0, res.trial.months)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("months", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.get_legend().remove()


def main(out_dir="out/experiments", quick=False, patients: int | None = None):
    """Run every bundled trial; write ``<out_dir>/virtual_trials/{figure.png,results.csv}``."""
    patients = patients or (60 if quick else 120)
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    rows, results = [], {}
    for name in ORDER:
        t0 = time.perf_counter()
        try:
            res = sim.virtual_trial(model, TRIALS / f"{name}.toml", patients=patients, seed=0,
                                    draws=DRAWS, progress=False)
        except (sim.PerturbationError, sim.TrialError) as err:   # named, kept in the table
            rows.append({"trial": name, "refused": _reason(err), "hr_sim": math.nan,
                         "hr_pub": math.nan, "seconds": time.perf_counter() - t0})
            continue
        results[name] = res
        rows.append(row(name, res))
    table = pd.DataFrame(rows).fillna({"refused": ""})
    table.to_csv(out / "results.csv", index=False)
    n_km = len(results)
    cols = 4
    km_rows = math.ceil(n_km / cols)
    fig = plt.figure(figsize=(13, 4.6 + 2.6 * km_rows))
    grid = fig.add_gridspec(1 + km_rows, cols, height_ratios=[4.6] + [2.6] * km_rows)
    forest(table, fig.add_subplot(grid[0, :]))
    for k, (name, res) in enumerate(results.items()):
        _km(fig.add_subplot(grid[1 + k // cols, k % cols]), name, res)
    inside = int(table["hr_in_pub_ci"].eq(True).sum()) if "hr_in_pub_ci" in table else 0
    fig.suptitle(f"Virtual trials ({patients} patients per arm, {DRAWS} draws): simulated HR "
                 f"inside the published 95% CI in {inside} of {len(results)} trials run; "
                 f"grey = control, red = experimental, dashed = published medians", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=100)
    plt.close(fig)
    return {"figure": out / "figure.png", "csv": out / "results.csv", "table": table}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 patients per arm")
    parser.add_argument("--patients", type=int, help="patients per arm (default 120)")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    if args.patients is not None and args.patients < 1:
        parser.error(f"--patients must be a positive integer, got {args.patients}")
    print(main(args.out, quick=args.quick, patients=args.patients)["figure"])
