"""One simulation, timed against libroadrunner in the same run.

For each model (the ~40-species synthetic signalling model and the bundled ER crosstalk
model): reset plus new parameters each run, 0-1000 h, 200 output points, rtol 1e-6 and the
same atol for both simulators. The runs are split into interleaved rounds (ours, the
integrator alone, libroadrunner, again), so a change of the shared machine's speed hits all
alike; each figure is the median over the rounds. Prints ms per run, the ratio
ours/libroadrunner, the accuracy of both against a tight reference (rtol 1e-10),
load+compile times cold (empty code cache) and warm, each in a fresh process, and the first
run of a fresh process on empty caches, after ``crosstalk warmup``, for a model never seen,
for a cached model, and ``crosstalk drugs``.

    .venv/bin/python benchmarks/single_run.py [--runs 300] [--rounds 6] [--models synthetic,bundled]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"synthetic": ROOT / "benchmarks" / "models" / "synthetic_signaling.ant",
          "bundled": ROOT / "simulator" / "models" / "er_crosstalk.ant"}
T_END, N_POINTS, RTOL, ATOL = 1000.0, 200, 1e-6, 1e-12


def _param_sets(model, n_runs, rng):
    """New parameter values per run: five kinetic parameters, log-uniform x/÷ 2."""
    values = {p.id: p.value for p in model.parameters
              if p.constant and p.value and np.isfinite(p.value)}
    ids = sorted(values)
    chosen = [ids[k] for k in rng.choice(len(ids), size=min(5, len(ids)), replace=False)]
    base = {i: values[i] for i in chosen}
    return [{i: base[i] * float(np.exp(rng.uniform(-np.log(2), np.log(2)))) for i in chosen}
            for _ in range(n_runs)]


def _ours(model, t):
    """``run(psets) -> (seconds per run, trajectories)`` through ``simulate()``."""
    import simulator as sim
    opts = sim.SolverOptions(rtol=RTOL, atol=ATOL)
    sim.simulate(model, t, options=opts, backend="compiled")  # compile

    def run(psets):
        t0 = time.perf_counter()
        out = [sim.simulate(model, t, params=ps, options=opts, backend="compiled")
               for ps in psets]
        return (time.perf_counter() - t0) / len(psets), out
    return run


def _integrator_only(model, t):
    """``run(psets)``: the compiled integrator alone, initial values computed before timing."""
    import simulator as sim
    from simulator.api import compile_model
    from simulator.conditions import overrides
    from simulator.solvers.compiled import CompiledSegmenter
    cm = compile_model(model)
    seg = CompiledSegmenter(cm.system, sim.SolverOptions(rtol=RTOL, atol=ATOL))
    trig0 = np.array([ev.initial_value for ev in cm.system.events], dtype=bool)

    def run(psets):
        starts = [cm.system.init.values(overrides(model, cm.system, params=ps), 0.0)
                  for ps in psets]
        seg.integrate(0.0, starts[0][0], starts[0][1], t, T_END, trig0)
        t0 = time.perf_counter()
        for y0, p in starts:
            seg_out = seg.integrate(0.0, y0, p, t, T_END, trig0)
        return (time.perf_counter() - t0) / len(psets), seg_out
    return run


def _roadrunner(path):
    """``(run(psets), species ids)`` for libroadrunner: reset, new values, simulate."""
    import roadrunner
    import tellurium as te
    rr = te.loada(path.read_text()) if path.suffix == ".ant" else roadrunner.RoadRunner(str(path))
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    rr.timeCourseSelections = ["time"] + list(rr.model.getFloatingSpeciesIds())
    rr.simulate(0, T_END, N_POINTS)

    def run(psets):
        res = []
        t0 = time.perf_counter()
        for ps in psets:
            rr.resetAll()
            for k, v in ps.items():
                rr[k] = v
            res.append(rr.simulate(0, T_END, N_POINTS))
        return (time.perf_counter() - t0) / len(psets), res
    return run, list(rr.model.getFloatingSpeciesIds())


def _rounds(runners: dict, psets, n_rounds: int) -> dict:
    """Each runner on the same parameter sets, interleaved in ``n_rounds`` rounds so that a
    change of the machine's speed hits all alike; per runner the median seconds per run
    over the rounds, the per-round times, and the last round's results."""
    chunks = np.array_split(np.arange(len(psets)), n_rounds)
    times = {k: [] for k in runners}
    last = {}
    for idx in chunks:
        part = [psets[i] for i in idx]
        for k, run in runners.items():
            dt, last[k] = run(part)
            times[k].append(dt)
    return {k: (float(np.median(v)), v, last[k]) for k, v in times.items()}


