"""An aromatase inhibitor + a CDK4/6 inhibitor, and two routes around the combination.

Cyclin D1 is where ER and growth-factor signalling meet the cell cycle: ER and ERK (AP-1)
transcribe it, mTORC1 translates it, and cyclin D1-CDK4/6 phosphorylates Rb to release E2F.
An aromatase inhibitor lowers cyclin D1; a CDK4/6 inhibitor blocks what is left, so
together they arrest cells more than either (PALOMA-2: letrozole + palbociclib, Finn 2016,
N Engl J Med 375:1925; MONALEESA-2: letrozole + ribociclib, Hortobagyi 2016, N Engl J Med
375:1738). Cells without Rb (RB1_loss) have nothing for CDK4/6 to release, and cells with
amplified CCNE1 (CCNE1_high) phosphorylate Rb through cyclin E-CDK2 instead: both escape
the combination (Herrera-Abreu 2016, Cancer Res 76:2301).

The study: growth inhibition after 72 h by letrozole (100 nM), palbociclib (100 nM),
abemaciclib (100 nM) and letrozole with each, in parental, RB1_loss and CCNE1_high cells;
4 weeks of tumour burden in parental cells.

    python experiments/cdk46_endocrine.py [--quick] [--out out/experiments]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import simulator as sim

NAME = "cdk46_endocrine"
ARMS = {"letrozole": {"letrozole": 100.0},
        "palbociclib": {"palbociclib": 100.0},
        "abemaciclib": {"abemaciclib": 100.0},
        "letrozole + palbociclib": {"letrozole": 100.0, "palbociclib": 100.0},
        "letrozole + abemaciclib": {"letrozole": 100.0, "abemaciclib": 100.0}}
CELLS = {"parental": None, "RB1_loss": "RB1_loss", "CCNE1_high": "CCNE1_high"}
WEEKS = 4
TITLE = "Letrozole + a CDK4/6 inhibitor; RB1 loss and CCNE1 gain escape it"


def main(out_dir="out/experiments", quick=False):
    """Run the study; write ``<out_dir>/cdk46_endocrine/{figure.png,results.csv}``."""
    study = sim.compare_arms(sim.load_model(), ARMS, cells=CELLS, readout="growth_rate",
                             course="tumor_burden", weeks=WEEKS,
                             points=15 if quick else 57)
    return study.save(Path(out_dir) / NAME, course_cell="parental", title=TITLE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="coarser time grid")
    parser.add_argument("--out", default="out/experiments", help="output folder")
    args = parser.parse_args()
    print(main(args.out, quick=args.quick)["figure"])
