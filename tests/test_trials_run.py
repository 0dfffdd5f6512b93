"""A tiny virtual trial end to end: reproducibility, executors, resume after SIGKILL, CLI."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name = "tiny"
source = "test"
months = 6
scan_every_weeks = 8
[population]
prior = "none"
phenotypes = { HER2_amplified = 0.5 }
dropout_per_year = 0.2
[arms.control]
label = "fulvestrant"
regimen = [{ drug = "fulvestrant", mg = 500, days = [1, 15, 29], then_every_days = 28 }]
[arms.experimental]
label = "fulvestrant + trastuzumab"
regimen = [{ drug = "fulvestrant", mg = 500, days = [1, 15, 29], then_every_days = 28 },
           { drug = "trastuzumab", mg_per_kg = 2, loading_mg_per_kg = 4, every_days = 7 }]
[published]
median_pfs_months = { control = 3.0 }
"""


@pytest.fixture(scope="module")
def model():
    return sim.load_model()


@pytest.fixture(scope="module")
def trial_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("trial") / "tiny.toml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def result(model, trial_file):
    return sim.virtual_trial(model, sim.Trial.from_toml(trial_file), patients=40, seed=3,
                             draws=2, progress=False)


def test_tiny_trial_end_to_end(result):
    p = result.patients
    assert len(p) == 80 and set(p["arm"]) == {"control", "experimental"}
    assert {"pfs_months", "event", "best_response", "phenotypes", "doubling_days",
            "ER_synthesis_factor", "clearance_fulvestrant", "baseline_sld_mm"} <= set(p.columns)
    # receptor expression and pathway activities vary between tumours (two draws here)
    for k in ("HER2_synthesis_factor", "PTEN_activity_factor", "g_basal_factor"):
        assert p[k].nunique() == 2 and (p[k] > 0).all(), k
    assert (p["prior_resistance"] == "").all()           # no prior therapy in this trial
    g0 = {q.id: q.value for q in sim.load_model().parameters}["g_basal"]
    assert (p["g_basal_factor"] * g0 < 1).all()        # g_basal stays a fraction
    assert p["best_response"].isin(["CR", "PR", "SD", "PD", "NE"]).all()
    assert (p["pfs_months"] <= 6.0 + 1e-9).all()
    # untreated doubling times spread as measured (log-sd 1.26, Weedon-Fekjaer 2008)
    assert 0.9 < np.log(p["doubling_days"]).std() < 1.6
    hr, lo, hi, pv = result.hazard_ratio
    assert lo <= hr <= hi and 0 <= pv <= 1
    assert set(result.median_pfs) == {"control", "experimental"}
    cmp = result.compare()
    assert cmp.loc["median PFS control (months)", "role"] == "fitted"
    assert cmp.loc["median PFS experimental (months)", "role"] == "predicted"
    cal = result.provenance["calibration"]
    assert cal["parameter"].startswith("median untreated")
    # the control's KM median can only sit on a scan day (every 8 weeks: 1.84, 3.68 months);
    # the fit lands on the one nearest the published 3.0 on the log scale, 3.68
    scans = 8 * 7 * np.arange(1, 4) / 30.4375
    nearest = scans[np.argmin(abs(np.log(scans / 3.0)))]
    assert cal["control_median_fitted"] == pytest.approx(nearest)
    assert result.median_pfs["control"][0] == pytest.approx(nearest)
    fig = result.plot()
    assert len(fig.axes) == 2
    json.loads(result.to_json())


def test_same_seed_same_result_other_seed_differs(model, trial_file, result):
    again = sim.virtual_trial(model, trial_file, patients=40, seed=3, draws=2, progress=False,
                              executor="processes")
    pd.testing.assert_frame_equal(again.patients, result.patients)
    other = sim.virtual_trial(model, trial_file, patients=40, seed=4, draws=1, progress=False)
    assert not other.patients["pfs_months"].equals(result.patients["pfs_months"])


RUN = """
import sys, simulator as sim
res = sim.virtual_trial(sim.load_model(), sys.argv[1], patients=40, seed=3, draws=2,
                        progress=False, store=sys.argv[2], chunk_size=1)
res.patients.to_csv(sys.argv[3], index=False)
"""


