"""The compiled backend: generated native functions, sparse LU and the RODAS5P integrator.

Systems are built by hand in sympy, so these tests do not depend on the importer; the last
test compares with libroadrunner on a model file.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

from simulator import sources
from simulator.codegen import jit, numba_cache
from simulator.codegen.jit import compile_native
from simulator.codegen.llvm import generate, lu_plan
from simulator.bundled import MODEL_ANT
from simulator.errors import ModelError, UnsupportedFeatureError
from simulator.forward_sensitivities import augment
from simulator.solvers.base import SolverOptions
from simulator.solvers.compiled import CompiledSegmenter, integrate_many
from simulator.system import EventSpec, OdeSystem

ROOT = Path(__file__).resolve().parents[1]


def make_system(state_ids, param_ids, p_vals, y_vals, rhs, triggers=(), model_id="hand"):
    """An OdeSystem from ``rhs(t, y, p) -> [expr]`` and ``triggers(t, y, p) -> [bool expr]``."""
    t = sp.Symbol("time")
    y = tuple(sp.Symbol(s) for s in state_ids)
    p = tuple(sp.Symbol(s) for s in param_ids)
    events = tuple(EventSpec(id=f"e{i}", trigger=g, assignments=())
                   for i, g in enumerate(triggers(t, y, p) if triggers else ()))
    return OdeSystem(model_id=model_id, model_hash="hand", t=t, state_ids=tuple(state_ids), y=y,
                     param_ids=tuple(param_ids), p=p, p_default=np.array(p_vals, float),
                     y_default=np.array(y_vals, float), rhs=tuple(rhs(t, y, p)), events=events)


def robertson():
    return make_system(
        ["A", "B", "C"], ["k1", "k2", "k3"], [0.04, 3e7, 1e4], [1.0, 0.0, 0.0],
        lambda t, y, p: [-p[0] * y[0] + p[2] * y[1] * y[2],
                         p[0] * y[0] - p[2] * y[1] * y[2] - p[1] * y[1] ** 2,
                         p[1] * y[1] ** 2])


def scaled_error(y, y_ref, rtol, atol):
    return np.max(np.abs(y - y_ref) / (atol + rtol * np.abs(y_ref)))


NO_EVENTS = np.zeros(0, bool)


# ---- integration accuracy and cost

def test_decay_matches_analytic_solution():
    s = make_system(["x"], ["k"], [0.7], [2.0], lambda t, y, p: [-p[0] * y[0]])
    opts = SolverOptions(rtol=1e-6, atol=1e-10)
    t = np.linspace(0.0, 10.0, 21)
    seg = CompiledSegmenter(s, opts).integrate(0.0, s.y_default, s.p_default, t, 10.0, NO_EVENTS)
    assert seg.status == "end" and seg.n_out == len(t) and seg.t_stop == 10.0
    ref = 2.0 * np.exp(-0.7 * t)
    assert scaled_error(seg.y_out[:, 0], ref, 1e-6, 1e-10) < 5.0
    assert seg.y_out[0, 0] == 2.0
    # a tighter tolerance is more accurate: the error control is doing its job
    tight = CompiledSegmenter(s, SolverOptions(rtol=1e-10, atol=1e-14)).integrate(
        0.0, s.y_default, s.p_default, t, 10.0, NO_EVENTS)
    assert scaled_error(tight.y_out[:, 0], ref, 1e-10, 1e-14) < 5.0
    assert tight.stats["nsteps"] > seg.stats["nsteps"]


def test_time_dependent_rhs_uses_dfdt():
    # y' = cos(t) * y  ->  y = exp(sin t)
    s = make_system(["x"], [], [], [1.0], lambda t, y, p: [sp.cos(t) * y[0]])
    t = np.linspace(0.0, 20.0, 41)
    seg = CompiledSegmenter(s, SolverOptions(rtol=1e-8, atol=1e-12)).integrate(
        0.0, s.y_default, s.p_default, t, 20.0, NO_EVENTS)
    assert seg.status == "end"
    assert scaled_error(seg.y_out[:, 0], np.exp(np.sin(t)), 1e-8, 1e-12) < 10.0


def test_robertson_stiff_bounded_cost_and_matches_radau():
    s = robertson()
    t = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 4e5])
    seg = CompiledSegmenter(s, SolverOptions(rtol=1e-6, atol=1e-10)).integrate(
        0.0, s.y_default, s.p_default, t, 4e5, NO_EVENTS)
    assert seg.status == "end"
    # a lost Jacobian or a non-stiff method would need 1e5+ evaluations here
    assert seg.stats["nfev"] < 2000, seg.stats
    assert seg.stats["njev"] < 400, seg.stats
    k1, k2, k3 = s.p_default
    ref = solve_ivp(lambda _, y: [-k1 * y[0] + k3 * y[1] * y[2],
                                  k1 * y[0] - k3 * y[1] * y[2] - k2 * y[1] ** 2, k2 * y[1] ** 2],
                    (0.0, 4e5), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12, atol=1e-16,
                    t_eval=t)
    assert scaled_error(seg.y_out, ref.y.T, 1e-6, 1e-10) < 10.0


def test_outputs_stop_at_t_end_and_resume():
    s = make_system(["x"], ["k"], [1.0], [1.0], lambda t, y, p: [-p[0] * y[0]])
    cs = CompiledSegmenter(s, SolverOptions(rtol=1e-8, atol=1e-12))
    t = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    a = cs.integrate(0.0, s.y_default, s.p_default, t, 1.0, NO_EVENTS)
    assert a.status == "end" and a.n_out == 3 and a.t_stop == 1.0      # t_out == t_end included
    b = cs.integrate(1.0, a.y_stop, s.p_default, t[3:], 2.0, NO_EVENTS)
    assert b.status == "end" and b.n_out == 2
    assert np.allclose(np.r_[a.y_out[:, 0], b.y_out[:, 0]], np.exp(-t), rtol=1e-6)


# ---- events

def test_event_located_at_analytic_time():
    # x = exp(-k t) crosses 0.25 at t* = ln 4 / k
    k = 0.3
    s = make_system(["x"], ["k"], [k], [1.0], lambda t, y, p: [-p[0] * y[0]],
                    triggers=lambda t, y, p: [y[0] < 0.25])
    t_star = math.log(4.0) / k
    t = np.linspace(0.0, 10.0, 11)
    seg = CompiledSegmenter(s, SolverOptions(rtol=1e-8, atol=1e-12)).integrate(
        0.0, s.y_default, s.p_default, t, 10.0, np.array([False]))
    assert seg.status == "root"
    assert abs(seg.t_stop - t_star) < 1e-7
    assert seg.y_stop[0] < 0.25 <= seg.y_stop[0] * (1 + 1e-6)    # just past the crossing
    assert seg.n_out == int(np.sum(t < seg.t_stop))                  # only outputs before it
    assert np.allclose(seg.y_out[:, 0], np.exp(-k * t[:seg.n_out]), rtol=1e-6)


def test_time_trigger_and_several_events():
    s = make_system(["x"], [], [], [0.0], lambda t, y, p: [sp.Integer(1)],
                    triggers=lambda t, y, p: [t >= 7.5, y[0] > 3.25])
    seg = CompiledSegmenter(s, SolverOptions()).integrate(
        0.0, s.y_default, s.p_default, np.array([0.0, 5.0]), 10.0, np.array([False, False]))
    assert seg.status == "root" and abs(seg.t_stop - 3.25) < 1e-8       # the first one wins


# ---- failures

def test_blow_up_fails_and_names_the_state():
    # x' = x^2, x(0) = 1 -> x = 1 / (1 - t), infinite at t = 1
    s = make_system(["runaway"], [], [], [1.0], lambda t, y, p: [y[0] ** 2])
    t = np.linspace(0.0, 2.0, 5)
    seg = CompiledSegmenter(s, SolverOptions()).integrate(
        0.0, s.y_default, s.p_default, t, 2.0, NO_EVENTS)
    assert seg.status == "fail"
    assert "runaway" in seg.message
    assert 0.9 < seg.t_stop < 1.001
    # every output before the failure (t = 0, 0.5, and 1.0 if a step got past it), never NaN rows
    assert seg.n_out == int(np.sum(t <= seg.t_stop)) >= 2 and np.all(np.isfinite(seg.y_out))
    assert np.allclose(seg.y_out[:2, 0], 1.0 / (1.0 - t[:2]), rtol=1e-5)
    assert seg.y_out.shape[0] == seg.n_out


def test_nonfinite_start_names_the_state():
    s = make_system(["a", "b"], ["k"], [0.0], [1.0, 1.0],
                    lambda t, y, p: [-y[0], 1 / p[0] * y[1]])
    seg = CompiledSegmenter(s, SolverOptions()).integrate(
        0.0, s.y_default, s.p_default, np.array([0.0, 1.0]), 1.0, NO_EVENTS)
    assert seg.status == "fail" and "'b'" in seg.message


def test_max_steps():
    s = robertson()
    seg = CompiledSegmenter(s, SolverOptions(max_steps=10)).integrate(
        0.0, s.y_default, s.p_default, np.array([0.0, 1e5]), 1e5, NO_EVENTS)
    assert seg.status == "fail" and "max_steps" in seg.message


# ---- many members

def test_integrate_many_equals_single_runs():
    s = robertson()
    fns = compile_native(s)
    rng = np.random.default_rng(0)
    P = s.p_default * np.exp(rng.uniform(-1, 1, (37, 3)))
    Y0 = np.tile(s.y_default, (37, 1))
    t = np.array([0.0, 1.0, 100.0, 1e4])
    many = integrate_many(fns, 0.0, Y0, P, t, 1e4, rtol=1e-6, atol=1e-10, chunk=3)
    assert np.all(many["status"] == 0)
    cs = CompiledSegmenter(s, SolverOptions(rtol=1e-6, atol=1e-10), fns=fns)
    for m in range(0, 37, 6):
        one = cs.integrate(0.0, Y0[m], P[m], t, 1e4, NO_EVENTS)
        np.testing.assert_allclose(many["y_out"][m], one.y_out, rtol=1e-12, atol=1e-300)
        assert many["stats"][m, 0] == one.stats["nfev"]


def test_integrate_many_isolates_failures_and_roots():
    s = make_system(["x"], ["a"], [1.0], [1.0], lambda t, y, p: [p[0] * y[0] ** 2],
                    triggers=lambda t, y, p: [y[0] > 1.5])
    fns = compile_native(s)
    P = np.array([[-1.0], [1.0], [0.1]])       # decays / blows up / crosses 1.5 at t = 10/3
    out = integrate_many(fns, 0.0, np.ones((3, 1)), P, np.array([0.0, 2.0]), 5.0, rtol=1e-8)
    assert out["status"][0] == 0
    assert out["status"][1] == 1 and abs(out["t_stop"][1] - 1 / 3) < 1e-7
    assert out["status"][2] == 1 and abs(out["t_stop"][2] - 10 / 3) < 1e-6


# ---- code generation

def test_generated_code_has_only_our_identifiers():
    nasty = ["__import__('os').system('x')", "y[0]", "%t"]
    s = make_system(nasty, ["@p", "out"], [1.0, 2.0], [1.0, 1.0, 1.0],
                    lambda t, y, p: [-p[0] * y[0], p[1] * y[0] - y[1], y[1] * y[2] - y[2]],
                    triggers=lambda t, y, p: [y[0] < p[1]])
    gen = generate(s)
    for name in ("__import__", "os", "@p", "system"):
        assert name not in gen.ir
    import re
    identifiers = set(re.findall(r"[%@][A-Za-z_$][\w.$]*", gen.ir))
    ours = {"%t", "%y", "%p", "%out", "%c", "%jnz", "%a", "%x", "@rhs", "@jac", "@dfdt",
            "@triggers", "@switches", "@outputs", "@event_values", "@decomp", "@solve",
            "@derive", "@rhs_q", "@jac_q", "%flag_at", "%flag", "%ready", "%body", "%fill",
            "%q_at", "%pq", "%to", "%from", "@llvm.memcpy.p0i8.p0i8.i64"}
    assert {i for i in identifiers if not re.fullmatch(r"%v\d+|@llvm\.\w+\.f64", i)} <= ours


def test_foreign_symbol_is_refused():
    s = make_system(["x"], [], [], [1.0], lambda t, y, p: [-sp.Symbol("stranger") * y[0]])
    with pytest.raises(ModelError, match="stranger"):
        generate(s)


def test_unknown_function_is_refused():
    f = sp.Function("mystery")
    s = make_system(["x"], [], [], [1.0], lambda t, y, p: [f(y[0])])
    with pytest.raises(UnsupportedFeatureError, match="mystery"):
        generate(s)


def test_math_translation_matches_numpy():
    x = None

    def rhs(t, y, p):
        a, b = y
        k, = p
        return [sp.exp(-a) + sp.log(b) * sp.sqrt(b) - a ** 3 / (1 + b ** 2) + sp.Abs(a - 2),
                sp.Piecewise((sp.sin(a), a > 1), (sp.cos(b), sp.And(b > 0.5, a < 0.2)),
                             (sp.tanh(t), True)) + sp.Max(a, b, 0.3) - sp.Min(a, b)
                + sp.floor(b * 3) + b ** sp.Rational(2, 3) + sp.atan2(a, b) + sp.sec(a)
                + sp.factorial(k) + sp.Heaviside(a - 1) + sp.Mod(b * 7, 3)
                + sp.Piecewise((1.0, sp.Or(a > 2, sp.Not(b < 1))), (0.0, True))]

    s = make_system(["a", "b"], ["k"], [3.5], [0.0, 0.0], rhs)
    fns = compile_native(s)
    tt, aa, bb = sp.symbols("t a b")
    exprs = [e.xreplace(dict(zip((s.t, *s.y, *s.p), (tt, aa, bb, 3.5)))) for e in s.rhs]
    ref = sp.lambdify((tt, aa, bb), exprs, modules=[{"factorial": lambda v: math.gamma(v + 1)}, "math"])
    for (t, a, b) in [(0.3, 0.1, 0.7), (1.0, 1.5, 2.5), (2.0, 0.5, 0.9), (0.0, 3.0, 1.2)]:
        np.testing.assert_allclose(fns.rhs_py(t, [a, b], [3.5]), ref(t, a, b), rtol=1e-13)
    # and the Jacobian agrees with central differences (away from the kinks)
    y0, h = np.array([0.1, 0.7]), 1e-6
    J = fns.jac_py(0.3, y0, [3.5])
    Jfd = np.column_stack([(np.array(ref(0.3, *(y0 + h * e))) - np.array(ref(0.3, *(y0 - h * e))))
                           / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(J, Jfd, rtol=1e-6, atol=1e-6)


def test_sparse_lu_solves_like_dense():
    rng = np.random.default_rng(1)
    n = 30
    mask = rng.random((n, n)) < 0.12
    np.fill_diagonal(mask, False)
    rows, cols = np.nonzero(mask)
    vals = rng.normal(size=len(rows))
    terms = [[] for _ in range(n)]
    ys = sp.symbols(f"y0:{n}")
    for r, c, v in zip(rows, cols, vals):
        terms[r].append(sp.Float(v) * ys[c])
    s = make_system([f"s{i}" for i in range(n)], [], [], np.zeros(n),
                    lambda t, y, p: [sp.Add(*[e.xreplace(dict(zip(ys, y))) for e in terms[i]])
                                     for i in range(n)])
    fns = compile_native(s)
    plan = lu_plan(n, fns.jac_rows, fns.jac_cols)
    assert plan.nnz == fns.lu_nnz
    J = fns.jac_py(0.0, np.zeros(n), [])
    jnz = J[fns.jac_rows, fns.jac_cols].copy()
    c = 3.0
    a = np.zeros(fns.lu_nnz)
    assert fns.decomp.ctypes(c, jnz.ctypes.data, a.ctypes.data) == 0
    b = rng.normal(size=n)
    x = b.copy()
    fns.solve.ctypes(a.ctypes.data, x.ctypes.data)
    np.testing.assert_allclose(x, np.linalg.solve(c * np.eye(n) - J, b), rtol=1e-10, atol=1e-12)
    # a zero pivot is reported, not hidden
    z = np.zeros(fns.lu_nnz)
    assert fns.decomp.ctypes(0.0, np.zeros_like(jnz).ctypes.data, z.ctypes.data) == 1


def test_sensitivity_system_shares_one_lu_and_solves_like_dense():
    """The augmented system's Jacobian (assembled from blocks and second derivatives) equals
    the one differentiated from its rates, and the shared-LU solve equals a dense solve of
    the whole ``c I - J_aug``."""
    base = robertson()
    aug = augment(base, [(0, 0), (2, 0), (1, 1)], 2).system
    assert aug.lu_blocks == 2
    fns = compile_native(aug)
    ref = compile_native(dataclasses.replace(aug, jacobian=None, lu_blocks=0,
                                             model_hash="1" * 64))
    rng = np.random.default_rng(3)
    y = np.concatenate([[0.7, 3e-5, 0.3], rng.normal(size=6)])
    p = np.concatenate([base.p_default, rng.normal(size=3)])
    J = fns.jac_py(0.0, y, p)
    np.testing.assert_allclose(J, ref.jac_py(0.0, y, p), rtol=1e-12, atol=1e-12)
    assert fns.lu_nnz < ref.lu_nnz
    c = 50.0
    a = np.zeros(fns.lu_nnz)
    assert fns.decomp.ctypes(c, J[fns.jac_rows, fns.jac_cols].copy().ctypes.data,
                             a.ctypes.data) == 0
    b = rng.normal(size=9)
    x = b.copy()
    fns.solve.ctypes(a.ctypes.data, x.ctypes.data)
    np.testing.assert_allclose(x, np.linalg.solve(c * np.eye(9) - J, b), rtol=1e-10)


def test_disk_cache_reused(tmp_path):
    s = make_system(["x"], ["k"], [0.5], [1.0], lambda t, y, p: [-p[0] * y[0] + sp.sin(t)])
    a = compile_native(s, directory=tmp_path)
    files = list(tmp_path.glob("ct_*.ll"))
    assert len(files) == 1
    jit._LOADED.pop(a.key)
    b = compile_native(s, directory=tmp_path)                # read back from the file
    assert b is not a and b.ir == a.ir
    np.testing.assert_array_equal(b.rhs_py(1.0, [2.0], [0.5]), a.rhs_py(1.0, [2.0], [0.5]))


@pytest.fixture
def fresh_sources_digest():
    jit.sources_digest.cache_clear()
    yield
    jit.sources_digest.cache_clear()


def test_machine_code_key_covers_the_modules_that_make_the_code(monkeypatch,
                                                                fresh_sources_digest):
    root = Path(jit.__file__).resolve().parents[1]
    names = {p.relative_to(root).as_posix() for p in jit.key_sources()}
    assert {"semantics.py", "constraints.py", "system.py", "io/sbml.py", "io/mathml.py",
            "initial_values.py", "codegen/llvm.py", "codegen/jit.py",
            "derivatives.py"} <= names
    assert not {"api.py", "plot.py", "solvers/compiled.py"} & names
    s = dataclasses.replace(robertson(), model_hash="0" * 64)
    key = jit.object_key(s)
    read = sources.read_source
    monkeypatch.setattr(sources, "read_source",
                        lambda p: read(p) + (b"# edited" if p.name == "constraints.py" else b""))
    jit.sources_digest.cache_clear()
    assert jit.object_key(s) != key
    monkeypatch.undo()
    jit.sources_digest.cache_clear()
    assert jit.object_key(s) == key


def test_import_scans_kept_on_disk_follow_edits_and_survive_damage(tmp_path, monkeypatch):
    """The stored parse of a module is keyed by its bytes: an edit that adds an import is
    seen, and a damaged store is only a slower start."""
    monkeypatch.setenv("CROSSTALK_CACHE_DIR", str(tmp_path))
    for f in (sources._scan, sources._stored_scans, sources.import_closure):
        f.cache_clear()
    try:
        first = sources.import_closure(("simulator.constraints",))
        assert (tmp_path / "import_scans.json").is_file()
        read = sources.read_source
        monkeypatch.setattr(sources, "read_source", lambda p: read(p) + (
            b"\nimport simulator.plot\n" if p.name == "constraints.py" else b""))
        for f in (sources._scan, sources.import_closure):
            f.cache_clear()
        edited = sources.import_closure(("simulator.constraints",))
        assert sources.PACKAGE_DIR / "plot.py" in edited and sources.PACKAGE_DIR / "plot.py" not in first
        monkeypatch.setattr(sources, "read_source", read)
        (tmp_path / "import_scans.json").write_text("{not json")
        for f in (sources._scan, sources._stored_scans, sources.import_closure):
            f.cache_clear()
        assert sources.import_closure(("simulator.constraints",)) == first
    finally:
        monkeypatch.undo()
        for f in (sources._scan, sources._stored_scans, sources.import_closure):
            f.cache_clear()


def test_machine_code_key_refuses_a_module_without_source():
    with pytest.raises(RuntimeError, match="simulator.no_such_module"):
        sources.import_closure(("simulator.no_such_module",))


def test_numba_loops_cache_covers_every_module_they_inline(monkeypatch):
    """numba keys a cached function by its own file; ours by every numba module the loops
    use, so an edit to the tableau alone gives a new cache folder."""
    root = sources.PACKAGE_DIR
    files = sources.import_closure(numba_cache.LOOP_ROOTS, numba_only=True)
    names = {p.relative_to(root).as_posix() for p in files}
    assert {"solvers/compiled.py", "solvers/rodas5p.py", "solvers/event_location.py",
            "codegen/abi.py", "codegen/kernels.py"} <= names
    assert not {"errors.py", "codegen/llvm.py"} & names    # no numba code: no recompiles
    folder = numba_cache.loops_dir()
    assert folder.parent == Path(numba_cache.numba.config.CACHE_DIR or folder.parent)
    read = sources.read_source
    monkeypatch.setattr(sources, "read_source",
                        lambda p: read(p) + (b"# edited" if p.name == "rodas5p.py" else b""))
    numba_cache.loops_digest.cache_clear()
    try:
        assert numba_cache.loops_dir() != folder
    finally:
        monkeypatch.undo()
        numba_cache.loops_digest.cache_clear()
    assert numba_cache.loops_dir() == folder


_LOAD_THEN_COMPILE = """
import json, sys
import numpy as np
import simulator as sim
tiny = sim.load_model("model tiny\\n  S -> ; k*S\\n  S = 1; k = 0.5\\nend\\n")
e = sim.sweep(tiny, [0.0, 1.0], params={"k": np.array([0.5, 1.0])}, readouts=["S"],
              progress=False)     # first: the ensemble loop (no events), numba's own dispatch
