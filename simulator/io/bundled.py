"""Where the bundled ER crosstalk model's files are (package data in ``simulator/models/``,
read through :mod:`importlib.resources`, so they work from an installed wheel).

A light module: the catalogue tables (``crosstalk drugs``) read the catalogue from here
without importing the SBML importer."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["BUNDLED_MODEL", "BUNDLED_SBML", "BUNDLED_CATALOG", "models_dir"]

#: the Antimony source of the bundled model (the source of truth)
BUNDLED_MODEL = "er_crosstalk.ant"
#: the SBML generated from BUNDLED_MODEL (a test keeps them identical), which loads: the
#: Antimony conversion would cost ~0.2 s of every process's start
BUNDLED_SBML = "er_crosstalk.xml"
#: the bundled model's catalogue (drugs, phenotypes, readouts reset at the start)
BUNDLED_CATALOG = "er_crosstalk.toml"


def models_dir() -> Path:
    """The folder of the bundled model's files."""
    return Path(str(resources.files("simulator") / "models"))
