"""The PEtab v1 noise models and parameter priors, vectorised, with their derivatives.

Noise (one term per measurement ``m`` with simulation ``y`` and noise parameter ``sigma``,
on the observable's scale ``h = id, log, log10``)::

    normal:  nllh = 0.5 log(2 pi sigma^2 (h'(m))^-2) + 0.5 ((h(y) - h(m)) / sigma)^2
    laplace: nllh = log(2 sigma / h'(m))             + |h(y) - h(m)| / sigma

as ``petab.v1.calculate.calculate_single_llh`` defines them (the data's scale change is in
the constant). Residuals (for least squares) are ``(h(y) - h(m)) / sigma``.

Priors (``objectivePriorType``; ``parameterScale*`` ones act on the estimation scale, the
others on the linear value), as densities whose negative log is added to the objective.
"""
from __future__ import annotations

import numpy as np

__all__ = ["TRANSFORMS", "noise_nllh", "residuals", "fisher_weights", "PRIORS", "prior_base",
           "prior_nllh", "prior_fisher", "to_linear",
           "from_linear", "linear_derivative"]

LOG10 = np.log(10.0)
TRANSFORMS = ("lin", "log", "log10")
NOISE = ("normal", "laplace")


def transform(kind: str, v):
    """``h(v)`` of the observable transformation ``kind``."""
    if kind == "lin":
        return v
    with np.errstate(all="ignore"):
        return np.log(v) if kind == "log" else np.log10(v)


def transform_derivative(kind: str, v):
    """``h'(v)``."""
    if kind == "lin":
        return np.ones_like(v)
    with np.errstate(all="ignore"):
        return 1.0 / v if kind == "log" else 1.0 / (v * LOG10)


def noise_nllh(noise: str, kind: str, m, y, sigma):
    """``(nllh, d nllh / d y, d nllh / d sigma)`` per measurement."""
    hm, hy = transform(kind, m), transform(kind, y)
    dh = transform_derivative(kind, y)
    r = (hy - hm) / sigma
    jac = np.zeros_like(m) if kind == "lin" else (np.log(m) if kind == "log"
                                                   else np.log(m * LOG10))
    with np.errstate(all="ignore"):
        if noise == "normal":
            value = 0.5 * np.log(2 * np.pi * sigma ** 2) + jac + 0.5 * r ** 2
            dy = r / sigma * dh
            ds = 1.0 / sigma - r ** 2 / sigma
        else:
            value = np.log(2 * sigma) + jac + np.abs(r)
            dy = np.sign(r) / sigma * dh
            ds = 1.0 / sigma - np.abs(r) / sigma
    return value, dy, ds


def residuals(kind: str, m, y, sigma):
    """``(h(y) - h(m)) / sigma`` and its derivatives by ``y`` and by ``sigma``."""
    r = (transform(kind, y) - transform(kind, m)) / sigma
    return r, transform_derivative(kind, y) / sigma, -r / sigma


def fisher_weights(noise: str, kind: str, y, sigma):
    """``(w_y, w_sigma)`` per measurement, such that its expected Fisher information is
    ``w_y² ∇y ∇yᵀ + w_sigma² ∇sigma ∇sigmaᵀ``: the information of a normal (or Laplace)
    variable about its location ``h(y)`` is ``1/sigma²``, about its scale ``2/sigma²``
    (Laplace: ``1/sigma²``)."""
    with np.errstate(all="ignore"):
        w_y = transform_derivative(kind, y) / sigma
        w_s = (np.sqrt(2.0) if noise == "normal" else 1.0) / sigma
    return w_y, w_s


# --- parameter scales -----------------------------------------------------------------
def to_linear(scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Values on the linear scale from ``x`` on the estimation scales (``x`` may hold one
    row per sample). Each entry is transformed by its own scale only, so a linear-scale
    value of 400 raises no overflow of ``10 ** 400``; a real overflow still warns."""
    x = np.asarray(x, dtype=float)
    ln, l10 = scale == "log", scale == "log10"
    return np.where(ln, np.exp(np.where(ln, x, 0.0)),
                    np.where(l10, 10.0 ** np.where(l10, x, 0.0), x))


def from_linear(scale: np.ndarray, v: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(scale == "log", np.log(v), np.where(scale == "log10", np.log10(v), v))


def linear_derivative(scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``d value / d x``: 1, ``value`` (log) or ``value ln 10`` (log10)."""
    v = to_linear(scale, x)
    return np.where(scale == "log", v, np.where(scale == "log10", v * LOG10, 1.0))


# --- priors ---------------------------------------------------------------------------
PRIORS = ("uniform", "normal", "laplace", "logNormal", "logLaplace",
          "parameterScaleUniform", "parameterScaleNormal", "parameterScaleLaplace")


def prior_base(kind: str) -> tuple[str, bool]:
    """``(distribution, on the estimation scale)`` of a prior type:
    ``"parameterScaleNormal"`` -> ``("normal", True)``, ``"logNormal"`` -> ``("logNormal",
    False)``."""
    if kind.startswith("parameterScale"):
        return kind.removeprefix("parameterScale").lower(), True
    return kind, False


def prior_nllh(kind: str, a: float, b: float, x: float, value: float, dvalue: float):
    """``(-log density, its derivative by x)`` of one prior at estimation-scale ``x`` whose
    linear value is ``value`` (``dvalue = d value / d x``)."""
    base, on_scale = prior_base(kind)
    v, dv = (x, 1.0) if on_scale else (value, dvalue)
    if base == "uniform":
        inside = a <= v <= b
        return (np.log(b - a) if inside else np.inf), 0.0
    if base == "normal":
        return 0.5 * np.log(2 * np.pi * b ** 2) + 0.5 * ((v - a) / b) ** 2, (v - a) / b ** 2 * dv
    if base == "laplace":
        return np.log(2 * b) + abs(v - a) / b, np.sign(v - a) / b * dv
    if v <= 0:
        return np.inf, 0.0
    lv = np.log(v)
    if base == "logNormal":
        return (lv + 0.5 * np.log(2 * np.pi * b ** 2) + 0.5 * ((lv - a) / b) ** 2,
                (1.0 / v + (lv - a) / (b ** 2 * v)) * dv)
    if base == "logLaplace":
        return lv + np.log(2 * b) + abs(lv - a) / b, (1.0 / v + np.sign(lv - a) / (b * v)) * dv
    raise ValueError(f"unknown prior {kind!r}")


def prior_fisher(kind: str, b: float, value: float, dvalue: float) -> float:
    """The expected Fisher information of one prior about its estimation-scale parameter:
    ``(d u/d x)² / b²`` for a normal or Laplace prior on ``u`` (the parameter on its scale,
    its linear value, or the log of it), 0 for a uniform one."""
    base, on_scale = prior_base(kind)
    if base == "uniform":
        return 0.0
    du = 1.0 if on_scale else dvalue
    if base in ("logNormal", "logLaplace"):
        du = dvalue / value if value > 0 else 0.0
    return du ** 2 / b ** 2
