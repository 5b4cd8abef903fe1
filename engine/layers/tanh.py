"""tanh: A = tanh(Z), element-wise, as torch.tanh. Output A{k}.
    dZ = dA * local, local = 1 - A^2
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType
from engine.layers._explain import term


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


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        return ex.answer(layer.out, idx, f"{layer.out}[\\ldots] = \\tanh({below}[\\ldots])", "tanh",
                         [term(ex.f(below, idx))], "tanh squashes its input into (-1, 1).",
                         how_text="tanh of the term")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        return ex.gate_backward(layer, below, idx, "The chain rule through an element-wise layer: the upstream "
                                "gradient times tanh's slope 1 - A^2 at this cell.")

    def explain_local(self, ex: Any, layer: Layer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        a = ex.f(layer.out, idx)
        return ex.answer(array, idx, f"\\frac{{\\partial {layer.out}}}{{\\partial {ex.below(layer)}}} = "
                         f"1 - {layer.out}^2", "sum", [term(ex.const("1", 1.0)), term(ex.const("-1", -1.0), a, a)],
                         "tanh's slope, 1 - A^2: 1 at Z = 0, vanishing where the output saturates.")


LAYER = Tanh()
