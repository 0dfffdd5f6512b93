"""Fitted values into the bundled model's source: the .ant and parameters.csv get the
values and sources, the initial state becomes the new steady state, and the SBML made from
it runs; bad tables are named."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.bundled import MODEL_ANT, PARAMETERS_CSV, fitted


@pytest.fixture
def copies(tmp_path):
    ant, table = tmp_path / "model.ant", tmp_path / "parameters.csv"
    shutil.copy(MODEL_ANT, ant)
    shutil.copy(PARAMETERS_CSV, table)
    return ant, table, tmp_path / "model.xml"


def write_fit(path, rows):
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def test_fitted_values_go_into_the_source_with_the_new_steady_state(copies, tmp_path):
    ant, table, sbml = copies
    fit = write_fit(tmp_path / "fit.tsv", [
        {"parameterId": "k_T308", "nominalValue": 60.0, "estimate": 1},
        {"parameterId": "kdp_S6", "nominalValue": 7.5, "estimate": 1},
        {"parameterId": "scale_AKT_pS473", "nominalValue": 0.3, "estimate": 1},   # not ours
        {"parameterId": "k_S473", "nominalValue": 99.0, "estimate": 0}])         # fixed
    values = fitted.apply(fit, "test data", ant=ant, table=table, sbml=sbml)
    assert values == {"k_T308": 60.0, "kdp_S6": 7.5}
    text = ant.read_text()
    assert "k_T308 = 60;" in text and "kdp_S6 = 7.5" in text and "k_S473 = 20" in text
    with open(table, newline="") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    assert rows["k_T308"]["value"] == "60"
    assert rows["k_T308"]["source"].startswith("fitted to test data; prior before: 30 (")
    assert table.read_bytes().count(b"\r\n") == len(rows) + 1
    # the new initial state is the parental steady state of the new parameters
    model = sim.load_model(sbml)
    traj = sim.simulate(model, np.array([0.0, 2000.0]))
    for sid in ("Akt_T", "Akt_TS", "pS6", "pERK", "ER_E2"):
        assert traj[sid][0] == pytest.approx(traj[sid][-1], rel=1e-3), sid
    before = sim.steady_state(sim.load_model())
    assert traj["Akt_T"][0] != pytest.approx(before["Akt_T"], rel=1e-3)


def test_a_table_without_model_parameters_is_refused(copies, tmp_path):
    ant, table, sbml = copies
    fit = write_fit(tmp_path / "fit.tsv", [{"parameterId": "scale_x", "nominalValue": 1.0,
                                           "estimate": 1}])
    with pytest.raises(sim.InvalidValueError, match="no estimated model parameter"):
        fitted.apply(fit, "x", ant=ant, table=table, sbml=sbml)
    with pytest.raises(sim.InvalidValueError, match="not a PEtab parameter table"):
        fitted.apply(write_fit(tmp_path / "bad.tsv", [{"id": "k_T308"}]), "x", ant=ant,
                     table=table, sbml=sbml)


def test_a_non_finite_fitted_value_is_refused_and_nothing_is_written(copies, tmp_path):
    ant, table, sbml = copies
    before = ant.read_text()
    fit = write_fit(tmp_path / "fit.tsv", [{"parameterId": "k_T308", "nominalValue": "nan",
                                           "estimate": 1}])
    with pytest.raises(sim.InvalidValueError, match="not finite.*k_T308"):
        fitted.apply(fit, "x", ant=ant, table=table, sbml=sbml)
    assert ant.read_text() == before and not sbml.exists()


def test_centred_values_say_so_in_their_source(copies):
    _, table, _ = copies
    with open(table, newline="") as fh:
        before = next(r for r in csv.DictReader(fh) if r["id"] == "n_E2F")
    text = fitted.table_text(table, {"n_E2F": 2.5}, "benchmarks/centre_parameters.py",
                             verb="centred for robustness by")
    row = next(r for r in csv.DictReader(text.splitlines()) if r["id"] == "n_E2F")
    assert row["value"] == "2.5"
    assert row["source"] == ("centred for robustness by benchmarks/centre_parameters.py; "
                             f"prior before: {before['value']} ({before['source']})")


def test_fitted_values_of_every_estimated_row_and_bad_tables(tmp_path):
    """Without model ids every estimated row is read (an offset may be negative); a
    parameter listed twice or a value that is not a number is a named error."""
    rows = [dict(parameterId="k1", nominalValue=0.5, estimate=1),
            dict(parameterId="offset", nominalValue=-0.2, estimate=1),
            dict(parameterId="fixed", nominalValue=3.0, estimate=0)]
    path = write_fit(tmp_path / "fit.tsv", rows)
    assert fitted.fitted_values(path) == {"k1": 0.5, "offset": -0.2}
    with pytest.raises(sim.InvalidValueError, match="offset"):
        fitted.fitted_values(path, {"k1", "offset"})        # model parameters are >= 0
    twice = write_fit(tmp_path / "twice.tsv", rows + [rows[0]])
    with pytest.raises(sim.InvalidValueError, match="listed twice: k1"):
        fitted.fitted_values(twice)
    text = write_fit(tmp_path / "text.tsv", [dict(parameterId="k1", nominalValue="abc",
                                                  estimate=1)])
    with pytest.raises(sim.InvalidValueError, match="not finite.*k1"):
        fitted.fitted_values(text)


def test_prior_values_are_the_values_before_the_first_fit(copies, tmp_path):
    """A problem regenerated from the fitted model centres its priors where the fit's did:
    a second fit over the first still reads the value before any fit."""
    ant, table, sbml = copies
    shipped = fitted.prior_values(table)
    assert "k_T308" not in shipped and "kdp_S6" not in shipped
    first = write_fit(tmp_path / "first.tsv",
                      [{"parameterId": "k_T308", "nominalValue": 60.0, "estimate": 1}])
    fitted.apply(first, "data A; part 1", ant=ant, table=table, sbml=sbml)
    assert fitted.prior_values(table) == {**shipped, "k_T308": 30.0}
    second = write_fit(tmp_path / "second.tsv",
                       [{"parameterId": "k_T308", "nominalValue": 45.0, "estimate": 1},
                        {"parameterId": "kdp_S6", "nominalValue": 7.5, "estimate": 1}])
    fitted.apply(second, "data B", ant=ant, table=table, sbml=sbml)
    assert fitted.prior_values(table) == {**shipped, "k_T308": 30.0, "kdp_S6": 10.0}
    # a centring between two fits: the value before the first fit still wins
    third = write_fit(tmp_path / "third.tsv",
                      [{"parameterId": "k_T308", "nominalValue": 50.0, "estimate": 1}])
    fitted.apply(third, "a tool", ant=ant, table=table, sbml=sbml,
                 verb="centred for robustness by")
    fitted.apply(second, "data C", ant=ant, table=table, sbml=sbml)
    assert fitted.prior_values(table)["k_T308"] == 30.0
    text = table.read_text().replace("; prior before: 30 (", "; was 30 (")
    table.write_text(text)
    with pytest.raises(sim.InvalidValueError, match="k_T308 does not say its value"):
        fitted.prior_values(table)


def test_two_applies_in_one_process_each_write_their_own_steady_state(copies, tmp_path):
    """The second write's initial state is the steady state of the text it writes, not of
    the bundled model this process read first (a regression: it was)."""
    ant, table, sbml = copies
    first = write_fit(tmp_path / "first.tsv",
                      [{"parameterId": "kdp_RTK", "nominalValue": 300.0, "estimate": 1}])
    fitted.apply(first, "A", ant=ant, table=table, sbml=sbml)
    second = write_fit(tmp_path / "second.tsv",
                       [{"parameterId": "k_act_IGF1R", "nominalValue": 3000.0, "estimate": 1}])
    fitted.apply(second, "B", ant=ant, table=table, sbml=sbml)
    model = sim.load_model(sbml, catalog=sim.load_model().catalog)
    traj = sim.simulate(model, np.array([0.0, 2000.0]))
    for sid in ("pIGF1R", "IRS1_pY", "FOXO_nuclear", "Akt_T"):
        assert traj[sid][0] == pytest.approx(traj[sid][-1], rel=1e-3), sid
