"""Global sensitivity: Sobol' indices and Morris screening, thin wrappers around SALib.

A design (``sobol_design`` / ``morris_design``) holds the parameter sets to simulate
(``.ids``, ``.values`` of shape ``(N, k)``, physical units) and what the matching
analysis needs. Simulate every row, collect one readout per row into ``Y`` (shape
``(N,)``, same order), then call ``analyze_sobol(design, Y)`` or
``analyze_morris(design, Y)``: a DataFrame, one row per parameter, ranked.

Log-scale :class:`~simulator.ensemble.sampling.Range` s are sampled uniformly in log
space, so their indices and elementary effects refer to the log of the parameter.

SALib is imported only when one of these functions runs
(``pip install crosstalk[cluster]``).

References
----------
.. [1] Saltelli A et al. (2010). Variance based sensitivity analysis of model output.
   Comput Phys Commun 181:259-270. https://doi.org/10.1016/j.cpc.2009.09.018
.. [2] Morris MD (1991). Factorial sampling plans for preliminary computational
   experiments. Technometrics 33:161-174. https://doi.org/10.2307/1269043
.. [3] Campolongo F, Cariboni J, Saltelli A (2007). An effective screening design for
   sensitivity analysis of large models. Environ Model Softw 22:1509-1518.
   https://doi.org/10.1016/j.envsoft.2006.10.004
.. [4] Herman J, Usher W (2017). SALib: an open-source Python library for sensitivity
   analysis. J Open Source Softw 2(9):97. https://doi.org/10.21105/joss.00097
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator import conditions
from simulator.api import as_model
from simulator.ensemble.chunks import prepared
from simulator.ensemble.sampling import Range, Samples, check_n, check_ranges, make_rng
from simulator.ensemble.sweep import sweep
from simulator.errors import InvalidValueError
from simulator.plot import pyplot

__all__ = ["SensitivityDesign", "SensitivityResult", "analyze_morris", "analyze_sobol",
           "morris_design", "sensitivity", "sobol_design"]

_HINT = "SALib is needed for sensitivity analysis: pip install crosstalk[cluster]"


def _salib():
    try:
        import SALib  # noqa: F401
        from SALib.analyze import morris as morris_analyze
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import morris as morris_sample
        from SALib.sample import sobol as sobol_sample
    except ImportError as err:
        raise ImportError(_HINT) from err
    return sobol_sample, sobol_analyze, morris_sample, morris_analyze


@dataclass(frozen=True, eq=False)
class SensitivityDesign:
    """Parameter sets for a Sobol' or Morris analysis.

    Attributes
    ----------
    method : {"sobol", "morris"}
    ids : tuple of str
        Parameter ids, column order of ``values``.
    values : ndarray, shape (N, k)
        Parameter sets to simulate, physical units.
    ranges : tuple of Range
        The sampled intervals.
    seed : int
        Seed of the design.
    options : dict
        Settings the analysis must repeat (``calc_second_order``, ``num_levels``).
    unit : ndarray, shape (N, k)
        The design in SALib's space (log for log ranges).
    """

    method: str
    ids: tuple
    values: np.ndarray
    ranges: tuple
    seed: int
    options: dict = field(default_factory=dict)
    unit: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def as_dicts(self) -> list[dict]:
        """One ``{id: value}`` dict per parameter set."""
        return [dict(zip(self.ids, map(float, row))) for row in self.values]

    @property
    def problem(self) -> dict:
        """The SALib problem dict (bounds in SALib's space)."""
        return _problem(self.ids, self.ranges)


def sobol_design(ranges, n: int, *, seed: int,
                 calc_second_order: bool = False) -> SensitivityDesign:
    """Saltelli design for Sobol' indices.

    Parameters
    ----------
    ranges : mapping of str to Range or (low, high)
        Parameter id -> interval.
    n : int
        Base sample size, a power of 2; the design has ``n * (k + 2)`` rows
        (``n * (2k + 2)`` with ``calc_second_order``).
    seed : int
        Scrambling seed, required; 0 is valid.
    calc_second_order : bool
        Also prepare second-order indices.

    Returns
    -------
    SensitivityDesign

    Raises
    ------
    InvalidValueError
        Bad ranges, ``n`` not a power of 2, missing seed.
    ImportError
        SALib is not installed.
    """
    ids, rs = check_ranges(ranges)
    n = check_n(n)
    seed = _int_seed(seed)
    if n & (n - 1):
        lo = 1 << (n.bit_length() - 1)
        raise InvalidValueError(
            f"Sobol' designs need n a power of 2; got n={n}. Use n={lo} or n={lo * 2}")
    sobol_sample, _, _, _ = _salib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unit = sobol_sample.sample(_problem(ids, rs), n, calc_second_order=calc_second_order,
                                   scramble=True, seed=seed)
    return SensitivityDesign("sobol", ids, _physical(unit, rs), tuple(rs), seed,
                             {"calc_second_order": calc_second_order, "n": n}, unit)


def analyze_sobol(design: SensitivityDesign, Y, *, conf_level: float = 0.95,
                  num_resamples: int = 200, seed: int = 0):
    """First-order and total Sobol' indices, with bootstrap confidence.

    Parameters
    ----------
    design : SensitivityDesign
        From :func:`sobol_design`.
    Y : array_like, shape (N,)
        One readout per row of ``design.values``, same order.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, S1, S1_conf, ST, ST_conf``, ranked by ``ST`` (highest
        first). ``df.attrs["S2"]`` holds the second-order matrix when it was designed.

    Other Parameters
    ----------------
    conf_level : float
        Level of the confidence half-widths ``*_conf``.
    num_resamples : int
        Bootstrap resamples.
    seed : int
        Bootstrap seed (0 is valid).

    Raises
    ------
    InvalidValueError
        Wrong design, wrong length, non-finite values, or a constant readout (SALib
        would return NaN or 0 indices for it).
    """
    if design.method != "sobol":
        raise InvalidValueError(f"analyze_sobol needs a Sobol' design, got a {design.method} design")
    y = _check_y(design, Y)
    _, sobol_analyze, _, _ = _salib()
    # SALib's sobol.analyze tests `if seed:`, so seed=0 would fall back to global
    # random state; a Generator is always truthy.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sobol_analyze.analyze(design.problem, y,
                                    calc_second_order=design.options["calc_second_order"],
                                    num_resamples=num_resamples, conf_level=conf_level,
                                    print_to_console=False,
                                    seed=np.random.default_rng(_int_seed(seed)))
    df = pd.DataFrame({"parameter": list(design.ids), "S1": res["S1"],
                       "S1_conf": res["S1_conf"], "ST": res["ST"], "ST_conf": res["ST_conf"]})
    _check_finite(df, "Sobol'")
    df = df.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    if design.options["calc_second_order"]:
        df.attrs["S2"] = pd.DataFrame(res["S2"], index=list(design.ids),
                                      columns=list(design.ids))
    df.attrs["N"] = len(y)
    return df


