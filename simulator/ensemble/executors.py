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

Lost workers
------------
A worker that dies while it runs a chunk (killed by a signal or the out-of-memory killer,
crashed in native code, ``os._exit``) never ends the run:

- process pool: the pool breaks (:class:`~concurrent.futures.process.BrokenProcessPool`),
  the chunks that had finished are kept, and a fresh pool is started. Every chunk that was
  still in flight is run again *alone* on the fresh pool, so a loss is blamed on the chunk
  that caused it and never on the chunks beside it. A chunk whose worker is lost while it
  runs alone is retried up to ``LOST_WORKER_RETRIES`` (2) times; when its worker is lost on
  the last retry too, ``on_lost(task, reason)`` gives its result (for a sweep: its members
  failed with status :data:`~simulator.ensemble.chunks.WORKER_LOST` and the reason).
- Dask: the scheduler itself runs the chunk of a lost worker again on another worker, up to
  its ``distributed.scheduler.allowed-failures`` setting (default 3); past it the chunk's
  future fails with ``KilledWorker`` and ``on_lost`` gives its result.

Each chunk's result is yielded exactly once, whatever the retries, so a store writes it once.

By name
-------
:func:`open_executor` turns a name (``"inprocess"``, ``"processes"``, ``"dask"``) and an
optional Dask scheduler address into one of the executors above, for command lines: with
``"dask"`` it connects to the scheduler, or starts a local cluster of worker processes
when no address is given, and closes what it opened at the end.

