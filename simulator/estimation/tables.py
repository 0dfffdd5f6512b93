"""Reading a PEtab v1 problem: the YAML and its tables through the ``petab`` library.

Problems are reported at once as a :class:`PetabError` naming file, row and column: our own
checks run first (they know the rows), petab's linter after them, for what they do not
cover (:func:`lint`).

Rows are named as in the file (the header is line 1, so the first data row is line 2); a
problem with several measurement files keeps, per measurement, the file and line it came
from.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import petab.v1 as petab
import yaml

from simulator.errors import PetabError

__all__ = ["Tables", "read_tables", "lint"]


@dataclass(frozen=True)
class Tables:
    """The tables of one PEtab problem, as petab reads them, and where each measurement
    row came from (``origin[i] = (file name, line)``)."""

    path: Path
    sbml_file: Path
    conditions: pd.DataFrame
    observables: pd.DataFrame
    measurements: pd.DataFrame
    parameters: pd.DataFrame
    origin: list
    files: dict          # table kind -> file name(s), for messages
    problem: object = None   # the petab.v1.Problem


class _Collect(logging.Handler):
    """Keeps the linter's error messages (it logs them instead of raising)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def read_tables(path: str | os.PathLike) -> Tables:
    """The tables of the PEtab problem whose YAML is ``path``, linted."""
    path = Path(path)
    if not path.is_file():
        raise PetabError([f"{path}: no such file"], source=str(path))
    try:
        spec = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PetabError([f"{path.name}: not valid YAML: {e}"], source=str(path)) from None
    if not isinstance(spec, dict) or "problems" not in spec or "parameter_file" not in spec:
        raise PetabError([f"{path.name}: a PEtab v1 YAML needs 'format_version', "
                          "'parameter_file' and 'problems'"], source=str(path))
    version = str(spec.get("format_version", ""))
    if not version.startswith("1"):
        raise PetabError([f"{path.name}: format_version {version!r}: only PEtab v1 is "
                          "supported"], source=str(path))
    if not isinstance(spec["problems"], list) or len(spec["problems"]) != 1:
        raise PetabError([f"{path.name}: 'problems' must list exactly one problem"],
                         source=str(path))
    sub = spec["problems"][0]
    base = path.parent
    problems = []
    for key in ("sbml_files", "condition_files", "measurement_files", "observable_files"):
        files = sub.get(key) if isinstance(sub, dict) else None
        if not files:
            problems.append(f"{path.name}: problems[0] lists no {key}")
            continue
        for f in files:
            if not (base / f).is_file():
                problems.append(f"{path.name}: {key} entry '{f}' does not exist")
    if not (base / str(spec["parameter_file"])).is_file():
        problems.append(f"{path.name}: parameter_file '{spec['parameter_file']}' does not exist")
    if len(sub.get("sbml_files") or []) > 1:
        problems.append(f"{path.name}: problems[0] lists several sbml_files; PEtab v1 takes one")
    if problems:
        raise PetabError(problems, source=str(path))

    try:
        problem = petab.Problem.from_yaml(str(path))
    except Exception as e:      # petab raises a variety of types on malformed tables
        raise PetabError([f"{path.name}: petab cannot read the problem: {e}"],
                         source=str(path)) from None
    origin = []
    for f in sub["measurement_files"]:
        n = len(pd.read_csv(base / f, sep="\t"))
        origin += [(f, line) for line in range(2, n + 2)]
    if len(origin) != len(problem.measurement_df):
        origin = [("measurements", i + 2) for i in range(len(problem.measurement_df))]
    files = {"conditions": ", ".join(sub["condition_files"]),
             "observables": ", ".join(sub["observable_files"]),
             "parameters": str(spec["parameter_file"]),
             "measurements": ", ".join(sub["measurement_files"])}
    tables = Tables(path=path, sbml_file=base / sub["sbml_files"][0],
                    conditions=problem.condition_df, observables=problem.observable_df,
                    measurements=problem.measurement_df.reset_index(drop=True),
                    parameters=problem.parameter_df, origin=origin, files=files,
                    problem=problem)
    missing = [f"{files[kind]}: no column {col}" for kind, cols in REQUIRED.items()
               for col in cols if col not in getattr(tables, kind).columns]
    if missing:
        raise PetabError(missing, source=str(path))
    return tables


#: columns (besides the index) without which a table cannot be read at all
REQUIRED = {
    "measurements": ("observableId", "simulationConditionId", "time", "measurement"),
    "observables": ("observableFormula",),
    "parameters": ("parameterScale", "lowerBound", "upperBound", "estimate"),
}


def lint(tables: Tables) -> None:
    """Run petab's linter on what our own checks passed (its messages name no row)."""
    handler = _Collect()
    logger = logging.getLogger("petab")
    logger.addHandler(handler)
    try:
        failed = petab.lint_problem(tables.problem)
    except Exception as e:      # the linter raises on some tables instead of logging
        failed, handler.messages = True, handler.messages + [f"petab's linter: {e}"]
    finally:
        logger.removeHandler(handler)
    if failed:
        raise PetabError(handler.messages or ["petab's linter reports an error"],
                         source=str(tables.path))
