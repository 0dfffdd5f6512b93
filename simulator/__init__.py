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
from simulator.lazy import lazy_names
from simulator.version import __version__

# Public names and the module each comes from, imported on first use (simulator.lazy):
# ``import simulator`` stays fast (no pandas, matplotlib, pyPESTO or petab until a verb
# needs them), which the command line and every worker process pay for.
_MODULES = {
    "simulator.analysis.arms": ("ArmComparison", "compare_arms"),
    "simulator.analysis.combination": ("Combination", "combination"),
    "simulator.analysis.dose_response": ("DoseResponse", "dose_response"),
    "simulator.analysis.sensitivity": ("sensitivity",),
    "simulator.api": ("check_readouts", "load_model", "steady_state"),
    "simulator.bundled.atlas": ("run_atlas", "sections_named"),
    "simulator.bundled.tables": ("drugs", "phenotypes"),
    "simulator.catalog": ("Catalog",),
    "simulator.ensemble": ("Ensemble", "sweep"),
    # one run, or a parameter ensemble (a calibration's posterior) member by member
    "simulator.ensemble.members": ("simulate", "run_treatment"),
    "simulator.ensemble.executors": ("open_executor",),
    "simulator.errors": ("IntegrationError", "InvalidValueError", "ModelError",
                         "ModelImportError", "ModelWarning", "PerturbationError", "PetabError",
                         "SimulatorError", "StoreError", "TrialError", "UnknownIdError",
                         "UnsupportedFeatureError"),
    "simulator.estimation": ("CalibrationProblem", "CalibrationResult", "ProfileResult",
                             "SamplingResult", "calibrate", "check_predictable",
                             "example_problem", "goodness_of_fit", "load_petab", "profile",
                             "sample"),
    "simulator.io.limits": ("ImportLimits",),
    "simulator.results": ("SteadyState", "Trajectory"),
    "simulator.solvers.base": ("SolverOptions",),
    "simulator.treatments": ("PK", "Dose", "Schedule", "Treatment", "untreated_state"),
    "simulator.trials": ("LesionMapping", "Trial", "TrialResult", "virtual_trial"),
    "simulator.warmup": ("warm_up",),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}
_EXPORTS["plot"] = ("simulator.plot", None)
_EXPORTS["serve_lab"] = ("simulator.lab.server", "serve")
__getattr__, __dir__ = lazy_names("simulator", globals(), _EXPORTS)

__all__ = [
    "load_model", "simulate", "steady_state", "check_readouts",
    "Trajectory", "SteadyState", "SolverOptions", "Catalog", "ImportLimits",
    "SimulatorError", "ModelError", "ModelImportError", "UnsupportedFeatureError",
    "InvalidValueError", "UnknownIdError", "PerturbationError", "IntegrationError", "StoreError",
    "ModelWarning", "PetabError", "drugs", "phenotypes", "load_petab", "CalibrationProblem",
    "calibrate", "profile", "sample", "CalibrationResult", "ProfileResult", "SamplingResult",
    "example_problem", "goodness_of_fit", "check_predictable",
    "Treatment", "Schedule", "Dose", "PK", "run_treatment", "untreated_state",
    "dose_response", "DoseResponse", "combination", "Combination", "compare_arms",
    "ArmComparison", "sweep", "Ensemble", "sensitivity", "plot", "__version__",
    "Trial", "TrialResult", "virtual_trial", "TrialError", "LesionMapping",
]
