"""Parameter estimation: PEtab problems as objectives (:func:`load_petab`)."""
from simulator.estimation.problem import PETAB_OPTIONS, CalibrationProblem, load_petab

__all__ = ["load_petab", "CalibrationProblem", "PETAB_OPTIONS"]