m = sim.load_model()
a = sim.simulate(m, np.linspace(0.0, 50.0, 6))["pAkt_S473"].tolist()
refreshed = "numba.np.linalg" in sys.modules        # numba's registries, imported on refresh
import numba
f = numba.njit(lambda x: x * 2.0)                   # a compile after the light load
b = sim.simulate(m, np.linspace(0.0, 50.0, 6))["pAkt_S473"].tolist()
print("RESULT", json.dumps([a, b, refreshed, f(2.0), e["S"][:, -1].tolist()]))
"""


def test_cached_loops_load_without_numba_refresh_and_compiling_still_works():
    """A cached start loads the integrator without numba's registry refresh (~0.3 s); numba
    compiles normally afterwards, and the numbers are those of this process's full load."""
    import json
    import subprocess
    import sys
    import simulator as sim
    out = None
    for _ in range(2):                  # the first run may compile (empty cache) and refresh
        proc = subprocess.run([sys.executable, "-c", _LOAD_THEN_COMPILE], capture_output=True,
                              text=True, timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])
    a, b, refreshed, doubled, decayed = out
    assert not refreshed and doubled == 4.0
    np.testing.assert_allclose(decayed, np.exp([-0.5, -1.0]), rtol=1e-5)
    m = sim.load_model()
    here = sim.simulate(m, np.linspace(0.0, 50.0, 6))["pAkt_S473"]
    np.testing.assert_array_equal(a, here)
    assert a == b


