"""Compiling a model's LLVM IR to native functions, and the two disk caches.

:func:`compile_native` is the entry point: from an :class:`~simulator.system.OdeSystem` it
returns :class:`NativeFunctions`, the model's compiled functions
(:mod:`simulator.codegen.llvm` prints their IR; :mod:`simulator.codegen.abi` is how they are
called). LLVM (through llvmlite, numba's own binding) optimises and compiles the IR for the
host CPU in an MCJIT engine, which owns the machine code.

Two disk caches spare a second load the work, in :func:`cache_dir`:

- ``ct_<key>.ll``: the IR text (skips sympy, which is most of the time of a cold load);
- ``ct_<key>.o`` and ``ct_<key>.json``: the machine code and its structure (skips LLVM too).

Models read from SBML are keyed by :func:`object_key` (the model's SBML hash, the host, the
versions, and the bytes of every module that turns a model into code); hand-built systems
by :func:`simulator.codegen.llvm.system_key` (a hash of the expressions), IR only.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm
import numpy as np
import sympy

from simulator.cache_limit import mark_used, prune_after_write
from simulator.codegen.abi import (SIG_DECOMP, SIG_LANE_DECOMP, SIG_LANES, SIG_MODEL, SIG_SOLVE,
                                  SIG_TRIG, NativeFunction)
from simulator.codegen.llvm import (CODEGEN_VERSION, FP_FLAGS, LANES, GeneratedCode, LaneCode,
                                    expressions_ir, generate, generate_lanes, system_key,
                                    vector_libm)
from simulator.sources import cache_dir, digest, import_closure, write_atomic
from simulator.system import OdeSystem, is_model_hash


@dataclass(frozen=True)
class NativeFunctions:
    """The compiled functions of one system and their structure.

    ``rhs``, ``jac``, ``dfdt``, ``triggers``, ``switches``, ``decomp``, ``solve``,
    ``outputs`` are :class:`~simulator.codegen.abi.NativeFunction`; the ``*_py`` methods call
    them from Python on arrays (the outputs on many rows:
    :func:`simulator.codegen.kernels.evaluate_outputs`). ``jac_rows``/``jac_cols`` give the
    pattern of ``jac``'s output. ``switch_equal`` (uint8, ``(n_switches,)``) marks the
    switches of ``==`` / ``!=`` relations (see
    :func:`simulator.codegen.common.equality_switches`). ``event_values`` writes the values
    of every event's assignments, event after event in document order (``n_event_values``
    of them), then their factors in the same order (1 where none; None and -1 when their
    math has no native form). ``rhs_step`` and ``jac_step`` are the same right-hand side and
    Jacobian for the integrator's step loop: they read a buffer of ``n_pq`` values, the
    parameters, a flag and ``n_derived`` parameter-only values they fill on the first call
    after the flag is cleared (:mod:`simulator.codegen.hoist`).
    """

    key: str
    n_states: int
    n_params: int
    n_events: int
    jac_rows: np.ndarray
    jac_cols: np.ndarray
    time_dependent: bool
    lu_nnz: int
    lu_fill: int
    rhs: NativeFunction
    jac: NativeFunction
    dfdt: NativeFunction
    triggers: NativeFunction
    decomp: NativeFunction
    solve: NativeFunction
    switches: NativeFunction | None = None
    n_switches: int = 0
    switch_equal: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    outputs: NativeFunction | None = None
    n_outputs: int = 0
    event_values: NativeFunction | None = None
    n_event_values: int = -1
    rhs_step: NativeFunction | None = None
    jac_step: NativeFunction | None = None
    n_derived: int = 0
    ir: str = field(repr=False, default="")

    @property
    def n_jac(self) -> int:
        return len(self.jac_rows)

    @property
    def n_pq(self) -> int:
        """Length of the parameter buffer ``rhs_step`` and ``jac_step`` read: the
        parameters, a flag and the derived parameters (:mod:`simulator.codegen.llvm`)."""
        return self.n_params + 1 + self.n_derived

    def _call(self, fn, t, y, p, out):
        y = np.ascontiguousarray(y, dtype=np.float64)
        p = np.ascontiguousarray(p, dtype=np.float64)
        fn.ctypes(float(t), y.ctypes.data, p.ctypes.data, out.ctypes.data)
        return out

    def rhs_py(self, t, y, p) -> np.ndarray:
        """``dy/dt`` as a new array (Python-side convenience; the integrator calls ``rhs``)."""
        return self._call(self.rhs, t, y, p, np.empty(self.n_states))

    def jac_py(self, t, y, p) -> np.ndarray:
        """Dense Jacobian ``(n, n)`` assembled from the nonzeros."""
        nz = self._call(self.jac, t, y, p, np.empty(self.n_jac))
        J = np.zeros((self.n_states, self.n_states))
        J[self.jac_rows, self.jac_cols] = nz
        return J

    def triggers_py(self, t, y, p) -> np.ndarray:
        """Trigger values, bool ``(n_events,)``."""
        return self._call(self.triggers, t, y, p, np.zeros(self.n_events, np.uint8)).astype(bool)

    def switches_py(self, t, y, p) -> np.ndarray:
        """``lhs - rhs`` of each relation inside the triggers, ``(n_switches,)``."""
        return self._call(self.switches, t, y, p, np.empty(self.n_switches))


@dataclass(frozen=True)
class LaneFunctions:
    """A system's step functions over :data:`~simulator.codegen.llvm.LANES` members at once
    (:func:`~simulator.codegen.llvm.generate_lanes`), for :mod:`simulator.solvers.lanes`."""

    key: str
    n_params: int
    n_derived: int
    lu_nnz: int
    n_jac: int
    rhs: NativeFunction
    jac: NativeFunction
    dfdt: NativeFunction
    derive: NativeFunction
    decomp: NativeFunction
    solve: NativeFunction
    stage_in: NativeFunction
    stage_k: NativeFunction
    dense_q: NativeFunction
    error_sum: NativeFunction

    @property
    def n_pq(self) -> int:
        """Rows of the lane-major parameter buffer: parameters, an unused flag, derived."""
        return self.n_params + 1 + self.n_derived


# ----------------------------------------------------------------------------------------
# LLVM

_LLVM_READY = False


def _init_llvm() -> None:
    global _LLVM_READY
    if not _LLVM_READY:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        lib = vector_libm()
        if lib:                          # the lane functions call its vector pow, exp, ...
            llvm.load_library_permanently(lib)
        _LLVM_READY = True


def _target_machine(opt: int = 2):
    """A new host target machine (an execution engine owns and frees the one it is given)."""
    _init_llvm()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(), opt=opt)


def _engine(ir: str, objects: list | None = None, *, quick: bool = False):
    """Optimise and compile IR text; the engine owns the machine code.

    ``quick``: no optimisation passes and LLVM's fast instruction selection (opt 0): about
    20x less compile time, up to ~2x slower code (measured on the 124- and 75-species shared
    models; see :data:`TIERED_ABOVE`)."""
    tm = _target_machine(0 if quick else 2)
    mod = llvm.parse_assembly(ir)
    mod.verify()
    if not quick:
        pto = llvm.create_pipeline_tuning_options(speed_level=2)
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
    engine = llvm.create_mcjit_compiler(mod, tm)
    if objects is not None:
        engine.set_object_cache(lambda _mod, data: objects.append(bytes(data)), lambda _mod: None)
    engine.finalize_object()
    return engine


def _function(engine, name: str, sig) -> NativeFunction:
    """Function ``name`` of the machine code ``engine`` holds."""
    addr = engine.get_function_address(name)
    if not addr:
        raise RuntimeError(f"compiled model code has no function '{name}'")
    return NativeFunction(addr, sig, engine)


def _wrap(engine, gen: GeneratedCode, ir: str) -> NativeFunctions:
    def fn(name, sig):
        return _function(engine, name, sig)

    return NativeFunctions(
        key=gen.key, n_states=gen.n_states, n_params=gen.n_params, n_events=gen.n_events,
        jac_rows=np.array(gen.jac_rows, dtype=np.int64),
        jac_cols=np.array(gen.jac_cols, dtype=np.int64), time_dependent=gen.time_dependent,
        lu_nnz=gen.lu_nnz, lu_fill=gen.lu_fill,
        rhs=fn("rhs", SIG_MODEL), jac=fn("jac", SIG_MODEL), dfdt=fn("dfdt", SIG_MODEL),
        rhs_step=fn("rhs_q", SIG_MODEL), jac_step=fn("jac_q", SIG_MODEL),
        n_derived=gen.n_derived,
        triggers=fn("triggers", SIG_TRIG), decomp=fn("decomp", SIG_DECOMP),
        solve=fn("solve", SIG_SOLVE), switches=fn("switches", SIG_MODEL),
        n_switches=gen.n_switches,
        switch_equal=np.isin(np.arange(gen.n_switches), gen.switch_equal).astype(np.uint8),
        outputs=fn("outputs", SIG_MODEL) if gen.n_outputs else None, n_outputs=gen.n_outputs,
        event_values=fn("event_values", SIG_MODEL) if gen.n_event_values >= 0 else None,
        n_event_values=gen.n_event_values,
        ir=ir)


def compile_ir(gen: GeneratedCode, *, objects: list | None = None,
               quick: bool = False) -> NativeFunctions:
    """Compile generated IR to machine code with LLVM (via llvmlite) and wrap the functions.

    With ``objects`` (a list), the machine code LLVM produced is appended to it as bytes
    (an object file, loadable by :func:`load_object`). ``quick``: see :func:`_engine`."""
    return _wrap(_engine(gen.ir, objects, quick=quick), gen, gen.ir)


def load_object(data: bytes, gen: GeneratedCode) -> NativeFunctions:
    """Wrap machine code cached by :func:`compile_ir` (no LLVM optimisation or codegen)."""
    return _wrap(_load_engine(data), gen, "")


def _load_engine(data: bytes):
    """An engine holding cached machine code (an object file)."""
    tm = _target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
    engine.add_object_file(llvm.ObjectFileRef.from_data(data))
    engine.finalize_object()
    return engine


def compile_expressions(system: OdeSystem, exprs, what: str = "readout", *,
                        lanes: bool = False) -> NativeFunction:
    """One native function ``f(t, y, p, out)`` with ``out[k] = exprs[k]`` (expressions in
    the system's symbols), in its own small module: e.g. the readouts a sweep asks for.
    With ``lanes``, on :data:`~simulator.codegen.llvm.LANES` rows at once (every argument
    a lane-major array, ``SIG_LANES``).

    Raises
    ------
    UnsupportedFeatureError, ModelError
        As :func:`simulator.codegen.llvm.generate`.
    """
    if lanes:
        return _function(_engine(expressions_ir(system, exprs, what, LANES)), "expressions_v",
                         SIG_LANES)
    return _function(_engine(expressions_ir(system, exprs, what)), "expressions", SIG_MODEL)


# ----------------------------------------------------------------------------------------
# disk caches


def _header(gen: GeneratedCode) -> str:
    return "; meta " + json.dumps(gen.meta()) + "\n"


def _from_cache(key: str, path: Path) -> GeneratedCode | None:
    try:
        text = path.read_text()
        first, ir = text.split("\n", 1)
        gen = GeneratedCode.from_meta(key, json.loads(first[len("; meta "):]), ir)
    except (OSError, ValueError, KeyError):
        return None
    mark_used(path)
    return gen


def _from_object_cache(base: Path, okey: str, system: OdeSystem) -> NativeFunctions | None:
    """Machine code cached under ``okey`` (see :func:`object_key`), or None."""
    opath, mpath = base / f"ct_{okey}.o", base / f"ct_{okey}.json"
    if not (opath.exists() and mpath.exists()):
        return None
    try:
        meta = json.loads(mpath.read_text())
        gen = GeneratedCode.from_meta(meta["key"], meta)
        if (gen.n_states, gen.n_params, gen.n_events) != (system.n_states, system.n_params,
                                                           len(system.events)):
            return None
        fns = load_object(opath.read_bytes(), gen)
    except (OSError, ValueError, KeyError, RuntimeError):
        return None                      # damaged: recompile from IR
    mark_used(opath)
    mark_used(mpath)
    return fns


# The modules that turn SBML into a Model, the Model into an OdeSystem and the system into
# machine code; with what they import, their bytes are part of the key of cached machine
# code, so that a change to any of them never reuses stale code.
KEY_ROOTS = ("simulator.io.loader", "simulator.semantics", "simulator.codegen.llvm",
             "simulator.codegen.jit")


def key_sources() -> tuple[Path, ...]:
    """The source files in the key of cached machine code: :data:`KEY_ROOTS` and every
    ``simulator`` module they import (:func:`simulator.sources.import_closure`)."""
    return import_closure(KEY_ROOTS)


@functools.cache
def sources_digest() -> str:
    """Hash of the bytes of :func:`key_sources` (computed once per process)."""
    return digest(key_sources())


def object_key(system: OdeSystem) -> str | None:
    """Key of cached machine code by the model's SBML hash, or None for hand-built systems.

    Cheap (no sympy): the model hash, the sizes, the versions of sympy and llvmlite, the
    host CPU and its features, and :func:`sources_digest`.
    """
    h = system.model_hash
    if not is_model_hash(h):
        return None
    _init_llvm()
    d = hashlib.sha256()
    d.update(f"crosstalk-obj {CODEGEN_VERSION} {FP_FLAGS} {sympy.__version__} "
             f"{llvmlite.__version__} {llvm.get_host_cpu_name()} "
             f"{llvm.get_host_cpu_features().flatten()} {h} {system.n_states} "
             f"{system.n_params} {len(system.events)} {system.lu_blocks}\n".encode())
    d.update(sources_digest().encode())
    return d.hexdigest()[:24]


_LOADED: dict[str, NativeFunctions] = {}
_LOCK = threading.Lock()


def compile_native(system: OdeSystem, *, directory: str | os.PathLike | None = None,
                   wait: bool = False) -> NativeFunctions:
    """Generate (or read from the disk caches) and compile the functions of ``system``.

    Memoised within the process by :func:`object_key` (or
    :func:`~simulator.codegen.llvm.system_key`). A large model never compiled before starts
    on unoptimised code while the optimised build compiles (:data:`TIERED_ABOVE`); with
    ``wait``, return only once the optimised code is in place.

    Raises
    ------
    UnsupportedFeatureError, ModelError
        See :func:`simulator.codegen.llvm.generate`.
    """
    fns = _compile_native(system, Path(directory) if directory is not None else cache_dir())
    if wait:
        wait_optimised(fns)
    return fns


def _compile_native(system: OdeSystem, base: Path) -> NativeFunctions:
    okey = object_key(system)
    if okey is not None:
        with _LOCK:
            if okey in _LOADED:
                return _LOADED[okey]
            fns = _from_object_cache(base, okey, system)
            if fns is not None:
                _LOADED[okey] = fns
                return fns
    # the object key already covers everything the IR depends on; hashing the expressions
    # (system_key, ~0.5 s of srepr on the bundled model) is only needed for hand-built systems
    key = okey or system_key(system)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        path = base / f"ct_{key}.ll"
        gen = _from_cache(key, path) if path.exists() else None
        fns = None
        objects: list = []
        if gen is not None:
            try:
                fns = _first_build(gen, objects, system, base, okey, key)
            except RuntimeError:         # a damaged cache file: regenerate
                fns = None
        if fns is None:
            objects.clear()
            gen = generate(system, key)
            # a read-only cache only costs time; and no tiers, as the optimising process
            # compiles the cached IR
            try:
                write_atomic(path, (_header(gen) + gen.ir).encode())
                tier = True
            except OSError:
                tier = False
            fns = _first_build(gen, objects, system, base, okey, key, tier=tier)
        if okey is not None and len(objects) == 1:
            _write_object(base, okey, key, gen, objects[0])
            _LOADED[okey] = fns
        if (fns.n_states, fns.n_params, fns.n_events) != (system.n_states, system.n_params,
                                                           len(system.events)):
            raise RuntimeError(f"cached code {path} does not match the system; delete it")
        _LOADED[key] = fns
        return fns


def compile_lanes(system: OdeSystem, *,
                  directory: str | os.PathLike | None = None) -> LaneFunctions:
    """Compile (or read from the disk cache) ``system``'s lane functions; memoised in the
    process like :func:`compile_native`. Only ensembles ask for them, so a single run never
    compiles them.

    Raises
    ------
    UnsupportedFeatureError, ModelError
        See :func:`simulator.codegen.llvm.generate`.
    """
    base = Path(directory) if directory is not None else cache_dir()
    okey = object_key(system)
    key = (okey or system_key(system)) + "-lanes"
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        opath, mpath = base / f"ct_{key}.o", base / f"ct_{key}.json"
        lanes = None
        if okey is not None and opath.exists() and mpath.exists():
            try:
                code = LaneCode(key=key, ir="", **json.loads(mpath.read_text()))
                lanes = _wrap_lanes(_load_engine(opath.read_bytes()), code, system)
                mark_used(opath)
                mark_used(mpath)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                lanes = None             # damaged: recompile
        if lanes is None:
            code = generate_lanes(system, key)
            objects: list = []
            lanes = _wrap_lanes(_engine(code.ir, objects), code, system)
            if okey is not None and len(objects) == 1:
                _store_object(base, key, objects[0], code.meta())
        _LOADED[key] = lanes
        return lanes


def _wrap_lanes(engine, code: LaneCode, system: OdeSystem) -> LaneFunctions:
    def fn(name, sig):
        return _function(engine, name, sig)

    return LaneFunctions(key=code.key, n_params=system.n_params, n_derived=code.n_derived,
                         lu_nnz=code.lu_nnz, n_jac=code.n_jac,
                         rhs=fn("rhs_v", SIG_LANES), jac=fn("jac_v", SIG_LANES),
                         dfdt=fn("dfdt_v", SIG_LANES), derive=fn("derive_v", SIG_LANES),
                         decomp=fn("decomp_v", SIG_LANE_DECOMP), solve=fn("solve_v", SIG_SOLVE),
                         **{name: fn(name, SIG_LANES) for name in ("stage_in", "stage_k",
                                                                   "dense_q", "error_sum")})


# Tiered compilation of large models: LLVM's optimising build of a model's IR grows faster
# than the model (5-8 s for the shared 124-species, 669-reaction model, most of a first
# load), while a build without optimisation takes ~0.15 s and runs up to ~2x slower. Above
# this IR size (the bundled model's is ~0.5 MB, the largest shared models' 2-3 MB) a model
# never compiled before starts on the quick build, and another process (llvmlite serialises
# every LLVM call in a process behind one lock, so a thread would stall this one's LLVM
# work: numba's loading of the integrator) compiles the optimised one from the cached IR into
# the disk cache. A watcher thread then loads it and points each function at it from its
# next call (NativeFunction.replace_with). A result computed across the switch differs from
# an all-optimised one by rounding only (the optimiser may fuse multiply-adds); ensembles
# wait for the optimised build (compile_native(wait=True)), so their members agree. The
# optimising process outlives this one if it must: its build lands in the cache either way.
TIERED_ABOVE = 1_000_000
_PENDING: dict[str, threading.Thread] = {}


def _first_build(gen: GeneratedCode, objects: list, system: OdeSystem, base: Path,
                 okey: str | None, key: str, *, tier: bool = True) -> NativeFunctions:
    """The build a run starts on: optimised (its machine code appended to ``objects``), or
    for a large model read from SBML the quick build, with the optimised one compiled in
    another process (:func:`_optimise_elsewhere`; the quick code is never cached)."""
    tiered = tier and okey is not None and len(gen.ir) > TIERED_ABOVE
    fns = compile_ir(gen, objects=objects, quick=tiered)
    if tiered:
        objects.clear()
        _optimise_elsewhere(fns, system, base, okey, key)
    return fns


def _write_object(base: Path, okey: str, key: str, gen: GeneratedCode, data: bytes) -> None:
    _store_object(base, okey, data, {"key": key, **gen.meta()})


def _store_object(base: Path, name: str, data: bytes, meta: dict) -> None:
    """Machine code ``ct_<name>.o`` and what describes it, ``ct_<name>.json``, in the cache
    (a read-only cache only costs a recompile)."""
    try:
        write_atomic(base / f"ct_{name}.o", data)
        write_atomic(base / f"ct_{name}.json", json.dumps(meta).encode())
    except OSError:
        return
    prune_after_write()


def _optimise_elsewhere(fns: NativeFunctions, system: OdeSystem, base: Path, okey: str,
                        key: str) -> None:
    """Compile the optimised build in another process, then switch ``fns`` to it."""
    command = [sys.executable, "-m", "simulator.codegen.jit", str(base), okey, key]
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return                           # no process to spare: the quick build stays

    def watch():
        if proc.wait() != 0:
            return
        better = _from_object_cache(base, okey, system)
        if better is None or better.n_derived != fns.n_derived:
            return                       # (the buffers are sized for this build's layout)
        for name in _FUNCTIONS:
            mine, theirs = getattr(fns, name), getattr(better, name)
            if mine is not None and theirs is not None:
                mine.replace_with(theirs)

    thread = threading.Thread(target=watch, name=f"crosstalk-optimise-{okey[:8]}", daemon=True)
    _PENDING[fns.key] = thread
    thread.start()


_FUNCTIONS = ("rhs", "jac", "rhs_step", "jac_step", "dfdt", "triggers", "decomp", "solve",
              "switches", "outputs", "event_values")


def wait_optimised(fns: NativeFunctions | None = None) -> None:
    """Return once ``fns`` (default: every model of this process) run their optimised code
    (at once, unless compiled tiered)."""
    threads = list(_PENDING.values()) if fns is None else [_PENDING.get(fns.key)]
    for thread in threads:
        if thread is not None:
            thread.join()


def _optimise_cached_ir(base: Path, okey: str, key: str) -> int:
    """The optimising process: compile ``ct_<key>.ll`` and cache its machine code under
    ``okey`` (what :func:`_optimise_elsewhere` starts)."""
    gen = _from_cache(key, base / f"ct_{key}.ll")
    if gen is None:
        return 1
    objects: list = []
    compile_ir(gen, objects=objects)
    if len(objects) != 1:
        return 1
    _write_object(base, okey, key, gen, objects[0])
    return 0


if __name__ == "__main__":
    sys.exit(_optimise_cached_ir(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
