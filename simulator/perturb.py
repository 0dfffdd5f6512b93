"""Treatments: drugs and phenotypes turned into parameter overrides (never mutating the Model).

A drug is a parameter of the model (nM of active drug); a phenotype is a named set of
parameter overrides from the model's phenotype table (see :mod:`simulator.catalog`).
"""
from __future__ import annotations

import numpy as np

from simulator.errors import PerturbationError, suggest
from simulator.model import Model


def treatment_overrides(model: Model, *, drugs: dict | None = None, phenotype=None) -> dict:
    """Parameter overrides for ``drugs`` (id -> nM) and ``phenotype`` (name or list of names)."""
    out: dict[str, float] = {}
    if phenotype:
        from simulator.catalog import load_phenotype_overrides
        names = [phenotype] if isinstance(phenotype, str) else list(phenotype)
        base = {p.id: p.value for p in model.parameters}
        out.update(load_phenotype_overrides(names, base))
    for name, dose in (drugs or {}).items():
        params = set(model.parameter_ids)
        if name not in params:
            raise PerturbationError(f"drug '{name}' is not a drug parameter of model '{model.id}'"
                                    f"{suggest(name, _drug_names(model))}; valid drugs: "
                                    f"{', '.join(_drug_names(model)) or '(none)'}")
        try:
            value = float(dose)
        except (TypeError, ValueError):
            raise PerturbationError(f"dose of '{name}' must be a number (nM), got {dose!r}") from None
        if not np.isfinite(value) or value < 0:
            raise PerturbationError(f"dose of '{name}' must be a finite concentration >= 0 nM, got {dose!r}")
        out[name] = value
    return out


def _drug_names(model: Model) -> list[str]:
    try:
        from simulator.catalog import drugs
        names = [n for n in drugs().index if n in set(model.parameter_ids)]
    except Exception:  # no catalog for this model: any parameter can act as a drug
        names = []
    return names
