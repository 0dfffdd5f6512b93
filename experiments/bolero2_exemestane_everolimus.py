"""BOLERO-2 at the cell level: exemestane + everolimus after a non-steroidal aromatase inhibitor.

In BOLERO-2 adding everolimus to exemestane in patients progressing on letrozole or
anastrozole raised progression-free survival from 2.8 to 6.9 months (Baselga 2012, N Engl J
Med 366:520). Those tumours resemble long-term estrogen-deprived (LTED) cells: RTKs and
PI3K-mTOR up, ER still needed (Miller 2010, J Clin Invest 120:2406). Exemestane alone
removes what little E2 is left; everolimus removes the mTORC1 drive of the adapted cell.

The study: growth inhibition after 72 h by exemestane (100 nM), everolimus (20 nM) and
both, in parental and LTED cells; 4 weeks of tumour burden in LTED cells.

    python experiments/bolero2_exemestane_everolimus.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import simulator as sim

NAME = "bolero2_exemestane_everolimus"
ARMS = {"exemestane": {"exemestane": 100.0},
        "everolimus": {"everolimus": 20.0},
        "exemestane + everolimus": {"exemestane": 100.0, "everolimus": 20.0}}
CELLS = {"parental": None, "LTED": "LTED"}
WEEKS = 4
TITLE = "BOLERO-2 analogue: everolimus adds to exemestane in estrogen-deprivation-adapted (LTED) cells"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/bolero2_exemestane_everolimus/{figure.png,results.csv}``."""
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
