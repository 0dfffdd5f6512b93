"""dose_response: analytic Hill curves on toy models, windows, failures, bad input."""
import math

import numpy as np
import pytest

import simulator as sim
from simulator.errors import InvalidValueError, PerturbationError, UnknownIdError
from simulator.treatments import derive
from simulator.treatments.schedule import PK, Schedule

# X* = kin / kout / (1 + (d / IC)^h): IC50 3 nM, slope 1.5, from 10 down to 0
HILL = """
model hill
  compartment c = 1
  d = 0; bg = 0
  kin = 10; kout = 1; IC = 3; h = 1.5
  X = 10
  R1: -> X; kin/(1 + ((d + bg)/IC)^h)
  R2: X -> ; kout*X
end
"""

LINEAR = """
model linear
  compartment c = 1
  d = 0
  X = 1
  R1: -> X; 1/(1 + d)
  R2: X -> ; X
end
"""

BLOW = """
model blow
  compartment c = 1
  a = 0
  X = 1
  R: -> X; a*X^2
  y := 1/(1 + X)
end
"""


@pytest.fixture(scope="module")
def hill_model():
    return sim.load_model(HILL)


def test_hill_fit_recovers_analytic_curve(hill_model):
    doses = [0.1, 0.3, 1, 3, 10, 30, 100]
    dr = sim.dose_response(hill_model, "d", doses, readout="X", at_time=40.0)
    ref = 10.0 / (1 + (np.asarray(dr.doses) / 3.0) ** 1.5)
    np.testing.assert_allclose(dr.values, ref, rtol=1e-6)
    assert dr.doses[0] == 0 and dr.control == pytest.approx(10.0, rel=1e-8)
    assert dr.fit.converged
    assert dr.fit.ic50 == pytest.approx(3.0, rel=1e-4)
    assert dr.fit.slope == pytest.approx(1.5, rel=1e-4)
    assert dr.fit.emax == pytest.approx(-10.0, rel=1e-3)
    lo, hi = dr.fit.ci["ic50"]
    assert lo <= 3.0 <= hi
    tab = dr.table
    assert list(tab.columns) == ["drug", "dose", "unit", "readout", "value", "response",
                                 "success", "message"]
    assert len(tab) == 8 and tab["success"].all()


def test_inhibition_normalization(hill_model):
    dr = sim.dose_response(hill_model, "d", [3.0, 30.0], readout="X", at_time=40.0,
                           normalize="inhibition", fit=False)
    # 100 * (1 - 1 / (1 + (d/3)^1.5)): 50 % at the IC50, 96.93 % at 10x
    np.testing.assert_allclose(dr.response, [0.0, 50.0, 100 * (1 - 1 / (1 + 10 ** 1.5))], rtol=1e-6)
    dr = sim.dose_response(hill_model, "d", [3.0], readout="X", at_time=40.0,
                           normalize="percent_of_control", fit=False)
    np.testing.assert_allclose(dr.response, [100.0, 50.0], rtol=1e-6)


def test_window_average_matches_analytic(hill_model):
    # from X0 = 10, X(t) = Xinf + (X0 - Xinf) e^{-t}; mean over [0.5, 2.5]
    dr = sim.dose_response(hill_model, "d", [3.0], readout="X", window=(0.5, 2.5), fit=False)
    xinf = 5.0
    ref = xinf + (10 - xinf) * (math.exp(-0.5) - math.exp(-2.5)) / 2.0
    assert dr.values[1] == pytest.approx(ref, rel=1e-3)
    assert dr.window == (0.5, 2.5) and dr.at_time is None


def test_background_drug_shifts_curve(hill_model):
    dr = sim.dose_response(hill_model, "d", [1.0], readout="X", at_time=40.0,
                           drugs={"bg": 3.0}, fit=False)
    # control already has bg = 3: X = 5; with d = 1: 10 / (1 + (4/3)^1.5)
    np.testing.assert_allclose(dr.values, [5.0, 10 / (1 + (4 / 3) ** 1.5)], rtol=1e-6)


def test_mg_doses_through_pk_reuse_one_derived_model():
    model = sim.load_model(LINEAR)
    pk = PK(F=1.0, V_L=10.0, t_half_h=5.0, MW_g_mol=1e5)  # 1 mg -> 1 nM
    n0 = len(derive._DERIVED)
    dr = sim.dose_response(model, "d", [1.0, 2.0, 4.0], unit="mg", schedule=Schedule.daily(),
                           pk=pk, readout="d", at_time=30.0, fit=False)
    ke = math.log(2) / 5.0
    conc = np.asarray(dr.doses) * (math.exp(-ke * 30) + math.exp(-ke * 6))  # doses at 0 and 24 h
    np.testing.assert_allclose(dr.values, conc, rtol=1e-5)
    assert len(derive._DERIVED) <= n0 + 1


def test_failed_dose_is_reported_not_silent():
    model = sim.load_model(BLOW)
    # X' = a X^2 blows up at t = 1/a: a = 1 fails before t = 2, the others do not
    dr = sim.dose_response(model, "a", [0.01, 0.1, 1.0, 0.2, 0.3], readout="y", at_time=2.0,
                           equilibrate=False)
    tab = dr.table
    bad = tab[~tab["success"]]
    assert list(bad["dose"]) == [1.0]
    assert bad["message"].iloc[0] != "" and np.isnan(bad["value"].iloc[0])
    assert list(dr.failures["dose"]) == [1.0]
    assert any("1 of 6 runs failed" in n for n in dr.notes)
    ok = tab[tab["success"]]
    np.testing.assert_allclose(ok["value"], 1 / (1 + 1 / (1 - ok["dose"] * 2.0)), rtol=1e-5)
    assert dr.fit is None or 1.0 not in dr.fit.doses


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(doses=[-1.0, 1.0]), PerturbationError, "finite and >= 0"),
    (dict(doses=[1.0, float("nan")]), PerturbationError, "finite and >= 0"),
    (dict(doses=[]), PerturbationError, "empty"),
    (dict(drug="dd"), PerturbationError, "did you mean 'd'"),
    (dict(readout="x"), UnknownIdError, "readout 'x'.*did you mean 'X'"),
    (dict(at_time=None), InvalidValueError, "at_time=<hours>"),
    (dict(window=(1.0, 2.0)), InvalidValueError, "exactly one"),
    (dict(window=None, at_time=-1.0), InvalidValueError, "finite time >= 0"),
    (dict(phenotype="PTEN_loss"), PerturbationError, "'PTEN_loss' is not defined in the model"),
    (dict(normalize="percent"), InvalidValueError, "normalize must be one of"),
    (dict(drugs={"d": 1.0}), PerturbationError, "both the tested drug and a background"),
])
def test_bad_input(hill_model, kwargs, err, match):
    args = dict(drug="d", doses=[1.0, 10.0], readout="X", at_time=10.0)
    args.update(kwargs)
    with pytest.raises(err, match=match):
        sim.dose_response(hill_model, args.pop("drug"), args.pop("doses"), **args)


def test_bundled_everolimus_ps6():
    model = sim.load_model()
    dr = sim.dose_response(model, "everolimus", [0.01, 0.1, 1, 10, 100, 1000], readout="pS6",
                           at_time=24.0)
    assert dr.success.all()
    assert dr.values[-1] < 0.2 * dr.control     # behaviour 3: pS6 falls by >= 80 %
    assert dr.fit.converged and 0.001 < dr.ic50 < 100
    assert dr.fit.emax < 0
    assert dr.provenance["model_hash"] == model.hash
