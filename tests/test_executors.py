"""Executors: a process pool and a real Dask LocalCluster give the in-process results, also
when workers die mid-chunk."""
from __future__ import annotations

import functools
import importlib
import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

import simulator as sim
from simulator.ensemble.chunks import WORKER_LOST
from simulator.ensemble import executors
from simulator.ensemble.sampling import latin_hypercube
from simulator.ensemble.store import Store
from simulator.errors import InvalidValueError

MODEL = """
model twostep
  J1: A -> B; k1*A/(Km + A)
  J2: B -> ; k2*B
  A = 10; B = 0; k1 = 0.5; k2 = 0.1; Km = 2
  ratio := B / (A + B)
end
"""
T = np.linspace(0.0, 20.0, 11)


@pytest.fixture(scope="module")
def setup():
    m = sim.load_model(MODEL)
    s = latin_hypercube({"k1": (0.1, 3.0), "k2": (0.01, 1.0)}, 24, seed=0)
    ref = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5, progress=False)
    return m, s, ref


def test_process_pool_equals_in_process(setup):
    m, s, ref = setup
    ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                    executor="processes", progress=False)
    np.testing.assert_array_equal(ens.values, ref.values)
    np.testing.assert_array_equal(ens.nsteps, ref.nsteps)


def test_dask_local_cluster_equals_in_process(setup):
    distributed = pytest.importorskip("distributed")
    m, s, ref = setup
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                        executor=client, progress=False)
        # every chunk ran on the workers, not here
        pids = client.run(lambda: __import__("os").getpid())
        assert len(pids) == 2
    np.testing.assert_array_equal(ens.values, ref.values)
    assert ens.success.all()


def test_unknown_executor_is_an_error(setup):
    m, s, _ = setup
    with pytest.raises(InvalidValueError, match="executor"):
        sim.sweep(m, T, samples=s, executor="threads", progress=False)


def test_executors_by_name_and_a_running_scheduler(setup):
    distributed = pytest.importorskip("distributed")
    m, s, ref = setup
    for name, expected in ((None, None), ("inprocess", None), ("processes", "processes")):
        with executors.open_executor(name) as ex:
            assert ex == expected
    with pytest.raises(InvalidValueError, match="unknown executor 'threads'"):
        with executors.open_executor("threads"):
            pass
    with pytest.raises(InvalidValueError, match="goes with the 'dask' executor"):
        with executors.open_executor("processes", scheduler="tcp://127.0.0.1:1"):
            pass
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp://", dashboard_address=None) as cluster:
        with executors.open_executor(scheduler=cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address
            ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                            executor=client, progress=False)
        assert client.status == "closed"       # the client closed, the cluster still up
        assert cluster.scheduler_info["workers"]
    np.testing.assert_array_equal(ens.values, ref.values)


def test_model_pickles_as_sbml_and_is_read_once_per_process(setup, monkeypatch):
    import pickle

    import simulator.io.sbml as io
    m, _, _ = setup
    blob = pickle.dumps(m)
    assert len(blob) < 4 * len(m.sbml) + 1000
    monkeypatch.setattr(io, "_REBUILT", {})
    reads = []
    read = io.read_sbml_string
    monkeypatch.setattr(io, "read_sbml_string", lambda *a: reads.append(a) or read(*a))
    a, b = pickle.loads(blob), pickle.loads(blob)
    assert len(reads) == 1 and a.hash == b.hash == m.hash and a.sbml == m.sbml


# ----------------------------------------------------------------------------------------
# lost workers: a chunk's worker dies mid-chunk (test work functions, run in the workers)

def _dying(marker_dir: str, kill: dict, task):
    """Solve ``task``, but kill this worker process first if ``kill`` says so for its chunk:
    ``kill[index]`` is the number of tries to kill (a large number: every try). Each try
    leaves a file in ``marker_dir``, so tries are counted across processes."""
    import signal
    from pathlib import Path

    from simulator.ensemble.chunks import run_chunk
    res = run_chunk(task)                      # the work is done, then the worker dies
    if task.index in kill:
        tries = len(list(Path(marker_dir).glob(f"chunk{task.index}_*")))
        (Path(marker_dir) / f"chunk{task.index}_{tries}").touch()
        if tries < kill[task.index]:
            if tries % 2:
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
    return res


def _tries(marker_dir, index) -> int:
    return len(list(marker_dir.glob(f"chunk{index}_*")))


def _kill_in_workers(monkeypatch, marker_dir, kill):
    sweep_module = importlib.import_module("simulator.ensemble.sweep")
    monkeypatch.setattr(sweep_module, "run_chunk",
                        functools.partial(_dying, str(marker_dir), kill))


