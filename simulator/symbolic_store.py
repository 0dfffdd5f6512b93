"""Symbolic objects kept on disk between processes: a model as read, its ``OdeSystem``.

Reading SBML into sympy and building the system are most of a cached start (0.4 s for the
bundled model, 0.5 s for a 669-reaction one), and nearly all of that is sympy
re-canonicalising expressions as it builds them. A stored object skips that: its
expressions were canonical when stored, so each node is rebuilt as it was (``Basic.__new__``
with the node's arguments and slots, as sympy's own ``_from_args`` does), not re-evaluated.
A store of the bundled model loads in ~10 ms.

:func:`fetch` and :func:`keep` take a kind (``"model"``, ``"system"``) and a key; the caller
builds the key with :func:`key` from what the object depends on (the SBML text, the sources
that read or build it: :func:`simulator.sources.import_closure`), so an edit of either
misses. The store is only a cache: an unreadable, corrupt or unwritable entry means the
object is built again, never an error. Entries are pickles in the user's own cache folder
(:func:`simulator.sources.cache_dir`), like numba's cache beside them; model text is never
unpickled or evaluated.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import platform

import numpy as np
import sympy
from sympy.core.basic import Basic
from sympy.core.operations import LatticeOp

from simulator.model import Model
from simulator.cache_limit import mark_used, prune_after_write
from simulator.sources import cache_dir, write_atomic
from simulator.version import __version__

__all__ = ["dumps", "loads", "fetch", "keep", "key"]

# Basic's own slots, set by Basic.__new__; subclasses add theirs (e.g. is_commutative)
_BASIC_SLOTS = frozenset({"_mhash", "_args", "_assumptions", "__weakref__"})
_SLOTS: dict[type, tuple] = {}


def _slots(cls: type) -> tuple:
    names = _SLOTS.get(cls)
    if names is None:
        names = []
        for klass in cls.__mro__:
            for name in getattr(klass, "__slots__", ()):
                if name not in _BASIC_SLOTS and name not in names:
                    names.append(name)
        names = _SLOTS[cls] = tuple(names)
    return names


def _node(cls: type, args: tuple, slots: tuple) -> Basic:
    """A sympy node as stored: its arguments and slots, without evaluation."""
    obj = Basic.__new__(cls, *args)
    for name, value in slots:
        setattr(obj, name, value)
    return obj


class _Pickler(pickle.Pickler):
    """Pickles sympy trees node by node (:func:`_node`) and everything else as usual, but a
    ``Model`` as itself: ``copyreg`` pickles it as its SBML text (for sweep workers, which
    read it again), which is what the store exists to skip."""

    def reducer_override(self, obj):
        if isinstance(obj, Basic):
            cls = type(obj)
            # atoms (symbols, numbers) pickle as sympy defines; lattice operations (And, Or,
            # Min, Max) keep a set beside their arguments, so they are rebuilt as usual
            if obj.is_Atom or issubclass(cls, LatticeOp) or getattr(obj, "__dict__", None):
                return NotImplemented
            slots = tuple((n, getattr(obj, n)) for n in _slots(cls) if hasattr(obj, n))
            return _node, (cls, obj._args, slots)
        if type(obj) is Model:
            return object.__reduce_ex__(obj, pickle.HIGHEST_PROTOCOL)
        return NotImplemented


def dumps(obj) -> bytes:
    """``obj`` as bytes that :func:`loads` rebuilds without re-evaluating its expressions."""
    out = io.BytesIO()
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return out.getvalue()


def loads(data: bytes):
    return pickle.loads(data)


def key(*parts: str) -> str:
    """A store key from ``parts`` and the versions that shape a stored object."""
    h = hashlib.sha256()
    for part in (__version__, sympy.__version__, np.__version__, platform.python_version(),
                 *parts):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def _path(kind: str, k: str):
    return cache_dir() / "symbolic" / f"{kind}_{k}.pickle"


def fetch(kind: str, k: str):
    """The object kept under ``(kind, k)``, or None (absent, unreadable, corrupt)."""
    path = _path(kind, k)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        obj = loads(data)
    except Exception:        # noqa: BLE001 - a corrupt entry is rebuilt, never an error
        return None
    mark_used(path)
    return obj


def keep(kind: str, k: str, obj) -> None:
    """Store ``obj`` under ``(kind, k)``, atomically; a store that cannot be written (or an
    object too deep to pickle) only means the next process builds it again."""
    try:
        data = dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    try:
        write_atomic(_path(kind, k), data)
    except OSError:
        return
    prune_after_write()