def morris_design(ranges, n_trajectories: int, *, seed: int,
                  num_levels: int = 4) -> SensitivityDesign:
    """Morris one-at-a-time trajectories for elementary-effects screening.

    Parameters
    ----------
    ranges : mapping of str to Range or (low, high)
        Parameter id -> interval.
    n_trajectories : int
        Trajectories; the design has ``n_trajectories * (k + 1)`` rows.
    seed : int
        Required; 0 is valid.
    num_levels : int
        Grid levels per parameter (even, >= 2).

    Returns
    -------
    SensitivityDesign
    """
    ids, rs = check_ranges(ranges)
    n = check_n(n_trajectories)
    seed = _int_seed(seed)
    if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 2 \
            or num_levels % 2:
        raise InvalidValueError(f"num_levels must be an even integer >= 2, got {num_levels!r}")
    _, _, morris_sample, _ = _salib()
    unit = morris_sample.sample(_problem(ids, rs), n, num_levels=num_levels, seed=seed)
    return SensitivityDesign("morris", ids, _physical(unit, rs), tuple(rs), seed,
                             {"num_levels": num_levels, "n": n}, unit)


def analyze_morris(design: SensitivityDesign, Y, *, conf_level: float = 0.95,
                   num_resamples: int = 200, seed: int = 0):
    """Morris elementary effects: ``mu``, ``mu_star``, ``sigma``.

    Parameters
    ----------
    design : SensitivityDesign
        From :func:`morris_design`.
    Y : array_like, shape (N,)
        One readout per row of ``design.values``.

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, mu, mu_star, mu_star_conf, sigma``, ranked by ``mu_star``.
        Effects are per full range of each parameter (per the full log range for a log
        :class:`Range`), SALib's convention.

    Raises
    ------
    InvalidValueError
        Wrong design or length, non-finite values, or a constant readout.
    """
    if design.method != "morris":
        raise InvalidValueError(f"analyze_morris needs a Morris design, got a {design.method} design")
    y = _check_y(design, Y)
    _, _, _, morris_analyze = _salib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = morris_analyze.analyze(design.problem, design.unit, y,
                                     num_resamples=num_resamples, conf_level=conf_level,
                                     print_to_console=False,
                                     num_levels=design.options["num_levels"],
                                     seed=np.random.default_rng(_int_seed(seed)))
    df = pd.DataFrame({"parameter": list(design.ids), "mu": np.asarray(res["mu"], float),
                       "mu_star": np.asarray(res["mu_star"], float),
                       "mu_star_conf": np.asarray(res["mu_star_conf"], float),
                       "sigma": np.asarray(res["sigma"], float)})
    _check_finite(df, "Morris")
    return df.sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------ internals

