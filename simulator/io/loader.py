"""What a model source is: :func:`load` reads a path or model text, SBML or Antimony, through
the one SBML importer (:mod:`simulator.io.sbml`)."""
from __future__ import annotations

import os
from pathlib import Path

from simulator.errors import ModelImportError
from simulator.io.antimony import antimony_to_sbml
from simulator.io.limits import DEFAULT_LIMITS, ImportLimits, check_size, file_size
from simulator.io.sbml import read_sbml_file, read_sbml_string
from simulator.model import Model

__all__ = ["load", "read_antimony"]

_SBML_SUFFIXES = {".xml", ".sbml"}
_ANTIMONY_SUFFIXES = {".ant", ".txt", ".antimony"}


def read_antimony(text: str, source: str = "<string>",
                  limits: ImportLimits = DEFAULT_LIMITS) -> Model:
    """Read Antimony text: convert to SBML, then import that."""
    return read_sbml_string(antimony_to_sbml(text, source, limits), source=source, limits=limits)


def load(source: str | os.PathLike, limits: ImportLimits = DEFAULT_LIMITS) -> Model:
    """Load a model from a path or from SBML / Antimony text.

    Parameters
    ----------
    source : str or path-like
        A path (``.xml`` / ``.sbml`` is SBML, ``.ant`` / ``.txt`` is Antimony, anything else
        is sniffed), or model text: text starting with ``<`` is SBML, other text Antimony.
    limits : ImportLimits
        Size and nesting limits, checked before any recursive work (:mod:`simulator.io.limits`).

    Returns
    -------
    Model

    Raises
    ------
    ModelImportError
        Missing or unreadable file, malformed SBML, invalid Antimony, undefined ids.
    UnsupportedFeatureError
        The model uses constructs Crosstalk does not simulate (all listed at once).
    InvalidValueError
        A size or initial value is NaN, infinite or negative.
    """
    if not isinstance(limits, ImportLimits):
        raise ModelImportError(f"limits must be an ImportLimits, got {type(limits).__name__}")
    if isinstance(source, os.PathLike):
        return _load_path(Path(source), limits)
    if not isinstance(source, str):
        raise ModelImportError(
            f"cannot load a model from {type(source).__name__}; expected a path or SBML / "
            f"Antimony text")
    stripped = source.lstrip()
    if not stripped:
        raise ModelImportError("cannot load a model from empty text; expected a path or SBML / "
                               "Antimony text")
    if stripped.startswith("<"):
        return read_sbml_string(source, limits=limits)
    if _looks_like_path(source):
        return _load_path(Path(source), limits)
    return read_antimony(source, limits=limits)


def _looks_like_path(text: str) -> bool:
    if "\n" in text or not text.strip():
        return False
    suffix = Path(text.strip()).suffix.lower()
    return suffix in _SBML_SUFFIXES | _ANTIMONY_SUFFIXES or os.path.exists(text)


def _load_path(path: Path, limits: ImportLimits) -> Model:
    suffix = path.suffix.lower()
    if suffix in _SBML_SUFFIXES:
        return read_sbml_file(path, limits)
    check_size(file_size(path), str(path), limits)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ModelImportError(f"model file '{path}' does not exist") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ModelImportError(f"cannot read model file '{path}': {err}") from err
    if suffix not in _ANTIMONY_SUFFIXES and text.lstrip().startswith("<"):
        return read_sbml_string(text, source=str(path), limits=limits)
    return read_antimony(text, source=str(path), limits=limits)
