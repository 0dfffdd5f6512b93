"""Checkpoint stores for sweeps: one Parquet file per finished chunk, plus a manifest.

Layout of a store directory::

    manifest.json           what the sweep is: model hash, parameter-set hash, times,
                            readouts, options, chunk size, package version
    chunk_000000.parquet    one file per finished chunk, written atomically
    ...

Each chunk file is written to a temporary name in the same directory and renamed into place
with :func:`os.replace`, so a chunk is either wholly present or absent, whenever the process
is killed. Re-running the same sweep loads the chunks present and computes only the missing
ones; a chunk is never computed or stored twice. A store made by a different model,
parameter set, options or package version is refused with :class:`StoreError`.

Chunk file columns: ``member`` (int64), ``status`` (int64), ``reason`` (string), ``nsteps``
(int64), ``fallback`` (bool: solved by the reference integrator), ``values`` (fixed-size
list of float64: the member's ``(n_t, n_readouts)`` block).

A store that cannot be written (permission denied, read-only file system, disk full) raises
:class:`StoreError` naming the path and the cause; the temporary file of the write that
failed is removed, so no partial chunk is ever left, and the chunks already written are
kept for a re-run to resume from.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from simulator.ensemble.chunks import ChunkResult
from simulator.errors import StoreError

__all__ = ["Store", "StoreError"]

MANIFEST = "manifest.json"
FORMAT = 1
# entries that must match for a store to be resumed
_IDENTITY = ("model_hash", "params_hash", "version", "times", "readouts", "options",
             "fallback", "chunk_size", "n_members", "t0")


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover
        raise ImportError("checkpoint stores need pyarrow: pip install pyarrow") from err
    return pa, pq


def _atomic_write(path: Path, write) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, then rename it to ``path``.

    Raises
    ------
    StoreError
        The file cannot be written (an ``OSError``: permissions, disk full, ...); the
        temporary file is removed.
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
        os.close(fd)
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(err, OSError):
            raise _write_error(path, err) from err
        raise


def _write_error(path: Path, err: OSError) -> StoreError:
    code = err.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        hint = "the disk is full: free space there, or give a store on another disk"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "it is not writable: fix its permissions, or give another store directory"
    else:
        hint = "give another store directory"
    return StoreError(f"checkpoint store {path.parent}: cannot write {path} ({err}); {hint}. "
                      f"Chunks written before are kept: the same sweep resumes from them")


class Store:
    """A checkpoint directory bound to one sweep (see the module docstring)."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest

    @classmethod
    def open(cls, path, identity: dict) -> "Store":
        """Create ``path`` for the sweep described by ``identity``, or reopen it.

        Raises
        ------
        StoreError
            The directory holds another sweep, or is not a store.
        """
        path = Path(path)
        man_path = path / MANIFEST
        wanted = {k: identity[k] for k in _IDENTITY}
        if man_path.exists():
            try:
                manifest = json.loads(man_path.read_text())
            except (OSError, ValueError) as err:
                raise StoreError(f"checkpoint store {path}: {MANIFEST} is unreadable ({err}); "
                                 f"delete the directory to start again") from err
            diff = [k for k in _IDENTITY if _norm(manifest.get(k)) != _norm(wanted[k])]
            if diff:
                what = {"model_hash": "a different model", "params_hash": "a different parameter set "
                        "(params, samples, drugs or phenotypes)", "version": "another Crosstalk version "
                        f"({manifest.get('version')})", "times": "other output times",
                        "readouts": "other readouts", "options": "other solver options",
                        "chunk_size": "another chunk_size", "n_members": "another number of members",
                        "t0": "another start time", "fallback": "another fallback setting"}
                reasons = "; ".join(what[k] for k in diff)
                raise StoreError(f"checkpoint store {path} was made by {reasons}; use another "
                                 f"store directory, or delete this one to start again")
            for stale in path.glob(".tmp_*"):   # a write cut short by a kill
                try:
                    stale.unlink()
                except OSError:
                    pass
            return cls(path, manifest)
        if path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
            raise StoreError(f"{path} exists and is not a checkpoint store (no {MANIFEST}); "
                             f"give an empty or new directory")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _write_error(path / MANIFEST, err) from err
        manifest = {"format": FORMAT, **identity, "complete": False}
        _atomic_write(man_path, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)))
        return cls(path, manifest)

    def chunk_path(self, index: int) -> Path:
        return self.path / f"chunk_{index:06d}.parquet"

    def write_chunk(self, res) -> None:
        """Write one :class:`~simulator.ensemble.chunks.ChunkResult` atomically."""
        pa, pq = _pyarrow()
        c = len(res.status)
        block = np.ascontiguousarray(res.values, dtype=np.float64).reshape(c, -1)
        width = block.shape[1]
        table = pa.table({
            "member": pa.array(np.arange(res.start, res.start + c, dtype=np.int64)),
            "status": pa.array(np.asarray(res.status, dtype=np.int64)),
            "reason": pa.array([str(r) for r in res.reason], type=pa.string()),
            "nsteps": pa.array(np.asarray(res.nsteps, dtype=np.int64)),
            "fallback": pa.array(np.asarray(res.fallback, dtype=bool)),
            "values": pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), width),
        })
        _atomic_write(self.chunk_path(res.index),
                      lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def load_chunks(self, n_chunks: int):
        """Yield the :class:`ChunkResult` of every chunk present."""
        _, pq = _pyarrow()
        n_t, n_r = len(self.manifest["times"]), len(self.manifest["readouts"])
        for i in range(n_chunks):
            p = self.chunk_path(i)
            if not p.exists():
                continue
            try:
                tab = pq.read_table(p)
                member = tab.column("member").to_numpy()
                vals = tab.column("values").combine_chunks().flatten().to_numpy()
                c = len(member)
                yield ChunkResult(index=i, start=int(member[0]),
                                  values=vals.reshape(c, n_t, n_r).copy(),
                                  status=tab.column("status").to_numpy().astype(np.int64),
                                  reason=tab.column("reason").to_pylist(),
                                  nsteps=tab.column("nsteps").to_numpy().astype(np.int64),
                                  fallback=tab.column("fallback").to_numpy().astype(bool))
            except Exception as err:  # a damaged chunk is recomputed, not trusted
                if isinstance(err, (KeyboardInterrupt, SystemExit)):
                    raise
                try:
                    p.unlink()
                except OSError:
                    pass

    def mark_complete(self) -> None:
        if not self.manifest.get("complete"):
            self.manifest["complete"] = True
            m = self.manifest
            _atomic_write(self.path / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(m, indent=1)))


def _norm(x):
    return json.loads(json.dumps(x))
