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

EGF vs heregulin time courses (one problem, ``egf_hrg_time_courses``):

- MCF-7 and BT-474 (the ``HER2_amplified`` phenotype's overrides) pAkt and pERK, 0-120 min
  after 10 nM EGF or heregulin, normalised means with error bars (Imoto et al. 2022,
  iScience 25:104242); phospho-c-Myc is left out (no c-Myc in the model);
- MCF-7 ppMEK, ppERK and pRSK (as ERK activity), 0-90 min, means and SEM (Nakakuki et al.
  2010, Cell 141:884); c-Fos, CREB and the mRNAs are left out;
- the raw files are Python modules: their literal lists are read with :mod:`ast` (numbers
  and ``sd / np.sqrt(3)`` comprehensions only), never executed; the error bars are the
  noise (floored at 0.02, since a zero error bar would make a point infinitely certain).

Viability dose responses (``ccle_viability``): BT-474 (``HER2_amplified``) and ZR-75-1
(``PTEN_loss``, ZR-75-1 carries PTEN L108R) under lapatinib and erlotinib at 8 doses each,
read at steady state (``time = inf``) as ``scale * exp(3 * growth_rate)``, the 72-h fold
growth (growth_rate per day) relative to a per-cell-line scale (Froehlich et al. 2018, Cell
Syst 7:567, CCLE data). BT-474's ER and IRS-1 expression (``ER_synthesis``,
``IRS1_expression``) are estimated there, from the parental level: the values of the
``HER2_amplified`` phenotype. The other drugs of that table are left out: the MEK inhibitors
PD0325901 and selumetinib (the model's MEK inhibitor is trametinib; mapping them would need
their potencies relative to it), and CHIR-265, PLX-4720, sorafenib and vandetanib (RAF,
VEGFR/RET: no counterpart in the model).
"""
from __future__ import annotations

import argparse
import ast
import math
import sys
from pathlib import Path

import pandas as pd
import yaml

from simulator import api
from simulator.bundled import MODELS_DIR
from simulator.bundled.fitted import prior_values

DATASET = "hill2016_hpn_dream_mcf7"
HELD_OUT = ("NRG1", "GSK690693_GSK1120212")

# antibody -> (observable id, model expression): phosphorylation sites with a model readout
PHOSPHO = {
    "AKT_pS473": ("AKT_pS473", "pAkt_S473"),
    "AKT_pT308": ("AKT_pT308", "pAkt_T308"),
    # Akt substrates see Akt_kinase: active Akt less what an AKT inhibitor blocks
    "PRAS40_pT246": ("PRAS40_pT246", "Akt_kinase"),
    "GSK3-alpha-beta_pS21_S9": ("GSK3_pS21_S9", "Akt_kinase"),
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
TOTAL = {   # observable ids must not shadow the model's own ids (ER_total, ...)
    "ER-alpha": ("ERalpha_protein", "ER_total"),
    "EGFR": ("EGFR_protein", "EGFR_total"),
    "HER2": ("HER2_protein", "HER2_total"),
    "HER3": ("HER3_protein", "HER3_total"),
    "IRS1": ("IRS1_protein", "IRS1 + IRS1_pY + IRS1_pS"),
    "Cyclin-D1": ("CyclinD1_protein", "cyclinD1"),
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
    "k_act_EGFR", "kdp_RTK", "kint_RTK", "k_HER2_EGF", "k_HER2_HRG", "k_HER2_LI",
    "k_HER3_HRG", "k_HER3_LI", "k_HER3_EGFR", "k_act_IGF1R", "kint_IGF1R", "k_IRS1_pY",
    "kdp_IRS1_pY", "k_IRS1_pS", "w_PI3K_HER3",
    "w_PI3K_IRS1", "k_T308", "k_S473", "kdp_T308", "kdp_S473", "k_TSC2_Akt",
    "k_mTORC1_act", "k_S6K1", "kdp_S6K1", "k_S6_S6K1", "kdp_S6", "k_4EBP1", "kdp_4EBP1",
    "w_Ras_EGFR", "w_Ras_HER3", "w_Ras_IGF1R", "k_SOS_fb", "k_Raf", "k_MEK", "kdp_MEK",
    "k_ERK", "kdp_ERK", "kp_ER_Akt", "kp_ER_ERK", "ksyn_HER3", "kdeg_RTK",
    "k_Rb", "kdp_Rb",
]
# the literature and behaviour-set values are prior knowledge: each kinetic parameter has a
# normal prior on log10 around its value before any fit (or its measured value, MEASURED)
# with this standard deviation (a factor 3)
PRIOR_SD_LOG10 = math.log10(3.0)
# kinetic parameters with a measured value: id -> (value, sd of log10, source); the prior is
# centred there and the bounds are x/÷100 around it
MEASURED = {
    "kdp_RTK": (math.log(2.0) / 3.0 * 3600.0, 0.5,
                "ErbB1-3 phosphotyrosines turn over with half-lives of a few seconds (3 s: "
                "832/h; sd 0.5 log10 spans 1-10 s): Kleiman 2011, Mol Cell 43:723, "
                "PMID 21884975, abstract"),
}
# the receptors' activation rates were set for the model's phosphorylated fractions at its
# own kdp_RTK: their priors move with kdp_RTK's measured value, keeping those fractions
MOVES_WITH_KDP = ("k_act_EGFR", "k_HER2_EGF", "k_HER2_HRG", "k_HER2_LI", "k_HER3_HRG",
                  "k_HER3_LI", "k_HER3_EGFR", "k_act_IGF1R")
# fractions the data inform (linear scale, no prior): id -> (lower, upper). The FOXO weights
# are the FOXO-dependent shares of HER3/IGF-1R and ESR1 synthesis: above 1 a synthesis rate
# turns negative where FOXO falls below its reference (ERalpha and HER3 protein over 48 h of
# the AKT inhibitor inform them)
FRACTIONS = {"AKTi_protection": (0.0, 0.99), "w_FOXO_RTK": (0.0, 0.99),
             "w_FOXO_ER": (0.0, 0.99)}
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


def prior_row(pid: str, value: float, centre: float | None = None,
              sd: float = PRIOR_SD_LOG10) -> dict:
    """A parameter-table row estimating ``pid`` on log10 from its model value ``value``,
    with a normal prior of sd ``sd`` (log10) around ``centre`` (default: the model value)
    and bounds ×/÷100 around that centre. A model value a hair outside them (a fitted
    value on its bound, written with 6 digits) starts on the bound."""
    centre = value if centre is None else centre
    lower, upper = centre / 100.0, centre * 100.0
    return dict(parameterId=pid, parameterName=pid, parameterScale="log10",
                lowerBound=lower, upperBound=upper, nominalValue=min(max(value, lower), upper),
                estimate=1, objectivePriorType="parameterScaleNormal",
                objectivePriorParameters=f"{math.log10(centre):.10g};{sd:.10g}")


def linear_row(pid: str, value: float, lower: float, upper: float) -> dict:
    """A parameter-table row estimating ``pid`` on the linear scale in [lower, upper],
    from ``value``, with no prior (fractions and switched-off edges, which may be 0)."""
    return dict(parameterId=pid, parameterName=pid, parameterScale="lin",
                lowerBound=lower, upperBound=upper, nominalValue=value, estimate=1)


def kinetic_prior_rows(model_values: dict, priors: dict | None = None) -> list[dict]:
    """:data:`KINETIC`'s rows, starting at the model values: priors around the values
    before any fit (``priors``, :func:`simulator.bundled.fitted.prior_values`; else the
    model's), or around the measured values of :data:`MEASURED` (with
    :data:`MOVES_WITH_KDP` following ``kdp_RTK``)."""
    priors = priors or {}

    def before(pid):
        return float(priors.get(pid, model_values[pid]))

    kdp_value, _, _ = MEASURED["kdp_RTK"]
    shift = kdp_value / before("kdp_RTK")
    if abs(shift - 1.0) < 1e-5:          # the model has the measured value (to 6 digits)
        shift = 1.0
    rows = []
    for pid in KINETIC:
        v = float(model_values[pid])
        if pid in MEASURED:
            centre, sd, _ = MEASURED[pid]
            rows.append(prior_row(pid, v, centre, sd))
        elif pid in MOVES_WITH_KDP:
            rows.append(prior_row(pid, v, before(pid) * shift))
        else:
            rows.append(prior_row(pid, v, before(pid)))
    return rows


def parameters(model_values: dict, data: pd.DataFrame, priors: dict | None = None
               ) -> pd.DataFrame:
    rows = kinetic_prior_rows(model_values, priors)
    for pid, (lo, hi) in FRACTIONS.items():
        rows.append(linear_row(pid, float(model_values[pid]), lo, hi))
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


def write_problem_yaml(path: Path, conditions: list, measurements: list,
                       observables: list) -> Path:
    """A PEtab v1 YAML at ``path`` on the bundled model (two folders up), with the table
    files given relative to it and ``parameters.tsv`` beside it."""
    spec = {"format_version": 1, "parameter_file": "parameters.tsv",
            "problems": [{"sbml_files": ["../../er_crosstalk.xml"],
                          "condition_files": conditions, "measurement_files": measurements,
                          "observable_files": observables}]}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _write_problem(folder: Path, name: str, measurement_file: str) -> Path:
    return write_problem_yaml(folder / f"{name}.yaml", ["conditions.tsv"],
                              [measurement_file], ["observables.tsv"])


def build(shared: Path, out: Path, model_values: dict, priors: dict | None = None
          ) -> list[Path]:
    """Write the HPN-DREAM MCF-7 problems (priors centred on ``priors``, the values before
    any fit, where given); return the problem files."""
    src = shared / "hpn-dream-mcf7"
    data = measurements(read_main(src), read_full(src))
    held = data["simulationConditionId"] == _condition_id(*HELD_OUT)
    folder = out / "hpn_dream_mcf7"
    folder.mkdir(parents=True, exist_ok=True)
    tsv = dict(sep="\t", index=False)
    conditions().to_csv(folder / "conditions.tsv", **tsv)
    observables().to_csv(folder / "observables.tsv", **tsv)
    parameters(model_values, data, priors).to_csv(folder / "parameters.tsv", **tsv)
    data[~held].to_csv(folder / "measurements_training.tsv", **tsv)
    data[held].to_csv(folder / "measurements_held_out.tsv", **tsv)
    return [_write_problem(folder, "hpn_dream_mcf7", "measurements_training.tsv"),
            _write_problem(folder, "hpn_dream_mcf7_held_out", "measurements_held_out.tsv")]


# ---------------------------------------------------------------------------------------
# EGF vs heregulin time courses (Imoto 2022, Nakakuki 2010)

IMOTO = {"Phosphorylated_Akt": ("pAkt", "pAkt_S473"), "Phosphorylated_ERK": ("pERK", "pERK")}
IMOTO_MINUTES = [0, 5, 15, 30, 45, 60, 90, 120]         # get_timepoint of both files
NAKAKUKI = {"Phosphorylated_MEKc": ("ppMEK", "pMEK"), "Phosphorylated_ERKc": ("ppERK", "pERK"),
            "Phosphorylated_RSKw": ("pRSK", "pERK")}
NAKAKUKI_SECONDS = [0, 300, 600, 900, 1800, 2700, 3600, 5400]   # for these three readouts
LIGAND_NM = 10.0
NOISE_FLOOR = 0.02


def _number(node):
    """The value of a literal list element: numbers, unary minus, ``x / np.sqrt(c)``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_number(node.operand)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sqrt" and len(node.args) == 1):
        return math.sqrt(_number(node.args[0]))
    raise ValueError(f"line {node.lineno}: not a number literal")


