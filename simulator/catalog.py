"""The catalogue of the bundled model: its files, drugs and phenotypes.

The bundled model lives in ``models/`` at the repository root:

``er_crosstalk.ant``
    the Antimony source (source of truth);
``er_crosstalk.xml``
    SBML generated from it (:func:`write_sbml`; a test keeps the two in sync);
``drugs.toml``, ``phenotypes.toml``, ``parameters.csv``
    machine-readable data with sources.

Run ``python -m simulator.catalog --write-sbml`` after editing the ``.ant`` file.
"""
from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from simulator.errors import ModelImportError, PerturbationError, suggest

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_ANT = MODELS_DIR / "er_crosstalk.ant"
MODEL_SBML = MODELS_DIR / "er_crosstalk.xml"
DRUGS_TOML = MODELS_DIR / "drugs.toml"
PHENOTYPES_TOML = MODELS_DIR / "phenotypes.toml"
PARAMETERS_CSV = MODELS_DIR / "parameters.csv"


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as err:
        raise ModelImportError(f"catalogue file {path} is missing") from err
    except tomllib.TOMLDecodeError as err:
        raise ModelImportError(f"catalogue file {path} is not valid TOML: {err}") from err


def drugs():
    """Return the drugs of the bundled model as a table.

    Returns
    -------
    pandas.DataFrame
        One row per drug (index: drug id, the model parameter holding its free
        concentration in nM) with target, mechanism, potency, clinical exposure,
        one-compartment PK parameters and their sources.
    """
    import pandas as pd

    data = _read_toml(DRUGS_TOML)
    rows = []
    for name, entry in data.items():
        row = {"drug": name}
        for key, value in entry.items():
            if isinstance(value, dict):  # e.g. [x.pk] tables -> pk_dose_mg ...
                row.update({f"{key}_{k}": v for k, v in value.items()})
            elif isinstance(value, list):
                row[key] = "; ".join(map(str, value))
            else:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows).set_index("drug")


def phenotypes():
    """Return the phenotypes of the bundled model as a table.

    Returns
    -------
    pandas.DataFrame
        One row per phenotype (index: name) with ``description``, ``source`` and
        ``overrides`` (text such as ``"HER2_synthesis set 20"``).
    """
    import pandas as pd

    data = _read_toml(PHENOTYPES_TOML)
    rows = []
    for name, entry in data.items():
        text = ", ".join(f"{pid} {op} {val}" for pid, spec in entry.get("overrides", {}).items()
                         for op, val in spec.items())
        rows.append({"phenotype": name, "description": entry.get("description", ""),
                     "overrides": text, "source": entry.get("source", "")})
    return pd.DataFrame(rows).set_index("phenotype")


def load_phenotype_overrides(names: str | Iterable[str],
                             base_params: Mapping[str, float]) -> dict[str, float]:
    """Apply named phenotypes to parameter values, in order.

    Parameters
    ----------
    names : str or iterable of str
        Phenotype names from ``models/phenotypes.toml``, e.g.
        ``["HER2_amplified", "PIK3CA_mutant"]``. Later ones act on the result of
        earlier ones (a ``scale`` multiplies the current value).
    base_params : mapping of str to float
        Current parameter values (id -> value); must hold every overridden id.

    Returns
    -------
    dict of str to float
        Only the parameters the phenotypes change (id -> new value).

    Raises
    ------
    PerturbationError
        For an unknown phenotype name (listing the valid ones), an override of a
        parameter missing from ``base_params``, or a malformed override.
    """
    if isinstance(names, str):
        names = [names]
    table = _read_toml(PHENOTYPES_TOML)
    current = dict(base_params)
    changed: dict[str, float] = {}
    for name in names:
        if name not in table:
            valid = ", ".join(sorted(table))
            raise PerturbationError(
                f"phenotype '{name}' is not defined in {PHENOTYPES_TOML.name}"
                f"{suggest(name, table)}; valid phenotypes: {valid}")
        for pid, spec in table[name].get("overrides", {}).items():
            if pid not in current:
                raise PerturbationError(
                    f"phenotype '{name}' overrides parameter '{pid}', which is not a "
                    f"parameter of the model{suggest(pid, current)}")
            if not isinstance(spec, dict) or len(spec) != 1 or not set(spec) <= {"set", "scale"}:
                raise PerturbationError(
                    f"phenotype '{name}', parameter '{pid}': override must be "
                    f"{{ set = value }} or {{ scale = factor }}, got {spec!r}")
            op, value = next(iter(spec.items()))
            new = float(value) if op == "set" else float(current[pid]) * float(value)
            current[pid] = changed[pid] = new
    return changed


def antimony_to_sbml(path: Path = MODEL_ANT) -> str:
    """Convert an Antimony file to SBML text with the antimony library.

    Raises
    ------
    ModelImportError
        If antimony rejects the file (its message names the line).
    """
    import antimony

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyFile(str(path)) < 0:
        raise ModelImportError(f"{path}: {antimony.getLastError().strip()}")
    name = antimony.getMainModuleName()
    return antimony.getSBMLString(name)


def write_sbml(path: Path = MODEL_SBML) -> Path:
    """Regenerate ``models/er_crosstalk.xml`` from ``models/er_crosstalk.ant``."""
    path.write_text(antimony_to_sbml(MODEL_ANT))
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance script
    if "--write-sbml" in sys.argv[1:]:
        print(f"wrote {write_sbml()}")
    else:
        print("usage: python -m simulator.catalog --write-sbml")