def test_process_pool_worker_killed_mid_chunk_is_retried_and_stored_once(setup, tmp_path,
                                                                         monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    m, s, ref = setup
    _kill_in_workers(monkeypatch, tmp_path, {2: 1})      # chunk 2's first try kills its worker
    written = []
    write = Store.write_chunk
    monkeypatch.setattr(Store, "write_chunk", lambda self, res: written.append(res.index) or
                        write(self, res))
    store = tmp_path / "store"
    ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                    executor="processes", store=store, progress=False)
    assert _tries(tmp_path, 2) == 2
    np.testing.assert_array_equal(ens.values, ref.values)
    np.testing.assert_array_equal(ens.nsteps, ref.nsteps)
    assert ens.success.all() and len(ens.failures) == 0
    # every chunk written once, every member stored once
    assert sorted(written) == [0, 1, 2, 3, 4]
    members = np.concatenate([pq.read_table(f).column("member").to_numpy()
                              for f in sorted(store.glob("chunk_*.parquet"))])
    assert sorted(members.tolist()) == list(range(24))
    assert not list(store.glob(".tmp_*"))


def test_chunk_that_always_kills_its_worker_fails_its_members_only(setup, tmp_path,
                                                                   monkeypatch):
    m, s, ref = setup
    _kill_in_workers(monkeypatch, tmp_path, {1: 10**6})
    monkeypatch.setattr(executors, "LOST_WORKER_RETRIES", 1)     # (each loss costs a new pool)
    ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                    executor="processes", progress=False)
    # 1 + LOST_WORKER_RETRIES tries alone, after one try beside other chunks when the first
    # loss could not be blamed on it (it depends on which chunks were still in flight)
    assert 2 <= _tries(tmp_path, 1) <= 3
    lost = np.arange(5, 10)
    assert ens.success.tolist() == [not 5 <= i < 10 for i in range(24)]
    assert ens.failures["member"].tolist() == lost.tolist()
    assert (ens.failures["status"] == WORKER_LOST).all()
    assert ens.failures["reason"].str.contains(
        "chunk 1 .*worker process was lost on each of 2 tries").all()
    kept = np.setdiff1d(np.arange(24), lost)
    np.testing.assert_array_equal(ens.values[kept], ref.values[kept])
    assert np.isnan(ens.values[lost]).all()


def test_dask_lost_worker_is_retried_then_reported(setup, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    import dask
    m, s, ref = setup
    # chunk 0 kills its worker once (the scheduler retries it on a fresh worker); chunk 3
    # on every try: past allowed-failures its members fail, with the reason
    _kill_in_workers(monkeypatch, tmp_path, {0: 1, 3: 10**6})
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ens = sim.sweep(m, T, samples=s, readouts=["A", "B", "ratio"], chunk_size=5,
                        executor=client, progress=False)
    # chunk 3 kills its worker on each of its 2 tries. Chunk 0 kills its worker once; it
    # can also have been in flight on the worker chunk 3 killed, which costs it one more try
    # (it depends on scheduling), and it then succeeds
    assert _tries(tmp_path, 3) == 2 and 2 <= _tries(tmp_path, 0) <= 3
    lost = np.arange(15, 20)
    assert ens.failures["member"].tolist() == lost.tolist()
    assert (ens.failures["status"] == WORKER_LOST).all()
    assert ens.failures["reason"].str.contains("KilledWorker").all()
    kept = np.setdiff1d(np.arange(24), lost)
    np.testing.assert_array_equal(ens.values[kept], ref.values[kept])


class _BreakingPool:
    """A stand-in process pool: runs tasks at once, until its ``broken_at``-th submission,
    whose worker dies; it refuses every later submission, as a broken pool does."""

    def __init__(self, broken_at):
        self.calls, self.broken_at = 0, broken_at

    def submit(self, fn, task):
        self.calls += 1
        if self.broken_at is not None and self.calls > self.broken_at:
            raise BrokenProcessPool("a child process terminated abruptly")
        future = Future()
        if self.calls == self.broken_at:
            future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        else:
            future.set_result(fn(task))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_a_pool_that_breaks_between_two_submissions_loses_no_task(monkeypatch):
    """The race CI met: a worker dies after the last wait, so the next submission itself
    raises; that task never ran and must go again, uncounted, on the restarted pool."""
    pools = []
    monkeypatch.setattr(executors, "_start_pool", lambda ctx, n: pools.append(
        _BreakingPool(2 if not pools else None)) or pools[-1])
    monkeypatch.setattr(executors, "_single_threaded", lambda task: task)
    out = list(executors._processes(lambda t: t * 10, range(6), 2, lambda t, why: ("lost", t),
                                    retries=1))
    assert sorted(out) == [0, 10, 20, 30, 40, 50]
    assert len(pools) == 2