def test_a_large_model_starts_on_quick_code_and_switches_to_the_optimised_build(
        tmp_path, monkeypatch):
    """Tiered compilation (jit.TIERED_ABOVE, lowered here so a small model counts as large):
    the quick build answers first, another process caches the optimised one, every function
    then points at it, and the numbers agree to rounding."""
    import simulator as sim
    from simulator.api import compile_model
    monkeypatch.setattr(jit, "TIERED_ABOVE", 0)
    model = sim.load_model("model tiered\n  A -> B; k1*A*E/(K + A)\n  B -> A; k2*B\n"
                           "  A = 10; B = 0; E = 1; k1 = 2; K = 3; k2 = 0.5\nend\n")
    system = compile_model(model).system
    fns = compile_native(system, directory=tmp_path)
    quick = {name: getattr(fns, name).__wrapper_address__() for name in jit._FUNCTIONS
             if getattr(fns, name) is not None}
    y, p = system.y_default, system.p_default
    before = (fns.rhs_py(0.0, y, p), fns.jac_py(0.0, y, p))
    assert not list(tmp_path.glob("ct_*.o"))                 # the quick code is not cached
    jit.wait_optimised(fns)
    assert list(tmp_path.glob("ct_*.o"))                     # the optimised code is
    assert all(getattr(fns, name).__wrapper_address__() != addr for name, addr in quick.items())
    np.testing.assert_allclose(fns.rhs_py(0.0, y, p), before[0], rtol=1e-14)
    np.testing.assert_allclose(fns.jac_py(0.0, y, p), before[1], rtol=1e-14)
    jit._LOADED.pop(fns.key)
    jit._LOADED.pop(jit.object_key(system), None)
    monkeypatch.setattr(jit, "_optimise_elsewhere", lambda *a: pytest.fail("compiled again"))
    again = compile_native(system, directory=tmp_path)       # from the cached machine code
    assert again is not fns
    np.testing.assert_array_equal(again.rhs_py(0.0, y, p), fns.rhs_py(0.0, y, p))


