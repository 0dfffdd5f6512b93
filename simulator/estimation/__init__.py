"""Parameter estimation: PEtab problems as objectives (:func:`load_petab`), multistart
calibration and profile likelihoods through pyPESTO (:func:`calibrate`, :func:`profile`),
and posterior sampling through pyPESTO (:func:`sample`)."""
from simulator.estimation.calibration import (CalibrationResult, ProfileResult, calibrate,
                                              profile)
from simulator.estimation.problem import (PETAB_OPTIONS, CalibrationProblem, example_problem,
                                         load_petab)
from simulator.estimation.sampling import SamplingResult, sample

__all__ = ["load_petab", "CalibrationProblem", "PETAB_OPTIONS", "example_problem", "calibrate",
           "profile", "sample", "CalibrationResult", "ProfileResult", "SamplingResult"]
