"""The public verbs of the core: ``load_model``, ``simulate``, ``steady_state``.

Compiled forms of a model are cached in-process by the model's SBML hash (the native code
also on disk, see :mod:`simulator.codegen.jit`). What a run sets on the model (drugs,
phenotypes, parameters, initial values) is checked by :mod:`simulator.conditions`.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from simulator import conditions
from simulator.catalog import Catalog
from simulator.codegen.numpy_fns import NumpyFunctions, compile_numpy, uses_delay
from simulator.errors import IntegrationError, InvalidValueError, ModelImportError, unknown_id
from simulator.io.bundled import BUNDLED_CATALOG, BUNDLED_MODEL, BUNDLED_SBML
from simulator.io.catalog import attach_catalog, read_catalog
from simulator.io.loader import load
from simulator.io.limits import DEFAULT_LIMITS, ImportLimits, too_deep
from simulator.model import Model
from simulator.results import SteadyState, Trajectory, provenance
from simulator.semantics import build_system, refuse_delays
from simulator.sensitivities import OutputJacobian, SensitivityIntegrator, initial_derivatives
from simulator.solvers.base import Segmenter, SolverOptions
from simulator.solvers.compiled import CompiledSegmenter
from simulator.solvers.compiled_events import CompiledDriver
from simulator.solvers.driver import RunResult, run
from simulator.solvers.newton import find_steady_state, relaxation_options
from simulator.solvers.scipy_backend import METHODS as SCIPY_METHODS
from simulator.solvers.scipy_backend import ScipySegmenter
from simulator.system import OdeSystem, with_states_held

__all__ = ["load_model", "simulate", "steady_state", "compile_model", "as_model", "times",
           "check_readouts", "BUNDLED_MODEL", "BUNDLED_CATALOG", "BUNDLED_SBML"]


_CACHE: dict[str, "CompiledModel"] = {}


def load_model(source: str | os.PathLike | None = None, *,
               catalog: Catalog | str | os.PathLike | None = None,
               limits: ImportLimits = DEFAULT_LIMITS) -> Model:
    """Load a model: a path to an SBML (.xml) or Antimony (.ant) file, or model text.

    With no ``source``, the bundled ER crosstalk model with its catalogue (drugs, phenotypes;
    ``simulator/models/er_crosstalk.xml``, generated from ``er_crosstalk.ant``, and
    ``er_crosstalk.toml``).

    Parameters
    ----------
    source : str or path-like, optional
    catalog : Catalog or str or path-like, optional
        The model's catalogue (drugs, phenotypes, reset-at-start readouts), or the path of
        a catalogue file (:mod:`simulator.io.catalog`).
    limits : ImportLimits, optional
        Limits on size and nesting, checked before any recursive work; raise them for a
        trusted model that needs it (:mod:`simulator.io.limits`).

    Raises
    ------
    ModelImportError
        Missing or unreadable file, malformed XML, invalid Antimony, undefined ids; an
        unreadable catalogue; a model over one of the ``limits``.
    UnsupportedFeatureError
        Valid SBML that Crosstalk does not simulate (all offending elements listed).
    """
    if source is None:
        model = _bundled()
    else:
        with too_deep(f"loading {source!r:.80}"):
            model = load(source, limits)
    return attach_catalog(model, catalog) if catalog is not None else model


@cache
def _bundled() -> Model:
    """The bundled model with its catalogue, read once per process (models are immutable)."""
    with resources.as_file(resources.files("simulator") / "models") as folder:
        path = Path(folder) / BUNDLED_SBML
        if not path.exists():
            raise ModelImportError(f"the bundled model {path} is missing from this installation")
        return attach_catalog(load(path), read_catalog(Path(folder) / BUNDLED_CATALOG))


@dataclass
class CompiledModel:
    """A model's symbolic system with its generated functions (built once per model hash)."""

    model: Model
    system: OdeSystem
    used_params: np.ndarray          # indices of parameters the rates or triggers use
    _segmenters: dict = field(default_factory=dict)
    _sensitivity: dict = field(default_factory=dict)   # integrators and output Jacobians
    _drivers: dict = field(default_factory=dict)        # compiled event drivers by options
    _numpy: NumpyFunctions | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def numpy(self) -> NumpyFunctions:
        """The numpy functions (scipy backend, Newton, the Python event driver), built on
        first use, once (threads share a model): a compiled run never needs them."""
        with self._lock:
            if self._numpy is None:
                with too_deep(f"model '{self.model.id}': building its equations"):
                    self._numpy = compile_numpy(self.system)
            return self._numpy

    @cached_property
    def output_ids(self) -> tuple:
        """Every id a trajectory reports, in the order of its values' columns."""
        return tuple(self.system.outputs)

    @cached_property
    def delayed(self) -> bool:
        """Whether the model uses the csymbol ``delay`` (only the scipy backend runs it)."""
        return uses_delay(self.system)

    def segmenter(self, options: SolverOptions, backend: str) -> Segmenter:
        """The backend ``backend`` ("compiled" or "scipy") for ``options``, built once."""
        key = (backend, options)
        if key not in self._segmenters:
            if backend not in ("compiled", "scipy"):
                raise InvalidValueError(f"unknown backend '{backend}'; use 'compiled' or 'scipy'")
            if backend == "compiled" and self.delayed:
                refuse_delays(self.model, f"the compiled backend (method {options.method!r}; "
                                          "use backend='scipy')")
            if backend == "scipy" or self.system.n_states == 0:
                # nothing to integrate (only events and rules in time): no solver to compile
                seg = ScipySegmenter(self.numpy, options)
            else:
                with too_deep(f"model '{self.model.id}': native code generation"):
                    seg = CompiledSegmenter(self.system, options)
            self._segmenters[key] = seg
        return self._segmenters[key]

    def relaxation(self, exclude: tuple, options: SolverOptions) -> Segmenter | None:
        """The compiled integrator of :func:`steady_state`'s fallback: the system with the
        states in ``exclude`` held and no events, at :func:`relaxation_options`; None where
        ``options`` asks for scipy or the model has no states (Newton's fallback then
        integrates the numpy functions with LSODA)."""
        if self.backend_for(options) != "compiled" or self.delayed or not self.system.n_states:
            return None
        opts = relaxation_options(options)
        key = ("relax", tuple(sorted(set(exclude))), opts)
        if key not in self._segmenters:
            with too_deep(f"model '{self.model.id}': native code generation"):
                self._segmenters[key] = CompiledSegmenter(
                    with_states_held(self.system, exclude), opts)
        return self._segmenters[key]

    def run(self, options: SolverOptions, backend: str, y0, p, t_out, *, t0: float,
            before_start=None) -> RunResult:
        """One run with events: in compiled code where the compiled event driver covers
        the model (:mod:`simulator.solvers.compiled_events`), else through the reference
        driver (:func:`simulator.solvers.driver.run`) around the backend."""
        seg = self.segmenter(options, backend)
        if isinstance(seg, CompiledSegmenter):
            driver = self._drivers.get(options)
            if driver is None:
                driver = self._drivers[options] = CompiledDriver(seg)
            if driver.reason is None:
                return driver.run(y0, p, t_out, t0=t0)
        return run(self.numpy, seg, y0, p, t_out, t0=t0, before_start=before_start)

    def backend_for(self, options: SolverOptions) -> str:
        """``backend="auto"``: scipy for its own methods and for delay models, else compiled.

        A compiled method asked for on a delay model goes to the compiled backend, which
        refuses it naming the delays."""
        if options.method in SCIPY_METHODS or options.method == "scipy":
            return "scipy"
        if self.delayed and options.method == "auto":
            return "scipy"
        return "compiled"


