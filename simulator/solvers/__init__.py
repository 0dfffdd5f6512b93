"""Integrators: the segment contract, the event driver, the scipy and compiled backends,
and steady states (Newton)."""
