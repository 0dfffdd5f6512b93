"""Read a model's catalogue (drugs, phenotypes, reset-at-start readouts) from TOML files.

A catalogue file names the drug and phenotype tables (paths relative to it) or holds them
inline, and lists the reset-at-start species::

    drugs = "drugs.toml"              # or inline tables: [drugs.tamoxifen] ...
    phenotypes = "phenotypes.toml"    # or [phenotypes.HER2_amplified] ...
    reset_at_start = ["tumor_burden"]

A drug table holds one table per drug (any keys; ``pk`` a table of PK numbers). A phenotype
table holds one table per phenotype with ``overrides = { <parameter> = { set = <value> } }``
(or ``{ scale = <factor> }``), ``description`` and ``source``.

Every problem is a :class:`~simulator.errors.ModelImportError` naming the file and, where it
can be found, the line: a missing file, invalid TOML, a malformed override, an unknown key.
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.catalog import OPERATIONS, Catalog, Phenotype
from simulator.errors import ModelImportError
from simulator.io.limits import DEFAULT_LIMITS, check_size

if TYPE_CHECKING:    # only for annotations: reading a catalogue must not load sympy
    from simulator.model import Model

__all__ = ["read_catalog", "attach_catalog"]

_KEYS = ("drugs", "phenotypes", "reset_at_start")


def read_catalog(path: str | os.PathLike) -> Catalog:
    """Read a catalogue file (see the module docstring).

    Raises
    ------
    ModelImportError
        The file or a table it names is missing or invalid (file and line named).
    """
    path = Path(path)
    text, data = _load(path)
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise ModelImportError(f"{_at(path, text, unknown[0])}: unknown catalogue entry "
                               f"'{unknown[0]}'; expected {', '.join(_KEYS)}")
    drugs = _part(path, text, data, "drugs", _drugs)
    phenotypes = _part(path, text, data, "phenotypes", _phenotypes)
    reset = data.get("reset_at_start", [])
    if not isinstance(reset, list) or not all(isinstance(s, str) for s in reset):
        raise ModelImportError(f"{_at(path, text, 'reset_at_start')}: reset_at_start must be a "
                               f"list of species ids, got {reset!r}")
    return Catalog(drugs=drugs, phenotypes=phenotypes, reset_at_start=tuple(reset),
                   source=str(path))


def attach_catalog(model: Model, catalog: Catalog | str | os.PathLike) -> Model:
    """``model`` with ``catalog`` (a :class:`Catalog` or a catalogue file) attached.

    Raises
    ------
    ModelImportError
        The catalogue is unreadable, or resets a species the model does not have.
    """
    if not isinstance(catalog, Catalog):
        if not isinstance(catalog, (str, os.PathLike)):
            raise ModelImportError(f"catalog must be a Catalog or the path of a catalogue file, "
                                   f"got {type(catalog).__name__}")
        catalog = read_catalog(catalog)
    species = set(model.species_ids)
    bad = [s for s in catalog.reset_at_start if s not in species]
    if bad:
        raise ModelImportError(f"catalogue{catalog.where}: reset_at_start names '{bad[0]}', "
                               f"which is not a species of model '{model.id}'")
    return model.with_catalog(catalog)


# ---------------------------------------------------------------------------------------


def _load(path: Path) -> tuple[str, dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise ModelImportError(f"catalogue file {path} is missing") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ModelImportError(f"cannot read catalogue file {path}: {err}") from err
    check_size(len(text.encode("utf-8", "surrogatepass")), str(path), DEFAULT_LIMITS)
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:   # its message gives line and column
        raise ModelImportError(f"catalogue file {path} is not valid TOML: {err}") from err
    except RecursionError:                   # tomllib recurses into nested arrays and tables
        raise ModelImportError(f"catalogue file {path} nests arrays or tables too deeply "
                               f"to read") from None


def _part(path: Path, text: str, data: dict, key: str, reader) -> dict:
    """A table given inline or as the path of another file (relative to ``path``)."""
    value = data.get(key, {})
    if isinstance(value, str):
        other = path.parent / value
        other_text, other_data = _load(other)
        return reader(other, other_text, other_data)
    if isinstance(value, dict):
        return reader(path, text, value)
    raise ModelImportError(f"{_at(path, text, key)}: {key} must be a file name or a table, "
                           f"got {value!r}")


def _drugs(path: Path, text: str, data: dict) -> dict:
    out = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ModelImportError(f"{_at(path, text, name)}: drug '{name}' must be a table "
                                   f"([{name}] with its entries), got {entry!r}")
        pk = entry.get("pk")
        if pk is not None and not (isinstance(pk, dict) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in pk.values())):
            raise ModelImportError(f"{_at(path, text, name)}: drug '{name}': pk must be a table "
                                   f"of numbers, got {pk!r}")
        out[name] = entry
    return out


def _phenotypes(path: Path, text: str, data: dict) -> dict:
    out = {}
    for name, entry in data.items():
        where = _at(path, text, name)
        if not isinstance(entry, dict):
            raise ModelImportError(f"{where}: phenotype '{name}' must be a table, got {entry!r}")
        overrides = entry.get("overrides", {})
        if not isinstance(overrides, dict):
            raise ModelImportError(f"{where}: phenotype '{name}': overrides must be a table "
                                   f"{{ <parameter> = {{ set = <value> }} }}, got {overrides!r}")
        items = []
        for pid, spec in overrides.items():
            if not isinstance(spec, dict) or len(spec) != 1 or not set(spec) <= set(OPERATIONS):
                raise ModelImportError(
                    f"{where}: phenotype '{name}', parameter '{pid}': override must be "
                    f"{{ set = value }} or {{ scale = factor }}, got {spec!r}")
            op, value = next(iter(spec.items()))
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ModelImportError(f"{where}: phenotype '{name}', parameter '{pid}': "
                                       f"{op} needs a finite number, got {value!r}")
            items.append((pid, op, float(value)))
        out[name] = Phenotype(name, tuple(items), str(entry.get("description", "")),
                              str(entry.get("source", "")))
    return out


def _at(path: Path, text: str, key: str) -> str:
    """``"<file>, line N"`` of the table header or key ``key``, or just the file."""
    name = re.escape(key)
    pattern = re.compile(rf"^[ \t]*(\[[ \t]*(\w+\.)?{name}[ \t]*\]|{name}[ \t]*=)", re.MULTILINE)
    match = pattern.search(text)
    return f"{path}, line {text.count(chr(10), 0, match.start()) + 1}" if match else str(path)
