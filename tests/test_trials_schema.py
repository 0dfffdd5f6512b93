"""Trial definitions: the schema, regimens in mg on the PK layer, typed errors with lines."""
from pathlib import Path

import pytest

import simulator as sim
from simulator.trials import Trial

GOOD = """\
name = "T"
source = "test"
months = 12
scan_every_weeks = 8
[population]
prior = "nonsteroidal_AI"
phenotypes = { PIK3CA_mutant = 0.4, ESR1_mutant = 0.3 }
[arms.control]
label = "fulvestrant"
regimen = [{ drug = "fulvestrant", mg = 500, days = [1, 15, 29], then_every_days = 28 }]
[arms.experimental]
label = "fulvestrant + alpelisib"
regimen = [{ drug = "fulvestrant", mg = 500, days = [1, 15, 29], then_every_days = 28 },
           { drug = "alpelisib", mg = 300, every_days = 1 }]
[published]
median_pfs_months = { control = 5.7, experimental = 11.0 }
hazard_ratio = [0.65, 0.50, 0.85]
n = 341
"""


@pytest.fixture(scope="module")
def catalog():
    return sim.load_model().catalog


def write(tmp_path, text, name="t.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_trial_maps_onto_the_pk_layer(tmp_path, catalog):
    tr = Trial.from_toml(write(tmp_path, GOOD), catalog=catalog)
    assert list(tr.arms) == ["control", "experimental"]
    assert tr.population.phenotypes == {"PIK3CA_mutant": 0.4, "ESR1_mutant": 0.3}
    d, mg, sch = tr.arms["control"].regimen[0]
    assert (d, mg) == ("fulvestrant", 500.0)
    assert sch.administrations(24 * 90).tolist() == [0, 336, 672, 1344, 2016]
    tm = tr.arms["experimental"].treatment
    assert tm.drugs["alpelisib"].unit == "mg" and tm.drugs["alpelisib"].schedule.interval == 24
    assert tr.published.hazard_ratio == (0.65, 0.50, 0.85)
    assert tr.arms["experimental"].free_fraction == {}
    ff = Trial.from_toml(write(tmp_path, GOOD.replace('mg = 300, every_days = 1',
                                                      'mg = 300, every_days = 1, free_fraction = 0.1'),
                               "ff.toml"), catalog=catalog)
    assert ff.arms["experimental"].free_fraction == {"alpelisib": 0.1}


def test_intermittent_loading_and_per_kg(tmp_path, catalog):
    text = GOOD.replace('{ drug = "alpelisib", mg = 300, every_days = 1 }',
                        '{ drug = "temsirolimus", mg = 30, on_days = 5, cycle_days = 14 }')
    text = text.replace('regimen = [{ drug = "fulvestrant", mg = 500, days = [1, 15, 29], '
                        'then_every_days = 28 }]\n[arms.experimental]',
                        'regimen = [{ drug = "trastuzumab", mg_per_kg = 2, loading_mg_per_kg = 4, '
                        'every_days = 7 }]\n[arms.experimental]')
    tr = Trial.from_toml(write(tmp_path, text), catalog=catalog)
    d, mg, sch = tr.arms["control"].regimen[0]
    assert d == "trastuzumab" and mg == pytest.approx(140.0)        # 2 mg/kg x 70 kg
    assert sch.administrations(24 * 8).tolist() == [0.0, 1.0, 169.0]  # loading = 2 doses
    _, _, tem = tr.arms["experimental"].regimen[1]
    assert tem.administrations(24 * 14.5).tolist() == [0, 24, 48, 72, 96, 336]
    assert tr.arms["experimental"].bioavailability == {}
    oral = Trial.from_toml(write(tmp_path, text.replace("cycle_days = 14 }",
                                                        'cycle_days = 14, route = "oral" }'),
                                 "oral.toml"), catalog=catalog)
    # oral temsirolimus: the catalogue's F_oral on the i.v. PK (Buckner 2010: 17.9%)
    assert oral.arms["experimental"].bioavailability == {
        "temsirolimus": catalog.drug("temsirolimus")["pk"]["F_oral"]}
    assert 0.1 < oral.arms["experimental"].bioavailability["temsirolimus"] < 0.3


@pytest.mark.parametrize("route, match", [
    ('"rectal"', r"line 14: key 'arms.experimental.regimen.route': drug 'temsirolimus': the "
                 r"catalogue has no bioavailability for route 'rectal' \(pk.F_rectal\).*other "
                 r"routes: oral"),
    ('3', r"line 14: key 'arms.experimental.regimen.route': drug 'temsirolimus': route must be "
          r"a word"),
])
def test_route_errors_name_the_line(tmp_path, catalog, route, match):
    text = GOOD.replace('{ drug = "alpelisib", mg = 300, every_days = 1 }',
                        f'{{ drug = "temsirolimus", mg = 30, on_days = 5, cycle_days = 14, '
                        f'route = {route} }}')
    with pytest.raises(sim.TrialError, match=match):
        Trial.from_toml(write(tmp_path, text), catalog=catalog)


@pytest.mark.parametrize("edit, match", [
    (('scan_every_weeks = 8', 'scan_every_weeks = 8\nscan_every = 3'),
     r"line 5: key 'scan_every': unknown key.*did you mean 'scan_every_weeks'"),
    (('drug = "alpelisib"', 'drug = "alpelisibb"'),
     r"line 14: key 'arms.experimental.regimen.drug': unknown drug 'alpelisibb'"),
    (('PIK3CA_mutant = 0.4', 'PIK3CA_mutantt = 0.4'),
     r"line 7: key 'population.phenotypes.PIK3CA_mutantt': unknown phenotype"),
    (('ESR1_mutant = 0.3', 'ESR1_mutant = 1.3'),
     r"line 7: key 'population.phenotypes.ESR1_mutant': prevalence must lie in \[0, 1\]"),
    (('prior = "nonsteroidal_AI"', 'prior = "chemo"'), r"line 6: key 'population.prior'"),
    (('mg = 300, every_days = 1', 'mg = 300'), r"alpelisib': give a schedule"),
    (('mg = 300,', 'mg = -300,'), r"line 14: key 'arms.experimental.regimen.mg': must be > 0"),
    (('hazard_ratio = [0.65, 0.50, 0.85]', 'hazard_ratio = [0.65, 0.70, 0.85]'),
     r"line 17: key 'published.hazard_ratio'"),
    (('label = "fulvestrant"\n', 'label = "fulvestrant"\ndose = 1\n'),
     r"line 10: key 'arms.control.dose': unknown key"),
])
def test_errors_name_file_key_and_line(tmp_path, catalog, edit, match):
    p = write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(sim.TrialError, match=match) as err:
        Trial.from_toml(p, catalog=catalog)
    assert str(p) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_unreadable_and_malformed(tmp_path, catalog):
    with pytest.raises(sim.TrialError, match="cannot be read"):
        Trial.from_toml(tmp_path / "missing.toml", catalog=catalog)
    with pytest.raises(sim.TrialError, match="not valid TOML"):
        Trial.from_toml(write(tmp_path, "name = \n"), catalog=catalog)
    with pytest.raises(sim.TrialError, match="arms"):
        Trial.from_toml(write(tmp_path, GOOD.split("[arms.experimental]")[0]
                              .replace("[published]", "")), catalog=catalog)


def test_bundled_library_reads():
    root = Path(sim.__file__).parent / "models" / "trials"
    files = sorted(root.glob("*.toml"))
    assert files
    cat = sim.load_model().catalog
    for f in files:
        tr = Trial.from_toml(f, catalog=cat)
        assert tr.published.median_pfs_months, f
