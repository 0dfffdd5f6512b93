"""Ensemble throughput against libroadrunner's serial loop, on the bundled model.

Every positive parameter the dynamics use is drawn log-uniformly within ×/÷ 3 of its default
(seed 0). Each member runs 0-1000 h with 200 output points, atol 1e-12; libroadrunner at rtol
1e-6, ours at rtol 1e-6 and at 1e-5 (``--rtol-ours``): the issue's target is throughput at the
same accuracy as libroadrunner at 1e-6, and the accuracy lines show whether ours at the looser
rtol still matches or beats it. For each N, in a fresh subprocess (so peak memory is per N):

- ours: ``sim.sweep(model, t, samples=..., readouts=[3 readouts], progress=False)``, the
  compiled ensemble integrator in this process on all cores; time excludes model load and
  compile (done once before timing), includes initial values, integration and readouts;
- libroadrunner (N <= --rr-max-n): ``reset(); setGlobalParameterValues(...); simulate(0, 1000, 200)``
  per member, serially;
- peak memory: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of that subprocess, and the
  peak minus the memory after warm-up.

Accuracy (separately, on --acc-n members): every species trajectory against scipy Radau at
rtol 1e-10 (atol 1e-14); per member, the maximal relative error
``max |y - y_ref| / max(|y_ref|, 1e-9 nM)`` over species and times (the floor keeps
species that are numerically zero, ~1e-20 nM, from dominating);
reported as median and 99th percentile over members, for ours and libroadrunner.

    .venv/bin/python benchmarks/ensemble.py                   # N = 1 .. 100,000
    .venv/bin/python benchmarks/ensemble.py --max-n 10000     # quicker

Each N that libroadrunner runs is measured in ``--rounds`` rounds (default 3), libroadrunner
and ours interleaved: this machine's speed drifts by up to 2x within minutes, so a single
pair of runs can give either side a slow phase. The table gives the median run of each side
and the median of the rounds' ratios, then each round's ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "simulator" / "models" / "er_crosstalk.ant"
T_END, N_POINTS, RTOL, ATOL, FOLD = 1000.0, 200, 1e-6, 1e-12, 3.0
FLOOR = 1e-9
READOUTS = ["pS6", "pAkt_S473", "growth_rate"]


def _swept(model):
    """Ids and defaults of the positive parameters the dynamics use."""
    from simulator.ensemble.chunks import prepared
    prep = prepared(model)
    used = {prep.system.param_ids[j] for j in prep.used_params}
    return {p.id: p.value for p in model.parameters
            if p.id in used and p.value is not None and np.isfinite(p.value) and p.value > 0}


def _samples(model, n):
    from simulator.ensemble.sampling import log_uniform
    return log_uniform(_swept(model), FOLD, n, seed=0)


def _readouts(model):
    from simulator.ensemble.chunks import prepared
    outs = prepared(model).system.outputs
    return [r for r in READOUTS if r in outs] or list(model.species_ids[:3])


def _rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker_ours(n: int, chunk: int, rtol: float = RTOL) -> dict:
    import simulator as sim
    model = sim.load_model(MODEL)
    t = np.linspace(0.0, T_END, N_POINTS)
    opts = sim.SolverOptions(rtol=rtol, atol=ATOL)
    samples = _samples(model, n)
    ro = _readouts(model)
    warm = _samples(model, 4)
    sim.sweep(model, t, samples=warm, readouts=ro, progress=False, options=opts)
    base = _current_mb()
    t0 = time.perf_counter()
    ens = sim.sweep(model, t, samples=samples, readouts=ro, progress=False, options=opts,
                    chunk_size=chunk)
    dt = time.perf_counter() - t0
    peak = _rss_mb()
    return {"n": n, "seconds": dt, "sims_per_s": n / dt, "peak_rss_mb": peak,
            "peak_minus_warm_mb": peak - base, "failed": int(len(ens.failures)),
            "mean_steps": float(ens.nsteps.mean()), "max_steps": int(ens.nsteps.max()),
            "result_mb": ens.values.nbytes / 2**20}


def worker_rr(n: int) -> dict:
    import simulator as sim
    model = sim.load_model(MODEL)       # libsbml before roadrunner (their SWIG runtimes clash)
    samples = _samples(model, n)
    import tellurium as te
    rr = te.loada(MODEL.read_text())
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    ids = list(rr.model.getGlobalParameterIds())
    col = np.array([ids.index(i) for i in samples.ids], dtype=np.int32)
    rr.simulate(0, T_END, N_POINTS)
    failed = 0
    t0 = time.perf_counter()
    for row in samples.values:
        rr.reset()
        rr.model.setGlobalParameterValues(col, row)
        try:
            rr.simulate(0, T_END, N_POINTS)
        except RuntimeError:
            failed += 1
    dt = time.perf_counter() - t0
    return {"n": n, "seconds": dt, "sims_per_s": n / dt, "peak_rss_mb": _rss_mb(),
            "failed": failed}


def worker_accuracy(n: int, rtol: float = RTOL) -> dict:
    import simulator as sim
    from simulator.api import compile_model
    model = sim.load_model(MODEL)
    t = np.linspace(0.0, T_END, N_POINTS)
    samples = _samples(model, n)
    species = list(model.species_ids)
    ens = sim.sweep(model, t, samples=samples, readouts=species, progress=False,
                    options=sim.SolverOptions(rtol=rtol, atol=ATOL))
    compile_model(model)
    refs = []
    for ps in samples.as_dicts():
        tr = sim.simulate(model, t, params=ps, backend="scipy", on_failure="return",
                          options=sim.SolverOptions(method="Radau", rtol=1e-10, atol=1e-14))
        refs.append(np.column_stack([tr[s] for s in species]) if tr.success else None)
    import tellurium as te
    rr = te.loada(MODEL.read_text())
    rr.integrator.relative_tolerance = RTOL
    rr.integrator.absolute_tolerance = ATOL
    rr.timeCourseSelections = ["time"] + [f"[{s}]" for s in species]
    ids = list(rr.model.getGlobalParameterIds())
    col = np.array([ids.index(i) for i in samples.ids], dtype=np.int32)
    e_ours, e_rr = [], []
    for m, row in enumerate(samples.values):
        ref = refs[m]
        if ref is None or not ens.success[m]:
            continue
        rr.reset()
        rr.model.setGlobalParameterValues(col, row)
        y_rr = np.asarray(rr.simulate(0, T_END, N_POINTS))[:, 1:]
        y_ours = ens.values[m]
        den = np.maximum(np.abs(ref), FLOOR)
        e_ours.append(float(np.max(np.abs(y_ours - ref) / den)))
        e_rr.append(float(np.max(np.abs(y_rr - ref) / den)))
    q = lambda e, p: float(np.percentile(e, p))  # noqa: E731
    return {"n": len(e_ours), "ours_median": q(e_ours, 50), "ours_p99": q(e_ours, 99),
            "rr_median": q(e_rr, 50), "rr_p99": q(e_rr, 99)}


def _at_least_one(text: str) -> int:
    """argparse type: a whole number of rounds, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _median_run(runs: list[dict]) -> dict:
    """The run with the median throughput (its other figures with it)."""
    return sorted(runs, key=lambda r: r["sims_per_s"])[len(runs) // 2]


def _sub(kind: str, *args) -> dict:
    env = dict(os.environ)
    out = subprocess.run([sys.executable, __file__, "--worker", kind, *map(str, args)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,100,1000,10000,100000")
    ap.add_argument("--max-n", type=int, default=100_000)
    ap.add_argument("--rr-max-n", type=int, default=10_000)
    ap.add_argument("--acc-n", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--rounds", type=_at_least_one, default=3,
                    help="rounds of libroadrunner and ours, interleaved, for each N that "
                         "libroadrunner runs; the ratio is the median of the rounds' ratios")
    ap.add_argument("--rtol-ours", default="1e-6,1e-5",
                    help="our rtols, comma-separated (libroadrunner keeps 1e-6): the same rtol, "
                         "and a looser one whose accuracy (printed) still matches or beats "
                         "libroadrunner's at 1e-6")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        fn = {"ours": worker_ours, "rr": worker_rr, "acc": worker_accuracy}[kind]
        print(json.dumps(fn(*[float(x) if "." in x or "e" in x else int(x) for x in rest])))
        return
    sizes = [n for n in map(int, args.sizes.split(",")) if n <= args.max_n]
    rtols = [float(x) for x in args.rtol_ours.split(",")]
    print(f"bundled model {MODEL.name}: 0-{T_END:g} h, {N_POINTS} points, libroadrunner rtol "
          f"{RTOL:g}, ours rtol {', '.join(f'{r:g}' for r in rtols)}; atol {ATOL:g}; positive "
          f"parameters log-uniform x/÷ {FOLD:g} (seed 0); {os.cpu_count()} cores")
    print(f"{'N':>7} {'rtol':>6} {'ours sims/s':>12} {'rr sims/s':>10} {'ratio':>7} {'ours s':>8} "
          f"{'rr s':>8} {'peak MB':>8} {'+MB':>7} {'steps':>7} {'failed':>6} {'rr fail':>7}"
          f"  ratio of each round")
    rows = []
    for n in sizes:
        rounds = args.rounds if n <= args.rr_max_n else 1
        rrs, ours = [], {rtol: [] for rtol in rtols}
        for _ in range(rounds):          # interleaved: the machine's speed drifts
            rrs.append(_sub("rr", n) if n <= args.rr_max_n else None)
            for rtol in rtols:
                ours[rtol].append(_sub("ours", n, args.chunk, repr(rtol)))
        r = _median_run(rrs) if rrs[0] else None
        for rtol in rtols:
            o = _median_run(ours[rtol])
            ratios = ([a["sims_per_s"] / b["sims_per_s"] for a, b in zip(ours[rtol], rrs)]
                      if r else [])
            rows.append({"rtol": rtol, "ours": o, "rr": r, "ratios": ratios})
            ratio = f"{float(np.median(ratios)):.1f}x" if r else "-"
            print(f"{n:>7} {rtol:>6g} {o['sims_per_s']:>12.0f} "
                  f"{r['sims_per_s'] if r else float('nan'):>10.0f} {ratio:>7} "
                  f"{o['seconds']:>8.2f} {r['seconds'] if r else float('nan'):>8.2f} "
                  f"{o['peak_rss_mb']:>8.0f} {o['peak_minus_warm_mb']:>7.0f} "
                  f"{o['mean_steps']:>7.0f} {o['failed']:>6} {r['failed'] if r else '-':>7}"
                  f"  {' '.join(f'{x:.1f}' for x in ratios)}", flush=True)
    if args.acc_n:
        for rtol in rtols:
            a = _sub("acc", args.acc_n, repr(rtol))
            print(f"accuracy vs Radau rtol 1e-10 over {a['n']} members (max relative error per "
                  f"member): ours at rtol {rtol:g} median {a['ours_median']:.2e}, p99 "
                  f"{a['ours_p99']:.2e}; libroadrunner at rtol {RTOL:g} median "
                  f"{a['rr_median']:.2e}, p99 {a['rr_p99']:.2e}", flush=True)
            rows.append({"rtol": rtol, "accuracy": a})
    return rows


if __name__ == "__main__":
    main()
