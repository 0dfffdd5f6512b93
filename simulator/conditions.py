"""Conditions: what an experiment sets on a model, checked once and turned into overrides.

A condition is drugs (drug id -> free concentration at the target, nM), phenotypes (named
override sets from the model's catalogue, :mod:`simulator.catalog`), parameter values and
initial values. :func:`overrides` merges them into one ``{id: value}`` table for one run;
:func:`members` does the same for the N members of a sweep, on columns. Both apply one set
of rules with one message per kind of mistake, for every caller (``simulate``,
``steady_state``, ``sweep``, ``dose_response``, ``combination``, the command line):

=================================  ====================================================
mistake                            error
=================================  ====================================================
unknown parameter                  UnknownIdError, with a "did you mean"
a species given as a parameter     UnknownIdError: set it with ``initial=``
unknown initial-value id           UnknownIdError, with a "did you mean"
an id that a rule determines       UnknownIdError: set what it depends on
a value that is not a finite       InvalidValueError naming the id (and the member)
number
unknown drug                       PerturbationError listing the valid drugs
a dose that is not a number >= 0   PerturbationError naming the drug (and the member)
unknown phenotype                  PerturbationError listing the valid phenotypes
a drug also given in ``params``    InvalidValueError (which value would be meant?)
=================================  ====================================================

Precedence: the phenotypes first, then the drugs, then ``params``, then ``initial``.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.errors import (InvalidValueError, PerturbationError, UnknownIdError, suggest,
                              unknown_id)
from simulator.model import Model
from simulator.system import OdeSystem

__all__ = ["overrides", "members", "Members", "phenotype_names", "phenotype_overrides",
           "as_mapping",
           "check_drug", "drug_names", "check_dose", "check_readouts", "settable_parameters"]


# ------------------------------------------------------------------------ single checks

_SETTABLE: dict[str, tuple[frozenset, frozenset]] = {}


def _settable(model: Model, system: OdeSystem | None = None) -> tuple[frozenset, frozenset]:
    """The ids ``params=`` and ``initial=`` accept, built once per model (by its hash)."""
    hit = _SETTABLE.get(model.hash)
    if hit is None or (system is not None and not hit[1]):
        params = frozenset(model.parameter_ids) | frozenset(model.compartment_ids)
        initial = (params | frozenset(model.species_ids) | frozenset(system.state_ids)
                   if system is not None else frozenset())
        hit = _SETTABLE[model.hash] = (params, initial)
    return hit


def settable_parameters(model: Model) -> frozenset:
    """Ids ``params=`` accepts: parameters (local ones as ``"reaction.id"``) and compartments."""
    return _settable(model)[0]


def _param_id(model: Model, k) -> str:
    if k not in settable_parameters(model):
        if k in model.species_ids:
            raise UnknownIdError(f"'{k}' is a species of model '{model.id}', not a parameter; "
                                 f"set it with initial={{'{k}': ...}}")
        raise unknown_id("parameter", k, settable_parameters(model), model=model.id)
    return k


def _initial_id(model: Model, system: OdeSystem, k) -> str:
    valid = _settable(model, system)[1]
    if k not in valid:
        raise unknown_id("initial value", k, valid, model=model.id)
    if k in system.init.rule_ids:
        raise UnknownIdError(f"'{k}' of model '{model.id}' is determined by a rule (an "
                             "assignment or algebraic rule, or a fast reaction's equilibrium) "
                             "and cannot be given an initial value; set the quantities it "
                             "depends on")
    return k


def _number(k: str, v) -> float:
    if isinstance(v, (bool, np.bool_)):
        raise InvalidValueError(f"value for '{k}' must be a number, got {v!r}")
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InvalidValueError(f"value for '{k}' must be a number, got {v!r}") from None
    if not math.isfinite(x):
        raise InvalidValueError(f"value for '{k}' is not finite ({v!r}); give a finite number")
    return x


def _column(k: str, v, n: int | None) -> np.ndarray:
    """One value per member: a 1-D array of finite numbers (of length ``n`` if given)."""
    if isinstance(v, (str, bytes)):
        raise InvalidValueError(f"values for '{k}' must be numbers, got {v!r}")
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise InvalidValueError(f"values for '{k}' must be numbers, got {v!r}") from None
    if a.ndim != 1 or a.size == 0 or (n is not None and a.size != n):
        want = f"{n} values (one per member)" if n is not None else "a non-empty 1-D array"
        raise InvalidValueError(f"values for '{k}': give one number, or {want}; got shape "
                                f"{a.shape}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise InvalidValueError(f"value for '{k}' of member {int(bad[0])} is not finite "
                                f"({float(a[bad[0]])!r}); give a finite number")
    return a


def drug_names(model: Model) -> list[str]:
    """The catalogue's drugs that are parameters of ``model``, in catalogue order."""
    params = set(model.parameter_ids)
    return [d for d in model.catalog.drugs if d in params]


