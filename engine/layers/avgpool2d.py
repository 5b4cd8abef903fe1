"""avgpool2d: the mean of each kh x kw window, per channel, as torch.nn.AvgPool2d with no padding
(windows may overlap). Output P{k}.

Readable form of the rule:
    P[c, i, j] = (1 / (kh kw)) sum_{p,q} A[c, i*s + p, j*s + q]
    dA[c, y, x] = sum over the windows (i, j) holding (y, x) of dP[c, i, j] / (kh kw)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.layers._base import Array, Built, Cache, Grads, Layer, LayerType, Shape
from engine.layers._explain import term, window_cells, windows_holding
from engine.layers._plans import pool_plan
from engine.layers.maxpool2d import pool_build, pool_fields


def forward(x: Array, layer: Layer, params: dict[str, Array]) -> tuple[Array, Cache]:
    """x (N, C, H, W) -> P (N, C, Ho, Wo): one gather of every window and a mean over it."""
    gather, gather_flat, _ = pool_plan(x.shape[0], *layer.plan)
    out = x.ravel().take(gather).mean(axis=1).reshape(x.shape[0], *layer.out_shape)
    return out, {"gather_flat": gather_flat, "taps": gather.shape[1], "x_shape": x.shape}


def backward(dout: Array, cache: Cache, need_dx: bool = True) -> tuple[Array, Grads]:
    """dP (N, C, Ho, Wo) -> dA: each window's gradient spread evenly over its kh*kw cells
    (summed where windows overlap)."""
    shape = cache["x_shape"]
    size = shape[0] * shape[1] * shape[2] * shape[3]
    taps = cache["taps"]
    spread = np.repeat(dout.ravel() / taps, taps)
    dx = np.bincount(cache["gather_flat"], weights=spread, minlength=size)
    return dx.reshape(shape), ()


class AvgPool2d(LayerType):
    name = "avgpool2d"
    label = "Average-pool"
    order = 25
    prefix = "P"
    input_rank = 3
    fields = pool_fields()
    marks = ("windows",)
    formula = "{out} = AvgPool({in})"
    formula_text = "P[c,i,j] = mean over the window (i, j) of A[c, i s+p, j s+q]"
    description = ("Averages each window. Every cell of a window counts equally, so the backward pass spreads "
                   "each window's gradient evenly: each cell gets dP / (kh kw) from every window holding it.")
    forward = staticmethod(forward)
    backward = staticmethod(backward)

    def build(self, cfg: dict[str, Any], shape: Shape, layer: int) -> Built:
        return pool_build(cfg, shape, layer)


    def explain_forward(self, ex: Any, layer: Layer, idx: tuple[int, ...]) -> dict[str, Any]:
        c, i, j = idx
        below = ex.below(layer)
        cells = window_cells(ex, below, c, i, j, layer.kernel, layer.stride)
        return ex.answer(layer.out, idx, f"{layer.out}[c,i,j] = \\frac{{1}}{{k_h k_w}} \\sum_{{p,q}} "
                         f"{below}[c,\\, i s + p,\\, j s + q]", "mean", [term(cell) for cell in cells],
                         "Average-pooling takes the mean of the window.")

    def explain_backward(self, ex: Any, layer: Layer, role: str, idx: tuple[int, ...]) -> dict[str, Any]:
        c, y, x = idx
        below, dp = ex.below(layer), "d" + layer.out
        share = ex.const("1/(kh kw)", 1.0 / (layer.kernel[0] * layer.kernel[1]))
        windows = windows_holding(y, x, layer.out_shape[1:], layer.kernel, layer.stride)
        terms = [term(ex.f(dp, (c, i, j)), share) for i, j in windows]
        return ex.answer("d" + below, idx, f"d{below}[c,y,x] = \\sum_{{(i,j) \\ni (y,x)}} \\frac{{d{layer.out}[c,i,j]}}"
                         "{k_h k_w}", "sum", terms, "Every cell of a window counted equally in its mean, so each "
                         "gets an equal share of the window's gradient, from every window holding it.")


LAYER = AvgPool2d()
