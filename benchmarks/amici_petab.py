#!/usr/bin/env python
"""Time AMICI 1.0 on PEtab v1 problems: the reference side of benchmarks/petab_speed.py.

Runs in AMICI's own environment, never in the project's (AMICI is not a dependency):

    PATH=$AMICI_VENV/bin:$PATH $AMICI_VENV/bin/python benchmarks/amici_petab.py \
        MODEL_DIR problem.yaml [problem.yaml ...]

Prints one JSON line per problem on stdout:
    {"problem", "llh", "nllh_ms", "grad_ms", "compile_s", "reused"}
or  {"problem", "error"}. With ``--gradient`` first, it instead prints AMICI's gradient
of the log-likelihood at the nominal parameters (on their estimation scale), taken with
forward sensitivities at rtol 1e-12, atol 1e-14: {"problem", "llh", "sllh": {id: value}}.
benchmarks/petab_gradients.py compares ours with it where finite differences cannot
resolve a component. Compiled models live in MODEL_DIR/<name> and are reused; the
timings are the minimum of 5 calls of ``simulate_petab`` after one warm-up, at
rtol = atol = 1e-8, without and with first-order forward sensitivities. Problems with
time-point specific overrides are flattened first, as AMICI's own benchmark tests do.
"""
import contextlib
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path

import petab.v1 as petab

import amici.sim.sundials as asim
from amici.importers.petab.v1 import import_petab_problem
from amici.sim.sundials.petab.v1 import simulate_petab

N_REPEAT = 5
TOL = 1e-8


@contextlib.contextmanager
def stdout_to_stderr():
    """Keep compiler/SWIG chatter (also from subprocesses) off stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def quiet_amici_loggers():
    """The importer may leave amici loggers at DEBUG; debug-formatting the
    parameter mapping would then be timed as part of simulate_petab."""
    for name in ["amici", *logging.root.manager.loggerDict]:
        if name == "amici" or name.startswith("amici."):
            logging.getLogger(name).setLevel(logging.WARNING)


def can_reuse(model_name: str, out_dir: Path) -> bool:
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return False
    try:
        from amici.importers.petab.v1._import_helpers import _can_import_model

        return _can_import_model(model_name, out_dir)
    except Exception:
        return False


def time_sim(problem, model, solver, n=N_REPEAT):
    kw = dict(amici_model=model, solver=solver, log_level=logging.WARNING)
    res = simulate_petab(problem, **kw)  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        res = simulate_petab(problem, **kw)
        times.append(time.perf_counter() - t0)
    return res, min(times) * 1e3


def load(yaml_path: Path, model_root: Path):
    """The PEtab problem (flattened where AMICI needs it), its compiled model, whether the
    build was reused and the seconds import and compile took."""
    name = yaml_path.stem
    problem = petab.Problem.from_yaml(str(yaml_path))
    # AMICI can't import timepoint-specific observable/noise overrides
    # (e.g. Fiedler); flatten them as AMICI's own benchmark tests do.
    # Same criterion as amici.importers.petab.v1._sbml_import.
    flattened = petab.lint.measurement_table_has_timepoint_specific_mappings(
        problem.measurement_df,
        allow_scalar_numeric_noise_parameters=(
            not petab.lint.observable_table_has_nontrivial_noise_formula(
                problem.observable_df
            )
        ),
    )
    if flattened:
        petab.flatten_timepoint_specific_output_overrides(problem)
    out_dir = model_root / name
    model_name = name
    reused = can_reuse(model_name, out_dir)
    t0 = time.perf_counter()
    with stdout_to_stderr():
        model = import_petab_problem(
            problem,
            output_dir=out_dir,
            model_name=model_name,
            compile_=False if reused else True,
            verbose=logging.WARNING,
        )
    compile_s = time.perf_counter() - t0
    quiet_amici_loggers()
    return problem, model, flattened, reused, compile_s


def bench(yaml_path: str, model_root: Path) -> dict:
    yaml_path = Path(yaml_path).resolve()
    name = yaml_path.stem
    out = {"problem": name}
    try:
        problem, model, flattened, reused, compile_s = load(yaml_path, model_root)
        solver = model.create_solver()
        solver.set_relative_tolerance(TOL)
        solver.set_absolute_tolerance(TOL)

        # value only
        solver.set_sensitivity_order(asim.SensitivityOrder.none)
        res, nllh_ms = time_sim(problem, model, solver)
        llh = float(res["llh"])
        st = [int(r.status) for r in res["rdatas"]]
        if any(s != asim.AMICI_SUCCESS for s in st):
            raise RuntimeError(f"simulation failed, statuses {st}")

        # value + gradient via first-order forward sensitivities
        solver.set_sensitivity_order(asim.SensitivityOrder.first)
        solver.set_sensitivity_method(asim.SensitivityMethod.forward)
        res_g, grad_ms = time_sim(problem, model, solver)
        st = [int(r.status) for r in res_g["rdatas"]]
        if any(s != asim.AMICI_SUCCESS for s in st):
            raise RuntimeError(f"sensitivity simulation failed, statuses {st}")
        if not res_g.get("sllh"):
            raise RuntimeError("no gradient (sllh) returned")

        out.update(
            llh=llh,
            nllh_ms=round(nllh_ms, 3),
            grad_ms=round(grad_ms, 3),
            compile_s=round(compile_s, 3),
            reused=bool(reused),
        )
        if flattened:
            out["flattened"] = True
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        out = {"problem": name, "error": f"{type(e).__name__}: {e}"}
    return out


def nominal_gradient(yaml_path: str, model_root: Path) -> dict:
    """AMICI's llh and its gradient at the nominal parameters, at tight tolerances."""
    yaml_path = Path(yaml_path).resolve()
    try:
        problem, model, *_ = load(yaml_path, model_root)
        solver = model.create_solver()
        solver.set_relative_tolerance(1e-12)
        solver.set_absolute_tolerance(1e-14)
        solver.set_max_steps(10**6)
        solver.set_sensitivity_order(asim.SensitivityOrder.first)
        solver.set_sensitivity_method(asim.SensitivityMethod.forward)
        res = simulate_petab(problem, amici_model=model, solver=solver,
                             scaled_gradients=True, log_level=logging.WARNING)
        st = [int(r.status) for r in res["rdatas"]]
        if any(s != asim.AMICI_SUCCESS for s in st):
            raise RuntimeError(f"sensitivity simulation failed, statuses {st}")
        return {"problem": yaml_path.stem, "llh": float(res["llh"]),
                "sllh": {k: float(v) for k, v in res["sllh"].items()}}
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        return {"problem": yaml_path.stem, "error": f"{type(e).__name__}: {e}"}


def main(argv):
    run = bench
    if argv[:1] == ["--gradient"]:
        run, argv = nominal_gradient, argv[1:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    model_root = Path(argv[0])
    model_root.mkdir(parents=True, exist_ok=True)
    for p in argv[1:]:
        print(json.dumps(run(p, model_root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
