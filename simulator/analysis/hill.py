"""Four-parameter Hill (log-logistic) curves: evaluate and fit.

The curve, for dose :math:`x \\ge 0` (nM)::

    f(x) = bottom + (top - bottom) / (1 + (ic50 / x) ** slope)
         = bottom + (top - bottom) * expit(slope * (ln x - ln ic50))

``bottom`` is the response without drug (``f(0)``), ``top`` the response as the dose
goes to infinity, ``ic50`` the dose of the half-way response ``(bottom + top) / 2``
(called EC50 for a rising readout; it is the *relative* IC50) and ``slope`` the Hill
coefficient. Free fits keep ``slope > 0``, so the direction of the curve is the sign of
``top - bottom`` and every curve has exactly one parameter vector.

The fit runs in log-dose space (``log10 ic50`` is the fitted parameter): dose-response
designs are log-spaced and the IC50's error is symmetric on that axis. Control points
(dose 0) are not put on the log axis; they enter the fit through ``f(0) = bottom``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import optimize, special, stats

from simulator.errors import InvalidValueError, SimulatorError

__all__ = ["FitError", "HillFit", "fit_hill", "hill"]

_NAMES = ("bottom", "top", "ic50", "slope")
_MAX_SLOPE = 50.0
_DECADES = 4.0  # how far past the tested doses the IC50 may go


class FitError(SimulatorError, RuntimeError):
    """A curve could not be fitted (flat responses, no convergence).

    Defined here until ``simulator.errors`` carries it; subclasses ``RuntimeError``
    like :class:`~simulator.errors.IntegrationError`.

    Attributes
    ----------
    fit : HillFit
        The unconverged fit, with its ``message``.
    """

    def __init__(self, message: str, *, fit: HillFit | None = None):
        self.fit = fit
        super().__init__(message)


def hill(x, bottom, top, ic50, slope):
    """Evaluate the 4-parameter Hill curve.

    Parameters
    ----------
    x : array_like
        Doses, ``>= 0`` (nM). Dose 0 gives ``bottom`` (``top`` if ``slope < 0``).
    bottom, top : float
        Responses at dose 0 and at infinite dose.
    ic50 : float
        Dose of the half-way response, ``> 0`` (nM).
    slope : float
        Hill coefficient.

    Returns
    -------
    ndarray
        ``bottom + (top - bottom) / (1 + (ic50 / x) ** slope)``, same shape as ``x``.

    Examples
    --------
    >>> float(hill(10.0, 0.0, 100.0, 10.0, 1.0))
    50.0
    >>> float(hill(0.0, 5.0, 100.0, 10.0, 2.0))
    5.0
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = slope * (np.log(x) - np.log(ic50))
    # slope == 0 at x == 0 gives 0 * -inf; the curve is then flat at the midpoint
    z = np.where(np.asarray(slope) == 0, 0.0, z)
    return bottom + (top - bottom) * special.expit(z)


