"""Hierarchical models (SBML comp): flattened by libsbml, then read like any flat model.

The reference is a hand-flattened equivalent model simulated by libroadrunner, so the check
does not rely on the flattening it tests.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import simulator as sim
from simulator.errors import ModelImportError, UnsupportedFeatureError
from simulator.solvers.base import SolverOptions
from tests.conftest import roadrunner_from

_DEFINITION = """
    <comp:modelDefinition id="conv">
      <listOfCompartments>
        <compartment id="C" spatialDimensions="3" size="1" constant="true"/>
      </listOfCompartments>
      <listOfSpecies>
        <species id="S" compartment="C" initialConcentration="1" hasOnlySubstanceUnits="false"
                 boundaryCondition="false" constant="false"/>
        <species id="P" compartment="C" initialConcentration="1" hasOnlySubstanceUnits="false"
                 boundaryCondition="false" constant="false"/>
      </listOfSpecies>
      <listOfParameters>
        <parameter id="k" value="1" constant="true"/>
        <parameter id="kl" value="0.1" constant="true"/>
      </listOfParameters>
      <listOfReactions>
        <reaction id="J" reversible="false">
          <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
          <listOfProducts><speciesReference species="P" stoichiometry="1" constant="true"/></listOfProducts>
          <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><ci>k</ci><ci>S</ci><ci>C</ci></apply></math></kineticLaw>
        </reaction>
        <reaction id="L" reversible="false">
          <listOfReactants><speciesReference species="P" stoichiometry="1" constant="true"/></listOfReactants>
          <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
            <apply><times/><ci>kl</ci><ci>P</ci><ci>C</ci></apply></math></kineticLaw>
        </reaction>
      </listOfReactions>
      <comp:listOfPorts>
        <comp:port comp:id="C_port" comp:idRef="C"/>
        <comp:port comp:id="S_port" comp:idRef="S"/>
        <comp:port comp:id="P_port" comp:idRef="P"/>
      </comp:listOfPorts>
    </comp:modelDefinition>"""


def _species(sid, value, replaced):
    refs = "".join(f'<comp:replacedElement comp:submodelRef="{sub}" comp:portRef="{port}"/>'
                   for sub, port in replaced)
    return (f'<species id="{sid}" compartment="cell" initialConcentration="{value}" '
            f'hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false">'
            f'<comp:listOfReplacedElements>{refs}</comp:listOfReplacedElements></species>')


def _chain(*, b_port="S_port", submodel_b='comp:modelRef="conv"', definitions=_DEFINITION):
    """Two copies (A, B) of a conversion module S -> P (with leak L) chained X -> Y -> Z.

    The top model's compartment and species replace the submodels' through ports; k1
    replaces A's k; B's leak reaction is deleted and its extent is scaled by ``two``.
    """
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true">
  <model id="chain">
    <listOfCompartments>
      <compartment id="cell" spatialDimensions="3" size="2" constant="true">
        <comp:listOfReplacedElements>
          <comp:replacedElement comp:submodelRef="A" comp:portRef="C_port"/>
          <comp:replacedElement comp:submodelRef="B" comp:portRef="C_port"/>
        </comp:listOfReplacedElements>
      </compartment>
    </listOfCompartments>
    <listOfSpecies>
      {_species("X", 10, [("A", "S_port")])}
      {_species("Y", 0, [("A", "P_port"), ("B", b_port)])}
      {_species("Z", 0, [("B", "P_port")])}
    </listOfSpecies>
    <listOfParameters>
      <parameter id="k1" value="0.5" constant="true">
        <comp:listOfReplacedElements>
          <comp:replacedElement comp:submodelRef="A" comp:idRef="k"/>
        </comp:listOfReplacedElements>
      </parameter>
      <parameter id="two" value="2" constant="true"/>
    </listOfParameters>
    <comp:listOfSubmodels>
      <comp:submodel comp:id="A" comp:modelRef="conv"/>
      <comp:submodel comp:id="B" {submodel_b} comp:extentConversionFactor="two">
        <comp:listOfDeletions><comp:deletion comp:idRef="L"/></comp:listOfDeletions>
      </comp:submodel>
    </comp:listOfSubmodels>
  </model>
  <comp:listOfModelDefinitions>{definitions}
  </comp:listOfModelDefinitions>
</sbml>
"""


# The same model flattened by hand: A's reactions keep their leak, B's rate is doubled.
HAND_FLAT = """
model chain_flat
  compartment cell = 2
  species X in cell, Y in cell, Z in cell
  X = 10; Y = 0; Z = 0
  k1 = 0.5; A__kl = 0.1; B__k = 1; two = 2
  A__J: X -> Y; k1*X*cell
  A__L: Y -> ; A__kl*Y*cell
  B__J: Y -> Z; two*B__k*Y*cell
end
"""


def _reference(t, ids):
    r = roadrunner_from(HAND_FLAT)
    r.integrator.relative_tolerance = 1e-10
    r.integrator.absolute_tolerance = 1e-14
    r.timeCourseSelections = ["time"] + [f"[{i}]" for i in ids]
    out = r.simulate(float(t[0]), float(t[-1]), len(t))
    return {i: np.asarray(out[:, k + 1]) for k, i in enumerate(ids)}


