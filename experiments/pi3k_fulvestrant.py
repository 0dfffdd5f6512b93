"""Fulvestrant + a PI3K inhibitor in estrogen-deprivation-resistant cells.

LTED cells keep ER and add PI3K signalling; blocking only one leaves the other to drive
growth, and fulvestrant with a PI3K inhibitor beats either alone (Miller 2010, J Clin
Invest 120:2406; Crowder 2009, Cancer Res 69:3955). The clinical analogues are BELLE-2
(buparlisib + fulvestrant; Baselga 2017, Lancet Oncol 18:904) and SOLAR-1 (alpelisib +
fulvestrant in PIK3CA-mutant disease; Andre 2019, N Engl J Med 380:1929).

The study: growth inhibition after 72 h by fulvestrant (100 nM), buparlisib (1 uM),
alpelisib (1 uM) and the two combinations, in parental and LTED cells; 12 weeks of tumour
burden in LTED cells.

    python experiments/pi3k_fulvestrant.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import simulator as sim

NAME = "pi3k_fulvestrant"
ARMS = {"fulvestrant": {"fulvestrant": 100.0},
        "buparlisib": {"buparlisib": 1000.0},
        "alpelisib": {"alpelisib": 1000.0},
        "fulvestrant + buparlisib": {"fulvestrant": 100.0, "buparlisib": 1000.0},
        "fulvestrant + alpelisib": {"fulvestrant": 100.0, "alpelisib": 1000.0}}
CELLS = {"parental": None, "LTED": "LTED"}
WEEKS = 4
TITLE = "LTED cells: fulvestrant + a PI3K inhibitor beats either alone"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/pi3k_fulvestrant/{figure.png,results.csv}``."""
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
