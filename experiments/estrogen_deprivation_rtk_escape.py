"""Estrogen deprivation: growth arrest, then escape through up-regulated growth-factor receptors.

E2-bound ER represses EGFR and HER2 transcription. Under months of estrogen deprivation
(an aromatase inhibitor, or no E2 at all) that repression is lost slowly, EGFR, HER2 and
IGF-1R rise, ERK and PI3K signalling rise, and growth, first arrested, recovers: the
long-term estrogen-deprived (LTED) state (Martin 2003, Endocrinology 144:1093; Miller 2010,
J Clin Invest 120:2406).

The study: 180 days of letrozole (100 nM) or E2 = 0 (no androstenedione) from the parental
steady state: growth rate, RTK levels and pERK relative to the start.

    python experiments/estrogen_deprivation_rtk_escape.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FormatStrFormatter
import numpy as np
import pandas as pd

import simulator as sim

NAME = "estrogen_deprivation_rtk_escape"
READOUTS = ["growth_rate", "EGFR_total", "HER2_total", "IGF1R_total", "pERK", "ER_activity",
            "tumor_burden"]


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/estrogen_deprivation_rtk_escape/{figure.png,results.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    _, ss = sim.untreated_state(model)
    days = np.linspace(0.0, 180.0, 91 if quick else 361)

    frames = []
    for label, drugs in (("letrozole 100 nM", {"letrozole": 100.0}),
                         ("E2 = 0", {"androstenedione": 0.0})):      # the medium stripped
        traj = sim.run_treatment(model, drugs, days * 24)
        frame = pd.DataFrame({r: traj[r] for r in READOUTS})
        frame.insert(0, "day", days)
        frame.insert(0, "condition", label)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for label, sub in table.groupby("condition", sort=False):
        axes[0].plot(sub.day, sub.growth_rate, label=label)
        axes[2].plot(sub.day, sub.tumor_burden, label=label)
    axes[0].axhline(ss["growth_rate"], color="grey", lw=0.8, ls=":", label="untreated")
    axes[0].axhline(0.0, color="k", lw=0.5)
    axes[0].set(xlabel="days", ylabel="growth rate (per day)", title="Arrest, then escape")
    axes[0].legend(fontsize=8)
    let = table[table.condition == "letrozole 100 nM"]
    for readout in ("EGFR_total", "HER2_total", "IGF1R_total", "pERK", "ER_activity"):
        axes[1].plot(let.day, let[readout] / ss[readout], label=readout)
    axes[1].axhline(1.0, color="grey", lw=0.8)
    axes[1].set(xlabel="days of letrozole", ylabel="relative to untreated", yscale="log",
                title="Receptors and ERK rise over weeks")
    axes[1].yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axes[1].yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    axes[1].legend(fontsize=8)
    axes[2].set(xlabel="days", ylabel="tumour burden (relative)", yscale="log",
                title="Tumour burden")
    axes[2].legend(fontsize=8)
    fig.suptitle("Months of estrogen deprivation: RTK up-regulation lets growth recover")
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
