"""Hostile model files end in a typed error naming the element, the limit and the option,
before any recursive work: never a RecursionError, a dead interpreter or a hang."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import simulator as sim
from simulator.errors import ModelImportError
from simulator.io import read_catalog

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/'
        'version2/core" level="3" version="2">\n<model id="m"><listOfParameters>'
        '<parameter id="x" constant="false"/><parameter id="y" value="0.5" constant="true"/>'
        '</listOfParameters>\n<listOfRules><assignmentRule variable="x">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML">')
TAIL = "</math></assignmentRule></listOfRules></model></sbml>"


def nested(n: int, wrap) -> str:
    """SBML whose rule for x nests ``wrap`` n times around y."""
    inner = "<ci>y</ci>"
    for i in range(n):
        inner = wrap(inner, i)
    return HEAD + inner + TAIL


SHAPES = {
    "sin": lambda e, i: f"<apply><sin/>{e}</apply>",
    "divide": lambda e, i: f"<apply><divide/>{e}<cn>1.01</cn></apply>",
    "power": lambda e, i: f"<apply><power/>{e}<cn>1</cn></apply>",
    "piecewise": lambda e, i: (f"<piecewise><piece>{e}<apply><gt/><ci>y</ci><cn>0</cn></apply>"
                               f"</piece><otherwise><cn>0</cn></otherwise></piecewise>"),
    "mixed": lambda e, i: [f"<apply><plus/>{e}<cn>1</cn></apply>", f"<apply><cos/>{e}</apply>",
                           f"<apply><times/>{e}<ci>y</ci></apply>"][i % 3],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_math_as_deep_as_the_limit_runs_everywhere(shape):
    """Depth 99 (the default limit is 100) loads, simulates on both backends and sweeps."""
    model = sim.load_model(nested(49 if shape == "piecewise" else 99, SHAPES[shape]))  # 2 levels each
    a = sim.simulate(model, [0.0, 1.0], backend="scipy")["x"]
    b = sim.simulate(model, [0.0, 1.0], backend="compiled")["x"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    ens = sim.sweep(model, [0.0, 1.0], params={"y": [0.5, 0.6]}, readouts="x", progress=False)
    np.testing.assert_allclose(ens["x"][0], a, rtol=1e-12)


def test_deeper_math_is_refused_naming_the_element_the_limit_and_the_option():
    with pytest.raises(ModelImportError, match=r"line 4: <math> of assignmentRule 'x': the "
                                               r"expression's nesting depth is 101, over the "
                                               r"limit of 100 \(max_expression_depth\).*"
                                               r"ImportLimits\(max_expression_depth=\.\.\.\)"):
        sim.load_model(nested(5000, SHAPES["sin"]))


def test_a_raised_limit_admits_a_deeper_model_and_too_deep_is_still_typed():
    deeper = nested(120, SHAPES["sin"])
    with pytest.raises(ModelImportError, match="max_expression_depth"):
        sim.load_model(deeper)
    model = sim.load_model(deeper, limits=sim.ImportLimits(max_expression_depth=130))
    assert np.isfinite(sim.simulate(model, [0.0, 1.0])["x"]).all()
    with pytest.raises(ModelImportError, match="nests too deeply for Python's stack"):
        sim.load_model(nested(2000, SHAPES["sin"]),
                       limits=sim.ImportLimits(max_expression_depth=5000))


def test_what_crashed_libsbml_is_refused_in_a_subprocess_that_lives():
    """20,000 nested <apply> made libsbml's reader overflow the C stack (exit 139)."""
    code = textwrap.dedent(f"""
        import simulator as sim
        from tests.test_limits import nested, SHAPES
        try:
            sim.load_model(nested(20000, SHAPES["mixed"]))
        except sim.ModelImportError as err:
            print("typed:", str(err)[:60])
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "typed:" in res.stdout


@pytest.mark.parametrize("limits, text, message", [
    (dict(max_file_bytes=1000), nested(3, SHAPES["sin"]) + " " * 2000,
     r"the model's size in bytes is 2,\d+, over the limit of 1,000 \(max_file_bytes\)"),
    (dict(max_elements=10), nested(3, SHAPES["sin"]), r"line \d+: the number of XML elements is "
                                                      r"11, over the limit of 10"),
    (dict(max_expression_nodes=5), nested(4, SHAPES["sin"]), r"<math> of assignmentRule 'x': "
                                                             r"the number of MathML elements"),
])
def test_each_limit_has_its_message(limits, text, message):
    with pytest.raises(ModelImportError, match=message):
        sim.load_model(text, limits=sim.ImportLimits(**limits))


def test_limits_are_checked():
    with pytest.raises(sim.InvalidValueError, match="max_elements must be a positive integer"):
        sim.ImportLimits(max_elements=0)


def test_a_document_type_declaration_is_refused():
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE sbml [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n' + nested(1, SHAPES["sin"])[22:])
    with pytest.raises(ModelImportError, match="line 2: a document type declaration"):
        sim.load_model(bomb)


COMP = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" level="3"
      version="1" comp:required="true">
  {definitions}
  <model id="main"><listOfParameters><parameter id="p" value="1" constant="true"/>
  </listOfParameters><comp:listOfSubmodels><comp:submodel comp:id="s" comp:modelRef="{ref}"/>
  </comp:listOfSubmodels></model>
</sbml>"""


def test_external_model_files_that_contain_themselves_are_refused(tmp_path):
    """libsbml's flattening does not return on these."""
    ext = ('<comp:listOfExternalModelDefinitions><comp:externalModelDefinition comp:id="e" '
           'comp:source="{src}" comp:modelRef="main"/></comp:listOfExternalModelDefinitions>')
    (tmp_path / "self.xml").write_text(COMP.format(definitions=ext.format(src="self.xml"),
                                                   ref="e"))
    (tmp_path / "a.xml").write_text(COMP.format(definitions=ext.format(src="b.xml"), ref="e"))
    (tmp_path / "b.xml").write_text(COMP.format(definitions=ext.format(src="a.xml"), ref="e"))
    with pytest.raises(ModelImportError, match=r"cycle \(self.xml -> self.xml\)"):
        sim.load_model(tmp_path / "self.xml")
    with pytest.raises(ModelImportError, match=r"cycle \(a.xml -> b.xml -> a.xml\)"):
        sim.load_model(tmp_path / "a.xml")


def test_submodels_that_multiply_beyond_the_element_limit_are_refused():
    """Ten instances of a model of ten instances of ...: 10^9 elements once flattened."""
    defs = "".join(
        f'<comp:modelDefinition id="m{i}"><comp:listOfSubmodels>'
        + "".join(f'<comp:submodel comp:id="s{j}" comp:modelRef="m{i + 1}"/>' for j in range(10))
        + "</comp:listOfSubmodels></comp:modelDefinition>" for i in range(9))
    doc = COMP.format(definitions=f"<comp:listOfModelDefinitions>{defs}<comp:modelDefinition "
                                  f'id="m9"/></comp:listOfModelDefinitions>', ref="m0")
    with pytest.raises(ModelImportError, match=r"comp model '\w+' with its submodels flattened "
                                               r"is [\d,]+, over the limit"):
        sim.load_model(doc)
    with pytest.raises(ModelImportError, match="comp model 'm0' contains itself"):
        sim.load_model(doc.replace('comp:modelRef="m1"', 'comp:modelRef="m0"'))


@pytest.mark.parametrize("text, message", [
    ("model m\n x := " + "(" * 300 + "1" + ")" * 300 + "\nend",
     r"line 2: the nesting of brackets is 201, over the limit of 200 \(max_text_depth\)"),
    ("model m\n a = 1\n x := " + "*".join(["a"] * 6000) + "\nend",
     r"line 3: the number of operators in one statement is 5,001, over the limit of 5,000"),
    ("model m\n a = 1\n x := (" + "*\n".join(["a"] * 6000) + ")\nend",
     r"line 5002: the number of operators in one statement"),
])
def test_antimony_text_over_a_limit_is_refused_before_libantimony(text, message):
    """libantimony takes quadratic time in the operators of one statement (50,000: minutes)."""
    with pytest.raises(ModelImportError, match=message):
        sim.load_model(text)


def test_a_catalogue_nested_too_deeply_is_a_typed_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("reset_at_start = " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(ModelImportError, match="nests arrays or tables too deeply"):
        read_catalog(path)


def test_non_ascii_antimony_is_a_typed_error_naming_the_line():
    """libantimony's message echoes half of the character, which is not valid UTF-8 (found
    by make fuzz: was a bare UnicodeDecodeError)."""
    with pytest.raises(ModelImportError, match=r"line 3: the character '\u00e9'"):
        sim.load_model("model m\n  A = 1\n  k = 0.\u00e9\u00e8\n  J: A -> ; k*A\nend\n")


def test_the_jacobian_of_an_absolute_value_is_printable():
    """d|u|/dx was re/im Derivatives that no printer prints (found by make fuzz)."""
    model = sim.load_model("model m\n  S1 = 1; S2 = 0; k2 = 0.5\n  J: S1 -> S2; abs(k2*S1)\nend")
    ref = np.exp(-0.5 * np.array([0.0, 1.0, 5.0]))
    for backend in ("scipy", "compiled"):
        tr = sim.simulate(model, [0.0, 1.0, 5.0], backend=backend)
        np.testing.assert_allclose(tr["S1"], ref, rtol=1e-5)
