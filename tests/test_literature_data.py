"""Published figures as a PEtab problem: rows in the model's terms become paired control /
treated conditions (fold figures share an unknown scale), bad rows are named by line and
column, and the joint problem with the HPN-DREAM data evaluates on the bundled model."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import simulator as sim
from simulator.bundled import MODEL_SBML, MODELS_DIR, literature_data
from tests.test_calibration_data import assert_committed

HEADER = "\t".join(literature_data.COLUMNS)
ROWS = [
    "eve_pakt\t\t\teverolimus=20\tpAkt_S473\t24\tfold\t2\t0.1\tpaper A, Fig. 1\t2-fold",
    "doubling\t\t\t\ttumor_burden\t72\tabsolute\t5\t0.05\tpaper B, text\t30 h",
    "her2_amp\tHER2_amplified\tandrostenedione=0\tlapatinib=1000\tpHER2\t2\tfold\t0.2\t0.15"
    "\tpaper C, Fig. 2\t80 % less",
]


@pytest.fixture
def data(tmp_path):
    """A copy of the package's data layout with a small figures table."""
    root = tmp_path / "models"
    (root / "data").mkdir(parents=True)
    shutil.copy(MODEL_SBML, root / MODEL_SBML.name)
    for name in ("er_crosstalk.toml", "drugs.toml", "phenotypes.toml"):
        shutil.copy(MODELS_DIR / name, root / name)
    for name in ("hpn_dream_mcf7", *literature_data.OTHERS):
        shutil.copytree(MODELS_DIR / "data" / name, root / "data" / name)
    (root / "data" / literature_data.FOLDER).mkdir()
    return root / "data"


def write_figures(data, rows):
    path = data / literature_data.FOLDER / "figures.tsv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_figures_become_paired_conditions_and_the_joint_problem_evaluates(data):
    write_figures(data, ROWS)
    joint, held_out = literature_data.build(data)
    assert held_out.name == "er_crosstalk_mcf7_held_out.yaml"
    folder = data / literature_data.FOLDER
    conditions = pd.read_csv(folder / "conditions.tsv", sep="\t").set_index("conditionId")
    assert conditions.loc["eve_pakt__treated", "everolimus"] == 20
    assert np.isnan(conditions.loc["eve_pakt__control", "everolimus"])    # NaN: keep
    # the phenotype's and the medium's settings in both, the treatment only when treated
    assert conditions.loc["her2_amp__control", "HER2_synthesis"] == 20
    assert conditions.loc["her2_amp__control", "androstenedione"] == 0
    assert conditions.loc["her2_amp__treated", "lapatinib"] == 1000
    m = pd.read_csv(folder / "measurements.tsv", sep="\t")
    fold = m[m["observableId"] == "lit_eve_pakt"]
    assert list(fold["measurement"]) == [1.0, 2.0]
    np.testing.assert_allclose(fold["noiseParameters"], 0.1 / np.sqrt(2))   # the fold: 0.1
    observables = pd.read_csv(folder / "observables.tsv", sep="\t").set_index("observableId")
    assert observables.loc["lit_eve_pakt", "observableFormula"] == "scale_eve_pakt * pAkt_S473"
    assert list(m.loc[m["observableId"] == "lit_doubling", "measurement"]) == [5.0]
    problem = sim.load_petab(joint)
    assert {"scale_eve_pakt", "prolif_max", "k_T308"} <= set(problem.parameter_ids)
    assert "scale_doubling" not in problem.parameter_ids
    sim_table = problem.simulate()
    ours = sim_table[sim_table["observableId"].str.startswith("lit_")]
    assert len(ours) == 5 and np.isfinite(ours["simulation"]).all()
    # the absolute figure is the model's own tumour burden after 72 h of growth at its
    # untreated rate (per day), from 1 at the start
    burden = float(ours.loc[ours["observableId"] == "lit_doubling", "simulation"].iloc[0])
    rate = sim.run_treatment(sim.load_model(), {}, np.array([0.0, 72.0]))["growth_rate"][-1]
    assert burden == pytest.approx(np.exp(3 * rate), rel=1e-4)


