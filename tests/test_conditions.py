"""simulator.conditions: one set of rules and messages for every verb, one run or N members."""
import numpy as np
import pytest

import simulator as sim
from simulator import conditions
from simulator.api import compile_model
from simulator.errors import InvalidValueError, PerturbationError, UnknownIdError

TOY = """
model toy
  compartment c = 1
  drug = 0
  k = 0.5
  X = 1
  Y := 2 * X
  R1: -> X; drug
  R2: X -> ; k*X
end
"""
T = [0.0, 1.0]


@pytest.fixture(scope="module")
def toy():
    return sim.load_model(TOY)


# each mistake, given to simulate and to sweep (one run and N members): same error, same words
MISTAKES = [
    (dict(params={"kk": 1.0}), UnknownIdError, r"parameter 'kk' is not a parameter of model "
                                               r"'toy'; did you mean 'k'\?"),
    (dict(params={"X": 1.0}), UnknownIdError, r"'X' is a species of model 'toy', not a parameter; "
                                              r"set it with initial="),
    (dict(initial={"Z": 1.0}), UnknownIdError, r"initial value 'Z' is not"),
    (dict(initial={"Y": 1.0}), UnknownIdError, r"'Y' of model 'toy' is determined by a rule"),
    (dict(params={"k": "fast"}), InvalidValueError, r"value for 'k' must be a number"),
    (dict(params={"k": np.inf}), InvalidValueError, r"value for 'k' is not finite"),
    (dict(drugs={"drgu": 1.0}), PerturbationError, r"unknown drug 'drgu' of model 'toy'; did "
                                                   r"you mean 'drug'\?"),
    (dict(drugs={"drug": -1.0}), PerturbationError, r"dose of 'drug' must be a finite "
                                                    r"concentration >= 0 nM"),
    (dict(drugs={"drug": 1.0}, params={"drug": 2.0}), InvalidValueError,
     r"'drug' is given both as a drug and in params"),
    (dict(phenotype="LTED"), PerturbationError, r"phenotype 'LTED' is not defined in the "
                                                r"model's catalogue \(valid phenotypes: none\)"),
]


@pytest.mark.parametrize("kwargs, error, message", MISTAKES)
def test_simulate_and_sweep_refuse_a_mistake_alike(toy, kwargs, error, message):
    with pytest.raises(error, match=message):
        sim.simulate(toy, T, **kwargs)
    with pytest.raises(error, match=message):
        sim.sweep(toy, T, progress=False, **kwargs)


def test_a_member_at_fault_is_named(toy):
    with pytest.raises(InvalidValueError, match=r"value for 'k' of member 2 is not finite"):
        sim.sweep(toy, T, params={"k": [1.0, 2.0, np.nan]}, progress=False)
    with pytest.raises(PerturbationError, match=r"dose of 'drug' for member 1 must be a finite"):
        sim.sweep(toy, T, drugs={"drug": [1.0, -2.0]}, progress=False)
    with pytest.raises(InvalidValueError, match="3 values .one per member."):
        sim.sweep(toy, T, params={"k": [1.0, 2.0, 3.0]}, initial={"X": [1.0, 2.0]},
                  progress=False)


def test_precedence_phenotype_drugs_params_initial():
    model = sim.load_model()
    system = compile_model(model).system
    out = conditions.overrides(model, system, phenotype="HER2_amplified",
                               params={"HER2_synthesis": 3.0}, drugs={"tamoxifen": 10.0})
    # params override the phenotype; its other overrides (BT-474's fitted ER and IRS-1) stay
    assert out == {"HER2_synthesis": 3.0, "ER_synthesis": pytest.approx(0.204),
                   "IRS1_expression": 0.01, "tamoxifen": 10.0}


def test_members_equal_one_run_each(toy):
    """A sweep member is the run simulate makes with the same conditions."""
    ks, doses, x0 = [0.2, 0.5, 1.0], [0.0, 1.0, 3.0], [1.0, 2.0, 0.5]
    ens = sim.sweep(toy, np.linspace(0, 2, 5), params={"k": ks}, drugs={"drug": doses},
                    initial={"X": x0}, readouts=["X", "Y"], progress=False)
    for i in range(3):
        tr = sim.simulate(toy, np.linspace(0, 2, 5), params={"k": ks[i]},
                          drugs={"drug": doses[i]}, initial={"X": x0[i]})
        np.testing.assert_allclose(ens["X"][i], tr["X"], rtol=1e-6)
        np.testing.assert_allclose(ens["Y"][i], tr["Y"], rtol=1e-6)
    assert list(ens.params.columns) == ["k", "drug", "X"]      # params, drugs, initial


def test_a_sweep_over_doses_alone_has_one_member_per_dose(toy):
    ens = sim.sweep(toy, T, drugs={"drug": [0.0, 1.0, 2.0, 4.0]}, readouts="X", progress=False)
    assert len(ens) == 4 and ens.success.all()


def test_readouts_are_checked_once_for_every_verb(toy):
    assert conditions.check_readouts(toy, compile_model(toy).system, None) == ("X", "Y")
    with pytest.raises(UnknownIdError, match=r"readout 'y' is not .*did you mean 'Y'"):
        sim.check_readouts(toy, ["y"])
    with pytest.raises(UnknownIdError, match=r"readout 'y' is not .*did you mean 'Y'"):
        sim.sweep(toy, T, readouts="y", progress=False)


def test_initial_values_take_precedence_over_params_in_both(toy):
    """An id in params and in initial: the initial value wins, in one run and in a sweep."""
    model = sim.load_model("""
model p
  a' = -a
  a = 1
end
""")
    one = sim.simulate(model, T, params={"a": 5.0}, initial={"a": 2.0})
    ens = sim.sweep(model, T, params={"a": [5.0, 6.0]}, initial={"a": 2.0}, readouts="a",
                    progress=False)
    np.testing.assert_allclose(ens["a"][:, 0], [2.0, 2.0])
    assert one["a"][0] == 2.0
    with pytest.raises(UnknownIdError, match="parameter 'b'"):     # still checked
        sim.sweep(model, T, params={"b": [1.0]}, initial={"b": 2.0}, progress=False)


def test_the_protocol_refuses_a_drug_also_in_params_and_names_a_bad_dose(toy):
    with pytest.raises(InvalidValueError, match="'drug' is given both as a drug and in params"):
        sim.run_treatment(toy, {"drug": 1.0}, T, params={"drug": 2.0}, equilibrate=False)
    with pytest.raises(PerturbationError, match="dose of 'drug' must be a finite concentration"):
        sim.run_treatment(toy, {"drug": -1.0}, T, equilibrate=False)
    with pytest.raises(PerturbationError, match="drug 'drug': dose must be a finite amount"):
        sim.Treatment({"drug": (-1.0, "nM")})
