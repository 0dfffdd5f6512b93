"""Robustness of the 15 behaviours of the bundled model to kinetic-parameter uncertainty.

200 draws (seed 0): every parameter of kind ``kinetic`` or ``fraction`` in
simulator/models/parameters.csv is multiplied by a log-uniform factor in [1/1.5, 1.5] (fractions are
capped at 1); drugs, inputs, phenotype switches, Hill exponents and parameters at 0 (an
edge switched off) are kept. Prints, for
each behaviour, the share of draws in which it holds (a failed integration counts as a
failure), the share of each of its criteria, and for every behaviour under 80 % the
parameters that decide it: those whose factor differs most between the draws where it
holds and where it fails (rank-biserial correlation of the log factor with holding; a
positive value means raising the parameter helps).

    python benchmarks/robustness.py [--draws 200] [--seed 0] [--runner core|roadrunner]
                                    [--jobs 2] [--out out/robustness.csv] [--centre TABLE]

``--out`` keeps every draw (its factors and which behaviour and criterion held), so the
analysis can be redone without re-running. Reference simulator: libroadrunner; ``core``
runs the same checks on Crosstalk's compiled core (several times faster).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/ holds the reference runner

from simulator.bundled import MODEL_SBML, PARAMETERS_CSV  # noqa: E402
from simulator.bundled.behaviors import BEHAVIORS, PerturbedRunner  # noqa: E402
from simulator.bundled.runner import CoreRunner  # noqa: E402

TARGET = 0.8          # the share per behaviour


def kinds() -> dict:
    with open(PARAMETERS_CSV, newline="") as fh:
        return {r["id"]: r["kind"] for r in csv.DictReader(fh)}


def draws(base: dict, kinds: dict, n: int, seed: int, span: float = 1.5):
    """Yield ``n`` override dicts (log-uniform x/÷ ``span``); a parameter at 0 (an edge
    switched off) has no scale to perturb and is left out."""
    rng = np.random.default_rng(seed)
    ids = [p for p in base if kinds.get(p) in ("kinetic", "fraction") and base[p] != 0]
    for _ in range(n):
        f = np.exp(rng.uniform(-np.log(span), np.log(span), len(ids)))
        out = {}
        for pid, fac in zip(ids, f):
            v = base[pid] * fac
            out[pid] = min(v, 1.0) if kinds[pid] == "fraction" else v
        yield out


def _runner(name: str):
    if name == "core":
        return CoreRunner()
    from tests.roadrunner_runner import RoadRunnerRunner   # only when asked: optional dependency
    return RoadRunnerRunner(MODEL_SBML)


_BASE = {}


def _check_draw(job) -> dict:
    """Which behaviours and criteria hold for one draw: ``{behaviour: [bool per criterion]}``
    (an empty list when the check raised, e.g. a failed integration)."""
    runner_name, index, overrides = job
    if runner_name not in _BASE:
        _BASE[runner_name] = _runner(runner_name)
    base = _BASE[runner_name]
    if hasattr(base, "_cache"):
        base._cache = {}                      # libroadrunner's runner caches per parameter set
    pr = PerturbedRunner(base, overrides)
    out = {}
    for name, check in BEHAVIORS.items():
        try:
            out[name] = list(check(pr).criteria)
        except Exception:  # noqa: BLE001 - a failed integration is a failed draw
            out[name] = []
    return {"draw": index, "held": out}


def check_all(runner_name: str, parameter_sets: list, jobs: int) -> list[dict]:
    """``_check_draw`` of every parameter set, in order, on ``jobs`` processes."""
    jobs_in = [(runner_name, i, ov) for i, ov in enumerate(parameter_sets)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            return list(pool.map(_check_draw, jobs_in, chunksize=4))
    return [_check_draw(j) for j in jobs_in]


def held(result: dict) -> dict:
    """Behaviour -> whether all its criteria held in one ``_check_draw`` result (a check
    that raised did not)."""
    return {b: bool(c) and all(c) for b, c in result["held"].items()}


def run(runner_name: str, n: int, seed: int, jobs: int, centre: dict | None = None) -> pd.DataFrame:
    """One row per draw: ``f:<parameter>`` log factors, ``<behaviour>`` held (bool),
    ``<behaviour>#k`` criterion k held. ``centre`` (id -> value) moves the point the draws
    are taken around (benchmarks/centre_parameters.py)."""
    base = {**_runner(runner_name).parameters, **(centre or {})}
    sets = list(draws(base, kinds(), n, seed))
    results = check_all(runner_name, sets, jobs)
    rows = []
    for res, ov in zip(results, sets):
        row = {f"f:{p}": float(np.log(v / base[p])) for p, v in ov.items()}
        row.update(held(res))
        for name, crit in res["held"].items():
            for c, ok in enumerate(crit):
                row[f"{name}#{c + 1}"] = ok
        rows.append(row)
    return pd.DataFrame(rows)


def deciders(table: pd.DataFrame, behaviour: str, top: int = 4) -> list[tuple[str, float]]:
    """The parameters whose log factor best separates the draws where ``behaviour`` holds
    from those where it fails: ``(id, rank-biserial r)``, r > 0 when raising it helps."""
    held = table[behaviour].to_numpy(bool)
    if held.all() or not held.any():
        return []
    out = []
    for col in (c for c in table if c.startswith("f:")):
        x = table[col].to_numpy(float)
        if np.ptp(x) == 0:
            continue
        u = mannwhitneyu(x[held], x[~held]).statistic
        out.append((col[2:], 2 * u / (held.sum() * (~held).sum()) - 1))
    return sorted(out, key=lambda kv: -abs(kv[1]))[:top]


def report(table: pd.DataFrame) -> str:
    lines = [f"{'behaviour':30s} {'holds':>6s}  criteria (share each)   decided by (rank-biserial r)"]
    for name in BEHAVIORS:
        share = table[name].mean()
        crits = " ".join(f"{table[c].mean():.0%}" for c in table
                         if c.startswith(name + "#"))
        why = ""
        if share < TARGET:
            why = ", ".join(f"{p} {r:+.2f}" for p, r in deciders(table, name))
        lines.append(f"{name:30s} {share:6.1%}  {crits:22s}  {why}")
    mean = np.mean([table[name].mean() for name in BEHAVIORS])
    lines.append(f"{'all 15 behaviours (mean share)':30s} {mean:6.1%}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runner", choices=("roadrunner", "core"), default="roadrunner")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--out", type=Path, help="CSV of every draw (factors, what held)")
    ap.add_argument("--from-csv", type=Path, help="report on a saved --out table, no run")
    ap.add_argument("--centre", type=Path,
                    help="draw around these values (a table of benchmarks/centre_parameters.py)")
    args = ap.parse_args(argv)
    if args.draws < 1 or args.jobs < 1:
        ap.error("--draws and --jobs must be at least 1")
    if args.from_csv is not None:
        if not args.from_csv.is_file():
            ap.error(f"{args.from_csv}: no such file (a table written by --out)")
        print(report(pd.read_csv(args.from_csv)))
        return 0
    centre = None
    if args.centre is not None:
        if not args.centre.is_file():
            ap.error(f"{args.centre}: no such file (a table of benchmarks/centre_parameters.py)")
        moved = pd.read_csv(args.centre, sep="\t")
        centre = dict(zip(moved["parameterId"], moved["nominalValue"].astype(float)))
    t0 = time.perf_counter()
    table = run(args.runner, args.draws, args.seed, args.jobs, centre)
    dt = time.perf_counter() - t0
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(f"{args.draws} draws (x/÷1.5, seed {args.seed}), {args.runner}, {dt:.0f} s")
    print(report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
