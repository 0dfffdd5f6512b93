"""Where the chunks of a sweep run: this process, a local process pool, or a Dask cluster.

Every executor runs the same picklable work function on :class:`~simulator.ensemble.chunks.ChunkTask`
objects and yields the results as chunks finish (in any order):

``None``
    This process. Chunks run one after another; inside a chunk the compiled integrator runs
    members in parallel on all of numba's threads.
``"processes"``
    A :class:`concurrent.futures.ProcessPoolExecutor` (spawned workers, one per core).
    Each worker runs single-threaded: ``OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS`` and
    ``NUMBA_NUM_THREADS`` are 1 in its environment before numpy is imported, and threadpoolctl
    (when installed) pins BLAS pools too, so workers never oversubscribe the cores.
``dask.distributed.Client``
    Chunks are submitted to the cluster with ``client.map``; each chunk runs with one numba
    thread (a Dask worker thread is the unit of parallelism).

Models travel as SBML text (the pickling :mod:`simulator.io` registers); each worker
process rebuilds a model once per hash and compiles it once (the generated code is also
cached on disk), never per chunk or member.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from simulator.errors import InvalidValueError

__all__ = ["run_chunks", "worker_count"]

_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
}
_ENV_LOCK = threading.Lock()


def worker_count() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_chunks(fn: Callable, tasks: Iterable, executor=None, *, max_workers: int | None = None
               ) -> Iterator:
    """Run ``fn(task)`` for every task on ``executor``; yield results as they complete.

    Raises
    ------
    InvalidValueError
        An unknown executor.
    """
    if executor is None or executor == "inprocess":
        yield from (fn(task) for task in tasks)
    elif executor == "processes":
        yield from _processes(fn, tasks, max_workers or worker_count())
    elif _is_dask_client(executor):
        yield from _dask(fn, tasks, executor)
    else:
        raise InvalidValueError(
            f"executor must be None (this process), 'processes' or a dask.distributed.Client, "
            f"got {executor!r}")


def _single_threaded(task):
    return dataclasses.replace(task, threads=1) if dataclasses.is_dataclass(task) else task


def _init_worker():
    os.environ.update(_SINGLE_THREAD_ENV)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass


def _processes(fn, tasks, n_workers) -> Iterator:
    ctx = mp.get_context("spawn")  # numba's threads in this process make fork unsafe
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
        os.environ.update(_SINGLE_THREAD_ENV)   # inherited by the spawned workers
        try:
            pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx,
                                       initializer=_init_worker)
            # start every worker now, while the environment is pinned
            warm = [pool.submit(os.getpid) for _ in range(n_workers)]
            for f in warm:
                f.result()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    try:
        it = iter(tasks)
        pending = set()
        # keep at most 2 chunks per worker in flight: memory stays bounded for huge sweeps
        for task in it:
            pending.add(pool.submit(fn, _single_threaded(task)))
            if len(pending) >= 2 * n_workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _is_dask_client(obj) -> bool:
    cls = type(obj)
    return cls.__name__ == "Client" and cls.__module__.startswith("distributed")


def _dask(fn, tasks, client) -> Iterator:
    from distributed import as_completed
    n_workers = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
    it = iter(tasks)
    futures = []
    for task in it:
        futures.append(client.submit(fn, _single_threaded(task), pure=False))
        if len(futures) >= 2 * n_workers:
            break
    ac = as_completed(futures)
    try:
        for fut in ac:
            res = fut.result()
            fut.release()
            nxt = next(it, None)
            if nxt is not None:
                ac.add(client.submit(fn, _single_threaded(nxt), pure=False))
            yield res
    finally:
        for f in futures:
            if not f.done():
                f.cancel()