def test_resume_after_sigkill_gives_identical_results(tmp_path, trial_file, result):
    store = tmp_path / "store"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(trial_file), str(store),
                             str(tmp_path / "a.csv")], env=env)
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        if list(store.glob("arm-control/chunk_*.parquet")):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait()
    if not killed:
        pytest.skip("the run finished before it could be killed")
    assert proc.returncode == -signal.SIGKILL
    done = len(list(store.glob("*/chunk_*.parquet")))
    assert done >= 1
    out = subprocess.run([sys.executable, "-c", RUN, str(trial_file), str(store),
                          str(tmp_path / "b.csv")], env=env, timeout=300)
    assert out.returncode == 0
    resumed = pd.read_csv(tmp_path / "b.csv")
    fresh = result.patients.copy()
    pd.testing.assert_frame_equal(resumed[["arm", "pfs_months", "event", "best_response"]],
                                  fresh[["arm", "pfs_months", "event", "best_response"]]
                                  .reset_index(drop=True), check_dtype=False)


def test_cli_writes_outputs_and_rejects_bad_arguments(tmp_path, trial_file, capsys):
    out = tmp_path / "out"
    code = main(["trial", str(trial_file), "--patients", "20", "--seed", "1", "--draws", "1",
                 "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["hazard_ratio"]) == 3 and "p" in summary
    assert set(summary["median_pfs_months"]) == {"control", "experimental"}
    assert summary["published"]["median_pfs_months"] == {"control": 3.0}
    assert (out / "km.png").stat().st_size > 0
    assert len(pd.read_csv(out / "patients.csv")) == 40
    assert main(["trial", str(trial_file), "--patients", "0", "--out", str(out)]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace("fulvestrant\"\nregimen", "fulvestrant\"\nregimen"
                                ).replace('prior = "none"', 'prior = "chemo"'))
    assert main(["trial", str(bad), "--out", str(out)]) == 2
    assert "line 6" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["trial"])
    assert err.value.code == 2



def test_the_lesion_mapping_decides_whether_lesions_shrink(model, trial_file, result, tmp_path):
    """The in-vivo default (θ = 0, ψ = 0) never shrinks a lesion: no response, every lesion's
    sum of diameters rises between scans. A threshold above the drugs' relative proliferation
    lets the same cell states shrink; the provenance names the mapping used."""
    assert not result.patients["best_response"].isin(["CR", "PR"]).any()
    assert (np.diff(result.sld, axis=1) >= -1e-9).all()
    assert result.provenance["mapping"]["threshold"] == 0.0
    shrinking = sim.virtual_trial(model, sim.Trial.from_toml(trial_file), patients=40, seed=3,
                                  draws=2, progress=False,
                                  mapping=sim.LesionMapping(threshold=0.9))
    assert shrinking.patients["best_response"].isin(["CR", "PR"]).any()
    assert shrinking.provenance["mapping"]["threshold"] == 0.9
    out = tmp_path / "cli"
    assert main(["trial", str(trial_file), "--patients", "20", "--draws", "1", "--quiet",
                 "--threshold", "0.9", "--no-store", "--out", str(out)]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["trial"]["mapping"]["threshold"] == 0.9
    assert main(["trial", str(trial_file), "--threshold", "1.5", "--out", str(out)]) == 2


ORAL = """\
name = "oral"
source = "test"
months = 2
scan_every_weeks = 4
[population]
prior = "none"
dropout_per_year = 0
[arms.control]
label = "letrozole"
regimen = [{ drug = "letrozole", mg = 2.5, every_days = 1 }]
[arms.experimental]
label = "letrozole + temsirolimus"
regimen = [{ drug = "letrozole", mg = 2.5, every_days = 1 },
           { drug = "temsirolimus", mg = MG, on_days = 5, cycle_days = 14ROUTE }]
"""


def _temsirolimus_trial(model, tmp_path, mg, extra, name):
    """The ORAL trial with ``mg`` of temsirolimus and ``extra`` regimen keys, 20 per arm."""
    p = tmp_path / f"{name}.toml"
    p.write_text(ORAL.replace("MG", repr(mg)).replace("ROUTE", extra))
    return sim.virtual_trial(model, p, patients=20, seed=1, draws=1, progress=False,
                             calibrate=False)


def test_oral_route_is_the_iv_pk_at_the_oral_bioavailability(model, tmp_path):
    """Linear PK: 30 mg by mouth (F_oral) acts as F_oral x 30 mg i.v. on every cell state."""
    f_oral = model.catalog.drug("temsirolimus")["pk"]["F_oral"]
    oral = _temsirolimus_trial(model, tmp_path, 30.0, ', route = "oral"', "oral")
    iv_equal = _temsirolimus_trial(model, tmp_path, 30.0 * f_oral, "", "iv_equal")
    iv_full = _temsirolimus_trial(model, tmp_path, 30.0, "", "iv_full")
    pd.testing.assert_frame_equal(oral.patients, iv_equal.patients)
    np.testing.assert_allclose(oral.sld, iv_equal.sld, rtol=1e-6)
    exp = (oral.patients["arm"] == "experimental").to_numpy()
    # the full i.v. exposure slows the lesions' growth more than the oral one
    assert (iv_full.sld[exp, -1] < oral.sld[exp, -1] * (1 - 1e-3)).all()


def test_dose_intensity_is_the_delivered_share_of_the_planned_dose(model, tmp_path):
    """dose_intensity = 0.5 of 30 mg acts as 15 mg (linear PK), patient for patient; a value
    outside (0, 1] is an error naming the key and its line."""
    half = _temsirolimus_trial(model, tmp_path, 30.0, ", dose_intensity = 0.5", "half")
    assert half.trial.arms["experimental"].dose_intensity == {"temsirolimus": 0.5}
    fifteen = _temsirolimus_trial(model, tmp_path, 15.0, "", "fifteen")
    pd.testing.assert_frame_equal(half.patients, fifteen.patients)
    bad = tmp_path / "bad.toml"
    bad.write_text(ORAL.replace("MG", "30.0").replace("ROUTE", ", dose_intensity = 1.2"))
    with pytest.raises(sim.TrialError,
                       match=r"line 14: key .arms.experimental.regimen.dose_intensity"):
        sim.Trial.from_toml(bad)


PRIOR_AI = """\
name = "after an AI"
source = "test"
months = 3
scan_every_weeks = 6
[population]
prior = "nonsteroidal_AI"
prior_months = 1.5
phenotypes = { ESR1_mutant = 0.3 }
[arms.control]
label = "exemestane"
regimen = [{ drug = "exemestane", mg = 25, every_days = 1 }]
[arms.experimental]
label = "exemestane + everolimus"
regimen = [{ drug = "exemestane", mg = 25, every_days = 1 },
           { drug = "everolimus", mg = 10, every_days = 1 }]
"""


def test_too_few_eligible_candidates_draw_a_larger_pool_or_fail_by_name(model, tmp_path,
                                                                        monkeypatch):
    """Only patients who progressed on the prior AI enrol. Under a mapping where a lesion
    shrinks while proliferation is below 65% of the parental (letrozole's first weeks), only
    part of the candidates grew at the end of their prior therapy: with one candidate per
    place the pool is short, so a larger one is drawn (reproducibly); with no room to grow,
    a TrialError names the trial and the eligibility. (Under the in-vivo default every lesion
    grows, so every candidate is eligible.)"""
    from simulator.trials import engine
    p = tmp_path / "prior_ai.toml"
    p.write_text(PRIOR_AI)
    monkeypatch.setattr(engine, "POOL_FACTOR", 1)
    run = lambda: sim.virtual_trial(model, p, patients=30, seed=2, draws=4,  # noqa: E731
                                    progress=False, calibrate=False,
                                    mapping=sim.LesionMapping(threshold=0.65))
    a = run()
    assert a.provenance["candidates"] > 60
    assert len(a.patients) == 60
    assert set(a.patients["prior_resistance"]) <= {"primary", "secondary"}
    pd.testing.assert_frame_equal(a.patients, run().patients)
    monkeypatch.setattr(engine, "MAX_POOL_FACTOR", 1)
    with pytest.raises(sim.TrialError, match=r"trial after an AI: only \d+ of 60 .*progressed "
                                             r"on their prior therapy"):
        run()
