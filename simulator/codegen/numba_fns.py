"""Scalar numba functions generated from an OdeSystem, for the compiled integrator.

From one :class:`~simulator.system.OdeSystem` this module generates Python source for four
small functions with fixed signatures (``t`` a float, the others 1-D C-contiguous arrays)::

    rhs(t, y, p, out)        out[i] = dy_i/dt
    jac(t, y, p, out)        out[k] = d rhs[rows[k]] / d y[cols[k]]   (the nonzeros only)
    dfdt(t, y, p, out)       out[i] = d rhs_i / dt   (explicit time dependence)
    triggers(t, y, p, out)   out[e] = trigger of event e   (boolean array)

The source contains only identifiers we create (``t``, ``y[i]``, ``p[j]``, ``out[k]``,
temporaries ``_xN``) and numbers: every symbol is renamed through
:class:`~simulator.codegen.common.SymbolMap`, which refuses foreign symbols, and the printer
refuses anything it does not know. The source is written to a file under a cache directory
named by a hash of the expressions and imported from there, so numba's on-disk cache
(``cache=True``) works and a second load only reads machine code.

The functions are compiled with an explicit signature, so the integrator in
:mod:`simulator.solvers.compiled` takes them as first-class function values and is itself
compiled once for every model.

This module also holds the sparse LU of the Rosenbrock matrix ``W = I/(gamma h) - J``: a
symbolic factorisation on the Jacobian pattern at generation time (Markowitz order restricted
to diagonal pivots, with fill-in) packed in one integer array, and two generic numba kernels,
:func:`lu_factor` and :func:`lu_solve`, that run it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import sympy
from sympy.printing.pycode import PythonCodePrinter

from simulator.codegen.common import SymbolMap
from simulator.errors import UnsupportedFeatureError
from simulator.system import OdeSystem

CODEGEN_VERSION = "1"

# ----------------------------------------------------------------------------------------
# printing


class _Printer(PythonCodePrinter):
    """sympy -> numba-compatible Python; names only through ``names``, strict about the rest."""

    def __init__(self, names: dict):
        super().__init__({"strict": True, "fully_qualified_modules": True,
                          "standard": "python3"})
        self._names = names

    def _print_Symbol(self, expr):
        try:
            return self._names[expr]
        except KeyError:
            raise UnsupportedFeatureError([f"generated code would refer to an unknown symbol "
                                           f"({len(self._names)} known)"]) from None

    _print_Dummy = _print_Symbol

    def _print_Float(self, expr):
        v = float(expr)
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "(-math.inf)"
        return repr(v)

    def _print_Integer(self, expr):
        v = int(expr)
        return str(v) if abs(v) < 2**31 else repr(float(v))

    def _print_Rational(self, expr):
        return f"({float(expr.p)!r}/{float(expr.q)!r})"

    def _print_Half(self, expr):
        return "0.5"

    def _print_factorial(self, expr):
        return f"math.gamma({self._print(expr.args[0])} + 1.0)"

    def _print_Heaviside(self, expr):
        x = self._print(expr.args[0])
        return f"(0.0 if ({x}) < 0 else (1.0 if ({x}) > 0 else 0.5))"

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        return f"(0.0 if ({x}) == 0 else math.copysign(1.0, {x}))"

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond is not sympy.true:
            expr = sympy.Piecewise(*expr.args, (sympy.nan, True))
        return super()._print_Piecewise(expr)

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    def _print_Derivative(self, expr):
        raise UnsupportedFeatureError(
            [f"the Jacobian needs the derivative of {type(expr.expr).__name__}, "
             f"which has no closed form here"])


def _booleans_as_numbers(e):
    """Relationals used as numbers (SBML allows ``2 * (x > 1)``) -> Piecewise(1, 0)."""
    if isinstance(e, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational)):
        return sympy.Piecewise((sympy.Float(1.0), e), (sympy.Float(0.0), True))
    return e


def _floor_like_derivatives(e):
    """d/dx of floor/ceiling is 0 almost everywhere: drop the unevaluated Derivatives."""
    derivs = [d for d in e.atoms(sympy.Derivative)
              if isinstance(d.expr, (sympy.floor, sympy.ceiling, sympy.sign, sympy.Heaviside))]
    return e.xreplace({d: sympy.Integer(0) for d in derivs}) if derivs else e


def _body(printer: _Printer, targets: list[str], exprs: list, indent="    ") -> list[str]:
    """Straight-line assignments ``target = expr`` with common subexpressions shared."""
    if not exprs:
        return [indent + "pass"]
    temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("_x", real=True),
                               order="none")
    lines = []
    for sym, e in temps:
        printer._names[sym] = str(sym)
        lines.append(f"{indent}{sym} = {printer.doprint(e)}")
    for tgt, e in zip(targets, reduced):
        lines.append(f"{indent}{tgt} = {printer.doprint(e)}")
    return lines


# ----------------------------------------------------------------------------------------
# sparse LU plan


@dataclass(frozen=True)
class LUPlan:
    """Symbolic LU of ``W = c I - J`` on a fixed pattern, packed for :func:`lu_factor`.

    ``iplan`` is one int64 array: a header of offsets, then the elimination order, the pivot
    positions, the L column and U row entries of each step, the update targets, the position
    in the LU value array of each Jacobian nonzero (``jac_to_lu``) and of each diagonal entry.
    """

    n: int
    nnz: int            # entries of the factor (pattern + diagonal + fill-in)
    fill: int           # fill-in entries
    order: np.ndarray
    iplan: np.ndarray


_H_N, _H_NNZ, _H_NJAC = 0, 1, 2
_H_ORDER, _H_PIV, _H_LPTR, _H_LPOS, _H_LROW, _H_UPTR, _H_UPOS, _H_UCOL, _H_UPD, _H_J2LU, \
    _H_DIAG, _H_END = range(3, 15)
_HEADER = 15


def lu_plan(n: int, rows, cols) -> LUPlan:
    """Symbolic factorisation of ``c I - J`` for the Jacobian pattern ``(rows, cols)``.

    Pivots stay on the diagonal (Rosenbrock matrices are dominated by ``c I`` for small steps);
    the order is Markowitz's, choosing at each step the diagonal entry with the smallest
    ``(r - 1)(c - 1)`` product of remaining row and column counts, which keeps fill-in low.
    """
    rows = [int(r) for r in rows]
    cols = [int(c) for c in cols]
    pos: dict[tuple[int, int], int] = {}
    for i, j in zip(rows, cols):
        pos.setdefault((i, j), len(pos))
    for i in range(n):
        pos.setdefault((i, i), len(pos))
    n_orig = len(pos)
    col_rows = [set() for _ in range(n)]   # remaining i with (i, k) in pattern, i != k
    row_cols = [set() for _ in range(n)]   # remaining j with (k, j) in pattern, j != k
    for (i, j) in pos:
        if i != j:
            col_rows[j].add(i)
            row_cols[i].add(j)
    remaining = set(range(n))
    order, piv, lptr, lpos, lrow, uptr, upos, ucol, upd = [], [], [0], [], [], [0], [], [], []
    for _ in range(n):
        k = min(remaining, key=lambda m: (len(col_rows[m]) * len(row_cols[m]), m))
        remaining.discard(k)
        order.append(k)
        piv.append(pos[(k, k)])
        L = sorted(col_rows[k])
        U = sorted(row_cols[k])
        for i in L:
            lpos.append(pos[(i, k)])
            lrow.append(i)
            for j in U:
                if (i, j) not in pos:
                    pos[(i, j)] = len(pos)
                    if i != j:
                        col_rows[j].add(i)
                        row_cols[i].add(j)
                upd.append(pos[(i, j)])
        for j in U:
            upos.append(pos[(k, j)])
            ucol.append(j)
        for i in L:
            row_cols[i].discard(k)
        for j in U:
            col_rows[j].discard(k)
        lptr.append(len(lpos))
        uptr.append(len(upos))
    j2lu = [pos[(i, j)] for i, j in zip(rows, cols)]
    diag = [pos[(i, i)] for i in range(n)]
    parts = [order, piv, lptr, lpos, lrow, uptr, upos, ucol, upd, j2lu, diag]
    header = [n, len(pos), len(rows)]
    off = _HEADER
    for part in parts:
        header.append(off)
        off += len(part)
    header.append(off)
    iplan = np.array(header + [v for part in parts for v in part], dtype=np.int64)
    return LUPlan(n=n, nnz=len(pos), fill=len(pos) - n_orig,
                  order=np.array(order, dtype=np.int64), iplan=iplan)


@numba.njit(cache=True, error_model="numpy", inline="always")
def lu_assemble(iplan, c, jnz, a):
    """``a = c I - J`` in LU storage, from the Jacobian nonzeros ``jnz``."""
    for m in range(a.shape[0]):
        a[m] = 0.0
    o = iplan[_H_J2LU]
    for k in range(iplan[_H_NJAC]):
        a[iplan[o + k]] -= jnz[k]
    o = iplan[_H_DIAG]
    for i in range(iplan[_H_N]):
        a[iplan[o + i]] += c


@numba.njit(cache=True, error_model="numpy")
def lu_factor(iplan, a):
    """Factor ``a`` in place (diagonal pivots); return 0, or 1 + the step of a bad pivot.

    Pivots are stored inverted, for :func:`lu_solve`.
    """
    n = iplan[_H_N]
    o_piv, o_lptr, o_lpos = iplan[_H_PIV], iplan[_H_LPTR], iplan[_H_LPOS]
    o_uptr, o_upos, o_upd = iplan[_H_UPTR], iplan[_H_UPOS], iplan[_H_UPD]
    c = 0
    for s in range(n):
        pp = iplan[o_piv + s]
        piv = a[pp]
        if not (abs(piv) > 1e-300) or not math.isfinite(piv):
            return s + 1
        inv = 1.0 / piv
        a[pp] = inv
        u0 = iplan[o_uptr + s]
        u1 = iplan[o_uptr + s + 1]
        for m in range(iplan[o_lptr + s], iplan[o_lptr + s + 1]):
            lp = iplan[o_lpos + m]
            lik = a[lp] * inv
            a[lp] = lik
            for q in range(u0, u1):
                a[iplan[o_upd + c]] -= lik * a[iplan[o_upos + q]]
                c += 1
    return 0


@numba.njit(cache=True, error_model="numpy")
def lu_solve(iplan, a, x):
    """Solve ``W x_new = x`` in place with the factor from :func:`lu_factor`."""
    n = iplan[_H_N]
    o_ord, o_piv = iplan[_H_ORDER], iplan[_H_PIV]
    o_lptr, o_lpos, o_lrow = iplan[_H_LPTR], iplan[_H_LPOS], iplan[_H_LROW]
    o_uptr, o_upos, o_ucol = iplan[_H_UPTR], iplan[_H_UPOS], iplan[_H_UCOL]
    for s in range(n):
        xk = x[iplan[o_ord + s]]
        if xk != 0.0:
            for m in range(iplan[o_lptr + s], iplan[o_lptr + s + 1]):
                x[iplan[o_lrow + m]] -= a[iplan[o_lpos + m]] * xk
    for s in range(n - 1, -1, -1):
        k = iplan[o_ord + s]
        acc = x[k]
        for q in range(iplan[o_uptr + s], iplan[o_uptr + s + 1]):
            acc -= a[iplan[o_upos + q]] * x[iplan[o_ucol + q]]
        x[k] = acc * a[iplan[o_piv + s]]


# ----------------------------------------------------------------------------------------
# source generation


@dataclass(frozen=True)
class GeneratedSource:
    """Generated module text and the structure the integrator needs alongside it."""

    key: str
    source: str
    n_states: int
    n_params: int
    n_events: int
    jac_rows: np.ndarray
    jac_cols: np.ndarray
    time_dependent: bool


def system_key(system: OdeSystem) -> str:
    """Hash of everything the generated code depends on (expressions, sizes, version)."""
    smap = SymbolMap.of(system)
    h = hashlib.sha256()
    h.update(f"crosstalk-numba {CODEGEN_VERSION} {numba.__version__} {sympy.__version__} "
             f"{system.n_states} {system.n_params} {len(system.events)}\n".encode())
    for e in system.rhs:
        h.update(sympy.srepr(smap.rename(e)).encode())
        h.update(b"\n")
    for ev in system.events:
        h.update(b"E" + sympy.srepr(smap.rename(ev.trigger)).encode() + b"\n")
    return h.hexdigest()[:24]


_HEAD = '''\
# Generated by simulator.codegen.numba_fns (version {version}); key {key}.
# Contains only generated identifiers. Do not edit: regenerated from the model.
import math
import numba
from numba import types

_A = types.float64[::1]
_SIG = types.void(types.float64, _A, _A, _A)
_SIGB = types.void(types.float64, _A, _A, types.boolean[::1])
_OPTS = dict(cache=True, error_model="numpy", nogil=True)
N_STATES = {n}
N_PARAMS = {m}
N_EVENTS = {ne}
N_JAC = {nj}
TIME_DEPENDENT = {td}
JAC_ROWS = {jr}
JAC_COLS = {jc}
'''


def generate_source(system: OdeSystem, key: str | None = None) -> GeneratedSource:
    """Generate the module source for ``system`` (sympy only; nothing is compiled).

    Raises
    ------
    UnsupportedFeatureError
        An expression uses a function without a numba translation.
    ModelError
        An expression refers to a symbol that is not ``t``, a state or a parameter.
    """
    from sympy.printing.codeprinter import PrintMethodNotImplementedError
    try:
        return _generate_source(system, key)
    except PrintMethodNotImplementedError as err:
        what = str(err).splitlines()[0]
        raise UnsupportedFeatureError(
            [f"model math has no compiled (numba) translation: {what}"]) from err


def _generate_source(system: OdeSystem, key: str | None) -> GeneratedSource:
    smap = SymbolMap.of(system)
    n, m = system.n_states, system.n_params
    names = {smap.t: "t"}
    names.update({s: f"y[{i}]" for i, s in enumerate(smap.y)})
    names.update({s: f"p[{j}]" for j, s in enumerate(smap.p)})
    rhs = [_booleans_as_numbers(smap.rename(e, f"rate of change of '{sid}'"))
           for e, sid in zip(system.rhs, system.state_ids)]
    ysyms = smap.y
    jrows, jcols, jexprs = [], [], []
    for i, f in enumerate(rhs):
        free = f.free_symbols
        for j, yj in enumerate(ysyms):
            if yj in free:
                d = _floor_like_derivatives(sympy.diff(f, yj))
                if d != 0:
                    jrows.append(i)
                    jcols.append(j)
                    jexprs.append(d)
    time_dep = any(smap.t in f.free_symbols for f in rhs)
    dfdt = [_floor_like_derivatives(sympy.diff(f, smap.t)) for f in rhs] if time_dep else []
    trig = [smap.rename(ev.trigger, f"trigger of event '{ev.id}'") for ev in system.events]
    key = key or system_key(system)

    lines = [_HEAD.format(version=CODEGEN_VERSION, key=key, n=n, m=m, ne=len(trig),
                          nj=len(jexprs), td=time_dep, jr=repr(tuple(jrows)),
                          jc=repr(tuple(jcols)))]

    def func(name, sig, targets, exprs):
        printer = _Printer(dict(names))
        lines.append(f"\n@numba.njit({sig}, **_OPTS)\ndef {name}(t, y, p, out):")
        lines.extend(_body(printer, targets, exprs))

    func("rhs", "_SIG", [f"out[{i}]" for i in range(n)], rhs)
    func("jac", "_SIG", [f"out[{k}]" for k in range(len(jexprs))], jexprs)
    if time_dep:
        func("dfdt", "_SIG", [f"out[{i}]" for i in range(n)], dfdt)
    else:
        lines.append("\n@numba.njit(_SIG, **_OPTS)\ndef dfdt(t, y, p, out):\n"
                     "    for i in range(out.shape[0]):\n        out[i] = 0.0")
    # triggers: booleans; a numeric trigger (should not happen) means "nonzero"
    texprs = [e if isinstance(e, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational))
              else sympy.Ne(e, 0) for e in trig]
    func("triggers", "_SIGB", [f"out[{e}]" for e in range(len(texprs))], texprs)
    source = "\n".join(lines) + "\n"
    return GeneratedSource(key=key, source=source, n_states=n, n_params=m, n_events=len(trig),
                           jac_rows=np.array(jrows, dtype=np.int64),
                           jac_cols=np.array(jcols, dtype=np.int64), time_dependent=time_dep)


# ----------------------------------------------------------------------------------------
# compiling and caching


def cache_dir() -> Path:
    """Where generated modules live: ``$CROSSTALK_CACHE_DIR``, else beside numba's cache."""
    env = os.environ.get("CROSSTALK_CACHE_DIR")
    if env:
        return Path(env)
    nb = os.environ.get("NUMBA_CACHE_DIR")
    if nb:
        return Path(nb) / "crosstalk_models"
    return Path.home() / ".cache" / "crosstalk" / "models"


