"""simulator.constraints: algebraic rules and fast reactions made explicit, checked against
analytic solutions and against libroadrunner on hand-written explicit equivalents."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.constraints import make_explicit
from simulator.errors import ModelImportError, ModelWarning, UnknownIdError, UnsupportedFeatureError
from simulator.model import AlgebraicRule, AssignmentRule
from simulator.solvers.base import SolverOptions
from tests.conftest import roadrunner_trajectory

BACKENDS = ["scipy", "compiled"]
TIGHT = SolverOptions(rtol=1e-10, atol=1e-14)


def _scaled_error(got, ref, rtol=1e-8, atol=1e-10):
    return np.max(np.abs(np.asarray(got) - ref) / (atol + rtol * np.abs(ref)))



# --- algebraic rules -------------------------------------------------------------------

CONSERVED = """
model conserved
  compartment C = 1
  species S1 in C, S2 in C
  J0: -> S1; C*k2*S2
  0 = S1 + S2 - k1
  S1 = 0.5; S2 = 0.5; k1 = 1; k2 = 1.3
end
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_species_fixed_by_an_algebraic_rule_is_analytic(backend):
    # S2 = k1 - S1, so dS1/dt = k2 (k1 - S1): S1 = k1 - (k1 - S1(0)) exp(-k2 t)
    t = np.linspace(0, 5, 51)
    traj = sim.simulate(sim.load_model(CONSERVED), t, options=TIGHT, backend=backend)
    s1 = 1.0 - 0.5 * np.exp(-1.3 * t)
    assert _scaled_error(traj["S1"], s1) < 10
    assert _scaled_error(traj["S2"], 1.0 - s1) < 10


IMPLICIT = """
model implicit
  compartment V = 1
  var compartment V
  species A in V, B in V
  var X, Y, R
  J0: A -> B; k*A*V
  J1: B -> ; kd*B*V*X
  0 = V - 1 - 0.5*sin(time)
  0 = X + Y - B
  0 = X - Y - 0.1*time
  0 = R - rateOf(kd)
  kd' = -0.05*kd
  A = 2; B = 0; k = 0.7; kd = 0.3; X = 0; Y = 0; R = 0
end
"""

