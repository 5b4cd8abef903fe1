"""flatten: (C, H, W) -> (C*H*W,) in C order, as torch.flatten(x, 1). Output F (one per network).
    F[c*H*W + i*W + j] = P[c, i, j]        dP[c, i, j] = dF[c*H*W + i*W + j]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Built, Cache, Grads, Layer, LayerType, Shape, prod
from engine.layers._explain import term


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    return x.reshape(x.shape[0], -1), {"x_shape": x.shape}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    return dout.reshape(cache["x_shape"]), ()


class Flatten(LayerType):
    name = "flatten"
    label = "Flatten"
    order = 30
    prefix = "F"
    input_hint = "flatten twice"
    input_rank = 3
    formula = "{out} = Flatten({in})"
    formula_text = "F[c H W + i W + j] = P[c, i, j]"
    description = ("Lays the maps out as one vector, channel by channel, row by row. Nothing is computed, so "
                   "each gradient goes back to the cell it came from.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def out_name(self, k: int) -> str:
        return "F"

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        return Built(out_shape=(prod(shape),))


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        src = tuple(int(v) for v in np.unravel_index(idx[0], layer.in_shape))
        return ex.answer(layer.out, idx, f"{layer.out}[c H W + i W + j] = {below}[c, i, j]", "sum",
                         [term(ex.f(below, src))], "Flatten only moves values: each entry is one cell of the maps.")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        k = int(np.ravel_multi_index(idx, layer.in_shape))
        return ex.answer("d" + below, idx, f"d{below}[c, i, j] = d{layer.out}[c H W + i W + j]", "sum",
                         [term(ex.f("d" + layer.out, (k,)))],
                         "Flatten moved each value, so each gradient goes back to the cell it came from.")


LAYER = Flatten()