def _numbers(node) -> list:
    """A literal list, or ``[name / np.sqrt(c) for name in [...]]``."""
    if isinstance(node, ast.List):
        return [_number(e) for e in node.elts]
    if (isinstance(node, ast.ListComp) and len(node.generators) == 1
            and isinstance(node.elt, ast.BinOp) and isinstance(node.elt.op, ast.Div)):
        divisor = _number(node.elt.right)
        return [v / divisor for v in _numbers(node.generators[0].iter)]
    raise ValueError(f"line {node.lineno}: not a list of numbers")


def read_biomass_observable(path: Path) -> dict:
    """``{(kind, observable): {condition: [values]}}`` from the ``set_data`` assignments
    ``self.experiments[self.obs_names.index("X")] = {...}`` (kind ``experiments``) and
    ``self.error_bars[...]`` of a biomass/pasmopy observable module, parsed, not run."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Subscript)
                and isinstance(node.value, ast.Dict)):
            continue
        target = node.targets[0]
        kind = getattr(target.value, "attr", None)
        index = target.slice
        if kind not in ("experiments", "error_bars") or not isinstance(index, ast.Call):
            continue
        name = index.args[0].value
        out[kind, name] = {k.value: _numbers(v) for k, v in zip(node.value.keys,
                                                                node.value.values)}
    return out


def _cell_parameters(model, values: dict, phenotypes: dict) -> dict:
    """``{cell: {parameter: value}}`` for cells given as ``{cell: phenotype or None}``: the
    parameters any of the phenotypes change, at the phenotype's value (the catalogue's own
    ``apply_phenotypes``) or, for the others, at the model's value."""
    changed = {cell: model.catalog.apply_phenotypes([ph] if ph else [], values)
               for cell, ph in phenotypes.items()}
    ids = sorted({k for c in changed.values() for k in c})
    return {cell: {k: c.get(k, float(values[k])) for k in ids} for cell, c in changed.items()}


