"""Members in lock-step lanes: the vector model functions equal the scalar ones, and the lane
integrator gives each member what the one-member integrator gives it (against analytic
solutions too), whoever its neighbours are, with the same failures."""
from types import SimpleNamespace

import numpy as np
import pytest

import simulator as sim
from simulator.api import compile_model
from simulator.codegen import llvm
from simulator.codegen.jit import compile_expressions, compile_lanes, compile_native
from simulator.codegen.kernels import fill_members, fill_outputs
from simulator.solvers.compiled import (END, FAIL_MAX_STEPS, FAIL_NONFINITE, STAT_NAMES,
                                        integrate_many)
from simulator.solvers.lanes import MAX_JACOBIAN, integrate_many_lanes, lane_chunk, suits

W = llvm.LANES

# every kind of math the lanes translate differently from the scalar code: libmvec's pow,
# exp and log, an integer power, a piecewise rate, a libm function without a vector form
# (called per lane), and explicit time dependence (df/dt)
MIXED = """
    model mixed
      compartment c = 1
      species S in c = 2; species P in c = 0; species R in c = 1
      J1: S -> P; Vm * S^h / (K^h + S^h)
      J2: P -> ; kd * P * exp(-P / 50) + kl * log(1 + P)
      J3: -> R; piecewise(ks, P > thr, ks / 4) * (1 + 0.5 * sin(time / 3)) + 0.01 * tanh(R)
      J4: R -> ; kr * R^2
      Vm = 1; K = 0.7; h = 2.4; kd = 0.2; kl = 0.05; ks = 0.3; thr = 0.5; kr = 0.4
    end"""
# A -> B at k1, B -> at k2: A = 10 exp(-k1 t)
DECAY = """
    model decay
      compartment c = 1; species A in c = 10; species B in c = 0
      J1: A -> B; k1 * A
      J2: B -> ; k2 * B
      k1 = 1; k2 = 0.5
    end"""
# dy/dt = -k y + sin(t), y(0) = 1 (time-dependent, with a closed form)
FORCED = """
    model forced
      compartment c = 1; species y in c = 1
      J: -> y; -k * y + sin(time)
      k = 2
    end"""


def _system(text):
    system = compile_model(sim.load_model(text)).system
    return system, compile_native(system), compile_lanes(system)


def _members(system, draws):
    """``draws`` (N, n_params) factors on the defaults: Y0, P."""
    P = system.p_default[None, :] * draws
    Y0 = np.repeat(system.y_default[None, :], len(P), axis=0)
    return np.ascontiguousarray(Y0, dtype=float), np.ascontiguousarray(P, dtype=float)


def _draws(system, n, seed=0, fold=2.0):
    """Factors on the rate constants (compartment sizes stay)."""
    rng = np.random.default_rng(seed)
    f = np.exp(rng.uniform(-np.log(fold), np.log(fold), (n, system.n_params)))
    f[:, [j for j, p in enumerate(system.param_ids) if p == "c"]] = 1.0
    return f


def _with(system, name, values):
    """Parameter rows at the defaults but for ``name``."""
    P = np.repeat(system.p_default[None, :].astype(float), len(values), axis=0)
    P[:, system.param_ids.index(name)] = values
    return P


# ----------------------------------------------------------------------------------------
# the vector model functions


def test_lane_functions_equal_the_scalar_ones_lane_by_lane():
    system, fns, lanes = _system(MIXED)
    n, m = system.n_states, system.n_params
    rng = np.random.default_rng(1)
    Y = rng.uniform(0.1, 3.0, (W, n))
    P = system.p_default[None, :] * rng.uniform(0.5, 2.0, (W, m))
    T = rng.uniform(0.0, 20.0, W)
    pq = np.zeros((lanes.n_pq, W))
    pq[:m] = P.T
    Yv = np.ascontiguousarray(Y.T)
    lanes.derive.ctypes(T.ctypes.data, Yv.ctypes.data, pq.ctypes.data, pq[m + 1:].ctypes.data)
    f = np.zeros((n, W))
    lanes.rhs.ctypes(T.ctypes.data, Yv.ctypes.data, pq.ctypes.data, f.ctypes.data)
    J = np.zeros((lanes.n_jac, W))
    lanes.jac.ctypes(T.ctypes.data, Yv.ctypes.data, pq.ctypes.data, J.ctypes.data)
    ft = np.zeros((n, W))
    lanes.dfdt.ctypes(T.ctypes.data, Yv.ctypes.data, pq.ctypes.data, ft.ctypes.data)
    assert fns.time_dependent and np.abs(ft).max() > 0
    c = rng.uniform(1.0, 10.0, W)
    lu = np.zeros((lanes.lu_nnz, W))
    assert lanes.decomp.ctypes(c.ctypes.data, J.ctypes.data, lu.ctypes.data) == 0
    b = rng.normal(size=(n, W))
    x = b.copy()
    lanes.solve.ctypes(lu.ctypes.data, x.ctypes.data)
    for lane in range(W):
        np.testing.assert_allclose(f[:, lane], fns.rhs_py(T[lane], Y[lane], P[lane]),
                                   rtol=1e-13, atol=1e-15)
        dense = fns.jac_py(T[lane], Y[lane], P[lane])
        np.testing.assert_allclose(J[:, lane], dense[fns.jac_rows, fns.jac_cols],
                                   rtol=1e-13, atol=1e-15)
        w = c[lane] * np.eye(n) - dense
        np.testing.assert_allclose(x[:, lane], np.linalg.solve(w, b[:, lane]), rtol=1e-12)


