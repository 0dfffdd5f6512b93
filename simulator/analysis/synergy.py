"""Drug-combination synergy: Bliss, Loewe, HSA and ZIP as SynergyFinder defines them.

Input is a dose matrix of **% inhibition** (0 = control, 100 = full effect), as in
SynergyFinder; pass ``scale=1.0`` for a fractional effect in 0..1. Axis ``k`` of the
matrix is drug ``k``; its doses are ascending and the first is 0, so the first row and
column (the *edges*) hold the monotherapies and ``[0, 0]`` the control. Two drugs give
a 2-D matrix (rows: drug A, columns: drug B); three drugs a 3-D array.

Every method returns the *excess* over its reference (observed minus expected, in the
unit of the input, so % points): positive means synergy, negative antagonism. Edge
cells (fewer than two drugs present) are 0. The summary ``score`` is the mean excess
over the combination cells that could be scored (SynergyFinder's summary score).

Failed cells (a simulation that did not finish) are passed as a boolean ``failed``
mask. They are excluded from every fit and from the score, and are masked in
``matrix``; a combination cell whose monotherapy partner failed is excluded from
Bliss and HSA too. A NaN that is not declared in ``failed`` is an error.

References
----------
.. [1] Ianevski A, He L, Aittokallio T, Tang J (2017). SynergyFinder: a web
   application for analyzing drug combination dose-response matrix data.
   Bioinformatics 33(15):2413-2415. https://doi.org/10.1093/bioinformatics/btx162
.. [2] Ianevski A, Giri AK, Aittokallio T (2020). SynergyFinder 2.0: visual analytics
   of multi-drug combination synergies. Nucleic Acids Res 48(W1):W488-W493.
   https://doi.org/10.1093/nar/gkaa216
.. [3] Bliss CI (1939). The toxicity of poisons applied jointly. Ann Appl Biol
   26(3):585-615. https://doi.org/10.1111/j.1744-7348.1939.tb06990.x
.. [4] Loewe S (1953). The problem of synergism and antagonism of combined drugs.
   Arzneimittelforschung 3(6):285-290.
.. [5] Berenbaum MC (1989). What is synergy? Pharmacol Rev 41(2):93-141.
.. [6] Yadav B, Wennerberg K, Aittokallio T, Tang J (2015). Searching for drug synergy
   in complex dose-response landscapes using an interaction potency model. Comput
   Struct Biotechnol J 13:504-513. https://doi.org/10.1016/j.csbj.2015.09.001
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from simulator.analysis.hill import FitError, HillFit, fit_hill
from simulator.errors import InvalidValueError

__all__ = ["METHODS", "SynergyResult", "SynergyScores", "bliss", "hsa", "loewe", "synergy",
           "zip_delta"]

METHODS = ("bliss", "loewe", "hsa", "zip")
_FLAT = 1e-6  # responses spanning less than this fraction of `scale` are flat


@dataclass(frozen=True, eq=False)
class SynergyResult:
    """One reference model's synergy over a dose matrix.

    Attributes
    ----------
    method : str
        ``"bliss"``, ``"loewe"``, ``"hsa"`` or ``"zip"``.
    matrix : numpy.ma.MaskedArray, shape of the dose matrix
        Excess over the reference (observed - expected; for ZIP the delta score), in
        the input's unit. 0 on the edges; masked (data 0, never NaN) where a cell
        could not be scored.
    expected : numpy.ma.MaskedArray
        The reference response (for ZIP, the fitted no-interaction surface); equals
        the observed response on the edges.
    score : float
        Mean of ``matrix`` over the scored combination cells.
    n_cells : int
        Combination cells used in ``score``.
    n_excluded : int
        Combination cells excluded (failed, or depending on a failed cell).
    message : str
        Notes: exclusions, fallbacks taken.
    """

    method: str
    matrix: np.ma.MaskedArray
    expected: np.ma.MaskedArray
    score: float
    n_cells: int
    n_excluded: int
    message: str = ""

    @property
    def excluded(self) -> np.ndarray:
        """Boolean array: cells not scored (failed or depending on a failed cell)."""
        return np.ma.getmaskarray(self.matrix).copy()


@dataclass(frozen=True, eq=False)
class SynergyScores:
    """All requested synergy models for one dose matrix (see :func:`synergy`).

    Attributes
    ----------
    bliss, loewe, hsa, zip : SynergyResult or None
        None for a model that was not requested.
    doses : tuple of ndarray
        Doses of each drug (axis order).
    response : ndarray
        The observed matrix (failed cells hold 0).
    failed : ndarray of bool
        The failed-cell mask as given.
    mono_fits : tuple of HillFit
        Monotherapy fits (empty unless Loewe or ZIP was computed).
    scale : float
        100 for % inhibition, 1 for fractional effect.
    """

    bliss: SynergyResult | None
    loewe: SynergyResult | None
    hsa: SynergyResult | None
    zip: SynergyResult | None
    doses: tuple
    response: np.ndarray
    failed: np.ndarray
    mono_fits: tuple = ()
    scale: float = 100.0

    def results(self) -> dict:
        """``{method: SynergyResult}`` for the computed methods."""
        return {m: getattr(self, m) for m in METHODS if getattr(self, m) is not None}

    @property
    def scores(self) -> dict:
        """``{method: summary score}`` for the computed methods."""
        return {m: r.score for m, r in self.results().items()}

    def to_frame(self, drugs: Sequence[str] | None = None):
        """Tidy table: one row per cell, with doses, response, failed and each excess.

        Parameters
        ----------
        drugs : sequence of str, optional
            Column names of the doses; default ``dose_0``, ``dose_1``, ...
        """
        k = len(self.doses)
        names = list(drugs) if drugs is not None else [f"dose_{i}" for i in range(k)]
        if len(names) != k:
            raise InvalidValueError(f"expected {k} drug names, got {len(names)}: {names}")
        grids = np.meshgrid(*self.doses, indexing="ij")
        data = {n: g.ravel() for n, g in zip(names, grids)}
        data["response"] = np.where(self.failed, np.nan, self.response).ravel()
        data["failed"] = self.failed.ravel()
        for m, r in self.results().items():
            data[m] = r.matrix.filled(np.nan).ravel()
            data[f"{m}_expected"] = r.expected.filled(np.nan).ravel()
        return pd.DataFrame(data)


# --------------------------------------------------------------------- public verbs

def synergy(response, doses, *, failed=None, scale: float = 100.0,
            methods: Sequence[str] = METHODS) -> SynergyScores:
    """Score a dose matrix with several reference models at once.

    Parameters
    ----------
    response : array_like, shape (n_0, n_1[, n_2])
        % inhibition (``scale=100``) or fractional effect (``scale=1``); axis k is
        drug k, index 0 on every axis is dose 0.
    doses : sequence of array_like
        One ascending dose vector per axis, each starting at 0 (nM).
    failed : array_like of bool, optional
        Cells whose simulation failed; their values are ignored.
    scale : float
        Full effect: 100 for % inhibition, 1 for a fraction.
    methods : sequence of str
        Any of ``"bliss", "loewe", "hsa", "zip"``.

    Returns
    -------
    SynergyScores

    Raises
    ------
    InvalidValueError
        Bad shapes, doses or values, an undeclared NaN, an unknown method, too few
        monotherapy points for Loewe/ZIP, or no scorable combination cell.
    FitError
        A monotherapy curve needed by Loewe or ZIP could not be fitted.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InvalidValueError(f"unknown synergy method(s) {unknown}; choose from {list(METHODS)}")
    data = _Data.make(response, doses, failed, scale,
                      need_doses=any(m in ("loewe", "zip") for m in methods))
    fits = _mono_fits(data) if any(m in ("loewe", "zip") for m in methods) else ()
    out = {m: None for m in METHODS}
    for m in methods:
        if m == "bliss":
            out[m] = _bliss(data)
        elif m == "hsa":
            out[m] = _hsa(data)
        elif m == "loewe":
            out[m] = _loewe(data, fits)
        else:
            out[m] = _zip(data, fits)
    return SynergyScores(**out, doses=data.doses, response=data.y, failed=data.failed,
                         mono_fits=tuple(fits), scale=scale)


