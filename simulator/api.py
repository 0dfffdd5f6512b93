"""The public verbs of the core: ``load_model``, ``simulate``, ``steady_state``.

Compiled forms of a model are cached in-process by the model's SBML hash (the numba code
also on disk, see :mod:`simulator.codegen.jit`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from simulator.errors import (
    IntegrationError, InvalidValueError, ModelImportError, UnknownIdError, unknown_id,
)
from simulator.model import Model
from simulator.results import SteadyState, Trajectory, provenance
from simulator.solvers.base import SolverOptions

BUNDLED_MODEL = Path(__file__).resolve().parents[1] / "models" / "er_crosstalk.ant"

_CACHE: dict[str, "CompiledModel"] = {}


def load_model(source: str | Path | None = None) -> Model:
    """Load a model: a path to an SBML (.xml) or Antimony (.ant) file, or model text.

    With no argument, the bundled ER crosstalk model (``models/er_crosstalk.ant``).

    Raises
    ------
    ModelImportError
        Missing or unreadable file, malformed XML, invalid Antimony, undefined ids.
    UnsupportedFeatureError
        Valid SBML that Crosstalk does not simulate (all offending elements listed).
    """
    from simulator.io import load
    if source is None:
        if not BUNDLED_MODEL.exists():
            raise ModelImportError(f"the bundled model {BUNDLED_MODEL} is missing from this installation")
        source = BUNDLED_MODEL
    return load(source)


@dataclass
class CompiledModel:
    """A model's symbolic system with its generated functions (built once per model hash)."""

    model: Model
    system: object
    numpy: object
    used_params: np.ndarray          # indices of parameters the rates or triggers use
    _segmenters: dict = field(default_factory=dict)

    @cached_property
    def settable_params(self) -> frozenset:
        """Ids ``params=`` accepts: parameters and compartments."""
        return frozenset(self.model.parameter_ids) | frozenset(self.model.compartment_ids)

    @cached_property
    def settable_initial(self) -> frozenset:
        """Ids ``initial=`` accepts: species, states, parameters and compartments."""
        return (frozenset(self.model.species_ids) | self.settable_params
                | frozenset(self.system.state_ids))

    def segmenter(self, options: SolverOptions, backend: str):
        key = (backend, options)
        if key not in self._segmenters:
            if backend == "compiled" and self.numpy.delayed is not None:
                from simulator.semantics import refuse_delays
                refuse_delays(self.model, f"the compiled backend (method {options.method!r}; "
                                          "use backend='scipy')")
            if backend == "scipy" or self.system.n_states == 0:
                # nothing to integrate (only events and rules in time): no solver to compile
                from simulator.solvers.scipy_backend import ScipySegmenter
                seg = ScipySegmenter(self.numpy, options)
            elif backend == "compiled":
                from simulator.solvers.compiled import CompiledSegmenter
                seg = CompiledSegmenter(self.system, options)
            else:
                raise InvalidValueError(f"unknown backend '{backend}'; use 'compiled' or 'scipy'")
            self._segmenters[key] = seg
        return self._segmenters[key]


def compile_model(model: Model) -> CompiledModel:
    """Build (or fetch from the cache) the compiled form of ``model``."""
    from simulator.codegen.numpy_fns import compile_numpy
    from simulator.semantics import build_system
    hit = _CACHE.get(model.hash)
    if hit is not None:
        return hit
    system = build_system(model)
    fns = compile_numpy(system)
    cm = CompiledModel(model, system, fns, system.used_params())
    _CACHE[model.hash] = cm
    return cm


def _choose_backend(cm: CompiledModel, options: SolverOptions) -> str:
    """``backend="auto"``: scipy for its own methods and for delay models, else compiled.
    A compiled method asked for on a delay model goes to the compiled backend, which
    refuses it naming the delays."""
    from simulator.solvers.scipy_backend import METHODS
    if options.method in METHODS or options.method == "scipy":
        return "scipy"
    if cm.numpy.delayed is not None and options.method == "auto":
        return "scipy"
    return _default_backend()


def _default_backend() -> str:
    try:
        import simulator.solvers.compiled  # noqa: F401
        return "compiled"
    except ImportError:
        return "scipy"


def _as_model(model) -> Model:
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    raise TypeError(f"model must be a Model or a path/text, got {type(model).__name__}")


def _overrides(model: Model, cm: CompiledModel, params, initial, drugs, phenotype) -> dict:
    """Merge params, initial values, drugs and phenotype into one {id: value} table."""
    from simulator.perturb import treatment_overrides
    out: dict[str, float] = {}
    out.update(treatment_overrides(model, drugs=drugs, phenotype=phenotype))
    settable_params = cm.settable_params
    for k, v in (params or {}).items():
        if k not in settable_params:
            if k in model.species_ids:
                raise UnknownIdError(f"'{k}' is a species of model '{model.id}'; set it with initial={{'{k}': ...}}")
            raise unknown_id("parameter", k, settable_params, model=model.id)
        out[k] = _finite(k, v)
    valid_initial = cm.settable_initial
    for k, v in (initial or {}).items():
        if k not in valid_initial:
            raise unknown_id("initial value", k, valid_initial, model=model.id)
        if k in cm.system.init.rule_ids:
            raise UnknownIdError(f"'{k}' of model '{model.id}' is determined by a rule (an assignment "
                                 "or algebraic rule, or a fast reaction's equilibrium) and cannot be "
                                 "given an initial value; set the quantities it depends on")
        out[k] = _finite(k, v)
    return out


