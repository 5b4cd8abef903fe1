"""backprop-viz's web app: a FastAPI JSON API over the engine, and the page that uses it."""

import os

# One worker per core, each with single-threaded BLAS: the engine's GEMMs are small, and
# OpenBLAS threads contending with other workers (or a second training run) made digits
# training 10-20x slower under load here. Must run before NumPy is first imported; an
# explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
