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
from engine.layers._explain import term
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


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        (u,) = idx
        below, (w, b) = ex.below(layer), layer.params
        terms = [term(ex.f(w, (u, d)), ex.f(below, (d,))) for d in range(layer.in_shape[0])]
        terms.append(term(ex.f(b, (u,))))
        return ex.answer(layer.out, idx, f"{layer.out}[u] = {b}[u] + \\sum_d {w}[u, d] \\, {below}[d]", "sum", terms,
                         "Each output of a dense layer is a weighted sum of every input, plus its bias.")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        below, (w, b), dz = ex.below(layer), layer.params, "d" + layer.out
        if role == "W":
            u, d = idx
            return ex.answer("d" + w, idx, f"d{w}[u, d] = d{layer.out}[u] \\, {below}[d]", "sum",
                             [term(ex.f(dz, (u,)), ex.f(below, (d,)))],
                             f"{w}[u, d] multiplied {below}[d] into output u, so its gradient is that input "
                             "times the output's gradient.")
        if role == "b":
            return ex.answer("d" + b, idx, f"d{b}[u] = d{layer.out}[u]", "sum", [term(ex.f(dz, idx))],
                             "A bias adds straight into its output, so its gradient is the output's gradient.")
        (d,) = idx
        terms = [term(ex.f(w, (u, d)), ex.f(dz, (u,))) for u in range(layer.out_shape[0])]
        return ex.answer("d" + below, idx, f"d{below}[d] = \\sum_u {w}[u, d] \\, d{layer.out}[u]", "sum", terms,
                         "An input fed every output, so its gradient gathers every output's gradient back "
                         "through the weight that connected them.")


LAYER = Dense()
