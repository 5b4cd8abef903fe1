"""relu: A = max(Z, 0), element-wise. Output A{k}.
    dZ = dA * local, local = 1 where Z > 0, else 0 (0 at Z = 0 too, as PyTorch)
"""

from __future__ import annotations

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """A = max(Z, 0). Cache: Z, whose sign decides which cells pass gradient."""
    return np.maximum(x, 0.0), {"x": x}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    return dout * (cache["x"] > 0), ()  # not heaviside: its loop branches per value (see the README)


class ReLU(LayerType):
    name = "relu"
    label = "ReLU"
    order = 50
    prefix = "A"
    marks = ("gate",)
    formula = "{out} = ReLU({in})"
    formula_text = "A = max(Z, 0)"
    description = ("Passes positive values and zeroes the rest. Its slope is 1 where Z > 0 and 0 elsewhere, "
                   "so gradient flows back only through the cells that were positive.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def local(self, z: Array, a: Array, layer: Layer) -> Array:
        return (z > 0).astype(np.float64)


LAYER = ReLU()
