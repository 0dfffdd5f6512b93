"""Forward sensitivities as an ODE system of their own.

For directions ``i = 1..m`` in parameter space (each a combination ``dp/dtheta_i`` of the
model's parameters, and an initial ``dy0/dtheta_i``) the sensitivities ``S_i = dy/dtheta_i``
obey ``S_i' = J S_i + sum_k (df/dp_k) D[k, i]`` with ``J = df/dy``. :func:`augment` builds
that system beside the model's as one :class:`~simulator.system.OdeSystem` whose states are
``y`` then ``S_1 .. S_m`` and whose parameters are ``p`` then the nonzero entries of ``D``
(``pairs``), so either backend integrates state and sensitivities together, with one error
control and one Jacobian: block lower triangular, assembled from the model's ``J`` and its
second derivatives, with one LU (of ``c I - J``) shared by every diagonal block.

Events carry the sensitivities' jump conditions (:func:`_jump`): at a fixed time, or at a
time that moves with the states or parameters through one trigger relation. Refused by name
(an :class:`UnsupportedFeatureError`, never a wrong gradient): delayed events, triggers with
several moving relations, events that assign a parameter a value depending on states or
directions, and a state or a parameter of a direction inside a condition of a
``piecewise`` (its switching time would move with them).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import sympy

from simulator.derivatives import Differentiator, gradient, jacobian_entries
from simulator.errors import UnsupportedFeatureError
from simulator.system import EventSpec, OdeSystem

__all__ = ["Augmented", "augment", "parameter_jacobian"]


@dataclass(frozen=True)
class Augmented:
    """A system with sensitivities: ``system`` (states ``y`` then ``S_i`` for each direction,
    column-major by direction), ``pairs`` ((parameter index k, direction i) of each ``D``
    parameter, in the order they follow ``p``), ``n`` the model's state count, ``m`` the
    number of directions."""

    system: OdeSystem
    pairs: tuple[tuple[int, int], ...]
    n: int
    m: int

    def parameters(self, p: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The augmented parameter vector from the model's ``p`` and ``D`` (n_params, m)."""
        extra = np.array([D[k, i] for k, i in self.pairs], dtype=float)
        return np.concatenate([p, extra])

    def state(self, y: np.ndarray, S: np.ndarray) -> np.ndarray:
        """The augmented state from ``y`` (n,) and ``S`` (n, m)."""
        return np.concatenate([y, np.asarray(S, dtype=float).T.reshape(-1)])

    def split(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(y (n_t, n), S (n_t, n, m))`` from augmented rows ``Y`` (n_t, n (1 + m))."""
        n, m = self.n, self.m
        return Y[:, :n], Y[:, n:].reshape(len(Y), m, n).transpose(0, 2, 1)


def _refuse(system: OdeSystem, params: set) -> None:
    problems = []
    for ev in system.events:
        where = f"event '{ev.id}'"
        if ev.delay is not None and ev.delay != 0:
            problems.append(f"{where}: sensitivities across delayed events are not supported")
        moving = [r for r in ev.trigger.atoms(sympy.core.relational.Relational)
                  if r.free_symbols & (set(system.y) | params)]
        if len(moving) > 1:
            problems.append(f"{where}: a trigger with more than one relation on states or "
                            "estimated parameters (which one decides its time?)")
        for kind, k, e in ev.assignments:
            if kind == "p" and (system.p[k] in params or e.free_symbols & (set(system.y)
                                                                             | params)):
                problems.append(f"{where} assigns parameter '{system.param_ids[k]}' a value "
                                "that depends on states or estimated parameters")
    states = set(system.y)
    names = {**dict(zip(system.p, (f"parameter '{i}'" for i in system.param_ids))),
             **dict(zip(system.y, (f"state '{i}'" for i in system.state_ids)))}
    for k, e in enumerate(system.rhs):
        for pw in e.atoms(sympy.Piecewise):
            for _, cond in pw.args:
                inside = {s for s in getattr(cond, "free_symbols", set())
                          if s in params or s in states}
                for s in sorted(inside, key=str):
                    problems.append(f"{names[s]} decides when a piecewise in the rate of "
                                    f"'{system.state_ids[k]}' switches (its sensitivity would "
                                    "jump at a moving time)")
    if problems:
        raise UnsupportedFeatureError(sorted(set(problems)), source=f"model '{system.model_id}'")


def _jump(system: OdeSystem, ev: EventSpec, S, D: dict, m: int) -> EventSpec:
    """``ev`` with the sensitivities' jump conditions appended to its assignments.

    An event at time ``tau`` maps ``y-`` to ``y+ = h(y-, p)``. Differentiating along a
    direction ``theta``: ``S+ = dh/dy S- + dh/dp D + (dh/dy f- - f+) dtau/dtheta``, with
    ``dtau/dtheta = -(dg/dy S- + dg/dp D) / (dg/dy f- + dg/dt)`` for the trigger relation
    ``g = lhs - rhs`` that moves with states or directions (0 when none does, e.g. a fixed
    time). (Hairer, Norsett & Wanner I, II.6 on discontinuities; Rozenvasser 1967.)
    """
    n = system.n_states
    y = system.y
    h = list(y)
    p_new = {}
    for j, (kind, k, e) in enumerate(ev.assignments):
        value = e * ev.factors[j] if ev.factors else e
        if kind == "y":
            h[k] = value
        else:
            p_new[system.p[k]] = value
    Dk = {}
    for (k, i), sym in D.items():
        Dk.setdefault(i, []).append((system.p[k], sym))
    params = {system.p[k] for k, _ in D}
    relations = [r for r in ev.trigger.atoms(sympy.core.relational.Relational)
                 if r.free_symbols & (set(y) | params)]
    g = relations[0].lhs - relations[0].rhs if relations else None
    assigned = [j for j in range(n) if h[j] is not y[j]]
    f_minus = list(system.rhs)
    d = Differentiator()

    def by_states(e) -> list:      # the nonzero (state index, d e / d y_c)
        return [(c, dc) for c in range(n) if (dc := d(e, y[c])) != 0]

    def by_directions(e, i):       # sum_k d e / d p_k D[k, i]
        return sympy.Add(*(d(e, pk) * sym for pk, sym in Dk.get(i, ())))

    dh = {j: by_states(h[j]) for j in assigned}
    if g is not None:
        after = {**{y[j]: h[j] for j in assigned}, **p_new}
        f_plus = [f.xreplace(after) for f in system.rhs]
        dg = by_states(g)
        denominator = sympy.Add(*(dc * f_minus[c] for c, dc in dg)) + d(g, system.t)
        hf = {j: sympy.Add(*(dc * f_minus[c] for c, dc in dh[j])) for j in assigned}
    extra = []
    for i in range(m):
        Si = S[i]
        dtau = None
        if g is not None:
            numerator = sympy.Add(*(dc * Si[c] for c, dc in dg)) + by_directions(g, i)
            dtau = -numerator / denominator
        for j in range(n):
            if j in dh:
                new = sympy.Add(*(dc * Si[c] for c, dc in dh[j])) + by_directions(h[j], i)
                if dtau is not None:
                    new += (hf[j] - f_plus[j]) * dtau
            elif dtau is not None:
                new = Si[j] + (f_minus[j] - f_plus[j]) * dtau
            else:
                continue
            extra.append(("y", n * (i + 1) + j, new))
    return dataclasses.replace(ev, assignments=ev.assignments + tuple(extra),
                               factors=(ev.factors + (sympy.Integer(1),) * len(extra))
                               if ev.factors else ())


def parameter_jacobian(system: OdeSystem, ks) -> list[list[sympy.Expr]]:
    """``df/dp_k`` for each parameter index in ``ks``: ``[state][k]``."""
    diff = Differentiator()
    return [gradient(f, [system.p[k] for k in ks], diff) for f in system.rhs]


def _second_derivatives(first: dict, y, symmetric: bool = False) -> dict:
    """``{(r, a, c): d first[r, a] / d y_c}`` for the nonzero ones, from first derivatives
    ``{(r, a): expr}`` (each differentiated once, whatever the number of directions). With
    ``symmetric`` (``first`` is a Jacobian, ``a`` indexing ``y``) only ``c >= a`` is
    differentiated and the rest mirrored."""
    out = {}
    diff = Differentiator()
    for (r, a), e in first.items():
        free = diff.free(e)
        cs = [c for c, yc in enumerate(y) if yc in free and (not symmetric or c >= a)]
        for c, d in zip(cs, gradient(e, [y[c] for c in cs], diff)):
            if d != 0:
                out[r, a, c] = d
                if symmetric and c != a:
                    out[r, c, a] = d
    return out


def augment(system: OdeSystem, pairs, m: int) -> Augmented:
    """``system`` with ``m`` sensitivity directions whose forcing uses the ``D`` entries
    ``pairs`` ((parameter index, direction)); see the module docstring.

    The augmented Jacobian is assembled from blocks, not by differentiating the augmented
    rates: the diagonal blocks are the model's ``J``, and block ``(i, 0)`` is
    ``d(J S_i + df/dp D_i)/dy``, sums over second derivatives computed once for all
    directions. Its LU is shared (``lu_blocks``): only ``c I - J`` is factorised.
    """
    pairs = tuple(sorted({(int(k), int(i)) for k, i in pairs}, key=lambda ki: (ki[1], ki[0])))
    _refuse(system, {system.p[k] for k, _ in pairs})
    n = system.n_states
    jr, jc, je = jacobian_entries(system.rhs, system.y)
    J = {(r, c): e for r, c, e in zip(jr, jc, je)}
    S = [[sympy.Symbol(f"_sens_{i}_{j}", real=True) for j in range(n)] for i in range(m)]
    D = {(k, i): sympy.Symbol(f"_dir_{k}_{i}", real=True) for k, i in pairs}
    ks = sorted({k for k, _ in pairs})
    fp = {(r, k): d for r, row in enumerate(parameter_jacobian(system, ks))
          for k, d in zip(ks, row) if d != 0}
    rhs = list(system.rhs)
    for i in range(m):
        rows_i = [[] for _ in range(n)]
        for (r, a), e in J.items():
            rows_i[r].append(e * S[i][a])
        for (k, d), sym in D.items():
            if d == i:
                for r in range(n):
                    if (r, k) in fp:
                        rows_i[r].append(fp[r, k] * sym)
        rhs.extend(sympy.Add(*terms) for terms in rows_i)

    @functools.cache
    def jacobian():
        # differentiated only when code is generated (cached machine code skips it)
        HJ = _second_derivatives(J, system.y, True)      # d J[r, a] / d y_c
        HP = _second_derivatives(fp, system.y)           # d (df_r/dp_k) / d y_c
        rows, cols, exprs = list(jr), list(jc), list(je)
        for i in range(m):
            off = n * (i + 1)
            block: dict = {}
            for (r, a, c), d in HJ.items():
                block.setdefault((r, c), []).append(d * S[i][a])
            for (r, k, c), d in HP.items():
                if (k, i) in D:
                    block.setdefault((r, c), []).append(d * D[k, i])
            for (r, c), terms in sorted(block.items()):
                rows.append(off + r)
                cols.append(c)
                exprs.append(sympy.Add(*terms))
            rows.extend(off + r for r in jr)
            cols.extend(off + c for c in jc)
            exprs.extend(je)
        return tuple(rows), tuple(cols), tuple(exprs)

    key = hashlib.sha256(f"{system.model_hash} sensitivities {m} {pairs}".encode()).hexdigest()
    aug = OdeSystem(
        model_id=system.model_id, model_hash=key, t=system.t,
        state_ids=system.state_ids + tuple(f"d{system.state_ids[j]}/d{i}" for i in range(m)
                                           for j in range(n)),
        y=system.y + tuple(s for row in S for s in row),
        param_ids=system.param_ids + tuple(f"D[{system.param_ids[k]}, {i}]" for k, i in pairs),
        p=system.p + tuple(D[ki] for ki in pairs),
        p_default=np.concatenate([system.p_default, np.zeros(len(pairs))]),
        y_default=np.concatenate([system.y_default, np.zeros(n * m)]),
        rhs=tuple(rhs), outputs={}, species_amount=dict(system.species_amount),
        species_compartment=dict(system.species_compartment),
        events=tuple(_jump(system, ev, S, D, m) for ev in system.events), init=None,
        jacobian=jacobian, lu_blocks=m if n else 0)
    return Augmented(aug, pairs, n, m)
