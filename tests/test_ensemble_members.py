"""A parameter ensemble (a calibration's posterior) through ``sim.simulate`` and
``sim.run_treatment``: each member as its own single run would give it."""
import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.api import simulate as simulate_one
from simulator.ensemble.chunks import NO_STEADY_STATE
from simulator.errors import IntegrationError, InvalidValueError, UnknownIdError
from simulator.treatments import protocol

T = [0.0, 6.0, 24.0]
MEMBERS = pd.DataFrame({"kdp_S6K1": [1.0, 2.0, 3.0], "k_mTORC1_act": [1.0, 1.5, 0.7]})


@pytest.fixture(scope="module")
def model():
    return sim.load_model()


def test_run_treatment_gives_each_member_its_own_steady_state_then_the_treatment(model):
    ens = sim.run_treatment(model, {"everolimus": 1.0}, T, params=MEMBERS)
    assert isinstance(ens, sim.Ensemble) and ens.success.all()
    assert ens.provenance["equilibration"] == [True, True, True]
    assert list(ens.params.columns) == ["kdp_S6K1", "k_mTORC1_act"]   # not the start states
    for i, row in MEMBERS.iterrows():
        one = protocol.run_treatment(model, {"everolimus": 1.0}, T, params=row.to_dict())
        np.testing.assert_allclose(ens["pS6"][i], one["pS6"], rtol=1e-5)
        np.testing.assert_allclose(ens["pAkt_S473"][i], one["pAkt_S473"], rtol=1e-5)
    # the members differ: an ensemble from one shared start would not be at rest at t = 0
    assert np.ptp(ens["pS6"][:, 0]) > 0.1 * ens["pS6"][:, 0].mean()


def test_an_ensemble_leaves_the_cache_of_start_states_alone(model):
    protocol._STATES.clear()
    sim.run_treatment(model, {"everolimus": 1.0}, T, params=MEMBERS)
    assert len(protocol._STATES) == 0
    protocol.run_treatment(model, {"everolimus": 1.0}, T, params={"kdp_S6K1": 2.0})
    assert len(protocol._STATES) == 1


def test_simulate_runs_a_list_of_parameter_sets_as_a_sweep(model):
    sets = [{"kdp_S6K1": 1.0}, {"kdp_S6K1": 4.0}]
    ens = sim.simulate(model, T, params=sets, drugs={"everolimus": 1.0})
    assert isinstance(ens, sim.Ensemble) and len(ens) == 2
    for i, p in enumerate(sets):
        one = simulate_one(model, T, params=p, drugs={"everolimus": 1.0})
        np.testing.assert_allclose(ens["pS6"][i], one["pS6"], rtol=1e-5)
    # a dict is still one run
    assert isinstance(sim.simulate(model, T, params={"kdp_S6K1": 1.0}), sim.Trajectory)


def test_a_member_without_a_steady_state_is_reported_not_run_and_the_rest_kept(model,
                                                                                  monkeypatch):
    real = protocol.untreated_state

    def failing(m, *, params=None, **kw):
        if params.get("kdp_S6K1") == 2.0:
            raise IntegrationError("Newton and the long integration both failed")
        return real(m, params=params, **kw)

    monkeypatch.setattr(protocol, "untreated_state", failing)
    ens = sim.run_treatment(model, {"everolimus": 1.0}, T, params=MEMBERS)
    assert list(ens.success) == [True, False, True] and ens.nsteps[1] == 0   # not run
    assert np.isnan(ens["pS6"][1]).all() and np.isfinite(ens["pS6"][[0, 2]]).all()
    for i in (0, 2):                                  # the others as their own runs give them
        one = real(model, params=MEMBERS.iloc[i].to_dict())[0]
        assert ens["pS6"][i, 0] == pytest.approx(one["pS6"], rel=1e-6)
    assert list(ens.failures["member"]) == [1]
    row = ens.failures.iloc[0]
    assert row["kdp_S6K1"] == 2.0 and row["k_mTORC1_act"] == 1.5
    assert row["status"] == NO_STEADY_STATE
    assert "untreated steady state failed" in row["reason"]
    assert ens.provenance["equilibration"] == [True, None, True]
    with pytest.raises(IntegrationError):
        sim.run_treatment(model, {"everolimus": 1.0}, T, params=MEMBERS, on_failure="raise")


