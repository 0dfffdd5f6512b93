"""Code generation from an :class:`~simulator.system.OdeSystem`.

``common``     our own symbol names for t, y, p; the free-symbol check
``numpy_fns``  numpy functions (scipy reference backend, post-processing)
``numba_fns``  scalar numba functions (compiled integrator)
"""
