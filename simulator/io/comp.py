"""Flatten an SBML hierarchical-composition ("comp") document into one plain model.

libsbml's comp flattening converter does the work: it instantiates submodels (from model
definitions in the document and from external model definitions in other files), applies
deletions, replacements (``replacedElement`` / ``replacedBy``), port references, and the
submodels' time, extent and conversion factors. What comes out is an ordinary SBML model,
which the normal reader in :mod:`simulator.io.sbml` then checks and imports, so every other
check still applies to the flat model.

External model definitions name files relative to the document that uses them, so a
document read from a file resolves them in that file's folder; a document given as text
resolves them in the current directory.
"""
from __future__ import annotations

import os

import libsbml

from simulator.errors import ModelImportError, UnsupportedFeatureError

__all__ = ["flatten_comp", "uses_comp"]

_MAX_ERRORS = 10


def uses_comp(doc: libsbml.SBMLDocument) -> bool:
    """Whether ``doc`` holds anything to flatten (model definitions, submodels or ports).

    A document may declare the comp namespace without using it; that needs no flattening.
    """
    dplug = doc.getPlugin("comp")
    model = doc.getModel()
    mplug = model.getPlugin("comp") if model is not None else None
    counts = []
    if dplug is not None:
        counts += [dplug.getNumModelDefinitions(), dplug.getNumExternalModelDefinitions()]
    if mplug is not None:
        counts += [mplug.getNumSubmodels(), mplug.getNumPorts()]
    return any(counts)


def flatten_comp(doc: libsbml.SBMLDocument, source: str = "<string>") -> str:
    """Flatten ``doc`` in place and return the flat model as SBML text.

    Parameters
    ----------
    doc : libsbml.SBMLDocument
        A document using the comp package; it is replaced by its flat version.
    source : str
        The file the document was read from (external model definitions are resolved in its
        folder), or a label such as ``"<string>"`` for text.

    Returns
    -------
    str
        SBML text of the flat model, without comp elements.

    Raises
    ------
    ModelImportError
        libsbml cannot flatten the document: an external model file is missing, a
        reference (submodel, port, replacement, deletion) names nothing, ... The message is
        libsbml's, with the file and line.
    UnsupportedFeatureError
        The document needs a package that cannot be flattened.
    """
    base = _base_path(source)
    dplug = doc.getPlugin("comp")
    external = dplug is not None and dplug.getNumExternalModelDefinitions() > 0
    props = libsbml.ConversionProperties()
    props.addOption("flatten comp", True)
    props.addOption("basePath", base)
    props.addOption("leavePorts", False)
    props.addOption("abortIfUnflattenable", "requiredOnly")
    doc.getErrorLog().clearLog()
    status = doc.convert(props)
    errors, unflattenable = [], []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() < libsbml.LIBSBML_SEV_ERROR:
            continue
        if err.getErrorId() in (libsbml.CompFlatteningNotImplementedReqd,
                                libsbml.CompFlatteningNotRecognisedReqd):
            unflattenable.append(f"comp flattening: {err.getMessage().strip()}")
        else:
            errors.append(_located(err, source))
    if unflattenable:
        raise UnsupportedFeatureError(unflattenable, source=source)
    if errors or status != libsbml.LIBSBML_OPERATION_SUCCESS:
        errors = list(dict.fromkeys(errors))  # libsbml repeats some messages
        if not errors:
            errors = [f"{source}: libsbml's comp flattening failed (status {status})"]
        if external:
            errors.append(f"(external model files are looked up in '{base}')")
        more = len(errors) - _MAX_ERRORS
        shown = errors[:_MAX_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        raise ModelImportError("cannot flatten the hierarchical (comp) model:\n  "
                               + "\n  ".join(shown))
    doc.getErrorLog().clearLog()  # warnings of the hierarchical document do not carry over
    return libsbml.writeSBMLToString(doc)


def _base_path(source: str) -> str:
    """The folder in which external model files are looked up."""
    if os.path.isfile(source):
        return os.path.dirname(os.path.abspath(source))
    return os.getcwd()


def _located(err, source: str) -> str:
    line = f":{err.getLine()}" if err.getLine() else ""
    return f"{source}{line}: {err.getMessage().strip()}"
