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
