"""Antimony text to SBML text, so that Antimony models go through the one SBML importer."""
from __future__ import annotations

import re
import threading

import antimony

from simulator.errors import ModelImportError
from simulator.io.limits import DEFAULT_LIMITS, ImportLimits, check_antimony_text

__all__ = ["antimony_to_sbml"]

# libantimony keeps global state (loaded modules, last error): one conversion at a time.
_LOCK = threading.Lock()
# libantimony's return_type allSymbols and formula_type values (antimony_api.h).
_ALL_SYMBOLS = 0
_FORMULA_ASSIGNMENT, _FORMULA_RATE = 1, 2


def antimony_to_sbml(text: str, source: str = "<string>",
                     limits: ImportLimits = DEFAULT_LIMITS) -> str:
    """Convert Antimony text to SBML (Level 3 Version 2) text.

    Parameters
    ----------
    text : str
        The Antimony model.
    source : str
        Where the text came from, for messages (a path or ``"<string>"``).
    limits : ImportLimits
        Size and nesting limits, checked before libantimony parses the text.

    Returns
    -------
    str
        SBML text of the main (last defined) module.

    Raises
    ------
    ModelImportError
        The text is not valid Antimony; the message is Antimony's, with its line number.
        Also for a rule with an empty formula (``x' = ;``, ``x := ;``), which libantimony
        accepts silently and would leave as a parameter without a value, and for text over
        a limit (:mod:`simulator.io.limits`).
    """
    check_antimony_text(text, source, limits)
    with _LOCK:
        antimony.clearPreviousLoads()
        try:
            if antimony.loadAntimonyString(text) < 0:
                raise ModelImportError(f"invalid Antimony in {source}: "
                                       f"{_last_error('unknown error', text)}")
            main = antimony.getMainModuleName()
            _check_empty_rules(antimony, main, text, source)
            sbml = antimony.getSBMLString(main) if main else ""
            if not sbml:
                raise ModelImportError(f"Antimony in {source} gave no SBML: "
                                       f"{_last_error('no model defined', text)}")
            return sbml
        except UnicodeDecodeError:     # libantimony echoes bytes of a character it split
            raise ModelImportError(f"invalid Antimony in {source}: {_non_ascii(text)}") from None
        finally:
            antimony.clearPreviousLoads()


def _last_error(default: str, text: str) -> str:
    """libantimony's last message; when it is not valid UTF-8 (libantimony echoes half of a
    non-ASCII character), where the text has one."""
    try:
        return (antimony.getLastError() or default).strip()
    except UnicodeDecodeError:
        return _non_ascii(text)


def _non_ascii(text: str) -> str:
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("//", 1)[0]
        bad = [c for c in code if ord(c) > 127]
        if bad:
            return (f"line {n}: the character {bad[0]!r} is not allowed outside comments "
                    f"(libantimony cannot read the text)")
    return "libantimony cannot read the text (its message is not valid UTF-8)"


def _check_empty_rules(antimony, module: str | None, text: str, source: str) -> None:
    """Raise ModelImportError for rate or assignment rules whose formula is empty."""
    if not module:
        return
    names = antimony.getSymbolNamesOfType(module, _ALL_SYMBOLS)
    rate = antimony.getSymbolRateRulesOfType(module, _ALL_SYMBOLS)
    assignment = antimony.getSymbolAssignmentRulesOfType(module, _ALL_SYMBOLS)
    problems = []
    for name, rate_rule, assignment_rule in zip(names, rate, assignment):
        kind = antimony.getTypeOfEquationForSymbol(module, name)
        if kind == _FORMULA_RATE and not rate_rule.strip():
            where = _line_of(text, name, r"'\s*=")
            problems.append(f"{where}rate rule for '{name}' has no formula "
                            f"(expected {name}' = <expression>)")
        elif kind == _FORMULA_ASSIGNMENT and not assignment_rule.strip():
            where = _line_of(text, name, r"\s*:=")
            problems.append(f"{where}assignment rule for '{name}' has no formula "
                            f"(expected {name} := <expression>)")
    if problems:
        raise ModelImportError(f"invalid Antimony in {source}: " + "; ".join(problems))


def _line_of(text: str, name: str, operator: str) -> str:
    """``"line N: "`` of the first empty rule for ``name`` in ``text``, or ``""``."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}{operator}\s*(;|//|#|$)",
                         re.MULTILINE)
    match = pattern.search(text)
    return f"line {text.count(chr(10), 0, match.start()) + 1}: " if match else ""
