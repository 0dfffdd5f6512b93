"""Parameter sweeps: many members of one model, solved in chunks, returned as an :class:`Ensemble`.

A sweep is a table of *members*: one row per parameter set (plus drugs and phenotype,
shared or per member). Members are cut into chunks of ``chunk_size``; each chunk is one
unit of work for an executor (:mod:`simulator.executors`) and one file of a checkpoint
store (:mod:`simulator.store`). A chunk is solved by the compiled ensemble integrator
(:func:`simulator.solvers.compiled.integrate_many`: every member with its own step size and
error control, members in parallel over the cores in small dynamic chunks).

Events
------
Models with events keep exact SBML semantics: all members first run through
``integrate_many``, which stops a member at its first trigger change. Members that never see
a trigger change (and whose triggers at the start equal their ``initialValue``) fire no event,
so their result is final. Every other member is re-run from the start by the event driver
(:func:`simulator.solvers.driver.run`) with the compiled single-run backend. Sweeps of models
whose events fire in most members therefore run at single-run speed per member.

Failures
--------
A member whose initial values are not finite, whose integration fails, or whose readouts
turn non-finite is recorded in :attr:`Ensemble.failures` with its parameters and the reason;
its rows in the arrays are NaN and :attr:`Ensemble.success` is False there. The other
members are kept. ``on_failure="raise"`` raises :class:`~simulator.errors.IntegrationError`
for the first failed member instead.
"""
from __future__ import annotations

import hashlib
import json
import numbers
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from simulator.errors import (InvalidValueError, IntegrationError, PerturbationError,
                              UnknownIdError, suggest, unknown_id)
from simulator.model import Model
from simulator.solvers.base import SolverOptions

__all__ = ["Ensemble", "sweep", "ChunkTask", "ChunkResult", "run_chunk"]

DEFAULT_CHUNK = 1000


# ----------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class Ensemble:
    """The results of a sweep.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times.
    readouts : tuple of str
        Readout ids, the last axis of ``values``.
    values : ndarray, shape (n_members, n_t, n_readouts)
        Readout values; NaN for failed members (see ``success`` and ``failures``).
    params : pandas.DataFrame
        One row per member (index ``member``), one column per varied parameter or drug;
        a ``phenotype`` column when phenotypes differ between members.
    success : ndarray of bool, shape (n_members,)
    failures : pandas.DataFrame
        One row per failed member: ``member``, its parameters, ``status``, ``reason``.
    nsteps : ndarray of int, shape (n_members,)
        Integrator steps per member.
    provenance : dict
        Model hash, package version, options, times, readouts, sizes.
    """

    t: np.ndarray
    readouts: tuple
    values: np.ndarray
    params: object
    success: np.ndarray
    failures: object
    nsteps: np.ndarray
    provenance: dict = field(default_factory=dict)
    model_id: str = ""

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_members(self) -> int:
        return len(self)

    def __getitem__(self, key: str) -> np.ndarray:
        """Values of one readout, shape (n_members, n_t), for any number of members."""
        try:
            k = self.readouts.index(key)
        except ValueError:
            raise unknown_id("readout", key, self.readouts, model=self.model_id) from None
        return self.values[:, :, k]

    def __contains__(self, key) -> bool:
        return key in self.readouts

    def at(self, time: float) -> object:
        """Readouts at one output time: DataFrame (members × readouts), params joined."""
        import pandas as pd
        hit = np.flatnonzero(np.isclose(self.t, time, rtol=1e-12, atol=0.0))
        if hit.size == 0:
            raise InvalidValueError(f"time {time} is not an output time of this ensemble "
                                    f"(output times {self.t[0]:g} .. {self.t[-1]:g}, {len(self.t)} points)")
        df = pd.DataFrame(self.values[:, hit[0], :], columns=list(self.readouts),
                          index=self.params.index)
        return self.params.join(df)

    @cached_property
    def table(self):
        """Tidy DataFrame: one row per (successful member, time, readout).

        Columns ``member``, the varied parameters, ``time``, ``id``, ``value``.
        """
        import pandas as pd
        ok = np.flatnonzero(self.success)
        n_t, n_r = len(self.t), len(self.readouts)
        reps = n_t * n_r
        members = np.repeat(ok, reps)
        df = pd.DataFrame({"member": members})
        prm = self.params.iloc[ok]
        for c in prm.columns:
            df[c] = np.repeat(prm[c].to_numpy(), reps)
        df["time"] = np.tile(np.repeat(self.t, n_r), len(ok))
        df["id"] = np.tile(np.array(self.readouts, dtype=object), len(ok) * n_t)
        df["value"] = self.values[ok].reshape(-1)
        return df