def _reference(model, t, ps):
    import simulator as sim
    opts = sim.SolverOptions(method="Radau", rtol=1e-10, atol=1e-14)
    return sim.simulate(model, t, params=ps, options=opts, backend="scipy")


def _max_scaled_err(y, yref):
    return float(np.max(np.abs(y - yref) / (ATOL + RTOL * np.abs(yref))))


_LOAD_SNIPPET = r"""
import time, json, sys
T = {}
t = time.perf_counter()
import numpy as np
import simulator as sim
from simulator.semantics import build_system
from simulator.codegen.jit import compile_native
from simulator.solvers.compiled import CompiledSegmenter
T["import"] = time.perf_counter() - t; t = time.perf_counter()
m = sim.load_model(sys.argv[1])
T["load"] = time.perf_counter() - t; t = time.perf_counter()
system = build_system(m)
T["build_system"] = time.perf_counter() - t; t = time.perf_counter()
fns = compile_native(system)
T["codegen+compile"] = time.perf_counter() - t; t = time.perf_counter()
seg = CompiledSegmenter(system, sim.SolverOptions(), fns=fns)
seg.integrate(0.0, system.y_default, system.p_default, np.array([0.0, 1.0]), 1.0,
              np.zeros(len(system.events), bool))
T["first_integrate"] = time.perf_counter() - t
print(json.dumps(T))
"""


