"""Robustness of the 15 behaviours of the bundled model to kinetic-parameter uncertainty.

200 draws (seed 0): every parameter of kind ``kinetic`` or ``fraction`` in
simulator/models/parameters.csv is multiplied by a log-uniform factor in [1/1.5, 1.5] (fractions are
capped at 1); drugs, inputs, phenotype switches and Hill exponents are kept. Prints, for
each behaviour, the share of draws in which it holds (a failed integration counts as a
failure). Reference simulator: libroadrunner.

    python benchmarks/robustness.py [--draws 200] [--seed 0]
"""
from __future__ import annotations

import argparse
import csv
import time

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/ holds the reference runner

from simulator.bundled import MODEL_SBML, PARAMETERS_CSV  # noqa: E402
from simulator.bundled.behaviors import BEHAVIORS, PerturbedRunner  # noqa: E402
from tests.roadrunner_runner import RoadRunnerRunner  # noqa: E402


def draws(base: dict, kinds: dict, n: int, seed: int, span: float = 1.5):
    """Yield ``n`` override dicts (log-uniform x/÷ ``span``)."""
    rng = np.random.default_rng(seed)
    ids = [p for p in base if kinds.get(p) in ("kinetic", "fraction")]
    for _ in range(n):
        f = np.exp(rng.uniform(-np.log(span), np.log(span), len(ids)))
        out = {}
        for pid, fac in zip(ids, f):
            v = base[pid] * fac
            out[pid] = min(v, 1.0) if kinds[pid] == "fraction" else v
        yield out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with open(PARAMETERS_CSV, newline="") as fh:
        kinds = {r["id"]: r["kind"] for r in csv.DictReader(fh)}
    runner = RoadRunnerRunner(MODEL_SBML)
    held = {name: 0 for name in BEHAVIORS}
    t0 = time.perf_counter()
    for overrides in draws(runner.parameters, kinds, args.draws, args.seed):
        base = RoadRunnerRunner.__new__(RoadRunnerRunner)  # share the compiled models
        base.__dict__.update(runner.__dict__)
        base._cache = {}
        pr = PerturbedRunner(base, overrides)
        for name, check in BEHAVIORS.items():
            try:
                held[name] += bool(check(pr).passed)
            except Exception:  # noqa: BLE001 - a failed integration is a failed draw
                pass
    dt = time.perf_counter() - t0
    print(f"{'behaviour':32s} share of {args.draws} draws (x/÷1.5, seed {args.seed})")
    for name, k in held.items():
        print(f"{name:32s} {k / args.draws:6.1%}")
    print(f"{'all 15 behaviours (mean share)':32s} {np.mean(list(held.values())) / args.draws:6.1%}")
    print(f"wall time {dt:.0f} s")


if __name__ == "__main__":
    main()