def test_the_step_kernels_compute_what_their_formulas_say():
    system, fns, lanes = _system(MIXED)
    n, nw = system.n_states, system.n_states * W
    rng = np.random.default_rng(2)
    ks = rng.normal(size=(9, nw))
    y = rng.uniform(0.5, 2.0, nw)
    coef = np.zeros(9)
    coef[:8] = rng.normal(size=8)
    for j in (1, 3, 5):
        coef[8] = j
        out = np.zeros(nw)
        lanes.stage_in.ctypes(out.ctypes.data, y.ctypes.data, coef.ctypes.data, ks.ctypes.data)
        np.testing.assert_allclose(out, y + coef[:j] @ ks[:j], rtol=1e-13)
    g = rng.uniform(0.5, 2.0, 2 * W)
    for j in (1, 4, 7):
        coef[8] = j
        k = ks[7].copy()
        lanes.stage_k.ctypes(k.ctypes.data, ks.ctypes.data, coef.ctypes.data, g.ctypes.data)
        lane_ih, lane_hd = np.tile(g[:W], n), np.tile(g[W:], n)
        np.testing.assert_allclose(k, ks[7] + lane_ih * (coef[:j] @ ks[:j]) + lane_hd * ks[8],
                                   rtol=1e-12)
    H = rng.normal(size=24)
    q = np.zeros((3, nw))
    lanes.dense_q.ctypes(q.ctypes.data, ks.ctypes.data, H.ctypes.data, H.ctypes.data)
    np.testing.assert_allclose(q, H.reshape(3, 8) @ ks[:8], rtol=1e-12)
    ynew = rng.uniform(0.5, 2.0, nw)
    ynew[2 * W + 5] = np.inf                                 # lane 5 goes non-finite
    atol, rtol = rng.uniform(1e-9, 1e-6, n), 1e-4
    e = np.concatenate([atol, [rtol], np.zeros(3 * W)])
    expect_y = ynew + ks[7]
    lanes.error_sum.ctypes(ynew.ctypes.data, ks.ctypes.data, y.ctypes.data, e.ctypes.data)
    np.testing.assert_array_equal(ynew, expect_y)
    terms = (ks[7] / (np.repeat(atol, W) + rtol * np.maximum(abs(y), abs(expect_y))))**2
    terms = terms.reshape(n, W)
    sums, worst, where = e[n + 1:n + 1 + W], e[n + 1 + W:n + 1 + 2 * W], e[n + 1 + 2 * W:]
    ok = np.arange(W) != 5
    np.testing.assert_allclose(sums[ok], terms.sum(axis=0)[ok], rtol=1e-12)
    assert np.isnan(sums[5])
    np.testing.assert_array_equal(where[ok], terms.argmax(axis=0)[ok])
    np.testing.assert_allclose(worst[ok], terms.max(axis=0)[ok], rtol=1e-13)


def test_decomp_reports_the_lanes_with_a_zero_pivot():
    system, fns, lanes = _system(DECAY)
    n = system.n_states
    J = np.zeros((lanes.n_jac, W))                     # J = 0: W = c I
    c = np.ones(W)
    c[[2, 5]] = 0.0
    lu = np.zeros((lanes.lu_nnz, W))
    mask = lanes.decomp.ctypes(c.ctypes.data, J.ctypes.data, lu.ctypes.data)
    assert mask == (1 << 2) | (1 << 5) and n == 2


