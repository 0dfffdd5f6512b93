"""The contract every backend fulfils: integrate one *segment* between events.

The event driver (:mod:`simulator.solvers.driver`) owns SBML event semantics (triggers,
delays, priorities, persistence); a backend only integrates ``dy/dt = rhs(t, y, p)`` from
``t0`` until ``t_end`` or until one of the event triggers changes its boolean value,
whichever comes first. Contract of :meth:`Segmenter.integrate`:

1. Start at ``(t0, y0)`` with parameters ``p`` (constant over the segment).
2. Fill ``y_out[k]`` for every output time ``t_out[k]`` with ``t_out[k] < t_stop``, and
   also ``t_out[k] == t_stop`` when the segment reached ``t_end`` (status ``"end"``).
3. Watch the trigger vector ``triggers(t, y, p) -> bool[n_events]``. ``trig0`` is its value
   at the start. At the first time any entry differs from ``trig0``, locate that time by
   bisection on the dense output to within ``1e-10 * max(1, |t|)`` and stop at the right
   end of the bracket, so that the triggers evaluated at ``(t_stop, y_stop)`` show the change.
   Status is then ``"root"``.
   A switch of an ``==`` or ``!=`` relation (``fns.switches`` / the native ``switches``,
   indices in ``equality_switches``) that crosses zero continuously, starting from a
   non-zero value, ends the segment too, just past its root (to ``1e-12`` relative): the
   relation holds only at that instant, which the triggers on either side never show.
   Status ``"root"``, and ``Segment.equal`` lists those switches.
4. On failure (step size underflow, non-finite state, too many steps) return status
   ``"fail"`` with a message; never NaN-filled rows presented as results.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.errors import InvalidValueError

@dataclass(frozen=True)
class SolverOptions:
    """Integrator settings, checked on construction.

    Parameters
    ----------
    method : ``"auto"``/``"rodas5p"`` (compiled Rosenbrock), ``"LSODA"``, ``"BDF"``, ``"Radau"`` (scipy)
    rtol, atol : relative and absolute tolerances
    max_steps : step budget per segment
    first_step, max_step : optional step size bounds (model time units)
    """

    method: str = "auto"
    rtol: float = 1e-6
    atol: float = 1e-12
    max_steps: int = 500_000
    first_step: float | None = None
    max_step: float | None = None

    def __post_init__(self):
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InvalidValueError(f"SolverOptions.{name} must be a positive finite number, got {v!r}")
        if self.max_steps <= 0:
            raise InvalidValueError(f"SolverOptions.max_steps must be positive, got {self.max_steps!r}")
        for name in ("first_step", "max_step"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise InvalidValueError(f"SolverOptions.{name} must be positive, got {v!r}")


@dataclass
class Segment:
    """What one call to :meth:`Segmenter.integrate` returns."""

    status: str                 # "end" | "root" | "fail"
    t_stop: float
    y_stop: np.ndarray          # (n_states,)
    n_out: int                  # rows of y_out filled (a prefix of t_out)
    y_out: np.ndarray           # (n_out, n_states)
    message: str = ""
    stats: dict = field(default_factory=dict)   # nfev, njev, nsteps, nrejected, nlu
    equal: tuple = ()           # switches of == / != relations whose root is at t_stop


class Segmenter:
    """A backend prepared for one OdeSystem. Subclasses implement :meth:`integrate`."""

    name = "abstract"

    def integrate(self, t0: float, y0: np.ndarray, p: np.ndarray, t_out: np.ndarray,
                  t_end: float, trig0: np.ndarray) -> Segment:
        raise NotImplementedError

    def begin_run(self) -> None:
        """Called by the driver before a run's first segment: forget anything an earlier
        run left (e.g. a step size), so that a run never depends on the one before."""

    def outputs(self, t: np.ndarray, Y: np.ndarray, P: np.ndarray):
        """Every output of the system on rows ``(t[k], Y[k], P[k])`` in the backend's own
        compiled form: ``(values (n_t, n_outputs), nonfinite (n_outputs,) bool)``, or None
        when the backend has none (then the numpy functions evaluate them)."""
        return None
