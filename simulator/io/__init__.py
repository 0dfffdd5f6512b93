"""Model input: SBML files and text, Antimony files and text, all through one SBML importer;
and model catalogues.

:func:`load` (:mod:`~simulator.io.loader`) decides what ``source`` is;
:func:`read_sbml_file`, :func:`read_sbml_string` (:mod:`~simulator.io.sbml`, which also
registers how a :class:`~simulator.model.Model` pickles) and :func:`antimony_to_sbml` do one
thing each; :mod:`~simulator.io.catalog` reads catalogues.

The names load their module on first use (:mod:`simulator.lazy`): reading a catalogue must
not pay for libsbml, Antimony and sympy (``crosstalk drugs`` reads only the catalogue).
"""
from __future__ import annotations

from simulator.lazy import lazy_names

_EXPORTS = {
    "load": "simulator.io.loader",
    "read_antimony": "simulator.io.loader",
    "read_sbml_file": "simulator.io.sbml",
    "read_sbml_string": "simulator.io.sbml",
    "antimony_to_sbml": "simulator.io.antimony",
    "read_catalog": "simulator.io.catalog",
    "attach_catalog": "simulator.io.catalog",
    "ImportLimits": "simulator.io.limits",
}

__getattr__, __dir__ = lazy_names("simulator.io", globals(), _EXPORTS)

__all__ = list(_EXPORTS)
