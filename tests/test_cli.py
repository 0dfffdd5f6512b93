"""The ``crosstalk`` command through subprocess: help, exit codes, files written, errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator import cli

ROOT = Path(__file__).resolve().parents[1]


def crosstalk(*args, cwd=None):
    """Run ``crosstalk`` as a user would (piped, so no progress bar)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    return subprocess.run([sys.executable, "-m", "simulator.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_help_lists_examples_and_exit_codes():
    res = crosstalk("--help")
    assert res.returncode == 0
    for text in ("examples:", "exit codes:", "simulate", "dose-response", "combination",
                 "atlas", "sensitivity", "4  integration error"):
        assert text in res.stdout


@pytest.mark.parametrize("command", ["simulate", "dose-response", "combination", "drugs",
                                     "phenotypes", "atlas", "sensitivity", "trial"])
def test_subcommand_help_has_examples(command):
    res = crosstalk(command, "--help")
    assert res.returncode == 0, res.stderr
    assert f"crosstalk {command}" in res.stdout and "exit codes:" in res.stdout


def test_simulate_writes_csv_parquet_and_provenance(tmp_path):
    out = tmp_path / "run1"
    res = crosstalk("simulate", "--drug", "letrozole=10", "--phenotype", "HER2_amplified",
                    "--readout", "growth_rate", "--hours", "168", "--out", out)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # piped: no progress bar, no warnings
    table = pd.read_csv(out / "trajectory.csv")
    assert list(table.columns) == ["time", "growth_rate"]
    assert table["time"].iloc[-1] == pytest.approx(168.0)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trajectory.parquet"), table)
    assert (out / "trajectory.png").stat().st_size > 1000
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["model"]["hash"] == simulator.load_model().hash
    assert prov["version"] == simulator.__version__
    assert "--drug letrozole=10" in prov["command"]
    assert prov["parameters"]["phenotype"] == ["HER2_amplified"]
    # the run is the treatment from the untreated HER2-amplified steady state
    ss = simulator.steady_state(simulator.load_model(), phenotype="HER2_amplified")
    assert table["growth_rate"].iloc[0] == pytest.approx(ss["growth_rate"], rel=1e-6)


def test_unknown_drug_is_exit_2_with_suggestion(tmp_path):
    res = crosstalk("simulate", "--drug", "letrozol=10", "--out", tmp_path)
    assert res.returncode == 2
    assert "unknown drug 'letrozol' of model 'er_crosstalk'; did you mean 'letrozole'?" \
        in res.stderr
    assert "valid drugs: tamoxifen, fulvestrant" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_input_and_model_errors_have_their_exit_codes(tmp_path):
    bad_model = tmp_path / "bad.xml"
    bad_model.write_text("<sbml><model id='broken'>")
    blowup = tmp_path / "blowup.ant"
    blowup.write_text("model blowup\n  x' = x*x\n  x = 1\nend\n")
    cases = [
        (("simulate", "--phenotype", "HER2amp"), 2, "did you mean 'HER2_amplified'?"),
        (("simulate", "--readout", "pakt_s473"), 2, "did you mean 'pAkt_S473'?"),
        (("dose-response", "--drug", "everolimus", "--doses", "1,-3", "--readout", "pS6"), 2,
         "must be finite and >= 0"),
        (("simulate", "--hours"), 2, "expected one argument"),            # argparse
        (("simulate", "--model", bad_model), 3, "model error"),
        (("simulate", "--model", blowup, "--no-equilibrate", "--readout", "x", "--hours", "5"),
         4, "integration error"),
    ]
    for args, code, text in cases:
        res = crosstalk(*args, "--out", tmp_path / "x")
        assert res.returncode == code, (args, res.stderr)
        assert text in res.stderr, (args, res.stderr)
        assert "Traceback" not in res.stderr


def test_dose_response_and_combination_write_their_tables(tmp_path):
    res = crosstalk("dose-response", "--drug", "everolimus", "--doses", "0.1,1,10,100", "--readout",
                    "pS6", "--at", "24", "--out", tmp_path / "dr")
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "dr" / "dose_response.csv")
    assert table["dose"].tolist() == [0.0, 0.1, 1.0, 10.0, 100.0]
    assert table["value"].iloc[-1] < 0.5 * table["value"].iloc[0]   # everolimus lowers pS6
    assert json.loads((tmp_path / "dr" / "fit.json").read_text())["ic50"] > 0

    res = crosstalk("combination", "--drug-a", "fulvestrant", "--doses-a", "100", "--drug-b",
                    "buparlisib", "--doses-b", "1000", "--phenotype", "LTED", "--out",
                    tmp_path / "combo")
    assert res.returncode == 0, res.stderr
    assert len(pd.read_csv(tmp_path / "combo" / "combination.csv")) == 4   # 2 x 2 with controls
    scores = json.loads((tmp_path / "combo" / "synergy.json").read_text())
    assert set(scores) == {"bliss", "loewe", "hsa", "zip"}


def test_drugs_and_phenotypes_list_the_catalogue():
    res = crosstalk("drugs")
    assert res.returncode == 0
    names = simulator.drugs().index
    assert len(names) == 21 and all(name in res.stdout for name in names)
    res = crosstalk("phenotypes")
    assert res.returncode == 0 and "ESR1_mutant" in res.stdout and "CCNE1_high" in res.stdout


def test_sensitivity_without_salib_is_a_clear_usage_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "SALib", None)     # as if the extra were not installed
    code = cli.main(["sensitivity", "--readout", "growth_rate", "--n", "4", "--out", "unused"])
    assert code == 2
    assert "SALib is needed for sensitivity analysis: pip install crosstalk[cluster]" \
        in capsys.readouterr().err
