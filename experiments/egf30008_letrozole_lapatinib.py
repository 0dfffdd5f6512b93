"""EGF30008 at the cell level: letrozole + lapatinib in HER2-positive ER+ disease.

In EGF30008 adding lapatinib to letrozole more than doubled progression-free survival in
HER2-positive, hormone-receptor-positive patients (3.0 -> 8.2 months) but gave little in
HER2-negative ones (Johnston 2009, J Clin Oncol 27:5538). In the model, HER2 amplification
keeps ER and growth going without estrogen; lapatinib removes that escape.

The study: growth inhibition after 72 h by letrozole (100 nM), lapatinib (1 uM) and both,
in parental and HER2_amplified cells; 4 weeks of tumour burden in HER2_amplified cells.

    python experiments/egf30008_letrozole_lapatinib.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import simulator as sim

NAME = "egf30008_letrozole_lapatinib"
ARMS = {"letrozole": {"letrozole": 100.0},
        "lapatinib": {"lapatinib": 1000.0},
        "letrozole + lapatinib": {"letrozole": 100.0, "lapatinib": 1000.0}}
CELLS = {"parental": None, "HER2_amplified": "HER2_amplified"}
WEEKS = 4
TITLE = "EGF30008 analogue: lapatinib adds to letrozole in HER2-amplified, not parental, cells"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/egf30008_letrozole_lapatinib/{figure.png,results.csv}``."""
    study = sim.compare_arms(sim.load_model(), ARMS, cells=CELLS, readout="growth_rate",
                             course="tumor_burden", weeks=WEEKS,
                             points=15 if quick else 57)
    return study.save(Path(out_dir) / NAME, course_cell="HER2_amplified", title=TITLE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser time grid")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
