"""Do the 15 behaviours hold across the calibrated ensemble, not only at the best fit?

The model's one calibrated part is the ``HER2_amplified`` phenotype's ER and IRS-1
expression, fitted to BT-474's CCLE viability (``ccle_viability``, stored fit
``fitted.tsv``; docs/model.md). This samples that problem's posterior with pyPESTO's
adaptive Metropolis from the stored fit (``sim.sample``), takes ``--members`` samples
evenly spaced along the chain after the burn-in, gives each its own ``HER2_amplified``
(ER synthesis and IRS-1 expression as sampled, HER2 as in the catalogue) and runs every
behaviour check on Crosstalk's core. Prints the chain's diagnostics, the members' range of
the two values and, per behaviour, the share of members in which it holds. Only b02, b08
and b13 use the amplified cell; the other twelve are run as a control (they must not
move). Then the prediction band of the amplified cell's 72-h lapatinib viability over the
members (``sim.dose_response(..., params=<ensemble>)``), against BT-474's measured curve.

    python benchmarks/ensemble_behaviours.py [--samples 2000] [--members 50] [--seed 0]
                                             [--jobs 2] [--out out/ensemble_behaviours.csv]
                                             [--members-from CSV] [--figure PNG]

``--members-from`` takes the members of an earlier ``--out`` table instead of sampling.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simulator as sim  # noqa: E402
from simulator.bundled.behaviors import (BEHAVIORS, PerturbedRunner, absolute_ic50,  # noqa: E402
                                         catalog)
from simulator.bundled.runner import CoreRunner  # noqa: E402

PROBLEM = "ccle_viability"
PHENOTYPE = "HER2_amplified"
# the BT-474 condition whose row carries the fitted expression levels into the model
CONDITION = "BT474_lapatinib_25nM"
SAMPLED = ("ER_synthesis", "IRS1_expression")
TARGET = 0.8
LAPATINIB_NM = (2.5, 8.0, 25.0, 80.0, 250.0, 800.0, 2530.0, 8000.0)   # the CCLE doses

_RUNNER = {}


def problem_at_fit(folder: Path):
    """The bundled ``ccle_viability`` problem with the stored fit as its nominal point
    (a copy of its YAML in ``folder`` naming the fit as the parameter table; petab reads
    its paths relative to the YAML)."""
    source = Path(str(resources.files("simulator") / "models" / "data" / PROBLEM))

    def there(path: Path) -> str:
        return os.path.relpath(path, folder)

    text = (source / f"{PROBLEM}.yaml").read_text()
    text = text.replace("- ../../", f"- {there(source.parents[1])}/")
    text = text.replace("parameter_file: parameters.tsv",
                        f"parameter_file: {there(source / 'fitted.tsv')}")
    for name in ("conditions.tsv", "measurements.tsv", "observables.tsv"):
        text = text.replace(f"- {name}", f"- {there(source / name)}")
    yaml = folder / f"{PROBLEM}.yaml"
    yaml.write_text(text)
    return sim.load_petab(yaml)


def member_catalogue(values: dict):
    """The bundled catalogue with ``HER2_amplified``'s ER synthesis and IRS-1 expression
    set to ``values`` (its other overrides kept)."""
    cat = catalog()
    pheno = cat.phenotypes[PHENOTYPE]
    kept = tuple(o for o in pheno.overrides if o[0] not in SAMPLED)
    overrides = kept + tuple((pid, "set", float(values[pid])) for pid in SAMPLED)
    phenotypes = {**cat.phenotypes, PHENOTYPE: dataclasses.replace(pheno, overrides=overrides)}
    return dataclasses.replace(cat, phenotypes=phenotypes)


def _check_member(job) -> dict:
    """Which behaviours hold for one member (a check that raised counts as failing)."""
    index, values = job
    if "core" not in _RUNNER:
        _RUNNER["core"] = CoreRunner()
    runner = PerturbedRunner(_RUNNER["core"], {}, phenotypes=member_catalogue(values))
    row = {"member": index, **{pid: values[pid] for pid in SAMPLED}}
    for name, check in BEHAVIORS.items():
        try:
            row[name] = bool(check(runner).passed)
        except Exception:  # noqa: BLE001 - a failed integration is a failed member
            row[name] = False
    return row


def sampled_members(args) -> pd.DataFrame:
    """``--members`` samples of the BT-474 fit's posterior (the two sampled values)."""
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        problem = problem_at_fit(Path(tmp))
        fit = sim.calibrate(problem, n_starts=1, seed=args.seed, from_nominal=True,
                            progress=False)
        post = sim.sample(fit, n_samples=args.samples, seed=args.seed)
        print(f"chain: {args.samples} steps, burn-in {post.burn_in}, acceptance "
              f"{post.acceptance:.2f}, effective sample size {post.effective_sample_size:.0f}, "
              f"converged {post.converged} ({time.time() - started:.0f} s); best fit nllh "
              f"{fit.best_nllh:.3f}")
        if not post.converged:
            raise SystemExit("the chain did not converge (Geweke); sample longer (--samples)")
        return post.ensemble(args.members, condition=CONDITION)[list(SAMPLED)]


