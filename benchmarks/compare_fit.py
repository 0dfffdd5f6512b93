"""Compare a calibration's fitted parameters with a stored fit (both PEtab parameter
tables, e.g. ``parameters_fitted.tsv`` of ``crosstalk calibrate``): prints each estimated
parameter's two values and exits 1 if any differs by more than ``--rtol`` (relative).

    python benchmarks/compare_fit.py out/fit_bt474/parameters_fitted.tsv \\
        simulator/models/data/ccle_viability/fitted.tsv
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.bundled.fitted import fitted_values  # noqa: E402
from simulator.errors import InvalidValueError  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", type=Path, help="the new fit's parameter table")
    ap.add_argument("stored", type=Path, help="the stored fit's parameter table")
    ap.add_argument("--rtol", type=float, default=0.01)
    args = ap.parse_args(argv)
    for path in (args.new, args.stored):
        if not path.is_file():
            ap.error(f"{path}: no such file (a PEtab parameter table)")
    try:
        new, stored = fitted_values(args.new), fitted_values(args.stored)
    except InvalidValueError as err:
        ap.error(str(err))
    if not stored:
        ap.error(f"{args.stored}: no estimated parameter")
    if set(new) != set(stored):
        print(f"different parameters: {sorted(set(new) ^ set(stored))}")
        return 1
    worst = 0.0
    for pid in sorted(stored):
        scale = max(abs(stored[pid]), 1e-300)
        rel = abs(new[pid] - stored[pid]) / scale
        worst = max(worst, rel if math.isfinite(rel) else math.inf)
        print(f"{pid:28s} stored {stored[pid]:12.6g}  new {new[pid]:12.6g}  rel. diff {rel:.2e}")
    ok = worst <= args.rtol
    print(f"{'reproduced' if ok else 'NOT reproduced'}: largest relative difference "
          f"{worst:.2e} (tolerance {args.rtol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
