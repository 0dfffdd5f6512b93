"""How the virtual trials depend on the lesion mapping's threshold θ (docs/trials.md).

1. NEWEST (benchmarks/data/newest.toml): untreated tumours on fulvestrant 500 or 250 mg for
   16 weeks; the share of lesions that respond (≥ 30% smaller sum of diameters) for each θ
   and median untreated doubling time, against the published 22.9% and 20.6%. Also the
   model's proliferation at week 4 against NEWEST's Ki67 fall.
2. Every bundled trial's hazard ratio for each θ (ψ = 0), each trial's cell states
   simulated once and reused through its checkpoint store.

    python benchmarks/trials_mapping.py [--thresholds 0,0.1,0.2] [--patients 200]
        [--draws 4] [--only bolero2,s0226] [--out out/bench-trials-mapping]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import simulator as sim
from simulator.experiments.virtual_trials import ORDER, TRIALS

NEWEST = Path(__file__).resolve().parent / "data" / "newest.toml"
DAY = 24.0
KI67_FALL_WEEK4 = {"experimental": 0.788, "control": 0.474}   # NEWEST, automated imaging


def thresholds(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated numbers in [0, 1), got {text!r}")
    if not out or any(not 0.0 <= x < 1.0 for x in out):
        raise argparse.ArgumentTypeError(f"thresholds must be in [0, 1), got {text!r}")
    return out


def proliferation_fall(model, trial) -> dict:
    """1 − P(week 4) / P(0) of the parental cell on each arm's regimen."""
    out = {}
    for name, arm in trial.arms.items():
        p = sim.run_treatment(model, arm.treatment, [0.0, 28 * DAY])["proliferation"]
        out[name] = 1.0 - p[-1] / p[0]
    return out


def newest(model, ths, args, out: Path) -> None:
    trial = sim.Trial.from_toml(NEWEST, catalog=model.catalog)
    fall = proliferation_fall(model, trial)
    print("NEWEST, proliferation fall at week 4 (model vs Ki67): " + ", ".join(
        f"{trial.arms[a].label}: {fall[a]:.0%} vs {KI67_FALL_WEEK4[a]:.0%}" for a in fall))
    print(f"NEWEST, response at week 16 (published {trial.published.orr['experimental']:.1%} "
          f"at 500 mg, {trial.published.orr['control']:.1%} at 250 mg):")
    for td in (120.0, 164.0):
        t = dataclasses.replace(trial, population=dataclasses.replace(trial.population,
                                                                      doubling_days=td))
        for th in ths:
            res = sim.virtual_trial(model, t, patients=args.patients, seed=0, draws=args.draws,
                                    calibrate=False, progress=False, store=out / "store-newest",
                                    mapping=sim.LesionMapping(th))
            orr = res.patients.groupby("arm")["best_response"].apply(
                lambda b: b.isin(["CR", "PR"]).mean())
            print(f"  T_d {td:.0f} d, θ {th:g}: 500 mg {orr['experimental']:.1%}, "
                  f"250 mg {orr['control']:.1%}", flush=True)


def trials(model, ths, args, out: Path) -> None:
    names = [n for n in ORDER if n != "belle2" and (not args.only or n in args.only)]
    print(f"hazard ratio per θ ({args.patients} per arm, {args.draws} draws, seed 0):")
    for n in names:
        line = []
        for th in ths:
            try:
                res = sim.virtual_trial(model, TRIALS / f"{n}.toml", patients=args.patients,
                                        seed=0, draws=args.draws, progress=False,
                                        store=out / "store" / n, mapping=sim.LesionMapping(th))
            except sim.TrialError as err:      # e.g. too few progressed on the prior therapy
                line.append(f"θ {th:g}: refused ({str(err)[:60]}...)")
                continue
            hr, lo, hi, _ = res.hazard_ratio
            line.append(f"θ {th:g}: {hr:.2f} ({lo:.2f}-{hi:.2f})")
        pub = sim.Trial.from_toml(TRIALS / f"{n}.toml",
                                  catalog=model.catalog).published.hazard_ratio
        print(f"  {n:18s} published {pub[0]:.2f} ({pub[1]:.2f}-{pub[2]:.2f}) | "
              + " | ".join(line), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--thresholds", type=thresholds,
                    default=[0.0, 0.1, 0.2, 0.5, 0.7, 0.8, 0.9])
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="trials (comma-separated), or 'newest' for NEWEST only")
    ap.add_argument("--out", default="out/bench-trials-mapping")
    args = ap.parse_args(argv)
    if args.patients < 1 or args.draws < 1:
        ap.error("--patients and --draws must be at least 1")
    out = Path(args.out)
    model = sim.load_model()
    if not args.only or "newest" in args.only:
        newest(model, args.thresholds, args, out)
    if not args.only or set(args.only) - {"newest"}:
        trials(model, args.thresholds, args, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
