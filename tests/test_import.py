"""simulator.io: SBML and Antimony into the IR, and the typed errors for bad input."""
from __future__ import annotations

import glob
import math
import os
import pickle
import re
from pathlib import Path

import pytest
import sympy

from simulator.errors import InvalidValueError, ModelImportError, UnsupportedFeatureError
from simulator.io import antimony_to_sbml, load, read_sbml_file, read_sbml_string
from simulator.model import TIME, AssignmentRule, RateOf, RateRule

SUITE = Path("/work/shared/sbml-semantic")
MATH = 'xmlns="http://www.w3.org/1998/Math/MathML"'
TIME_CS = ('<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">'
           'time</csymbol>')


def l3(body: str, *, model_attrs: str = "", extra_ns: str = "", doc_attrs: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core"{extra_ns} level="3" '
            f'version="2"{doc_attrs}>\n<model id="m"{model_attrs}>\n{body}\n</model>\n</sbml>\n')


def l2(body: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4">\n'
            f'<model id="m2">\n{body}\n</model>\n</sbml>\n')


def m(formula_mathml: str) -> str:
    return f"<math {MATH}>{formula_mathml}</math>"


COMPARTMENTS = """
<listOfCompartments>
  <compartment id="c" spatialDimensions="3" size="2" constant="true"/>
  <compartment id="v" constant="false"/>
  <compartment id="s" spatialDimensions="2" size="1" constant="true"/>
</listOfCompartments>"""

FULL_L3 = l3(COMPARTMENTS + f"""
<listOfSpecies>
  <species id="A" compartment="c" initialAmount="10" hasOnlySubstanceUnits="true"
           boundaryCondition="false" constant="false"/>
  <species id="B" compartment="c" initialConcentration="0.5" hasOnlySubstanceUnits="false"
           boundaryCondition="true" constant="false" conversionFactor="cf"/>
  <species id="E" compartment="s" hasOnlySubstanceUnits="false" boundaryCondition="false"
           constant="true"/>
</listOfSpecies>
<listOfParameters>
  <parameter id="k" value="0.1" constant="true"/>
  <parameter id="cf" value="2" constant="true"/>
  <parameter id="mcf" value="1" constant="true"/>
  <parameter id="p" constant="false"/>
  <parameter id="q" value="0" constant="false"/>
</listOfParameters>
<listOfInitialAssignments>
  <initialAssignment symbol="E">{m("<apply><times/><cn>3</cn><ci>k</ci></apply>")}</initialAssignment>
</listOfInitialAssignments>
<listOfRules>
  <assignmentRule variable="p">{m(f"<apply><plus/><ci>A</ci>{TIME_CS}</apply>")}</assignmentRule>
  <rateRule variable="q">{m('<apply><csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/rateOf">rateOf</csymbol><ci>A</ci></apply>')}</rateRule>
  <rateRule variable="v">{m("<cn>1</cn>")}</rateRule>
</listOfRules>
<listOfReactions>
  <reaction id="R1" reversible="false">
    <listOfReactants>
      <speciesReference id="sr1" species="A" stoichiometry="2" constant="false"/>
    </listOfReactants>
    <listOfProducts>
      <speciesReference species="B" constant="true"/>
    </listOfProducts>
    <listOfModifiers><modifierSpeciesReference species="E"/></listOfModifiers>
    <kineticLaw>
      {m("<apply><times/><ci>k</ci><ci>kf</ci><ci>A</ci><ci>sr1</ci></apply>")}
      <listOfLocalParameters>
        <localParameter id="kf" value="3"/>
        <localParameter id="k" value="5"/>
      </listOfLocalParameters>
    </kineticLaw>
  </reaction>
  <reaction id="R2" reversible="true">
    <listOfProducts><speciesReference species="A" stoichiometry="1" constant="true"/></listOfProducts>
  </reaction>
</listOfReactions>
<listOfEvents>
  <event id="ev" useValuesFromTriggerTime="false">
    <trigger initialValue="false" persistent="false">
      {m(f"<apply><gt/>{TIME_CS}<cn>5</cn></apply>")}
    </trigger>
    <priority>{m("<cn>2</cn>")}</priority>
    <delay>{m("<ci>k</ci>")}</delay>
    <listOfEventAssignments>
      <eventAssignment variable="A">{m("<cn>1</cn>")}</eventAssignment>
      <eventAssignment variable="k2x">{m("<cn>1</cn>")}</eventAssignment>
    </listOfEventAssignments>
  </event>
  <event useValuesFromTriggerTime="true">
    <trigger initialValue="true" persistent="true">{m("<ci>q</ci>")}</trigger>
  </event>
</listOfEvents>""", model_attrs=' conversionFactor="mcf" timeUnits="second"').replace(
    '<eventAssignment variable="k2x">' + m("<cn>1</cn>") + "</eventAssignment>", "")


