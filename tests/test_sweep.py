"""sim.sweep and sim.sensitivity: agreement with single runs and libroadrunner, shapes,
parameter sets as dicts, lists and DataFrames, seeds, per-member failures, events, treatments."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.ensemble import chunks
from simulator.ensemble.chunks import MODEL_FAILURE, prepared
from simulator.ensemble.sampling import latin_hypercube, log_uniform
from simulator.errors import IntegrationError, InvalidValueError, UnknownIdError
from simulator.solvers.compiled import FAIL_STEP_SIZE

DECAY = """
model decay
  J1: A -> B; k1*A
  J2: B -> ; k2*B
  A = 10; B = 0; k1 = 0.5; k2 = 0.1
  B0 = 0
  total := A + B
end
"""

# dA/dt = k A^2 blows up at t = 1 / (k A0): members with k > 1/(A0 t_end) fail
BLOWUP = """
model blowup
  J1: -> A; k*A^2
  A = 1; k = 0.1
end
"""

EVENTS = """
model dosing
  J1: A -> ; k*A
  A = 1; k = 0.3
  E1: at time >= 2: A = A + dose
  dose = 5
end
"""

# an initial assignment that depends on a swept parameter
INITASSIGN = """
model ia
  J1: A -> ; k*A
  k = 0.2; scale = 3
  A = 2 * scale
