"""TAMRAD at the cell level: tamoxifen + everolimus after aromatase-inhibitor resistance.

In the randomised phase II TAMRAD trial, everolimus added to tamoxifen in patients whose
disease had progressed on an aromatase inhibitor raised the clinical benefit rate from 42%
to 61% and time to progression from 4.5 to 8.6 months (Bachelot 2012, J Clin Oncol
30:2718). In the model the AI-resistant (LTED) cell drives ER through Akt and S6K1
phosphorylation, which makes tamoxifen-bound ER partly active; everolimus removes S6K1's
share and restores tamoxifen's antagonism.

The study: growth inhibition after 72 h by tamoxifen (300 nM), everolimus (20 nM) and both,
in parental and LTED cells; 4 weeks of tumour burden in LTED cells.

    python experiments/tamrad_tamoxifen_everolimus.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import simulator as sim

NAME = "tamrad_tamoxifen_everolimus"
ARMS = {"tamoxifen": {"tamoxifen": 300.0},
        "everolimus": {"everolimus": 20.0},
        "tamoxifen + everolimus": {"tamoxifen": 300.0, "everolimus": 20.0}}
CELLS = {"parental": None, "LTED": "LTED"}
WEEKS = 4
TITLE = "TAMRAD analogue: everolimus adds to tamoxifen in aromatase-inhibitor-resistant (LTED) cells"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/tamrad_tamoxifen_everolimus/{figure.png,results.csv}``."""
    study = sim.compare_arms(sim.load_model(), ARMS, cells=CELLS, readout="growth_rate",
                             course="tumor_burden", weeks=WEEKS,
                             points=15 if quick else 57)
    return study.save(Path(out_dir) / NAME, course_cell="LTED", title=TITLE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser time grid")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
