"""Parameter estimation: PEtab problems as objectives (:func:`load_petab`), multistart
calibration and profile likelihoods through pyPESTO (:func:`calibrate`, :func:`profile`),
and posterior sampling through pyPESTO (:func:`sample`)."""
from simulator.lazy import lazy_names

__all__ = ["load_petab", "CalibrationProblem", "PETAB_OPTIONS", "example_problem", "calibrate",
           "profile", "sample", "CalibrationResult", "ProfileResult", "SamplingResult",
           "goodness_of_fit", "check_predictable"]

# loaded on first use (simulator.lazy): importing simulator.estimation.options must not
# load pyPESTO
__getattr__, __dir__ = lazy_names("simulator.estimation", globals(), {
    "CalibrationResult": "simulator.estimation.calibration",
    "ProfileResult": "simulator.estimation.calibration",
    "calibrate": "simulator.estimation.calibration",
    "check_predictable": "simulator.estimation.calibration",
    "goodness_of_fit": "simulator.estimation.goodness",
    "profile": "simulator.estimation.calibration",
    "PETAB_OPTIONS": "simulator.estimation.problem",
    "CalibrationProblem": "simulator.estimation.problem",
    "example_problem": "simulator.estimation.problem",
    "load_petab": "simulator.estimation.problem",
    "SamplingResult": "simulator.estimation.sampling",
    "sample": "simulator.estimation.sampling",
})
