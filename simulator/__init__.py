"""Crosstalk: a mechanistic simulator of ER / RTK / PI3K-Akt-mTOR crosstalk.

Public verbs (see README.md and docs/)::

    import simulator as sim
    model = sim.load_model()                 # the bundled ER crosstalk model
    traj = sim.simulate(model, t, params=..., drugs=..., phenotype=...)
    ss = sim.steady_state(model)
"""
__version__ = "0.1.0"

from simulator.api import load_model, simulate, steady_state  # noqa: E402
from simulator.errors import (  # noqa: E402
    IntegrationError, InvalidValueError, ModelError, ModelImportError, PerturbationError,
    SimulatorError, UnknownIdError, UnsupportedFeatureError,
)
from simulator.results import SteadyState, Trajectory  # noqa: E402
from simulator.solvers.base import SolverOptions  # noqa: E402

__all__ = [
    "load_model", "simulate", "steady_state",
    "Trajectory", "SteadyState", "SolverOptions",
    "SimulatorError", "ModelError", "ModelImportError", "UnsupportedFeatureError",
    "InvalidValueError", "UnknownIdError", "PerturbationError", "IntegrationError",
]
