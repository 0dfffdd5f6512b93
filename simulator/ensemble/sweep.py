"""Parameter sweeps: many members of one model, solved in chunks, returned as an
:class:`~simulator.ensemble.result.Ensemble`.

A sweep is a table of *members*: one row per parameter set (plus drugs, phenotypes and
initial values, shared or per member; checked by :func:`simulator.conditions.members`).
Members are cut into chunks of ``chunk_size``; each chunk is one unit of work for an
executor (:mod:`simulator.ensemble.executors`) and one file of a checkpoint store
(:mod:`simulator.ensemble.store`), solved by :func:`simulator.ensemble.chunks.run_chunk`.

Failures
--------
A member whose initial values are not finite, whose integration fails, or whose readouts
turn non-finite is recorded in :attr:`Ensemble.failures` with its parameters, a status code
and the reason; its rows in the arrays are NaN and :attr:`Ensemble.success` is False there.
The other members are kept. ``on_failure="raise"`` raises
:class:`~simulator.errors.IntegrationError` for the first failed member instead.

A member the compiled integrator fails on is run again with the reference integrator (scipy
Radau at the sweep's tolerances; ``fallback=``). When that succeeds the failure was ours: the
member keeps the reference result and is listed in :attr:`Ensemble.fallbacks`. When it fails
too, the model fails there: status ``MODEL_FAILURE`` (-104), with the time and the states
that went non-finite or ran away in the reason.

A lost worker (a process-pool worker or Dask worker killed or crashed mid-chunk) costs a
retry of its chunk on a fresh worker, not the sweep: up to
:data:`~simulator.ensemble.executors.LOST_WORKER_RETRIES` (2) retries on the process pool,
Dask's ``distributed.scheduler.allowed-failures`` (3) on a cluster. Past that limit the
chunk's members fail with status ``WORKER_LOST`` (-103) and the reason; the other chunks are
kept. Results never depend on retries: each chunk is computed from its own inputs and
yielded, placed and stored once.
"""
from __future__ import annotations

import hashlib
import json
import numbers
import sys

import numpy as np
from tqdm.auto import tqdm

from simulator import conditions
from simulator.api import as_model, times
from simulator.ensemble.chunks import (MODEL_FAILURE, ChunkResult, ChunkTask, lost_chunk,
                                       prepared, run_chunk)
from simulator.ensemble.executors import run_chunks
from simulator.ensemble.parameter_sets import parameter_columns
from simulator.ensemble.result import Ensemble
from simulator.ensemble.store import Store
from simulator.errors import IntegrationError, InvalidValueError
from simulator.solvers.base import SolverOptions
from simulator.solvers.compiled import METHOD_NAMES
from simulator.solvers.scipy_backend import METHODS as SCIPY_METHODS
from simulator.version import __version__

__all__ = ["sweep", "DEFAULT_CHUNK", "FALLBACK_MAX_STEPS"]

DEFAULT_CHUNK = 1000
# step budget of the default fallback (Radau steps run in Python, ~1 ms each on 40 species)
FALLBACK_MAX_STEPS = 50_000


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
    return tqdm(total=total, initial=initial, unit="member", unit_scale=True,
                desc="sweep", smoothing=0.1, dynamic_ncols=True)


# ----------------------------------------------------------------------------------------
# the verb


