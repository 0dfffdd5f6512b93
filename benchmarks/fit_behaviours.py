"""Which of the bundled model's 15 behaviours hold at a calibration's fitted values.

Reads the ``parameters_fitted.tsv`` of ``crosstalk calibrate`` (a PEtab parameter table),
sets every estimated model parameter to its fitted value and runs the behaviour checks on
Crosstalk's core. Prints the parameters that moved most and, per behaviour, whether it
holds and the criteria that fail. Before fitted values go into the model
(``python -m simulator.bundled.fitted``), every behaviour should hold here.

    python benchmarks/fit_behaviours.py FIT_DIR/parameters_fitted.tsv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.bundled.behaviors import BEHAVIORS, PerturbedRunner  # noqa: E402
from simulator.bundled.fitted import fitted_values  # noqa: E402
from simulator.bundled.runner import CoreRunner  # noqa: E402
from simulator.errors import InvalidValueError  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fit", type=Path, help="parameters_fitted.tsv")
    ap.add_argument("--top", type=int, default=15, help="how many moved parameters to list")
    args = ap.parse_args(argv)
    if not args.fit.is_file():
        ap.error(f"{args.fit}: no such file (the parameters_fitted.tsv of a calibration)")
    base = CoreRunner()
    nominal = base.parameters
    try:
        values = fitted_values(args.fit, set(nominal))
    except InvalidValueError as err:
        ap.error(str(err))
    moved = sorted(values, key=lambda k: -abs(np.log10(values[k] / nominal[k]))
                   if values[k] > 0 and nominal[k] > 0 else 0.0)
    print(f"{len(values)} model parameters fitted; the {args.top} that moved most:")
    for pid in moved[:args.top]:
        print(f"  {pid:24s} {nominal[pid]:10.4g} -> {values[pid]:10.4g}")
    runner = PerturbedRunner(base, values)
    held = 0
    for name, check in BEHAVIORS.items():
        try:
            result = check(runner)
        except Exception as err:   # noqa: BLE001 - a failed run is a failed behaviour
            print(f"{name:28s} ERROR {type(err).__name__}: {str(err)[:160]}")
            continue
        held += result.passed
        failed = [c for c in result.detail.split("; ") if c.startswith("[FAIL]")]
        print(f"{name:28s} {'holds' if result.passed else 'FAILS'}  {'; '.join(failed)}")
    print(f"{held} of {len(BEHAVIORS)} behaviours hold at the fitted values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