# ---- against libroadrunner

def test_matches_libroadrunner_on_synthetic_model():
    from tests.conftest import roadrunner_from
    from simulator.io import load
    from simulator.semantics import build_system
    path = ROOT / "benchmarks" / "models" / "synthetic_signaling.ant"
    system = build_system(load(path))
    t = np.linspace(0.0, 200.0, 41)
    seg = CompiledSegmenter(system, SolverOptions(rtol=1e-9, atol=1e-12)).integrate(
        0.0, system.y_default, system.p_default, t, 200.0, np.zeros(len(system.events), bool))
    assert seg.status == "end"
    rr = roadrunner_from(path.read_text())
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    ids = list(system.state_ids)
    rr.timeCourseSelections = ["time"] + [f"[{i}]" for i in ids]
    res = rr.simulate(0.0, 200.0, 41)
    ref = np.column_stack([res[f"[{i}]"] for i in ids])     # compartment size 1: amounts
    assert scaled_error(seg.y_out, ref, 1e-6, 1e-9) < 5.0


def test_dense_output_between_steps_matches_analytic_solution():
    # x'' = -x (x = cos t): steps are long (few per period), outputs fall inside them and come
    # from the order-4 continuous extension; a wrong dense-output coefficient shows up here
    s = make_system(["x", "v"], [], [], [1.0, 0.0], lambda t, y, p: [y[1], -y[0]])
    t = np.linspace(0.0, 20.0, 401)
    for rtol in (1e-5, 1e-8):
        seg = CompiledSegmenter(s, SolverOptions(rtol=rtol, atol=1e-12)).integrate(
            0.0, s.y_default, s.p_default, t, 20.0, NO_EVENTS)
        assert seg.status == "end" and seg.stats["naccepted"] < len(t) / 2
        ref = np.column_stack([np.cos(t), -np.sin(t)])
        assert scaled_error(seg.y_out, ref, rtol, 1e-12 + rtol) < 20.0


