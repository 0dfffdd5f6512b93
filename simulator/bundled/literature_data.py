"""Published quantitative figures as a PEtab problem, and the joint calibration problem.

``simulator/models/data/literature_mcf7/figures.tsv`` is curated by hand: one published
figure per row, written in the model's terms, with its source. Columns:

``figure_id``
    a short id (letters, digits, underscores);
``phenotype``
    phenotypes of the cell (``;``-separated catalogue names), or empty for parental MCF-7;
``medium``
    ``id=value`` settings (``;``-separated) of the cell before treatment, e.g.
    ``androstenedione=0`` for estrogen deprivation; empty for the default medium. A species
    id resets that species at time 0 of both arms (``adaptation=0``: a cell freshly put in
    this medium, against the pre-equilibrated one that has adapted to it);
``treatment``
    ``id=value`` settings applied at time 0, e.g. ``everolimus=20``; empty for none;
``readout``
    the model species or observable the figure reports;
``time_h``
    hours after treatment (``inf``: the treated steady state);
``kind``
    ``fold``: the readout in the treated cell relative to the untreated one (a shared
    unknown scale, as on a western blot); ``absolute``: the readout itself;
``value``, ``sd_log10``
    the figure (positive) and its uncertainty as a standard deviation of log10(value)
    (0.1 is about ±26 %; a fold's two points get sd/√2 each, so the fold carries sd);
``source``, ``reported``
    the paper and location, and the value as reported there.

Values are parsed as numbers and ids are checked against the model; nothing in the table is
executed. ``python -m simulator.bundled.literature_data`` writes the figures' PEtab tables
beside ``figures.tsv`` and the joint problem ``er_crosstalk_mcf7`` (HPN-DREAM training data,
the figures, with the cell-fate parameters they inform, the EGF/heregulin time courses and
the CCLE viability curves) under ``simulator/models/data/``.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import pandas as pd

from simulator import api
from simulator.bundled import MODELS_DIR
from simulator.bundled.calibration_data import (CCLE_CELLS, CCLE_EXPRESSION, linear_row,
                                                 prior_row, write_problem_yaml)
from simulator.bundled.fitted import prior_values
from simulator.errors import InvalidValueError

FOLDER = "literature_mcf7"
JOINT = "er_crosstalk_mcf7"
# the other problems the joint one takes whole: BT-474 (HER2_amplified) and ZR-75-1 time
# courses and viability pin the HER2-amplified cell, which MCF-7 data cannot
OTHERS = ("egf_hrg_time_courses", "ccle_viability")
COLUMNS = ["figure_id", "phenotype", "medium", "treatment", "readout", "time_h", "kind",
           "value", "sd_log10", "source", "reported"]
KINDS = ("fold", "absolute")
# edges only a figure informs, estimated on a linear scale from 0 (the edge absent) with no
# prior: id -> (lower, upper). a_adapt_ER: LTED_raises_ER
FIGURE_EDGES = {"a_adapt_ER": (0.0, 20.0)}
# cell-fate parameters the figures inform (growth, arrest, apoptosis), estimated in the
# joint problem with the same log-normal priors as the signalling parameters
CELL_FATE = ["prolif_max", "K_E2F", "g_basal", "apo_max", "K_survival", "w_surv_ER",
             "w_surv_Akt", "w_surv_ERK", "K_cycD_Rb", "K_ER_cycD", "K_ERK_cycD"]


def _settings(text, where: str, known: set) -> dict:
    """``{'id': value}`` from ``id=value;id=value`` (empty: none); ids must be in ``known``
    (the model's parameters and species) and values numbers."""
    out = {}
    if not isinstance(text, str) or not text.strip():
        return out
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise InvalidValueError(f"{where}: {part.strip()!r} is not 'id=value' with a "
                                    "parameter or species of the model")
        try:
            out[key] = float(value)
        except ValueError:
            raise InvalidValueError(f"{where}: {value.strip()!r} of {key} is not a number"
                                    ) from None
        if not (math.isfinite(out[key]) and out[key] >= 0):
            raise InvalidValueError(f"{where}: {key} = {value.strip()} must be a finite "
                                    "number >= 0")
    return out


def read_figures(path: Path, model) -> pd.DataFrame:
    """The curated figures, checked: a bad row raises :class:`InvalidValueError` naming the
    file, its line and the column."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, index_col=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InvalidValueError(f"{path}: missing column(s) {', '.join(missing)}")
    for line, text in enumerate(path.read_text().splitlines()[1:], start=2):
        if text.strip() and text.count("\t") != len(table.columns) - 1:
            raise InvalidValueError(f"{path.name}, line {line}: {text.count(chr(9)) + 1} "
                                    f"fields, the header has {len(table.columns)}")
    params = set(model.parameter_ids)
    settable = params | set(model.species_ids)
    readouts = settable | set(model.assignment_rule_ids)
    phenotypes = set(model.catalog.phenotypes)
    seen = set()
    for line, row in zip(range(2, len(table) + 2), table.itertuples(index=False)):
        where = f"{path.name}, line {line}"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", row.figure_id) or row.figure_id in seen:
            raise InvalidValueError(f"{where}: figure_id {row.figure_id!r} must be a new "
                                    "identifier")
        seen.add(row.figure_id)
        for ph in filter(None, (p.strip() for p in row.phenotype.split(";"))):
            if ph not in phenotypes:
                raise InvalidValueError(f"{where}: unknown phenotype {ph!r}")
        _settings(row.medium, f"{where}, medium", settable)
        _settings(row.treatment, f"{where}, treatment", settable)
        if row.readout not in readouts:
            raise InvalidValueError(f"{where}: readout {row.readout!r} is not in the model")
        if row.kind not in KINDS:
            raise InvalidValueError(f"{where}: kind {row.kind!r} is not one of {KINDS}")
        for column in ("time_h", "value", "sd_log10"):
            try:
                number = float(getattr(row, column))
            except ValueError:
                raise InvalidValueError(f"{where}: {column} {getattr(row, column)!r} is not "
                                        "a number") from None
            if column != "time_h" and not (number > 0 and math.isfinite(number)):
                raise InvalidValueError(f"{where}: {column} must be positive, got {number}")
            if column == "time_h" and not number >= 0:
                raise InvalidValueError(f"{where}: time_h must be >= 0 or inf, got {number}")
        if not row.source.strip():
            raise InvalidValueError(f"{where}: every figure needs its source")
    return table


def tables(figures: pd.DataFrame, model, values: dict) -> tuple:
    """``(conditions, observables, measurements, parameters)`` of the figures' problem."""
    settable = set(model.parameter_ids) | set(model.species_ids)
    conditions, observables, measurements, parameters = [], [], [], []
    for row in figures.itertuples(index=False):
        phenotypes = [p.strip() for p in row.phenotype.split(";") if p.strip()]
        cell = model.catalog.apply_phenotypes(phenotypes, values)
        cell = {k: v for k, v in cell.items() if v != values.get(k)}
        cell.update(_settings(row.medium, row.figure_id, settable))
        treated = {**cell, **_settings(row.treatment, row.figure_id, settable)}
        control_id, treated_id = f"{row.figure_id}__control", f"{row.figure_id}__treated"
        conditions += [dict(conditionId=control_id, **cell),
                       dict(conditionId=treated_id, **treated)]
        oid = f"lit_{row.figure_id}"
        fold = row.kind == "fold"
        formula = f"scale_{row.figure_id} * {row.readout}" if fold else row.readout
        observables.append(dict(observableId=oid, observableFormula=formula,
                                noiseFormula=f"noiseParameter1_{oid}",
                                observableTransformation="log10",
                                noiseDistribution="normal"))
        # a fold is fitted as two points sharing a free scale, whose misfit is the log-ratio
        # error over sqrt(2) sigma: each point gets sd / sqrt(2), so that the fold itself
        # carries the stated sd
        sd = float(row.sd_log10) / math.sqrt(2.0) if fold else float(row.sd_log10)
        common = dict(observableId=oid, preequilibrationConditionId=control_id,
                      time=row.time_h, noiseParameters=round(sd, 10),
                      datasetId=f"literature:{row.figure_id}")
        if fold:
            measurements.append(dict(common, simulationConditionId=control_id,
                                     measurement=1.0))
            parameters.append(dict(parameterId=f"scale_{row.figure_id}",
                                   parameterName=f"scale of {row.figure_id}",
                                   parameterScale="log10", lowerBound=1e-6,
                                   upperBound=1e6, nominalValue=1.0, estimate=1))
        measurements.append(dict(common, simulationConditionId=treated_id,
                                 measurement=float(row.value)))
    frame = pd.DataFrame
    return (frame(conditions).fillna(float("nan")), frame(observables),
            frame(measurements), frame(parameters))


def joint_parameters(hpn: pd.DataFrame, figures: pd.DataFrame, values: dict,
                     others: tuple = (), priors: dict | None = None) -> pd.DataFrame:
    """The HPN-DREAM parameter table, the cell-fate parameters (with priors around their
    values before any fit, ``priors``, else the model's), the edges only figures inform,
    the figures' scales and the ``others`` problems' own parameters."""
    priors = priors or {}
    fate = [prior_row(pid, float(values[pid]), float(priors.get(pid, values[pid])))
            for pid in CELL_FATE if pid not in set(hpn["parameterId"])]
    edges = [linear_row(pid, float(values[pid]), lo, hi)
             for pid, (lo, hi) in FIGURE_EDGES.items()]
    table = pd.concat([hpn, pd.DataFrame(fate), pd.DataFrame(edges), figures, *others],
                      ignore_index=True)
    return table.drop_duplicates("parameterId", keep="first")


def at_the_phenotypes(table: pd.DataFrame, model, values: dict) -> pd.DataFrame:
    """``table`` with the cell lines' estimated expression levels (``ccle_viability``)
    starting at their phenotype's values, the model as shipped, instead of the parental
    level their own problem starts from; so the joint problem starts from one BT-474."""
    table = table.copy()
    for cell, pids in CCLE_EXPRESSION.items():
        applied = model.catalog.apply_phenotypes([CCLE_CELLS[cell]], values)
        for pid in pids:
            table.loc[table["parameterId"] == f"{cell}_{pid}", "nominalValue"] = \
                float(applied.get(pid, values[pid]))
    return table


def build(data: Path) -> list[Path]:
    """Write the figures' problem and the joint problem under ``data``; return their
    YAML files."""
    model = api.load_model()
    system = api.compile_model(model).system
    values = dict(zip(system.param_ids, system.p_default))
    folder = data / FOLDER
    figures = read_figures(folder / "figures.tsv", model)
    conditions, observables, measurements, scales = tables(figures, model, values)
    tsv = dict(sep="\t", index=False)
    conditions.to_csv(folder / "conditions.tsv", **tsv)
    observables.to_csv(folder / "observables.tsv", **tsv)
    measurements.to_csv(folder / "measurements.tsv", **tsv)
    hpn = pd.read_csv(data / "hpn_dream_mcf7" / "parameters.tsv", sep="\t")
    others = tuple(at_the_phenotypes(pd.read_csv(data / name / "parameters.tsv", sep="\t"),
                                     model, values) for name in OTHERS)
    joint = data / JOINT
    joint.mkdir(exist_ok=True)
    joint_parameters(hpn, scales, values, others, prior_values()).to_csv(
        joint / "parameters.tsv", **tsv)
    parts = ["hpn_dream_mcf7", FOLDER, *OTHERS]
    measurements = {"hpn_dream_mcf7": "measurements_training.tsv"}
    conditions = [f"../{p}/conditions.tsv" for p in parts]
    observables = [f"../{p}/observables.tsv" for p in parts]
    # the held-out HPN-DREAM block with the joint parameter table, so that its prediction
    # uses every fitted value (sim.check_predictable)
    training = [f"../{p}/{measurements.get(p, 'measurements.tsv')}" for p in parts]
    return [write_problem_yaml(joint / f"{JOINT}.yaml", conditions, training, observables),
            write_problem_yaml(joint / f"{JOINT}_held_out.yaml", conditions,
                               ["../hpn_dream_mcf7/measurements_held_out.tsv"], observables)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=MODELS_DIR / "data",
                    help="the calibration data folder (default: the package's models/data)")
    args = ap.parse_args(argv)
    try:
        for path in build(args.data):
            print(path)
    except InvalidValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
