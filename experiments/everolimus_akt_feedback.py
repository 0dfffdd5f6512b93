"""Everolimus switches mTORC1 off and Akt on: the S6K1 -| IRS-1 feedback.

S6K1 phosphorylates IRS-1 on serines and so damps IGF-1R -> PI3K signalling. A rapalog
(everolimus) removes that brake: pS6 falls while pAkt S473 rises within hours, driven by
IGF-1 through IRS-1 (O'Reilly 2006, Cancer Res 66:1500). A PI3K inhibitor (alpelisib) or
removing IGF-1 abolishes the rise; a PI3K inhibitor lowers both Akt sites, everolimus does
not lower S473 (mTORC2 is not a rapalog target).

The study: 24 h time courses of pS6 and pAkt_S473 under everolimus (20 nM), everolimus +
alpelisib (1 uM) and everolimus without IGF-1; the everolimus dose-response of both
readouts at 24 h; Akt T308/S473 after 24 h of alpelisib, buparlisib or everolimus.

    python experiments/everolimus_akt_feedback.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "everolimus_akt_feedback"
EVE, ALP, BUP = 20.0, 1000.0, 1000.0   # nM


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/everolimus_akt_feedback/{figure.png,results.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    _, base = sim.untreated_state(model)
    no_igf = {"IGF1": 0.0}
    _, base0 = sim.untreated_state(model, params=no_igf)

    t = np.linspace(0.0, 24.0, 13 if quick else 49)
    rows = []
    arms = {"everolimus": ({"everolimus": EVE}, None, base),
            "everolimus + alpelisib": ({"everolimus": EVE, "alpelisib": ALP}, None, base),
            "everolimus, no IGF-1": ({"everolimus": EVE}, no_igf, base0)}
    for label, (drugs, params, ref) in arms.items():
        traj = sim.run_treatment(model, drugs, t, params=params)
        for readout in ("pS6", "pAkt_S473"):
            rows += [{"study": "time course", "arm": label, "time_h": tt, "readout": readout,
                      "relative": v / ref[readout]} for tt, v in zip(t, traj[readout])]

    doses = [0.1, 1.0, 10.0, 100.0] if quick else list(np.logspace(-2, 3, 11))
    for dose in doses:
        traj = sim.run_treatment(model, {"everolimus": dose}, [0.0, 24.0])
        for readout in ("pS6", "pAkt_S473"):
            rows.append({"study": "dose-response", "arm": "everolimus", "dose_nM": dose,
                         "readout": readout, "relative": traj[readout][-1] / base[readout]})

    for drug, dose in (("alpelisib", ALP), ("buparlisib", BUP), ("everolimus", EVE)):
        traj = sim.run_treatment(model, {drug: dose}, [0.0, 24.0])
        for readout in ("pAkt_T308", "pAkt_S473"):
            rows.append({"study": "Akt sites", "arm": drug, "dose_nM": dose, "readout": readout,
                         "relative": traj[readout][-1] / base[readout]})
    table = pd.DataFrame(rows)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    tc = table[table.study == "time course"]
    colors = dict(zip(arms, ("C0", "C1", "C2")))
    for (label, readout), sub in tc.groupby(["arm", "readout"], sort=False):
        axes[0].plot(sub.time_h, sub.relative, color=colors[label],
                     ls="-" if readout == "pAkt_S473" else ":",
                     label=f"{readout}, {label}")
    axes[0].axhline(1.0, color="grey", lw=0.8)
    axes[0].set(xlabel="hours", ylabel="relative to untreated", yscale="log",
                title="Time courses (solid pAkt S473, dotted pS6)")
    axes[0].legend(fontsize=7)
    dr = table[table.study == "dose-response"]
    for readout, sub in dr.groupby("readout", sort=False):
        axes[1].semilogx(sub.dose_nM, sub.relative, "o-", label=readout)
    axes[1].axhline(1.0, color="grey", lw=0.8)
    axes[1].set(xlabel="everolimus (nM)", ylabel="relative to untreated at 24 h",
                title="Everolimus dose-response")
    axes[1].legend(fontsize=8)
    ak = table[table.study == "Akt sites"].pivot(index="arm", columns="readout", values="relative")
    ak = ak.loc[["alpelisib", "buparlisib", "everolimus"], ["pAkt_T308", "pAkt_S473"]]
    x = np.arange(len(ak))
    axes[2].bar(x - 0.2, ak["pAkt_T308"], 0.4, label="pAkt T308")
    axes[2].bar(x + 0.2, ak["pAkt_S473"], 0.4, label="pAkt S473")
    axes[2].axhline(1.0, color="grey", lw=0.8)
    axes[2].set_xticks(x, ak.index)
    axes[2].set(ylabel="relative to untreated at 24 h", title="PI3K inhibitors vs everolimus")
    axes[2].legend(fontsize=8)
    fig.suptitle("Everolimus lowers pS6 but raises pAkt S473 through the S6K1 -| IRS-1 feedback")
    fig.tight_layout()
    fig.savefig(out / "figure.png", dpi=110)
    plt.close(fig)
    table.to_csv(out / "results.csv", index=False)
    return {"figure": out / "figure.png", "csv": out / "results.csv", "table": table}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced grids")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