def _time_course_rows(raw: dict, mapping: dict, hours: list, cell: str, dataset: str):
    for obs, (short, _) in mapping.items():
        for ligand, values in raw["experiments", obs].items():
            errors = raw["error_bars", obs][ligand]
            for t, v, e in zip(hours, values, errors):
                yield dict(observableId=f"{short}_{cell}_{dataset}",
                           preequilibrationConditionId=f"starved_{cell}",
                           simulationConditionId=f"{ligand}_{cell}",
                           measurement=v, time=round(t, 6),
                           noiseParameters=max(e, NOISE_FLOOR), datasetId=dataset)


def build_time_courses(shared: Path, out: Path, model, values: dict) -> Path:
    imoto, nakakuki = shared / "imoto2022-breast", shared / "nakakuki2010-mcf7"
    rows, observables_ = [], []
    sources = [("MCF7", imoto / "MCF7_observable.py", IMOTO, [m / 60 for m in IMOTO_MINUTES],
                "imoto2022"),
               ("BT474", imoto / "BT474_observable.py", IMOTO,
                [m / 60 for m in IMOTO_MINUTES], "imoto2022"),
               ("MCF7", nakakuki / "observable.py", NAKAKUKI,
                [s / 3600 for s in NAKAKUKI_SECONDS], "nakakuki2010")]
    for cell, path, mapping, hours, dataset in sources:
        rows += _time_course_rows(read_biomass_observable(path), mapping, hours, cell, dataset)
        for short, expr in mapping.values():
            oid = f"{short}_{cell}_{dataset}"
            observables_.append(dict(observableId=oid, observableFormula=f"scale_{oid} * ({expr})"
                                     f" - scale_{oid} * baseline_{oid}",
                                     noiseFormula=f"noiseParameter1_{oid}",
                                     observableTransformation="lin",
                                     noiseDistribution="normal"))
    cells = _cell_parameters(model, values, {"MCF7": None, "BT474": "HER2_amplified"})
    conds = []
    for cell, base in cells.items():
        conds.append(dict(conditionId=f"starved_{cell}", EGF=0.0, HRG=0.0, IGF1=0.0, **base))
        for ligand in ("EGF", "HRG"):
            conds.append(dict(conditionId=f"{ligand}_{cell}", EGF=LIGAND_NM * (ligand == "EGF"),
                              HRG=LIGAND_NM * (ligand == "HRG"), IGF1=0.0, **base))
    data = pd.DataFrame(rows)
    params = []
    for o in observables_:
        oid = o["observableId"]
        params += [dict(parameterId=f"scale_{oid}", parameterScale="log10", lowerBound=1e-5,
                        upperBound=1e3, nominalValue=0.01, estimate=1),
                   dict(parameterId=f"baseline_{oid}", parameterScale="lin", lowerBound=0.0,
                        upperBound=1e3, nominalValue=1.0, estimate=1)]
    return _write_tables(out / "egf_hrg_time_courses", "egf_hrg_time_courses",
                         pd.DataFrame(conds), pd.DataFrame(observables_), data,
                         pd.DataFrame(params))


