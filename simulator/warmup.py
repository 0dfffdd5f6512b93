"""Fill the disk caches at install time, so that the first run on a machine takes seconds.

The compiled loops (the integrator, the event driver, the output kernels) are numba code,
compiled once per machine and kept in numba's cache (:mod:`simulator.codegen.numba_cache`);
each model's own functions are kept in the model cache (:mod:`simulator.codegen.jit`). On
an empty cache the first simulation waits ~20 s for numba. ``crosstalk warmup`` (which
``make`` runs right after installing) does that work once: it runs each kind of job on the
bundled model (a simulation, a sweep, a dosing schedule in a sweep, forward sensitivities,
a steady state), which compiles and caches every loop they use.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from simulator.api import load_model, simulate, steady_state
from simulator.codegen.numba_cache import loops_dir
from simulator.ensemble import sweep
from simulator.treatments import Dose, Schedule, Treatment
from simulator.treatments.derive import prepare

__all__ = ["warm_up"]


def _jobs(model) -> list[tuple[str, Callable[[], object]]]:
    t = np.linspace(0.0, 48.0, 9)
    k, value = next((p.id, p.value) for p in model.parameters if p.constant and p.value)
    dosed = prepare(model, Treatment({"everolimus": Dose(10, "mg", Schedule.daily())}))
    params = dict(dosed.params, xt_everolimus_amount=np.array([5.0, 10.0]))
    return [
        ("a simulation", lambda: simulate(model, t)),
        ("a steady state", lambda: steady_state(model)),
        ("a sweep", lambda: sweep(model, t, params={k: value * np.array([0.5, 1.0])},
                                  readouts=["pS6"], progress=False)),
        ("a dosing schedule in a sweep", lambda: sweep(dosed.model, t, params=params,
                                                       readouts=["pS6"], progress=False)),
        ("forward sensitivities", lambda: simulate(model, t, sensitivities=[k])),
    ]


def warm_up(report: Callable[[str], None] = print) -> float:
    """Compile and cache what the common jobs need; returns the seconds it took."""
    start = time.perf_counter()
    report(f"compiling and caching the integrator and the bundled model in "
           f"{loops_dir().parent} ...")
    model = load_model()
    for what, job in _jobs(model):
        t0 = time.perf_counter()
        job()
        report(f"  {what}: {time.perf_counter() - t0:.1f} s")
    return time.perf_counter() - start