def test_a_scheduled_treatment_runs_per_member_as_the_single_protocol(model):
    dose = sim.Dose(500.0, "mg", sim.Schedule.loading([0.0, 336.0], then_every=672.0))
    treatment = sim.Treatment({"fulvestrant": dose})
    t = np.linspace(0.0, 800.0, 9)
    ens = sim.run_treatment(model, treatment, t, params=MEMBERS.iloc[:2],
                            phenotype="ESR1_mutant")
    for i in range(2):
        one = protocol.run_treatment(model, treatment, t, params=MEMBERS.iloc[i].to_dict(),
                                     phenotype="ESR1_mutant")
        np.testing.assert_allclose(ens["ER_total"][i], one["ER_total"], rtol=1e-6)
    assert ens["fulvestrant"][:, -1].max() > 0


@pytest.mark.parametrize("call, words", [
    (lambda m: sim.simulate(m, T, params=MEMBERS, sensitivities=["kdp_S6K1"]),
     "one by one"),
    (lambda m: sim.simulate(m, T, params=MEMBERS, backend="scipy"), "backend"),
    (lambda m: sim.run_treatment(m, {}, T, params=MEMBERS, initial={"pS6": 1.0}),
     "own untreated steady state"),
    (lambda m: sim.run_treatment(m, {}, T, params=MEMBERS, on_failure="return"),
     "on_failure"),
    (lambda m: sim.run_treatment(m, {}, T, params=[{1: 2.0}]), "not a string"),
    (lambda m: sim.run_treatment(m, {}, T, params=[{"kdp_S6K1": "fast"}]),
     "member 0: kdp_S6K1 = 'fast' is not a finite number"),
    (lambda m: sim.untreated_state(m, params=MEMBERS), "sim.run_treatment takes an ensemble"),
])
def test_what_an_ensemble_cannot_do_is_a_clear_error(model, call, words):
    with pytest.raises(InvalidValueError, match=words):
        call(model)


def test_dose_response_over_an_ensemble_gives_each_member_and_the_band(model):
    doses = [0.1, 1.0, 10.0, 100.0]
    members = MEMBERS.iloc[:2]
    edr = sim.dose_response(model, "everolimus", doses, readout="pS6", at_time=24.0,
                            params=members, normalize="percent_of_control")
    assert len(edr.members) == 2 and edr.failures.empty
    for i, row in members.iterrows():
        one = sim.dose_response(model, "everolimus", doses, readout="pS6", at_time=24.0,
                                params=row.to_dict(), normalize="percent_of_control")
        np.testing.assert_allclose(edr.members[i].response, one.response, rtol=1e-9)
        assert edr.ic50[i] == pytest.approx(one.ic50, rel=1e-6)
    band = edr.band()
    both = np.vstack([m.response for m in edr.members])
    np.testing.assert_allclose(band[0.5].to_numpy(), np.median(both, axis=0))
    assert (band[0.025] <= band[0.975]).all()
    summary = edr.summary()
    assert summary["members"] == 2 and summary["with_fit"] == 2
    assert summary["ic50_low"] <= summary["ic50_median"] <= summary["ic50_high"]


def test_a_member_whose_experiment_fails_is_recorded_with_its_parameters(model, monkeypatch):
    from simulator.analysis import dose_response as module
    real = module.measure

    def failing(m, treatment, readout, *, params, **kw):
        if params.get("kdp_S6K1") == 2.0:
            return float("nan"), False, "step size underflow"
        return real(m, treatment, readout, params=params, **kw)

    monkeypatch.setattr(module, "measure", failing)
    edr = sim.dose_response(model, "everolimus", [1.0, 10.0], readout="pS6", at_time=24.0,
                            params=MEMBERS)
    assert edr.members[1] is None and edr.members[0] is not None
    row = edr.failures.set_index("member").loc[1]
    assert row["kdp_S6K1"] == 2.0 and "control run" in row["reason"]
    assert np.isnan(edr.ic50[1]) and len(edr.table["member"].unique()) == 2


def test_verbs_that_take_one_parameter_set_say_so(model):
    with pytest.raises(InvalidValueError, match="per member"):
        sim.combination(model, ("letrozole", [0, 10]), ("everolimus", [0, 1]),
                        readout="growth_rate", at_time=72.0, params=MEMBERS)
    with pytest.raises(InvalidValueError, match="ensemble member 1: kdp_S6K1"):
        sim.run_treatment(model, {}, T, params=[{"kdp_S6K1": 1.0}, {"kdp_S6K1": np.nan}])


def test_a_wrong_id_in_an_ensemble_is_the_error_it_is_for_one_run(model):
    with pytest.raises(UnknownIdError):              # a DataFrame column that is no parameter
        sim.run_treatment(model, {}, T, params=MEMBERS.assign(member=range(3)))
    with pytest.raises(UnknownIdError):
        sim.dose_response(model, "everolimus", [1.0], readout="pS6x", at_time=24.0,
                          params=MEMBERS)