@dataclass(frozen=True, eq=False)
class HillFit:
    """A fitted 4-parameter Hill curve (see :func:`fit_hill`).

    Attributes
    ----------
    bottom, top, ic50, slope : float
        Fitted (or fixed) parameters; ``ic50`` in the dose unit (nM). For a flat,
        unconverged fit ``ic50`` and ``slope`` are NaN and ``converged`` is False.
    ci : dict of str to (float, float)
        Confidence interval of each parameter (level ``confidence``). Fixed parameters
        have a zero-width interval; an unidentifiable one is ``(-inf, inf)``
        (``(0, inf)`` for ``ic50``).
    confidence : float
        Level of ``ci``, e.g. 0.95.
    ci_method : {"covariance", "bootstrap", "none"}
        How ``ci`` was obtained: t-distribution on the covariance of the fit; residual
        bootstrap when the covariance is singular; ``"none"`` when neither is possible
        (``message`` says why).
    converged : bool
        Whether the fit is usable.
    message : str
        What happened, in words.
    n, dof : int
        Data points used, and residual degrees of freedom.
    rss, r_squared : float
        Residual sum of squares and coefficient of determination.
    fixed : tuple of str
        Parameters held fixed during the fit.
    doses, responses : ndarray
        The data that were fitted.
    """

    bottom: float
    top: float
    ic50: float
    slope: float
    ci: dict = field(default_factory=dict)
    confidence: float = 0.95
    ci_method: str = "none"
    converged: bool = True
    message: str = ""
    n: int = 0
    dof: int = 0
    rss: float = float("nan")
    r_squared: float = float("nan")
    fixed: tuple = ()
    doses: np.ndarray = field(default_factory=lambda: np.empty(0))
    responses: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def ec50(self) -> float:
        """Alias of ``ic50`` for rising readouts."""
        return self.ic50

    @property
    def emax(self) -> float:
        """Maximal effect, ``top - bottom``: the change from control at infinite dose.

        Positive for a rising readout (e.g. % inhibition), negative for a falling one
        (e.g. pS6 under everolimus).
        """
        return self.top - self.bottom

    @property
    def params(self) -> dict:
        """``{"bottom", "top", "ic50", "slope"}`` as a dict."""
        return {k: getattr(self, k) for k in _NAMES}

    @property
    def flat(self) -> bool:
        """True when the curve is a constant (``top == bottom``)."""
        return self.top == self.bottom

    def predict(self, x) -> np.ndarray:
        """The fitted curve at doses ``x`` (a constant for a flat fit)."""
        x = np.asarray(x, dtype=float)
        if self.flat or not np.isfinite(self.ic50):
            return np.full(x.shape, self.bottom)
        return hill(x, self.bottom, self.top, self.ic50, self.slope)

    def to_dict(self) -> dict:
        """One flat record (for a table row): parameters, CIs and diagnostics."""
        row = dict(self.params)
        row["emax"] = self.emax
        for k in _NAMES:
            lo, hi = self.ci.get(k, (float("nan"), float("nan")))
            row[f"{k}_low"], row[f"{k}_high"] = lo, hi
        row.update(converged=self.converged, r_squared=self.r_squared, n=self.n,
                   ci_method=self.ci_method, message=self.message)
        return row