@pytest.mark.parametrize("row, match", [
    ("x\t\t\teverolimus=abc\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "line 2, treatment"),
    ("x\t\t\tnope=1\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "not 'id=value'"),
    ("x\t\t\t\tnot_a_readout\t24\tfold\t2\t0.1\tsrc\t", "readout 'not_a_readout'"),
    ("x\tNOPE\t\t\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "unknown phenotype 'NOPE'"),
    ("x\t\t\t\tpAkt_S473\t24\tratio\t2\t0.1\tsrc\t", "kind 'ratio'"),
    ("x\t\t\t\tpAkt_S473\t24\tfold\t-2\t0.1\tsrc\t", "value must be positive"),
    ("x\t\t\t\tpAkt_S473\t24\tfold\t2\t0.1\t \t", "needs its source"),
    ("1x\t\t\t\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "figure_id '1x'"),
    ("x\t\t\teverolimus=nan\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "finite number >= 0"),
    ("x\t\t\teverolimus=-5\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t", "finite number >= 0"),
    ("x\t\t\t\tpAkt_S473\t-24\tfold\t2\t0.1\tsrc\t", "time_h must be >= 0"),
    ("x\t\t\t\tpAkt_S473\tnan\tfold\t2\t0.1\tsrc\t", "time_h must be >= 0"),
    ("x\t\t\t\tpAkt_S473\t24\tfold\t2\t0.1\tsrc\t\textra", "line 2: 12 fields"),
])
def test_bad_figure_rows_are_named(data, row, match):
    write_figures(data, [row])
    with pytest.raises(sim.InvalidValueError, match=match):
        literature_data.build(data)


def test_a_species_in_the_medium_resets_it_so_the_lted_figure_informs_its_edge(data):
    """LTED against short-term deprived cells: both arms start from the adapted state, the
    control with ``adaptation`` reset to 0; the fold then follows ``a_adapt_ER`` (before the
    reset, the fold was 1 whatever the parameters)."""
    write_figures(data, ["lted\t\tandrostenedione=0;adaptation=0\tadaptation=1\tER_total\t72"
                         "\tfold\t3\t0.15\tpaper D, abstract\t3-fold"])
    joint, _ = literature_data.build(data)
    conditions = pd.read_csv(data / literature_data.FOLDER / "conditions.tsv",
                             sep="\t").set_index("conditionId")
    assert conditions.loc["lted__control", "adaptation"] == 0
    assert conditions.loc["lted__treated", "adaptation"] == 1
    problem = sim.load_petab(joint)
    where = problem.parameter_ids.index("a_adapt_ER")

    def fold(a_adapt_er):
        x = np.array(problem.x_nominal, dtype=float)
        x[where] = a_adapt_er                                  # linear scale
        table = problem.simulate(x)
        ours = table[table["observableId"] == "lit_lted"].set_index("simulationConditionId")
        return ours.loc["lted__treated", "simulation"] / ours.loc["lted__control", "simulation"]

    assert fold(0.0) == pytest.approx(1.0, abs=0.15)
    assert fold(2.0) > 2.0


def test_committed_tables_are_what_the_figures_make(data):
    shutil.copy(MODELS_DIR / "data" / literature_data.FOLDER / "figures.tsv",
                data / literature_data.FOLDER / "figures.tsv")
    literature_data.build(data)
    for folder in (literature_data.FOLDER, literature_data.JOINT):
        for made in sorted((data / folder).iterdir()):
            assert_committed(made, MODELS_DIR / "data" / folder / made.name)
    problem = sim.load_petab(MODELS_DIR / "data" / literature_data.JOINT /
                             f"{literature_data.JOINT}.yaml")
    assert np.isfinite(problem.nllh()), problem.last_failure
