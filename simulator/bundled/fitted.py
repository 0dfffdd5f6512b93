"""Put a calibration's fitted values into the bundled model's source.

``python -m simulator.bundled.fitted FIT_DIR/parameters_fitted.tsv --data-set NAME``
``python -m simulator.bundled.fitted centred.tsv --centred-by benchmarks/centre_parameters.py``

- every estimated parameter of the fit that is a parameter of ``er_crosstalk.ant`` gets its
  fitted value there (its ``id = value`` assignment in the parameter-values section, which
  must occur exactly once);
- ``parameters.csv`` gets the value and the source ``fitted to NAME`` (or ``centred for
  robustness by TOOL`` for assumed values moved into the region where the behaviours hold),
  keeping the earlier value and source as the prior the fit started from;
- the species' initial values (the ``initial state`` block) become the parental steady
  state of the new parameters, and ``er_crosstalk.xml`` is regenerated.

The fit's own observable parameters (scales, offsets, noise) and data-set mappings are not
model parameters and are left out. The source file is edited as text by id, never run.
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from pathlib import Path

import pandas as pd

from simulator import api
from simulator.bundled import MODEL_ANT, MODEL_SBML, PARAMETERS_CSV
from simulator.errors import InvalidValueError
from simulator.io.antimony import antimony_to_sbml

VALUES_MARK = "// ================================================================ parameter values"
STATE_MARK = "// ================================================================ initial state"
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def fitted_values(path: Path, model_ids: set | None = None) -> dict:
    """``{id: value}`` (linear) of the estimated rows of a PEtab parameter table that are
    model parameters (every estimated row when ``model_ids`` is None)."""
    table = pd.read_csv(path, sep="\t")
    for column in ("parameterId", "nominalValue", "estimate"):
        if column not in table.columns:
            raise InvalidValueError(f"{path}: not a PEtab parameter table (no {column})")
    twice = table["parameterId"][table["parameterId"].duplicated()].tolist()
    if twice:
        raise InvalidValueError(f"{path}: parameter(s) listed twice: {', '.join(map(str, twice))}")
    estimated = pd.to_numeric(table["estimate"], errors="coerce") == 1
    rows = table[estimated & (table["parameterId"].isin(model_ids) if model_ids is not None
                              else True)]
    numbers = pd.to_numeric(rows["nominalValue"], errors="coerce")
    values = {str(pid): float(v) for pid, v in zip(rows["parameterId"], numbers)}
    # model parameters are rates and amounts (>= 0); other rows (offsets) may be negative
    floor = 0.0 if model_ids is not None else -math.inf
    bad = [pid for pid, v in values.items() if not (math.isfinite(v) and v >= floor)]
    if bad:
        raise InvalidValueError(f"{path}: fitted value(s) not finite"
                                f"{' and >= 0' if model_ids is not None else ''}: "
                                f"{', '.join(bad)}")
    return values


def _format(value: float) -> str:
    return f"{value:.6g}"


def set_values(text: str, values: dict, mark: str = VALUES_MARK) -> str:
    """``text`` with each ``id = number`` after ``mark`` set to ``values[id]``."""
    head, found, tail = text.partition(mark)
    if not found:
        raise InvalidValueError(f"the model source has no '{mark}' section")
    for pid, value in values.items():
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(pid)} = {NUMBER}")
        if len(pattern.findall(tail)) != 1:
            raise InvalidValueError(f"parameter {pid!r} is not assigned exactly once in the "
                                    "model source's parameter values")
        tail = pattern.sub(f"{pid} = {_format(value)}", tail)
    return head + found + tail


def steady_initial_state(model) -> dict:
    """The parental steady state (species -> value) of ``model`` (with the bundled
    catalogue, so ``tumor_burden`` is held at 1); a species a hair below zero from
    round-off (a drug species at rest: -1e-24) is written as 0, the importer refuses
    negative values."""
    state = api.steady_state(model)
    if not state.converged:
        raise InvalidValueError(f"no steady state with the fitted values (residual "
                                f"{state.residual:.3g})")
    values = {sid: float(state[sid]) for sid in model.species_ids if sid != "tumor_burden"}
    negative = {k: v for k, v in values.items() if v < -1e-9}
    if negative:
        raise InvalidValueError(f"the steady state with the fitted values has negative "
                                f"species: {negative}")
    return {k: max(v, 0.0) for k, v in values.items()}   # round-off below zero is zero


def prior_values(path: Path = PARAMETERS_CSV) -> dict:
    """``{id: value}`` of the fitted parameters as they were before any fit: the value a
    calibration problem's prior is centred on, so that a problem regenerated from the
    fitted model keeps the prior it was fitted with. The source's chain of "<verb> ...;
    prior before: <value> (<earlier source>)" links is followed to its end, through
    centrings and rescalings too: the value before the earliest fit wins."""
    out = {}
    link = re.compile(rf"(.*?); prior before: ({NUMBER}) \((.*)\)$", re.S)
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            source, value = row["source"], None
            while (match := link.match(source)) is not None:
                if source.startswith("fitted to "):
                    value = float(match.group(2))
                source = match.group(3)
            if source.startswith("fitted to "):
                raise InvalidValueError(f"{path.name}: the source of {row['id']} does not "
                                        "say its value before the fit")
            if value is not None:
                out[row["id"]] = value
    return out


def table_text(path: Path, values: dict, data_set: str, verb: str = "fitted to") -> str:
    """``parameters.csv`` with the new values and sources ``"<verb> <data_set>; prior
    before: ..."`` (CRLF, as written)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
        fields = list(rows[0].keys())
    for row in rows:
        if row["id"] in values:
            before = f"before: {row['value']} ({row['source']})"
            row["value"] = _format(values[row["id"]])
            row["source"] = f"{verb} {data_set}; prior {before}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def apply(fit_table: Path, data_set: str, ant: Path = MODEL_ANT,
          table: Path = PARAMETERS_CSV, sbml: Path = MODEL_SBML, verb: str = "fitted to") -> dict:
    """Write the fitted values into ``ant`` and ``table``, the new steady state into
    ``ant``'s initial state and the SBML made from it to ``sbml``; return the values
    written. The steady state is that of ``ant``'s text with the fitted values set."""
    text = ant.read_text()
    model = api.load_model()
    values = fitted_values(fit_table, set(model.global_parameter_ids))
    if not values:
        raise InvalidValueError(f"{fit_table}: no estimated model parameter")
    text = set_values(text, values)
    # the steady state of the new text itself: the bundled model is read once per process,
    # so after an earlier apply() in the same process it would be the old one
    new = api.load_model(antimony_to_sbml(text, str(ant)), catalog=model.catalog)
    text = set_values(text, steady_initial_state(new), STATE_MARK)
    sbml_text = antimony_to_sbml(text, str(ant))          # everything made before writing
    rows = table_text(table, values, data_set, verb)
    ant.write_text(text)
    table.write_text(rows, newline="")
    sbml.write_text(sbml_text)
    return values


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fit", type=Path, help="parameters_fitted.tsv of crosstalk calibrate")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--data-set",
                      help="what the fit used, for the sources (e.g. 'HPN-DREAM MCF-7')")
    what.add_argument("--centred-by",
                      help="the tool that moved assumed values for robustness, for the sources")
    args = ap.parse_args(argv)
    verb, what = (("fitted to", args.data_set) if args.data_set is not None
                  else ("centred for robustness by", args.centred_by))
    try:
        values = apply(args.fit, what, verb=verb)
    except (InvalidValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(values)} values ({verb} {what}) into {MODEL_ANT.name} and "
          f"{PARAMETERS_CSV.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