def bliss(response, doses=None, *, failed=None, scale: float = 100.0) -> SynergyResult:
    """Bliss independence excess.

    Parameters
    ----------
    response : array_like, shape (n_0, n_1[, ...])
        % inhibition (or fraction with ``scale=1``); index 0 on every axis is dose 0.
    doses : sequence of array_like, optional
        Only validated here; Bliss uses the observed monotherapies.
    failed : array_like of bool, optional
        Failed cells.
    scale : float
        Full effect (100 or 1).

    Returns
    -------
    SynergyResult

    Notes
    -----
    With observed monotherapy effects :math:`y_i` of the drugs present in a cell,
    :math:`E_\\mathrm{Bliss} = s\\,[1 - \\prod_i (1 - y_i/s)]`; for two drugs
    :math:`y_1 + y_2 - y_1 y_2 / s` (SynergyFinder ``CalculateBliss`` [1]_, [3]_).
    For three drugs the product runs over the drugs present in the cell.

    References
    ----------
    .. [1] Ianevski et al. (2020), https://doi.org/10.1093/nar/gkaa216
    .. [3] Bliss (1939), https://doi.org/10.1111/j.1744-7348.1939.tb06990.x

    Examples
    --------
    >>> r = bliss([[0, 20], [30, 60]])
    >>> float(r.matrix[1, 1])    # 60 - (30 + 20 - 30*20/100)
    16.0
    """
    return _bliss(_Data.make(response, doses, failed, scale, need_doses=False))


