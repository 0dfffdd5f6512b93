"""SBML Test Suite semantic cases, read in place from ../shared/sbml-semantic (or
$CROSSTALK_SBML_SUITE); each test skips naming the folder when it is missing.

Each case uses its own settings (times, tolerances, amount/concentration). Unsupported
cases are skipped with the reason, never counted as passes. The reference backend (scipy)
runs every case; the compiled backend runs a sample of the core subset.
"""
from __future__ import annotations

import re

import pytest

from tests.sbml_suite import default_suite_dir, list_cases, run_case, suite_dir

SUITE = default_suite_dir()
try:
    CASES = list_cases(suite_dir(SUITE))
    MISSING = ""
except FileNotFoundError as err:
    CASES, MISSING = [], str(err)

# Cases we know we fail, with the reason (AMICI's testSBMLSuite keeps such a list too).
KNOWN_FAILURES: dict[str, str] = {}

# Cases too long for the test budget; `make sbml-suite` runs them (it passes, in ~2-3 min).
# a hang guard, not a speed target: the scipy reference backend takes 50-62 s on the
# event-priority cases 01590, 01599, 01605 and 01626 on the 2-core machine, so a 60-s
# limit failed them whenever the machine was slow
REFERENCE_TIMEOUT_S = 240.0
TOO_SLOW_FOR_MAKE_TEST = {
    "00966": "100,000 event executions (random-order chi-squared check); run by make sbml-suite",
}


def _params(cases):
    """The cases as parameters; one that skips naming the folder when there are none (never
    zero tests that pass silently)."""
    if not cases:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-suite")]
    return [pytest.param(c, id=c.id) for c in cases]


def _missing_external_files(case) -> list[str]:
    """comp external model files the case's model names that its folder lacks (this copy of
    the suite leaves some out)."""
    text = case.model_path.read_text(errors="replace")
    names = set(re.findall(r'<comp:externalModelDefinition[^>]*\scomp:source="([^"]+)"', text))
    return sorted(n for n in names if not (case.folder / n).exists())


@pytest.mark.sbml_suite
@pytest.mark.parametrize("case", _params(CASES))
def test_case_reference_backend(case):
    if case.id in TOO_SLOW_FOR_MAKE_TEST:
        pytest.skip(TOO_SLOW_FOR_MAKE_TEST[case.id])
    if case.id in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case.id])
    out = run_case(case, backend="scipy", timeout=REFERENCE_TIMEOUT_S)
    missing = _missing_external_files(case)
    if missing:  # cannot be simulated here: the error must say which file is missing
        assert out.status == "error" and all(m in out.reason for m in missing), out.reason
        return
    if out.status == "skip":
        pytest.skip(out.reason)
    assert out.status == "pass", f"case {case.id}: {out.reason}"


COMPILED_SAMPLE = [c for c in CASES if c.core][::6]


@pytest.mark.sbml_suite
@pytest.mark.parametrize("case", _params(COMPILED_SAMPLE))
def test_case_compiled_backend(case):
    if case.id in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case.id])
    out = run_case(case, backend="compiled")
    if out.status == "skip":
        pytest.skip(out.reason)
    assert out.status == "pass", f"case {case.id}: {out.reason}"