def _int_seed(seed) -> int:
    make_rng(seed)  # validates: int >= 0, not None, not bool
    if isinstance(seed, np.random.Generator):
        raise InvalidValueError("pass an int seed here (it is recorded with the design)")
    return int(seed)


def _problem(ids, rs):
    bounds = [[math.log(r.low), math.log(r.high)] if r.log else [r.low, r.high] for r in rs]
    return {"num_vars": len(ids), "names": list(ids), "bounds": bounds}


def _physical(unit, rs):
    out = np.array(unit, dtype=float, copy=True)
    for j, r in enumerate(rs):
        if r.log:
            out[:, j] = np.exp(out[:, j])
    return out


def _check_y(design, Y):
    y = np.asarray(Y, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (len(design),):
        raise InvalidValueError(
            f"Y must have one value per design row, shape ({len(design)},); got {y.shape}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        row = dict(zip(design.ids, map(float, design.values[bad[0]])))
        raise InvalidValueError(
            f"Y has {bad.size} non-finite value(s), the first at row {bad[0]} with "
            f"parameters {row}; {design.method} analysis needs every member (re-run or "
            f"narrow the ranges)")
    if np.ptp(y) <= 1e-12 * max(1.0, float(np.max(np.abs(y)))):
        raise InvalidValueError(
            f"the readout is constant ({y[0]:.6g}) over all {y.size} parameter sets: "
            f"sensitivity indices are undefined (no parameter in "
            f"{list(design.ids)} moves it)")
    return y


def _check_finite(df, what):
    num = df.drop(columns="parameter")
    if not np.all(np.isfinite(num.to_numpy(dtype=float))):
        raise InvalidValueError(f"SALib returned non-finite {what} indices:\n{df}")


# ------------------------------------------------------------------------ the verb

@dataclass(frozen=True, eq=False)
class SensitivityResult:
    """Global sensitivity of one readout.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter, ranked (Sobol': ``S1, S1_conf, ST, ST_conf`` by ``ST``;
        Morris: ``mu, mu_star, mu_star_conf, sigma`` by ``mu_star``), plus ``low``, ``high``
        (the sampled range) and ``default``.
    method : {"sobol", "morris"}
    readout : str
    at_time : float
    design : SensitivityDesign
        The simulated parameter sets.
    Y : ndarray, shape (N,)
        The readout of every design row.
    ensemble : Ensemble
        The underlying sweep.
    """

    table: object
    method: str
    readout: str
    at_time: float
    design: SensitivityDesign
    Y: np.ndarray
    ensemble: object = field(repr=False, default=None)

    def plot(self, ax=None, *, top: int = 20):
        """Tornado-style horizontal bars of the ``top`` parameters; returns the Axes.

        Sobol': total (``ST``) and first-order (``S1``) indices with confidence whiskers;
        Morris: ``mu_star`` with its confidence, ``sigma`` as a second bar.
        """
        plt = pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 0.3 * min(top, len(self.table)) + 1.5))
        df = self.table.head(top).iloc[::-1]
        y = np.arange(len(df))
        if self.method == "sobol":
            ax.barh(y + 0.2, df["ST"], height=0.4, xerr=df["ST_conf"], label="total (ST)",
                    color="tab:blue")
            ax.barh(y - 0.2, df["S1"], height=0.4, xerr=df["S1_conf"], label="first order (S1)",
                    color="tab:orange")
            ax.set_xlabel("Sobol' index")
        else:
            ax.barh(y + 0.2, df["mu_star"], height=0.4, xerr=df["mu_star_conf"],
                    label="mu* (mean |effect|)", color="tab:blue")
            ax.barh(y - 0.2, df["sigma"], height=0.4, label="sigma (interaction)",
                    color="tab:gray")
            ax.set_xlabel(f"elementary effect on {self.readout}")
        ax.set_yticks(y)
        ax.set_yticklabels(df["parameter"])
        ax.axvline(0.0, color="k", lw=0.5)
        ax.set_title(f"{self.method.capitalize()} sensitivity of {self.readout} at t = {self.at_time:g}")
        ax.legend(loc="lower right", fontsize="small")
        return ax


