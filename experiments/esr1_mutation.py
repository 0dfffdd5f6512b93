"""ESR1 ligand-binding-domain mutations: ER works without estrogen.

Y537S/D538G ER is active without E2, so aromatase inhibitors (which only remove E2) lose
their effect; antagonists bind the mutant less well, so fulvestrant's IC50 shifts right,
but at high dose it still suppresses the mutant (Toy 2013, Nat Genet 45:1439; Toy 2017,
Cancer Discov 7:277).

The study: ER activity with and without E2 (72 h without androstenedione) in parental and
ESR1_mutant cells; growth inhibition by letrozole (100 nM); fulvestrant dose-response of
growth inhibition at 72 h, with the dose giving half of the maximal inhibition.

    python experiments/esr1_mutation.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "esr1_mutation"
T_ASSAY = 72.0
CELLS = {"parental": None, "ESR1_mutant": "ESR1_mutant"}


def after(model, phenotype, drugs=None, readout="growth_rate"):
    """``readout`` after 72 h of ``drugs`` (from the untreated steady state)."""
    traj = sim.run_treatment(model, drugs or {}, [0.0, T_ASSAY], phenotype=phenotype)
    return float(traj[readout][-1])


def half_max_dose(doses, inhibition):
    """Dose giving half of the largest inhibition (log-linear interpolation)."""
    doses, inhibition = np.asarray(doses), np.asarray(inhibition)
    half = inhibition.max() / 2
    i = int(np.argmax(inhibition >= half))
    if i == 0:
        return float(doses[0])
    x = np.interp(half, inhibition[i - 1:i + 1], np.log(doses[i - 1:i + 1]))
    return float(np.exp(x))


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/esr1_mutation/{figure.png,results.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    doses = [0.1, 1.0, 10.0, 1000.0] if quick else list(np.logspace(-2, 3, 11))
    rows = []
    for cell, phenotype in CELLS.items():
        g0 = after(model, phenotype)
        rows.append({"cell": cell, "measure": "ER_activity with E2",
                     "value": after(model, phenotype, readout="ER_activity")})
        rows.append({"cell": cell, "measure": "ER_activity without E2",   # medium stripped
                     "value": after(model, phenotype, {"androstenedione": 0.0},
                                    readout="ER_activity")})
        rows.append({"cell": cell, "measure": "letrozole inhibition",
                     "value": 1 - after(model, phenotype, {"letrozole": 100.0}) / g0})
        for dose in doses:
            rows.append({"cell": cell, "measure": "fulvestrant inhibition", "dose_nM": dose,
                         "value": 1 - after(model, phenotype, {"fulvestrant": dose}) / g0})
    table = pd.DataFrame(rows)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.1, 0.8, 1.4]})
    er = table[table.measure.str.startswith("ER_activity")].pivot(
        index="cell", columns="measure", values="value").loc[list(CELLS)]
    x = np.arange(len(er))
    axes[0].bar(x - 0.2, er["ER_activity with E2"], 0.4, label="with E2")
    axes[0].bar(x + 0.2, er["ER_activity without E2"], 0.4, label="without E2 (72 h)")
    axes[0].set_xticks(x, er.index)
    axes[0].set(ylabel="ER_activity", title="ER activity")
    axes[0].legend(fontsize=8)
    let = table[table.measure == "letrozole inhibition"].set_index("cell").loc[list(CELLS)]
    bars = axes[1].bar(let.index, 100 * let.value, color=["C0", "C3"])
    axes[1].bar_label(bars, fmt="%.0f%%")
    axes[1].axhline(100, color="grey", ls=":", lw=0.8)
    axes[1].set(ylabel="growth inhibition at 72 h (%)\n(above 100: net regression)",
                title="Letrozole 100 nM")
    for cell, color in zip(CELLS, ("C0", "C3")):
        sub = table[(table.cell == cell) & (table.measure == "fulvestrant inhibition")]
        ic = half_max_dose(sub.dose_nM, sub.value)
        axes[2].semilogx(sub.dose_nM, 100 * sub.value, "o-", color=color,
                         label=f"{cell} (half-max {ic:.2g} nM)")
        axes[2].axvline(ic, color=color, ls=":", lw=0.8)
    axes[2].set(xlabel="fulvestrant (nM)", ylabel="growth inhibition at 72 h (%)",
                title="Fulvestrant: IC50 right-shifted, maximum kept")
    axes[2].legend(fontsize=8)
    fig.suptitle("ESR1 mutation: ER active without E2; aromatase inhibitors fail, fulvestrant needs more")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    table.to_csv(out / "results.csv", index=False)
    return {"figure": out / "figure.png", "csv": out / "results.csv", "table": table}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced dose grid")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
