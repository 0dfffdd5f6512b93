"""PEtab references read in place from ../shared/petab: every test-suite case (llh, chi2 and
simulations within the case's own tolerances) and every benchmark problem's log-likelihood at
its nominal parameters (AMICI's criterion ``|llh - ref| <= 1e-3 + 1e-3 |ref|``).

Folders are discovered, not listed; a missing folder skips naming it, never zero tests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import simulator as sim

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "petab"
SUITE = SHARED / "test-suite" / "v1.0.0"
BENCHMARK = SHARED / "benchmark"


def _params(folder: Path, pattern: str):
    cases = sorted(p for p in folder.glob(pattern)) if folder.is_dir() else []
    if not cases:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no PEtab cases in {folder} (the shared folder is missing)"), id="missing")]
    return [pytest.param(p, id=p.parent.name) for p in cases]


@pytest.mark.parametrize("yaml_path", _params(SUITE, "*/_*[0-9].yaml"))
def test_petab_suite_case(yaml_path):
    case = yaml_path.parent
    sol = yaml.safe_load((case / f"_{case.name}_solution.yaml").read_text())
    problem = sim.load_petab(yaml_path)
    llh = -problem.nllh(prior=False, strict=True)
    chi2 = problem.chi2(strict=True)
    ours = problem.simulate()
    ref = pd.concat([pd.read_csv(case / f, sep="\t") for f in sol["simulation_files"]],
                    ignore_index=True)
    assert len(ours) == len(ref)
    assert abs(llh - sol["llh"]) <= sol["tol_llh"], (llh, sol["llh"])
    assert abs(chi2 - sol["chi2"]) <= sol["tol_chi2"], (chi2, sol["chi2"])
    np.testing.assert_allclose(ours["simulation"].to_numpy(), ref["simulation"].to_numpy(),
                               rtol=0, atol=sol["tol_simulations"])


def _reference():
    path = BENCHMARK / "reference.tsv"
    return pd.read_csv(path, sep="\t").set_index("model")["llh"] if path.is_file() else None


@pytest.mark.parametrize("yaml_path", _params(BENCHMARK, "*/*.yaml"))
def test_benchmark_llh_at_nominal_parameters(yaml_path):
    ref = _reference()
    name = yaml_path.parent.name
    assert ref is not None and name in ref.index, f"{name} has no reference llh"
    llh = -sim.load_petab(yaml_path).nllh(prior=False, strict=True)
    assert abs(llh - ref[name]) <= 1e-3 + 1e-3 * abs(ref[name]), (llh, ref[name])
