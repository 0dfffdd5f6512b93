"""TAnDEM at the cell level: anastrozole + trastuzumab in HER2-positive ER+ disease.

In TAnDEM adding trastuzumab to anastrozole improved progression-free survival in
HER2-positive, hormone-receptor-positive patients (2.4 -> 4.8 months; Kaufman 2009, J Clin
Oncol 27:5529). In the model, trastuzumab blocks ligand-independent HER2 signalling, which
otherwise keeps ER and growth going without estrogen in HER2-amplified cells.

The study: growth inhibition after 72 h by anastrozole (100 nM), trastuzumab (100 nM) and
both, in parental and HER2_amplified cells; 4 weeks of tumour burden in HER2_amplified
cells.

    python experiments/tandem_anastrozole_trastuzumab.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "tandem_anastrozole_trastuzumab"
ARMS = {"anastrozole": {"anastrozole": 100.0},
        "trastuzumab": {"trastuzumab": 100.0},
        "anastrozole + trastuzumab": {"anastrozole": 100.0, "trastuzumab": 100.0}}
CELLS = {"parental": None, "HER2_amplified": "HER2_amplified"}
T_ASSAY, WEEKS = 72.0, 4


def untreated(model, phenotype=None):
    """Steady state of the untreated cell as initial values (tumour burden held at 0, then 1)."""
    ss = sim.steady_state(model, phenotype=phenotype, initial={"tumor_burden": 0.0})
    return {**ss.state, "tumor_burden": 1.0}


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/tandem_anastrozole_trastuzumab/{figure.png,results.csv}``."""
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
            title=f"HER2_amplified, {WEEKS} weeks")
    ax2.legend(fontsize=8)
    fig.suptitle("TAnDEM analogue: trastuzumab adds to anastrozole in HER2-amplified, not parental, cells")
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
