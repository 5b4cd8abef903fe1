"""softmax: A[u] = e^Z[u] / sum_v e^Z[v] over a flat input. Output A{k}; with the
cross_entropy loss, the output layer (and only ever the last layer).
    dZ = A * (dA - sum(dA * A))   (the softmax Jacobian applied to dA)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Cache, Grads, Layer, LayerType
from engine.layers._explain import term


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """Row-wise softmax over (N, U), shifted by the row max so exp never overflows."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    a = e / e.sum(axis=1, keepdims=True)
    return a, {"a": a}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    a = cache["a"]
    return a * (dout - (dout * a).sum(axis=1, keepdims=True)), ()


class Softmax(LayerType):
    name = "softmax"
    label = "Softmax"
    order = 90
    prefix = "A"
    input_rank = 1
    output_layer = True
    formula = "{out} = softmax({in})"
    formula_text = "A[u] = e^Z[u] / sum over v of e^Z[v]"
    description = ("Turns the logits into class probabilities that sum to 1. Every output depends on every "
                   "logit; with cross-entropy the two fuse into the gradient dZ = A - onehot(Y).")
    forward = staticmethod(forward)
    backward = staticmethod(backward)


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        below = ex.below(layer)
        terms = [term(ex.f(below, (v,))) for v in range(layer.in_shape[0])]
        return ex.answer(layer.out, idx, f"{layer.out}[u] = \\frac{{e^{{{below}[u]}}}}{{\\sum_v e^{{{below}[v]}}}}",
                         "softmax", terms, "Softmax turns the logits into probabilities that sum to 1; every "
                         "output depends on every logit.", position=idx[0],
                         how_text=f"the softmax over the {len(terms)} logits, at position {idx[0]}")


LAYER = Softmax()
