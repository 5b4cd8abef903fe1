"""leaky_relu: A = Z where Z > 0, else slope * Z, element-wise, as torch.nn.LeakyReLU.
Output A{k}; field negative_slope (0 <= slope < 1, default 0.01).
    dZ = dA * local, local = 1 where Z > 0, else slope (the slope at Z = 0 too, as PyTorch)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Built, Cache, Field, Grads, Layer, LayerType, Shape


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

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        return Built(out_shape=shape)

    def local(self, z: Array, a: Array, layer: Layer) -> Array:
        return np.where(z > 0, 1.0, layer.negative_slope)


LAYER = LeakyReLU()
