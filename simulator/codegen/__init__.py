"""Code generation from an :class:`~simulator.system.OdeSystem`.

``common``       our own symbol names for t, y, p; the free-symbol check
``numpy_fns``    numpy functions (scipy reference backend, post-processing)
``derivatives``  symbolic derivatives for the Jacobians (finite where the function is)
``abi``          how native model functions are called (signatures, function values)
``llvm``         sympy -> LLVM IR text (model functions, unrolled sparse LU)
``jit``          LLVM IR -> native functions, and their disk caches
``kernels``      numba loops that evaluate native functions on many rows
"""