def hsa(response, doses=None, *, failed=None, scale: float = 100.0) -> SynergyResult:
    """Highest-single-agent excess.

    Parameters
    ----------
    response, doses, failed, scale
        As in :func:`bliss`.

    Returns
    -------
    SynergyResult

    Notes
    -----
    :math:`E_\\mathrm{HSA} = \\max_i y_i` over the observed monotherapy effects of the
    drugs present (SynergyFinder ``CalculateHSA``; Berenbaum 1989 [5]_). For an
    inhibition scale the highest effect is the strongest single agent.

    References
    ----------
    .. [5] Berenbaum MC (1989). What is synergy? Pharmacol Rev 41(2):93-141.

    Examples
    --------
    >>> float(hsa([[0, 20], [30, 60]]).matrix[1, 1])
    30.0
    """
    return _hsa(_Data.make(response, doses, failed, scale, need_doses=False))


def loewe(response, doses, *, failed=None, scale: float = 100.0) -> SynergyResult:
    """Loewe additivity excess.

    Parameters
    ----------
    response, failed, scale
        As in :func:`bliss`.
    doses : sequence of array_like
        Dose vectors (nM), each starting at 0; at least 3 non-zero doses per drug.

    Returns
    -------
    SynergyResult

    Notes
    -----
    Each monotherapy is fitted with a 4-parameter Hill curve :math:`f_i` (control
    included). The expected effect :math:`y` of doses :math:`x_i` solves
    :math:`\\sum_i x_i / f_i^{-1}(y) = 1` (Loewe 1953 [4]_; eq. 8 of Yadav 2015 [6]_),
    with :math:`f_i^{-1}(y) = \\mathrm{IC50}_i\\,((y-b_i)/(t_i-y))^{1/h_i}`, searched
    where every inverse exists. Where no solution exists (e.g. the effect is beyond a
    partial agonist's maximum), SynergyFinder's fallback is used:
    :math:`y = \\max_i f_i(\\sum_j x_j)`. The expectation is capped at ``scale``, as in
    SynergyFinder's ``CalculateLoewe``. Two identical drugs give an excess of 0.

    A drug that is inactive alone (flat monotherapy) has no inverse, so every cell
    takes the fallback, which treats it as equipotent to its partner and makes the
    Loewe score strongly negative. This is SynergyFinder's behaviour, kept on purpose;
    ``message`` counts the fallback cells so that it can be seen.

    References
    ----------
    .. [4] Loewe S (1953). Arzneimittelforschung 3(6):285-290.
    .. [6] Yadav et al. (2015), https://doi.org/10.1016/j.csbj.2015.09.001
    """
    data = _Data.make(response, doses, failed, scale, need_doses=True)
    return _loewe(data, _mono_fits(data))


