"""Run SBML Test Suite semantic cases: ``python -m tests.sbml_suite --suite DIR`` (``make
sbml-suite``). A development tool, not part of the package.

The cases are read in place from ``--suite``, else ``$CROSSTALK_SBML_SUITE``, else
``../shared/sbml-semantic`` beside the checkout; a folder that is missing is an error that
says so.

A case passes when every expected value C and simulated value U satisfy
``|C - U| <= absolute + relative * |C|`` (NaN must be NaN, infinities must match), with the
tolerances from the case's settings file. The "core ODE subset" leaves out cases tagged
AlgebraicRule, FastReaction, MultipleFastReactions, CSymbolDelay, EventWithDelay,
DelayInTrigger, DelayInEventAssignment, EventPriority, RandomEventExecution, any package
(comp, fbc) and any test type other than TimeCourse.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import simulator as sim
from simulator.errors import UnsupportedFeatureError
from simulator.solvers.base import SolverOptions

NON_CORE_TAGS = {
    "AlgebraicRule", "FastReaction", "MultipleFastReactions", "CSymbolDelay", "EventWithDelay",
    "DelayInTrigger", "DelayInEventAssignment", "EventPriority", "RandomEventExecution",
}


ENV = "CROSSTALK_SBML_SUITE"


def default_suite_dir() -> Path:
    """``$CROSSTALK_SBML_SUITE``, else ``../shared/sbml-semantic`` beside the checkout."""
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "sbml-semantic"


def suite_dir(path: Path | None = None) -> Path:
    """The folder of cases: ``path``, or :func:`default_suite_dir`.

    Raises
    ------
    FileNotFoundError
        The folder does not exist or holds no case folder.
    """
    folder = Path(path) if path is not None else default_suite_dir()
    if not folder.is_dir() or not any(d.is_dir() and d.name.isdigit() for d in folder.iterdir()):
        raise FileNotFoundError(f"no SBML Test Suite cases at {folder}; give the folder with "
                                f"--suite DIR or ${ENV}")
    return folder


@dataclass(frozen=True)
class Case:
    id: str
    folder: Path
    start: float
    duration: float
    steps: int
    variables: tuple[str, ...]
    absolute: float
    relative: float
    amount: frozenset
    concentration: frozenset
    tags: frozenset
    test_type: str

    @property
    def core(self) -> bool:
        return (self.test_type == "TimeCourse" and not (self.tags & NON_CORE_TAGS)
                and not any(":" in t for t in self.tags))

    @property
    def model_path(self) -> Path:
        files = sorted(self.folder.glob(f"{self.id}-sbml-l*.xml"))
        return files[-1]


def read_case(folder: Path) -> Case:
    cid = folder.name
    settings = {}
    for line in (folder / f"{cid}-settings.txt").read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            settings[k.strip()] = v.strip()
    desc = (folder / f"{cid}-model.m").read_text()

    def tags(key):
        m = re.search(rf"{key}:(.*)", desc)
        return {x.strip() for x in m.group(1).split(",") if x.strip()} if m else set()

    ttype = re.search(r"testType:\s*(\S+)", desc)
    split = lambda s: tuple(x.strip() for x in s.split(",") if x.strip())
    return Case(
        id=cid, folder=folder, start=float(settings.get("start", 0) or 0),
        duration=float(settings.get("duration", 0) or 0), steps=int(float(settings.get("steps", 0) or 0)),
        variables=split(settings.get("variables", "")),
        absolute=float(settings.get("absolute", 0) or 0), relative=float(settings.get("relative", 0) or 0),
        amount=frozenset(split(settings.get("amount", ""))),
        concentration=frozenset(split(settings.get("concentration", ""))),
        tags=frozenset(tags("componentTags") | tags("testTags")),
        test_type=ttype.group(1) if ttype else "",
    )


def list_cases(suite: Path | None = None) -> list[Case]:
    suite = suite_dir(suite)
    return [read_case(d) for d in sorted(suite.iterdir()) if d.is_dir() and d.name.isdigit()]


@dataclass
class Outcome:
    case: str
    core: bool
    status: str          # "pass" | "fail" | "skip" | "error"
    reason: str = ""
    seconds: float = 0.0


class _Timeout(Exception):
    pass


def run_case(case: Case, *, backend: str = "scipy", timeout: float = 60.0) -> Outcome:
    """Simulate one case and compare with its expected results (fails after ``timeout`` s)."""
    if timeout and hasattr(signal, "SIGALRM"):
        def _alarm(signum, frame):
            raise _Timeout()
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return _run_case(case, backend)
        except _Timeout:
            return Outcome(case.id, case.core, "fail", f"timed out after {timeout:g} s", timeout)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return _run_case(case, backend)


def _run_case(case: Case, backend: str) -> Outcome:
    t_start = time.perf_counter()

    def done(status, reason=""):
        return Outcome(case.id, case.core, status, reason, time.perf_counter() - t_start)

    if case.test_type != "TimeCourse":
        return done("skip", f"test type {case.test_type} is not a time course")
    try:
        model = sim.load_model(case.model_path)
        expected = _read_results(case.folder / f"{case.id}-results.csv")
        t = expected["time"]
        options = SolverOptions(rtol=1e-10, atol=1e-16 + 1e-6 * case.absolute, max_steps=200_000)
        traj = sim.simulate(model, t, t0=case.start if case.start <= t[0] else t[0],
                            options=options, backend=backend)
    except UnsupportedFeatureError as err:
        return done("skip", f"unsupported: {'; '.join(err.problems)}")
    except _Timeout:
        raise
    except Exception as err:  # a case must report, not crash the run
        return done("error", f"{type(err).__name__}: {err}".replace("\n", " ")[:400])
    worst = (0.0, "", 0.0)
    for var in case.variables:
        col = expected[var]
        try:
            is_species = var in traj.species_compartment
            if var in case.amount and is_species:
                got = traj.amount(var)
            elif var in case.concentration and is_species:
                got = traj.concentration(var)
            else:
                got = traj[var]
        except KeyError as err:
            return done("fail", f"variable {var}: {err}")
        ok, ratio, when = _compare(col, got, t, case.absolute, case.relative)
        if not ok:
            return done("fail", f"{var} off at t={when:g}: expected {col[np.searchsorted(t, when)]!r}, "
                                f"got {got[np.searchsorted(t, when)]!r}")
        if ratio > worst[0]:
            worst = (ratio, var, when)
    return done("pass", f"worst error {worst[0]:.2g} of tolerance ({worst[1]})" if worst[1] else "")


def _read_results(path: Path) -> dict:
    """Expected results by column name; the first column is time (named time, Time, ...)."""
    with open(path) as fh:
        header = [h.strip() for h in fh.readline().split(",")]
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=float, ndmin=2)
    out = {"time": data[:, 0]}
    for k, name in enumerate(header[1:], start=1):
        out[name] = data[:, k]
    return out


def _compare(expected, got, t, absolute, relative):
    expected = np.asarray(expected, dtype=float)
    got = np.asarray(got, dtype=float)
    nan_e, nan_g = np.isnan(expected), np.isnan(got)
    inf_e = np.isinf(expected)
    bad = (nan_e != nan_g) | (inf_e & (expected != got))
    fin = ~nan_e & ~inf_e
    with np.errstate(all="ignore"):   # non-finite entries are judged above
        diff = np.abs(expected - got)
        err = diff / (absolute + relative * np.abs(expected))
    err = np.where(fin, err, 0.0)
    bad |= fin & ~(diff <= absolute + relative * np.abs(expected))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return False, float("inf"), float(t[i])
    i = int(np.argmax(err)) if err.size else 0
    return True, float(err[i]) if err.size else 0.0, float(t[i]) if t.size else 0.0


def _run_one(args):
    case, backend, timeout = args
    return run_case(case, backend=backend, timeout=timeout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.sbml_suite", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, default=None,
                    help=f"folder of cases (default ${ENV}, else ../shared/sbml-semantic)")
    ap.add_argument("--out", type=Path, default=Path("out/sbml-suite.csv"), help="per-case CSV with reasons")
    ap.add_argument("--backend", default="scipy", choices=["scipy", "compiled"])
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per case before it counts as failed")
    ap.add_argument("cases", nargs="*", help="case ids (default: all)")
    a = ap.parse_args(argv)
    try:
        cases = list_cases(a.suite)
    except FileNotFoundError as err:
        ap.error(str(err))
    if a.cases:
        wanted = {c.zfill(5) for c in a.cases}
        cases = [c for c in cases if c.id in wanted]
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        it = pool.map(_run_one, [(c, a.backend, a.timeout) for c in cases], chunksize=4)
        it = tqdm(it, total=len(cases), disable=not sys.stderr.isatty(), unit="case")
        outcomes = list(it)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "core", "status", "seconds", "reason"])
        for o in outcomes:
            w.writerow([o.case, int(o.core), o.status, f"{o.seconds:.3f}", o.reason])
    n = sum(o.status == "pass" for o in outcomes)
    core = [o for o in outcomes if o.core]
    nc = sum(o.status == "pass" for o in core)
    skipped = sum(o.status == "skip" for o in outcomes)
    print(f"passed {n} of {len(outcomes)} (core subset: {nc} of {len(core)}); "
          f"{skipped} skipped as unsupported; per-case results in {a.out}")
    return 0 if nc == len(core) else 1


if __name__ == "__main__":
    sys.exit(main())
