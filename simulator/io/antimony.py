"""Antimony text to SBML text, so that Antimony models go through the one SBML importer."""
from __future__ import annotations

import threading

from simulator.errors import ModelImportError

__all__ = ["antimony_to_sbml"]

# libantimony keeps global state (loaded modules, last error): one conversion at a time.
_LOCK = threading.Lock()


def antimony_to_sbml(text: str, source: str = "<string>") -> str:
    """Convert Antimony text to SBML (Level 3 Version 2) text.

    Parameters
    ----------
    text : str
        The Antimony model.
    source : str
        Where the text came from, for messages (a path or ``"<string>"``).

    Returns
    -------
    str
        SBML text of the main (last defined) module.

    Raises
    ------
    ModelImportError
        The text is not valid Antimony; the message is Antimony's, with its line number.
    """
    import antimony  # lazy: only Antimony users pay for loading libantimony

    with _LOCK:
        antimony.clearPreviousLoads()
        try:
            if antimony.loadAntimonyString(text) < 0:
                message = (antimony.getLastError() or "unknown error").strip()
                raise ModelImportError(f"invalid Antimony in {source}: {message}")
            main = antimony.getMainModuleName()
            sbml = antimony.getSBMLString(main) if main else ""
            if not sbml:
                message = (antimony.getLastError() or "no model defined").strip()
                raise ModelImportError(f"Antimony in {source} gave no SBML: {message}")
            return sbml
        finally:
            antimony.clearPreviousLoads()
