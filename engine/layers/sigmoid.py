"""sigmoid: A = 1 / (1 + e^-Z), element-wise. Output A{k}; with the bce loss, the output layer.
    dZ = dA * local, local = A (1 - A)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType
from engine.layers._explain import term


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


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        return ex.answer(layer.out, idx, f"{layer.out}[\\ldots] = \\sigma({below}[\\ldots]) = "
                         f"\\frac{{1}}{{1 + e^{{-{below}[\\ldots]}}}}", "sigmoid", [term(ex.f(below, idx))],
                         "The sigmoid squashes its input into (0, 1).", how_text="σ(t) = 1 / (1 + e^-t) of the term")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        return ex.gate_backward(layer, below, idx, "The chain rule through an element-wise layer: the upstream "
                                "gradient times the sigmoid's slope A (1 - A) at this cell.")

    def explain_local(self, ex: Any, layer: Layer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        a = ex.f(layer.out, idx)
        return ex.answer(array, idx, f"\\frac{{\\partial {layer.out}}}{{\\partial {ex.below(layer)}}} = "
                         f"{layer.out} (1 - {layer.out})", "sum", [term(a), term(ex.const("-1", -1.0), a, a)],
                         "The sigmoid's slope, A (1 - A) = A - A^2: largest at A = 0.5.")


LAYER = Sigmoid()
