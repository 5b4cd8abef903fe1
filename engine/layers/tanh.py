"""tanh: A = tanh(Z), element-wise, as torch.tanh. Output A{k}.
    dZ = dA * local, local = 1 - A^2
"""

from __future__ import annotations

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    a = np.tanh(x)
    return a, {"a": a}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    a = cache["a"]
    return dout * (1.0 - a * a), ()


class Tanh(LayerType):
    name = "tanh"
    label = "Tanh"
    order = 70
    prefix = "A"
    formula = "{out} = tanh({in})"
    formula_text = "A = tanh(Z)"
    description = ("Squashes any number into (-1, 1), centred on 0. Its slope is 1 - A^2: 1 at Z = 0, "
                   "vanishing where the output saturates near -1 or 1.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def local(self, z: Array, a: Array, layer: Layer) -> Array:
        return 1.0 - a * a


LAYER = Tanh()
