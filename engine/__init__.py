"""backprop-viz's NumPy engine: layers, networks, losses and the gradient checker (float64)."""

from engine.errors import SpecError
from engine.network import (
    InputError,
    Record,
    Step,
    backward,
    check_input,
    check_labels,
    check_params,
    forward,
    init_params,
    sgd_update,
    train_step,
)
from engine.spec import DEFAULT_SPEC, Network, default_spec, read_spec

__all__ = [
    "DEFAULT_SPEC", "InputError", "Network", "Record", "SpecError", "Step", "backward", "check_input",
    "check_labels", "check_params", "default_spec", "forward", "init_params", "read_spec", "sgd_update",
    "train_step",
]