def _load_times(path: Path, cache: str) -> dict:
    env = dict(os.environ, CROSSTALK_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", _LOAD_SNIPPET, str(path)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rr_load_time(path: Path) -> float:
    snippet = ("import time, tellurium as te, sys\nt=time.perf_counter()\n"
               "r=te.loada(open(sys.argv[1]).read())\nprint(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", snippet, str(path)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


_FIRST_SNIPPET = r"""
import time, sys
t = time.perf_counter()
import simulator as sim
m = sim.load_model(sys.argv[1] if len(sys.argv) > 1 else None)
sim.simulate(m, 100.0)
print(time.perf_counter() - t)
"""


def _wall(cmd, env) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t


def _first_run_times() -> dict:
    """Process start to the first simulation, in fresh processes (wall time, Python start
    included): on empty caches; after ``crosstalk warmup``; a model never seen before with
    the loops cached; a cached model; and ``crosstalk drugs``."""
    crosstalk = str(Path(sys.executable).with_name("crosstalk"))
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("CROSSTALK_CACHE_DIR", None)
        out["empty caches"] = _wall([sys.executable, "-c", _FIRST_SNIPPET], env)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env.pop("CROSSTALK_CACHE_DIR", None)
        out["crosstalk warmup (once, at install)"] = _wall([crosstalk, "warmup"], env)
        out["after warmup"] = _wall([sys.executable, "-c", _FIRST_SNIPPET], env)
        out["a model never seen (loops cached)"] = _wall(
            [sys.executable, "-c", _FIRST_SNIPPET, str(MODELS["synthetic"])], env)
        out["a cached model"] = _wall([sys.executable, "-c", _FIRST_SNIPPET], env)
        out["crosstalk drugs"] = _wall([crosstalk, "drugs"], env)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=6,
                    help="interleaved rounds of ours / integrator / libroadrunner")
    ap.add_argument("--models", default="synthetic,bundled")
    ap.add_argument("--no-load-times", action="store_true")
    args = ap.parse_args(argv)
    import simulator as sim
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, T_END, N_POINTS)
    # every model is read before libroadrunner is imported: its SWIG runtime and
    # python-libsbml's do not mix when roadrunner comes first
    loaded = {}
    for name in args.models.split(","):
        path = MODELS[name]
        if not path.exists():
            print(f"{name}: {path} does not exist yet; skipped")
            continue
        loaded[name] = (path, sim.load_model(path))
    for name, (path, model) in loaded.items():
        psets = _param_sets(model, args.runs, rng)
        rr_run, rr_ids = _roadrunner(path)
        res = _rounds({"ours": _ours(model, t), "bare": _integrator_only(model, t),
                       "rr": rr_run}, psets, args.rounds)
        (ours, ours_rounds, trajs), (bare, _, last_seg), (rr, rr_rounds, rr_res) = (
            res["ours"], res["bare"], res["rr"])
        ratios = [r / o for o, r in zip(ours_rounds, rr_rounds)]
        ref = _reference(model, t, psets[-1])
        ids = [i for i in rr_ids if i in model.species_ids]
        e_ours = _max_scaled_err(np.column_stack([trajs[-1][i] for i in ids]),
                                 np.column_stack([ref[i] for i in ids]))
        rr0 = rr_res[-1]
        e_rr = _max_scaled_err(np.column_stack([rr0["[" + i + "]"] if "[" + i + "]" in rr0.colnames
                                                else rr0[i] for i in ids]),
                               np.column_stack([ref[i] for i in ids]))
        nst = trajs[-1].stats
        print(f"{name}: {len(model.species_ids)} species; {args.runs} runs, 0-{T_END:g} h, "
              f"{N_POINTS} points, rtol {RTOL:g}, atol {ATOL:g}")
        print(f"  ours (simulate, compiled): {ours * 1e3:8.3f} ms/run   "
              f"(steps {nst.get('nsteps')}, nfev {nst.get('nfev')})")
        print(f"  ours (integrator only)   : {bare * 1e3:8.3f} ms/run   "
              f"(segment status {last_seg.status}, no events: {len(model.events) == 0})")
        print(f"  libroadrunner            : {rr * 1e3:8.3f} ms/run")
        print(f"  ratio ours/libroadrunner : simulate() {ours / rr:.3f}, integrator {bare / rr:.3f}"
              f"   (speed-up {rr / ours:.2f}x and {rr / bare:.2f}x)")
        print(f"  simulate() speed-up per round ({args.rounds} interleaved rounds): "
              + ", ".join(f"{r:.2f}x" for r in ratios))
        print(f"  max scaled error vs Radau rtol 1e-10: ours {e_ours:.3g}, "
              f"libroadrunner {e_rr:.3g}   (|y - y_ref| / (atol + rtol |y_ref|))")
        if not args.no_load_times:
            with tempfile.TemporaryDirectory() as cache:
                cold = _load_times(path, cache)
                warm = _load_times(path, cache)
            rrl = _rr_load_time(path)
            for label, d in (("cold", cold), ("warm", warm)):
                total = d["load"] + d["build_system"] + d["codegen+compile"] + d["first_integrate"]
                print(f"  load+compile {label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in d.items())
                      + f"   => load+compile {total:.2f} s (import excluded)")
            print(f"  libroadrunner load+JIT: {rrl:.2f} s")
    if not args.no_load_times:
        print("first run, wall time of a fresh process (start to first simulate(), import "
              "included):")
        for what, sec in _first_run_times().items():
            print(f"  {what:38s} {sec:6.2f} s")


if __name__ == "__main__":
    main()
