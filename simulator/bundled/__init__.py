"""The bundled ER crosstalk model: its files, catalogue tables, behaviour checks and atlas.

This package is the only code that knows the bundled model's ids. Its files are package
data in ``simulator/models/`` (read with :mod:`importlib.resources`, so they work from an
installed wheel):

``er_crosstalk.ant``
    the Antimony source (source of truth);
``er_crosstalk.xml``
    SBML generated from it (``python -m simulator.bundled.tables --write-sbml``; a test keeps
    the two in sync);
``er_crosstalk.toml``
    its catalogue: ``drugs.toml``, ``phenotypes.toml`` and the reset-at-start readouts;
``parameters.csv``
    every parameter with its source.

Modules: :mod:`~simulator.bundled.tables` (drug and phenotype tables),
:mod:`~simulator.bundled.behaviors` (the 15 published behaviours as checks),
:mod:`~simulator.bundled.runner` (the checks' runner on Crosstalk's core),
:mod:`~simulator.bundled.atlas` (the resistance atlas, ``make demo``).
"""
from __future__ import annotations

from simulator.io.bundled import BUNDLED_CATALOG, BUNDLED_MODEL, BUNDLED_SBML, models_dir

__all__ = ["MODELS_DIR", "MODEL_ANT", "MODEL_SBML", "CATALOG_TOML", "PHENOTYPES_TOML",
           "PARAMETERS_CSV"]

MODELS_DIR = models_dir()
MODEL_ANT = MODELS_DIR / BUNDLED_MODEL
MODEL_SBML = MODELS_DIR / BUNDLED_SBML
CATALOG_TOML = MODELS_DIR / BUNDLED_CATALOG
PHENOTYPES_TOML = MODELS_DIR / "phenotypes.toml"
PARAMETERS_CSV = MODELS_DIR / "parameters.csv"
