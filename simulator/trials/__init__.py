"""Virtual clinical trials: cohorts of virtual patients at clinical doses (docs/trials.md).

``schema``      :class:`Trial` read from TOML (population, arms, published results)
``recist``      RECIST 1.1 on lesion diameters: progression, best response (pure functions)
``survival``    Kaplan-Meier, Cox hazard ratio and log-rank through lifelines
``kinetics``    from the cell model's proliferation and apoptosis to a patient's lesion
                (:class:`LesionMapping`)
``population``  cell states, between-tumour draws, virtual patients
``result``      :class:`TrialResult`
``engine``      :func:`virtual_trial`
"""
from simulator.trials.engine import virtual_trial
from simulator.trials.kinetics import LesionMapping
from simulator.trials.result import TrialResult
from simulator.trials.schema import Trial

__all__ = ["LesionMapping", "Trial", "TrialResult", "virtual_trial"]
