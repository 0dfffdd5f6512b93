"""simulator.semantics: SBML meaning of rateOf, checked against libroadrunner, and the
cycles it must refuse."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy

import simulator as sim
from simulator.errors import ModelImportError
from simulator.io import antimony_to_sbml
from simulator.model import RateOf, product_of
from simulator.semantics import _scaled, _sum, build_system
from simulator.solvers.base import SolverOptions
from tests.conftest import roadrunner_trajectory

BACKENDS = ["scipy", "compiled"]
TIGHT = SolverOptions(rtol=1e-10, atol=1e-14)

# J1 and J3 read rateOf(p1), which reactions J0 and J2 set: no cycle (dp1/dt does not
# involve J1 or J3); in a compartment that grows, so rateOf(p1) has the dilution term too
RATE_OF_IN_KINETIC_LAWS = """
model rate_of_in_kinetic_laws
  compartment C = 2
  C' = 0.1
  species p1 in C, p2 in C, p3 in C, p4 in C
  J0: -> p1; k0*(1 + sin(time))*C
  J1: -> p2; C*rateOf(p1) + 1
  J2: p1 -> ; kd*p1*C
  J3: p2 -> p3; k3*p2*C + rateOf(p1)^2
  r2 := rateOf(p2)
  p4 = rateOf(p1)
  k0 = 1; kd = 0.3; k3 = 0.2; p1 = 0.5; p2 = 0; p3 = 0
end
"""


def _scaled_error(got, ref, rtol=1e-8, atol=1e-10):
    return np.max(np.abs(np.asarray(got) - ref) / (atol + rtol * np.abs(ref)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_rate_of_a_reaction_changed_species_in_a_kinetic_law_matches_libroadrunner(backend):
    t = np.linspace(0, 5, 11)
    ids = ["p1", "p2", "p3", "p4", "r2", "J1", "J3"]
    traj = sim.simulate(sim.load_model(RATE_OF_IN_KINETIC_LAWS), t, options=TIGHT,
                        backend=backend)
    ref = roadrunner_trajectory(RATE_OF_IN_KINETIC_LAWS, t, ids)
    for i in ids:
        assert _scaled_error(traj[i], ref[i]) < 10, i
    # at t = 0: d[p1]/dt = (k0 (1 + sin 0) C - kd p1 C)/C - p1 C'/C
    assert traj["p4"][0] == pytest.approx(1 - 0.3 * 0.5 - 0.5 * 0.1 / 2, rel=1e-12)


def _with_rate(model, rid, rate):
    return dataclasses.replace(model, reactions=tuple(
        dataclasses.replace(r, rate=rate) if r.id == rid else r for r in model.reactions))


def test_a_rate_that_depends_on_itself_through_rate_of_is_refused_naming_the_ids():
    # libsbml's validation refuses it on import (SBML L3v2 4.9.5) ...
    text = "model m\n J0: -> p1; k0\n J1: -> p2; rateOf(p1)\n k0 = 1; p1 = 0; p2 = 0\nend"
    sbml = antimony_to_sbml(text, "<test>")
    start = sbml.index('<reaction id="J1"')
    end = sbml.index("</reaction>", start)
    cyclic = sbml[:start] + sbml[start:end].replace("<ci> p1 </ci>", "<ci> p2 </ci>") + sbml[end:]
    with pytest.raises(ModelImportError, match="circular dependencies"):
        sim.load_model(cyclic)
    # ... and build_system refuses it on its own, naming the path around the cycle
    model = sim.load_model(text)
    p1, p2 = sympy.Symbol("p1"), sympy.Symbol("p2")
    with pytest.raises(ModelImportError,
                       match=r"cycle: rateOf\('p2'\) -> 'J1' -> rateOf\('p2'\)"):
        build_system(_with_rate(model, "J1", RateOf(p2)))
    # J1 consuming p1 at the rate of p1: dp1/dt = J0 - J1 with J1 = dp1/dt
    text = text.replace("J1: -> p2", "J1: p1 -> p2")
    with pytest.raises(ModelImportError, match=r"rateOf\('p1'\) -> 'J1' -> rateOf\('p1'\)"):
        build_system(_with_rate(sim.load_model(text.replace("rateOf(p1)", "k0")), "J1",
                                RateOf(p1)))


# --- the right-hand side's assembly: the same expressions sympy's evaluation gives -------
def test_stoichiometric_terms_assemble_to_sympy_s_own_sum():
    a, b, c, k1, k2, V = sympy.symbols("a b c k1 k2 V")
    cases = [
        [(-1, 1.0, k1 * a * b / V), (2, 1.0, k2 * c * V), (1, 1, a), (1, 1, k1 * k2 * a)],
        [(-1, 1, 3 * k1 * a), (1, 2.5, k1 * a * b)],
        [(-1, 1, k1 * a), (1, 1, k1 * a)],               # cancels: left to Add
        [(1, 0, k1 * a), (1, 1, k2 * b)],                 # a zero stoichiometry
        [(1, 2, k1 * a), (1, 3, k1 * a * 2)],             # like terms: collected by Add
    ]
    for terms in cases:
        built = [_scaled(sympy.Integer(s) * sympy.sympify(n), r) for s, n, r in terms]
        naive = sympy.Add(*(sympy.Integer(s) * sympy.sympify(n) * r for s, n, r in terms))
        assert _sum(built) == naive


def test_products_of_rate_laws_equal_sympy_s_own():
    a, b, c, k = sympy.symbols("a b c k")
    cases = [(k, a, b), (2.5, k, a), (k * a, b), (k * a, b ** 2, c ** -1), (sympy.Integer(1), a, b),
             (sympy.Float(1.0), a, b), (a, a), (k * a, a ** -1), (2, 3, a), (0, a, b),
             (a + b, c), (sympy.oo, a, b), (k, sympy.Rational(1, 3), c ** sympy.Rational(1, 2)),
             (-k * a, b)]
    for args in cases:
        args = [sympy.sympify(x) for x in args]
        assert product_of(args) == sympy.Mul(*args), args
