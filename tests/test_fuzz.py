"""Seeded fuzzing within `make test`: mutated SBML, Antimony, catalogues and command lines
(tests/fuzzing.py) each end in a result or a typed error; never an untyped exception, a
crash or a hang. `make fuzz` runs the long campaign (10,000 inputs)."""
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator as sim
from simulator import cli, conditions
from simulator.api import compile_model
from simulator.io import read_catalog
from tests import fuzzing

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def test_seeded_inputs_end_in_results_or_typed_errors():
    report = fuzzing.campaign(fuzzing.cases(240, seed=0), workers=2, timeout=30.0)
    assert sum(report.counts.values()) == 240
    assert report.counts["ok"] > 0 and report.counts["typed"] > 0      # the mutations bite
    assert not report.findings, report.findings[:3]


def test_the_harness_reports_crashes_hangs_and_untyped_errors():
    todo = [{"id": i, "kind": "selftest", "action": a}
            for i, a in enumerate(["raise", "crash", "hang", "raise"])]
    report = fuzzing.campaign(todo, workers=2, timeout=2.0)
    assert report.counts == {"untyped": 2, "crashed": 1, "hung": 1}
    assert {o for _, o, _ in report.findings} == {"untyped", "crashed", "hung"}


TOY = sim.load_model("model toy\n  drug = 0; k = 0.5\n  X = 1\n  J: X -> ; k*X*(1 + drug)\nend")
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=4),
                   st.none(), st.booleans(), st.lists(st.floats(), max_size=3))
IDS = st.one_of(st.sampled_from(["k", "drug", "X", "J", "toy", "compartment"]), st.text(max_size=6))


@SETTINGS
@given(params=st.dictionaries(IDS, VALUES, max_size=3),
       initial=st.dictionaries(IDS, VALUES, max_size=3),
       drugs=st.dictionaries(IDS, VALUES, max_size=2),
       phenotype=st.one_of(st.none(), st.text(max_size=5), st.lists(st.text(max_size=3))))
def test_any_conditions_are_accepted_or_refused_with_a_typed_error(params, initial, drugs,
                                                                   phenotype):
    system = compile_model(TOY).system
    try:
        out = conditions.overrides(TOY, system, params=params, initial=initial, drugs=drugs,
                                   phenotype=phenotype)
    except sim.SimulatorError as err:
        assert str(err)
        return
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_catalogue_text_is_read_or_refused_with_a_typed_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            read_catalog(path)
        except sim.ModelImportError as err:
            assert str(path) in str(err)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(argv=st.lists(st.one_of(st.sampled_from(fuzzing.CLI_WORDS), st.text(max_size=5)),
                     min_size=1, max_size=6))
def test_any_command_line_exits_with_a_documented_code(argv, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli")
    try:
        code = cli.main([*argv, "--out", str(out)])
    except SystemExit as err:                  # argparse: usage errors, --help, --version
        assert err.code in (0, 2)
        return
    assert code in (0, 1, 2, 3, 4)
