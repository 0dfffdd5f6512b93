"""The choices of calibration and sampling, as plain data: the command line builds its
options from them without loading pyPESTO."""
from __future__ import annotations

__all__ = ["OPTIMIZERS", "SAMPLERS", "PROPOSALS", "MIN_GEWEKE_SAMPLES", "HEARTBEAT_SECONDS"]

#: fides with BFGS updates, fides starting from the Fisher information, scipy's least_squares
OPTIMIZERS = ("fides", "fides-fim", "least_squares")
#: pyPESTO's samplers that ``sample`` runs
SAMPLERS = ("adaptive_metropolis", "parallel_tempering")
PROPOSALS = ("hessian", "identity")
#: Geweke's test cuts the chain in 20 fragments; shorter chains need ``burn_in=``
MIN_GEWEKE_SAMPLES = 20
#: seconds between the progress lines of starts that run in the calling process
HEARTBEAT_SECONDS = 60.0
