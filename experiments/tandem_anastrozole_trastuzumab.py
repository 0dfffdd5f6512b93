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

import simulator as sim

NAME = "tandem_anastrozole_trastuzumab"
ARMS = {"anastrozole": {"anastrozole": 100.0},
        "trastuzumab": {"trastuzumab": 100.0},
        "anastrozole + trastuzumab": {"anastrozole": 100.0, "trastuzumab": 100.0}}
CELLS = {"parental": None, "HER2_amplified": "HER2_amplified"}
WEEKS = 4
TITLE = "TAnDEM analogue: trastuzumab adds to anastrozole in HER2-amplified, not parental, cells"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/tandem_anastrozole_trastuzumab/{figure.png,results.csv}``."""
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
