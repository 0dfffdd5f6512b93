"""Why HER2 makes tamoxifen fail, and how an anti-HER2 drug undoes it.

In HER2-amplified ER+ cells (BT-474, MCF-7/HER2-18) tamoxifen loses most of its growth
inhibition: HER2 signalling through ERK and Akt phosphorylates ER, and tamoxifen-bound
phosphorylated ER becomes a partial agonist (Benz 1992; Shou 2004, J Natl Cancer Inst
96:926). Lapatinib or trastuzumab switches HER2 off and gives tamoxifen its effect back.

The study: tamoxifen dose-response of the growth rate after 72 h in parental and
HER2-amplified cells, alone and on top of lapatinib (1 uM) or trastuzumab (100 nM); and
28 days of tumour burden at a clinical tamoxifen exposure (300 nM).

    python experiments/her2_tamoxifen_resistance.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "her2_tamoxifen_resistance"
T_ASSAY = 72.0   # h, growth-rate read-out of a short assay
TAM = 300.0      # nM tamoxifen, clinical exposure at 20 mg/day (simulator/models/drugs.toml)
ARMS = {         # label: (phenotype, drugs given with tamoxifen)
    "parental": (None, {}),
    "HER2_amplified": ("HER2_amplified", {}),
    "HER2_amplified + lapatinib": ("HER2_amplified", {"lapatinib": 1000.0}),
    "HER2_amplified + trastuzumab": ("HER2_amplified", {"trastuzumab": 100.0}),
}


def growth(model, phenotype, drugs, hours=T_ASSAY):
    """growth_rate (per day) after ``hours`` of ``drugs`` (from the untreated steady state)."""
    traj = sim.run_treatment(model, drugs, [0.0, hours], phenotype=phenotype)
    return float(traj["growth_rate"][-1])


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/her2_tamoxifen_resistance/{figure.png,results.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    doses = [10.0, 300.0, 3000.0] if quick else list(np.logspace(0, 4, 9))

    rows = []
    for label, (phenotype, extra) in ARMS.items():
        g0 = growth(model, phenotype, {})
        for dose in [0.0, *doses]:
            g = growth(model, phenotype, {**extra, "tamoxifen": dose})
            rows.append({"arm": label, "tamoxifen_nM": dose, "growth_rate": g,
                         "inhibition": 1.0 - g / g0})
    table = pd.DataFrame(rows)

    days = np.linspace(0, 28, 57)
    courses = {}
    for label, phenotype, drugs in (
            ("parental, control", None, {}),
            ("parental, tamoxifen", None, {"tamoxifen": TAM}),
            ("HER2_amplified, control", "HER2_amplified", {}),
            ("HER2_amplified, tamoxifen", "HER2_amplified", {"tamoxifen": TAM}),
            ("HER2_amplified, tamoxifen + lapatinib", "HER2_amplified",
             {"tamoxifen": TAM, "lapatinib": 1000.0})):
        traj = sim.run_treatment(model, drugs, days * 24, phenotype=phenotype)
        courses[label] = traj["tumor_burden"]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, sub in table[table.tamoxifen_nM > 0].groupby("arm", sort=False):
        ax1.semilogx(sub.tamoxifen_nM, 100 * sub.inhibition, "o-", label=label)
    ax1.axvline(TAM, color="grey", lw=0.8, ls=":")
    ax1.set(xlabel="tamoxifen (nM)", ylabel="growth inhibition at 72 h (%)",
            title="Tamoxifen dose-response")
    ax1.legend(fontsize=8)
    for label, burden in courses.items():
        ax2.plot(days, burden, ls="--" if "control" in label else "-", label=label)
    ax2.set(xlabel="days of treatment", ylabel="tumour burden (relative)", yscale="log",
            title=f"Tamoxifen {TAM:g} nM for 28 days")
    ax2.legend(fontsize=8)
    fig.suptitle("HER2 amplification makes tamoxifen fail; lapatinib or trastuzumab restores it")
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