def test_integrate_many_matches_libroadrunner_on_bundled_model():
    from tests.conftest import roadrunner_from     # not tellurium: it breaks libsbml in-process
    import simulator as sim
    from simulator.ensemble.chunks import prepared
    model = sim.load_model(MODEL_ANT)
    prep = prepared(model)
    t = np.linspace(0.0, 1000.0, 101)
    ids = [p.id for p in model.parameters if p.value and p.value > 0][:20]
    rng = np.random.default_rng(0)
    vals = np.array([[p.value for p in model.parameters if p.id in ids]]) * rng.uniform(0.5, 2.0, (3, len(ids)))
    Y0, P = prep.system.init.values_many({}, ids, vals, 0.0)
    res = integrate_many(prep.fns, 0.0, Y0, P, t, 1000.0, rtol=1e-8, atol=1e-14)
    assert np.all(res["status"] == 0)
    rr = roadrunner_from(MODEL_ANT.read_text())
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-16
    species = list(model.species_ids)
    rr.timeCourseSelections = ["time"] + [f"[{x}]" for x in species]
    gids = list(rr.model.getGlobalParameterIds())
    col = np.array([gids.index(i) for i in ids], dtype=np.int32)
    cols = [prep.system.state_ids.index(x) for x in species]
    for m in range(3):
        rr.reset()
        rr.model.setGlobalParameterValues(col, vals[m])
        ref = np.asarray(rr.simulate(0.0, 1000.0, len(t)))[:, 1:]
        ours = res["y_out"][m][:, cols]
        assert np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-6)) < 1e-4


