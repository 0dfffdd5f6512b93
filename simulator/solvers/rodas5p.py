"""The RODAS5P Rosenbrock method (Steinebach 2023) as data, and its continuous extension.

RODAS5P is an 8-stage, order 5(4), L-stable, stiffly accurate Rosenbrock method with a
continuous extension of order 4. :data:`RODAS5P` holds its coefficients in the W-form the
stepper (:mod:`simulator.solvers.compiled`) uses, with stages ``u_1..u_8`` (``k1..k8`` in
the stepper; ``u_i = sum_j gamma_ij k_j`` in the notation of Hairer & Wanner II, IV.7)::

    (I/(gamma h) - J) u_i = f(t + c_i h, y0 + sum_j A_ij u_j) + sum_j (C_ij / h) u_j
                            + h d_i f_t
    y1 = y0 + sum_j A_8j u_j + u_8          (order 5)
    y1_hat = y0 + sum_j A_8j u_j            (order 4; u_8 is the error estimate)
    y(t + s h) = (1 - s) y0 + s (y1 + (1 - s) (q_1 + s (q_2 + s q_3))),  q_r = sum_j H_rj u_j

The classical coefficients follow from ``Gamma = (diag(1/gamma) - C)^-1``:
``alpha = A Gamma``, ``b = (A_8 + e_8) Gamma``, ``b_hat = A_8 Gamma``
(:mod:`tests.test_rodas5p` checks the order conditions on them).

numba freezes module-level arrays into compiled code as constants, so the stepper reads
these arrays with constant indices at no cost. The stepper's disk cache covers this module
too (:mod:`simulator.codegen.numba_cache`), so an edit here recompiles it.

References
----------
G. Steinebach, Construction of Rosenbrock-Wanner method Rodas5P and numerical benchmarks
within the Julia Differential Equations package, BIT Numer. Math. 63, 27 (2023),
doi:10.1007/s10543-023-00967-x.
E. Hairer, G. Wanner, Solving Ordinary Differential Equations II, 2nd ed., Springer 1996,
doi:10.1007/978-3-642-05221-7.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.codegen.numba_cache import njit


@dataclass(frozen=True)
class RosenbrockTableau:
    """The coefficients of a Rosenbrock method in W-form (see the module docstring).

    Attributes
    ----------
    gamma : float
        The diagonal of ``Gamma``: the matrix of every step is ``I/(gamma h) - J``.
    A : ndarray, shape (s, s)
        Stage inputs, strictly lower triangular: stage ``i`` evaluates ``f`` at
        ``y0 + sum_j A_ij u_j``. The last row gives the embedded solution. Stiffly accurate
        as RODAS: row ``s-1`` is row ``s-2`` plus ``e_(s-2)``, and row ``s`` is row ``s-1``
        plus ``e_(s-1)``, so the stepper adds one stage to the previous input.
    C : ndarray, shape (s, s)
        Couplings of earlier stages, strictly lower triangular (``diag(1/gamma) - Gamma^-1``).
    c : ndarray, shape (s,)
        Stage times ``t + c_i h`` (``c_i = sum_j alpha_ij``).
    d : ndarray, shape (s,)
        Coefficients of ``h f_t`` (``d_i = sum_j gamma_ij``), for explicit time dependence.
    H : ndarray, shape (3, s)
        Dense output: ``q_r = sum_j H_rj u_j``.
    order, embedded_order, dense_order : int
        Orders of ``y1``, of ``y1_hat`` (so the step-size exponent is
        ``1 / (embedded_order + 1)``) and of the continuous extension.
    """

    gamma: float
    A: np.ndarray
    C: np.ndarray
    c: np.ndarray
    d: np.ndarray
    H: np.ndarray
    order: int
    embedded_order: int
    dense_order: int

    def __post_init__(self):
        for name in ("A", "C", "c", "d", "H"):
            a = np.array(getattr(self, name), dtype=np.float64)
            a.flags.writeable = False
            object.__setattr__(self, name, a)


def _lower(rows) -> list:
    """An (s, s) strictly lower triangular matrix from its rows below the diagonal."""
    return [list(r) + [0.0] * (len(rows) - len(r)) for r in rows]


RODAS5P = RosenbrockTableau(
    gamma=0.21193756319429014,
    A=_lower([
        [],
        [3.0],
        [2.849394379747939, 0.45842242204463923],
        [-6.954028509809101, 2.489845061869568, -10.358996098473584],
        [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
        [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
         0.030198172008377946],
        [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
         0.030198172008377946, 1.0],
        [-7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256,
         0.030198172008377946, 1.0, 1.0],
    ]),
    C=_lower([
        [],
        [-14.155112264123755],
        [-17.97296035885952, -2.859693295451294],
        [147.12150275711716, -1.41221402718213, 71.68940251302358],
        [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
        [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125,
         -0.6610691825249471],
        [30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783,
         -19.097331116725623, -28.087943162872662],
        [37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047,
         -40.06618937091002, -54.66780262877968, -9.48861652309627],
    ]),
    c=[0.0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1.0,
       1.0, 1.0],
    d=[0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734,
       2.325825639765069, 0.0, 0.0, 0.0],
    H=[
        [25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204,
         0.524948541321073, 1.1241088310450404, 0.4272876194431874, -0.17202221070155493],
        [-9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796,
         20.176138334709044, 15.98066361424651, -6.789040303419874, -6.710236069923372],
        [11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643,
         -52.072871366152654, -59.78993625266729, -0.15582684282751913, 4.883087185713722],
    ],
    order=5, embedded_order=4, dense_order=4)


@njit(error_model="numpy", nogil=True, inline="always")
def dense(s, yold, ynew, q1, q2, q3, out):
    """The continuous extension at ``t + s h`` of a step from ``yold`` to ``ynew``:
    ``out = (1 - s) yold + s (ynew + (1 - s) (q1 + s (q2 + s q3)))``, evaluated from the
    nearer end (``yold + s (d + (1 - s) P)`` or ``ynew - (1 - s) (d - s P)``, with
    ``d = ynew - yold``): it gives ``yold`` and ``ynew`` exactly at ``s = 0`` and 1, and a
    component the step left unchanged (a state frozen between events) reads back bit for
    bit, which ``(1 - s) yold + s yold`` does not."""
    if s <= 0.5:
        for i in range(out.shape[0]):
            out[i] = yold[i] + s * ((ynew[i] - yold[i])
                                    + (1.0 - s) * (q1[i] + s * (q2[i] + s * q3[i])))
    else:
        for i in range(out.shape[0]):
            out[i] = ynew[i] - (1.0 - s) * ((ynew[i] - yold[i])
                                            - s * (q1[i] + s * (q2[i] + s * q3[i])))
