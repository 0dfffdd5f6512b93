"""simulator.io.mathml: SBML AST -> sympy, node by node."""
from __future__ import annotations

import math

import libsbml
import pytest
import sympy

from simulator.io.mathml import FunctionDefinition, MathConverter
from simulator.model import Delay, as_boolean, as_number
from simulator.model import AVOGADRO, TIME, RateOf

X, Y = sympy.Symbol("x"), sympy.Symbol("y")
MATHML = '<math xmlns="http://www.w3.org/1998/Math/MathML">{}</math>'
CSYMBOL = ('<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/{0}">'
           '{0}</csymbol>')


def ast_of(body: str) -> libsbml.ASTNode:
    """Parse a MathML fragment with libsbml (the AST the importer sees)."""
    node = libsbml.readMathMLFromString(MATHML.format(body))
    assert node is not None, body
    return node


def formula(text: str) -> libsbml.ASTNode:
    """libsbml's own L3 formula parser builds the AST (no Python eval involved)."""
    node = libsbml.parseL3Formula(text)
    assert node is not None, libsbml.getLastParseL3Error()
    return node


def num(node, conv=None, **kw):
    conv = conv or MathConverter()
    out = conv.number(node, where="test", **kw)
    assert not conv.unsupported and not conv.invalid, (conv.unsupported, conv.invalid)
    return out


def value(expr, **subs) -> float:
    return float(expr.xreplace({sympy.Symbol(k): sympy.Float(v) for k, v in subs.items()}))


# --- numbers ----------------------------------------------------------------------------


def test_number_kinds():
    assert num(ast_of('<cn type="integer"> 7 </cn>')) == sympy.Integer(7)
    assert num(ast_of("<cn> 2.5 </cn>")) == sympy.Float(2.5)
    assert num(ast_of('<cn type="e-notation"> 1.5 <sep/> -3 </cn>')) == sympy.Float(1.5e-3)
    assert num(ast_of('<cn type="rational"> 1 <sep/> 4 </cn>')) == sympy.Rational(1, 4)


def test_integer_division_is_real_division():
    expr = num(ast_of('<apply><divide/><cn type="integer">1</cn><cn type="integer">2</cn>'
                      '</apply>'))
    assert float(expr) == 0.5


@pytest.mark.parametrize("text, expected", [
    ("1/0", math.inf), ("-1/0", -math.inf), ("0/0", math.nan), ("0^0", 1.0),
    ("ln(0)", -math.inf), ("sqrt(-1)", math.nan), ("root(3, -8)", math.nan),
    ("log10(100)", 2.0), ("exp(1)", math.e),
])
def test_constant_folding_follows_ieee(text, expected):
    expr = num(formula(text))
    assert expr.is_Number or expr in (sympy.E,)
    if math.isnan(expected):
        assert expr is sympy.nan
    else:
        assert float(expr) == pytest.approx(expected)


def test_division_of_symbol_by_zero_is_signed_infinity():
    expr = num(formula("x/0"))
    assert value(expr, x=2.0) == math.inf
    assert value(expr, x=-2.0) == -math.inf


def test_constants():
    assert num(ast_of("<pi/>")) == sympy.pi
    assert num(ast_of("<exponentiale/>")) == sympy.E
    assert num(ast_of("<infinity/>")) == sympy.oo
    assert num(ast_of("<notanumber/>")) is sympy.nan
    assert num(ast_of("<true/>")) == 1 and num(ast_of("<false/>")) == 0


# --- names and csymbols -----------------------------------------------------------------


def test_names_and_local_parameters():
    assert num(formula("x + y")) == X + Y
    expr = num(formula("k * x"), local={"k": "R1.k"})
    assert expr == sympy.Symbol("R1.k") * X


def test_names_are_never_parsed():
    # ids that look like sympy names stay plain symbols
    assert num(formula("pi2 + E + I + lambda1")).free_symbols == {
        sympy.Symbol(n) for n in ("pi2", "E", "I", "lambda1")}
    assert num(ast_of("<ci> time </ci>")) == sympy.Symbol("time") != TIME


def test_csymbols():
    assert num(ast_of(CSYMBOL.format("time"))) == TIME
    assert float(num(ast_of(CSYMBOL.format("avogadro")))) == AVOGADRO
    assert num(ast_of(f"<apply>{CSYMBOL.format('rateOf')}<ci> x </ci></apply>")) == RateOf(X)


def test_delay_becomes_a_delay_node():
    d = num(ast_of(f"<apply>{CSYMBOL.format('delay')}<ci>x</ci><cn>0.5</cn></apply>"))
    assert d == Delay(X, sympy.Float(0.5))
    assert sympy.diff(d * Y, X) == 0 and sympy.diff(d * Y, Y) == d   # a past value, not x now
    assert num(ast_of(f"<apply>{CSYMBOL.format('delay')}<cn>3</cn><ci>y</ci></apply>")) == 3


