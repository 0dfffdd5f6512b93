"""Code generation from an :class:`~simulator.system.OdeSystem`.

``common``       our own symbol names for t, y, p; the free-symbol check
``derivatives``  Jacobian entries with derivatives that stay finite
``numpy_fns``    numpy functions (scipy reference backend, post-processing)
``abi``, ``llvm``, ``jit``, ``kernels``   native functions for the compiled integrator
"""
