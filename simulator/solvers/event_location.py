"""Locating the first trigger change inside an accepted step, on the dense output.

After each accepted step ``(t, t + h)`` the compiled stepper (:mod:`simulator.solvers.compiled`)
asks :func:`first_change` whether any event trigger changed in it, and when. The triggers are
checked at every eighth of the step and just past each root of a *switch* (``lhs - rhs`` of a
relation inside a trigger) whose sign differs between the step's ends, located by the
Illinois method; the points are taken in time order, so a trigger true only between two
roots inside one step (SBML case 01511) is found, and the first change is refined by
bisection. All points are evaluated on the continuous extension
(:func:`simulator.solvers.rodas5p.dense`).

A switch of an ``==`` or ``!=`` relation (``eqsw``) that crosses zero continuously is a
stop of its own: the relation holds (or fails) only at that instant, so the triggers
sampled on either side never show it; the step stops just past the root and the root
times are left in row 4 of the switch work array, for the event driver to evaluate the
triggers there as at equality.

The stepper's disk cache covers this module too (:mod:`simulator.codegen.numba_cache`).
"""
from __future__ import annotations

import math

from simulator.codegen.abi import data_pointer
from simulator.codegen.numba_cache import njit
from simulator.solvers.rodas5p import dense

N_SW = 5               # rows of the switch work array: values at step start, end, probe;
                       # roots; the root times of the ``==`` / ``!=`` switches (else -1)
_EVENT_SAMPLES = 8     # trigger checks per accepted step (every eighth of it)
_ROOT_ITERS = 100      # budget of a switch root search (Illinois, ~10 evaluations in practice)

_JIT = dict(error_model="numpy", nogil=True)   # cached: see codegen/numba_cache


@njit(**_JIT, inline="always")
def differs(a, b):
    """Whether two trigger vectors differ anywhere."""
    for e in range(a.shape[0]):
        if a[e] != b[e]:
            return True
    return False


@njit(**_JIT, inline="always")
def sgn(x):
    """The sign of ``x``: 1, -1 or 0."""
    return 1 if x > 0.0 else (-1 if x < 0.0 else 0)


@njit(**_JIT)
def switch_root(switches, k, t, h, ta, tb, fa, fb, yold, y, q1, q2, q3, p, yd, swm):
    """The first time in ``(ta, tb]`` (to ~1e-13 relative) at which switch ``k`` has the sign
    it has at ``tb`` (value ``fb``; ``fa`` at ``ta`` has another sign), on the dense output of
    the step ``(t, t + h)``: just past its root, where the relation has really flipped (a
    switch exactly 0 at the end counts as flipped once it leaves ``fa``'s sign).

    Illinois (regula falsi that halves a retained end's value), with a bisection step
    whenever the bracket shrinks too slowly; landing exactly on the root, it steps just past
    it once.

    Returns
    -------
    tb : float
        The time found.
    jump : bool
        Whether the switch changes sign by a jump there: the values at the final bracket's
        ends (not shrunk towards 0) are together at least half of those at the start, so
        the relation is never exactly at equality.
    """
    sa = sgn(fa)
    sb = sgn(fb)
    scale = abs(fa) + abs(fb)
    va = fa                              # the values at the bracket's ends, never halved
    vb = fb
    tol = 1e-13 * max(1.0, abs(tb))
    side = 0
    slow = 0
    nudge = True
    for _ in range(_ROOT_ITERS):
        width = tb - ta
        if width <= tol:
            break
        mid = 0.5 * (ta + tb)
        if fa == 0.0 and nudge:          # at the root: try just past it
            tm = ta + 0.5 * tol
            nudge = False
        elif slow >= 2 or not (fa * fb < 0.0):
            tm = mid
            slow = 0
        else:
            tm = tb - fb * (width / (fb - fa))
            if not (ta < tm < tb):
                tm = mid
        if tm <= ta or tm >= tb:
            tm = mid
            if tm <= ta or tm >= tb:
                break
        dense((tm - t) / h, yold, y, q1, q2, q3, yd)
        switches(tm, data_pointer(yd), data_pointer(p), data_pointer(swm))
        fm = swm[k]
        sm = sgn(fm)
        if (sm == sb) if sb != 0 else (sm != sa):
            tb = tm
            fb = fm
            vb = fm
            if side == 1:
                fa *= 0.5
            side = 1
        else:
            ta = tm
            fa = fm
            va = fm
            if side == -1:
                fb *= 0.5
            side = -1
        if tb - ta > 0.5 * width:
            slow += 1
        else:
            slow = 0
    return tb, abs(va) + abs(vb) > 0.5 * scale


