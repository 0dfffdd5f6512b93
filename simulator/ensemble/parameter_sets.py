"""The shapes a sweep's parameter sets come in, as one table of columns.

``params`` is a dict (a number shared by every member, or a 1-D array of one value per
member; with ``grid=True`` every combination of the arrays), a pandas DataFrame (one
column per parameter, one row per member, as ``SamplingResult.ensemble`` gives), or a list
of N dicts (one parameter set per member); ``samples`` are columns from a sampler
(:mod:`simulator.ensemble.sampling`). :func:`parameter_columns` turns these into one dict of
id -> number or column; :func:`simulator.conditions.members` then checks the ids and values
with the rules every verb shares.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from simulator.ensemble.sampling import grid as full_grid
from simulator.errors import InvalidValueError

__all__ = ["parameter_columns"]


def parameter_columns(params, samples=None, grid: bool = False) -> dict:
    """``params`` and ``samples`` as ``{id: number or 1-D array}`` (arrays of one length).

    Raises
    ------
    InvalidValueError
        Arrays of different lengths (without ``grid``), a grid combined with samples, a
        list of dicts that do not all give the same ids, an id given twice.
    """
    columns: dict = {}
    n = None

    def add(k, v):
        nonlocal n
        k = str(k)
        if k in columns:
            raise InvalidValueError(f"parameter '{k}' is given twice (in params and samples)")
        columns[k] = v
        if np.ndim(v) == 1:
            n = len(v) if n is None else n

    if samples is not None:
        s_ids, s_vals = samples
        s_vals = np.asarray(s_vals, dtype=float)
        if s_vals.ndim != 2 or s_vals.shape[1] != len(s_ids):
            raise InvalidValueError(f"samples.values must have shape (N, {len(s_ids)}), got "
                                    f"{s_vals.shape}")
        for j, k in enumerate(s_ids):
            add(k, s_vals[:, j])
    if isinstance(params, pd.DataFrame):
        if grid:
            raise InvalidValueError("a DataFrame of parameter sets is one member per row; "
                                    "grid=True applies to a dict of arrays")
        try:
            params = {str(k): params[k].to_numpy(dtype=float) for k in params.columns}
        except (TypeError, ValueError):
            raise InvalidValueError("params: every column of the DataFrame must hold "
                                    "numbers") from None
    if params is None:
        pass
    elif isinstance(params, Mapping):
        arrays = {}
        for k, v in params.items():
            if np.ndim(v) == 0:             # a number (or not one: conditions says so)
                add(k, v)
            else:
                a = np.asarray(v, dtype=float)
                if a.ndim != 1 or a.size == 0:
                    raise InvalidValueError(f"parameter '{k}': values must be a number or a "
                                            f"non-empty 1-D array, got shape {a.shape}")
                arrays[str(k)] = a
        if arrays and grid:
            if samples is not None:
                raise InvalidValueError("grid=True cannot be combined with samples=; pass the "
                                        "grid as params only")
            g_ids, g_vals = full_grid(arrays)
            for j, k in enumerate(g_ids):
                add(k, g_vals[:, j])
        elif arrays:
            lens = {k: a.size for k, a in arrays.items()}
            if len(set(lens.values()) | ({n} if n else set())) > 1:
                raise InvalidValueError(
                    "parameter arrays have different lengths "
                    f"({', '.join(f'{k}: {m}' for k, m in lens.items())}"
                    f"{f', samples: {n}' if n else ''}); give one value per member, "
                    "or pass grid=True for every combination")
            for k, a in arrays.items():
                add(k, a)
    elif isinstance(params, Sequence) and not isinstance(params, str):
        if not params or not all(isinstance(d, Mapping) for d in params):
            raise InvalidValueError("params must be a dict id -> values, or a non-empty list of "
                                    "dicts (one parameter set per member)")
        keys = list(dict.fromkeys(k for d in params for k in d))
        missing = [(i, k) for i, d in enumerate(params) for k in keys if k not in d]
        if missing:
            i, k = missing[0]
            raise InvalidValueError(f"parameter set #{i} has no value for '{k}'; every set in "
                                    f"the list must give the same ids")
        if n and n != len(params):
            raise InvalidValueError(f"{len(params)} parameter sets but {n} samples")
        for k in keys:
            try:
                add(k, np.array([float(d[k]) for d in params]))
            except (TypeError, ValueError):
                raise InvalidValueError(f"parameter '{k}': values must be numbers") from None
    else:
        raise InvalidValueError(f"params must be a dict or a list of dicts, got "
                                f"{type(params).__name__}")
    return columns
