"""relu: A = max(Z, 0), element-wise. Output A{k}.
    dZ = dA * local, local = 1 where Z > 0, else 0 (0 at Z = 0 too, as PyTorch)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType
from engine.layers._explain import TIE_RULE, term


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


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        z = ex.f(below, idx)
        terms = [term(z), term(ex.const("0", 0.0))]
        tied = [k for k, t in enumerate(terms) if t["value"] == max(z["value"], 0.0)]
        return ex.answer(layer.out, idx, f"{layer.out}[\\ldots] = \\max({below}[\\ldots],\\, 0)", "max", terms,
                         "ReLU keeps a positive value and replaces a negative one by 0.",
                         winner=tied[0], tied=tied, tie_rule=TIE_RULE)

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        z = ex.arrays[below][idx]
        verdict = "passes" if z > 0 else "stops"
        return ex.gate_backward(layer, below, idx, "ReLU passes the gradient where its input was positive "
                                f"({below} = {z:.4g} here, so it {verdict}).")

    def explain_local(self, ex: Any, layer: Layer, array: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        one = ex.arrays[below][idx] > 0
        return ex.answer(array, idx, f"\\frac{{\\partial {layer.out}}}{{\\partial {below}}} = "
                         f"\\begin{{cases}} 1 & {below} > 0 \\\\ 0 & \\text{{otherwise}} \\end{{cases}}", "sum",
                         [term(ex.const("1" if one else "0", 1.0 if one else 0.0))],
                         "The slope of max(Z, 0): 1 where Z > 0, 0 elsewhere (0 at Z = 0, as PyTorch).",
                         depends_on=ex.f(below, idx))


LAYER = ReLU()
