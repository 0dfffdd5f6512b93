"""Crosstalk: a mechanistic simulator of ER / RTK / PI3K-Akt-mTOR crosstalk.

Public verbs (see README.md and docs/)::

    import simulator as sim
    model = sim.load_model()                      # the bundled ER crosstalk model
    traj = sim.simulate(model, t, drugs={"tamoxifen": 100.0}, phenotype=["HER2_amplified"])
    ss = sim.steady_state(model)
    dr = sim.dose_response(model, "everolimus", doses, readout="pS6", at_time=24.0)
    combo = sim.combination(model, ("letrozole", a), ("everolimus", b), readout="growth_rate")
    ens = sim.sweep(model, t, params={"k1": values})
    sim.drugs(), sim.phenotypes()
"""
from importlib import import_module

__version__ = "0.1.0"

from simulator.api import load_model, simulate, steady_state  # noqa: E402
from simulator.errors import (  # noqa: E402
    IntegrationError, InvalidValueError, ModelError, ModelImportError, PerturbationError,
    SimulatorError, StoreError, UnknownIdError, UnsupportedFeatureError,
)
from simulator.results import SteadyState, Trajectory  # noqa: E402
from simulator.solvers.base import SolverOptions  # noqa: E402

# Verbs whose modules load heavier dependencies are imported on first use.
_LAZY = {
    "drugs": "simulator.catalog",
    "phenotypes": "simulator.catalog",
    "Treatment": "simulator.perturb",
    "Schedule": "simulator.perturb",
    "Dose": "simulator.perturb",
    "PK": "simulator.perturb",
    "run_treatment": "simulator.perturb",
    "dose_response": "simulator.analysis.dose_response",
    "DoseResponse": "simulator.analysis.dose_response",
    "combination": "simulator.analysis.combination",
    "Combination": "simulator.analysis.combination",
    "compare_arms": "simulator.analysis.arms",
    "ArmComparison": "simulator.analysis.arms",
    "sweep": "simulator.analysis.sweep",
    "Ensemble": "simulator.analysis.sweep",
    "sensitivity": "simulator.analysis.sensitivity",
    "plot": "simulator.plot",
}

__all__ = [
    "load_model", "simulate", "steady_state",
    "Trajectory", "SteadyState", "SolverOptions",
    "SimulatorError", "ModelError", "ModelImportError", "UnsupportedFeatureError",
    "InvalidValueError", "UnknownIdError", "PerturbationError", "IntegrationError", "StoreError",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if name == "plot" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simulator' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(__all__))
