"""Drug combinations: a dose matrix of two or three drugs, scored for synergy.

Every cell is a run of the combined treatment from the untreated steady state. The
readout is converted to **% inhibition relative to the untreated control** (cell
``[0, 0]``), the input that SynergyFinder's models expect::

    inhibition = 100 * (1 - v / v0)

0 is the control, 100 a readout driven to 0. For ``growth_rate`` this is the inhibition of
net growth: 100 means growth arrest, more than 100 a shrinking tumour. For a readout that
drugs raise (apoptosis), inhibition is negative; score those on their own terms.

Failed cells are kept in the matrix, masked, and listed in :attr:`Combination.failures`
with their doses; the synergy scores leave them (and cells whose monotherapy partner
failed) out.

References
----------
.. [1] Bliss CI (1939). Ann Appl Biol 26:585-615. https://doi.org/10.1111/j.1744-7348.1939.tb06990.x
.. [2] Loewe S (1953). Arzneimittelforschung 3:285-290.
.. [3] Yadav B et al. (2015). Comput Struct Biotechnol J 13:504-513.
   https://doi.org/10.1016/j.csbj.2015.09.001
.. [4] Ianevski A et al. (2017). Bioinformatics 33:2413-2415. https://doi.org/10.1093/bioinformatics/btx162
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator import plot
from simulator.analysis.dose_response import (
    Readout, background_doses, check_doses, equilibration_note, measure, one_parameter_set,
    progress_bar,
)
from simulator.analysis.synergy import METHODS, SynergyScores, synergy
from simulator.api import as_model, check_readouts
from simulator.errors import IntegrationError, InvalidValueError, PerturbationError, SimulatorError
from simulator.results import provenance
from simulator.treatments.derive import prepare
from simulator.treatments.schedule import Dose, Schedule, Treatment

__all__ = ["combination", "Combination"]


@dataclass(frozen=True, eq=False)
class Combination:
    """A combination experiment (see :func:`combination`).

    Attributes
    ----------
    drugs : tuple of str
        One per matrix axis.
    doses : tuple of ndarray
        Doses per axis, ascending from 0.
    units : tuple of str
    readout : str
    values : numpy.ma.MaskedArray
        Raw readout per cell; failed cells masked.
    response : numpy.ma.MaskedArray
        % inhibition relative to the control cell; failed cells masked.
    failed : ndarray of bool
    messages : ndarray of str
        Why each failed cell failed ("" elsewhere).
    control : float
        The readout without drugs.
    scores : SynergyScores or None
        All requested synergy models scored together (with the monotherapy fits); None
        when some could not be computed (then ``results`` holds those that could, and
        ``notes`` says why).
    results : dict
        ``{method: SynergyResult}`` for the methods computed.
    notes : tuple of str
    provenance : dict
    """

    drugs: tuple
    doses: tuple
    units: tuple
    readout: str
    values: np.ma.MaskedArray
    response: np.ma.MaskedArray
    failed: np.ndarray
    messages: np.ndarray
    control: float
    scores: SynergyScores | None
    results: dict = field(default_factory=dict)
    at_time: float | None = None
    window: tuple | None = None
    phenotype: tuple = ()
    notes: tuple = ()
    provenance: dict = field(default_factory=dict)

    # each a SynergyResult (matrix + summary score) or None if it could not be computed
    @property
    def bliss(self):
        """Bliss independence excess (Bliss 1939)."""
        return self.results.get("bliss")

    @property
    def loewe(self):
        """Loewe additivity excess (Loewe 1953)."""
        return self.results.get("loewe")

    @property
    def hsa(self):
        """Excess over the highest single agent."""
        return self.results.get("hsa")

    @property
    def zip(self):
        """ZIP delta score (Yadav 2015)."""
        return self.results.get("zip")

    @property
    def summary(self) -> dict:
        """``{method: summary score}`` (mean excess over the scored combination cells)."""
        return {m: r.score for m, r in self.results.items()}

    @property
    def table(self):
        """Tidy DataFrame: one row per cell with each drug's dose, ``value``, ``inhibition``,
        ``success``, ``message`` and each method's excess (NaN where not scored)."""
        grids = np.meshgrid(*self.doses, indexing="ij")
        data = {d: g.ravel() for d, g in zip(self.drugs, grids)}
        data["readout"] = self.readout
        data["value"] = self.values.filled(np.nan).ravel()
        data["inhibition"] = self.response.filled(np.nan).ravel()
        data["success"] = ~self.failed.ravel()
        data["message"] = self.messages.ravel()
        for m, r in self.results.items():
            data[m] = r.matrix.filled(np.nan).ravel()
        return pd.DataFrame(data)

    @property
    def failures(self):
        """The failed cells with their doses and messages (a DataFrame)."""
        tab = self.table
        return tab[~tab["success"]].reset_index(drop=True)

    def plot_heatmap(self, method: str = "bliss", ax=None, **kwargs):
        """Synergy map of ``method``; returns the Axes."""
        return plot.synergy_map(self, method, ax=ax, **kwargs)

    def plot_isobologram(self, ax=None, level: float = 50.0, **kwargs):
        """Isobologram at ``level`` % inhibition (two drugs); returns the Axes."""
        return plot.isobologram(self, ax=ax, level=level, **kwargs)


