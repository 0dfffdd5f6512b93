"""Checkpoint stores: kill a sweep with SIGKILL mid-run, re-run, and get the same results;
stores that cannot be written (permissions, full disk) raise StoreError and leave no partial
chunk."""
from __future__ import annotations

import errno
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import simulator as sim
from simulator.ensemble.store import StoreError

ROOT = Path(__file__).resolve().parents[1]
MODEL = """
model twostep
  J1: A -> B; k1*A/(Km + A)
  J2: B -> ; k2*B
  A = 10; B = 0; k1 = 0.5; k2 = 0.1; Km = 2
end
"""
T = np.linspace(0.0, 20.0, 11)

SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import simulator as sim
    from simulator.ensemble.store import Store
    from simulator.ensemble.sampling import latin_hypercube
    _write = Store.write_chunk
    def slow_write(self, res):          # test harness only: make chunks slow to finish
        _write(self, res)
        print("chunk", res.index, flush=True)
        time.sleep(0.4)
    Store.write_chunk = slow_write
    m = sim.load_model(sys.argv[2])
    s = latin_hypercube({"k1": (0.1, 3.0), "k2": (0.01, 1.0)}, 40, seed=0)
    sim.sweep(m, np.linspace(0.0, 20.0, 11), samples=s, readouts=["A", "B"], chunk_size=4,
              store=sys.argv[1], progress=False)
    print("finished", flush=True)