def test_delay_with_wrong_arity_is_invalid():
    conv = MathConverter()
    conv.number(ast_of(f"<apply>{CSYMBOL.format('delay')}<ci>x</ci></apply>"), where="rule 'r'")
    assert conv.invalid and "rule 'r'" in conv.invalid[0]


def test_unsupported_math_is_collected_not_raised():
    conv = MathConverter()
    lam = "<lambda><bvar><ci>a</ci></bvar><ci>a</ci></lambda>"
    body = f"<apply><plus/>{lam}<apply><times/>{lam}<ci>y</ci></apply></apply>"
    conv.number(ast_of(body), where="reaction 'R1' (kineticLaw)")
    conv.number(ast_of(body), where="rateRule for 'z'")
    assert len(conv.unsupported) == 4
    assert all("lambda outside a function definition" in p for p in conv.unsupported)
    assert any("reaction 'R1'" in p for p in conv.unsupported)
    assert any("rateRule for 'z'" in p for p in conv.unsupported)


def test_unknown_ast_type_is_unsupported():
    conv = MathConverter()
    conv.number(libsbml.ASTNode(libsbml.AST_LAMBDA), where="rule 'r'")
    assert conv.unsupported and "rule 'r'" in conv.unsupported[0]


def test_undefined_names_are_recorded():
    conv = MathConverter(defined={"x"})
    conv.number(formula("x + kk"), where="reaction 'R1' (kineticLaw)")
    assert conv.undefined == [("reaction 'R1' (kineticLaw)", "kk", ())]


# --- functions ----------------------------------------------------------------------------


@pytest.mark.parametrize("text, subs, expected", [
    ("sin(x)", {"x": 0.3}, math.sin(0.3)), ("cos(x)", {"x": 0.3}, math.cos(0.3)),
    ("tan(x)", {"x": 0.3}, math.tan(0.3)), ("sec(x)", {"x": 0.3}, 1 / math.cos(0.3)),
    ("csc(x)", {"x": 0.3}, 1 / math.sin(0.3)), ("cot(x)", {"x": 0.3}, 1 / math.tan(0.3)),
    ("sinh(x)", {"x": 0.3}, math.sinh(0.3)), ("cosh(x)", {"x": 0.3}, math.cosh(0.3)),
    ("tanh(x)", {"x": 0.3}, math.tanh(0.3)), ("sech(x)", {"x": 0.3}, 1 / math.cosh(0.3)),
    ("csch(x)", {"x": 0.3}, 1 / math.sinh(0.3)), ("coth(x)", {"x": 0.3}, 1 / math.tanh(0.3)),
    ("arcsin(x)", {"x": 0.3}, math.asin(0.3)), ("arccos(x)", {"x": 0.3}, math.acos(0.3)),
    ("arctan(x)", {"x": 0.3}, math.atan(0.3)), ("arcsec(x)", {"x": 2.0}, math.acos(0.5)),
    ("arccsc(x)", {"x": 2.0}, math.asin(0.5)), ("arccot(x)", {"x": 2.0}, math.atan(0.5)),
    ("arcsinh(x)", {"x": 0.3}, math.asinh(0.3)), ("arccosh(x)", {"x": 2.0}, math.acosh(2.0)),
    ("arctanh(x)", {"x": 0.3}, math.atanh(0.3)),
    ("arcsech(x)", {"x": 0.5}, math.acosh(2.0)), ("arccsch(x)", {"x": 2.0}, math.asinh(0.5)),
    ("arccoth(x)", {"x": 2.0}, math.atanh(0.5)),
    ("abs(x)", {"x": -2.0}, 2.0), ("exp(x)", {"x": 0.5}, math.exp(0.5)),
    ("ln(x)", {"x": 3.0}, math.log(3.0)), ("log(2, x)", {"x": 8.0}, 3.0),
    ("log10(x)", {"x": 1000.0}, 3.0), ("floor(x)", {"x": -2.5}, -3.0),
    ("ceil(x)", {"x": -2.5}, -2.0), ("factorial(x)", {"x": 5.0}, 120.0),
    ("root(3, x)", {"x": 27.0}, 3.0), ("sqrt(x)", {"x": 16.0}, 4.0), ("x^y", {"x": 2, "y": 10}, 1024),
    ("-x", {"x": 2.0}, -2.0), ("x - y", {"x": 2.0, "y": 5.0}, -3.0),
    ("max(x, y, 3)", {"x": 1.0, "y": 2.0}, 3.0), ("min(x, y)", {"x": 1.0, "y": 2.0}, 1.0),
    ("rem(x, y)", {"x": -7.0, "y": 3.0}, -1.0), ("quotient(x, y)", {"x": -7.0, "y": 3.0}, -2.0),
    ("rem(x, y)", {"x": 7.0, "y": 3.0}, 1.0), ("quotient(x, y)", {"x": 7.0, "y": 3.0}, 2.0),
])
def test_functions(text, subs, expected):
    assert value(num(formula(text)), **subs) == pytest.approx(expected, rel=1e-12)