EXPLICIT = """
model explicit
  compartment V = 1
  var compartment V
  species A in V, B in V
  J0: A -> B; k*A*V
  J1: B -> ; kd*B*V*X
  V := 1 + 0.5*sin(time)
  X := (B + 0.1*time)/2
  Y := (B - 0.1*time)/2
  R := rateOf(kd)
  kd' = -0.05*kd
  A = 2; B = 0; k = 0.7; kd = 0.3
end
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_coupled_rules_compartment_and_rateof_match_libroadrunner(backend):
    # libroadrunner refuses algebraic rules: it runs the same model written explicitly
    model = sim.load_model(IMPLICIT)
    assert sum(isinstance(r, AlgebraicRule) for r in model.rules) == 4
    t = np.linspace(0, 10, 101)
    ids = ["A", "B", "V", "X", "Y", "R"]
    traj = sim.simulate(model, t, options=TIGHT, backend=backend)
    ref = roadrunner_trajectory(EXPLICIT, t, ids)
    for i in ids:
        assert _scaled_error(traj[i], ref[i]) < 10, i


def test_rules_become_assignment_rules_for_the_free_variable():
    model = sim.load_model(IMPLICIT)
    explicit = make_explicit(model)
    targets = {r.variable for r in explicit.rules if isinstance(r, AssignmentRule)}
    assert targets == {"V", "X", "Y", "R"}
    assert not any(isinstance(r, AlgebraicRule) for r in explicit.rules)
    assert explicit.hash == model.hash and model.rules != explicit.rules  # input untouched
    plain = sim.load_model(EXPLICIT)
    assert make_explicit(plain) is plain


def test_initial_value_comes_from_the_rule():
    # k1 = 0 as written, but the rule holds at t0: k1 = 10, and what uses k1 sees 10
    text = """
    model init
      var k1
      k1 = 0; P = 1
      0 = 10 - k1
      species S; S = 0
      J0: -> S; k1
      E0: at k1 > 4.5, t0=false: P = 3
    end
    """
    traj = sim.simulate(sim.load_model(text), np.linspace(0, 2, 3), options=TIGHT)
    np.testing.assert_allclose(traj["k1"], [10, 10, 10])
    np.testing.assert_allclose(traj["S"], [0, 10, 20], rtol=1e-9)
    np.testing.assert_allclose(traj["P"], [3, 3, 3])  # fired at t0 (initialValue false)


def test_the_variable_without_a_value_is_the_one_determined():
    text = """
    model pick
      var p, q
      p = 2
      0 = q - 3*p
    end
    """
    model = sim.load_model(text)
    (rule,) = [r for r in make_explicit(model).rules if isinstance(r, AssignmentRule)]
    assert rule.variable == "q"
    traj = sim.simulate(model, np.linspace(0, 1, 3), options=TIGHT)
    np.testing.assert_allclose(traj["q"], 6.0)
    np.testing.assert_allclose(traj["p"], 2.0)


def test_piecewise_rule_is_solved_branch_by_branch():
    text = "model pw\n var x\n x = 0\n 0 = piecewise(x - 1, time < 0.5, 2*x - 4)\nend"
    traj = sim.simulate(sim.load_model(text), np.array([0.0, 0.25, 0.75, 1.0]), options=TIGHT)
    np.testing.assert_allclose(traj["x"], [1, 1, 2, 2])


def test_rule_with_several_roots_is_unsupported_and_named():
    text = "model two\n var x\n x = 1\n 0 = x^2 - 4\nend"
    model = sim.load_model(text)
    with pytest.raises(UnsupportedFeatureError,
                       match=r"algebraic rule, line \d+ \(0 = x\*\*2 - 4\) cannot be solved in "
                             r"closed form for 'x': it has 2 solutions"):
        sim.simulate(model, [0.0, 1.0])


def test_rule_without_a_closed_form_is_unsupported():
    model = sim.load_model("model lw\n var x\n x = 1\n 0 = exp(x) + x\nend")
    with pytest.raises(UnsupportedFeatureError, match=r"closed form for 'x'.*LambertW"):
        sim.simulate(model, [0.0, 1.0])


def test_dependent_rules_are_unsupported_naming_both():
    text = "model dep\n var x, y\n x = 1; y = 1\n 0 = x + y - 2\n 0 = 2*x + 2*y - 4\nend"
    with pytest.raises(UnsupportedFeatureError, match=r"0 = x \+ y - 2\).*0 = 2\*x \+ 2\*y - 4\)"
                                                      r".*not independent"):
        sim.simulate(sim.load_model(text), [0.0, 1.0])


def test_rule_whose_only_variable_an_event_sets_determines_nothing():
    text = "model ev\n var x\n x = 1\n 0 = x - 1\n E: at time > 0.5: x = 5\nend"
    with pytest.raises(ModelImportError, match=r"algebraic rule, line \d+ \(0 = x - 1\) "
                                               r"determines no variable"):
        sim.simulate(sim.load_model(text), [0.0, 1.0])


def test_over_determined_rules_are_an_import_error():
    # libsbml's own overdetermination check catches this one when the model is read
    with pytest.raises(ModelImportError, match="overdetermined"):
        sim.load_model("model od\n var x\n x = 1\n 0 = x - 3\n 0 = x - 4\nend")


def _with_empty_algebraic_rule(text: str) -> str:
    """SBML (L3v2, where a rule's math is optional) of an Antimony model, plus an algebraic
    rule without math as the first rule."""
    from simulator.io.antimony import antimony_to_sbml
    sbml = antimony_to_sbml(text, "<test>")
    empty = "<algebraicRule metaid=\"empty_rule\"/>"
    if "<listOfRules>" in sbml:
        return sbml.replace("<listOfRules>", f"<listOfRules>\n{empty}", 1)
    return sbml.replace("</listOfReactions>", f"</listOfReactions>\n<listOfRules>{empty}</listOfRules>")


@pytest.mark.parametrize("backend", BACKENDS)
def test_algebraic_rule_without_math_is_ignored_with_a_warning(backend):
    # alone, and beside a rule that determines S2 (still solved for S2, and libsbml's check
    # that the rules do not over-determine the model leaves the empty rule out)
    for text in ("model m\n J0: A -> B; k*A\n A = 1; B = 0; k = 0.5\n var z; z = 3\nend",
                 CONSERVED):
        sbml = _with_empty_algebraic_rule(text)
        line = sbml[:sbml.index("empty_rule")].count("\n") + 1
        with pytest.warns(ModelWarning, match=rf"model '\w+' \(<string>, line {line}\): "
                                              r"algebraic rule 1 of the listOfRules has no math; "
                                              r"it constrains nothing and is ignored") as seen:
            model = sim.load_model(sbml)
        assert seen[0].filename == __file__      # located at the caller, not in simulator/
        assert not any(isinstance(r, AlgebraicRule) and r.math is None
                       for r in make_explicit(model).rules)
        t = np.linspace(0, 2, 5)
        traj = sim.simulate(model, t, options=TIGHT, backend=backend)
        ref = sim.simulate(sim.load_model(text), t, options=TIGHT, backend=backend)
        for i in ref.ids:
            np.testing.assert_allclose(traj[i], ref[i], rtol=1e-12, atol=1e-14)
        assert "z" not in traj.ids or np.all(traj["z"] == 3)


# --- fast reactions --------------------------------------------------------------------

FAST_THEN_SLOW = """
model fast_then_slow
  compartment C = 1
  species A in C, B in C, P in C
  J0: A -> B; C*(kf*A - kr*B)
  J1: B -> P; C*k*B
  A = 3; B = 0; P = 0; kf = 2; kr = 1; k = 0.5
end
"""


def _fast(text, *reactions):
    """SBML of an Antimony model with the named reactions marked fast="true" (SBML L3v1)."""
    from simulator.io.antimony import antimony_to_sbml
    sbml = antimony_to_sbml(text, "<test>")
    sbml = sbml.replace("level3/version2/core", "level3/version1/core").replace(
        'level="3" version="2"', 'level="3" version="1"')
    sbml = sbml.replace("<reaction ", '<reaction fast="false" ')
    for rid in reactions:
        sbml = sbml.replace(f'<reaction fast="false" id="{rid}" ',
                            f'<reaction fast="true" id="{rid}" ', 1)
    assert sbml.count('fast="true"') == len(reactions)
    return sbml


@pytest.mark.parametrize("backend", BACKENDS)
def test_rapid_equilibrium_feeding_a_slow_reaction_is_analytic(backend):
    # A <-> B in equilibrium (B = kf/(kf+kr) w, w = A + B); w decays by k B:
    # w = 3 exp(-k kf/(kf+kr) t), P = 3 - w
    model = sim.load_model(_fast(FAST_THEN_SLOW, "J0"))
    t = np.linspace(0, 6, 31)
    traj = sim.simulate(model, t, options=TIGHT, backend=backend)
    w = 3 * np.exp(-0.5 * 2 / 3 * t)
    assert _scaled_error(traj["A"], w / 3) < 10
    assert _scaled_error(traj["B"], 2 * w / 3) < 10
    assert _scaled_error(traj["P"], 3 - w) < 10


def test_fast_binding_picks_the_physical_root():
    # A + B <-> AB fast: kf A B = kr AB with A + AB = 2, B + AB = 1: the stable, non-negative
    # root of the quadratic (the other one has AB > 1)
    text = """
    model bind
      compartment C = 1
      species A in C, B in C, AB in C
      J0: A + B -> AB; C*(kf*A*B - kr*AB)
      A = 2; B = 1; AB = 0; kf = 3; kr = 0.5
    end
    """
    traj = sim.simulate(sim.load_model(_fast(text, "J0")), [0.0, 1.0], options=TIGHT)
    x = np.roots([3.0, -(3.0 * 3 + 0.5), 3.0 * 2])   # kf x^2 - (kf (a+b) + kr) x + kf a b = 0
    x = x[(x >= 0) & (x <= 1)][0]
    np.testing.assert_allclose(traj["AB"], x, rtol=1e-9)
    np.testing.assert_allclose(traj["A"], 2 - x, rtol=1e-9)
    np.testing.assert_allclose(3 * traj["A"] * traj["B"], 0.5 * traj["AB"], rtol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_rate_that_events_switch_off_and_on_is_analytic(backend):
    # g C (kf A - kr B): g = 0 on [1, 2) turns the fast reaction off (A and B then move only
    # by the slow reaction, from where they were), g = 1 again re-equilibrates at once
    text = FAST_THEN_SLOW.replace("kf = 2;", "kf = 2; g = 1;").replace(
        "C*(kf*A - kr*B)", "g*C*(kf*A - kr*B)")
    text = text.replace("end", "  E1: at time > 1: g = 0\n  E2: at time > 2: g = 1\nend")
    t = np.linspace(0, 4, 41)
    traj = sim.simulate(sim.load_model(_fast(text, "J0")), t, options=TIGHT, backend=backend)
    w1 = 3 * np.exp(-1 / 3)                    # A + B at t = 1; then A frozen, B decays
    a1, b1 = w1 / 3, 2 * w1 / 3
    w2 = a1 + b1 * np.exp(-0.5)                # A + B at t = 2, equilibrated again
    w = np.where(t < 2, 3 * np.exp(-t / 3), w2 * np.exp(-(t - 2) / 3))
    a = np.where((t >= 1) & (t < 2), a1, w / 3)
    b = np.where((t >= 1) & (t < 2), b1 * np.exp(-0.5 * (t - 1)), 2 * w / 3)
    off = (t > 1) & (t < 2)                    # rows at t = 1 and 2 show the events' results
    a[t == 1], b[t == 1] = a1, b1
    assert _scaled_error(traj["A"], a) < 10
    assert _scaled_error(traj["B"], b) < 10
    assert _scaled_error(traj["P"], 3 - a - b) < 10
    assert np.ptp(traj["A"][off]) == 0         # frozen while the reaction is off


@pytest.mark.parametrize("backend", BACKENDS)
def test_fast_reaction_off_from_the_start_keeps_its_species(backend):
    # SBML case 00987's pattern: k1 = 0 until an event, then A goes to B at once
    text = """model off
  compartment C = 1
  species A in C, B in C, P in C
  J0: A -> B; k1*A*C
  J1: B -> P; k1*B*C
  A = 1; B = 0; P = 0; k1 = 0
  E: at time > 0.99: k1 = 1
end"""
    t = np.linspace(0, 2, 11)
    traj = sim.simulate(sim.load_model(_fast(text, "J0")), t, options=TIGHT, backend=backend)
    b = np.where(t < 0.99, 0.0, np.exp(-(t - 0.99)))
    assert _scaled_error(traj["A"], np.where(t < 0.99, 1.0, 0.0)) < 10
    assert _scaled_error(traj["B"], b) < 10
    assert _scaled_error(traj["P"], np.where(t < 0.99, 0.0, 1 - b)) < 10


FAST_STOICHIOMETRY = """
model fast_stoich
  compartment C = 1
  species A in C, B in C, P in C
  J0: 2 A -> B; C*(kf*A - kr*B)
  J1: B -> P; C*k*B
  A = 3; B = 0; P = 0; kf = 2; kr = 1; k = 0.5; placeholder = 1
  E: at time > 1: A = 4, placeholder = 1
end
"""


def _assigned_stoichiometry():
    """FAST_STOICHIOMETRY with J0 fast and A's stoichiometry in J0 an id ('nA') that the
    event sets to 1."""
    sbml = _fast(FAST_STOICHIOMETRY, "J0")
    old = '<speciesReference species="A" stoichiometry="2" constant="true"/>'
    assert sbml.count(old) == 1
    sbml = sbml.replace(old, '<speciesReference id="nA" species="A" stoichiometry="2" '
                             'constant="false"/>')
    return sbml.replace('<eventAssignment variable="placeholder">',
                        '<eventAssignment variable="nA">')


@pytest.mark.parametrize("backend", BACKENDS)
def test_event_on_a_fast_species_and_its_stoichiometry_is_analytic(backend):
    # 2A <-> B fast (B = 2A), w = A + 2B decays by k B: w = 3 exp(-0.4 t). At t = 1 the
    # event sets A = 4 and A's stoichiometry to 1: w = A + B = 4 + B(1), then A = w/3,
    # B = 2w/3, w decays by k B = (1/3) w
    t = np.linspace(0, 3, 31)
    traj = sim.simulate(sim.load_model(_assigned_stoichiometry()), t, options=TIGHT,
                        backend=backend)
    w_new = 4 + 2 * 3 * np.exp(-0.4) / 5
    a = np.where(t < 1, 3 * np.exp(-0.4 * t) / 5, w_new * np.exp(-(t - 1) / 3) / 3)
    a[t == 1] = w_new / 3
    assert _scaled_error(traj["A"], a) < 10
    assert _scaled_error(traj["B"], 2 * a) < 10


def test_fast_reactions_and_events_that_cannot_be_made_explicit_are_named():
    # a delayed event using its trigger-time values, setting a fast species: the other
    # fast species' amounts would be needed from the execution time
    text = FAST_THEN_SLOW.replace("end", "  E: at 0.5 after time > 1: A = 5\nend")
    with pytest.raises(UnsupportedFeatureError, match=r"'J0'.*event 'E' has a delay and uses "
                                                      r"the values from its trigger time to "
                                                      r"set 'A'"):
        sim.simulate(sim.load_model(_fast(text, "J0")), [0.0, 1.0])
    # a rate that may vanish, in a group of linked fast reactions
    chain = """model chain
  compartment C = 1
  species A in C, B in C, D in C
  J0: A -> B; C*(A - B)
  J1: B -> D; g*C*(B - D)
  A = 3; B = 0; D = 0; g = 1
  E: at time > 1: g = 0
end"""
    with pytest.raises(UnsupportedFeatureError, match=r"'J1'.*factor g.*several linked"):
        sim.simulate(sim.load_model(_fast(chain, "J0", "J1")), [0.0, 1.0])
    # a stoichiometry that a rule moves
    text = FAST_STOICHIOMETRY.replace("placeholder = 1\n", "placeholder = 1\n  nr := 1 + time\n")
    sbml = _fast(text, "J0").replace(
        '<speciesReference species="A" stoichiometry="2" constant="true"/>',
        '<speciesReference id="nA" species="A" constant="false"/>').replace(
        'variable="nr"', 'variable="nA"')
    with pytest.raises(UnsupportedFeatureError, match=r"'J0'.*stoichiometry of 'A'.*not "
                                                      r"constant between events"):
        sim.simulate(sim.load_model(sbml), [0.0, 1.0])


@pytest.mark.parametrize("kw", [{"initial": {"x": 3.0}}, {"params": {"x": 3.0}}])
def test_a_variable_an_algebraic_rule_determines_cannot_be_overridden(kw):
    # overriding it would be silently undone by the rule: a typed error instead
    model = sim.load_model("model alg_override\n  var x; y' = -y; 0 = x - 2*y; x = 7; y = 1\nend")
    with pytest.raises(UnknownIdError, match="'x'.*determined by a rule"):
        sim.simulate(model, [0.0, 1.0], **kw)
    with pytest.raises(UnknownIdError, match="'x'.*determined by a rule"):
        sim.sweep(model, [0.0, 1.0], params={"x": [1.0, 2.0]}, progress=False)


def test_coupled_fast_bindings_are_refused_quickly_and_independent_ones_solved():
    import time
    sequential = """model seq
  compartment C = 1; species A in C, B in C, AB in C, ABB in C
  J1: A + B -> AB; k1*A*B - AB
  J2: AB + B -> ABB; k2*AB*B - ABB
  A = 1; B = 2; AB = 0; ABB = 0; k1 = 1; k2 = 1
end"""
    start = time.perf_counter()
    with pytest.raises(UnsupportedFeatureError, match="'J1', 'J2'.*quadratic"):
        sim.simulate(sim.load_model(_fast(sequential, "J1", "J2")), [0.0, 1.0])
    assert time.perf_counter() - start < 20       # sympy.solve on the cubic took minutes
    # two bindings sharing only a parameter are two separate quadratics, each solvable
    independent = """model ind
  compartment C = 1; species A1 in C, B1 in C, C1 in C, A2 in C, B2 in C, C2 in C
  J1: A1 + B1 -> C1; kon*A1*B1 - koff*C1
  J2: A2 + B2 -> C2; kon*A2*B2 - koff*C2
  A1 = 1; B1 = 1; C1 = 0; A2 = 2; B2 = 1; C2 = 0; kon = 1; koff = 1
end"""
    traj = sim.simulate(sim.load_model(_fast(independent, "J1", "J2")), [0.0, 1.0])
    for a, b in ((1.0, 1.0), (2.0, 1.0)):      # c = (a - c)(b - c): the root below min(a, b)
        c = ((a + b + 1) - np.sqrt((a + b + 1) ** 2 - 4 * a * b)) / 2
        assert abs(traj["C1" if a == 1.0 else "C2"][0] - c) < 1e-9
