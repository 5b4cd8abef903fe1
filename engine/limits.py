"""Size limits: what the engine agrees to compute. Chosen so that any accepted request
finishes well within a second on a 2-core machine; the API quotes them in its errors."""

MAX_CHANNELS = 3
MAX_INPUT_HW = 64  # input <= 64x64x3
MAX_PARAMS = 100_000
MAX_LAYERS = 24
MAX_FILTERS = 64
MAX_UNITS = 1024
MAX_STRIDE = 8
MAX_MACS = 20_000_000  # multiply-adds per example in the forward pass
MAX_ACTIVATION_VALUES = 1_000_000  # values in all arrays of one example's forward pass
MAX_BATCH_BYTES = 512 * 1024 * 1024  # memory one training batch (or evaluation chunk) may take