@pytest.fixture(scope="module")
def full():
    return read_sbml_string(FULL_L3, source="full.xml")


def test_compartments(full):
    c, v, s = full.compartments
    assert (c.id, c.size, c.constant, c.spatial_dimensions) == ("c", 2.0, True, 3.0)
    assert (v.size, v.constant, v.spatial_dimensions) == (None, False, 3.0)
    assert s.spatial_dimensions == 2.0
    assert c.line is not None and c.line > 1


def test_species(full):
    a, b, e = full.species
    assert (a.initial_amount, a.initial_concentration, a.has_only_substance_units) == (10.0, None, True)
    assert (b.initial_amount, b.initial_concentration, b.boundary_condition) == (None, 0.5, True)
    assert b.conversion_factor == "cf" and a.conversion_factor is None
    assert (e.initial_amount, e.initial_concentration, e.constant) == (None, None, True)
    assert full.conversion_factor == "mcf"
    assert full.species_ids == ("A", "B", "E")


def test_parameters(full):
    params = {p.id: p for p in full.parameters}
    assert params["k"].value == 0.1 and params["k"].constant
    assert params["p"].value is None and not params["p"].constant


def test_reaction_fields(full):
    r1, r2 = full.reactions
    (sr,) = r1.reactants
    assert (sr.species, sr.stoichiometry, sr.id, sr.constant) == ("A", 2.0, "sr1", False)
    (prod,) = r1.products
    assert (prod.species, prod.stoichiometry, prod.id) == ("B", None, None)   # unset in L3
    assert r1.modifiers == ("E",)
    assert r1.local_parameters == (("R1.kf", 3.0), ("R1.k", 5.0))
    # local k shadows global k; a species reference id is a plain symbol
    sym = sympy.Symbol
    assert r1.rate == sym("R1.k") * sym("R1.kf") * sym("A") * sym("sr1")
    assert r1.reversible is False and r1.fast is False
    assert r2.rate is None and r2.reversible is True
    assert "R1.kf" in full.parameter_ids


def test_rules_and_initial_assignments(full):
    (ia,) = full.initial_assignments
    assert ia.symbol == "E" and ia.math == 3 * sympy.Symbol("k")
    ar, rr, rv = full.rules
    assert isinstance(ar, AssignmentRule) and ar.math == sympy.Symbol("A") + TIME
    assert isinstance(rr, RateRule) and rr.math == RateOf(sympy.Symbol("A"))
    assert isinstance(rv, RateRule) and rv.variable == "v"
    assert full.assignment_rule_ids == ("p",)


def test_events(full):
    ev, anon = full.events
    assert ev.id == "ev" and ev.trigger == sympy.Gt(TIME, 5)
    assert (ev.initial_value, ev.persistent, ev.use_values_from_trigger_time) == (False, False, False)
    assert ev.priority == 2 and ev.delay == sympy.Symbol("k")
    assert [(a.variable, a.math) for a in ev.assignments] == [("A", 1)]
    assert anon.id == "event#2" and anon.trigger == sympy.Ne(sympy.Symbol("q"), 0)
    assert anon.delay is None and anon.priority is None


def test_model_metadata(full):
    assert full.id == "m" and full.source == "full.xml" and full.sbml == FULL_L3
    assert dict(full.annotations) == {"sbml_level": "3", "sbml_version": "2",
                                      "time_units": "second"}
    assert len(full.hash) == 64


def test_pickle_roundtrip(full):
    again = pickle.loads(pickle.dumps(full))
    assert again == full