There is no thread-pool executor: in this process the compiled integrator already runs a
sweep chunk's members on all of numba's threads, and a calibration problem holds
per-evaluation state (its last failure, its lazily built sensitivities), so starts must not
share one problem across threads.
"""
from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from simulator.errors import InvalidValueError

__all__ = ["run_chunks", "worker_count", "open_executor", "EXECUTORS", "LOST_WORKER_RETRIES"]

#: the executors by name (:func:`open_executor`)
EXECUTORS = ("inprocess", "processes", "dask")

# a chunk whose worker is lost is run again up to this many times (process pool)
LOST_WORKER_RETRIES = 2

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


@contextlib.contextmanager
def open_executor(name: str | None = None, *, scheduler: str | None = None,
                  n_workers: int | None = None, timeout: float = 10.0):
    """The executor named ``name``, for :func:`run_chunks` (and ``sweep``/``calibrate``'s
    ``executor=``), open for the ``with`` block.

    Parameters
    ----------
    name : {None, "inprocess", "processes", "dask"}
        ``None`` or ``"inprocess"``: this process; ``"processes"``: a process pool;
        ``"dask"``: a ``dask.distributed.Client``. A ``scheduler`` alone means ``"dask"``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``). Its workers need
        Crosstalk installed and must see the model or problem files at the same paths.
        Without it, ``"dask"`` starts a local cluster of ``n_workers`` worker processes
        (default: the cores available), one thread each, and closes it at the end.
    timeout : float
        Seconds to wait for the scheduler and for its first worker.

    Raises
    ------
    InvalidValueError
        An unknown name, a scheduler with another executor, a scheduler that cannot be
        reached or has no worker within ``timeout``.
    ImportError
        ``"dask"`` without dask.distributed installed (with the install hint).
    """
    if scheduler is not None and name is None:
        name = "dask"
    if name not in (None, *EXECUTORS):
        raise InvalidValueError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
    if scheduler is not None and name != "dask":
        raise InvalidValueError(f"a Dask scheduler address ({scheduler!r}) goes with the "
                                f"'dask' executor, not {name!r}")
    if name in (None, "inprocess"):
        yield None
        return
    if name == "processes":
        yield "processes"
        return
    try:
        import distributed
    except ImportError as err:
        raise ImportError("the 'dask' executor needs dask.distributed: "
                          "pip install 'dask[distributed]'") from err
    if scheduler is None:
        with distributed.LocalCluster(n_workers=n_workers or worker_count(),
                                      threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as err:
        raise InvalidValueError(f"cannot connect to the Dask scheduler at {scheduler!r}: "
                                f"{err}; start one with `dask scheduler` and workers with "
                                f"`dask worker ADDRESS`") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise InvalidValueError(f"the Dask scheduler at {scheduler!r} has no worker "
                                    f"after {timeout:g} s; start one with `dask worker "
                                    f"{scheduler}`") from None
        yield client


def run_chunks(fn: Callable, tasks: Iterable, executor=None, *, on_lost: Callable,
               max_workers: int | None = None, retries: int | None = None) -> Iterator:
    """Run ``fn(task)`` for every task on ``executor``; yield results as they complete.

    Parameters
    ----------
    fn : picklable callable
        The work function, ``fn(task) -> result``.
    tasks : iterable
        Picklable tasks, consumed lazily (at most two per worker in flight).
    executor : None, "processes" or dask.distributed.Client
        See the module docstring.
    on_lost : callable
        ``on_lost(task, reason) -> result``: the result of a task given up because its
        worker was lost on every try (see "Lost workers" in the module docstring).
    max_workers : int, optional
        Size of the process pool (default: the cores available).
    retries : int, optional
        Process pool: how many times a task whose worker was lost is run again (default
        ``LOST_WORKER_RETRIES``).

    Raises
    ------
    InvalidValueError
        An unknown executor.
    """
    if executor is None or executor == "inprocess":
        yield from (fn(task) for task in tasks)
    elif executor == "processes":
        yield from _processes(fn, tasks, max_workers or worker_count(), on_lost,
                              LOST_WORKER_RETRIES if retries is None else retries)
    elif _is_dask_client(executor):
        yield from _dask(fn, tasks, executor, on_lost)
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


def _start_pool(ctx, n_workers) -> ProcessPoolExecutor:
    """A process pool whose workers are all started now, under the single-thread environment."""
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
    return pool


def _processes(fn, tasks, n_workers, on_lost, retries) -> Iterator:
    ctx = mp.get_context("spawn")  # numba's threads in this process make fork unsafe
    pool = None             # started when there is something to run
    it = iter(tasks)
    exhausted = False
    running = {}            # future -> (task, losses)
    suspects = deque()      # (task, losses): in flight when a worker was lost; run alone.
    # losses: how often its worker was lost while it ran alone
    unsent = deque()        # (task, losses): refused by a pool that broke before they ran

    def submit(task, losses) -> bool:
        nonlocal pool
        if pool is None:
            pool = _start_pool(ctx, n_workers)
        try:
            running[pool.submit(fn, _single_threaded(task))] = (task, losses)
            return True
        except BrokenProcessPool:
            # a worker died since the last wait: this task never ran, so it is no suspect;
            # it goes first once the pool is restarted (the lost chunk is handled below)
            unsent.append((task, losses))
            return False

    try:
        while True:
            if suspects:
                if not running:
                    submit(*suspects.popleft())
            else:
                # keep at most 2 chunks per worker in flight: memory stays bounded
                while len(running) < 2 * n_workers:
                    if unsent:
                        if not submit(*unsent.popleft()):
                            break
                        continue
                    task = _END if exhausted else next(it, _END)
                    if task is _END:
                        exhausted = True
                        break
                    if not submit(task, 0):
                        break
            if not running:
                if unsent or suspects:      # the pool broke with nothing of ours in it
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = None
                    continue
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                # a worker died: the pool is unusable and fails every future still in it
                done, _ = wait(running, return_when=ALL_COMPLETED)
            lost = []
            for f in done:
                task, losses = running.pop(f)
                err = f.exception()
                if isinstance(err, BrokenProcessPool):
                    lost.append((task, losses, err))
                else:
                    yield f.result()
            if not lost:
                continue
            pool.shutdown(wait=True, cancel_futures=True)
            pool = None
            if len(lost) == 1:      # it ran alone: the loss is its own
                task, losses, err = lost[0]
                if losses + 1 > retries:
                    yield on_lost(task, f"its worker process was lost on each of {losses + 1} "
                                        f"tries (killed, or crashed: {err}); "
                                        f"{retries} retries allowed (LOST_WORKER_RETRIES)")
                else:
                    suspects.appendleft((task, losses + 1))
            else:                   # any of them may have caused it: each runs alone next
                suspects.extend((task, losses) for task, losses, _ in lost)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_END = object()


def _is_dask_client(obj) -> bool:
    cls = type(obj)
    return cls.__name__ == "Client" and cls.__module__.startswith("distributed")


def _dask(fn, tasks, client, on_lost) -> Iterator:
    from distributed import KilledWorker, as_completed
    n_workers = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
    it = iter(tasks)
    pending = {}            # key -> (future, task)

    def submit(task):
        fut = client.submit(fn, _single_threaded(task), pure=False)
        pending[fut.key] = (fut, task)
        return fut

    # keep at most 2 chunks per worker in flight (range first, so zip takes no extra task)
    first = [submit(task) for _, task in zip(range(2 * n_workers), it)]
    ac = as_completed(first)
    try:
        for fut in ac:
            _, task = pending.pop(fut.key)
            try:
                res = fut.result()
            except KilledWorker as err:   # the scheduler's retries on other workers used up
                res = on_lost(task, f"its Dask worker was lost on every try (KilledWorker: "
                                    f"{err}); the scheduler's distributed.scheduler."
                                    f"allowed-failures limits the retries")
            fut.release()
            nxt = next(it, _END)
            if nxt is not _END:
                ac.add(submit(nxt))
            yield res
    finally:
        for f, _ in pending.values():
            f.cancel()