def test_log_with_mathml_logbase_and_root_degree():
    log2 = ast_of("<apply><log/><logbase><cn>2</cn></logbase><ci>x</ci></apply>")
    assert value(num(log2), x=32.0) == pytest.approx(5.0)
    root3 = ast_of("<apply><root/><degree><cn>3</cn></degree><ci>x</ci></apply>")
    assert value(num(root3), x=8.0) == pytest.approx(2.0)


def test_empty_nary_operators():
    assert num(ast_of("<apply><plus/></apply>")) == 0
    assert num(ast_of("<apply><times/></apply>")) == 1
    assert num(ast_of("<apply><and/></apply>")) == 1
    assert num(ast_of("<apply><or/></apply>")) == 0
    assert num(ast_of("<apply><xor/></apply>")) == 0
    assert num(ast_of("<apply><and/><ci>x</ci></apply>")) == as_number(sympy.Ne(X, 0))


# --- logic, piecewise, boolean <-> number ---------------------------------------------------


def test_nary_relational():
    conv = MathConverter()
    expr = conv.boolean(ast_of("<apply><lt/><cn>1</cn><ci>x</ci><cn>3</cn></apply>"), where="t")
    assert expr.xreplace({X: 2}) == sympy.true
    assert expr.xreplace({X: 4}) == sympy.false
    assert conv.boolean(ast_of("<apply><eq/><ci>x</ci></apply>"), where="t") == sympy.true


def test_logical_operators():
    conv = MathConverter()
    expr = conv.boolean(formula("xor(x > 1, y > 1, true)"), where="t")
    assert expr.xreplace({X: 2, Y: 2}) == sympy.true
    assert expr.xreplace({X: 2, Y: 0}) == sympy.false
    imp = conv.boolean(formula("implies(x > 1, y > 1)"), where="t")
    assert imp.xreplace({X: 2, Y: 0}) == sympy.false
    assert imp.xreplace({X: 0, Y: 0}) == sympy.true


def test_piecewise_with_and_without_otherwise():
    expr = num(formula("piecewise(1, x < 0, 2, x < 1, 3)"))
    assert [value(expr, x=v) for v in (-1, 0.5, 2)] == [1, 2, 3]
    expr = num(formula("piecewise(1, x < 0)"))
    assert value(expr, x=-1) == 1
    assert math.isnan(value(expr, x=1))


def test_boolean_used_as_number_and_number_as_boolean():
    expr = num(formula("(x > 1) + 2"))
    assert value(expr, x=3) == 3 and value(expr, x=0) == 2
    expr = num(formula("piecewise(10, x, 20)"))       # number as condition
    assert value(expr, x=0) == 20 and value(expr, x=0.5) == 10
    expr = num(ast_of('<apply><and/><true/><apply><or/><cn type="integer">0</cn>'
                      '<cn>0.0</cn></apply></apply>'))
    assert expr == 0
    assert as_boolean(sympy.Integer(0)) == sympy.false
    assert as_boolean(X) == sympy.Ne(X, 0)
    assert as_number(sympy.true) == 1


def test_function_definitions_expand_nested_and_boolean():
    fns = {
        "sq": FunctionDefinition("sq", ["a"], formula("a * a")),
        "f": FunctionDefinition("f", ["a", "b"], formula("sq(a) + b")),
        "gt5": FunctionDefinition("gt5", ["a"], formula("a > 5")),
        "choose": FunctionDefinition("choose", ["c", "v"], formula("piecewise(v, c, 0)")),
    }
    conv = MathConverter(fns)
    assert num(formula("f(x + 1, y)"), conv) == (X + 1) ** 2 + Y
    assert num(formula("gt5(8)"), conv) == 1 and num(formula("gt5(3)"), conv) == 0
    expr = num(formula("choose(x > 2, y)"), conv)
    assert value(expr, x=3, y=7) == 7 and value(expr, x=1, y=7) == 0


def test_function_argument_shadows_model_id_and_local():
    fns = {"g": FunctionDefinition("g", ["k"], formula("2 * k"))}
    conv = MathConverter(fns, defined={"x"})
    expr = conv.number(formula("g(x)"), where="kl", local={"k": "R1.k"})
    assert expr == 2 * X and not conv.undefined


def test_bad_function_calls_are_collected():
    fns = {"rec": FunctionDefinition("rec", ["a"], formula("rec(a)")),
           "one": FunctionDefinition("one", ["a"], formula("a"))}
    conv = MathConverter(fns, defined={"x"})
    conv.number(formula("rec(x)"), where="r1")
    conv.number(formula("one(x, x)"), where="r2")
    conv.number(formula("nope(x)"), where="r3")
    assert any("recursion" in p for p in conv.invalid)
    assert any("takes 1 argument" in p for p in conv.invalid)
    assert conv.undefined == [("r3", "nope", ())]
