"""A size bound on the disk cache of generated code and stored symbolic results.

Every model loaded leaves files in :func:`simulator.sources.cache_dir`: its IR
(``ct_<key>.ll``), machine code (``ct_<key>.o`` and ``.json``) and the stored symbolic
import and system (``symbolic/*.pickle``). Editing the package or the model changes their
keys, so without a bound the folder only grows (324 MB on a development machine after many
test runs). Entries are kept least recently used first out: a hit refreshes an entry's
modification time (:func:`mark_used`), and after this process writes new entries the
oldest are removed until the cache is at :data:`PRUNE_TO` of its limit
(:func:`prune_after_write`). A removed entry only costs a rebuild; readers already holding
a file keep it (POSIX unlink), and a reader racing a removal sees a missing file and
rebuilds.

The limit is ``$CROSSTALK_CACHE_MAX_MB`` (default :data:`DEFAULT_MAX_MB`); ``crosstalk
cache`` reports and prunes it. numba's cache of the integrator is a fixed set of files and
is not touched.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import InvalidValueError
from simulator.sources import cache_dir

__all__ = ["DEFAULT_MAX_MB", "PRUNE_TO", "CacheUsage", "entries", "usage", "max_bytes",
           "prune", "prune_after_write", "mark_used", "clear"]

DEFAULT_MAX_MB = 1024
#: a prune removes entries until the cache holds this fraction of its limit, so that the
#: next few new models do not each trigger one
PRUNE_TO = 0.8
#: a process checks the cache's size after writing at most this often (s)
CHECK_EVERY = 30.0
_last_check = float("-inf")


@dataclass(frozen=True)
class CacheUsage:
    """What the cache holds: its folder, its entries' total size and count, its limit."""
    folder: Path
    total: int
    files: int
    limit: int

    def __str__(self) -> str:
        return (f"{self.folder}: {self.files} files, {self.total / 2**20:.1f} MB of a "
                f"{self.limit / 2**20:.0f} MB limit")


def _is_entry(name: str) -> bool:
    return name.startswith("ct_") and not name.startswith(".tmp_")


def entries(folder: Path | None = None) -> list[tuple[float, int, Path]]:
    """``(modification time, size, path)`` of each cache entry, oldest first: generated
    code (``ct_*``) and stored symbolic results (``symbolic/*.pickle``); the import scans
    and anything else in the folder are not entries."""
    folder = cache_dir() if folder is None else Path(folder)
    found = []
    for sub, match in ((folder, _is_entry),
                       (folder / "symbolic", lambda n: n.endswith(".pickle"))):
        try:
            listing = list(os.scandir(sub))
        except OSError:
            continue
        for item in listing:
            if not match(item.name):
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue                 # removed meanwhile
            found.append((st.st_mtime, st.st_size, Path(item.path)))
    found.sort()
    return found


def max_bytes() -> int:
    """The limit, from ``$CROSSTALK_CACHE_MAX_MB`` (a number of MB, 0 keeps nothing).

    Raises
    ------
    InvalidValueError
        The variable is not a non-negative number.
    """
    text = os.environ.get("CROSSTALK_CACHE_MAX_MB")
    if text is None or not text.strip():
        return DEFAULT_MAX_MB * 2**20
    try:
        mb = float(text)
    except ValueError:
        mb = float("nan")
    if not mb >= 0 or mb == float("inf"):
        raise InvalidValueError(f"CROSSTALK_CACHE_MAX_MB must be a non-negative number of "
                                f"MB, got {text!r}")
    return int(mb * 2**20)


def usage(folder: Path | None = None) -> CacheUsage:
    """The cache's size against its limit."""
    folder = cache_dir() if folder is None else Path(folder)
    found = entries(folder)
    return CacheUsage(folder, sum(size for _, size, _ in found), len(found), max_bytes())


def prune(limit: int | None = None, folder: Path | None = None) -> tuple[int, int]:
    """Remove the least recently used entries when the cache holds more than ``limit``
    bytes (default :func:`max_bytes`), down to :data:`PRUNE_TO` of it; returns the number
    of files and bytes removed."""
    limit = max_bytes() if limit is None else limit
    found = entries(folder)
    if sum(size for _, size, _ in found) <= limit:
        return 0, 0
    return _remove(found, int(limit * PRUNE_TO))


def prune_after_write() -> None:
    """Called after this process adds entries: prune, at most every :data:`CHECK_EVERY`
    seconds per process (a listing of the folder); a cache that cannot be listed or
    removed from is left as it is."""
    global _last_check
    now = time.monotonic()
    if now - _last_check < CHECK_EVERY:
        return
    _last_check = now
    prune()


def mark_used(path: Path) -> None:
    """Refresh an entry's modification time on a hit, so pruning keeps it."""
    try:
        os.utime(path)
    except OSError:
        pass                             # read-only cache: it only ages


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Remove every entry; returns the number of files and bytes removed."""
    return _remove(entries(folder), 0)


def _remove(found: list, keep: int) -> tuple[int, int]:
    """Unlink ``found`` (oldest first) until at most ``keep`` bytes of it remain."""
    total = sum(size for _, size, _ in found)
    files = freed = 0
    for _, size, path in found:
        if total - freed <= keep:
            break
        try:
            path.unlink()
        except FileNotFoundError:
            pass                         # another process removed it
        except OSError:
            continue
        files += 1
        freed += size
    return files, freed
