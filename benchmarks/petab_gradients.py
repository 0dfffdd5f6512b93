"""Gradients of PEtab objectives against central finite differences.

For each problem (the Benchmark-Models-PEtab problems in ../shared/petab/benchmark and the
bundled model's example) and two points (the nominal parameters, and the nominal ones moved
by N(0, 0.1) on the estimation scale, seed 1): the forward-sensitivity gradient and central
differences at steps 1e-3 .. 1e-7 on the estimation scale, both at rtol 1e-12, atol 1e-14.
A component agrees when the best of those steps is within a relative error of 1e-3 (an
adaptive step, as pyPESTO's ``check_grad_multi_eps``). Prints the share of components that
agree and the worst ones.

    .venv/bin/python benchmarks/petab_gradients.py [--only Boehm,Fujita] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import simulator as sim

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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "petab-gradients.json")
    args = ap.parse_args(argv)
    yamls = sorted(args.problems.glob("*/*.yaml")) if args.problems.is_dir() else []
    if not yamls:
        print(f"note: no benchmark problems in {args.problems}; checking the example only",
              file=sys.stderr)
    yamls.append(sim.example_problem())
    if args.only:
        yamls = [y for y in yamls if y.parent.name.startswith(tuple(args.only.split(",")))]
    rows = []
    rng = np.random.default_rng(1)
    for y in yamls:
        problem = sim.load_petab(y, options=TIGHT)
        shift = rng.normal(0, 0.1, problem.x_nominal.size)
        for label, x in (("nominal", problem.x_nominal), ("moved", problem.x_nominal + shift)):
            try:
                row = {"problem": y.parent.name, "point": label, **check(problem, x)}
            except sim.SimulatorError as e:
                row = {"problem": y.parent.name, "point": label,
                       "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            rows.append(row)
            if "error" in row:
                print(f"{row['problem']:26s} {label:8s} {row['error']}", flush=True)
            else:
                print(f"{row['problem']:26s} {label:8s} {100 * row['agree']:5.1f}% of "
                      f"{row['n']} within 1e-3 (worst {row['worst_rel_error']:.1e}: "
                      f"{row['worst'][0][0]})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    ok = [r for r in rows if "agree" in r]
    print(f"\n{sum(r['agree'] >= 0.95 for r in ok)} of {len(rows)} problem points have >= 95% "
          "of components within 1e-3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