L2_MODEL = l2(f"""
<listOfFunctionDefinitions>
  <functionDefinition id="mm">
    {m("<lambda><bvar><ci>s</ci></bvar><bvar><ci>km</ci></bvar><apply><divide/><ci>s</ci>"
       "<apply><plus/><ci>km</ci><ci>s</ci></apply></apply></lambda>")}
  </functionDefinition>
</listOfFunctionDefinitions>
<listOfCompartments><compartment id="c" size="1"/></listOfCompartments>
<listOfSpecies>
  <species id="A" compartment="c" initialConcentration="1"/>
  <species id="B" compartment="c" initialAmount="0"/>
</listOfSpecies>
<listOfParameters><parameter id="n" value="2"/></listOfParameters>
<listOfReactions>
  <reaction id="J">
    <listOfReactants>
      <speciesReference species="A"><stoichiometryMath>{m("<ci>n</ci>")}</stoichiometryMath>
      </speciesReference>
    </listOfReactants>
    <listOfProducts><speciesReference species="B" stoichiometry="3"/></listOfProducts>
    <kineticLaw>
      {m("<apply><times/><ci>k</ci><apply><ci>mm</ci><ci>A</ci><cn>0.5</cn></apply></apply>")}
      <listOfParameters><parameter id="k" value="0.7"/></listOfParameters>
    </kineticLaw>
  </reaction>
</listOfReactions>
<listOfEvents>
  <event id="e1">
    <trigger>{m("<apply><lt/><ci>A</ci><cn>0.1</cn></apply>")}</trigger>
    <listOfEventAssignments>
      <eventAssignment variable="B">{m("<cn>0</cn>")}</eventAssignment>
    </listOfEventAssignments>
  </event>
</listOfEvents>""")


def test_level2_defaults_local_parameters_and_stoichiometry_math():
    model = read_sbml_string(L2_MODEL)
    (r,) = model.reactions
    (a,) = r.reactants
    assert a.stoichiometry is None and a.stoichiometry_math == sympy.Symbol("n")
    assert a.constant is False
    assert r.products[0].stoichiometry == 3.0 and r.products[0].constant
    assert r.local_parameters == (("J.k", 0.7),)
    A = sympy.Symbol("A")
    assert r.rate == sympy.Symbol("J.k") * A / (A + sympy.Float(0.5))
    assert r.reversible is True                           # L2 default
    (ev,) = model.events
    assert ev.initial_value is True and ev.persistent is True
    assert ev.use_values_from_trigger_time is True
    assert model.compartments[0].spatial_dimensions == 3.0
    assert model.species[0].has_only_substance_units is False


ANTIMONY = """
model small
  compartment cell = 2
  species X in cell, Y in cell
  X = 3; Y = 0
  J1: X -> 2 Y; k1 * X
  k1 = 0.25
  Z := X + Y
  at time > 1: k1 = 0
end
"""


def test_antimony_goes_through_sbml():
    model = load(ANTIMONY)
    assert model.id == "small"
    assert model.species_ids == ("X", "Y")
    (r,) = model.reactions
    assert r.products[0].stoichiometry == 2.0
    assert r.rate == sympy.Symbol("k1") * sympy.Symbol("X")
    assert model.assignment_rule_ids == ("Z",)
    assert len(model.events) == 1
    assert model.sbml.lstrip().startswith("<?xml")
    assert "<sbml" in antimony_to_sbml(ANTIMONY)


def test_antimony_fresh_state_per_call():
    first = load("model a\n S1 -> S2; k*S1\n k = 1; S1 = 1\nend")
    second = load("model b\n Q -> ; kq*Q\n kq = 2; Q = 1\nend")
    assert first.id == "a" and second.id == "b"
    assert second.species_ids == ("Q",)