# ---- a trigger true only inside one step (SBML 01511)

def _window_system(lo=0.18, hi=0.1801):
    # x' = r, x(0) = 0: the trigger holds for t in (lo/r, hi/r), 2.5e-4 wide at r = 0.4, far
    # narrower than an eighth of the (huge) steps a linear ODE allows
    return make_system(["x"], ["r"], [0.4], [0.0], lambda t, y, p: [p[0]],
                       triggers=lambda t, y, p: [sp.And(y[0] > lo, y[0] < hi), t >= 7.5])


def test_narrow_trigger_window_inside_one_step_fires_at_the_analytic_time():
    from simulator.codegen.numpy_fns import compile_numpy
    from simulator.solvers.scipy_backend import ScipySegmenter
    s = _window_system()
    opts = SolverOptions(rtol=1e-6, atol=1e-10)
    t = np.array([0.0, 10.0])
    seg = CompiledSegmenter(s, opts).integrate(0.0, s.y_default, s.p_default, t, 10.0,
                                               np.array([False, False]))
    assert seg.status == "root"
    assert abs(seg.t_stop - 0.45) < 1e-9                       # x = 0.18 at t = 0.18 / 0.4
    assert 0.18 < seg.y_stop[0] < 0.1801
    # the window is far narrower than the step that crossed it: the 8 samples alone miss it
    whole = CompiledSegmenter(s, opts).integrate(0.0, s.y_default, s.p_default, t, 0.44,
                                                 np.array([False, False]))
    assert whole.status == "end" and (0.44 - 0.0) / whole.stats["naccepted"] > 8 * 2.5e-4
    ref = ScipySegmenter(compile_numpy(s), opts).integrate(0.0, s.y_default, s.p_default, t,
                                                           10.0, np.array([False, False]))
    assert ref.status == "root" and abs(ref.t_stop - seg.t_stop) < 1e-9
    # and from inside the window, its closing (by the other relation) is the next change
    inside = CompiledSegmenter(s, opts).integrate(0.46, np.array([0.4 * 0.46]), s.p_default,
                                                  np.array([]), 10.0, np.array([False, False]))
    assert inside.status == "root" and abs(inside.t_stop - 7.5) < 1e-9


