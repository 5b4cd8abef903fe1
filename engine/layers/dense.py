"""dense: a fully connected layer, Z = x W^T + b, as torch.nn.Linear. Output Z{k}; parameters
W{k} (units, D), b{k} (units,).

Readable form of the rule:
    Z[u] = b[u] + sum_d W[u, d] x[d]
    dW[u, d] = dZ[u] x[d]        db[u] = dZ[u]        dx[d] = sum_u W[u, d] dZ[u]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Built, Cache, Field, Grads, Layer, LayerType, Shape
from engine.limits import MAX_UNITS


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, D), W (U, D), b (U,) -> Z = x W^T + b (N, U). Cache: x, W."""
    weight = params[layer.params[0]]
    z = np.dot(x, weight.T)
    z += params[layer.params[1]]
    return z, {"x": x, "W": weight}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array | None, Grads]:
    """dZ (N, U) -> dx = dZ W (N, D), dW = dZ^T x (U, D), db = sum over the batch (U,)."""
    grads = (np.dot(dout.T, cache["x"]), np.add.reduce(dout, 0))
    return (np.dot(dout, cache["W"]) if need_dx else None), grads


class Dense(LayerType):
    name = "dense"
    label = "Dense"
    order = 40
    prefix = "Z"
    opens_block = True
    input_hint = "add a flatten layer before it"
    input_rank = 1
    fields = (Field("units", "int", 1, MAX_UNITS, editor_default=4),)
    param_roles = ("W", "b")
    formula = "{out} = {in}{W} + {b}"
    formula_text = "Z[u] = b[u] + sum over d of W[u,d] x[d]"
    description = ("Each output is a weighted sum of every input plus a bias. So dW[u,d] is the upstream "
                   "gradient dZ[u] times the input x[d], and dx gathers every output's gradient back through W.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        units = cfg["units"]
        return Built(out_shape=(units,), params={"W": (units, shape[0]), "b": (units,)}, macs=units * shape[0])


LAYER = Dense()
