"""benchmarks/trials_mapping.py: its arguments and its NEWEST input."""
import argparse

import pytest

import simulator as sim
from benchmarks.trials_mapping import NEWEST, main, thresholds


def test_thresholds_are_parsed_and_checked():
    assert thresholds("0,0.1,0.8") == [0.0, 0.1, 0.8]
    for bad in ("1", "-0.1", "x", "0.2,,0.3"):
        with pytest.raises(argparse.ArgumentTypeError):
            thresholds(bad)
    with pytest.raises(SystemExit) as err:
        main(["--patients", "0"])
    assert err.value.code == 2


def test_newest_reads_with_its_published_response_rates():
    tr = sim.Trial.from_toml(NEWEST)
    assert tr.population.prior == {"none": 1.0}
    assert tr.published.orr == {"control": 0.206, "experimental": 0.229}
    assert {d for a in tr.arms.values() for d in a.drugs} == {"fulvestrant"}