def test_vector_variants_of_libm():
    assert llvm._vector_function("llvm.fabs.f64", 1, W) == f"llvm.fabs.v{W}f64"
    assert llvm._vector_function("tgamma", 1, W) is None          # one call per lane
    expected = f"_ZGVeN{W}vv_pow" if llvm.vector_libm() else f"llvm.pow.v{W}f64"
    assert llvm._vector_function("llvm.pow.f64", 2, W) == expected


def test_a_single_run_never_generates_lane_code():
    system = compile_model(sim.load_model(DECAY)).system
    ir = llvm.generate(system).ir
    assert "x double>" not in ir and "_v(" not in ir


# ----------------------------------------------------------------------------------------
# the lane integrator


def test_members_agree_with_the_one_member_integrator_and_the_closed_form():
    system, fns, lanes = _system(DECAY)
    draws = _draws(system, 13, fold=5.0)                # not a multiple of the lanes
    Y0, P = _members(system, draws)
    t = np.linspace(0.0, 10.0, 41)
    kw = dict(rtol=1e-8, atol=1e-12)
    one = integrate_many(fns, 0.0, Y0, P, t, 10.0, **kw)
    lan = integrate_many_lanes(fns, lanes, 0.0, Y0, P, t, 10.0, chunk=8, **kw)
    assert (lan["status"] == END).all() and (one["status"] == END).all()
    k1 = P[:, system.param_ids.index("k1")]
    exact = 10.0 * np.exp(-k1[:, None] * t[None, :])
    a = system.state_ids.index("A")
    np.testing.assert_allclose(lan["y_out"][:, :, a], exact, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(lan["y_out"], one["y_out"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(lan["t_stop"], 10.0)
    np.testing.assert_allclose(lan["y_stop"], lan["y_out"][:, -1])
    steps = STAT_NAMES.index("nsteps")
    assert (lan["stats"][:, steps] == one["stats"][:, steps]).mean() > 0.5
    assert (lan["stats"][:, STAT_NAMES.index("n_out")] == len(t)).all()


def test_time_dependence_against_the_closed_form():
    system, fns, lanes = _system(FORCED)
    k = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    P = _with(system, "k", k)
    Y0 = np.ones((len(k), 1))
    t = np.linspace(0.0, 12.0, 25)
    res = integrate_many_lanes(fns, lanes, 0.0, Y0, P, t, 12.0, rtol=1e-9, atol=1e-12)
    kk, tt = k[:, None], t[None, :]
    exact = ((kk * np.sin(tt) - np.cos(tt)) / (kk**2 + 1)
             + (1 + 1 / (kk**2 + 1)) * np.exp(-kk * tt))
    np.testing.assert_allclose(res["y_out"][:, :, 0], exact, rtol=1e-6, atol=1e-8)


def test_a_members_result_does_not_depend_on_its_neighbours_or_the_chunks():
    system, fns, lanes = _system(MIXED)
    Y0, P = _members(system, _draws(system, 20, seed=3))
    t = np.linspace(0.0, 30.0, 16)
    base = integrate_many_lanes(fns, lanes, 0.0, Y0, P, t, 30.0, chunk=8)
    order = np.random.default_rng(0).permutation(len(P))
    moved = integrate_many_lanes(fns, lanes, 0.0, Y0[order], P[order], t, 30.0, chunk=16)
    alone = integrate_many_lanes(fns, lanes, 0.0, Y0[[7]], P[[7]], t, 30.0)
    np.testing.assert_array_equal(moved["y_out"], base["y_out"][order])
    np.testing.assert_array_equal(moved["stats"], base["stats"][order])
    np.testing.assert_array_equal(alone["y_out"][0], base["y_out"][7])
    one = integrate_many(fns, 0.0, Y0, P, t, 30.0)
    np.testing.assert_allclose(base["y_out"], one["y_out"], rtol=1e-4, atol=1e-9)


def test_failures_are_the_members_own_and_the_others_finish():
    # y' = a y^2 blows up at t = 1 / (a y0) for a > 0
    system, fns, lanes = _system("""
        model blow
          compartment c = 1; species y in c = 1
          J: -> y; a * y^2
          a = -1
        end""")
    a = np.array([-1.0, -2.0, 2.0, -0.5, -1.5, 0.5, -3.0, -1.0, -2.0, -4.0])
    P = _with(system, "a", a)
    Y0 = np.ones((len(a), 1))
    t = np.linspace(0.0, 3.0, 7)
    one = integrate_many(fns, 0.0, Y0, P, t, 3.0)
    lan = integrate_many_lanes(fns, lanes, 0.0, Y0, P, t, 3.0)
    np.testing.assert_array_equal(lan["status"], one["status"])
    assert set(lan["status"][a > 0]) <= {FAIL_NONFINITE, -2}          # step size too small
    assert (lan["status"][a < 0] == END).all()
    exact = 1.0 / (1.0 - a[a < 0, None] * t[None, :])
    np.testing.assert_allclose(lan["y_out"][a < 0, :, 0], exact, rtol=1e-5)
    assert (lan["t_stop"][a > 0] < 1.0 / a[a > 0] + 1e-6).all()
    # a step budget: the members that need more attempts fail, as they do alone
    few = integrate_many_lanes(fns, lanes, 0.0, Y0, P, t, 3.0, max_steps=12)
    alone = integrate_many(fns, 0.0, Y0, P, t, 3.0, max_steps=12)
    np.testing.assert_array_equal(few["status"] == FAIL_MAX_STEPS,
                                  alone["status"] == FAIL_MAX_STEPS)
    assert (few["status"] == FAIL_MAX_STEPS).any()


def test_an_empty_span_gives_the_start():
    system, fns, lanes = _system(DECAY)
    Y0, P = _members(system, _draws(system, 3))
    res = integrate_many_lanes(fns, lanes, 0.0, Y0, P, [0.0], 0.0)
    assert (res["status"] == END).all()
    np.testing.assert_array_equal(res["y_out"][:, 0], Y0)


def test_models_with_events_are_refused():
    system, fns, lanes = _system("""
        model ev
          compartment c = 1; species x in c = 1
          J: x -> ; x
          E: at time > 1: x = 1
        end""")
    with pytest.raises(ValueError, match="without events"):
        integrate_many_lanes(fns, lanes, 0.0, np.ones((2, 1)), _with(system, "c", [1, 1]),
                             [1.0], 1.0)


@pytest.mark.parametrize("n, threads, expected", [(1, 2, W), (100, 2, 56), (1000, 2, 128),
                                                  (10_000, 2, 256), (64, 1, 64)])
def test_work_items_are_whole_lanes(n, threads, expected):
    size = lane_chunk(n, threads)
    assert size == expected and size % W == 0


def test_a_sweep_checks_a_blow_up_with_the_reference_from_where_ours_got():
    model = sim.load_model("""
        model blow
          compartment c = 1; species y in c = 1
          J: -> y; a * y^2
          a = -1
        end""")
    t = np.linspace(0.0, 3.0, 7)                        # the blow-up at t = 1/a = 0.8
    ens = sim.sweep(model, t, params={"a": [-1.0, 1.25, -2.0]}, readouts=["y"],
                    progress=False)
    assert ens.success.tolist() == [True, False, True]
    reason = ens.failures["reason"].iloc[0]
    assert "fails too (the reference from t = 0.5, where ours had reached)" in reason
    np.testing.assert_allclose(ens["y"][2], 1.0 / (1.0 + 2.0 * t), rtol=1e-5)


def test_which_models_sweep_on_lanes():
    assert suits(_system(DECAY)[1])
    assert not suits(_system("""
        model ev
          compartment c = 1; species x in c = 1
          J: x -> ; x
          E: at time > 1: x = 1
        end""")[1])
    # a model with a larger Jacobian keeps the one-member integrator
    big = SimpleNamespace(n_events=0, n_states=200, n_jac=MAX_JACOBIAN + 1)
    assert not suits(big) and suits(SimpleNamespace(**{**vars(big), "n_jac": MAX_JACOBIAN}))


def test_readouts_on_lanes_equal_the_scalar_ones():
    system, fns, lanes = _system(MIXED)
    outputs = [system.outputs[k] for k in ("S", "P", "R")] + [system.outputs["S"] * 2.5]
    scalar = compile_expressions(system, outputs)
    vector = compile_expressions(system, outputs, lanes=True)
    rng = np.random.default_rng(4)
    n_t = 13                                            # not a multiple of the lanes
    Y = rng.uniform(0.1, 3.0, (5, n_t, system.n_states))
    P = system.p_default[None, :] * rng.uniform(0.5, 2.0, (3, system.n_params))
    t = np.linspace(0.0, 6.0, n_t)
    rows = np.array([4, -1, 0])
    out = np.full((3, n_t, len(outputs)), -7.0)
    bad = fill_members(vector, t, Y, P, rows, out)
    assert not bad.any() and (out[1] == -7.0).all()   # a row of -1 is left alone
    for i in (0, 2):
        expect = np.empty((n_t, len(outputs)))
        flags = np.zeros(len(outputs), np.uint8)
        fill_outputs(scalar, t, Y[rows[i]], np.repeat(P[i:i + 1], n_t, axis=0), expect, flags)
        np.testing.assert_allclose(out[i], expect, rtol=1e-13)
