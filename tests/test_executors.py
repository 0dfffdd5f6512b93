"""Executors: a process pool and a real Dask LocalCluster give the in-process results."""
from __future__ import annotations

import numpy as np
import pytest

import simulator as sim
from simulator.ensemble.sampling import latin_hypercube
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


def test_model_pickles_as_sbml_and_is_read_once_per_process(setup, monkeypatch):
    import pickle

    import simulator.io as io
    m, _, _ = setup
    blob = pickle.dumps(m)
    assert len(blob) < 4 * len(m.sbml) + 1000
    monkeypatch.setattr(io, "_REBUILT", {})
    reads = []
    read = io.read_sbml_string
    monkeypatch.setattr(io, "read_sbml_string", lambda *a: reads.append(a) or read(*a))
    a, b = pickle.loads(blob), pickle.loads(blob)
    assert len(reads) == 1 and a.hash == b.hash == m.hash and a.sbml == m.sbml
