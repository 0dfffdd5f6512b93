"""Many runs of one model: sweeps, their chunks, stores and executors.

``sampling``   parameter designs (grid, Latin hypercube, Sobol', log-uniform)
``parameter_sets``  the shapes a sweep's parameter sets come in, as columns
``chunks``     one chunk of members solved in one process (the unit of work)
``executors``  where chunks run: this process, a process pool, a Dask cluster
``store``      checkpoints: one Parquet file per finished chunk
``result``     :class:`Ensemble`, the result of a sweep
``sweep``      the verb
``members``    ``sim.simulate`` and ``sim.run_treatment`` over a parameter ensemble
"""
from simulator.ensemble.result import Ensemble
from simulator.ensemble.sweep import sweep

__all__ = ["sweep", "Ensemble"]
