"""A model's catalogue: what experiments need to know about a model beyond its SBML.

* ``drugs``: drug id (a parameter of the model holding the free concentration at the target,
  nM) -> its entry: target, mechanism, potency and, for clinical doses, one-compartment PK
  (``pk = {dose_mg, tau_h, F, V_F_L, t_half_h, MW_g_mol[, ka_per_h]}``).
* ``phenotypes``: named sets of parameter overrides (``set`` a value or ``scale`` it),
  applied in the order given.
* ``reset_at_start``: species that grow without bound and are measured from the start of a
  treatment (a tumour burden). They are held fixed while the untreated steady state is
  found and set back to their model initial value when treatment starts
  (:mod:`simulator.treatments.protocol`).

A catalogue is plain data, read from TOML by :func:`simulator.io.catalog.read_catalog` and
attached to a model by :func:`simulator.load_model`. The generic engine knows no model's
ids; everything model-specific that it acts on comes from here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from simulator.errors import PerturbationError, suggest

OPERATIONS = ("set", "scale")


@dataclass(frozen=True)
class Phenotype:
    """A named set of parameter overrides.

    Attributes
    ----------
    name : str
    overrides : tuple of (str, str, float)
        ``(parameter id, "set" or "scale", value)``, applied in order.
    description, source : str
    """

    name: str
    overrides: tuple = ()
    description: str = ""
    source: str = ""

    def apply(self, current: dict, changed: dict) -> None:
        """Apply the overrides to ``current`` (id -> value), recording them in ``changed``.

        Raises
        ------
        PerturbationError
            An overridden id that ``current`` does not hold.
        """
        for pid, op, value in self.overrides:
            if pid not in current:
                raise PerturbationError(
                    f"phenotype '{self.name}' overrides parameter '{pid}', which is not a "
                    f"parameter of the model{suggest(pid, current)}")
            new = float(value) if op == "set" else float(current[pid]) * float(value)
            current[pid] = changed[pid] = new

    @property
    def label(self) -> str:
        """The overrides as text, e.g. ``"HER2_synthesis set 20.0"``."""
        return ", ".join(f"{pid} {op} {value!r}" for pid, op, value in self.overrides)


@dataclass(frozen=True, eq=False)
class Catalog:
    """Drugs, phenotypes and reset-at-start readouts of one model (see the module docstring).

    An empty catalogue (the default of every model) has no drugs and no phenotypes: any
    parameter can then act as a drug, and nothing is reset at treatment start.
    """

    drugs: Mapping = field(default_factory=dict)
    phenotypes: Mapping = field(default_factory=dict)
    reset_at_start: tuple = ()
    source: str = ""

    @property
    def where(self) -> str:
        """``" (catalogue <file>)"`` for messages, or ``""``."""
        return f" (catalogue {self.source})" if self.source else ""

    def drug(self, name: str) -> Mapping:
        """The entry of drug ``name``.

        Raises
        ------
        PerturbationError
            ``name`` is not in the catalogue (with a "did you mean").
        """
        if name not in self.drugs:
            listing = f"; drugs: {', '.join(self.drugs)}" if self.drugs else \
                "; this model's catalogue lists no drugs"
            raise PerturbationError(f"drug '{name}' is not in the catalogue{self.where}"
                                    f"{suggest(name, self.drugs)}{listing}")
        return self.drugs[name]

    def apply_phenotypes(self, names: Iterable[str], base: Mapping[str, float]) -> dict:
        """Parameter values that the phenotypes ``names`` change, applied in order on ``base``.

        Later phenotypes act on the result of earlier ones (a ``scale`` multiplies the
        current value).

        Parameters
        ----------
        names : iterable of str
        base : mapping of str to float
            Current parameter values (id -> value); must hold every overridden id.

        Returns
        -------
        dict of str to float
            Only the parameters the phenotypes change (id -> new value).

        Raises
        ------
        PerturbationError
            An unknown phenotype (the valid ones listed) or an override of an id that
            ``base`` does not hold.
        """
        current = dict(base)
        changed: dict[str, float] = {}
        for name in names:
            if name not in self.phenotypes:
                valid = ", ".join(sorted(self.phenotypes)) or "none"
                raise PerturbationError(
                    f"phenotype '{name}' is not defined in the model's catalogue{self.where}"
                    f"{suggest(name, self.phenotypes)} (valid phenotypes: {valid})")
            self.phenotypes[name].apply(current, changed)
        return changed
