"""Fulvestrant + a PI3K inhibitor in estrogen-deprivation-resistant cells.

LTED cells keep ER and add PI3K signalling; blocking only one leaves the other to drive
growth, and fulvestrant with a PI3K inhibitor beats either alone (Miller 2010, J Clin
Invest 120:2406; Crowder 2009, Cancer Res 69:3955). The clinical analogues are BELLE-2
(buparlisib + fulvestrant; Baselga 2017, Lancet Oncol 18:904) and SOLAR-1 (alpelisib +
fulvestrant in PIK3CA-mutant disease; Andre 2019, N Engl J Med 380:1929).

The study: growth inhibition after 72 h by fulvestrant (100 nM), buparlisib (1 uM),
alpelisib (1 uM) and the two combinations, in parental and LTED cells; 12 weeks of tumour
burden in LTED cells.

    python experiments/pi3k_fulvestrant.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "pi3k_fulvestrant"
ARMS = {"fulvestrant": {"fulvestrant": 100.0},
        "buparlisib": {"buparlisib": 1000.0},
        "alpelisib": {"alpelisib": 1000.0},
        "fulvestrant + buparlisib": {"fulvestrant": 100.0, "buparlisib": 1000.0},
        "fulvestrant + alpelisib": {"fulvestrant": 100.0, "alpelisib": 1000.0}}
CELLS = {"parental": None, "LTED": "LTED"}
T_ASSAY, WEEKS = 72.0, 4


def untreated(model, phenotype=None):
    """Steady state of the untreated cell as initial values (tumour burden held at 0, then 1)."""
    ss = sim.steady_state(model, phenotype=phenotype, initial={"tumor_burden": 0.0})
    return {**ss.state, "tumor_burden": 1.0}


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/pi3k_fulvestrant/{figure.png,results.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    days = np.linspace(0, 7 * WEEKS, 15 if quick else 57)
    rows, courses = [], {}
    for cell, phenotype in CELLS.items():
        start = untreated(model, phenotype)
        g0 = None
        for arm, drugs in {"control": {}, **ARMS}.items():
            traj = sim.simulate(model, days * 24, initial=start, phenotype=phenotype, drugs=drugs)
            g = float(np.interp(T_ASSAY, traj.t, traj["growth_rate"]))
            g0 = g if g0 is None else g0
            rows.append({"cell": cell, "arm": arm, "growth_rate_72h": g,
                         "inhibition_72h": 1 - g / g0,
                         f"tumor_burden_week{WEEKS}": float(traj["tumor_burden"][-1])})
            if phenotype:
                courses[arm] = traj["tumor_burden"]
    table = pd.DataFrame(rows)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    inh = table[table.arm != "control"].pivot(index="arm", columns="cell", values="inhibition_72h")
    inh = inh.loc[list(ARMS), list(CELLS)]
    x = np.arange(len(inh))
    for k, cell in enumerate(CELLS):
        ax1.bar(x + (k - 0.5) * 0.4, 100 * inh[cell], 0.4, label=cell)
    ax1.set_xticks(x, [a.replace(" + ", "\n+ ") for a in inh.index])
    ax1.axhline(0, color="k", lw=0.5)
    ax1.axhline(100, color="grey", ls=":", lw=0.8)
    ax1.set(ylabel="growth inhibition at 72 h (%)\n(above 100: net regression)", title="Short assay")
    ax1.legend(fontsize=8)
    for arm, burden in courses.items():
        ax2.plot(days, burden, label=arm, ls="--" if arm == "control" else "-")
    ax2.set(xlabel="days", ylabel="tumour burden (relative)", yscale="log",
            title=f"LTED, {WEEKS} weeks")
    ax2.legend(fontsize=8)
    fig.suptitle("LTED cells: fulvestrant + a PI3K inhibitor beats either alone")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    table.to_csv(out / "results.csv", index=False)
    return {"figure": out / "figure.png", "csv": out / "results.csv", "table": table}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser time grid")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