def zip_delta(response, doses, *, failed=None, scale: float = 100.0) -> SynergyResult:
    """Zero-interaction-potency (ZIP) delta score.

    Parameters
    ----------
    response, failed, scale
        As in :func:`bliss`.
    doses : sequence of array_like
        Dose vectors (nM), each starting at 0; at least 3 non-zero doses per drug.

    Returns
    -------
    SynergyResult

    Notes
    -----
    Following Yadav et al. 2015 [6]_ and SynergyFinder's ``CalculateZIP``:

    1. Fit each monotherapy with a 4-parameter Hill curve :math:`f_i`.
    2. For each combination line along drug :math:`i` (the other drugs fixed at
       non-zero doses), fit a Hill curve over drug :math:`i`'s non-zero doses with the
       bottom fixed at the other drugs' fitted effect (their Bliss combination when
       there are two of them) and the top fixed at ``scale``; IC50 and slope are free
       (either slope sign). A line with a single point, or a fit that fails, keeps the
       observed values.
    3. The fitted combination surface is the mean over the drugs of these line fits.
    4. The ZIP reference is the Bliss combination of the fitted monotherapies,
       :math:`s\\,[1-\\prod_i(1 - f_i(x_i)/s)]`; the delta score is surface minus
       reference.

    For two drugs this is exactly SynergyFinder's definition. For three drugs steps
    2-4 run over the drugs present in each cell; this is our generalisation (it
    reduces to the two-drug rule on the faces of the cube).

    References
    ----------
    .. [6] Yadav et al. (2015), https://doi.org/10.1016/j.csbj.2015.09.001
    """
    data = _Data.make(response, doses, failed, scale, need_doses=True)
    return _zip(data, _mono_fits(data))


# ------------------------------------------------------------------------ internals

@dataclass(frozen=True, eq=False)
class _Data:
    y: np.ndarray            # response, failed cells set to 0
    failed: np.ndarray       # bool
    doses: tuple             # k arrays
    scale: float
    active: np.ndarray = field(repr=False)  # (*shape, k) bool: drug present in cell

    @classmethod
    def make(cls, response, doses, failed, scale, *, need_doses):
        try:
            y = np.array(response, dtype=float)
        except (TypeError, ValueError) as err:
            raise InvalidValueError(f"response must be a numeric array: {err}") from err
        if y.ndim < 2:
            raise InvalidValueError(
                f"response must be a dose matrix with one axis per drug (2-D or 3-D); got "
                f"shape {y.shape}")
        if min(y.shape) < 2:
            raise InvalidValueError(
                f"every drug axis needs dose 0 and at least one dose; got shape {y.shape}")
        if not (np.isfinite(scale) and scale > 0):
            raise InvalidValueError(f"scale must be positive and finite (100 or 1), got {scale}")
        k = y.ndim
        if failed is None:
            mask = np.zeros(y.shape, dtype=bool)
        else:
            mask = np.asarray(failed)
            if mask.shape != y.shape or mask.dtype != bool:
                raise InvalidValueError(
                    f"failed must be a boolean array of shape {y.shape}; got "
                    f"{mask.dtype} {mask.shape}")
            mask = mask.copy()
        if doses is None:
            if need_doses:
                raise InvalidValueError("doses are required for Loewe and ZIP")
            dose_t = tuple(np.arange(n, dtype=float) for n in y.shape)
        else:
            if len(doses) != k:
                raise InvalidValueError(
                    f"got {len(doses)} dose vectors for a {k}-drug matrix of shape {y.shape}")
            dose_t = []
            for i, d in enumerate(doses):
                d = np.asarray(d, dtype=float)
                if d.ndim != 1 or d.size != y.shape[i]:
                    raise InvalidValueError(
                        f"doses of drug {i} have shape {d.shape}; axis {i} of the matrix "
                        f"has {y.shape[i]} cells")
                if not np.all(np.isfinite(d)) or d[0] != 0 or np.any(d[1:] <= 0) \
                        or np.any(np.diff(d) <= 0):
                    raise InvalidValueError(
                        f"doses of drug {i} must be finite, start at 0 and increase "
                        f"strictly; got {d.tolist()}")
                dose_t.append(d)
            dose_t = tuple(dose_t)
        bad = ~np.isfinite(y) & ~mask
        if bad.any():
            idx = tuple(int(v) for v in np.argwhere(bad)[0])
            at = ", ".join(f"{dose_t[a][j]:g}" for a, j in enumerate(idx))
            raise InvalidValueError(
                f"response at cell {idx} (doses {at}) is {y[idx]}; mark failed cells in "
                f"`failed=` instead of passing NaN")
        y = np.where(mask, 0.0, y)
        grids = np.meshgrid(*[np.arange(n) for n in y.shape], indexing="ij")
        active = np.stack([g > 0 for g in grids], axis=-1)
        return cls(y=y, failed=mask, doses=dose_t, scale=float(scale), active=active)

    @property
    def k(self):
        return self.y.ndim

    def combo_cells(self):
        """Indices of cells with at least two drugs present."""
        return [c for c in np.ndindex(self.y.shape) if sum(v > 0 for v in c) >= 2]

    @staticmethod
    def mono(cell, axis):
        """Index of the monotherapy cell of drug ``axis`` at this cell's dose."""
        idx = [0] * len(cell)
        idx[axis] = cell[axis]
        return tuple(idx)


