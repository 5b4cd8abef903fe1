"""leaky_relu: A = Z where Z > 0, else slope * Z, element-wise, as torch.nn.LeakyReLU.
Output A{k}; field negative_slope (0 <= slope < 1, default 0.01).
    dZ = dA * local, local = 1 where Z > 0, else slope (the slope at Z = 0 too, as PyTorch)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Cache, Field, Grads, Layer, LayerType
from engine.layers._explain import term


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    local = np.where(x > 0, 1.0, layer.negative_slope)
    return x * local, {"local": local}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    return dout * cache["local"], ()


class LeakyReLU(LayerType):
    name = "leaky_relu"
    label = "Leaky ReLU"
    order = 55
    prefix = "A"
    fields = (Field("negative_slope", "number", 0.0, 1.0, default=0.01, editor_default=0.01, label="slope",
                    exclusive_max=True),)
    marks = ("gate",)
    formula = "{out} = LeakyReLU({in})"
    formula_text = "A = Z where Z > 0, else slope x Z"
    description = ("Like ReLU, but negative values keep a small slope instead of becoming 0. Gradient flows "
                   "back through every cell: in full where Z > 0, scaled by the slope elsewhere.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def local(self, z: Array, a: Array, layer: Layer) -> Array:
        return np.where(z > 0, 1.0, layer.negative_slope)


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        positive = ex.arrays[below][idx] > 0
        scale = ex.const("1", 1.0) if positive else ex.const("slope", layer.negative_slope)
        return ex.answer(layer.out, idx, f"{layer.out}[\\ldots] = \\begin{{cases}} {below}[\\ldots] & {below} > 0 "
                         f"\\\\ \\alpha\\, {below}[\\ldots] & \\text{{otherwise}} \\end{{cases}},\\ "
                         f"\\alpha = {layer.negative_slope:g}", "sum", [term(ex.f(below, idx), scale)],
                         "Leaky ReLU keeps a positive value and scales a negative one by the slope.")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        return ex.gate_backward(layer, below, idx, "Leaky ReLU passes the whole gradient where its input was "
                                "positive and the slope's share of it elsewhere.")

    def explain_local(self, ex: Any, layer: Layer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        positive = ex.arrays[below][idx] > 0
        scale = ex.const("1", 1.0) if positive else ex.const("slope", layer.negative_slope)
        return ex.answer(array, idx, f"\\frac{{\\partial {layer.out}}}{{\\partial {below}}} = \\begin{{cases}} 1 & "
                         f"{below} > 0 \\\\ \\alpha & \\text{{otherwise}} \\end{{cases}}", "sum", [term(scale)],
                         "The slope of leaky ReLU: 1 where Z > 0, the negative slope elsewhere (also at Z = 0, "
                         "as PyTorch).", depends_on=ex.f(below, idx))


LAYER = LeakyReLU()