def check_drug(model: Model, name) -> str:
    """``name`` if it can act as a drug of ``model``: a global parameter no rule sets.

    Raises
    ------
    PerturbationError
        Not such a parameter (the catalogue's drugs listed, with a "did you mean").
    """
    params = model.global_parameter_ids
    if isinstance(name, str) and name in params and name not in model.rule_variables:
        return name
    if name in params:
        raise PerturbationError(f"'{name}' of model '{model.id}' is computed by a rule, so it "
                                f"cannot be set as a drug")
    known = drug_names(model)
    listing = f"valid drugs: {', '.join(known)}" if known else \
        "this model has no drug catalogue, so any of its parameters can act as a drug"
    raise PerturbationError(f"unknown drug '{name}' of model '{model.id}'"
                            f"{suggest(str(name), known or sorted(params))} ({listing})")


def check_dose(name: str, value) -> float:
    """A concentration (nM) as a float: a finite number >= 0.

    Raises
    ------
    PerturbationError
    """
    if isinstance(value, (bool, np.bool_)):
        raise PerturbationError(f"dose of '{name}' must be a number (nM), got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise PerturbationError(f"dose of '{name}' must be a number (nM), got {value!r}") from None
    if not math.isfinite(x) or x < 0:
        raise PerturbationError(f"dose of '{name}' must be a finite concentration >= 0 nM, got "
                                f"{value!r}")
    return x


def _dose_column(name: str, value, n: int) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise PerturbationError(f"doses of '{name}' must be numbers (nM), got {value!r}") from None
    if a.shape != (n,):
        raise PerturbationError(f"doses of '{name}': give one number, or one dose per member "
                                f"({n}), got shape {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
    if bad.size:
        raise PerturbationError(f"dose of '{name}' for member {int(bad[0])} must be a finite "
                                f"concentration >= 0 nM, got {a[bad[0]]!r}")
    return a


def phenotype_names(phenotype) -> tuple:
    """``None``, a name or a sequence of names, as a tuple of names.

    Raises
    ------
    PerturbationError
    """
    if phenotype is None:
        return ()
    if isinstance(phenotype, str):
        return (phenotype,)
    try:
        out = tuple(phenotype)
    except TypeError:
        raise PerturbationError(f"phenotype must be a name or a list of names, got "
                                f"{phenotype!r}") from None
    bad = [p for p in out if not isinstance(p, str)]
    if bad:
        raise PerturbationError(f"phenotype names must be strings, got {bad[0]!r}")
    return out


def phenotype_overrides(model: Model, phenotype) -> dict:
    """Parameter values that ``phenotype`` (a name or names, applied in order) changes.

    Raises
    ------
    PerturbationError
        Unknown phenotype, or one that overrides an id the model lacks.
    """
    names = phenotype_names(phenotype)
    if not names:
        return {}
    base = {p.id: p.value for p in model.parameters}
    return model.catalog.apply_phenotypes(names, base)


def check_readouts(model: Model, system: OdeSystem, readouts) -> tuple:
    """Readout ids as a tuple, each an output of ``system``; ``None`` gives every species
    and assignment-rule target.

    Raises
    ------
    UnknownIdError
        An id that names no species, compartment, parameter, rule target or reaction.
    InvalidValueError
        An empty list.
    """
    outputs = system.outputs
    if readouts is None:
        rules = [r for r in model.assignment_rule_ids if r in outputs]
        return tuple(dict.fromkeys([*model.species_ids, *rules]))
    if isinstance(readouts, str):
        readouts = [readouts]
    readouts = tuple(readouts)
    for r in readouts:
        if r not in outputs:
            raise unknown_id("readout", r, tuple(outputs), model=model.id)
    if not readouts:
        raise InvalidValueError("readouts must name at least one id")
    return readouts


# ------------------------------------------------------------------------ one run

def overrides(model: Model, system: OdeSystem, *, params: Mapping | None = None,
              initial: Mapping | None = None, drugs: Mapping | None = None,
              phenotype=None) -> dict:
    """One run's overrides ``{id: value}``: phenotypes, then drugs, then params, then initial.

    Raises
    ------
    UnknownIdError, InvalidValueError, PerturbationError
        See the module docstring.
    """
    out = phenotype_overrides(model, phenotype)
    drugs = as_mapping("drugs", drugs, PerturbationError)
    params = as_mapping("params", params, InvalidValueError)
    for name, value in drugs.items():
        out[check_drug(model, name)] = check_dose(name, value)
    for k, v in params.items():
        out[_param_id(model, k)] = _number(k, v)
        if k in drugs:
            raise InvalidValueError(f"'{k}' is given both as a drug and in params; give it once")
    for k, v in as_mapping("initial", initial, InvalidValueError).items():
        out[_initial_id(model, system, k)] = _number(k, v)
    return out


def as_mapping(what: str, value, error=InvalidValueError, hint: str = "") -> Mapping:
    """``value`` (a dict of id -> value; None: empty) or ``error`` saying that ``what``
    must be one, with ``hint`` appended."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error(f"{what} must be a dict of id -> value, got {type(value).__name__}{hint}")
    return value


# ------------------------------------------------------------------------ N members

@dataclass(frozen=True, eq=False)
class Members:
    """The conditions of N members, as shared overrides and per-member columns.

    Attributes
    ----------
    n : int
    ids : tuple of str
        The per-member columns (parameters, drugs, initial values), which take precedence
        over the shared overrides.
    values : ndarray, shape (n, len(ids))
    groups : tuple of dict
        Shared overrides of each phenotype group (phenotype, then shared drugs, params and
        initial values).
    group : ndarray of int, shape (n,)
        Each member's group.
    phenotypes : tuple of tuple of str
        Each group's phenotype names.
    varies : bool
        Whether the phenotype differs between members.
    """

    n: int
    ids: tuple
    values: np.ndarray
    groups: tuple
    group: np.ndarray
    phenotypes: tuple
    varies: bool

    def table(self) -> pd.DataFrame:
        """One row per member (index ``member``): the columns, and ``phenotype`` if it varies."""
        import pandas as pd     # ~0.3 s to import: loaded when a table is asked for
        tab = pd.DataFrame(self.values, columns=list(self.ids))
        if self.varies:
            tab["phenotype"] = ["+".join(self.phenotypes[g]) for g in self.group]
        tab.index.name = "member"
        return tab


def members(model: Model, system: OdeSystem, n: int | None = None, *,
            params: Mapping | None = None, drugs=None, phenotype=None,
            initial: Mapping | None = None) -> Members:
    """The conditions of ``n`` members (a sweep), checked with the rules of :func:`overrides`.

    Parameters
    ----------
    n : int, optional
        Number of members; default: the length of the first per-member array or list
        given (1 if every value is shared).
    params, initial : dict, optional
        Id -> a number (shared by every member) or an array of ``n`` numbers.
    drugs : dict or list of dict, optional
        Drug id -> a dose in nM (shared) or an array of ``n`` doses; or a list of ``n``
        dicts, one per member (a drug a member's dict lacks keeps its model value).
    phenotype : str or list of str or ndarray or pandas.Series, optional
        Shared name(s), or one entry (a name, a tuple of names, or None) per member.

    Raises
    ------
    UnknownIdError, InvalidValueError, PerturbationError
        See the module docstring; the member is named where one is at fault.
    """
    if n is None:
        n = _member_count(params, drugs, phenotype, initial)
    shared: dict[str, float] = {}
    ids: list[str] = []
    cols: list[np.ndarray] = []

    def add(k, v, check_id, check_value, check_col, keep=True):
        k = check_id(k)
        if np.ndim(v) == 0 and not isinstance(v, (list, tuple)):
            v = check_value(k, v)
            if keep:
                shared[k] = v
        else:
            v = check_col(k, v, n)
            if keep:
                ids.append(k)
                cols.append(v)

    per_member_drugs = isinstance(drugs, Sequence) and not isinstance(drugs, (str, bytes))
    if per_member_drugs:
        if len(drugs) != n or not all(isinstance(d, Mapping) or d is None for d in drugs):
            raise PerturbationError(f"{len(drugs)} drug sets for {n} members; give one dict per "
                                    f"member or one shared dict")
        drug_ids = list(dict.fromkeys(k for d in drugs if d for k in d))
    else:
        drugs = as_mapping("drugs", drugs, PerturbationError)
        drug_ids = list(drugs)
    params = as_mapping("params", params, InvalidValueError)
    initial = as_mapping("initial", initial, InvalidValueError)
    for k in params:
        if k in drug_ids:
            raise InvalidValueError(f"'{k}' is given both as a drug and in params; give it once")
        # checked, but an initial value of the same id takes precedence, as in overrides()
        add(k, params[k], lambda x: _param_id(model, x), _number, _column, keep=k not in initial)
    if per_member_drugs:
        defaults = {p.id: p.value for p in model.parameters}
        for k in drug_ids:
            check_drug(model, k)
            col = np.array([check_dose(k, d[k]) if d and k in d else (defaults.get(k) or 0.0)
                            for d in drugs])
            ids.append(k)
            cols.append(col)
    else:
        for k, v in drugs.items():
            add(k, v, lambda x: check_drug(model, x), check_dose, _dose_column)
    for k, v in initial.items():
        add(k, v, lambda x: _initial_id(model, system, x), _number, _column)
    dup = [k for k in ids if ids.count(k) > 1]
    if dup:
        raise InvalidValueError(f"'{dup[0]}' is given twice; give it once")

    keys, varies = _phenotype_keys(phenotype, n)
    names = tuple(dict.fromkeys(keys))
    groups = tuple({**phenotype_overrides(model, k), **shared} for k in names)
    group = np.array([names.index(k) for k in keys], dtype=int) if varies \
        else np.zeros(n, dtype=int)
    values = np.column_stack(cols) if cols else np.empty((n, 0))
    return Members(n, tuple(ids), values.reshape(n, len(ids)), groups, group, names, varies)


def _member_count(params, drugs, phenotype, initial) -> int:
    """The length of the first per-member array or list among the conditions, or 1."""
    if isinstance(drugs, Sequence) and not isinstance(drugs, (str, bytes)):
        return len(drugs)
    for table in (params, drugs, initial):
        if isinstance(table, Mapping):
            for v in table.values():
                if not isinstance(v, (str, bytes)) and np.ndim(v) == 1:
                    return len(v)
    if isinstance(phenotype, np.ndarray) or _is_series(phenotype):
        return len(phenotype)
    return 1


def _is_series(value) -> bool:
    """Whether ``value`` is a pandas Series, without importing pandas (only a caller that
    has imported it can pass one)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Series)


def _phenotype_keys(phenotype, n: int):
    """Per-member phenotype keys (tuples of names), and whether they vary."""
    if _is_series(phenotype):
        phenotype = phenotype.to_numpy(dtype=object)
    if not isinstance(phenotype, np.ndarray):
        try:
            return [phenotype_names(phenotype)] * n, False
        except PerturbationError:
            raise PerturbationError(
                "phenotype must be a name or list of names (shared by all members), or a numpy "
                "array / pandas Series with one entry per member") from None
    if phenotype.shape != (n,):
        raise PerturbationError(f"per-member phenotypes need one entry per member ({n}), got "
                                f"shape {phenotype.shape}")
    return [phenotype_names(x) for x in phenotype], True
