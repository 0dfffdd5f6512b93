"""Model functions as LLVM IR text, generated from an OdeSystem's sympy expressions.

From one :class:`~simulator.system.OdeSystem` this module prints small functions with the C
signatures of :mod:`simulator.codegen.abi` (pointers to float64 arrays)::

    rhs(t, y, p, out)          out[i] = dy_i/dt
    jac(t, y, p, out)          out[k] = d rhs[rows[k]] / d y[cols[k]]   (nonzeros only)
    dfdt(t, y, p, out)         out[i] = d rhs_i / dt   (explicit time dependence)
    triggers(t, y, p, out)     out[e] = trigger of event e   (uint8 0/1)
    switches(t, y, p, out)     out[k] = lhs - rhs of the k-th distinct relation inside the
                               triggers (a sign change brackets a trigger flip)
    outputs(t, y, p, out)      out[k] = output k (every id a Trajectory reports)
    decomp(c, jnz, a) -> int   a = LU of c I - J on the fixed sparse pattern; 0, or 1 if a
                               pivot is zero or not finite
    solve(a, x)                x = (c I - J)^-1 x, in place

Nothing is compiled here (:mod:`simulator.codegen.jit` does that).

Why LLVM IR and not numba-compiled Python: numba's front end costs ~10 ms per generated
line (a 45-species Jacobian took 3.4 s, the whole model ~10 s), while LLVM compiles the
same straight-line code in tens of milliseconds. So the expressions are printed directly
as LLVM IR (llvmlite ships with numba) — still only identifiers we create (``%t``, ``%y``,
``%p``, ``%out``, ``%vN``) and numbers. Every symbol is renamed through
:class:`~simulator.codegen.common.SymbolMap`, which refuses foreign symbols, and the printer
refuses any node it does not know. Identical subexpressions are emitted once (hash
consing).

The sparse LU of ``W = c I - J`` (``c = 1/(gamma h)``) is planned here at generation time:
Markowitz order restricted to diagonal pivots, with fill-in, then unrolled into straight-line
code.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import struct
from dataclasses import dataclass, field

import llvmlite.binding as llvm_binding
import sympy

from simulator.codegen.common import SymbolMap, equality_switches, trigger_switches
from simulator.codegen.hoist import hoist_parameters
from simulator.derivatives import Differentiator, jacobian_entries, system_jacobian
from simulator.errors import ModelError, UnsupportedFeatureError
from simulator.model import is_boolean
from simulator.system import OdeSystem

CODEGEN_VERSION = "14"
# fast-math flags on arithmetic: fused multiply-add and x/y -> x*(1/y) only; no nnan/ninf
# (non-finite values must stay detectable) and no reassociation.
FP_FLAGS = os.environ.get("CROSSTALK_FP_FLAGS", "contract arcp ")

# ----------------------------------------------------------------------------------------
# sympy -> LLVM IR

_Boolean = (sympy.logic.boolalg.BooleanFunction, sympy.logic.boolalg.BooleanAtom,
            sympy.core.relational.Relational)

_INTRINSIC1 = {sympy.exp: "llvm.exp.f64", sympy.log: "llvm.log.f64", sympy.sin: "llvm.sin.f64",
               sympy.cos: "llvm.cos.f64", sympy.Abs: "llvm.fabs.f64",
               sympy.floor: "llvm.floor.f64", sympy.ceiling: "llvm.ceil.f64"}
_LIBM1 = {sympy.tan: "tan", sympy.asin: "asin", sympy.acos: "acos", sympy.atan: "atan",
          sympy.sinh: "sinh", sympy.cosh: "cosh", sympy.tanh: "tanh", sympy.asinh: "asinh",
          sympy.acosh: "acosh", sympy.atanh: "atanh", sympy.gamma: "tgamma"}
_RECIPROCAL = {sympy.sec: sympy.cos, sympy.csc: sympy.sin, sympy.cot: sympy.tan,
               sympy.sech: sympy.cosh, sympy.csch: sympy.sinh, sympy.coth: sympy.tanh}
_OF_RECIPROCAL = {sympy.acot: sympy.atan, sympy.asec: sympy.acos, sympy.acsc: sympy.asin,
                  sympy.acoth: sympy.atanh, sympy.asech: sympy.acosh, sympy.acsch: sympy.asinh}
_FCMP = {sympy.StrictLessThan: "olt", sympy.LessThan: "ole", sympy.StrictGreaterThan: "ogt",
         sympy.GreaterThan: "oge", sympy.Equality: "oeq", sympy.Unequality: "une"}


# Ensemble members run in lock-step lanes of this many (simulator.solvers.lanes): the model's
# step functions have a second build on vectors of LANES doubles. Eight fill an AVX-512
# register; elsewhere LLVM splits the vectors.
LANES = 8

# glibc's libmvec: vector variants of libm by the x86-64 vector function ABI ('e': AVX-512,
# 8 lanes); max error 4 ulp (glibc manual, "Errors in Math Functions").
_LIBMVEC = {"llvm.exp.f64": "exp", "llvm.log.f64": "log", "llvm.pow.f64": "pow",
            "llvm.sin.f64": "sin", "llvm.cos.f64": "cos", "tan": "tan", "asin": "asin",
            "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
            "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "atan2": "atan2"}
_LIBMVEC_PATH = "libmvec.so.1"


@functools.lru_cache(maxsize=1)
def vector_libm() -> str | None:
    """libmvec's path when this machine runs its AVX-512 variants (else None: vector
    intrinsics, which LLVM turns into one libm call per lane)."""
    if "+avx512f" not in llvm_binding.get_host_cpu_features().flatten():
        return None
    try:
        ctypes.CDLL(_LIBMVEC_PATH)
    except OSError:
        return None
    return _LIBMVEC_PATH


def _vector_function(fname: str, arity: int, width: int) -> str | None:
    """The vector variant of the scalar function ``fname`` over ``width`` lanes: libmvec's,
    an LLVM vector intrinsic, or None (call the scalar one per lane)."""
    if width == LANES and fname in _LIBMVEC and vector_libm():
        return f"_ZGVeN{width}{'v' * arity}_{_LIBMVEC[fname]}"
    if fname.startswith("llvm.") and fname.endswith(".f64"):
        return f"{fname[:-4]}.v{width}f64"
    return None


def _const(v: float) -> str:
    """An exact LLVM double literal."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]


