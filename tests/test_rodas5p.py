"""RODAS5P's coefficients against the Rosenbrock order conditions.

The stepper's W-form (:mod:`simulator.solvers.rodas5p`) is converted back to the classical
form ``k_i = h f(y0 + sum_j alpha_ij k_j) + h J sum_j gamma_ij k_j``, ``y1 = y0 + sum b_i k_i``
(Hairer & Wanner II, section IV.7): ``Gamma = (diag(1/gamma) - C)^-1``, ``alpha = A Gamma``,
``b = m Gamma`` with ``m`` the stepper's weights of the stages. The order conditions are
``sum_i b_i Phi_i(t) = 1/density(t)`` for every rooted tree ``t`` up to the order, where
``Phi_i`` is the elementary weight with ``alpha + Gamma`` on an edge from a vertex with a
single child (the Jacobian term) and ``alpha`` otherwise.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from simulator.solvers.rodas5p import RODAS5P, dense

TOL = 1e-12
S_POINTS = np.linspace(0.05, 0.95, 7)    # dense output: polynomials of degree <= 5 in s


@functools.cache
def rooted_trees(n: int) -> tuple:
    """The rooted trees with ``n`` vertices, each a sorted tuple of its subtrees."""
    if n == 1:
        return ((),)
    return tuple(sorted({tuple(sorted(f)) for f in _forests(n - 1)}))


def _forests(n: int):
    if n == 0:
        yield ()
        return
    for k in range(1, n + 1):
        for t in rooted_trees(k):
            for rest in _forests(n - k):
                yield (t,) + rest


def _size(tree) -> int:
    return 1 + sum(_size(c) for c in tree)


def _density(tree) -> int:
    return _size(tree) * int(np.prod([_density(c) for c in tree]))


def classical(tab):
    """``(alpha, Gamma, b, b_hat)`` of a tableau in the stepper's W-form."""
    s = len(tab.c)
    gamma_inv = np.diag(np.full(s, 1.0 / tab.gamma)) - tab.C
    Gamma = np.linalg.inv(gamma_inv)
    alpha = tab.A @ Gamma
    m_hat = tab.A[-1]                         # the embedded solution is the last stage input
    m = m_hat + np.eye(s)[-1]                 # ... plus the last stage
    return alpha, Gamma, m @ Gamma, m_hat @ Gamma


def _phi(tree, alpha, B):
    if not tree:
        return np.ones(len(alpha))
    if len(tree) == 1:
        return B @ _phi(tree[0], alpha, B)
    return np.prod([alpha @ _phi(c, alpha, B) for c in tree], axis=0)


def elementary_weights(b, alpha, Gamma, order: int) -> dict:
    """``sum_i b_i Phi_i(t)`` for every tree ``t`` up to ``order``."""
    B = alpha + Gamma
    return {t: float(b @ _phi(t, alpha, B)) for n in range(1, order + 1)
            for t in rooted_trees(n)}


def order_residuals(b, alpha, Gamma, order: int, s: float = 1.0) -> dict:
    """``sum_i b_i Phi_i(t) - s^|t| / density(t)`` for every tree up to ``order``."""
    return {t: w - s ** _size(t) / _density(t)
            for t, w in elementary_weights(b, alpha, Gamma, order).items()}


def _assert_small(residuals: dict, what: str):
    bad = {t: r for t, r in residuals.items() if not abs(r) < TOL}
    assert not bad, f"{what}: order conditions violated for trees {bad}"


def check_structure(tab):
    """What the stepper relies on besides the order conditions."""
    s = len(tab.c)
    assert tab.A.shape == tab.C.shape == (s, s) and tab.H.shape == (3, s) and tab.d.shape == (s,)
    assert not np.triu(tab.A).any() and not np.triu(tab.C).any(), "A and C strictly lower"
    e = np.eye(s)
    # stages 7 and 8 add the previous stage to the previous input
    assert np.array_equal(tab.A[6], tab.A[5] + e[5]) and np.array_equal(tab.A[7], tab.A[6] + e[6])
    # stages 6-8 are at t + h and have no f_t term
    assert np.array_equal(tab.c[5:], [1.0, 1.0, 1.0]) and not tab.d[5:].any()


def check_stage_times(tab):
    """``c_i = sum_j alpha_ij`` and ``d_i = sum_j gamma_ij`` (non-autonomous consistency)."""
    alpha, Gamma, _, _ = classical(tab)
    np.testing.assert_allclose(tab.c, alpha.sum(axis=1), rtol=0, atol=TOL)
    np.testing.assert_allclose(tab.d, Gamma.sum(axis=1), rtol=0, atol=TOL)


def check_order(tab):
    alpha, Gamma, b, b_hat = classical(tab)
    _assert_small(order_residuals(b, alpha, Gamma, tab.order), "solution")
    _assert_small(order_residuals(b_hat, alpha, Gamma, tab.embedded_order), "embedded")


