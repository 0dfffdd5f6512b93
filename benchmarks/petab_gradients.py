"""Gradients of PEtab objectives against central finite differences.

For each problem (the Benchmark-Models-PEtab problems in ../shared/petab/benchmark and the
bundled model's example) and two points (the nominal parameters, and the nominal ones moved
by N(0, 0.1) on the estimation scale, seed 1): the forward-sensitivity gradient and central
differences at steps 1e-3 .. 1e-7 on the estimation scale, both at rtol 1e-12, atol 1e-14.
A component agrees when the best of those steps is within a relative error of 1e-3 (an
adaptive step, as pyPESTO's ``check_grad_multi_eps``). Prints the share of components that
agree and the worst ones.

Where AMICI is installed (``--amici-python`` or ``$CROSSTALK_AMICI_PYTHON``, as for
benchmarks/petab_speed.py), the gradient at the nominal point is also compared with AMICI's
forward-sensitivity gradient at the same tolerances, component by component (relative error
1e-3, priors left out as AMICI leaves them out). At an optimum many components are near
zero, below what differences of the objective can resolve; AMICI's gradient is then the
independent reference.

    .venv/bin/python benchmarks/petab_gradients.py [--only Boehm,Fujita] [--out FILE]
        [--amici-python PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

import simulator as sim
from petab_speed import amici

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROBLEMS = ROOT.parent / "shared" / "petab" / "benchmark"
STEPS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
TIGHT = sim.SolverOptions(rtol=1e-12, atol=1e-14)


def check(problem, x) -> dict:
    """Relative errors of the gradient at ``x`` against the best finite difference."""
    _, g = problem.nllh(x, gradient=True, strict=True)
    best = np.full(x.size, np.inf)
    fd_best = np.full(x.size, np.nan)
    for h in STEPS:
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = h
            fd = (problem.nllh(x + e) - problem.nllh(x - e)) / (2 * h)
            if not np.isfinite(fd):
                continue
            rel = abs(g[i] - fd) / max(abs(fd), 1e-12)
            if rel < best[i]:
                best[i], fd_best[i] = rel, fd
    worst = np.argsort(-best)[:3]
    return {"agree": float(np.mean(best < 1e-3)), "n": int(x.size),
            "worst_rel_error": float(best.max()),
            "worst": [(problem.parameter_ids[i], float(g[i]), float(fd_best[i])) for i in worst]}


def against_amici(problem, x, sllh: dict) -> dict:
    """Relative errors of our gradient (without priors) against AMICI's, ``-sllh``."""
    _, g = problem.nllh(x, gradient=True, strict=True, prior=False)
    ref = np.array([-sllh.get(i, np.nan) for i in problem.parameter_ids])
    rel = np.abs(g - ref) / np.maximum(np.abs(ref), 1e-12)
    worst = int(np.nanargmax(rel))
    return {"amici_agree": float(np.mean(rel < 1e-3)),
            "amici_worst": (problem.parameter_ids[worst], float(g[worst]), float(ref[worst]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "petab-gradients.json")
    ap.add_argument("--amici-python", default=os.environ.get("CROSSTALK_AMICI_PYTHON"))
    args = ap.parse_args(argv)
    yamls = sorted(args.problems.glob("*/*.yaml")) if args.problems.is_dir() else []
    if not yamls:
        print(f"note: no benchmark problems in {args.problems}; checking the example only",
              file=sys.stderr)
    example = sim.example_problem()  # its catalogue holds states AMICI would not hold
    yamls.append(example)
    if args.only:
        yamls = [y for y in yamls if y.parent.name.startswith(tuple(args.only.split(",")))]
    reference = amici(args.amici_python, [y for y in yamls if y != example],
                      "--gradient")
    rows = []
    rng = np.random.default_rng(1)
    for y in yamls:
        problem = sim.load_petab(y, options=TIGHT)
        shift = rng.normal(0, 0.1, problem.x_nominal.size)
        for label, x in (("nominal", problem.x_nominal), ("moved", problem.x_nominal + shift)):
            try:
                row = {"problem": y.parent.name, "point": label, **check(problem, x)}
                sllh = reference.get(y.stem, {}).get("sllh")
                if label == "nominal" and sllh:
                    row.update(against_amici(problem, x, sllh))
            except sim.SimulatorError as e:
                row = {"problem": y.parent.name, "point": label,
                       "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            rows.append(row)
            if "error" in row:
                print(f"{row['problem']:26s} {label:8s} {row['error']}", flush=True)
            else:
                print(f"{row['problem']:26s} {label:8s} {100 * row['agree']:5.1f}% of "
                      f"{row['n']} within 1e-3 (worst {row['worst_rel_error']:.1e}: "
                      f"{row['worst'][0][0]})"
                      + (f"; {100 * row['amici_agree']:5.1f}% within 1e-3 of AMICI's"
                         if "amici_agree" in row else ""), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    ok = [r for r in rows if "agree" in r]
    print(f"\n{sum(r['agree'] >= 0.95 for r in ok)} of {len(rows)} problem points have >= 95% "
          "of components within 1e-3")
    nominal = [r for r in ok if "amici_agree" in r]
    if nominal:
        print(f"{sum(r['amici_agree'] >= 0.95 for r in nominal)} of {len(nominal)} nominal "
              "points have >= 95% of components within 1e-3 of AMICI's gradient")
    return 0


if __name__ == "__main__":
    sys.exit(main())