def _spec(i, spec):
    if not isinstance(spec, (tuple, list)) or not 2 <= len(spec) <= 4:
        raise PerturbationError(
            f"drug {i + 1} of the combination must be (drug, doses), (drug, doses, unit) or "
            f"(drug, doses, unit, Schedule); got {spec!r}")
    drug, doses, *rest = spec
    if not isinstance(drug, str):
        raise PerturbationError(f"drug {i + 1} of the combination: the drug id must be a string, got {drug!r}")
    unit = rest[0] if rest else "nM"
    schedule = rest[1] if len(rest) > 1 else (Schedule.daily() if unit == "mg" else Schedule.continuous())
    arr = check_doses(drug, doses)
    grid = np.sort(arr)
    if np.any(np.diff(grid) == 0):
        dup = grid[1:][np.diff(grid) == 0][0]
        raise PerturbationError(f"doses of '{drug}' repeat {dup:g}; each dose of a matrix axis must be distinct")
    if grid[0] != 0:
        grid = np.concatenate([[0.0], grid])
    if grid.size < 2:
        raise PerturbationError(f"'{drug}' needs at least one dose > 0 besides the control")
    return drug, grid, Dose(0.0, unit, schedule)


def combination(model, *drugs_doses, readout: str, at_time: float | None = None,
                window: tuple | None = None, phenotype=None, drugs: Mapping | None = None,
                params: Mapping | None = None, methods: Sequence[str] = METHODS,
                equilibrate: bool = True, options=None, backend: str = "auto",
                progress: bool = False) -> Combination:
    """Run a dose matrix of two or three drugs and score synergy.

    Parameters
    ----------
    model : Model or str or Path
    *drugs_doses : (str, array_like[, unit[, Schedule]])
        Two or three ``(drug, doses)`` pairs; dose 0 is added to each axis if missing.
        Optional unit (``"nM"`` or ``"mg"``) and schedule as in :class:`~simulator.treatments.schedule.Dose`.
    readout : str
        Species or observable id, e.g. ``"growth_rate"``.
    at_time : float, optional
        Hours after treatment start; or ``window=(t1, t2)`` for a time average.
    phenotype : str or list of str, optional
    drugs : dict, optional
        Background drugs in every cell (id -> nM, or a Dose).
    params : dict, optional
        Other parameter overrides (equilibration too).
    methods : sequence of str
        Synergy models among ``"bliss", "loewe", "hsa", "zip"``.

    Returns
    -------
    Combination
        ``.response`` (% inhibition matrix), ``.bliss`` / ``.loewe`` / ``.hsa`` / ``.zip``
        (each a :class:`~simulator.analysis.synergy.SynergyResult`), ``.table``,
        ``.failures``, ``.plot_heatmap()``, ``.plot_isobologram()``.

    Raises
    ------
    PerturbationError
        Unknown drug or phenotype, bad doses, fewer than two or more than three drugs, a
        drug given twice.
    UnknownIdError
        Unknown readout.
    IntegrationError
        The control run failed.
    InvalidValueError
        The control readout is 0 or negative, so % inhibition is undefined.

    Notes
    -----
    % inhibition ``100 * (1 - v / v0)`` against the untreated control ``v0`` (module
    docstring). Synergy as in SynergyFinder (:mod:`simulator.analysis.synergy`): excess of
    the observed inhibition over Bliss independence, Loewe additivity, the highest single
    agent, or the ZIP delta; positive is synergy. A method that cannot be computed (for
    instance Loewe when a drug has no effect) is None, with the reason in ``notes``.

    Examples
    --------
    >>> combo = combination(load_model(), ("letrozole", [1, 10, 100]),
    ...                     ("everolimus", [0.3, 3, 30]), readout="growth_rate",
    ...                     at_time=72.0, phenotype="LTED")  # doctest: +SKIP
    >>> combo.bliss.score  # doctest: +SKIP
    """
    model = as_model(model)
    if not 2 <= len(drugs_doses) <= 3:
        raise PerturbationError(f"a combination takes two or three (drug, doses) pairs, got {len(drugs_doses)}")
    specs = [_spec(i, s) for i, s in enumerate(drugs_doses)]
    names = [s[0] for s in specs]
    if len(set(names)) != len(names):
        raise PerturbationError(f"each drug may appear once in a combination; got {names}")
    unknown_methods = [m for m in methods if m not in METHODS]
    if unknown_methods:
        raise InvalidValueError(f"unknown synergy method(s) {unknown_methods}; choose from {list(METHODS)}")
    ro = Readout(readout, at_time, window)
    background = background_doses(drugs)
    clash = [n for n in names if n in background]
    if clash:
        raise PerturbationError(f"drug '{clash[0]}' is both in the matrix and a background drug")
    treatment = Treatment({**background, **{d: dose for d, _, dose in specs}})
    prep = prepare(model, treatment, phenotype=phenotype)
    check_readouts(prep.model, [readout])
    user = one_parameter_set(params, "combination")
    note = equilibration_note(model, params=user, phenotype=prep.phenotype,
                              equilibrate=equilibrate, options=options)
    doses = tuple(s[1] for s in specs)
    shape = tuple(d.size for d in doses)
    values = np.zeros(shape)
    failed = np.zeros(shape, dtype=bool)
    messages = np.full(shape, "", dtype=object)
    cells = list(itertools.product(*[range(n) for n in shape]))
    for cell in progress_bar(cells, len(cells), progress, "combination"):
        given = {d: Dose(float(doses[a][j]), dose.unit, dose.schedule, pk=dose.pk)
                 for a, ((d, _, dose), j) in enumerate(zip(specs, cell))}
        v, ok, msg = measure(model, Treatment({**background, **given}), ro,
                             phenotype=prep.phenotype, params=user, equilibrate=equilibrate,
                             options=options, backend=backend)
        values[cell] = v if ok else 0.0
        failed[cell] = not ok
        messages[cell] = msg
    zero = (0,) * len(shape)
    if failed[zero]:
        raise IntegrationError(f"the control run (no {', '.join(names)}) failed: {messages[zero]}")
    control = float(values[zero])
    if not control > 0:
        raise InvalidValueError(
            f"% inhibition needs a positive control readout, but {readout} is {control:g} "
            f"without drugs (e.g. a shrinking untreated tumour); choose another readout, time "
            f"or phenotype")
    inhibition = np.where(failed, 0.0, 100.0 * (1.0 - values / control))
    notes = [n for n in (note,) if n]
    if failed.any():
        where = "; ".join(", ".join(f"{names[a]}={doses[a][j]:g}" for a, j in enumerate(c))
                          for c in map(tuple, np.argwhere(failed)))
        notes.append(f"{int(failed.sum())} of {failed.size} cells failed ({where}); masked")
    scores, results = _score(inhibition, doses, failed, methods, notes)
    prov = provenance(model.hash, drugs=names, doses=[d.tolist() for d in doses],
                      units=[s[2].unit for s in specs], readout=ro.label,
                      phenotype=list(prep.phenotype),
                      background={d: v.label for d, v in treatment.drugs.items() if d not in names},
                      params=user, equilibrate=equilibrate, methods=list(methods))
    return Combination(
        drugs=tuple(names), doses=doses, units=tuple(s[2].unit for s in specs), readout=readout,
        values=np.ma.MaskedArray(values, mask=failed.copy()),
        response=np.ma.MaskedArray(inhibition, mask=failed.copy()), failed=failed,
        messages=messages, control=control, scores=scores, results=results,
        at_time=ro.at_time, window=ro.window, phenotype=prep.phenotype, notes=tuple(notes),
        provenance=prov)


def _score(inhibition, doses, failed, methods, notes):
    """All methods at once; if that fails, each on its own, keeping those that work."""
    try:
        scores = synergy(inhibition, doses, failed=failed, methods=list(methods))
        return scores, scores.results()
    except SimulatorError:
        pass
    results = {}
    for m in methods:
        try:
            s = synergy(inhibition, doses, failed=failed, methods=[m])
        except SimulatorError as err:
            notes.append(f"{m}: not computed: {err}")
            continue
        results[m] = getattr(s, m)
    return None, results
