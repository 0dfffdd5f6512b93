"""The calling interface between a model's native functions and the compiled loops.

Every native function a model compiles (:mod:`simulator.codegen.jit`) has one of four C
signatures, taking pointers to float64 (or uint8) arrays::

    SIG_MODEL   void f(double t, double *y, double *p, double *out)   rhs, jac, dfdt,
                                                                      switches, outputs
    SIG_TRIG    void f(double t, double *y, double *p, uint8 *out)    triggers
    SIG_DECOMP  int64 f(double c, double *jnz, double *a)             decomp
    SIG_SOLVE   void f(double *a, double *x)                          solve, solve_v
    SIG_LANES   void f(double *t, double *y, double *p, double *out)  rhs_v, jac_v, ...
    SIG_LANE_DECOMP  int64 f(double *c, double *jnz, double *a)       decomp_v

The ``_v`` functions work on :data:`~simulator.codegen.llvm.LANES` members at once, every
array lane-major (:func:`simulator.codegen.llvm.generate_lanes`).

The numba loops (the integrator, the output kernels) take them as first-class function
values of the types ``*_FN`` below, through numba's wrapper-address protocol
(:class:`NativeFunction`), and hand them array pointers with :func:`data_pointer`. So those
loops are compiled once for every model. Nothing here knows about any model.
"""
from __future__ import annotations

import ctypes

import numba.experimental.function_type  # noqa: F401 - typeof of NativeFunction (its protocol)
from numba import types
from numba.core.types import WrapperAddressProtocol
from numba.extending import intrinsic

_P = types.CPointer(types.float64)
_PU8 = types.CPointer(types.uint8)
SIG_MODEL = types.void(types.float64, _P, _P, _P)
SIG_TRIG = types.void(types.float64, _P, _P, _PU8)
SIG_DECOMP = types.int64(types.float64, _P, _P)
SIG_SOLVE = types.void(_P, _P)
SIG_LANES = types.void(_P, _P, _P, _P)
SIG_LANE_DECOMP = types.int64(_P, _P, _P)

# numba types of the function-valued arguments of the compiled loops
MODEL_FN = types.FunctionType(SIG_MODEL)
TRIG_FN = types.FunctionType(SIG_TRIG)
DECOMP_FN = types.FunctionType(SIG_DECOMP)
SOLVE_FN = types.FunctionType(SIG_SOLVE)
LANES_FN = types.FunctionType(SIG_LANES)
LANE_DECOMP_FN = types.FunctionType(SIG_LANE_DECOMP)

# ctypes prototypes, to call the same functions from Python
CTYPES_PROTOTYPES = {
    SIG_MODEL: ctypes.CFUNCTYPE(None, ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p),
    SIG_TRIG: ctypes.CFUNCTYPE(None, ctypes.c_double, ctypes.c_void_p, ctypes.c_void_p,
                               ctypes.c_void_p),
    SIG_DECOMP: ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_double, ctypes.c_void_p,
                                 ctypes.c_void_p),
    SIG_SOLVE: ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p),
    SIG_LANES: ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p),
    SIG_LANE_DECOMP: ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                      ctypes.c_void_p)}


class NativeFunction(WrapperAddressProtocol):
    """A native function at ``addr`` with signature ``sig``: passable to numba code as a
    first-class function value, and callable from Python through ``.ctypes``.

    ``owner`` (e.g. the LLVM engine holding the machine code) is kept alive with it.
    """

    def __init__(self, addr: int, sig, owner):
        self._addr = addr
        self._sig = sig
        self._owner = owner
        self._replaced: list = []
        self.ctypes = CTYPES_PROTOTYPES[sig](addr)

    def replace_with(self, better: "NativeFunction") -> None:
        """Point at ``better``'s code from the next call on (its optimised build, compiled
        while this one ran). The code replaced stays alive: a call in another thread may
        still be running it."""
        self._replaced.append(self._owner)
        self._owner = better._owner
        self.ctypes = better.ctypes
        self._addr = better._addr

    def __wrapper_address__(self):
        return self._addr

    def signature(self):
        return self._sig


@intrinsic
def data_pointer(typingctx, arr):
    """The data pointer of a contiguous array (inside numba code), to pass to a native
    function."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(arr)(context, builder, args[0]).data
    return sig, codegen