def test_narrow_trigger_window_in_many_members():
    s = _window_system()
    fns = compile_native(s)
    P = np.array([[0.4], [0.01], [2.0], [-1.0]])   # crosses at 0.45 / 18 / 0.09; never
    out = integrate_many(fns, 0.0, np.zeros((4, 1)), P, np.array([0.0, 5.0]), 20.0,
                         trig0=np.zeros((4, 2), bool), rtol=1e-6)
    assert list(out["status"]) == [1, 1, 1, 1]
    np.testing.assert_allclose(out["t_stop"], [0.45, 7.5, 0.09, 7.5], rtol=1e-9)


@pytest.mark.parametrize("backend", ["compiled", "scipy"])
def test_narrow_trigger_window_event_fires_in_simulate(backend):
    import simulator as sim
    model = sim.load_model("model m\n x' = 0.4\n x = 0\n"
                           " E: at (x > 0.18) && (x < 0.1801): x = 1\nend")
    traj = sim.simulate(model, [0.0, 2.0], backend=backend)
    assert traj["x"][-1] == pytest.approx(1.0 + 0.4 * (2.0 - 0.45), rel=1e-7)


def test_switches_match_the_scipy_backend():
    from simulator.codegen.numpy_fns import compile_numpy
    s = make_system(["zeta", "alpha"], ["k"], [1.5], [1.0, 0.5],
                    lambda t, y, p: [-y[0], y[0] - y[1]],
                    triggers=lambda t, y, p: [sp.And(y[0] > p[0], y[1] < 2), t >= 3,
                                              sp.Or(y[1] <= y[0], y[0] > p[0]),
                                              sp.Not(sp.Eq(y[1], 0.25))])
    fns, ref = compile_native(s), compile_numpy(s)
    assert fns.n_switches == 5
    rng = np.random.default_rng(2)
    for _ in range(5):
        t, y, p = rng.uniform(0, 5), rng.uniform(0, 3, 2), rng.uniform(0, 3, 1)
        ours = fns.switches_py(t, y, p)
        # scipy's order follows sympy's set of And/Or arguments (hash seed); ours is fixed
        np.testing.assert_allclose(np.sort(ours), np.sort(ref.switches(t, y, p)), rtol=1e-14)
        np.testing.assert_allclose(ours, [y[0] - p[0], y[1] - 2, t - 3, y[1] - y[0], y[1] - 0.25],
                                   rtol=1e-14)
    assert compile_native(make_system(["x"], [], [], [1.0], lambda t, y, p: [-y[0]])).n_switches == 0
