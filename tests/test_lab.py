"""The teaching lab without a browser: its state and URL query, its simulations, lessons,
exports, the page's logic (Panel, no server) and the ``crosstalk lab`` command line."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

import simulator as sim
from simulator.cli import main
from simulator.lab import lessons as L
from simulator.lab import runs as R
from simulator.lab.state import (Arm, DrugDose, LabState, catalog_of, from_query, parse_dose,
                                 to_query, validate)


@pytest.fixture(scope="module")
def cat():
    return catalog_of(R.lab_model(), [les.key for les in L.LESSONS])


STATE = LabState(cell=("HER2_amplified",), medium=(("EGF", 1.0),),
                 arms=(Arm((DrugDose("tamoxifen", 300.0),)),
                       Arm((DrugDose("tamoxifen", 300.0), DrugDose("lapatinib", 1000.0, 24.0, 200.0)))),
                 readouts=("tumor_burden", "pAkt_S473"), hours=336.0)


# --------------------------------------------------------------------------- state and URL

def test_query_round_trip(cat):
    q = to_query(STATE)
    assert q == ("cell=HER2_amplified&medium=EGF:1&hours=336&readouts=tumor_burden,pAkt_S473"
                 "&arm1=tamoxifen:300&arm2=tamoxifen:300,lapatinib:1000@24-200")
    state, problems = from_query(q, cat)
    assert problems == [] and state == STATE
    for les in L.LESSONS:
        for s in (les.preset, les.try_next):
            assert from_query("?" + to_query(s), cat) == (s, [])


def test_query_accepts_a_mapping_of_bytes(cat):
    state, problems = from_query({"arm1": [b"everolimus:20@0-"], "hours": [b"72"]}, cat)
    assert not problems
    assert state.arms == (Arm((DrugDose("everolimus", 20.0),)),) and state.hours == 72.0


@pytest.mark.parametrize("query, control, words", [
    ("arm1=tamoxifen:-5", "arm1.drug1", "must be >= 0"),
    ("arm1=tamoxifen:nan", "arm1.drug1", "must be a number"),
    ("arm1=tamoxifen:inf", "arm1.drug1", "must be a number"),
    ("arm1=tamoxifen:1e999", "arm1.drug1", "finite"),
    ("arm1=tamoxifen:abc", "arm1.drug1", "must be a number, got 'abc'"),
    ("arm1=tamoxifen:__import__('os')", "arm1.drug1", "must be a number"),
    ("arm1=tamoxifen:1e9", "arm1.drug1", "at most"),
    ("arm1=tamoxifin:300", "arm1", "did you mean 'tamoxifen'"),
    ("arm1=tamoxifen:300,tamoxifen:10", "arm1", "twice"),
    ("arm1=tamoxifen:300@48-24", "arm1", "stops (24 h) before it starts"),
    ("arm1=tamoxifen:300@400-&hours=336", "arm1", "after the end of the run"),
    ("arm1=tamoxifen:300@x-", "arm1.drug1", "start of tamoxifen"),
    ("arm1=a:1,b:2,c:3,d:4", "arm1", "at most 3 drugs"),
    ("cell=HER2amp", "cell", "did you mean 'HER2_amplified'"),
    ("readouts=perk", "readouts", "did you mean 'pERK'"),
    ("lesson=b99", "lesson", "unknown lesson"),
    ("hours=0", "hours", "must be > 0"),
    ("medium=EGF:-1", "medium", ">= 0"),
    ("medium=os.system:1", "medium", "name:value"),
    ("color=red", "url", "unknown setting 'color'"),
    ("arm1=tamoxifen:1&arm1=letrozole:1", "url", "given 2 times"),
])
def test_bad_queries_are_named_and_the_default_kept(cat, query, control, words):
    state, problems = from_query(query, cat)
    assert any(p.control.startswith(control) and words in p.message for p in problems), problems
    assert not validate(state, cat)           # what is left runs


REGIMEN = LabState(cell=("HER2_amplified",),
                   arms=(Arm((DrugDose("letrozole", 2.5, unit="mg", every_h=24.0),)),
                         Arm((DrugDose("letrozole", 2.5, 24.0, 200.0, "mg", 24.0),
                              DrugDose("lapatinib", 1250.0, unit="mg", every_h=12.0)))),
                   readouts=("tumor_burden", "ER_activity"), hours=336.0)


def test_a_regimen_round_trips_as_data(cat):
    q = to_query(REGIMEN)
    assert q.endswith("&arm1=letrozole:2.5mg/q24h"
                      "&arm2=letrozole:2.5mg/q24h@24-200,lapatinib:1250mg/q12h")
    assert from_query(q, cat) == (REGIMEN, [])
    assert from_query({"arm1": "letrozole:2.5mg/q24h"}, cat)[0].arms[0].drugs[0] == \
        DrugDose("letrozole", 2.5, unit="mg", every_h=24.0)
    assert REGIMEN.arms[1].label == ("letrozole 2.5 mg daily from day 1 to 200 h + lapatinib "
                                     "1250 mg twice daily")


@pytest.mark.parametrize("query, control, words", [
    ("arm1=letrozole:-2.5mg/q24h", "arm1.drug1", "(mg) must be >= 0"),
    ("arm1=letrozole:1e5mg/q24h", "arm1.drug1", "at most 10000"),
    ("arm1=dactolisib:10mg/q24h", "arm1", "cannot be given in mg"),
    ("arm1=letrozole:2.5mg/q0h", "arm1", "at least 1 hour apart"),
    ("arm1=letrozole:2.5mg/q-24h", "arm1.drug1", ">= 0"),
    ("arm1=letrozole:2.5mg/qdailyh", "arm1.drug1", "must be a number, got 'daily'"),
    ("arm1=letrozole:2.5mg", "arm1.drug1", "MGmg/qHOURSh"),
    ("arm1=letrozole:2.5mg/daily", "arm1.drug1", "MGmg/qHOURSh"),
    ("arm1=letrozole:2.5mg/q1h&hours=4320", "arm1", "at most 1000"),
    ("arm1=letrozole:2.5mg/q24h@48-24", "arm1", "stops (24 h) before it starts"),
])
def test_a_bad_regimen_is_named(cat, query, control, words):
    state, problems = from_query(query, cat)
    assert any(p.control.startswith(control) and words in p.message for p in problems), problems
    assert state.arms == LabState().arms


def test_a_regimen_in_a_state_is_checked(cat):
    bad = LabState(arms=(Arm((DrugDose("azd8055", 10.0, unit="mg", every_h=24.0),
                              DrugDose("letrozole", 2.5, unit="g", every_h=24.0),
                              DrugDose("tamoxifen", 20.0, unit="mg"))),))
    text = " | ".join(p.message for p in validate(bad, cat))
    assert "azd8055 has no complete pharmacokinetics" in text
    assert "unit of letrozole must be nM or mg" in text
    assert "tamoxifen: a dose in mg needs an interval" in text


def test_long_query_is_refused(cat):
    state, problems = from_query("arm1=" + "x" * 5000, cat)
    assert state == LabState() and "too long" in problems[0].message


@pytest.mark.parametrize("text, ok", [("300", True), ("0", True), (" 1.5e2 ", True),
                                      ("-1", False), ("", False), ("1/0", False),
                                      ("NaN", False), ("1_000", False), ("0x10", False)])
def test_parse_dose(text, ok):
    value, msg = parse_dose(text, "tamoxifen")
    assert (value is not None) == ok and bool(msg) != ok


# --------------------------------------------------------------------------- simulations

def test_run_equals_run_treatment():
    lab = R.run(STATE)
    model = sim.load_model()
    t = np.linspace(0, 336, R.N_POINTS)
    ref = sim.run_treatment(model, sim.Treatment({"tamoxifen": 300.0, "lapatinib": sim.Dose(
        1000.0, "nM", sim.Schedule.continuous(start=24.0, stop=200.0))}), t,
        phenotype=["HER2_amplified"], params={"EGF": 1.0})
    np.testing.assert_array_equal(lab.values(lab.arms[1], "pAkt_S473"), ref["pAkt_S473"])
    ctl = sim.run_treatment(model, {}, t, phenotype=["HER2_amplified"], params={"EGF": 1.0})
    np.testing.assert_array_equal(lab.values(lab.control, "tumor_burden"), ctl["tumor_burden"])
    data = json.loads(lab.plotted_json())
    assert [r["name"] for r in data["runs"]] == ["untreated", "tamoxifen 300 nM",
                                                 "tamoxifen 300 nM + lapatinib 1000 nM from "
                                                 "day 1 to 200 h"]
    assert data["runs"][2]["values"]["pAkt_S473"] == ref["pAkt_S473"].tolist()
    table = lab.table()
    assert list(table.columns) == ["arm", "treatment", "time_h", "tumor_burden", "pAkt_S473"]
    assert len(table) == 3 * R.N_POINTS
    act = lab.activity(1)                     # the network view: log2 change vs untreated
    assert len(act) == 43 and act["endoxifen"] > 3 and act["ER_T"] > 3


def test_the_snippet_gives_the_same_numbers():
    lab = R.run(STATE)
    namespace = {}
    exec(compile(R.snippet(STATE), "<snippet>", "exec"), namespace)   # our own generated code
    table = namespace["table"]
    np.testing.assert_array_equal(table[list(STATE.readouts)].to_numpy(),
                                  lab.table()[list(STATE.readouts)].to_numpy())
    assert list(table["treatment"].unique()) == [r.name for r in lab.runs]


def test_a_regimen_runs_through_pk_and_its_snippet_gives_the_same_numbers():
    lab = R.run(REGIMEN)
    model = sim.load_model()
    t = np.linspace(0, 336, R.N_POINTS)
    ref = sim.run_treatment(model, sim.Treatment({
        "letrozole": sim.Dose(2.5, "mg", sim.Schedule.every(24.0, start=24.0, stop=200.0)),
        "lapatinib": sim.Dose(1250.0, "mg", sim.Schedule.every(12.0))}), t,
        phenotype=["HER2_amplified"])
    np.testing.assert_array_equal(lab.values(lab.arms[1], "ER_activity"), ref["ER_activity"])
    nM = R.run(REGIMEN.with_(arms=(Arm((DrugDose("letrozole", 2.5),)),)))
    assert not np.allclose(lab.values(lab.arms[0], "ER_activity"),
                           nM.values(nM.arms[0], "ER_activity"))   # mg is not nM
    namespace = {}
    exec(compile(R.snippet(REGIMEN), "<snippet>", "exec"), namespace)  # our own generated code
    np.testing.assert_array_equal(namespace["table"][list(REGIMEN.readouts)].to_numpy(),
                                  lab.table()[list(REGIMEN.readouts)].to_numpy())


def test_a_failed_arm_carries_its_message(monkeypatch):
    real = sim.run_treatment

    def failing(model, treatment, t, **kw):
        if "letrozole" in treatment.drugs:
            raise sim.IntegrationError("step size too small at t = 3.2 h in species 'ER'")
        return real(model, treatment, t, **kw)

    monkeypatch.setattr(sim, "run_treatment", failing)
    state = LabState(arms=(Arm((DrugDose("letrozole", 12.345),)),
                           Arm((DrugDose("tamoxifen", 12.345),))), hours=72.0)
    lab = R.run(state)
    assert lab.arms[0].traj is None and "step size too small" in lab.arms[0].error
    assert lab.arms[1].traj is not None
    assert json.loads(lab.plotted_json())["runs"][1]["values"]["tumor_burden"] is None
    assert b"PNG" in R.image(lab)[:8]


def test_figure_labels_are_words():
    fig = R.figure(R.run(STATE))
    labels = [ax.get_ylabel() for ax in fig.axes] + [fig._suptitle.get_text()]
    text = " ".join(labels)
    assert "tumour burden" in text and "Akt phosphorylated" in text and "HER2 amplified" in text
    assert "pAkt_S473" not in text


# --------------------------------------------------------------------------- lessons

def test_lessons_cover_the_atlas_mechanisms(cat):
    keys = {les.key for les in L.LESSONS}
    assert {"b01_e2_and_er", "b02_her2_tamoxifen", "b03_everolimus_feedback",
            "b04_pi3ki_vs_everolimus", "b05_estrogen_deprivation", "b06_esr1_mutant",
            "b08_pten_loss", "b09_pik3ca_mutant", "b11_ligand_independent_er", "synergy",
            "virtual_trial"} <= keys
    model = R.lab_model()
    for les in L.LESSONS:
        assert not validate(les.preset, cat) and not validate(les.try_next, cat), les.key
        assert les.preset.lesson == les.key
        assert L.explanation(les), les.key
        assert les.question and les.answer and les.try_next_text
        assert L.sources(les, model), les.key
        if les.notes:
            assert len(L.model_notes(les)) == len(les.notes), les.key
    assert L.lesson("virtual_trial").trial and L.trial_path(L.lesson("virtual_trial")).exists()
    assert L.lesson("synergy").bliss


def test_the_trial_lesson_quotes_docs_trials_md():
    les = L.lesson("virtual_trial")
    caveat = L.trial_caveat()
    assert "published size" in caveat and caveat[:60] in " ".join(L.TRIALS_MD.read_text().split())
    assert L.sources(les, R.lab_model())[0].startswith("TAnDEM: Kaufman B et al.")
    assert all(d.unit == "mg" for a in les.preset.arms for d in a.drugs)   # clinical regimens


def test_lesson_text_comes_from_docs_model_md():
    les = L.lesson("b03_everolimus_feedback")
    text = L.MODEL_MD.read_text()
    for note in L.model_notes(les):
        assert note.split("`")[0][:40] in text
    share = L.robustness_share(les)        # the last column of docs/model.md's table
    row = next(line for line in text.splitlines() if line.startswith("| b03"))
    assert share and row.rstrip(" |").endswith(share)
    assert any("Loss of" in line or "compare fold changes" in line for line in L.cannot_say())


def test_try_next_undoes_the_resistance():
    """Each resistance lesson's 'try this next' ends with less tumour than its preset's
    first arm (the claim the lesson makes)."""
    for key in ("b02_her2_tamoxifen", "b05_estrogen_deprivation", "b07_akt_myr",
                "b08_pten_loss", "b09_pik3ca_mutant"):
        les = L.lesson(key)
        pre, nxt = R.run(les.preset), R.run(les.try_next)
        first = pre.values(pre.arms[0], "tumor_burden")[-1]
        best = min(nxt.values(a, "tumor_burden")[-1] for a in nxt.arms)
        assert best < 0.5 * first, key


def test_bliss_map_of_the_synergy_lesson():
    from simulator.lab.app import bliss_figure
    fig = bliss_figure(L.lesson("synergy"))
    assert "Bliss" in fig.axes[0].get_title()


# --------------------------------------------------------------------------- the page, no server

def test_explorer_reads_widgets_and_keeps_the_last_good_plot():
    pytest.importorskip("panel")
    from simulator.lab.app import Explorer
    ex = Explorer({"arm1": ["everolimus:20"], "hours": ["72"], "readouts": ["pS6"]})
    first = json.loads(html.unescape(re.search(r">(.*)</pre>", ex.data.object).group(1)))
    assert first["query"] == "hours=72&readouts=pS6&arm1=everolimus:20"
    ex.arm_widgets[0][0]["dose"].value = "2"            # a change re-simulates
    assert ex.lab.state.arms[0].drugs[0].amount == 2.0 and ex.run_count == 2
    ex.arm_widgets[0][0]["dose"].value = "-3"           # bad: message, plot kept
    assert ex.run_count == 2 and ex.lab.state.arms[0].drugs[0].amount == 2.0
    assert "must be &gt;= 0" in ex.msgs["arm1"].object
    ex.arm_widgets[0][0]["dose"].value = "20"
    assert ex.msgs["arm1"].object == "" and ex.run_count == 3
    row = ex.arm_widgets[0][0]
    row["unit"].value = "mg"                            # a regimen: the label dose first
    assert (row["dose"].value, row["every"].value) == ("10", "24")
    assert ex.lab.state.arms[0].drugs[0] == DrugDose("everolimus", 10.0, unit="mg",
                                                     every_h=24.0)
    n = ex.run_count
    row["every"].value = "0.1"                          # nonsense schedule: message, plot kept
    assert ex.run_count == n and "at least 1 hour apart" in ex.msgs["arm1"].object
    row["drug"].value = "dactolisib"                    # no PK: message, plot kept
    assert ex.run_count == n and "cannot be given in mg" in ex.msgs["arm1"].object
    row["drug"].value, row["unit"].value, row["dose"].value = "everolimus", "nM", "20"
    assert ex.msgs["arm1"].object == "" and ex.lab.state.arms[0].drugs[0].unit == "nM"
    ex.lesson.value = "b02_her2_tamoxifen"              # a lesson loads its preset
    assert ex.lab.state == L.lesson("b02_her2_tamoxifen").preset
    assert ex.lesson_pane.visible


def test_explorer_reports_a_bad_link():
    pytest.importorskip("panel")
    from simulator.lab.app import Explorer
    ex = Explorer({"arm1": ["tamoxifen:abc"], "cell": ["nope"]})
    assert "must be a number" in ex.msgs["arm1"].object
    assert "unknown phenotype" in ex.msgs["cell"].object
    assert ex.lab.state == LabState()                   # the default experiment is shown


# --------------------------------------------------------------------------- command line

@pytest.mark.parametrize("argv, words", [
    (["lab", "--port", "abc"], None),
    (["lab", "--port", "70000"], "--port must be"),
    (["lab", "--host", "bad host!"], "--host must be"),
    (["lab", "--bogus"], None),
])
def test_lab_usage_errors(capsys, argv, words):
    try:
        code = main(argv)
    except SystemExit as exc:           # argparse's own usage errors
        code = exc.code
    assert code == 2
    if words:
        assert words in capsys.readouterr().err
