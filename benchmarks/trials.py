"""Virtual trials against the published ones, timing and memory (make bench-trials).

For every trial in simulator/models/trials/: the simulated median PFS per arm (control
fitted, experimental predicted), the HR with its 95% CI and log-rank p next to the published
numbers; the issue's targets (control within +-25%, direction of the HR's CI, HR inside the
published CI, the contrasts); a forest plot. Then the timing and peak memory of a two-arm
trial of 1,000 patients per arm over 24 months.

    python benchmarks/trials.py [--patients N] [--draws K] [--out DIR] [--only a,b]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import pandas as pd

import simulator as sim
from simulator.experiments.virtual_trials import ORDER, TRIALS, forest, row
from simulator.trials import survival

ROOT = TRIALS


def subgroup_hr(res, mask):
    d = res.patients[mask]
    return survival.hazard_ratio(d["pfs_months"], d["event"],
                                 (d["arm"] == "experimental").astype(int))


def forest_figure(table, path):
    """The forest plot of the atlas' virtual-trials section, for this table."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(table) + 1.2))
    forest(table.assign(refused=""), ax)
    ax.set_title("Virtual trials: simulated vs published hazard ratios", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0,
                    help="seeds the draws and the patients (another seed: the draw noise)")
    ap.add_argument("--out", default="out/bench-trials")
    ap.add_argument("--only", default="")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--scale-only", default="",
                    help="only the timing: patients per arm, comma-separated (e.g. 1000,10000); "
                         "each in its own process for a clean peak memory")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.scale_only:
        return scale(args)
    model = sim.load_model()
    # the twelve in their order, then any other trial file in the library
    others = sorted(f.stem for f in Path(str(TRIALS)).glob("*.toml") if f.stem not in ORDER)
    names = [n for n in ORDER + others if not args.only or n in args.only.split(",")]
    rows, contrasts = [], {}
    results = {}
    refused = {}
    for n in names:
        t0 = time.perf_counter()
        try:
            res = sim.virtual_trial(model, ROOT / f"{n}.toml", patients=args.patients,
                                    seed=args.seed, draws=args.draws, progress=False,
                                    store=out / "store" / n)
        except (sim.PerturbationError, sim.TrialError) as err:   # e.g. no cited unbound fraction
            refused[n] = str(err)
            print(f"{n:18s} refused: {err}", flush=True)
            continue
        results[n] = res
        r = row(n, res)
        rows.append(r)
        fig = res.plot()
        fig.savefig(out / f"km_{n}.png", dpi=100)
        import matplotlib.pyplot as plt
        plt.close(fig)
        res.patients.to_csv(out / f"patients_{n}.csv", index=False)
        print(f"{n:18s} control {r['control_sim']:.1f} (pub {r['control_pub']:.1f})  "
              f"exp {r['exp_sim']:.1f} (pub {r['exp_pub']:.1f})  HR {r['hr_sim']:.2f} "
              f"({r['hr_lo']:.2f}-{r['hr_hi']:.2f}) pub {r['hr_pub']:.2f}  "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(out / "table.csv", index=False)
    table = pd.DataFrame(rows)
    if "tamrad" in results:
        p = results["tamrad"].patients
        # TAMRAD's subgroups: progression within 6 months of the AI (primary) or later
        contrasts["tamrad_secondary_hr"] = subgroup_hr(results["tamrad"],
                                                       p["prior_resistance"] == "secondary")[0]
        contrasts["tamrad_primary_hr"] = subgroup_hr(results["tamrad"],
                                                     p["prior_resistance"] == "primary")[0]
        contrasts["tamrad_primary_share"] = float((p["prior_resistance"] == "primary").mean())
    if "s0226" in results:
        p = results["s0226"].patients
        contrasts["s0226_tamoxifen_naive_hr"] = subgroup_hr(results["s0226"], p["prior"] == "none")[0]
        contrasts["s0226_prior_tamoxifen_hr"] = subgroup_hr(results["s0226"], p["prior"] == "tamoxifen")[0]
    hr = dict(zip(table["trial"], table["hr_sim"]))
    checks = {}
    if {"egf30008_her2pos", "egf30008_her2neg"} <= set(hr):
        checks["EGF30008: HER2+ benefit larger than HER2-"] = hr["egf30008_her2pos"] < hr["egf30008_her2neg"]
    if {"solar1_mutant", "solar1_wildtype"} <= set(hr):
        checks["SOLAR-1: mutant benefit larger than wild-type"] = hr["solar1_mutant"] < hr["solar1_wildtype"]
    if "tamrad_secondary_hr" in contrasts:
        checks["TAMRAD: secondary resistance gains more than primary"] = \
            contrasts["tamrad_secondary_hr"] < contrasts["tamrad_primary_hr"]
    if {"bolero2", "horizon"} <= set(hr):
        b = table.set_index("trial")
        checks["BOLERO-2 helps, HORIZON does not"] = bool(b.loc["bolero2", "hr_hi"] < 1 and
                                                         0.8 <= b.loc["horizon", "hr_sim"] <= 1.25)
    summary = {
        "patients_per_arm": args.patients, "draws": args.draws,
        "control_within_25pct": int(table["control_within_25pct"].sum()),
        "hr_in_published_ci": int(table["hr_in_pub_ci"].sum()),
        "direction_ok": int(table["direction_ok"].sum()), "n_trials": len(table),
        "contrasts": {k: bool(v) for k, v in checks.items()},
        "subgroup_hrs": contrasts,
        "refused": refused,
    }
    if len(table) > 1:
        forest_figure(table, out / "forest.png")
    if not args.skip_scale:
        tr = sim.Trial.from_toml(ROOT / "bolero2.toml")
        t0 = time.perf_counter()
        res = sim.virtual_trial(model, tr, patients=1000, seed=1, draws=args.draws,
                                progress=False)
        summary["scale"] = {"trial": "BOLERO-2 (24 months)", "patients_per_arm": 1000,
                            "seconds": time.perf_counter() - t0,
                            "stages": res.provenance["stages"],
                            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.round(2).to_string(index=False))
    print(json.dumps(summary, indent=2, default=float))
    return 0


SCALE = '''
import json, resource, sys, time
import simulator as sim
t0 = time.perf_counter()
res = sim.virtual_trial(sim.load_model(), sys.argv[1], patients=int(sys.argv[2]), seed=1,
                        draws=int(sys.argv[3]), progress=False, executor=sys.argv[4] or None)
print(json.dumps({"patients_per_arm": int(sys.argv[2]), "seconds": time.perf_counter() - t0,
                  "stages": res.provenance["stages"], "n_cell_states": res.provenance["n_cell_states"],
                  "hazard_ratio": res.hazard_ratio,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def scale(args):
    import subprocess
    out = []
    for n in args.scale_only.split(","):
        for executor in ("", "processes"):
            r = subprocess.run([sys.executable, "-c", SCALE, str(ROOT / "bolero2.toml"), n,
                                str(args.draws), executor], capture_output=True, text=True)
            if r.returncode:
                print(r.stderr[-2000:])
                continue
            rec = json.loads(r.stdout.strip().splitlines()[-1])
            rec["executor"] = executor or "this process"
            out.append(rec)
            print(json.dumps(rec), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "scale.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
