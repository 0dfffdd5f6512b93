"""Parameter sets for sweeps: full grids, Latin hypercube, Sobol' and log-uniform draws.

Every sampler returns :class:`Samples` ``(ids, values)`` with ``values`` of shape
``(N, k)``: one row per parameter set, columns in the order of ``ids``. Random samplers
take an explicit ``seed`` (an ``int >= 0``, 0 included, or a
:class:`numpy.random.Generator`); nothing touches global random state.

Ranges are given per parameter id as a :class:`Range` or a ``(low, high)`` tuple
(linear scale). A log-scale range is stratified and drawn uniformly in
:math:`\\log` space.
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from simulator.errors import InvalidValueError

__all__ = ["Range", "Samples", "grid", "latin_hypercube", "log_uniform", "sobol"]


@dataclass(frozen=True)
class Range:
    """A parameter's sampling interval.

    Parameters
    ----------
    low, high : float
        Bounds, finite, ``low < high``; both ``> 0`` when ``log`` is True.
    log : bool
        Sample uniformly in log space (rate constants, concentrations).

    Examples
    --------
    >>> Range(0.1, 10.0, log=True).from_unit(np.array([0.0, 0.5]))
    array([0.1, 1. ])
    """

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        _check_range("range", self.low, self.high, self.log)

    def from_unit(self, u) -> np.ndarray:
        """Map points of the unit interval ``[0, 1]`` onto the range."""
        u = np.asarray(u, dtype=float)
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return np.exp(a + u * (b - a))
        return self.low + u * (self.high - self.low)


class Samples(NamedTuple):
    """Parameter sets: ``ids`` (k,) and ``values`` (N, k). Unpacks as ``ids, values``."""

    ids: tuple
    values: np.ndarray

    def as_dicts(self) -> list[dict]:
        """One ``{id: value}`` dict per parameter set."""
        return [dict(zip(self.ids, map(float, row))) for row in self.values]

    def to_frame(self):
        """A pandas DataFrame with one column per id."""
        return pd.DataFrame(self.values, columns=list(self.ids))


def grid(params: Mapping[str, object]) -> Samples:
    """Full factorial design.

    Parameters
    ----------
    params : mapping of str to array_like
        Parameter id -> 1-D array of finite values.

    Returns
    -------
    Samples
        ``prod(len(v))`` rows; the first id varies slowest (``itertools.product``
        order).

    Raises
    ------
    InvalidValueError
        Empty mapping, or a value array that is empty, not 1-D or not finite.

    Examples
    --------
    >>> ids, values = grid({"k1": [1.0, 2.0], "k2": [10.0, 20.0, 30.0]})
    >>> ids, values.shape, values[1].tolist()
    (('k1', 'k2'), (6, 2), [1.0, 20.0])
    """
    if not params:
        raise InvalidValueError("grid needs at least one parameter")
    ids, axes = [], []
    for pid, v in params.items():
        a = np.asarray(v, dtype=float)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.ndim != 1 or a.size == 0:
            raise InvalidValueError(
                f"parameter '{pid}': grid values must be a non-empty 1-D array, got "
                f"shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise InvalidValueError(
                f"parameter '{pid}': grid value #{int(np.flatnonzero(~np.isfinite(a))[0])} "
                f"is not finite")
        ids.append(str(pid))
        axes.append(a)
    values = np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(ids))
    return Samples(tuple(ids), values)


def latin_hypercube(ranges: Mapping[str, object], n: int, *, seed) -> Samples:
    """Latin hypercube sample.

    Each parameter's range (log space for a log :class:`Range`) is cut into ``n``
    equal strata and every stratum holds exactly one point.

    Parameters
    ----------
    ranges : mapping of str to Range or (low, high)
        Parameter id -> interval.
    n : int
        Number of parameter sets.
    seed : int or numpy.random.Generator
        Required; 0 is a valid seed.

    Returns
    -------
    Samples

    Raises
    ------
    InvalidValueError
        A bad range (naming the parameter), ``n < 1`` or a missing seed.
    """
    ids, rs = check_ranges(ranges)
    n = check_n(n)
    from scipy.stats import qmc   # heavy (~1 s): only when a design is drawn
    engine = _engine(qmc.LatinHypercube, len(ids), make_rng(seed))
    return Samples(ids, _scale(engine.random(n), rs))


def sobol(ranges: Mapping[str, object], n: int, *, seed, balance: bool = True) -> Samples:
    """Scrambled Sobol' sequence (quasi-Monte Carlo).

    Parameters
    ----------
    ranges : mapping of str to Range or (low, high)
        Parameter id -> interval.
    n : int
        Number of parameter sets; a power of 2 keeps the sequence balanced.
    seed : int or numpy.random.Generator
        Scrambling seed; required, 0 is valid.
    balance : bool
        If True (default), a ``n`` that is not a power of 2 is an error naming the
        nearest powers; if False it is accepted (scipy's balance warning is
        silenced, the loss is on you).

    Returns
    -------
    Samples
    """
    ids, rs = check_ranges(ranges)
    n = check_n(n)
    pow2 = n & (n - 1) == 0
    if not pow2 and balance:
        lo = 1 << (n.bit_length() - 1)
        raise InvalidValueError(
            f"Sobol' samples are balanced only for n a power of 2; got n={n}. Use "
            f"n={lo} or n={lo * 2}, or pass balance=False")
    from scipy.stats import qmc   # heavy (~1 s): only when a design is drawn
    engine = _engine(qmc.Sobol, len(ids), make_rng(seed), scramble=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        u = engine.random_base2(int(math.log2(n))) if pow2 else engine.random(n)
    return Samples(ids, _scale(u, rs))


def log_uniform(base_values: Mapping[str, float], fold: float, n: int, *, seed) -> Samples:
    """Independent log-uniform draws around base values: ``base ×/÷ fold``.

    Parameters
    ----------
    base_values : mapping of str to float
        Parameter id -> nominal value, ``> 0``.
    fold : float
        ``> 1``; each parameter is drawn log-uniformly in
        ``[base / fold, base * fold]``.
    n : int
        Number of parameter sets.
    seed : int or numpy.random.Generator
        Required; 0 is valid.

    Returns
    -------
    Samples

    Examples
    --------
    >>> ids, v = log_uniform({"k1": 1.0, "k2": 5.0}, 3.0, 1000, seed=0)
    >>> bool(np.all((v[:, 0] >= 1 / 3) & (v[:, 0] <= 3)))
    True
    """
    if not isinstance(fold, numbers.Real) or not math.isfinite(fold) or fold <= 1:
        raise InvalidValueError(f"fold must be a finite number > 1, got {fold!r}")
    if not base_values:
        raise InvalidValueError("log_uniform needs at least one parameter")
    ids, rs = [], []
    for pid, b in base_values.items():
        if not isinstance(b, numbers.Real) or not math.isfinite(b) or b <= 0:
            raise InvalidValueError(
                f"parameter '{pid}': base value must be positive and finite for a "
                f"log-uniform range, got {b!r}")
        ids.append(str(pid))
        rs.append(Range(b / fold, b * fold, log=True))
    n = check_n(n)
    u = make_rng(seed).random((n, len(ids)))
    return Samples(tuple(ids), _scale(u, rs))


# ------------------------------------------------------------------------ internals

def _check_range(pid, low, high, log):
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise InvalidValueError(f"parameter '{pid}': {name} must be a finite number, got {v!r}")
    if not low < high:
        raise InvalidValueError(f"parameter '{pid}': low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise InvalidValueError(
            f"parameter '{pid}': a log-scale range needs low > 0, got {low}")


def check_ranges(ranges):
    """``(ids, [Range, ...])`` from a mapping of id -> Range or (low, high[, log])."""
    if not ranges:
        raise InvalidValueError("at least one parameter range is needed")
    ids, rs = [], []
    for pid, r in ranges.items():
        if isinstance(r, Range):
            _check_range(pid, r.low, r.high, r.log)
        elif isinstance(r, (tuple, list)) and len(r) in (2, 3):
            log = bool(r[2]) if len(r) == 3 else False
            _check_range(pid, r[0], r[1], log)
            r = Range(float(r[0]), float(r[1]), log)
        else:
            raise InvalidValueError(
                f"parameter '{pid}': range must be a Range or a (low, high) tuple, got {r!r}")
        ids.append(str(pid))
        rs.append(r)
    return tuple(ids), rs


def check_n(n):
    """A sample size: a positive integer."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InvalidValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def make_rng(seed) -> np.random.Generator:
    """A Generator from an explicit seed (an int >= 0) or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, bool) or not isinstance(seed, numbers.Integral) \
            or seed < 0:
        raise InvalidValueError(
            f"seed must be an int >= 0 (0 is valid) or a numpy Generator, got {seed!r}; "
            f"sampling is reproducible only with an explicit seed")
    return np.random.default_rng(int(seed))


def _engine(cls, d, rng, **kw):
    try:
        return cls(d, rng=rng, **kw)
    except TypeError:  # scipy < 1.15 calls it seed
        return cls(d, seed=rng, **kw)


def _scale(u, rs):
    out = np.empty_like(u)
    for j, r in enumerate(rs):
        out[:, j] = r.from_unit(u[:, j])
    return out
