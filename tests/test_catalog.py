"""Model catalogues: read from TOML with the file and line in every error, attached to a
model, and used by the protocol on a user's model exactly as on the bundled one."""
import pickle

import numpy as np
import pytest

import simulator as sim
from simulator.catalog import Catalog, Phenotype
from simulator.errors import ModelImportError, PerturbationError
from simulator.io import read_catalog

# a user's model with a tumour that grows from treatment start, and its catalogue
CELL = """
model cell
  compartment c = 1
  inhibitor = 0
  k = 0.3
  S = 1
  burden = 1
  R1: -> S; 1
  R2: S -> ; k*S*(1 + inhibitor)
  R3: -> burden; (S - 2)*burden
end
"""
CATALOG = """
drugs = "drugs.toml"
reset_at_start = ["burden"]

[phenotypes.fast]
description = "faster turnover"
overrides = { k = { scale = 2.0 } }
"""
DRUGS = """
[inhibitor]
target = "turnover"
pk = { dose_mg = 10.0, tau_h = 24.0, V_F_L = 10.0, t_half_h = 6.0, MW_g_mol = 1.0e5, fu = 1.0 }
"""


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "cell.ant").write_text(CELL)
    (tmp_path / "cell.toml").write_text(CATALOG)
    (tmp_path / "drugs.toml").write_text(DRUGS)
    return tmp_path


def test_catalogue_files_are_read(folder):
    cat = read_catalog(folder / "cell.toml")
    assert list(cat.drugs) == ["inhibitor"] and cat.reset_at_start == ("burden",)
    assert cat.phenotypes["fast"] == Phenotype("fast", (("k", "scale", 2.0),), "faster turnover")
    assert cat.apply_phenotypes(["fast", "fast"], {"k": 0.3}) == {"k": pytest.approx(1.2)}


@pytest.mark.parametrize("text, message", [
    ("reset_at_start = [\n\nx = 1\n", r"cell.toml is not valid TOML: .*line 3"),
    ('\n\nbogus = 1\n', r"cell.toml, line 3: unknown catalogue entry 'bogus'"),
    ('[phenotypes.fast]\noverrides = { k = { times = 2 } }\n',
     r"cell.toml, line 1: phenotype 'fast', parameter 'k': override must be"),
    ('\n[phenotypes.fast]\noverrides = { k = { set = "x" } }\n',
     r"cell.toml, line 2: phenotype 'fast', parameter 'k': set needs a finite number"),
    ('reset_at_start = "burden"\n', r"line 1: reset_at_start must be a list of species ids"),
    ('drugs = "missing.toml"\n', r"catalogue file .*missing.toml is missing"),
    ('[drugs]\ninhibitor = 3\n', r"line 2: drug 'inhibitor' must be a table"),
])
def test_a_bad_catalogue_names_file_and_line(folder, text, message):
    (folder / "cell.toml").write_text(text)
    with pytest.raises(ModelImportError, match=message):
        read_catalog(folder / "cell.toml")


def test_reset_species_must_exist(folder):
    (folder / "cell.toml").write_text('reset_at_start = ["tumour"]\n')
    with pytest.raises(ModelImportError, match="reset_at_start names 'tumour', which is not a "
                                               "species of model 'cell'"):
        sim.load_model(folder / "cell.ant", catalog=folder / "cell.toml")


def test_protocol_on_a_users_model(folder):
    """Untreated steady state with the burden held, burden reset to 1, treatment from t = 0;
    the protocol finds all of that in the user's catalogue."""
    model = sim.load_model(folder / "cell.ant", catalog=folder / "cell.toml")
    start, ss = sim.untreated_state(model, phenotype="fast")
    assert ss.converged and start["S"] == pytest.approx(1 / 0.6) and start["burden"] == 1.0
    t = np.linspace(0, 10, 11)
    tr = sim.run_treatment(model, {"inhibitor": 1.0}, t, phenotype="fast")
    s = 1 / 1.2 + (1 / 0.6 - 1 / 1.2) * np.exp(-1.2 * t)              # S relaxes to 1/(2k(1+i))
    np.testing.assert_allclose(tr["S"], s, rtol=1e-5)
    assert tr["burden"][0] == 1.0 and tr["burden"][-1] < 1.0
    # a clinical dose through the catalogue's PK
    clinical = sim.Treatment.clinical("inhibitor", catalog=model)
    tr = sim.run_treatment(model, clinical, t)
    assert tr["inhibitor"][0] == pytest.approx(10.0 * 1e6 / (10.0 * 1e5))      # 10 mg -> 10 nM
    # without the catalogue, nothing is reset and there are no phenotypes
    bare = sim.load_model(folder / "cell.ant")
    with pytest.raises(PerturbationError, match="valid phenotypes: none"):
        sim.untreated_state(bare, phenotype="fast")
    assert sim.steady_state(bare, exclude=["burden"]).converged


def test_reset_takes_the_initial_value_as_the_model_means_it(tmp_path):
    """An amount of 1 in a compartment of size 2 restarts at concentration 0.5."""
    (tmp_path / "m.ant").write_text("""
model m
  compartment c = 2
  B in c
  B = 0
  B = 1 / c       // an initial amount of 1 (as an initial assignment of the concentration)
  J: -> B; B
end
""")
    (tmp_path / "m.toml").write_text('reset_at_start = ["B"]\n')
    model = sim.load_model(tmp_path / "m.ant", catalog=tmp_path / "m.toml")
    tr = sim.run_treatment(model, {}, [0.0, 1.0], initial={"B": 7.0})
    assert tr["B"][0] == pytest.approx(0.5)
    assert tr.amount("B")[0] == pytest.approx(1.0)
    tr = sim.run_treatment(model, {}, [0.0, 1.0], initial={"B": 7.0}, reset=False)
    assert tr["B"][0] == 7.0


def test_clinical_doses_need_a_catalogue():
    with pytest.raises(sim.PerturbationError, match="catalog must be a Catalog or a Model"):
        sim.Treatment.clinical("letrozole", catalog="letrozole")


def test_catalogue_travels_with_the_model(folder):
    model = sim.load_model(folder / "cell.ant", catalog=folder / "cell.toml")
    again = pickle.loads(pickle.dumps(model))
    assert again.catalog.reset_at_start == ("burden",) and "fast" in again.catalog.phenotypes
    assert again.hash == model.hash
    ens = sim.sweep(model, [0.0, 1.0], params={"k": [0.1, 0.2]}, phenotype="fast",
                    readouts="S", executor="processes", progress=False)
    direct = sim.simulate(model, [0.0, 1.0], params={"k": 0.2}, phenotype="fast")
    assert ens["S"][1, -1] == pytest.approx(direct["S"][-1], rel=1e-6)


def test_an_empty_catalogue_lets_any_parameter_act_as_a_drug():
    model = sim.load_model(CELL)
    assert model.catalog.drugs == {} and isinstance(model.catalog, Catalog)
    assert sim.simulate(model, [0, 1], drugs={"k": 1.0}).success
