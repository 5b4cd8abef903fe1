"""Session-wide test settings, loaded before any test module (and so before NumPy).

One BLAS thread per process, as the server runs (app/__init__.py): the engine's matrix
products are small, and a multi-threaded OpenBLAS on a shared 2-core machine spent most of a
training test spinning (a digits run took 20-45 s instead of 2-4 s). The numbers are the
same either way; an explicit setting in the environment wins.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
