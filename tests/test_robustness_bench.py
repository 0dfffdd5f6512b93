"""benchmarks/robustness.py: its analysis of which parameters decide a fragile behaviour."""
import numpy as np
import pandas as pd

from benchmarks.robustness import deciders, report
from simulator.bundled.behaviors import BEHAVIORS


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a, b, c = (rng.uniform(-0.4, 0.4, n) for _ in range(3))
    return pd.DataFrame({"f:a": a, "f:b": b, "f:c": c,
                         "b01_e2_and_er": a > 0.1,          # holds when a is raised
                         "b01_e2_and_er#1": a > 0.1,
                         "b02_her2_tamoxifen": b < 0.0})    # holds when b is lowered


def test_deciders_find_the_parameter_that_decides_and_its_direction():
    table = _table()
    top = deciders(table, "b01_e2_and_er")
    assert top[0][0] == "a" and top[0][1] == 1.0        # a separates perfectly, upward
    assert abs(dict(top)["b"]) < 0.25                   # an unrelated factor scores near 0
    (first, r), *_ = deciders(table, "b02_her2_tamoxifen")
    assert first == "b" and r == -1.0


def test_deciders_of_a_behaviour_that_always_holds_are_empty():
    table = _table().assign(b01_e2_and_er=True)
    assert deciders(table, "b01_e2_and_er") == []


def test_report_names_the_deciders_of_behaviours_under_80_percent():
    table = _table()
    for name in BEHAVIORS:
        if name not in table:
            table[name] = True
    lines = {ln.split()[0]: ln for ln in report(table).splitlines()}
    assert " a +1.00" in lines["b01_e2_and_er"]                 # 38 % hold: explained
    assert lines["b03_everolimus_feedback"].split()[1] == "100.0%"
    assert lines["b03_everolimus_feedback"].rstrip().endswith("100.0%")   # no deciders