# ----------------------------------------------------------------------------------------
# work units (picklable, cheap to send: the model travels as SBML text)


class ModelRef:
    """A model by hash: pickles as its SBML text and is rebuilt once per process."""

    def __init__(self, model: Model):
        self.model = model

    def __reduce__(self):
        m = self.model
        return (_model_from_sbml, (m.hash, m.sbml, m.source))


_MODELS: dict[str, Model] = {}
_MODELS_LOCK = threading.Lock()


def _model_from_sbml(hash_: str, sbml: str, source: str) -> ModelRef:
    with _MODELS_LOCK:
        m = _MODELS.get(hash_)
        if m is None:
            from simulator.io.sbml import read_sbml_string
            m = read_sbml_string(sbml, source)
            _MODELS[hash_] = m
    return ModelRef(m)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk of a sweep: members ``start .. start + len(values)``.

    ``groups`` are ``(overrides, rows)``: treatment overrides (id -> value) shared by the
    members at ``rows`` (indices into this chunk); ``ids``/``values`` the per-member
    columns, which take precedence.
    """

    model: ModelRef
    index: int
    start: int
    ids: tuple
    values: np.ndarray
    groups: tuple
    t_out: np.ndarray
    t0: float
    readouts: tuple
    options: SolverOptions
    threads: int | None = None


@dataclass(frozen=True)
class ChunkResult:
    index: int
    start: int
    values: np.ndarray      # (c, n_t, n_r)
    status: np.ndarray      # (c,) int64: 0 ok, <0 integrator failure codes, -100 bad start, -101 readout
    reason: list            # (c,) str, "" when ok
    nsteps: np.ndarray      # (c,) int64


BAD_START, BAD_READOUT, EVENT_FAIL = -100, -101, -102


class _Prepared:
    """What a process needs to run chunks of one model: system, native code, readout fns."""

    def __init__(self, model: Model):
        from simulator import api
        cm = api._CACHE.get(model.hash)
        if cm is not None:
            system = cm.system
        else:
            from simulator.semantics import build_system
            system = build_system(model)
        from simulator.codegen.jit import compile_native
        from simulator.semantics import refuse_delays
        refuse_delays(model, "the compiled ensemble solver behind sweeps")
        self.model = model
        self.system = system
        self.fns = compile_native(system)
        self._readouts: dict[tuple, object] = {}
        self._lock = threading.Lock()
        self.used_params = system.used_params()

    def native_readouts(self, readouts: tuple):
        """A native ``f(t, y, p, out)`` computing ``readouts`` (built once per tuple), or
        None when their math has no native form (then :meth:`readout_fn` is used)."""
        key = ("native", readouts)
        with self._lock:
            if key not in self._readouts:
                from simulator.codegen.jit import compile_expressions
                from simulator.errors import ModelError
                try:
                    self._readouts[key] = compile_expressions(
                        self.system, [self.system.outputs[r] for r in readouts])
                except ModelError:
                    self._readouts[key] = None
            return self._readouts[key]

    def readout_fn(self, readouts: tuple):
        """A numpy function of ``(t, ys, ps)`` giving the columns of ``readouts``."""
        with self._lock:
            f = self._readouts.get(readouts)
            if f is None:
                from simulator.codegen.common import SymbolMap
                from simulator.codegen.numpy_fns import _as_bool_expr, _lambdify
                smap = SymbolMap.of(self.system)
                exprs = [_as_bool_expr(self.system.outputs[r]) for r in readouts]
                f = _lambdify(smap, exprs, "readout")
                self._readouts[readouts] = f
            return f


_PREPARED: dict[str, _Prepared] = {}
_PREP_LOCK = threading.Lock()


def prepared(model: Model) -> _Prepared:
    """The per-process compiled form of ``model`` (built once per model hash)."""
    with _PREP_LOCK:
        hit = _PREPARED.get(model.hash)
        if hit is None:
            hit = _Prepared(model)
            _PREPARED[model.hash] = hit
        return hit


def batch_initial(system, shared: dict, ids: Sequence[str], values: np.ndarray, t0: float):
    """Initial ``(Y0 (G, n), P (G, m))`` for G members at once.

    Same semantics as ``system.init.values(overrides, t0)`` with ``overrides = shared``
    updated by ``dict(zip(ids, values[g]))`` for member ``g``, evaluated on arrays.
    Falls back to one call per member for models whose initial values need ``rateOf``.
    """
    init = system.init
    G = values.shape[0]
    overridden: dict[str, object] = {k: float(v) for k, v in shared.items()}
    for j, k in enumerate(ids):
        overridden[k] = values[:, j]
    for k in overridden:
        if k not in init.settable or k in init.rule_ids:
            init.values({k: 0.0}, t0)  # raises the standard error naming the id
    exprs = init.exprs
    vals: dict[str, object] = {}

    class _Fallback(Exception):
        pass

    def value(k):
        if k in vals:
            return vals[k]
        if k in overridden:
            vals[k] = overridden[k]
            return vals[k]
        if k not in exprs:
            raise _Fallback
        fn = init._function(k)
        if fn is None:
            raise _Fallback
        names, f = fn
        vals[k] = None  # cycle guard
        args = [np.float64(t0) if n is None else value(n) for n in names]
        if any(a is None for a in args):
            raise _Fallback
        with np.errstate(all="ignore"):
            try:
                r = np.asarray(f(*[a if isinstance(a, np.ndarray) else np.float64(a) for a in args]),
                               dtype=float)
            except ZeroDivisionError:
                r = np.asarray(np.nan)
        vals[k] = r if r.ndim else float(r)
        return vals[k]

    try:
        for k in list(system.state_ids) + list(system.param_ids):
            value(k)
    except _Fallback:
        rows = [init.values({**shared, **dict(zip(ids, map(float, v)))}, t0) for v in values]
        return (np.array([r[0] for r in rows]).reshape(G, system.n_states),
                np.array([r[1] for r in rows]).reshape(G, system.n_params))

    def amount(i):
        v = vals[i]
        if i in init.species and not init.amount_valued[i] and init.held[i].amount:
            v = v * vals[init.species[i].compartment]
        return np.broadcast_to(np.asarray(v, dtype=float), (G,))

    Y0 = np.empty((G, system.n_states))
    P = np.empty((G, system.n_params))
    for c, i in enumerate(system.state_ids):
        Y0[:, c] = amount(i)
    for c, i in enumerate(system.param_ids):
        P[:, c] = amount(i)
    return Y0, P


_BUFFERS = threading.local()


def _buffer(shape) -> np.ndarray:
    """A float64 work array of ``shape``, reused between chunks of this thread."""
    size = int(np.prod(shape))
    buf = getattr(_BUFFERS, "buf", None)
    if buf is None or buf.size < size:
        buf = np.empty(size)
        _BUFFERS.buf = buf
    return buf[:size].reshape(shape)


def _readouts(prep, readouts, t_out, Y_out, P, row, ok, out) -> np.ndarray:
    """Fill ``out[ok]`` with the readouts of members ``ok`` (states ``Y_out[row[m]]``) and
    return which of them have a non-finite value. Native and parallel when possible."""
    fn = prep.native_readouts(readouts)
    if fn is not None:
        from simulator.codegen.kernels import fill_members
        rows = np.full(len(row), -1, dtype=np.int64)
        rows[ok] = row[ok]
        return fill_members(fn, t_out, Y_out, P, rows, out)[ok]
    f = prep.readout_fn(readouts)
    Yk = Y_out if ok.size == Y_out.shape[0] else Y_out[row[ok]]
    ys = [Yk[:, :, i] for i in range(prep.system.n_states)]
    ps = [P[ok, j:j + 1] for j in range(prep.system.n_params)]
    with np.errstate(all="ignore"):
        cols = f(t_out, ys, ps)
    for r, col in enumerate(cols):
        out[ok, :, r] = np.broadcast_to(np.asarray(col, dtype=float), (ok.size, len(t_out)))
    return ~np.isfinite(out[ok]).all(axis=(1, 2))


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Solve one chunk (in this process); see :class:`ChunkTask`."""
    import numba

    from simulator.solvers.compiled import STAT_NAMES, failure_message, integrate_many
    prep = prepared(task.model.model)
    system, fns = prep.system, prep.fns
    c = task.values.shape[0]
    n_t, n_r = len(task.t_out), len(task.readouts)
    opts = task.options
    Y0 = np.empty((c, system.n_states))
    P = np.empty((c, system.n_params))
    for overrides, rows in task.groups:
        rows = np.asarray(rows, dtype=int)
        shared = {k: v for k, v in overrides.items() if k not in task.ids}
        Y0[rows], P[rows] = batch_initial(system, shared, task.ids, task.values[rows], task.t0)
    status = np.zeros(c, dtype=np.int64)
    reason = [""] * c
    nsteps = np.zeros(c, dtype=np.int64)
    bad_y = ~np.isfinite(Y0)
    bad_p = ~np.isfinite(P[:, prep.used_params]) if prep.used_params.size else np.zeros((c, 0), bool)
    bad = bad_y.any(axis=1) | bad_p.any(axis=1)
    for m in np.flatnonzero(bad):
        names = [system.state_ids[i] for i in np.flatnonzero(bad_y[m])]
        names += [system.param_ids[prep.used_params[j]] for j in np.flatnonzero(bad_p[m])]
        status[m] = BAD_START
        reason[m] = (f"initial value of {', '.join(repr(x) for x in names[:5])} is not a finite "
                     f"number")
    good = np.flatnonzero(~bad)
    t_out = np.ascontiguousarray(task.t_out, dtype=float)
    t_end = float(t_out[-1])
    # member m's states are Y_out[row[m]]: a reused buffer, no copy when all start well
    Y_out = _buffer((good.size, n_t, system.n_states))
    row = np.full(c, -1, dtype=np.int64)
    row[good] = np.arange(good.size)
    if good.size:
        old = numba.get_num_threads()
        if task.threads:
            numba.set_num_threads(min(task.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            res = integrate_many(fns, task.t0, Y0[good], P[good], t_out, t_end, rtol=opts.rtol,
                                 atol=opts.atol, first_step=opts.first_step or 0.0,
                                 max_step=opts.max_step or 0.0, max_steps=opts.max_steps,
                                 y_out=Y_out)
        finally:
            numba.set_num_threads(old)
        st = res["stats"]
        i_steps = STAT_NAMES.index("nsteps")
        i_fail = STAT_NAMES.index("fail_index")
        nsteps[good] = st[:, i_steps]
        trig_start_ok = np.ones(good.size, dtype=bool)
        if system.events:
            init_vals = np.array([ev.initial_value for ev in system.events], dtype=bool)
            for g, m in enumerate(good):
                trig_start_ok[g] = np.array_equal(fns.triggers_py(task.t0, Y0[m], P[m]), init_vals)
        for g, m in enumerate(good):
            s = int(res["status"][g])
            if system.events and (s == 1 or not trig_start_ok[g]):
                s, msg, y_out, ns = _run_with_events(task.model.model, opts, Y0[m], P[m], t_out,
                                                     task.t0)
                Y_out[row[m]] = y_out
                nsteps[m] = ns
                if s < 0:
                    status[m] = EVENT_FAIL
                    reason[m] = msg
                continue
            if s < 0:
                status[m] = s
                reason[m] = failure_message(s, float(res["t_stop"][g]), system.state_ids,
                                            int(st[g, i_fail]), opts.max_steps)
    out = np.full((c, n_t, n_r), np.nan)
    ok = np.flatnonzero(status == 0)
    if ok.size and n_r:
        nonfinite = _readouts(prep, tuple(task.readouts), t_out, Y_out, P, row, ok, out)
        for m in ok[nonfinite]:
            bad_r = [task.readouts[r] for r in range(n_r) if not np.isfinite(out[m, :, r]).all()]
            k_t = int(np.flatnonzero(~np.isfinite(out[m]).all(axis=1))[0])
            status[m] = BAD_READOUT
            reason[m] = (f"readout {', '.join(repr(b) for b in bad_r)} is not finite at "
                         f"t = {t_out[k_t]:g}")
            out[m] = np.nan
    out[status != 0] = np.nan
    return ChunkResult(task.index, task.start, out, status, reason, nsteps)


def _run_with_events(model, opts, y0, p, t_out, t0):
    """One member through the event driver with the compiled single-run backend."""
    from simulator.api import compile_model
    from simulator.solvers.driver import run
    cm = compile_model(model)
    seg = cm.segmenter(opts, "compiled")
    res = run(cm.numpy, seg, y0, p, t_out, t0=t0)
    y = np.full((len(t_out), cm.system.n_states), np.nan)
    y[:len(res.y)] = res.y
    if res.success:
        return 0, "", y, int(res.stats.get("nsteps", 0))
    return -1, f"{res.message} (t = {res.t_fail:g})", y, int(res.stats.get("nsteps", 0))


# ----------------------------------------------------------------------------------------
# normalising the inputs


_SETTABLE: dict[str, frozenset] = {}


def _settable(model: Model) -> frozenset:
    hit = _SETTABLE.get(model.hash)
    if hit is None:
        hit = _SETTABLE[model.hash] = frozenset(model.parameter_ids) | frozenset(model.compartment_ids)
    return hit


def _check_param_id(model: Model, k: str):
    if k not in _settable(model):
        if k in model.species_ids:
            raise UnknownIdError(f"'{k}' is a species of model '{model.id}', not a parameter; "
                                 f"sweeps vary parameters (and drugs)")
        raise unknown_id("parameter", k, _settable(model), model=model.id)


def _member_table(model: Model, params, samples, grid: bool):
    """``(ids, values (N, k))`` from ``params`` and/or ``samples``."""
    ids: list[str] = []
    cols: list[np.ndarray] = []
    shared: dict[str, float] = {}
    if samples is not None:
        s_ids, s_vals = samples
        s_vals = np.asarray(s_vals, dtype=float)
        if s_vals.ndim != 2 or s_vals.shape[1] != len(s_ids):
            raise InvalidValueError(f"samples.values must have shape (N, {len(s_ids)}), got {s_vals.shape}")
        ids += [str(i) for i in s_ids]
        cols += [s_vals[:, j] for j in range(len(s_ids))]
    if params is None:
        pass
    elif isinstance(params, Mapping):
        arrays = {}
        for k, v in params.items():
            a = np.asarray(v, dtype=float) if not isinstance(v, str) else None
            if a is None:
                raise InvalidValueError(f"parameter '{k}': values must be numbers, got {v!r}")
            if a.ndim == 0:
                shared[str(k)] = float(a)
            elif a.ndim == 1 and a.size:
                arrays[str(k)] = a
            else:
                raise InvalidValueError(f"parameter '{k}': values must be a number or a non-empty "
                                        f"1-D array, got shape {a.shape}")
        if arrays:
            if grid:
                from simulator.analysis.sampling import grid as full_grid
                g_ids, g_vals = full_grid(arrays)
                if cols:
                    raise InvalidValueError("grid=True cannot be combined with samples=; "
                                            "pass the grid as params only")
                ids += list(g_ids)
                cols += [g_vals[:, j] for j in range(len(g_ids))]
            else:
                lens = {k: a.size for k, a in arrays.items()}
                n0 = cols[0].size if cols else None
                if len(set(lens.values()) | ({n0} if n0 else set())) > 1:
                    raise InvalidValueError(
                        "parameter arrays have different lengths "
                        f"({', '.join(f'{k}: {n}' for k, n in lens.items())}"
                        f"{f', samples: {n0}' if n0 else ''}); give one value per member, "
                        "or pass grid=True for every combination")
                ids += list(arrays)
                cols += list(arrays.values())
    elif isinstance(params, Sequence) and not isinstance(params, str):
        if not params or not all(isinstance(d, Mapping) for d in params):
            raise InvalidValueError("params must be a dict id -> values, or a non-empty list of "
                                    "dicts (one parameter set per member)")
        keys = list(dict.fromkeys(k for d in params for k in d))
        missing = [(i, k) for i, d in enumerate(params) for k in keys if k not in d]
        if missing:
            i, k = missing[0]
            raise InvalidValueError(f"parameter set #{i} has no value for '{k}'; every set in "
                                    f"the list must give the same ids")
        n0 = cols[0].size if cols else None
        if n0 and n0 != len(params):
            raise InvalidValueError(f"{len(params)} parameter sets but {n0} samples")
        ids += [str(k) for k in keys]
        cols += [np.array([float(d[k]) for d in params]) for k in keys]
    else:
        raise InvalidValueError(f"params must be a dict or a list of dicts, got {type(params).__name__}")
    dup = [k for k in ids if ids.count(k) > 1]
    if dup:
        raise InvalidValueError(f"parameter '{dup[0]}' is given twice (in params and samples)")
    for k in ids + list(shared):
        _check_param_id(model, k)
    for k, v in shared.items():
        if not np.isfinite(v):
            raise InvalidValueError(f"value for '{k}' must be finite, got {v!r}")
    for k, c in zip(ids, cols):
        bad = np.flatnonzero(~np.isfinite(c))
        if bad.size:
            raise InvalidValueError(f"parameter '{k}': value of member {int(bad[0])} is not finite "
                                    f"({c[bad[0]]!r})")
    N = cols[0].size if cols else 1
    values = np.column_stack(cols) if cols else np.empty((1, 0))
    return ids, values.reshape(N, len(ids)), shared


def _drug_columns(model: Model, drugs, N: int):
    """Shared drug doses (dict) and per-member dose columns."""
    from simulator.perturb import treatment_overrides
    if drugs is None:
        return {}, [], []
    if isinstance(drugs, Mapping):
        shared, ids, cols = {}, [], []
        for k, v in drugs.items():
            a = np.asarray(v, dtype=float) if not isinstance(v, str) else np.asarray(np.nan)
            if a.ndim == 0:
                shared.update(treatment_overrides(model, drugs={k: v}))
            else:
                if a.shape != (N,):
                    raise PerturbationError(f"doses of '{k}': give one number, or one dose per "
                                            f"member ({N}), got shape {a.shape}")
                treatment_overrides(model, drugs={k: 0.0})  # validates the name
                bad = np.flatnonzero(~np.isfinite(a) | (a < 0))
                if bad.size:
                    raise PerturbationError(f"dose of '{k}' for member {int(bad[0])} must be a "
                                            f"finite concentration >= 0 nM, got {a[bad[0]]!r}")
                ids.append(str(k))
                cols.append(a)
        return shared, ids, cols
    if isinstance(drugs, Sequence) and all(isinstance(d, Mapping) or d is None for d in drugs):
        if len(drugs) != N:
            raise PerturbationError(f"{len(drugs)} drug sets for {N} members; give one dict per "
                                    f"member or one shared dict")
        keys = list(dict.fromkeys(k for d in drugs if d for k in d))
        defaults = {p.id: p.value for p in model.parameters}
        ids, cols = [], []
        for k in keys:
            treatment_overrides(model, drugs={k: 0.0})
            col = np.empty(N)
            for i, d in enumerate(drugs):
                if d and k in d:
                    col[i] = treatment_overrides(model, drugs={k: d[k]})[k]
                else:
                    col[i] = defaults.get(k) or 0.0
            ids.append(str(k))
            cols.append(col)
        return {}, ids, cols
    raise PerturbationError("drugs must be a dict id -> dose (shared; a dose may be an array of "
                            "one dose per member) or a list of one dict per member")


def _phenotype_keys(phenotype, N: int):
    """Per-member phenotype keys (tuples of names), or one shared key."""
    def key(x):
        if x is None:
            return ()
        if isinstance(x, str):
            return (x,)
        if isinstance(x, Sequence) and all(isinstance(s, str) for s in x):
            return tuple(x)
        raise PerturbationError(f"a phenotype must be a name or a list of names, got {x!r}")
    if phenotype is None or isinstance(phenotype, (str, list, tuple)):
        return [key(phenotype)] * N, False
    try:
        import pandas as pd
        if isinstance(phenotype, pd.Series):
            phenotype = phenotype.to_numpy(dtype=object)
    except ImportError:
        pass
    if isinstance(phenotype, np.ndarray):
        if phenotype.shape != (N,):
            raise PerturbationError(f"per-member phenotypes need one entry per member ({N}), got "
                                    f"shape {phenotype.shape}")
        return [key(x) for x in phenotype], True
    raise PerturbationError("phenotype must be a name or list of names (shared by all members), "
                            "or a numpy array / pandas Series with one entry per member")


def _check_readouts(model: Model, system, readouts):
    outs = tuple(system.outputs)
    if readouts is None:
        rules = [r for r in model.assignment_rule_ids if r in system.outputs]
        return tuple(dict.fromkeys([*model.species_ids, *rules]))
    if isinstance(readouts, str):
        readouts = [readouts]
    readouts = tuple(readouts)
    for r in readouts:
        if r not in system.outputs:
            raise unknown_id("readout", r, outs, model=model.id)
    if not readouts:
        raise InvalidValueError("readouts must name at least one id")
    return readouts


def _hash_arrays(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode())
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()


def _progress_bar(total: int, progress: bool, initial: int = 0):
    if not progress or not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="member", unit_scale=True,
                desc="sweep", smoothing=0.1, dynamic_ncols=True)


# ----------------------------------------------------------------------------------------
# the verb


def sweep(model, t, *, params=None, samples=None, grid: bool = False, drugs=None, phenotype=None,
          readouts=None, executor=None, store=None, chunk_size: int = DEFAULT_CHUNK,
          progress: bool = True, options: SolverOptions | None = None,
          on_failure: str = "record", t0: float = 0.0) -> Ensemble:
    """Simulate many members of ``model`` and collect readouts over time.

    Parameters
    ----------
    model : Model or str or Path
        A loaded model, or anything :func:`simulator.load_model` accepts.
    t : array_like, shape (n_t,), or float
        Output times (sorted, >= ``t0``); a single number means 101 points from ``t0``.
    params : dict or list of dict, optional
        Parameter id -> values: a number (shared by all members) or a 1-D array with one
        value per member (all arrays the same length; with ``grid=True``, every combination
        of the arrays instead). Or a list of N dicts, one parameter set per member.
    samples : simulator.analysis.sampling.Samples, optional
        Parameter sets from a sampler (``latin_hypercube``, ``sobol``, ``log_uniform``);
        combined column-wise with array-valued ``params``.
    grid : bool
        Full factorial of the ``params`` arrays.
    drugs : dict or list of dict, optional
        Drug id -> dose in nM (a number shared by all members, or an array of one dose per
        member), or a list of one such dict per member.
    phenotype : str or list of str or ndarray, optional
        Phenotype name(s) shared by all members, or a numpy array / pandas Series with one
        entry (a name, a tuple of names, or None) per member.
    readouts : str or list of str, optional
        Ids to keep (species, rule targets, parameters, ...). Default: every species and
        assignment-rule target. Only these are held in memory or stored.
    executor : None, "processes" or dask.distributed.Client
        Where chunks run (:mod:`simulator.executors`): this process on all cores with the
        compiled parallel integrator (default), a local process pool, or a Dask cluster.
    store : str or Path, optional
        Directory of a checkpoint: finished chunks are written as they complete, and calling
        ``sweep`` again with the same arguments resumes, skipping the chunks present.
    chunk_size : int
        Members per chunk (unit of work, of progress and of the store).
    progress : bool
        A tqdm bar with members/s and ETA, shown only on a terminal.
    options : SolverOptions, optional
        Tolerances and step limits (default rtol 1e-6, atol 1e-12).
    on_failure : {"record", "raise"}
        ``"record"``: failed members go to ``Ensemble.failures`` and the others are kept;
        ``"raise"``: the first failed member raises IntegrationError.
    t0 : float
        Start of the model clock.

    Returns
    -------
    Ensemble
        ``ens["pS6"]`` has shape (n_members, n_t), also for a single member.

    Raises
    ------
    UnknownIdError, InvalidValueError, PerturbationError
        Bad ids or values (nothing is simulated).
    StoreError
        ``store`` holds results of a different model, parameter set, options or version.
    IntegrationError
        With ``on_failure="raise"`` only.

    Examples
    --------
    >>> ens = sim.sweep(model, np.linspace(0, 24, 25),                       # doctest: +SKIP
    ...                 params={"k1": np.logspace(-2, 1, 100)}, readouts=["pS6"])
    >>> ens["pS6"].shape                                                     # doctest: +SKIP
    (100, 25)
    """
    from simulator import __version__
    from simulator.api import _as_model, _times
    from simulator.executors import run_chunks
    model = _as_model(model)
    if on_failure not in ("record", "raise"):
        raise InvalidValueError(f"on_failure must be 'record' or 'raise', got {on_failure!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise InvalidValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    options = options or SolverOptions()
    from simulator.solvers.compiled import METHOD_NAMES
    if options.method not in METHOD_NAMES:
        raise InvalidValueError(f"sweeps run on the compiled Rosenbrock backend; SolverOptions."
                                f"method {options.method!r} is not available here (use 'auto')")
    t_out = _times(t, t0)
    ids, values, shared = _member_table(model, params, samples, grid)
    N = values.shape[0]
    drug_shared, drug_ids, drug_cols = _drug_columns(model, drugs, N)
    clash = set(drug_ids) & set(ids)
    if clash:
        raise InvalidValueError(f"'{sorted(clash)[0]}' is given both as a parameter and as a drug")
    col_ids = tuple(ids + drug_ids)
    col_values = np.column_stack([values] + [c.reshape(N, 1) for c in drug_cols]) \
        if drug_cols else values
    ph_keys, ph_varies = _phenotype_keys(phenotype, N)
    prep = prepared(model)
    readouts = _check_readouts(model, prep.system, readouts)

    # treatment groups: phenotype overrides, then shared drugs, then shared params
    from simulator.perturb import treatment_overrides
    group_of: dict[tuple, dict] = {}
    for k in dict.fromkeys(ph_keys):
        ov = treatment_overrides(model, phenotype=list(k)) if k else {}
        ov.update(drug_shared)
        ov.update(shared)
        group_of[k] = ov
    member_group = np.array([list(group_of).index(k) for k in ph_keys]) if ph_varies \
        else np.zeros(N, dtype=int)
    groups_list = list(group_of.values())

    provenance = {
        "model_hash": model.hash, "model_id": model.id, "version": __version__,
        "n_members": N, "chunk_size": int(chunk_size), "t0": float(t0),
        "times": t_out.tolist(), "readouts": list(readouts),
        "options": {"rtol": options.rtol, "atol": options.atol, "max_steps": options.max_steps,
                    "first_step": options.first_step, "max_step": options.max_step},
        "params_hash": _hash_arrays(list(col_ids), col_values,
                                    [sorted(g.items()) for g in groups_list], member_group),
    }

    def task(i):
        a, b = i * chunk_size, min(N, (i + 1) * chunk_size)
        mg = member_group[a:b]
        groups = tuple((groups_list[g], np.flatnonzero(mg == g)) for g in np.unique(mg))
        return ChunkTask(ModelRef(model), i, a, col_ids, col_values[a:b], groups, t_out,
                         float(t0), readouts, options)

    n_chunks = (N + chunk_size - 1) // chunk_size
    out = np.full((N, len(t_out), len(readouts)), np.nan)
    status = np.zeros(N, dtype=np.int64)
    reason = np.array([""] * N, dtype=object)
    nsteps = np.zeros(N, dtype=np.int64)

    st = None
    done: set[int] = set()
    if store is not None:
        from simulator.store import Store
        st = Store.open(store, provenance)
        for res in st.load_chunks(n_chunks):
            _place(res, out, status, reason, nsteps)
            done.add(res.index)

    todo = [i for i in range(n_chunks) if i not in done]
    bar = _progress_bar(N, progress, initial=sum(min(N, (i + 1) * chunk_size) - i * chunk_size
                                                for i in done))
    try:
        for res in run_chunks(run_chunk, (task(i) for i in todo), executor):
            if st is not None:
                st.write_chunk(res)
            _place(res, out, status, reason, nsteps)
            if on_failure == "raise" and np.any(res.status != 0):
                m = int(np.flatnonzero(res.status != 0)[0])
                member = res.start + m
                prm = dict(zip(col_ids, map(float, col_values[member])))
                raise IntegrationError(f"sweep member {member} of model '{model.id}' failed: "
                                       f"{res.reason[m]}; parameters: {prm}", params=prm)
            if bar is not None:
                bar.update(len(res.status))
    finally:
        if bar is not None:
            bar.close()
    if st is not None:
        st.mark_complete()

    import pandas as pd
    ptab = pd.DataFrame(col_values, columns=list(col_ids))
    if ph_varies:
        ptab["phenotype"] = ["+".join(k) for k in ph_keys]
    ptab.index.name = "member"
    failed = np.flatnonzero(status != 0)
    fail = ptab.iloc[failed].reset_index()
    fail["status"] = status[failed]
    fail["reason"] = list(reason[failed])
    provenance["n_failed"] = int(failed.size)
    return Ensemble(t=t_out, readouts=readouts, values=out, params=ptab, success=status == 0,
                    failures=fail, nsteps=nsteps, provenance=provenance, model_id=model.id)


def _place(res: ChunkResult, out, status, reason, nsteps):
    a, b = res.start, res.start + len(res.status)
    out[a:b] = res.values
    status[a:b] = res.status
    reason[a:b] = res.reason
    nsteps[a:b] = res.nsteps
