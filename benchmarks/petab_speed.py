"""PEtab objective and gradient, timed against AMICI in the same run.

For each Benchmark-Models-PEtab problem (../shared/petab/benchmark, or --problems DIR), in a
fresh process with an empty code cache: load + compile (``load_petab`` and the first
``nllh``), the first gradient (it compiles the model with its sensitivities), then ``nllh``
and ``nllh`` with gradient, each the minimum of --repeats calls, at rtol = atol = 1e-8 (the
setting AMICI's figures are taken at). The log-likelihood is checked against
``reference.tsv``.

AMICI is not a dependency of the project: it runs in its own environment, named by
``--amici-python`` or ``$CROSSTALK_AMICI_PYTHON`` (see docs/estimation.md for how to build
it); without one its columns are skipped with a message.

    .venv/bin/python benchmarks/petab_speed.py [--problems DIR] [--only Boehm,Fujita]
        [--amici-python PATH] [--out out/bench-petab.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PROBLEMS = ROOT.parent / "shared" / "petab" / "benchmark"
RTOL = ATOL = 1e-8

_OURS = r"""
import json, sys, time
import numpy as np
import simulator as sim
path, repeats = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
problem = sim.load_petab(path, options=sim.SolverOptions(rtol={rtol}, atol={atol}))
value = problem.nllh(prior=False, strict=True)
load = time.perf_counter() - t0
t0 = time.perf_counter()
try:
    problem.nllh(gradient=True, strict=True)
    first_grad, grad_error = time.perf_counter() - t0, None
except sim.SimulatorError as e:
    first_grad, grad_error = None, f"{{type(e).__name__}}: {{e}}"
def best(f):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f(); times.append(time.perf_counter() - t0)
    return 1e3 * min(times)
out = {{"llh": -value, "load_s": load, "nllh_ms": best(lambda: problem.nllh(strict=True))}}
if grad_error is None:
    out.update(first_grad_s=first_grad,
               grad_ms=best(lambda: problem.nllh(gradient=True, strict=True)))
else:
    out["grad_error"] = grad_error
print(json.dumps(out))
"""


def ours(yaml: Path, repeats: int) -> dict:
    """One problem in a fresh process with an empty code cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CROSSTALK_CACHE_DIR=cache)
        code = _OURS.format(rtol=RTOL, atol=ATOL)
        res = subprocess.run([sys.executable, "-c", code, str(yaml), str(repeats)],
                             capture_output=True, text=True, env=env, cwd=ROOT)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def amici(python: str | None, yamls: list[Path], *flags: str) -> dict:
    """AMICI's figures by problem name (``amici_petab.py``'s records, run with ``flags``),
    or {} with a message when it is not available."""
    if not python:
        print("AMICI: not installed here (give --amici-python or $CROSSTALK_AMICI_PYTHON); "
              "its columns are skipped", file=sys.stderr)
        return {}
    env = dict(os.environ, PATH=f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}")
    models = ROOT / ".cache" / "amici-models"
    res = subprocess.run([python, str(ROOT / "benchmarks" / "amici_petab.py"), *flags, str(models),
                          *map(str, yamls)], capture_output=True, text=True, env=env)
    out = {}
    for line in res.stdout.splitlines():
        rec = json.loads(line)
        out[rec["problem"]] = rec
    if res.returncode != 0 and not out:
        print(f"AMICI failed: {res.stderr.strip()[-500:]}", file=sys.stderr)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=Path, default=DEFAULT_PROBLEMS)
    ap.add_argument("--only", default="", help="comma-separated name prefixes")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--amici-python", default=os.environ.get("CROSSTALK_AMICI_PYTHON"))
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench-petab.json")
    args = ap.parse_args(argv)
    if not args.problems.is_dir():
        print(f"no PEtab problems: {args.problems} is missing", file=sys.stderr)
        return 2
    yamls = sorted(args.problems.glob("*/*.yaml"))
    if args.only:
        keep = tuple(args.only.split(","))
        yamls = [y for y in yamls if y.parent.name.startswith(keep)]
    ref_path = args.problems / "reference.tsv"
    ref = pd.read_csv(ref_path, sep="\t").set_index("model")["llh"] if ref_path.is_file() else {}
    reference = amici(args.amici_python, yamls)
    rows = []
    for y in yamls:
        name = y.parent.name
        r = ours(y, args.repeats)
        a = reference.get(name, {})
        row = {"problem": name, **{f"ours_{k}": v for k, v in r.items()},
               **{f"amici_{k}": v for k, v in a.items() if k != "problem"}}
        if name in ref and "llh" in r:
            row["llh_error"] = r["llh"] - ref[name]
            row["llh_ok"] = abs(row["llh_error"]) <= 1e-3 + 1e-3 * abs(ref[name])
        rows.append(row)
        print(_line(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1, default=float))
    _summary(rows)
    return 0


def _fmt(v, unit=""):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3g}{unit}"


def _line(row) -> str:
    ratio = (row.get("amici_grad_ms") or np.nan) / (row.get("ours_grad_ms") or np.nan)
    return (f"{row['problem']:26s} llh err {_fmt(row.get('llh_error'))} | nllh "
            f"{_fmt(row.get('ours_nllh_ms'), ' ms')} (AMICI {_fmt(row.get('amici_nllh_ms'), ' ms')})"
            f" | gradient {_fmt(row.get('ours_grad_ms'), ' ms')} (AMICI "
            f"{_fmt(row.get('amici_grad_ms'), ' ms')}, {_fmt(ratio, 'x')} faster) | load "
            f"{_fmt(row.get('ours_load_s'), ' s')} + sensitivities "
            f"{_fmt(row.get('ours_first_grad_s'), ' s')} (AMICI compile "
            f"{_fmt(row.get('amici_compile_s'), ' s')})"
            + (f" | gradient refused: {row['ours_grad_error'][:120]}"
               if row.get("ours_grad_error") else "")
            + (f" | error: {row['ours_error'][:200]}" if row.get("ours_error") else ""))


def _summary(rows) -> None:
    ratios = [r["amici_grad_ms"] / r["ours_grad_ms"] for r in rows
              if r.get("amici_grad_ms") and r.get("ours_grad_ms")]
    ok = sum(bool(r.get("llh_ok")) for r in rows)
    print(f"\nllh within AMICI's criterion: {ok} of {len(rows)}")
    if ratios:
        print(f"gradient speed-up over AMICI: median {np.median(ratios):.2f}x "
              f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x) on {len(ratios)} problems")


if __name__ == "__main__":
    sys.exit(main())