class _Emitter:
    """Straight-line SSA for one function; every value is a double or an i1, or with
    ``width = W > 0`` a vector of W of them (one lane per ensemble member, :data:`LANES`):
    arrays are then lane-major (element ``i`` of lane ``l`` at ``i * W + l``)."""

    def __init__(self, decls: set, args: dict, width: int = 0):
        self.decls = decls
        self.args = args          # symbol -> ("arg", "%t") | ("load", "%y", index)
        self.lines: list[str] = []
        self.memo: dict = {}
        self.n = 0
        self.W = width
        self.T = f"<{width} x double>" if width else "double"
        self.B = f"<{width} x i1>" if width else "i1"
        self.true = self._splat("i1 true") if width else "true"
        self.false = "zeroinitializer" if width else "false"

    def _splat(self, elem: str) -> str:
        return "<" + ", ".join([elem] * self.W) + ">"

    def k(self, v: float) -> str:
        """A double constant (splat over the lanes)."""
        return self._splat("double " + _const(v)) if self.W else _const(v)

    def tmp(self) -> str:
        self.n += 1
        return f"%v{self.n}"

    def emit(self, rhs: str) -> str:
        r = self.tmp()
        self.lines.append(f"  {r} = {rhs}")
        return r

    def call(self, fname: str, *xs: str) -> str:
        """``fname`` is the scalar function (an ``llvm.*.f64`` intrinsic or libm's); over
        lanes, libmvec's vector variant where there is one, the vector intrinsic, or one
        scalar call per lane."""
        if not self.W:
            self.decls.add(f"declare double @{fname}({', '.join(['double'] * len(xs))})")
            return self.emit(f"call double @{fname}({', '.join('double ' + x for x in xs)})")
        T = self.T
        vname = _vector_function(fname, len(xs), self.W)
        if vname is None:
            self.decls.add(f"declare double @{fname}({', '.join(['double'] * len(xs))})")
            acc = "undef"
            for lane in range(self.W):
                el = [self.emit(f"extractelement {T} {x}, i32 {lane}") for x in xs]
                r = self.emit(f"call double @{fname}({', '.join('double ' + e for e in el)})")
                acc = self.emit(f"insertelement {T} {acc}, double {r}, i32 {lane}")
            return acc
        self.decls.add(f"declare {T} @{vname}({', '.join([T] * len(xs))})")
        return self.emit(f"call {T} @{vname}({', '.join(T + ' ' + x for x in xs)})")

    def load(self, base: str, index: int) -> str:
        key = ("load", base, index)
        if key not in self.memo:
            if self.W:
                ptr = self.emit(f"getelementptr inbounds double, double* {base}, "
                                f"i64 {index * self.W}")
                vp = self.emit(f"bitcast double* {ptr} to {self.T}*")
                self.memo[key] = self.emit(f"load {self.T}, {self.T}* {vp}, align 8")
            else:
                ptr = self.emit(f"getelementptr inbounds double, double* {base}, i64 {index}")
                self.memo[key] = self.emit(f"load double, double* {ptr}")
        return self.memo[key]

    def store(self, base: str, index: int, value: str, ty: str = "double") -> None:
        if self.W:
            ptr = self.emit(f"getelementptr inbounds double, double* {base}, "
                            f"i64 {index * self.W}")
            vp = self.emit(f"bitcast double* {ptr} to {self.T}*")
            self.lines.append(f"  store {self.T} {value}, {self.T}* {vp}, align 8")
            return
        ptr = self.emit(f"getelementptr inbounds {ty}, {ty}* {base}, i64 {index}")
        self.lines.append(f"  store {ty} {value}, {ty}* {ptr}")

    def bin(self, op: str, a: str, b: str) -> str:
        return self.emit(f"{op} {FP_FLAGS}{self.T} {a}, {b}")

    def select(self, cond: str, a: str, b: str) -> str:
        return self.emit(f"select {self.B} {cond}, {self.T} {a}, {self.T} {b}")

    def fcmp(self, op: str, a: str, b: str) -> str:
        return self.emit(f"fcmp {op} {self.T} {a}, {b}")

    def fneg(self, x: str) -> str:
        return self.emit(f"fneg {self.T} {x}")

    # -- numbers
    def num(self, e) -> str:
        key = ("num", e)
        r = self.memo.get(key)
        if r is None:
            r = self._num(e)
            self.memo[key] = r
        return r

    def _num(self, e) -> str:
        k = self.k
        if isinstance(e, _Boolean) or e in (sympy.true, sympy.false):
            return self.select(self.bool(e), k(1.0), k(0.0))
        if e.is_Number or e.is_NumberSymbol:
            if e in (sympy.nan, sympy.zoo):
                return k(float("nan"))
            return k(float(e))
        if e.is_Symbol:
            where = self.args.get(e)
            if where is None:
                raise UnsupportedFeatureError(["generated code would refer to an unknown symbol"])
            return where[1] if where[0] == "arg" else self.load(where[1], where[2])
        if e.is_Add:
            terms = list(e.args)
            acc = None
            for a in terms:
                neg = a.is_Mul and a.args[0].is_Number and a.args[0] < 0
                x = self.num(-a if neg else a)
                if acc is None:
                    acc = self.fneg(x) if neg else x
                else:
                    acc = self.bin("fsub" if neg else "fadd", acc, x)
            return acc
        if e.is_Mul:
            coeff, factors = e.as_coeff_mul()
            num_f, den_f = [], []
            for f in factors:
                if f.is_Pow and f.exp.is_Number and f.exp < 0:
                    den_f.append(f.base if f.exp == -1 else sympy.Pow(f.base, -f.exp))
                else:
                    num_f.append(f)
            neg = coeff < 0
            coeff = -coeff if neg else coeff
            vals = [self.num(f) for f in num_f]
            if coeff != 1 or not vals:
                vals.insert(0, self.num(coeff))
            acc = vals[0]
            for v in vals[1:]:
                acc = self.bin("fmul", acc, v)
            if den_f:
                den = self.num(den_f[0])
                for f in den_f[1:]:
                    den = self.bin("fmul", den, self.num(f))
                acc = self.bin("fdiv", acc, den)
            return self.fneg(acc) if neg else acc
        if e.is_Pow:
            b, x = e.args
            if x.is_Integer:
                n = int(x)
                if n == 0:
                    return k(1.0)
                bv = self.num(b)
                r = self._ipow(bv, abs(n))
                return self.bin("fdiv", k(1.0), r) if n < 0 else r
            if x == sympy.S.Half:
                return self.call("llvm.sqrt.f64", self.num(b))
            if x == -sympy.S.Half:
                return self.bin("fdiv", k(1.0), self.call("llvm.sqrt.f64", self.num(b)))
            if b == sympy.E:
                return self.call("llvm.exp.f64", self.num(x))
            return self.call("llvm.pow.f64", self.num(b), self.num(x))
        if isinstance(e, sympy.Piecewise):
            pieces = list(e.args)
            if pieces[-1].cond is not sympy.true:
                pieces.append(sympy.functions.elementary.piecewise.ExprCondPair(sympy.nan, True))
            acc = self.num(pieces[-1].expr)
            for pc in reversed(pieces[:-1]):
                acc = self.select(self.bool(pc.cond), self.num(pc.expr), acc)
            return acc
        f = e.func
        if f in _INTRINSIC1 and len(e.args) == 1:
            return self.call(_INTRINSIC1[f], self.num(e.args[0]))
        if f in _LIBM1 and len(e.args) == 1:
            return self.call(_LIBM1[f], self.num(e.args[0]))
        if f in _RECIPROCAL:
            return self.bin("fdiv", k(1.0), self.num(_RECIPROCAL[f](e.args[0], evaluate=False)))
        if f in _OF_RECIPROCAL:
            inv = self.bin("fdiv", k(1.0), self.num(e.args[0]))
            return self.call(_LIBM1[_OF_RECIPROCAL[f]], inv)
        if f is sympy.atan2:
            return self.call("atan2", self.num(e.args[0]), self.num(e.args[1]))
        if f is sympy.factorial:
            return self.call("tgamma", self.bin("fadd", self.num(e.args[0]), k(1.0)))
        if f in (sympy.Min, sympy.Max):
            op = "olt" if f is sympy.Min else "ogt"
            vals = [self.num(a) for a in e.args]
            acc = vals[0]
            for v in vals[1:]:
                acc = self.select(self.fcmp(op, v, acc), v, acc)
            return acc
        if f is sympy.sign:
            x = self.num(e.args[0])
            pos = self.fcmp("ogt", x, k(0.0))
            neg = self.fcmp("olt", x, k(0.0))
            return self.select(pos, k(1.0), self.select(neg, k(-1.0), k(0.0)))
        if f is sympy.Heaviside:
            x = self.num(e.args[0])
            h0 = self.num(e.args[1]) if len(e.args) > 1 else k(0.5)
            pos = self.fcmp("ogt", x, k(0.0))
            neg = self.fcmp("olt", x, k(0.0))
            return self.select(pos, k(1.0), self.select(neg, k(0.0), h0))
        if f is sympy.Mod:
            a, b = self.num(e.args[0]), self.num(e.args[1])
            q = self.call("llvm.floor.f64", self.bin("fdiv", a, b))
            return self.bin("fsub", a, self.bin("fmul", b, q))
        if isinstance(e, sympy.Derivative):
            raise UnsupportedFeatureError(
                [f"the Jacobian needs the derivative of {type(e.expr).__name__}, which has no "
                 f"closed form here"])
        raise UnsupportedFeatureError(
            [f"model math uses '{type(e).__name__}', which the compiled backend does not "
             f"translate"])

    def _ipow(self, b: str, k: int) -> str:
        if k == 1:
            return b
        if k > 16:
            return self.call("llvm.pow.f64", b, self.k(float(k)))
        half = self._ipow(b, k // 2)
        sq = self.bin("fmul", half, half)
        return self.bin("fmul", sq, b) if k % 2 else sq

    # -- booleans
    def bool(self, e) -> str:
        key = ("bool", e)
        r = self.memo.get(key)
        if r is None:
            r = self._bool(e)
            self.memo[key] = r
        return r

    def _bool(self, e) -> str:
        B = self.B
        if e is sympy.true or e is True:
            return self.true
        if e is sympy.false or e is False:
            return self.false
        if isinstance(e, sympy.core.relational.Relational):
            op = _FCMP.get(type(e))
            if op is None:
                raise UnsupportedFeatureError([f"relation {type(e).__name__} is not supported"])
            return self.fcmp(op, self.num(e.lhs), self.num(e.rhs))
        if isinstance(e, (sympy.And, sympy.Or, sympy.Xor)):
            op = {sympy.And: "and", sympy.Or: "or", sympy.Xor: "xor"}[e.func]
            vals = [self.bool(a) for a in e.args]
            acc = vals[0]
            for v in vals[1:]:
                acc = self.emit(f"{op} {B} {acc}, {v}")
            return acc
        if isinstance(e, sympy.Not):
            return self.emit(f"xor {B} {self.bool(e.args[0])}, {self.true}")
        if isinstance(e, sympy.Piecewise):
            acc = self.false
            for pc in reversed(e.args):
                acc = self.emit(f"select {B} {self.bool(pc.cond)}, {B} {self.bool(pc.expr)}, "
                                f"{B} {acc}")
            return acc
        if isinstance(e, sympy.logic.boolalg.BooleanFunction):
            raise UnsupportedFeatureError([f"logic '{type(e).__name__}' is not supported"])
        return self.fcmp("une", self.num(e), self.k(0.0))


_ATTRS = "nounwind"


def _model_function(decls, names, name, exprs, *, bool_out=False) -> str:
    em = _Emitter(decls, names)
    for k, e in enumerate(exprs):
        if bool_out:
            b = em.bool(e)
            v = em.emit(f"zext i1 {b} to i8")
            em.store("%out", k, v, "i8")
        elif is_boolean(e):             # a logical output reads as 1.0 / 0.0
            em.store("%out", k, em.emit(f"uitofp i1 {em.bool(e)} to double"))
        else:
            em.store("%out", k, em.num(e))
    out_t = "i8*" if bool_out else "double*"
    head = (f"define void @{name}(double %t, double* noalias nocapture readonly %y, "
            f"double* noalias nocapture readonly %p, {out_t} noalias nocapture %out) {_ATTRS} {{")
    return "\n".join([head, "entry:", *em.lines, "  ret void", "}"])


_MEMCPY = "declare void @llvm.memcpy.p0i8.p0i8.i64(i8*, i8*, i64, i1)"


def _step_functions(decls, names, m: int, rhs, jexprs, params) -> tuple[list, int]:
    """The right-hand side and Jacobian for the integrator's step loop, with their
    parameter-only subexpressions computed once per segment (:mod:`simulator.codegen.hoist`).

    They read ``pq = [p (m) | flag | q (derived)]``: on a call that finds ``flag`` 0 they
    first fill ``q`` (``derive``) and set it; the integrator copies ``p`` in and clears the
    flag at the start of every segment (parameters change only between segments). ``rhs``
    and ``jac`` keep the plain ``(t, y, p, out)`` contract for every other caller, through
    the same code on a stack copy. Returns the functions and the number of derived values.
    """
    h = hoist_parameters([rhs, jexprs], params)
    nd = len(h.derived)
    q_names = dict(names)
    q_names.update({s: ("load", "%p", m + 1 + k) for k, s in enumerate(h.symbols)})
    funcs = [_model_function(decls, names, "derive", h.derived)]
    for name, exprs in (("rhs", h.lists[0]), ("jac", h.lists[1])):
        em = _Emitter(decls, q_names)
        for k, e in enumerate(exprs):
            em.store("%out", k, em.num(e))
        funcs.append("\n".join([
            f"define void @{name}_q(double %t, double* noalias nocapture readonly %y, "
            f"double* noalias nocapture %p, double* noalias nocapture %out) {_ATTRS} {{",
            "entry:",
            f"  %flag_at = getelementptr inbounds double, double* %p, i64 {m}",
            "  %flag = load double, double* %flag_at",
            "  %ready = fcmp one double %flag, 0.0",
            "  br i1 %ready, label %body, label %fill",
            "fill:",
            f"  %q_at = getelementptr inbounds double, double* %p, i64 {m + 1}",
            "  call void @derive(double %t, double* %y, double* %p, double* %q_at)",
            f"  store double {_const(1.0)}, double* %flag_at",
            "  br label %body",
            "body:", *em.lines, "  ret void", "}"]))
        funcs.append("\n".join([
            f"define void @{name}(double %t, double* noalias nocapture readonly %y, "
            f"double* noalias nocapture readonly %p, double* noalias nocapture %out) {_ATTRS} {{",
            "entry:",
            f"  %pq = alloca double, i64 {m + 1 + nd}",
            "  %to = bitcast double* %pq to i8*",
            "  %from = bitcast double* %p to i8*",
            f"  call void @llvm.memcpy.p0i8.p0i8.i64(i8* %to, i8* %from, i64 {8 * m}, i1 false)",
            f"  %flag_at = getelementptr inbounds double, double* %pq, i64 {m}",
            f"  store double {_const(0.0)}, double* %flag_at",
            f"  call void @{name}_q(double %t, double* %y, double* %pq, double* %out)",
            "  ret void", "}"]))
    decls.add(_MEMCPY)
    return funcs, nd


# ----------------------------------------------------------------------------------------
# sparse LU plan


@dataclass(frozen=True)
class LUPlan:
    """Symbolic LU of ``W = c I - J`` on a fixed pattern (diagonal pivots, with fill-in).

    ``steps[s] = (k, L, U)``: pivot ``k``; ``L`` the rows ``i`` below it and ``U`` the columns
    ``j`` right of it, both among states not yet eliminated. ``pos`` maps an entry ``(i, j)``
    to its slot in the value array.
    """

    n: int
    nnz: int
    fill: int
    order: tuple
    steps: tuple
    pos: dict = field(repr=False)


def lu_plan(n: int, rows, cols) -> LUPlan:
    """Symbolic factorisation of ``c I - J`` for the Jacobian pattern ``(rows, cols)``.

    The order is Markowitz's restricted to the diagonal: at each step the remaining diagonal
    entry with the smallest product of other row and column counts, which keeps fill-in low.
    Diagonal pivots suit Rosenbrock matrices, dominated by ``c I`` for small steps; a zero
    pivot is reported at run time and the integrator retries with a smaller step.
    """
    pos: dict[tuple[int, int], int] = {}
    for i, j in zip(rows, cols):
        pos.setdefault((int(i), int(j)), len(pos))
    for i in range(n):
        pos.setdefault((i, i), len(pos))
    n_orig = len(pos)
    col_rows = [set() for _ in range(n)]
    row_cols = [set() for _ in range(n)]
    for (i, j) in pos:
        if i != j:
            col_rows[j].add(i)
            row_cols[i].add(j)
    remaining = set(range(n))
    order, steps = [], []
    for _ in range(n):
        k = min(remaining, key=lambda m: (len(col_rows[m]) * len(row_cols[m]), m))
        remaining.discard(k)
        L, U = sorted(col_rows[k]), sorted(row_cols[k])
        for i in L:
            for j in U:
                if (i, j) not in pos:
                    pos[(i, j)] = len(pos)
                    if i != j:
                        col_rows[j].add(i)
                        row_cols[i].add(j)
        for i in L:
            row_cols[i].discard(k)
        for j in U:
            col_rows[j].discard(k)
        order.append(k)
        steps.append((k, tuple(L), tuple(U)))
    return LUPlan(n=n, nnz=len(pos), fill=len(pos) - n_orig, order=tuple(order),
                  steps=tuple(steps), pos=pos)


def _lu_functions(decls: set, plan: LUPlan, rows, cols, blocks: int = 0,
                  width: int = 0) -> tuple[str, int]:
    """``decomp(c, jnz, a) -> i64`` and ``solve(a, x)``, unrolled for ``plan``.

    With ``blocks = m > 0`` the matrix is ``c I - J`` for a Jacobian with ``m + 1`` equal
    diagonal blocks of ``plan``'s size and nonzero blocks ``B_i`` only in the first block
    column (``OdeSystem.lu_blocks``). Only the first diagonal block is factorised; ``a``
    holds its LU, then the ``B_i`` entries. ``solve`` is block forward substitution:
    ``x_0 = W^-1 b_0``, ``x_i = W^-1 (b_i + B_i x_0)``.

    With ``width = W > 0``, ``decomp_v(c, jnz, a)`` and ``solve_v(a, x)`` factorise W
    matrices at once, lane-major (``c`` holds W values); ``decomp_v`` returns the bit mask of
    the lanes with a zero or non-finite pivot.
    """
    nb = plan.n
    em = _Emitter(decls, {}, width)
    k = em.k
    c = "%c"
    if width:
        em.lines.append(f"  %cv = bitcast double* %cp to {em.T}*")
        c = em.emit(f"load {em.T}, {em.T}* %cv, align 8")
    v = {slot: k(0.0) for slot in range(plan.nnz)}
    coupling = []                      # (jnz index, block, row, column) of the B_i entries
    for kk, (i, j) in enumerate(zip(rows, cols)):
        i, j = int(i), int(j)
        if i < nb and j < nb:
            slot = plan.pos[(i, j)]
            v[slot] = em.bin("fsub", v[slot], em.load("%jnz", kk))
        elif j < nb:
            coupling.append((kk, i // nb, i % nb, j))
        elif i // nb != j // nb or (i % nb, j % nb) not in plan.pos:
            raise ValueError(f"Jacobian entry ({i}, {j}) is outside the block structure")
    for i in range(nb):
        slot = plan.pos[(i, i)]
        v[slot] = em.bin("fadd", v[slot], c)
    B = em.B
    bad = em.false
    for kp, L, U in plan.steps:
        pp = plan.pos[(kp, kp)]
        piv = v[pp]
        mag = em.call("llvm.fabs.f64", piv)
        ok = em.fcmp("ogt", mag, k(1e-300))
        fin = em.fcmp("olt", mag, k(float("inf")))
        good = em.emit(f"and {B} {ok}, {fin}")
        bad = em.emit(f"or {B} {bad}, {em.emit(f'xor {B} {good}, {em.true}')}")
        inv = em.bin("fdiv", k(1.0), piv)
        v[pp] = inv
        ukj = {j: v[plan.pos[(kp, j)]] for j in U}
        for i in L:
            lp = plan.pos[(i, kp)]
            lik = em.bin("fmul", v[lp], inv)
            v[lp] = lik
            for j in U:
                s = plan.pos[(i, j)]
                v[s] = em.bin("fsub", v[s], em.bin("fmul", lik, ukj[j]))
    for slot in range(plan.nnz):
        em.store("%a", slot, v[slot])
    for s, (kk, _, _, _) in enumerate(coupling):
        em.store("%a", plan.nnz + s, em.load("%jnz", kk))
    if width:
        mask = em.emit(f"bitcast {B} {bad} to i{width}")
        res = em.emit(f"zext i{width} {mask} to i64")
        head = (f"define i64 @decomp_v(double* noalias nocapture readonly %cp, "
                f"double* noalias nocapture readonly %jnz, double* noalias nocapture %a) "
                f"{_lane_attrs(width)} {{")
    else:
        res = em.emit(f"select i1 {bad}, i64 1, i64 0")
        head = (f"define i64 @decomp(double %c, double* noalias nocapture readonly %jnz, "
                f"double* noalias nocapture %a) {_ATTRS} {{")
    decomp = "\n".join([head, "entry:", *em.lines, f"  ret i64 {res}", "}"])
    em = _Emitter(decls, {}, width)

    def substitute(x: dict) -> dict:
        for kp, L, U in plan.steps:
            for i in L:
                x[i] = em.bin("fsub", x[i], em.bin("fmul", em.load("%a", plan.pos[(i, kp)]),
                                                   x[kp]))
        for kp, L, U in reversed(plan.steps):
            acc = x[kp]
            for j in U:
                acc = em.bin("fsub", acc, em.bin("fmul", em.load("%a", plan.pos[(kp, j)]),
                                                 x[j]))
            x[kp] = em.bin("fmul", acc, em.load("%a", plan.pos[(kp, kp)]))
        return x

    x0 = substitute({i: em.load("%x", i) for i in range(nb)})
    out = dict(x0)
    for b in range(1, blocks + 1):
        xb = {i: em.load("%x", b * nb + i) for i in range(nb)}
        for s, (_, blk, i, j) in enumerate(coupling):
            if blk == b:
                xb[i] = em.bin("fadd", xb[i], em.bin("fmul", em.load("%a", plan.nnz + s), x0[j]))
        out.update({b * nb + i: v for i, v in substitute(xb).items()})
    for i in range(nb * (blocks + 1)):
        em.store("%x", i, out[i])
    name, attrs = ("solve_v", _lane_attrs(width)) if width else ("solve", _ATTRS)
    solve = "\n".join([f"define void @{name}(double* noalias nocapture readonly %a, "
                       f"double* noalias nocapture %x) {attrs} {{", "entry:", *em.lines,
                       "  ret void", "}"])
    return decomp + "\n\n" + solve + "\n", plan.nnz + len(coupling)


def _lane_attrs(width: int) -> str:
    """Function attributes of a lane function: vectors of ``width`` doubles stay whole
    (LLVM would otherwise split 512-bit vectors on CPUs that prefer 256-bit ones)."""
    return f'{_ATTRS} "min-legal-vector-width"="{64 * width}"'


def _lane_function(decls, names, name, exprs, width: int) -> str:
    """``name(t, y, p, out)`` over ``width`` lanes, every argument a lane-major array."""
    em = _Emitter(decls, names, width)
    em.lines.append(f"  %tv = bitcast double* %tp to {em.T}*")
    em.lines.append(f"  %t = load {em.T}, {em.T}* %tv, align 8")
    for k, e in enumerate(exprs):
        em.store("%out", k, em.num(e))
    head = (f"define void @{name}(double* noalias nocapture readonly %tp, "
            f"double* noalias nocapture readonly %y, double* noalias nocapture readonly %p, "
            f"double* noalias nocapture %out) {_lane_attrs(width)} {{")
    return "\n".join([head, "entry:", *em.lines, "  ret void", "}"])


# ----------------------------------------------------------------------------------------
# generation


@dataclass(frozen=True)
class GeneratedCode:
    """Generated LLVM IR and the structure the integrator needs alongside it."""

    key: str
    ir: str
    n_states: int
    n_params: int
    n_events: int
    jac_rows: tuple
    jac_cols: tuple
    time_dependent: bool
    lu_nnz: int
    lu_fill: int
    n_outputs: int = 0               # 0 when the outputs have no native form
    n_switches: int = 0              # relations inside the triggers (outputs of ``switches``)
    switch_equal: tuple = ()         # indices of the switches of ``==`` / ``!=`` relations
    n_event_values: int = -1         # assignments of all events (``event_values`` writes
                                     # their values, then their factors); -1: none
    n_derived: int = 0               # parameter-only values ``derive`` computes per segment

    def meta(self) -> dict:
        """Everything but the IR, as stored beside cached code."""
        return dict(n_states=self.n_states, n_params=self.n_params, n_events=self.n_events,
                    jac_rows=list(self.jac_rows), jac_cols=list(self.jac_cols),
                    time_dependent=self.time_dependent, lu_nnz=self.lu_nnz,
                    lu_fill=self.lu_fill, n_outputs=self.n_outputs,
                    n_switches=self.n_switches, switch_equal=list(self.switch_equal),
                    n_event_values=self.n_event_values, n_derived=self.n_derived)

    @classmethod
    def from_meta(cls, key: str, meta: dict, ir: str = "") -> "GeneratedCode":
        return cls(key=key, ir=ir, n_states=meta["n_states"], n_params=meta["n_params"],
                   n_events=meta["n_events"], jac_rows=tuple(meta["jac_rows"]),
                   jac_cols=tuple(meta["jac_cols"]), time_dependent=meta["time_dependent"],
                   lu_nnz=meta["lu_nnz"], lu_fill=meta["lu_fill"], n_outputs=meta["n_outputs"],
                   n_switches=meta["n_switches"], switch_equal=tuple(meta["switch_equal"]),
                   n_event_values=meta.get("n_event_values", -1),
                   n_derived=meta["n_derived"])


def system_key(system: OdeSystem) -> str:
    """Hash of everything the generated code depends on (expressions, sizes, version)."""
    smap = SymbolMap.of(system)
    h = hashlib.sha256()
    h.update(f"crosstalk-llvm {CODEGEN_VERSION} {sympy.__version__} {system.n_states} "
             f"{system.n_params} {len(system.events)} {system.lu_blocks}\n".encode())
    for e in smap.rename_all(system.rhs):
        h.update(sympy.srepr(e).encode() + b"\n")
    for ev in system.events:
        h.update(b"E" + sympy.srepr(smap.rename(ev.trigger)).encode() + b"\n")
    for k, e in zip(system.outputs, smap.rename_all(system.outputs.values())):
        h.update(b"O" + k.encode() + sympy.srepr(e).encode() + b"\n")
    return h.hexdigest()[:24]


def _argument_names(smap: SymbolMap) -> dict:
    """How each generated symbol is read inside a model function ``f(t, y, p, out)``."""
    names = {smap.t: ("arg", "%t")}
    names.update({s: ("load", "%y", i) for i, s in enumerate(smap.y)})
    names.update({s: ("load", "%p", j) for j, s in enumerate(smap.p)})
    return names


def expressions_ir(system: OdeSystem, exprs, what: str = "readout", width: int = 0) -> str:
    """A module with one function ``expressions(t, y, p, out)``, ``out[k] = exprs[k]``
    (expressions in the system's symbols; ``what`` names them in errors); with
    ``width = W``, ``expressions_v`` on W rows at once, every argument lane-major.

    Raises
    ------
    UnsupportedFeatureError, ModelError
        As :func:`generate`.
    """
    smap = SymbolMap.of(system)
    decls: set = set()
    renamed = [smap.rename(e, what) for e in exprs]
    if width:
        body = _lane_function(decls, _argument_names(smap), "expressions_v", renamed, width)
    else:
        body = _model_function(decls, _argument_names(smap), "expressions", renamed)
    return "\n".join(sorted(decls)) + "\n\n" + body


def _dynamics(system: OdeSystem, smap: SymbolMap) -> tuple:
    """The renamed right-hand side, the Jacobian's pattern and entries, and ``df/dt``."""
    rhs = smap.rename_all(system.rhs, [f"rate of change of '{sid}'"
                                       for sid in system.state_ids])
    if system.jacobian is None:
        jrows, jcols, jexprs = jacobian_entries(rhs, smap.y)
    else:
        jrows, jcols, given = system_jacobian(system)
        jexprs = smap.rename_all(given, "Jacobian")
    if any(smap.t in f.free_symbols for f in rhs):
        diff = Differentiator()
        dfdt = [diff(f, smap.t) for f in rhs]
    else:
        dfdt = [sympy.Integer(0)] * len(rhs)
    return rhs, jrows, jcols, jexprs, dfdt


def _system_lu(decls: set, system: OdeSystem, jrows, jcols, width: int = 0) -> tuple:
    """The unrolled LU functions of ``system`` (:func:`_lu_functions`), their value count
    and fill-in."""
    blocks = system.lu_blocks
    nb = system.n_states // (blocks + 1)
    inside = [(r, c) for r, c in zip(jrows, jcols) if r < nb and c < nb]
    plan = lu_plan(nb, [r for r, _ in inside], [c for _, c in inside])
    lu, lu_nnz = _lu_functions(decls, plan, jrows, jcols, blocks, width)
    return lu, lu_nnz, plan.fill


class _Kernel:
    """Text of one straight-line lane kernel ``name(a, b, c, d)`` (four ``double*``)."""

    def __init__(self, name: str, width: int):
        self.name, self.W = name, width
        self.T = f"<{width} x double>"
        self.lines: list[str] = []
        self.n = 0

    def emit(self, rhs: str) -> str:
        self.n += 1
        self.lines.append(f"  %k{self.n} = {rhs}")
        return f"%k{self.n}"

    def ptr(self, base: str, offset: int) -> str:
        p = self.emit(f"getelementptr inbounds double, double* {base}, i64 {offset}")
        return self.emit(f"bitcast double* {p} to {self.T}*")

    def load(self, base: str, offset: int) -> str:
        return self.emit(f"load {self.T}, {self.T}* {self.ptr(base, offset)}, align 8")

    def store(self, base: str, offset: int, value: str) -> None:
        self.lines.append(f"  store {self.T} {value}, {self.T}* {self.ptr(base, offset)}, "
                          f"align 8")

    def splat(self, base: str, offset: int) -> str:
        """The scalar ``base[offset]`` in every lane."""
        p = self.emit(f"getelementptr inbounds double, double* {base}, i64 {offset}")
        x = self.emit(f"load double, double* {p}")
        v = self.emit(f"insertelement {self.T} undef, double {x}, i32 0")
        return self.emit(f"shufflevector {self.T} {v}, {self.T} undef, "
                         f"<{self.W} x i32> zeroinitializer")

    def op(self, op: str, a: str, b: str) -> str:
        return self.emit(f"{op} {FP_FLAGS}{self.T} {a}, {b}")

    def text(self, linkage: str = "") -> str:
        args = ", ".join(f"double* noalias nocapture %{a}" for a in "abcd")
        return "\n".join([f"define {linkage}void @{self.name}({args}) {_lane_attrs(self.W)} {{",
                          "entry:", *self.lines, "  ret void", "}"])


def _dispatch(name: str, cases: range, width: int) -> str:
    """``name(a, b, c, d)`` calls ``name<j>(a, b, c, d)`` for ``j = c[8]``, the number of
    terms, which the caller stores after the coefficients."""
    args = ", ".join(f"double* %{a}" for a in "abcd")
    lines = [f"define void @{name}({args}) {_lane_attrs(width)} {{", "entry:",
             "  %jp = getelementptr inbounds double, double* %c, i64 8",
             "  %jd = load double, double* %jp", "  %j = fptosi double %jd to i64",
             "  switch i64 %j, label %none [" + " ".join(f"i64 {j}, label %l{j}" for j in cases)
             + "]"]
    for j in cases:
        lines += [f"l{j}:", f"  call void @{name}{j}({args})", "  ret void"]
    return "\n".join(lines + ["none:", "  ret void", "}"])


def _lane_kernels(n: int, width: int) -> list[str]:
    """The step loop's vector arithmetic over ``n`` states, unrolled (all ``(a, b, c, d)``
    of ``double*``, arrays lane-major; ``ks`` holds the 8 stages, then ``f_t``, each
    ``n * width`` long; coefficients come from the caller, so the method stays in
    :mod:`simulator.solvers`):

    - ``stage_in(out, y, a, ks)``: ``out = y + sum_{s<j} a[s] k_s`` with ``j = a[8]``;
    - ``stage_k(k, ks, c, g)``: ``k += g[0:W] * sum_{s<j} c[s] k_s + g[W:2W] * f_t`` with
      ``j = c[8]`` (``g``: each lane's ``1/h``, then ``h d``);
    - ``dense_q(q, ks, H, -)``: ``q_r = sum_s H[8 r + s] k_s`` for r = 0, 1, 2;
    - ``error_sum(ynew, ks, y, e)``: ``ynew += k_8``; with ``e = [atol (n) | rtol]`` it
      writes each lane's ``sum_i (k_8 / (atol_i + rtol max(|y|, |ynew|)))^2`` to ``e[n+1:]``
      (NaN where a new state is not finite), the largest term and its state index after it.
    """
    W, nw = width, n * width
    out = []
    for j in range(1, 6):
        k = _Kernel(f"stage_in{j}", W)
        a = [k.splat("%c", s) for s in range(j)]
        for i in range(n):
            acc = k.load("%b", i * W)
            for s in range(j):
                acc = k.op("fadd", acc, k.op("fmul", a[s], k.load("%d", s * nw + i * W)))
            k.store("%a", i * W, acc)
        out.append(k.text("internal "))
    out.append(_dispatch("stage_in", range(1, 6), W))
    for j in range(1, 8):
        k = _Kernel(f"stage_k{j}", W)
        c = [k.splat("%c", s) for s in range(j)]
        ih, hd = k.load("%d", 0), k.load("%d", W)
        for i in range(n):
            acc = k.op("fmul", c[0], k.load("%b", i * W))
            for s in range(1, j):
                acc = k.op("fadd", acc, k.op("fmul", c[s], k.load("%b", s * nw + i * W)))
            v = k.op("fadd", k.load("%a", i * W), k.op("fmul", ih, acc))
            v = k.op("fadd", v, k.op("fmul", hd, k.load("%b", 8 * nw + i * W)))
            k.store("%a", i * W, v)
        out.append(k.text("internal "))
    out.append(_dispatch("stage_k", range(1, 8), W))
    k = _Kernel("dense_q", W)
    H = [[k.splat("%c", 8 * r + s) for s in range(8)] for r in range(3)]
    for i in range(n):
        ks = [k.load("%b", s * nw + i * W) for s in range(8)]
        for r in range(3):
            acc = k.op("fmul", H[r][0], ks[0])
            for s in range(1, 8):
                acc = k.op("fadd", acc, k.op("fmul", H[r][s], ks[s]))
            k.store("%a", r * nw + i * W, acc)
    out.append(k.text())
    k = _Kernel("error_sum", W)
    T = k.T
    rtol = k.splat("%d", n)
    total, worst, where = "zeroinitializer", "zeroinitializer", "zeroinitializer"
    fabs = f"llvm.fabs.v{W}f64"
    for i in range(n):
        k8 = k.load("%b", 7 * nw + i * W)
        v = k.op("fadd", k.load("%a", i * W), k8)
        k.store("%a", i * W, v)
        ay = k.emit(f"call {T} @{fabs}({T} {k.load('%c', i * W)})")
        av = k.emit(f"call {T} @{fabs}({T} {v})")
        big = k.emit(f"select <{W} x i1> {k.emit(f'fcmp ogt {T} {av}, {ay}')}, "
                     f"{T} {av}, {T} {ay}")
        sk = k.op("fadd", k.splat("%d", i), k.op("fmul", rtol, big))
        e = k.op("fdiv", k8, sk)
        term = k.op("fadd", k.op("fmul", e, e), k.op("fsub", v, v))
        total = k.op("fadd", total, term)
        more = k.emit(f"fcmp ogt {T} {term}, {worst}")
        worst = k.emit(f"select <{W} x i1> {more}, {T} {term}, {T} {worst}")
        idx = "<" + ", ".join([f"double {_const(float(i))}"] * W) + ">"
        where = k.emit(f"select <{W} x i1> {more}, {T} {idx}, {T} {where}")
    k.store("%d", n + 1, total)
    k.store("%d", n + 1 + W, worst)
    k.store("%d", n + 1 + 2 * W, where)
    out.append(k.text())
    return out


@dataclass(frozen=True)
class LaneCode:
    """The IR of a system's step functions over :data:`LANES` members at once."""

    key: str
    ir: str
    width: int
    n_derived: int
    lu_nnz: int
    n_jac: int

    def meta(self) -> dict:
        return dict(width=self.width, n_derived=self.n_derived, lu_nnz=self.lu_nnz,
                    n_jac=self.n_jac)


def generate_lanes(system: OdeSystem, key: str) -> LaneCode:
    """The step functions of ``system`` over :data:`LANES` lanes, one member per lane:
    ``derive_v``, ``rhs_v``, ``jac_v``, ``dfdt_v`` (``f(t, y, p, out)`` on lane-major
    arrays) and ``decomp_v``, ``solve_v``. ``rhs_v`` and ``jac_v`` read
    ``[p | (unused) | derived]`` as ``rhs_q`` does, but never fill it: the lane integrator
    calls ``derive_v`` when a lane takes a new member. Raises as :func:`generate`."""
    smap = SymbolMap.of(system)
    m = system.n_params
    names = _argument_names(smap)
    rhs, jrows, jcols, jexprs, dfdt = _dynamics(system, smap)
    h = hoist_parameters([rhs, jexprs], smap.p)
    q_names = dict(names)
    q_names.update({s: ("load", "%p", m + 1 + k) for k, s in enumerate(h.symbols)})
    decls: set = set()
    funcs = [_lane_function(decls, names, "derive_v", h.derived, LANES),
             _lane_function(decls, q_names, "rhs_v", h.lists[0], LANES),
             _lane_function(decls, q_names, "jac_v", h.lists[1], LANES),
             _lane_function(decls, names, "dfdt_v", dfdt, LANES)]
    funcs += _lane_kernels(system.n_states, LANES)
    decls.add(f"declare <{LANES} x double> @llvm.fabs.v{LANES}f64(<{LANES} x double>)")
    lu, lu_nnz, _ = _system_lu(decls, system, jrows, jcols, LANES)
    ir = (f"; generated by simulator.codegen.llvm (version {CODEGEN_VERSION}, {LANES} lanes, "
          f"libmvec {vector_libm() is not None}); key {key}\n"
          + "\n".join(sorted(decls)) + "\n\n" + "\n\n".join(funcs) + "\n\n" + lu)
    return LaneCode(key=key, ir=ir, width=LANES, n_derived=len(h.derived), lu_nnz=lu_nnz,
                    n_jac=len(jrows))


def generate(system: OdeSystem, key: str | None = None) -> GeneratedCode:
    """Generate the IR of ``system``'s functions (sympy only; nothing is compiled).

    Raises
    ------
    UnsupportedFeatureError
        An expression uses a function without a translation, or a derivative without a
        closed form.
    ModelError
        An expression refers to a symbol that is not ``t``, a state or a parameter.
    """
    smap = SymbolMap.of(system)
    n, m = system.n_states, system.n_params
    names = _argument_names(smap)
    rhs, jrows, jcols, jexprs, dfdt = _dynamics(system, smap)
    time_dep = any(smap.t in f.free_symbols for f in rhs)
    trig = [smap.rename(ev.trigger, f"trigger of event '{ev.id}'") for ev in system.events]
    switches = [smap.rename(e, "event trigger")
                for e in trigger_switches([ev.trigger for ev in system.events])]
    switch_equal = equality_switches([ev.trigger for ev in system.events])
    decls: set = set()
    funcs, n_derived = _step_functions(decls, names, m, rhs, jexprs, smap.p)
    funcs += [_model_function(decls, names, "dfdt", dfdt),
             _model_function(decls, names, "triggers", trig, bool_out=True),
             _model_function(decls, names, "switches", switches)]
    n_out = 0
    try:  # outputs are a convenience: a model whose rhs compiles must not fail on them
        outs = smap.rename_all(system.outputs.values())
        out_decls = set(decls)
        funcs.append(_model_function(out_decls, names, "outputs", outs))
        decls, n_out = out_decls, len(outs)
    except ModelError:
        pass
    n_ev_values = -1
    try:  # the compiled event driver's: a model without them runs the Python driver
        values = [smap.rename(e, f"assignment of event '{ev.id}'")
                  for ev in system.events for _, _, e in ev.assignments]
        values += [smap.rename(ev.factors[k] if ev.factors else sympy.Integer(1),
                               f"assignment of event '{ev.id}'")
                   for ev in system.events for k in range(len(ev.assignments))]
        ev_decls = set(decls)
        funcs.append(_model_function(ev_decls, names, "event_values", values))
        decls, n_ev_values = ev_decls, len(values) // 2
    except ModelError:
        pass
    lu, lu_nnz, lu_fill = _system_lu(decls, system, jrows, jcols)
    key = key or system_key(system)
    ir = (f"; generated by simulator.codegen.llvm (version {CODEGEN_VERSION}); key {key}\n"
          + "\n".join(sorted(decls)) + "\n\n" + "\n\n".join(funcs) + "\n\n" + lu)
    return GeneratedCode(key=key, ir=ir, n_states=n, n_params=m, n_events=len(trig),
                         jac_rows=tuple(jrows), jac_cols=tuple(jcols), time_dependent=time_dep,
                         lu_nnz=lu_nnz, lu_fill=lu_fill, n_outputs=n_out,
                         n_switches=len(switches), switch_equal=switch_equal,
                         n_event_values=n_ev_values, n_derived=n_derived)
