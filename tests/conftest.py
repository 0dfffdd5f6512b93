"""Shared test helpers.

libroadrunner is the independent reference. It is loaded directly (not through tellurium):
tellurium imports libsedml, whose SWIG wrappers take over libsbml's ASTNode proxies in the
same process and break MathML conversion.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def roadrunner_from(text: str):
    """A libroadrunner instance for an Antimony or SBML text."""
    roadrunner = pytest.importorskip("roadrunner")
    from simulator.io.antimony import antimony_to_sbml
    sbml = text if text.lstrip().startswith("<") else antimony_to_sbml(text, "<test>")
    return roadrunner.RoadRunner(sbml)


def roadrunner_trajectory(text: str, t, ids, *, rtol: float = 1e-10, atol: float = 1e-14) -> dict:
    """libroadrunner's values of ``ids`` at the evenly spaced times ``t`` (species as
    concentrations), tight tolerances by default: the reference for trajectory tests."""
    import numpy as np
    r = roadrunner_from(text)
    r.integrator.relative_tolerance = rtol
    r.integrator.absolute_tolerance = atol
    species = set(r.model.getFloatingSpeciesIds()) | set(r.model.getBoundarySpeciesIds())
    r.timeCourseSelections = ["time"] + [f"[{i}]" if i in species else i for i in ids]
    out = r.simulate(float(t[0]), float(t[-1]), len(t))
    return {i: np.asarray(out[:, k + 1]) for k, i in enumerate(ids)}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Name the test that brings libsedml (tellurium) into a worker: every later test in
    that process would otherwise fail with an unrelated-looking SWIG error."""
    import sys
    before = "libsedml" in sys.modules
    yield
    if not before and "libsedml" in sys.modules:
        pytest.fail(f"{item.nodeid} imported libsedml (tellurium?) in-process; it breaks "
                    "libsbml's ASTNode proxies for the rest of this worker")