def _finish(method, data, excess, expected, excluded, notes=()):
    combos = data.combo_cells()
    used = [c for c in combos if not excluded[c]]
    n_ex = len(combos) - len(used)
    if not used:
        raise InvalidValueError(
            f"{method}: none of the {len(combos)} combination cells could be scored "
            f"({n_ex} failed or depend on a failed monotherapy)")
    score = float(np.mean([excess[c] for c in used]))
    excess = np.where(excluded, 0.0, excess)
    expected = np.where(excluded, 0.0, expected)
    msg = [f"{len(used)} of {len(combos)} combination cells scored"]
    if n_ex:
        msg.append(f"{n_ex} excluded (failed or a failed monotherapy partner)")
    msg.extend(notes)
    return SynergyResult(method=method,
                         matrix=np.ma.MaskedArray(excess, mask=excluded.copy()),
                         expected=np.ma.MaskedArray(expected, mask=excluded.copy()),
                         score=score, n_cells=len(used), n_excluded=n_ex,
                         message="; ".join(msg))


def _observed_reference(method, data, combine):
    """Bliss / HSA: reference from the observed monotherapies of the present drugs."""
    expected = data.y.copy()
    excluded = data.failed.copy()
    for c in data.combo_cells():
        axes = [a for a in range(data.k) if c[a] > 0]
        monos = [data.mono(c, a) for a in axes]
        if any(data.failed[m] for m in monos):
            excluded[c] = True
            continue
        expected[c] = combine(np.array([data.y[m] for m in monos]), data.scale)
    return _finish(method, data, data.y - expected, expected, excluded)


def _bliss(data):
    return _observed_reference("bliss", data, _bliss_combine)


def _hsa(data):
    return _observed_reference("hsa", data, lambda v, s: float(np.max(v)))


def _bliss_combine(effects, scale):
    """``s [1 - prod(1 - e_i / s)]``, folded as ``e1 + e2 - e1 e2 / s`` (SynergyFinder's form)."""
    acc = 0.0
    for e in effects:
        acc = acc + float(e) - acc * float(e) / scale
    return acc


def _mono_fits(data):
    """Fit each drug's monotherapy (control included, failed cells dropped)."""
    fits = []
    for a in range(data.k):
        idx = [data.mono((0,) * a + (j,) + (0,) * (data.k - a - 1), a)
               for j in range(data.y.shape[a])]
        ok = [i for i in idx if not data.failed[i]]
        x = np.array([data.doses[a][i[a]] for i in ok])
        y = np.array([data.y[i] for i in ok])
        if np.count_nonzero(x > 0) < 3 or x.size < 4:
            raise InvalidValueError(
                f"drug {a}: Loewe and ZIP fit a 4-parameter Hill curve to the "
                f"monotherapy, which needs at least 3 non-failed non-zero doses plus the "
                f"control; got {np.count_nonzero(x > 0)} non-zero doses. Use a larger "
                f"matrix or methods=('bliss', 'hsa')")
        fit = fit_hill(x, y, on_failure="return", intervals=False,
                       flat_tol=_FLAT * data.scale)
        if not fit.converged and not fit.flat and not np.isfinite(fit.ic50):
            raise FitError(f"drug {a}: monotherapy curve could not be fitted: {fit.message}",
                           fit=fit)
        fits.append(fit)
    return fits


