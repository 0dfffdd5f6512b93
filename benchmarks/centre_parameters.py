"""Design centring: move the bundled model's assumed parameter values toward the middle of
the region where its 15 behaviours hold, so that they survive parameter uncertainty
(issue 11, part 4).

Each round draws parameter sets around the current centre exactly as
benchmarks/robustness.py does (every kinetic and fraction parameter ×/÷1.5, log-uniform) and
runs the behaviour checks on Crosstalk's core. For every behaviour holding in fewer than
``--target`` of the draws, each movable parameter's mean log factor is compared between the
draws where the behaviour holds and those where it fails; the differences are summed over
the fragile behaviours, weighted by how far each is below the target. A parameter moves when
that evidence is beyond ``--zmin`` standard errors, in proportion to it (``--step`` in log
at twice ``--zmin`` and beyond), and ×/÷3 in all. This is sampling-based design centring (cf. Hafner et al. 2009, PLoS
Comput Biol 5:e1000534; Zamora-Sillero et al. 2011, BMC Syst Biol 5:142).

Movable: kinetic and fraction parameters whose source says the value is assumed or was
hand-calibrated (and is not a literature value awaiting confirmation). Literature values and
drug potencies stay where their sources put them.

Writes a PEtab-style parameter table of the moved values (``parameterId``,
``nominalValue``, ``estimate``); ``python -m simulator.bundled.fitted TABLE --centred-by
benchmarks/centre_parameters.py`` writes them into the model with that source.

    python benchmarks/centre_parameters.py [--rounds 8] [--draws 400] [--jobs 2]
                                           [--start TABLE] [--out out/centred.tsv]
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.robustness import check_all, draws, held, kinds  # noqa: E402
from simulator.bundled import PARAMETERS_CSV  # noqa: E402
from simulator.bundled.behaviors import BEHAVIORS  # noqa: E402
from simulator.bundled.runner import CoreRunner  # noqa: E402

LIMIT = np.log(3.0)      # no assumed value moves more than ×/÷3 from its source's


# values set from a measurement, derived from one, or fitted: never moved, whatever their
# history (the source's text before its first "; prior before:") says
KEPT = ("set from", "scaled with", "fitted to")


def movable() -> list[str]:
    """Kinetic and fraction parameters whose value is assumed or hand-calibrated (and not
    0: an edge switched off has no scale to move)."""
    with open(PARAMETERS_CSV, newline="") as fh:
        return [r["id"] for r in csv.DictReader(fh)
                if r["kind"] in ("kinetic", "fraction")
                and re.search(r"assumed|calibrated", r["source"], re.I)
                and "not confirmed" not in r["source"]
                and not r["source"].startswith(KEPT)
                and float(r["value"]) != 0]


def step(X: np.ndarray, H: pd.DataFrame, target: float, zmin: float, cap: float):
    """Log moves of the parameters (columns of ``X``, the draws' log factors) from the
    behaviours held in each draw (``H``): ``(moves, z, shares)``."""
    shares = H.mean()
    zsum, wsum = np.zeros(X.shape[1]), 0.0
    for b in H:
        weight = max(0.0, target - shares[b])
        h = H[b].to_numpy(bool)
        if weight == 0 or h.all() or not h.any():
            continue
        d = X[h].mean(0) - X[~h].mean(0)
        se = X.std(0) * np.sqrt(1 / h.sum() + 1 / (~h).sum())
        zsum += weight * d / np.where(se > 0, se, np.inf)
        wsum += weight * weight
    if wsum == 0:
        return np.zeros(X.shape[1]), np.zeros(X.shape[1]), shares
    z = zsum / np.sqrt(wsum)
    moves = np.where(np.abs(z) > zmin, cap * np.clip(z / (2 * zmin), -1.0, 1.0), 0.0)
    return moves, z, shares


def centre_round(centre_log: dict, ids: list, nominal: dict, kind: dict, n: int, seed: int,
                 jobs: int):
    """One round's draws around ``centre_log`` (id -> log offset from the nominal value):
    ``(behaviours holding at the centre, X, H)``."""
    base = dict(nominal)
    for p, off in centre_log.items():
        base[p] = nominal[p] * np.exp(off)
        if kind[p] == "fraction":
            base[p] = min(base[p], 1.0)
    sets = list(draws(base, kind, n, seed))
    results = check_all("core", [{p: base[p] for p in centre_log}, *sets], jobs)
    X = np.array([[np.log(ov[p] / base[p]) for p in ids] for ov in sets])
    H = pd.DataFrame([held(r) for r in results[1:]])
    return held(results[0]), X, H


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--target", type=float, default=0.9, help="share sought per behaviour")
    ap.add_argument("--zmin", type=float, default=2.5)
    ap.add_argument("--step", type=float, default=0.2, help="largest log move per round")
    ap.add_argument("--start", type=Path, help="a table written before, to go on from")
    ap.add_argument("--out", type=Path, default=Path("out/centred.tsv"))
    args = ap.parse_args(argv)
    if min(args.rounds, args.draws, args.jobs) < 1:
        ap.error("--rounds, --draws and --jobs must be at least 1")
    nominal, kind, ids = CoreRunner().parameters, kinds(), movable()
    centre = {}
    if args.start is not None:
        if not args.start.is_file():
            ap.error(f"{args.start}: no such file (a table this tool wrote)")
        table = pd.read_csv(args.start, sep="\t")
        centre = {p: float(np.log(v / nominal[p])) for p, v in
                  zip(table["parameterId"], table["nominalValue"]) if p in nominal}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for r in range(args.rounds):
        t0 = time.perf_counter()
        at, X, H = centre_round(centre, ids, nominal, kind, args.draws,
                                args.seed + r, args.jobs)
        moves, z, shares = step(X, H, args.target, args.zmin, args.step)
        failing = [b for b, ok in at.items() if not ok]
        print(f"round {r}: mean share {shares.mean():.1%}, holding at the centre "
              f"{len(at) - len(failing)}/{len(at)} {failing or ''} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        print("  " + " ".join(f"{b[:3]} {shares[b]:.0%}" for b in BEHAVIORS), flush=True)
        moved = sorted(np.flatnonzero(moves), key=lambda j: -abs(z[j]))
        print("  moves: " + (", ".join(f"{ids[j]} {moves[j]:+.2f} (z {z[j]:+.1f})"
                                       for j in moved) or "none"), flush=True)
        for j in moved:
            centre[ids[j]] = float(np.clip(centre.get(ids[j], 0.0) + moves[j], -LIMIT, LIMIT))
        pd.DataFrame({"parameterId": list(centre),
                      "nominalValue": [nominal[p] * np.exp(v) for p, v in centre.items()],
                      "estimate": 1}).to_csv(args.out, sep="\t", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