def fit_hill(doses, responses, *, increasing: bool | None = None,
             bottom: float | None = None, top: float | None = None,
             confidence: float = 0.95,
             on_failure: Literal["raise", "return"] = "raise",
             intervals: bool = True, flat_tol: float | None = None,
             seed: int = 0, n_boot: int = 100) -> HillFit:
    """Fit a 4-parameter Hill curve to dose-response data.

    Parameters
    ----------
    doses : array_like, shape (n,)
        Doses, ``>= 0`` (nM); dose 0 marks controls. Replicates may repeat a dose.
    responses : array_like, shape (n,)
        Responses, any unit (% inhibition, concentration of a readout, ...).
    increasing : bool, optional
        Constrain the direction: True for ``top >= bottom``, False for
        ``top <= bottom``. Default: free, decided by the data.
    bottom, top : float, optional
        Hold the response at dose 0 / at infinite dose fixed (as SynergyFinder's
        ``Emin`` / ``Emax``). With both fixed, ``slope`` may take either sign (as in
        drc's ``LL.4``), so the curve can also run from ``top`` down to ``bottom``.

    Returns
    -------
    HillFit

    Other Parameters
    ----------------
    confidence : float
        Level of the confidence intervals.
    on_failure : {"raise", "return"}
        Flat responses or a failed optimizer raise :class:`FitError` (default), or
        return a fit with ``converged=False`` and a ``message``.
    flat_tol : float, optional
        Responses whose range (max - min) is at most this are flat (no effect). Default
        ``1e-12 * max(1, max|y|)``; simulated readouts carry solver noise, so pass
        e.g. ``1e-6 * scale``.
    intervals : bool
        Compute confidence intervals (skip them for speed when only the curve is used).
    seed : int
        Seed of the bootstrap used when the covariance is singular (0 is valid).
    n_boot : int
        Bootstrap resamples.

    Raises
    ------
    InvalidValueError
        Non-finite or negative doses, non-finite responses, mismatched shapes, too few
        points or distinct positive doses for the free parameters.
    FitError
        Flat responses or no convergence, unless ``on_failure="return"`` (then an
        unconverged fit keeps the best parameters found, or NaN if there are none).

    Notes
    -----
    :math:`f(x) = b + (t - b) / (1 + (\\mathrm{IC50}/x)^h)`, fitted by
    :func:`scipy.optimize.least_squares` (trust-region reflective, bounded, analytic
    Jacobian; the covariance computed as :func:`scipy.optimize.curve_fit` does) in
    :math:`\\log_{10}` dose. Confidence intervals are
    :math:`\\hat\\theta \\pm t_{(1+c)/2,\\,n-p}\\,\\sqrt{C_{ii}}` on
    :math:`(b, t, \\log_{10}\\mathrm{IC50}, h)`, so the IC50 interval is asymmetric.
    Bounds: :math:`0 < h \\le 50` (free fits), :math:`\\log_{10}\\mathrm{IC50}` within
    4 decades of the tested doses, asymptotes within 5 data ranges of the data.

    Examples
    --------
    >>> x = np.array([0, 1, 3, 10, 30, 100, 300.0])
    >>> fit = fit_hill(x, hill(x, 0.0, 100.0, 10.0, 1.5))
    >>> round(fit.ic50, 6), round(fit.slope, 6)
    (10.0, 1.5)
    """
    if on_failure not in ("raise", "return"):
        raise InvalidValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    if not 0.0 < confidence < 1.0:
        raise InvalidValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    x = np.asarray(doses, dtype=float)
    y = np.asarray(responses, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise InvalidValueError(
            f"doses and responses must be 1-D arrays of the same length; got shapes "
            f"{x.shape} and {y.shape}")
    for name, arr in (("dose", x), ("response", y)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InvalidValueError(
                f"{name} #{bad[0]} is {arr[bad[0]]}; fit_hill needs finite values "
                f"(drop failed points first)")
    if np.any(x < 0):
        i = int(np.flatnonzero(x < 0)[0])
        raise InvalidValueError(f"dose #{i} is {x[i]}; doses must be >= 0")
    for name, val in (("bottom", bottom), ("top", top)):
        if val is not None and not np.isfinite(val):
            raise InvalidValueError(f"fixed {name} must be finite, got {val}")

    fixed = tuple(k for k, v in (("bottom", bottom), ("top", top)) if v is not None)
    n_free = 4 - len(fixed)
    pos = np.unique(x[x > 0])
    need_pos = 2 if n_free >= 2 else 1
    if pos.size < need_pos or x.size < n_free:
        raise InvalidValueError(
            f"fit_hill needs at least {n_free} points and {need_pos} distinct positive "
            f"doses for {n_free} free parameters; got {x.size} points and {pos.size} "
            f"distinct positive doses")

    base = dict(confidence=confidence, n=int(x.size), fixed=fixed,
                doses=x.copy(), responses=y.copy())
    span = float(np.ptp(y))
    tol = 1e-12 * max(1.0, float(np.max(np.abs(y)))) if flat_tol is None else flat_tol
    if span <= tol:
        level = float(np.mean(y)) if bottom is None else float(bottom)
        fit = HillFit(bottom=level, top=level, ic50=float("nan"), slope=float("nan"),
                      converged=False, ci_method="none", dof=int(x.size) - n_free,
                      rss=float(np.sum((y - level) ** 2)), r_squared=float("nan"),
                      message=(f"responses are flat (all {np.mean(y):.6g} over doses "
                               f"{pos.min():.3g}..{pos.max():.3g}): no dose-dependent "
                               f"effect, IC50 and slope are undefined"), **base)
        if on_failure == "raise":
            raise FitError(fit.message, fit=fit)
        return fit

    problem = _Problem(x, y, bottom, top, increasing)
    max_nfev = 100 * (n_free + 1)
    try:
        res = optimize.least_squares(
            lambda th: problem.model(x, *th) - y, problem.p0,
            jac=lambda th: problem.jac(x, *th), bounds=problem.bounds, method="trf",
            x_scale="jac", max_nfev=max_nfev, ftol=1e-10, xtol=1e-10, gtol=1e-10)
    except (ValueError, np.linalg.LinAlgError) as err:
        fit = HillFit(bottom=float("nan"), top=float("nan"), ic50=float("nan"),
                      slope=float("nan"), converged=False, ci_method="none",
                      message=f"the optimizer failed: {err}", **base)
        if on_failure == "raise":
            raise FitError(fit.message, fit=fit) from err
        return fit
    theta = res.x
    converged = res.status > 0
    pcov = _covariance(res.jac, 2 * res.cost, int(x.size) - n_free)

    resid = y - problem.model(x, *theta)
    rss = float(resid @ resid)
    sst = float(np.sum((y - y.mean()) ** 2))
    dof = int(x.size) - n_free
    full = problem.full(theta)
    notes = [f"converged; {n_free} free parameters, {x.size} points" if converged else
             f"stopped at the evaluation limit ({max_nfev}) before converging; the "
             f"parameters are the best found, the optimum is poorly defined"]
    at_bound = problem.at_bound(theta)
    if at_bound:
        notes.append("at a bound: " + ", ".join(at_bound)
                     + " (the data do not pin it down; widen the dose range)")

    if intervals:
        ci, ci_method, why = _confidence(problem, theta, pcov, resid, dof, confidence,
                                         seed, n_boot)
    else:
        ci, ci_method, why = {}, "none", ""
    if why:
        notes.append(why)
    fit = HillFit(bottom=full[0], top=full[1], ic50=10.0 ** full[2], slope=full[3],
                  ci=ci, ci_method=ci_method, converged=converged, message="; ".join(notes),
                  dof=dof, rss=rss, r_squared=1.0 - rss / sst if sst > 0 else float("nan"),
                  **base)
    if not converged and on_failure == "raise":
        raise FitError(fit.message, fit=fit)
    return fit


def _covariance(jac, rss, dof):
    """``s^2 (J^T J)^-1`` by SVD, as :func:`scipy.optimize.curve_fit` computes it.

    Returns an all-inf matrix when ``J`` is rank deficient (the covariance is singular).
    """
    n = jac.shape[1]
    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
    tol = np.finfo(float).eps * max(jac.shape) * (sv[0] if sv.size else 0.0)
    if sv.size < n or np.any(sv <= tol) or dof <= 0:
        return np.full((n, n), np.inf)
    vt = vt / sv[:, None]
    return (vt.T @ vt) * (rss / dof)


class _Problem:
    """The fit in free coordinates: maps them to (bottom, top, log10 ic50, slope)."""

    def __init__(self, x, y, bottom, top, increasing):
        self.x, self.y = x, y
        self.bottom, self.top = bottom, top
        pos = x[x > 0]
        lx = np.log10(pos)
        ymin, ymax = float(y.min()), float(y.max())
        r = ymax - ymin
        lo, hi = ymin - 5 * r, ymax + 5 * r
        # data-driven guesses
        order = np.argsort(x)
        k = max(1, x.size // 4)
        y_low, y_high = float(np.mean(y[order[:k]])), float(np.mean(y[order[-k:]]))
        b0 = y_low if bottom is None else bottom
        t0 = y_high if top is None else top
        if increasing is not None and (t0 > b0) != increasing and bottom is None and top is None:
            b0, t0 = t0, b0  # keep the guess on the allowed side
        mid = 0.5 * (b0 + t0)
        yp = y[x > 0]
        cross = np.flatnonzero(np.diff(np.sign(yp[np.argsort(pos)] - mid)) != 0)
        lxs = np.sort(lx)
        l0 = float(lxs[cross[0]] + lxs[cross[0] + 1]) / 2 if cross.size else float(np.median(lx))
        l_lo, l_hi = float(lx.min()) - _DECADES, float(lx.max()) + _DECADES

        names, p0, blo, bhi = [], [], [], []
        self.mode = ("b" if bottom is None else "") + ("t" if top is None else "")
        if bottom is None and top is None:
            names += ["bottom", "span"]
            p0 += [b0, t0 - b0]
            width = hi - lo
            blo += [lo, 0.0 if increasing is True else -width]
            bhi += [hi, 0.0 if increasing is False else width]
        elif bottom is None:
            names.append("bottom")
            p0.append(b0)
            blo.append(lo if increasing is not False else top)
            bhi.append(hi if increasing is not True else top)
        elif top is None:
            names.append("top")
            p0.append(t0)
            blo.append(lo if increasing is not True else bottom)
            bhi.append(hi if increasing is not False else bottom)
        names.append("log10_ic50")
        p0.append(l0)
        blo.append(l_lo)
        bhi.append(l_hi)
        names.append("slope")
        if bottom is not None and top is not None:
            # both asymptotes fixed: the sign of the slope sets the direction (drc LL.4)
            s_lo, s_hi = -_MAX_SLOPE, _MAX_SLOPE
            if increasing is not None:
                up = (top > bottom) == increasing
                s_lo, s_hi = (1e-6, _MAX_SLOPE) if up else (-_MAX_SLOPE, -1e-6)
            # guess the sign from the data
            rising = np.corrcoef(np.log10(np.where(x > 0, x, pos.min() / 10)), y)[0, 1] > 0
            s0 = 1.0 if rising == (top > bottom) else -1.0
        else:
            s_lo, s_hi, s0 = 1e-6, _MAX_SLOPE, 1.0
        p0.append(float(np.clip(s0, s_lo, s_hi)))
        blo.append(s_lo)
        bhi.append(s_hi)
        self.names = names
        self.bounds = (np.array(blo, float), np.array(bhi, float))
        span_b = self.bounds[1] - self.bounds[0]
        inner_lo = self.bounds[0] + 1e-9 * span_b
        inner_hi = self.bounds[1] - 1e-9 * span_b
        self.p0 = np.clip(np.array(p0, float), inner_lo, inner_hi)

    def full(self, theta):
        """Free vector -> [bottom, top, log10 ic50, slope] as floats."""
        theta = list(theta)
        if self.mode == "bt":
            b, span = theta[0], theta[1]
            t = b + span
            rest = theta[2:]
        elif self.mode == "b":
            b, t, rest = theta[0], self.top, theta[1:]
        elif self.mode == "t":
            b, t, rest = self.bottom, theta[0], theta[1:]
        else:
            b, t, rest = self.bottom, self.top, theta
        return [float(b), float(t), float(rest[0]), float(rest[1])]

    def model(self, x, *theta):
        b, t, l50, s = self.full(theta)
        return hill(x, b, t, 10.0 ** l50, s)

    def jac(self, x, *theta):
        """Analytic d model / d free parameters, shape (n, n_free)."""
        b, t, l50, s = self.full(theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log(x) - np.log(10.0) * l50
            z = np.where(s == 0, 0.0, s * lx)
        sig = special.expit(z)
        dsig = sig * (1.0 - sig)
        cols = []
        if self.mode == "bt":
            cols += [np.ones_like(x), sig]          # bottom, span
        elif self.mode == "b":
            cols.append(1.0 - sig)
        elif self.mode == "t":
            cols.append(sig)
        cols.append((t - b) * dsig * (-s * np.log(10.0)))
        cols.append(np.where(x > 0, (t - b) * dsig * np.where(x > 0, lx, 0.0), 0.0))
        return np.column_stack(cols)

    def jac_full(self):
        """d(bottom, top, log10 ic50, slope) / d(free) -- a constant matrix."""
        n = len(self.names)
        J = np.zeros((4, n))
        if self.mode == "bt":
            J[0, 0] = 1.0
            J[1, 0] = J[1, 1] = 1.0
            J[2, 2] = J[3, 3] = 1.0
        else:
            j = 0
            if self.mode == "b":
                J[0, 0] = 1.0
                j = 1
            elif self.mode == "t":
                J[1, 0] = 1.0
                j = 1
            J[2, j] = J[3, j + 1] = 1.0
        return J

    def at_bound(self, theta):
        lo, hi = self.bounds
        tol = 1e-6 * (hi - lo)
        out = []
        for name, v, a, b in zip(self.names, theta, lo, hi):
            if name == "span":
                if abs(v) <= 1e3 * tol[self.names.index(name)] and (a == 0.0 or b == 0.0):
                    out.append("top == bottom (the `increasing` constraint is active: the "
                               "data run the other way)")
                continue
            i = self.names.index(name)
            if abs(v - a) <= tol[i] or abs(v - b) <= tol[i]:
                out.append("ic50" if name == "log10_ic50" else name)
        return out


def _confidence(problem, theta, pcov, resid, dof, confidence, seed, n_boot):
    """CIs of (bottom, top, ic50, slope): covariance, else bootstrap, else unbounded."""
    q = (1 + confidence) / 2
    J = problem.jac_full()
    full = np.array(problem.full(theta))
    fixed = [k for k, v in (("bottom", problem.bottom), ("top", problem.top)) if v is not None]

    def pack(lo, hi):
        out = {}
        for i, k in enumerate(_NAMES):
            a, b = float(lo[i]), float(hi[i])
            if k == "ic50":
                with np.errstate(over="ignore"):
                    a, b = float(np.power(10.0, a)), float(np.power(10.0, b))
            if k in fixed:
                a = b = float(10.0 ** full[i] if k == "ic50" else full[i])
            out[k] = (a, b)
        return out

    unbounded = pack(np.full(4, -np.inf), np.full(4, np.inf))
    if dof <= 0:
        return unbounded, "none", (f"no residual degrees of freedom ({dof}); "
                                   "confidence intervals are unbounded")
    pcov = np.asarray(pcov, dtype=float)
    if np.all(np.isfinite(pcov)):
        cov = J @ pcov @ J.T
        var = np.diag(cov)
        if np.all(var >= 0):
            half = stats.t.ppf(q, dof) * np.sqrt(var)
            return pack(full - half, full + half), "covariance", ""
    # singular covariance: residual bootstrap
    if not np.any(resid):
        return unbounded, "none", ("covariance is singular and the residuals are zero; "
                                   "confidence intervals are unbounded")
    rng = np.random.default_rng(seed)
    return _bootstrap(problem, theta, resid, q, rng, n_boot, pack, unbounded)


def _bootstrap(problem, theta, resid, q, rng, n_boot, pack, unbounded):
    x, y = problem.x, problem.y
    yhat = y - resid
    centred = resid - resid.mean()
    draws = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n_boot):
            ys = yhat + rng.choice(centred, size=centred.size, replace=True)
            try:
                r = optimize.least_squares(
                    lambda t: problem.model(x, *t) - ys, theta,
                    jac=lambda t: problem.jac(x, *t), bounds=problem.bounds,
                    method="trf", x_scale="jac", max_nfev=30 * (theta.size + 1),
                    ftol=1e-8, xtol=1e-8, gtol=1e-8)
            except (ValueError, np.linalg.LinAlgError):
                continue
            th = r.x
            draws.append(problem.full(th))
    if len(draws) < n_boot // 2:
        return unbounded, "none", ("covariance is singular and the bootstrap failed; "
                                   "confidence intervals are unbounded")
    d = np.array(draws)
    lo = np.quantile(d, 1 - q, axis=0)
    hi = np.quantile(d, q, axis=0)
    return pack(lo, hi), "bootstrap", (f"covariance is singular; {len(draws)} residual "
                                       "bootstrap resamples give the intervals")

