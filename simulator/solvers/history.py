"""The past of one run, for the csymbol ``delay``: ``delay(x, tau)`` at ``t`` is ``x`` at ``t - tau``.

A :class:`History` records the trajectory as the run goes: every accepted solver step with
its dense output (a piece ``[t_a, t_b]``) and every state the driver sets (a point: the
start, and the values after events). A value at time ``s`` is read from the last piece that
starts at or before ``s``, so at an event time the values after the event count. Within the
step in progress (``s`` beyond the recorded end) the last step's polynomial is extrapolated
for at most one step length, then held. Before the start time, every quantity takes the
value the model gives it there (``before_start(s) -> (y, p)``).

The driver (:func:`simulator.solvers.driver.run`) creates one per run and hands it to the
generated code through :attr:`simulator.codegen.numpy_fns.DelayedValues.history`; the
scipy backend records its steps into it.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Callable

import numpy as np

from simulator.errors import IntegrationError

class History:
    """Recorded ``(y, p)`` over a run; see the module docstring.

    Parameters
    ----------
    delayed : DelayedValues
        The system's delay nodes (``x[k]``, ``x_before[k]`` functions of ``(s, y, p)``).
    t0 : float
        Start time of the run.
    n : int
        Number of states.
    before_start : callable ``s -> (y, p)``
        Values at a time ``s < t0``.
    """

    def __init__(self, delayed, t0: float, n: int, before_start: Callable):
        self.delayed = delayed
        self.t0 = float(t0)
        self.n = n
        self.before_start = before_start
        self._starts: list[float] = []
        self._pieces: list[list] = []          # [t_a, t_b, dense or None, y_b, p]

    # recording ------------------------------------------------------------------------

    def point(self, t: float, y, p) -> None:
        """The state is ``(y, p)`` from ``t`` on (start of a segment, after events)."""
        y = np.array(y[: self.n], dtype=float)
        self._append([float(t), float(t), None, y, np.array(p, dtype=float)])

    def step(self, t_a: float, t_b: float, dense, y_b, p) -> None:
        """An accepted solver step over ``[t_a, t_b]`` with dense output ``dense(s)``."""
        self._append([float(t_a), float(t_b), dense, np.array(y_b[: self.n], dtype=float),
                      np.asarray(p, dtype=float)])

    def cut(self, t: float) -> None:
        """The last step ends at ``t`` (a trigger stopped the segment inside it)."""
        last = self._pieces[-1]
        if last[2] is not None and last[0] <= t < last[1]:
            last[1] = float(t)
            last[3] = np.array(last[2](t)[: self.n], dtype=float)

    def _append(self, piece) -> None:
        self._starts.append(piece[0])
        self._pieces.append(piece)

    # reading --------------------------------------------------------------------------

    def state(self, s: float):
        """``(y, p)`` at time ``s >= t0``."""
        i = bisect_right(self._starts, s) - 1
        if i < 0:
            return self.before_start(s)
        t_a, t_b, dense, y_b, p = self._pieces[i]
        if dense is None:
            return y_b, p
        if s <= t_b + (t_b - t_a):
            return dense(s)[: self.n], p
        return y_b, p

    def value(self, k: int, t: float, tau: float) -> float:
        """Delay node ``k`` (its expression ``x``) at ``t - tau``."""
        if not tau >= 0:
            raise IntegrationError(f"a delay evaluated to {tau} at t = {t}; delays must be >= 0",
                                   t_fail=t)
        s = t - tau
        if s < self.t0:
            y, p = self.before_start(s)
            return float(self.delayed.x_before[k](s, y, p))
        y, p = self.state(s)
        return float(self.delayed.x[k](s, y, p))