""")


def _samples():
    from simulator.ensemble.sampling import latin_hypercube
    return latin_hypercube({"k1": (0.1, 3.0), "k2": (0.01, 1.0)}, 40, seed=0)


def _call(m, store, samples=None):
    return sim.sweep(m, T, samples=samples or _samples(), readouts=["A", "B"], chunk_size=4,
                     store=store, progress=False)


def test_sigkill_then_resume_gives_identical_results(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    model_file = tmp_path / "m.ant"
    model_file.write_text(MODEL)
    store = tmp_path / "sweep1"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(store), str(model_file)],
                            stdout=subprocess.PIPE, text=True, env=env)
    seen = 0
    deadline = time.time() + 60
    while seen < 3 and time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("chunk"):
            seen += 1
        elif not line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    chunks = sorted(store.glob("chunk_*.parquet"))
    assert 3 <= len(chunks) < 10, "the kill must land mid-run"
    before = {p.name: p.stat().st_mtime_ns for p in chunks}

    m = sim.load_model(str(model_file))
    resumed = _call(m, store)
    full = sim.sweep(m, T, samples=_samples(), readouts=["A", "B"], chunk_size=4, progress=False)
    np.testing.assert_array_equal(resumed.values, full.values)
    np.testing.assert_array_equal(resumed.nsteps, full.nsteps)
    # chunks present were not recomputed; every member stored exactly once
    for name, mtime in before.items():
        assert (store / name).stat().st_mtime_ns == mtime
    files = sorted(store.glob("chunk_*.parquet"))
    assert len(files) == 10
    members = np.concatenate([pq.read_table(f).column("member").to_numpy() for f in files])
    assert sorted(members.tolist()) == list(range(40))
    assert not list(store.glob(".tmp_*"))
    # a third call only reads
    again = _call(m, store)
    np.testing.assert_array_equal(again.values, full.values)


def test_store_of_another_parameter_set_or_model_is_refused(tmp_path):
    m = sim.load_model(MODEL)
    store = tmp_path / "s"
    _call(m, store)
    from simulator.ensemble.sampling import latin_hypercube
    other = latin_hypercube({"k1": (0.1, 3.0), "k2": (0.01, 1.0)}, 40, seed=1)
    with pytest.raises(StoreError, match="different parameter set"):
        _call(m, store, other)
    m2 = sim.load_model(MODEL.replace("Km = 2", "Km = 3"))
    with pytest.raises(StoreError, match="different model"):
        _call(m2, store)
    with pytest.raises(StoreError, match="other readouts"):
        sim.sweep(m, T, samples=_samples(), readouts=["A"], chunk_size=4, store=store,
                  progress=False)
    assert issubclass(StoreError, sim.SimulatorError)


def test_directory_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    m = sim.load_model(MODEL)
    with pytest.raises(StoreError, match="not a checkpoint store"):
        _call(m, tmp_path)


# ----------------------------------------------------------------------------------------
# stores that cannot be written: StoreError naming the path, no partial chunk left behind


def _leftovers(store: Path) -> list:
    return sorted(p.name for p in store.iterdir() if p.name.startswith(".tmp_"))


def _fail_third_chunk(monkeypatch, err: OSError):
    """pyarrow writes two chunks, then part of the third before ``err``."""
    pq = pytest.importorskip("pyarrow.parquet")
    write = pq.write_table
    calls = []

    def failing(table, where, **kw):
        calls.append(where)
        if len(calls) == 3:
            Path(where).write_bytes(b"PAR1 partial")
            raise err
        return write(table, where, **kw)
    monkeypatch.setattr(pq, "write_table", failing)


def test_disk_full_raises_store_error_and_leaves_no_partial_chunk(tmp_path, monkeypatch):
    m = sim.load_model(MODEL)
    store = tmp_path / "full"
    _fail_third_chunk(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(StoreError, match=f"{store}.*chunk_000002.parquet.*No space left on "
                                         f"device.*disk is full"):
        _call(m, store)
    assert sorted(p.name for p in store.glob("chunk_*")) == ["chunk_000000.parquet",
                                                               "chunk_000001.parquet"]
    assert _leftovers(store) == []
    monkeypatch.undo()                      # space again: the same sweep resumes
    full = sim.sweep(m, T, samples=_samples(), readouts=["A", "B"], chunk_size=4, progress=False)
    np.testing.assert_array_equal(_call(m, store).values, full.values)


def test_permission_denied_raises_store_error_naming_the_path(tmp_path, monkeypatch):
    m = sim.load_model(MODEL)
    store = tmp_path / "ro"
    # root ignores file modes (as in CI), so the refusal is mocked where files are made
    import tempfile
    make = tempfile.mkstemp

    def refuse(*a, suffix="", dir=None, **kw):
        if suffix == ".parquet":
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return make(*a, suffix=suffix, dir=dir, **kw)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(StoreError, match=f"{store}.*Permission denied.*not writable"):
        _call(m, store)
    assert (store / "manifest.json").exists()
    assert not list(store.glob("chunk_*")) and _leftovers(store) == []
    # a store directory that cannot even be made
    monkeypatch.setattr(Path, "mkdir", lambda *a, **k: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, "Permission denied")))
    with pytest.raises(StoreError, match=f"{tmp_path / 'new'}.*Permission denied"):
        _call(m, tmp_path / "new")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root writes into read-only directories")
def test_read_only_directory_raises_store_error(tmp_path):
    m = sim.load_model(MODEL)
    store = tmp_path / "ro"
    store.mkdir()
    store.chmod(0o555)
    try:
        with pytest.raises(StoreError, match=f"{store}.*not writable"):
            _call(m, store)
    finally:
        store.chmod(0o755)


def test_tiny_tmpfs_fills_up_cleanly(tmp_path):
    """A real full disk: a 48 kB tmpfs (needs root and the right to mount; else skipped)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        m = sim.load_model(MODEL)
        from simulator.ensemble.sampling import latin_hypercube
        s = latin_hypercube({"k1": (0.1, 3.0), "k2": (0.01, 1.0)}, 200, seed=0)
        t = np.linspace(0.0, 20.0, 201)
        with pytest.raises(StoreError, match=f"{mnt / 'sweep'}.*No space left.*disk is full"):
            sim.sweep(m, t, samples=s, readouts=["A", "B"], chunk_size=10,
                      store=mnt / "sweep", progress=False)
        files = sorted((mnt / "sweep").glob("chunk_*.parquet"))
        assert 0 < len(files) < 20 and _leftovers(mnt / "sweep") == []
        pq = pytest.importorskip("pyarrow.parquet")
        for f in files:                       # every chunk present is whole
            assert pq.read_table(f).num_rows == 10
    finally:
        gc.collect()        # pyarrow's readers keep their files open until collected
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
