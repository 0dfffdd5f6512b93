"""The resistance atlas on the reduced grid, its experiments, and the core runner of the checks."""
import ast
import html
from pathlib import Path

import numpy as np
import pytest

import simulator
from simulator import cli
from simulator.bundled import atlas, behaviors
from simulator.bundled.runner import CoreRunner
from tests.roadrunner_runner import RoadRunnerRunner

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py") if p.stem != "__init__")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_atlas(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas")
    return atlas.run_atlas(out, quick=True, images_to=out / "images")


def test_every_behaviour_is_reproduced_on_our_core(quick_atlas):
    checked = {r.section.key: r for r in quick_atlas.sections if r.section.key}
    assert set(checked) == set(behaviors.BEHAVIORS)
    expected = {k: "known" if k in behaviors.KNOWN_FAILURES else "pass" for k in checked}
    problems = {k: r.detail for k, r in checked.items() if r.status != expected[k]}
    assert not problems, problems
    assert not quick_atlas.failed


def test_page_has_explanation_figure_and_status_per_mechanism(quick_atlas):
    page = quick_atlas.index.read_text()
    out = quick_atlas.index.parent
    n = len(behaviors.BEHAVIORS)
    assert f"{n - len(behaviors.KNOWN_FAILURES)} of {n}</b> published behaviours reproduced" in page
    for key in behaviors.KNOWN_FAILURES:
        assert "known limit" in page and key in page
    for r in quick_atlas.sections:
        assert html.escape(r.section.explanation[:60]) in page
        assert r.figures, r.section.title
        for fig in r.figures:
            assert f'src="{fig}"' in page
            assert (out / fig).read_bytes()[:8] == PNG
            assert (out / "images" / f"atlas_{fig}").exists()
        for table in r.tables:
            assert (out / table).stat().st_size > 50


def test_every_experiment_wrote_its_figure_and_table(quick_atlas):
    out = quick_atlas.index.parent / "experiments"
    ran = {e for s in atlas.SECTIONS for e in s.experiments}
    assert ran == set(EXPERIMENTS)   # every script in experiments/ is in the atlas
    for name in EXPERIMENTS:
        assert (out / name / "figure.png").read_bytes()[:8] == PNG, name
        assert (out / name / "results.csv").stat().st_size > 100, name


def test_combination_screen_ranks_pairs(quick_atlas):
    import pandas as pd
    table = pd.read_csv(quick_atlas.index.parent / "experiments" / "combination_screen" /
                        "results.csv")
    assert set(table["phenotype"]) == {"LTED", "HER2_amplified"}
    assert len(table) == 2 * 10                 # quick: 5 drugs -> 10 pairs per phenotype
    for _, sub in table.groupby("phenotype"):
        assert sub["bliss"].is_monotonic_decreasing
        assert sub["rank"].tolist() == list(range(1, len(sub) + 1))
    assert (table["failed_cells"] == 0).all()


def test_a_failed_check_is_reported_and_exits_1(tmp_path, monkeypatch, capsys):
    import pandas as pd

    def failing(runner):
        data = pd.DataFrame({"condition": ["HER2_total_E2", "HER2_total_noE2"], "value": [1, 1]})
        return behaviors.BehaviorResult("b10_her2_repression", False, "[FAIL] forced", data)
    monkeypatch.setitem(behaviors.BEHAVIORS, "b10_her2_repression", failing)
    code = cli.main(["atlas", "--only", "b10_her2_repression", "--out", str(tmp_path)])
    assert code == 1
    assert "FAIL  b10_her2_repression" in capsys.readouterr().out
    page = (tmp_path / "index.html").read_text()
    assert "not reproduced" in page and "[FAIL] forced" in page


def test_experiments_use_only_public_names():
    public = set(simulator.__all__) | {"__version__"}
    for name in EXPERIMENTS:
        tree = ast.parse((ROOT / "experiments" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("simulator"), (name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("simulator"):
                        assert alias.name == "simulator" and alias.asname == "sim", name
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id == "sim":
                assert node.attr in public, (name, node.attr)


def test_core_runner_matches_roadrunner_steady_state_and_run():
    """The atlas's runner gives the reference simulator's numbers (LTED + HER2_amplified)."""
    roadrunner_runner = pytest.importorskip("roadrunner") and RoadRunnerRunner()
    core = CoreRunner()
    cond = behaviors.cell(core, "LTED", "HER2_amplified")
    ss_core, ss_ref = core.steady_state(cond), roadrunner_runner.steady_state(cond)
    for k in ("ER_activity", "pAkt_S473", "pERK", "HER2_total", "growth_rate"):
        assert ss_core[k] == pytest.approx(ss_ref[k], rel=1e-4), k
    t = np.linspace(0, 72, 7)
    drugs = {**cond, "everolimus": 20.0, "fulvestrant": 100.0}
    run_core = core.simulate(drugs, t, ss_core)
    run_ref = roadrunner_runner.simulate(drugs, t, ss_ref)
    for k in ("pS6", "pAkt_S473", "growth_rate", "tumor_burden"):
        np.testing.assert_allclose(run_core[k], run_ref[k], rtol=1e-4, atol=1e-8, err_msg=k)
    assert run_core["tumor_burden"][0] == 1.0


def test_virtual_trials_section_lists_every_bundled_trial(quick_atlas):
    """Every trial file is in the table: run (a finite simulated and published HR) or
    refused with the reason named (BELLE-2: buparlisib has no cited unbound fraction)."""
    import pandas as pd
    from simulator.experiments.virtual_trials import ORDER, TRIALS
    assert sorted(ORDER) == sorted(p.stem for p in TRIALS.glob("*.toml"))
    table = pd.read_csv(quick_atlas.index.parent / "experiments" / "virtual_trials" /
                        "results.csv").fillna({"refused": ""})
    assert table["trial"].tolist() == ORDER
    refused = table[table["refused"] != ""]
    assert refused["trial"].tolist() == ["belle2"]
    assert "buparlisib" in refused["refused"].iloc[0] and "/" not in refused["refused"].iloc[0]
    run = table[table["refused"] == ""]
    assert np.isfinite(run["hr_sim"]).all() and np.isfinite(run["hr_pub"]).all()
    assert ((run["hr_lo"] <= run["hr_sim"]) & (run["hr_sim"] <= run["hr_hi"])).all()