def compile_model(model: Model) -> CompiledModel:
    """Build (or fetch from the cache) the compiled form of ``model``."""
    hit = _CACHE.get(model.hash)
    if hit is not None:
        return hit
    with too_deep(f"model '{model.id}': building its equations"):
        system = build_system(model)
        cm = CompiledModel(model, system, system.used_params())
    _CACHE[model.hash] = cm
    return cm


def as_model(model) -> Model:
    """``model`` itself, or the model :func:`load_model` loads from a path or text."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    raise TypeError(f"model must be a Model or a path/text, got {type(model).__name__}")


def check_readouts(model, readouts) -> tuple:
    """The readout ids as a tuple, each checked against ``model``'s outputs (species,
    compartments, parameters, rule targets, reactions); ``None`` gives every species and
    assignment-rule target.

    Raises
    ------
    UnknownIdError
    """
    model = as_model(model)
    return conditions.check_readouts(model, compile_model(model).system, readouts)


def _initial(cm: CompiledModel, overrides: dict, t0: float):
    system = cm.system
    y0, p = system.init.values(overrides, t0)
    bad = [system.state_ids[i] for i in np.flatnonzero(~np.isfinite(y0))]
    bad += [system.param_ids[j] for j in cm.used_params[~np.isfinite(p[cm.used_params])]]
    if bad:
        raise InvalidValueError(
            f"model '{cm.model.id}': initial value of {', '.join(repr(b) for b in bad)} is not a finite "
            "number (missing value or initial assignment, or a division by zero); give it a value")
    return y0, p


def times(t, t0: float) -> np.ndarray:
    """Output times: a sorted, finite 1-D array from ``t0`` on (a single end time gives 101
    points from ``t0``)."""
    arr = np.atleast_1d(np.asarray(t, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidValueError("output times t must be a non-empty 1-D array or an end time")
    if arr.size == 1 and arr[0] > t0:
        arr = np.linspace(t0, arr[0], 101)
    if not np.all(np.isfinite(arr)):
        raise InvalidValueError("output times must be finite")
    if np.any(np.diff(arr) < 0):
        raise InvalidValueError("output times must be sorted in increasing order")
    if arr[0] < t0:
        raise InvalidValueError(f"output times start at {arr[0]}, before the model's start time {t0}")
    return arr


def simulate(model, t, *, params: dict | None = None, initial: dict | None = None,
             drugs: dict | None = None, phenotype=None, t0: float = 0.0,
             options: SolverOptions | None = None, backend: str = "auto",
             on_failure: str = "raise", sensitivities=None) -> Trajectory:
    """Simulate ``model`` and return its trajectory at the output times ``t``.

    Parameters
    ----------
    model : Model or str or Path
        A loaded model, or anything :func:`load_model` accepts.
    t : array_like, shape (n_t,), or float
        Output times (sorted, >= ``t0``); a single number means 101 points from ``t0`` to it.
    params : dict, optional
        Parameter (or compartment) id -> value; local parameters as ``"reaction.id"``.
    initial : dict, optional
        Species id -> initial value (concentration unless hasOnlySubstanceUnits), or a
        ``SteadyState.state``.
    drugs : dict, optional
        Drug id -> concentration (nM of active drug) for models that define drugs.
    phenotype : str or list of str, optional
        Named parameter override sets from the model's catalogue (see
        :func:`simulator.phenotypes`).
    t0 : float
        The model clock's start (SBML start, 0 by default); output may begin later.
    options : SolverOptions, optional
        Method and tolerances (default: stiff Rosenbrock, rtol 1e-6, atol 1e-12).
    backend : {"auto", "compiled", "scipy"}
        ``"compiled"``: numba Rosenbrock; ``"scipy"``: LSODA/BDF reference.
    on_failure : {"raise", "return"}
        ``"return"`` gives a Trajectory with ``success=False`` up to the failure.
    sensitivities : list of str, optional
        Parameter (or compartment) ids: the trajectory then holds every output's derivative
        by each, from forward sensitivities integrated with the state
        (``traj.sensitivity("pS6", "k1")``, ``traj.sensitivities`` of shape
        ``(n_t, n_outputs, n_params)``). Initial values that depend on them (initial
        assignments) are followed, and the sensitivities jump at events as the event moves
        them (:mod:`simulator.forward_sensitivities`). ``delay`` and the event forms listed
        there are refused by name.

    Raises
    ------
    UnknownIdError, InvalidValueError, IntegrationError, UnsupportedFeatureError
    """
    model = as_model(model)
    if on_failure not in ("raise", "return"):
        raise InvalidValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    options = options or SolverOptions()
    cm = compile_model(model)
    overrides = conditions.overrides(model, cm.system, params=params, initial=initial,
                                     drugs=drugs, phenotype=phenotype)
    t_out = times(t, t0)
    y0, p = _initial(cm, overrides, t0)
    if backend == "auto":
        backend = cm.backend_for(options)
    seg = cm.segmenter(options, backend)
    sens = None
    if sensitivities is not None:
        res, sens, names = _with_sensitivities(cm, model, overrides, sensitivities, t_out,
                                               t0, options, backend)
    else:
        before = cm.system.init.before_start(overrides, y0, p) if cm.delayed else None
        res = cm.run(options, backend, y0, p, t_out, t0=t0, before_start=before)
    system = cm.system
    param_values = dict(zip(system.param_ids, p.tolist()))
    if not res.success:
        err = _integration_error(cm, res, param_values)
        if on_failure == "raise":
            raise err
    return Trajectory(
        t=res.t, y=res.y, state_ids=system.state_ids, ids=cm.output_ids, _values=None,
        params=param_values, species_compartment=dict(system.species_compartment),
        amount_valued=dict(system.init.amount_valued), success=res.success,
        _message=res.message, _stats=dict(res.stats, n_events=res.n_events),
        _outputs=lambda: _outputs(cm, seg, res),
        provenance=provenance(model.hash, backend=backend, method=options.method, rtol=options.rtol,
                              atol=options.atol, t0=t0, overrides=overrides),
        model_id=model.id,
        sensitivities=sens, sensitivity_params=tuple(names) if sens is not None else (),
    )


def _with_sensitivities(cm, model, overrides, names, t_out, t0, options, backend):
    """``(run result, output sensitivities (n_t, n_outputs, k), names)``."""
    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    if not names:
        raise InvalidValueError("sensitivities: give at least one parameter id")
    system = cm.system
    if cm.delayed:
        refuse_delays(model, "sensitivities")
    base = dict(overrides)
    pid = {k: j for j, k in enumerate(system.param_ids)}
    for name in names:
        conditions.overrides(model, system, params={name: 0.0})   # the standard id check
        if name not in pid:
            raise InvalidValueError(f"sensitivities: '{name}' of model '{model.id}' is not a "
                                    "constant parameter or compartment")
        base.setdefault(name, float(system.init.value_of([name], t0).get(
            name, system.p_default[pid[name]])))
    y0, p, dy0, dp = initial_derivatives(lambda ov: _initial(cm, ov, t0), base, names)
    used = system.dynamics_symbols()
    pairs = tuple((int(k), i) for i in range(len(names)) for k in np.flatnonzero(dp[:, i])
                  if system.p[k] in used)
    key = ("sensitivities", pairs, len(names), backend, options)
    if key not in cm._sensitivity:
        cm._sensitivity[key] = SensitivityIntegrator(system, pairs, len(names), backend,
                                                     options)
    res, Y, S = cm._sensitivity[key].run(y0, p, dy0, dp, t_out, t0)
    res.y, res.p = Y, res.p[:, :system.n_params]
    if res.y_fail is not None:
        res.y_fail = res.y_fail[:system.n_states]
    p_cols = sorted({k for k, _ in pairs} | {int(k) for k in np.flatnonzero(dp.any(axis=1))})
    jkey = ("output jacobian", tuple(p_cols))
    if jkey not in cm._sensitivity:
        cm._sensitivity[jkey] = OutputJacobian(system, cm.output_ids, p_cols)
    if not len(res.t):
        return res, np.zeros((0, len(cm.output_ids), len(names))), names
    J = cm._sensitivity[jkey](res.t, Y, p)
    n = system.n_states
    sens = np.einsum("tij,tjk->tik", J[:, :, :n], S) + J[:, :, n:] @ dp[p_cols]
    return res, sens, names


def _integration_error(cm, res, params) -> IntegrationError:
    system = cm.system
    y = res.y_fail if res.y_fail is not None else np.full(system.n_states, np.nan)
    bad = [system.state_ids[i] for i in np.flatnonzero(~np.isfinite(y))]
    if not bad and y.size:
        bad = [system.state_ids[i] for i in np.argsort(-np.abs(y))[:3]]
    changed = {k: v for k, v in params.items()}
    shown = ", ".join(f"{k}={v:g}" for k, v in list(changed.items())[:12])
    more = " ..." if len(changed) > 12 else ""
    return IntegrationError(
        f"integration of model '{cm.model.id}' failed at t = {res.t_fail:g}: {res.message}; "
        f"species/state blowing up: {', '.join(bad) or 'unknown'}; parameters: {shown}{more}",
        t_fail=res.t_fail, species=bad, params=params)


def _outputs(cm, seg, res) -> tuple[np.ndarray, list[str]]:
    """Every output on the trajectory's rows, and the ids whose values are NaN or infinite
    somewhere (flagged, never passed on silently). Native code when the backend has it."""
    native = seg.outputs(res.t, res.y, res.p) if len(res.t) else None
    if native is not None:
        values, bad = native
    else:
        with np.errstate(all="ignore"):
            values = cm.numpy.outputs(res.t, res.y, list(res.p.T))
        bad = (~np.isfinite(values)).any(axis=0)
    return values, [cm.numpy.output_ids[c] for c in np.flatnonzero(bad)]


def steady_state(model, *, params: dict | None = None, initial: dict | None = None,
                 drugs: dict | None = None, phenotype=None, exclude=None, tol: float = 1e-9,
                 max_time: float = 1e7, options: SolverOptions | None = None,
                 stable: bool = True) -> SteadyState:
    """Find a steady state: Newton with the analytic Jacobian, falling back to integration.

    Conservation laws (conserved moieties) are found numerically as the left null space of
    the Jacobian and held at their initial totals, so Newton stays well posed.

    Parameters
    ----------
    exclude : list of str, optional
        States held at their initial value, e.g. cell numbers that grow without bound.
        Default: the catalogue's ``reset_at_start`` species (the bundled model's
        ``tumor_burden``, which every treatment starts at 1).
    stable : bool
        Refuse a root that is unstable (an eigenvalue of the Jacobian, on the states the
        conservation laws leave free, with a positive real part): a simulation leaves it,
        so integration takes over. False takes Newton's root whatever its stability, as
        AMICI does in PEtab pre-equilibration (an oscillator's only steady state).

    Returns
    -------
    SteadyState
        ``converged``, ``residual`` (max |dy/dt| scaled by max(1, |y|)), ``method``, values by id.
    """
    model = as_model(model)
    options = options or SolverOptions()
    cm = compile_model(model)
    if cm.delayed:  # a delay system's steady state needs its history
        refuse_delays(model, "steady_state")
    overrides = conditions.overrides(model, cm.system, params=params, initial=initial,
                                     drugs=drugs, phenotype=phenotype)
    y0, p = _initial(cm, overrides, 0.0)
    if exclude is None:
        exclude = [s for s in model.catalog.reset_at_start if s in cm.system.state_ids]
    unknown = [s for s in exclude if s not in cm.system.state_ids]
    if unknown:
        raise unknown_id("state", unknown[0], cm.system.state_ids, model=model.id)
    return find_steady_state(cm.numpy, y0, p, tol=tol, max_time=max_time, options=options,
                             exclude=tuple(exclude), overrides=overrides,
                             relax=cm.relaxation(tuple(exclude), options), stable=stable)
