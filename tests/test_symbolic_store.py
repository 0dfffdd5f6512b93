"""The store of models and systems on disk (simulator/symbolic_store.py): what it loads is the
object it kept, node for node, without sympy evaluating anything; a miss builds again."""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy
from sympy import srepr

import simulator as sim
from simulator import symbolic_store
from simulator.errors import ModelImportError, ModelWarning
from simulator.io import sbml
from simulator.io.bundled import BUNDLED_SBML, models_dir
from simulator.io.limits import ImportLimits
from simulator.semantics import build_system

SUITE = Path(__file__).resolve().parents[2] / "shared" / "sbml-semantic"


def _expressions(obj):
    """Every sympy expression reachable in a model or system, in a fixed order (public
    attributes only: an initializer's caches are rebuilt, not kept)."""
    seen, out, todo = set(), [], [obj]
    while todo:
        x = todo.pop()
        if isinstance(x, sympy.Basic):
            out.append(x)
        elif isinstance(x, dict):
            todo.extend(reversed([*x.keys(), *x.values()]))
        elif isinstance(x, (tuple, list, frozenset, set)):
            todo.extend(reversed(sorted(x, key=repr) if isinstance(x, (set, frozenset)) else x))
        elif hasattr(x, "__dict__") and id(x) not in seen and not isinstance(x, type):
            seen.add(id(x))
            todo.extend(reversed([v for k, v in vars(x).items() if not k.startswith("_")]))
    return out


def _same(a, b) -> None:
    ea, eb = _expressions(a), _expressions(b)
    assert len(ea) == len(eb) > 0
    for x, y in zip(ea, eb):
        assert x == y and hash(x) == hash(y) and srepr(x) == srepr(y), srepr(x)[:200]


def _round_trip(path: str):
    model = sim.load_model(path)
    system = build_system(model)
    again = symbolic_store.loads(symbolic_store.dumps(model))
    assert again == model and again.sbml == model.sbml
    _same(model, again)
    kept = symbolic_store.loads(symbolic_store.dumps(system))
    assert kept.state_ids == system.state_ids and kept.param_ids == system.param_ids
    _same(system, kept)
    y0, p0 = system.init.values({}, 0.0)
    y1, p1 = kept.init.values({}, 0.0)
    np.testing.assert_array_equal(np.nan_to_num(y0, nan=-7.0), np.nan_to_num(y1, nan=-7.0))
    np.testing.assert_array_equal(np.nan_to_num(p0, nan=-7.0), np.nan_to_num(p1, nan=-7.0))


def test_the_bundled_model_and_system_come_back_node_for_node():
    _round_trip(str(models_dir() / BUNDLED_SBML))


def _suite_sample():
    if not SUITE.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"the SBML test suite folder {SUITE} is missing"))]
    cases = sorted(SUITE.glob("*/*-sbml-l3v2.xml")) or sorted(SUITE.glob("*/*-sbml-*.xml"))
    assert cases, f"no SBML files under {SUITE}"
    return [str(c) for c in cases[::23]]          # ~60 cases spread over the whole suite


@pytest.mark.parametrize("path", _suite_sample())
def test_suite_models_come_back_node_for_node(path):
    try:
        _round_trip(path)
    except (sim.ModelError, NotImplementedError) as err:     # refused models keep nothing
        pytest.skip(f"not simulated: {type(err).__name__}")


def test_loading_evaluates_nothing(monkeypatch):
    """The point of the store: no sympy constructor runs its canonicalisation."""
    system = build_system(sim.load_model())
    data = symbolic_store.dumps(system)

    def refuse(*args, **kwargs):
        raise AssertionError("a stored expression was re-evaluated")

    for cls in (sympy.Add, sympy.Mul):
        monkeypatch.setattr(cls, "flatten", classmethod(refuse))
    monkeypatch.setattr(sympy.Pow, "__new__", refuse)
    assert symbolic_store.loads(data).rhs == system.rhs


def test_a_second_read_comes_from_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    text = (models_dir() / BUNDLED_SBML).read_text()
    first = sbml.read_sbml_string(text, source="a.xml")
    assert list((tmp_path / "symbolic").glob("model_*.pickle"))

    def no_reading(*args):
        raise AssertionError("read again")

    monkeypatch.setattr(sbml, "_read", no_reading)
    second = sbml.read_sbml_string(text, source="b.xml")
    assert replace(second, source="a.xml") == first and second.source == "b.xml"
    assert second.hash == first.hash
    with pytest.raises(AssertionError, match="read again"):   # other text: a miss
        sbml.read_sbml_string(text.replace("<model ", "<model name=\"renamed\" ", 1))


def test_a_stored_read_skips_the_limits_scan_only_under_limits_no_tighter(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    text = (models_dir() / BUNDLED_SBML).read_text()
    first = sbml.read_sbml_string(text)
    scans = []
    check = sbml.check_sbml_text
    monkeypatch.setattr(sbml, "check_sbml_text", lambda *a: scans.append(a) or check(*a))
    assert sbml.read_sbml_string(text) == first and not scans
    assert sbml.read_sbml_string(text, limits=ImportLimits(max_elements=10 ** 7)) == first
    assert not scans                                        # looser: nothing to check
    with pytest.raises(ModelImportError, match="max_elements"):
        sbml.read_sbml_string(text, limits=ImportLimits(max_elements=10))
    assert len(scans) == 1                                  # tighter: checked, and refused


def test_a_read_that_warns_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    text = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="m">
    <listOfParameters><parameter id="x" value="1" constant="false"/></listOfParameters>
    <listOfRules><algebraicRule/></listOfRules>
  </model>
</sbml>"""
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sbml.read_sbml_string(text)
        assert any(issubclass(w.category, ModelWarning) for w in caught)
    assert not list((tmp_path / "symbolic").glob("model_*.pickle"))


def test_a_corrupt_or_unwritable_store_only_costs_a_rebuild(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    symbolic_store.keep("system", "k", {"x": sympy.Symbol("x") + 1})
    assert symbolic_store.fetch("system", "k") == {"x": sympy.Symbol("x") + 1}
    (tmp_path / "symbolic" / "system_k.pickle").write_bytes(b"not a pickle")
    assert symbolic_store.fetch("system", "k") is None
    assert symbolic_store.fetch("system", "absent") is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(blocker))     # a file, not a folder
    symbolic_store.keep("system", "k", 1)                       # no error
    assert symbolic_store.fetch("system", "k") is None


def test_keys_follow_their_parts():
    assert symbolic_store.key("a", "b") == symbolic_store.key("a", "b")
    assert symbolic_store.key("a", "b") != symbolic_store.key("a", "c")
    assert symbolic_store.key("ab") != symbolic_store.key("a", "b")