def test_two_submodels_match_hand_flattened_model():
    model = sim.load_model(_chain())
    assert set(model.species_ids) == {"X", "Y", "Z"}
    assert "B__L" not in {r.id for r in model.reactions}  # deleted
    t = np.linspace(0, 10, 101)
    traj = sim.simulate(model, t, options=SolverOptions(rtol=1e-10, atol=1e-14))
    ref = _reference(t, ["X", "Y", "Z"])
    for sid in ("X", "Y", "Z"):
        err = np.abs(traj.concentration(sid) - ref[sid]) / (1e-10 + 1e-8 * np.abs(ref[sid]))
        assert err.max() < 1.0, sid


def test_flat_sbml_is_what_the_model_keeps_and_pickles():
    model = sim.load_model(_chain())
    assert "comp:" not in model.sbml
    again = pickle.loads(pickle.dumps(model))
    assert again.species_ids == model.species_ids


def test_external_model_definition_resolves_next_to_the_file(tmp_path, monkeypatch):
    ext = f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2"
      xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true">
  <model id="unused"/>
  <comp:listOfModelDefinitions>{_DEFINITION}
  </comp:listOfModelDefinitions>
</sbml>
"""
    (tmp_path / "module.xml").write_text(ext)
    # (an external definition whose id equals the modelRef of a modelDefinition in the
    # other file sends libsbml 5.21's comp validation into an endless loop: ids differ here)
    external = ('<comp:listOfExternalModelDefinitions><comp:externalModelDefinition '
                'comp:id="conv_ext" comp:source="module.xml" comp:modelRef="conv"/>'
                '</comp:listOfExternalModelDefinitions>')
    main = _chain(definitions="", submodel_b='comp:modelRef="conv_ext"').replace(
        'comp:id="A" comp:modelRef="conv"', 'comp:id="A" comp:modelRef="conv_ext"').replace(
        "  <comp:listOfModelDefinitions>\n  </comp:listOfModelDefinitions>\n", external)
    (tmp_path / "main.xml").write_text(main)
    monkeypatch.chdir(tmp_path.parent)  # resolution must not depend on the working directory
    model = sim.load_model(tmp_path / "main.xml")
    flat_here = sim.load_model(_chain())
    t = np.linspace(0, 5, 11)
    a, b = sim.simulate(model, t), sim.simulate(flat_here, t)
    for sid in ("X", "Y", "Z"):
        np.testing.assert_allclose(a.concentration(sid), b.concentration(sid), rtol=1e-12)


def test_missing_external_file_names_definition_and_file(tmp_path):
    main = _chain(definitions="", submodel_b='comp:modelRef="gone"').replace(
        "  <comp:listOfModelDefinitions>\n  </comp:listOfModelDefinitions>\n",
        '<comp:listOfExternalModelDefinitions><comp:externalModelDefinition comp:id="gone" '
        'comp:source="nowhere.xml" comp:modelRef="conv"/></comp:listOfExternalModelDefinitions>')
    path = tmp_path / "main.xml"
    path.write_text(main)
    with pytest.raises(ModelImportError, match=r"(?s)main\.xml:\d+.*nowhere\.xml"):
        sim.load_model(path)


def test_broken_port_reference_is_an_import_error_with_line():
    with pytest.raises(ModelImportError, match=r"(?s)hierarchical.*<string>:\d+:.*no_such_port"):
        sim.load_model(_chain(b_port="no_such_port"))


def test_a_package_inside_an_external_file_is_still_refused(tmp_path):
    # the package check runs on the flat model too, not only on the top document
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.xml").write_text(_INNER_FBC)
    (tmp_path / "top.xml").write_text(_TOP_FBC)
    with pytest.raises(UnsupportedFeatureError, match="'fbc'"):
        sim.load_model(tmp_path / "top.xml")


_TOP_FBC = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" level="3" version="1" comp:required="true">
  <comp:listOfExternalModelDefinitions>
    <comp:externalModelDefinition comp:id="ext" comp:source="sub/inner.xml" comp:modelRef="inner"/>
  </comp:listOfExternalModelDefinitions>
  <model id="top">
    <comp:listOfSubmodels><comp:submodel comp:id="M" comp:modelRef="ext"/></comp:listOfSubmodels>
  </model>
</sbml>
"""

_INNER_FBC = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" level="3" version="1" comp:required="true" xmlns:fbc="http://www.sbml.org/sbml/level3/version1/fbc/version2" fbc:required="false">
  <model id="inner" fbc:strict="true">
    <listOfCompartments><compartment id="C" spatialDimensions="3" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies><species id="S" compartment="C" initialConcentration="1" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/></listOfSpecies>
    <listOfParameters><parameter id="k" value="0.5" constant="true"/></listOfParameters>
    <listOfReactions>
      <reaction id="J" reversible="false" fast="false">
        <listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>S</ci><ci>C</ci></apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
    <fbc:listOfObjectives fbc:activeObjective="obj"><fbc:objective fbc:id="obj" fbc:type="maximize"><fbc:listOfFluxObjectives><fbc:fluxObjective fbc:reaction="J" fbc:coefficient="1"/></fbc:listOfFluxObjectives></fbc:objective></fbc:listOfObjectives>
  </model>
</sbml>
"""