@dataclass(frozen=True)
class NumbaFunctions:
    """The compiled functions of one system, and their structure.

    Attributes
    ----------
    rhs, jac, dfdt, triggers : numba dispatchers with the signatures in the module docstring
    jac_rows, jac_cols : the Jacobian pattern, in the order of ``jac``'s output
    plan : the sparse LU of ``W``
    time_dependent : whether ``rhs`` depends on ``t`` explicitly
    key : cache key; path : the generated module file
    """

    key: str
    path: Path
    n_states: int
    n_params: int
    n_events: int
    rhs: object
    jac: object
    dfdt: object
    triggers: object
    jac_rows: np.ndarray
    jac_cols: np.ndarray
    plan: LUPlan
    time_dependent: bool


_LOADED: dict[str, NumbaFunctions] = {}


def _write_once(path: Path, text: str) -> None:
    """Write ``text`` atomically unless ``path`` already holds it (keeps numba's cache valid)."""
    if path.exists():
        try:
            if path.read_text() == text:
                return
        except OSError:
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def compile_numba(system: OdeSystem, *, directory: str | os.PathLike | None = None
                  ) -> NumbaFunctions:
    """Generate, write, import and compile the numba functions of ``system``.

    Compiled machine code is cached on disk by numba, keyed by the generated file, which is
    itself named by :func:`system_key`; within a process, results are memoised by key.

    Raises
    ------
    UnsupportedFeatureError
        An expression uses a function without a numba translation or a derivative without a
        closed form.
    ModelError
        An expression refers to a symbol that is not ``t``, a state or a parameter.
    """
    key = system_key(system)
    if key in _LOADED:
        return _LOADED[key]
    path = Path(directory) if directory is not None else cache_dir()
    path = path / f"ct_{key}.py"
    mod = None
    if path.exists():
        try:
            mod = _import(key, path)
        except Exception:           # stale or truncated file: regenerate below
            mod = None
    if mod is None:
        gen = generate_source(system, key)
        _write_once(path, gen.source)
        mod = _import(key, path)
    rows = np.array(mod.JAC_ROWS, dtype=np.int64)
    cols = np.array(mod.JAC_COLS, dtype=np.int64)
    plan = lu_plan(mod.N_STATES, rows, cols)
    fns = NumbaFunctions(key=key, path=path, n_states=mod.N_STATES, n_params=mod.N_PARAMS,
                         n_events=mod.N_EVENTS, rhs=mod.rhs, jac=mod.jac, dfdt=mod.dfdt,
                         triggers=mod.triggers, jac_rows=rows, jac_cols=cols,
                         plan=plan, time_dependent=bool(mod.TIME_DEPENDENT))
    if (fns.n_states, fns.n_params, fns.n_events) != (system.n_states, system.n_params,
                                                       len(system.events)):
        raise RuntimeError(f"generated module {path} does not match the system; delete it")
    _LOADED[key] = fns
    return fns


def _import(key: str, path: Path):
    """Import the generated module at ``path`` (our own source, written by this module)."""
    modname = f"_crosstalk_generated_{key}"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception:
        sys.modules.pop(modname, None)
        raise
    return mod
