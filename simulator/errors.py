"""The exception tree of Crosstalk.

::

    SimulatorError
    ├── ModelError(ValueError)
    │   ├── ModelImportError          missing file, malformed XML, invalid Antimony, bad reference
    │   ├── UnsupportedFeatureError   valid SBML we don't handle (e.g. an algebraic rule with no closed-form solution)
    │   ├── InvalidValueError         NaN, infinite or impossible (negative) values
    │   └── UnknownIdError            params / readout / target that doesn't exist
    ├── PerturbationError(ValueError) unknown drug or phenotype, bad dose, bad schedule
    ├── StoreError(ValueError)        a sweep checkpoint made by another model, parameter set or version, or unwritable
    ├── PetabError(ValueError)        a PEtab problem whose tables are wrong (names file, row and column)
    ├── TrialError(ValueError)        a virtual-trial definition that is wrong (names file, key and line)
    └── IntegrationError(RuntimeError) carries t_fail, the offending species and the parameters

    ModelWarning(UserWarning)         legal model content that is ignored (e.g. a rule without math)

Every message says *what* went wrong, *where* (element type and id, file and line
where known) and, where possible, *how to fix it*.
"""
from __future__ import annotations

import difflib
import inspect
import os
import warnings
from collections.abc import Iterable, Mapping


class SimulatorError(Exception):
    """Base class of every error Crosstalk raises on purpose."""


class ModelError(SimulatorError, ValueError):
    """A model, or a reference into it, is wrong."""


class ModelImportError(ModelError):
    """A model file or text could not be read: missing, malformed, invalid or inconsistent."""


class UnsupportedFeatureError(ModelError):
    """Valid SBML that Crosstalk does not simulate; lists every offending element at once.

    Attributes
    ----------
    problems : list of str
        One line per offending element, e.g. ``"reaction 'R1': fast reaction"``.
    """

    def __init__(self, problems: Iterable[str], *, source: str | None = None):
        self.problems = list(problems)
        where = f" in {source}" if source else ""
        lines = "\n  - ".join(self.problems)
        super().__init__(
            f"model{where} uses {len(self.problems)} unsupported feature(s):\n  - {lines}"
        )


class InvalidValueError(ModelError):
    """A value is NaN, infinite, or negative where that is impossible."""


class UnknownIdError(ModelError, KeyError):
    """An id given by the user names nothing in the model.

    Subclasses ``KeyError`` too, so ``traj["nope"]`` behaves like a mapping lookup.
    """

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class PerturbationError(SimulatorError, ValueError):
    """A treatment, phenotype or schedule is invalid."""


class StoreError(SimulatorError, ValueError):
    """A checkpoint store cannot be used for this sweep (different model, parameters,
    options or version), is damaged, or cannot be written (permissions, disk full)."""


class PetabError(SimulatorError, ValueError):
    """A PEtab problem is malformed or inconsistent: lists every problem found at once, each
    naming its file, row and column.

    Attributes
    ----------
    problems : list of str
    """

    def __init__(self, problems: Iterable[str], *, source: str | None = None):
        self.problems = list(problems)
        where = f" {source}" if source else ""
        lines = "\n  - ".join(self.problems)
        super().__init__(f"PEtab problem{where} has {len(self.problems)} error(s):\n  - {lines}")


class TrialError(SimulatorError, ValueError):
    """A virtual-trial definition (TOML) is wrong: unknown key, drug or phenotype, a
    prevalence outside [0, 1], a regimen that cannot be given. Names file, key and line."""


class IntegrationError(SimulatorError, RuntimeError):
    """The integrator failed; never a silent NaN.

    Attributes
    ----------
    t_fail : float
        Model time at which integration stopped.
    species : list of str
        The state variables that were non-finite or blowing up at ``t_fail``.
    params : dict
        The parameter values of the failed run (id -> value).
    """

    def __init__(self, message: str, *, t_fail: float | None = None,
                 species: Iterable[str] = (), params: Mapping[str, float] | None = None):
        self.t_fail = t_fail
        self.species = list(species)
        self.params = dict(params or {})
        super().__init__(message)


class ModelWarning(UserWarning):
    """A model element is legal but means nothing, so it is ignored (e.g. an algebraic rule
    without math, which SBML L3v2 allows). The message names the element and its line."""


def warn(message: str, category: type[Warning] = ModelWarning) -> None:
    """``warnings.warn`` located at the first caller outside the ``simulator`` package (the
    user's line that loaded or ran the model), however deep inside it the warning arose."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = inspect.currentframe().f_back, 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    del frame
    warnings.warn(message, category, stacklevel=level)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    pool = list(candidates)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


def unknown_id(kind: str, name: str, candidates: Iterable[str], *, model: str = "") -> UnknownIdError:
    """Build the standard :class:`UnknownIdError` for an id that names nothing."""
    pool = sorted(candidates)
    where = f" of model '{model}'" if model else ""
    return UnknownIdError(f"{kind} '{name}' is not {_article(kind)}{where}{suggest(name, pool)}")


def _article(kind: str) -> str:
    return {
        "readout": "a species, compartment, parameter or observable",
        "parameter": "a parameter",
        "initial value": "a species, compartment or parameter",
        "sensitivity parameter": "a parameter the sensitivities were computed for",
    }.get(kind, "known")