def test_load_paths_and_text(tmp_path):
    xml = tmp_path / "model.xml"
    xml.write_text(L2_MODEL)
    ant = tmp_path / "model.ant"
    ant.write_text(ANTIMONY)
    assert load(xml).id == "m2" and load(str(xml)).source == str(xml)
    assert load(ant).id == "small" and load(str(ant)).source == str(ant)
    assert load(L2_MODEL).id == "m2"
    sniffed = tmp_path / "model.model"
    sniffed.write_text(L2_MODEL)
    assert load(sniffed).id == "m2"


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["missing.xml", "missing.ant"])
def test_missing_file(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ModelImportError, match=re.escape(str(path))):
        load(str(path))
    with pytest.raises(ModelImportError, match="does not exist"):
        load(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "dir.xml"
    path.mkdir()
    with pytest.raises(ModelImportError, match=re.escape(str(path))):
        read_sbml_file(path)


def test_malformed_xml_names_source_and_line(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text('<?xml version="1.0"?>\n<sbml level="3" version="2">\n<model id="m">\n'
                    '<listOfSpecies>\n</model>\n</sbml>\n')
    with pytest.raises(ModelImportError, match=re.escape(str(path)) + r":\d+"):
        load(path)


def test_invalid_antimony_names_line():
    with pytest.raises(ModelImportError, match=r"invalid Antimony.*line 2"):
        load("S1 -> S2; k1*S1\nk1 = = 0.1\n")


def test_undefined_id_in_kinetic_law():
    bad = FULL_L3.replace("<ci>kf</ci>", "<ci>kff</ci>")
    with pytest.raises(ModelImportError,
                       match=r"reaction 'R1' \(kineticLaw.*'kff'.*did you mean 'kf'"):
        read_sbml_string(bad)


def test_undefined_rule_target_and_compartment():
    bad = FULL_L3.replace('<rateRule variable="q">', '<rateRule variable="qq">')
    bad = bad.replace('id="A" compartment="c"', 'id="A" compartment="cc"')
    with pytest.raises(ModelImportError) as info:
        read_sbml_string(bad)
    assert "rateRule for 'qq'" in str(info.value)
    assert "species 'A'" in str(info.value) and "'cc'" in str(info.value)


def test_every_unsupported_feature_is_listed_at_once():
    body = COMPARTMENTS + f"""
<listOfSpecies>
  <species id="A" compartment="c" initialAmount="1" hasOnlySubstanceUnits="false"
           boundaryCondition="false" constant="false"/>
</listOfSpecies>
<listOfParameters>
  <parameter id="x" value="1" constant="false"/>
  <parameter id="y" value="1" constant="false"/>
</listOfParameters>
<listOfRules>
  <algebraicRule>{m('<apply><minus/><ci>x</ci><apply><times/><lambda><bvar><ci>a</ci></bvar><ci>a</ci></lambda><ci>A</ci></apply></apply>')}</algebraicRule>
  <assignmentRule variable="y">{m('<apply><plus/><lambda><bvar><ci>b</ci></bvar><ci>b</ci></lambda><ci>A</ci></apply>')}</assignmentRule>
</listOfRules>
<listOfReactions>
  <reaction id="Rfast" reversible="false" fast="true">
    <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
    <kineticLaw>{m('<apply><times/><lambda><bvar><ci>c</ci></bvar><ci>c</ci></lambda><ci>A</ci></apply>')}</kineticLaw>
  </reaction>
</listOfReactions>"""
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
           f'<model id="m">{body}</model></sbml>')
    with pytest.raises(UnsupportedFeatureError) as info:
        read_sbml_string(doc, source="multi.xml")
    problems = info.value.problems
    assert len(problems) == 3
    text = str(info.value)
    assert "multi.xml" in text
    assert "algebraic rule" in text and text.count("lambda outside a function definition") == 3
    assert "reaction 'Rfast'" in text
    assert "assignmentRule for 'y'" in text


def test_required_package_is_unsupported():
    # comp is flattened (tests/test_comp.py); qual has no ODE meaning we could simulate
    qual_ns = ' xmlns:qual="http://www.sbml.org/sbml/level3/version1/qual/version1"'
    doc = l3(COMPARTMENTS, extra_ns=qual_ns, doc_attrs=' qual:required="true"')
    with pytest.raises(UnsupportedFeatureError, match="package 'qual'"):
        read_sbml_string(doc)


def test_declared_but_unused_comp_is_fine():
    comp_ns = ' xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1"'
    doc = l3(COMPARTMENTS, extra_ns=comp_ns, doc_attrs=' comp:required="true"')
    assert read_sbml_string(doc).compartment_ids == ("c", "v", "s")


@pytest.mark.parametrize("old, new, match", [
    ('size="2"', 'size="NaN"', r"compartment 'c' has size=nan"),
    ('size="2"', 'size="-2"', r"compartment 'c' has negative size"),
    ('size="2"', 'size="INF"', r"compartment 'c' has size=inf"),
    ('initialAmount="10"', 'initialAmount="-1"', r"species 'A' has negative initialAmount"),
    ('initialConcentration="0.5"', 'initialConcentration="NaN"',
     r"species 'B' has initialConcentration=nan"),
    ('stoichiometry="2"', 'stoichiometry="INF"', r"reaction 'R1' reactant 'A'"),
])
def test_invalid_values_name_the_element(old, new, match):
    bad = FULL_L3.replace(old, new, 1)
    with pytest.raises(InvalidValueError, match=match + r".*line \d+"):
        read_sbml_string(bad)


def test_non_finite_parameters_are_legal():
    ok = FULL_L3.replace('id="k" value="0.1"', 'id="k" value="INF"')
    params = {p.id: p.value for p in read_sbml_string(ok).parameters}
    assert params["k"] == math.inf


def test_text_that_is_not_unicode_is_a_typed_error():
    """A lone surrogate (possible in a Python string, not in a file read as UTF-8)."""
    with pytest.raises(ModelImportError, match=r"m\.xml: character 6 .*surrogates"):
        read_sbml_string("<sbml>\ud800</sbml>", source="m.xml")


def test_libsbml_consistency_errors_are_reported():
    dup = FULL_L3.replace('<parameter id="mcf"', '<parameter id="cf2" value="1" constant="true"/>'
                                                 '<parameter id="mcf"')
    dup = dup.replace('id="cf2"', 'id="k"')                     # duplicate id 'k'
    with pytest.raises(ModelImportError, match=r"<string>:\d+"):
        read_sbml_string(dup)


# --- the SBML test suite, all cases --------------------------------------------------------

_UNSUPPORTED_TAGS = ("fbc:",)


def _suite_cases():
    return sorted(p for p in glob.glob(str(SUITE / "*" / "*-sbml-*.xml")))


def _missing_external_files(xml: str) -> list[str]:
    """comp external model files the case names but its folder does not hold."""
    with open(xml, encoding="utf-8") as fh:
        sources = re.findall(r'comp:source="([^"]+)"', fh.read())
    return [s for s in sources if not os.path.exists(os.path.join(os.path.dirname(xml), s))]


def _expected_unsupported(xml: str) -> bool:
    case_dir = os.path.dirname(xml)
    (mfile,) = glob.glob(os.path.join(case_dir, "*-model.m"))
    with open(mfile, encoding="utf-8") as fh:
        tags = " ".join(line for line in fh
                        if line.startswith(("componentTags", "testTags")))
    return any(t in tags for t in _UNSUPPORTED_TAGS)


@pytest.mark.sbml_suite
@pytest.mark.skipif(not SUITE.is_dir(), reason="SBML test suite folder not present")
def test_every_suite_model_loads_or_is_unsupported():
    loaded, unsupported, mismatched = 0, 0, []
    for xml in _suite_cases():
        missing = _missing_external_files(xml)
        try:
            read_sbml_file(xml)
            got = False
            loaded += 1
        except UnsupportedFeatureError:
            got = True
            unsupported += 1
        except ModelImportError as err:
            if not missing or missing[0] not in str(err):
                raise
            continue  # the folder lacks the case's external model file: a real import error
        if missing:
            mismatched.append((os.path.basename(xml), "loaded without " + missing[0]))
        elif got != _expected_unsupported(xml):
            mismatched.append((os.path.basename(xml), got))
    assert loaded + unsupported > 1000
    assert not mismatched
    assert unsupported < 0.25 * (loaded + unsupported)


def test_empty_text_and_document_without_model():
    with pytest.raises(ModelImportError, match="empty text"):
        load("  \n")
    no_model = ('<?xml version="1.0"?>\n<sbml xmlns="http://www.sbml.org/sbml/level3/version2/'
                'core" level="3" version="2"/>')
    with pytest.raises(ModelImportError, match="no <model>"):
        load(no_model)


def test_xml_declaration_without_encoding_is_accepted():
    text = FULL_L3.replace('<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?>')
    assert read_sbml_string(text).id == "m"


@pytest.mark.parametrize("rule, match", [
    ("x' = ;", r"invalid Antimony in <string>: line 3: rate rule for 'x' has no formula"),
    ("x' =   // later", r"line 3: rate rule for 'x' has no formula"),
    ("y := ;", r"line 3: assignment rule for 'y' has no formula"),
])
def test_antimony_empty_rule_names_line(rule, match):
    # libantimony accepts these silently and leaves a parameter without a value
    with pytest.raises(ModelImportError, match=match):
        load(f"model m\n  x = 1; k = 2\n  {rule}\n  z' = k\nend\n")