def sweep(model, t, *, params=None, samples=None, grid: bool = False, drugs=None, phenotype=None,
          initial=None, readouts=None, executor=None, store=None,
          chunk_size: int = DEFAULT_CHUNK, progress: bool = True,
          options: SolverOptions | None = None, on_failure: str = "record",
          fallback: bool | SolverOptions = True, t0: float = 0.0) -> Ensemble:
    """Simulate many members of ``model`` and collect readouts over time.

    Parameters
    ----------
    model : Model or str or Path
        A loaded model, or anything :func:`simulator.load_model` accepts.
    t : array_like, shape (n_t,), or float
        Output times (sorted, >= ``t0``); a single number means 101 points from ``t0``.
    params : dict or DataFrame or list of dict, optional
        Parameter id -> values: a number (shared by all members) or a 1-D array with one
        value per member (all arrays the same length; with ``grid=True``, every combination
        of the arrays instead). Or a DataFrame with one column per parameter and one row
        per member (``SamplingResult.ensemble()``), or a list of N dicts, one parameter set
        per member.
    samples : simulator.ensemble.sampling.Samples, optional
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
    initial : dict, optional
        Initial values (species, compartments, parameters): id -> a number shared by all
        members or an array of one value per member.
    readouts : str or list of str, optional
        Ids to keep (species, rule targets, parameters, ...). Default: every species and
        assignment-rule target. Only these are held in memory or stored.
    executor : None, "processes" or dask.distributed.Client
        Where chunks run (:mod:`simulator.ensemble.executors`): this process on all cores with the
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
    fallback : bool or SolverOptions
        The reference integrator for members the compiled one fails on (see "Failures" in
        the module docstring). ``True``: scipy Radau at ``options``' tolerances and step
        bounds, with at most ``FALLBACK_MAX_STEPS`` (50,000) steps; a ``SolverOptions``
        with a scipy method (``"Radau"``, ``"BDF"``, ``"LSODA"``): those; ``False``: none,
        the compiled failure is recorded as is. A fallback runs in Python in the chunk's
        worker, ~0.1-1 s per failed member on a 40-species model.
    t0 : float
        Start of the model clock.

    Returns
    -------
    Ensemble
        ``ens["pS6"]`` has shape (n_members, n_t), also for a single member.
        ``ens.failures`` lists failed members (status, reason), ``ens.fallbacks`` the
        members solved by the reference integrator; ``ens.provenance`` counts both
        (``n_failed``, ``n_model_failures``, ``n_fell_back``).

    Raises
    ------
    UnknownIdError, InvalidValueError, PerturbationError
        Bad ids or values (nothing is simulated), with the messages of
        :mod:`simulator.conditions`.
    StoreError
        ``store`` holds results of a different model, parameter set, options or version, or
        cannot be written (permission denied, disk full); the message names the path.
        Chunks written before stay, and a re-run resumes from them.
    IntegrationError
        With ``on_failure="raise"`` only.

    Examples
    --------
    >>> ens = sim.sweep(model, np.linspace(0, 24, 25),                       # doctest: +SKIP
    ...                 params={"k1": np.logspace(-2, 1, 100)}, readouts=["pS6"])
    >>> ens["pS6"].shape                                                     # doctest: +SKIP
    (100, 25)
    """
    model = as_model(model)
    if on_failure not in ("record", "raise"):
        raise InvalidValueError(f"on_failure must be 'record' or 'raise', got {on_failure!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise InvalidValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    options = options or SolverOptions()
    if options.method not in METHOD_NAMES:
        raise InvalidValueError(f"sweeps run on the compiled Rosenbrock backend; SolverOptions."
                                f"method {options.method!r} is not available here (use 'auto')")
    reference = _fallback_options(fallback, options)
    t_out = times(t, t0)
    prep = prepared(model)
    mem = conditions.members(model, prep.system, params=parameter_columns(params, samples, grid),
                             drugs=drugs, phenotype=phenotype, initial=initial)
    N = mem.n
    readouts = conditions.check_readouts(model, prep.system, readouts)
    col_ids, col_values = mem.ids, mem.values

    provenance = {
        "model_hash": model.hash, "model_id": model.id, "version": __version__,
        "n_members": N, "chunk_size": int(chunk_size), "t0": float(t0),
        "times": t_out.tolist(), "readouts": list(readouts),
        "options": {"rtol": options.rtol, "atol": options.atol, "max_steps": options.max_steps,
                    "first_step": options.first_step, "max_step": options.max_step},
        "fallback": None if reference is None else {
            "method": reference.method, "rtol": reference.rtol, "atol": reference.atol,
            "max_steps": reference.max_steps, "first_step": reference.first_step,
            "max_step": reference.max_step},
        "params_hash": _hash_arrays(list(col_ids), col_values,
                                    [sorted(g.items()) for g in mem.groups], mem.group),
    }

    def task(i):
        a, b = i * chunk_size, min(N, (i + 1) * chunk_size)
        mg = mem.group[a:b]
        groups = tuple((mem.groups[g], np.flatnonzero(mg == g)) for g in np.unique(mg))
        return ChunkTask(model, i, a, col_ids, col_values[a:b], groups, t_out, float(t0),
                         readouts, options, fallback=reference)

    n_chunks = (N + chunk_size - 1) // chunk_size
    out = np.full((N, len(t_out), len(readouts)), np.nan)
    status = np.zeros(N, dtype=np.int64)
    reason = np.array([""] * N, dtype=object)
    nsteps = np.zeros(N, dtype=np.int64)
    fell_back = np.zeros(N, dtype=bool)

    st = None
    done: set[int] = set()
    if store is not None:
        st = Store.open(store, provenance)
        for res in st.load_chunks(n_chunks):
            _place(res, out, status, reason, nsteps, fell_back)
            done.add(res.index)

    todo = [i for i in range(n_chunks) if i not in done]
    bar = _progress_bar(N, progress, initial=sum(min(N, (i + 1) * chunk_size) - i * chunk_size
                                                for i in done))
    try:
        for res in run_chunks(run_chunk, (task(i) for i in todo), executor, on_lost=lost_chunk):
            if st is not None:
                st.write_chunk(res)
            _place(res, out, status, reason, nsteps, fell_back)
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

    ptab = mem.table()
    failed = np.flatnonzero(status != 0)
    fail = ptab.iloc[failed].reset_index()
    fail["status"] = status[failed]
    fail["reason"] = list(reason[failed])
    back = np.flatnonzero(fell_back)
    fb = ptab.iloc[back].reset_index()
    fb["reason"] = list(reason[back])
    provenance["n_failed"] = int(failed.size)
    provenance["n_model_failures"] = int(np.count_nonzero(status == MODEL_FAILURE))
    provenance["n_fell_back"] = int(back.size)
    return Ensemble(t=t_out, readouts=readouts, values=out, params=ptab, success=status == 0,
                    failures=fail, nsteps=nsteps, provenance=provenance, model_id=model.id,
                    fell_back=fell_back, fallbacks=fb)


def _fallback_options(fallback, options: SolverOptions) -> SolverOptions | None:
    """The reference integrator's options for ``sweep(fallback=...)``, or None."""
    if fallback is True:
        return SolverOptions(method="Radau", rtol=options.rtol, atol=options.atol,
                             max_steps=min(options.max_steps, FALLBACK_MAX_STEPS),
                             first_step=options.first_step, max_step=options.max_step)
    if fallback is False or fallback is None:
        return None
    if isinstance(fallback, SolverOptions) and fallback.method in SCIPY_METHODS:
        return fallback
    raise InvalidValueError(f"fallback must be True, False or SolverOptions with a scipy method "
                            f"({', '.join(sorted(SCIPY_METHODS))}), got {fallback!r}")


def _place(res: ChunkResult, out, status, reason, nsteps, fell_back):
    a, b = res.start, res.start + len(res.status)
    out[a:b] = res.values
    status[a:b] = res.status
    reason[a:b] = res.reason
    nsteps[a:b] = res.nsteps
    fell_back[a:b] = res.fallback
