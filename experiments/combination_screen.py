"""A combination screen: every pair of the catalogue's drugs with a clinical exposure, in LTED
and HER2-amplified cells (drugs without label PK, such as dactolisib and AZD8055, are left
out and listed in the figure title).

Each pair runs on a small dose matrix around clinical exposure (a tenth, a third and the
full concentration from the catalogue (``simulator/models/drugs.toml``), plus the untreated control), with the
growth rate after 72 h as readout. Synergy is scored as SynergyFinder does (Bliss 1939,
Loewe 1953, highest single agent, ZIP: Yadav 2015); the table ranks the pairs by their
Bliss score (mean excess % inhibition over Bliss independence), positive is synergy.

    python experiments/combination_screen.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import simulator as sim

NAME = "combination_screen"
PHENOTYPES = ("LTED", "HER2_amplified")
FRACTIONS = (0.1, 0.3, 1.0)          # of the clinical exposure
QUICK_DRUGS = ("fulvestrant", "letrozole", "lapatinib", "everolimus", "alpelisib")


def main(out_dir="out/experiments", quick=False):
    """Run the screen; write ``<out_dir>/combination_screen/{figure.png,results.csv,cells.csv}``."""
    out = Path(out_dir) / NAME
    out.mkdir(parents=True, exist_ok=True)
    model = sim.load_model()
    catalog = sim.drugs()
    dosable = catalog["clinical_exposure_nM"].notna()
    left_out = list(catalog.index[~dosable])
    names = list(QUICK_DRUGS) if quick else list(catalog.index[dosable])
    fractions = FRACTIONS[1:] if quick else FRACTIONS
    doses = {d: [f * float(catalog.loc[d, "clinical_exposure_nM"]) for f in fractions]
             for d in names}

    rows, cells = [], []
    start = time.perf_counter()
    for phenotype in PHENOTYPES:
        for a, b in itertools.combinations(names, 2):
            combo = sim.combination(model, (a, doses[a]), (b, doses[b]), readout="growth_rate",
                                    at_time=72.0, phenotype=phenotype)
            scores = {m: (r.score if r is not None else np.nan)
                      for m, r in ((m, getattr(combo, m)) for m in ("bliss", "loewe", "hsa", "zip"))}
            top = combo.response.filled(np.nan)
            rows.append({"phenotype": phenotype, "drug_a": a, "drug_b": b, **scores,
                         "max_inhibition": float(np.nanmax(top)),
                         "failed_cells": int(combo.failed.sum())})
            cell = combo.table.rename(columns={a: "dose_a", b: "dose_b"})
            cells.append(cell.assign(phenotype=phenotype, drug_a=a, drug_b=b))
    seconds = time.perf_counter() - start
    table = (pd.DataFrame(rows).sort_values(["phenotype", "bliss"], ascending=[True, False])
             .reset_index(drop=True))
    table["rank"] = table.groupby("phenotype").cumcount() + 1
    table.to_csv(out / "results.csv", index=False)
    pd.concat(cells, ignore_index=True).to_csv(out / "cells.csv", index=False)

    fig, axes = plt.subplots(1, len(PHENOTYPES), figsize=(6.2 * len(PHENOTYPES), 5.4))
    limit = float(np.nanmax(np.abs(table["bliss"]))) or 1.0
    for ax, phenotype in zip(axes, PHENOTYPES):
        mat = pd.DataFrame(np.nan, index=names, columns=names)
        for r in table[table.phenotype == phenotype].itertuples():
            mat.loc[r.drug_a, r.drug_b] = mat.loc[r.drug_b, r.drug_a] = r.bliss
        im = ax.imshow(mat.values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        best = table[table.phenotype == phenotype].iloc[0]
        ax.set_title(f"{phenotype}\nbest: {best.drug_a} + {best.drug_b} "
                     f"(Bliss {best.bliss:+.1f})", fontsize=10)
    fig.colorbar(im, ax=list(axes), shrink=0.8,
                 label="Bliss score (mean excess % inhibition; red = synergy)")
    skipped = f"; no clinical exposure: {', '.join(left_out)}" if left_out and not quick else ""
    fig.suptitle(f"All drug pairs, growth rate at 72 h ({len(rows)} matrices, {seconds:.0f} s"
                 f"{skipped})")
    fig.savefig(out / "figure.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return {"figure": out / "figure.png", "csv": out / "results.csv", "table": table,
            "seconds": seconds}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 drugs, 2 doses each")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    result = main(args.out, quick=args.quick)
    print(result["table"].groupby("phenotype").head(5).to_string(index=False))
    print(f"{result['seconds']:.1f} s -> {result['figure']}")
