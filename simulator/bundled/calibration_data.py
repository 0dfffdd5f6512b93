"""The measured data sets that calibrate the bundled model, converted into PEtab v1 problems.

``python -m simulator.bundled.calibration_data [--shared DIR] [--out DIR]`` reads the raw
files of ``../shared/data`` (read in place, cited in ``docs/model.md``) and writes one
folder per problem under ``simulator/models/data/``. Only numbers carry over; each table
row keeps the data set it came from in ``datasetId``. The written tables are committed, so a
fresh clone calibrates without the shared folder.

HPN-DREAM MCF-7 (Hill et al. 2016, Nat Methods 13:310), reverse-phase protein arrays:

- stimuli EGF, IGF1, insulin, NRG1 (heregulin, the model's ``HRG``), serum and PBS (the
  unstimulated control), each alone, after the pan-AKT inhibitor GSK690693 (mapped to the
  model's ``capivasertib`` at an estimated equivalent concentration) and after GSK690693 with
  the MEK inhibitor GSK1120212 (trametinib, likewise);
- the time-0 samples, listed under every stimulus in the raw files, are kept once (under
  PBS): every condition starts from the same pre-equilibrated state;
- each experiment pre-equilibrates the starved cell (no growth factors) with its inhibitors,
  then adds the stimulus at t = 0; phospho readouts 0-4 h from ``MCF7_main.csv``, total
  proteins 0-48 h from ``MCF7_full.csv``;
- RPPA is relative: every observable is ``offset + scale * readout`` with its own noise;
- one stimulus x inhibitor block (NRG1 with AKT + MEK inhibition) is held out of the
  training problem and written as a separate prediction problem;
- left out, without a counterpart in the model: the stimuli FGF1 and HGF, the FGFR
  inhibitor PD173074, and the antibodies not listed in :data:`PHOSPHO` / :data:`TOTAL`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

from simulator import api
from simulator.bundled import MODELS_DIR

DATASET = "hill2016_hpn_dream_mcf7"
HELD_OUT = ("NRG1", "GSK690693_GSK1120212")

# antibody -> (observable id, model expression): phosphorylation sites with a model readout
PHOSPHO = {
    "AKT_pS473": ("AKT_pS473", "pAkt_S473"),
    "AKT_pT308": ("AKT_pT308", "pAkt_T308"),
    "PRAS40_pT246": ("PRAS40_pT246", "Akt_act"),
    "GSK3-alpha-beta_pS21_S9": ("GSK3_pS21_S9", "Akt_act"),
    "p70S6K_pT389": ("p70S6K_pT389", "pS6K1"),
    "S6_pS235_S236": ("S6_pS235_S236", "pS6"),
    "S6_pS240_S244": ("S6_pS240_S244", "pS6"),
    "4EBP1_pS65": ("EBP1_pS65", "p4EBP1"),
    "MEK1_pS217_S221": ("MEK1_pS217_S221", "pMEK"),
    "MAPK_pT202_Y204": ("ERK_pT202_Y204", "pERK"),
    "p90RSK_pT359_S363": ("p90RSK_pT359_S363", "pERK"),
    "EGFR_pY1068": ("EGFR_pY1068", "pEGFR"),
    "EGFR_pY1173": ("EGFR_pY1173", "pEGFR"),
    "HER2_pY1248": ("HER2_pY1248", "pHER2"),
    "ER-alpha_pS118": ("ER_pS118", "pER"),
    "Rb_pS807_S811": ("Rb_pS807_S811", "pRb"),
}
# total proteins (MCF7_full.csv, 0-48 h)
TOTAL = {
    "ER-alpha": ("ER_total", "ER_total"),
    "EGFR": ("EGFR_total", "EGFR_total"),
    "HER2": ("HER2_total", "HER2_total"),
    "HER3": ("HER3_total", "HER3_total"),
    "IRS1": ("IRS1_total", "IRS1 + IRS1_pY + IRS1_pS"),
    "Cyclin-D1": ("CyclinD1_total", "cyclinD1"),
}
STIMULI = {   # stimulus -> model inputs (nM); None: the estimated insulin equivalent
    "PBS": {"EGF": 0.0, "HRG": 0.0, "IGF1": 0.0},
    "EGF": {"EGF": 10.0, "HRG": 0.0, "IGF1": 0.0},
    "NRG1": {"EGF": 0.0, "HRG": 10.0, "IGF1": 0.0},
    "IGF1": {"EGF": 0.0, "HRG": 0.0, "IGF1": 10.0},
    "Insulin": {"EGF": 0.0, "HRG": 0.0, "IGF1": "insulin_IGF1_equivalent"},
    "Serum": {"EGF": 0.05, "HRG": 0.05, "IGF1": 1.0},
}
INHIBITORS = {   # inhibitor -> model drugs (nM, or an estimated equivalent concentration)
    "DMSO": {"capivasertib": 0.0, "trametinib": 0.0},
    "GSK690693": {"capivasertib": "GSK690693_capivasertib_equivalent", "trametinib": 0.0},
    "GSK690693_GSK1120212": {"capivasertib": "GSK690693_capivasertib_equivalent",
                             "trametinib": "GSK1120212_trametinib_equivalent"},
}
# kinetic parameters the signalling time courses inform (nominal: the model's values)
KINETIC = [
    "k_act_EGFR", "kdp_RTK", "kint_RTK", "k_HER2_EGF", "k_HER2_HRG", "k_HER3_HRG",
    "k_act_IGF1R", "kint_IGF1R", "k_IRS1_pY", "kdp_IRS1_pY", "k_IRS1_pS", "w_PI3K_HER3",
    "w_PI3K_IRS1", "k_T308", "k_S473", "kdp_T308", "kdp_S473", "k_TSC2_Akt",
    "k_mTORC1_act", "k_S6K1", "kdp_S6K1", "k_S6_S6K1", "kdp_S6", "k_4EBP1", "kdp_4EBP1",
    "w_Ras_EGFR", "w_Ras_HER3", "w_Ras_IGF1R", "k_SOS_fb", "k_Raf", "k_MEK", "kdp_MEK",
    "k_ERK", "kdp_ERK", "kp_ER_Akt", "kp_ER_ERK", "ksyn_HER3", "w_FOXO_RTK", "kdeg_RTK",
    "k_Rb", "kdp_Rb",
]
MAPPING = {   # id -> (nominal, lower, upper, what it stands for)
    "insulin_IGF1_equivalent": (1.0, 0.01, 100.0, "insulin acting through IGF-1R/IR, "
                                "as an IGF-1 concentration (nM)"),
    "GSK690693_capivasertib_equivalent": (300.0, 10.0, 10000.0, "GSK690693 as a "
                                          "capivasertib concentration (nM)"),
    "GSK1120212_trametinib_equivalent": (10.0, 0.1, 1000.0, "GSK1120212 as a trametinib "
                                         "concentration (nM)"),
}


def _hours(label) -> float:
    """RPPA time labels: minutes as numbers (main file) or '5min' / '2hr' (full file)."""
    s = str(label).strip()
    if s.endswith("min"):
        return float(s[:-3]) / 60.0
    if s.endswith("hr"):
        return float(s[:-2])
    return float(s) / 60.0


def _condition_id(stimulus: str, inhibitor: str) -> str:
    return f"{stimulus}__{inhibitor}"


def read_main(folder: Path) -> pd.DataFrame:
    """Long table (stimulus, inhibitor, time_h, antibody, value) of the phospho readouts."""
    df = pd.read_csv(folder / "MCF7_main.csv")
    df = df[df["Inhibitor"].isin(INHIBITORS) & df["Stimulus"].isin(STIMULI)]
    # the time-0 samples are listed under every stimulus (the same numbers): keep them once
    df = df[(df["Timepoint"] != 0) | (df["Stimulus"] == "PBS")]
    long = df.melt(id_vars=["Cell Line", "Inhibitor", "Stimulus", "Timepoint"],
                   value_vars=list(PHOSPHO), var_name="antibody", value_name="value")
    long["time"] = long["Timepoint"].map(_hours)
    return long.dropna(subset=["value"])


def read_full(folder: Path) -> pd.DataFrame:
    """Long table of the total proteins over 0-48 h (five header rows; the unstimulated
    time-0 rows carry no stimulus and are kept once, as time 0 of PBS)."""
    df = pd.read_csv(folder / "MCF7_full.csv", skiprows=5)
    df = df[df["Inhibitor"].isin(INHIBITORS)]
    missing = [a for a in TOTAL if a not in df.columns]
    if missing:
        raise KeyError(f"{folder / 'MCF7_full.csv'}: no column {missing}")
    base = df[df["Stimulus"].isna()]
    df = df[df["Stimulus"].isin(STIMULI)]
    df = pd.concat([df, base.assign(Stimulus="PBS")], ignore_index=True)
    long = df.melt(id_vars=["Inhibitor", "Stimulus", "Timepoint"], value_vars=list(TOTAL),
                   var_name="antibody", value_name="value")
    long["time"] = long["Timepoint"].map(_hours)
    return long.dropna(subset=["value"])


def measurements(main: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for table, mapping in ((main, PHOSPHO), (full, TOTAL)):
        for r in table.itertuples(index=False):
            rows.append(dict(observableId=mapping[r.antibody][0],
                             preequilibrationConditionId=f"starved__{r.Inhibitor}",
                             simulationConditionId=_condition_id(r.Stimulus, r.Inhibitor),
                             measurement=float(r.value), time=round(float(r.time), 6),
                             datasetId=DATASET))
    return pd.DataFrame(rows)


def conditions() -> pd.DataFrame:
    rows = []
    for inhibitor, drugs in INHIBITORS.items():
        rows.append(dict(conditionId=f"starved__{inhibitor}",
                         conditionName=f"starved, {inhibitor}",
                         EGF=0.0, HRG=0.0, IGF1=0.0, **drugs))
        for stimulus, inputs in STIMULI.items():
            rows.append(dict(conditionId=_condition_id(stimulus, inhibitor),
                             conditionName=f"{stimulus}, {inhibitor}", **inputs, **drugs))
    return pd.DataFrame(rows)


def observables() -> pd.DataFrame:
    rows = []
    for oid, expr in (*PHOSPHO.values(), *TOTAL.values()):
        rows.append(dict(observableId=oid,
                         observableFormula=f"offset_{oid} + scale_{oid} * ({expr})",
                         noiseFormula=f"sigma_{oid}", observableTransformation="lin",
                         noiseDistribution="normal"))
    return pd.DataFrame(rows).drop_duplicates("observableId")


def parameters(model_values: dict, data: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for pid in KINETIC:
        v = float(model_values[pid])
        rows.append(dict(parameterId=pid, parameterName=pid, parameterScale="log10",
                         lowerBound=v / 100.0, upperBound=v * 100.0, nominalValue=v,
                         estimate=1))
    for pid, (v, lo, hi, name) in MAPPING.items():
        rows.append(dict(parameterId=pid, parameterName=name, parameterScale="log10",
                         lowerBound=lo, upperBound=hi, nominalValue=v, estimate=1))
    for oid, values in data.groupby("observableId")["measurement"]:
        top = float(values.max())
        rows += [dict(parameterId=f"scale_{oid}", parameterName=f"scale_{oid}",
                      parameterScale="log10", lowerBound=1e-5, upperBound=1e3,
                      nominalValue=0.01, estimate=1),
                 dict(parameterId=f"offset_{oid}", parameterName=f"offset_{oid}",
                      parameterScale="lin", lowerBound=0.0, upperBound=2.0 * top,
                      nominalValue=float(values.min()) / 2.0, estimate=1),
                 dict(parameterId=f"sigma_{oid}", parameterName=f"sigma_{oid}",
                      parameterScale="log10", lowerBound=1e-3, upperBound=10.0 * top,
                      nominalValue=float(values.std()), estimate=1)]
    return pd.DataFrame(rows)


def _write_problem(folder: Path, name: str, measurement_file: str) -> Path:
    problem = {"format_version": 1, "parameter_file": "parameters.tsv",
               "problems": [{"sbml_files": ["../../er_crosstalk.xml"],
                             "condition_files": ["conditions.tsv"],
                             "measurement_files": [measurement_file],
                             "observable_files": ["observables.tsv"]}]}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(problem, sort_keys=False))
    return path


def build(shared: Path, out: Path, model_values: dict) -> list[Path]:
    """Write the HPN-DREAM MCF-7 problems; return the problem files."""
    src = shared / "hpn-dream-mcf7"
    data = measurements(read_main(src), read_full(src))
    held = data["simulationConditionId"] == _condition_id(*HELD_OUT)
    folder = out / "hpn_dream_mcf7"
    folder.mkdir(parents=True, exist_ok=True)
    tsv = dict(sep="\t", index=False)
    conditions().to_csv(folder / "conditions.tsv", **tsv)
    observables().to_csv(folder / "observables.tsv", **tsv)
    parameters(model_values, data).to_csv(folder / "parameters.tsv", **tsv)
    data[~held].to_csv(folder / "measurements_training.tsv", **tsv)
    data[held].to_csv(folder / "measurements_held_out.tsv", **tsv)
    return [_write_problem(folder, "hpn_dream_mcf7", "measurements_training.tsv"),
            _write_problem(folder, "hpn_dream_mcf7_held_out", "measurements_held_out.tsv")]


def _model_values() -> dict:
    """The bundled model's parameter values, the nominal point of the kinetic parameters."""
    system = api.compile_model(api.load_model()).system
    return dict(zip(system.param_ids, system.p_default))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"),
                    help="the shared data folder (default: ../shared/data)")
    ap.add_argument("--out", type=Path, default=MODELS_DIR / "data",
                    help="where the problem folders go (default: the package's models/data)")
    args = ap.parse_args(argv)
    if not (args.shared / "hpn-dream-mcf7").is_dir():
        print(f"error: {args.shared / 'hpn-dream-mcf7'} not found (the shared data folder)",
              file=sys.stderr)
        return 2
    for path in build(args.shared, args.out, _model_values()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
