"""Crosstalk: a mechanistic simulator of ER / RTK / PI3K-Akt-mTOR crosstalk.

Public verbs (see README.md and docs/)::

    import simulator as sim
    model = sim.load_model()                      # the bundled ER crosstalk model
    traj = sim.simulate(model, t, drugs={"tamoxifen": 100.0}, phenotype=["HER2_amplified"])
    ss = sim.steady_state(model)
    traj = sim.run_treatment(model, {"tamoxifen": 100.0}, t)   # untreated steady state first
    dr = sim.dose_response(model, "everolimus", doses, readout="pS6", at_time=24.0)
    combo = sim.combination(model, ("letrozole", a), ("everolimus", b), readout="growth_rate")
    ens = sim.sweep(model, t, params={"k1": values})
    problem = sim.load_petab("problem.yaml"); problem.nllh(x)   # PEtab calibration problems
    fit = sim.calibrate(problem); sim.profile(fit); sim.sample(fit)  # through pyPESTO
    sim.drugs(), sim.phenotypes()
    res = sim.virtual_trial(model, sim.Trial.from_toml("bolero2.toml"), patients=500)  # trials

The package's layers and what each module may import are drawn in docs/design.md.
"""
from simulator import plot
from simulator.analysis.arms import ArmComparison, compare_arms
from simulator.analysis.combination import Combination, combination
from simulator.analysis.dose_response import DoseResponse, dose_response
from simulator.analysis.sensitivity import sensitivity
from simulator.api import check_readouts, load_model, simulate, steady_state
from simulator.bundled.tables import drugs, phenotypes
from simulator.catalog import Catalog
from simulator.ensemble import Ensemble, sweep
from simulator.errors import (
    IntegrationError, InvalidValueError, ModelError, ModelImportError, ModelWarning,
    PerturbationError, PetabError, SimulatorError, StoreError, TrialError, UnknownIdError,
    UnsupportedFeatureError,
)
from simulator.estimation import (CalibrationProblem, CalibrationResult, ProfileResult,
                                  SamplingResult, calibrate, example_problem, load_petab,
                                  profile, sample)
from simulator.io.limits import ImportLimits
from simulator.results import SteadyState, Trajectory
from simulator.solvers.base import SolverOptions
from simulator.treatments import PK, Dose, Schedule, Treatment, run_treatment, untreated_state
from simulator.trials import Trial, TrialResult, virtual_trial
from simulator.version import __version__

__all__ = [
    "load_model", "simulate", "steady_state", "check_readouts",
    "Trajectory", "SteadyState", "SolverOptions", "Catalog", "ImportLimits",
    "SimulatorError", "ModelError", "ModelImportError", "UnsupportedFeatureError",
    "InvalidValueError", "UnknownIdError", "PerturbationError", "IntegrationError", "StoreError",
    "ModelWarning", "PetabError", "drugs", "phenotypes", "load_petab", "CalibrationProblem",
    "calibrate", "profile", "sample", "CalibrationResult", "ProfileResult", "SamplingResult",
    "example_problem",
    "Treatment", "Schedule", "Dose", "PK", "run_treatment", "untreated_state",
    "dose_response", "DoseResponse", "combination", "Combination", "compare_arms",
    "ArmComparison", "sweep", "Ensemble", "sensitivity", "plot", "__version__",
    "Trial", "TrialResult", "virtual_trial", "TrialError",
]