end
"""


@pytest.fixture(scope="module")
def decay():
    return sim.load_model(DECAY)


T = np.linspace(0.0, 10.0, 21)
SCIPY = sim.SolverOptions(method="LSODA", rtol=1e-10, atol=1e-12)


def _close(a, b, rtol=1e-5, atol=1e-8):
    return np.all(np.abs(a - b) <= atol + rtol * np.abs(b))


def test_matches_scipy_per_member(decay):
    k1 = np.array([0.05, 0.5, 2.0, 7.0])
    ens = sim.sweep(decay, T, params={"k1": k1, "k2": 0.2}, readouts=["A", "B", "total"],
                    progress=False)
    assert ens.values.shape == (4, len(T), 3)
    for i, k in enumerate(k1):
        tr = sim.simulate(decay, T, params={"k1": k, "k2": 0.2}, backend="scipy", options=SCIPY)
        for r in ("A", "B", "total"):
            assert _close(ens[r][i], tr[r]), r
    # analytic A(t) = 10 exp(-k1 t)
    assert _close(ens["A"], 10 * np.exp(-np.outer(k1, T)), rtol=1e-5)
    assert ens.success.all() and len(ens.failures) == 0


def test_single_member_keeps_shapes(decay):
    ens = sim.sweep(decay, T, params={"k1": 0.3}, progress=False)
    assert len(ens) == 1
    assert ens["A"].shape == (1, len(T))
    assert ens.values.shape == (1, len(T), len(ens.readouts))
    assert set(ens.readouts) >= {"A", "B", "total"}
    tab = ens.table
    assert list(tab.columns[-3:]) == ["time", "id", "value"]
    assert len(tab) == len(T) * len(ens.readouts)
    ens0 = sim.sweep(decay, T, progress=False)          # no parameters at all: one member
    assert ens0["A"].shape == (1, len(T))


def test_grid_and_list_of_sets(decay):
    g = sim.sweep(decay, T, params={"k1": [0.1, 0.2], "k2": [0.3, 0.4, 0.5]}, grid=True,
                  readouts="B", progress=False)
    assert len(g) == 6
    assert g.params.shape == (6, 2)
    sets = [dict(zip(("k1", "k2"), row)) for row in g.params.to_numpy()]
    lst = sim.sweep(decay, T, params=sets, readouts="B", progress=False)
    np.testing.assert_array_equal(lst["B"], g["B"])
    with pytest.raises(InvalidValueError, match="different lengths"):
        sim.sweep(decay, T, params={"k1": [0.1, 0.2], "k2": [0.3, 0.4, 0.5]}, progress=False)
    table = g.params.reset_index(drop=True)             # a DataFrame: one member per row
    df = sim.sweep(decay, T, params=table, readouts="B", progress=False)
    np.testing.assert_array_equal(df["B"], g["B"])
    with pytest.raises(InvalidValueError, match="grid=True applies to a dict"):
        sim.sweep(decay, T, params=table, grid=True, progress=False)
    with pytest.raises(InvalidValueError, match="must hold numbers"):
        sim.sweep(decay, T, params=table.assign(k1="fast"), progress=False)


def test_seed_zero_reproducible_and_chunking_invariant(decay):
    s = latin_hypercube({"k1": (0.1, 2.0), "k2": (0.05, 1.0)}, 13, seed=0)
    a = sim.sweep(decay, T, samples=s, readouts=["A", "B"], progress=False)
    s2 = latin_hypercube({"k1": (0.1, 2.0), "k2": (0.05, 1.0)}, 13, seed=0)
    b = sim.sweep(decay, T, samples=s2, readouts=["A", "B"], chunk_size=4, progress=False)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.params.to_numpy(), s.values)


def test_failed_member_recorded_others_kept():
    m = sim.load_model(BLOWUP)
    k = np.array([0.1, 0.2, 5.0, 0.3])              # k = 5 blows up at t = 0.2
    t = np.linspace(0, 1, 11)
    ens = sim.sweep(m, t, params={"k": k}, readouts="A", progress=False)
    assert ens.success.tolist() == [True, True, False, True]
    assert len(ens.failures) == 1
    f = ens.failures.iloc[0]
    assert f["member"] == 2 and f["k"] == 5.0
    assert "A" in f["reason"] and "t =" in f["reason"]
    # the reference integrator (Radau) fails too: the model's failure, not ours
    assert f["status"] == MODEL_FAILURE
    assert f["reason"].startswith("model failure: step size became too small at t = 0.2, "
                                  "limited by state 'A'")
    assert "reference integrator (scipy Radau" in f["reason"]
    assert "running away there: 'A'" in f["reason"]
    assert not ens.fell_back.any() and len(ens.fallbacks) == 0
    assert ens.provenance["n_model_failures"] == 1 and ens.provenance["n_fell_back"] == 0
    assert np.isnan(ens["A"][2]).all()
    ok = ens["A"][[0, 1, 3]]
    assert _close(ok, 1.0 / (1.0 - np.outer(k[[0, 1, 3]], t)), rtol=1e-5)
    assert 2 not in set(ens.table["member"])
    with pytest.raises(IntegrationError, match="member 2"):
        sim.sweep(m, t, params={"k": k}, readouts="A", progress=False, on_failure="raise")


def test_non_finite_readout_fails_only_that_member():
    m = sim.load_model("model m\n J: -> A; 1\n A = a0; a0 = 1\n r := log(A)\nend")
    t = np.array([0.0, 1.0, 2.0])
    ens = sim.sweep(m, t, params={"a0": np.array([1.0, 0.0, 2.0])}, readouts=["r", "A"],
                    progress=False)
    assert ens.success.tolist() == [True, False, True]
    reason = ens.failures.iloc[0]["reason"]
    assert "'r'" in reason and "t = 0" in reason and "'A'" not in reason
    assert _close(ens["r"][[0, 2]], np.log(np.array([[1.0], [2.0]]) + t), rtol=1e-6)


def test_events_follow_driver_semantics():
    m = sim.load_model(EVENTS)
    t = np.linspace(0.0, 5.0, 11)
    ks = np.array([0.1, 0.3, 1.0])
    ens = sim.sweep(m, t, params={"k": ks, "dose": [1.0, 5.0, 0.0]}, readouts="A", progress=False)
    for i, (k, d) in enumerate(zip(ks, [1.0, 5.0, 0.0])):
        ref = np.exp(-k * t) + np.where(t >= 2.0, d * np.exp(-k * (t - 2.0)), 0.0)
        assert _close(ens["A"][i], ref, rtol=1e-5), i


def test_batch_initial_values_follow_initial_assignments():
    m = sim.load_model(INITASSIGN)
    ens = sim.sweep(m, [0.0, 1.0], params={"scale": [1.0, 2.0, 4.0]}, readouts="A",
                    progress=False)
    np.testing.assert_allclose(ens["A"][:, 0], [2.0, 4.0, 8.0])
    np.testing.assert_allclose(ens["A"][:, 1], np.array([2.0, 4.0, 8.0]) * np.exp(-0.2), rtol=1e-5)


def test_bad_ids_are_typed_errors(decay):
    with pytest.raises(UnknownIdError, match="'k11'.*did you mean 'k1'"):
        sim.sweep(decay, T, params={"k11": [1.0]}, progress=False)
    with pytest.raises(UnknownIdError, match="'totl'"):
        sim.sweep(decay, T, params={"k1": [1.0]}, readouts=["totl"], progress=False)
    with pytest.raises(InvalidValueError, match="not finite"):
        sim.sweep(decay, T, params={"k1": [1.0, np.nan]}, progress=False)


def test_sensitivity_ranks_the_parameter_that_matters(decay):
    res = sim.sensitivity(decay, readout="A", params=["k1", "k2"], n=64, at_time=2.0, seed=0)
    assert list(res.table["parameter"]) == ["k1", "k2"]
    assert res.table.loc[0, "ST"] > 0.9 and abs(res.table.loc[1, "ST"]) < 0.02
    again = sim.sensitivity(decay, readout="A", params=["k1", "k2"], n=64, at_time=2.0, seed=0)
    np.testing.assert_array_equal(res.Y, again.Y)
    mor = sim.sensitivity(decay, readout="A", params="all", n=8, method="morris", at_time=2.0)
    assert mor.table.loc[0, "parameter"] == "k1"
    import matplotlib
    matplotlib.use("Agg")
    assert mor.plot() is not None


@pytest.fixture(scope="module")
def bundled():
    return sim.load_model()


def test_bundled_model_matches_libroadrunner_and_single_runs(bundled):
    t = np.linspace(0.0, 48.0, 13)
    base = {p.id: p.value for p in bundled.parameters if p.value and p.value > 0}
    s = log_uniform(dict(list(sorted(base.items()))[:12]), 2.0, 3, seed=0)
    ph = np.array([None, "LTED", ("HER2_amplified", "PIK3CA_mutant")], dtype=object)
    species = ["pS6", "pAkt_S473"]
    ens = sim.sweep(bundled, t, samples=s, phenotype=ph, drugs={"everolimus": [0.0, 5.0, 50.0]}
                    if "everolimus" in bundled.parameter_ids else None,
                    readouts=species, progress=False)
    assert ens.success.all()
    rows = s.as_dicts()
    drugs = [0.0, 5.0, 50.0]
    for i in range(3):
        tr = sim.simulate(bundled, t, params=rows[i],
                          phenotype=None if ph[i] is None else
                          ([ph[i]] if isinstance(ph[i], str) else list(ph[i])),
                          drugs={"everolimus": drugs[i]} if "everolimus" in bundled.parameter_ids
                          else None, backend="scipy",
                          options=sim.SolverOptions(method="LSODA", rtol=1e-9, atol=1e-12))
        for r in species:
            assert _close(ens[r][i], tr[r], rtol=1e-4, atol=1e-6), (i, r)
    # libroadrunner on member 0 (no phenotype, no drug): read after libsbml has loaded
    from simulator.bundled import MODEL_ANT
    from tests.conftest import roadrunner_from   # roadrunner itself, not tellurium (see conftest)
    rr = roadrunner_from(MODEL_ANT.read_text())
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    for k, v in rows[0].items():
        rr[k] = v
    rr.timeCourseSelections = ["time"] + [f"[{x}]" if x in bundled.species_ids else x
                                          for x in species]
    out = np.asarray(rr.simulate(0.0, 48.0, 13))
    for j, r in enumerate(species):
        assert _close(ens[r][0], out[:, j + 1], rtol=1e-4, atol=1e-6), r


def test_a_model_without_states_sweeps():
    """Nothing to integrate: every member's readouts come from its parameters (was: every
    member failed after max_steps)."""
    m = sim.load_model("model m\n y = 0.5\n x := y*2\nend")
    ens = sim.sweep(m, [0.0, 1.0], params={"y": [0.1, 0.2]}, readouts="x", progress=False)
    np.testing.assert_allclose(ens["x"], [[0.2, 0.2], [0.4, 0.4]])
    assert ens.success.all()


@pytest.mark.parametrize("model", [
    "model m\n y = 0.5\n x := y*2\n E: at time > 0.5: y = 7\nend",
    "model m\n y = 0.5\n x := y*2\n A = 1; A -> ; y*A\n E: at time > 0.5: y = 7\nend",
])
def test_readouts_see_parameters_that_events_change(model):
    """Readouts of members whose events assign parameters use the values in force at each
    output time, as simulate does (were the start values)."""
    m = sim.load_model(model)
    t = np.linspace(0.0, 1.0, 5)
    ens = sim.sweep(m, t, params={"y": [0.1, 0.2]}, readouts=["x", "y"], progress=False)
    for i, y in enumerate([0.1, 0.2]):
        tr = sim.simulate(m, t, params={"y": y})
        np.testing.assert_allclose(ens["x"][i], tr["x"], rtol=1e-9)
        np.testing.assert_allclose(ens["y"][i], tr["y"], rtol=1e-9)


# ----------------------------------------------------------------------------------------
# members the compiled integrator fails on: the reference integrator decides whose failure


def _compiled_fails_on(monkeypatch, members):
    """The compiled ensemble integrators (one member at a time, and on lanes) report a
    step-size failure for chunk rows ``members`` (a stand-in for a failure of ours that the
    reference does not share)."""
    for name in ("integrate_many", "integrate_many_lanes"):
        integrate = getattr(chunks, name)

        def failing(*a, integrate=integrate, **kw):
            res = integrate(*a, **kw)
            res["status"] = res["status"].copy()
            res["status"][members] = FAIL_STEP_SIZE
            return res
        monkeypatch.setattr(chunks, name, failing)


def test_member_our_integrator_fails_on_falls_back_to_the_reference(decay, monkeypatch,
                                                                    tmp_path):
    pytest.importorskip("pyarrow")
    k1 = np.array([0.05, 0.5, 2.0, 7.0])
    ref = sim.sweep(decay, T, params={"k1": k1}, readouts=["A", "B"], progress=False)
    _compiled_fails_on(monkeypatch, [1])
    ens = sim.sweep(decay, T, params={"k1": k1}, readouts=["A", "B"], progress=False,
                    store=tmp_path / "s")
    assert ens.success.all() and len(ens.failures) == 0
    assert ens.fell_back.tolist() == [False, True, False, False]
    assert ens.fallbacks["member"].tolist() == [1] and ens.fallbacks["k1"].tolist() == [0.5]
    assert ens.fallbacks["reason"][0].startswith("compiled integrator: step size became too small")
    assert ens.provenance["n_fell_back"] == 1 and ens.provenance["fallback"]["method"] == "Radau"
    np.testing.assert_array_equal(ens.values[[0, 2, 3]], ref.values[[0, 2, 3]])
    assert _close(ens["A"][1], 10 * np.exp(-0.5 * T), rtol=1e-5)       # Radau at rtol 1e-6
    # the store keeps which members fell back
    again = sim.sweep(decay, T, params={"k1": k1}, readouts=["A", "B"], progress=False,
                      store=tmp_path / "s")
    np.testing.assert_array_equal(again.values, ens.values)
    np.testing.assert_array_equal(again.fell_back, ens.fell_back)
    # without the fallback the compiled failure is recorded as is
    off = sim.sweep(decay, T, params={"k1": k1}, readouts=["A", "B"], progress=False,
                    fallback=False)
    assert off.success.tolist() == [True, False, True, True]
    assert off.failures["status"].tolist() == [FAIL_STEP_SIZE] and not off.fell_back.any()
    with pytest.raises(InvalidValueError, match="fallback must be"):
        sim.sweep(decay, T, params={"k1": k1}, fallback=sim.SolverOptions(), progress=False)


def test_bundled_model_failure_at_fold_3_is_the_models(bundled):
    """Member 4846 of the ×/÷3 benchmark draw (benchmarks/ensemble.py, seed 0; model v2
    with the IRS1_expression switch, which joined the draw in session 14; it was member
    3758 before, 1158 before the robustness centring, 3993 before AKTi_protection, 1253
    without erlotinib's IC50 and 8147 in model v1's draw): the MAPK cascade runs away, TSC2_p
    goes negative, and the step size collapses on Raf_active at t = 28.39 h (23.16 h before
    the receptors' measured turnover, session 17); Radau fails there too."""
    used = {prepared(bundled).system.param_ids[j] for j in prepared(bundled).used_params}
    swept = {p.id: p.value for p in bundled.parameters
             if p.id in used and p.value is not None and np.isfinite(p.value) and p.value > 0}
    rows = log_uniform(swept, 3.0, 10_000, seed=0).as_dicts()
    t = np.linspace(0.0, 1000.0, 200)
    ens = sim.sweep(bundled, t, params=[rows[4846], rows[0]], readouts=["pS6"], progress=False)
    assert ens.success.tolist() == [False, True]
    f = ens.failures.iloc[0]
    assert f["status"] == MODEL_FAILURE
    assert f["reason"].startswith("model failure: step size became too small at t = 28.39")
    assert "limited by state 'Raf_active'" in f["reason"]
    assert "reference integrator (scipy Radau" in f["reason"] and "'TSC2_p'" in f["reason"]
    # a reference whose LU refuses the non-finite Jacobian (BDF) is a failure too, not a crash
    bdf = sim.sweep(bundled, t, params=[rows[4846]], readouts=["pS6"], progress=False,
                    fallback=sim.SolverOptions(method="BDF", rtol=1e-10, atol=1e-14))
    assert bdf.failures["status"].tolist() == [MODEL_FAILURE]


def test_reference_meeting_a_non_finite_jacobian_reports_a_model_failure():
    """sqrt(A) past A = 0: scipy's Radau refuses the NaN Jacobian (a ValueError inside
    scipy); the backend reports it as a failure, and the sweep as the model's."""
    m = sim.load_model("model sq\n J1: A -> ; k*sqrt(A)\n A = 1; k = 1\nend")
    t = np.linspace(0.0, 5.0, 11)
    with pytest.raises(IntegrationError, match="Jacobian became non-finite"):
        sim.simulate(m, t, backend="scipy", options=sim.SolverOptions(method="Radau"))
    ens = sim.sweep(m, t, params={"k": [1.0, 0.1]}, readouts="A", progress=False)
    assert ens.success.tolist() == [False, True]
    assert ens.failures["status"].tolist() == [MODEL_FAILURE]
    assert "Jacobian became non-finite" in ens.failures["reason"][0]
    assert _close(ens["A"][1], (1 - 0.05 * t) ** 2, rtol=1e-5)
