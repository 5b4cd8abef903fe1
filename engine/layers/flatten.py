"""flatten: (C, H, W) -> (C*H*W,) in C order, as torch.flatten(x, 1). Output F (one per network).
    F[c*H*W + i*W + j] = P[c, i, j]        dP[c, i, j] = dF[c*H*W + i*W + j]
"""

from __future__ import annotations

from typing import Any

from engine.layers._base import Array, Built, Cache, Grads, Layer, LayerType, Shape, prod


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


LAYER = Flatten()