@njit(**_JIT, inline="always")
def first_change(trig, switches, n_sw, t, h, t_new, yold, y, q1, q2, q3, p, yd, tcur, tnow,
                 sw, eqsw):
    """The first change of the triggers in the accepted step ``(t, t_new]``, or the first
    continuous crossing of an ``==`` / ``!=`` switch if that comes first.

    Parameters
    ----------
    trig, switches : the model's native ``triggers`` and ``switches``
    n_sw : number of switches (0: sample the triggers only)
    t, h, t_new : the step (``t_new`` is ``t + h``, or the end of the segment)
    yold, y, q1, q2, q3 : the states at ``t`` and ``t_new`` and the dense-output coefficients
    p : parameters; yd : work array (n,)
    tcur (n_ev,) uint8 : the triggers before the step; tnow (n_ev,) uint8 : work array
    sw (N_SW, n_sw) : switches at ``t`` (row 0, given); on return row 1 holds them at
        ``t_new``, row 4 the root time of each ``==`` / ``!=`` switch that crosses zero
        continuously in the step (-1 for the others); rows 2 and 3 are work arrays
    eqsw (n_sw,) uint8 : 1 for the switches of ``==`` / ``!=`` relations

    Returns
    -------
    found : bool
    thi : float
        When found, the first time (to 1e-10 relative) at which the triggers differ from
        ``tcur``, or the first root of an ``==`` / ``!=`` switch (to 1e-13 relative, just
        past it) if that is earlier.
    """
    swa, swb, swm, cand, roots = sw[0], sw[1], sw[2], sw[3], sw[4]
    n_c = 0
    teq = math.inf                       # the first root of an == / != switch
    if n_sw > 0:
        switches(t_new, data_pointer(y), data_pointer(p), data_pointer(swb))
        for k in range(n_sw):
            roots[k] = -1.0
            if sgn(swa[k]) != sgn(swb[k]):
                tc, jump = switch_root(switches, k, t, h, t, t_new, swa[k], swb[k], yold, y,
                                       q1, q2, q3, p, yd, swm)
                if eqsw[k] and swa[k] != 0.0 and not jump:   # equality only at the root
                    roots[k] = tc
                    teq = min(teq, tc)
                j = n_c
                while j > 0 and cand[j - 1] > tc:
                    cand[j] = cand[j - 1]
                    j -= 1
                cand[j] = tc
                n_c += 1
    tlo = t
    thi = -1.0
    found = False
    js = 1
    ic = 0
    while js <= _EVENT_SAMPLES or ic < n_c:
        if js < _EVENT_SAMPLES:
            ts = t + (js / _EVENT_SAMPLES) * h
        else:
            ts = t_new
        if ic < n_c and (js > _EVENT_SAMPLES or cand[ic] <= ts):
            tp = cand[ic]
            ic += 1
        else:
            tp = ts
            js += 1
        if tp <= tlo:
            continue
        if tp >= t_new:
            tp = t_new
            trig(t_new, data_pointer(y), data_pointer(p), data_pointer(tnow))
        else:
            dense((tp - t) / h, yold, y, q1, q2, q3, yd)
            trig(tp, data_pointer(yd), data_pointer(p), data_pointer(tnow))
        if differs(tnow, tcur):
            thi = tp
            found = True
            break
        if tp >= teq:                    # the instant of an == / != relation
            return True, teq
        tlo = tp
    if found:
        tol = 1e-10 * max(1.0, abs(thi))
        while thi - tlo > tol:
            tm = 0.5 * (tlo + thi)
            if tm <= tlo or tm >= thi:
                break
            dense((tm - t) / h, yold, y, q1, q2, q3, yd)
            trig(tm, data_pointer(yd), data_pointer(p), data_pointer(tnow))
            if differs(tnow, tcur):
                thi = tm
            else:
                tlo = tm
    return found, thi