def sensitivity(model, *, readout: str, params="all", n: int = 1024, method: str = "sobol",
                fold: float = 2.0, ranges=None, at_time: float | None = None, t=None,
                phenotype=None, drugs=None, seed: int = 0, executor=None,
                progress: bool = False, options=None, num_levels: int = 4,
                store=None) -> SensitivityResult:
    """Global sensitivity of one readout at one time: Sobol' indices or Morris screening.

    Parameters
    ----------
    model : Model or str or Path
    readout : str
        Any readable id (species, rule target such as ``growth_rate``).
    params : "all" or list of str
        Parameters to vary. ``"all"``: every parameter with a positive finite value that
        the dynamics or the readout use, drugs excluded.
    n : int
        Sobol': base sample size, a power of 2 (``n * (k + 2)`` simulations for ``k``
        parameters); Morris: number of trajectories (``n * (k + 1)`` simulations).
    method : {"sobol", "morris"}
    fold : float
        Each parameter is sampled log-uniformly in ``[v / fold, v * fold]`` around its value
        ``v`` (after the phenotype is applied).
    ranges : mapping of str to Range or (low, high), optional
        Explicit ranges instead of ``params``/``fold``.
    at_time : float, optional
        When the readout is taken (hours); default: the end of ``t``.
    t : array_like or float, optional
        Simulated times; only its end is used when ``at_time`` is not given.
    phenotype, drugs : shared by every simulation, as in :func:`simulator.simulate`.
    seed : int
        Seed of the design and of the bootstrap (0 is valid).
    executor, progress, options, store : as in :func:`simulator.sweep`.

    Returns
    -------
    SensitivityResult
        ``.table`` ranked DataFrame, ``.plot(ax=None)``.

    Raises
    ------
    UnknownIdError
        Unknown readout or parameter.
    InvalidValueError
        Bad ``n``, ``fold`` or time; a failed member (sensitivity needs all of them); a
        constant readout.
    """
    model = as_model(model)
    if method not in ("sobol", "morris"):
        raise InvalidValueError(f"method must be 'sobol' or 'morris', got {method!r}")
    if at_time is None:
        if t is None:
            raise InvalidValueError("give at_time (when the readout is taken) or t")
        at_time = float(np.max(np.atleast_1d(np.asarray(t, dtype=float))))
    at_time = float(at_time)
    if not math.isfinite(at_time) or at_time <= 0:
        raise InvalidValueError(f"at_time must be a positive time, got {at_time!r}")
    prep = prepared(model)
    system = prep.system
    conditions.check_readouts(model, system, [readout])
    base = {p.id: p.value for p in model.parameters}
    base.update(conditions.phenotype_overrides(model, phenotype))
    if ranges is None:
        if isinstance(fold, bool) or not isinstance(fold, (int, float)) or not math.isfinite(fold) \
                or fold <= 1:
            raise InvalidValueError(f"fold must be a finite number > 1, got {fold!r}")
        if isinstance(params, str):
            if params != "all":
                raise InvalidValueError(f"params must be 'all' or a list of parameter ids, got {params!r}")
            used = {system.param_ids[j] for j in prep.used_params}
            used |= {s.name for s in system.outputs[readout].free_symbols}
            drug_ids = set(model.catalog.drugs) | set(drugs or {})
            ids = [p.id for p in model.parameters
                   if p.id in used and p.id not in drug_ids and base.get(p.id) is not None
                   and math.isfinite(base[p.id]) and base[p.id] > 0]
            if not ids:
                raise InvalidValueError(f"model '{model.id}' has no positive parameter that "
                                        f"{readout!r} depends on")
        else:
            ids = list(params)
            if not ids:
                raise InvalidValueError("params must name at least one parameter")
            conditions.members(model, system, 1, params=dict.fromkeys(ids, 1.0))  # checks ids
            for k in ids:
                v = base.get(k)
                if v is None or not math.isfinite(v) or v <= 0:
                    raise InvalidValueError(
                        f"parameter '{k}' has value {v!r}; a ×/÷ fold range needs a positive "
                        f"value (give ranges={{'{k}': (low, high)}} instead)")
        ranges = {k: Range(base[k] / fold, base[k] * fold, log=True) for k in ids}
    else:
        conditions.members(model, system, 1, params=dict.fromkeys(ranges, 1.0))  # checks ids
    if method == "sobol":
        design = sobol_design(ranges, n, seed=seed)
    else:
        design = morris_design(ranges, n, seed=seed, num_levels=num_levels)
    ens = sweep(model, np.array([0.0, at_time]), samples=Samples(design.ids, design.values),
                drugs=drugs, phenotype=phenotype, readouts=[readout], executor=executor,
                progress=progress, options=options, store=store)
    if len(ens.failures):
        f = ens.failures.iloc[0]
        prm = {k: float(f[k]) for k in design.ids[:8]}
        raise InvalidValueError(
            f"{len(ens.failures)} of {len(ens)} simulations failed, e.g. member {int(f['member'])}: "
            f"{f['reason']} (parameters {prm}{' ...' if len(design.ids) > 8 else ''}); "
            f"sensitivity needs every member: narrow the ranges (fold) or loosen the options")
    Y = ens[readout][:, -1]
    table = analyze_sobol(design, Y, seed=seed) if method == "sobol" else \
        analyze_morris(design, Y, seed=seed)
    rng = {k: r for k, r in zip(design.ids, design.ranges)}
    table["low"] = [rng[k].low for k in table["parameter"]]
    table["high"] = [rng[k].high for k in table["parameter"]]
    table["default"] = [base.get(k, np.nan) for k in table["parameter"]]
    return SensitivityResult(table=table, method=method, readout=readout, at_time=at_time,
                             design=design, Y=Y, ensemble=ens)