def lapatinib_band(values: pd.DataFrame, figure: Path | None):
    """The amplified cell's 72-h viability under lapatinib over the members (HER2 as in the
    phenotype, ER and IRS-1 as sampled), printed against BT-474's measured values."""
    model = sim.load_model()
    her2 = dict(o[::2] for o in catalog().phenotypes[PHENOTYPE].overrides)["HER2_synthesis"]
    members = values.assign(HER2_synthesis=her2)
    band = sim.dose_response(model, "lapatinib", LAPATINIB_NM, readout="tumor_burden",
                             at_time=72.0, params=members, normalize="percent_of_control")
    measured = pd.read_csv(resources.files("simulator") / "models" / "data" / PROBLEM /
                           "measurements.tsv", sep="\t")
    measured = {float(c.split("_")[-1][:-2].replace("p", ".")): v for c, v in
                zip(measured["simulationConditionId"], measured["measurement"])
                if c.startswith("BT474_lapatinib_")}
    q = band.band() / 100.0
    q["BT-474 measured"] = [measured.get(d, float("nan")) for d in q.index]
    print("\n72-h viability under lapatinib (nM), members' 2.5 / 50 / 97.5 %:")
    print(q.to_string(float_format="%.2f"))
    # where each member's viability crosses 50 % (the measured curve: between 80 and 250
    # nM); the Hill fit's IC50 is the midpoint between its top and its bottom instead
    gi50 = pd.Series([absolute_ic50(m.doses[1:], 1.0 - m.response[1:] / 100.0)
                      for m in band.members if m is not None])
    q50 = gi50.quantile([0.025, 0.5, 0.975])
    print(f"dose where viability crosses 50 %, over {len(gi50)} members: median "
          f"{q50[0.5]:.3g} nM, central 95 % {q50[0.025]:.3g}-{q50[0.975]:.3g} nM "
          f"(BT-474: between 80 and 250 nM)")
    if figure is not None:
        ax = band.plot(label="HER2_amplified, median")
        ax.plot(list(measured), [100 * v for v in measured.values()], "ks", ms=5,
                label="BT-474 (CCLE)")
        ax.set_ylabel("72-h viability (% of untreated)")
        ax.legend(fontsize="small", frameon=False)
        figure.parent.mkdir(parents=True, exist_ok=True)
        ax.figure.savefig(figure, dpi=110, bbox_inches="tight")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2000, help="chain length (default 2000)")
    ap.add_argument("--members", type=int, default=50, help="ensemble size (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="processes for the checks")
    ap.add_argument("--out", type=Path, help="CSV: one row per member")
    ap.add_argument("--members-from", type=Path,
                    help="the members of an earlier --out table, instead of sampling")
    ap.add_argument("--figure", type=Path, help="PNG of the lapatinib band")
    args = ap.parse_args(argv)
    if args.samples < 100 or args.members < 1 or args.jobs < 1:
        ap.error("--samples must be at least 100, --members and --jobs at least 1")
    started = time.time()
    if args.members_from is not None:
        if not args.members_from.is_file():
            ap.error(f"{args.members_from}: no such file (an --out table of this script)")
        values = pd.read_csv(args.members_from)
        missing = [c for c in SAMPLED if c not in values]
        if missing:
            ap.error(f"{args.members_from}: no column {', '.join(missing)}")
        values = values[list(SAMPLED)]
    else:
        values = sampled_members(args)
    print(f"{len(values)} members:")
    print(values.describe(percentiles=[0.025, 0.5, 0.975]).T[
        ["min", "2.5%", "50%", "97.5%", "max"]].to_string(float_format="%.3g"))
    jobs = [(i, row.to_dict()) for i, row in values.reset_index(drop=True).iterrows()]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(_check_member, jobs))
    else:
        rows = [_check_member(j) for j in jobs]
    table = pd.DataFrame(rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(f"\n{'behaviour':28s} share of members where it holds")
    for name in BEHAVIORS:
        share = table[name].mean()
        flag = "" if share >= TARGET else "  < 80 %"
        print(f"{name:28s} {100 * share:5.1f} %{flag}")
    lapatinib_band(values.reset_index(drop=True), args.figure)
    print(f"({time.time() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
