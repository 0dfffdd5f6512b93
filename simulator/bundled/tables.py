"""A model's catalogue as tables (``sim.drugs()``, ``sim.phenotypes()``), and the bundled
model's SBML regenerated from its Antimony source.

Run ``python -m simulator.bundled.tables --write-sbml`` after editing
``simulator/models/er_crosstalk.ant``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import simulator.io
from simulator.bundled import CATALOG_TOML, MODEL_ANT, MODEL_SBML
from simulator.catalog import Catalog
from simulator.io.catalog import read_catalog

__all__ = ["drugs", "phenotypes", "write_sbml"]


def _catalog(model):
    """The catalogue of ``model`` (a Model, or a path or text to load), or the bundled
    model's, read alone: listing drugs needs no model built (``crosstalk drugs``)."""
    if model is None:
        return read_catalog(CATALOG_TOML)
    if isinstance(getattr(model, "catalog", None), Catalog):      # a Model
        return model.catalog
    if isinstance(model, (str, Path)):
        return simulator.io.load(model).catalog      # the importer loads on first use
    raise TypeError(f"model must be a Model or a path/text, got {type(model).__name__}")


def drugs(model=None) -> pd.DataFrame:
    """The drugs of a model's catalogue (the bundled model's by default) as a table.

    Returns
    -------
    pandas.DataFrame
        One row per drug (index: drug id, the model parameter holding its free
        concentration in nM) with target, mechanism, potency, clinical exposure,
        one-compartment PK parameters (``pk_*``) and their sources.
    """
    rows = []
    for name, entry in _catalog(model).drugs.items():
        row = {"drug": name}
        for key, value in entry.items():
            if isinstance(value, dict):  # e.g. [x.pk] tables -> pk_dose_mg ...
                row.update({f"{key}_{k}": v for k, v in value.items()})
            elif isinstance(value, list):
                row[key] = "; ".join(map(str, value))
            else:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows, columns=["drug"] if not rows else None).set_index("drug")


def phenotypes(model=None) -> pd.DataFrame:
    """The phenotypes of a model's catalogue (the bundled model's by default) as a table.

    Returns
    -------
    pandas.DataFrame
        One row per phenotype (index: name) with ``description``, ``source`` and
        ``overrides`` (text such as ``"HER2_synthesis set 20.0"``).
    """
    rows = [{"phenotype": p.name, "description": p.description, "overrides": p.label,
             "source": p.source} for p in _catalog(model).phenotypes.values()]
    return pd.DataFrame(rows, columns=["phenotype", "description", "overrides", "source"]
                        ).set_index("phenotype")


def write_sbml(path: Path = MODEL_SBML) -> Path:
    """Regenerate ``er_crosstalk.xml`` from ``er_crosstalk.ant``."""
    path.write_text(simulator.io.antimony_to_sbml(MODEL_ANT.read_text(), str(MODEL_ANT)))
    return path


if __name__ == "__main__":  # pragma: no cover - maintenance script
    if "--write-sbml" in sys.argv[1:]:
        print(f"wrote {write_sbml()}")
    else:
        print("usage: python -m simulator.bundled.tables --write-sbml")
