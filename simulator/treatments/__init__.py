"""Treatments and the experiment protocol.

``schedule``  what a treatment is: :class:`Schedule`, :class:`Dose`, :class:`PK`,
              :class:`Treatment` (value objects, checked on construction)
``derive``    derived models: the dosing events and PK that schedules need
``protocol``  the one experiment protocol: untreated steady state, reset, treat from t = 0
"""
from simulator.treatments.protocol import run_treatment, untreated_state
from simulator.treatments.schedule import PK, Dose, Schedule, Treatment

__all__ = ["Schedule", "Dose", "PK", "Treatment", "run_treatment", "untreated_state"]
