"""Models of any size: load, compile and simulate every shared published model against
libroadrunner in the same run (`make bench-models`).

For each SBML model under ../shared/petab/benchmark/*/ and ../shared/published-models/*/
(simulated 0 to its last finite measured time, 101 points, rtol 1e-6, atol 1e-12, at the
model's own values, no PEtab conditions) it reports:

- ``load+first``: a fresh process, model never compiled (empty code cache; the integrator's
  numba cache and the package's import scans warm), import excluded: ``load_model`` + first
  ``simulate``;
- ``cached``: the same in a second fresh process, code cache warm;
- ``cached, set up``: the same in a third fresh process that first simulated another (tiny)
  model, so numba's once-per-process set-up of the integrator (its type registries, ~0.3 s,
  scipy's import with them) is outside the clock: what the model itself costs;
- ``peak MB``: the fresh process's peak RSS growth over the load (``ru_maxrss``);
- ``sim ms``: the median of 11 simulations, in-process;
- ``err``: the max relative difference against libroadrunner at rtol 1e-10 (relative to each
  output's max magnitude), for both simulators at rtol 1e-6;
- libroadrunner's load+first (fresh process) and median simulation, as ratios.

    .venv/bin/python benchmarks/models.py [--only NAME,...] [--out out/bench-models.json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libsbml
import numpy as np
import pandas as pd
import yaml

from simulator.sources import cache_dir

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
N_POINTS, RTOL, ATOL, REPEATS = 101, 1e-6, 1e-12, 11


def corpus() -> dict:
    """``{name: (sbml path, end time)}`` of every shared model with a PEtab YAML beside it."""
    out = {}
    for folder in sorted([*SHARED.glob("petab/benchmark/*/"), *SHARED.glob("published-models/*/")]):
        yamls = sorted(folder.glob("*.yaml"))
        if not yamls:
            continue
        spec = yaml.safe_load(yamls[0].read_text())["problems"][0]
        sbml = folder / spec["sbml_files"][0]
        times = pd.concat([pd.read_csv(folder / m, sep="\t")["time"]
                           for m in spec["measurement_files"]])
        times = pd.to_numeric(times, errors="coerce")
        end = float(times[np.isfinite(times)].max()) if np.isfinite(times).any() else 100.0
        out[folder.name] = (sbml, end if end > 0 else 100.0)
    return out


def _grid(end: float) -> np.ndarray:
    return np.linspace(0.0, end, N_POINTS)


# --- workers, each in a fresh process -----------------------------------------------------
#: the model simulated before the clock in a "set up" process (a different model, so
#: only the integrator's once-per-process set-up is shared)
TINY = "model tiny\n  x' = -k*x\n  x = 1\n  k = 0.5\nend\n"


def worker_ours(sbml: str, end: float, set_up: bool = False) -> dict:
    import simulator as sim
    import simulator.api  # noqa: F401 - the package loads lazily: import before the clock
    from simulator.codegen import jit
    if set_up:
        sim.simulate(sim.load_model(TINY), [0.0, 1.0])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    model = sim.load_model(sbml)
    tr = sim.simulate(model, _grid(end), options=sim.SolverOptions(rtol=RTOL, atol=ATOL))
    first = time.perf_counter() - t0
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024.0
    runs = []
    for _ in range(REPEATS):
        t1 = time.perf_counter()
        sim.simulate(model, _grid(end), options=sim.SolverOptions(rtol=RTOL, atol=ATOL))
        runs.append(time.perf_counter() - t1)
    species = [s for s in tr.ids if s in {sp.id for sp in model.species}]
    jit.wait_optimised()   # a large model's optimised build (another process): in the cache
                           # before the next run
    return dict(first=first, peak_mb=peak, sim=float(np.median(runs)), ids=species,
                y=np.column_stack([tr[s] for s in species]).tolist() if species else [])


def worker_rr(sbml: str, end: float, rtol: float = RTOL) -> dict:
    import roadrunner
    t0 = time.perf_counter()
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = ATOL if rtol == RTOL else 1e-14
    doc = libsbml.readSBMLFromFile(sbml)
    amounts = {sp.getId() for sp in doc.getModel().getListOfSpecies()
               if sp.getHasOnlySubstanceUnits()}     # reported as amounts, as SBML means
    rr.timeCourseSelections = ["time"] + [s if s in amounts else f"[{s}]"
                                          for s in rr.model.getFloatingSpeciesIds()]
    res = rr.simulate(0.0, end, N_POINTS)
    first = time.perf_counter() - t0
    runs = []
    for _ in range(REPEATS if rtol == RTOL else 0):
        rr.resetAll()
        t1 = time.perf_counter()
        rr.simulate(0.0, end, N_POINTS)
        runs.append(time.perf_counter() - t1)
    ids = list(rr.model.getFloatingSpeciesIds())
    conc = np.asarray(res)[:, 1:]
    return dict(first=first, sim=float(np.median(runs)) if runs else None, ids=ids,
                y=conc.tolist())


def _run(kind: str, sbml: Path, end: float, env: dict, *extra) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
            f"import models; print('RESULT', json.dumps(models.worker_{kind}"
            f"({str(sbml)!r}, {end!r}{''.join(', ' + repr(e) for e in extra)})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return dict(error=(proc.stderr.strip().splitlines() or ["no output"])[-1][:300])


def _error(a: dict, ref: dict) -> float | None:
    if "y" not in a or "y" not in ref or not a["y"] or not ref["y"]:
        return None
    col = {s: k for k, s in enumerate(ref["ids"])}
    common = [s for s in a["ids"] if s in col]
    if not common:
        return None
    A = np.asarray(a["y"])[:, [a["ids"].index(s) for s in common]]
    R = np.asarray(ref["y"])[:, [col[s] for s in common]]
    scale = np.maximum(np.abs(R).max(axis=0), 1e-12)
    return float(np.max(np.abs(A - R) / scale))


def bench(name: str, sbml: Path, end: float) -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["CROSSTALK_CACHE_DIR"] = cache
        # the package's own bookkeeping (which sources key the caches) is not the model's:
        # a model never compiled, on a machine where Crosstalk has run before
        scans = cache_dir() / "import_scans.json"
        if scans.is_file():
            shutil.copy(scans, cache)
        cold = _run("ours", sbml, end, env)
        warm = _run("ours", sbml, end, env)
        set_up = _run("ours", sbml, end, env, True)
    try:
        import roadrunner  # noqa: F401
        rr = _run("rr", sbml, end, env)
        ref = _run("rr", sbml, end, env, 1e-10)
    except ImportError:
        rr = ref = dict(error="libroadrunner not installed")
    row = dict(model=name, end=end, first=cold.get("first"), cached=warm.get("first"),
               cached_set_up=set_up.get("first"),
               peak_mb=cold.get("peak_mb"), sim_ms=1e3 * warm["sim"] if "sim" in warm else None,
               rr_first=rr.get("first"), rr_sim_ms=1e3 * rr["sim"] if rr.get("sim") else None,
               err=_error(warm, ref), rr_err=_error(rr, ref),
               error=cold.get("error") or rr.get("error"))
    return row


def fmt(v, f="{:.3g}"):
    return "-" if v is None else f.format(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench-models.json")
    args = ap.parse_args(argv)
    models = corpus()
    if not models:
        print(f"no models under {SHARED} (petab/benchmark, published-models)", file=sys.stderr)
        return 2
    only = {s for s in args.only.split(",") if s}
    rows = []
    print(f"{'model':32s} {'load+first s':>12s} {'rr s':>7s} {'cached s':>9s} {'set up s':>9s} "
          f"{'peak MB':>8s} "
          f"{'sim ms':>8s} {'rr ms':>8s} {'speed':>6s} {'err':>8s} {'rr err':>8s}")
    for name, (sbml, end) in models.items():
        if only and name not in only:
            continue
        r = bench(name, sbml, end)
        rows.append(r)
        speed = (r["rr_sim_ms"] / r["sim_ms"]) if r["sim_ms"] and r["rr_sim_ms"] else None
        print(f"{name:32s} {fmt(r['first']):>12s} {fmt(r['rr_first']):>7s} "
              f"{fmt(r['cached']):>9s} {fmt(r['cached_set_up']):>9s} {fmt(r['peak_mb']):>8s} "
              f"{fmt(r['sim_ms']):>8s} "
              f"{fmt(r['rr_sim_ms']):>8s} {fmt(speed, '{:.1f}x'):>6s} {fmt(r['err'], '{:.1e}'):>8s} "
              f"{fmt(r['rr_err'], '{:.1e}'):>8s} {r['error'] or ''}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