def _inverse_log(fit: HillFit, yv: float) -> float:
    """ln of the dose at which ``fit`` reaches ``yv`` (inside its open range)."""
    b, t = fit.bottom, fit.top
    return np.log(fit.ic50) + (np.log(abs(yv - b)) - np.log(abs(t - yv))) / fit.slope


def _loewe_expected(fits, x, scale):
    """Solve sum x_i / f_i^-1(y) = 1 in y; SynergyFinder's fallback where it has no root."""
    lo, hi = -np.inf, np.inf
    for f in fits:
        if f.flat:
            lo, hi = np.inf, -np.inf
            break
        lo = max(lo, min(f.bottom, f.top))
        hi = min(hi, max(f.bottom, f.top))
    fallback = False
    if lo < hi:
        width = hi - lo
        a, b = lo + 1e-12 * width, hi - 1e-12 * width

        def g(yv):
            return sum(xi * np.exp(-_inverse_log(f, yv)) for f, xi in zip(fits, x)) - 1.0

        with np.errstate(over="ignore", divide="ignore"):
            ga, gb = g(a), g(b)
        if np.isfinite(ga) and np.isfinite(gb) and ga * gb < 0:
            yv = optimize.brentq(g, a, b, xtol=1e-12 * max(1.0, width), rtol=1e-12)
        elif ga == 0 or gb == 0:
            yv = a if ga == 0 else b
        else:
            fallback = True
    else:
        fallback = True
    if fallback:
        total = float(np.sum(x))
        yv = max(float(f.predict(total)) for f in fits)
    return min(yv, scale), fallback


def _loewe(data, fits):
    expected = data.y.copy()
    excluded = data.failed.copy()
    n_fb = 0
    for c in data.combo_cells():
        if excluded[c]:
            continue
        axes = [a for a in range(data.k) if c[a] > 0]
        x = [data.doses[a][c[a]] for a in axes]
        expected[c], fb = _loewe_expected([fits[a] for a in axes], x, data.scale)
        n_fb += fb
    notes = [f"{n_fb} cells used SynergyFinder's fallback max_i f_i(sum of doses)"] if n_fb else []
    return _finish("loewe", data, data.y - expected, expected, excluded, notes)


def _zip(data, fits):
    k, shape, s = data.k, data.y.shape, data.scale
    mono_fit = [fits[a].predict(data.doses[a]) for a in range(k)]
    # line_fit[a][cell]: fitted response along drug a's line through cell
    line_fit = [np.full(shape, np.nan) for _ in range(k)]
    n_kept = 0
    for a in range(k):
        others = [range(n) for i, n in enumerate(shape) if i != a]
        for o in itertools.product(*others):
            if not any(v > 0 for v in o):
                continue  # the monotherapy line of drug a itself
            cells = [o[:a] + (j,) + o[a:] for j in range(1, shape[a])]
            ok = [c for c in cells if not data.failed[c]]
            if not ok:
                continue
            bg = _bliss_combine([mono_fit[b][c_b] for b, c_b in
                                 zip([i for i in range(k) if i != a], o) if c_b > 0], s)
            xd = np.array([data.doses[a][c[a]] for c in ok])
            yd = np.array([data.y[c] for c in ok])
            fitted = yd
            if len(ok) >= 2:
                lf = fit_hill(xd, yd, bottom=bg, top=s, on_failure="return",
                              intervals=False, flat_tol=_FLAT * s)
                if lf.converged:
                    fitted = lf.predict(xd)
                else:
                    n_kept += 1
            for c, v in zip(ok, fitted):
                line_fit[a][c] = v
    expected = data.y.copy()
    surface = data.y.copy()
    excluded = data.failed.copy()
    for c in data.combo_cells():
        if excluded[c]:
            continue
        axes = [a for a in range(k) if c[a] > 0]
        surface[c] = float(np.mean([line_fit[a][c] for a in axes]))
        expected[c] = _bliss_combine([mono_fit[a][c[a]] for a in axes], s)
    notes = [f"{n_kept} combination lines kept their observed values (flat or no fit)"] \
        if n_kept else []
    res = _finish("zip", data, surface - expected, expected, excluded, notes)
    return res