def _finite(k, v) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InvalidValueError(f"value for '{k}' must be a number, got {v!r}") from None
    if not np.isfinite(v):
        raise InvalidValueError(f"value for '{k}' must be finite, got {v!r}")
    return v


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


def _times(t, t0: float) -> np.ndarray:
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
             on_failure: str = "raise") -> Trajectory:
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
        Named parameter override sets (see :func:`simulator.phenotypes`).
    t0 : float
        The model clock's start (SBML start, 0 by default); output may begin later.
    options : SolverOptions, optional
        Method and tolerances (default: stiff Rosenbrock, rtol 1e-6, atol 1e-12).
    backend : {"auto", "compiled", "scipy"}
        ``"compiled"``: numba Rosenbrock; ``"scipy"``: LSODA/BDF reference.
    on_failure : {"raise", "return"}
        ``"return"`` gives a Trajectory with ``success=False`` up to the failure.

    Raises
    ------
    UnknownIdError, InvalidValueError, IntegrationError
    """
    model = _as_model(model)
    if on_failure not in ("raise", "return"):
        raise InvalidValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    options = options or SolverOptions()
    cm = compile_model(model)
    overrides = _overrides(model, cm, params, initial, drugs, phenotype)
    t_out = _times(t, t0)
    y0, p = _initial(cm, overrides, t0)
    if backend == "auto":
        backend = _choose_backend(cm, options)
    from simulator.solvers.driver import run
    seg = cm.segmenter(options, backend)
    before = cm.system.init.before_start(overrides, y0, p) if cm.numpy.delayed is not None else None
    res = run(cm.numpy, seg, y0, p, t_out, t0=t0, before_start=before)
    system = cm.system
    param_values = dict(zip(system.param_ids, p.tolist()))
    if not res.success:
        err = _integration_error(cm, res, param_values)
        if on_failure == "raise":
            raise err
    values, nonfinite = _outputs(cm, seg, res)
    message = res.message
    if nonfinite:
        message = (message + "; " if message else "") + (
            "the model's own math gives non-finite values for " + ", ".join(nonfinite[:10]))
    return Trajectory(
        t=res.t, y=res.y, state_ids=system.state_ids, ids=cm.numpy.output_ids, values=values,
        params=param_values, species_compartment=dict(system.species_compartment),
        amount_valued=dict(system.init.amount_valued), success=res.success, message=message,
        stats=dict(res.stats, n_events=res.n_events, nonfinite_outputs=nonfinite),
        provenance=provenance(model.hash, backend=backend, method=options.method, rtol=options.rtol,
                              atol=options.atol, t0=t0, overrides=overrides),
        model_id=model.id,
    )


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


GROWTH_STATES = ("tumor_burden",)


def steady_state(model, *, params: dict | None = None, initial: dict | None = None,
                 drugs: dict | None = None, phenotype=None, exclude=None, tol: float = 1e-9,
                 max_time: float = 1e7, options: SolverOptions | None = None) -> SteadyState:
    """Find a steady state: Newton with the analytic Jacobian, falling back to integration.

    Conservation laws (conserved moieties) are found numerically as the left null space of
    the Jacobian and held at their initial totals, so Newton stays well posed.

    Parameters
    ----------
    exclude : list of str, optional
        States held at their initial value, e.g. cell numbers that grow without bound.
        Default: the states named in ``GROWTH_STATES`` that the model has (the bundled
        model's ``tumor_burden``, which is reset to 1 at the start of every experiment).

    Returns
    -------
    SteadyState
        ``converged``, ``residual`` (max |dy/dt| scaled by max(1, |y|)), ``method``, values by id.
    """
    from simulator.analysis.steady_state import find_steady_state
    model = _as_model(model)
    options = options or SolverOptions()
    cm = compile_model(model)
    if cm.numpy.delayed is not None:  # a delay system's steady state needs its history
        from simulator.semantics import refuse_delays
        refuse_delays(model, "steady_state")
    overrides = _overrides(model, cm, params, initial, drugs, phenotype)
    y0, p = _initial(cm, overrides, 0.0)
    if exclude is None:
        exclude = [s for s in GROWTH_STATES if s in cm.system.state_ids]
    unknown = [s for s in exclude if s not in cm.system.state_ids]
    if unknown:
        raise unknown_id("state", unknown[0], cm.system.state_ids, model=model.id)
    return find_steady_state(cm, y0, p, tol=tol, max_time=max_time, options=options,
                             exclude=tuple(exclude), overrides=overrides)
