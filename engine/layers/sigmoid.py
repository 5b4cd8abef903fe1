"""sigmoid: A = 1 / (1 + e^-Z), element-wise. Output A{k}; with the bce loss, the output layer.
    dZ = dA * local, local = A (1 - A)
"""

from __future__ import annotations

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z) as e^(-log(1 + e^-z)): logaddexp never overflows and e^(negative) only
    underflows, so no errstate is needed (entering one cost more than the rest of the layer);
    within 4e-15 relative of the direct form everywhere."""
    return np.exp(-np.logaddexp(0.0, -z))


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    a = sigmoid(x)
    return a, {"a": a}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    a = cache["a"]
    return dout * a * (1.0 - a), ()


class Sigmoid(LayerType):
    name = "sigmoid"
    label = "Sigmoid"
    order = 80
    prefix = "A"
    formula = "{out} = σ({in})"
    formula_text = "A = 1 / (1 + e^-Z)"
    description = ("Squashes any number into (0, 1), read as a probability. Its slope is A (1 - A): largest "
                   "at A = 0.5, vanishing as A nears 0 or 1.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def local(self, z: Array, a: Array, layer: Layer) -> Array:
        return a * (1.0 - a)


LAYER = Sigmoid()