# ---------------------------------------------------------------------------------------
# CCLE viability (Froehlich 2018)

CCLE_CELLS = {"BT474": "HER2_amplified", "ZR751": "PTEN_loss"}
CCLE_DRUGS = {"Lapatinib": "lapatinib", "Erlotinib": "erlotinib"}
# expression multipliers of a cell line estimated from its viability curves (the values
# of the HER2_amplified phenotype come from this fit, docs/model.md): the parental cell's
# value (1) is the nominal one, and the bounds allow a 100-fold lower or 2-fold higher level
CCLE_EXPRESSION = {"BT474": ("ER_synthesis", "IRS1_expression")}
EXPRESSION_BOUNDS = (0.01, 2.0)


def build_viability(shared: Path, out: Path, model, values: dict) -> Path:
    raw = pd.read_csv(shared / "froehlich2018-ccle" / "measurements_BT474_ZR751.tsv", sep="\t")
    pattern = r"TUMOR_(?P<cell>[A-Z0-9]+)_cellline_01_01_(?P<drug>[A-Za-z0-9_]+?)_Conc(?P<dose>[0-9_]+)nM"
    parts = raw["simulationConditionId"].str.extract(pattern)
    raw = pd.concat([raw, parts], axis=1)
    control = raw["drug"].isna()
    raw.loc[control, "cell"] = raw.loc[control, "simulationConditionId"].str.extract(
        r"TUMOR_([A-Z0-9]+)_cellline")[0]
    keep = control | raw["drug"].isin(CCLE_DRUGS)
    raw = raw[keep].copy()
    cells = _cell_parameters(model, values, CCLE_CELLS)
    conds, rows = [], []
    for r in raw.itertuples(index=False):
        dose = 0.0 if not isinstance(r.drug, str) else float(r.dose.replace("_", "."))
        drug = CCLE_DRUGS.get(r.drug, "control")
        cid = (f"{r.cell}_{drug}_{dose:g}nM" if dose else f"{r.cell}_control").replace(".", "p")
        doses = {d: (dose if d == drug else 0.0) for d in CCLE_DRUGS.values()}
        fitted = {pid: f"{r.cell}_{pid}" for pid in CCLE_EXPRESSION.get(r.cell, ())}
        conds.append(dict(conditionId=cid, **doses, **{**cells[r.cell], **fitted}))
        rows.append(dict(observableId=f"viability_{r.cell}", simulationConditionId=cid,
                         measurement=float(r.measurement), time="inf",
                         datasetId="froehlich2018_ccle"))
    observables_ = [dict(observableId=f"viability_{c}",
                         observableFormula=f"scale_viability_{c} * exp(3 * growth_rate)",
                         noiseFormula=f"sigma_viability_{c}", observableTransformation="lin",
                         noiseDistribution="normal") for c in CCLE_CELLS]
    params = []
    for c in CCLE_CELLS:
        params += [dict(parameterId=f"scale_viability_{c}", parameterScale="log10",
                        lowerBound=1e-3, upperBound=1e3, nominalValue=1.0, estimate=1),
                   dict(parameterId=f"sigma_viability_{c}", parameterScale="log10",
                        lowerBound=1e-3, upperBound=10.0, nominalValue=0.1, estimate=1)]
        params += [dict(parameterId=f"{c}_{pid}", parameterScale="log10",
                        lowerBound=EXPRESSION_BOUNDS[0], upperBound=EXPRESSION_BOUNDS[1],
                        nominalValue=1.0, estimate=1) for pid in CCLE_EXPRESSION.get(c, ())]
    return _write_tables(out / "ccle_viability", "ccle_viability",
                         pd.DataFrame(conds).drop_duplicates("conditionId"),
                         pd.DataFrame(observables_), pd.DataFrame(rows), pd.DataFrame(params))


def _write_tables(folder: Path, name: str, conditions_, observables_, data, params) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tsv = dict(sep="\t", index=False)
    conditions_.to_csv(folder / "conditions.tsv", **tsv)
    observables_.to_csv(folder / "observables.tsv", **tsv)
    data.to_csv(folder / "measurements.tsv", **tsv)
    params.to_csv(folder / "parameters.tsv", **tsv)
    return _write_problem(folder, name, "measurements.tsv")


def _bundled() -> tuple:
    """The bundled model (its catalogue's phenotypes) and its parameter values (the nominal
    point of the kinetic parameters, and the parental cell)."""
    model = api.load_model()
    system = api.compile_model(model).system
    return model, dict(zip(system.param_ids, system.p_default))


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
    model, values = _bundled()
    for path in [*build(args.shared, args.out, values, prior_values()),
                 build_time_courses(args.shared, args.out, model, values),
                 build_viability(args.shared, args.out, model, values)]:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