def check_stiffly_accurate(tab):
    """``b_i = alpha_si + gamma_si`` and ``b_hat_i = alpha_(s-1)i + gamma_(s-1)i``."""
    alpha, Gamma, b, b_hat = classical(tab)
    np.testing.assert_allclose(b, (alpha + Gamma)[-1], rtol=0, atol=TOL)
    np.testing.assert_allclose(b_hat, (alpha + Gamma)[-2], rtol=0, atol=TOL)


def check_dense_order(tab):
    """The continuous extension ``y0 + sum_j w_j(s) u_j`` has order ``dense_order``."""
    alpha, Gamma, _, _ = classical(tab)
    m = tab.A[-1] + np.eye(len(tab.c))[-1]
    for s in S_POINTS:
        w = s * m + s * (1 - s) * (tab.H[0] + s * (tab.H[1] + s * tab.H[2]))
        _assert_small(order_residuals(w @ Gamma, alpha, Gamma, tab.dense_order, s),
                      f"dense output at s = {s:g}")


# The last column of H weighs u_8 = y1 - y1_hat, which vanishes on every tree up to order 4
# (test_order_conditions_do_not_see_the_last_dense_column): a free choice of Steinebach's,
# pinned to the published values (OrdinaryDiffEq.jl's Rodas5PTableau h28, h38, h48).
PUBLISHED_H_LAST = (-0.17202221070155493, -6.710236069923372, 4.883087185713722)


def check_dense_free_coefficients(tab):
    assert tuple(tab.H[:, -1]) == PUBLISHED_H_LAST


CHECKS = (check_structure, check_stage_times, check_order, check_stiffly_accurate,
          check_dense_order, check_dense_free_coefficients)


def test_tree_counts():
    assert [len(rooted_trees(n)) for n in range(1, 7)] == [1, 1, 2, 4, 9, 20]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_rodas5p(check):
    check(RODAS5P)


def test_orders_are_exact():
    """The stated orders are the orders: one more condition fails at the next order."""
    alpha, Gamma, b, b_hat = classical(RODAS5P)
    for weights, order in ((b, RODAS5P.order), (b_hat, RODAS5P.embedded_order)):
        res = order_residuals(weights, alpha, Gamma, order + 1)
        assert max(abs(res[t]) for t in rooted_trees(order + 1)) > 1e-6


def test_order_conditions_do_not_see_the_last_dense_column():
    alpha, Gamma, b, b_hat = classical(RODAS5P)
    np.testing.assert_allclose(Gamma[-1], b - b_hat, rtol=0, atol=TOL)    # u_8 = y1 - y1_hat
    weights = elementary_weights(b - b_hat, alpha, Gamma, RODAS5P.dense_order + 1)
    assert all(abs(weights[t]) < TOL for n in range(1, RODAS5P.dense_order + 1)
               for t in rooted_trees(n))
    assert max(abs(weights[t]) for t in rooted_trees(RODAS5P.dense_order + 1)) > 1e-6


def _perturbed():
    """Every coefficient in turn, moved by 1e-7 relative (absolute at zero)."""
    yield "gamma", dataclasses.replace(RODAS5P, gamma=RODAS5P.gamma * (1 + 1e-7))
    for name in ("A", "C", "c", "d", "H"):
        a = getattr(RODAS5P, name)
        for idx in np.ndindex(a.shape):
            b = a.copy()
            b[idx] += 1e-7 * max(1.0, abs(b[idx]))
            yield f"{name}{list(idx)}", dataclasses.replace(RODAS5P, **{name: b})


def test_every_perturbed_coefficient_is_caught():
    missed = []
    for label, tab in _perturbed():
        try:
            for check in CHECKS:
                check(tab)
        except AssertionError:
            continue
        missed.append(label)
    assert not missed


def test_dense_output_reproduces_the_step_ends():
    rng = np.random.default_rng(0)
    yold, ynew, q1, q2, q3 = rng.normal(size=(5, 6))
    out = np.empty(6)
    dense(0.0, yold, ynew, q1, q2, q3, out)
    np.testing.assert_array_equal(out, yold)
    dense(1.0, yold, ynew, q1, q2, q3, out)
    np.testing.assert_array_equal(out, ynew)


def test_dense_output_keeps_a_component_the_step_left_unchanged():
    """A state frozen between events (its stages all zero) reads back bit for bit anywhere in
    the step; ``(1 - s) y + s y`` would not."""
    y = np.array([0.7165313055, 1.0 / 3.0, 2.0 ** 0.5])
    zero = np.zeros(3)
    out = np.empty(3)
    for s in np.linspace(0.0, 1.0, 101):
        dense(s, y, y.copy(), zero, zero, zero, out)
        np.testing.assert_array_equal(out, y)


def test_dense_output_is_the_same_polynomial_from_either_end():
    rng = np.random.default_rng(1)
    yold, ynew, q1, q2, q3 = rng.normal(size=(5, 6))
    out = np.empty(6)
    for s in (0.1, 0.5, 0.5000001, 0.9):
        dense(s, yold, ynew, q1, q2, q3, out)
        want = (1 - s) * yold + s * (ynew + (1 - s) * (q1 + s * (q2 + s * q3)))
        np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-14)
